#!/usr/bin/env bash
# Stage 21 on one GPU: two fine-tunes of the shipped weights side by side (configs/tiny_five_stage21a.json and
# ...21b.json), each trained for about BUDGET seconds. A short probe of each measures steps/s first, so both runs
# get a whole cosine schedule (steps = rate x BUDGET) and four validations. Their logs, val.jsonl and the EMA
# weights of every validation are packed into $OUT for checkpoint selection elsewhere (analysis.select).
#
#   OUT=runs/gpu DATA=data/datasets BUDGET=400 bash scripts/gpu_stage21.sh
#
# DATA holds train/CBSD432 (a copy of ../shared/datasets/train, never committed). Without a GPU it runs on the CPU.
set -u
OUT=${OUT:-runs/gpu_stage21}
DATA=${DATA:-../shared/datasets}
BUDGET=${BUDGET:-400}
PROBE=${PROBE:-60}
RUNS=${RUNS:-"a b"}
PY=${PY:-python3}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv 2>/dev/null || echo "no nvidia-smi"
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"

for r in $RUNS; do  # probe: steps/s of each run while the other one runs beside it
  $PY -m slerir.train --config configs/tiny_five_stage21$r.json --data-root "$DATA" --steps "$PROBE" \
    --val-every 0 --log-every 20 --out "/tmp/probe21$r" >"$OUT/probe_$r.log" 2>&1 &
done
wait
declare -A STEPS
for r in $RUNS; do
  rate=$($PY -c "import json; print(json.loads(open('/tmp/probe21$r/log.jsonl').readlines()[-1])['steps_per_s'])") || rate=1
  steps=$($PY -c "print(max(40, int($rate * $BUDGET) // 40 * 40))")
  STEPS[$r]=$steps
  echo "run $r: probe $rate steps/s -> $steps steps"
done

start=$(date +%s)
for r in $RUNS; do
  s=${STEPS[$r]}
  timeout $((BUDGET + 90)) $PY -m slerir.train --config configs/tiny_five_stage21$r.json --data-root "$DATA" \
    --steps "$s" --val-every $((s / 4)) --log-every $((s / 40 > 0 ? s / 40 : 1)) --out "/tmp/run21$r" \
    >"$OUT/train_$r.log" 2>&1 &
done
wait
echo "training took $(( $(date +%s) - start )) s"
for r in $RUNS; do
  tail -n 3 "$OUT/train_$r.log"
  cat "/tmp/run21$r/val.jsonl" 2>/dev/null
  (cd "/tmp/run21$r" && tar cf "$OUT/stage21$r.tar" log.jsonl val.jsonl val_weights 2>/dev/null)
done
ls -la "$OUT"
