"""Camera/weather degradations of the v2 recipe (slerir.camera): properties, not pixel values."""
import numpy as np
import pytest

from slerir import camera
from slerir.degradations import DegradationSpec, degrade
from slerir.metrics import psnr


def _flat(v: float, side: int = 64) -> np.ndarray:
    return np.full((side, side, 3), v, np.float32)


def _photo(seed: int = 0, side: int = 96) -> np.ndarray:
    from scipy import ndimage
    rng = np.random.default_rng(seed)
    return np.clip(ndimage.gaussian_filter(rng.random((side, side, 3)).astype(np.float32), (3, 3, 0)) * 2 - 0.5, 0, 1)


def test_camera_noise_is_seeded_and_stronger_with_strength():
    img = _photo()
    a = camera.camera_noise(img, 0.5, np.random.default_rng(1))[0]
    b = camera.camera_noise(img, 0.5, np.random.default_rng(1))[0]
    assert np.array_equal(a, b)
    p = [np.mean([psnr(camera.camera_noise(img, s, np.random.default_rng(k))[0], img) for k in range(3)])
         for s in (0.0, 0.5, 1.0)]
    assert p[0] > 38 and p[0] > p[1] > p[2] and p[2] < 24, p


def test_camera_noise_is_signal_dependent_correlated_and_coloured():
    rng = np.random.default_rng(2)
    dark, bright = _flat(0.2), _flat(0.8)
    nd = camera.camera_noise(dark, 0.8, rng)[0] - dark
    nb = camera.camera_noise(bright, 0.8, rng)[0] - bright
    # in linear light the variance grows with the signal (shot noise): brighter pixels carry more
    # absolute noise in linear units; check in linear light
    lin_d = camera.to_linear(dark + nd) - camera.to_linear(dark)
    lin_b = camera.to_linear(bright + nb) - camera.to_linear(bright)
    assert lin_b.std() > 1.5 * lin_d.std()
    # demosaicing correlates horizontal neighbours (white Gaussian noise would give ~0)
    g = nb[8:-8, 8:-8, 1]
    corr = np.corrcoef(g[:, :-1].ravel(), g[:, 1:].ravel())[0, 1]
    assert corr > 0.2, corr
    awgn = np.random.default_rng(3).standard_normal(g.shape)
    assert abs(np.corrcoef(awgn[:, :-1].ravel(), awgn[:, 1:].ravel())[0, 1]) < 0.1
    # white balance gains amplify red and blue noise over green
    assert nb[..., 0].std() > nb[..., 1].std() and nb[..., 2].std() > nb[..., 1].std()


def test_jpeg_quality_orders_fidelity():
    img = _photo(4)
    assert psnr(camera.jpeg(img, 95), img) > psnr(camera.jpeg(img, 60), img) > 25


def test_real_rain_adds_bright_streaks_and_night_darkens():
    img = _flat(0.15, 128)
    rain, p = camera.real_rain(img, 0.7, np.random.default_rng(5))
    assert rain.min() >= 0 and rain.max() <= 1
    assert (rain - img).max() > 0.2  # streaks
    assert p["layers"] in (2, 3)
    # the same rain further away or downscaled: finer streaks, more of them, fainter
    fine, pf = camera.real_rain(img, 0.7, np.random.default_rng(5), scale=0.3)
    assert pf["scale"] == 0.3 and 0.01 < (fine - img).mean() and (fine - img).max() < (rain - img).max()
    with pytest.raises(ValueError, match="scale"):
        camera.real_rain(img, 0.7, np.random.default_rng(5), scale=0.1)
    photo = _photo(6, 128)
    dark, q = camera.night(photo, 0.6, np.random.default_rng(6))
    assert dark.mean() < 0.7 * photo.mean()
    assert q["exposure"] < 0.4
    # an explicit exposure cut overrides the strength's: darker at a smaller cut, the noise unchanged
    darker, r = camera.night(photo, 0.6, np.random.default_rng(6), exposure=0.005)
    assert r["exposure"] == 0.005 and darker.mean() < 0.6 * dark.mean()
    spec = DegradationSpec("lowlight", strength=0.6, real=True, exposure=0.005)
    assert degrade((photo * 255).astype(np.uint8), [spec], seed=3).params[0]["exposure"] == 0.005


def test_spec_real_flag():
    img = (_photo(7) * 255).astype(np.uint8)
    for kind in ("noise", "rain", "lowlight"):
        r = degrade(img, [DegradationSpec(kind, strength=0.5, real=True)], seed=1)
        assert r.params[0]["real"] is True and r.mask.max() == DegradationSpec(kind).class_id
        assert np.array_equal(r.image, degrade(img, [DegradationSpec(kind, strength=0.5, real=True)], seed=1).image)
        assert not np.array_equal(r.image, degrade(img, [DegradationSpec(kind, strength=0.5)], seed=1).image)
    with pytest.raises(ValueError):
        DegradationSpec("haze", real=True)
    with pytest.raises(ValueError):
        DegradationSpec("noise", sigma=25, real=True)


