"""lab.routing_check (per-layer decisiveness, NMI, composite split) and lab.real_check (real photos)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from lab import real_check, routing_check


def _photos(n=2, side=64, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.random((side, side, 3)) * 255).astype(np.uint8) for _ in range(n)]


def test_probe_images_cover_every_kind_and_the_composites():
    singles, comps = routing_check.probe_images(_photos())
    kinds = sorted({k for _, k in singles})
    assert kinds == sorted(["clean", "noise", "rain", "haze", "blur", "lowlight"])
    assert len(comps) == 2 * len(routing_check.COMPOSITES)
    img, a, b = comps[0]
    # the left half carries the first kind's image, the right half the second's
    full_a = [im for im, k in singles if k == a][0]
    assert np.array_equal(img[:, :32], full_a[:, :32])


def test_layer_stats_and_targets(restorer):
    singles, comps = routing_check.probe_images(_photos())
    rows = routing_check.layer_stats(restorer, singles, comps)
    names = [r["name"] for r in rows]
    assert names == restorer.model.layer_names
    for r in rows:
        k = restorer.model.cfg.top_k
        assert 1.0 / k - 1e-6 <= r["top1"] <= 1.0 + 1e-6  # under top-k the largest weight is at least 1/k
        assert 0.0 <= r["nmi"] <= 1.0 and 0.0 <= r["split"] <= 1.0
    # the targets on nine hand-made layers: 6 decisive, mean NMI 0.5, 4 splitting -> met; one fewer of each -> not
    def layers(decisive, split, nmi=0.5):
        return [{"name": f"l{i}", "level": 0, "top1": 0.9 if i < decisive else 0.5, "nmi": nmi,
                 "split": 1.0 if i < split else 0.0} for i in range(9)]
    assert routing_check.targets(layers(6, 4)) == {"decisive_layers": 6, "mean_nmi": 0.5, "split_layers": 4, "met": True}
    assert routing_check.targets(layers(5, 4))["met"] is False
    assert routing_check.targets(layers(6, 3))["met"] is False
    assert routing_check.targets(layers(6, 4, nmi=0.49))["met"] is False
    # routed by the global cue alone, the two halves of a composite share one embedding: no layer splits
    glob = routing_check.layer_stats(restorer, singles[:2], comps, fusion="global")
    assert [r["split"] for r in glob] == [0.0] * len(glob)


class _StubRestorer:
    """Routes with one layer of E experts. ``by_region``: each cell's expert is read from the pixels under
    it (a composite's half routes exactly as the photo it was cut from); otherwise every cell of an image
    takes one expert drawn from the whole image (routing by the image, not the region)."""

    classes = ["clean", "noise", "rain", "haze", "blur", "lowlight"]

    def __init__(self, by_region: bool, e: int = 997):
        self.by_region, self.e = by_region, e

    def restore(self, img, capture=True, fusion=None):
        from types import SimpleNamespace
        h, w = img.shape[0] // 8, img.shape[1] // 8
        cells = img[: h * 8, : w * 8].reshape(h, 8, w, 8, 3).mean((1, 3, 4))
        if self.by_region:
            em = (np.floor(cells * 1e6) % self.e).astype(np.int64)
        else:
            em = np.full((h, w), int(np.floor(img.mean() * 1e6)) % self.e, dtype=np.int64)
        weights = np.zeros((self.e, h, w), np.float32)
        np.put_along_axis(weights, em[None], 1.0, axis=0)
        return SimpleNamespace(routing=[SimpleNamespace(name="l0", level=0, weights=weights, expert_map=em)])


def test_oracle_split_separates_routing_by_region_from_routing_by_image():
    singles, comps = routing_check.probe_images(_photos(n=2, side=64))
    # routed by the region, a composite's halves go where their whole images went: split == oracle == 1
    (row,) = routing_check.layer_stats(_StubRestorer(by_region=True), singles, comps)
    assert row["split"] == row["oracle"] == 1.0
    # routed by the image, the halves share one expert (split 0) although their images' experts differ (oracle 1)
    (row,) = routing_check.layer_stats(_StubRestorer(by_region=False), singles, comps)
    assert row["split"] == 0.0 and row["oracle"] == 1.0


def test_routing_check_cli_errors_cleanly(tmp_path, capsys):
    assert routing_check.main(["--images", "0"]) == 2
    assert routing_check.main(["--weights", str(tmp_path / "missing"), "--images", "1", "--data-root", str(tmp_path)]) == 2
    assert "error:" in capsys.readouterr().err


def _real_tree(root, rng):
    def save(path, arr):
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(arr).save(path)

    clean = (rng.random((40, 48, 3)) * 255).astype(np.uint8)
    noisy = np.clip(clean.astype(int) + rng.integers(-40, 40, clean.shape), 0, 255).astype(np.uint8)
    save(root / "real" / "SIDD_samples" / "input" / "00.png", noisy)
    save(root / "real" / "SIDD_samples" / "target" / "00.png", clean)
    save(root / "real" / "RIDCP_real_hazy" / "input" / "a.png", clean)
    save(root / "real" / "RIDCP_real_hazy" / "input" / "b.png", noisy)
    return clean, noisy


def test_real_check_measures_pairs_and_recognition(tmp_path, restorer):
    clean, noisy = _real_tree(tmp_path, np.random.default_rng(1))
    r = real_check.check(restorer, tmp_path / "real")
    sidd = r["paired"]["SIDD_samples"]
    from slerir.metrics import psnr
    assert sidd["n"] == 1
    assert abs(sidd["input"] - psnr(noisy.astype(np.float32) / 255, clean.astype(np.float32) / 255)) < 1e-6
    out = restorer.restore(noisy, capture=False).image
    assert abs(sidd["output"] - psnr(out, clean.astype(np.float32) / 255)) < 1e-6
    assert sidd["below_input"] == int(sidd["gain"] < 0)
    hazy = r["noref"]["RIDCP_real_hazy"]
    assert hazy["n"] == 2 and sum(hazy["predicted"].values()) == 2
    assert r["recognition_by_kind"]["haze"] == hazy["recognised"]
    assert "Raindrop_pairs" not in r["paired"]  # absent folders are left out, not zero


def test_real_check_cli(tmp_path, tiny_weights, capsys):
    _real_tree(tmp_path, np.random.default_rng(2))
    out = tmp_path / "rc.md"
    assert real_check.main(["--weights", str(tiny_weights), "--data-root", str(tmp_path), "--out", str(out)]) == 0
    data = json.loads(out.with_suffix(".json").read_text())
    assert str(tiny_weights) in data["weights"] and "SIDD_samples" in out.read_text()
    assert real_check.main(["--data-root", str(tmp_path / "nowhere")]) == 2
    assert "error:" in capsys.readouterr().err


def test_scale_floor_makes_routing_more_decisive(tiny_weights, tmp_path):
    """--scale-min (diagnosis): a floor under the router scales can only sharpen the top-k weights."""
    out_a, out_b = tmp_path / "a.md", tmp_path / "b.md"
    args = ["--weights", str(tiny_weights), "--images", "1", "--side", "64"]
    from slerir.paths import resolve_data_root
    try:
        resolve_data_root(None)
    except FileNotFoundError:
        pytest.skip("needs ../shared/datasets (validation photos)")
    assert routing_check.main(args + ["--out", str(out_a)]) == 0
    assert routing_check.main(args + ["--scale-min", "30", "--out", str(out_b)]) == 0
    a = json.loads(out_a.with_suffix(".json").read_text())["weights"][str(tiny_weights)]["layers"]
    b = json.loads(out_b.with_suffix(".json").read_text())["weights"][str(tiny_weights)]["layers"]
    assert all(rb["top1"] >= ra["top1"] - 1e-6 for ra, rb in zip(a, b))
    assert sum(rb["top1"] for rb in b) > sum(ra["top1"] for ra in a)
