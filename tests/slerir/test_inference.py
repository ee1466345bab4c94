import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from slerir.imaging import ImageError, load_image, to_rgb_float
from slerir.inference import Restorer
from tests.conftest import make_model

SHIPPED = Path(__file__).resolve().parents[2] / "assets" / "weights"  # the library has no default weights


def _psnr(a, b):
    return 10 * np.log10(1.0 / max(1e-20, float(((a - b) ** 2).mean())))


@pytest.fixture(scope="module")
def restorer():
    return Restorer(make_model(), tile=128, overlap=32)


def _image(h, w, seed=0):
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 1, w, dtype=np.float32)[None, :, None] * np.linspace(0.3, 1, h, dtype=np.float32)[:, None, None]
    return np.clip(base + 0.1 * rng.standard_normal((h, w, 3)).astype(np.float32), 0, 1)


def test_tiled_matches_untiled(restorer):
    img = _image(300, 270)
    whole = restorer.restore(img, tile=1024)
    tiled = restorer.restore(img)  # tile 128 -> many tiles
    assert whole.tiles == 1 and tiled.tiles > 4
    assert _psnr(whole.image, tiled.image) >= 40.0
    np.testing.assert_allclose(whole.global_embedding, tiled.global_embedding, atol=1e-5)
    for a, b in zip(whole.routing, tiled.routing):
        assert a.name == b.name and a.weights.shape == b.weights.shape
        assert (a.expert_map == b.expert_map).mean() > 0.97


@pytest.mark.slow
def test_default_overlap_narrows_seams_of_the_shipped_model():
    """The trained model's tile borders differ more than an untrained one's: the default overlap
    (96, capped at a quarter of the 256-px tile here) must bring a tiled restoration of a blurred
    photo closer to the whole one than 32 did."""
    from skimage import data

    from slerir.degradations import add_blur

    photo = np.asarray(Image.fromarray(data.coffee()).resize((600, 400), Image.BICUBIC), np.float32) / 255
    img = np.clip(add_blur(photo, 0.5, np.random.default_rng(0)), 0, 1)
    r = Restorer.from_pretrained(SHIPPED, tile=256)
    assert r.overlap == 96
    whole = r.restore(img, capture=False, tile=1024)
    wide = r.restore(img, capture=False)
    r.overlap = 32
    narrow = r.restore(img, capture=False)
    assert wide.tiles == narrow.tiles == 6
    seam = lambda res: np.abs(res.image - whole.image).mean(2).mean(0).max()  # worst column
    assert _psnr(whole.image, wide.image) > _psnr(whole.image, narrow.image)
    assert seam(wide) < seam(narrow)


def test_output_shapes_and_capture(restorer):
    img = _image(37, 53)  # not a multiple of 8: padded and cropped back
    r = restorer.restore(img)
    assert r.image.shape == (37, 53, 3) and r.image.dtype == np.float32
    assert np.isclose(r.class_probs.sum(), 1, atol=1e-5) and r.predicted_class in r.classes
    assert r.alpha.shape == (5, 7)
    assert np.allclose(np.linalg.norm(r.local_embedding, axis=0), 1, atol=1e-4)
    for lm in r.routing:
        h, w = lm.weights.shape[1:]
        assert (h, w) == (int(np.ceil(37 / lm.stride)), int(np.ceil(53 / lm.stride)))
        assert np.allclose(lm.weights.sum(0), 1, atol=1e-5)
        assert ((lm.weights > 0).sum(0) == 2).all()
    bare = restorer.restore(img, capture=False)
    assert bare.routing == [] and bare.alpha is None
    np.testing.assert_allclose(bare.image, r.image, atol=1e-6)


def test_topk_fusion_and_force_options(restorer):
    img = _image(64, 64)
    r1 = restorer.restore(img, top_k=1)
    assert all(((lm.weights > 0).sum(0) == 1).all() for lm in r1.routing)
    g = restorer.restore(img, fusion="global")
    assert np.allclose(g.alpha, 1)
    name = r1.routing[0].name
    f = restorer.restore(img, force_expert={name: 3})
    assert (f.layer(name).expert_map == 3).all()
    with pytest.raises(ValueError, match="top_k"):
        restorer.restore(img, top_k=7)
    with pytest.raises(ValueError, match="unknown layer"):
        restorer.restore(img, force_expert={"nope": 0})


