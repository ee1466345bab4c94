"""lab.judge: the selection rule applied to measured rows, and the measurements behind them."""
from __future__ import annotations

import json

import pytest

from lab import judge as J


def _row(name, **kw):
    r = {"weights": name, "score": 27.64, "decisive": 9, "nmi": 0.69, "split": 4, "clean_mean": 46.5,
         "clean_worst": 41.6, "sidd_gain": 7.1, "sidd_below": 0, "paired": {"Raindrop_pairs": {"gain": 0.06, "below": 0}},
         "recognition": {"noise": 0.84, "rain": 0.29, "haze": 0.84, "lowlight": 0.81},
         "white_noise": {"15": 30.14, "25": 28.58, "50": 25.68}}
    r.update(kw)
    return r


@pytest.mark.parametrize("change, reason", [
    ({"decisive": 5}, "routing"), ({"nmi": 0.49}, "routing"), ({"split": 3}, "routing"),
    ({"clean_mean": 39.9}, "clean"), ({"clean_worst": 34.0}, "clean"),
    ({"sidd_gain": 5.9}, "SIDD"), ({"sidd_below": 1}, "SIDD"),
    ({"paired": {"Raindrop_pairs": {"gain": -0.01, "below": 1}}}, "paired"), ({"score": 27.48}, "score")])
def test_each_floor_makes_a_candidate_ineligible(change, reason):
    v = J.judge(_row("shipped"), [_row("cand", **change)])
    assert v["verdicts"][0]["failures"] == [reason] and not v["verdicts"][0]["eligible"]
    assert v["pick"] == "shipped"


def test_the_tolerance_is_inclusive_and_measured_against_the_shipped_model():
    assert J.failures(_row("c", score=27.49), 27.64) == []
    assert J.failures(_row("c", score=27.489), 27.64) == ["score"]
    assert J.failures(_row("c", score=27.0), 27.1, tolerance=0.15) == []


def test_recognition_floors_come_before_the_last_criterion():
    better_rain = _row("rain", score=27.50, recognition={"noise": 0.84, "rain": 0.70, "haze": 0.84, "lowlight": 0.81})
    sharper = _row("sharp", score=27.60, white_noise={"15": 31.5, "25": 29.0, "50": 26.0})
    assert J.floors_met(better_rain) == 4 and J.floors_met(sharper) == 3
    assert J.judge(_row("shipped"), [sharper, better_rain])["pick"] == "rain"


def test_combined_and_score_can_pick_differently():
    shipped = _row("shipped")
    blend = _row("blend", score=27.536, white_noise={"15": 31.05, "25": 28.81, "50": 25.74})
    assert J.combined(blend) == pytest.approx(0.5 * (27.536 + (31.05 + 28.81 + 25.74) / 3))
    assert J.judge(shipped, [blend], by="score")["pick"] == "shipped"  # the blends' rule: the shipped model stays
    assert J.judge(shipped, [blend], by="combined")["pick"] == "blend"  # v4's rule counts white noise
    assert J.judge(shipped, [_row("same")], by="combined")["pick"] == "shipped"  # ties keep the shipped model
    with pytest.raises(ValueError, match="by"):
        J.judge(shipped, [blend], by="psnr")


def test_markdown_names_the_pick_and_the_failures():
    shipped, bad = _row("shipped"), _row("bad", split=2, score=27.3)
    good = _row("good", white_noise={"15": 31.5, "25": 29.0, "50": 26.0})
    v = J.judge(shipped, [bad, good])
    md = J.to_markdown(shipped, [bad, good], v)
    assert "no: routing, score" in md and "**`good`**" in md and "Picked: `good`" in md
    md = J.to_markdown(shipped, [bad], J.judge(shipped, [bad]))
    assert "The shipped model stays" in md


def test_judge_refuses_folders_that_are_not_weights(tmp_path, capsys):
    assert J.main(["--shipped", str(tmp_path), "--candidates", str(tmp_path / "x")]) == 2
    assert "not weights folders" in capsys.readouterr().err


@pytest.mark.slow
def test_judge_measures_real_folders(tiny_weights, tmp_path):
    """The whole command on the tiny test weights, judged against themselves: every number is measured, and a
    copy of the shipped folder ties with it, so the shipped model stays (exit 1)."""
    out = tmp_path / "judge.md"
    code = J.main(["--shipped", str(tiny_weights), "--candidates", str(tiny_weights), "--detail-images", "1", "--real-limit", "1",
                   "--threads", "1", "--out", str(out)])
    assert code == 1
    res = json.loads(out.with_suffix(".json").read_text())
    a, b = res["rows"]
    assert a["score"] == b["score"] and set(a["white_noise"]) == {"15", "25", "50"}
    assert 0 <= a["split"] <= 9 and a["clean_worst"] <= a["clean_mean"] and a["sidd_below"] >= 0
    assert res["verdict"]["pick"] == str(tiny_weights) and "The shipped model stays" in out.read_text()
