"""The lab stays beside the product: nothing in slerir, analysis, demo or app.py imports lab, and the
app imports no evaluation code (lab, slerir.evaluate, slerir.validate, benchmarks)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _sources(*parts: str) -> list[Path]:
    out = []
    for p in parts:
        q = ROOT / p
        out += sorted(q.rglob("*.py")) if q.is_dir() else [q]
    return out


def test_nothing_in_the_product_imports_the_lab():
    offenders = {str(f.relative_to(ROOT)): sorted(n for n in _imports(f) if n == "lab" or n.startswith("lab."))
                 for f in _sources("slerir", "analysis", "demo", "app.py")}
    assert not {k: v for k, v in offenders.items() if v}


def test_the_app_imports_no_evaluation_code():
    banned = ("lab", "benchmarks", "slerir.evaluate", "slerir.validate", "slerir.train")
    offenders = {str(f.relative_to(ROOT)): sorted(n for n in _imports(f) if any(n == b or n.startswith(b + ".")
                                                                                 for b in banned))
                 for f in _sources("demo", "app.py")}
    assert not {k: v for k, v in offenders.items() if v}


def test_the_detector_sees_an_import(tmp_path):
    f = tmp_path / "x.py"
    f.write_text("import os\nfrom lab.levels import main\n")
    assert {"lab.levels", "os"} <= _imports(f)
