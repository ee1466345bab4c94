"""analysis.maps: near-ties, top-2 pairs, colour bars, legends and auto-scaled differences."""
from __future__ import annotations

import numpy as np

from analysis.maps import (EXPERT_COLORS, TIE_COLOR, VIRIDIS, auto_gain, difference_rgb, expert_map_rgb,
                           expert_pair_rgb, hex_to_rgb, top1_margin, with_colorbar, with_legend)
from slerir.inference import LayerMap


def _layer(w: np.ndarray, stride: float = 4.0) -> LayerMap:
    E, h, wd = w.shape
    return LayerMap("l", 0, w.astype(np.float32), np.zeros((2, h, wd), np.int16), w.astype(np.float32), stride)


def test_near_ties_are_grey_and_decisions_keep_their_colour():
    w = np.zeros((4, 1, 2), np.float32)
    w[:, 0, 0] = [0.52, 0.48, 0, 0]  # near-tie: margin 0.04
    w[:, 0, 1] = [0.1, 0.9, 0, 0]  # decided: expert 1
    lm = _layer(w)
    assert np.allclose(top1_margin(lm), [[0.04, 0.8]], atol=1e-6)
    rgb = expert_map_rgb(lm, (4, 8), tie_margin=0.1)
    assert tuple(rgb[0, 0]) == hex_to_rgb(TIE_COLOR) and tuple(rgb[0, 7]) == hex_to_rgb(EXPERT_COLORS[1])
    plain = expert_map_rgb(lm, (4, 8))
    assert tuple(plain[0, 0]) == hex_to_rgb(EXPERT_COLORS[0])


def test_pair_map_shows_both_experts_of_a_cell():
    w = np.zeros((4, 1, 1), np.float32)
    w[2, 0, 0], w[3, 0, 0] = 0.7, 0.3
    rgb = expert_pair_rgb(_layer(w, stride=8.0), (8, 8))
    colours = {tuple(c) for c in rgb.reshape(-1, 3)}
    assert colours == {hex_to_rgb(EXPERT_COLORS[2]), hex_to_rgb(EXPERT_COLORS[3])}
    assert tuple(rgb[0, 0]) == hex_to_rgb(EXPERT_COLORS[2]) and tuple(rgb[7, 7]) == hex_to_rgb(EXPERT_COLORS[3])


def test_auto_gain_makes_small_differences_visible():
    a = np.zeros((20, 20, 3), np.float32)
    b = a.copy()
    b[:10] = 0.004  # 1/255: black at a fixed x5
    assert difference_rgb(a, b, 5.0).max() <= 6
    g = auto_gain(a, b)
    assert 200 < g < 300 and difference_rgb(a, b, g).max() == 255
    assert auto_gain(a, a) == 1.0


def test_colorbar_and_legend_strips():
    img = np.zeros((50, 200, 3), np.uint8)
    out = with_colorbar(img, VIRIDIS, 0.0, 1.0, "weight")
    assert out.shape[1] == 200 and out.shape[0] > 50 and np.array_equal(out[:50], img)
    strip = out[50:]
    assert any(tuple(px) == hex_to_rgb(VIRIDIS[0]) for px in strip.reshape(-1, 3))  # the bar's low end
    leg = with_legend(img, [("rain", "#4477AA"), ("haze", "#66CCEE")])
    assert leg.shape[0] > 50 and (leg[50:] == hex_to_rgb("#4477AA")).all(-1).any()
