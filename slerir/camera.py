"""Degradations as cameras and weather make them (ours; the v2 training recipe).

The first recipe's degradations (``slerir.degradations``) are the benchmarks' synthetic ones: white
Gaussian noise on sRGB values, thin additive rain streaks, an LOL-like tone curve. Photos that users
upload differ: their noise comes from a sensor, their rain has depth and a veil, their dark shots
are noisy, and every one went through JPEG. A model trained only on the benchmarks' versions calls
most real noisy photos clean and leaves real rain in place (issue #30). This module adds:

* :func:`camera_noise`: sensor noise as a camera pipeline makes it. sRGB -> linear light (inverse
  gamma 2.2) -> white-balance gains undone -> Bayer mosaic -> Poisson-Gaussian noise with
  variance ``a x + b`` per raw sample (``a``: shot noise, log-uniform over an ISO-like range;
  ``log b`` tied to ``log a``, as measured for real sensors, with a jitter) -> bilinear demosaic
  (the interpolation correlates the noise between neighbouring pixels and channels) -> gains
  re-applied (red and blue noise grow) -> gamma -> 8 bits. Strength 0 is a good daylight photo
  (about 40-45 dB), strength 1 a dim smartphone shot (about 20 dB, as SIDD's worst).
* :func:`jpeg`: JPEG compression at a given quality (PIL, 4:2:0), as every shared photo has.
* :func:`real_rain`: rain with depth: two or three streak layers (near: wide, long, soft and
  bright; far: thin and dense), each blurred along its own depth, screen-blended over the scene,
  and a veil of scattered light (rain accumulation) that lifts and greys the scene.
* :func:`raindrops`: water drops on a window or the lens: small lenses showing a minified, inverted,
  blurred view of the scene around them, sometimes out of focus.
* :func:`night`: a dark capture: exposure cut in linear light with a smooth spatial gain (a lamp,
  a bright window, a backlit sky), then the sensor noise of a high ISO.

All functions take and return float32 RGB (H, W, 3) in [0, 1] and draw only from the
``np.random.Generator`` they are given, so a seed reproduces them bit for bit.
"""
from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
from PIL import Image
from scipy import ndimage

GAMMA = 2.2
# Shot-noise coefficient a of var = a x + b in linear light, log-uniform over strength 0..1.
# (A raw-noise model with log b = 2.18 log a + 1.2 + N(0, 0.26) fits real sensors well; Brooks et
# al., "Unprocessing images", CVPR 2019. The range below spans daylight to dim indoor smartphones.)
SHOT = (2e-4, 3e-2)
READ_SLOPE, READ_OFFSET, READ_JITTER = 2.18, 1.2, 0.26
WB_RED, WB_BLUE = (1.6, 2.4), (1.3, 2.0)  # white-balance gains a camera applies after the raw
JPEG_QUALITY = (60, 95)
MIST_MAX = 2.0  # real_rain: the heavy rain's spray, a scattering coefficient over depth 0.3..1 (T >= 0.14)
STRETCH_MAX = 4.0  # real_rain: streaks up to 4x as long (a long exposure of a fast fall)


def to_linear(img: np.ndarray) -> np.ndarray:
    return np.power(np.clip(img, 0.0, 1.0), np.float32(GAMMA))


def to_srgb(lin: np.ndarray) -> np.ndarray:
    return np.power(np.clip(lin, 0.0, 1.0), np.float32(1.0 / GAMMA))


def _lerp_log(r: tuple[float, float], s: float) -> float:
    return float(math.exp(math.log(r[0]) + s * (math.log(r[1]) - math.log(r[0]))))


def bayer_masks(h: int, w: int) -> np.ndarray:
    """(H, W, 3) float32 0/1 masks of an RGGB Bayer pattern."""
    m = np.zeros((h, w, 3), np.float32)
    m[0::2, 0::2, 0] = 1
    m[0::2, 1::2, 1] = 1
    m[1::2, 0::2, 1] = 1
    m[1::2, 1::2, 2] = 1
    return m


