"""Restorer.restore(strength=...): keep a share of the change; "auto" follows the model's belief that the
photo is degraded (1 - P(clean)), the do-no-harm option the app offers."""
import numpy as np
import pytest

from slerir.inference import OptionError, Restorer
from slerir.config import get_config
from slerir.model import SLERIR
import torch


@pytest.fixture(scope="module")
def restorer():
    torch.manual_seed(0)
    m = SLERIR(get_config("tiny", widths=(8, 16, 32), enc_blocks=(1, 1), mid_blocks=1, dec_blocks=(1, 1), enc_width=8))
    for n, p in m.named_parameters():
        if n.endswith(".beta") or n.endswith(".gamma"):
            p.data.normal_(0, 0.1)
    return Restorer(m.eval(), threads=1)


@pytest.fixture(scope="module")
def img():
    return (np.random.default_rng(0).random((40, 56, 3)) * 255).astype(np.uint8)


def test_strength_blends_input_and_output(restorer, img):
    full = restorer.restore(img, capture=False)
    assert full.strength == 1.0
    none = restorer.restore(img, capture=False, strength=0.0)
    assert np.array_equal(none.image, none.input) and none.strength == 0.0
    half = restorer.restore(img, capture=False, strength=0.5)
    expect = np.clip(full.input + 0.5 * (full.image - full.input), 0, 1)
    assert np.allclose(half.image, expect, atol=1e-6)
    assert np.abs(full.image - full.input).max() > 1e-3  # the network does change this image


def test_auto_strength_follows_p_clean_and_treat_as(restorer, img):
    auto = restorer.restore(img, capture=False, strength="auto")
    p_clean = float(auto.class_probs[restorer.classes.index("clean")])
    assert auto.strength == pytest.approx(1.0 - p_clean)
    treated = restorer.restore(img, capture=False, strength="auto", treat_as="noise")
    assert treated.strength == 1.0


@pytest.mark.parametrize("bad", [-0.1, 1.5, "strong", True, None])
def test_bad_strength_is_refused(restorer, img, bad):
    with pytest.raises(OptionError, match="strength"):
        restorer.restore(img, strength=bad)


def test_cli_strength_argument():
    import argparse
    from slerir.restore import _strength
    assert _strength("auto") == "auto" and _strength("0.25") == 0.25
    for bad in ("2", "-1", "strong"):
        with pytest.raises(argparse.ArgumentTypeError):
            _strength(bad)


def test_classify_reports_what_restore_reports(restorer, img):
    """Restorer.classify: the encoder-only recognition equals restore()'s class probabilities, tiled too."""
    probs = restorer.classify(img)
    assert np.allclose(probs, restorer.restore(img, capture=False).class_probs, atol=1e-5)
    big = np.tile(img, (3, 3, 1))
    assert np.allclose(restorer.classify(big, tile=64), restorer.restore(big, capture=False, tile=64).class_probs, atol=1e-5)


def test_parse_strength_is_the_one_check():
    from slerir.inference import check_strength, parse_strength
    assert parse_strength("auto") == "auto" and parse_strength("1") == 1.0
    for bad in ("1.5", "-0.1", "strong", "nan"):
        with pytest.raises(OptionError):
            parse_strength(bad)
    assert check_strength(0.5) == 0.5
    with pytest.raises(OptionError):
        check_strength(True)
