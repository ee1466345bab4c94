"""Synthetic degradations for training and the Playground: noise, rain, haze, blur, low light.

Pure numpy/scipy (no torch), so the demo and the data pipeline share one implementation. Every
function works on float32 RGB images (H, W, 3) in [0, 1] and returns a new float32 image clipped to
[0, 1]. Randomness only comes from the ``np.random.Generator`` passed in, so a seed reproduces the
output bit for bit.

Physical models (the parameter ranges are ours; ``strength`` in [0, 1] maps linearly onto them):

* **noise**: additive white Gaussian noise, ``I = J + n``, ``n ~ N(0, (sigma/255)^2)`` independently
  per pixel and channel, sigma in uint8 units 5..55 (the CBSD68 benchmark uses 15/25/50).
* **rain**: the additive streak model used to synthesise Rain100L/H (Yang et al., JORDER, 2017),
  ``O = B + S``. The streak layer ``S`` is a sparse set of seeds drawn along a short line (a motion
  kernel): one dominant angle per image within +-25 degrees of vertical, a small per-streak jitter,
  lengths 10..35 px, tapered ends, a slight Gaussian widening (thin streaks), streak brightness
  0.4..0.9. Denser and wider streaks with strength (Rain100L-like at 0, Rain100H-like at 1).
* **haze**: the atmospheric scattering model (Koschmieder; McCartney), ``I = J t + A (1 - t)`` with
  transmission ``t = exp(-beta d)``. The depth map ``d`` in [0, 1] is smooth: a linear ramp that is
  mostly farther towards the top of the picture plus low-frequency noise. ``beta`` 0.6..2.5 so that
  ``t`` spans roughly 0.1..0.95; airlight ``A`` in [0.7, 1] with a +-0.05 tint per channel.
  ``DegradationSpec(scene=True)`` makes the depth follow the picture (:func:`scene_depth`: edge-aware,
  bright flat grey or blue sky far away) and the airlight grey in [0.8, 1] half of the time, closer to
  RESIDE's synthesis (per-photo estimated depth, grey ``A`` in [0.8, 1]).
* **blur**: ``I = J * k`` with either a camera-shake motion kernel (a straight or slightly curved
  trajectory of length 5..25 px) or a defocus disk (radius 1.5..5 px), convolved per channel with
  reflect padding (FFT convolution: fast for 64 px patches and for 512 px images alike). An explicit
  ``DegradationSpec(length=...)`` asks for a motion trajectory of that length (up to 64 px), beyond
  the strength range: real camera shake (GoPro) is often longer than 25 px; with ``varying=True`` the
  blur changes over the image (two trajectories blended through a smooth field, as camera rotation gives);
  with ``linear=True`` the blur acts in linear light (``(J^2.2 * k)^(1/2.2)``), as GoPro's blurred frames
  were made (sharp frames averaged through a gamma-2.2 inverse camera response): highlights spread.
* **lowlight**: an LOL-like under-exposed capture, ``I = Q(g_c * s * J^gamma + n)``: a tone curve
  with gamma 1.5..2.5 darkens mid-tones more than highlights, exposure scale ``s`` 0.5..0.1
  (log-spaced, darker with strength), a slight per-channel colour shift ``g_c``,
  Poisson-Gaussian sensor noise ``n ~ N(0, k^2 I + r^2)`` (shot plus read noise), and 8-bit
  quantisation ``Q``. Output mean brightness is typically 0.02..0.15.

Spatial masks make one image carry several degradations in different regions: each degradation
``D`` is applied through a soft mask ``m`` in [0, 1] as ``I = J (1 - m) + D(J) m`` ("full", "half",
"blob", "gradient"; a pixel carries the degradation where ``m > 0.5``). Neighbourhood operations
(blur, rain) are computed on the whole image and then blended. In a mixture, later non-full masks
take the complement of the earlier ones, so the regions are disjoint and the per-pixel class mask
says which degradation acts where (class ids from ``slerir.config.CLASSES``; 0 = clean).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from scipy import ndimage
from scipy.signal import fftconvolve

from slerir.camera import MIST_MAX, STRETCH_MAX
from slerir.config import CLASSES, TASKS

KINDS: tuple[str, ...] = ("noise", "rain", "haze", "blur", "lowlight")
MASK_KINDS: tuple[str, ...] = ("full", "half", "blob", "gradient")
PARTIAL_MASKS: tuple[str, ...] = ("half", "blob", "gradient")
BENCHMARK_SIGMAS: tuple[int, ...] = (15, 25, 50)

# Physical parameter ranges; strength 0 -> first value, 1 -> second.
NOISE_SIGMA = (5.0, 55.0)  # uint8 units
RAIN_DENSITY = (0.0008, 0.008)  # streaks per pixel
RAIN_MIN_DENSITY = 0.0001  # lowest density a DegradationSpec may ask for (drizzle, below the strength range)
RAIN_WIDTH = (0.35, 0.8)  # Gaussian sigma across a streak, px
RAIN_LENGTH = (10.0, 35.0)  # px
RAIN_BRIGHTNESS = (0.4, 0.9)
RAIN_ANGLE = 25.0  # degrees from vertical, either side
WIDE_RAIN_WIDTH = (0.8, 1.6)  # DegradationSpec(wide=True): Gaussian sigma across a streak, px
WIDE_RAIN_LENGTH = (30.0, 70.0)  # px
WIDE_RAIN_ANGLE = 40.0  # degrees from vertical, either side
WIDE_RAIN_BRIGHTNESS = (0.2, 0.5)  # broad streaks are fainter: a Rain100L streak adds ~0.15-0.3 at its peak
HAZE_BETA = (0.6, 2.5)
HAZE_MIN_BETA = 0.1  # thinnest haze a DegradationSpec may ask for (below the strength range)
BLUR_MOTION_LENGTH = (5.0, 25.0)  # px
BLUR_DISK_RADIUS = (1.5, 5.0)  # px
BLUR_MAX_LENGTH = 64.0  # px, longest motion trajectory a DegradationSpec may ask for
CAMERA_GAMMA = 2.2  # the camera response DegradationSpec(linear=True) blurs through (GoPro's synthesis)
LOWLIGHT_SCALE = (0.5, 0.1)  # exposure, log-spaced: darker with strength
LOWLIGHT_GAMMA = (1.5, 2.5)


@dataclass(frozen=True)
class DegradationSpec:
    """One degradation to apply.

    Attributes:
        kind: one of ``KINDS``.
        strength: in [0, 1], mapped linearly onto the physical parameter range; None draws it at
            random (uniform) from the generator.
        mask: spatial extent, one of ``MASK_KINDS``.
        sigma: noise only: standard deviation in uint8 units (e.g. 15/25/50); overrides strength.
        length: blur only: a motion trajectory of this many px (overrides strength and always
            blurs by motion; may exceed the strength range, e.g. for GoPro-like camera shake).
        varying: blur with ``length`` only: the blur varies over the image, a smooth per-pixel blend
            of two trajectories (the second turned up to 30 degrees and 50-100% as long), as camera
            rotation during a long exposure gives.
        linear: blur only: convolve in linear light, ``(J ** CAMERA_GAMMA * k) ** (1 / CAMERA_GAMMA)``,
            as the GoPro benchmark's blurred frames were synthesised (an average of sharp 240 fps frames
            through an inverse gamma-2.2 camera response; Nah et al., CVPR 2017): a bright light smears
            into its dark surroundings, which lifts them, where blur on the sRGB values spreads evenly.
        scene: haze only: the depth map follows the picture (see :func:`scene_depth`: edges of
            objects, bright flat sky far away) and the airlight is grey half of the time, as in
            RESIDE's haze (depth estimated per photo); False uses the content-blind smooth depth.
        density: rain only: streaks per pixel (overrides the strength's density and its +-30%
            jitter; may go below the strength range, ``RAIN_MIN_DENSITY``, for drizzle). Width and
            the rest still follow ``strength``.
        beta: haze only: the scattering coefficient (overrides the strength's; may go below the
            strength range, down to ``HAZE_MIN_BETA``, for thin haze). Depth and airlight are drawn as usual.
        wide: rain only: broad, long streaks at a steeper slant (width in ``WIDE_RAIN_WIDTH``, length in
            ``WIDE_RAIN_LENGTH``, angle within ``WIDE_RAIN_ANGLE`` of vertical, fainter: ``WIDE_RAIN_BRIGHTNESS``), as in rendered rain layers
            (Rain100L's): the default streaks are at most 35 px long, 25 degrees off vertical and thin.
            The density drawn from ``strength`` shrinks by the mean default length over the drawn one (the
            same px of streak in fewer, longer streaks); an explicit ``density`` stays as given.
        real: noise, rain and lowlight only: the degradation as cameras and weather make it
            (``slerir.camera``): noise from a camera pipeline (Poisson-Gaussian in linear light,
            demosaic-correlated, 8-bit; ``strength`` 0 = daylight ~42 dB .. 1 = dim smartphone ~18 dB),
            rain in 2-3 depth layers with a veil, low light as a dark capture with a spatially varying
            exposure and high-ISO sensor noise. ``sigma``, ``density`` and ``wide`` do not apply.
        scale: real rain only: the streaks' size relative to a close full-resolution view (0.2..1; see
            :func:`slerir.camera.real_rain`: smaller is shorter, thinner, fainter and denser).
        mist, stretch: real rain only: heavy rain (see :func:`slerir.camera.real_rain`): spray that veils the
            distance (a scattering coefficient 0..2 over the picture's depth) and streaks up to 4x as long.
        drops: real rain only: water drops on a window or the lens instead of falling streaks
            (:func:`slerir.camera.raindrops`; ``scale`` applies).
        exposure: real low light only: the capture's exposure cut in linear light (0.001..1; overrides the
            strength's 0.3..0.02, see :func:`slerir.camera.night`); the noise still follows ``strength``.
    """

    kind: str
    strength: float | None = None
    mask: str = "full"
    sigma: float | None = None
    length: float | None = None
    varying: bool = False
    linear: bool = False
    scene: bool = False
    density: float | None = None
    beta: float | None = None
    wide: bool = False
    real: bool = False
    exposure: float | None = None
    scale: float | None = None
    mist: float | None = None
    stretch: float | None = None
    drops: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown degradation kind {self.kind!r}; choose from {KINDS}")
        if self.mask not in MASK_KINDS:
            raise ValueError(f"unknown mask {self.mask!r}; choose from {MASK_KINDS}")
        if self.strength is not None and not 0.0 <= self.strength <= 1.0:
            raise ValueError(f"strength must be in [0, 1] or None, got {self.strength}")
        if self.sigma is not None and (self.kind != "noise" or self.sigma < 0):
            raise ValueError("sigma (>= 0) is only meaningful for kind='noise'")
        if self.length is not None and (self.kind != "blur" or not 1.0 <= self.length <= BLUR_MAX_LENGTH):
            raise ValueError(f"length (1..{BLUR_MAX_LENGTH:g} px) is only meaningful for kind='blur'")
        if self.varying and (self.kind != "blur" or self.length is None):
            raise ValueError("varying is only meaningful for kind='blur' with an explicit length")
        if self.linear and self.kind != "blur":
            raise ValueError("linear is only meaningful for kind='blur'")
        if self.scene and self.kind != "haze":
            raise ValueError("scene is only meaningful for kind='haze'")
        if self.density is not None and (self.kind != "rain"
                                         or not RAIN_MIN_DENSITY <= self.density <= RAIN_DENSITY[1]):
            raise ValueError(f"density ({RAIN_MIN_DENSITY:g}..{RAIN_DENSITY[1]:g} streaks per px) "
                             "is only meaningful for kind='rain'")
        if self.wide and self.kind != "rain":
            raise ValueError("wide is only meaningful for kind='rain'")
        if self.real and (self.kind not in ("noise", "rain", "lowlight") or self.sigma is not None
                          or self.density is not None or self.wide):
            raise ValueError("real is only meaningful for kind='noise', 'rain' or 'lowlight' (without sigma, density, wide)")
        if self.exposure is not None and (self.kind != "lowlight" or not self.real or not 0.001 <= self.exposure <= 1.0):
            raise ValueError("exposure (0.001..1) is only meaningful for kind='lowlight' with real=True")
        if self.scale is not None and (self.kind != "rain" or not self.real or not 0.2 <= self.scale <= 1.0):
            raise ValueError("scale (0.2..1) is only meaningful for kind='rain' with real=True")
        if self.mist is not None and (self.kind != "rain" or not self.real or not 0.0 <= self.mist <= MIST_MAX):
            raise ValueError(f"mist (0..{MIST_MAX:g}) is only meaningful for kind='rain' with real=True")
        if self.stretch is not None and (self.kind != "rain" or not self.real or not 1.0 <= self.stretch <= STRETCH_MAX):
            raise ValueError(f"stretch (1..{STRETCH_MAX:g}) is only meaningful for kind='rain' with real=True")
        if self.drops and (self.kind != "rain" or not self.real or self.mist is not None or self.stretch is not None):
            raise ValueError("drops is only meaningful for kind='rain' with real=True (without mist or stretch)")
        if self.beta is not None and (self.kind != "haze" or not HAZE_MIN_BETA <= self.beta <= HAZE_BETA[1]):
            raise ValueError(f"beta ({HAZE_MIN_BETA:g}..{HAZE_BETA[1]:g}) is only meaningful for kind='haze'")

    @property
    def class_id(self) -> int:
        return CLASSES.index(self.kind)


@dataclass
class DegradationResult:
    """Output of ``degrade``.

    Attributes:
        image: (H, W, 3) float32 in [0, 1], the degraded image.
        classes: sorted class ids present in ``mask`` (0 = clean pixels exist).
        mask: (H, W) int64 class id per pixel (0 = clean).
        params: per spec, the physical parameters actually drawn (JSON-serialisable).
        soft_masks: (S, H, W) float32 blend weight of each spec (ones for "full").
    """

    image: np.ndarray
    classes: tuple[int, ...]
    mask: np.ndarray
    params: list[dict[str, Any]]
    soft_masks: np.ndarray | None = None


# --------------------------------------------------------------------------------------------
# helpers


def as_rng(seed: int | Sequence[int] | np.random.Generator | None) -> np.random.Generator:
    """A Generator from a seed (int or int sequence) or an existing Generator (used as is)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def to_float_image(img: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 or float -> float32 in [0, 1] (a grey (H, W) image is repeated to RGB)."""
    img = np.asarray(img)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {img.shape}")
    if img.dtype == np.uint8:
        return img.astype(np.float32) / np.float32(255.0)
    return np.clip(img.astype(np.float32, copy=False), 0.0, 1.0)


def _lerp(r: tuple[float, float], s: float) -> float:
    return float(r[0] + (r[1] - r[0]) * s)


def _strength(spec_strength: float | None, rng: np.random.Generator) -> float:
    return float(rng.random()) if spec_strength is None else float(spec_strength)


def _interp_matrix(n: int, cells: int) -> np.ndarray:
    """(n, cells) Gaussian-RBF interpolation weights: low-res field -> smooth full-res field."""
    centres = (np.arange(cells) + 0.5) * (n / cells)
    x = np.arange(n) + 0.5
    width = n / cells  # RBF width = cell size: smooth, no visible grid
    w = np.exp(-0.5 * ((x[:, None] - centres[None, :]) / width) ** 2)
    return (w / w.sum(axis=1, keepdims=True)).astype(np.float32)


def smooth_field(shape: tuple[int, int], rng: np.random.Generator, cells: int = 4) -> np.ndarray:
    """(H, W) float32 smooth random field normalised to [0, 1].

    A (cells x cells) grid of normal draws interpolated by separable Gaussian RBFs (two small
    matrix products): resolution independent and far cheaper than filtering full-size noise.
    """
    h, w = shape
    ch = max(2, round(cells * h / max(h, w)))
    cw = max(2, round(cells * w / max(h, w)))
    g = rng.standard_normal((ch + 2, cw + 2)).astype(np.float32)
    # one extra cell each side so the border is as random as the centre
    ry = _interp_matrix(h + 2 * h // ch, ch + 2)[h // ch : h // ch + h]
    rx = _interp_matrix(w + 2 * w // cw, cw + 2)[w // cw : w // cw + w]
    f = ry @ g @ rx.T  # (H, W)
    lo, hi = float(f.min()), float(f.max())
    return ((f - lo) / max(hi - lo, 1e-6)).astype(np.float32)


def _coords(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    h, w = shape
    yy = (np.arange(h, dtype=np.float32) - (h - 1) / 2)[:, None]
    xx = (np.arange(w, dtype=np.float32) - (w - 1) / 2)[None, :]
    return yy, xx


def make_mask(shape: tuple[int, int], kind: str, rng: np.random.Generator) -> np.ndarray:
    """(H, W) float32 soft spatial mask in [0, 1]; a pixel carries the degradation where m > 0.5.

    Args:
        shape: (H, W).
        kind: "full" (ones), "half" (a random side: left/right/top/bottom, boundary near the middle,
            soft edge of 2-6 px, exactly 0/1 away from it), "blob" (smooth random blobs covering
            25-75% of the area, soft edge of a few px) or "gradient" (a linear 0..1 ramp in a random
            direction).
        rng: random generator.
    """
    h, w = shape
    if kind == "full":
        return np.ones((h, w), np.float32)
    yy, xx = _coords(shape)
    if kind == "half":
        side = int(rng.integers(4))  # 0 left, 1 right, 2 top, 3 bottom
        edge = float(rng.uniform(2.0, 6.0))
        n = w if side < 2 else h
        offset = float(rng.uniform(-0.1, 0.1)) * n
        coord = xx if side < 2 else yy
        sign = -1.0 if side in (0, 2) else 1.0
        m = 0.5 + (sign * coord - offset) / edge
        m = np.broadcast_to(m, (h, w))
        return np.clip(m, 0.0, 1.0).astype(np.float32)
    if kind == "blob":
        f = smooth_field(shape, rng, cells=int(rng.integers(2, 5)))
        cover = float(rng.uniform(0.25, 0.75))
        thr = float(np.quantile(f, 1.0 - cover))
        # edge width in field units = a few px times the mean gradient magnitude
        gy, gx = np.abs(np.diff(f, axis=0)).mean(), np.abs(np.diff(f, axis=1)).mean()
        ew = float(rng.uniform(2.0, 5.0)) * max(float(np.hypot(gy, gx)), 1e-6)
        return np.clip(0.5 + (f - thr) / ew, 0.0, 1.0).astype(np.float32)
    if kind == "gradient":
        a = float(rng.uniform(0.0, 2 * math.pi))
        p = math.cos(a) * xx + math.sin(a) * yy
        p = np.broadcast_to(p, (h, w))
        lo, hi = float(p.min()), float(p.max())
        return ((p - lo) / max(hi - lo, 1e-6)).astype(np.float32)
    raise ValueError(f"unknown mask kind {kind!r}; choose from {MASK_KINDS}")


def _convolve_reflect(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Per-channel 2-D convolution of (H, W, C) with an odd (k, k) kernel, reflect padding, 'same'."""
    r = kernel.shape[0] // 2
    pad = np.pad(img, ((r, r), (r, r), (0, 0)), mode="reflect" if min(img.shape[:2]) > r else "symmetric")
    out = fftconvolve(pad, kernel[:, :, None].astype(np.float32), mode="valid", axes=(0, 1))
    return out.astype(np.float32, copy=False)


def _splat(h: int, w: int, y: np.ndarray, x: np.ndarray, wt: np.ndarray) -> np.ndarray:
    """Bilinear splat of weighted points (y, x) onto an (h, w) float32 grid (out-of-range dropped)."""
    y0 = np.floor(y)
    x0 = np.floor(x)
    fy = (y - y0).astype(np.float32)
    fx = (x - x0).astype(np.float32)
    y0 = y0.astype(np.int64)
    x0 = x0.astype(np.int64)
    ys = np.concatenate([y0, y0, y0 + 1, y0 + 1])
    xs = np.concatenate([x0, x0 + 1, x0, x0 + 1])
    ws = np.concatenate([wt * (1 - fy) * (1 - fx), wt * (1 - fy) * fx, wt * fy * (1 - fx), wt * fy * fx])
    ok = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)
    out = np.bincount(ys[ok] * w + xs[ok], weights=ws[ok], minlength=h * w)
    return out.reshape(h, w).astype(np.float32)


def _gauss_kernel_1d(sigma: float) -> np.ndarray:
    r = int(4.0 * sigma + 0.5)  # scipy.ndimage.gaussian_filter's default truncation
    x = np.arange(-r, r + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


# --------------------------------------------------------------------------------------------
# degradations: each _apply_* returns (image, params); the public add_* return only the image


def _apply_noise(img, strength, rng, sigma=None):
    if sigma is None:
        sigma = _lerp(NOISE_SIGMA, _strength(strength, rng))
    n = rng.standard_normal(img.shape, dtype=np.float32)
    out = img + n * np.float32(sigma / 255.0)
    return np.clip(out, 0.0, 1.0), {"sigma": float(sigma)}


def _apply_rain(img, strength, rng, density=None, wide=False):
    s = _strength(strength, rng)
    h, w = img.shape[:2]
    jitter = float(rng.uniform(0.7, 1.3))  # drawn either way: the draws after it stay the same
    explicit = density
    density = _lerp(RAIN_DENSITY, s) * jitter if density is None else float(density)
    width = _lerp(RAIN_WIDTH, s) * float(rng.uniform(0.8, 1.2))
    length = float(rng.uniform(*RAIN_LENGTH))
    angle = float(rng.uniform(-RAIN_ANGLE, RAIN_ANGLE))  # degrees from vertical, one per image
    bright = float(rng.uniform(*RAIN_BRIGHTNESS))
    if wide:  # drawn after the usual ones, which stay as they were
        width = float(rng.uniform(*WIDE_RAIN_WIDTH))
        length = float(rng.uniform(*WIDE_RAIN_LENGTH))
        angle = float(rng.uniform(-WIDE_RAIN_ANGLE, WIDE_RAIN_ANGLE))
        bright = float(rng.uniform(*WIDE_RAIN_BRIGHTNESS))
        if explicit is None:  # as many px of streak as the default lengths give, in fewer, longer streaks
            density *= float(np.mean(RAIN_LENGTH)) / length
    margin = int(length)  # streaks may start outside the picture
    area = (h + 2 * margin) * (w + 2 * margin)
    n = int(rng.poisson(density * area))
    # per streak: centre, length (+-30%), angle jitter (+-3 deg), brightness (50-100%)
    cy = rng.uniform(-margin, h + margin, n)
    cx = rng.uniform(-margin, w + margin, n)
    ln = length * rng.uniform(0.7, 1.3, n)
    th = np.deg2rad(angle + rng.uniform(-3.0, 3.0, n))
    br = bright * rng.uniform(0.5, 1.0, n)
    steps = int(math.ceil(length * 1.3)) + 1  # <= 1 px apart
    t = np.linspace(-0.5, 0.5, steps)
    taper = np.sqrt(np.sin(np.pi * (t + 0.5)))  # soft ends
    dy, dx = np.cos(th), np.sin(th)
    ys = cy[:, None] + t[None, :] * (ln * dy)[:, None]
    xs = cx[:, None] + t[None, :] * (ln * dx)[:, None]
    wt = br[:, None] * taper[None, :] * (ln / (steps - 1))[:, None]  # unit weight per px of length
    layer = _splat(h, w, ys.ravel(), xs.ravel(), wt.ravel())
    layer = ndimage.gaussian_filter(layer, width, mode="constant")
    # a streak's peak after the bilinear splat (~0.9, measured) and the Gaussian (its centre tap)
    layer *= np.float32(1.0 / (0.9 * _gauss_kernel_1d(width).max()))
    out = img + np.minimum(layer, 1.0)[:, :, None]  # additive O = B + S
    params = {"density": density, "length": length, "angle_deg": angle, "width": width,
              "brightness": bright, "streaks": n, "wide": bool(wide)}
    return np.clip(out, 0.0, 1.0), params


def haze_depth(shape: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, dict[str, float]]:
    """Smooth random depth map in [0, 1]: a ramp mostly farther towards the top, plus smooth noise."""
    yy, xx = _coords(shape)
    # direction in which depth grows: up (-y) +- 60 degrees
    a = -math.pi / 2 + float(rng.uniform(-math.pi / 3, math.pi / 3))
    ramp = math.cos(a) * xx + math.sin(a) * yy
    ramp = (ramp - ramp.min()) / max(float(ramp.max() - ramp.min()), 1e-6)
    mix = float(rng.uniform(0.2, 0.5))
    d = (1 - mix) * ramp + mix * smooth_field(shape, rng, cells=int(rng.integers(2, 5)))
    d = (d - d.min()) / max(float(d.max() - d.min()), 1e-6)
    lo = float(rng.uniform(0.0, 0.3))
    hi = float(rng.uniform(0.7, 1.0))
    return (lo + (hi - lo) * d).astype(np.float32), {"depth_lo": lo, "depth_hi": hi, "depth_angle": a}


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Edge-preserving smoothing of ``src`` (H, W) guided by the grey image ``guide`` (He et al.,
    2010): locally ``q = a guide + b`` over (2 radius + 1)^2 windows, so ``q`` keeps the guide's
    edges where its local variance exceeds ``eps`` and is smooth elsewhere."""
    def box(a: np.ndarray) -> np.ndarray:
        return ndimage.uniform_filter(a, size=2 * radius + 1, mode="reflect")

    mi, mp = box(guide), box(src)
    a = (box(guide * src) - mi * mp) / (box(guide * guide) - mi * mi + eps)
    b = mp - a * mi
    return (box(a) * guide + box(b)).astype(np.float32)


SKY_DEPTH = 1.0  # normalised depth of sky pixels in scene_depth (the far end of the range)


def scene_depth(img: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Depth in [0, 1] that follows the picture ``img`` (H, W, 3): the content-blind ``base`` (in
    [0, 1]) made edge-aware with a guided filter on the grey image (depth jumps where objects end),
    and sky-like pixels (bright, flat, and grey or blue) pushed to ``SKY_DEPTH``: outdoor haze is
    thickest in the sky and at the horizon and changes at object boundaries."""
    h, w = base.shape
    grey = img.mean(axis=2).astype(np.float32)
    d = np.clip(guided_filter(grey, base, max(2, min(h, w) // 16), 1e-3), 0.0, 1.0)
    vmax, vmin = img.max(axis=2), img.min(axis=2)
    sat = (vmax - vmin) / np.maximum(vmax, 1e-3)
    mean = ndimage.uniform_filter(grey, 7, mode="reflect")
    std = np.sqrt(np.maximum(ndimage.uniform_filter(grey * grey, 7, mode="reflect") - mean * mean, 0.0))
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    blue = np.clip((b - r) / 0.08, 0, 1) * np.clip((b - g + 0.05) / 0.05, 0, 1)  # blue sky
    colour = np.maximum(np.clip(1 - sat / 0.4, 0, 1), blue)  # white/grey overcast or blue
    sky = (np.clip((vmax - 0.55) / 0.25, 0, 1) * colour * np.clip(1 - std / 0.04, 0, 1)).astype(np.float32)
    sky = np.clip(guided_filter(grey, sky, 4, 1e-2), 0.0, 1.0)
    return (d * (1 - sky) + SKY_DEPTH * sky).astype(np.float32)


def _apply_haze(img, strength, rng, scene=False, beta=None):
    s = _strength(strength, rng)  # drawn either way: the draws after it stay the same
    beta = _lerp(HAZE_BETA, s) if beta is None else float(beta)
    a0 = float(rng.uniform(0.7, 1.0))
    airlight = np.clip(a0 + rng.uniform(-0.05, 0.05, 3), 0.0, 1.0).astype(np.float32)
    depth, dparams = haze_depth(img.shape[:2], rng)
    if scene:  # draws after those of the content-blind model: scene=False output is unchanged
        if rng.random() < 0.5:
            airlight = np.full(3, np.float32(rng.uniform(0.8, 1.0)))  # grey, RESIDE's range
        lo, hi = dparams["depth_lo"], dparams["depth_hi"]
        depth = lo + (hi - lo) * scene_depth(img, (depth - lo) / max(hi - lo, 1e-6))
        dparams["scene"] = True
    t = np.exp(-beta * depth)[:, :, None]  # (H, W, 1)
    out = img * t + airlight * (1.0 - t)
    params = {"beta": beta, "airlight": [float(v) for v in airlight],
              "t_min": float(t.min()), "t_max": float(t.max()), **dparams}
    return np.clip(out, 0.0, 1.0), params


MAX_CURVATURE = 0.4  # |curvature| of the motion trajectories drawn by _apply_blur


def motion_radius(length: float, curvature: float = MAX_CURVATURE) -> int:
    """Half-size in px of ``motion_kernel(length, angle, curvature)`` (any angle): the context a
    blurred crop needs around it. The default bounds every trajectory ``_apply_blur`` draws."""
    return int(math.ceil(length / 2 + abs(curvature) * length / 4)) + 1


def motion_kernel(length: float, angle: float, curvature: float = 0.0) -> np.ndarray:
    """Normalised motion-blur kernel: a trajectory of ``length`` px at ``angle`` (radians), bent
    sideways by ``curvature`` (fraction of the length; 0 = straight), splatted bilinearly."""
    r = motion_radius(length, curvature)
    size = 2 * r + 1
    t = np.linspace(-0.5, 0.5, max(8, int(4 * length)))
    along = t * length
    across = curvature * length * (t**2 - 1.0 / 12.0)  # zero-mean bend keeps the kernel centred
    ca, sa = math.cos(angle), math.sin(angle)
    x = r + along * ca - across * sa
    y = r + along * sa + across * ca
    k = _splat(size, size, y, x, np.ones_like(t))
    return k / k.sum()


def disk_kernel(radius: float) -> np.ndarray:
    """Normalised defocus kernel: a disk with an anti-aliased edge."""
    r = int(math.ceil(radius)) + 1
    y, x = np.mgrid[-r : r + 1, -r : r + 1]
    k = np.clip(radius + 0.5 - np.hypot(y, x), 0.0, 1.0).astype(np.float32)
    return k / k.sum()


VARYING_TURN = math.pi / 6  # rad: most the second trajectory of a varying blur is turned


def _apply_blur(img, strength, rng, length=None, varying=False, linear=False):
    src = np.power(img, np.float32(CAMERA_GAMMA)) if linear else img  # what the kernels average
    motion = True
    if length is None:  # else: an explicit trajectory length, motion blur without a strength draw
        s = _strength(strength, rng)
        motion = rng.random() < 0.6
        length = _lerp(BLUR_MOTION_LENGTH, s)
    if motion:
        angle = float(rng.uniform(0.0, math.pi))
        curvature = 0.0 if rng.random() < 0.5 else float(rng.uniform(-MAX_CURVATURE, MAX_CURVATURE))
        k = motion_kernel(length, angle, curvature)
        params = {"type": "motion", "length": float(length), "angle_rad": angle, "curvature": curvature}
    else:
        radius = _lerp(BLUR_DISK_RADIUS, s)
        k = disk_kernel(radius)
        params = {"type": "defocus", "radius": radius}
    out = _convolve_reflect(src, k)
    if varying:  # a second trajectory, blended per pixel through a smooth field
        angle2 = angle + float(rng.uniform(-VARYING_TURN, VARYING_TURN))
        length2 = max(1.0, float(length) * float(rng.uniform(0.5, 1.0)))
        k2 = motion_kernel(length2, angle2, float(rng.uniform(-MAX_CURVATURE, MAX_CURVATURE)))
        wgt = smooth_field(img.shape[:2], rng, cells=int(rng.integers(2, 4)))[:, :, None]
        out = out * (1 - wgt) + _convolve_reflect(src, k2) * wgt
        params.update({"type": "varying motion", "length2": length2, "angle2_rad": angle2})
    if linear:
        out = np.power(np.clip(out, 0.0, 1.0), np.float32(1.0 / CAMERA_GAMMA))
        params["linear"] = True
    return np.clip(out, 0.0, 1.0), params


def _apply_lowlight(img, strength, rng):
    s = _strength(strength, rng)
    lo, hi = LOWLIGHT_SCALE
    scale = float(math.exp(math.log(lo) + s * (math.log(hi) - math.log(lo))))
    gamma = float(rng.uniform(*LOWLIGHT_GAMMA))
    gains = (1.0 + rng.uniform(-0.08, 0.08, 3)).astype(np.float32)  # slight colour cast
    shot = float(rng.uniform(0.01, 0.04))  # std = shot * sqrt(I)
    read = float(rng.uniform(0.002, 0.01))
    clean = np.power(img, np.float32(gamma)) * (gains * np.float32(scale))
    std = np.sqrt(clean * np.float32(shot**2) + np.float32(read**2))
    out = clean + std * rng.standard_normal(img.shape, dtype=np.float32)
    out = np.round(np.clip(out, 0.0, 1.0) * 255.0) / np.float32(255.0)  # 8-bit capture
    params = {"scale": scale, "gamma": gamma, "gains": [float(g) for g in gains],
              "shot_noise": shot, "read_noise": read}
    return out.astype(np.float32, copy=False), params


_APPLY: dict[str, Callable[..., tuple[np.ndarray, dict[str, Any]]]] = {
    "noise": _apply_noise, "rain": _apply_rain, "haze": _apply_haze, "blur": _apply_blur,
    "lowlight": _apply_lowlight,
}


def add_noise(img: np.ndarray, strength: float | None = None, rng: Any = None, *, sigma: float | None = None) -> np.ndarray:
    """Additive Gaussian noise; ``sigma`` in uint8 units (overrides strength: 0 -> 5, 1 -> 55)."""
    return _apply_noise(to_float_image(img), strength, as_rng(rng), sigma=sigma)[0]


def add_rain(img: np.ndarray, strength: float | None = None, rng: Any = None) -> np.ndarray:
    """Additive rain streaks (Rain100L-like at strength 0, Rain100H-like at 1)."""
    return _apply_rain(to_float_image(img), strength, as_rng(rng))[0]


def add_haze(img: np.ndarray, strength: float | None = None, rng: Any = None, *, scene: bool = False) -> np.ndarray:
    """Atmospheric scattering I = J t + A (1 - t), t = exp(-beta d); beta 0.6..2.5 by strength;
    ``scene``: depth that follows the picture (:func:`scene_depth`)."""
    return _apply_haze(to_float_image(img), strength, as_rng(rng), scene=scene)[0]


def add_blur(img: np.ndarray, strength: float | None = None, rng: Any = None) -> np.ndarray:
    """Motion (5..25 px) or defocus (radius 1.5..5 px) blur, reflect padding."""
    return _apply_blur(to_float_image(img), strength, as_rng(rng))[0]


def add_lowlight(img: np.ndarray, strength: float | None = None, rng: Any = None) -> np.ndarray:
    """LOL-like low light: gamma tone curve, exposure scale, colour cast, sensor noise, 8 bits."""
    return _apply_lowlight(to_float_image(img), strength, as_rng(rng))[0]


# --------------------------------------------------------------------------------------------
# composition


def _apply_real(kind: str, img: np.ndarray, strength: float | None, rng: np.random.Generator,
                exposure: float | None = None, scale: float | None = None,
                mist: float | None = None, stretch: float | None = None, drops: bool = False):
    """``DegradationSpec(real=True)``: the camera/weather version of ``kind`` (``slerir.camera``)."""
    from slerir import camera

    s = _strength(strength, rng)
    fn = {"noise": camera.camera_noise, "rain": camera.raindrops if drops else camera.real_rain,
          "lowlight": camera.night}[kind]
    options = {k: v for k, v in (("exposure", exposure), ("scale", scale), ("mist", mist), ("stretch", stretch))
               if v is not None}  # checked by the spec
    out, p = fn(img, s, rng, **options)
    return out, {**p, "real": True}


def degrade(img: np.ndarray, specs: Sequence[DegradationSpec],
            seed: int | Sequence[int] | np.random.Generator) -> DegradationResult:
    """Apply ``specs`` in order, each through its spatial mask: ``I = I (1 - m) + D(I) m``.

    Non-"full" masks are made disjoint: the first draws its own mask, a middle one draws a mask
    inside what is left, the last takes all that is left (``1 - sum of the previous``), so two
    partial specs split the image into complementary regions. The class mask holds, per pixel, the
    class id of the (last) spec whose mask > 0.5 there, 0 where none.

    Args:
        img: (H, W, 3) uint8 or float in [0, 1].
        specs: degradations to apply (may be empty: the image stays clean).
        seed: int / int sequence (a fresh generator: same seed -> bit-identical output) or a
            Generator (consumed).
    """
    rng = as_rng(seed)
    x = to_float_image(img)  # always a new array (astype / clip), never the caller's
    h, w = x.shape[:2]
    cls = np.zeros((h, w), np.int64)
    partial = [i for i, sp in enumerate(specs) if sp.mask != "full"]
    covered: np.ndarray | None = None  # sum of the partial masks drawn so far
    soft: list[np.ndarray] = []
    params: list[dict[str, Any]] = []
    for i, sp in enumerate(specs):
        if sp.mask == "full":
            m = None
        elif covered is None:
            m = make_mask((h, w), sp.mask, rng)
            covered = m.copy()
        elif i == partial[-1]:
            m = np.clip(1.0 - covered, 0.0, 1.0).astype(np.float32)
        else:
            m = make_mask((h, w), sp.mask, rng) * np.clip(1.0 - covered, 0.0, 1.0)
            covered = covered + m
        kw = {"noise": {"sigma": sp.sigma}, "blur": {"length": sp.length, "varying": sp.varying, "linear": sp.linear},
              "haze": {"scene": sp.scene, "beta": sp.beta}, "rain": {"density": sp.density, "wide": sp.wide}}.get(sp.kind, {})
        if sp.real:
            out, p = _apply_real(sp.kind, x, sp.strength, rng, sp.exposure, sp.scale, sp.mist, sp.stretch, sp.drops)
        else:
            out, p = _APPLY[sp.kind](x, sp.strength, rng, **kw)
        if m is None:
            x = out
            cls[:] = sp.class_id
            soft.append(np.ones((h, w), np.float32))
        else:
            m3 = m[:, :, None]
            x = x * (1.0 - m3) + out * m3
            cls[m > 0.5] = sp.class_id
            soft.append(m)
        params.append({"kind": sp.kind, "class_id": sp.class_id, "mask": sp.mask,
                       "strength": sp.strength, **p})
    present = np.flatnonzero(np.bincount(cls.ravel(), minlength=len(CLASSES)))
    soft_masks = np.stack(soft) if soft else np.zeros((0, h, w), np.float32)
    return DegradationResult(image=np.clip(x, 0.0, 1.0).astype(np.float32, copy=False),
                             classes=tuple(int(c) for c in present), mask=cls, params=params,
                             soft_masks=soft_masks)


def resolve_tasks(tasks: str | Sequence[str]) -> tuple[str, ...]:
    """"three"/"five" (``config.TASKS``) or a sequence of kinds -> tuple of kinds."""
    if isinstance(tasks, str):
        if tasks in TASKS:
            return TASKS[tasks]
        tasks = (tasks,)
    out = tuple(tasks)
    bad = [t for t in out if t not in KINDS]
    if bad or not out:
        raise ValueError(f"unknown tasks {bad or out}; use {sorted(TASKS)} or kinds from {KINDS}")
    return out


def _noise_spec(rng: np.random.Generator, mask: str) -> DegradationSpec:
    # half of the noise samples at the benchmark levels 15/25/50, the rest continuous in 5..55
    if rng.random() < 0.5:
        return DegradationSpec("noise", mask=mask, sigma=float(BENCHMARK_SIGMAS[int(rng.integers(3))]))
    return DegradationSpec("noise", mask=mask, sigma=float(rng.uniform(*NOISE_SIGMA)))


def task_probabilities(kinds: Sequence[str], weights: dict[str, float] | None) -> np.ndarray | None:
    """Normalised draw probabilities for ``kinds`` from relative ``weights`` (kind -> weight > 0;
    kinds left out weigh 1). None (uniform) when ``weights`` is empty or None."""
    if not weights:
        return None
    bad = sorted(set(weights) - set(kinds))
    if bad:
        raise ValueError(f"task_weights names kinds not being trained: {bad} (tasks: {list(kinds)})")
    w = np.array([float(weights.get(k, 1.0)) for k in kinds], dtype=np.float64)
    if not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise ValueError(f"task_weights must be finite and > 0, got {dict(weights)}")
    return w / w.sum()


def random_specs(rng: np.random.Generator, tasks: str | Sequence[str], mixed: bool,
                 weights: dict[str, float] | None = None) -> list[DegradationSpec]:
    """One random degradation over the whole image, or (mixed) two different kinds that split the
    image through a random partial mask ("half", "blob" or "gradient"). Strength is left to be
    drawn in ``degrade``; noise gets an explicit sigma with extra mass on 15/25/50.

    ``weights`` (kind -> relative weight, see :func:`task_probabilities`) skews which kinds are drawn;
    without it every kind is equally likely (and the draws are exactly those of earlier versions)."""
    kinds = resolve_tasks(tasks)
    p = task_probabilities(kinds, weights)
    if p is not None:
        if not mixed or len(kinds) < 2:
            chosen, mask = [kinds[int(rng.choice(len(kinds), p=p))]], "full"
        else:
            idx = rng.choice(len(kinds), size=2, replace=False, p=p)
            chosen, mask = [kinds[int(i)] for i in idx], PARTIAL_MASKS[int(rng.integers(len(PARTIAL_MASKS)))]
    elif not mixed or len(kinds) < 2:
        chosen, mask = [kinds[int(rng.integers(len(kinds)))]], "full"
    else:
        idx = rng.choice(len(kinds), size=2, replace=False)
        chosen, mask = [kinds[int(i)] for i in idx], PARTIAL_MASKS[int(rng.integers(len(PARTIAL_MASKS)))]
    return [_noise_spec(rng, mask) if k == "noise" else DegradationSpec(k, mask=mask) for k in chosen]
