"""SLER-IR Studio: ``python app.py`` serves the demo on http://127.0.0.1:7860 (a Hugging Face Space
runs the same file; it sets GRADIO_SERVER_NAME=0.0.0.0).

Loads the shipped weights (``--weights`` / ``SLERIR_WEIGHTS`` / ``assets/weights``), the optional
embedding bank (``assets/bank``) and model card (``assets/MODEL_CARD.md``), builds the app with
``demo.build_demo`` and launches it. Nothing is downloaded at run time.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
ASSETS = ROOT / "assets"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="SLER-IR Studio (Gradio demo)")
    ap.add_argument("--weights", default=os.environ.get("SLERIR_WEIGHTS") or str(ASSETS / "weights"),
                    help="weights folder or .safetensors file (env SLERIR_WEIGHTS; default assets/weights)")
    ap.add_argument("--bank", default=str(ASSETS / "bank"), help="embedding bank folder (optional)")
    ap.add_argument("--levels", default=str(ASSETS / "eval" / "levels_restored.json"),
                    help="lab.levels --weights JSON: the restore summary tells what the weights gain on the "
                         "predicted kind (used only when it was measured with these weights)")
    ap.add_argument("--host", default=None, help="bind address (default: env GRADIO_SERVER_NAME or 127.0.0.1)")
    ap.add_argument("--port", type=int, default=None, help="port (default: env GRADIO_SERVER_PORT or 7860)")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("SLERIR_THREADS") or 0),
                    help="torch CPU threads (env SLERIR_THREADS; 0 = torch's default)")
    ap.add_argument("--strength", default=os.environ.get("SLERIR_STRENGTH") or "auto",
                    help="share of the network's change the Restore tab keeps: 'auto' (1 - P(clean): a photo the model "
                         "takes for clean comes back as it was; default) or a number in [0, 1] (1: the network's output)")
    ap.add_argument("--ensemble", choices=["mirror", "x8", "none"],
                    default=os.environ.get("SLERIR_ENSEMBLE") or "none",
                    help="self-ensemble of every restoration (env SLERIR_ENSEMBLE; default none: one pass, "
                         "within the latency targets; mirror: the image and its mirror averaged, 2x the time)")
    return ap.parse_args(argv)


def load_gains(levels: str | Path, weights: Path, fingerprint: str | None) -> dict[str, tuple[float, float]] | None:
    """The measured PSNR gain per kind of ``weights`` (whose ``slerir.checkpoint.weights_fingerprint`` is
    ``fingerprint``) from a ``lab.levels --weights`` JSON (None: no such file, or measured with other
    weights, said on stderr)."""
    import json

    from analysis.gains import kind_gains

    path = Path(levels)
    if not path.is_file():
        return None
    try:
        gains = kind_gains(json.loads(path.read_text(encoding="utf-8")), fingerprint)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        print(f"SLER-IR Studio: not using {path}: unreadable ({type(e).__name__}: {e})", file=sys.stderr)
        return None
    if gains is None:
        print(f"SLER-IR Studio: not using {path}: measured with other weights (rebuild it with: python -m "
              f"lab.levels --images 12 --weights {weights} --out {path.with_suffix('.md')})", file=sys.stderr)
    return gains


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    weights = Path(args.weights)
    if not weights.exists():
        sys.exit(f"SLER-IR Studio: no weights at {weights}.\n"
                 "Put the trained weights folder (model.safetensors + config.json) there, or pass "
                 "--weights PATH / set SLERIR_WEIGHTS.")

    from slerir.checkpoint import CheckpointError
    from slerir.inference import Restorer

    from demo.ui import MAX_PIXELS, TILE, build_demo, launch_kwargs

    try:
        restorer = Restorer.from_pretrained(weights, max_pixels=MAX_PIXELS, tile=TILE, threads=args.threads,
                                            ensemble=None if args.ensemble == "none" else args.ensemble)
    except CheckpointError as e:
        sys.exit(f"SLER-IR Studio: cannot load the weights: {e}")
    except (ValueError, TypeError, RuntimeError) as e:  # e.g. a wrongly typed config.json value
        sys.exit(f"SLER-IR Studio: cannot load the weights in {weights}: {type(e).__name__}: "
                 f"{(str(e).splitlines() or [''])[0]}")
    from slerir.checkpoint import weights_fingerprint

    fingerprint = weights_fingerprint(weights)  # hashed once: the bank and the gain table are matched by it
    bank = None
    if (Path(args.bank) / "bank.npz").exists():
        from analysis.embedding import EmbeddingBank

        bank = EmbeddingBank.load(args.bank)
        ok, why = bank.compatible_with(restorer, fingerprint)
        if not ok:  # a bank from other weights would place points in a different space: leave it out
            print(f"SLER-IR Studio: not using the embedding bank in {args.bank}: {why} "
                  f"(rebuild it with: python -m analysis.bank --weights {weights} --out BANK_DIR)", file=sys.stderr)
            bank = None
    card = ASSETS / "MODEL_CARD.md"
    model_card = card.read_text(encoding="utf-8") if card.is_file() else None

    from slerir.inference import OptionError, parse_strength

    try:
        strength = parse_strength(args.strength)
    except OptionError as e:
        sys.exit(f"SLER-IR Studio: --strength: {e}")
    demo = build_demo(restorer, bank=bank, model_card=model_card, gains=load_gains(args.levels, weights, fingerprint),
                      strength=strength)
    demo.slerir_callbacks.warm_up()
    demo.launch(**launch_kwargs(server_name=args.host, server_port=args.port))


if __name__ == "__main__":
    main()