_K_RB = np.array([[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]], np.float32)
_K_G = np.array([[0.0, 0.25, 0.0], [0.25, 1.0, 0.25], [0.0, 0.25, 0.0]], np.float32)


def demosaic(raw: np.ndarray) -> np.ndarray:
    """Bilinear demosaic of an RGGB mosaic (H, W) -> (H, W, 3)."""
    h, w = raw.shape
    m = bayer_masks(h, w)
    out = np.empty((h, w, 3), np.float32)
    for c, k in ((0, _K_RB), (1, _K_G), (2, _K_RB)):
        out[..., c] = ndimage.convolve(raw * m[..., c], k, mode="mirror")
    return out


def noise_params(strength: float, rng: np.random.Generator) -> dict[str, float]:
    """Shot a and read b of the raw noise (var = a x + b in linear light) for ``strength`` in [0, 1]."""
    a = _lerp_log(SHOT, float(strength))
    log_b = READ_SLOPE * math.log(a) + READ_OFFSET + float(rng.normal(0.0, READ_JITTER))
    return {"shot": a, "read": float(math.exp(log_b))}


def camera_noise(img: np.ndarray, strength: float, rng: np.random.Generator,
                 exposure: np.ndarray | float = 1.0) -> tuple[np.ndarray, dict[str, Any]]:
    """Sensor noise of a camera pipeline over ``img`` (see the module docstring).

    Args:
        img: (H, W, 3) float32 sRGB in [0, 1]: the scene as the camera would render it noise-free.
        strength: 0 (daylight, ISO ~100) .. 1 (dim indoor smartphone, ISO ~3200+).
        exposure: a factor (or an (H, W, 1) map) on the linear light before the sensor; < 1 darkens
            the capture (``night``), the noise then being that of fewer photons.
    Returns:
        the noisy sRGB image (8-bit quantised) and its parameters.
    """
    h, w = img.shape[:2]
    p = noise_params(strength, rng)
    gains = np.array([rng.uniform(*WB_RED), 1.0, rng.uniform(*WB_BLUE)], np.float32)
    lin = to_linear(img) * np.asarray(exposure, np.float32)  # (H, W, 3) linear light at the sensor
    raw = (lin / gains * bayer_masks(h, w)).sum(axis=2)  # the one colour each photosite records
    var = np.maximum(raw, 0.0) * np.float32(p["shot"]) + np.float32(p["read"])
    noise = np.sqrt(var) * rng.standard_normal((h, w), dtype=np.float32)
    # the demosaic interpolates the noise like the signal (correlating neighbours and channels); the
    # signal itself is kept at full resolution: real demosaicing keeps detail far better than bilinear
    out = to_srgb(lin + demosaic(noise) * gains)
    out = np.round(out * 255.0) / np.float32(255.0)
    return out.astype(np.float32, copy=False), {**p, "wb": [float(g) for g in gains], "strength": float(strength)}


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """JPEG round trip at ``quality`` (PIL, 4:2:0 chroma subsampling)."""
    u8 = np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(u8).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB"), np.float32) / np.float32(255.0)


