import numpy as np
import pytest

from lab import exposure as E

CLASSES = ("clean", "noise", "rain", "haze", "blur", "lowlight")


class _Fake:
    """A restorer that multiplies its input by ``factor`` and calls the cells left of ``split`` low light."""

    classes = CLASSES

    def __init__(self, factor=1.0, split=0.0):
        self.factor, self.split = factor, split

    def restore(self, x, capture=False, treat_as=None):
        self.treated = treat_as
        sims = np.zeros((len(CLASSES), 8, 8), np.float32)
        sims[1] = 1.0
        sims[5, :, : int(round(8 * self.split))] = 2.0
        factor = self.factor

        class R:
            image = np.clip(np.asarray(x, np.float32) * factor, 0, 1)
            local_class_sims = sims
            predicted_class = "noise"
        return R()


def _photo(seed=0, shape=(40, 56, 3)):
    rng = np.random.default_rng(seed)
    return (rng.uniform(0.2, 0.9, shape) * 255).astype(np.uint8)


def test_dim_noisy_darkens_in_linear_light_and_is_seeded():
    clean = E.centre_crop(_photo(), 32)
    assert clean.shape == (32, 32, 3) and clean.dtype == np.float32
    t, x = E.dim_noisy(clean, 0.08, 0.9, seed=1)
    assert 0.2 < t.mean() / clean.mean() < 0.5  # linear 0.08 is about 0.3 in sRGB
    assert np.abs(x - t).mean() > 0.005 and np.array_equal(x, E.dim_noisy(clean, 0.08, 0.9, seed=1)[1])


def test_measure_reads_brightness_and_lowlight_cells():
    images = [E.centre_crop(_photo(s)) for s in range(3)]
    keep = E.measure(_Fake(1.0, 0.0), images, [0.15], 0.9)["0.15"]
    assert 0.85 < keep["brightness"] < 1.1 and keep["lowlight_cells"] == 0.0  # the noisy input's own brightness
    assert keep["classes"] == {"noise": 3} and keep["psnr"] == pytest.approx(keep["input_psnr"])
    bright = E.measure(_Fake(1.5, 0.25), images, [0.15], 0.9)["0.15"]
    assert bright["brightness"] == pytest.approx(1.5 * keep["brightness"], rel=0.02)
    assert bright["lowlight_cells"] == pytest.approx(0.25)
    assert bright["psnr"] < keep["psnr"] and bright["worst_gain"] < 0
    md = E.table({"w": {"0.15": bright}}, 0.9, 3)
    assert "| `w` | 0.15 |" in md and "25%" in md
    fake = _Fake()
    E.measure(fake, images[:1], [0.3], 0.5, treat_as="noise")
    assert fake.treated == "noise" and "restored as noise" in E.table({}, 0.5, 1, "noise")


@pytest.mark.parametrize("args", [["--gains", "0"], ["--gains", "1.5"], ["--strength", "2"], ["--images", "0"]])
def test_cli_refuses_bad_arguments(args, capsys):
    assert E.main(args) == 2 and "error:" in capsys.readouterr().err
