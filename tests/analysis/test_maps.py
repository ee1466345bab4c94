import numpy as np
import pytest

from analysis import maps as M
from slerir.config import CLASSES


def test_palettes():
    assert len(M.EXPERT_COLORS) >= 8 and len(set(M.EXPERT_COLORS)) == len(M.EXPERT_COLORS)
    assert set(M.CLASS_COLORS) == set(CLASSES)
    for c in M.EXPERT_COLORS + list(M.CLASS_COLORS.values()):
        assert len(M.hex_to_rgb(c)) == 3


def test_expert_map_rgb_nearest_upsampling_keeps_cell_alignment(make_layer):
    experts = np.array([[0, 1], [2, 3]])
    lm = make_layer("l", experts, 4, stride=4)
    rgb = M.expert_map_rgb(lm, (8, 7))  # ceil(7/4) == 2 cells: image-aligned
    assert rgb.shape == (8, 7, 3) and rgb.dtype == np.uint8
    pal = M.palette_array(M.EXPERT_COLORS)
    assert (rgb[:4, :4] == pal[0]).all() and (rgb[:4, 4:] == pal[1]).all()
    assert (rgb[4:, :4] == pal[2]).all() and (rgb[4:, 4:] == pal[3]).all()
    thumb = M.expert_map_rgb(lm, (2, 2))  # any other size: proportional
    assert (thumb[0, 0] == pal[0]).all() and (thumb[1, 1] == pal[3]).all()


def test_weight_heatmap_alpha_and_class_maps(make_layer):
    lm = make_layer("l", np.array([[0, 1], [1, 0]]), 2, stride=8)
    hm = M.weight_heatmap(lm, 0, (16, 16))
    assert hm.shape == (16, 16, 3) and hm.dtype == np.uint8
    assert (hm[0, 0] == M.palette_array(M.VIRIDIS)[-1]).all()  # weight 1 at a cell centre region
    with pytest.raises(ValueError):
        M.weight_heatmap(lm, 5, (16, 16))
    a = M.alpha_rgb(np.array([[0.0, 1.0]]), (4, 8))
    assert a.shape == (4, 8, 3)
    assert (a[0, 0] == M.palette_array(M.BLUE_WHITE_RED)[0]).all()
    sims = np.zeros((len(CLASSES), 2, 2), np.float32)
    sims[2, 0, 0] = sims[5, 1, 1] = sims[0, 0, 1] = sims[0, 1, 0] = 1
    cm = M.class_map_rgb(sims, (4, 4))
    assert (cm[0, 0] == M.hex_to_rgb(M.CLASS_COLORS["rain"])).all()
    assert (cm[3, 3] == M.hex_to_rgb(M.CLASS_COLORS["lowlight"])).all()


def test_overlay_and_difference():
    img = np.full((4, 5, 3), 0.5, np.float32)
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 255
    assert (M.overlay(img, rgb, 0.0) == 128).all()
    assert (M.overlay(img, rgb, 1.0) == rgb).all()
    half = M.overlay(img, rgb, 0.5)
    assert half[0, 0, 0] == 191 and half[0, 0, 1] == 64
    assert (M.difference_rgb(img, img) == 0).all()
    d = M.difference_rgb(img, img + 0.1, gain=4.0)
    assert d.dtype == np.uint8 and abs(int(d[0, 0, 0]) - 102) <= 1


def test_downsample_labels_mode_and_nearest():
    m = np.zeros((16, 16), int)
    m[:, 10:] = 3
    assert (M.downsample_labels(m, (2, 2)) == [[0, 3], [0, 3]]).all()
    assert (M.downsample_labels(m, (2, 2), "mode") == M.downsample_labels(m, (2, 2), "nearest")).all()
    m2 = np.zeros((8, 8), int)
    m2[:, 5:] = 1  # cell (0,1) covers columns 4..7: 3 of 4 are class 1
    assert (M.downsample_labels(m2, (1, 2)) == [[0, 1]]).all()


def test_png_roundtrip():
    from io import BytesIO

    from PIL import Image

    x = (np.arange(48).reshape(4, 4, 3) * 5).astype(np.uint8)
    assert (np.asarray(Image.open(BytesIO(M.png_bytes(x)))) == x).all()
    assert M.png_data_uri(x).startswith("data:image/png;base64,")
