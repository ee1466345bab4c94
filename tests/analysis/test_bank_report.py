"""The offline jobs end to end on a tiny random model, without the shared datasets folder."""
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from analysis import bank as B
from analysis import report as R
from analysis.embedding import EmbeddingBank
from analysis.export import find_browser
from slerir.config import CLASSES


def _fake_datasets(root):
    """A datasets folder with two small clean validation photos (CBSD432 layout)."""
    d = root / "train" / "CBSD432" / "val_minus_CBSD68"
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(2):
        x = np.linspace(0, 255, 240)
        img = (np.stack([x[:, None] + 0 * x, x[None, :] + 0 * x[:, None], 128 + 0 * x[:, None] * x], -1) * 0.8
               + rng.normal(0, 10, (240, 240, 3)))
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(d / f"{i}.jpg", quality=95)
    return root


def test_build_bank_and_cli(tmp_path, restorer, tiny_weights):
    images = [np.asarray(Image.open(p)) for p in sorted((_fake_datasets(tmp_path / "data") / "train" / "CBSD432" /
                                                           "val_minus_CBSD68").glob("*.jpg"))]
    b = B.build_bank(restorer, images, per_class=1, mixed=2, cells_per_mixed=6, cells_per_uniform=2, use_umap=False,
                     progress=False)
    n_global = len(CLASSES)
    assert (b.kinds == "global").sum() == n_global and (b.kinds == "local").sum() > 0
    assert sorted(set(b.labels[b.kinds == "global"].tolist())) == list(range(len(CLASSES)))
    assert b.meta["layout"] == "pca" and b.umap_xy.shape == (len(b), 2) and b.proto_umap_xy.shape == (6, 2)
    assert 0.0 <= b.meta["recognition"]["global_accuracy"] <= 1.0
    json.dumps(b.meta)
    # CLI: tiny run, PCA layout (UMAP's numba compilation is too slow for a unit test)
    out = tmp_path / "bank"
    rc = B.main(["--weights", str(tiny_weights), "--out", str(out), "--per-class", "1", "--mixed", "1",
                 "--data-root", str(tmp_path / "data"), "--no-umap", "--cells", "4"])
    assert rc == 0
    c = EmbeddingBank.load(out)
    assert c.meta["weights_sha256"] and c.meta["layout"] == "pca" and len(c) > len(CLASSES)
    assert c.compatible_with(restorer)[0]
    # missing datasets folder: a clear error, exit code 2
    assert B.main(["--weights", str(tiny_weights), "--out", str(out), "--data-root", str(tmp_path / "nope")]) == 2


def _write_images(folder, n=3):
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(n):
        h, w = 40 + 8 * i, 56 - 4 * i  # odd sizes: padding paths
        img = (rng.random((h, w, 3)) * 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"img{i}.png")
    (folder / "notes.txt").write_text("not an image")


@pytest.mark.slow
def test_report_on_three_generated_images(tmp_path, tiny_weights):
    _write_images(tmp_path / "imgs")
    out = tmp_path / "report"
    rc = R.main(["--images", str(tmp_path / "imgs"), "--out", str(out), "--weights", str(tiny_weights),
                 "--bank", str(tmp_path / "no_bank"), "--mixed", "2", "--data-root", str(tmp_path / "no_data"),
                 "--no-progress"])
    assert rc == 0
    page = (out / "index.html").read_text()
    for sec in R.SECTIONS:
        assert f'id="{sec}"' in page
    assert page.count("plotly.js v") == 1  # plotly.js inlined exactly once
    assert "<script src=" not in page  # nothing fetched: opens offline
    assert page.count("data:image/png;base64,") >= 3 * 5
    assert "predicted class is used as the label" in page and "without UMAP" in page
    assert "--mixed 2 skipped" in page  # no datasets folder: said, not failed
    s = json.loads((out / "summary.json").read_text())
    assert s["routing"]["images"] == 3 and set(s["sections"]) == set(R.SECTIONS)
    assert all(not im["label_known"] for im in s["images"])
    assert s["recognition"]["global_accuracy"] is None  # predicted labels are never scored
    figs = {p.name for p in (out / "figures").glob("*.html")}
    assert {"usage_heatmap.html", "nmi.html", "embedding_sphere.html", "embedding_umap.html", "alpha_hist.html",
            "agreement_all.html"} <= figs
    assert (out / "figures" / "plotly.min.js").is_file()
    assert len(list((out / "figures" / "gallery").glob("*.png"))) >= 3 * 5
    # static copies for slides: every figure as PNG and SVG, or the page says why not
    if os.environ.get("CI") or (find_browser() and importlib.util.find_spec("kaleido")):
        for name in figs:
            stem = name[: -len(".html")]
            png, svg = out / "figures" / f"{stem}.png", out / "figures" / f"{stem}.svg"
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", stem
            assert b"<svg" in svg.read_bytes()[:2000], stem
            assert f"figures/{stem}.png" in s["figures"] and f"figures/{stem}.svg" in s["figures"]
        assert "PNG/SVG copies" not in page
    else:
        assert "PNG/SVG copies not written" in page


@pytest.mark.slow
def test_report_with_shipped_bank_and_mixed_images(tmp_path, restorer, tiny_weights):
    root = _fake_datasets(tmp_path / "data")
    bank_dir = tmp_path / "bank"
    assert B.main(["--weights", str(tiny_weights), "--out", str(bank_dir), "--per-class", "1", "--mixed", "1",
                   "--data-root", str(root), "--no-umap", "--cells", "4"]) == 0
    _write_images(tmp_path / "imgs", n=1)
    out = tmp_path / "report"
    assert R.main(["--images", str(tmp_path / "imgs"), "--out", str(out), "--weights", str(tiny_weights),
                   "--bank", str(bank_dir), "--mixed", "2", "--data-root", str(root), "--no-progress"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["routing"]["images_by_kind"] == {"uniform": 1, "mixed": 2}
    assert s["embedding"]["bank"].startswith("Reference bank")
    assert s["routing"]["alpha"]["mixed"]["mean"] is not None
    page = (out / "index.html").read_text()
    assert "report: " in page  # this report's images overlaid on the shipped bank


@pytest.mark.slow
def test_web_modules_do_not_import_umap_sklearn_gradio_or_demo():
    code = ("import sys, analysis.maps, analysis.routing, analysis.embedding, analysis.figures, analysis.bank, "
            "analysis.report; bad = [m for m in ('umap', 'sklearn', 'gradio', 'demo', 'numba') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
