"""Classical per-task baselines, taken from maintained packages (no hand-written restoration methods).

Each baseline maps a degraded RGB float32 image (H x W x 3, [0, 1]) to a restored one of the same shape and
type. :data:`BASELINES` maps a degradation class (see :data:`slerir.config.CLASSES`) to
``(display name, function or None)``; :func:`baseline_for` gives the one for a benchmark of
:data:`slerir.benchmarks.BENCHMARKS`, with the benchmark's noise level bound for denoising.

* noise: CBM3D, ``bm3d.bm3d_rgb`` of the ``bm3d`` package (Mäkinen, Azzari, Foi), given the true noise
  level ``sigma`` (known from the benchmark name, e.g. ``cbsd68_25``), as CBM3D is always reported. Without
  ``sigma`` the level is estimated with ``skimage.restoration.estimate_sigma``. ``bm3d`` is an optional
  dependency, imported when first used.
* lowlight: global histogram equalisation (``skimage.exposure.equalize_hist``), the "HE" row of low-light
  tables, computed on one histogram of all three channels so colours keep their relative order.
  Measured here on LOL eval15 (RGB PSNR): input 7.77 dB, HE 15.34 dB.
* blur: BLIND deconvolution with an ASSUMED PSF. ``skimage.restoration.unsupervised_wiener`` (Wiener-Hunt
  with the regularisation estimated by Gibbs sampling, fixed seed) per channel, with a generic isotropic
  Gaussian PSF (sigma 1 px, 7x7), the image reflect-padded by 16 px against FFT wrap-around. The true blur
  (camera-shake motion in GoPro) is unknown and not estimated, so this baseline does not recover motion
  blur: on the two GoPro examples it LOWERS PSNR (Flower_1 25.11 -> 23.76 dB, Istanbul_1 24.05 -> 23.93 dB).
  It is a reference point for "classical deconvolution with no kernel estimation", not a competitor.
* rain, haze: ``None`` (shown as "n/a"). No maintained Python package implements a classical deraining or
  dehazing method (dark-channel prior, discriminative sparse coding, ...); we do not hand-write one.
* clean: identity.
"""
from __future__ import annotations

import functools
from typing import Callable

import numpy as np

Baseline = Callable[..., np.ndarray]


def _check(lq: np.ndarray) -> np.ndarray:
    lq = np.asarray(lq)
    if lq.ndim != 3 or lq.shape[-1] != 3:
        raise ValueError(f"expected an H x W x 3 RGB image, got shape {lq.shape}")
    if lq.dtype == np.uint8:
        lq = lq / 255.0
    return lq.astype(np.float64)


def _out(img: np.ndarray) -> np.ndarray:
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def identity(lq: np.ndarray, **_: object) -> np.ndarray:
    """Return the input unchanged (as float32)."""
    return _out(_check(lq))


def cbm3d(lq: np.ndarray, sigma: float | None = None, **_: object) -> np.ndarray:
    """CBM3D denoising (``bm3d.bm3d_rgb``, opponent colour space).

    ``sigma`` is the Gaussian noise standard deviation in 8-bit units (15, 25, 50 on CBSD68); ``None``
    estimates it from the image with ``skimage.restoration.estimate_sigma``.
    """
    try:
        import bm3d
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("the CBM3D baseline needs the bm3d package: pip install bm3d") from exc
    x = _check(lq)
    if sigma is None:
        from skimage.restoration import estimate_sigma

        sigma_psd = float(estimate_sigma(x, channel_axis=-1, average_sigmas=True))
    else:
        sigma_psd = float(sigma) / 255.0
    return _out(bm3d.bm3d_rgb(x, sigma_psd=sigma_psd))


def histogram_equalization(lq: np.ndarray, **_: object) -> np.ndarray:
    """Global histogram equalisation of all channels together (``skimage.exposure.equalize_hist``)."""
    from skimage.exposure import equalize_hist

    x = _check(lq)
    # One histogram over the flattened RGB values (passing the flat array avoids skimage's colour warning).
    return _out(equalize_hist(x.reshape(-1), nbins=256).reshape(x.shape))


def _gaussian_psf(sigma: float, radius: int) -> np.ndarray:
    ax = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-(ax**2) / (2.0 * sigma**2))
    psf = np.outer(g, g)
    return psf / psf.sum()


def wiener_deblur(lq: np.ndarray, psf_sigma: float = 1.0, pad: int = 16, seed: int = 0,
                  **_: object) -> np.ndarray:
    """Blind-with-assumed-PSF deblurring: ``skimage.restoration.unsupervised_wiener`` per channel.

    The PSF is NOT estimated: a Gaussian of ``psf_sigma`` px (radius ``ceil(3 * psf_sigma)``) is assumed
    for every image. The image is reflect-padded by ``pad`` px before the FFT-based deconvolution and
    cropped back. The Gibbs sampler is seeded with ``seed`` so results are deterministic.
    """
    from skimage.restoration import unsupervised_wiener

    x = _check(lq)
    psf = _gaussian_psf(psf_sigma, int(np.ceil(3 * psf_sigma)))
    h, w = x.shape[:2]
    out = np.empty_like(x)
    for c in range(3):
        ch = np.pad(x[..., c], pad, mode="reflect") if pad else x[..., c]
        rec, _chains = unsupervised_wiener(ch, psf, clip=True, rng=seed)
        out[..., c] = rec[pad:pad + h, pad:pad + w]
    return _out(out)


#: degradation class -> (display name, function or None when no maintained package implements one).
BASELINES: dict[str, tuple[str, Baseline | None]] = {
    "clean": ("identity", identity),
    "noise": ("CBM3D", cbm3d),
    "rain": ("n/a", None),
    "haze": ("n/a", None),
    "blur": ("Wiener (assumed Gaussian PSF)", wiener_deblur),
    "lowlight": ("HE", histogram_equalization),
}


def baseline_for(benchmark: str) -> tuple[str, Callable[[np.ndarray], np.ndarray] | None]:
    """``(name, fn)`` for a benchmark name of ``BENCHMARKS``; the noise level is bound for CBSD68."""
    from slerir.benchmarks import BENCHMARKS

    if benchmark not in BENCHMARKS:
        raise KeyError(f"unknown benchmark {benchmark!r}; choose from {sorted(BENCHMARKS)}")
    spec = BENCHMARKS[benchmark]
    name, fn = BASELINES[spec["task"]]
    if fn is None:
        return name, None
    if "sigma" in spec:
        return f"{name} (sigma={spec['sigma']})", functools.partial(fn, sigma=spec["sigma"])
    return name, fn
