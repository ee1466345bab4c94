"""analysis.passthrough: PSNR of restored clean photos against themselves."""
import numpy as np
from PIL import Image

from analysis import passthrough as P


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
