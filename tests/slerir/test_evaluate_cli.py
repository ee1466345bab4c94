import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from slerir.evaluate import main as evaluate_main
from slerir.restore import class_summary, main as restore_main
from tests.conftest import REPO


def _table_rows(md: str) -> list[list[str]]:
    lines = [l for l in md.splitlines() if l.startswith("|") and not l.startswith("|---")]
    return [[c.strip() for c in l.strip("|").split("|")] for l in lines]


def test_evaluate_two_image_subset_fills_every_column(tmp_path, weights_dir, data_root):
    out = tmp_path / "ev"
    rc = evaluate_main(["--weights", str(weights_dir), "--suite", "lol,rain100l", "--limit", "2", "--baselines",
                        "--data-root", str(data_root), "--out", str(out)])
    assert rc == 0
    md = (out / "results.md").read_text()
    rows = _table_rows(md)
    header, body = rows[0], rows[1:]
    assert "SLER-IR PSNR" in header and "baseline PSNR" in header and "recognition" in header
    assert len(body) == 3  # two benchmarks + average
    for r in body:
        assert len(r) == len(header)
        assert all(c not in ("", "None") for c in r[:len(header) - 3]), r
    lol = body[0]
    assert all(c not in ("", "n/a", "None") for c in lol), lol  # a task with a classical baseline: every cell
    assert body[1][header.index("baseline")] == "n/a"  # no maintained deraining baseline: said, not blank
    res = json.loads((out / "results.json").read_text())
    assert [r["n"] for r in res["rows"]] == [2, 2]
    assert res["rows"][0]["baseline_psnr"] > res["rows"][0]["input_psnr"]
    assert res["meta"]["ssim_variant"] == "skimage"
    for r in res["rows"]:  # the confusion row: every image counted once, its own class = recognition
        assert sum(r["predicted"].values()) == r["n"]
        assert r["predicted"].get(r["task"], 0) == round(r["recognition"] * r["n"])
    wrong = [r for r in res["rows"] if r["recognition"] < 1]
    assert ("Misrecognised images" in md) == bool(wrong)
    for r in res["rows"]:  # per image: the means of the row come from these records
        assert len(r["images"]) == r["n"] and len({im["name"] for im in r["images"]}) == r["n"]
        assert np.mean([im["input_psnr"] for im in r["images"]]) == pytest.approx(r["input_psnr"], abs=1e-3)
        assert np.mean([im["psnr"] for im in r["images"]]) == pytest.approx(r["psnr"], abs=1e-3)
        assert np.mean([im["predicted"] == r["task"] for im in r["images"]]) == r["recognition"]


def test_misrecognised_line_gives_input_psnr_of_both_groups():
    from slerir.evaluate import to_markdown

    row = {"benchmark": "rain100l", "task": "rain", "n": 3, "psnr": 30.0, "ssim": 0.9, "input_psnr": 26.0,
           "input_ssim": 0.8, "recognition": 1 / 3, "predicted": {"clean": 2, "rain": 1}, "baseline": None,
           "baseline_psnr": None, "baseline_ssim": None, "seconds_per_image": 0.1,
           "images": [{"name": "a", "input_psnr": 31.0, "psnr": 32.0, "predicted": "clean"},
                      {"name": "b", "input_psnr": 29.0, "psnr": 31.0, "predicted": "clean"},
                      {"name": "c", "input_psnr": 18.0, "psnr": 27.0, "predicted": "rain"}]}
    meta = {"protocol": "full", "ssim_description": "x", "wall_time_s": 1.0, "model": "tiny", "weights_step": 1}
    md = to_markdown({"rows": [row], "meta": meta})
    assert "Rain100L: clean 2 (input 30.00 dB; recognised 18.00 dB)." in md
    del row["images"]  # tables written before the per-image records still render
    assert "Rain100L: clean 2." in to_markdown({"rows": [row], "meta": meta})