def test_tiny_and_odd_images(restorer):
    for shape in [(1, 1, 3), (3, 2000, 3), (2, 2)]:
        r = restorer.restore(np.full(shape, 0.5, np.float32))
        assert r.image.shape[:2] == shape[:2]


def test_input_modes():
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0] = 255  # red, fully transparent -> white
    assert np.allclose(to_rgb_float(rgba), 1.0)
    rgba[..., 3] = 255
    assert np.allclose(to_rgb_float(rgba)[..., 0], 1.0) and np.allclose(to_rgb_float(rgba)[..., 1], 0.0)
    g16 = np.full((4, 4), 65535, np.uint16)
    assert np.allclose(to_rgb_float(g16), 1.0)
    assert to_rgb_float(Image.new("P", (5, 4))).shape == (4, 5, 3)
    assert to_rgb_float(Image.new("CMYK", (5, 4))).shape == (4, 5, 3)
    assert to_rgb_float(Image.new("LA", (5, 4))).shape == (4, 5, 3)
    # 16-bit PNG through bytes
    buf = io.BytesIO()
    Image.fromarray(np.full((6, 6), 32768, np.uint16)).save(buf, format="PNG")
    assert abs(load_image(buf.getvalue()).mean() - 0.5) < 0.01
    # EXIF orientation applied (orientation 6: rotate 90 cw -> width/height swap)
    im = Image.new("RGB", (10, 4))
    exif = im.getexif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    im.save(buf, format="JPEG", exif=exif)
    assert load_image(buf.getvalue()).shape == (10, 4, 3)


@pytest.mark.parametrize("data,msg", [(b"", "empty"), (b"hello, not an image", "not an image"),
                                      (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "damaged|not an image")])
def test_bad_bytes_give_clear_errors(data, msg):
    with pytest.raises(ImageError, match=msg):
        load_image(data)


def test_bad_arrays_rejected(restorer):
    with pytest.raises(ImageError):
        restorer.restore(np.zeros((4, 4, 5), np.float32))
    with pytest.raises(ImageError):
        restorer.restore(np.full((4, 4, 3), np.nan, np.float32))
    with pytest.raises(ImageError):
        restorer.restore(None)


def test_size_guard():
    r = Restorer(make_model(), max_pixels=100 * 100)
    with pytest.raises(ImageError, match="limit"):
        r.restore(np.zeros((200, 200, 3), np.float32))


def test_deterministic(restorer):
    img = _image(96, 80, seed=3)
    a, b = restorer.restore(img), restorer.restore(img)
    assert np.array_equal(a.image, b.image)
    for x, y in zip(a.routing, b.routing):
        assert np.array_equal(x.weights, y.weights)


def test_dihedral_inverse_and_eight_distinct():
    from slerir.inference import DIHEDRAL, dihedral

    a = np.arange(2 * 3 * 1).reshape(2, 3, 1)
    t = torch.arange(6.0).reshape(1, 1, 2, 3)
    seen = set()
    for k, f in DIHEDRAL:
        assert np.array_equal(dihedral(dihedral(a, k, f), k, f, inverse=True), a)
        assert torch.equal(dihedral(dihedral(t, k, f), k, f, inverse=True), t)
        assert np.array_equal(dihedral(t, k, f)[0].permute(1, 2, 0).numpy(), dihedral(a, k, f))  # same maps
        seen.add(dihedral(a, k, f).tobytes())
    assert len(seen) == 8


