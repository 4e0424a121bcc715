#!/usr/bin/env bash
# bench-agent.sh — the DiLO agent against wrk and h2load, side by side, on this machine.
# The agent runs as cmd/agent-bench: the pods' load loop with its plan built from flags.
#
# The side-by-side method for load generators, run on this machine:
# one local nginx (1 worker, `return 200 "ok"`) on 127.0.0.1 pinned to CPU 0; the agent
# (closed model, every latency recorded) and the other tool, each pinned to CPU 1, with
# the same connections, duration and URL, over rounds alternating the order. Per round:
# rps(agent)/rps(other) and client CPU per request. Traffic goes to 127.0.0.1 only and
# every run is bounded by `timeout`. The scenarios, each with its own line:
#   get    HTTP/1.1 GET, C keep-alive connections, vs wrk          -> ratio (the last line)
#   post   POST of a 1 KiB body with three headers, vs wrk and a Lua script -> post_ratio=
#   https  HTTP/1.1 GET over TLS (nginx's self-signed certificate), vs wrk  -> https_ratio=
#   h2     HTTP/2 over TLS, C connections of one stream each, vs `h2load -m 1` -> h2_ratio=
#   ramp   the open model from 0 to RAMP_RATE req/s over 30s; nginx logs each request's
#          time ($msec), and every second's count is compared with the timetable's
#          integral over that second                                -> ramp_max_dev=
#
# Env (defaults): C=64 D=5 ROUNDS=7 EXTRA_ROUNDS=3 PORT=18090 (PORT+1: TLS, PORT+2: ramp)
#   BOOST=1 PIN=1 MIN_RATIO=0.95 MAX_RSS_MIB=32 EXTRA="post https h2 ramp" RAMP_RATE=5000
#   MIN_POST_RATIO=0 MIN_HTTPS_RATIO=0 MIN_H2_RATIO=0 MAX_RAMP_DEV=0 (percent)
#   BOOST=1  autogroup nice -10 for this script's session and nginx's: on a shared box the
#            scheduler gives each session's autogroup an equal share, so `nice` alone does
#            nothing against the other sessions' load.
#   EXTRA    the scenarios after get; "" runs get only, as before the others existed.
#   MIN_RATIO=0 only measures (never fails); so do the other MIN_ and MAX_ at 0.
# The last line is `ratio=<median agent/wrk rps of get> rss_mib=<agent peak RSS of get, MiB>`;
# the exit status is 1 if ratio < MIN_RATIO or rss_mib > MAX_RSS_MIB, or if a scenario's
# ratio is below its MIN_ (or the ramp's deviation above MAX_RAMP_DEV) when set.
set -euo pipefail
LOG_TAG=bench-agent
. "$(dirname "$0")/lib/common.sh"
C=${C:-64}; D=${D:-5}; ROUNDS=${ROUNDS:-7}; EXTRA_ROUNDS=${EXTRA_ROUNDS:-3}; PORT=${PORT:-18090}
BOOST=${BOOST:-1}; PIN=${PIN:-1}; MIN_RATIO=${MIN_RATIO:-0.95}; MAX_RSS_MIB=${MAX_RSS_MIB:-32}
EXTRA=${EXTRA-post https h2 ramp}; RAMP_RATE=${RAMP_RATE:-5000}; RAMP_SECONDS=30
MIN_POST_RATIO=${MIN_POST_RATIO:-0}; MIN_HTTPS_RATIO=${MIN_HTTPS_RATIO:-0}
MIN_H2_RATIO=${MIN_H2_RATIO:-0}; MAX_RAMP_DEV=${MAX_RAMP_DEV:-0}

if [ -z "${BENCH_AGENT_BIN:-}" ]; then
  # Outside the boosted session: install what is missing and build the agent.
  if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null || ! command -v h2load >/dev/null ||
     ! command -v openssl >/dev/null || [ ! -x /usr/bin/time ]; then
    apt_install wrk nginx-light nghttp2-client openssl time
  fi
  # Debian's nginx-light has the ssl and http_v2 modules; a build without them cannot serve
  # the https and h2 scenarios.
  if [ -n "$EXTRA" ] && ! nginx -V 2>&1 | grep -q -- --with-http_v2_module; then
    apt_install nginx-full
  fi
  cd "$ROOT"
  BUILD=$(mktemp -d "${TMPDIR:-/tmp}/bench-agent-bin.XXXXXX")
  trap 'rm -rf "$BUILD"' EXIT
  go build -trimpath -o "$BUILD/agent-bench" ./cmd/agent-bench
  # BOOST raises the priority of this script's own session only: run the rest in a new one.
  if [ "$BOOST" = 1 ]; then
    BENCH_AGENT_BIN="$BUILD/agent-bench" setsid --wait "$ROOT/hack/bench-agent.sh" "$@"
  else
    BENCH_AGENT_BIN="$BUILD/agent-bench" "$ROOT/hack/bench-agent.sh" "$@"
  fi
  exit $?
