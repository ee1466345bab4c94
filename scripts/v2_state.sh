#!/usr/bin/env bash
# Carry a v2 training run across sessions: a session's background processes end with it and runs/ is not
# committed, so the run's state travels in train_state/<run>/. The run: NAME (default tiny_v2_1, the recipe
# configs/tiny_v2_1.json; NAME=tiny_v2 is the finished run of configs/tiny_v2.json).
#
#   bash scripts/v2_state.sh resume   # restore runs/tiny_v2 from train_state/ if needed, continue in the background
#   bash scripts/v2_state.sh save     # stop the trainer (it saves on SIGTERM), copy its state to train_state/
#   bash scripts/v2_state.sh status   # step, last validation, last per-layer top-1 weights
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=${NAME:-tiny_v2_1}
RUN=runs/$NAME
KEEP=train_state/$NAME
case "${1:-status}" in
  resume)
    if [ ! -f "$RUN/state.pt" ] && [ -f "$KEEP/state.pt" ]; then
      mkdir -p "$RUN" && cp -r "$KEEP/." "$RUN/"
      echo "restored $RUN from $KEEP"
    fi
    [ -f "$RUN/state.pt" ] || { echo "no state in $RUN or $KEEP: start with python -m slerir.train --config configs/$NAME.json --out $RUN" >&2; exit 2; }
    nohup python -m slerir.train --out "$RUN" --resume --threads "${THREADS:-1}" >> "$RUN.out" 2>&1 &
    echo "training in the background (pid $!), log $RUN.out"
    ;;
  save)
    pat="slerir[.]train.*--out ([^ ]*/)?$RUN( |\$)"  # --out runs/tiny_v2 or an absolute path ending in it
    pids=$(pgrep -f "$pat" || true)
    if [ -n "$pids" ]; then
      kill -TERM $pids
      for _ in $(seq 1 120); do pgrep -f "$pat" >/dev/null || break; sleep 1; done
    fi
    mkdir -p "$KEEP"
    cp "$RUN/state.pt" "$RUN/log.jsonl" "$KEEP/"
    [ -f "$RUN/val.jsonl" ] && cp "$RUN/val.jsonl" "$KEEP/"
    [ -d "$RUN/val_weights" ] && rm -rf "$KEEP/val_weights" && cp -r "$RUN/val_weights" "$KEEP/"
    du -sh "$KEEP"
    ;;
  status)
    python - "$RUN" <<'PY'
import json, sys
from pathlib import Path
run = Path(sys.argv[1])
logs = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines() if l.strip()] if (run / "log.jsonl").exists() else []
if not logs:
    sys.exit(f"no log in {run}")
last = logs[-1]
print(f"step {last['step']}, {last.get('steps_per_s')} steps/s, l1 {last['l1']:.4f}, routing entropy {last.get('entropy', float('nan')):.3f}")
print("median top-1 weight per layer (training batch):", last.get("top1"))
vals = [json.loads(l) for l in (run / "val.jsonl").read_text().splitlines()] if (run / "val.jsonl").exists() else []
for v in vals[-3:]:
    print(f"validation step {v['step']}: score {v['score']:.2f}, mean {v['mean_psnr']:.2f}, recognition {v['recognition']:.1%}")
PY
    ;;
  *) echo "usage: $0 resume|save|status" >&2; exit 2 ;;
esac
