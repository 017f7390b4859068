#!/usr/bin/env bash
# scaleout-test.sh — three `rerank serve` replicas behind nginx (a copy of
# deploy/nginx/rerank.conf with ports and paths adjusted), all on loopback.
# Under a parallel curl load it SIGKILLs one replica, checks that only requests
# in flight on it at that moment may fail and that every later request is
# served, restarts it and checks that it gets traffic again. Prints requests
# served, errors and failover figures; exits non-zero on any failed check.
#
#   scripts/scaleout-test.sh [--short] [--model DIR] [--base-port N]
#
# --short: fewer requests for CI (about 20 s). Needs build/rerank (make), nginx
# and curl (scripts/install-deps.sh). Env: BUILD (default build).
set -uo pipefail

SHORT=0
MODEL=../shared/fixtures/models/tiny-bert
BASE=${BASE_PORT:-18181}
while [ $# -gt 0 ]; do
  case "$1" in
    --short) SHORT=1 ;;
    --model) MODEL=$2; shift ;;
    --base-port) BASE=$2; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "scaleout-test: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
BUILD=${BUILD:-build}
RERANK=$BUILD/rerank
if [ $SHORT = 1 ]; then TOTAL=240; CONC=4; DEADLINE_S=60; else TOTAL=1200; CONC=8; DEADLINE_S=180; fi
P=($BASE $((BASE + 1)) $((BASE + 2)))   # replicas
LB=$((BASE + 9))                        # nginx
VICTIM=1                                # index of the replica we kill
FAIL_TIMEOUT=5                          # as in deploy/nginx/rerank.conf

die() { echo "scaleout-test: $*" >&2; exit 2; }
[ -x "$RERANK" ] || die "$RERANK not built (make)"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || die "nginx not found (scripts/install-deps.sh installs it)"
command -v curl >/dev/null || die "curl not found"
[ -d "$MODEL" ] || die "model directory $MODEL not found"
for p in "${P[@]}" $LB; do
  if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$p/"; then die "port $p is in use (--base-port)"; fi
done

TMP=$(mktemp -d /tmp/rr-scaleout-XXXXXX)
chmod 755 "$TMP"   # nginx workers (user nobody when run as root) use it
PIDS=()            # replica pids by index
NGINX_PID=
WORKER_PIDS=()
cleanup() {
  for p in "${WORKER_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null
  wait 2>/dev/null
  if [ -n "${KEEP_TMP:-}" ]; then echo "scaleout-test: logs kept in $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 3' INT TERM

now_ms() { date +%s%3N; }

start_replica() { # index
  local i=$1
  RERANK_THREADS=1 "$RERANK" serve --model "$MODEL" --host 127.0.0.1 --port "${P[$i]}" \
    >>"$TMP/replica$i.log" 2>&1 &
  PIDS[$i]=$!
}

wait_ready() { # index, timeout s
  local i=$1 t=$(( $(date +%s) + $2 ))
  while [ "$(date +%s)" -le $t ]; do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:${P[$i]}/ready")" = 200 ]; then return 0; fi
    kill -0 "${PIDS[$i]}" 2>/dev/null || { echo "replica $i exited:"; tail -5 "$TMP/replica$i.log"; return 1; }
    sleep 0.1
  done
  echo "replica $i not ready after $2 s"; tail -5 "$TMP/replica$i.log"; return 1
}

# ---- replicas --------------------------------------------------------------
for i in 0 1 2; do start_replica $i; done
for i in 0 1 2; do wait_ready $i 60 || die "replica on port ${P[$i]} did not become ready"; done
echo "replicas ready on ports ${P[*]} (model $MODEL)"

# ---- nginx with the example config ------------------------------------------
sed -e "s/127\.0\.0\.1:8081/127.0.0.1:${P[0]}/; s/127\.0\.0\.1:8082/127.0.0.1:${P[1]}/; s/127\.0\.0\.1:8083/127.0.0.1:${P[2]}/" \
    -e "s/listen 8080;/listen 127.0.0.1:$LB;/" \
    -e "s#/var/log/nginx/rerank.access.log#$TMP/access.log#" \
    deploy/nginx/rerank.conf >"$TMP/rerank.conf"
grep -q "127.0.0.1:${P[2]} " "$TMP/rerank.conf" && grep -q "listen 127.0.0.1:$LB;" "$TMP/rerank.conf" \
  || die "could not adjust deploy/nginx/rerank.conf (its server/listen lines changed?)"
