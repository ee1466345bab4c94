"""Standard all-in-one training layouts (slerir.datasets_std): readers, pairing, errors, sampler."""
from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from slerir import datasets_std as ds
from slerir.config import CLASSES

REPO = Path(__file__).resolve().parents[2]
H, W, P = 48, 64, 32


def _save(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        Image.fromarray(arr).save(path, quality=100, subsampling=0)
    else:
        Image.fromarray(arr).save(path)


def _pair(lq: Path, gt: Path, seed: int, shape: tuple[int, int] = (H, W),
          lq_shape: tuple[int, int] | None = None) -> None:
    """A random clean image and its 'degraded' partner 255 - clean (so any misalignment shows)."""
    g = np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)
    _save(gt, g)
    lq_img = 255 - g
    if lq_shape is not None:
        lq_img = np.random.default_rng(seed + 1).integers(0, 256, (*lq_shape, 3), dtype=np.uint8)
    _save(lq, lq_img)


def _clean(path: Path, seed: int) -> None:
    _save(path, np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8))


def build_root(root: Path) -> Path:
    """A miniature of every standard layout (PromptIR Train/*, GOPRO/train/<seq>, LOL/our485)."""
    den = root / "Train" / "Denoise"
    for i, name in enumerate(["BSD400/a1.jpg", "BSD400/a2.jpg", "WED/00001.bmp", "WED/00002.bmp", "extra.png"]):
        _clean(den / name, 100 + i)
    der = root / "Train" / "Derain"
    for i in (1, 2, 10):
        _pair(der / "rainy" / f"rain-{i}.png", der / "gt" / f"norain-{i}.png", 200 + i)
    deh = root / "Train" / "Dehaze"
    _pair(deh / "synthetic" / "part1" / "0001_0.8_0.04.jpg", deh / "original" / "0001.jpg", 300)
    _save(deh / "synthetic" / "part1" / "0001_1_0.2.jpg", 255 - np.asarray(Image.open(deh / "original" / "0001.jpg")))
    _pair(deh / "synthetic" / "part2" / "0002_0.9_0.1.jpg", deh / "original" / "0002.png", 301)
    gop = root / "GOPRO" / "train"
    for seq, names in (("GOPR0372_07_00", ["000047.png", "000048.png"]), ("GOPR0374_11_00", ["000001.png"])):
        for j, n in enumerate(names):
            _pair(gop / seq / "blur" / n, gop / seq / "sharp" / n, 400 + 10 * len(seq) + j)
    lol = root / "LOL" / "our485"
    for i in (2, 5):
        _pair(lol / "low" / f"{i}.png", lol / "high" / f"{i}.png", 500 + i)
    return root


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return build_root(tmp_path_factory.mktemp("allinone"))


@pytest.fixture(scope="module")
def sampler(root) -> ds.StandardSampler:
    return ds.StandardSampler(root=root, tasks="five", patch=P, batch=6, seed=3, mixed_share=0.2, clean_share=0.1,
                              synthetic_share=0.4)


# ------------------------------------------------------------------------------------------- readers


def test_readers_pair_counts_and_classes(root):
    den = ds.read_denoise(root)
    assert len(den) == 5 and all(p.lq is None and p.kind == "noise" for p in den)
    rain = ds.read_derain(root)
    assert sorted((p.lq.name, p.gt.name) for p in rain) == [
        ("rain-1.png", "norain-1.png"), ("rain-10.png", "norain-10.png"), ("rain-2.png", "norain-2.png")]
    haze = ds.read_dehaze(root)
    assert sorted((p.lq.name, p.gt.name) for p in haze) == [
        ("0001_0.8_0.04.jpg", "0001.jpg"), ("0001_1_0.2.jpg", "0001.jpg"), ("0002_0.9_0.1.jpg", "0002.png")]
    blur = ds.read_deblur(root)
    assert len(blur) == 3 and all(p.lq.name == p.gt.name and p.lq.parent.parent == p.gt.parent.parent for p in blur)
    assert all(p.lq.parent.name == "blur" and p.gt.parent.name == "sharp" for p in blur)
    low = ds.read_lowlight(root)
    assert [(p.lq.name, p.gt.parent.name) for p in low] == [("2.png", "high"), ("5.png", "high")]
    layout = ds.read_layout(root, "three")
    assert list(layout) == ["noise", "rain", "haze"]
    assert {p.kind for v in ds.read_layout(root, "five").values() for p in v} == set(CLASSES[1:])