def _streak_layer(h: int, w: int, rng: np.random.Generator, density: float, length: float, width: float,
                  angle: float, bright: float, blur: float) -> np.ndarray:
    """(H, W) streak intensities: ``density`` streaks per px of ``length`` px at ``angle`` degrees from
    vertical (+-3 per streak), Gaussian width ``width`` px, then a Gaussian ``blur`` (depth of field)."""
    margin = int(length)
    n = int(rng.poisson(density * (h + 2 * margin) * (w + 2 * margin)))
    steps = int(math.ceil(length * 1.3)) + 1
    cy, cx = rng.uniform(-margin, h + margin, n), rng.uniform(-margin, w + margin, n)
    ln = length * rng.uniform(0.6, 1.4, n)
    th = np.deg2rad(angle + rng.uniform(-3.0, 3.0, n))
    br = bright * rng.uniform(0.4, 1.0, n)
    t = np.linspace(-0.5, 0.5, steps)
    taper = np.sqrt(np.sin(np.pi * (t + 0.5)))
    ys = (cy[:, None] + t[None, :] * (ln * np.cos(th))[:, None]).ravel()
    xs = (cx[:, None] + t[None, :] * (ln * np.sin(th))[:, None]).ravel()
    wt = (br[:, None] * taper[None, :] * (ln / (steps - 1))[:, None]).ravel()
    keep = (ys >= 0) & (ys < h - 1) & (xs >= 0) & (xs < w - 1)
    ys, xs, wt = ys[keep], xs[keep], wt[keep]
    layer = np.zeros((h, w), np.float32)
    y0, x0 = np.floor(ys).astype(np.int64), np.floor(xs).astype(np.int64)
    fy, fx = (ys - y0).astype(np.float32), (xs - x0).astype(np.float32)
    for dy, dx, ww in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
        np.add.at(layer, (y0 + dy, x0 + dx), wt * ww)
    sig = math.hypot(width, blur)
    # a line of unit weight per px, blurred by a Gaussian of sigma sig, peaks at 1 / (sqrt(2 pi) sig) (0.9: the
    # bilinear splat's loss): scale so a streak's centre reaches its brightness
    peak = math.sqrt(2 * math.pi) * max(sig, 0.4) / 0.9
    return ndimage.gaussian_filter(layer, sig, mode="constant") * np.float32(peak)


def real_rain(img: np.ndarray, strength: float, rng: np.random.Generator,
              scale: float = 1.0, mist: float = 0.0, stretch: float = 1.0) -> tuple[np.ndarray, dict[str, Any]]:
    """Rain with depth over ``img``: 2-3 streak layers at one wind angle and a veil (see module docstring).

    ``scale`` (0.2..1): the streaks' size in pixels relative to a close view at full resolution. The same
    rain seen further away or in a downscaled photo (most shared photos) has shorter, thinner, fainter and
    denser streaks: lengths, widths and blur times ``scale``, density over ``scale``, brightness times
    ``0.4 + 0.6 scale`` (a thin streak averages with the scene behind it).

    Heavy rain (``mist`` > 0 or ``stretch`` > 1) follows the rain-accumulation imaging model of heavy rain
    (Li et al., CVPR 2019; Yang et al., TPAMI 2020): ``O = T (B + S) + (1 - T) A``. Streaks seen through a
    usual 1/30-1/125 s exposure are long against their width: ``stretch`` (1..4) lengthens every streak
    (density over ``sqrt(stretch)``: more streak per px, not proportionally more streaks). ``mist``
    (0..MIST_MAX, a scattering coefficient) veils scene and streaks alike with ``T = exp(-mist d)`` over a
    depth ``d`` that follows the picture (``slerir.degradations.scene_depth``, 0.3..1), towards a grey
    overcast airlight: the distance fades into spray, as in photos of a downpour. The defaults (0, 1) draw
    nothing more and reproduce the light rain bit for bit."""
    if not 0.2 <= scale <= 1.0:
        raise ValueError(f"rain scale must be in [0.2, 1], got {scale}")
    if not 0.0 <= mist <= MIST_MAX:
        raise ValueError(f"rain mist must be in [0, {MIST_MAX:g}], got {mist}")
    if not 1.0 <= stretch <= STRETCH_MAX:
        raise ValueError(f"rain stretch must be in [1, {STRETCH_MAX:g}], got {stretch}")
    f = float(scale)
    g = float(stretch)
    s = float(strength)
    h, w = img.shape[:2]
    angle = float(rng.uniform(-30.0, 30.0))
    layers = []
    n_layers = int(rng.integers(2, 4))
    for i in range(n_layers):  # far (thin, dense, short) to near (wide, sparse, long, soft)
        depth = i / max(1, n_layers - 1)
        layers.append(_streak_layer(
            h, w, rng,
            density=float(rng.uniform(0.6, 1.4)) * (0.004 + 0.006 * s) * (1.0 - 0.7 * depth) / f / math.sqrt(g),
            length=float(rng.uniform(12, 30)) * (1 + 0.8 * depth) * f * g,
            width=float(rng.uniform(0.4, 0.7)) * (1 + 0.8 * depth) * f,
            angle=angle + float(rng.uniform(-4, 4)),
            bright=float(rng.uniform(0.3, 0.6)) * (0.6 + 0.4 * depth) * (0.7 + 0.4 * s) * (0.4 + 0.6 * f),
            blur=(float(rng.uniform(0.0, 0.5)) + 1.2 * depth * float(rng.random())) * f))
    streaks = np.clip(sum(layers), 0.0, 1.0)[:, :, None]
    veil = float(rng.uniform(0.0, 0.12 + 0.2 * s))
    air = np.float32(rng.uniform(0.7, 0.95))
    scene = img * (1 - veil) + air * veil
    out = 1.0 - (1.0 - scene) * (1.0 - streaks * np.float32(rng.uniform(0.8, 1.0)))  # screen blend
    params = {"layers": n_layers, "angle_deg": angle, "veil": veil, "strength": s, "scale": f}
    if mist > 0.0:  # drawn after everything above: mist 0 leaves the light rain's draws as they were
        from slerir.degradations import scene_depth, smooth_field

        base = smooth_field((h, w), rng, cells=int(rng.integers(2, 5)))
        ramp = np.linspace(1.0, 0.0, h, dtype=np.float32)[:, None]  # farther towards the top, as most views
        d = 0.3 + 0.7 * scene_depth(img, np.clip(0.6 * ramp + 0.4 * base, 0.0, 1.0))
        t = np.exp(-np.float32(mist) * d)[:, :, None].astype(np.float32)
        a = np.float32(rng.uniform(0.7, 0.95))
        out = out * t + a * (1.0 - t)
        params.update(mist=float(mist), mist_airlight=float(a), mist_t_mean=float(t.mean()))
    if g > 1.0:
        params["stretch"] = g
    return np.clip(out, 0.0, 1.0).astype(np.float32), params


