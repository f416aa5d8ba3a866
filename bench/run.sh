#!/usr/bin/env bash
# bench/run.sh — cutover vs nginx as a reverse proxy, same box, same backend, same load.
#
# WHAT IT MEASURES
#   One backend nginx (1 worker, pinned to the "load" core) serves fixed bodies
#   (/1k = 1 KiB, /10k = 10 KiB; under /json/, application/json: 16384
#   different 1 KiB orders and lists of them of 2 MiB and 200 KiB, written by
#   bench/jsonbodies.awk) on two ports: $BACKEND, which every scenario
#   proxies to, and $BACKEND2 (same server{}, same bytes), the other side of
#   the shadow scenarios. Two proxies sit in front of it, each pinned to the
#   "proxy" core and each limited to one core's worth of work:
#     nginx    worker_processes 1, upstream keepalive 64
#     cutover  GOMAXPROCS=1, `cutover serve -c CONFIG`
#   wrk (1 thread, BENCH_CONNS connections, pinned to the load core) drives each
#   proxy in turn. For every scenario x proxy x round it records:
#     req/s       wrk Requests/sec, scaled down by the share of non-2xx/3xx
#                 answers (an erroring proxy must not look fast)
#     p50, p99    wrk --latency distribution, in ms
#     CPU us/req  proxy CPU time (utime+stime from /proc/PID/stat, nginx: master
#                 + workers) over the run / successful requests wrk completed.
#                 This is the number that matters most on a 2-core box, because
#                 wrk and the backend share the load core and can cap req/s.
#     RSS MB      VmHWM (peak resident set, MiB) of the cutover process / the
#                 nginx worker, read after the run (peak since the proxy started)
#     errors      non-2xx/3xx responses + socket errors reported by wrk
#     proxy%      proxy CPU time / wall time (100 = the proxy core was saturated)
#     load%       busy share of the load core (wrk + backend). When it is near
#                 100 and proxy% is not, req/s is capped by the load generator,
#                 not by the proxy: trust CPU us/req more than req/s then.
#   A run during which more than 15% of the proxy core went to other processes
#   (a busy machine) is flagged with a WARNING in the log.
#   Rounds interleave the proxies (order alternates each round) so drift on the
#   machine hits both. Each proxy gets a warm-up run per scenario first.
#
# HOW TO READ IT
#   The table shows the median over rounds per scenario and proxy, then one
#   line of cutover/nginx ratios with the pass criteria:
#     CPU/req <= 1.3x nginx, req/s >= 0.85x nginx, cutover peak RSS <= 40 MB,
#     and no errors from cutover.
#   record_1k (cutover only) ends the report with the recording overhead:
#     cutover CPU/req recording 100% of calls <= 1.5x its proxy_1k CPU/req, and
#     no record dropped; it prints the records written per second.
#   record_json_1k (cutover only) records the 16384 different 1 KiB JSON
#     orders, requested by a wrk script in a shuffled cycle (the store
#     compresses bodies: one repeated body, or /1k's 1 KiB of one letter,
#     would shrink as no real traffic does). It prints its CPU/req against
#     proxy_1k for information (JSON bodies also cost the redaction's scan)
#     and after its rounds the bytes per record on disk: the store's
#     allocated size (bbolt index file + segment files, `du`) over
#     cutover_records_written_total (warm-up included), <= 500 B.
#   shadow_1k ends it with the cost of shadowing: cutover (a migration route,
#     old = $BACKEND, new = $BACKEND2, `shadow: { percent: 100 }`, so every
#     request is also sent to new and the two answers are diffed) against
#     nginx `mirror` (every request also sent to $BACKEND2, answer discarded):
#     cutover CPU/req <= 1.0x nginx's; it prints the pairs compared during the
#     measured rounds (cutover_shadow_compared_total deltas, as a share of the
#     successful requests) and the shadow drops by reason
#     (cutover_shadow_dropped_total deltas), which must all be 0.
#     Note: nginx's mirror subrequest is header-only, so nginx closes each
#     mirror upstream connection once the headers are in (the 1 KiB body is
#     never read) and the upstream keepalive does not help it: nginx pays a
#     TCP connect + close per mirrored request, cutover reuses connections and
#     reads and diffs both bodies.
#   shadow_dead_1k and shadow_slow_1k (cutover only) are shadow_1k with a
#     broken shadow side: a closed loopback port (connection refused), or a
#     python3 listener that never accepts, so connections sit in its backlog
#     and nothing answers (shadow timeout 2s and queue 1024, the defaults).
#     The primary must not notice: each prints its p99 and p50 against
#     cutover's own proxy_1k (p99 <= 1.10x, else a MISS line), its non-2xx
#     answers (must be 0), its peak RSS against proxy_1k's, and the shadow
#     drops by reason (expected here: error for dead; timeout and queue_full
#     for slow).
#   proxy_traced_1k (cutover only) is proxy_1k with tracing.otlp exporting
#     every chain (sample 1.0) to a loopback OTLP/HTTP sink (python3, answers
#     200 to every POST /v1/traces, pinned to the load core): cutover CPU/req
#     <= 1.3x its proxy_1k CPU/req; it prints the spans exported per second
#     and the spans dropped (cutover_trace_spans_* deltas), which must be 0.
#   big_200k and big_2m are big bodies under load: 200 KiB and 2 MiB JSON
#     answers, BENCH_BIG_CONNS (32) connections, cutover with shadow 100% and
#     recording 100% (shadow_1k's migration route plus `record.sample: 1`,
#     everything else the defaults), nginx as a plain reverse proxy (no
#     mirror; default proxy_buffering). They run shorter rounds, since each
#     moves gigabytes: BENCH_BIG_ROUNDS x BENCH_BIG_SECONDS (2 x 5 s, capped
#     by BENCH_ROUNDS and BENCH_SECONDS) and a 1 s warm-up. Their line under
#     the table replaces the nginx ratios: cutover's peak RSS (the largest
#     VmHWM of its rounds) <= 96 MB for 200 KiB and <= 64 MB for 2 MiB, with
#     nginx's beside, and no errors; the CPU/req and req/s ratios are printed
#     with no criterion (cutover also shadows, diffs and records). The report
#     then prints, per scenario, the pairs compared and the shadow drops by
#     reason (cutover_shadow_dropped_total deltas: body_too_large for 2 MiB
#     is expected, the answer is over shadow.max_body), the records written
#     and the record drops by reason (cutover_records_dropped_total deltas).
#   sse_ttfb runs no wrk: bench/ssegen serves a server-sent-events stream
#     (text/event-stream, chunked, a first event at once and 8 more over
#     0.8 s, each flushed), and its client reads BENCH_SSE_STREAMS streams
#     (3 at a time) directly, through nginx (`proxy_buffering off`) and
#     through cutover (a plain route, recording on as by default). It prints
#     the median time from request to the end of the first event for each,
#     and cutover's must be <= direct + 5 ms (a loopback hop costs well under
#     1 ms; 5 ms is scheduling noise on this box and far below the 0.8 s of
#     a proxy that holds the answer until it ends); every stream must arrive
#     whole.
#   Each is marked "ok" or "MISS". MISS does not fail the script (it reports, it
#   is not a test). It exits non-zero only when a proxy cannot start/dies or a
#   run completes no successful request.
#   Raw runs and per-scenario summaries are appended as JSON lines to
#   bench/out/results.jsonl (one run_id per invocation) for later comparison.
#
# USAGE
#   make bench                      # or: bash bench/run.sh
#                                   # (default run: ~7.5 min here, see RUN TIME)
#   BENCH_SECONDS=3 BENCH_ROUNDS=1 bash bench/run.sh      # quick look
#   BENCH_SCENARIOS="proxy_1k shadow_1k" bash bench/run.sh # a subset
#   Knobs (env):
#     BENCH_SECONDS    measured seconds per run            (default 10)
#     BENCH_ROUNDS     rounds per scenario and proxy       (default 3)
#     BENCH_CONNS      wrk connections                     (default 64)
#     BENCH_WARMUP     warm-up seconds per proxy/scenario  (default 2)
#     BENCH_SCENARIOS  space-separated scenario names      (default "proxy_1k proxy_10k
#                      record_1k record_json_1k shadow_1k shadow_dead_1k
#                      shadow_slow_1k proxy_traced_1k big_200k big_2m sse_ttfb")
#     BENCH_BIG_SECONDS, BENCH_BIG_ROUNDS, BENCH_BIG_CONNS  big_* runs (default 5, 2, 32)
#     BENCH_SSE_STREAMS  streams sse_ttfb reads per target (default 15)
#     BENCH_PROXIES    which proxies to run                (default "nginx cutover")
#     BENCH_PROXY_CPU / BENCH_LOAD_CPU  CPU ids to pin to  (default: first two allowed CPUs)
#     BENCH_KEEP_TMP=1 keep the temp dir (configs, logs, raw wrk output)
#     CUTOVER_BIN      cutover binary (default bin/cutover; built if missing)
#
# ADDING A SCENARIO
#   Write a function scenario_NAME (see "Scenarios" below) that sets SC_DESC,
#   SC_PATH, SC_NGINX_HTTP, SC_NGINX_SERVER and SC_CUTOVER, then add NAME to
#   the default BENCH_SCENARIOS. Everything else (ports, processes, load,
#   metrics, table, JSON) is shared. Optional settings (per-scenario
#   seconds, rounds, connections, wrk script, RSS limit, a measurement of
#   its own instead of wrk, a step after the rounds) are listed there too.
#
# RUN TIME
#   Each scenario x proxy costs a start-up, BENCH_WARMUP, then BENCH_ROUNDS x
#   BENCH_SECONDS (+1.5 s per cutover run, the store/shadow catch-up). The
#   default (7 scenarios, 10 scenario x proxy pairs, 3 x 10 s) takes about
#   6 minutes on the 2-core box it was written on (it was 3 minutes before
#   the three shadow scenarios, 5.5 before proxy_traced_1k); big_200k and
#   big_2m add about 30 s each (2 proxies x 2 rounds x 5 s), sse_ttfb about
#   20 s (3 targets x 5 batches of 0.8 s streams, plus start-ups), so
#   about 7.5 minutes in all; `make bench` then runs the Go
#   micro-benchmarks, about one more minute.
#
# Everything listens on 127.0.0.1 only, every run is bounded by `timeout`, and
# every process this script starts is stopped on exit (including Ctrl-C).

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/apt.sh
source "$ROOT/bench/apt.sh"
export PATH="$PATH:/usr/sbin:/sbin:/usr/local/go/bin"

BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_ROUNDS=${BENCH_ROUNDS:-3}
BENCH_CONNS=${BENCH_CONNS:-64}
BENCH_WARMUP=${BENCH_WARMUP:-2}
BENCH_SCENARIOS=${BENCH_SCENARIOS:-"proxy_1k proxy_10k record_1k record_json_1k shadow_1k shadow_dead_1k shadow_slow_1k proxy_traced_1k big_200k big_2m sse_ttfb"}
BENCH_BIG_SECONDS=${BENCH_BIG_SECONDS:-5}
BENCH_BIG_ROUNDS=${BENCH_BIG_ROUNDS:-2}
BENCH_BIG_CONNS=${BENCH_BIG_CONNS:-32}
BENCH_SSE_STREAMS=${BENCH_SSE_STREAMS:-15}
BENCH_PROXIES=${BENCH_PROXIES:-"nginx cutover"}
CUTOVER_BIN=${CUTOVER_BIN:-$ROOT/bin/cutover}
OUT_DIR=${BENCH_OUT_DIR:-$ROOT/bench/out}

