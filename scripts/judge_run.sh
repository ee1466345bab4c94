#!/usr/bin/env bash
# Judge every validation checkpoint of a training run against the shipped model by the selection rule
# (docs/v2/selection.md): each runs/NAME/val_weights/step_S gets the GLGF bound (lab.override, as the
# shipped model has it), then `python -m lab.judge` measures them all with the shipped model.
#
#   bash scripts/judge_run.sh runs/tiny_v4 docs/v2/v4_judge.md [--by combined|score]
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:?usage: judge_run.sh RUN_DIR OUT.md [lab.judge flags]}
OUT=${2:?usage: judge_run.sh RUN_DIR OUT.md [lab.judge flags]}
shift 2
name=$(basename "$RUN")
cands=()
for w in "$RUN"/val_weights/step_*/; do
  [ -f "$w/model.safetensors" ] || continue
  o=runs/override/${name}_$(basename "$w")
  [ -f "$o/model.safetensors" ] || python -m lab.override --weights "$w" --set glgf_max_global=0.5 --out "$o" >/dev/null
  cands+=("$o")
done
[ ${#cands[@]} -gt 0 ] || { echo "no validation weights in $RUN/val_weights" >&2; exit 2; }
set +e
python -m lab.judge --shipped assets/weights --candidates "${cands[@]}" --out "$OUT" "$@"
rc=$?
set -e
[ $rc -le 1 ] || exit $rc  # 1: the shipped model stays (not an error here)
