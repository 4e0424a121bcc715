#!/usr/bin/env bash
# bench-agent.sh — the DiLO agent against wrk, side by side, on this machine.
# The agent runs as cmd/agent-bench: the pods' load loop with its plan built from flags.
#
# The side-by-side method for load generators, run on this machine:
# one local nginx (1 worker, `return 200 "ok"`) on 127.0.0.1:$PORT pinned to CPU 0; the
# agent (closed model, every latency recorded) and `wrk -t1`, each pinned to CPU 1, with
# the same connections, duration and URL, over ROUNDS rounds alternating the order. Per
# round: rps(agent)/rps(wrk) and client CPU per request. Traffic goes to 127.0.0.1 only
# and every run is bounded by `timeout`.
#
# Env (defaults): C=64 D=5 ROUNDS=7 PORT=18090 BOOST=1 PIN=1 MIN_RATIO=0.95 MAX_RSS_MIB=32
#   BOOST=1  autogroup nice -10 for this script's session and nginx's (a shared box: see
#            REPORT.md section 2; `nice` has no effect under autogroup).
#   MIN_RATIO=0 only measures (never fails).
# The last line is `ratio=<median agent/wrk rps> rss_mib=<agent peak RSS, MiB>`; the exit
# status is 1 if ratio < MIN_RATIO or rss_mib > MAX_RSS_MIB.
set -euo pipefail
C=${C:-64}; D=${D:-5}; ROUNDS=${ROUNDS:-7}; PORT=${PORT:-18090}
BOOST=${BOOST:-1}; PIN=${PIN:-1}; MIN_RATIO=${MIN_RATIO:-0.95}; MAX_RSS_MIB=${MAX_RSS_MIB:-32}

