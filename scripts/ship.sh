#!/usr/bin/env bash
# Ship a trained checkpoint as the app's model: copy it to assets/weights, then regenerate everything that
# depends on the weights, each with the command the model card and README cite.
#
#   bash scripts/ship.sh runs/tiny_v2/val_weights/step_008000     # a folder with config.json + model.safetensors
#   STEPS="bank levels" bash scripts/ship.sh runs/...              # only some steps (names below)
#
# Steps: copy eval mirror levels passthrough bank routing real golden. The copy refuses weights below the
# clean-photo floor (>= 35 dB on every clean example, >= 40 dB on mean; lab.select's MIN_PASSTHROUGH*). Run on an idle machine (the evaluation
# takes tens of minutes on 2 cores); pause a background trainer first (kill -STOP / kill -CONT).
# Afterwards: update the model card's tables from the files written here, and commit.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${1:?usage: bash scripts/ship.sh WEIGHTS_DIR}
STEPS=${STEPS:-copy eval mirror levels passthrough bank routing real golden}
NAME=${NAME:-v2_shipped}
[ -f "$SRC/model.safetensors" ] && [ -f "$SRC/config.json" ] || { echo "no config.json + model.safetensors in $SRC" >&2; exit 2; }
has() { [[ " $STEPS " == *" $1 "* ]]; }
step() { echo; echo "== $1: ${*:2}"; "${@:2}"; }

if has copy; then
  # the clean-photo floor first (tests/test_shipped_assets.py holds the shipped weights to it): a model that
  # alters a user's clean photo is not shipped, whatever its other numbers
  python - "$SRC" <<'PY' || { echo "not shipped: $SRC fails the clean-photo floor (python -m lab.passthrough --weights $SRC)" >&2; exit 3; }
import sys
from lab.passthrough import passthrough_table
from lab.select import passthrough_failures
table, res = passthrough_table([sys.argv[1]])
why = passthrough_failures([p for p, _ in res[sys.argv[1]].values()])
print(table, *why, sep="\n")
sys.exit(1 if why else 0)
PY
  # the model shipped until now stays findable by its hash (configs start from it: "init_from": "sha256:...")
  OLD=$(python -c "from slerir.checkpoint import weights_sha256; print(weights_sha256('assets/weights')[:12])")
  mkdir -p "train_state/weights/$OLD" && cp assets/weights/config.json assets/weights/model.safetensors "train_state/weights/$OLD/"
  step copy cp "$SRC/config.json" "$SRC/model.safetensors" assets/weights/
  python -c "from slerir.checkpoint import weights_sha256; print('assets/weights sha256', weights_sha256('assets/weights'))"
fi
has eval && step eval python -m slerir.evaluate --weights assets/weights --suite all --out assets/eval
has mirror && step mirror python -m slerir.evaluate --weights assets/weights --suite all --ensemble mirror --out assets/eval/mirror
has levels && step levels python -m lab.levels --images 12 --weights assets/weights --out assets/eval/levels_restored.md
has passthrough && step passthrough python -m lab.passthrough --weights assets/weights
has bank && step bank python -m analysis.bank --weights assets/weights --out assets/bank
has routing && step routing python -m lab.routing_check --weights assets/weights --out "docs/v2/routing_shipped.md"
has real && step real python -m lab.real_check --weights assets/weights --out "docs/real/$NAME.md"
# the golden outputs guard the shipped model bit for bit: new weights are the one reason to re-record them
has golden && step golden python tests/slerir/test_golden_outputs.py --record
echo; echo "done: now update assets/MODEL_CARD.md, README.md (results, Limits) and demo/ABOUT.md (Limits, the near-tie"
echo "wording) from assets/eval/, docs/real/$NAME.md and docs/v2/routing_shipped.md, and add the lineage to docs/LOG.md"
