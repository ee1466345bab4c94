"""Where the data and the weights are: from an argument, else an environment variable, else a folder
relative to the working directory. Nothing here points into the package, so an installed ``slerir``
(``pip install .``) finds the same folders as a checkout run from its root.

- Datasets (the folder holding ``train/`` and ``test/``): ``root`` argument, else ``$SLERIR_DATA``, else
  ``../shared/datasets`` relative to the working directory, else (a source checkout only) the
  ``shared/datasets`` folder beside the checkout.
- Weights (a weights folder or ``.safetensors`` file): ``path`` argument, else ``$SLERIR_WEIGHTS``. The
  library has no built-in default; the app (``app.py``) and the command lines default to ``assets/weights``.
"""
from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "SLERIR_DATA"
WEIGHTS_ENV = "SLERIR_WEIGHTS"
DEFAULT_DATA = Path("..") / "shared" / "datasets"  # relative to the working directory


def data_root_candidates(root: str | Path | None = None) -> list[Path]:
    """The folders :func:`resolve_data_root` tries, in order."""
    if root is not None:
        return [Path(root).expanduser()]
    env = os.environ.get(DATA_ENV)
    if env:
        return [Path(env).expanduser()]
    out = [Path.cwd() / DEFAULT_DATA]
    checkout = Path(__file__).resolve().parent.parent  # the repository root when run from a checkout
    if (checkout / "slerir" / "paths.py").is_file() and (checkout / ".git").exists():
        out.append(checkout.parent / "shared" / "datasets")
    return out


def resolve_data_root(root: str | Path | None = None, holds: str = "test/ or train/") -> Path:
    """The datasets folder (see the module docstring), resolved.

    Raises:
        FileNotFoundError: none of the candidates exists; the message names them and how to point at one
            (``holds`` says what the folder should contain)."""
    cands = data_root_candidates(root)
    for c in cands:
        if c.is_dir():
            return c.resolve()
    looked = ", ".join(repr(str(c)) for c in cands)
    raise FileNotFoundError(f"datasets folder not found (looked in: {looked}); it should hold {holds}. Pass it "
                            f"with --data-root DIR (root=... in Python) or set {DATA_ENV}=DIR.")


def resolve_weights(path: str | Path | None = None) -> Path:
    """The weights folder or file: ``path``, else ``$SLERIR_WEIGHTS``.

    Raises:
        FileNotFoundError: neither is given (the library has no default weights)."""
    if path is not None and str(path):
        return Path(path).expanduser()
    env = os.environ.get(WEIGHTS_ENV)
    if env:
        return Path(env).expanduser()
    raise FileNotFoundError(f"no weights given: pass a weights folder or .safetensors file (--weights PATH, "
                            f"path=... in Python) or set {WEIGHTS_ENV}=PATH")


CLI_WEIGHTS = Path("assets") / "weights"  # the command lines' default, relative to the working directory


def cli_weights(path: str | Path | None = None) -> Path:
    """The weights a command line uses: ``--weights``, else ``$SLERIR_WEIGHTS``, else ``assets/weights``
    relative to the working directory (a checkout run from its root finds the shipped weights)."""
    try:
        return resolve_weights(path)
    except FileNotFoundError:
        return CLI_WEIGHTS