cat >"$TMP/nginx.conf" <<EOF
worker_processes 1;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log warn;
events { worker_connections 1024; }
http {
    client_body_temp_path $TMP/client_body;
    proxy_temp_path $TMP/proxy;
    fastcgi_temp_path $TMP/fastcgi;
    uwsgi_temp_path $TMP/uwsgi;
    scgi_temp_path $TMP/scgi;
    access_log off;
    include $TMP/rerank.conf;
}
EOF
"$NGINX" -p "$TMP" -c "$TMP/nginx.conf" -t >"$TMP/nginx-t.log" 2>&1 || { cat "$TMP/nginx-t.log"; die "nginx -t failed"; }
"$NGINX" -p "$TMP" -c "$TMP/nginx.conf" -g 'daemon off;' 2>>"$TMP/nginx-error.log" &
NGINX_PID=$!
for _ in $(seq 50); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$LB/nginx-health")" = 200 ] && break
  sleep 0.1
done
[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$LB/ready")" = 200 ] || die "nginx on $LB does not proxy /ready"
echo "nginx on 127.0.0.1:$LB"

# ---- load -------------------------------------------------------------------
# 16 documents a request, alternating the TEI and the Cohere/Jina endpoint.
python3 - "$TMP" <<'EOF' 2>/dev/null || {
import json, sys
docs = ["Passage %d: the giant panda is a bear species endemic to China; it eats bamboo, "
        "lives in mountain forests and weighs up to %d kilograms." % (i, 80 + i) for i in range(16)]
json.dump({"query": "what do pandas eat?", "texts": docs}, open(sys.argv[1] + "/tei.json", "w"))
json.dump({"query": "what do pandas eat?", "documents": docs, "top_n": 5}, open(sys.argv[1] + "/cohere.json", "w"))
EOF
  # no python3: a smaller hand-written body
  printf '{"query":"what do pandas eat?","texts":["bamboo","a bear","pandas eat bamboo shoots and leaves"]}' >"$TMP/tei.json"
  printf '{"query":"what do pandas eat?","documents":["bamboo","a bear","pandas eat bamboo shoots and leaves"],"top_n":2}' >"$TMP/cohere.json"
}

DEADLINE_MS=$(( $(now_ms) + DEADLINE_S * 1000 ))
worker() { # id, count
  local w=$1 n=$2 i path body code rc t0 t1
  for ((i = 0; i < n; i++)); do
    t0=$(now_ms)
    [ "$t0" -gt "$DEADLINE_MS" ] && break
    if (( (i + w) % 2 )); then path=/rerank; body=tei.json; else path=/v1/rerank; body=cohere.json; fi
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 -H 'Content-Type: application/json' \
           --data-binary "@$TMP/$body" "http://127.0.0.1:$LB$path")
    rc=$?
    t1=$(now_ms)
    echo "$w $i $t0 $t1 $code $rc" >>"$TMP/results.$w"
  done
}
done_count() { cat "$TMP"/results.* 2>/dev/null | wc -l; }

T_START=$(now_ms)
for ((w = 0; w < CONC; w++)); do worker $w $((TOTAL / CONC)) & WORKER_PIDS+=($!); done
echo "load: $TOTAL requests, $CONC in parallel, at most ${DEADLINE_S}s"

KILL_MS=0; RESTART_MS=0; READY_MS=0
while :; do
  n=$(done_count)
  if [ $KILL_MS = 0 ] && [ "$n" -ge $((TOTAL / 3)) ]; then
    KILL_MS=$(now_ms)
    kill -9 "${PIDS[$VICTIM]}"
    wait "${PIDS[$VICTIM]}" 2>/dev/null
    echo "killed replica on port ${P[$VICTIM]} (SIGKILL) after $n requests"
  fi
  if [ $KILL_MS != 0 ] && [ $RESTART_MS = 0 ] && [ "$n" -ge $((2 * TOTAL / 3)) ]; then
    RESTART_MS=$(now_ms)
    start_replica $VICTIM
    wait_ready $VICTIM 60 || die "restarted replica did not become ready"
    READY_MS=$(now_ms)
    echo "restarted it after $n requests; ready in $((READY_MS - RESTART_MS)) ms"
  fi
  alive=0
  for p in "${WORKER_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
  [ $alive = 0 ] && break
  [ "$(now_ms)" -gt $((DEADLINE_MS + 30000)) ] && { echo "load did not finish in time"; break; }
  sleep 0.05
done
wait "${WORKER_PIDS[@]}" 2>/dev/null
WORKER_PIDS=()
T_END=$(now_ms)
if [ $RESTART_MS = 0 ]; then  # the load ended early: restart now
  RESTART_MS=$(now_ms); start_replica $VICTIM
  wait_ready $VICTIM 60 || die "restarted replica did not become ready"; READY_MS=$(now_ms)
fi

# ---- rejoin: after fail_timeout the restarted replica must get traffic ----
sleep $((FAIL_TIMEOUT + 1))
REJOIN_MARK=$(wc -l <"$TMP/access.log")
rejoin_ok=0
for i in $(seq 30); do
  c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 -H 'Content-Type: application/json' \
      --data-binary "@$TMP/tei.json" "http://127.0.0.1:$LB/rerank")
  [ "$c" = 200 ] && rejoin_ok=$((rejoin_ok + 1))
