#!/usr/bin/env bash
# gpu-check.sh — the one prepared device check of the CUDA backend (issue #22), run on a lent GPU machine
# from the bundle that ../shared/tools/gpu/pack.sh makes (docs/cuda.md has the exact commands).
#
#   scripts/gpu-check.sh [--dry-run] [--ncu] [--serve] [--steps a,b,...] [--budget SECONDS]
#
# Steps, each under its own time limit and all under one deadline (default 400 s, well inside the 8 minutes
# a device call may take; steps that no longer fit are skipped and say so):
#   gpu        nvidia-smi: name, driver, memory
#   test_cuda  bin/test_cuda: kernels vs float64 (flash attention every variant, rows, FP8 GEMM), fixture
#              goldens through the GPU (fp16 / bf16 / fp8), graphs / chunks / memory cap / legacy kernels,
#              attention TFLOP/s per length next to the GEMM rate, device fault
#   bench      bin/rerank bench --device cuda:0 on the full-size bge-reranker-v2-m3-shaped model ($FULL) for
#              W1, W2, W3, L (bench/workloads-gpu.json) in fp16, bf16, fp8; A/B: legacy and 8-warp attention
#              (W2), CUDA graphs off (W3)
#   torch      tools/torch_peer.py: PyTorch fp16 / bf16 (SDPA) on the same model and workloads, and the
#              matmul rate
#   agreement  rerank score of the 409 golden pairs' texts on $FULL: CPU fp32 vs GPU fp16 / bf16 / fp8
#              (per-channel and per-tensor FP8 weight scales): max |difference|, Kendall tau
#   ncu        (--ncu) time per kernel of one W1 fp16 pass
#   serve      (--serve) bin/rerank serve --device cuda:0 on $FULL under bin/loadgen, 32 clients x 8 documents
#              of ~400 bytes, closed loop, with 2 batches in flight (the default on CUDA) then 1: req/s,
#              p50 / p99, and the server's /info and /metrics (device, device memory, batch sizes, batches
#              running); needs bin/loadgen in the bundle (pack.sh ... build-cuda/loadgen);
#              SERVE_DEVICE=cpu rehearses it without a GPU
#   qwen3      (--steps qwen3) the Qwen3-Reranker-0.6B shape (random weights, made on the device): rerank bench
#              Q1 / Q2 in fp16 with shared prompt prefixes on and off
#   summary    one table: pairs/s per workload and precision next to PyTorch, the ratios issue #22 asks for
# Every figure is printed as one JSON line (and kept in $OUT/gpu-check.jsonl); logs go to $OUT.
#
# Exit: 0 all steps ran and passed, 1 a step failed, 2 usage / no bundle, 3 no NVIDIA GPU on this machine.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DRY=0 NCU=0 SERVE=0 BUDGET=400 INSIDE=0 STEPS=

usage() { sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --ncu) NCU=1 ;;
    --serve) SERVE=1 ;;
    --steps) shift; STEPS=${1:-}; [[ "$STEPS" =~ ^[a-z0-9_]+(,[a-z0-9_]+)*$ ]] || { echo "gpu-check: --steps needs names like bench,serve" >&2; exit 2; } ;;
    --budget) shift; BUDGET=${1:-}; [[ "$BUDGET" =~ ^[0-9]+$ ]] || { echo "gpu-check: --budget needs seconds" >&2; exit 2; } ;;
    --inside) INSIDE=1 ;; # internal: the part that runs inside bundle/run.sh
    -h|--help) usage; exit 0 ;;
    *) echo "gpu-check: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