def test_alternative_names_and_flat_layouts(tmp_path):
    der = tmp_path / "Train" / "Derain"
    _pair(der / "rainy" / "rainy_001.png", der / "gt" / "norain_001.png", 1)
    _pair(der / "rainy" / "x7.png", der / "gt" / "x7.png", 2)  # same name
    assert sorted((p.lq.name, p.gt.name) for p in ds.read_derain(tmp_path)) == [
        ("rainy_001.png", "norain_001.png"), ("x7.png", "x7.png")]
    gop = tmp_path / "GOPRO" / "train"  # flattened (Restormer / NAFNet) layout
    _pair(gop / "input" / "a.png", gop / "target" / "a.png", 3)
    assert [(p.lq.parent.name, p.gt.parent.name) for p in ds.read_deblur(tmp_path)] == [("input", "target")]
    lol = tmp_path / "LOL" / "our485"
    _pair(lol / "low" / "1.png", lol / "gt" / "1.png", 4)
    assert ds.read_lowlight(tmp_path)[0].gt.parent.name == "gt"


def test_list_files(tmp_path):
    root = build_root(tmp_path / "r")
    dd = root / "data_dir"
    (dd / "rainy").mkdir(parents=True)
    (dd / "rainy" / "rainTrain.txt").write_text("rainy/rain-1.png\nrainy/rain-10.png  gt/norain-2.png\n\n")
    rain = ds.read_derain(root)
    assert [(p.lq.name, p.gt.name) for p in rain] == [("rain-1.png", "norain-1.png"), ("rain-10.png", "norain-2.png")]
    (dd / "noisy").mkdir()
    (dd / "noisy" / "denoise.txt").write_text("00002.bmp\na1.jpg\n")
    assert sorted(p.gt.name for p in ds.read_denoise(root)) == ["00002.bmp", "a1.jpg"]
    (dd / "hazy").mkdir()
    (dd / "hazy" / "hazy_outside.txt").write_text("synthetic/part2/0002_0.9_0.1.jpg\n")
    assert [p.gt.name for p in ds.read_dehaze(root)] == ["0002.png"]
    # an explicit list file wins; a listed file that does not exist is an error naming it
    other = tmp_path / "mine.txt"
    other.write_text("rainy/rain-2.png\nrainy/rain-99.png\n")
    with pytest.raises(ValueError, match="rain-99.png"):
        ds.read_derain(root, list_file=other)
    (dd / "noisy" / "denoise.txt").write_text("a1.jpg\nmissing.bmp\n")
    with pytest.raises(ValueError, match="missing.bmp"):
        ds.read_denoise(root)


def test_missing_and_mismatched_pairs_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="PAPER_SCALE"):
        ds.resolve_std_root(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="Train/Denoise"):
        ds.read_denoise(tmp_path)
    der = tmp_path / "Train" / "Derain"
    _pair(der / "rainy" / "rain-1.png", der / "gt" / "norain-1.png", 1)
    _clean(der / "rainy" / "rain-2.png", 2)
    with pytest.raises(ValueError, match=r"derain: no ground truth .* 1 of 2 .*rain-2\.png"):
        ds.read_derain(tmp_path)
    deh = tmp_path / "Train" / "Dehaze"
    _pair(deh / "synthetic" / "part1" / "0003_1_0.1.jpg", deh / "original" / "0004.jpg", 3)
    with pytest.raises(ValueError, match=r"dehaze: no clear image .*0003_1_0\.1\.jpg"):
        ds.read_dehaze(tmp_path)
    seq = tmp_path / "GOPRO" / "train" / "GOPR0001"
    _pair(seq / "blur" / "1.png", seq / "sharp" / "1.png", 4)
    _clean(seq / "blur" / "2.png", 5)
    with pytest.raises(ValueError, match=r"blur: 1 of 2 .*2\.png"):
        ds.read_deblur(tmp_path)
    (tmp_path / "LOL" / "our485" / "low").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="high"):
        ds.read_lowlight(tmp_path)


