#!/usr/bin/env bash
# Carry the claims runs (issue #32: 5 variants x 2 seeds x 8,000 steps from scratch, ~2 h per run on 2 CPU cores)
# across sessions: a session's background processes end with it and runs/ is not committed, so the runs' state
# travels in train_state/claims/ (a finished run: its weights and logs; the run in progress: also its state.pt).
#
#   bash scripts/claims_state.sh resume   # restore runs/claims from train_state/ if needed, go on in the background
#   bash scripts/claims_state.sh save     # stop the runs (each saves at its next step), copy their state to train_state/
#   bash scripts/claims_state.sh status   # each run's step, the measured rate and the time left
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=runs/claims
KEEP=train_state/claims
VARIANTS=${VARIANTS:-full linear global local shared}
SEEDS=${SEEDS:-0 1}
STEPS=${STEPS:-8000}
case "${1:-status}" in
  resume)
    if [ -d "$KEEP" ]; then
      for k in "$KEEP"/*/; do
        r="$RUNS/$(basename "$k")"
        if [ ! -f "$r/state.pt" ] && [ ! -f "$r/weights/model.safetensors" ]; then
          mkdir -p "$r" && cp -r "$k." "$r/" && echo "restored $r from $k"
        fi
      done
    fi
    # PARALLEL runs side by side (default 2), each with THREADS torch threads (default: this machine's 2 cores
    # shared out). Measured here (2026-12-07, the runs' log.jsonl): one run with 2 threads 0.94-1.02 steps/s;
    # two runs with 1 thread each 0.60-0.68 steps/s apiece, about 1.3 in all
    PARALLEL=${PARALLEL:-2}
    THREADS=${THREADS:-$(( PARALLEL >= 2 ? 1 : 2 ))}
    OMP_NUM_THREADS=$THREADS nohup python -m lab.claims train --variants $VARIANTS --seeds $SEEDS \
      --steps "$STEPS" --runs "$RUNS" --parallel "$PARALLEL" --threads "$THREADS" >> "$RUNS.out" 2>&1 &
    echo "claims runs in the background (pid $!), log $RUNS.out"
    ;;
  save)
    pat="lab[.]claims train.*--runs ([^ ]*/)?$RUNS( |\$)"
    pids=$(pgrep -f "$pat" || true)
    if [ -n "$pids" ]; then
      kill -TERM $pids  # lab.claims passes it on: every run saves at its next step
      for _ in $(seq 1 180); do pgrep -f "$pat" >/dev/null || pgrep -f "slerir[.]train --config $RUNS/" >/dev/null || break; sleep 1; done
    fi
    mkdir -p "$KEEP"
    for r in "$RUNS"/*/; do
      [ -f "$r/train_config.json" ] || continue
      k="$KEEP/$(basename "$r")"
      rm -rf "$k" && mkdir -p "$k"
      for f in train_config.json claims_run.json log.jsonl val.jsonl state.pt eval.json; do
        [ -f "$r/$f" ] && cp "$r/$f" "$k/"
      done
      for d in weights best; do
        [ -d "$r/$d" ] && cp -r "$r/$d" "$k/"
      done
      # a finished run needs no optimizer state
      python -c "import sys; from lab.claims import is_finished; from pathlib import Path; sys.exit(0 if is_finished(Path('$r')) else 1)" \
        && rm -f "$k/state.pt"
    done
    [ -f "$RUNS/timings.jsonl" ] && cp "$RUNS/timings.jsonl" "$KEEP/"
    du -sh "$KEEP"
    ;;
  status)
    python -m lab.claims status --runs "$RUNS"
    ;;
  *) echo "usage: $0 resume|save|status" >&2; exit 2 ;;
esac
