#!/usr/bin/env bash
# The claims protocol (python -m lab.claims, issue #32) on one lent GPU, as one command: every variant x seed
# trains from scratch on lab/claims_base.json's data recipe, losses and architecture, at a larger batch than the CPU runs
# (BATCH, recorded in each run's train_config.json and in claims.json's protocol), side by side on the GPU
# (PARALLEL runs, WORKERS batch processes each), until they finish or BUDGET seconds have passed; then every
# run is stopped at its next step, saved and resumable (same command again). Prints timings and the device
# time the rest of the protocol needs at the measured rate, evaluates the finished runs when the benchmarks are
# there, and with $OUT set packs the runs into at most 8 tar files of <= 16 MiB (the device tool's limits).
#
# On a device machine (../shared/datasets does not travel; the training photos, 32 MB, do as a carried copy,
# never committed: data/ is git-ignored):
#   mkdir -p data/datasets && cp -r ../shared/datasets/train data/datasets/
#   run(command="bash scripts/claims_gpu.sh", carry=["data/datasets"], timeout_s=600)
# Then here, in the repository root (test/ and real/, 137 MB, do not fit the 64 MiB carry limit beside them):
#   for t in <files_at>/claims_*.tar; do tar xf "$t"; done
#   python -m lab.claims status --runs runs/claims_gpu
#   python -m lab.claims evaluate --runs runs/claims_gpu --out docs/claims/claims_gpu.json
# To go on in a later session, carry runs/claims_gpu as well: a partial run travels as its state.pt (14.4 MiB),
# so beside the tree (7 MiB) and the photos (32 MiB) one partial run fits the 64 MiB carry limit; a finished
# run needs only its weights (3.6 MiB each folder).
#
# Budget (estimate, not measured with this script): the one H200 measurement of the tiny preset (batch 64, 96 px,
# stats_context 3, two runs side by side with 6 batch workers each) gave 4.4-5.6 steps/s per run, so one run of
# 8000 steps at batch 64 needs about 25-30 minutes, and the ten runs of two seeds about 2.2 h of device time:
# far more than a session's 15 minutes (at most 10 per command). Each session therefore advances the runs by
# BUDGET seconds, prints the measured rate and the time left (lab.claims status), and brings the runs back.
# RUNS=runs/claims BATCH=16 PARALLEL=1 WORKERS=14 trains under the CPU protocol itself (same batch, so the run
# pools with the CPU runs; pick VARIANTS and SEEDS no CPU session is training; about 128k samples a run, one
# run per session if the batches come at 300 samples/s).
#
# Variables (defaults): RUNS (runs/claims_gpu), DATA (data/datasets, else ../shared/datasets), VARIANTS (all
# five), SEEDS ("0 1"), STEPS (8000), BATCH (64), PARALLEL (2 runs side by side), WORKERS (7 batch processes
# each: 16 cores), BUDGET (420 s of training), PY (python3).
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-runs/claims_gpu}
if [ -z "${DATA:-}" ]; then
  if [ -d data/datasets/train ]; then DATA=data/datasets; else DATA=../shared/datasets; fi
fi
VARIANTS=${VARIANTS:-"full linear global local shared"}
SEEDS=${SEEDS:-"0 1"}
STEPS=${STEPS:-8000}
BATCH=${BATCH:-64}
PARALLEL=${PARALLEL:-2}
WORKERS=${WORKERS:-7}
BUDGET=${BUDGET:-420}
PY=${PY:-python3}
export PYTHONUNBUFFERED=1

t0=$(date +%s)
stamp() { echo "[$(date +%H:%M:%S), +$(( $(date +%s) - t0 )) s] $*"; }
stamp "claims on the GPU: variants $VARIANTS, seeds $SEEDS, $STEPS steps, batch $BATCH, $PARALLEL side by side, data $DATA"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi (CPU)"
$PY -c "import torch, os; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'cores', os.cpu_count())"
if [ ! -d "$DATA/train" ]; then
  echo "error: $DATA/train missing (copy ../shared/datasets/train to data/datasets/train and carry data/datasets)" >&2
  exit 2
fi

stamp "train"
# shellcheck disable=SC2086  # VARIANTS and SEEDS are word lists
$PY -m lab.claims train --variants $VARIANTS --seeds $SEEDS --steps "$STEPS" --batch "$BATCH" --runs "$RUNS" \
  --nproc 1 --parallel "$PARALLEL" --workers "$WORKERS" --deadline "$BUDGET" --data-root "$DATA" --progress-every 60
train_rc=$?
stamp "train ended (rc $train_rc: 0 = every run finished)"
$PY -m lab.claims status --runs "$RUNS"

if [ -d "$DATA/test" ]; then
  real=(); [ -d "$DATA/real" ] || real=(--no-real)
  stamp "evaluate"
  $PY -m lab.claims evaluate --runs "$RUNS" --out "$RUNS/claims.json" --data-root "$DATA" "${real[@]}" \
    || echo "evaluate: no finished runs yet"
else
  stamp "no $DATA/test on this machine: evaluate the finished runs where the benchmarks are (see the header)"
fi

if [ -n "${OUT:-}" ]; then
  stamp "pack into $OUT"
  $PY -m lab.claims pack --runs "$RUNS" --out "$OUT"
fi
stamp "done"
exit "$train_rc"