WORKLOADS=(W1 W2 W3 L)
PRECISIONS=(fp16 bf16 fp8)
# step | time limit (s) | what
PLAN=(
  "gpu|10|nvidia-smi: GPU name, driver, memory"
  "test_cuda|150|bin/test_cuda: kernels vs float64, goldens fp16/bf16/fp8, graphs/chunks/memory cap, attention timing, device fault"
  "bench|170|bin/rerank bench --device cuda:0 --model \$FULL: ${WORKLOADS[*]} x ${PRECISIONS[*]} (+ A/B: legacy/flash8 attention on W2, graphs off on W3)"
  "torch|150|tools/torch_peer.py \$FULL: PyTorch fp16/bf16 SDPA on ${WORKLOADS[*]}, matmul rate"
  "agreement|90|bin/rerank score of the golden pairs on \$FULL: cpu fp32 vs cuda fp16/bf16/fp8 (channel and tensor scales): Kendall tau, max diff"
)
[ $NCU = 1 ] && PLAN+=("ncu|90|ncu per-kernel time of one W1 fp16 bench pass")
[ $SERVE = 1 ] && PLAN+=("serve|140|bin/rerank serve --device cuda:0 --model \$FULL under bin/loadgen -c 32 (8 docs of ~400 bytes), 2 then 1 batches in flight: req/s, p50/p99, /info and /metrics")
# --steps: only those (gpu and summary always run); --serve / --ncu are implied when named
if [ -n "$STEPS" ]; then
  case ",$STEPS," in *,serve,*) [ $SERVE = 1 ] || PLAN+=("serve|140|bin/rerank serve under bin/loadgen -c 32, 2 then 1 batches in flight"); SERVE=1 ;; esac
  case ",$STEPS," in *,qwen3,*) PLAN+=("qwen3|150|Qwen3-Reranker-0.6B shape (made here): rerank bench Q1 / Q2 fp16, shared prefixes on / off") ;; esac
  case ",$STEPS," in *,ncu,*) [ $NCU = 1 ] || PLAN+=("ncu|90|ncu per-kernel time of one W1 fp16 bench pass"); NCU=1 ;; esac
  for n in ${STEPS//,/ }; do
    case $n in test_cuda|bench|torch|agreement|ncu|serve|qwen3) ;; *) echo "gpu-check: unknown step $n" >&2; exit 2 ;; esac
  done
  KEEP=()
  for p in "${PLAN[@]}"; do
    n=${p%%|*}
    case ",gpu,$STEPS," in *,$n,*) KEEP+=("$p") ;; esac
  done
  PLAN=("${KEEP[@]}")
fi
PLAN+=("summary|10|table of pairs/s vs PyTorch, attention vs GEMM rate, W3 latency")

if [ $DRY = 1 ]; then
  echo "gpu-check plan (deadline ${BUDGET} s; a step that no longer fits is skipped):"
  for p in "${PLAN[@]}"; do IFS='|' read -r n t d <<<"$p"; printf '  %-10s <= %4s s  %s\n' "$n" "$t" "$d"; done
  cat <<EOF
prepare here (no GPU needed):
  FIXTURES="tiny-xlmr tiny-xlmr-f16 tiny-xlmr-bf16 tiny-bert tiny-qwen3 tiny-gte tiny-modernbert" bash ../shared/tools/gpu/pack.sh build-cuda/rerank build-cuda/tests/test_cuda build-cuda/loadgen
then one device call (run tool, carry [".device"], timeout_s 480):
  bash scripts/gpu-check.sh