def test_mirror_ensemble_averages_image_and_undone_mirror(restorer):
    img = _image(70, 90, seed=3)
    plain = restorer.restore(img)
    mirrored = restorer.restore(np.ascontiguousarray(img[:, ::-1]), capture=False)
    ens = Restorer(restorer.model, tile=128, overlap=32, ensemble="mirror").restore(img)
    np.testing.assert_allclose(ens.image, (plain.image + mirrored.image[:, ::-1]) / 2, atol=1e-6)
    assert not np.allclose(ens.image, plain.image, atol=1e-4)  # the mirror pass really changes the result
    np.testing.assert_array_equal(ens.class_probs, plain.class_probs)  # maps from the untransformed pass
    assert len(ens.routing) == len(plain.routing) and ens.image.shape == img.shape
    calls = []
    Restorer(restorer.model, tile=32, overlap=8, ensemble="mirror").restore(img, progress=lambda d, t: calls.append((d, t)))
    assert calls[-1][0] == calls[-1][1] and calls[-1][1] % 2 == 0 and len(calls) == calls[-1][1]  # both passes' tiles
    assert [d for d, _ in calls] == list(range(1, len(calls) + 1))
    x8 = Restorer(restorer.model, ensemble="x8").restore(img, capture=False)
    assert x8.image.shape == img.shape and np.isfinite(x8.image).all()
    with pytest.raises(ValueError, match="ensemble"):
        Restorer(restorer.model, ensemble="x4")


def test_typed_errors_for_the_ui_to_word():
    """Validation happens once, in the library, with types a UI maps to its own messages."""
    from slerir.imaging import ImageTooLarge, ImageTooSmall, read_image
    from slerir.inference import OptionError

    r = Restorer(make_model(), max_pixels=100 * 100, device="cpu")
    buf = io.BytesIO()
    Image.new("RGB", (300, 200)).save(buf, format="PNG")
    with pytest.raises(ImageTooLarge) as e:  # from the header of encoded bytes
        r.restore(buf.getvalue())
    assert (e.value.width, e.value.height, e.value.limit) == (300, 200, 10_000) and "limit" in str(e.value)
    with pytest.raises(ImageTooLarge):  # and of a decoded array
        r.restore(np.zeros((101, 100, 3), np.float32))
    with pytest.raises(ImageTooSmall) as e:
        read_image(np.zeros((7, 30, 3), np.uint8), min_side=8)
    assert (e.value.width, e.value.height, e.value.min_side) == (30, 7, 8)
    assert read_image(np.zeros((8, 8), np.uint8), max_pixels=64, min_side=8).shape == (8, 8, 3)
    img = np.zeros((16, 16, 3), np.float32)
    for kw in ({"top_k": 0}, {"top_k": 5}, {"top_k": 1.5}, {"fusion": "both"}, {"force_expert": {"enc0.b0": -1}}):
        with pytest.raises(OptionError):
            r.restore(img, **kw)
    with pytest.raises(OptionError):
        Restorer(make_model(), tile=100)
    for t in (ImageTooLarge, ImageTooSmall, OptionError):
        assert issubclass(t, ValueError)
    assert issubclass(ImageTooLarge, ImageError) and issubclass(ImageTooSmall, ImageError)


def test_device_selection(monkeypatch, weights_dir):
    from slerir.inference import DeviceError, resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu") and resolve_device(None) == torch.device("cpu")
    for bad in ("cuda", "cuda:0", "tpu", "bogus", "mps"):
        with pytest.raises(DeviceError):
            resolve_device(bad)
    with pytest.raises(DeviceError, match="CUDA is not available"):
        Restorer.from_pretrained(weights_dir, device="cuda")
    r = Restorer.from_pretrained(weights_dir)  # auto without CUDA: the CPU
    assert r.device == torch.device("cpu") and next(r.model.parameters()).device.type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("auto") == torch.device("cuda") and resolve_device("CUDA:0") == torch.device("cuda:0")
    with pytest.raises(DeviceError, match="1 CUDA device"):
        resolve_device("cuda:3")


