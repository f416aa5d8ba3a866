#!/usr/bin/env bash
# bench/run.sh — cutover vs nginx as a reverse proxy, same box, same backend, same load.
#
# WHAT IT MEASURES
#   One backend nginx (1 worker, pinned to the "load" core) serves fixed bodies
#   (/1k = 1 KiB, /10k = 10 KiB). Two proxies sit in front of it, each pinned to
#   the "proxy" core and each limited to one core's worth of work:
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
#   Each is marked "ok" or "MISS". MISS does not fail the script (it reports, it
#   is not a test). It exits non-zero only when a proxy cannot start/dies or a
#   run completes no successful request.
#   Raw runs and per-scenario summaries are appended as JSON lines to
#   bench/out/results.jsonl (one run_id per invocation) for later comparison.
#
# USAGE
#   make bench                      # or: bash bench/run.sh
#   BENCH_SECONDS=3 BENCH_ROUNDS=1 bash bench/run.sh      # quick look
#   Knobs (env):
#     BENCH_SECONDS    measured seconds per run            (default 10)
#     BENCH_ROUNDS     rounds per scenario and proxy       (default 3)
#     BENCH_CONNS      wrk connections                     (default 64)
#     BENCH_WARMUP     warm-up seconds per proxy/scenario  (default 2)
#     BENCH_SCENARIOS  space-separated scenario names      (default "proxy_1k proxy_10k record_1k")
#     BENCH_PROXIES    which proxies to run                (default "nginx cutover")
#     BENCH_PROXY_CPU / BENCH_LOAD_CPU  CPU ids to pin to  (default: first two allowed CPUs)
#     BENCH_KEEP_TMP=1 keep the temp dir (configs, logs, raw wrk output)
#     CUTOVER_BIN      cutover binary (default bin/cutover; built if missing)
#
# ADDING A SCENARIO
#   Write a function scenario_NAME (see "Scenarios" below) that sets SC_DESC,
#   SC_PATH, SC_NGINX_HTTP, SC_NGINX_SERVER and SC_CUTOVER, then add NAME to
#   the default BENCH_SCENARIOS. Everything else (ports, processes, load,
#   metrics, table, JSON) is shared.
#
# Everything listens on 127.0.0.1 only, every run is bounded by `timeout`, and
# every process this script starts is stopped on exit (including Ctrl-C).

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$PATH:/usr/sbin:/sbin:/usr/local/go/bin"

BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_ROUNDS=${BENCH_ROUNDS:-3}
BENCH_CONNS=${BENCH_CONNS:-64}
BENCH_WARMUP=${BENCH_WARMUP:-2}
BENCH_SCENARIOS=${BENCH_SCENARIOS:-"proxy_1k proxy_10k record_1k"}
BENCH_PROXIES=${BENCH_PROXIES:-"nginx cutover"}
CUTOVER_BIN=${CUTOVER_BIN:-$ROOT/bin/cutover}
OUT_DIR=${BENCH_OUT_DIR:-$ROOT/bench/out}

# Pass criteria (cutover relative to nginx; recording relative to cutover
# pass-through).
MAX_RECORD_CPU_RATIO=1.5
MAX_CPU_RATIO=1.3
MIN_RPS_RATIO=0.85
MAX_RSS_MB=40

START_TIMEOUT=20 # seconds a proxy/backend gets to become ready