def test_heavy_rain_mist_veils_the_distance_and_stretch_lengthens_streaks():
    photo = _photo(8, 128)
    light, p = camera.real_rain(photo, 0.6, np.random.default_rng(9))
    # the defaults draw nothing more: the light rain is the same image, bit for bit
    same, _ = camera.real_rain(photo, 0.6, np.random.default_rng(9), mist=0.0, stretch=1.0)
    assert np.array_equal(light, same) and "mist" not in p
    # mist veils towards a grey airlight: less contrast, and more so at the top (farther in the default view)
    heavy, q = camera.real_rain(photo, 0.6, np.random.default_rng(9), mist=1.5)
    assert q["mist"] == 1.5 and 0.14 < q["mist_t_mean"] < 0.75
    assert heavy.std() < 0.8 * light.std()
    top, bottom = slice(0, 32), slice(-32, None)
    assert np.abs(heavy[top] - light[top]).mean() > np.abs(heavy[bottom] - light[bottom]).mean()
    # stretch: longer streaks, so streak pixels correlate further along the fall (near vertical)
    dark = _flat(0.1, 160)

    def reach(img):
        s = (img - dark)[..., 1]
        s = s - s.mean()
        return np.mean(s[:-12] * s[12:]) / np.mean(s * s)  # correlation 12 px down

    short = np.mean([reach(camera.real_rain(dark, 0.6, np.random.default_rng(k))[0]) for k in range(4)])
    long_ = np.mean([reach(camera.real_rain(dark, 0.6, np.random.default_rng(k), stretch=3.0)[0]) for k in range(4)])
    assert long_ > short + 0.1, (short, long_)
    for bad in ({"mist": -0.1}, {"mist": 2.5}, {"stretch": 0.5}, {"stretch": 5.0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            camera.real_rain(photo, 0.6, np.random.default_rng(9), **bad)


def test_heavy_rain_spec_and_augmentation():
    img = (_photo(10, 96) * 255).astype(np.uint8)
    r = degrade(img, [DegradationSpec("rain", strength=0.5, real=True, mist=0.8, stretch=2.0)], seed=4)
    assert r.params[0]["mist"] == 0.8 and r.params[0]["stretch"] == 2.0 and r.mask.max() == DegradationSpec("rain").class_id
    for bad in (dict(kind="rain", mist=0.5), dict(kind="haze", mist=0.5), dict(kind="rain", real=True, stretch=9.0)):
        with pytest.raises(ValueError, match="mist|stretch"):
            DegradationSpec(**bad)
    from slerir.data.augment import AUGMENTATIONS
    hook = AUGMENTATIONS["heavy_rain"].fn
    specs = [DegradationSpec("rain", real=True), DegradationSpec("rain"), DegradationSpec("noise", real=True)]
    out = hook(specs, np.random.default_rng(0), lambda: True, mist=(0.2, 1.2), stretch=(1.0, 3.0))
    assert 0.2 <= out[0].mist <= 1.2 and 1.0 <= out[0].stretch <= 3.0
    assert out[1] == specs[1] and out[2] == specs[2]  # only rain already made real


def test_raindrops_show_an_inverted_blurred_view_and_more_with_strength():
    # a vertical ramp: dark at the top, bright at the bottom; a drop inverts it, so its upper half is brighter
    ramp = np.repeat(np.linspace(0.1, 0.9, 160, dtype=np.float32)[:, None, None], 160, axis=1).repeat(3, axis=2)
    rng = np.random.default_rng(11)
    few, p = camera.raindrops(ramp, 0.1, np.random.default_rng(11))
    many, q = camera.raindrops(ramp, 0.9, np.random.default_rng(11))
    assert q["drops"] > p["drops"] > 0 and q["cover"] > p["cover"] > 0
    assert few.min() >= 0 and many.max() <= 1
    assert np.array_equal(few, camera.raindrops(ramp, 0.1, np.random.default_rng(11))[0])
    changed = np.abs(many - ramp).max(axis=2) > 0.05
    assert changed.mean() > 0.05
    # inside drops the picture runs the other way: the vertical gradient of the change is negative
    diff = (many - ramp)[..., 0]
    grad = np.diff(diff, axis=0)[changed[:-1] & changed[1:]]
    assert grad.mean() < 0, grad.mean()
    with pytest.raises(ValueError, match="scale"):
        camera.raindrops(ramp, 0.5, rng, scale=0.1)


def test_raindrops_spec_and_augmentation():
    img = (_photo(12, 96) * 255).astype(np.uint8)
    r = degrade(img, [DegradationSpec("rain", strength=0.8, real=True, drops=True)], seed=5)
    assert r.params[0]["drops"] > 0 and r.params[0]["real"] is True and r.mask.max() == DegradationSpec("rain").class_id
    with pytest.raises(ValueError, match="drops"):
        DegradationSpec("rain", drops=True)
    with pytest.raises(ValueError, match="drops"):
        DegradationSpec("rain", real=True, drops=True, mist=0.5)
    from slerir.data.augment import AUGMENTATIONS
    specs = [DegradationSpec("rain", real=True), DegradationSpec("rain")]
    out = AUGMENTATIONS["raindrops"].fn(specs, np.random.default_rng(0), lambda: True)
    assert out[0].drops and not out[1].drops
    # heavy rain leaves drops alone
    again = AUGMENTATIONS["heavy_rain"].fn(out, np.random.default_rng(0), lambda: True, mist=(0.2, 1.2), stretch=(1.0, 3.0))
    assert again[0] == out[0]
