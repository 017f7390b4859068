#!/usr/bin/env bash
# soak.sh — run `rerank serve` under mixed valid and invalid traffic for a
# while and check that it neither dies nor leaks file descriptors.
#
#   scripts/soak.sh [--seconds N] [--model DIR] [--build DIR] [--fd-slack N]
#                   [--rss-slack-mib N] [-c CONNECTIONS] [--model2 DIR] [--grpc]
#
# --model2 DIR serves a second model (as "second") and sends it valid Cohere
# traffic beside the first's; --grpc also serves the gRPC API and sends it
# valid traffic (build/grpc_loadgen, spread over the models) and, each
# invalid round, an unknown model and raw garbage on its port.
# Valid traffic: build/loadgen (bench/loadgen.c) with C keep-alive connections
# for the whole run. Invalid traffic: one bounded loop of curl requests and
# raw bytes (bash /dev/tcp) cycling through the rows of docs/bad-input.md.
# Everything goes to 127.0.0.1 only. The server's VmRSS and open fd count
# (/proc/PID/status, /proc/PID/fd) are sampled at start, every 30 s and at
# the end. Exit status: 0 if the server stayed up, answered, never sent a
# 5xx to bad input, exited cleanly on SIGTERM, and its fd count grew by at
# most --fd-slack (default 8) [and RSS by at most --rss-slack-mib, if set].
set -u
SECONDS_RUN=600
BUILD=build
MODEL=../shared/fixtures/models/tiny-xlmr
FD_SLACK=8
RSS_SLACK_MIB=0
CONNS=2
MODEL2=""
GRPC=0
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_RUN=$2; shift 2;;
    --model) MODEL=$2; shift 2;;
    --build) BUILD=$2; shift 2;;
    --fd-slack) FD_SLACK=$2; shift 2;;
    --rss-slack-mib) RSS_SLACK_MIB=$2; shift 2;;
    -c) CONNS=$2; shift 2;;
    --model2) MODEL2=$2; shift 2;;
    --grpc) GRPC=1; shift;;
    -h|--help) sed -n '2,21p' "$0"; exit 0;;
    *) echo "soak.sh: unknown argument $1" >&2; exit 2;;
  esac
done
cd "$(dirname "$0")/.." || exit 2
[ -x "$BUILD/rerank" ] && [ -x "$BUILD/loadgen" ] || make -j2 BUILD="$BUILD" "$BUILD/rerank" "$BUILD/loadgen" >/dev/null || exit 2
[ "$GRPC" = 0 ] || [ -x "$BUILD/grpc_loadgen" ] || make BUILD="$BUILD" "$BUILD/grpc_loadgen" >/dev/null || exit 2
command -v curl >/dev/null || { echo "soak.sh: curl is required" >&2; exit 2; }