def test_restore_cli_device_flag(tmp_path, weights_dir, monkeypatch):
    from slerir.restore import main

    Image.fromarray((_image(20, 24) * 255).astype(np.uint8)).save(tmp_path / "in.png")
    args = [str(tmp_path / "in.png"), str(tmp_path / "out.png"), "--weights", str(weights_dir), "--ensemble", "none"]
    assert main(args + ["--device", "cpu"]) == 0 and (tmp_path / "out.png").exists()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(args + ["--device", "cuda"]) == 2


def test_global_stats_argument_restores_with_another_images_global_embedding(restorer):
    img, other = _image(40, 56, seed=1), np.ascontiguousarray(_image(72, 64, seed=2)[::-1] ** 2)
    own = restorer.restore(img)
    same = restorer.restore(img, global_stats=restorer.global_stats(img))
    np.testing.assert_allclose(same.image, own.image, atol=1e-5)
    stats = restorer.global_stats(other)
    borrowed = restorer.restore(img, global_stats=stats)
    np.testing.assert_allclose(borrowed.global_embedding, restorer.restore(other).global_embedding, atol=1e-5)
    assert not np.allclose(borrowed.image, own.image, atol=1e-4)
    # what the model computes from the same statistics (the path the lab tools used before)
    with torch.inference_mode():
        x = torch.from_numpy(img).permute(2, 0, 1)[None]
        ref = restorer.model(x, global_stats=stats).image[0].clamp(0, 1).permute(1, 2, 0).numpy()
    np.testing.assert_allclose(borrowed.image, ref, atol=1e-5)
    tiled = restorer.restore(img, global_stats=stats, tile=16)
    assert tiled.tiles > 1
    np.testing.assert_allclose(tiled.global_embedding, borrowed.global_embedding, atol=1e-6)


def _shipped_example():
    from tests.conftest import REPO

    return np.asarray(Image.open(REPO / "assets/examples/mixed_noise_haze_rocket.png").convert("RGB"))[:203, :301]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_and_cpu_agree_within_40_db():
    """The shipped weights on CUDA and on the CPU: the same restoration up to float32 summation order
    (at least 40 dB PSNR apart), whole and tiled, and the same recognised class."""
    img = _shipped_example()
    cpu, gpu = Restorer.from_pretrained(SHIPPED, device="cpu"), Restorer.from_pretrained(SHIPPED, device="cuda")
    assert gpu.device.type == "cuda"
    for kw in ({}, {"tile": 128}):
        a, b = cpu.restore(img, **kw), gpu.restore(img, **kw)
        assert a.tiles == b.tiles and a.image.shape == b.image.shape
        assert _psnr(a.image, b.image) >= 40.0, kw
        assert a.predicted_class == b.predicted_class
        np.testing.assert_allclose(a.global_embedding, b.global_embedding, atol=1e-3)
        assert all((x.expert_map == y.expert_map).mean() > 0.95 for x, y in zip(a.routing, b.routing))


@pytest.mark.parametrize("n, tile, overlap", [(2000, 768, 96), (1504, 768, 96), (4096, 768, 96), (520, 512, 96),
                                              (304, 128, 32), (800, 768, 96), (2048, 512, 64), (96, 128, 32)])
def test_tile_grid_covers_evenly_with_the_fewest_tiles(n, tile, overlap):
    """Tiles cover [0, n) with at least ``overlap`` px between neighbours, at most ``tile`` px each, on the
    pad multiple, in as few tiles as that allows, and no larger than sharing the length evenly needs."""
    import math

    from slerir.inference import _tile_grid

    starts, side = _tile_grid(n, tile, overlap, 8)
    assert side <= max(tile, n) and starts[0] == 0 and starts[-1] + side == n
    assert all(s % 8 == 0 for s in starts) and starts == sorted(set(starts))
    assert all(side - (b - a) >= overlap for a, b in zip(starts, starts[1:]))
    fewest = 1 if n <= tile else math.ceil((n - overlap) / (tile - overlap))
    assert len(starts) == fewest
    if len(starts) > 1:  # shrunk to share the length: one multiple less would break the overlap
        assert side - 8 < (n + (len(starts) - 1) * overlap) / len(starts)