done
sleep 0.2

# ---- figures and checks -------------------------------------------------------
cat "$TMP"/results.* >"$TMP/results"
read -r total ok errors late_errors inflight_errors ok_after_kill <<<"$(
  awk -v kill="$KILL_MS" '
    { n++
      if ($5 == 200) { ok++; if ($3 > kill) oka++ }
      else { err++
             # in flight on the victim: started before the kill (+ 0.5 s for
             # a request that was just being sent to it)
             if ($3 <= kill + 500) infl++; else late++ } }
    END { printf "%d %d %d %d %d %d\n", n, ok, err, late, infl, oka }' "$TMP/results")"
pct() { awk '{ print $4 - $3 }' "$TMP/results" | sort -n | awk -v q="$1" '{ v[NR] = $1 } END { i = int(NR * q); if (i < 1) i = 1; print v[i] + 0 }'; }
p50=$(pct 0.5); p99=$(pct 0.99)
secs=$(awk -v a="$T_START" -v b="$T_END" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
# nginx: per-replica counts, retried requests ("upstream=A, B"), victim traffic
declare -A served
for i in 0 1 2; do served[$i]=$(grep -c "upstream=127.0.0.1:${P[$i]} ustatus=200" "$TMP/access.log"); done
retried=$(grep -c 'upstream=[^ ]*, ' "$TMP/access.log")
retried_ok=$(grep 'upstream=[^ ]*, ' "$TMP/access.log" | grep -c '" 200 ')
victim_before=$(awk -v k="$KILL_MS" -v u="upstream=127.0.0.1:${P[$VICTIM]}" \
  '{ t = substr($1, 3) * 1000 } t < k && index($0, u) && / ustatus=200/' "$TMP/access.log" | wc -l)
victim_after_restart=$(awk -v r="$READY_MS" -v u="upstream=127.0.0.1:${P[$VICTIM]}" \
  '{ t = substr($1, 3) * 1000 } t >= r && index($0, u) && / ustatus=200/' "$TMP/access.log" | wc -l)
first_back=$(awk -v r="$READY_MS" -v u="upstream=127.0.0.1:${P[$VICTIM]}" \
  '{ t = substr($1, 3) * 1000 } t >= r && index($0, u) && / ustatus=200/ { printf "%d", t - r; exit }' "$TMP/access.log")
rejoin_victim=$(tail -n +$((REJOIN_MARK + 1)) "$TMP/access.log" | grep -c "upstream=127.0.0.1:${P[$VICTIM]} ustatus=200")

echo
echo "== scale-out results"
echo "requests: $total in ${secs}s ($(awk -v n="$total" -v s="$secs" 'BEGIN { printf "%.0f", n / (s > 0 ? s : 1) }') req/s), served $ok, errors $errors; latency p50 ${p50} ms, p99 ${p99} ms"
echo "per replica (200s, whole run): ${P[0]}=${served[0]} ${P[1]}=${served[1]} ${P[2]}=${served[2]}"
echo "failover: killed ${P[$VICTIM]} at +$((KILL_MS - T_START)) ms; errors among requests in flight then: $inflight_errors (bound: $CONC); errors after: $late_errors; served after the kill: $ok_after_kill"
echo "failover: requests retried on another replica by nginx: $retried ($retried_ok then succeeded)"
echo "rejoin: restarted at +$((RESTART_MS - T_START)) ms, ready in $((READY_MS - RESTART_MS)) ms; first request served by it ${first_back:-never} ms after ready; served by it after restart: $victim_after_restart; in the final $FAIL_TIMEOUT s+ probe: $rejoin_victim of 30 ($rejoin_ok ok)"

fail=0
check() { if eval "$1"; then echo "  ok   $2"; else echo "  FAIL $2"; fail=1; fi; }
echo "checks:"
check '[ "$total" -ge $((TOTAL * 9 / 10)) ]' "the load ran ($total of $TOTAL requests before the deadline)"
check '[ "$victim_before" -gt 0 ]' "the victim replica served traffic before the kill ($victim_before)"
check '[ "$late_errors" -eq 0 ]' "no request started after the kill failed ($late_errors)"
check '[ "$inflight_errors" -le "$CONC" ]' "failures limited to requests in flight on the victim ($inflight_errors <= $CONC)"
check '[ "$ok_after_kill" -gt 0 ]' "requests kept being served after the kill ($ok_after_kill)"
check '[ "$rejoin_ok" -eq 30 ]' "all probe requests after the restart succeeded ($rejoin_ok/30)"
check '[ "$victim_after_restart" -gt 0 ] && [ "$rejoin_victim" -gt 0 ]' "the restarted replica rejoined ($victim_after_restart requests after restart, $rejoin_victim in the probe)"
if [ $fail != 0 ]; then
  echo "scaleout-test: FAILED (KEEP_TMP=1 keeps the logs)"; exit 1
fi
echo "scaleout-test: passed"
