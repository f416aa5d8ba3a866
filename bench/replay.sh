#!/usr/bin/env bash
# bench/replay.sh — cutover replay as a load generator, beside wrk.
#
# WHAT IT MEASURES
#   A store of BENCH_REPLAY_N (100,000) recorded calls, GET /items/I each
#   answered 200 with the same 1 KiB JSON body, written by bench/replaygen.
#   One nginx (1 worker) on loopback serves that body for every /items/ path:
#   the target. Then, one after the other against that target:
#     wrk             1 thread, BENCH_REPLAY_CONNS connections, BENCH_REPLAY_DURATION
#     cutover replay  --store (read page by page, oldest first), the diff on
#                     (every answer compared with the recorded one), as fast
#                     as --concurrency BENCH_REPLAY_CONNS allows
#   and prints wrk's req/s, replay's calls/s (its report's replay.rate: answered
#   calls over the sending time), its wall time including the counting pass,
#   and its peak RSS (GNU time's maximum resident set size).
#
# PASS
#   replay calls/s >= 50% of wrk's req/s, replay peak RSS <= 64 MB, every call
#   compared and none differing. The exit code is 1 on a miss.
#
# A busy machine lowers both rates; the load average before the runs is
# printed so a reader can tell.
set -euo pipefail

N=${BENCH_REPLAY_N:-100000}
CONNS=${BENCH_REPLAY_CONNS:-8}
DURATION=${BENCH_REPLAY_DURATION:-10s}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/apt.sh
source "$ROOT/bench/apt.sh"
WORK=$(mktemp -d /tmp/cutover-bench-replay.XXXXXX)
NGINX_PID=""

log() { printf '[replay-bench] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }
cleanup() {
  [[ -n $NGINX_PID ]] && kill "$NGINX_PID" 2>/dev/null || true
  [[ -n $POLICY_RC_D ]] && rm -f "$POLICY_RC_D"
  rm -rf "$WORK"
}
trap cleanup EXIT
# nginx's worker runs as nobody: it must read the body.
chmod 755 "$WORK"

ensure_tools() {
  local pkgs=()
  have wrk || pkgs+=(wrk)
  have nginx || pkgs+=(nginx)
  [[ -x /usr/bin/time ]] || pkgs+=(time)
  ((${#pkgs[@]} == 0)) && return 0
  apt_install "${pkgs[@]}"
  have wrk && have nginx && [[ -x /usr/bin/time ]] || die "tools still missing after install"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
    echo $((20000 + RANDOM % 20000))
}

ensure_tools
BIN=${CUTOVER_BIN:-}
if [[ -z $BIN ]]; then
  BIN=$WORK/cutover
  (cd "$ROOT" && go build -o "$BIN" ./cmd/cutover)
fi
[[ $BIN == /* ]] || BIN=$ROOT/$BIN

# The 1 KiB JSON body, recorded and served alike.
mkdir -p "$WORK/www" "$WORK/nginx"
python3 - "$WORK/www/body.json" <<'PY'
import json, sys
items = [{"sku": "sku-%04d" % i, "qty": i % 7, "price": round(i * 1.25, 2)} for i in range(18)]
body = json.dumps({"id": 42, "status": "open", "items": items}, separators=(",", ":"))
body = body[:-1] + ',"pad":"' + "x" * max(0, 1024 - len(body) - 10) + '"}'
open(sys.argv[1], "w").write(body)
PY
log "body: $(wc -c <"$WORK/www/body.json") bytes of JSON"

log "writing a store of $N recorded calls"
(cd "$ROOT" && go run ./bench/replaygen -store "$WORK/store/cutover.db" -n "$N" -body "$WORK/www/body.json")

PORT=$(free_port)
cat >"$WORK/nginx/nginx.conf" <<EOF2
worker_processes 1;
daemon off;
error_log $WORK/nginx/error.log warn;
pid $WORK/nginx/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx;
  proxy_temp_path $WORK/nginx;
  fastcgi_temp_path $WORK/nginx;
  uwsgi_temp_path $WORK/nginx;
  scgi_temp_path $WORK/nginx;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$PORT;
    root $WORK/www;
    location / { default_type application/json; try_files /body.json =404; }
  }
}
EOF2
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" &
NGINX_PID=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$PORT/items/1" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "http://127.0.0.1:$PORT/items/1" >/dev/null || die "nginx did not start on 127.0.0.1:$PORT"

log "load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"

log "wrk -t1 -c$CONNS -d$DURATION"
wrk_out=$(wrk -t1 -c"$CONNS" -d"$DURATION" "http://127.0.0.1:$PORT/items/1")
wrk_rate=$(awk '/Requests\/sec/ {print $2}' <<<"$wrk_out")
[[ -n $wrk_rate ]] || die "no rate in wrk's output: $wrk_out"

log "cutover replay --store ($N calls) --concurrency $CONNS"
start=$(date +%s.%N)
/usr/bin/time -f '%M' -o "$WORK/rss" "$BIN" replay --store "$WORK/store/cutover.db" \
  --to "http://127.0.0.1:$PORT" --concurrency "$CONNS" --format json --progress never >"$WORK/report.json" 2>"$WORK/replay.err" ||
  { cat "$WORK/replay.err" >&2; die "cutover replay failed"; }
wall=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}')
read -r replay_rate sent compared differing < <(python3 - "$WORK/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
routes = r["routes"]
print(r["replay"]["rate"], r["replay"]["sent"], sum(x["compared"] for x in routes), sum(x["differing"] for x in routes))
PY
)
rss_mb=$(awk '{printf "%.1f", $1/1024}' "$WORK/rss")
ratio=$(awk -v a="$replay_rate" -v b="$wrk_rate" 'BEGIN {printf "%.2f", a/b}')

printf '\n%-34s %s\n' "wrk req/s" "$wrk_rate"
printf '%-34s %s (%s sent, %s compared, %s differing)\n' "cutover replay calls/s" "$replay_rate" "$sent" "$compared" "$differing"
printf '%-34s %s s (counting pass included)\n' "cutover replay wall time" "$wall"
printf '%-34s %s MB\n' "cutover replay peak RSS" "$rss_mb"
printf '%-34s %s (want >= 0.50)\n\n' "replay / wrk" "$ratio"

miss=0
awk -v r="$ratio" 'BEGIN {exit !(r >= 0.5)}' || { echo "MISS: replay reached ${ratio}x wrk's rate, want >= 0.50"; miss=1; }
awk -v m="$rss_mb" 'BEGIN {exit !(m <= 64)}' || { echo "MISS: replay peak RSS ${rss_mb} MB, want <= 64"; miss=1; }
[[ $compared == "$N" && $differing == 0 ]] || { echo "MISS: $compared of $N calls compared, $differing differing; want all, none"; miss=1; }
((miss == 0)) && echo "PASS"
exit $miss
