#!/usr/bin/env bash
# mixed-flood.sh — short requests' latency idle and under a flood of long
# documents scored in windows, with the batcher's fair and FIFO orders.
#
#   scripts/mixed-flood.sh [--model DIR] [--seconds N] [--long-clients N]
#                          [--long-bytes B] [--chunks K] [--orders "fair fifo"]
#                          [--threads N] [--build DIR]
#
# For each order: start `rerank serve --batch-order ORDER`; measure short
# requests (TEI, 8 documents of ~400 bytes, one closed-loop client) for N s
# idle; then start --long-clients closed-loop clients sending one document of
# ~--long-bytes bytes with "long_docs": "chunk", "max_chunks_per_doc": K
# (K windows of up to 512 tokens each), and measure the short requests again
# beside them. Prints one line per (order, phase) with the short requests'
# p50/p99 (ms), their req/s, the long clients' documents/s, and the mean
# forward pass of the flood (the batch a short request may wait behind,
# from /metrics); exit status 0 when every request of every phase got 200.
# Everything on 127.0.0.1.
set -u
BUILD=build
MODEL=../shared/fixtures/models/tiny-xlmr
SECS=20
LONG_CLIENTS=8
LONG_BYTES=40000
CHUNKS=16
ORDERS="fair fifo"
THREADS=0
while [ $# -gt 0 ]; do
  case "$1" in
    --model) MODEL=$2; shift 2;;
    --seconds) SECS=$2; shift 2;;
    --long-clients) LONG_CLIENTS=$2; shift 2;;
    --long-bytes) LONG_BYTES=$2; shift 2;;
    --chunks) CHUNKS=$2; shift 2;;
    --orders) ORDERS=$2; shift 2;;
    --threads) THREADS=$2; shift 2;;
    --build) BUILD=$2; shift 2;;
    -h|--help) sed -n '2,16p' "$0"; exit 0;;
    *) echo "mixed-flood.sh: unknown argument $1" >&2; exit 2;;
  esac
done
cd "$(dirname "$0")/.." || exit 2
[ -x "$BUILD/rerank" ] && [ -x "$BUILD/loadgen" ] || make -j2 BUILD="$BUILD" "$BUILD/rerank" "$BUILD/loadgen" >/dev/null || exit 2
command -v curl >/dev/null || { echo "mixed-flood.sh: curl is required" >&2; exit 2; }
WORK=$(mktemp -d /tmp/rr_flood_XXXXXX)
SRV_PID=""
cleanup() { [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

# field NAME of a loadgen --json line
field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" "$2"; }
# seconds, count and tokens of the forward passes so far (/metrics)
batches() {
  curl -sf "$1/metrics" | awk '/^rerank_batch_duration_seconds_sum/ {s = $2} /^rerank_batch_duration_seconds_count/ {n = $2}
    /^rerank_batch_tokens_sum/ {t = $2} END {print s + 0, n + 0, t + 0}'
}
rc=0
report() { # order phase short.json [long.json]
  local ok non200 terr
  ok=$(field ok "$3"); non200=$(field non_200 "$3"); terr=$(field transport_errors "$3")
  local long_ok="" long_rate="-"
  if [ -n "${4:-}" ]; then
    long_rate=$(field req_per_s "$4")
    [ "$(field non_200 "$4")" = 0 ] && [ "$(field transport_errors "$4")" = 0 ] || rc=1
    long_ok=" long_ok=$(field ok "$4")"
  fi
  [ "$non200" = 0 ] && [ "$terr" = 0 ] && [ "${ok:-0}" -gt 0 ] || rc=1
  printf '%-5s %-6s short p50 %8.1f ms  p99 %8.1f ms  %7.1f req/s (%s ok)  long docs/s %s%s\n' "$1" "$2" \
    "$(field p50_ms "$3")" "$(field p99_ms "$3")" "$(field req_per_s "$3")" "$ok" "$long_rate" "$long_ok"
}

for order in $ORDERS; do
  PORT=$(( 20000 + RANDOM % 20000 ))
  "$BUILD/rerank" serve --model "$MODEL" --port "$PORT" --no-access-log --batch-order "$order" \
    --threads "$THREADS" --max-queue-pairs 8192 >"$WORK/srv.log" 2>&1 &
  SRV_PID=$!
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null 2>&1 && break
    kill -0 "$SRV_PID" 2>/dev/null || { cat "$WORK/srv.log" >&2; exit 1; }
    sleep 0.1
  done
  URL="http://127.0.0.1:$PORT"
  "$BUILD/loadgen" --url "$URL" -c 1 -d "$SECS" --docs 8 --doc-bytes 400 --json >"$WORK/idle.json"
  report "$order" idle "$WORK/idle.json"
  "$BUILD/loadgen" --url "$URL" -c "$LONG_CLIENTS" -d "$((SECS + 4))" --docs 1 --doc-bytes "$LONG_BYTES" \
    --extra "\"long_docs\":\"chunk\",\"max_chunks_per_doc\":$CHUNKS" --json >"$WORK/long.json" &
  LONG_PID=$!
  sleep 2
  read -r s0 n0 t0 <<<"$(batches "$URL")"
  "$BUILD/loadgen" --url "$URL" -c 1 -d "$SECS" --docs 8 --doc-bytes 400 --json >"$WORK/flood.json"
  wait "$LONG_PID"
  report "$order" flood "$WORK/flood.json" "$WORK/long.json"
  read -r s1 n1 t1 <<<"$(batches "$URL")"
  awk -v o="$order" -v a="$s0 $n0 $t0" -v b="$s1 $n1 $t1" 'BEGIN {
    split(a, x, " "); split(b, y, " "); n = y[2] - x[2]
    if (n > 0) printf "%-5s flood  batches %d, mean %.1f ms, %.0f tokens\n", o, n, 1000 * (y[1] - x[1]) / n, (y[3] - x[3]) / n }'
  kill "$SRV_PID"; wait "$SRV_PID" 2>/dev/null; SRV_PID=""
done
exit $rc
