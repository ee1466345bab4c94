"""Properties of the synthetic degradations (slerir.degradations)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from slerir.config import CLASSES
from slerir.degradations import (
    CAMERA_GAMMA, KINDS, RAIN_LENGTH, WIDE_RAIN_ANGLE, WIDE_RAIN_BRIGHTNESS, WIDE_RAIN_LENGTH, WIDE_RAIN_WIDTH, DegradationSpec, add_blur, add_haze, add_lowlight, add_noise, add_rain, degrade, make_mask,
    random_specs,
)

SEED = 1234


@pytest.fixture(scope="module")
def img() -> np.ndarray:
    """A smooth-plus-texture colour test image, (72, 80, 3) float32 in [0.1, 0.9]."""
    rng = np.random.default_rng(SEED)
    yy, xx = np.mgrid[0:72, 0:80] / 80.0
    base = np.stack([0.5 + 0.3 * np.sin(6 * xx), 0.5 + 0.3 * np.cos(5 * yy), 0.5 + 0.2 * np.sin(4 * (xx + yy))], -1)
    tex = 0.1 * rng.standard_normal((72, 80, 3))
    return np.clip(base + tex, 0.1, 0.9).astype(np.float32)


@pytest.mark.parametrize("kind", KINDS)
def test_deterministic_and_valid(img, kind):
    specs = [DegradationSpec(kind)]
    a, b, c = degrade(img, specs, 7), degrade(img, specs, 7), degrade(img, specs, 8)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask) and a.params == b.params
    assert not np.array_equal(a.image, c.image)
    assert a.image.dtype == np.float32 and a.image.shape == img.shape
    assert a.mask.dtype == np.int64 and a.mask.shape == img.shape[:2]
    assert a.classes == (CLASSES.index(kind),) and np.all(a.mask == CLASSES.index(kind))
    json.dumps(a.params)  # JSON-serialisable
    assert a.params[0]["kind"] == kind


def test_generator_seed_and_uint8_input(img):
    u8 = (img * 255).round().astype(np.uint8)
    specs = [DegradationSpec("rain", 0.5)]
    r1 = degrade(u8, specs, np.random.default_rng(3))
    r2 = degrade(u8.astype(np.float32) / 255.0, specs, 3)
    assert np.array_equal(r1.image, r2.image)


def test_no_specs_is_clean(img):
    r = degrade(img, [], 0)
    assert np.array_equal(r.image, img) and r.classes == (0,) and not r.mask.any()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mask", ["half", "blob", "gradient"])
def test_masked_blend_is_exact(img, kind, mask):
    r = degrade(img, [DegradationSpec(kind, 0.7, mask=mask)], 11)
    m = r.soft_masks[0]
    cid = CLASSES.index(kind)
    diff = np.abs(r.image - img).mean(-1)
    assert np.array_equal(r.image[m == 0], img[m == 0])  # untouched where the mask is 0
    assert np.array_equal(r.mask == cid, m > 0.5) and np.all(r.mask[m <= 0.5] == 0)
    assert diff[m > 0.5].mean() > 0.01  # it acts where it carries
    if mask != "gradient":  # gradient: 0 only at one corner
        assert (m == 0).mean() > 0.1
    assert r.classes == (0, cid)


@pytest.mark.parametrize("mask", ["half", "blob", "gradient"])
def test_mixed_specs_disjoint_regions(img, mask):
    specs = [DegradationSpec("noise", mask=mask, sigma=50), DegradationSpec("haze", 0.9, mask=mask)]
    r = degrade(img, specs, 5)
    m1, m2 = r.soft_masks
    np.testing.assert_allclose(m1 + m2, 1.0, atol=1e-6)  # complementary
    assert not np.any((m1 > 0.5) & (m2 > 0.5))
    ids = (CLASSES.index("noise"), CLASSES.index("haze"))
    assert set(r.classes) - {0} == set(ids)
    for cid, m in zip(ids, (m1, m2)):
        share = (r.mask == cid).mean()
        assert 0.15 < share < 0.85 and np.array_equal(r.mask == cid, m > 0.5)
    # haze region got brighter and flatter, noise region keeps its mean but gains variance
    assert r.image[m2 >= 0.95].mean() > img[m2 >= 0.95].mean()
    noise_part = (r.image - img)[m1 >= 0.95]
    assert 0.12 < noise_part.std() < 0.25 and abs(noise_part.mean()) < 0.03


def test_random_specs():
    rng = np.random.default_rng(0)
    kinds_seen = set()
    for _ in range(200):
        single = random_specs(rng, "five", mixed=False)
        assert len(single) == 1 and single[0].mask == "full"
        kinds_seen.add(single[0].kind)
        mixed = random_specs(rng, "three", mixed=True)
        assert len(mixed) == 2 and mixed[0].kind != mixed[1].kind
        assert mixed[0].mask == mixed[1].mask != "full"
        assert {s.kind for s in mixed} <= {"noise", "rain", "haze"}
    assert kinds_seen == set(KINDS)


def test_spec_validation():
    with pytest.raises(ValueError):
        DegradationSpec("snow")
    with pytest.raises(ValueError):
        DegradationSpec("noise", strength=1.5)
    with pytest.raises(ValueError):
        DegradationSpec("haze", mask="stripes")
    with pytest.raises(ValueError):
        DegradationSpec("rain", sigma=25)


@pytest.mark.parametrize("sigma", [15, 25, 50])
def test_noise_std_matches_sigma(sigma):
    grey = np.full((128, 128, 3), 0.5, np.float32)
    out = add_noise(grey, rng=0, sigma=sigma)
    std = float((out - 0.5).std() * 255)
    assert abs(std - sigma) < 0.03 * sigma + 0.3  # clipping at 0/1 trims a little at sigma 50
    r = degrade(grey, [DegradationSpec("noise", strength=0.0)], 0)
    assert r.params[0]["sigma"] == pytest.approx(5.0)
    r = degrade(grey, [DegradationSpec("noise", strength=1.0)], 0)
    assert r.params[0]["sigma"] == pytest.approx(55.0)


def test_add_noise_is_seeded_float32_in_range():
    x = np.random.default_rng(1).uniform(0, 1, (32, 40, 3)).astype(np.float32)
    a = add_noise(x, rng=3, sigma=25)
    assert a.dtype == np.float32 and a.shape == x.shape and a.min() >= 0 and a.max() <= 1
    assert np.array_equal(a, add_noise(x, rng=3, sigma=25))
    assert not np.array_equal(a, add_noise(x, rng=4, sigma=25))


def test_lowlight_darkens(img):
    for s in (0.0, 0.5, 1.0):
        out = add_lowlight(img, s, 0)
        assert out.mean() < 0.3 * img.mean() and 0.005 < out.mean() < 0.25
    assert add_lowlight(img, 1.0, 0).mean() < add_lowlight(img, 0.0, 0).mean()


def test_haze_brightens_dark_image_and_lowers_contrast(img):
    dark = img * 0.3
    out = add_haze(dark, 0.8, 0)
    assert out.mean() > dark.mean() + 0.1
    # local contrast (mean neighbour difference) shrinks by t; the global std may not (depth ramp)
    assert np.abs(np.diff(out, axis=1)).mean() < 0.8 * np.abs(np.diff(dark, axis=1)).mean()
    assert (out - dark).min() > -1e-6  # airlight >= 0.65 > every dark pixel: haze only adds light


def _hf_energy(x: np.ndarray) -> float:
    g = x.mean(-1)
    lap = 4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:]
    return float((lap**2).mean())


def test_blur_reduces_high_frequencies(img):
    for seed in range(6):  # covers motion and defocus kernels
        out = add_blur(img, 0.5, seed)
        assert _hf_energy(out) < 0.3 * _hf_energy(img)
        assert abs(out.mean() - img.mean()) < 0.01  # kernels are normalised


def test_rain_adds_light_streaks(img):
    out = add_rain(img, 0.5, 0)
    d = (out - img).mean(-1)
    assert d.min() > -1e-6  # additive O = B + S
    assert 0.01 < (d > 0.05).mean() < 0.6  # sparse streaks, not a veil
    r = degrade(img, [DegradationSpec("rain")], 0)
    assert abs(r.params[0]["angle_deg"]) <= 25 and 10 <= r.params[0]["length"] <= 35


def test_rain_density_sets_drizzle_and_keeps_the_other_draws(img):
    base = degrade(img, [DegradationSpec("rain", strength=0.0)], 3)
    faint = degrade(img, [DegradationSpec("rain", strength=0.0, density=0.0002)], 3)
    assert faint.params[0]["density"] == 0.0002 < base.params[0]["density"]
    for key in ("length", "angle_deg", "width", "brightness"):  # the density replaces one value only
        assert faint.params[0][key] == base.params[0][key]
    assert faint.params[0]["streaks"] < 0.5 * base.params[0]["streaks"]
    err = [float(((r.image - img) ** 2).mean()) for r in (faint, base)]
    assert 0 < err[0] < 0.5 * err[1]  # fainter, and still rain
    for bad in (dict(kind="rain", density=0.00001), dict(kind="rain", density=0.05),
                dict(kind="noise", density=0.0005)):
        with pytest.raises(ValueError, match="density"):
            DegradationSpec(**bad)


def test_wide_rain_draws_fewer_longer_broader_fainter_streaks():
    grey = np.full((160, 200, 3), 0.3, np.float32)
    def across(added):  # change along rows per unit of added light
        return float(np.abs(np.diff(added, axis=1)).sum() / added.sum())

    for seed in range(4):
        base = degrade(grey, [DegradationSpec("rain", strength=0.2)], seed)
        wide = degrade(grey, [DegradationSpec("rain", strength=0.2, wide=True)], seed)
        b, w = base.params[0], wide.params[0]
        assert not b["wide"] and w["wide"]
        assert WIDE_RAIN_WIDTH[0] <= w["width"] <= WIDE_RAIN_WIDTH[1] and WIDE_RAIN_LENGTH[0] <= w["length"] <= WIDE_RAIN_LENGTH[1]
        assert abs(w["angle_deg"]) <= WIDE_RAIN_ANGLE and WIDE_RAIN_BRIGHTNESS[0] <= w["brightness"] <= WIDE_RAIN_BRIGHTNESS[1]
        # the same jitter, spread over fewer and longer streaks
        assert w["density"] == pytest.approx(b["density"] * np.mean(RAIN_LENGTH) / w["length"])
        assert w["streaks"] < b["streaks"]
        d = (wide.image - grey).mean(-1)
        assert d.min() > -1e-6  # additive
        assert np.median(d[d > 0.02]) < WIDE_RAIN_BRIGHTNESS[1]  # fainter (where streaks cross, they add up)
        assert 0.005 < (d > 0.02).mean() < 0.5  # streaks, not a veil
        # broad streaks change slowly across a row: less change per unit of added light than thin ones
        assert across(d) < 0.75 * across((base.image - grey).mean(-1))
    explicit = degrade(grey, [DegradationSpec("rain", strength=0.0, density=0.0005, wide=True)], 0)
    assert explicit.params[0]["density"] == 0.0005  # an explicit density stays as given
    with pytest.raises(ValueError, match="wide"):
        DegradationSpec("haze", wide=True)


def test_haze_beta_sets_thin_haze_and_keeps_the_other_draws(img):
    base = degrade(img, [DegradationSpec("haze", strength=0.0)], 3)
    thin = degrade(img, [DegradationSpec("haze", strength=0.0, beta=0.2)], 3)
    assert thin.params[0]["beta"] == 0.2 < base.params[0]["beta"] == pytest.approx(0.6)
    assert thin.params[0]["airlight"] == base.params[0]["airlight"]  # depth and airlight drawn as usual
    assert thin.params[0]["t_min"] > base.params[0]["t_min"]
    err = [float(((r.image - img) ** 2).mean()) for r in (thin, base)]
    assert 0 < err[0] < 0.5 * err[1]  # thinner, and still haze
    for bad in (dict(kind="haze", beta=0.01), dict(kind="haze", beta=3.0), dict(kind="rain", beta=0.3)):
        with pytest.raises(ValueError, match="beta"):
            DegradationSpec(**bad)


@pytest.mark.parametrize("kind", ["full", "half", "blob", "gradient"])
def test_make_mask(kind):
    for seed in range(5):
        m = make_mask((60, 90), kind, np.random.default_rng(seed))
        assert m.shape == (60, 90) and m.dtype == np.float32 and m.min() >= 0 and m.max() <= 1
        share = (m > 0.5).mean()
        if kind == "full":
            assert np.all(m == 1)
        elif kind == "blob":
            assert 0.2 <= share <= 0.8
        else:
            assert 0.3 <= share <= 0.7
        if kind == "half":
            assert m.min() == 0 and m.max() == 1
    with pytest.raises(ValueError):
        make_mask((8, 8), "stripes", np.random.default_rng(0))


def test_random_specs_task_weights():
    from slerir.degradations import task_probabilities

    rng = np.random.default_rng(1)
    counts = {k: 0 for k in KINDS}
    for _ in range(3000):
        counts[random_specs(rng, "five", mixed=False, weights={"noise": 3.0, "rain": 3.0})[0].kind] += 1
    # expected shares: noise and rain 3/9 each, the other three 1/9 each
    assert abs(counts["noise"] / 3000 - 1 / 3) < 0.04 and abs(counts["rain"] / 3000 - 1 / 3) < 0.04
    assert all(abs(counts[k] / 3000 - 1 / 9) < 0.03 for k in ("haze", "blur", "lowlight"))
    for _ in range(100):
        mixed = random_specs(rng, "five", mixed=True, weights={"noise": 3.0})
        assert len(mixed) == 2 and mixed[0].kind != mixed[1].kind and mixed[0].mask != "full"
    # no weights draws exactly what earlier versions drew (runs stay reproducible)
    a = random_specs(np.random.default_rng(5), "five", mixed=True)
    b = random_specs(np.random.default_rng(5), "five", mixed=True, weights=None)
    assert [(s.kind, s.mask) for s in a] == [(s.kind, s.mask) for s in b]
    assert task_probabilities(("noise", "rain"), None) is None
    with pytest.raises(ValueError, match="not being trained"):
        task_probabilities(("noise", "rain", "haze"), {"blur": 2.0})
    with pytest.raises(ValueError, match="> 0"):
        task_probabilities(("noise", "rain"), {"noise": 0.0})


def _sky_over_texture() -> np.ndarray:
    """(64, 64, 3): a bright, flat, grey-blue sky over dark texture."""
    rng = np.random.default_rng(3)
    out = np.empty((64, 64, 3), np.float32)
    out[:32] = (0.82, 0.85, 0.9)
    out[32:] = np.clip(0.3 + 0.15 * rng.standard_normal((32, 64, 3)), 0, 1)
    return out


def test_guided_filter_keeps_guide_edges_and_flattens_constants():
    from slerir.degradations import guided_filter

    guide = np.zeros((40, 40), np.float32)
    guide[:, 20:] = 1.0
    assert np.allclose(guided_filter(guide, np.full((40, 40), 0.3, np.float32), 5, 1e-3), 0.3, atol=1e-5)
    # a source that follows the guide's step comes back with the step, not a 11-px ramp
    q = guided_filter(guide, 0.2 + 0.6 * guide, 5, 1e-3)
    assert abs(q[:, 18].mean() - 0.2) < 0.02 and abs(q[:, 21].mean() - 0.8) < 0.02


def test_scene_depth_puts_sky_far_and_keeps_the_base_elsewhere():
    from slerir.degradations import SKY_DEPTH, scene_depth

    img = _sky_over_texture()
    base = np.full((64, 64), 0.2, np.float32)
    d = scene_depth(img, base)
    assert d.shape == (64, 64) and d.dtype == np.float32 and 0 <= d.min() and d.max() <= 1
    assert d[4:20].mean() > 0.95 * SKY_DEPTH  # flat bright (slightly blue) sky: far
    assert abs(d[40:].mean() - 0.2) < 0.05  # textured dark ground: the base depth


def test_scene_haze_is_thicker_in_the_sky_and_leaves_old_draws_alone():
    img = _sky_over_texture()
    blind = degrade(img, [DegradationSpec("haze", 0.5)], 4)
    scene = degrade(img, [DegradationSpec("haze", 0.5, scene=True)], 4)
    assert scene.params[0]["scene"] and "scene" not in blind.params[0]
    # the content-blind model draws exactly as before the option existed: same beta, depth range
    for k in ("beta", "depth_lo", "depth_hi", "depth_angle"):
        assert scene.params[0][k] == blind.params[0][k]
    assert np.array_equal(add_haze(img, 0.5, 4), blind.image)
    # haze adds airlight most where depth is largest: the sky moves towards A more than the ground does
    a = np.array(scene.params[0]["airlight"], np.float32)
    sky_gap = np.abs(scene.image[4:28] - a).mean() / np.abs(img[4:28] - a).mean()
    ground_gap = np.abs(scene.image[40:] - a).mean() / np.abs(img[40:] - a).mean()
    assert sky_gap < ground_gap
    with pytest.raises(ValueError, match="scene"):
        DegradationSpec("rain", scene=True)


def test_varying_blur_blends_two_trajectories():
    img = np.zeros((96, 96, 3), np.float32)
    img[::24, ::24] = 1.0  # a grid of point lights: each shows the local kernel
    uniform = degrade(img, [DegradationSpec("blur", length=30.0)], 2)
    varying = degrade(img, [DegradationSpec("blur", length=30.0, varying=True)], 2)
    p = varying.params[0]
    assert p["type"] == "varying motion" and 15.0 <= p["length2"] <= 30.0
    assert abs(p["angle2_rad"] - p["angle_rad"]) <= np.pi / 6 + 1e-9
    assert uniform.params[0]["angle_rad"] == p["angle_rad"]  # the first trajectory is drawn as before
    assert not np.allclose(uniform.image, varying.image, atol=1e-3)
    assert varying.image.sum() == pytest.approx(uniform.image.sum(), rel=0.05)  # a blend of two normalised kernels
    with pytest.raises(ValueError, match="varying"):
        DegradationSpec("blur", varying=True)  # needs an explicit length
    with pytest.raises(ValueError, match="varying"):
        DegradationSpec("noise", varying=True)


def test_linear_blur_averages_light_not_pixel_values():
    img = np.full((64, 64, 3), 0.1, np.float32)
    img[24:40, 24:40] = 1.0  # a bright light on a dark wall
    srgb = degrade(img, [DegradationSpec("blur", length=20.0)], 5)
    lin = degrade(img, [DegradationSpec("blur", length=20.0, linear=True)], 5)
    assert lin.params[0]["linear"] and lin.params[0]["angle_rad"] == srgb.params[0]["angle_rad"]  # same kernel
    # the smeared light lifts the dark wall more than sRGB-space blur does; exactly the gamma round trip
    assert srgb.image.mean() == pytest.approx(img.mean(), abs=1e-4)  # sRGB blur only moves values about
    assert lin.image.mean() > srgb.image.mean() + 0.02
    k_img = degrade(img ** CAMERA_GAMMA, [DegradationSpec("blur", length=20.0)], 5).image
    np.testing.assert_allclose(lin.image, np.clip(k_img, 0, 1) ** (1 / CAMERA_GAMMA), atol=1e-5)
    flat = np.full((32, 32, 3), 0.4, np.float32)  # nothing to smear: unchanged
    np.testing.assert_allclose(degrade(flat, [DegradationSpec("blur", linear=True)], 0).image, flat, atol=1e-5)
    with pytest.raises(ValueError, match="linear"):
        DegradationSpec("haze", linear=True)
