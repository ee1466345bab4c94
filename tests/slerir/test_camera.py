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