results: \$OUT/gpu-check.jsonl (one JSON line per figure), \$OUT/log.txt, \$OUT/*.log
EOF
  exit 0
fi

# ---- outside the bundle: check the machine, unpack, re-enter through bundle/run.sh ----------------------
if [ $INSIDE = 0 ]; then
  if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
    echo "gpu-check: no NVIDIA GPU on this machine (nvidia-smi missing or finds no device)." >&2
    echo "gpu-check: run it on the lent GPU machine; --dry-run shows the plan (docs/cuda.md)." >&2
    exit 3
  fi
  if [ ! -f "$ROOT/.device/bundle.tar.xz" ]; then
    echo "gpu-check: no bundle: run 'FIXTURES=\"tiny-xlmr tiny-xlmr-f16 tiny-xlmr-bf16 tiny-bert tiny-qwen3 tiny-gte tiny-modernbert\" bash ../shared/tools/gpu/pack.sh build-cuda/rerank build-cuda/tests/test_cuda build-cuda/loadgen' first" >&2
    exit 2
  fi
  cd "$ROOT/.device" && rm -rf bundle && tar -xJf bundle.tar.xz || exit 2
  # run.sh makes the full-size model when the command names $FULL
  exec bash bundle/run.sh "bash '$ROOT/scripts/gpu-check.sh' --inside --budget $BUDGET$([ $NCU = 1 ] && echo ' --ncu')$([ $SERVE = 1 ] && echo ' --serve')$([ -n "$STEPS" ] && echo " --steps $STEPS") # \$FULL"
fi

# ---- inside bundle/ (run.sh set LD_LIBRARY_PATH, RERANK_SHARED, FULL) -----------------------------------
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
JSONL=$OUT/gpu-check.jsonl
: >"$JSONL"
START=$(date +%s)
FAILED=0
WL=$ROOT/bench/workloads-gpu.json

emit() { echo "$1" | tee -a "$JSONL"; } # one JSON line
left() { echo $((BUDGET - ($(date +%s) - START))); }
# run_step NAME LIMIT: may the step start, and with what time limit?
limit_for() {
  local want=$1 l
  l=$(left)
  [ "$l" -lt "$want" ] && want=$l
  echo "$want"
}
skip() { emit "{\"step\": \"$1\", \"skipped\": \"$2\"}"; }

step_gpu() {
  local q
  q=$(nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>/dev/null | head -1)
  python3 -c 'import json,sys; f=[x.strip() for x in sys.argv[1].split(",")]; print(json.dumps(dict(step="gpu", name=f[0], driver=f[1] if len(f)>1 else "", memory=f[2] if len(f)>2 else "", compute_cap=f[3] if len(f)>3 else "")))' "$q" | tee -a "$JSONL"
}

step_test_cuda() {
  local lim=$1 t0 rc
  t0=$(date +%s)
  timeout "$lim" bin/test_cuda >"$OUT/test_cuda.log" 2>&1
  rc=$?
  cat "$OUT/test_cuda.log"
  # the attention timing lines are JSON already
  grep -o '{"attention".*}' "$OUT/test_cuda.log" >>"$JSONL"
  python3 - "$OUT/test_cuda.log" "$rc" "$(( $(date +%s) - t0 ))" <<'PY' | tee -a "$JSONL"
import json, re, sys
log = open(sys.argv[1], errors="replace").read()
m = re.findall(r"RESULT passed=(\d+) failed=(\d+)", log)
p, f = (int(m[-1][0]), int(m[-1][1])) if m else (0, -1)
fails = [l.strip() for l in log.splitlines() if l.startswith("not ok") or "FAIL" in l][:20]
print(json.dumps(dict(step="test_cuda", rc=int(sys.argv[2]), passed=p, failed=f, seconds=int(sys.argv[3]), failures=fails)))
PY
  [ "$rc" = 0 ] || FAILED=1
}

bench_one() { # workload precision env-assignment...
  local w=$1 p=$2 lim=$3; shift 3
  local runs=5 line
  [ "$w" = L ] && runs=3
  line=$(env "$@" timeout "$lim" bin/rerank bench --model "$FULL" --device cuda:0 --workload "$WL:$w" \
           --precision "$p" --runs $runs 2>"$OUT/bench.err" | tail -1)
  cat "$OUT/bench.err" >>"$OUT/bench.log"
  python3 - "$w" "$p" "$*" "$line" "$(tail -1 "$OUT/bench.err")" <<'PY' | tee -a "$JSONL"
import json, sys
w, p, env, line, err = sys.argv[1:6]
try:
    r = json.loads(line)
except Exception:
    r = {"error": "no JSON from rerank bench (see bench.log)", "output": line[-300:], "stderr": err[-300:]}
print(json.dumps(dict(step="bench", workload=w, precision=p, env=env, result=r)))
PY
  [ -n "$line" ] || FAILED=1
}

step_bench() {
  local w p l
  for w in "${WORKLOADS[@]}"; do
    for p in "${PRECISIONS[@]}"; do
      l=$(limit_for 45); [ "$l" -lt 15 ] && { skip "bench $w $p" "time budget"; continue; }
      bench_one "$w" "$p" "$l"
    done
  done
  for a in "W2 RERANK_CUDA_ATTN=legacy" "W2 RERANK_CUDA_ATTN=flash8" "W3 RERANK_CUDA_GRAPHS=0"; do
    set -- $a
    l=$(limit_for 45); [ "$l" -lt 15 ] && { skip "bench $1 $2" "time budget"; continue; }
    bench_one "$1" fp16 "$l" "$2"
  done
}

step_agreement() {
  local pairs=$RERANK_SHARED/fixtures/golden/pairs-xlmr.jsonl dev p l
  for cfg in "cpu fp32" "cuda:0 fp16" "cuda:0 bf16" "cuda:0 fp8" "cuda:0 fp8 RERANK_CUDA_FP8_WEIGHTS=tensor"; do
    set -- $cfg
    l=$(limit_for 60); [ "$l" -lt 10 ] && { skip "agreement $cfg" "time budget"; continue; }
    env ${3:-} timeout "$l" bin/rerank score --model "$FULL" --device "$1" --precision "$2" --input "$pairs" \
      >"$OUT/score-${1/:/}-$2${3:+-tensor}.jsonl" 2>>"$OUT/agreement.log" || echo "agreement: $cfg failed" >>"$OUT/agreement.log"
  done
  python3 - "$OUT" <<'PY' | tee -a "$JSONL"
import glob, json, math, os, sys
out = sys.argv[1]
def load(f):
    s = {}
    for line in open(f):
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if "score" in r: s[r["index"]] = r["score"]
    return s
def tau(x, y):  # Kendall tau-b
    n, c, d, tx, ty = len(x), 0, 0, 0, 0
    for i in range(n):
        for j in range(i + 1, n):
            a, b = x[i] - x[j], y[i] - y[j]
            if a == 0 and b == 0: continue
            if a == 0: tx += 1
            elif b == 0: ty += 1
            elif (a > 0) == (b > 0): c += 1
            else: d += 1
    den = math.sqrt((c + d + tx) * (c + d + ty))
    return (c - d) / den if den else float("nan")
ref_f = os.path.join(out, "score-cpu-fp32.jsonl")
ref = load(ref_f) if os.path.exists(ref_f) else {}
for f in sorted(glob.glob(os.path.join(out, "score-cuda*.jsonl"))):  # score-cuda0-PRECISION[-tensor].jsonl
    s = load(f)
    keys = sorted(set(s) & set(ref))
    if not keys:
        print(json.dumps(dict(step="agreement", config=os.path.basename(f), error="no scores (see agreement.log)"))); continue
    x, y = [s[k] for k in keys], [ref[k] for k in keys]
    print(json.dumps(dict(step="agreement", config=os.path.basename(f)[6:-6], vs="cpu fp32", pairs=len(keys),
                          max_abs_diff=round(max(abs(a - b) for a, b in zip(x, y)), 6), kendall_tau=round(tau(x, y), 5))))
PY
}

step_torch() {
  local lim=$1
  timeout "$lim" python3 tools/torch_peer.py "$FULL" "$WL" --workloads "$(IFS=,; echo "${WORKLOADS[*]}")" \
    --dtypes fp16,bf16 2>"$OUT/torch.log" | grep '^{' | sed 's/^{/{"step": "torch", /' | tee -a "$JSONL"
  [ "${PIPESTATUS[0]}" = 0 ] || { echo "torch_peer failed (see torch.log):"; tail -5 "$OUT/torch.log"; }
}

step_ncu() {
  local lim=$1
  timeout "$lim" ncu --clock-control none --metrics gpu__time_duration.sum --print-summary per-kernel \
    bin/rerank bench --model "$FULL" --device cuda:0 --workload "$WL:W1" --precision fp16 --runs 1 \
    >"$OUT/ncu.log" 2>&1
  grep -E "^\s+[a-z_].*(Kernel|kernel|gemm|sm90|sm80|cutlass|flash|norm|act)" "$OUT/ncu.log" | head -40
  emit "{\"step\": \"ncu\", \"log\": \"ncu.log\"}"
}

# Qwen3-Reranker-0.6B shape on the GPU: shared prompt prefixes on and off (fp16), Q1 (32 documents of one
# query) and Q2 (bench/workloads-qwen3.json in ../shared); the model is made here (random weights).
step_qwen3() {
  local lim=$1 q=/tmp/q3-0.6b w sp l line
  if [ ! -f $q/model.safetensors ]; then
    timeout $(( lim / 2 )) python3 "$RERANK_SHARED/tools/make_random_model.py" $q --like qwen3-reranker-0.6b \
      >"$OUT/qwen3.log" 2>&1 || { skip qwen3 "make_random_model.py failed (qwen3.log)"; FAILED=1; return; }
  fi
  for w in Q1 Q2; do
    for sp in on off; do
      l=$(limit_for 40); [ "$l" -lt 10 ] && { skip "qwen3 $w shared-prefix $sp" "time budget"; continue; }
      line=$(timeout "$l" bin/rerank bench --model $q --device cuda:0 --workload "$RERANK_SHARED/bench/workloads-qwen3.json:$w" \
               --precision fp16 --runs 5 --shared-prefix $sp 2>>"$OUT/qwen3.log" | tail -1)
      python3 - "$w" "$sp" "$line" <<'PY' | tee -a "$JSONL"
import json, sys
w, sp, line = sys.argv[1:4]
try:
    r = json.loads(line)
except ValueError:
    r = {"error": "no JSON from rerank bench (qwen3.log)", "output": line[-300:]}
print(json.dumps(dict(step="qwen3", workload=w, precision="fp16", shared_prefix=sp, result=r)))
PY
      [ -n "$line" ] || FAILED=1
    done
  done
}

# GET a path of the local server: its body, or nothing (python3: the device image has no curl).
http_get() {
  python3 -c 'import sys, urllib.request
try: sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())
except Exception: sys.exit(1)' "$1"
}

# One server at --batches-in-flight $2 under loadgen: a JSON record.
serve_once() {
  local lim=$1 flight=$2 port=18731 dev=${SERVE_DEVICE:-cuda:0} pid i ready=0 line="" info="" metrics=""
  bin/rerank serve --model "$FULL" --device "$dev" --port $port --max-queue-pairs 4096 --no-access-log \
    --batches-in-flight "$flight" >"$OUT/serve-$flight.log" 2>&1 &
  pid=$!
  for i in $(seq 1 $(( lim / 2 ))); do # load, upload, first pass
    http_get "http://127.0.0.1:$port/ready" >/dev/null && { ready=1; break; }
    kill -0 $pid 2>/dev/null || break
    sleep 1
  done
  if [ $ready = 1 ]; then
    line=$(timeout $(( lim / 2 )) bin/loadgen --url "http://127.0.0.1:$port" -c 32 -d "${SERVE_SECONDS:-15}" --docs 8 \
             --doc-bytes 400 --pid $pid --json 2>>"$OUT/serve-$flight.log" | tail -1)
    info=$(http_get "http://127.0.0.1:$port/info")
    metrics=$(http_get "http://127.0.0.1:$port/metrics" | grep -E '^rerank_(device_memory_bytes|model_healthy|batches_running|batch_(pairs|tokens)_(sum|count))')
  fi
  kill $pid 2>/dev/null
  wait $pid 2>/dev/null
  python3 - "$dev" "$flight" "$ready" "$line" "$info" "$metrics" "$(tail -3 "$OUT/serve-$flight.log")" <<'PY' | tee -a "$JSONL"
import json, sys
dev, flight, ready, line, info, metrics, log = sys.argv[1:8]
r = dict(step="serve", device=dev, batches_in_flight=int(flight))
if ready != "1":
    r["error"] = "the server did not become ready (serve.log)"
    r["log"] = log[-400:]
else:
    try:
        r["loadgen"] = json.loads(line)
    except ValueError:
        r["error"] = "no JSON from loadgen (serve.log)"
        r["output"] = line[-300:]
    try:
        r["info"] = json.loads(info)
    except ValueError:
        r["info"] = info[-300:]
    r["metrics"] = metrics.splitlines()
print(json.dumps(r))
PY
  [ -n "$line" ] || FAILED=1
}

# The server as users run it (two batches in flight on a GPU: the next one packed and queued while one
# computes), then with one at a time: what the overlap gives.
step_serve() {
  local lim=$1
  [ -x bin/loadgen ] || { skip serve "bin/loadgen is not in the bundle (pack.sh ... build-cuda/loadgen)"; return; }
  serve_once $(( lim / 2 )) 2
  serve_once $(( lim / 2 )) 1
}

step_summary() {
  python3 - "$JSONL" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
bench = {(r["workload"], r["precision"], r["env"]): r["result"] for r in rows if r.get("step") == "bench"}
torch = {(r["workload"], r["dtype"]): r for r in rows if r.get("step") == "torch" and "workload" in r}
mm = {r["dtype"]: r["tflops"] for r in rows if r.get("step") == "torch" and "tflops" in r}
print("\nsummary: pairs/s (rerank / PyTorch SDPA, same GPU, same model and token ids)")
print(f"{'workload':9} {'rerank fp16':>12} {'bf16':>9} {'fp8':>9} {'torch fp16':>11} {'bf16':>9} {'fp16 x':>7} {'fp8 x':>7}")
for w in ("W1", "W2", "W3", "L"):
    g = lambda p: bench.get((w, p, ""), {}).get("pairs_per_s")
    t = lambda d: torch.get((w, d), {}).get("pairs_per_s")
    f = lambda v: f"{v:,.1f}" if isinstance(v, (int, float)) else "-"
    ratio = lambda a, b: f"{a / b:.2f}" if a and b else "-"
    print(f"{w:9} {f(g('fp16')):>12} {f(g('bf16')):>9} {f(g('fp8')):>9} {f(t('fp16')):>11} {f(t('bf16')):>9} "
          f"{ratio(g('fp16'), t('fp16')):>7} {ratio(g('fp8'), t('fp16')):>7}")
w3 = bench.get(("W3", "fp16", ""), {}).get("pairs_per_s")
if w3: print(f"W3 latency fp16: {1000 / w3:.3f} ms (goal <= 1.0 ms)")
for (w, p, env), r in bench.items():
    if env: print(f"A/B {w} {p} {env}: {r.get('pairs_per_s', '-')} pairs/s")
gemm = [r for r in rows if r.get("attention") == "flash" and r.get("len") == 512]
for r in gemm: print(f"attention 512 x {r['seqs']}: {r['tflops']} TFLOP/s = {r['of_gemm']} of the fp16 GEMM (goal >= 0.5)")
if mm: print("torch.matmul 8192^3: " + ", ".join(f"{k} {v} TFLOP/s" for k, v in mm.items()))
for r in rows:
    if r.get("step") == "agreement": print(f"agreement {r.get('config')}: tau {r.get('kendall_tau', '-')}, max diff {r.get('max_abs_diff', r.get('error'))}")
    if r.get("step") == "test_cuda": print(f"test_cuda: {r['passed']} passed, {r['failed']} failed (rc {r['rc']})")
    if r.get("step") == "qwen3":
        q = r.get("result", {})
        print(f"qwen3 {r['workload']} fp16 shared-prefix {r['shared_prefix']}: {q.get('pairs_per_s', q.get('error', '-'))} pairs/s, "
              f"computed fraction {q.get('computed_fraction', '-')}")
    if r.get("step") == "serve":
        g = r.get("loadgen", {})
        print(f"serve {r['device']} ({r.get('batches_in_flight', '-')} in flight): " + (f"{g.get('req_per_s', '-')} req/s, {g.get('pairs_per_s', '-')} pairs/s, p50 {g.get('p50_ms', '-')} ms, p99 {g.get('p99_ms', '-')} ms"
                                          if g else r.get("error", "-")))
    if "skipped" in r: print(f"skipped {r['step']}: {r['skipped']}")
PY
}

echo "gpu-check: deadline ${BUDGET} s, results in $JSONL"
for p in "${PLAN[@]}"; do
  IFS='|' read -r name limit _ <<<"$p"
  l=$(limit_for "$limit")
  if [ "$name" != summary ] && [ "$l" -lt 5 ]; then skip "$name" "time budget"; continue; fi
  echo "== $name (<= $l s, $(( $(date +%s) - START )) s elapsed)"
  case $name in
    gpu) step_gpu ;;
    test_cuda) step_test_cuda "$l" ;;
    bench) step_bench ;;
    agreement) step_agreement ;;
    torch) step_torch "$l" ;;
    ncu) step_ncu "$l" ;;
    serve) step_serve "$l" ;;
    qwen3) step_qwen3 "$l" ;;
    summary) step_summary ;;
  esac
done
echo "gpu-check: done in $(( $(date +%s) - START )) s"
exit $FAILED
