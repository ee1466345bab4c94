"""lab.detail: does a model remove noise, or the photo's detail with it?"""
import numpy as np
from scipy import ndimage

from lab import detail as D
from slerir.degradations import add_noise


def _photo(seed=0, shape=(48, 64, 3)):
    rng = np.random.default_rng(seed)
    return np.clip(0.5 + 0.3 * ndimage.gaussian_filter(rng.standard_normal(shape), (1, 1, 0)), 0, 1)


def test_detail_kept_is_one_for_the_photo_and_falls_when_blurred():
    clean = _photo()
    assert abs(D.detail_kept(clean, clean) - 1.0) < 1e-9
    assert abs(D.detail_kept(0.5 * clean, clean) - 0.5) < 1e-9  # detail is linear in the image
    blurred = ndimage.gaussian_filter(clean, (2, 2, 0))
    assert D.detail_kept(blurred, clean) < 0.3
    assert np.isnan(D.detail_kept(clean, np.full_like(clean, 0.4)))  # a flat photo has no detail to keep


def test_noise_left_is_one_for_the_input_and_zero_for_the_clean_photo():
    clean = _photo(1)
    noisy = add_noise(clean, rng=3, sigma=25)
    assert abs(D.noise_left(noisy, clean, noisy) - 1.0) < 1e-9
    assert abs(D.noise_left(clean, clean, noisy)) < 1e-9
    half = clean + 0.5 * (noisy - clean)
    assert abs(D.noise_left(half, clean, noisy) - 0.5) < 1e-9


class _Identity:
    """A restorer that returns its input: keeps all detail and leaves all noise."""

    def restore(self, x, capture=False):
        class R:
            image = np.asarray(x, np.float32)
        return R()


def test_measure_and_table_on_an_identity_restorer():
    images = [_photo(s).astype(np.float32) for s in range(3)]
    res = D.measure(_Identity(), images, [15.0, 50.0])
    assert list(res) == ["15", "50"]
    for r in res.values():
        assert r["n"] == 3 and abs(r["psnr"] - r["input_psnr"]) < 1e-9
        assert abs(r["noise_left"] - 1.0) < 1e-6 and abs(r["detail_kept"] - 1.0) < 0.1  # noise is not the photo's detail
    assert res["15"]["input_psnr"] > res["50"]["input_psnr"] + 8
    md = D.table({"w": res})
    assert "| w | 15 |" in md and "| w | 50 |" in md and "detail kept" in md


def test_cli(tmp_path, data_root, tiny_weights):
    out = tmp_path / "d.md"
    assert D.main(["--weights", str(tiny_weights), "--images", "1", "--sigmas", "25", "--data-root", str(data_root),
                   "--out", str(out), "--threads", "1"]) == 0
    assert out.read_text().startswith("| weights | sigma |") and out.with_suffix(".json").exists()
    assert D.main(["--weights", str(tmp_path / "none"), "--images", "1", "--data-root", str(data_root)]) == 2
    assert D.main(["--images", "0"]) == 2
