"""lab.passthrough: PSNR of restored clean photos against themselves."""
import numpy as np
from PIL import Image

from lab import passthrough as P


def test_table_and_cli(tmp_path, tiny_weights):
    folder = tmp_path / "ex"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("clean_a", "clean_b", "noise_a"):
        Image.fromarray((rng.random((40, 48, 3)) * 255).astype(np.uint8)).save(folder / f"{name}.png")
    table, res = P.passthrough_table([tiny_weights, tiny_weights], folder)
    assert list(res[str(tiny_weights)]) == ["clean_a", "clean_b"]  # only the clean photos
    psnr_a, cls = res[str(tiny_weights)]["clean_a"]
    assert np.isfinite(psnr_a) and 0 < psnr_a < 100 and isinstance(cls, str)
    assert "| clean_a |" in table and "**mean**" in table and "noise_a" not in table
    out = tmp_path / "t.md"
    assert P.main(["--weights", str(tiny_weights), "--images", str(folder), "--out", str(out), "--threads", "1"]) == 0
    assert out.read_text().startswith("| image |")
    assert P.main(["--weights", str(tiny_weights), "--images", str(tmp_path / "none")]) == 2
    assert P.main(["--weights", str(tmp_path / "no_weights"), "--images", str(folder)]) == 2


def test_stats_box_pools_the_global_statistics_of_part_of_the_photo(tmp_path, tiny_weights):
    import torch

    from slerir.inference import Restorer

    r = Restorer.from_pretrained(tiny_weights)
    rng = np.random.default_rng(1)
    x = rng.random((40, 48, 3)).astype(np.float32)
    whole, cls = P.restore_with_stats_from(r, x, (0, 40, 0, 48))
    assert np.allclose(whole, r.restore(x, capture=False).image, atol=1e-5)  # the whole box: as restore does
    assert cls in r.classes
    t = torch.from_numpy(x).permute(2, 0, 1)[None]
    from slerir.model import pad_to_multiple

    with torch.inference_mode():
        ref = r.model(t, global_stats=r.model.global_stats(t[..., 0:16, 8:32])).image[0].clamp(0, 1)
    part, _ = P.restore_with_stats_from(r, x, (0, 16, 8, 32))
    assert np.allclose(part, ref.permute(1, 2, 0).numpy(), atol=1e-5)
    odd, _ = P.restore_with_stats_from(r, x, (0, 21, 3, 30))  # sides that are not multiples of 8 (a crash before)
    with torch.inference_mode():
        box = pad_to_multiple(t[..., 0:21, 3:30], r.cfg.pad_multiple)[0]  # padded as a whole image is
        ref = r.model(t, global_stats=r.model.encoder.pool_stats(r.model.encoder.features(box))).image
    assert np.allclose(odd, ref[0].clamp(0, 1).permute(1, 2, 0).numpy(), atol=1e-5)
    folder = tmp_path / "ex"
    folder.mkdir()
    Image.fromarray((x * 255).astype(np.uint8)).save(folder / "clean_a.png")
    out = tmp_path / "t.md"
    assert P.main(["--weights", str(tiny_weights), "--images", str(folder), "--stats-box", "0", "16", "8", "32",
                   "--out", str(out), "--threads", "1"]) == 0
    assert "`--stats-box 0 16 8 32`" in out.read_text()
    assert P.main(["--weights", str(tiny_weights), "--images", str(folder), "--stats-box", "0", "4", "0", "4"]) == 2


def test_jpeg_option_scores_against_the_compressed_photo(tmp_path, tiny_weights):
    from slerir.camera import jpeg
    from slerir.imaging import load_image
    from slerir.inference import Restorer
    from slerir.metrics import psnr

    folder = tmp_path / "ex"
    folder.mkdir()
    rng = np.random.default_rng(2)
    Image.fromarray((rng.random((40, 48, 3)) * 255).astype(np.uint8)).save(folder / "clean_a.png")
    _, plain = P.passthrough_table([tiny_weights], folder)
    table, res = P.passthrough_table([tiny_weights], folder, jpeg_quality=50)
    x = jpeg(load_image(folder / "clean_a.png"), 50)
    out = Restorer.from_pretrained(tiny_weights).restore(x, capture=False)
    assert np.isclose(res[str(tiny_weights)]["clean_a"][0], psnr(out.image, x))
    assert res[str(tiny_weights)]["clean_a"][0] != plain[str(tiny_weights)]["clean_a"][0]
    assert "`--jpeg 50`" in table
    assert P.main(["--weights", str(tiny_weights), "--images", str(folder), "--jpeg", "0"]) == 2


def test_chroma_options_change_colour_resolution_only(tmp_path, tiny_weights):
    from slerir.data.augment import to_ycc

    rng = np.random.default_rng(3)
    x = rng.random((40, 48, 3)).astype(np.float32)
    half, full = P.change_chroma(x, "half"), P.change_chroma(x, "full", 2.0)
    y0, cb0, _ = to_ycc(x)
    yh, cbh, _ = to_ycc(half)
    assert half.shape == x.shape
    step = lambda c: np.abs(np.diff(c, axis=1)).mean()  # noqa: E731
    assert step(cbh) < 0.6 * step(cb0)  # colour softer
    assert np.abs(yh - y0)[2:-2, 2:-2].mean() < 0.05  # brightness nearly kept (clipping aside)
    assert step(to_ycc(full)[1]) > step(cb0)
    folder = tmp_path / "ex"
    folder.mkdir()
    Image.fromarray((x * 255).astype(np.uint8)).save(folder / "clean_a.png")
    out = tmp_path / "t.md"
    assert P.main(["--weights", str(tiny_weights), "--images", str(folder), "--half-chroma", "--out", str(out)]) == 0
    assert "`--half-chroma`" in out.read_text()
    assert P.main(["--weights", str(tiny_weights), "--images", str(folder), "--full-chroma", "3", "--out", str(out)]) == 0
    assert "`--full-chroma 3`" in out.read_text()