if [ -z "${BENCH_AGENT_BIN:-}" ]; then
  # Outside the boosted session: install what is missing and build the agent.
  if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null || [ ! -x /usr/bin/time ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light time >/dev/null
  fi
  cd "$(dirname "$0")/.."
  BUILD=$(mktemp -d "${TMPDIR:-/tmp}/bench-agent-bin.XXXXXX")
  trap 'rm -rf "$BUILD"' EXIT
  go build -trimpath -o "$BUILD/agent-bench" ./cmd/agent-bench
  # BOOST raises the priority of this script's own session only: run the rest in a new one.
  if [ "$BOOST" = 1 ]; then
    BENCH_AGENT_BIN="$BUILD/agent-bench" setsid --wait "$0" "$@"
  else
    BENCH_AGENT_BIN="$BUILD/agent-bench" "$0" "$@"
  fi
  exit $?
fi

URL="http://127.0.0.1:${PORT}/"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-agent.XXXXXX")
CLIENT_PIN=(); [ "$PIN" = 1 ] && CLIENT_PIN=(taskset -c 1)

# --- nginx: own prefix, 1 worker, tiny static 200 -------------------------------------
mkdir -p "$WORK/nginx/logs" "$WORK/nginx/tmp"
cat > "$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/tmp/b; proxy_temp_path $WORK/nginx/tmp/p;
  fastcgi_temp_path $WORK/nginx/tmp/f; uwsgi_temp_path $WORK/nginx/tmp/u; scgi_temp_path $WORK/nginx/tmp/s;
  keepalive_requests 100000000; keepalive_timeout 65s;
  server { listen 127.0.0.1:${PORT} backlog=4096;
           location / { default_type text/plain; return 200 "ok"; } }
}
EOF
cleanup() {
  local pid; pid=$(cat "$WORK/nginx/nginx.pid" 2>/dev/null || true)
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "bench-agent.sh: failed at line $LINENO" >&2' ERR
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf"
for _ in $(seq 50); do [ -s "$WORK/nginx/nginx.pid" ] && break; sleep 0.1; done
NGX_MASTER=$(cat "$WORK/nginx/nginx.pid")
for _ in $(seq 50); do [ -n "$(ps -o pid= --ppid "$NGX_MASTER")" ] && break; sleep 0.1; done
NGX_PIDS="$NGX_MASTER $(ps -o pid= --ppid "$NGX_MASTER" | tr '\n' ' ')"
if [ "$PIN" = 1 ]; then for p in $NGX_PIDS; do taskset -a -pc 0 "$p" >/dev/null; done; fi
if [ "$BOOST" = 1 ]; then echo -10 > "/proc/$NGX_MASTER/autogroup"; echo -10 > /proc/self/autogroup; fi
for _ in $(seq 50); do curl -fsS "$URL" >/dev/null 2>&1 && break; sleep 0.1; done

srv_ticks() { local t=0 p; for p in $NGX_PIDS; do
  t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat"))); done; echo $t; }

# run NAME CMD... -> "rps cpu_us_per_req maxrss_kb srv_us_per_req"
run() {
  local name=$1; shift
  local s0 s1 out rps e u s m
  s0=$(srv_ticks)
  out=$(timeout -k 2 $((D + 20)) /usr/bin/time -o "$WORK/$name.time" -f '%e %U %S %M' \
        "${CLIENT_PIN[@]}" "$@" 2>"$WORK/$name.err")
  s1=$(srv_ticks)
  echo "$out" > "$WORK/$name.out"
  rps=$(echo "$out" | sed -n 's/.*"rps":\([0-9.e+]*\).*/\1/p; s/^Requests\/sec:[[:space:]]*\([0-9.]*\).*/\1/p' | head -1)
  read -r e u s m < <(tail -1 "$WORK/$name.time")
  awk -v r="$rps" -v d="$D" -v u="$u" -v s="$s" -v m="$m" -v st="$((s1 - s0))" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { n = r * d; printf "%.0f %.2f %d %.2f\n", r, (u + s) * 1e6 / n, m, st / hz * 1e6 / n }'
}

AGENT_CMD=("$BENCH_AGENT_BIN" run -c "$C" -d "${D}s" --url "$URL")
echo "# c=$C d=${D}s rounds=$ROUNDS pin=$PIN boost=$BOOST loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
echo "# agent: ${AGENT_CMD[*]}"
printf '%-5s %-6s %10s %12s %10s %12s %8s\n' round tool rps cpu_us/req rss_kb nginx_us/req errors
: > "$WORK/ratios"; : > "$WORK/rss"
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then order="wrk agent"; else order="agent wrk"; fi
  for t in $order; do
    if [ "$t" = wrk ]; then
      res=$(run "wrk$r" wrk -t1 -c"$C" -d"${D}s" --latency "$URL")
      errs=$(grep -c 'Non-2xx\|Socket errors' "$WORK/wrk$r.out" || true)
    else
      res=$(run "agent$r" "${AGENT_CMD[@]}")
      errs=$(sed -n 's/.*"errors":\([0-9]*\).*/\1/p' "$WORK/agent$r.out" | head -1)
      echo "$res" | awk '{ print $3 }' >> "$WORK/rss"
    fi
    printf '%-5s %-6s %10s %12s %10s %12s %8s\n' "$r" "$t" $res "$errs"
    eval "res_$t=\"$res\""
  done
  # shellcheck disable=SC2154
  echo "$res_agent $res_wrk" | awk '{ printf "%.4f %.4f\n", $1 / $5, $2 / $6 }' >> "$WORK/ratios"
done
median() { sort -n | awk '{a[NR]=$1} END { print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2 }'; }
RPS_RATIO=$(cut -d' ' -f1 "$WORK/ratios" | median)
CPU_RATIO=$(cut -d' ' -f2 "$WORK/ratios" | median)
RSS_MIB=$(sort -n "$WORK/rss" | tail -1 | awk '{ printf "%.1f", $1 / 1024 }')
echo "per-round rps ratios: $(cut -d' ' -f1 "$WORK/ratios" | tr '\n' ' ')"
echo "median client-CPU-per-request agent/wrk = $CPU_RATIO; loadavg now $(cut -d' ' -f1-3 /proc/loadavg)"
echo "ratio=$RPS_RATIO rss_mib=$RSS_MIB"
awk -v r="$RPS_RATIO" -v m="$MIN_RATIO" -v rss="$RSS_MIB" -v mr="$MAX_RSS_MIB" \
  'BEGIN { exit (r + 0 < m + 0 || rss + 0 > mr + 0) ? 1 : 0 }'
