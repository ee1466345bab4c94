"""Global statistics pooled at another scale (lab.scale)."""
from __future__ import annotations

import numpy as np
import pytest

from lab.local import restore_scaled_stats
from lab.scale import main, markdown, parse_policy, pooled_stats, restore_with_policy, scale_results
from slerir.config import CLASSES


def _photo(h: int, w: int, seed: int) -> np.ndarray:
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    img = ndimage.gaussian_filter(rng.random((h, w, 3)), (3, 3, 0))
    return ((img - img.min()) / (img.max() - img.min())).astype(np.float32)


def test_native_policy_is_the_restorers_own_single_pass(restorer):
    img = _photo(64, 96, 0)
    out, cls = restore_with_policy(restorer, img, "native")
    res = restorer.restore(img, capture=False)
    np.testing.assert_allclose(out, res.image, atol=1e-5)
    assert cls == res.predicted_class


def test_side_policy_pools_a_downscaled_copy_and_leaves_small_images_alone(restorer):
    img = _photo(96, 160, 1)
    native, _ = restore_with_policy(restorer, img, "native")
    small_enough, _ = restore_with_policy(restorer, img, "side:160")  # longer side already <= 160
    np.testing.assert_array_equal(small_enough, native)
    side, _ = restore_with_policy(restorer, img, "side:80")
    assert np.abs(side - native).max() > 1e-4  # other statistics, another restoration
    same, _ = restore_scaled_stats(restorer, img, 0.5)  # the diagnosis of lab.local, by factor
    np.testing.assert_allclose(side, same, atol=1e-5)


def test_mix_policy_pools_the_mean_of_the_native_and_the_downscaled_features(restorer):
    img = _photo(96, 160, 2)
    a, na = pooled_stats(restorer, img, "native")
    b, nb = pooled_stats(restorer, img, "side:80")
    m, nm = pooled_stats(restorer, img, "mix:80")
    np.testing.assert_allclose((m / nm).numpy(), ((a / na + b / nb) / 2).numpy(), atol=1e-6)
    assert not np.allclose((a / na).numpy(), (b / nb).numpy())


@pytest.mark.parametrize("text", ["side", "side:", "mix:abc", "side:8", "crop:512", "Native"])
def test_parse_policy_rejects_malformed_policies(text):
    with pytest.raises(ValueError, match="policy"):
        parse_policy(text)


@pytest.mark.slow
def test_results_and_table_fill_every_cell_and_leave_the_clean_input_out(restorer):
    from slerir.degradations import DegradationSpec, degrade

    samples = []
    for i, specs in enumerate([[], [DegradationSpec("noise", sigma=25.0)], [DegradationSpec("noise", sigma=15.0)]]):
        gt = _photo(48, 64, 10 + i)
        res = degrade(gt, specs, np.random.default_rng(i))
        label = CLASSES.index(specs[0].kind) if specs else CLASSES.index("clean")
        samples.append({"lq": res.image.transpose(2, 0, 1), "gt": gt.transpose(2, 0, 1), "label": label})
    policies = ["native", "side:32", "mix:32"]
    res = scale_results(restorer, samples, policies)
    assert set(res) == {"clean", "noise", "degraded"}
    assert res["clean"]["input"] is None and res["noise"]["n"] == 2 and res["degraded"]["n"] == 2
    assert res["noise"]["input"] < 31  # sigma 15 and 25 on a smooth photo
    assert all(0.0 <= res[k][p]["recognised"] <= 1.0 for k in res for p in policies)
    table = markdown({"w": {"enlarged": res}}, policies)
    assert "| degradation | n | input | native | side:32 | mix:32 |" in table
    clean_row = next(line for line in table.splitlines() if line.startswith("| clean"))
    assert clean_row.split("|")[3].strip() == "-" and clean_row.count("%") == 3


def test_cli_rejects_bad_arguments_with_a_message(capsys):
    assert main(["--sides", "768,abc"]) == 2
    assert "error:" in capsys.readouterr().err
    assert main(["--modes", "huge"]) == 2
    assert "--modes" in capsys.readouterr().err
    assert main(["--sides", "8"]) == 2
    assert "policy" in capsys.readouterr().err