# ---------------------------------------------------------------------------
# Scenarios
#
# A scenario function sets:
#   SC_DESC          one line for the log
#   SC_PATH          URL path wrk requests (the backend serves /1k and /10k)
#   SC_NGINX_HTTP    extra http{}-level nginx config (extra upstreams, ...); may be ""
#   SC_NGINX_SERVER  server{}-level nginx config (the locations)
#   SC_CUTOVER       cutover YAML that follows `listen:` and `admin:` (services, routes, ...)
#   SC_PROXIES       optional: the proxies this scenario runs (default BENCH_PROXIES)
# Available while it runs: $BACKEND (127.0.0.1:PORT of the backend nginx) and
# $WORK (the temp dir). nginx always has `upstream backend` (keepalive 64)
# pointing at $BACKEND.
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
# overhead) and prints records written per second and records dropped.
scenario_record_1k() {
  plain_proxy
  SC_DESC="reverse proxy recording 100% of calls into the embedded store, GET 1 KiB body"
  SC_PATH=/1k
  SC_CUTOVER=${SC_CUTOVER/"record: { sample: 0 }"/"record: { sample: 1 }"}
  # nginx records nothing: the comparison is with cutover's own proxy_1k.
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
POLICY_RC_D=""   # set while we hold a temporary /usr/sbin/policy-rc.d
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
  ((${#pkgs[@]} == 0)) && return 0
  [[ $EUID -eq 0 ]] || die "missing tools; run as root or install: apt-get install -y ${pkgs[*]}"
  have apt-get || die "missing ${pkgs[*]} and no apt-get to install them"
  log "installing ${pkgs[*]} (apt-get)"
  # Keep package scripts from starting the system nginx service.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    POLICY_RC_D=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$POLICY_RC_D"
    chmod 755 "$POLICY_RC_D"
  fi
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get update -qq >&2
  timeout 900 apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >&2
  if [[ -n $POLICY_RC_D ]]; then rm -f "$POLICY_RC_D"; POLICY_RC_D=""; fi
  local t
  for t in nginx wrk taskset curl pgrep getconf; do have "$t" || die "$t still missing after install"; done
}

ensure_cutover() {
  if [[ ! -x $CUTOVER_BIN ]]; then
    [[ $CUTOVER_BIN == "$ROOT/bin/cutover" ]] || die "CUTOVER_BIN=$CUTOVER_BIN is not an executable file"
    have go || die "bin/cutover missing and no go toolchain to build it"
    log "building bin/cutover"
    (cd "$ROOT" && go build -o bin/cutover .) || die "go build failed"
  fi
  CUTOVER_BIN=$(cd "$(dirname "$CUTOVER_BIN")" && pwd)/$(basename "$CUTOVER_BIN")
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
  mkdir -p "$WORK/www"
  head -c 1024 /dev/zero | tr '\0' 'a' >"$WORK/www/1k"
  head -c 10240 /dev/zero | tr '\0' 'b' >"$WORK/www/10k"
  chmod 755 "$WORK" "$WORK/www" # nginx workers may run as nobody
  chmod 644 "$WORK/www/"*
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
        root $WORK/www;
        location / { }
    }
}
EOF
  BACKEND_PID=$LAST_PID
  wait_http backend "$BACKEND_PID" "http://$BACKEND/1k" "$WORK/backend/error.log"
  log "backend nginx on $BACKEND (cpu $LOAD_CPU)"
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
  local port admin dir=$WORK/cutover
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
  # Run from the temp dir so relative paths (e.g. the default store) land there.
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

# run_wrk URL SECONDS OUTFILE: bounded wrk run pinned to the load CPU.
run_wrk() {
  local url=$1 secs=$2 out=$3 rc=0
  timeout -k 5 $((secs + 30)) taskset -c "$LOAD_CPU" \
    wrk -t1 -c"$BENCH_CONNS" -d"${secs}s" --latency "$url" >"$out" 2>&1 &
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
  local rec0="" rec1=""
  [[ $proxy == cutover ]] && rec0=$(record_counts "${PROXY_ADMINS[$proxy]}")
  t0=$(cpu_ticks "${pids[@]}")
  run_wrk "$url" "$BENCH_SECONDS" "$out" || rc=$?
  if [[ $proxy == cutover ]]; then
    # Records are committed within a second of their response: let the
    # writer catch up before reading what it wrote, and count its CPU.
    sleep 1.5
    rec1=$(record_counts "${PROXY_ADMINS[$proxy]}")
    printf '%s\t%s\t%s\t%s\n' "$scenario" "$round" "$rec0" "$rec1" >>"$WORK/records.tsv"
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
    "$RUN_ID" "$GIT_REV" "$scenario" "$proxy" "$round" "$BENCH_SECONDS" "$BENCH_CONNS" "$requests" "$rps" "$ok_rps" \
    "$p50" "$p99" "$cpu_us" "$rss" "$non2xx" "$serr" "$proxy_pct" "$load_pct" "$other_pct" "$CUTOVER_BIN" >>"$JSONL"
  log "$(printf '%-10s r%d %-8s %9s req/s  p50 %6s ms  p99 %6s ms  %6s us/req  rss %5s MB  errors %d  proxy cpu %s%%  load cpu %s%%' \
    "$scenario" "$round" "$proxy" "$ok_rps" "$p50" "$p99" "$cpu_us" "$rss" $((non2xx + serr)) "$proxy_pct" "$load_pct")"
}

declare -A PROXY_PIDS PROXY_URLS PROXY_ADMINS

# record_counts ADMIN_URL: prints "written dropped" from cutover's metrics.
record_counts() {
  curl -fsS --max-time 5 "$1/metrics" 2>/dev/null | awk '
    /^cutover_records_written_total / { w = $2 }
    /^cutover_records_dropped_total\{/ { d += $2 }
    END { printf "%d %d", w, d }'
}

run_scenario() {
  local name=$1 proxy round order
  declare -F "scenario_$name" >/dev/null || die "unknown scenario '$name'"
  SC_DESC="" SC_PATH="" SC_NGINX_HTTP="" SC_NGINX_SERVER="" SC_CUTOVER="" SC_PROXIES=""
  "scenario_$name"
  log "scenario $name: $SC_DESC"
  local proxies=$BENCH_PROXIES
  if [[ -n $SC_PROXIES ]]; then
    proxies=""
    for proxy in $SC_PROXIES; do [[ " $BENCH_PROXIES " == *" $proxy "* ]] && proxies+="$proxy "; done
    [[ -n $proxies ]] || { log "scenario $name: skipped (it runs only $SC_PROXIES)"; return 0; }
  fi

  for proxy in $proxies; do
    "start_${proxy}_proxy"
    PROXY_PIDS[$proxy]=$PROXY_PID
    PROXY_URLS[$proxy]=$PROXY_URL
    PROXY_ADMINS[$proxy]=${PROXY_ADMIN:-}
    log "$proxy up at $PROXY_URL (pid $PROXY_PID, cpu $PROXY_CPU); warm-up ${BENCH_WARMUP}s"
    run_wrk "$PROXY_URL" "$BENCH_WARMUP" "$WORK/warmup-$name-$proxy.txt" ||
      log "warm-up against $proxy: wrk exited non-zero"
  done

  for ((round = 1; round <= BENCH_ROUNDS; round++)); do
    order=$proxies
    ((round % 2 == 0)) && order=$(echo "$proxies" | awk '{ for (i = NF; i > 0; i--) printf "%s ", $i }')
    for proxy in $order; do measure "$name" "$proxy" "$round"; done
  done

  for proxy in $proxies; do forget_pid "${PROXY_PIDS[$proxy]}"; done
}

# ---------------------------------------------------------------------------
# Report: medians over rounds, ratios, criteria
# ---------------------------------------------------------------------------

report() {
  awk -F'\t' -v maxcpu="$MAX_CPU_RATIO" -v minrps="$MIN_RPS_RATIO" -v maxrss="$MAX_RSS_MB" \
      -v jsonl="$JSONL" -v run_id="$RUN_ID" -v git="$GIT_REV" -v secs="$BENCH_SECONDS" -v conns="$BENCH_CONNS" '
    function median(key,   n, i, j, t, a, parts) {
      n = split(vals[key], parts, " ")
      if (n == 0) return "null"
      for (i = 1; i <= n; i++) a[i] = parts[i] + 0
      for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
      return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function add(key, v) { if (v != "null" && v != "") vals[key] = vals[key] " " v }
    function fmt(v, f) { return v == "null" ? "-" : sprintf(f, v) }
    function jnum(v) { return v == "null" ? "null" : sprintf("%.3f", v) }
    function ratio(a, b) { return (a == "null" || b == "null" || b == 0) ? "null" : a / b }
    function mark(ok) { return ok ? "ok" : "MISS" }
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
      printf "\n%-11s %-8s %10s %8s %8s %11s %7s %7s %7s %7s\n", "scenario", "proxy", "req/s", "p50 ms", "p99 ms",
        "CPU us/req", "RSS MB", "errors", "proxy%", "load%"
      for (s = 1; s <= ns; s++) {
        sc = sorder[s]
        for (i = 1; i <= nk; i++) {
          split(order[i], kp, SUBSEP); if (kp[1] != sc) continue
          k = order[i]
          m[k, "rps"] = median(k SUBSEP "rps"); m[k, "p50"] = median(k SUBSEP "p50"); m[k, "p99"] = median(k SUBSEP "p99")
          m[k, "cpu"] = median(k SUBSEP "cpu"); m[k, "rss"] = median(k SUBSEP "rss")
          m[k, "ppct"] = median(k SUBSEP "ppct"); m[k, "lpct"] = median(k SUBSEP "lpct")
          printf "%-11s %-8s %10s %8s %8s %11s %7s %7d %7s %7s\n", sc, kp[2], fmt(m[k, "rps"], "%.0f"), fmt(m[k, "p50"], "%.2f"),
            fmt(m[k, "p99"], "%.2f"), fmt(m[k, "cpu"], "%.1f"), fmt(m[k, "rss"], "%.1f"), err[k],
            fmt(m[k, "ppct"], "%.0f"), fmt(m[k, "lpct"], "%.0f")
          printf "{\"kind\":\"summary\",\"run_id\":\"%s\",\"git\":\"%s\",\"scenario\":\"%s\",\"proxy\":\"%s\",\"rounds\":%d,\"seconds\":%d,\"conns\":%d,\"ok_rps\":%s,\"p50_ms\":%s,\"p99_ms\":%s,\"cpu_us_per_req\":%s,\"peak_rss_mb\":%s,\"errors\":%d,\"proxy_cpu_pct\":%s,\"load_cpu_pct\":%s}\n",
            run_id, git, sc, kp[2], rounds[k], secs, conns, jnum(m[k, "rps"]), jnum(m[k, "p50"]), jnum(m[k, "p99"]),
            jnum(m[k, "cpu"]), jnum(m[k, "rss"]), err[k], jnum(m[k, "ppct"]), jnum(m[k, "lpct"]) >> jsonl
        }
        c = sc SUBSEP "cutover"; n = sc SUBSEP "nginx"
        if (!(c in seen) || !(n in seen)) continue
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
    }' "$RESULTS"
  record_report
}

# record_report: the recording overhead (record_1k against proxy_1k, both
# cutover) and the store's write rate.
record_report() {
  [[ -s $WORK/records.tsv ]] || return 0
  awk -F'\t' -v maxr="$MAX_RECORD_CPU_RATIO" -v secs="$BENCH_SECONDS" -v jsonl="$JSONL" -v run_id="$RUN_ID" -v git="$GIT_REV" '
    FILENAME == ARGV[1] { if ($2 == "cutover") cpu[$1] = cpu[$1] " " $8; next }
    $1 == "record_1k" {
      split($3, a, " "); split($4, b, " ")
      w = b[1] - a[1]; d = b[2] - a[2]; n++; written += w; dropped += d
      rate = rate " " w / secs
    }
    function median(s,   n, i, j, t, a) {
      n = split(s, a, " "); if (n == 0) return "null"
      for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
      return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    END {
      if (!n) exit
      base = median(cpu["proxy_1k"]); rec = median(cpu["record_1k"])
      r = (base == "null" || rec == "null" || base == 0) ? "null" : rec / base
      okr = r != "null" && r <= maxr
      printf "recording 100%% of 1 KiB calls (cutover record_1k vs proxy_1k): CPU/req %s us vs %s us = %sx (<= %.1fx %s)\n",
        rec, base, (r == "null" ? "-" : sprintf("%.2f", r)), maxr, okr ? "ok" : "MISS"
      printf "  %.0f records written/s (median of rounds), %d written, %d dropped (%s)\n", median(rate), written, dropped, dropped == 0 ? "ok" : "MISS"
      printf "{\"kind\":\"recording\",\"run_id\":\"%s\",\"git\":\"%s\",\"cpu_ratio\":%s,\"records_per_s\":%.0f,\"written\":%d,\"dropped\":%d,\"cpu_ok\":%s,\"dropped_ok\":%s}\n",
        run_id, git, (r == "null" ? "null" : sprintf("%.3f", r)), median(rate), written, dropped, okr ? "true" : "false", dropped == 0 ? "true" : "false" >> jsonl
    }' "$RESULTS" "$WORK/records.tsv"
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
  mkdir -p "$OUT_DIR"
  JSONL=$OUT_DIR/results.jsonl
  printf '{"kind":"meta","run_id":"%s","git":"%s","seconds":%d,"rounds":%d,"conns":%d,"warmup":%d,"scenarios":"%s","nproc":%d,"kernel":"%s","nginx":"%s","cutover_bin":"%s"}\n' \
    "$RUN_ID" "$GIT_REV" "$BENCH_SECONDS" "$BENCH_ROUNDS" "$BENCH_CONNS" "$BENCH_WARMUP" "$BENCH_SCENARIOS" \
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
  log "raw results appended to ${JSONL#"$ROOT"/} (run_id $RUN_ID)"
  if ((NOISY)); then log "WARNING: $NOISY run(s) shared the proxy core with other work; rerun on a quiet machine"; fi
  if ((FAILED)); then die "some runs completed no successful request"; fi
}

main "$@"
