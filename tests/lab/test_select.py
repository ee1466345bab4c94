"""lab.select: the shipping rule (best validation score among weights passing the clean-photo check)."""
import json

import numpy as np
from PIL import Image

from lab import select as S


def _row(name, score, **cats):
    base = {"clean": 45.0, "dark": 45.0, "noise": 29.0, "haze": 24.0, "lowlight": 22.0}
    return {"weights": name, **base, **cats, "mean_psnr": 30.0, "score": score, "recognition": 0.9, "seconds": 1.0}


def test_choose_takes_the_best_score_among_eligible():
    rows = [_row("a", 29.7), _row("b", 29.6), _row("c", 29.5), _row("d", 29.9, haze=23.5)]
    pt = {"a": {"x": (34.7, "clean"), "y": (50.0, "clean")},  # worst photo below 35
          "b": {"x": (36.0, "clean"), "y": (37.0, "clean")},  # mean below 40
          "c": {"x": (40.0, "clean"), "y": (45.0, "haze")},
          "d": {"x": (40.0, "clean"), "y": (45.0, "clean")}}
    best, why = S.choose(rows, pt)
    assert best == 3 and why[3] == []  # without a reference the haze drop is not seen
    assert "passthrough worst 34.70 < 35" in why[0] and "passthrough mean 36.50 < 40" in why[1]
    ref = _row("ref", 29.0)
    best, why = S.choose(rows, pt, reference=ref, floor_db=0.3)
    assert best == 2 and why[3] == ["haze 23.50 < 24.00 - 0.3"]
    # clean/dark are left to the passthrough check; a drop within the floor is allowed
    best, why = S.choose([_row("c", 29.5, clean=30.0, noise=28.8)], pt, reference=ref, floor_db=0.3)
    assert best == 0
    best, why = S.choose(rows[:2], pt)  # neither passes the clean-photo check
    assert best is None and all(why)


def test_cli_validates_checks_and_writes_the_choice(tmp_path, tiny_weights, data_root):
    folder = tmp_path / "ex"
    folder.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((40, 48, 3)) * 255).astype(np.uint8)).save(folder / "clean_a.png")
    out = tmp_path / "sel.md"
    args = ["--weights", str(tiny_weights), "--profile", "full", "--n", "8", "--images", str(folder),
            "--threads", "1", "--out", str(out)]
    # a random model changes the photo a lot: with the default floors nothing is eligible
    assert S.main(args) == 1
    res = json.loads(out.with_suffix(".json").read_text())
    assert res["chosen"] is None and res["rows"][0]["not_eligible"]
    assert "none (no weights passed)" in out.read_text()
    # floors low enough: chosen, with its validation row and passthrough in the table
    assert S.main(args + ["--min-passthrough", "0", "--min-passthrough-mean", "0", "--floor-vs", str(tiny_weights)]) == 0
    res = json.loads(out.with_suffix(".json").read_text())
    assert res["chosen"] == 0 and set(res["rows"][0]["passthrough"]) == {"clean_a"}
    assert {"noise", "haze", "score"} <= set(res["rows"][0])
    text = out.read_text()
    assert "**chosen**" in text and f"`{tiny_weights}`" in text
    assert "| recognition |" in text and f"| {100 * res['rows'][0]['recognition']:.1f}% |" in text
    assert S.main(["--weights", str(tmp_path / "missing"), "--n", "8", "--images", str(folder)]) == 2