def test_evaluate_literature_protocol(tmp_path, weights_dir, data_root, capsys):
    rc = evaluate_main(["--weights", str(weights_dir), "--suite", "sots", "--limit", "1", "--protocol", "literature",
                        "--ssim", "gaussian", "--data-root", str(data_root)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "Protocol: literature" in out and "aussian" in out


def test_evaluate_missing_data_root_is_clear(tmp_path, weights_dir, capsys):
    rc = evaluate_main(["--weights", str(weights_dir), "--suite", "sots", "--data-root", str(tmp_path / "none")])
    assert rc == 2
    assert "--data-root" in capsys.readouterr().err


def test_restore_cli_file_and_folder(tmp_path, weights_dir, capsys):
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(src / "a.jpg")
    Image.fromarray(rng.integers(0, 255, (30, 20, 4), dtype=np.uint8), "RGBA").save(src / "b.png")
    (src / "notes.txt").write_text("not an image")
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    assert restore_main([str(src / "a.jpg"), str(tmp_path / "a_out.png"), "--weights", str(weights_dir)]) == 0
    out = Image.open(tmp_path / "a_out.png")
    assert out.format == "PNG" and out.size == (50, 40)
    dst = tmp_path / "out"
    rc = restore_main([str(src), str(dst), "--weights", str(weights_dir)])
    assert rc == 1  # one broken file reported, the others written
    assert sorted(p.name for p in dst.iterdir()) == ["a.png", "b.png"]
    assert Image.open(dst / "b.png").size == (20, 30)
    err = capsys.readouterr().err
    assert "broken.png" in err and "Traceback" not in err
    # file in, folder out: refused clearly
    assert restore_main([str(src / "a.jpg"), str(dst), "--weights", str(weights_dir)]) == 2
    assert restore_main([str(src / "a.jpg"), str(tmp_path / "x.jpg"), "--weights", str(weights_dir)]) == 2


@pytest.mark.slow
def test_restore_cli_as_module(tmp_path, weights_dir):
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "z.png")
    p = subprocess.run([sys.executable, "-m", "slerir.restore", str(tmp_path / "z.png"), str(tmp_path / "o.png"),
                        "--weights", str(weights_dir)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    p = subprocess.run([sys.executable, "-m", "slerir.restore", str(tmp_path / "z.png"), str(tmp_path / "o.png"),
                        "--weights", str(tmp_path / "missing")], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "not found" in p.stderr and "Traceback" not in p.stderr


def test_evaluate_mirror_ensemble_is_recorded_and_differs(tmp_path, weights_dir, data_root):
    outs = {}
    for ens in (None, "mirror"):
        out = tmp_path / str(ens)
        args = ["--weights", str(weights_dir), "--suite", "lol", "--limit", "1", "--data-root", str(data_root),
                "--out", str(out)] + (["--ensemble", ens] if ens else [])
        assert evaluate_main(args) == 0
        outs[ens] = json.loads((out / "results.json").read_text())
    assert outs["mirror"]["meta"]["ensemble"] == "mirror" and outs[None]["meta"]["ensemble"] is None
    assert "`mirror` self-ensemble" in (tmp_path / "mirror" / "results.md").read_text()
    assert outs["mirror"]["rows"][0]["psnr"] != outs[None]["rows"][0]["psnr"]
    assert outs["mirror"]["rows"][0]["input_psnr"] == outs[None]["rows"][0]["input_psnr"]


def test_restore_cli_ensemble_default_mirror_and_none(tmp_path, weights_dir):
    from slerir.inference import Restorer

    x = np.random.default_rng(2).integers(0, 255, (24, 40, 3), dtype=np.uint8)
    Image.fromarray(x).save(tmp_path / "x.png")
    assert restore_main([str(tmp_path / "x.png"), str(tmp_path / "m.png"), "--weights", str(weights_dir)]) == 0
    assert restore_main([str(tmp_path / "x.png"), str(tmp_path / "n.png"), "--weights", str(weights_dir),
                         "--ensemble", "none"]) == 0
    m, n = (np.asarray(Image.open(tmp_path / f), dtype=np.float32) / 255 for f in ("m.png", "n.png"))
    single = Restorer.from_pretrained(weights_dir).restore(tmp_path / "x.png", capture=False).image
    mirror = Restorer.from_pretrained(weights_dir, ensemble="mirror").restore(tmp_path / "x.png", capture=False).image
    assert np.abs(n - single).max() <= 1 / 255 + 1e-6 and np.abs(m - mirror).max() <= 1 / 255 + 1e-6
    assert np.abs(m - n).max() > 2 / 255  # the default really is the ensemble


def test_baselines_in_worker_processes_match_inline(data_root):
    from slerir.evaluate import evaluate

    one = evaluate(None, ["lol", "rain100l"], data_root, limit=2, baselines=True, progress=False)
    two = evaluate(None, ["lol", "rain100l"], data_root, limit=2, baselines=True, progress=False, jobs=2)
    lol1, rain1 = one["rows"]
    lol2, rain2 = two["rows"]
    assert lol1["baseline_psnr"] is not None and lol1["baseline_psnr"] == pytest.approx(lol2["baseline_psnr"], abs=1e-9)
    assert lol1["baseline_ssim"] == pytest.approx(lol2["baseline_ssim"], abs=1e-9) and lol1["n"] == lol2["n"] == 2
    assert rain1["baseline_psnr"] is None and rain2["baseline_psnr"] is None and rain2["n"] == 2  # no deraining baseline
    assert two["meta"]["baseline_jobs"] == 2


def test_restore_line_names_the_recognised_class_and_close_seconds():
    classes = ("clean", "noise", "rain", "haze", "blur", "lowlight")
    assert class_summary(classes, [0.06, 0.0, 0.0, 0.42, 0.52, 0.0]) == "blur 52%, haze 42%"
    assert class_summary(classes, [0.95, 0.01, 0.01, 0.01, 0.01, 0.01]) == "clean 95%"
    assert class_summary(classes, [0.3, 0.2, 0.2, 0.1, 0.1, 0.1]).split(", ")[0] == "clean 30%"
