#!/usr/bin/env bash
# model-isolation.sh — does a flood on one served model slow another? (#17)
#
#   scripts/model-isolation.sh [--seconds N] [--threads N] [--rate R]
#                              [--flood-rate R] [--build DIR]
#
# Starts `rerank serve --model tiny-xlmr --model bert=tiny-bert` (each model
# its own batcher and queue, --threads N each) and measures a probe on
# `bert` (Cohere API, 2 connections, open loop at --rate req/s, 8 documents;
# latency from each request's scheduled start): idle, then beside a flood on
# `tiny-xlmr` (32 connections at --flood-rate req/s of 64 documents, more
# than it scores, so its queue fills and it answers 429). Then the baseline
# the per-model queues replace: one server with one model, the probe and the
# same flood sharing its queue. Prints one line per phase (p50/p90/p99 ms,
# 200s and 429s) and the probe's flooded/idle p99 ratio. Exit 0 when the
# probe got only 200s in the two-model phases.
set -u
BUILD=build
SECS=30
THREADS=1
RATE=20
FLOOD_RATE=150
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECS=$2; shift 2;;
    --threads) THREADS=$2; shift 2;;
    --rate) RATE=$2; shift 2;;
    --flood-rate) FLOOD_RATE=$2; shift 2;;
    --build) BUILD=$2; shift 2;;
    -h|--help) sed -n '2,17p' "$0"; exit 0;;
    *) echo "model-isolation.sh: unknown argument $1" >&2; exit 2;;
  esac
done
cd "$(dirname "$0")/.." || exit 2
[ -x "$BUILD/rerank" ] && [ -x "$BUILD/loadgen" ] || make -j2 BUILD="$BUILD" "$BUILD/rerank" "$BUILD/loadgen" >/dev/null || exit 2
command -v curl >/dev/null || { echo "model-isolation.sh: curl is required" >&2; exit 2; }
M=../shared/fixtures/models
WORK=$(mktemp -d /tmp/rr_isol_XXXXXX)
SRV_PID=""
cleanup() { [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" "$2"; }
start() { # model args...
  PORT=$(( 20000 + RANDOM % 20000 ))
  "$BUILD/rerank" serve "$@" --port "$PORT" --no-access-log --threads "$THREADS" --max-queue-pairs 256 \
    --max-docs 64 >"$WORK/srv.log" 2>&1 &
  SRV_PID=$!
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null 2>&1 && break
    kill -0 "$SRV_PID" 2>/dev/null || { cat "$WORK/srv.log" >&2; exit 1; }
    sleep 0.1
  done
  URL="http://127.0.0.1:$PORT"
}
stop() { kill "$SRV_PID"; wait "$SRV_PID" 2>/dev/null; SRV_PID=""; }
probe() { "$BUILD/loadgen" --url "$URL" --api cohere --model "$1" -c 2 --rate "$RATE" -d "$SECS" --docs 8 --json >"$2"; }
flood() { "$BUILD/loadgen" --url "$URL" --api cohere --model "$1" -c 32 --rate "$FLOOD_RATE" -d "$((SECS + 6))" --docs 64 --json >"$2"; }
report() { # phase probe.json [flood.json]
  local extra=""
  [ -n "${3:-}" ] && extra="  (flood: $(field ok "$3") answered 200, $(field non_200 "$3") not)"
  printf '%-28s probe p50 %7.1f  p90 %7.1f  p99 %7.1f ms  %s ok, %s not 200%s\n' "$1" "$(field p50_ms "$2")" \
    "$(field p90_ms "$2")" "$(field p99_ms "$2")" "$(field ok "$2")" "$(field non_200 "$2")" "$extra"
}
rc=0
start --model "$M/tiny-xlmr" --model "bert=$M/tiny-bert"
probe bert "$WORK/idle.json"
report "two models, idle" "$WORK/idle.json"
flood tiny-xlmr "$WORK/flood.json" &
FL=$!
sleep 3
probe bert "$WORK/busy.json"
wait "$FL"
report "two models, other flooded" "$WORK/busy.json" "$WORK/flood.json"
for f in idle busy; do [ "$(field non_200 "$WORK/$f.json")" = 0 ] && [ "$(field transport_errors "$WORK/$f.json")" = 0 ] || rc=1; done
stop
start --model "bert=$M/tiny-bert"
flood bert "$WORK/flood1.json" &
FL=$!
sleep 3
probe bert "$WORK/shared.json"
wait "$FL"
report "one model, shared queue" "$WORK/shared.json" "$WORK/flood1.json"
stop
awk -v a="$(field p99_ms "$WORK/idle.json")" -v b="$(field p99_ms "$WORK/busy.json")" \
  'BEGIN { if (a > 0) printf "probe p99 flooded / idle: %.2f (goal <= 2)\n", b / a }'
exit $rc