fi

TLS_PORT=$((PORT + 1)); RAMP_PORT=$((PORT + 2))
URL="http://127.0.0.1:${PORT}/"; TLS_URL="https://127.0.0.1:${TLS_PORT}/"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-agent.XXXXXX")
CLIENT_PIN=(); [ "$PIN" = 1 ] && CLIENT_PIN=(taskset -c 1)

# --- nginx: own prefix, 1 worker, tiny static 200 -------------------------------------
# One server per kind of traffic: plain HTTP, TLS (HTTP/1.1 or h2 by ALPN, with a
# self-signed certificate for 127.0.0.1 that the agent takes as its CA), and plain HTTP
# for the ramp with an access log of each request's time.
mkdir -p "$WORK/nginx/logs" "$WORK/nginx/tmp"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$WORK/nginx/key.pem" -out "$WORK/nginx/cert.pem" 2>/dev/null
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
  log_format msec '\$msec';
  server { listen 127.0.0.1:${PORT} backlog=4096;
           location / { default_type text/plain; return 200 "ok"; } }
  server { listen 127.0.0.1:${TLS_PORT} ssl http2 backlog=4096;
           ssl_certificate $WORK/nginx/cert.pem; ssl_certificate_key $WORK/nginx/key.pem;
           location / { default_type text/plain; return 200 "ok"; } }
  server { listen 127.0.0.1:${RAMP_PORT} backlog=4096;
           access_log $WORK/nginx/logs/ramp.log msec buffer=64k flush=1s;
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
# rps is read from the agent's JSON summary ("rps"), wrk's "Requests/sec:" or h2load's
# "finished in ..., N req/s".
run() {
  local name=$1; shift
  local s0 s1 out rps e u s m
  s0=$(srv_ticks)
  out=$(timeout -k 2 $((D + 20)) /usr/bin/time -o "$WORK/$name.time" -f '%e %U %S %M' \
        "${CLIENT_PIN[@]}" "$@" 2>"$WORK/$name.err")
  s1=$(srv_ticks)
  echo "$out" > "$WORK/$name.out"
  rps=$(echo "$out" | sed -n 's/.*"rps":\([0-9.e+]*\).*/\1/p; s/^Requests\/sec:[[:space:]]*\([0-9.]*\).*/\1/p
                              s/^finished in [0-9.]*s, \([0-9.]*\) req\/s.*/\1/p' | head -1)
  read -r e u s m < <(tail -1 "$WORK/$name.time")
  awk -v r="$rps" -v d="$D" -v u="$u" -v s="$s" -v m="$m" -v st="$((s1 - s0))" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { n = r * d; printf "%.0f %.2f %d %.2f\n", r, (u + s) * 1e6 / n, m, st / hz * 1e6 / n }'
}

# errors_of TOOL NAME: the errors of a run's output (for wrk, the lines that report any).
errors_of() {
  case $1 in
    agent) sed -n 's/.*"errors":\([0-9]*\).*/\1/p' "$WORK/$2.out" | head -1 ;;
    wrk) grep -c 'Non-2xx\|Socket errors' "$WORK/$2.out" || true ;;
    h2load) sed -n 's/^requests:.* \([0-9]*\) failed, \([0-9]*\) errored, \([0-9]*\) timeout.*/\1 \2 \3/p' "$WORK/$2.out" |
              awk '{ print $1 + $2 + $3 }' ;;
  esac
}

median() { sort -n | awk '{a[NR]=$1} END { print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2 }'; }

