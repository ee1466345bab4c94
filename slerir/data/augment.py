"""Training augmentations and their registry: a recipe is a list of entries drawn per sample.

A recipe (``TrainConfig.recipe``, ``TrainSampler(recipe=...)``) is a list of JSON objects::

    [{"aug": "light_rain", "share": 0.6},
     {"aug": "long_blur", "share": 0.4, "length": [25, 50]},
     {"aug": "dark", "share": 0.3, "only": ["clean", "noise", "rain", "haze", "blur"]},
     {"aug": "flat", "share": 0.3, "only": ["noise", "rain", "blur"], "needs": ["blur"]}]

Every entry has ``aug`` (a name of :data:`AUGMENTATIONS`) and ``share`` (in [0, 1]; 0 switches the
entry off: it draws nothing), optionally ``only`` (the entry applies to a sample only when all the
sample's kinds lie in this list), ``needs`` (... only when the sample has at least one of these
kinds) and ``real`` (... only when every degradation of these kinds the sample has is made as cameras
and weather make it, ``DegradationSpec.real``: ``"real": ["noise"]`` skips samples with white noise and
keeps those with camera noise or no noise); a sample's kinds are those of its degradations, or
``["clean"]`` when it has none. Any other
key is a parameter of the augmentation, overriding its registered default (ranges are ``[lo, hi]``,
drawn uniformly). A recipe without an entry for an augmentation never draws it.

Each sample (``slerir.data.sampler.TrainSampler.sample``) is drawn in this order:

1. a photo; the base degradations (clean, one kind, or a two-kind mixture: ``clean_share``,
   ``mixed_share``, ``task_weights``);
2. the ``spec`` entries, in recipe order: they change the drawn degradation specs, so they run before
   all others and the sample's kinds are fixed after them;
3. the other entries, in recipe order: for each applicable one a coin ``rng.random() < share``; on a hit
   the hook draws its random arguments and returns the operation to apply. An augmentation changes a
   sample at most once: an entry whose augmentation already hit the sample draws nothing (two entries of
   one augmentation with different ``only``/``needs`` are alternatives);
4. the crop: "photo" content operations were applied to the whole photo at once; the clean crop (flipped,
   turned, float32 in [0, 1]) gets the "tone" content operations, then the "region" ones (each group in
   recipe order); it is degraded; the ``clean`` operations change input and target alike, then the
   ``input`` operations the degraded input alone; the patch (and context) is cut.

Hook signatures (``Augmentation.fn``; ``params`` are the entry's parameters with their defaults):

- ``spec``: ``fn(specs, rng, coin, **params) -> list[DegradationSpec]``: the sample's specs (``[]`` for a
  clean sample) in, the changed list out; ``coin()`` draws one ``rng.random() < share``, so a hook decides
  whether it draws one coin per spec it may change (:func:`each_spec`) or one per sample (``partial``).
  E.g. rain with a veil, haze with another depth model, blur of another kernel family.
- ``content``: ``fn(rng, **params) -> op`` with ``op(img, rng) -> img``: a change of the clean picture,
  kept in the target (and so in the input). ``stage`` says where ``op`` runs: "photo" (the whole uint8
  (H, W, 3) photo, at once), "tone" or "region" (the float32 (S, S, 3) clean crop, tones first).
- ``input``: ``fn(rng, **params) -> op`` with ``op(lq, rng) -> lq``: the degraded float32 (S, S, 3) input
  only, after the degradations; the target is untouched (e.g. JPEG compression of the input).
- ``clean``: ``fn(rng, **params) -> op`` with ``op(lq, gt, rng) -> (lq, gt)``: input and target alike,
  after the degradations and before the ``input`` operations (e.g. mild sensor noise and JPEG of the
  camera, which a restored photo keeps: with ``"only": ["clean"]`` such photos must pass through).

``S`` is the crop the degradations see (the patch plus its blur margins, or its context); ops return
float32 arrays of the shape they were given. A new augmentation is one entry of :data:`AUGMENTATIONS`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from PIL import Image
from scipy import ndimage

from slerir.camera import camera_noise, jpeg
from slerir.degradations import KINDS, DegradationSpec, smooth_field

LIGHT_RAIN_MAX = 0.25  # "light_rain": rain strength drawn in [0, LIGHT_RAIN_MAX]; also the validation sets' rain
FAINT_RAIN_DENSITY = (0.0002, 0.0008)  # "faint_rain": streaks per px of drizzle (strength 0 has 0.0008)
LIGHT_HAZE_MAX = 0.25  # "light_haze": haze strength drawn in [0, LIGHT_HAZE_MAX]
FAINT_HAZE_BETA = (0.2, 0.6)  # "faint_haze": scattering coefficient of thin haze (strength 0 has 0.6)
LONG_BLUR_LENGTH = (25.0, 50.0)  # px: "long_blur" motion trajectories, beyond the strength range's 5..25 px
ZOOM_FACTOR = (1.5, 3.0)  # "zoom": a region 1/f of the photo enlarged to its size
FULL_CHROMA_AMOUNT = (1.0, 4.0)  # "full_chroma": unsharp-mask amount on the colour channels
DARK_GAMMA = (1.2, 2.2)  # "dark": tone curve x ** gamma (deep shadows, bright highlights)
FLAT_CONTRAST = (0.55, 0.85)  # "flat": contrast kept by the tone (overcast, washed-out views)
FLAT_LEVEL = (0.4, 0.7)  # the grey level that tone pulls towards
DEFOCUS_SIGMA = (1.5, 5.0)  # px: "defocus" Gaussian blur of one region (shallow depth of field)
DEFOCUS_AREA = (0.2, 0.8)  # share of the crop that is out of focus
SHADOW_GAIN = (0.25, 0.7)  # "shadow": brightness factor of one region
SHADOW_AREA = (0.2, 0.7)  # share of the crop in shadow
PALE_CONTRAST = (0.25, 0.6)  # "pale": contrast kept in a washed-out region (pavement, a wall, overcast sky)
PALE_LEVEL = (0.55, 0.85)  # the light grey that region is pulled towards
PALE_AREA = (0.25, 0.6)  # share of the crop it covers

REAL_NOISE_STRENGTH = (0.2, 1.0)  # "real_noise": camera-noise strength (slerir.camera: about 37 dB .. 18 dB)
HEAVY_RAIN_MIST = (0.2, 1.2)  # "heavy_rain": the spray's scattering coefficient (mean transmission ~0.9..0.5)
HEAVY_RAIN_STRETCH = (1.0, 3.0)  # and how many times as long its streaks are
DIM_GAIN = (0.3, 0.8)  # "dim": brightness factor of a dim, normally exposed photo, kept in the target
JPEG_QUALITY = (60, 95)  # "jpeg": quality of the input's JPEG compression
CLEAN_NOISE_STRENGTH = (0.0, 0.12)  # "camera_clean": a good photo's mild sensor noise (about 42..39 dB), kept
CLEAN_JPEG_QUALITY = (80, 95)  # "camera_clean": and its JPEG quality

HOOKS = ("spec", "content", "input", "clean")
STAGES = ("photo", "tone", "region")  # content ops: the whole photo, then the crop's tones, then its regions
SAMPLE_KINDS = ("clean", *KINDS)  # what ``only`` and ``needs`` may list
ENTRY_KEYS = ("aug", "share", "only", "needs", "real")  # every entry's keys; the others are parameters
REAL_KINDS = ("noise", "rain", "lowlight")  # the kinds with a camera/weather version (what ``real`` may list)


# ------------------------------------------------------------------------------------------ content functions

def zoom(img: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """A random region ``1 / factor`` of ``img``'s height and width, enlarged (bicubic) back to
    ``img``'s size: the same photo as a larger camera, a video frame or an upscaled picture records it,
    softer per pixel. Our clean photos are all downscaled (BSDS at 481x321) and crisp to the pixel;
    degradations are drawn afterwards, at the new pixel scale, as a sensor makes them. (H, W, 3) uint8."""
    if factor < 1:
        raise ValueError(f"zoom factor must be at least 1, got {factor}")
    h, w = img.shape[:2]
    rh, rw = max(1, int(round(h / factor))), max(1, int(round(w / factor)))
    y, x = int(rng.integers(h - rh + 1)), int(rng.integers(w - rw + 1))
    region = Image.fromarray(np.ascontiguousarray(img[y:y + rh, x:x + rw]))
    return np.asarray(region.resize((w, h), Image.BICUBIC), dtype=np.uint8)


def to_ycc(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(H, W, 3) RGB float in [0, 1] -> luma Y and colour differences Cb, Cr (BT.601, as JPEG; Cb, Cr centred on 0)."""
    y = 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]
    return y, (x[..., 2] - y) * np.float32(0.564), (x[..., 0] - y) * np.float32(0.713)


