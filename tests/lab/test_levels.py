"""lab.levels: PSNR of each synthetic degradation by strength."""
import json

import pytest

from lab import levels
from slerir.degradations import KINDS


def test_levels_fall_with_strength_and_cli_writes_the_table(tmp_path, data_root):
    out = tmp_path / "levels.md"
    assert levels.main(["--images", "2", "--bench-limit", "2", "--data-root", str(data_root), "--out", str(out)]) == 0
    res = json.loads(out.with_suffix(".json").read_text())
    assert set(res["psnr"]) == set(KINDS) and res["images"] == 2
    for kind, vals in res["psnr"].items():
        assert len(vals) == len(levels.STRENGTHS)
        assert vals[0] > vals[-1] + 1, (kind, vals)  # the strongest is clearly worse than the weakest
        assert all(5 < v < 60 for v in vals), (kind, vals)
    assert all(v is not None and 5 < v < 40 for v in res["benchmark_input"].values())
    md = out.read_text()
    assert all(f"| {k} |" in md for k in KINDS) and "rain100l" in md
    for kind in ("rain", "haze"):  # below the strength range: fainter as it thins, none stronger than strength 0
        v = list(res["faint"][kind].values())
        assert v[0] > v[1] > v[2] >= res["psnr"][kind][0] - 1.0, (kind, v)
    assert "Drizzle" in md and "Thin haze" in md and "Wide rain" in md
    wide = res["wide_rain"]  # as many px of streak as the default rain: about as strong, and falling with strength
    assert len(wide) == len(levels.STRENGTHS) and wide[0] > wide[-1] + 1
    assert all(abs(w - r) < 6 for w, r in zip(wide, res["psnr"]["rain"])), (wide, res["psnr"]["rain"])


def test_levels_missing_data_is_a_clear_error(tmp_path, capsys):
    assert levels.main(["--data-root", str(tmp_path / "none")]) == 2
    assert "error:" in capsys.readouterr().err


def test_restored_table_pairs_the_degraded_with_the_restored(data_root):
    from slerir.data import load_clean_images

    images = load_clean_images(data_root, "val")[:2]
    same = levels.restored_table(images, {"same": lambda lq: lq}, strengths=(0.0, 1.0), lengths=(5.0, 25.0))["same"]
    assert set(same["strength"]) == set(KINDS)
    for kind, pairs in same["strength"].items():  # an identity "restorer" gains nothing; strength 1 is the worse input
        assert [len(p) for p in pairs] == [2, 2] and all(abs(d - r) < 1e-9 for d, r in pairs), (kind, pairs)
        assert pairs[0][0] > pairs[1][0], (kind, pairs)
    motion = same["blur_length"]["motion"]
    assert len(motion) == 2 and motion[0][0] > motion[1][0] + 1  # a 25 px trajectory blurs more than 5 px
    seen = []
    black = levels.restored_table(images, {"black": lambda lq: seen.append(lq.shape) or lq * 0}, strengths=(0.5,),
                                  lengths=(9.0,))["black"]
    assert seen == [im.shape for im in images] * (len(KINDS) + 1)  # every image once per kind and length
    from slerir.metrics import psnr

    dark = sum(psnr(im * 0, im) for im in images) / len(images)  # the restored column scores what restore returned
    for d, r in [*(p for v in black["strength"].values() for p in v), *black["blur_length"]["motion"]]:
        assert r == pytest.approx(dark) and abs(r - d) > 0.3, (d, r, dark)


@pytest.mark.slow
def test_levels_with_weights_adds_a_restored_table(tmp_path, data_root, tiny_weights, capsys):
    out = tmp_path / "levels.md"
    assert levels.main(["--images", "1", "--bench-limit", "1", "--data-root", str(data_root),
                        "--weights", str(tiny_weights), "--out", str(out)]) == 0
    res = json.loads(out.with_suffix(".json").read_text())
    table = res["restored"][str(tiny_weights)]
    for kind in KINDS:  # the degraded column is level_table's, with the same seeds
        assert [p[0] for p in table["strength"][kind]] == pytest.approx(res["psnr"][kind], abs=1e-9)
        assert all(0 < p[1] < 100 for p in table["strength"][kind])
    assert len(table["blur_length"]["motion"]) == len(levels.BLUR_LENGTHS) == len(res["blur_lengths"])
    from analysis.gains import kind_gains
    from slerir.checkpoint import weights_fingerprint

    fp = weights_fingerprint(tiny_weights)
    assert res["fingerprints"] == {str(tiny_weights): fp}
    gains = kind_gains(res, fp)  # per kind: the lowest and highest gain over the strengths
    assert set(gains) == set(KINDS)
    for kind, (lo, hi) in gains.items():
        diffs = [r - d for d, r in table["strength"][kind]]
        assert (lo, hi) == (min(diffs), max(diffs))
    assert kind_gains(res, "0" * 16) is None and kind_gains(res, None) is None  # other / unknown weights
    md = out.read_text()
    assert f"Restored by `{tiny_weights}`" in md and "Motion blur by trajectory length: 5 px" in md
    assert levels.main(["--images", "1", "--data-root", str(data_root), "--weights", str(tmp_path / "nope")]) == 2
    assert "error:" in capsys.readouterr().err