WORK=$(mktemp -d /tmp/rr_soak_XXXXXX)
SRV_PID=""; LG_PID=""; SAMPLER_PID=""; LG2_PID=""; GLG_PID=""
cleanup() {
  for p in $LG_PID $LG2_PID $GLG_PID $SAMPLER_PID; do kill "$p" 2>/dev/null; done
  [ -n "$SRV_PID" ] && kill -0 "$SRV_PID" 2>/dev/null && kill -KILL "$SRV_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# Small limits so every limit is reached cheaply (same as tests/test_server_raw.c).
EXTRA=()
[ -n "$MODEL2" ] && EXTRA+=(--model "second=$MODEL2")
[ "$GRPC" = 1 ] && EXTRA+=(--grpc-port 0)
"$BUILD/rerank" serve --model "$MODEL" --port 0 --threads 1 --http-threads 2 --max-docs 64 \
  --max-body-bytes 1M --max-text-bytes 64K --timeout 2 --no-access-log "${EXTRA[@]}" 2>"$WORK/server.log" &
SRV_PID=$!
PORT=""
for _ in $(seq 1 1200); do
  grep -q "rerank: ready" "$WORK/server.log" 2>/dev/null && break
  kill -0 "$SRV_PID" 2>/dev/null || break
  sleep 0.1
done
PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/server.log" | head -1)
if ! grep -q "rerank: ready" "$WORK/server.log" || [ -z "$PORT" ]; then
  echo "soak.sh: the server did not start:"; cat "$WORK/server.log"; exit 1
fi
URL="http://127.0.0.1:$PORT"
GPORT=$(sed -n 's/.*gRPC (tei.v1) on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/server.log" | head -1)
if [ "$GRPC" = 1 ] && [ -z "$GPORT" ]; then echo "soak.sh: no gRPC port:"; cat "$WORK/server.log"; exit 1; fi

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$SRV_PID/status" 2>/dev/null || echo 0; }
fd_count() { ls "/proc/$SRV_PID/fd" 2>/dev/null | wc -l; }
sample() { printf '%6ds  rss %6d KiB  fds %4d\n' "$1" "$(rss_kib)" "$(fd_count)"; }

RSS0=$(rss_kib); FD0=$(fd_count)
T0=$(date +%s)
echo "soak: server pid $SRV_PID on $URL, $SECONDS_RUN s, model $MODEL"
sample 0 | tee "$WORK/samples"
( while sleep 30; do kill -0 "$SRV_PID" 2>/dev/null || exit; sample $(( $(date +%s) - T0 )) | tee -a "$WORK/samples"; done ) &
SAMPLER_PID=$!

# Valid traffic for the whole run.
"$BUILD/loadgen" --url "$URL" -c "$CONNS" -d "$SECONDS_RUN" --docs 8 --doc-bytes 200 --pid "$SRV_PID" >"$WORK/loadgen.out" 2>&1 &
LG_PID=$!
if [ -n "$MODEL2" ]; then
  "$BUILD/loadgen" --url "$URL" --api cohere --model second -c "$CONNS" -d "$SECONDS_RUN" --docs 8 --doc-bytes 200 \
    >"$WORK/loadgen2.out" 2>&1 &
  LG2_PID=$!
fi
if [ "$GRPC" = 1 ]; then
  GMODEL=()
  [ -n "$MODEL2" ] && GMODEL=(--model second)
  "$BUILD/grpc_loadgen" --target "127.0.0.1:$GPORT" -c "$CONNS" -d "$SECONDS_RUN" --docs 8 --doc-bytes 200 \
    "${GMODEL[@]}" --json >"$WORK/grpc.out" 2>&1 &
  GLG_PID=$!
fi

# Invalid inputs (files for the large ones).
head -c $((1100 * 1024)) /dev/zero | tr '\0' a | sed 's/^/{"query":"q","texts":["/; s/$/"]}/' >"$WORK/big.json"
head -c 100000 /dev/zero | tr '\0' '[' >"$WORK/deep.json"
printf '{"query":"q","texts":["a\377b"]}' >"$WORK/utf8.json"
printf '{"query":"\300\257","texts":["a"]}' >"$WORK/overlong.json"
{ printf '{"query":"q","texts":['; for i in $(seq 1 65); do printf '"a",'; done; printf '"a"]}'; } >"$WORK/docs65.json"
head -c $((64 * 1024)) /dev/zero | tr '\0' h >"$WORK/hdr"

declare -A BAD=()   # status (or "closed"/"err") -> count
BAD_SENT=0
count() { BAD[$1]=$(( ${BAD[$1]:-0} + 1 )); }
# curl [args...] -> one status
c() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@") || code=err
  [ "$code" = 000 ] && code=err
  count "$code"; BAD_SENT=$((BAD_SENT + 1))
}
# raw BYTES (printf %b) -> status of the first response line, or "closed"
raw() {
  local fd line
  BAD_SENT=$((BAD_SENT + 1))
  if ! exec {fd}<>"/dev/tcp/127.0.0.1/$PORT" 2>/dev/null; then count err; return; fi
  printf '%b' "$1" >&"$fd" 2>/dev/null
  if [ "${2:-}" = drop ]; then exec {fd}>&-; count dropped; return; fi
  if IFS= read -r -t 8 line <&"$fd"; then
    line=${line#HTTP/1.? }; count "${line%% *}"
  else
    count closed
  fi
  exec {fd}>&-
}
J='Content-Type: application/json'
invalid_round() {
  c -H "$J" --data-binary '{"query":"q" "texts":["a"]}' "$URL/rerank"                     # malformed
  c -H "$J" --data-binary '{"query":"q","texts":["a"' "$URL/rerank"                       # truncated
  c -H "$J" --data-binary @"$WORK/deep.json" "$URL/rerank"                                # deep nesting
  c -H "$J" --data-binary '{"query":42,"texts":["a"]}' "$URL/rerank"                      # wrong type
  c -H "$J" --data-binary '{"query":"q","documents":["a"],"top_n":"2"}' "$URL/v1/rerank"
  c -H "$J" --data-binary @"$WORK/utf8.json" "$URL/rerank"                                # invalid UTF-8
  c -H "$J" --data-binary @"$WORK/overlong.json" "$URL/rerank"                            # overlong
  c -H "$J" --data-binary '{"query":"a\u0000b","texts":["\u0000"]}' "$URL/rerank"         # \u0000 (200)
  c -H "$J" --data-binary @"$WORK/big.json" "$URL/rerank"                                 # > max body
  c -H "$J" --data-binary @"$WORK/docs65.json" "$URL/rerank"                              # > max docs
  c -H "$J" --data-binary '{"query":"","texts":["a"]}' "$URL/rerank"                      # empty query
  c -H "$J" --data-binary '{"query":"q","texts":[]}' "$URL/rerank"                        # empty list
  c -H "$J" --data-binary '{"query":"q","documents":["a"],"top_n":-1}' "$URL/v2/rerank"   # negative top_n
  c -H "$J" --data-binary '{"query":"q","query":"r","texts":["a"]}' "$URL/rerank"         # duplicate key
  c "$URL/nope"                                                                           # 404
  c -X PUT -H "$J" --data-binary '{}' "$URL/rerank"                                       # 405
  c -H 'Content-Type: text/plain' --data-binary '{"query":"q","texts":["a"]}' "$URL/rerank"  # accepted
  c -H "$J" -H 'Transfer-Encoding: chunked' --data-binary '{"query":"q","texts":["a"]}' "$URL/rerank"
  c -H "X-Big: $(cat "$WORK/hdr")" "$URL/health"                                          # 431
  raw 'GARBAGE\r\n\r\n'                                                                    # closed
  raw 'GET /health HTTP/1.0\r\n\r\n'                                                       # no Host
  raw 'POST /rerank HTTP/1.1\r\nHost: h\r\nContent-Length: 40\r\n\r\n{"query":"q",' drop  # half a body
  raw 'POST /rerank HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n{{{GET /health HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n'
  if [ -n "$MODEL2" ]; then
    c -H "$J" --data-binary '{"model":"nope","query":"q","documents":["a"]}' "$URL/v1/rerank"  # unknown model: 404
  fi
  if [ "$GRPC" = 1 ]; then
    # unknown model over gRPC: every call NOT_FOUND (counted as "grpc_refused"), never a crash
    if "$BUILD/grpc_loadgen" --target "127.0.0.1:$GPORT" -c 1 -d 0.05 --docs 2 --model nope --json 2>/dev/null |
       grep -q '"ok":0,'; then count grpc_refused; else count grpc_unexpected; fi
    BAD_SENT=$((BAD_SENT + 1))
    # HTTP/1.1 and random bytes on the HTTP/2 port
    local fd
    if exec {fd}<>"/dev/tcp/127.0.0.1/$GPORT" 2>/dev/null; then
      # a subshell: the server may close first, and SIGPIPE must not end this script
      ( printf 'GET / HTTP/1.1\r\nHost: h\r\n\r\n'; head -c 256 /dev/urandom ) >&"$fd" 2>/dev/null
      exec {fd}>&-
      count grpc_garbage
    else
      count err
    fi
    BAD_SENT=$((BAD_SENT + 1))
  fi
}

END=$((T0 + SECONDS_RUN))
ROUNDS=0; DIED=0
while [ "$(date +%s)" -lt "$END" ]; do
  kill -0 "$SRV_PID" 2>/dev/null || { DIED=1; break; }
  invalid_round
  ROUNDS=$((ROUNDS + 1))
  sleep 0.2
done
wait "$LG_PID" 2>/dev/null; LG_PID=""
[ -n "$LG2_PID" ] && { wait "$LG2_PID" 2>/dev/null; LG2_PID=""; }
[ -n "$GLG_PID" ] && { wait "$GLG_PID" 2>/dev/null; GLG_PID=""; }
kill "$SAMPLER_PID" 2>/dev/null; wait "$SAMPLER_PID" 2>/dev/null; SAMPLER_PID=""
kill -0 "$SRV_PID" 2>/dev/null || DIED=1
sleep 3   # let half-sent requests reach --timeout and close
FAIL=0
if [ "$DIED" = 1 ] || ! kill -0 "$SRV_PID" 2>/dev/null; then
  echo "soak: FAIL: the server died"; tail -20 "$WORK/server.log"; FAIL=1
  RSS1=0; FD1=0
else
  RSS1=$(rss_kib); FD1=$(fd_count)
  sample $(( $(date +%s) - T0 )) | tee -a "$WORK/samples" >/dev/null
fi

echo "== valid traffic (loadgen)"
sed 's/^/  /' "$WORK/loadgen.out"
if [ -n "$MODEL2" ]; then echo "== valid traffic to the second model (loadgen --model second)"; sed 's/^/  /' "$WORK/loadgen2.out"; fi
if [ "$GRPC" = 1 ]; then echo "== valid gRPC traffic (grpc_loadgen)"; sed 's/^/  /' "$WORK/grpc.out"; fi
echo "== invalid traffic: $BAD_SENT requests in $ROUNDS rounds"
printf '  responses:'
for k in $(printf '%s\n' "${!BAD[@]}" | sort); do printf ' %s=%d' "$k" "${BAD[$k]}"; done; echo
echo "== samples"
sed 's/^/  /' "$WORK/samples"
echo "== server: rss $((RSS0 / 1024)) MiB -> $((RSS1 / 1024)) MiB, fds $FD0 -> $FD1"

LG_OK=$(sed -n 's/^requests: \([0-9]*\) answered.*/\1/p' "$WORK/loadgen.out")
LG_ERR=$(sed -n 's/.*transport errors \([0-9]*\).*/\1/p' "$WORK/loadgen.out")
[ "${LG_OK:-0}" -gt 0 ] || { echo "soak: FAIL: no valid request was answered"; FAIL=1; }
[ "${LG_ERR:-0}" -eq 0 ] || { echo "soak: FAIL: $LG_ERR transport errors on valid traffic"; FAIL=1; }
grep -q 'status:.* 200=' "$WORK/loadgen.out" && ! grep -Eq 'status:.* 5[0-9][0-9]=' "$WORK/loadgen.out" ||
  { echo "soak: FAIL: valid traffic got non-200 answers"; FAIL=1; }
for k in "${!BAD[@]}"; do
  case "$k" in 5*|grpc_unexpected) echo "soak: FAIL: bad input got $k (${BAD[$k]}x)"; FAIL=1;; esac
done
if [ -n "$MODEL2" ]; then
  grep -q 'status:.* 200=' "$WORK/loadgen2.out" && ! grep -Eq 'status:.* [45][0-9][0-9]=|transport errors [1-9]' "$WORK/loadgen2.out" ||
    { echo "soak: FAIL: valid traffic to the second model got errors"; FAIL=1; }
fi
if [ "$GRPC" = 1 ]; then
  grep -q '"non_ok":0,' "$WORK/grpc.out" && ! grep -q '"ok":0,' "$WORK/grpc.out" ||
    { echo "soak: FAIL: valid gRPC traffic got errors"; FAIL=1; }
fi
if [ "$FAIL" = 0 ] && [ $((FD1 - FD0)) -gt "$FD_SLACK" ]; then
  echo "soak: FAIL: fds grew from $FD0 to $FD1 (more than $FD_SLACK)"; ls -l "/proc/$SRV_PID/fd"; FAIL=1
fi
if [ "$FAIL" = 0 ] && [ "$RSS_SLACK_MIB" -gt 0 ] && [ $(((RSS1 - RSS0) / 1024)) -gt "$RSS_SLACK_MIB" ]; then
  echo "soak: FAIL: RSS grew by more than $RSS_SLACK_MIB MiB"; FAIL=1
fi
if kill -0 "$SRV_PID" 2>/dev/null; then
  kill -TERM "$SRV_PID"; wait "$SRV_PID"; rc=$?
  SRV_PID=""
  [ "$rc" -eq 0 ] || { echo "soak: FAIL: the server exited with $rc on SIGTERM"; FAIL=1; }
fi
[ "$FAIL" = 0 ] && echo "soak: PASS" || echo "soak: FAIL"
exit "$FAIL"