def from_ycc(y: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> np.ndarray:
    """``to_ycc``'s inverse, clipped to [0, 1]: (H, W, 3) float32."""
    r = y + cr / np.float32(0.713)
    b = y + cb / np.float32(0.564)
    g = (y - 0.299 * r - 0.114 * b) / np.float32(0.587)
    return np.clip(np.stack([r, g, b], axis=-1), 0.0, 1.0).astype(np.float32)


def full_chroma(img: np.ndarray, amount: float, sigma: float = 1.0) -> np.ndarray:
    """``img`` with its colour as crisp as its brightness, as a photo has that was never stored with
    half-resolution colour (a PNG, a rendering, a photo downscaled for the web).

    Our training photos are JPEGs with subsampled colour: their colour is smooth at the pixel scale while
    their brightness is crisp, so the only fine colour detail a model meets in training is noise, and a crisp
    clean photo reads as noisy (LOG, finding 28). The colour-difference channels (Cb, Cr of BT.601, as
    JPEG) get an unsharp mask of ``amount`` at ``sigma`` px, which steepens the colour edges that are there
    (they lie where the brightness edges are); luma is unchanged. (H, W, 3) uint8 -> uint8."""
    y, cb, cr = to_ycc(img.astype(np.float32) / 255.0)
    a = np.float32(amount)
    cb, cr = (c + a * (c - ndimage.gaussian_filter(c, sigma, mode="nearest")) for c in (cb, cr))
    return (from_ycc(y, cb, cr) * 255.0 + 0.5).astype(np.uint8)


def soft_region(shape: tuple[int, int], area: float, rng: np.random.Generator, feather: float = 0.1) -> np.ndarray:
    """(H, W, 1) float32 weights in [0, 1]: 1 on a smooth random region of about ``area`` of the image.

    The region is where a smooth random field (``slerir.degradations.smooth_field``) is above its
    ``1 - area`` quantile, feathered over ``feather`` of the field's range.
    """
    f = smooth_field(shape, rng)
    t = float(np.quantile(f, 1.0 - area))
    return np.clip((f - t) / feather + 0.5, 0.0, 1.0)[..., None]


def flatten(img: np.ndarray, contrast: float, level: float) -> np.ndarray:
    """``img`` toned flat: ``level + contrast * (img - level)``, a washed-out look (overcast light, a
    low-contrast camera profile) that is content, not haze: it has no depth and, under blur, the smear
    is what is to be undone."""
    return (np.float32(level) + np.float32(contrast) * (img - np.float32(level))).astype(np.float32)


def defocus(img: np.ndarray, sigma: float, area: float, rng: np.random.Generator) -> np.ndarray:
    """``img`` (H, W, 3) float32 with a :func:`soft_region` of about ``area`` of it Gaussian-blurred by
    ``sigma`` px: a shallow depth of field, as portraits and close-ups have."""
    w = soft_region(img.shape[:2], area, rng)
    soft = ndimage.gaussian_filter(img, (sigma, sigma, 0), mode="reflect")
    return (img + w * (soft - img)).astype(np.float32)


def shadow(img: np.ndarray, gain: float, area: float, rng: np.random.Generator) -> np.ndarray:
    """``img`` (H, W, 3) float32 with a softly edged :func:`soft_region` of about ``area`` of it
    multiplied by ``gain`` < 1: a shadow or a dark object, without the noise of low light."""
    w = soft_region(img.shape[:2], area, rng, feather=0.25)
    return (img * (1.0 - w * (1.0 - gain))).astype(np.float32)


def pale(img: np.ndarray, contrast: float, level: float, area: float, rng: np.random.Generator) -> np.ndarray:
    """``img`` (H, W, 3) float32 with a softly edged :func:`soft_region` of about ``area`` of it toned
    :func:`flatten` (``contrast``, ``level``): a light, low-contrast surface (pavement, a wall, overcast
    sky) inside an ordinary photo. Locally it looks like haze (bright, grey, flat) but it is content."""
    w = soft_region(img.shape[:2], area, rng, feather=0.25)
    return (img + w * (flatten(img, contrast, level) - img)).astype(np.float32)


def darken(img: np.ndarray, gamma: float) -> np.ndarray:
    """``img`` float32 toned ``x ** gamma``: deep shadows and black areas that are content to keep."""
    return np.power(img, np.float32(gamma), dtype=np.float32)


# ------------------------------------------------------------------------------------------------- hooks

def each_spec(kind: str, change: Callable[..., DegradationSpec],
              when: Callable[[DegradationSpec], bool] | None = None) -> Callable[..., list[DegradationSpec]]:
    """A ``spec`` hook that replaces each spec of ``kind`` (for which ``when`` holds) by
    ``change(spec, rng, **params)`` when that spec's coin hits (one coin per such spec)."""
    def hook(specs, rng, coin, **params):
        return [change(sp, rng, **params) if sp.kind == kind and (when is None or when(sp)) and coin() else sp
                for sp in specs]
    return hook


def _uniform(rng: np.random.Generator, lo_hi: Sequence[float]) -> float:
    return float(rng.uniform(lo_hi[0], lo_hi[1]))


def _real_rain(sp, rng, scale):
    """Rain in depth layers with a veil; ``scale`` (lo, hi): the streaks' size, uniform in that range (None:
    a close full-resolution view, ``slerir.camera.real_rain``'s scale 1)."""
    sp = replace(sp, density=None, wide=False, real=True)
    return sp if scale is None else replace(sp, scale=_uniform(rng, scale))


def _heavy_rain(sp, rng, mist, stretch):
    """A downpour (``slerir.camera.real_rain``'s heavy rain): spray veiling the distance, ``mist`` (lo, hi)
    uniform, and streaks ``stretch`` (lo, hi) times as long. Applies to rain made ``real`` by an earlier
    ``real_rain`` entry."""
    return replace(sp, mist=_uniform(rng, mist), stretch=_uniform(rng, stretch))


def _real_lowlight(sp, rng, exposure):
    """A dark capture; ``exposure`` (lo, hi): its linear exposure cut, log-uniform in that range (None:
    from the strength, ``slerir.camera.NIGHT_EXPOSURE``). Kept below the ``dim`` augmentation's range, a
    dark capture to brighten and a dim photo to keep dim do not share inputs."""
    if exposure is None:
        return replace(sp, real=True)
    lo, hi = sorted(float(v) for v in exposure)
    return replace(sp, real=True, exposure=float(np.exp(rng.uniform(np.log(lo), np.log(hi)))))


def _partial(specs, rng, coin):
    """A two-kind mixture keeps only its first kind on its partial mask: the rest of the patch stays
    clean, so the local embedding also learns "clean" as a per-pixel answer."""
    return specs[:1] if len(specs) == 2 and coin() else specs


def _zoom(rng, factor):
    f = _uniform(rng, factor)
    return lambda img, rng: zoom(img, f, rng)


def _full_chroma(rng, amount):
    a = _uniform(rng, amount)
    return lambda img, rng: full_chroma(img, a)


def _dark(rng, gamma):
    g = _uniform(rng, gamma)
    return lambda img, rng: darken(img, g)


def _flat(rng, contrast, level):
    c, g = _uniform(rng, contrast), _uniform(rng, level)
    return lambda img, rng: flatten(img, c, g)


def _defocus(rng, sigma, area):
    s, a = _uniform(rng, sigma), _uniform(rng, area)
    return lambda img, rng: defocus(img, s, a, rng)


def _shadow(rng, gain, area):
    g, a = _uniform(rng, gain), _uniform(rng, area)
    return lambda img, rng: shadow(img, g, a, rng)


def _dim(rng, gain):
    g = np.float32(_uniform(rng, gain))
    return lambda img, rng: img * g


def _jpeg(rng, quality):
    q = int(round(_uniform(rng, quality)))
    return lambda lq, rng: jpeg(lq, q)


def _camera_clean(rng, strength, quality):
    """A photo as a good camera delivers it: mild sensor noise, then JPEG, in input and target alike
    (the same noise in both), so such a photo must pass through unchanged."""
    s, q = _uniform(rng, strength), int(round(_uniform(rng, quality)))

    def op(lq, gt, rng):
        noisy = jpeg(camera_noise(gt, s, rng)[0], q)
        if np.array_equal(lq, gt):  # a clean sample: exactly the same photo in and out
            return noisy, noisy
        return np.clip(lq + (noisy - gt), 0.0, 1.0).astype(np.float32), noisy
    return op


def _pale(rng, contrast, level, area):
    c, g, a = _uniform(rng, contrast), _uniform(rng, level), _uniform(rng, area)
    return lambda img, rng: pale(img, c, g, a, rng)


@dataclass(frozen=True)
class Augmentation:
    """One registered augmentation: its hook point, its function (signatures in the module docstring),
    its parameters with their defaults and, for ``content`` hooks, the stage its operation runs at."""

    hook: str
    fn: Callable[..., Any]
    params: Mapping[str, Any] = field(default_factory=dict)
    stage: str | None = None

    def __post_init__(self) -> None:
        if self.hook not in HOOKS:
            raise ValueError(f"hook must be one of {HOOKS}, got {self.hook!r}")
        if (self.hook == "content") != (self.stage in STAGES):
            raise ValueError(f"content hooks need a stage from {STAGES}, other hooks none (got {self.stage!r})")


AUGMENTATIONS: dict[str, Augmentation] = {
    # spec: change the drawn degradations
    "light_rain": Augmentation("spec", each_spec("rain", lambda sp, rng, strength: replace(
        sp, strength=_uniform(rng, strength))), {"strength": (0.0, LIGHT_RAIN_MAX)}),  # rain of 25-27 dB, rare at uniform strength
    "faint_rain": Augmentation("spec", each_spec("rain", lambda sp, rng, density: replace(
        sp, strength=0.0, density=_uniform(rng, density)), when=lambda sp: not sp.real), {"density": FAINT_RAIN_DENSITY}),  # drizzle, still rain
    "wide_rain": Augmentation("spec", each_spec("rain", lambda sp, rng: replace(sp, wide=True),
                                                when=lambda sp: not sp.real)),  # broad slanted streaks (Rain100L)
    "light_haze": Augmentation("spec", each_spec("haze", lambda sp, rng, strength: replace(
        sp, strength=_uniform(rng, strength))), {"strength": (0.0, LIGHT_HAZE_MAX)}),  # haze leaving 14-18 dB, as outdoors
    "faint_haze": Augmentation("spec", each_spec("haze", lambda sp, rng, beta: replace(
        sp, strength=0.0, beta=_uniform(rng, beta))), {"beta": FAINT_HAZE_BETA}),  # thin haze, still haze
    "long_blur": Augmentation("spec", each_spec("blur", lambda sp, rng, length: replace(
        sp, length=_uniform(rng, length))), {"length": LONG_BLUR_LENGTH}),  # camera shake as in GoPro
    "varying_blur": Augmentation("spec", each_spec("blur", lambda sp, rng: replace(sp, varying=True),
                                                   when=lambda sp: sp.length is not None)),  # rotation; long blur only
    "linear_blur": Augmentation("spec", each_spec("blur", lambda sp, rng: replace(sp, linear=True))),  # in linear light
    "scene_haze": Augmentation("spec", each_spec("haze", lambda sp, rng: replace(sp, scene=True))),  # depth from the scene
    "partial": Augmentation("spec", _partial),
    # v2: degradations as cameras and weather make them (slerir.camera, DegradationSpec(real=True))
    "real_noise": Augmentation("spec", each_spec("noise", lambda sp, rng, strength: replace(
        sp, sigma=None, real=True, strength=_uniform(rng, strength))), {"strength": REAL_NOISE_STRENGTH}),
    "real_rain": Augmentation("spec", each_spec("rain", _real_rain), {"scale": None}),  # depth layers and a veil
    "raindrops": Augmentation("spec", each_spec("rain", lambda sp, rng: replace(sp, drops=True),
                                                when=lambda sp: sp.real)),  # drops on a window or the lens
    "heavy_rain": Augmentation("spec", each_spec("rain", _heavy_rain, when=lambda sp: sp.real and not sp.drops),
                               {"mist": HEAVY_RAIN_MIST, "stretch": HEAVY_RAIN_STRETCH}),  # spray and long streaks
    "real_lowlight": Augmentation("spec", each_spec("lowlight", _real_lowlight), {"exposure": None}),
    # input: the degraded input only (target untouched)
    "jpeg": Augmentation("input", _jpeg, {"quality": JPEG_QUALITY}),  # every shared photo went through JPEG
    # clean: input and target alike
    "camera_clean": Augmentation("clean", _camera_clean, {"strength": CLEAN_NOISE_STRENGTH, "quality": CLEAN_JPEG_QUALITY}),
    # content: the clean picture changes, target included
    "zoom": Augmentation("content", _zoom, {"factor": ZOOM_FACTOR}, stage="photo"),  # soft per pixel, as large photos
    # colour as crisp as brightness (JPEG training photos have half-resolution colour; PNGs and resized photos do not)
    "full_chroma": Augmentation("content", _full_chroma, {"amount": FULL_CHROMA_AMOUNT}, stage="photo"),
    "dark": Augmentation("content", _dark, {"gamma": DARK_GAMMA}, stage="tone"),
    # a dim but normally exposed photo (indoors, dusk), kept dim in the target: with sensor noise over it, the
    # noise is to remove and the exposure to keep (a smartphone's indoor shot), unlike low light
    "dim": Augmentation("content", _dim, {"gain": DIM_GAIN}, stage="tone"),
    "flat": Augmentation("content", _flat, {"contrast": FLAT_CONTRAST, "level": FLAT_LEVEL}, stage="tone"),
    "defocus": Augmentation("content", _defocus, {"sigma": DEFOCUS_SIGMA, "area": DEFOCUS_AREA}, stage="region"),
    "shadow": Augmentation("content", _shadow, {"gain": SHADOW_GAIN, "area": SHADOW_AREA}, stage="region"),
    "pale": Augmentation("content", _pale, {"contrast": PALE_CONTRAST, "level": PALE_LEVEL, "area": PALE_AREA},
                         stage="region"),
}


# ------------------------------------------------------------------------------------------------ recipes

@dataclass(frozen=True)
class RecipeEntry:
    """A checked recipe entry: the augmentation's name, its share, the kinds it is limited to (None:
    any) and its parameters with the defaults filled in."""

    aug: str
    share: float
    params: Mapping[str, Any]
    only: frozenset[str] | None = None
    needs: frozenset[str] | None = None
    real: frozenset[str] | None = None

    @property
    def augmentation(self) -> Augmentation:
        return AUGMENTATIONS[self.aug]

    def applies(self, kinds: frozenset[str], specs: Sequence[DegradationSpec] = ()) -> bool:
        """Whether the entry applies to a sample of ``kinds`` (see :func:`sample_kinds`) whose degradations
        are ``specs`` (only ``real`` reads them)."""
        return ((self.only is None or kinds <= self.only) and (self.needs is None or bool(kinds & self.needs))
                and (self.real is None or all(sp.real for sp in specs if sp.kind in self.real)))


def sample_kinds(specs: Sequence[DegradationSpec]) -> frozenset[str]:
    """The kinds of a sample's degradations, or {"clean"} when it has none."""
    return frozenset(sp.kind for sp in specs) or frozenset(("clean",))


def _kind_list(value: Any, key: str, where: str, allowed: Sequence[str] = SAMPLE_KINDS) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Sequence) or set(value) - set(allowed) or not value:
        raise ValueError(f"{where}: {key} must be a non-empty list of kinds from {list(allowed)}, got {value!r}")
    return frozenset(value)