# Pass criteria (cutover relative to nginx; recording relative to cutover
# pass-through; shadowing relative to nginx mirror; a broken shadow side
# relative to cutover pass-through).
MAX_RECORD_CPU_RATIO=1.5
MAX_TRACE_CPU_RATIO=1.3
MAX_SHADOW_CPU_RATIO=1.0
MAX_SHADOW_FAULT_P99_RATIO=1.10
MAX_CPU_RATIO=1.3
MIN_RPS_RATIO=0.85
MAX_RSS_MB=40
# Big bodies under load (shadow + recording on): cutover's peak RSS. The
# 2 MiB body streams (it is over stream_above, 1 MiB by default) and must
# not be held whole per connection; the 200 KiB one stays on the buffered
# path, 32 of them in flight plus their shadow and record copies.
MAX_BIG_2M_RSS_MB=64
MAX_BIG_200K_RSS_MB=96
# SSE: cutover's median time to the first event may exceed the direct one
# by this much (ms). A proxy hop on loopback costs well under 1 ms; 5 ms
# absorbs scheduling on a shared 2-core box and is still 160x below the
# 800 ms a proxy that buffers the stream shows.
MAX_SSE_TTFB_EXTRA_MS=5
# record_json_1k: bytes on disk per recorded 1 KiB JSON call (index + segments).
MAX_RECORD_BYTES=500
# Distinct 1 KiB JSON bodies record_json_1k cycles through (a shuffled cycle, so
# no body repeats within 16 MiB of recorded bodies: a compressor's window
# or dictionary cannot shrink a record to a back-reference of an earlier one).
JSON_BODIES=16384

START_TIMEOUT=20 # seconds a proxy/backend gets to become ready

# ---------------------------------------------------------------------------
# Scenarios
#
# A scenario function sets:
#   SC_DESC          one line for the log
#   SC_PATH          URL path wrk requests (the backend serves /1k, /10k and
#                    /json/: 00000.json to 16383.json, big-200k.json, big-2m.json)
#   SC_NGINX_HTTP    extra http{}-level nginx config (extra upstreams, ...); may be ""
#   SC_NGINX_SERVER  server{}-level nginx config (the locations)
#   SC_CUTOVER       cutover YAML that follows `listen:` and `admin:` (services, routes, ...)
#   SC_PROXIES       optional: the proxies this scenario runs (default BENCH_PROXIES)
#   SC_PIDS          optional: PIDs of helpers it started (start_bg), stopped
#                    when the scenario ends
#   SC_SECONDS, SC_ROUNDS, SC_CONNS, SC_WARMUP  optional: this scenario's run
#                    length, rounds, wrk connections and warm-up (default the
#                    BENCH_* knobs)
#   SC_WRK_SCRIPT    optional: a wrk Lua script (e.g. $WORK/json-bodies.lua)
#   SC_MAX_RSS_MB    optional: judge cutover by its peak RSS against this
#                    limit instead of by the nginx ratios (big_*)
#   SC_MEASURE       optional: a function called with the started proxies'
#                    names instead of the warm-ups and wrk rounds (sse_ttfb)
#   SC_AFTER         optional: a function called after the rounds, while the
#                    proxies still run (record_json_1k: record_size)
# Available while it runs: $BACKEND (127.0.0.1:PORT of the backend nginx),
# $BACKEND2 (the same backend on a second port), $SC_NAME (the scenario's
# name) and $WORK (the temp dir).
# nginx always has `upstream backend` (keepalive 64) pointing at $BACKEND.
# ---------------------------------------------------------------------------

plain_proxy() {
  SC_NGINX_HTTP=""
  SC_NGINX_SERVER=$(cat <<'EOF'
location / {
    proxy_pass http://backend;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
}
EOF
)
  SC_CUTOVER=$(cat <<EOF
record: { sample: 0 }
services:
  backend: { targets: ["$BACKEND"], timeout: 5s }
routes:
  - name: bench
    match: { path_prefix: / }
    upstream: backend
EOF
)
}

scenario_proxy_1k() {
  plain_proxy
  SC_DESC="plain reverse proxy, GET 1 KiB body"
  SC_PATH=/1k
}

scenario_proxy_10k() {
  plain_proxy
  SC_DESC="plain reverse proxy, GET 10 KiB body"
  SC_PATH=/10k
}

# record_1k: the same proxying, with every call recorded (request and
# response headers and bodies) into the embedded store on local disk. The
# report compares its cutover CPU/req with proxy_1k's (the recording
# overhead, <= MAX_RECORD_CPU_RATIO) and prints records written per second
# and records dropped. Same answer as proxy_1k, so the ratio is the cost of
# recording alone, comparable from run to run.
scenario_record_1k() {
  plain_proxy
  SC_DESC="reverse proxy recording 100% of calls into the embedded store, GET 1 KiB body"
  SC_PATH=/1k
  SC_CUTOVER=${SC_CUTOVER/"record: { sample: 0 }"/"record: { sample: 1 }"}
  # nginx records nothing: the comparison is with cutover's own proxy_1k.
  SC_PROXIES=cutover
}

# record_json_1k: record_1k with realistic answers: 1 KiB JSON orders
# (application/json), $JSON_BODIES different ones that wrk's script cycles
# through in a shuffled order. The store compresses bodies, and one body
# repeated (or 1 KiB of one letter, as /1k is) would show a size on disk no
# real traffic gets; JSON bodies also cost the redaction's JSON scan. After
# the rounds, record_size prints the store's bytes on disk per record
# (<= MAX_RECORD_BYTES); its CPU against proxy_1k is printed for
# information.
scenario_record_json_1k() {
  scenario_record_1k
  SC_DESC="reverse proxy recording 100% of calls into the embedded store, GET 1 KiB JSON bodies ($JSON_BODIES different)"
  SC_PATH=/json/00000.json
  SC_WRK_SCRIPT=$WORK/json-bodies.lua
  SC_AFTER=record_size
}

# shadow_proxy SHADOW_ADDR: cutover config of a migration route served by old
# ($BACKEND, no gray rule moves anything) that shadows every request to new
# at SHADOW_ADDR and diffs the two answers; shadow timeout, concurrency and
# queue are the defaults (2s, 64, 1024). Nothing is recorded.
shadow_proxy() {
  SC_CUTOVER=$(cat <<EOF
record: { sample: 0 }
services:
  old: { targets: ["$BACKEND"], timeout: 5s }
  new: { targets: ["$1"], timeout: 5s }
routes:
  - name: bench
    match: { path_prefix: / }
    old: old
    new: new
    shadow: { percent: 100 }
EOF
)
}

# shadow_1k: every request goes to $BACKEND (answered) and to $BACKEND2.
# nginx: `mirror` to an internal location proxying to a second keepalive
# upstream, its answer discarded (nginx makes mirror subrequests header-only:
# it closes the mirror connection after the response headers, so the
# keepalive pool is never reused for them). cutover: shadow_proxy, both
# answers diffed. The report compares the two CPU/req and prints the pairs
# compared.
scenario_shadow_1k() {
  SC_DESC="reverse proxy shadowing 100% of calls to a second backend (cutover: + diff; nginx: mirror), GET 1 KiB body"
  SC_PATH=/1k
  SC_NGINX_HTTP=$(cat <<EOF
    upstream shadow {
        server $BACKEND2;
        keepalive 64;
        keepalive_requests 100000;
    }
EOF
)
  SC_NGINX_SERVER=$(cat <<'EOF'
location / {
    mirror /mirror;
    mirror_request_body on;
    proxy_pass http://backend;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
}
location = /mirror {
    internal;
    proxy_pass http://shadow$request_uri;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
}
EOF
)
  shadow_proxy "$BACKEND2"
}

# shadow_dead_1k: shadow_1k whose shadow side refuses connections (a loopback
# port nobody listens on). Compared with cutover's own proxy_1k: the primary's
# latency must not move.
scenario_shadow_dead_1k() {
  SC_DESC="shadow_1k with the shadow side refusing connections (closed port), GET 1 KiB body"
  SC_PATH=/1k
  free_port
  shadow_proxy "127.0.0.1:$PORT"
  SC_PROXIES=cutover
}

# shadow_slow_1k: shadow_1k whose shadow side never answers: a listener that
# never accepts, so connections complete into its backlog (and, once it is
# full, connects hang) and every shadow call waits for the shadow timeout
# (2s). With 64 shadow workers that is 32 calls/s; the rest fills the queue
# and is dropped as queue_full.
scenario_shadow_slow_1k() {
  SC_DESC="shadow_1k with the shadow side never answering (listener that never accepts), GET 1 KiB body"
  SC_PATH=/1k
  free_port
  start_stalled_listener "$PORT"
  shadow_proxy "127.0.0.1:$PORT"
  SC_PROXIES=cutover
}

# big_scenario MAX_RSS_MB: big bodies under load. cutover: shadow_1k's
# migration route (old = $BACKEND answers, every request also sent to new
# = $BACKEND2 and the answers diffed) with every call recorded too, all
# other settings the defaults (stream_above 1 MiB, memory.async 64 MiB,
# shadow.max_body 1 MiB, record.max_body 64 KiB). nginx: a plain reverse
# proxy (no mirror) with its default proxy_buffering (8 small memory
# buffers per request, the rest of a large answer spooled to a temp file),
# so its peak RSS is what a proxy that never holds a whole body needs.
# BENCH_BIG_CONNS connections, and rounds of BENCH_BIG_SECONDS x
# BENCH_BIG_ROUNDS (at most BENCH_SECONDS x BENCH_ROUNDS): each run moves
# gigabytes over loopback. The criterion is cutover's peak RSS (VmHWM since
# it started, warm-up included: the largest of the rounds), with nginx's
# printed beside; CPU/req and req/s ratios are printed with no criterion,
# since cutover does three upstream-side jobs per call (answer, shadow,
# record) and nginx one. The report adds the shadow and record drops by
# reason over the measured rounds.
big_scenario() {
  plain_proxy
  shadow_proxy "$BACKEND2"
  SC_CUTOVER=${SC_CUTOVER/"record: { sample: 0 }"/"record: { sample: 1 }"}
  SC_CONNS=$BENCH_BIG_CONNS
  SC_SECONDS=$((BENCH_BIG_SECONDS < BENCH_SECONDS ? BENCH_BIG_SECONDS : BENCH_SECONDS))
  SC_ROUNDS=$((BENCH_BIG_ROUNDS < BENCH_ROUNDS ? BENCH_BIG_ROUNDS : BENCH_ROUNDS))
  SC_WARMUP=1
  SC_MAX_RSS_MB=$1
}

