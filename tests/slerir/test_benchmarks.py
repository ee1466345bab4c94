"""Benchmark loaders (slerir.benchmarks). Run from the repository root: python -m pytest tests/slerir"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from slerir import benchmarks as B
from slerir.config import CLASSES

EXPECTED = {
    "cbsd68_15": 68, "cbsd68_25": 68, "cbsd68_50": 68, "rain100l": 100,
    "sots": 7, "hsts": 10, "lol": 15, "gopro": 2,
}


def _root_or_skip() -> Path:
    try:
        return B.resolve_root()
    except FileNotFoundError as exc:
        pytest.skip(f"dataset folder not available: {exc}")


# ------------------------------------------------------------------------------------------- registry


def test_registry_and_suites():
    assert set(B.BENCHMARKS) == set(EXPECTED)
    for name, spec in B.BENCHMARKS.items():
        assert spec["task"] in CLASSES
        assert spec["expected"] == EXPECTED[name]
    assert B.SUITES["three"] == ["cbsd68_15", "cbsd68_25", "cbsd68_50", "rain100l", "sots"]
    assert B.SUITES["five"] == ["cbsd68_25", "rain100l", "sots", "gopro", "lol"]
    assert sorted(B.SUITES["all"]) == sorted(EXPECTED)
    with pytest.raises(KeyError, match="unknown benchmark"):
        B.load_benchmark("nope")


# ------------------------------------------------------------------------------------- real datasets


@pytest.mark.parametrize("name", list(EXPECTED))
def test_benchmark_loads_expected_pairs(name):
    root = _root_or_skip()
    pairs = B.load_benchmark(name, root)
    assert len(pairs) == EXPECTED[name]
    assert [p.name for p in pairs] == sorted(p.name for p in pairs)
    assert len({p.name for p in pairs}) == len(pairs)
    for p in pairs:
        assert p.task == B.BENCHMARKS[name]["task"]
        for arr in (p.lq, p.gt):
            assert arr.dtype == np.float32
            assert arr.ndim == 3 and arr.shape[2] == 3
            assert arr.min() >= 0.0 and arr.max() <= 1.0
        assert p.lq.shape == p.gt.shape
        assert not np.array_equal(p.lq, p.gt)


def test_pairing_rules():
    root = _root_or_skip()
    for name, lq_name, gt_name in [
        ("rain100l", "rain-001.png", "norain-001.png"),
        ("sots", "0001_0.8_0.2.jpg", "0001.png"),
        ("hsts", "0586.jpg", "0586.jpg"),
        ("lol", "1.png", "1.png"),
        ("gopro", "Flower_1.png", "Flower_1.png"),
    ]:
        files = B.benchmark_files(name, root)
        assert files[0][1].name == lq_name and files[0][2].name == gt_name, (name, files[0])
    # Every SOTS hazy image is paired with the clear image of the id before its first underscore.
    for _, lq, gt in B.benchmark_files("sots", root):
        assert lq.name.split("_")[0] == gt.stem


def test_limit_and_hsts_odd_files():
    root = _root_or_skip()
    assert len(B.load_benchmark("rain100l", root, limit=3)) == 3
    hsts = {p.name: p for p in B.load_benchmark("hsts", root)}
    # 7471 and 8180 clear images are PNG data under .jpg names, 8180 is RGBA: all load as RGB.
    assert hsts["8180"].gt.shape == (344, 553, 3)
    assert hsts["7471"].gt.shape == (344, 550, 3)


def test_cbsd68_noise_deterministic_and_calibrated():
    root = _root_or_skip()
    a = B.load_benchmark("cbsd68_25", root, limit=3)
    b = B.load_benchmark("cbsd68_25", root, limit=1)
    c = B.load_benchmark("cbsd68_25", root, limit=3)
    assert np.array_equal(a[0].lq, b[0].lq)  # the seed depends on the image index, not on limit
    for x, y in zip(a, c):
        assert np.array_equal(x.lq, y.lq) and np.array_equal(x.gt, y.gt)
    # Clean reference is the untouched 8-bit image; the noisy input is not re-quantised.
    assert np.allclose(a[0].gt * 255, np.round(a[0].gt * 255), atol=1e-4)
    assert not np.allclose(a[0].lq * 255, np.round(a[0].lq * 255), atol=1e-3)
    # Different images get different noise.
    r0, r1 = (a[0].lq - a[0].gt), (a[1].lq - a[1].gt)
    assert not np.allclose(r0[:64, :64], r1[:64, :64])

    for sigma in (15, 25, 50):
        p = B.load_benchmark(f"cbsd68_{sigma}", root, limit=1)[0]
        resid = (p.lq.astype(np.float64) - p.gt) * 255
        g = p.gt * 255
        keep = (g > 2 * sigma) & (g < 255 - 2 * sigma)  # clipping aside
        if keep.sum() < 1000:
            keep = (g > sigma) & (g < 255 - sigma)
        std = resid[keep].std()
        assert abs(std - sigma) < 0.1 * sigma, (sigma, std)
        assert abs(resid[keep].mean()) < 0.05 * sigma


def test_add_gaussian_noise_seed():
    img = np.full((8, 8, 3), 128, np.uint8)
    x = B.add_gaussian_noise(img, 25, 4)
    rng = np.random.default_rng([25, 4])
    ref = (np.clip(128.0 + rng.normal(0.0, 25.0, img.shape), 0, 255) / 255).astype(np.float32)
    assert np.array_equal(x, ref) and x.dtype == np.float32
    assert not np.array_equal(x, B.add_gaussian_noise(img, 25, 5))


# ---------------------------------------------------------------------------------------- load_image


def _rgb_pattern(h=6, w=8) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_load_image_rgba_composited_on_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[0, 0] = (255, 0, 0, 0)      # fully transparent -> white
    rgba[0, 1] = (0, 0, 255, 255)    # opaque blue
    rgba[0, 2] = (0, 0, 0, 128)      # half-transparent black -> mid grey
    path = tmp_path / "a.png"
    Image.fromarray(rgba, "RGBA").save(path)
    out = B.load_image(path)
    assert out.dtype == np.uint8 and out.shape == (4, 4, 3)
    assert tuple(out[0, 0]) == (255, 255, 255)
    assert tuple(out[0, 1]) == (0, 0, 255)
    assert np.all(np.abs(out[0, 2].astype(int) - 127) <= 1)


def test_load_image_16bit_png(tmp_path):
    arr = np.array([[0, 257 * 100], [65535, 257 * 200]], np.uint16)
    path = tmp_path / "g16.png"
    Image.fromarray(arr).save(path)
    with Image.open(path) as im:
        assert im.mode in ("I;16", "I")  # really stored as 16 bit
    out = B.load_image(path)
    assert out.dtype == np.uint8 and out.shape == (2, 2, 3)
    assert out[..., 0].tolist() == [[0, 100], [255, 200]]
    assert np.array_equal(out[..., 0], out[..., 2])


def test_load_image_palette_and_grayscale(tmp_path):
    pal = Image.new("P", (3, 2))
    pal.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (768 - 9))
    pal.putdata([0, 1, 2, 2, 1, 0])
    pal.save(tmp_path / "p.png")
    out = B.load_image(tmp_path / "p.png")
    assert out.shape == (2, 3, 3)
    assert tuple(out[0, 0]) == (255, 0, 0) and tuple(out[0, 1]) == (0, 255, 0) and tuple(out[0, 2]) == (0, 0, 255)

    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(grey, "L").save(tmp_path / "l.png")
    out = B.load_image(tmp_path / "l.png")
    assert out.shape == (3, 4, 3)
    for c in range(3):
        assert np.array_equal(out[..., c], grey)


def test_load_image_exif_orientation(tmp_path):
    # Stored 40 wide x 20 high: left half red, right half blue.
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = (255, 0, 0)
    arr[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": the stored left side becomes the top
    path = tmp_path / "rot.jpg"
    Image.fromarray(arr).save(path, quality=95, exif=exif.tobytes())
    out = B.load_image(path)
    assert out.shape == (40, 20, 3)
    top, bottom = out[5, 10].astype(int), out[35, 10].astype(int)
    assert top[0] > 200 and top[2] < 60
    assert bottom[2] > 200 and bottom[0] < 60


def test_load_image_png_data_under_jpg_name(tmp_path):
    arr = _rgb_pattern()
    path = tmp_path / "actually_png.jpg"
    Image.fromarray(arr).save(path, format="PNG")
    out = B.load_image(path)
    assert np.array_equal(out, arr)  # lossless: decoded as PNG, not as JPEG


def test_load_image_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        B.load_image(tmp_path / "none.png")


# -------------------------------------------------------------------------------------- error paths


def test_missing_root_gives_clear_error(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="--data-root"):
        B.resolve_root(tmp_path / "no_such_folder")
    monkeypatch.setenv("SLERIR_DATA", str(tmp_path / "missing_a"))
    with pytest.raises(FileNotFoundError, match="missing_a") as info:
        B.resolve_root()
    assert "--data-root" in str(info.value) and "SLERIR_DATA" in str(info.value)
    # Root exists but lacks the benchmark folder: the error names the folder.
    with pytest.raises(FileNotFoundError, match="LOL_eval15"):
        B.load_benchmark("lol", tmp_path)


def _fake_gopro(root: Path, blur_size, sharp_size, sharp_name="a.png") -> None:
    (root / "test" / "GoPro_examples" / "blur").mkdir(parents=True)
    (root / "test" / "GoPro_examples" / "sharp").mkdir(parents=True)
    Image.new("RGB", blur_size).save(root / "test" / "GoPro_examples" / "blur" / "a.png")
    Image.new("RGB", sharp_size).save(root / "test" / "GoPro_examples" / "sharp" / sharp_name)


def test_size_mismatch_raises(tmp_path):
    _fake_gopro(tmp_path, (10, 12), (10, 14))
    with pytest.raises(ValueError, match="size mismatch"):
        B.load_benchmark("gopro", tmp_path)


def test_missing_reference_raises(tmp_path):
    _fake_gopro(tmp_path, (10, 12), (10, 12), sharp_name="b.png")
    with pytest.raises(FileNotFoundError, match="no reference"):
        B.load_benchmark("gopro", tmp_path)


def test_fake_root_loads(tmp_path):
    _fake_gopro(tmp_path, (10, 12), (10, 12))
    (pair,) = B.load_benchmark("gopro", tmp_path)
    assert pair.name == "a" and pair.task == "blur" and pair.lq.shape == (12, 10, 3)