def test_size_mismatch_is_aligned_or_rejected(tmp_path):
    lol = tmp_path / "LOL" / "our485"
    _pair(lol / "low" / "1.png", lol / "high" / "1.png", 1, lq_shape=(H - 4, W))  # small difference: centre crop
    s = ds.StandardSampler(root=tmp_path, tasks=("lowlight",), patch=P, batch=2, clean_share=0, mixed_share=0)
    assert s.batch(0)["lq"].shape == (2, 3, P, P)
    _pair(lol / "low" / "2.png", lol / "high" / "2.png", 2, lq_shape=(H, W + 40))
    s = ds.StandardSampler(root=tmp_path, tasks=("lowlight",), patch=P, batch=8, clean_share=0, mixed_share=0)
    with pytest.raises(ValueError, match="differ in size"):
        s.batch(0)


# ------------------------------------------------------------------------------------------- sampler


def test_batch_shapes_and_dtypes(sampler):
    b = sampler.batch(0)
    B, K = 6, len(CLASSES)
    assert b["lq"].shape == (B, 3, P, P) and b["gt"].shape == (B, 3, P, P)
    assert b["lq"].dtype == torch.float32 and b["gt"].dtype == torch.float32
    assert b["mask"].shape == (B, P, P) and b["mask"].dtype == torch.int64
    assert b["label"].shape == (B,) and b["label"].dtype == torch.int64
    assert b["frac"].shape == (B, K) and b["frac"].dtype == torch.float32
    for t in (b["lq"], b["gt"]):
        assert t.min() >= 0 and t.max() <= 1
    torch.testing.assert_close(b["frac"].sum(1), torch.ones(B))
    counts = torch.stack([torch.bincount(m.flatten(), minlength=K) for m in b["mask"]]).float() / P**2
    torch.testing.assert_close(counts, b["frac"])


def test_real_pairs_are_cropped_and_augmented_together(root):
    s = ds.StandardSampler(root=root, tasks="five", patch=P, batch=16, clean_share=0, mixed_share=0, seed=1)
    seen = set()
    for step in range(3):
        b = s.batch(step)
        for i in range(16):
            c = int(b["label"][i])
            seen.add(CLASSES[c])
            assert torch.all(b["mask"][i] == c) and b["frac"][i, c] == 1
            if CLASSES[c] == "noise":
                assert (b["lq"][i] - b["gt"][i]).abs().mean() > 0.02
            else:  # the fixture's degraded image is 1 - clean: any crop or flip mismatch would show
                err = (b["lq"][i] + b["gt"][i] - 1).abs()
                assert err.max() < 10 / 255 and err.mean() < 2 / 255
    assert seen <= set(CLASSES[1:]) and len(seen) >= 3


def test_determinism_per_seed_rank_step(root, sampler):
    a, a2 = sampler.batch(5), sampler.batch(5)
    fresh = ds.StandardSampler(root=root, tasks="five", patch=P, batch=6, seed=3, mixed_share=0.2, clean_share=0.1,
                               synthetic_share=0.4, cache_size=0)
    for k in a:
        assert torch.equal(a[k], a2[k]) and torch.equal(a[k], fresh.batch(5)[k])
    assert not torch.equal(a["gt"], sampler.batch(6)["gt"])
    other_rank = ds.StandardSampler(root=root, tasks="five", patch=P, batch=6, seed=3, mixed_share=0.2,
                                    clean_share=0.1, synthetic_share=0.4, rank=1, world_size=2)
    assert not torch.equal(a["gt"], other_rank.batch(5)["gt"])
    other_seed = ds.StandardSampler(root=root, tasks="five", patch=P, batch=6, seed=4, mixed_share=0.2,
                                    clean_share=0.1, synthetic_share=0.4)
    assert not torch.equal(a["gt"], other_seed.batch(5)["gt"])
    with ds.StandardSampler(root=root, tasks="five", patch=P, batch=6, seed=3, mixed_share=0.2, clean_share=0.1,
                            synthetic_share=0.4, prefetch=2) as pre:
        for step in (5, 6, 7, 2):
            ref = sampler.batch(step)
            got = pre.batch(step)
            assert all(torch.equal(ref[k], got[k]) for k in ref)


def test_synthetic_share(root):
    s = ds.StandardSampler(root=root, tasks="three", patch=P, batch=8, clean_share=1.0, mixed_share=0.0)
    b = s.batch(0)
    assert torch.all(b["label"] == 0) and torch.equal(b["lq"], b["gt"])
    s = ds.StandardSampler(root=root, tasks="three", patch=P, batch=8, clean_share=0.0, mixed_share=1.0)
    b = s.batch(1)
    assert all(len(torch.unique(m)) >= 2 for m in b["mask"])  # two kinds in complementary regions
    with pytest.raises(ValueError, match="synthetic_share"):
        ds.StandardSampler(root=root, tasks="three", mixed_share=0.3, clean_share=0.1, synthetic_share=0.2)