# big_2m: 2 MiB JSON answers, over stream_above: once cutover streams, each
# passes through without being held whole; its shadow copy is over
# shadow.max_body (dropped as body_too_large) and its record truncated to
# record.max_body.
scenario_big_2m() {
  big_scenario "$MAX_BIG_2M_RSS_MB"
  SC_DESC="big bodies: GET 2 MiB JSON, $SC_CONNS conns (cutover: shadow 100% + diff + recording 100%; nginx: plain proxy)"
  SC_PATH=/json/big-2m.json
}

# big_200k: 200 KiB JSON answers, under stream_above: buffered, shadowed
# and diffed whole, recorded truncated to record.max_body.
scenario_big_200k() {
  big_scenario "$MAX_BIG_200K_RSS_MB"
  SC_DESC="big bodies: GET 200 KiB JSON, $SC_CONNS conns (cutover: shadow 100% + diff + recording 100%; nginx: plain proxy)"
  SC_PATH=/json/big-200k.json
}

# sse_ttfb: time to the first event of a server-sent-events stream. The
# upstream is bench/ssegen (pinned to the load core): every GET answers
# text/event-stream without a length, a first event at once and 8 more
# spread over 0.8 s, each flushed. ssegen's client (on the load core too)
# reads BENCH_SSE_STREAMS streams, 3 at a time, directly, through nginx
# (`proxy_buffering off`, the setting SSE needs behind nginx) and through
# cutover (a plain route with the default recording: every call recorded),
# and prints the median time from request to the end of the first event.
# No wrk load: the scenario measures latency alone (sse_measure).
scenario_sse_ttfb() {
  SC_DESC="server-sent events: time to the first event, direct vs nginx (proxy_buffering off) vs cutover"
  SC_PATH=/events
  free_port
  start_ssegen "$PORT"
  SC_NGINX_HTTP=$(cat <<EOF
    upstream sse {
        server $SSE_ADDR;
        keepalive 8;
    }
EOF
)
  SC_NGINX_SERVER=$(cat <<'EOF'
location / {
    proxy_pass http://sse;
    proxy_buffering off;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
}
EOF
)
  SC_CUTOVER=$(cat <<EOF
services:
  sse: { targets: ["$SSE_ADDR"], timeout: 5s }
routes:
  - name: bench
    match: { path_prefix: / }
    upstream: sse
EOF
)
  SC_MEASURE=sse_measure
}

# proxy_traced_1k: proxy_1k with every chain exported as a span over
# OTLP/HTTP to a sink on loopback. The report compares its cutover CPU/req
# with proxy_1k's (the tracing overhead) and prints spans exported per
# second and spans dropped.
scenario_proxy_traced_1k() {
  plain_proxy
  SC_DESC="reverse proxy exporting 100% of calls as OTLP spans to a loopback sink, GET 1 KiB body"
  SC_PATH=/1k
  free_port
  start_otlp_sink "$PORT"
  SC_CUTOVER+=$'\n'"tracing:
  otlp: { endpoint: \"http://127.0.0.1:$PORT\", sample: 1.0 }"
  # nginx traces nothing: the comparison is with cutover's own proxy_1k.
  SC_PROXIES=cutover
}

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

WORK=""
PIDS=()          # long-running processes we started (stopped in cleanup)
WRK_PID=""       # the wrk (timeout) process currently running, if any
FAILED=0         # set when a run completed no successful request
NOISY=0          # runs during which something else used the proxy core

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n $WRK_PID ]]; then kill -TERM "$WRK_PID" 2>/dev/null || true; fi
  local pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  if [[ -n $POLICY_RC_D ]]; then rm -f "$POLICY_RC_D"; fi
  if [[ -n $WORK && -d $WORK ]]; then
    if [[ -n ${BENCH_KEEP_TMP:-} ]]; then log "kept temp dir $WORK"; else rm -rf "$WORK"; fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

# alive PID: the process exists and is not a zombie.
alive() {
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) }
  [[ -n $s && ${s:0:1} != Z ]]
}

