"""PSNR and SSIM on RGB images in [0, 1], computed with scikit-image.

Protocol of the all-in-one restoration literature (AirNet, PromptIR and the works built on PromptIR's code,
e.g. AdaIR and MoCE-IR): PSNR on RGB with data range 1, the prediction clipped to [0, 1], both images
centre-cropped to a multiple of 16 (``crop16=True`` here; the networks need that multiple).

SSIM is where papers differ, so every table must say which variant it reports (:data:`SSIM_VARIANTS`):

* ``"skimage"``: :func:`skimage.metrics.structural_similarity` with its defaults (7x7 uniform window,
  sample covariance) over the RGB channels, ``data_range=1``. This is what PromptIR's
  ``utils/val_utils.py`` computes (``structural_similarity(clean, restored, data_range=1,
  multichannel=True)``), inherited by the all-in-one works that reuse its evaluation code.
* ``"gaussian"``: the original definition of Wang et al. (2004): 11x11 Gaussian window with sigma 1.5 and
  population covariance (``gaussian_weights=True, sigma=1.5, use_sample_covariance=False``), as MATLAB's
  ``ssim`` and the Gaussian-window evaluations of single-task papers (e.g. BasicSR-style code) use. The two
  variants differ by up to a few hundredths (on a CBSD68 sigma=25 input: 0.565 vs 0.535), enough to
  change a ranking, so never mix them in one table.

Neither variant here converts to the Y channel; papers that report Y-channel numbers (common for deraining)
are not comparable with these RGB numbers.
"""
from __future__ import annotations

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

SSIM_VARIANTS: dict[str, str] = {
    "skimage": "SSIM: scikit-image defaults (7x7 uniform window, sample covariance), RGB, data range 1 "
               "(as PromptIR's evaluation code)",
    "gaussian": "SSIM: Gaussian window sigma 1.5 (11x11), population covariance, RGB, data range 1 "
                "(Wang et al. 2004)",
}

PSNR_DESCRIPTION = "PSNR: RGB in [0, 1], prediction clipped, data range 1"


def crop_to_multiple(img: np.ndarray, m: int = 16) -> np.ndarray:
    """Centre-crop the first two axes (H, W) of ``img`` down to multiples of ``m``.

    The odd remainder goes to the bottom/right: for a remainder ``r`` the crop starts at ``r // 2``.
    Raises ``ValueError`` if a side is shorter than ``m``.
    """
    if m < 1:
        raise ValueError(f"m must be >= 1, got {m}")
    h, w = img.shape[:2]
    nh, nw = h - h % m, w - w % m
    if nh == 0 or nw == 0:
        raise ValueError(f"image of size {h}x{w} is smaller than the crop multiple {m}")
    top, left = (h % m) // 2, (w % m) // 2
    return img[top:top + nh, left:left + nw]


def _prepare(pred: np.ndarray, gt: np.ndarray, crop16: bool) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {pred.shape} and reference {gt.shape} differ in shape")
    if pred.dtype == np.uint8:
        pred = pred / 255.0
    if gt.dtype == np.uint8:
        gt = gt / 255.0
    pred = np.clip(pred.astype(np.float64), 0.0, 1.0)
    gt = gt.astype(np.float64)
    if crop16:
        pred, gt = crop_to_multiple(pred, 16), crop_to_multiple(gt, 16)
    return pred, gt


def psnr(pred: np.ndarray, gt: np.ndarray, crop16: bool = False) -> float:
    """PSNR in dB of ``pred`` against ``gt`` (floats in [0, 1]; uint8 is divided by 255).

    ``pred`` is clipped to [0, 1]; ``data_range=1``. Identical images give ``inf``.
    """
    p, g = _prepare(pred, gt, crop16)
    with np.errstate(divide="ignore"):
        return float(peak_signal_noise_ratio(g, p, data_range=1.0))


def ssim(pred: np.ndarray, gt: np.ndarray, variant: str = "skimage", crop16: bool = False) -> float:
    """SSIM of ``pred`` against ``gt`` (H x W x C or H x W, floats in [0, 1]); see :data:`SSIM_VARIANTS`."""
    if variant not in SSIM_VARIANTS:
        raise ValueError(f"unknown SSIM variant {variant!r}; choose from {sorted(SSIM_VARIANTS)}")
    p, g = _prepare(pred, gt, crop16)
    kwargs: dict = {"data_range": 1.0, "channel_axis": -1 if p.ndim == 3 else None}
    if variant == "gaussian":
        kwargs.update(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    return float(structural_similarity(g, p, **kwargs))
