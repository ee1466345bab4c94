"""pyproject.toml: ``pip install .`` makes the library importable from any folder, with the dependencies
of requirements.txt (torch pinned, the CPU build: no torchvision)."""
from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _reqs(name: str) -> set[str]:
    lines = (ROOT / name).read_text(encoding="utf-8").splitlines()
    return {ln.strip() for ln in lines if ln.strip() and not ln.startswith(("#", "-r"))}


def test_pyproject_dependencies_are_the_requirements():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    app = set(meta["optional-dependencies"]["app"])
    assert set(meta["dependencies"]) | app == _reqs("requirements.txt")
    assert "torch==2.13.0" in meta["dependencies"] and not any("torchvision" in d for d in meta["dependencies"])
    assert {"gradio==6.31.0", "plotly==7.1.0"} == app  # the library itself needs no UI
    assert _reqs("requirements-dev.txt") <= set(meta["optional-dependencies"]["dev"])


@pytest.mark.slow
def test_pip_install_makes_the_library_importable_from_another_folder(tmp_path):
    src = tmp_path / "src"  # a copy, so the build leaves nothing in the checkout
    src.mkdir()
    for name in ("pyproject.toml", "LICENSE", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for pkg in ("slerir", "analysis", "lab"):
        shutil.copytree(ROOT / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(src)], check=True, timeout=600)
    away = tmp_path / "elsewhere"
    away.mkdir()
    out = subprocess.run([str(py), "-c", "import slerir.inference, slerir.checkpoint, analysis.gains, lab; "
                          "print(slerir.inference.__file__)"], cwd=away, capture_output=True, text=True, check=True)
    assert str(venv) in out.stdout  # the installed copy, not the checkout