def raindrops(img: np.ndarray, strength: float, rng: np.random.Generator,
              scale: float = 1.0) -> tuple[np.ndarray, dict[str, Any]]:
    """Water drops on a window or on the lens in front of the scene (as in the Raindrop pairs, Qian et
    al., CVPR 2018): each drop is a small convex lens. Through it one sees a minified, inverted and
    blurred view of the scene around it (the drop focuses far behind the sensor's focal plane), lightened
    by the sky light it gathers, inside a soft, slightly darker rim. Half the time the glass is out of
    focus and every drop is a soft blob. Strength: more and larger drops (about 0.5 to 2 per 1,000 px;
    radius about 4 to 8 px in a close view at full resolution); ``scale`` as in :func:`real_rain`."""
    if not 0.2 <= scale <= 1.0:
        raise ValueError(f"raindrop scale must be in [0.2, 1], got {scale}")
    s, f = float(strength), float(scale)
    h, w = img.shape[:2]
    n = int(rng.poisson((0.5 + 1.5 * s) * 1e-3 * h * w / f))
    r_med = (4.0 + 4.0 * s) * f
    radius = np.clip(np.exp(rng.normal(math.log(r_med), 0.45, n)), 1.2, 30.0)
    cy, cx = rng.uniform(0, h, n), rng.uniform(0, w, n)
    aspect = rng.uniform(0.8, 1.25, n)  # a drop runs a little down or sideways
    minify = rng.uniform(1.5, 3.0, n)
    defocused = bool(rng.random() < 0.5)
    soft = float(rng.uniform(1.0, 3.0)) * f if defocused else 0.0
    content_sigma = float(rng.uniform(1.0, 3.0))
    lift, sky = float(rng.uniform(0.05, 0.25)), float(rng.uniform(0.75, 0.95))
    alpha = np.zeros((h, w), np.float32)
    src_y, src_x = np.zeros((h, w), np.float32), np.zeros((h, w), np.float32)
    rim = np.zeros((h, w), np.float32)
    for i in range(n):
        r = float(radius[i])
        ry, rx = r * aspect[i], r / aspect[i]
        y0, y1 = max(0, int(cy[i] - ry - 2)), min(h, int(cy[i] + ry + 3))
        x0, x1 = max(0, int(cx[i] - rx - 2)), min(w, int(cx[i] + rx + 3))
        if y0 >= y1 or x0 >= x1:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        dy, dx = yy - np.float32(cy[i]), xx - np.float32(cx[i])
        d = np.sqrt((dy / ry) ** 2 + (dx / rx) ** 2)  # 1 at the drop's edge
        a = np.clip((1.0 - d) * r / 1.2, 0.0, 1.0)  # a one-pixel soft edge
        take = a > alpha[y0:y1, x0:x1]
        alpha[y0:y1, x0:x1] = np.where(take, a, alpha[y0:y1, x0:x1])
        # the lens: the point at offset p from the centre shows the scene at -minify * p (inverted, wider view)
        src_y[y0:y1, x0:x1] = np.where(take, cy[i] - minify[i] * dy, src_y[y0:y1, x0:x1])
        src_x[y0:y1, x0:x1] = np.where(take, cx[i] - minify[i] * dx, src_x[y0:y1, x0:x1])
        rim[y0:y1, x0:x1] = np.where(take, np.clip((d - 0.6) / 0.4, 0.0, 1.0), rim[y0:y1, x0:x1])
    out = img
    if n:
        blurred = ndimage.gaussian_filter(img, (content_sigma, content_sigma, 0), mode="reflect")
        coords = [np.clip(src_y, 0, h - 1), np.clip(src_x, 0, w - 1)]
        seen = np.stack([ndimage.map_coordinates(blurred[..., c], coords, order=1, mode="nearest")
                         for c in range(3)], axis=2)
        seen = seen * np.float32(1 - lift) + np.float32(lift * sky)
        seen = seen * (1.0 - 0.25 * rim)[:, :, None]  # the edge refracts the dark ground and frame
        if soft > 0:  # the glass out of focus: the drops' outline and their view blur together
            alpha = ndimage.gaussian_filter(alpha, soft, mode="constant")
            seen = ndimage.gaussian_filter(seen, (soft, soft, 0), mode="reflect")
        a3 = alpha[:, :, None]
        out = img * (1.0 - a3) + seen * a3
    return np.clip(out, 0.0, 1.0).astype(np.float32), {
        "drops": n, "drop_radius": r_med, "defocused": defocused, "strength": s, "scale": f, "cover": float(alpha.mean())}


NIGHT_EXPOSURE = (0.3, 0.02)  # linear exposure of a dark capture at strength 0 .. 1 (unless given)


def night(img: np.ndarray, strength: float, rng: np.random.Generator,
          exposure: float | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """A dark capture of ``img``: exposure cut in linear light (``exposure``, or 3.3-50x, stronger with
    ``strength``), with a smooth spatial gain up to 6x where a light source or a bright sky is, then
    high-ISO noise (stronger with ``strength``)."""
    from slerir.degradations import smooth_field

    s = float(strength)
    h, w = img.shape[:2]
    cut = float(exposure) if exposure is not None else _lerp_log(NIGHT_EXPOSURE, s)
    spread = float(rng.uniform(0.0, math.log(6.0)))
    gain = np.exp(spread * (smooth_field((h, w), rng, cells=int(rng.integers(2, 5))) - 1.0))[:, :, None]
    exposure = (cut * gain).astype(np.float32)
    iso = float(np.clip(0.45 + 0.55 * s + rng.uniform(-0.15, 0.1), 0.0, 1.0))
    out, p = camera_noise(img, iso, rng, exposure=exposure)
    return out, {**p, "exposure": cut, "gain_spread": spread}
