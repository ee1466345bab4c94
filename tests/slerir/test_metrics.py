"""Metrics (slerir.metrics) and classical baselines (slerir.baselines)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from slerir import baselines as BL
from slerir import benchmarks as B
from slerir.config import CLASSES
from slerir.metrics import SSIM_VARIANTS, crop_to_multiple, psnr, ssim


def _img(h=48, w=40, seed=0) -> np.ndarray:
    """A smooth-ish random RGB image in [0.1, 0.9]."""
    rng = np.random.default_rng(seed)
    x = gaussian_filter(rng.random((h, w, 3)), sigma=(2, 2, 0))
    x = (x - x.min()) / (x.max() - x.min())
    return (0.1 + 0.8 * x).astype(np.float32)


# -------------------------------------------------------------------------------------------- metrics


def test_psnr_identical_and_known_offset():
    gt = _img()
    assert psnr(gt, gt) == math.inf or psnr(gt, gt) > 100
    assert psnr(gt + 0.1, gt) == pytest.approx(20.0, abs=1e-4)  # MSE 0.01 -> 20 dB
    assert psnr(gt - 0.05, gt) == pytest.approx(20 * math.log10(1 / 0.05), abs=1e-4)
    # The prediction is clipped to [0, 1] before the comparison.
    ones = np.ones((16, 16, 3), np.float32)
    assert psnr(ones + 0.5, ones) == math.inf or psnr(ones + 0.5, ones) > 100
    # uint8 input is read as /255.
    assert psnr((gt * 255).round().astype(np.uint8), gt) > 45


def test_psnr_crop16_and_shape_check():
    gt = _img(50, 37)
    pred = gt.copy()
    pred[0, :] = 0.0  # damage only row 0, which the 16-crop removes (remainder 2 -> starts at row 1)
    assert psnr(pred, gt) < 60
    assert psnr(pred, gt, crop16=True) == math.inf or psnr(pred, gt, crop16=True) > 100
    with pytest.raises(ValueError, match="shape"):
        psnr(gt, gt[:-1])


def test_ssim_identical_variants_and_noise():
    gt = _img(64, 64)
    for variant in SSIM_VARIANTS:
        assert ssim(gt, gt, variant) == pytest.approx(1.0, abs=1e-9)
    noisy = np.clip(gt + np.random.default_rng(1).normal(0, 0.1, gt.shape), 0, 1).astype(np.float32)
    s_u, s_g = ssim(noisy, gt, "skimage"), ssim(noisy, gt, "gaussian")
    assert 0 < s_u < 1 and 0 < s_g < 1
    assert abs(s_u - s_g) > 1e-3
    assert ssim(noisy, gt, crop16=True) == s_u  # 64x64: nothing to crop
    assert 0 < ssim(noisy[..., 0], gt[..., 0]) < 1  # greyscale works too
    with pytest.raises(ValueError, match="variant"):
        ssim(gt, gt, "matlab")


def test_crop_to_multiple_shapes():
    assert crop_to_multiple(np.zeros((481, 321, 3))).shape == (480, 320, 3)
    assert crop_to_multiple(np.zeros((64, 48))).shape == (64, 48)
    assert crop_to_multiple(np.zeros((720, 1280, 3))).shape == (720, 1280, 3)
    x = np.arange(50 * 37).reshape(50, 37)
    c = crop_to_multiple(x, 16)  # remainders 2 and 5 -> start at (1, 2)
    assert c.shape == (48, 32)
    assert np.array_equal(c, x[1:49, 2:34])
    assert crop_to_multiple(x, 8).shape == (48, 32)
    with pytest.raises(ValueError):
        crop_to_multiple(np.zeros((10, 40)), 16)


# ------------------------------------------------------------------------------------------ baselines


def test_baselines_registry():
    assert set(BL.BASELINES) == set(CLASSES)
    assert BL.BASELINES["rain"][1] is None and BL.BASELINES["haze"][1] is None
    assert BL.baseline_for("sots") == ("n/a", None)
    assert BL.baseline_for("rain100l")[1] is None
    name, fn = BL.baseline_for("cbsd68_50")
    assert "CBM3D" in name and fn.keywords == {"sigma": 50}
    for bench in B.BENCHMARKS:
        BL.baseline_for(bench)
    with pytest.raises(KeyError):
        BL.baseline_for("nope")


def _noisy_crop():
    """A 64x64 noisy CBSD68 crop (sigma 25); a synthetic image when the dataset folder is absent."""
    try:
        pair = B.load_benchmark("cbsd68_25", limit=1)[0]
        return pair.lq[100:164, 100:164], pair.gt[100:164, 100:164]
    except FileNotFoundError:
        gt = _img(64, 64)
        lq = np.clip(gt + np.random.default_rng(0).normal(0, 25 / 255, gt.shape), 0, 1).astype(np.float32)
        return lq, gt


@pytest.mark.slow
def test_cbm3d_improves_noisy_crop():
    pytest.importorskip("bm3d")
    lq, gt = _noisy_crop()
    _, fn = BL.baseline_for("cbsd68_25")
    out = fn(lq)
    assert out.dtype == np.float32 and out.shape == lq.shape
    assert psnr(out, gt) > psnr(lq, gt) + 3.0


def test_histogram_equalization_brightens_dark_image():
    rng = np.random.default_rng(0)
    gt = _img(40, 40)
    dark = (gt * 0.15 + rng.normal(0, 0.002, gt.shape)).clip(0, 1).astype(np.float32)
    out = BL.histogram_equalization(dark)
    assert out.dtype == np.float32 and out.shape == dark.shape
    assert out.mean() > 0.4 and psnr(out, gt) > psnr(dark, gt) + 5


def test_wiener_deblur_known_gaussian_blur():
    gt = _img(48, 48, seed=3)
    # Sharper detail so the blur matters.
    gt = np.clip(gt + 0.1 * np.sign(np.sin(np.arange(48) / 2.0))[None, :, None], 0, 1).astype(np.float32)
    blurred = gaussian_filter(gt, sigma=(1.0, 1.0, 0), mode="reflect").astype(np.float32)
    out = BL.wiener_deblur(blurred)
    assert out.dtype == np.float32 and out.shape == gt.shape
    assert np.array_equal(out, BL.wiener_deblur(blurred))  # seeded: deterministic
    assert psnr(out, gt) > psnr(blurred, gt)