def test_task_probabilities_and_epoch_arithmetic(sampler):
    lit = ds.task_probabilities(ds.STANDARD_SIZES)
    assert lit["haze"] == pytest.approx(72135 / 162646) and lit["rain"] == pytest.approx(24000 / 162646)
    assert ds.task_probabilities({"noise": 3, "rain": 1}, "uniform") == {"noise": 0.5, "rain": 0.5}
    assert ds.epoch_size("three") == 142431 and ds.epoch_size("five") == 162646
    assert ds.steps_per_epoch("three") == 4451 and ds.steps_per_epoch("five") == 5082
    # from the fixture's counts: noise 5 x 9, rain 3 x 120, haze 3, blur 3 x 5, lowlight 2 x 20
    probs = sampler.task_probs
    tot = 45 + 360 + 3 + 15 + 40
    assert probs["rain"] == pytest.approx(360 / tot) and probs["haze"] == pytest.approx(3 / tot)


def test_val_set_std(root):
    val = ds.val_set_std(root=root, n=7, patch=P, tasks="five", seed=0)
    assert [v["kind"] for v in val] == ["clean", "noise", "rain", "haze", "blur", "lowlight", "mixed"]
    for v in val:
        assert v["lq"].shape == (3, P, P) and v["gt"].shape == (3, P, P) and v["mask"].shape == (P, P)
    assert [int(v["label"]) for v in val[:6]] == [0, 1, 2, 3, 4, 5]
    again = ds.val_set_std(root=root, n=7, patch=P, tasks="five", seed=0)
    assert all(np.array_equal(a["lq"], b["lq"]) for a, b in zip(val, again))


def test_make_sampler_routes_on_data_layout(root, tmp_path):
    tc = SimpleNamespace(data_layout="standard", std_root=str(root), tasks="three", patch=P, batch=2, mixed_share=0.1,
                         clean_share=0.05, seed=0, data_root=None)
    s = ds.make_sampler(tc, rank=1, world_size=2)
    assert isinstance(s, ds.StandardSampler) and s.rank == 1 and s.synthetic_share == pytest.approx(0.15)
    assert s.batch(0)["lq"].shape == (2, 3, P, P)
    syn = SimpleNamespace(**{**vars(tc), "data_layout": "synthetic", "data_root": str(tmp_path / "none")})
    with pytest.raises(FileNotFoundError, match="datasets folder"):  # slerir.data.TrainSampler's own error
        ds.make_sampler(syn, rank=0, world_size=1)
    with pytest.raises(ValueError, match="data_layout"):
        ds.make_sampler(SimpleNamespace(**{**vars(tc), "data_layout": "lmdb"}))


def test_make_sampler_prefetches_on_gpus_unless_worker_processes_draw(root, monkeypatch):
    import torch

    tc = SimpleNamespace(data_layout="standard", std_root=str(root), tasks="three", patch=P, batch=2, mixed_share=0.1,
                         clean_share=0.05, seed=0, data_root=None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert ds.make_sampler(tc, rank=0, world_size=1).prefetch == ds.DEFAULT_PREFETCH
    # worker processes replace the prefetch threads (each worker's threads would draw steps other workers get)
    assert ds.make_sampler(SimpleNamespace(**vars(tc), workers=2), rank=0, world_size=1).prefetch == 0


@pytest.mark.parametrize("name,tasks", [("paper_three", "three"), ("paper_five", "five")])
def test_paper_configs(name, tasks):
    from slerir.train import TrainConfig

    cfg = json.loads((REPO / "configs" / f"{name}.json").read_text())
    known = {f.name for f in fields(TrainConfig)} | {"data_layout", "std_root"}
    assert set(cfg) <= known, sorted(set(cfg) - known)
    assert cfg["preset"] == "paper" and cfg["tasks"] == tasks and cfg["data_layout"] == "standard"
    assert cfg["patch"] == 128 and cfg["batch"] == 8 and cfg["lr"] == 2e-4 and cfg["amp"] == "bf16"
    assert cfg["grad_checkpoint"] is False and cfg["threads"] == 0
    spe = ds.steps_per_epoch(tasks)
    assert cfg["steps"] == 120 * spe and cfg["warmup"] == 15 * spe