# stop_pid PID: TERM it (and its children), wait up to 5 s, then KILL.
stop_pid() {
  local pid=$1 kids i
  kids=$(pgrep -P "$pid" 2>/dev/null || true)
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.1; done
  # shellcheck disable=SC2086 # $kids is a list of PIDs
  kill -KILL "$pid" $kids 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# CPU ids this process may run on, expanded ("0-2,5" -> "0 1 2 5").
allowed_cpus() {
  local list part
  list=$(taskset -cp $$ | sed 's/.*: *//')
  for part in ${list//,/ }; do
    if [[ $part == *-* ]]; then seq "${part%-*}" "${part#*-}"; else echo "$part"; fi
  done | tr '\n' ' '
}

# free_port: sets PORT to a loopback TCP port nobody listens on, below the
# ephemeral range (so outgoing connections of wrk and the proxies never take it
# first), and not handed out before in this run. Not run in $(...): it must
# update USED_PORTS.
USED_PORTS=" "
free_port() {
  local lo hi eph i p
  read -r eph _ </proc/sys/net/ipv4/ip_local_port_range
  if ((eph > 20000)); then lo=15000 hi=$((eph - 1)); else lo=61000 hi=64999; fi
  for ((i = 0; i < 200; i++)); do
    p=$((lo + RANDOM % (hi - lo)))
    [[ $USED_PORTS == *" $p "* ]] && continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      USED_PORTS+="$p "
      PORT=$p
      return 0
    fi
  done
  die "no free loopback port found"
}

# http_status URL: prints the HTTP status (000 if no answer), 2 s max.
http_status() {
  curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true
}

# wait_http NAME PID URL LOGFILE: poll URL until 2xx, fail if PID dies or times out.
wait_http() {
  local name=$1 pid=$2 url=$3 logf=$4 deadline code=""
  deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! alive "$pid"; then
      log "$name exited during start-up; last lines of $logf:"
      tail -n 30 "$logf" >&2 || true
      die "$name could not start"
    fi
    code=$(http_status "$url")
    [[ $code == 2?? ]] && return 0
    sleep 0.2
  done
  log "$name not ready after ${START_TIMEOUT}s ($url answered '$code'); last lines of $logf:"
  tail -n 30 "$logf" >&2 || true
  die "$name could not start"
}

# start_bg LOGFILE CMD...: run CMD in the background, remember its PID in LAST_PID.
start_bg() {
  local logf=$1
  shift
  "$@" >"$logf" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

# start_stalled_listener PORT: a python3 helper listening on 127.0.0.1:PORT
# that never accepts: the kernel completes connections into its backlog
# (4096) and nothing ever reads or answers. Its PID goes to SC_PIDS. Not run
# in $(...): it must update PIDS and SC_PIDS.
start_stalled_listener() {
  local port=$1
  start_bg "$WORK/stalled-$port.log" python3 -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(4096)
while True:
    time.sleep(3600)
' "$port"
  SC_PIDS+=" $LAST_PID"
  wait_listening "stalled listener (never accepts)" "$port" "$WORK/stalled-$port.log"
}

# wait_listening NAME PORT LOGFILE: wait until the helper just started
# (LAST_PID) takes TCP connections on 127.0.0.1:PORT; fail if it exits or
# is not listening after START_TIMEOUT.
wait_listening() {
  local name=$1 port=$2 logf=$3 i
  for ((i = 0; i < 10 * START_TIMEOUT; i++)); do
    alive "$LAST_PID" || { cat "$logf" >&2; die "$name could not start"; }
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      log "$name on 127.0.0.1:$port (pid $LAST_PID)"
      return 0
    fi
    sleep 0.1
  done
  die "$name not listening on 127.0.0.1:$port after ${START_TIMEOUT}s"
}

# start_otlp_sink PORT: a python3 OTLP/HTTP sink on 127.0.0.1:PORT, pinned to
# the load core: it reads every POST /v1/traces (keep-alive, HTTP/1.1) and
# answers 200 with an empty body, as a collector that accepts everything
# does. Its PID goes to SC_PIDS. Not run in $(...): it must update PIDS and
# SC_PIDS.
start_otlp_sink() {
  local port=$1 i
  start_bg "$WORK/otlp-$port.log" taskset -c "$LOAD_CPU" python3 -c '
import http.server, sys
class Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200 if self.path == "/v1/traces" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
' "$port"
  SC_PIDS+=" $LAST_PID"
  for ((i = 0; i < 10 * START_TIMEOUT; i++)); do
    alive "$LAST_PID" || { cat "$WORK/otlp-$port.log" >&2; die "OTLP sink could not start"; }
    if [[ $(curl -s -o /dev/null -m 2 -w '%{http_code}' -X POST --data-binary x "http://127.0.0.1:$port/v1/traces" 2>/dev/null) == 200 ]]; then
      log "OTLP sink on 127.0.0.1:$port (pid $LAST_PID, cpu $LOAD_CPU)"
      return 0
    fi
    sleep 0.1
  done
  die "OTLP sink not answering on 127.0.0.1:$port after ${START_TIMEOUT}s"
}

# start_ssegen PORT: bench/ssegen serving its event stream on
# 127.0.0.1:PORT, pinned to the load core; sets SSE_ADDR. Its PID goes to
# SC_PIDS. Not run in $(...): it must update PIDS and SC_PIDS.
start_ssegen() {
  local port=$1
  SSE_ADDR=127.0.0.1:$port
  start_bg "$WORK/ssegen-$port.log" taskset -c "$LOAD_CPU" "$SSEGEN" -serve "$SSE_ADDR"
  SC_PIDS+=" $LAST_PID"
  wait_listening "SSE upstream (bench/ssegen, cpu $LOAD_CPU)" "$port" "$WORK/ssegen-$port.log"
}

# forget_pid PID: stop PID and drop it from the cleanup list.
forget_pid() {
  local pid=$1 keep=() p
  stop_pid "$pid"
  for p in "${PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

# cpu_ticks PID...: sum of utime+stime (fields 14+15 of /proc/PID/stat), in clock ticks.
cpu_ticks() {
  local total=0 pid s f
  for pid in "$@"; do
    s=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    s=${s##*) }           # fields from 3 (state) on; comm may contain spaces
    read -r -a f <<<"$s"
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}

# cpu_busy CPU: "busy total task" clock ticks of one CPU since boot, from
# /proc/stat; task = user+nice+system, i.e. busy without irq/softirq/steal.
cpu_busy() {
  awk -v c="cpu$1" '$1 == c { t = $2 + $3 + $4; b = t + $7 + $8 + $9; print b, b + $5 + $6, t }' /proc/stat
}

# hwm_mb PID: VmHWM (peak RSS) in MiB, 1 decimal.
hwm_mb() {
  awk '/^VmHWM:/ { printf "%.1f", $2 / 1024; found = 1 } END { if (!found) printf "null" }' \
    "/proc/$1/status" 2>/dev/null || echo null
}

# ---------------------------------------------------------------------------
# Setup: tools, binary, temp dir, backend
# ---------------------------------------------------------------------------

ensure_tools() {
  local pkgs=()
  have nginx || pkgs+=(nginx)
  have wrk || pkgs+=(wrk)
  have taskset || pkgs+=(util-linux)
  have curl || pkgs+=(curl)
  have pgrep || pkgs+=(procps)
  have getconf || pkgs+=(libc-bin)
  # shadow_slow_1k's never-answering listener, proxy_traced_1k's OTLP sink.
  [[ " $BENCH_SCENARIOS " == *" shadow_slow_1k "* || " $BENCH_SCENARIOS " == *" proxy_traced_1k "* ]] && ! have python3 && pkgs+=(python3)
  ((${#pkgs[@]} == 0)) && return 0
  apt_install "${pkgs[@]}"
  local t
  for t in nginx wrk taskset curl pgrep getconf; do have "$t" || die "$t still missing after install"; done
  if [[ " $BENCH_SCENARIOS " == *" shadow_slow_1k "* || " $BENCH_SCENARIOS " == *" proxy_traced_1k "* ]]; then
    have python3 || die "python3 still missing after install"
  fi
}

ensure_cutover() {
  if [[ ! -x $CUTOVER_BIN ]]; then
    [[ $CUTOVER_BIN == "$ROOT/bin/cutover" ]] || die "CUTOVER_BIN=$CUTOVER_BIN is not an executable file"
    have go || die "bin/cutover missing and no go toolchain to build it"
    log "building bin/cutover"
    (cd "$ROOT" && go build -o bin/cutover ./cmd/cutover) || die "go build failed"
  fi
  CUTOVER_BIN=$(cd "$(dirname "$CUTOVER_BIN")" && pwd)/$(basename "$CUTOVER_BIN")
}

# ensure_ssegen: builds bench/ssegen into $WORK when sse_ttfb runs.
SSEGEN=""
ensure_ssegen() {
  [[ " $BENCH_SCENARIOS " == *" sse_ttfb "* ]] || return 0
  have go || die "sse_ttfb needs the go toolchain to build bench/ssegen"
  SSEGEN=$WORK/ssegen
  (cd "$ROOT" && go build -o "$SSEGEN" ./bench/ssegen) || die "cannot build bench/ssegen"
}

pick_cpus() {
  local cpus
  read -r -a cpus <<<"$(allowed_cpus)"
  PROXY_CPU=${BENCH_PROXY_CPU:-${cpus[0]}}
  if ((${#cpus[@]} >= 2)); then
    LOAD_CPU=${BENCH_LOAD_CPU:-${cpus[1]}}
  else
    LOAD_CPU=${BENCH_LOAD_CPU:-${cpus[0]}}
    log "WARNING: only one CPU available; proxy and load share it, numbers are not comparable to 2-core runs"
  fi
}

# Common http{} settings for every nginx we run: everything in $WORK.
nginx_common_http() {
  local name=$1
  cat <<EOF
    access_log off;
    client_body_temp_path $WORK/$name/client_body;
    proxy_temp_path       $WORK/$name/proxy;
    fastcgi_temp_path     $WORK/$name/fastcgi;
    uwsgi_temp_path       $WORK/$name/uwsgi;
    scgi_temp_path        $WORK/$name/scgi;
EOF
}

# start_nginx NAME CPU CONF_BODY: write $WORK/NAME/nginx.conf and start it pinned to CPU.
start_nginx() {
  local name=$1 cpu=$2 conf=$WORK/$1/nginx.conf
  mkdir -p "$WORK/$name"
  cat >"$conf"
  start_bg "$WORK/$name/stderr.log" taskset -c "$cpu" nginx -p "$WORK/$name" -c "$conf" -e "$WORK/$name/error.log"
}

start_backend() {
  free_port
  BACKEND=127.0.0.1:$PORT
  free_port
  BACKEND2=127.0.0.1:$PORT
  mkdir -p "$WORK/www"
  head -c 1024 /dev/zero | tr '\0' 'a' >"$WORK/www/1k"
  head -c 10240 /dev/zero | tr '\0' 'b' >"$WORK/www/10k"
  make_json_bodies "$WORK/www/json"
  chmod 755 "$WORK" "$WORK/www" "$WORK/www/json" # nginx workers may run as nobody
  find "$WORK/www" -type f -exec chmod 644 {} +
  start_nginx backend "$LOAD_CPU" <<EOF
worker_processes 1;
daemon off;
pid $WORK/backend/nginx.pid;
error_log $WORK/backend/error.log warn;
events { worker_connections 4096; }
http {
$(nginx_common_http backend)
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    open_file_cache max=16 inactive=600s;
    open_file_cache_valid 600s;
    keepalive_requests 10000000;
    keepalive_timeout 600s;
    server {
        listen $BACKEND backlog=4096;
        listen $BACKEND2 backlog=4096; # the shadow side of shadow_1k
        root $WORK/www;
        location / { }
        location /json/ { types { } default_type application/json; }
    }
}
EOF
  BACKEND_PID=$LAST_PID
  wait_http backend "$BACKEND_PID" "http://$BACKEND/1k" "$WORK/backend/error.log"
  wait_http backend "$BACKEND_PID" "http://$BACKEND2/1k" "$WORK/backend/error.log"
  log "backend nginx on $BACKEND and $BACKEND2 (cpu $LOAD_CPU)"
}

# make_json_bodies DIR: JSON answers for record_json_1k and big_* (see
# bench/jsonbodies.awk): DIR/00000.json ... $JSON_BODIES different 1 KiB
# orders, DIR/big-2m.json (2 MiB) and DIR/big-200k.json (200 KiB), lists of
# those orders; and $WORK/json-bodies.lua, the wrk script that requests the
# 1 KiB ones in a shuffled cycle.
make_json_bodies() {
  local dir=$1
  mkdir -p "$dir"
  awk -v dir="$dir" -v n="$JSON_BODIES" -f "$ROOT/bench/jsonbodies.awk" || die "cannot write the JSON bodies"
  [[ $(wc -c <"$dir/00000.json") -eq 1024 && $(wc -c <"$dir/big-2m.json") -eq 2097152 ]] ||
    die "bench/jsonbodies.awk wrote bodies of the wrong size"
  cat >"$WORK/json-bodies.lua" <<EOF
-- record_json_1k: GET the $JSON_BODIES JSON bodies in a shuffled cycle.
local n = $JSON_BODIES
local reqs = {}
local i = 0
function init(args)
  local order = {}
  for k = 1, n do order[k] = k - 1 end
  math.randomseed(20261205)
  for k = n, 2, -1 do
    local j = math.random(k)
    order[k], order[j] = order[j], order[k]
  end
  for k = 1, n do reqs[k] = wrk.format(nil, string.format("/json/%05d.json", order[k])) end
end
function request()
  i = i % n + 1
  return reqs[i]
end
EOF
}

# ---------------------------------------------------------------------------
# Proxies under test. start_<proxy> sets PROXY_PID and PROXY_URL;
# <proxy>_cpu_pids / <proxy>_rss_pid name the processes to account.
# ---------------------------------------------------------------------------

start_nginx_proxy() {
  local port
  free_port
  port=$PORT
  start_nginx proxy "$PROXY_CPU" <<EOF
worker_processes 1;
daemon off;
pid $WORK/proxy/nginx.pid;
error_log $WORK/proxy/error.log warn;
events { worker_connections 4096; }
http {
$(nginx_common_http proxy)
    keepalive_requests 100000;
    keepalive_timeout 600s;
    upstream backend {
        server $BACKEND;
        keepalive 64;
        keepalive_requests 100000;
    }
$SC_NGINX_HTTP
    server {
        listen 127.0.0.1:$port backlog=4096;
$SC_NGINX_SERVER
    }
}
EOF
  PROXY_PID=$LAST_PID
  PROXY_URL=http://127.0.0.1:$port$SC_PATH
  wait_http "nginx proxy" "$PROXY_PID" "$PROXY_URL" "$WORK/proxy/error.log"
}
# shellcheck disable=SC2046 # one PID per word
nginx_cpu_pids() { echo "$1" $(pgrep -P "$1" || true); }
nginx_rss_pid() { pgrep -P "$1" | head -n 1; }

start_cutover_proxy() {
  # One directory per scenario: each cutover starts with an empty store (the
  # one record_json_1k fills would otherwise be opened, and its index held in
  # memory, by the cutover of every later scenario, inflating its RSS).
  local port admin dir=$WORK/cutover/$SC_NAME
  free_port
  port=$PORT
  free_port
  admin=$PORT
  mkdir -p "$dir"
  cat >"$dir/cutover.yaml" <<EOF
listen: "127.0.0.1:$port"
admin:
  listen: "127.0.0.1:$admin"
$SC_CUTOVER
EOF
  # Run from that dir so relative paths (e.g. the default store) land there.
  (cd "$dir" && GOMAXPROCS=1 exec taskset -c "$PROXY_CPU" "$CUTOVER_BIN" serve -c "$dir/cutover.yaml") \
    >"$dir/cutover.log" 2>&1 &
  PROXY_PID=$!
  PIDS+=("$PROXY_PID")
  PROXY_URL=http://127.0.0.1:$port$SC_PATH
  PROXY_ADMIN=http://127.0.0.1:$admin
  wait_http "cutover (readyz)" "$PROXY_PID" "http://127.0.0.1:$admin/readyz" "$dir/cutover.log"
  wait_http "cutover" "$PROXY_PID" "$PROXY_URL" "$dir/cutover.log"
}
cutover_cpu_pids() { echo "$1"; }
cutover_rss_pid() { echo "$1"; }

# ---------------------------------------------------------------------------
# Load and measurement
# ---------------------------------------------------------------------------

# run_wrk URL SECONDS OUTFILE: bounded wrk run pinned to the load CPU, with
# the scenario's connections (RUN_CONNS) and script (SC_WRK_SCRIPT), if any.
run_wrk() {
  local url=$1 secs=$2 out=$3 rc=0 script=()
  [[ -n $SC_WRK_SCRIPT ]] && script=(-s "$SC_WRK_SCRIPT")
  timeout -k 5 $((secs + 30)) taskset -c "$LOAD_CPU" \
    wrk -t1 -c"$RUN_CONNS" -d"${secs}s" --latency "${script[@]}" "$url" >"$out" 2>&1 &
  WRK_PID=$!
  wait "$WRK_PID" || rc=$?
  WRK_PID=""
  return "$rc"
}

# parse_wrk FILE: prints "requests rps p50_ms p99_ms non2xx socket_errors" ("null" if absent).
parse_wrk() {
  awk '
    function ms(v,   n, u) {
      n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
      if (u == "us") return n / 1000; if (u == "ms") return n
      if (u == "s") return n * 1000;  if (u == "m") return n * 60000
      return -1
    }
    /^ +50% /                      { p50 = ms($2) }
    /^ +99% /                      { p99 = ms($2) }
    / requests in /                { req = $1 }
    /^Requests\/sec:/              { rps = $2 }
    /Non-2xx or 3xx responses:/    { non2xx = $NF }
    /Socket errors:/               { gsub(/,/, ""); serr = $4 + $6 + $8 + $10 }
    END {
      printf "%s %s %s %s %d %d\n", (req == "" ? 0 : req), (rps == "" ? 0 : rps),
        (p50 == "" ? "null" : sprintf("%.3f", p50)), (p99 == "" ? "null" : sprintf("%.3f", p99)),
        non2xx, serr
    }' "$1"
}

# measure SCENARIO PROXY ROUND: one measured wrk run against PROXY, appended to $RESULTS.
measure() {
  local scenario=$1 proxy=$2 round=$3 pid url out pids t0 t1 b0 b1 w0 w1 c0 c1 x0 x1 rc=0
  pid=${PROXY_PIDS[$proxy]}
  url=${PROXY_URLS[$proxy]}
  out=$WORK/wrk-$scenario-$proxy-r$round.txt
  read -r -a pids <<<"$("${proxy}_cpu_pids" "$pid")"
  read -r b0 w0 _ <<<"$(cpu_busy "$LOAD_CPU")"
  read -r _ x0 c0 <<<"$(cpu_busy "$PROXY_CPU")"
  local met0="" met1="" sh0 sh1
  [[ $proxy == cutover ]] && met0=$(cutover_metrics "${PROXY_ADMINS[$proxy]}")
  t0=$(cpu_ticks "${pids[@]}")
  run_wrk "$url" "$RUN_SECONDS" "$out" || rc=$?
  if [[ $proxy == cutover ]]; then
    # Records are committed within a second of their response: let the
    # writer (and the shadow workers) catch up before reading what they did,
    # and count their CPU.
    sleep 1.5
    met1=$(cutover_metrics "${PROXY_ADMINS[$proxy]}")
    printf '%s\t%s\t%s\t%s\n' "$scenario" "$round" "$(record_counts <<<"$met0")" "$(record_counts <<<"$met1")" \
      >>"$WORK/records.tsv"
    printf '%s\t%s\t%s\t%s\n' "$scenario" "$round" "$(trace_counts <<<"$met0")" "$(trace_counts <<<"$met1")" \
      >>"$WORK/traces.tsv"
    printf '%s\t%s\t%s\t%s\n' "$scenario" "$round" "$(record_reasons <<<"$met0")" "$(record_reasons <<<"$met1")" \
      >>"$WORK/recdrops.tsv"
    sh0=$(shadow_counts <<<"$met0")
    sh1=$(shadow_counts <<<"$met1")
    if [[ -n $sh1 ]]; then printf '%s\t%s\t%s\t%s\n' "$scenario" "$round" "$sh0" "$sh1" >>"$WORK/shadow.tsv"; fi
  fi
  t1=$(cpu_ticks "${pids[@]}")
  read -r b1 w1 _ <<<"$(cpu_busy "$LOAD_CPU")"
  read -r _ x1 c1 <<<"$(cpu_busy "$PROXY_CPU")"
  alive "$pid" || { tail -n 20 "$out" >&2; die "$proxy died during $scenario round $round"; }
  if ((rc != 0)); then
    log "wrk exited $rc against $proxy ($url):"
    tail -n 5 "$out" >&2 || true
  fi

  local requests rps p50 p99 non2xx serr ok ok_rps cpu_us rss proxy_pct load_pct other_pct
  read -r requests rps p50 p99 non2xx serr <<<"$(parse_wrk "$out")"
  ok=$((requests - non2xx))
  rss=$(hwm_mb "$("${proxy}_rss_pid" "$pid")")
  read -r ok_rps cpu_us proxy_pct load_pct other_pct <<<"$(awk -v r="$rps" -v n="$requests" -v ok="$ok" \
      -v dt=$((t1 - t0)) -v hz="$CLK_TCK" -v db=$((b1 - b0)) -v dw=$((w1 - w0)) -v dc=$((c1 - c0)) -v dx=$((x1 - x0)) 'BEGIN {
      pp = (dx > 0 ? 100 * dt / dx : 0); other = (dx > 0 ? 100 * dc / dx : 0) - pp
      printf "%.1f %s %.0f %.0f %.0f\n", (n > 0 ? r * ok / n : 0), (ok > 0 ? sprintf("%.2f", dt / hz * 1e6 / ok) : "null"),
        pp, (dw > 0 ? 100 * db / dw : 0), (other > 0 ? other : 0) }')"
  [[ -n $other_pct ]] || die "internal error: could not compute the metrics of $scenario/$proxy round $round"
  if ((other_pct > 15)); then
    log "WARNING: ${other_pct}% of the proxy core went to something else during this run (busy machine?): numbers are noisy"
    NOISY=$((NOISY + 1))
  fi
  if ((ok <= 0)); then
    log "MISS: $proxy completed no successful request in $scenario round $round"
    FAILED=1
  fi

  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scenario" "$proxy" "$round" "$requests" \
    "$ok_rps" "$p50" "$p99" "$cpu_us" "$rss" "$non2xx" "$serr" "$proxy_pct" "$load_pct" "$other_pct" >>"$RESULTS"
  printf '{"kind":"run","run_id":"%s","git":"%s","scenario":"%s","proxy":"%s","round":%d,"seconds":%d,"conns":%d,"requests":%d,"rps":%s,"ok_rps":%s,"p50_ms":%s,"p99_ms":%s,"cpu_us_per_req":%s,"peak_rss_mb":%s,"non2xx":%d,"socket_errors":%d,"proxy_cpu_pct":%s,"load_cpu_pct":%s,"other_cpu_pct":%s,"cutover_bin":"%s"}\n' \
    "$RUN_ID" "$GIT_REV" "$scenario" "$proxy" "$round" "$RUN_SECONDS" "$RUN_CONNS" "$requests" "$rps" "$ok_rps" \
    "$p50" "$p99" "$cpu_us" "$rss" "$non2xx" "$serr" "$proxy_pct" "$load_pct" "$other_pct" "$CUTOVER_BIN" >>"$JSONL"
  log "$(printf '%-14s r%d %-8s %9s req/s  p50 %6s ms  p99 %6s ms  %6s us/req  rss %5s MB  errors %d  proxy cpu %s%%  load cpu %s%%' \
    "$scenario" "$round" "$proxy" "$ok_rps" "$p50" "$p99" "$cpu_us" "$rss" $((non2xx + serr)) "$proxy_pct" "$load_pct")"
}

declare -A PROXY_PIDS PROXY_URLS PROXY_ADMINS

# cutover_metrics ADMIN_URL: prints cutover's /metrics ("" if it does not answer).
cutover_metrics() {
  curl -fsS --max-time 5 "$1/metrics" 2>/dev/null || true
}

# record_counts < METRICS: prints "written dropped".
record_counts() {
  awk '
    /^cutover_records_written_total / { w = $2 }
    /^cutover_records_dropped_total\{/ { d += $2 }
    END { printf "%d %d", w, d }'
}

# record_reasons < METRICS: prints "written=N REASON=N ..." (the record
# drops by reason, in the order the metrics list them).
record_reasons() {
  awk '
    /^cutover_records_written_total / { w = $2 }
    /^cutover_records_dropped_total\{/ {
      if (!match($0, /reason="[^"]*"/)) next
      r = substr($0, RSTART + 8, RLENGTH - 9)
      if (!(r in d)) names[++n] = r
      d[r] += $NF
    }
    END {
      printf "written=%d", w
      for (i = 1; i <= n; i++) printf " %s=%d", names[i], d[names[i]]
    }'
}

# trace_counts < METRICS: prints "exported dropped" (spans, all reasons).
trace_counts() {
  awk '
    /^cutover_trace_spans_exported_total / { e = $2 }
    /^cutover_trace_spans_dropped_total\{/ { d += $2 }
    END { printf "%d %d", e, d }'
}

# shadow_counts < METRICS: prints "compared=N REASON=N ..." (the shadow drops by
# reason, in the order the metrics list them), summed over routes; "" when
# no route shadows.
shadow_counts() {
  awk '
    /^cutover_shadow_compared_total\{/ { c += $NF; seen = 1 }
    /^cutover_shadow_dropped_total\{/ {
      if (!match($0, /reason="[^"]*"/)) next
      r = substr($0, RSTART + 8, RLENGTH - 9)
      if (!(r in d)) names[++n] = r
      d[r] += $NF; seen = 1
    }
    END {
      if (!seen) exit
      printf "compared=%d", c
      for (i = 1; i <= n; i++) printf " %s=%d", names[i], d[names[i]]
    }'
}

# sse_measure PROXY...: sse_ttfb's measurement: ssegen's client reads
# BENCH_SSE_STREAMS event streams (3 at a time) directly from the upstream,
# then through each proxy, and its line of figures goes to $WORK/sse.tsv.
sse_measure() {
  local target url line rc
  for target in direct "$@"; do
    url=http://$SSE_ADDR$SC_PATH
    [[ $target == direct ]] || url=${PROXY_URLS[$target]}
    rc=0
    line=$(timeout -k 5 120 taskset -c "$LOAD_CPU" "$SSEGEN" -get "$url" -n "$BENCH_SSE_STREAMS" -c 3 \
      2>"$WORK/sse-$target.err") || rc=$?
    if ((rc != 0)); then
      log "MISS: reading event streams from $target ($url) failed:"
      tail -n 3 "$WORK/sse-$target.err" >&2 || true
      FAILED=1
    fi
    log "$(printf '%-14s %-8s %s' "$SC_NAME" "$target" "$line")"
    printf '%s\t%s\t%d\n' "$target" "$line" "$rc" >>"$WORK/sse.tsv"
  done
}

# record_size: after record_json_1k's rounds, the embedded store's size on disk
# (allocated blocks of the bbolt index file and the segment files; the
# apparent size too) and the records committed to it
# (cutover_records_written_total since cutover started: the warm-up's
# records are in the store too), once the recorder's queue is empty and
# the count has stopped moving (10 s at most). Appended to
# $WORK/recsize.tsv.
record_size() {
  local admin=${PROXY_ADMINS[cutover]:-} dir=$WORK/cutover/$SC_NAME/data i met
  local written=-1 last queued alloc apparent index
  [[ -n $admin && -d $dir ]] || return 0
  for ((i = 0; i < 50; i++)); do
    last=$written
    met=$(cutover_metrics "$admin")
    read -r written queued <<<"$(awk '/^cutover_records_written_total / { w = $2 }
      /^cutover_records_queued / { q = $2 } END { printf "%d %d", w, q }' <<<"$met")"
    ((queued == 0 && written == last)) && break
    sleep 0.2
  done
  alloc=$(du -s -B1 "$dir" | cut -f1)
  apparent=$(du -s -b "$dir" | cut -f1)
  index=$(find "$dir" -maxdepth 1 -type f -name '*.db' -exec du -c -B1 {} + | awk 'END { print $1 + 0 }')
  log "store of $SC_NAME: $written records, $alloc bytes on disk ($index in the index file), $apparent apparent"
  printf '%s\t%d\t%d\t%d\t%d\n' "$SC_NAME" "$written" "$alloc" "$apparent" "$index" >>"$WORK/recsize.tsv"
}

run_scenario() {
  local name=$1 proxy round order pid
  declare -F "scenario_$name" >/dev/null || die "unknown scenario '$name'"
  SC_DESC="" SC_PATH="" SC_NGINX_HTTP="" SC_NGINX_SERVER="" SC_CUTOVER="" SC_PROXIES="" SC_PIDS=""
  SC_SECONDS="" SC_ROUNDS="" SC_CONNS="" SC_WARMUP="" SC_WRK_SCRIPT="" SC_MAX_RSS_MB="" SC_MEASURE="" SC_AFTER=""
  SC_NAME=$name
  "scenario_$name"
  RUN_SECONDS=${SC_SECONDS:-$BENCH_SECONDS}
  RUN_ROUNDS=${SC_ROUNDS:-$BENCH_ROUNDS}
  RUN_CONNS=${SC_CONNS:-$BENCH_CONNS}
  RUN_WARMUP=${SC_WARMUP:-$BENCH_WARMUP}
  log "scenario $name: $SC_DESC"
  local proxies=$BENCH_PROXIES
  if [[ -n $SC_PROXIES ]]; then
    proxies=""
    for proxy in $SC_PROXIES; do [[ " $BENCH_PROXIES " == *" $proxy "* ]] && proxies+="$proxy "; done
    if [[ -z $proxies ]]; then
      log "scenario $name: skipped (it runs only $SC_PROXIES)"
      for pid in $SC_PIDS; do forget_pid "$pid"; done
      return 0
    fi
  fi

  # The scenario's settings, for the report: seconds, rounds, connections
  # and cutover's peak RSS limit (empty: MAX_RSS_MB and the nginx ratios).
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$RUN_SECONDS" "$RUN_ROUNDS" "$RUN_CONNS" "$SC_MAX_RSS_MB" >>"$WORK/scenarios.tsv"

  for proxy in $proxies; do
    "start_${proxy}_proxy"
    PROXY_PIDS[$proxy]=$PROXY_PID
    PROXY_URLS[$proxy]=$PROXY_URL
    PROXY_ADMINS[$proxy]=${PROXY_ADMIN:-}
    [[ -n $SC_MEASURE ]] && { log "$proxy up at $PROXY_URL (pid $PROXY_PID, cpu $PROXY_CPU)"; continue; }
    log "$proxy up at $PROXY_URL (pid $PROXY_PID, cpu $PROXY_CPU); warm-up ${RUN_WARMUP}s"
    run_wrk "$PROXY_URL" "$RUN_WARMUP" "$WORK/warmup-$name-$proxy.txt" ||
      log "warm-up against $proxy: wrk exited non-zero"
  done

  if [[ -n $SC_MEASURE ]]; then
    # shellcheck disable=SC2086 # one proxy per word
    "$SC_MEASURE" $proxies
  else
    for ((round = 1; round <= RUN_ROUNDS; round++)); do
      order=$proxies
      ((round % 2 == 0)) && order=$(echo "$proxies" | awk '{ for (i = NF; i > 0; i--) printf "%s ", $i }')
      for proxy in $order; do measure "$name" "$proxy" "$round"; done
    done
  fi
  if [[ -n $SC_AFTER ]]; then "$SC_AFTER"; fi

  for proxy in $proxies; do forget_pid "${PROXY_PIDS[$proxy]}"; done
  for pid in $SC_PIDS; do forget_pid "$pid"; done
}

# ---------------------------------------------------------------------------
# Report: medians over rounds, ratios, criteria
# ---------------------------------------------------------------------------

report() {
  [[ -s $RESULTS ]] && awk -F'\t' -v maxcpu="$MAX_CPU_RATIO" -v minrps="$MIN_RPS_RATIO" -v maxrss="$MAX_RSS_MB" \
      -v jsonl="$JSONL" -v run_id="$RUN_ID" -v git="$GIT_REV" '
    function median(key,   n, i, j, t, a, parts) {
      n = split(vals[key], parts, " ")
      if (n == 0) return "null"
      for (i = 1; i <= n; i++) a[i] = parts[i] + 0
      for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
      return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function largest(key,   n, i, m, parts) {
      n = split(vals[key], parts, " ")
      if (n == 0) return "null"
      m = parts[1] + 0
      for (i = 2; i <= n; i++) if (parts[i] + 0 > m) m = parts[i] + 0
      return m
    }
    function add(key, v) { if (v != "null" && v != "") vals[key] = vals[key] " " v }
    function fmt(v, f) { return v == "null" ? "-" : sprintf(f, v) }
    function jnum(v) { return v == "null" ? "null" : sprintf("%.3f", v) }
    function ratio(a, b) { return (a == "null" || b == "null" || b == 0) ? "null" : a / b }
    function mark(ok) { return ok ? "ok" : "MISS" }
    FILENAME == ARGV[1] { secs[$1] = $2; conns[$1] = $4; bigrss[$1] = $5; next }
    {
      k = $1 SUBSEP $2
      if (!(k in seen)) { seen[k] = 1; order[++nk] = k }
      if (!($1 in sseen)) { sseen[$1] = 1; sorder[++ns] = $1 }
      add(k SUBSEP "rps", $5); add(k SUBSEP "p50", $6); add(k SUBSEP "p99", $7)
      add(k SUBSEP "cpu", $8); add(k SUBSEP "rss", $9); add(k SUBSEP "ppct", $12); add(k SUBSEP "lpct", $13)
      err[k] += $10 + $11; rounds[k]++
      if ($14 > 15) noisy[$1]++
    }
    END {
      printf "\n%-14s %-8s %10s %8s %8s %11s %7s %7s %7s %7s\n", "scenario", "proxy", "req/s", "p50 ms", "p99 ms",
        "CPU us/req", "RSS MB", "errors", "proxy%", "load%"
      for (s = 1; s <= ns; s++) {
        sc = sorder[s]
        for (i = 1; i <= nk; i++) {
          split(order[i], kp, SUBSEP); if (kp[1] != sc) continue
          k = order[i]
          m[k, "rps"] = median(k SUBSEP "rps"); m[k, "p50"] = median(k SUBSEP "p50"); m[k, "p99"] = median(k SUBSEP "p99")
          m[k, "cpu"] = median(k SUBSEP "cpu"); m[k, "rss"] = median(k SUBSEP "rss")
          m[k, "ppct"] = median(k SUBSEP "ppct"); m[k, "lpct"] = median(k SUBSEP "lpct")
          printf "%-14s %-8s %10s %8s %8s %11s %7s %7d %7s %7s\n", sc, kp[2], fmt(m[k, "rps"], "%.0f"), fmt(m[k, "p50"], "%.2f"),
            fmt(m[k, "p99"], "%.2f"), fmt(m[k, "cpu"], "%.1f"), fmt(m[k, "rss"], "%.1f"), err[k],
            fmt(m[k, "ppct"], "%.0f"), fmt(m[k, "lpct"], "%.0f")
          printf "{\"kind\":\"summary\",\"run_id\":\"%s\",\"git\":\"%s\",\"scenario\":\"%s\",\"proxy\":\"%s\",\"rounds\":%d,\"seconds\":%d,\"conns\":%d,\"ok_rps\":%s,\"p50_ms\":%s,\"p99_ms\":%s,\"cpu_us_per_req\":%s,\"peak_rss_mb\":%s,\"errors\":%d,\"proxy_cpu_pct\":%s,\"load_cpu_pct\":%s}\n",
            run_id, git, sc, kp[2], rounds[k], secs[sc], conns[sc], jnum(m[k, "rps"]), jnum(m[k, "p50"]), jnum(m[k, "p99"]),
            jnum(m[k, "cpu"]), jnum(m[k, "rss"]), err[k], jnum(m[k, "ppct"]), jnum(m[k, "lpct"]) >> jsonl
        }
        c = sc SUBSEP "cutover"; n = sc SUBSEP "nginx"
        if (!(c in seen) || !(n in seen)) continue
        if (bigrss[sc] != "") {
          # Big bodies: the peak is the largest VmHWM of the rounds; cutover
          # shadows and records, nginx only proxies, so the CPU and req/s
          # ratios have no criterion.
          rc = ratio(m[c, "cpu"], m[n, "cpu"]); rr = ratio(m[c, "rps"], m[n, "rps"])
          pc = largest(c SUBSEP "rss"); pn = largest(n SUBSEP "rss")
          okm = pc != "null" && pc <= bigrss[sc]; oke = err[c] == 0
          printf "  peak RSS: cutover %s MB (<= %d MB %s), nginx %s MB;  errors %d (%s);  cutover/nginx CPU/req %sx, req/s %sx\n",
            fmt(pc, "%.1f"), bigrss[sc], mark(okm), fmt(pn, "%.1f"), err[c], mark(oke), fmt(rc, "%.2f"), fmt(rr, "%.2f")
          printf "        (%d conns, %d s rounds; cutover shadows 100%% + diffs + records 100%%, nginx only proxies: no CPU or req/s criterion)\n",
            conns[sc], secs[sc]
          printf "{\"kind\":\"big\",\"run_id\":\"%s\",\"git\":\"%s\",\"scenario\":\"%s\",\"peak_rss_mb\":%s,\"nginx_peak_rss_mb\":%s,\"max_rss_mb\":%d,\"cpu_ratio\":%s,\"rps_ratio\":%s,\"rss_ok\":%s,\"errors_ok\":%s}\n",
            run_id, git, sc, jnum(pc), jnum(pn), bigrss[sc], jnum(rc), jnum(rr), okm ? "true" : "false", oke ? "true" : "false" >> jsonl
          if (noisy[sc])
            printf "  WARNING: in %d run(s) other processes took >15%% of the proxy core: this scenario'"'"'s numbers are noisy.\n", noisy[sc]
          printf "\n"
          continue
        }
        rc = ratio(m[c, "cpu"], m[n, "cpu"]); rr = ratio(m[c, "rps"], m[n, "rps"]); rm = ratio(m[c, "rss"], m[n, "rss"])
        okc = rc != "null" && rc <= maxcpu; okr = rr != "null" && rr >= minrps
        okm = m[c, "rss"] != "null" && m[c, "rss"] <= maxrss; oke = err[c] == 0
        printf "  cutover/nginx: CPU/req %sx (<= %.2fx %s)  req/s %sx (>= %.2fx %s)  RSS %sx; cutover RSS %s MB (<= %d MB %s)  errors %d (%s)\n",
          fmt(rc, "%.2f"), maxcpu, mark(okc), fmt(rr, "%.2f"), minrps, mark(okr), fmt(rm, "%.1f"),
          fmt(m[c, "rss"], "%.1f"), maxrss, mark(okm), err[c], mark(oke)
        printf "{\"kind\":\"ratio\",\"run_id\":\"%s\",\"git\":\"%s\",\"scenario\":\"%s\",\"cpu_ratio\":%s,\"rps_ratio\":%s,\"rss_ratio\":%s,\"cpu_ok\":%s,\"rps_ok\":%s,\"rss_ok\":%s,\"errors_ok\":%s}\n",
          run_id, git, sc, jnum(rc), jnum(rr), jnum(rm), okc ? "true" : "false", okr ? "true" : "false",
          okm ? "true" : "false", oke ? "true" : "false" >> jsonl
        if (noisy[sc])
          printf "  WARNING: in %d run(s) other processes took >15%% of the proxy core: this scenario'"'"'s numbers are noisy.\n", noisy[sc]
        else if (m[n, "lpct"] != "null" && m[n, "lpct"] >= 95 && m[n, "ppct"] < 90)
          printf "  note: the load core was saturated (load%% %.0f) before nginx was (proxy%% %.0f): req/s is capped by\n        wrk + backend, so the req/s ratio flatters the slower proxy; CPU us/req is the fair comparison.\n",
            m[n, "lpct"], m[n, "ppct"]
        printf "\n"
      }
    }' "$WORK/scenarios.tsv" "$RESULTS"
  record_report
  record_size_report
  shadow_report
  trace_report
  big_report
  sse_report
}

# AWK_KV_DELTAS: an awk function for the reports. kv_deltas(BEFORE, AFTER, K)
# takes two counter lines "key=N key=N ..." read before and after a run and
# adds each key's change to delta[K, key]; keys[K, i] lists the keys in
# the order first seen (nkeys[K] of them).
AWK_KV_DELTAS='
    function kv_deltas(before_s, after_s, k,   na, nb, i, a, b, kv, before, key) {
      na = split(before_s, a, " ")
      for (i = 1; i <= na; i++) { split(a[i], kv, "="); before[kv[1]] = kv[2] }
      nb = split(after_s, b, " ")
      for (i = 1; i <= nb; i++) {
        split(b[i], kv, "="); key = kv[1]
        if (!((k, key) in delta)) keys[k, ++nkeys[k]] = key
        delta[k, key] += kv[2] - ((key in before) ? before[key] : 0)
      }
    }'

# record_size_report: record_json_1k's store size on disk per record
# (recsize.tsv) against MAX_RECORD_BYTES.
record_size_report() {
  [[ -s $WORK/recsize.tsv ]] || return 0
  awk -F'\t' -v maxb="$MAX_RECORD_BYTES" -v cap=$((2 << 30)) -v jsonl="$JSONL" -v run_id="$RUN_ID" -v git="$GIT_REV" '
    {
      sc = $1; n = $2; alloc = $3; apparent = $4; index_ = $5
      per = n > 0 ? alloc / n : "null"; ok = per != "null" && per <= maxb
      printf "bytes per record on disk (cutover %s, 1 KiB JSON answers): %s B/record (<= %d %s): %.1f MB on disk (index file %.1f MB, segments %.1f MB; apparent size %.1f MB) for %d records\n",
        sc, (per == "null" ? "-" : sprintf("%.0f", per)), maxb, per == "null" ? "no record written" : (ok ? "ok" : "MISS"),
        alloc / 1048576, index_ / 1048576, (alloc - index_) / 1048576, apparent / 1048576, n
      # The embedded store drops its oldest records past store.max_bytes
      # (2 GiB by default): near it, the store holds fewer records than
      # were written and the figure is too low.
      if (apparent > 0.9 * cap)
        printf "  note: the store is near its default cap (2 GiB): old records may have been dropped, so this figure is too low\n"
      printf "{\"kind\":\"record_size\",\"run_id\":\"%s\",\"git\":\"%s\",\"scenario\":\"%s\",\"records\":%d,\"bytes_on_disk\":%d,\"bytes_apparent\":%d,\"index_bytes\":%d,\"bytes_per_record\":%s,\"max_bytes_per_record\":%d,\"ok\":%s}\n",
        run_id, git, sc, n, alloc, apparent, index_, (per == "null" ? "null" : sprintf("%.1f", per)), maxb, ok ? "true" : "false" >> jsonl
    }' "$WORK/recsize.tsv"
}

# big_report: for big_* (cutover), the shadow and record counters over the
# measured rounds (deltas from shadow.tsv and recdrops.tsv): pairs compared,
# shadow drops by reason (body_too_large expected for 2 MiB once answers
# over stream_above stream), records written and dropped by reason. Only
# reasons that moved are listed. No criterion: the peak RSS is the test.
big_report() {
  [[ -s $WORK/shadow.tsv || -s $WORK/recdrops.tsv ]] || return 0
  awk -F'\t' -v jsonl="$JSONL" -v run_id="$RUN_ID" -v git="$GIT_REV" '
    '"$AWK_KV_DELTAS"'
    $1 !~ /^big_/ { next }
    {
      sc = $1; f = (FILENAME == ARGV[1]) ? "shadow" : "record"
      if (!(sc in seen)) { seen[sc] = 1; order[++ns] = sc }
      kv_deltas($3, $4, sc SUBSEP f)
    }
    # moved(SC, F, SKIP): "reason N, ..." of the reasons that moved; sets JS
    # to the same as a JSON object.
    function moved(sc, f, skip,   i, key, out) {
      out = ""; JS = ""
      for (i = 1; i <= nkeys[sc SUBSEP f]; i++) {
        key = keys[sc SUBSEP f, i]; if (key == skip) continue
        JS = JS (JS == "" ? "" : ",") "\"" key "\":" delta[sc, f, key]
        if (delta[sc, f, key] != 0) out = out (out == "" ? "" : ", ") key " " delta[sc, f, key]
      }
      JS = "{" JS "}"
      return out == "" ? "none" : out
    }
    END {
      for (s = 1; s <= ns; s++) {
        sc = order[s]
        sd = moved(sc, "shadow", "compared"); sjs = JS
        rd = moved(sc, "record", "written"); rjs = JS
        printf "%s (cutover, measured rounds): %d pairs compared, shadow drops: %s; %d records written, record drops: %s\n",
          sc, delta[sc, "shadow", "compared"], sd, delta[sc, "record", "written"], rd
        printf "{\"kind\":\"big_drops\",\"run_id\":\"%s\",\"git\":\"%s\",\"scenario\":\"%s\",\"compared\":%d,\"shadow_drops\":%s,\"records_written\":%d,\"record_drops\":%s}\n",
          run_id, git, sc, delta[sc, "shadow", "compared"], sjs, delta[sc, "record", "written"], rjs >> jsonl
      }
    }' "$WORK/shadow.tsv" "$WORK/recdrops.tsv"
}

# sse_report: sse_ttfb's medians (sse.tsv): time to the end of the first
# event directly, through nginx and through cutover; cutover's median must
# be within MAX_SSE_TTFB_EXTRA_MS of the direct one, and every stream must
# arrive whole.
sse_report() {
  [[ -s $WORK/sse.tsv ]] || return 0
  awk -F'\t' -v maxd="$MAX_SSE_TTFB_EXTRA_MS" -v jsonl="$JSONL" -v run_id="$RUN_ID" -v git="$GIT_REV" '
    {
      t = $1; order[++nt] = t; rc[t] = $3
      n = split($2, kvs, " ")
      for (i = 1; i <= n; i++) { split(kvs[i], kv, "="); v[t, kv[1]] = kv[2] }
    }
    function fmt(x, f) { return (x == "" || x == "null") ? "-" : sprintf(f, x) }
    function jnum(x) { return (x == "" || x == "null") ? "null" : x }
    END {
      d = v["direct", "ttfb_p50_ms"]; c = v["cutover", "ttfb_p50_ms"]
      have = d != "" && d != "null" && c != "" && c != "null"
      ok = have && c - d <= maxd && rc["cutover"] == 0
      printf "SSE time to the first event (sse_ttfb, median of %s streams of 9 events over 0.8 s):", v["direct", "n"]
      for (i = 1; i <= nt; i++) {
        t = order[i]
        printf " %s %s ms%s", t == "nginx" ? "nginx (proxy_buffering off)" : t, fmt(v[t, "ttfb_p50_ms"], "%.2f"), i < nt ? "," : ""
      }
      printf "\n  cutover - direct: %s ms (<= %d ms %s), cutover/direct %sx; whole streams:", have ? sprintf("%+.2f", c - d) : "-", maxd,
        have ? (ok ? "ok" : "MISS") : "MISS (no figure)", (have && d > 0) ? sprintf(c / d < 10 ? "%.2f" : "%.0f", c / d) : "-"
      for (i = 1; i <= nt; i++) { t = order[i]; printf " %s %s/%s", t, fmt(v[t, "whole"], "%d"), v[t, "n"] }
      printf "; end of stream:"
      for (i = 1; i <= nt; i++) { t = order[i]; printf " %s %s ms", t, fmt(v[t, "total_p50_ms"], "%.0f") }
      printf "\n"
      if (have && c - d > 100)
        printf "  (the first event arrives with the last: the answer is held until the stream ends)\n"
      printf "{\"kind\":\"sse\",\"run_id\":\"%s\",\"git\":\"%s\",\"streams\":%d,\"direct_ttfb_ms\":%s,\"nginx_ttfb_ms\":%s,\"cutover_ttfb_ms\":%s,\"cutover_total_ms\":%s,\"max_extra_ms\":%d,\"ok\":%s}\n",
        run_id, git, v["direct", "n"], jnum(d), jnum(v["nginx", "ttfb_p50_ms"]), jnum(c), jnum(v["cutover", "total_p50_ms"]), maxd,
        ok ? "true" : "false" >> jsonl
    }' "$WORK/sse.tsv"
}

# record_report: the recording overhead (record_1k against proxy_1k, both
# cutover) and the store's write rate.
record_report() {
  overhead_report record_1k records.tsv "$MAX_RECORD_CPU_RATIO" "recording 100%% of 1 KiB calls" records written recording
  # For information (no criterion: 0): the cost of realistic bodies.
  overhead_report record_json_1k records.tsv 0 "recording 100%% of 1 KiB JSON calls" records written recording_json
}

# trace_report: the tracing overhead (proxy_traced_1k against proxy_1k, both
# cutover) and the spans exported per second and dropped.
trace_report() {
  overhead_report proxy_traced_1k traces.tsv "$MAX_TRACE_CPU_RATIO" "tracing 100%% of 1 KiB calls to a loopback OTLP sink" spans exported tracing
}

# overhead_report SCENARIO TSV MAX_RATIO WHAT NOUN VERB KIND: the CPU/req of
# cutover's SCENARIO against its proxy_1k (<= MAX_RATIO; 0 prints the ratio
# without a criterion), and the deltas of
# a counter pair over the measured rounds from $WORK/TSV (lines "scenario
# round" then "done dropped" before and after): NOUN VERB per second
# (median of rounds), in total, and dropped (which must be 0). WHAT starts
# the text line; KIND names the JSON line ({"kind":KIND, "NOUN_per_s",
# "VERB", "dropped", ...}).
overhead_report() {
  local sc=$1 tsv=$WORK/$2
  [[ -s $tsv ]] || return 0
  awk -F'\t' -v sc="$sc" -v maxr="$3" -v what="$4" -v noun="$5" -v verb="$6" -v kind="$7" \
      -v secs="$BENCH_SECONDS" -v jsonl="$JSONL" -v run_id="$RUN_ID" -v git="$GIT_REV" '
    FILENAME == ARGV[1] { if ($2 == "cutover") cpu[$1] = cpu[$1] " " $8; next }
    $1 == sc {
      split($3, a, " "); split($4, b, " ")
      w = b[1] - a[1]; d = b[2] - a[2]; n++; done += w; dropped += d
      rate = rate " " w / secs
    }
    function median(s,   n, i, j, t, a) {
      n = split(s, a, " "); if (n == 0) return "null"
      for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
      return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    END {
      if (!n) exit
      base = median(cpu["proxy_1k"]); cost = median(cpu[sc])
      r = (base == "null" || cost == "null" || base == 0) ? "null" : cost / base
      okr = r != "null" && (maxr == 0 || r <= maxr)
      crit = maxr == 0 ? "information, no criterion" : sprintf("<= %.1fx %s", maxr, r == "null" ? "no cutover proxy_1k in this run to compare with" : (okr ? "ok" : "MISS"))
      printf what " (cutover %s vs proxy_1k): CPU/req %s us vs %s us = %sx (%s)\n",
        sc, cost, base, (r == "null" ? "-" : sprintf("%.2f", r)), crit
      printf "  %.0f %s %s/s (median of rounds), %d %s, %d dropped (%s)\n", median(rate), noun, verb, done, verb, dropped, dropped == 0 ? "ok" : "MISS"
      printf "{\"kind\":\"%s\",\"run_id\":\"%s\",\"git\":\"%s\",\"cpu_ratio\":%s,\"%s_per_s\":%.0f,\"%s\":%d,\"dropped\":%d,\"cpu_ok\":%s,\"dropped_ok\":%s}\n",
        kind, run_id, git, (r == "null" ? "null" : sprintf("%.3f", r)), noun, median(rate), verb, done, dropped, okr ? "true" : "false", dropped == 0 ? "true" : "false" >> jsonl
    }' "$RESULTS" "$tsv"
}

# shadow_report: the cost of shadowing (cutover shadow_1k, shadow + diff,
# against nginx shadow_1k, mirror), then the primary's latency, errors and
# memory with a broken shadow side (shadow_dead_1k, shadow_slow_1k against
# cutover's proxy_1k). Pairs compared and drops by reason are the deltas of
# cutover's shadow counters over the measured rounds (shadow.tsv).
shadow_report() {
  [[ -s $WORK/shadow.tsv ]] || return 0
  awk -F'\t' -v maxc="$MAX_SHADOW_CPU_RATIO" -v maxp="$MAX_SHADOW_FAULT_P99_RATIO" -v secs="$BENCH_SECONDS" \
      -v jsonl="$JSONL" -v run_id="$RUN_ID" -v git="$GIT_REV" '
    '"$AWK_KV_DELTAS"'
    function median(s,   n, i, j, t, a) {
      n = split(s, a, " "); if (n == 0) return "null"
      for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
      return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function ratio(a, b) { return (a == "null" || b == "null" || b == 0) ? "null" : a / b }
    function fmt(v, f) { return v == "null" ? "-" : sprintf(f, v) }
    function jnum(v) { return v == "null" ? "null" : sprintf("%.3f", v) }
    function add(k, v) { if (v != "null" && v != "") vals[k] = vals[k] " " v }
    function m(sc, proxy, what) { return median(vals[sc SUBSEP proxy SUBSEP what]) }
    # drops(SC): "reason N, reason N, ..." for the text; sets DROPS (their
    # sum) and DROPS_JSON ({"reason":N,...}).
    function drops(sc,   i, key, out) {
      DROPS = 0; DROPS_JSON = ""; out = ""
      for (i = 1; i <= nkeys[sc]; i++) {
        key = keys[sc, i]; if (key == "compared") continue
        out = out (out == "" ? "" : ", ") key " " delta[sc, key]
        DROPS_JSON = DROPS_JSON (DROPS_JSON == "" ? "" : ",") "\"" key "\":" delta[sc, key]
        DROPS += delta[sc, key]
      }
      DROPS_JSON = "{" DROPS_JSON "}"
      return out == "" ? "none counted" : out
    }
    FILENAME == ARGV[1] {
      k = $1 SUBSEP $2
      add(k SUBSEP "cpu", $8); add(k SUBSEP "p50", $6); add(k SUBSEP "p99", $7); add(k SUBSEP "rss", $9)
      okreq[k] += $4 - $10; non2xx[k] += $10; serr[k] += $11
      next
    }
    {
      sc = $1
      c0 = delta[sc, "compared"]
      kv_deltas($3, $4, sc)
      rate[sc] = rate[sc] " " (delta[sc, "compared"] - c0) / secs
      rounds[sc]++
    }
    END {
      sc = "shadow_1k"
      if (rounds[sc]) {
        c = m(sc, "cutover", "cpu"); n = m(sc, "nginx", "cpu"); r = ratio(c, n)
        okc = r != "null" && r <= maxc
        printf "shadow 100%% + diff (cutover shadow_1k) vs nginx mirror (nginx shadow_1k): CPU/req %s us vs %s us = %sx (<= %.1fx %s)\n",
          fmt(c, "%.2f"), fmt(n, "%.2f"), fmt(r, "%.2f"), maxc, r == "null" ? "no nginx run to compare with" : (okc ? "ok" : "MISS")
        req = okreq[sc SUBSEP "cutover"]; cmp = delta[sc, "compared"]; dl = drops(sc)
        printf "  %d pairs compared in the measured rounds (%s of the %d requests cutover answered; %.0f pairs/s, median of rounds); shadow drops: %s (%s)\n",
          cmp, (req > 0 ? sprintf("%.1f%%", 100 * cmp / req) : "-"), req, median(rate[sc]), dl, DROPS == 0 ? "ok" : "MISS"
        if (r != "null" && !okc)
          printf "  MISS: shadowing + diffing costs cutover %.0f%% more CPU per request than nginx mirror (limit %.1fx)\n", 100 * (r - 1), maxc
        printf "{\"kind\":\"shadow\",\"run_id\":\"%s\",\"git\":\"%s\",\"scenario\":\"%s\",\"cpu_us_per_req\":%s,\"nginx_cpu_us_per_req\":%s,\"cpu_ratio\":%s,\"compared\":%d,\"requests\":%d,\"drops\":%s,\"cpu_ok\":%s,\"drops_ok\":%s}\n",
          run_id, git, sc, jnum(c), jnum(n), jnum(r), cmp, req, DROPS_JSON, okc ? "true" : "false", DROPS == 0 ? "true" : "false" >> jsonl
      }
      label["shadow_dead_1k"] = "shadow side refusing connections"
      label["shadow_slow_1k"] = "shadow side never answering"
      split("shadow_dead_1k shadow_slow_1k", faults, " ")
      for (f = 1; f <= 2; f++) {
        sc = faults[f]
        if (!rounds[sc]) continue
        k = sc SUBSEP "cutover"; base = "proxy_1k"
        p99 = m(sc, "cutover", "p99"); b99 = m(base, "cutover", "p99"); r99 = ratio(p99, b99)
        p50 = m(sc, "cutover", "p50"); b50 = m(base, "cutover", "p50"); r50 = ratio(p50, b50)
        rss = m(sc, "cutover", "rss"); brss = m(base, "cutover", "rss"); rr = ratio(rss, brss)
        ok99 = r99 != "null" && r99 <= maxp; oke = non2xx[k] == 0 && serr[k] == 0
        printf "%s (cutover %s vs proxy_1k): primary p99 %s ms vs %s ms = %sx (<= %.2fx %s), p50 %s ms vs %s ms = %sx\n",
          label[sc], sc, fmt(p99, "%.2f"), fmt(b99, "%.2f"), fmt(r99, "%.2f"), maxp,
          r99 == "null" ? "no cutover proxy_1k in this run to compare with" : (ok99 ? "ok" : "MISS"),
          fmt(p50, "%.2f"), fmt(b50, "%.2f"), fmt(r50, "%.2f")
        dl = drops(sc)
        printf "  non-2xx %d, socket errors %d (%s); peak RSS %s MB vs %s MB = %sx; %d pairs compared; shadow drops: %s\n",
          non2xx[k], serr[k], oke ? "ok" : "MISS", fmt(rss, "%.1f"), fmt(brss, "%.1f"), fmt(rr, "%.2f"), delta[sc, "compared"], dl
        if (r99 != "null" && !ok99)
          printf "  MISS: with the %s, the primary p99 is %+.0f%% over proxy_1k (limit +%.0f%%)\n", label[sc], 100 * (r99 - 1), 100 * (maxp - 1)
        if (!oke)
          printf "  MISS: the %s made the primary fail %d request(s)\n", label[sc], non2xx[k] + serr[k]
        printf "{\"kind\":\"shadow\",\"run_id\":\"%s\",\"git\":\"%s\",\"scenario\":\"%s\",\"p99_ratio\":%s,\"p50_ratio\":%s,\"rss_ratio\":%s,\"non2xx\":%d,\"socket_errors\":%d,\"compared\":%d,\"drops\":%s,\"p99_ok\":%s,\"errors_ok\":%s}\n",
          run_id, git, sc, jnum(r99), jnum(r50), jnum(rr), non2xx[k], serr[k], delta[sc, "compared"], DROPS_JSON,
          ok99 ? "true" : "false", oke ? "true" : "false" >> jsonl
      }
    }' "$RESULTS" "$WORK/shadow.tsv"
}

# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

main() {
  ensure_tools
  ensure_cutover
  pick_cpus
  CLK_TCK=$(getconf CLK_TCK)
  RUN_ID=$(date -u +%Y%m%dT%H%M%SZ)
  GIT_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
  WORK=$(mktemp -d /tmp/cutover-bench.XXXXXX)
  RESULTS=$WORK/results.tsv
  : >"$RESULTS"
  : >"$WORK/scenarios.tsv"
  : >"$WORK/shadow.tsv"
  : >"$WORK/recdrops.tsv"
  ensure_ssegen
  mkdir -p "$OUT_DIR"
  JSONL=$OUT_DIR/results.jsonl
  printf '{"kind":"meta","run_id":"%s","git":"%s","seconds":%d,"rounds":%d,"conns":%d,"warmup":%d,"big_seconds":%d,"big_rounds":%d,"big_conns":%d,"sse_streams":%d,"scenarios":"%s","nproc":%d,"kernel":"%s","nginx":"%s","cutover_bin":"%s"}\n' \
    "$RUN_ID" "$GIT_REV" "$BENCH_SECONDS" "$BENCH_ROUNDS" "$BENCH_CONNS" "$BENCH_WARMUP" "$BENCH_BIG_SECONDS" "$BENCH_BIG_ROUNDS" \
    "$BENCH_BIG_CONNS" "$BENCH_SSE_STREAMS" "$BENCH_SCENARIOS" \
    "$(nproc)" "$(uname -r)" "$(nginx -v 2>&1 | sed 's/.*\///')" "$CUTOVER_BIN" >>"$JSONL"

  log "run $RUN_ID: ${BENCH_SECONDS}s x ${BENCH_ROUNDS} rounds, ${BENCH_CONNS} conns; proxy cpu $PROXY_CPU, load+backend cpu $LOAD_CPU"
  log "cutover: $CUTOVER_BIN"
  local b0 w0 b1 w1 idle_busy
  read -r b0 w0 _ <<<"$(cpu_busy "")" # all CPUs, over one second before we start anything
  sleep 1
  read -r b1 w1 _ <<<"$(cpu_busy "")"
  idle_busy=$(((w1 - w0) > 0 ? 100 * (b1 - b0) / (w1 - w0) : 0))
  if ((idle_busy > 10)); then
    log "WARNING: the machine is ${idle_busy}% busy before the benchmark starts; other work will skew the numbers"
  fi
  start_backend

  local sc
  for sc in $BENCH_SCENARIOS; do run_scenario "$sc"; done

  report
  log "finished in $((SECONDS / 60))m$((SECONDS % 60))s"
  log "raw results appended to ${JSONL#"$ROOT"/} (run_id $RUN_ID)"
  if ((NOISY)); then log "WARNING: $NOISY run(s) shared the proxy core with other work; rerun on a quiet machine"; fi
  if ((FAILED)); then die "some runs completed no successful request"; fi
}

main "$@"