# side_by_side SCENARIO ROUNDS OTHER: the agent (AGENT_CMD) against OTHER (OTHER_CMD)
# over ROUNDS alternating rounds, a row per run; the per-round agent/other ratios of rps
# and of client CPU per request go to $WORK/SCENARIO.ratios, the agent's RSS (KiB) to
# $WORK/SCENARIO.rss.
side_by_side() {
  local sc=$1 rounds=$2 other=$3 r t res res_agent res_other
  printf '%-5s %-6s %10s %12s %10s %12s %8s\n' round tool rps cpu_us/req rss_kb nginx_us/req errors
  : > "$WORK/$sc.ratios"; : > "$WORK/$sc.rss"
  for r in $(seq 1 "$rounds"); do
    if [ $((r % 2)) = 1 ]; then order="$other agent"; else order="agent $other"; fi
    for t in $order; do
      if [ "$t" = agent ]; then
        res=$(run "$sc-agent$r" "${AGENT_CMD[@]}"); res_agent=$res
        echo "$res" | awk '{ print $3 }' >> "$WORK/$sc.rss"
      else
        res=$(run "$sc-$t$r" "${OTHER_CMD[@]}"); res_other=$res
      fi
      printf '%-5s %-6s %10s %12s %10s %12s %8s\n' "$r" "$t" $res "$(errors_of "$t" "$sc-$t$r")"
    done
    echo "$res_agent $res_other" | awk '{ printf "%.4f %.4f\n", $1 / $5, $2 / $6 }' >> "$WORK/$sc.ratios"
  done
}

# ratio_of SCENARIO: the median agent/other rps ratio of its rounds.
ratio_of() { cut -d' ' -f1 "$WORK/$1.ratios" | median; }

# extra_header SCENARIO OTHER: the heading of a scenario after get, with its commands.
extra_header() {
  echo "# $1: c=$C d=${D}s rounds=$EXTRA_ROUNDS loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# agent: ${AGENT_CMD[*]}"
  echo "# $2: ${OTHER_CMD[*]}"
}

# scenario_get: the HTTP/1.1 GET comparison, in today's format: the per-round table, the
# per-round ratios and the CPU ratio; its ratio and RSS make the last line.
scenario_get() {
  AGENT_CMD=("$BENCH_AGENT_BIN" run -c "$C" -d "${D}s" --url "$URL")
  OTHER_CMD=(wrk -t1 -c"$C" -d"${D}s" --latency "$URL")
  echo "# c=$C d=${D}s rounds=$ROUNDS pin=$PIN boost=$BOOST loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# agent: ${AGENT_CMD[*]}"
  side_by_side get "$ROUNDS" wrk
  echo "per-round rps ratios: $(cut -d' ' -f1 "$WORK/get.ratios" | tr '\n' ' ')"
  echo "median client-CPU-per-request agent/wrk = $(cut -d' ' -f2 "$WORK/get.ratios" | median); loadavg now $(cut -d' ' -f1-3 /proc/loadavg)"
  RPS_RATIO=$(ratio_of get)
  RSS_MIB=$(sort -n "$WORK/get.rss" | tail -1 | awk '{ printf "%.1f", $1 / 1024 }')
}

# scenario_post: POST of a 1 KiB body with three headers; wrk sends the same by a Lua script.
scenario_post() {
  head -c 1024 /dev/zero | tr '\0' b > "$WORK/body"
  cat > "$WORK/post.lua" <<EOF
wrk.method = "POST"
local f = io.open("$WORK/body", "rb"); wrk.body = f:read("*a"); f:close()
wrk.headers["A"] = "1"; wrk.headers["B"] = "2"; wrk.headers["C"] = "3"
EOF
  AGENT_CMD=("$BENCH_AGENT_BIN" run -c "$C" -d "${D}s" --url "$URL" --method POST --body-file "$WORK/body"
             --header 'A: 1' --header 'B: 2' --header 'C: 3')
  OTHER_CMD=(wrk -t1 -c"$C" -d"${D}s" -s "$WORK/post.lua" "$URL")
  extra_header post wrk
  side_by_side post "$EXTRA_ROUNDS" wrk
  POST_RATIO=$(ratio_of post); echo "post_ratio=$POST_RATIO"
}

# scenario_https: HTTP/1.1 over TLS, the agent verifying nginx's certificate.
scenario_https() {
  AGENT_CMD=("$BENCH_AGENT_BIN" run -c "$C" -d "${D}s" --url "$TLS_URL" --ca-file "$WORK/nginx/cert.pem")
  OTHER_CMD=(wrk -t1 -c"$C" -d"${D}s" "$TLS_URL")
  extra_header https wrk
  side_by_side https "$EXTRA_ROUNDS" wrk
  HTTPS_RATIO=$(ratio_of https); echo "https_ratio=$HTTPS_RATIO"
}

