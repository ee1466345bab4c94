"""analysis.levels: PSNR of each synthetic degradation by strength."""
import json

from analysis import levels
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