def _check_param(name: str, value: Any, default: Any, where: str) -> Any:
    if default is None and value is not None:  # an optional range [lo, hi] (None: the augmentation's own)
        default = (0.0, 0.0)
    if isinstance(default, (tuple, list)):  # a range [lo, hi]
        ok = (isinstance(value, (tuple, list)) and len(value) == len(default)
              and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
              and (len(value) != 2 or value[0] <= value[1]))
        if not ok:
            raise ValueError(f"{where}: {name} must be a range [lo, hi] with lo <= hi, got {value!r}")
        return tuple(float(v) for v in value)
    return value


def parse_recipe(recipe: Sequence[Mapping[str, Any]] | None) -> list[RecipeEntry]:
    """The checked entries of a recipe (see the module docstring), entries with share 0 left out.

    Raises:
        ValueError: an entry is not a dict with "aug" and "share", names an unknown augmentation (the
            message lists the known ones) or a parameter it does not have (the message lists its
            parameters), a share outside [0, 1], a range with lo > hi, ``only``/``needs`` kinds
            outside ``SAMPLE_KINDS`` or ``real`` kinds outside ``REAL_KINDS``.
    """
    entries = []
    for i, e in enumerate(recipe or ()):
        where = f"recipe entry {i}"
        if not isinstance(e, Mapping) or "aug" not in e or "share" not in e:
            raise ValueError(f"{where}: need a dict with 'aug' and 'share', got {e!r}")
        name = e["aug"]
        if name not in AUGMENTATIONS:
            raise ValueError(f"{where}: unknown augmentation {name!r}; known: {', '.join(AUGMENTATIONS)}")
        where = f"{where} ({name})"
        aug = AUGMENTATIONS[name]
        given = {k: v for k, v in e.items() if k not in ENTRY_KEYS}
        unknown = sorted(set(given) - set(aug.params))
        if unknown:
            raise ValueError(f"{where}: unknown parameter(s) {unknown}; {name!r} takes "
                             f"{sorted(aug.params) or 'no parameters'}, every entry {list(ENTRY_KEYS)}")
        share = e["share"]
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0.0 <= share <= 1.0:
            raise ValueError(f"{where}: share must be a number in [0, 1], got {share!r}")
        params = {k: _check_param(k, given.get(k, d), d, where) for k, d in aug.params.items()}
        entry = RecipeEntry(name, float(share), params, _kind_list(e.get("only"), "only", where),
                            _kind_list(e.get("needs"), "needs", where), _kind_list(e.get("real"), "real", where, REAL_KINDS))
        if entry.share > 0:
            entries.append(entry)
    return entries