# scenario_h2: HTTP/2 over TLS, C connections of one stream each for both tools.
scenario_h2() {
  AGENT_CMD=("$BENCH_AGENT_BIN" run -c "$C" -d "${D}s" --url "$TLS_URL" --ca-file "$WORK/nginx/cert.pem" --http2)
  OTHER_CMD=(h2load -t1 -c"$C" -m1 -D"$D" "$TLS_URL")
  extra_header h2 h2load
  side_by_side h2 "$EXTRA_ROUNDS" h2load
  H2_RATIO=$(ratio_of h2); echo "h2_ratio=$H2_RATIO"
}

# scenario_ramp: the open model from 0 to RAMP_RATE req/s over RAMP_SECONDS. The rate at t
# is RAMP_RATE*t/RAMP_SECONDS, so second k of the run should see RAMP_RATE*(2k+1)/(2*RAMP_SECONDS)
# requests; nginx's log says when each ended ($msec), by the same clock as the agent's start
# in its result document. Second 0 is left out: its ~RAMP_RATE/60 requests make a single
# request's jitter across the boundary a percent or more.
scenario_ramp() {
  local out start
  : > "$WORK/nginx/logs/ramp.log" # this run's requests only
  AGENT_CMD=("$BENCH_AGENT_BIN" run -c "$C" --rate-stages "${RAMP_SECONDS}s:$RAMP_RATE" --url "http://127.0.0.1:${RAMP_PORT}/")
  echo "# ramp: 0 to $RAMP_RATE req/s over ${RAMP_SECONDS}s, c=$C loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# agent: ${AGENT_CMD[*]}"
  out=$(timeout -k 2 $((RAMP_SECONDS + 30)) "${CLIENT_PIN[@]}" "${AGENT_CMD[@]}" 2>"$WORK/ramp.err")
  echo "$out" > "$WORK/ramp.out"
  sleep 2 # nginx flushes its log buffer every second
  start=$(tail -1 "$WORK/ramp.out" | sed -n 's/.*"start":"\([^"]*\)".*/\1/p')
  echo "ramp: $(grep -m1 'requests in' "$WORK/ramp.out"); $(wc -l < "$WORK/nginx/logs/ramp.log") logged"
  awk -v t0="$(date -d "$start" +%s.%N)" -v rate="$RAMP_RATE" -v secs="$RAMP_SECONDS" '
    { k = int($1 - t0); if (k >= 0 && k < secs) n[k]++ }
    END {
      worst = 0; line = ""
      for (k = 1; k < secs; k++) {
        want = rate * (2 * k + 1) / (2 * secs); dev = (n[k] - want) / want * 100
        line = line sprintf(" %d:%+.1f", k, dev)
        if (dev < 0) dev = -dev
        if (dev > worst) { worst = dev; at = k }
      }
      printf "ramp per-second deviation %% (second:dev, from second 1):%s\n", line
      printf "ramp second 0: %d of %.0f intended (left out)\n", n[0], rate / (2 * secs)
      printf "ramp_max_dev=%.2f%% (second %d)\n", worst, at
    }' "$WORK/nginx/logs/ramp.log" | tee "$WORK/ramp.dev"
  RAMP_MAX_DEV=$(sed -n 's/^ramp_max_dev=\([0-9.]*\)%.*/\1/p' "$WORK/ramp.dev")
}

RPS_RATIO= RSS_MIB= POST_RATIO= HTTPS_RATIO= H2_RATIO= RAMP_MAX_DEV=
scenario_get
for sc in $EXTRA; do
  echo
  "scenario_$sc"
done
[ -z "$EXTRA" ] || echo
echo "ratio=$RPS_RATIO rss_mib=$RSS_MIB"
awk -v r="$RPS_RATIO" -v m="$MIN_RATIO" -v rss="$RSS_MIB" -v mr="$MAX_RSS_MIB" \
    -v post="$POST_RATIO" -v mpost="$MIN_POST_RATIO" -v https="$HTTPS_RATIO" -v mhttps="$MIN_HTTPS_RATIO" \
    -v h2="$H2_RATIO" -v mh2="$MIN_H2_RATIO" -v dev="$RAMP_MAX_DEV" -v mdev="$MAX_RAMP_DEV" '
  function below(x, min) { return x != "" && min + 0 > 0 && x + 0 < min + 0 }
  BEGIN {
    bad = r + 0 < m + 0 || rss + 0 > mr + 0 || below(post, mpost) || below(https, mhttps) || below(h2, mh2) ||
          (dev != "" && mdev + 0 > 0 && dev + 0 > mdev + 0)
    exit bad ? 1 : 0
  }'
