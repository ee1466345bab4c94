#!/usr/bin/env bash
# Several training runs side by side on one GPU (configs/tiny_five_stage$r.json for each r in RUNS), each for
# about BUDGET seconds. Without STEPS, a short probe of each measures steps/s first, so every run gets a whole
# cosine schedule (steps = rate x BUDGET); with STEPS, each runs that many. Four validations per run. Their
# logs, val.jsonl and the EMA weights of every validation are packed into $OUT/stage$r.tar for checkpoint
# selection elsewhere (analysis.select). Stage 21 (a, b), then 21c and 21d:
#
#   OUT=runs/gpu DATA=data/datasets BUDGET=420 RUNS="21a 21b" bash scripts/gpu_side_by_side.sh
#   OUT=runs/gpu DATA=data/datasets BUDGET=170 RUNS="21c 21d" STEPS=800 bash scripts/gpu_side_by_side.sh
#
# DATA holds train/CBSD432 (a copy of ../shared/datasets/train, never committed). Without a GPU it runs on the CPU.
set -u
OUT=${OUT:-runs/gpu_stage21}
DATA=${DATA:-../shared/datasets}
BUDGET=${BUDGET:-400}
PROBE=${PROBE:-60}
RUNS=${RUNS:-"21a 21b"}
STEPS=${STEPS:-}
LIMIT=${LIMIT:-$((BUDGET + 90))}  # seconds before timeout stops a run (SIGTERM: the trainer saves and stops)
PY=${PY:-python3}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv 2>/dev/null || echo "no nvidia-smi"
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"

declare -A STEPS_OF
if [ -n "$STEPS" ]; then
  for r in $RUNS; do STEPS_OF[$r]=$STEPS; done
else
  for r in $RUNS; do  # probe: steps/s of each run while the others run beside it
    $PY -m slerir.train --config configs/tiny_five_stage$r.json --data-root "$DATA" --steps "$PROBE" \
      --val-every 0 --log-every 20 --out "/tmp/probe$r" >"$OUT/probe_$r.log" 2>&1 &
  done
  wait
  for r in $RUNS; do
    rate=$($PY -c "import json; print(json.loads(open('/tmp/probe$r/log.jsonl').readlines()[-1])['steps_per_s'])") || rate=1
    STEPS_OF[$r]=$($PY -c "print(max(40, int($rate * $BUDGET) // 40 * 40))")
    echo "run $r: probe $rate steps/s -> ${STEPS_OF[$r]} steps"
  done
fi

start=$(date +%s)
for r in $RUNS; do
  s=${STEPS_OF[$r]}
  timeout "$LIMIT" $PY -m slerir.train --config configs/tiny_five_stage$r.json --data-root "$DATA" \
    --steps "$s" --val-every $((s / 4)) --log-every $((s / 40 > 0 ? s / 40 : 1)) --out "/tmp/run$r" \
    >"$OUT/train_$r.log" 2>&1 &
done
wait
echo "training took $(( $(date +%s) - start )) s"
for r in $RUNS; do
  tail -n 3 "$OUT/train_$r.log"
  cat "/tmp/run$r/val.jsonl" 2>/dev/null
  (cd "/tmp/run$r" && tar cf "$OUT/stage$r.tar" log.jsonl val.jsonl val_weights 2>/dev/null)
  (cd "/tmp/run$r" && tar cf "$OUT/stage${r}_last.tar" weights 2>/dev/null)  # the EMA where it stopped
done
ls -la "$OUT"
