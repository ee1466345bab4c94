"""Local-cue shares per class (lab.local)."""
from __future__ import annotations

import re

import numpy as np
import pytest

from lab.local import band_psnr, local_shares, main, parse_region, tone_fitted
from slerir.config import CLASSES


def test_local_shares_count_the_nearest_prototype_per_cell_and_in_a_region():
    sims = np.zeros((len(CLASSES), 4, 6), np.float32)
    haze, blur = CLASSES.index("haze"), CLASSES.index("blur")
    sims[blur] = 1.0
    sims[haze, 3:, :] = 2.0  # bottom quarter: haze wins
    whole = local_shares(sims)
    assert whole["haze"] == pytest.approx(0.25) and whole["blur"] == pytest.approx(0.75)
    assert sum(whole.values()) == pytest.approx(1.0)
    bottom = local_shares(sims, parse_region("0.75:1,0:1"))
    assert bottom["haze"] == 1.0 and bottom["blur"] == 0.0
    left_top = local_shares(sims, parse_region("0:0.5,0:0.5"))
    assert left_top["blur"] == 1.0


def test_tone_fit_removes_brightness_and_contrast_but_not_structure():
    from scipy import ndimage

    from slerir.metrics import psnr

    rng = np.random.default_rng(1)
    target = ndimage.gaussian_filter(rng.random((48, 64, 3)), (2, 2, 0))
    target = ((target - target.min()) / (target.max() - target.min())).astype(np.float32)
    toned = (0.2 + 0.5 * target).astype(np.float32)  # only brightness and contrast differ
    assert psnr(toned, target) < 25 and psnr(tone_fitted(toned, target), target) > 60
    blurred = ndimage.uniform_filter(target, (7, 7, 1)).astype(np.float32)  # structure differs
    assert psnr(tone_fitted(blurred, target), target) < 30  # a fit cannot undo lost detail
    flat = np.full_like(target, 0.5)  # a constant channel maps to the target's mean, not NaN
    assert np.isfinite(tone_fitted(flat, target)).all()


def test_band_psnr_puts_a_regional_tone_change_in_the_low_band_and_lost_detail_in_the_high():
    from scipy import ndimage

    from slerir.metrics import psnr

    rng = np.random.default_rng(2)
    target = rng.random((64, 96, 3)).astype(np.float32) * 0.6 + 0.2
    darker = target.copy()
    darker[:, :48] -= 0.1  # one half made darker: a tone change in a region
    assert psnr(tone_fitted(darker, target), target) < 30  # a fit over the whole image cannot undo it
    low, high = band_psnr(darker, target)
    assert low < 24 and high > low + 15  # (the step's edge leaves a little in the high band)
    soft = ndimage.uniform_filter(target, (5, 5, 1)).astype(np.float32)  # detail lost, tone kept
    low, high = band_psnr(soft, target)
    assert high < 20 and low > high + 10
    assert band_psnr(target, target) == (120.0, 120.0)  # identical: the 1e-12 floor, not inf


@pytest.mark.parametrize("text", ["1:0,0:1", "0:1", "a:b,0:1", "0:1.5,0:1"])
def test_parse_region_rejects_malformed_windows(text):
    with pytest.raises(ValueError, match="region"):
        parse_region(text)


def test_cli_prints_global_local_and_psnr_with_the_shipped_weights(tmp_path, capsys):
    from slerir.degradations import DegradationSpec, degrade
    from slerir.imaging import save_png

    rng = np.random.default_rng(0)
    clean = np.repeat(np.linspace(0.2, 0.7, 80, dtype=np.float32)[None, :, None], 64, 0).repeat(3, 2)
    clean[16:40, 20:50] = (0.8, 0.3, 0.2)  # a flat red block on a smooth ramp
    noisy = degrade(clean, [DegradationSpec("noise", sigma=25.0)], rng).image
    save_png(noisy, tmp_path / "noisy.png")
    save_png(clean, tmp_path / "clean.png")
    assert main([str(tmp_path / "noisy.png"), "--target", str(tmp_path / "clean.png"), "--region", "0:0.5,0:1"]) == 0
    out = capsys.readouterr().out
    assert "assets/weights:" in out and "global: noise" in out  # strong noise: recognised globally
    assert "local (0:0.5,0:1):" in out and "mean alpha" in out
    psnr_in, psnr_out = (float(v.split()[0]) for v in out.split("PSNR: input ")[1].split(" dB, output ")[:2])
    assert psnr_out > psnr_in + 3  # denoised
    toned_in, toned_out = (float(v.split()[0]) for v in out.split("tone fit to the target: input ")[1].split(" dB, output ")[:2])
    assert toned_in >= psnr_in - 0.01 and toned_out >= psnr_out - 0.01  # a fit never does worse than none
    assert toned_out > toned_in + 3  # the denoising still shows once tone is fitted: structure, not tone
    bands = re.search(r"PSNR by band \(Gaussian sigma 3 px\): low input ([\d.]+) dB, output ([\d.]+) dB; "
                      r"high input ([\d.]+) dB, output ([\d.]+) dB", out)
    low_in, low_out, high_in, high_out = (float(v) for v in bands.groups())
    assert high_out > high_in + 3  # noise lives in the high band: that is where the gain is


def test_cli_reports_bad_input_without_a_traceback(tmp_path, capsys):
    assert main([str(tmp_path / "missing.png")]) == 2
    assert "error:" in capsys.readouterr().err
    (tmp_path / "a.png").write_bytes(b"not a png")
    assert main([str(tmp_path / "a.png")]) == 2
    assert main([str(tmp_path / "a.png"), "--region", "2:3,0:1"]) == 2
    assert "region" in capsys.readouterr().err


def test_scaled_statistics_restore_as_usual_at_scale_one_and_differ_at_half(tmp_path, capsys):
    from slerir.degradations import DegradationSpec, degrade
    from slerir.imaging import save_png
    from slerir.inference import Restorer

    from lab.local import restore_scaled_stats

    r = Restorer.from_pretrained("assets/weights")
    rng = np.random.default_rng(3)
    clean = np.clip(np.repeat(np.linspace(0.1, 0.9, 75, dtype=np.float32)[None, :, None], 61, 0).repeat(3, 2)
                    + 0.05 * rng.standard_normal((61, 75, 3)).astype(np.float32), 0, 1)
    noisy = degrade(clean, [DegradationSpec("noise", sigma=25.0)], rng).image
    same, cls = restore_scaled_stats(r, noisy, 1.0)
    assert np.allclose(same, r.restore(noisy, capture=False).image, atol=1e-5) and cls == "noise"
    half, _ = restore_scaled_stats(r, noisy, 0.5)  # area-halving averages the noise away: other statistics
    assert not np.allclose(half, same, atol=1e-3)
    save_png(noisy, tmp_path / "noisy.png")
    save_png(clean, tmp_path / "clean.png")
    assert main([str(tmp_path / "noisy.png"), "--target", str(tmp_path / "clean.png"), "--stats-scale", "0.5"]) == 0
    line = [l for l in capsys.readouterr().out.splitlines() if "copy scaled x0.5" in l][0]
    assert re.search(r"global class \w+, output [\d.]+ dB \(low band [\d.]+, high band [\d.]+\)", line)
    assert main([str(tmp_path / "noisy.png"), "--stats-scale", "0"]) == 2
    assert "--stats-scale must be in (0, 4]" in capsys.readouterr().err
