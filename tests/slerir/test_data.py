"""Training data (slerir.data): data root, sampler, recipe augmentations and their hook points,
validation sets."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from slerir.config import CLASSES
from slerir.data import (AUGMENTATIONS, BLUR_MARGIN, CLEAN_CAP_DB, DARK_GAMMA, DEFOCUS_SIGMA, FAINT_RAIN_DENSITY, FLAT_CONTRAST,
                         FLAT_LEVEL, HAZE_CONTEXT, LONG_BLUR_LENGTH, PALE_CONTRAST, PALE_LEVEL, SHADOW_GAIN, Augmentation,
                         TrainSampler, blur_margin, darken, defocus, each_spec, flatten, load_clean_images, make_sample, pale,
                         parse_recipe, profile_val_set, resolve_root, sample_kinds, selection_score, shadow, val_set,
                         val_set_flat_blur, val_set_flat_rain, val_set_full, val_set_linear_blur, val_set_pale_blur,
                         val_set_wide_rain, val_set_zoom, ZOOM_VAL_KINDS, zoom)
from slerir.degradations import DegradationSpec, degrade
from tests.slerir.golden_batches import GOLDEN, draw, fingerprints, mismatches, tensor_hash

CLEAR = ["noise", "rain", "blur"]  # kinds without haze or low light: their targets are what the model must produce
NO_LOWLIGHT = ["clean", "noise", "rain", "haze", "blur"]


def R(aug: str, share: float = 1.0, **kw) -> dict:
    """A recipe entry."""
    return {"aug": aug, "share": share, **kw}


def _have_data() -> bool:
    try:
        return (resolve_root() / "train" / "CBSD432").is_dir()
    except FileNotFoundError:
        return False


needs_data = pytest.mark.skipif(not _have_data(), reason="../shared/datasets/train/CBSD432 not found "
                                                         "(training images are not part of the repo)")


def test_missing_root_message(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as e:
        resolve_root(missing)
    msg = str(e.value)
    assert str(missing) in msg and "--data-root" in msg


@pytest.fixture(scope="module")
def sampler() -> TrainSampler:
    return TrainSampler(split="val", batch=6, patch=48, seed=3)


@needs_data
def test_split_sizes():
    assert len(load_clean_images(split="val")) == 32
    train = load_clean_images(split="train")
    assert len(train) == 400 and all(im.dtype == np.uint8 and im.ndim == 3 for im in train[:5])
    assert sorted(train[0].shape[:2]) == [321, 481]


@needs_data
def test_batch_shapes_and_consistency(sampler):
    b = sampler.batch(0)
    B, P, K = 6, 48, len(CLASSES)
    assert b["lq"].shape == (B, 3, P, P) and b["gt"].shape == (B, 3, P, P)
    assert b["lq"].dtype == torch.float32 and b["gt"].dtype == torch.float32
    assert b["mask"].shape == (B, P, P) and b["mask"].dtype == torch.int64
    assert b["label"].shape == (B,) and b["label"].dtype == torch.int64
    assert b["frac"].shape == (B, K) and b["frac"].dtype == torch.float32
    for t in (b["lq"], b["gt"]):
        assert t.min() >= 0 and t.max() <= 1
    torch.testing.assert_close(b["frac"].sum(1), torch.ones(B))
    assert torch.equal(b["label"], b["frac"].argmax(1))
    counts = torch.stack([torch.bincount(m.flatten(), minlength=K) for m in b["mask"]]).float() / P**2
    torch.testing.assert_close(counts, b["frac"])


@needs_data
def test_deterministic_per_step_and_rank(sampler):
    a, a2, other_step = sampler.batch(5), sampler.batch(5), sampler.batch(6)
    fresh = TrainSampler(split="val", batch=6, patch=48, seed=3).batch(5)
    rank1 = TrainSampler(split="val", batch=6, patch=48, seed=3, rank=1, world_size=2).batch(5)
    for k in a:
        assert torch.equal(a[k], a2[k]) and torch.equal(a[k], fresh[k])
    assert not torch.equal(a["gt"], other_step["gt"])
    assert not torch.equal(a["gt"], rank1["gt"])
    it = iter(sampler)
    assert torch.equal(next(it)["lq"], sampler.batch(0)["lq"])


@needs_data
def test_class_mix_over_many_samples():
    s = TrainSampler(split="val", batch=64, patch=32, seed=0, tasks="three")
    b = s.batch(0)
    labels = set(b["label"].tolist())
    assert {1, 2, 3} <= labels and labels <= {0, 1, 2, 3}
    multi = ((b["frac"] > 0.1).sum(1) >= 2).float().mean()
    assert 0.1 < multi < 0.6  # mixed_share 0.3


@needs_data
def test_clean_and_blur_samples():
    clean = TrainSampler(split="val", batch=4, patch=40, clean_share=1.0, mixed_share=0.0).batch(1)
    assert torch.equal(clean["lq"], clean["gt"]) and torch.all(clean["label"] == 0)
    blur = TrainSampler(split="val", batch=4, patch=40, tasks=("blur",), mixed_share=0.0, clean_share=0.0).batch(2)
    assert blur["lq"].shape == (4, 3, 40, 40) and torch.all(blur["label"] == CLASSES.index("blur"))
    assert not torch.equal(blur["lq"], blur["gt"])


@needs_data
def test_val_set_fixed():
    v1, v2 = val_set(n=14, patch=64), val_set(n=14, patch=64)
    assert len(v1) == 14
    for a, b in zip(v1, v2):
        assert np.array_equal(a["lq"], b["lq"]) and np.array_equal(a["mask"], b["mask"]) and a["label"] == b["label"]
    assert v1[0]["lq"].shape == (3, 64, 64) and v1[0]["lq"].dtype == np.float32 and v1[0]["mask"].shape == (64, 64)
    assert {d["label"] for d in v1[:6]} == set(range(len(CLASSES)))  # clean + the five kinds


@needs_data
def test_task_weights_skew_the_mixture():
    s = TrainSampler(split="val", batch=48, patch=24, seed=0, tasks="three", mixed_share=0.0, clean_share=0.0,
                     task_weights={"noise": 20.0})
    labels = torch.cat([s.batch(k)["label"] for k in range(2)])
    assert (labels == CLASSES.index("noise")).float().mean() > 0.75  # expected 20/22
    with pytest.raises(ValueError, match="not being trained"):
        TrainSampler(split="val", tasks="three", task_weights={"blur": 2.0})


@pytest.mark.parametrize("option", [{"task_weights": {"noise": 2.0}}, {"recipe": [R("scene_haze", 0.5)]},
                                    {"stats_context": 3}])
def test_standard_layout_rejects_synthetic_only_options(option):
    from slerir.datasets_std import make_sampler
    from slerir.train import TrainConfig

    with pytest.raises(ValueError, match=f"{next(iter(option))}.*synthetic layout"):
        make_sampler(TrainConfig(data_layout="standard", **option), rank=0, world_size=1)


@needs_data
@pytest.mark.parametrize("name", ["tiny_five_stage24", "tiny_five", "every_share"])
def test_recipe_draws_the_golden_batches(name):
    """The declarative recipe of each golden sampler, built as the trainer builds it, draws the batches
    recorded from the sampler before the recipe existed (steps 0-3 and 12345): hash for hash on a CPU like
    the recording one, elsewhere within the last bit (golden_batches.mismatches)."""
    golden = json.loads(GOLDEN.read_text())
    g = golden["samplers"][name]
    assert mismatches(draw(g["sampler"], golden["steps"]), g) == []


def test_golden_batch_comparison_tolerates_the_last_bit_and_nothing_more():
    g = torch.Generator().manual_seed(0)
    batch = {"0": {"lq": torch.rand(4, 3, 16, 16, generator=g), "label": torch.tensor([0, 1, 2, 3])}}
    record = {"hashes": {"0": {k: tensor_hash(v) for k, v in batch["0"].items()}}, "fingerprints": fingerprints(batch)}
    assert mismatches(batch, record) == []
    ulp = {"0": {**batch["0"], "lq": torch.nextafter(batch["0"]["lq"], torch.tensor(2.0))}}  # every value, one bit up
    assert tensor_hash(ulp["0"]["lq"]) != record["hashes"]["0"]["lq"] and mismatches(ulp, record) == []
    one = batch["0"]["lq"].clone()
    one[2, :, :4, :4] = 0.5  # one sample changed in a small corner
    assert mismatches({"0": {**batch["0"], "lq": one}}, record) == ["step 0 lq"]
    assert mismatches({"0": {**batch["0"], "label": torch.tensor([0, 1, 2, 2])}}, record) == ["step 0 label"]
    assert mismatches(batch, {"hashes": {"0": {"lq": "x", "label": "y"}}}) == ["step 0 lq", "step 0 label"]  # no fingerprints


def test_recipe_entries_are_checked_with_the_known_names_in_the_message():
    with pytest.raises(ValueError, match="unknown augmentation 'fog'.*light_rain.*zoom"):
        parse_recipe([R("fog")])
    with pytest.raises(ValueError, match=r"unknown parameter.*'gama'.*\['gamma'\]"):
        parse_recipe([R("dark", gama=[1.0, 2.0])])
    with pytest.raises(ValueError, match="no parameters"):
        parse_recipe([R("wide_rain", width=2)])
    for bad in ({"aug": "dark"}, ["dark", 0.3], R("dark", 1.5), R("dark", -0.1), R("dark", True)):
        with pytest.raises(ValueError, match="share"):
            parse_recipe([bad])
    for key, kinds in (("only", ["fog"]), ("only", "noise"), ("needs", [])):
        with pytest.raises(ValueError, match=key):
            parse_recipe([R("dark", **{key: kinds})])
    with pytest.raises(ValueError, match="length.*lo <= hi"):
        parse_recipe([R("long_blur", length=[50, 25])])
    # defaults filled in, overrides kept, share 0 switched off
    e = parse_recipe([R("long_blur", 0.4, length=[30, 31]), R("dark", 0.0), R("dark", 0.2, only=NO_LOWLIGHT)])
    assert [x.aug for x in e] == ["long_blur", "dark"] and e[0].params == {"length": (30.0, 31.0)}
    assert e[1].params == {"gamma": DARK_GAMMA} and e[1].only == frozenset(NO_LOWLIGHT)
    with pytest.raises(ValueError, match="unknown augmentation"):  # also through the trainer's config
        from slerir.datasets_std import make_sampler
        from slerir.train import TrainConfig

        make_sampler(TrainConfig(recipe=[R("fog")]), rank=0, world_size=1)


def test_only_and_needs_select_samples_by_their_kinds():
    clean, rain, mix = sample_kinds([]), sample_kinds([DegradationSpec("rain")]), \
        sample_kinds([DegradationSpec("rain", mask="half"), DegradationSpec("haze", mask="half")])
    assert clean == {"clean"} and mix == {"rain", "haze"}
    only, = parse_recipe([R("dark", only=["clean", "rain"])])
    assert only.applies(clean) and only.applies(rain) and not only.applies(mix)  # all kinds must lie in it
    needs, = parse_recipe([R("dark", needs=["rain"])])
    assert not needs.applies(clean) and needs.applies(rain) and needs.applies(mix)  # one of them suffices
    both, = parse_recipe([R("dark", only=CLEAR, needs=["blur"])])
    assert not both.applies(clean) and not both.applies(rain) and both.applies(sample_kinds([DegradationSpec("blur")]))


def test_real_selects_samples_whose_degradations_of_those_kinds_are_camera_made():
    white, camera = DegradationSpec("noise"), DegradationSpec("noise", real=True)
    rain, real_rain = DegradationSpec("rain"), DegradationSpec("rain", real=True)
    e, = parse_recipe([R("jpeg", only=["noise", "rain"], real=["noise"])])
    assert e.real == {"noise"}
    ok = lambda specs: e.applies(sample_kinds(specs), specs)  # noqa: E731
    assert ok([camera]) and not ok([white])  # JPEG after camera noise, not over white noise
    assert ok([rain]) and ok([real_rain])  # no noise: nothing to check
    assert not ok([white, real_rain]) and ok([camera, rain])  # only the listed kinds are read
    assert not ok([])  # "only" still holds: a clean sample is not in it
    for bad in (["haze"], [], "noise", ["clean"]):
        with pytest.raises(ValueError, match="real"):
            parse_recipe([R("jpeg", real=bad)])


@needs_data
def test_real_keeps_jpeg_off_white_noise_in_drawn_samples(monkeypatch):
    """Through the sampler: with ``"real": ["noise"]`` no input with white noise gets the JPEG operation,
    while camera-noise inputs do (share 1)."""
    import slerir.data.sampler as S
    from slerir.datasets_std import make_sampler
    from slerir.train import TrainConfig

    drawn = []
    monkeypatch.setattr(S, "make_sample", lambda img, specs, patch, rng, inputs=(), **kw: drawn.append(
        (specs, len(inputs))))
    recipe = [R("real_noise", 0.5), R("jpeg", 1.0, only=["noise"], real=["noise"])]
    sampler = make_sampler(TrainConfig(recipe=recipe, tasks="five", mixed_share=0.0, clean_share=0.0,
                                       task_weights={"noise": 100.0}), rank=0, world_size=1)
    rng = np.random.default_rng(0)
    for _ in range(60):
        sampler.sample(rng)
    noisy = [(specs[0].real, n) for specs, n in drawn if [sp.kind for sp in specs] == ["noise"]]
    assert sum(r for r, _ in noisy) > 5 and sum(not r for r, _ in noisy) > 5  # both kinds of noise drawn
    assert all(n == (1 if real else 0) for real, n in noisy)


@needs_data
def test_a_new_augmentation_is_one_registration_at_any_hook_point(monkeypatch):
    """Registered once, an augmentation is usable by name from a TrainConfig recipe: spec hooks change the
    drawn specs, input hooks the degraded input only, clean hooks input and target alike (clean ones first)."""
    from slerir.datasets_std import make_sampler
    from slerir.train import TrainConfig

    monkeypatch.setitem(AUGMENTATIONS, "heavy_noise", Augmentation("spec", each_spec(
        "noise", lambda sp, rng, sigma: replace(sp, sigma=sigma)), {"sigma": 50.0}))
    monkeypatch.setitem(AUGMENTATIONS, "lift_input", Augmentation(
        "input", lambda rng, by: (lambda lq, rng: lq + np.float32(by)), {"by": 0.1}))
    monkeypatch.setitem(AUGMENTATIONS, "invert", Augmentation("clean", lambda rng: (lambda lq, gt, rng: (1 - lq, 1 - gt))))
    monkeypatch.setitem(AUGMENTATIONS, "noop", Augmentation("clean", lambda rng: (lambda lq, gt, rng: (lq, gt))))
    s = make_sampler(TrainConfig(tasks="five", recipe=[R("heavy_noise", sigma=40.0)]), rank=0, world_size=1)
    rng = np.random.default_rng(0)
    specs = [sp for _ in range(100) for sp in s.draw_specs(rng)]
    assert any(sp.kind == "noise" for sp in specs) and all(sp.sigma == 40.0 for sp in specs if sp.kind == "noise")
    assert all(sp.sigma is None for sp in specs if sp.kind != "noise")

    kw = dict(split="val", batch=4, patch=32, seed=0, tasks="five", mixed_share=0.0, clean_share=1.0)
    ref = TrainSampler(recipe=[R("noop")], **kw).batch(0)  # the same draws (a coin each), nothing changed
    lifted = TrainSampler(recipe=[R("lift_input", by=0.25)], **kw).batch(0)
    assert torch.equal(lifted["gt"], ref["gt"]) and torch.allclose(lifted["lq"], ref["gt"] + 0.25)
    inverted = TrainSampler(recipe=[R("invert")], **kw).batch(0)
    assert torch.equal(inverted["lq"], inverted["gt"]) and torch.allclose(inverted["gt"], 1 - ref["gt"])
    monkeypatch.setitem(AUGMENTATIONS, "noop2", AUGMENTATIONS["noop"])
    ref2 = TrainSampler(recipe=[R("noop"), R("noop2")], **kw).batch(0)  # two coins
    both = TrainSampler(recipe=[R("lift_input"), R("invert")], **kw).batch(0)  # clean ops run before input ops
    assert torch.allclose(both["gt"], 1 - ref2["gt"]) and torch.allclose(both["lq"], both["gt"] + 0.1)
    # on degraded samples the input op comes after the degradation; the context carries it too
    img = load_clean_images(None, "val")[0]
    noisy = [DegradationSpec("noise", sigma=25.0)]
    a = make_sample(img, noisy, 32, np.random.default_rng(3), context_side=96)
    b = make_sample(img, noisy, 32, np.random.default_rng(3), context_side=96, inputs=[lambda lq, rng: lq + np.float32(0.5)])
    assert np.array_equal(a["gt"], b["gt"]) and np.allclose(b["lq"], a["lq"] + 0.5) and np.allclose(b["ctx"], a["ctx"] + 0.5)
    with pytest.raises(ValueError, match="stage"):
        Augmentation("content", lambda rng: None)  # content hooks say where they run
    with pytest.raises(ValueError, match="hook"):
        Augmentation("output", lambda rng: None)


def _one_kind_samplers(kind: str, batch: int, patch: int, *entries: dict) -> tuple[TrainSampler, TrainSampler, dict]:
    """A sampler of one degradation kind with the recipe ``entries``, the same without them, and their shared kwargs."""
    kw = dict(split="val", batch=batch, patch=patch, seed=0, tasks=(kind,), mixed_share=0.0, clean_share=0.0)
    return TrainSampler(recipe=list(entries), **kw), TrainSampler(**kw), kw


@needs_data
@pytest.mark.parametrize("kind,ratio", [("rain", 0.5), ("haze", 0.6)])
def test_light_share_draws_light_strengths(kind, ratio):
    light, default, kw = _one_kind_samplers(kind, 16 if kind == "rain" else 8, 48, R(f"light_{kind}"))
    rng = np.random.default_rng(0)
    strengths = [light.draw_specs(rng)[0].strength for _ in range(50)]
    assert all(0.0 <= s <= 0.25 for s in strengths) and max(strengths) - min(strengths) > 0.1
    assert all(sp.strength is None for sp in default.draw_specs(np.random.default_rng(0)))  # drawn later, in [0, 1]

    def mse(b):
        return float(((b["lq"] - b["gt"]) ** 2).mean())

    assert mse(light.batch(0)) < ratio * mse(default.batch(0))  # light really is lighter
    narrow = TrainSampler(recipe=[R(f"light_{kind}", strength=[0.1, 0.12])], **kw)
    assert all(0.1 <= narrow.draw_specs(rng)[0].strength <= 0.12 for _ in range(20))  # the range is a parameter


@needs_data
@pytest.mark.parametrize("kind,field,lo,hi", [("rain", "density", 0.0002, 0.0008), ("haze", "beta", 0.2, 0.6)])
def test_faint_share_draws_below_the_strength_range(kind, field, lo, hi):
    """faint_rain (drizzle: fewer streaks) and faint_haze (thin haze: lower beta)."""
    faint, default, kw = _one_kind_samplers(kind, 16 if kind == "rain" else 8, 48, R(f"faint_{kind}", 0.5))
    rng = np.random.default_rng(0)
    specs = [faint.draw_specs(rng)[0] for _ in range(200)]
    drawn = [sp for sp in specs if getattr(sp, field) is not None]
    assert 0.4 < len(drawn) / len(specs) < 0.6
    assert all(sp.strength == 0.0 and lo <= getattr(sp, field) <= hi for sp in drawn)
    assert all(getattr(sp, field) is None for sp in default.draw_specs(np.random.default_rng(0)))
    all_faint = TrainSampler(recipe=[R(f"faint_{kind}")], **kw)
    light = TrainSampler(recipe=[R(f"light_{kind}")], **kw)

    def mse(b):
        return float(((b["lq"] - b["gt"]) ** 2).mean())

    assert 0 < mse(all_faint.batch(0)) < 0.7 * mse(light.batch(0))  # fainter than the light quarter


@needs_data
def test_long_blur_share_draws_long_motion_and_keeps_real_context():
    long_, default, kw = _one_kind_samplers("blur", 8, 64, R("long_blur"))
    rng = np.random.default_rng(0)
    lengths = [long_.draw_specs(rng)[0].length for _ in range(50)]
    assert all(25.0 <= v <= 50.0 for v in lengths) and max(lengths) - min(lengths) > 10
    assert all(sp.length is None for sp in default.draw_specs(np.random.default_rng(0)))
    img = long_.images[0]
    s = make_sample(img, [DegradationSpec("blur", length=50.0)], 64, np.random.default_rng(1))
    assert s["params"][0]["type"] == "motion" and s["params"][0]["length"] == 50.0
    assert blur_margin([DegradationSpec("blur", length=50.0)]) >= 32  # kernel radius <= 0.6 * 50 + 1
    assert blur_margin([DegradationSpec("blur")]) == BLUR_MARGIN and blur_margin([DegradationSpec("noise")]) == 0

    patch = img[:128, :128].astype(np.float32) / 255
    err = [float(((degrade(patch, [DegradationSpec("blur", length=L)], 0).image - patch) ** 2).mean()) for L in (10, 45)]
    assert err[1] > 1.3 * err[0]  # longer trajectories blur more


@needs_data
def test_dark_share_tones_target_and_input_alike():
    kw = dict(split="val", batch=48, patch=32, seed=0, tasks="five", mixed_share=0.0, clean_share=1.0)
    dark, plain = TrainSampler(recipe=[R("dark", only=NO_LOWLIGHT)], **kw), TrainSampler(**kw)
    d, p = dark.batch(0), plain.batch(0)
    assert torch.equal(d["lq"], d["gt"]) and (d["label"] == 0).all()  # clean: the darkened crop is its own target
    assert d["gt"].mean() < 0.9 * p["gt"].mean()  # gamma > 1 darkens (other crops: a mean over 48 of them)
    # the same crop (same draws otherwise) toned x ** gamma with gamma in DARK_GAMMA
    img = dark.images[0]
    a = make_sample(img, [], 32, np.random.default_rng(5))["gt"]
    b = make_sample(img, [], 32, np.random.default_rng(5), content=[lambda im, rng: darken(im, 2.0)])["gt"]
    assert np.allclose(b, a ** 2.0, atol=1e-6)
    # "only" keeps it off low-light samples: their target must stay the normally exposed photo
    low = TrainSampler(recipe=[R("dark", only=NO_LOWLIGHT)], **{**kw, "clean_share": 0.0, "tasks": ("lowlight",)})
    ref = TrainSampler(**{**kw, "clean_share": 0.0, "tasks": ("lowlight",)})
    assert torch.equal(low.batch(1)["gt"], ref.batch(1)["gt"])
    assert DARK_GAMMA[0] > 1.0


@needs_data
def test_val_set_full_whole_photos_at_benchmark_levels():
    v = val_set_full(n=16, tasks="five")
    again = val_set_full(n=16, tasks="five")
    assert all(np.array_equal(a["lq"], b["lq"]) for a, b in zip(v, again))
    kinds = [s["kind"] for s in v]
    assert kinds[:8] == ["clean", "dark", "noise", "rain", "haze", "blur", "lowlight", "mixed"]
    for s in v:
        assert s["lq"].shape[0] == 3 and sorted(s["lq"].shape[1:]) == [321, 481]  # whole photos, no crop
    clean, dark = v[0], v[1]
    assert np.array_equal(clean["lq"], clean["gt"]) and np.array_equal(dark["lq"], dark["gt"])
    assert dark["label"] == 0 and clean["label"] == 0
    assert v[2]["params"][0]["sigma"] == 15.0 and v[10]["params"][0]["sigma"] == 25.0
    for s in (v[3], v[4], v[11], v[12]):  # rain, haze: light
        assert s["params"][0]["strength"] <= 0.25
    assert v[13]["params"][0].get("length", 0) >= 25.0  # every second blur is long camera shake


def test_selection_score_caps_clean_in_full_profile():
    res = {"clean": 50.0, "dark": 30.0, "noise": 28.0, "mean_psnr": 36.0, "recognition": 0.9}
    assert selection_score(res, "patch") == pytest.approx((50 + 30 + 28) / 3)
    assert selection_score(res, "full") == pytest.approx((CLEAN_CAP_DB + 30 + 28) / 3)
    assert selection_score(res, "scene") == selection_score(res, "full")
    with pytest.raises(ValueError, match="profile"):
        selection_score(res, "tiles")


def test_blur_length_spec():
    img = np.zeros((40, 40, 3), np.float32)
    img[20, 20] = 1.0  # a point light: its blurred image is the kernel
    out = degrade(img, [DegradationSpec("blur", length=30.0)], 0)
    spread = np.argwhere(out.image[..., 0] > 1e-4)
    extent = np.ptp(spread, 0).max()
    assert 25 <= extent <= 34, extent  # a 30 px trajectory, whatever its angle and bend
    with pytest.raises(ValueError, match="length"):
        DegradationSpec("noise", length=10.0)
    with pytest.raises(ValueError, match="length"):
        DegradationSpec("blur", length=500.0)


@needs_data
def test_scene_and_varying_shares_mark_specs_and_leave_others():
    kw = dict(split="val", batch=4, patch=48, seed=0, tasks="five", mixed_share=0.3, clean_share=0.0)
    both = TrainSampler(recipe=[R("long_blur"), R("scene_haze"), R("varying_blur")], **kw)
    rng = np.random.default_rng(0)
    specs = [sp for _ in range(200) for sp in both.draw_specs(rng)]
    assert all(sp.scene == (sp.kind == "haze") for sp in specs)
    assert all(sp.varying == (sp.kind == "blur") for sp in specs)  # every blur is long here, so may vary
    short = TrainSampler(recipe=[R("varying_blur")], **kw)  # only long trajectories vary
    assert not any(sp.varying for _ in range(50) for sp in short.draw_specs(rng))
    plain = TrainSampler(recipe=[R("long_blur")], **kw)
    assert not any(sp.scene or sp.varying for _ in range(50) for sp in plain.draw_specs(rng))


@needs_data
def test_scene_haze_patch_is_cut_from_a_wider_hazed_crop():
    img = load_clean_images(split="val")[0]
    spec = [DegradationSpec("haze", 0.5, scene=True)]
    s = make_sample(img, spec, 64, np.random.default_rng(3))
    assert s["lq"].shape == (64, 64, 3) and s["gt"].shape == (64, 64, 3) and (s["mask"] == CLASSES.index("haze")).all()
    assert s["params"][0]["scene"]
    # the depth spans a crop HAZE_CONTEXT patches wide: inside one patch transmission varies less than
    # on a patch hazed on its own (whose depth spans the whole range). On a flat grey photo the
    # transmission is exact: t = (A - I) / (A - J).
    flat = np.full((321, 481, 3), 77, np.uint8)

    def t_spread(lq, gt, airlight):
        a = np.asarray(airlight, np.float32)[0]
        return float(np.ptp((a - lq[..., 0]) / (a - gt[..., 0])))

    in_context = [t_spread(r["lq"], r["gt"], r["params"][0]["airlight"])
                  for r in (make_sample(flat, spec, 64, np.random.default_rng(k)) for k in range(12))]
    alone = [t_spread(r.image, flat[:64, :64] / np.float32(255), r.params[0]["airlight"])
             for r in (degrade(flat[:64, :64], spec, k) for k in range(12))]
    assert np.median(in_context) < 0.7 * np.median(alone)
    assert HAZE_CONTEXT * 64 <= min(img.shape[:2])


@needs_data
def test_scene_profile_changes_only_haze_and_some_long_blur():
    full, scene = profile_val_set("full", n=32), profile_val_set("scene", n=32)
    for a, b in zip(full, scene):
        assert a["kind"] == b["kind"]
        same = np.array_equal(a["lq"], b["lq"])
        p = b["params"][0] if b["params"] else {}
        assert same == (not p.get("scene") and p.get("type") != "varying motion"), a["kind"]
    assert sum(bool(b["params"] and b["params"][0].get("scene")) for b in scene) == 4  # all haze images
    assert any(b["params"] and b["params"][0].get("type") == "varying motion" for b in scene)
    assert len(profile_val_set("patch", n=6)) == 6
    with pytest.raises(ValueError, match="val_profile"):
        profile_val_set("tiles")


def test_defocus_blurs_one_smooth_region_and_leaves_the_rest():
    rng = np.random.default_rng(0)
    img = rng.random((96, 128, 3)).astype(np.float32)  # white noise: any blur shows as lost variance
    out = defocus(img, 3.0, 0.4, np.random.default_rng(1))
    assert out.shape == img.shape and out.dtype == np.float32
    changed = np.abs(out - img).max(-1) > 1e-6
    assert 0.3 < changed.mean() < 0.6  # about the asked area (feathered edge added)
    untouched = ~changed
    assert untouched.mean() > 0.3 and np.array_equal(out[untouched], img[untouched])
    # one smooth region: the changed pixels form few blobs, not speckle
    from scipy import ndimage

    assert ndimage.label(changed)[1] <= 4
    inner = ndimage.binary_erosion(changed, iterations=6)
    assert inner.any() and out[inner].std() < 0.5 * img[inner].std()
    # the same generator state gives the same region
    assert np.array_equal(out, defocus(img, 3.0, 0.4, np.random.default_rng(1)))


@needs_data
def test_defocus_share_keeps_the_soft_region_in_the_target():
    kw = dict(split="val", batch=32, patch=48, seed=0, tasks="five", mixed_share=0.0)
    soft = TrainSampler(recipe=[R("defocus")], clean_share=1.0, **kw)
    plain = TrainSampler(clean_share=1.0, **kw)
    s, p = soft.batch(0), plain.batch(0)
    assert torch.equal(s["lq"], s["gt"]) and (s["label"] == 0).all()  # clean: the soft photo is its own target

    def detail(x):  # mean absolute horizontal gradient
        return (x[..., 1:] - x[..., :-1]).abs().mean()

    assert detail(s["gt"]) < 0.9 * detail(p["gt"])
    # degraded samples: the target is the soft photo, the degradation comes on top
    noisy = TrainSampler(recipe=[R("defocus")], clean_share=0.0, **{**kw, "tasks": ("noise",)}).batch(0)
    assert not torch.equal(noisy["lq"], noisy["gt"])
    img = soft.images[0]
    a = make_sample(img, [], 48, np.random.default_rng(5))["gt"]
    b = make_sample(img, [], 48, np.random.default_rng(5),
                    content=[lambda im, rng: defocus(im, DEFOCUS_SIGMA[1], 0.5, rng)])["gt"]
    changed = (np.abs(a - b).max(-1) > 1e-6).mean()
    assert 0.2 < changed < 0.8  # half the crop asked for, not all of it


def test_shadow_darkens_one_soft_region_by_the_gain():
    img = np.full((80, 96, 3), 0.6, np.float32)
    out = shadow(img, 0.4, 0.4, np.random.default_rng(2))
    ratio = out[..., 0] / img[..., 0]
    assert np.allclose(out, out[..., :1])  # grey: every channel alike
    assert abs(ratio.min() - 0.4) < 1e-5 and ratio.max() == 1.0  # full shadow inside, untouched outside
    darker = ratio < 1.0 - 1e-6
    assert 0.3 < darker.mean() < 0.7
    from scipy import ndimage

    assert ndimage.label(darker)[1] <= 4  # a region, not speckle


@needs_data
def test_shadow_share_keeps_the_dark_region_in_the_target():
    kw = dict(split="val", batch=32, patch=48, seed=0, tasks="five", mixed_share=0.0)
    dark, plain = TrainSampler(recipe=[R("shadow")], clean_share=1.0, **kw), TrainSampler(clean_share=1.0, **kw)
    d, p = dark.batch(0), plain.batch(0)
    assert torch.equal(d["lq"], d["gt"]) and (d["label"] == 0).all()
    assert d["gt"].mean() < 0.95 * p["gt"].mean()
    img = dark.images[0]
    a = make_sample(img, [], 48, np.random.default_rng(5))["gt"]
    b = make_sample(img, [], 48, np.random.default_rng(5),
                    content=[lambda im, rng: shadow(im, SHADOW_GAIN[0], 0.5, rng)])["gt"]
    assert np.all(b <= a + 1e-6)
    half = (b.sum(-1) <= (1 + SHADOW_GAIN[0]) / 2 * a.sum(-1) + 1e-6).mean()  # at least half as deep as asked
    assert 0.3 < half < 0.7  # about the asked area, with a soft edge around it


def test_flatten_pulls_towards_the_level_by_the_contrast():
    x = np.array([[[0.0, 0.5, 1.0]]], dtype=np.float32)
    y = flatten(x, 0.5, 0.6)
    assert y.dtype == np.float32 and np.allclose(y, [[[0.3, 0.55, 0.8]]])
    assert np.allclose(flatten(x, 1.0, 0.3), x)


@needs_data
def test_flat_blur_share_tones_blurred_crops_and_their_targets():
    kw = dict(split="val", batch=24, patch=48, seed=0, mixed_share=0.0, clean_share=0.0)
    flat_blur = [R("flat", only=CLEAR, needs=["blur"])]
    flat, plain = TrainSampler(recipe=flat_blur, tasks=("blur",), **kw), TrainSampler(tasks=("blur",), **kw)
    f, p = flat.batch(0), plain.batch(0)
    # every blurred crop is toned: its range shrinks to the contrast kept, around a grey in FLAT_LEVEL
    c_hi, (g_lo, g_hi) = FLAT_CONTRAST[1], FLAT_LEVEL
    lo, hi = f["gt"].flatten(1).min(1).values, f["gt"].flatten(1).max(1).values
    assert (hi - lo <= c_hi + 1e-5).all()
    assert (lo >= g_lo * (1 - c_hi) - 1e-5).all() and (hi <= g_hi + c_hi * (1 - g_hi) + 1e-5).all()
    p_lo, p_hi = p["gt"].flatten(1).min(1).values, p["gt"].flatten(1).max(1).values
    assert (hi - lo).mean() < 0.9 * (p_hi - p_lo).mean()  # toned crops (other crops) span less on average
    assert not torch.equal(f["lq"], f["gt"]) and (f["label"] == CLASSES.index("blur")).all()
    # the tone is on the clean crop before the blur: the same crop and kernel, toned first
    img = flat.images[0]
    spec = [DegradationSpec("blur", strength=0.5)]
    a = make_sample(img, spec, 48, np.random.default_rng(5))
    b = make_sample(img, spec, 48, np.random.default_rng(5), content=[lambda im, rng: flatten(im, 0.6, 0.5)])
    assert np.allclose(b["gt"], flatten(a["gt"], 0.6, 0.5), atol=1e-6)
    assert np.allclose(b["lq"], flatten(a["lq"], 0.6, 0.5), atol=1e-5)  # blur is linear and keeps grey levels
    # only and needs keep it off haze and low light (their targets are what the model must produce) and noise
    for kind in ("haze", "lowlight", "noise"):
        on = TrainSampler(recipe=flat_blur, tasks=(kind,), **kw).batch(1)
        off = TrainSampler(tasks=(kind,), **kw).batch(1)
        assert torch.equal(on["gt"], off["gt"]) and torch.equal(on["lq"], off["lq"])
    assert 0 < FLAT_LEVEL[0] < FLAT_LEVEL[1] < 1


@needs_data
def test_partial_share_leaves_the_rest_of_a_mixture_clean():
    kw = dict(split="val", batch=48, patch=48, seed=0, tasks="five", clean_share=0.0, mixed_share=1.0)
    part, mixed = TrainSampler(recipe=[R("partial")], **kw), TrainSampler(**kw)
    p, m = part.batch(0), mixed.batch(0)
    assert (m["frac"][:, 0] == 0).all()  # two-kind mixtures: no clean pixel
    kinds = (p["frac"][:, 1:] > 0).sum(1)
    assert (kinds == 1).all() and (p["frac"][:, 0] > 0).float().mean() > 0.9  # one kind, the rest clean
    assert 0.3 < p["frac"][:, 0].mean() < 0.7  # partial masks cover about half
    same = (p["lq"] - p["gt"]).abs().amax(1) < 1e-6  # (B, P, P): input equals target
    clean = p["mask"] == 0  # labelled clean: untouched but for the soft edge of the region
    assert same[clean].float().mean() > 0.6 and same[~clean].float().mean() < 0.2
    same_m = (m["lq"] - m["gt"]).abs().amax(1) < 1e-6  # two-kind mixtures: untouched only between rain streaks
    assert same_m.float().mean() < same[clean].float().mean() - 0.2
    # whole-patch samples are left alone
    single = TrainSampler(recipe=[R("partial")], **{**kw, "mixed_share": 0.0}).batch(0)
    assert (single["frac"][:, 0] == 0).all()


@needs_data
def test_context_cuts_each_patch_from_a_wider_degraded_crop():
    img = load_clean_images(None, "val")[0]
    blur = DegradationSpec("blur", length=40.0)
    for specs in ([], [DegradationSpec("noise", sigma=25.0)], [blur],
                  [DegradationSpec("rain", mask="half"), DegradationSpec("haze", mask="half")]):
        s = make_sample(img, specs, 32, np.random.default_rng(3), context_side=96)
        oy, ox = s["ctx_offset"]
        assert s["ctx"].shape == (96, 96, 3) and s["lq"].shape == (32, 32, 3)
        assert np.array_equal(s["lq"], s["ctx"][oy:oy + 32, ox:ox + 32])  # the patch is part of its context
        m = blur_margin(specs)
        assert m <= oy <= 96 - m - 32 and m <= ox <= 96 - m - 32  # blurred from real content on every side
        assert np.isclose(s["frac"].sum(), 1.0) and s["label"] == int(np.argmax(s["frac"]))
    # the global targets describe what the global statistics see: a patch inside one region of a two-kind
    # context still has a two-kind global view (the local targets, "mask", stay the patch's)
    two = [DegradationSpec("rain", mask="half"), DegradationSpec("haze", mask="half")]
    inside = 0
    for seed in range(12):
        s = make_sample(img, two, 32, np.random.default_rng(seed), context_side=96)
        patch_kinds = set(np.unique(s["mask"]).tolist())
        assert (s["frac"] > 0).sum() == 2 and {CLASSES.index("rain"), CLASSES.index("haze")} == set(np.flatnonzero(s["frac"]))
        inside += len(patch_kinds) == 1
        alone = make_sample(img, two, 32, np.random.default_rng(seed))  # no context: the patch's own counts
        counts = np.bincount(alone["mask"].ravel(), minlength=len(CLASSES)) / alone["mask"].size
        assert np.allclose(alone["frac"], counts)
    assert inside > 0  # some patches lay inside one region
    kw = dict(split="val", batch=4, patch=32, seed=0, tasks="five")
    b = TrainSampler(context=3, **kw).batch(0)
    assert b["ctx"].shape == (4, 3, 96, 96) and b["lq"].shape == (4, 3, 32, 32)
    assert "ctx" not in TrainSampler(**kw).batch(0)
    with pytest.raises(ValueError, match="context"):
        TrainSampler(context=0, **kw)
    with pytest.raises(ValueError, match="blur margins"):
        TrainSampler(context=2, **kw)  # 64 px crops cannot hold a 32 px patch with a 50 px blur's margins


@needs_data
def test_flat_rain_share_tones_rainy_crops_and_their_targets():
    kw = dict(split="val", batch=24, patch=48, seed=0, mixed_share=0.0, clean_share=0.0)
    flat_blur, flat_rain = R("flat", only=CLEAR, needs=["blur"]), R("flat", only=CLEAR, needs=["rain"])
    f = TrainSampler(recipe=[flat_rain], tasks=("rain",), **kw).batch(0)
    c_hi = FLAT_CONTRAST[1]
    lo, hi = f["gt"].flatten(1).min(1).values, f["gt"].flatten(1).max(1).values
    assert (hi - lo <= c_hi + 1e-5).all()  # every rainy crop's target is toned
    assert (f["lq"] >= f["gt"] - 1e-6).float().mean() > 0.99  # and the rain is added over it (streaks brighten)
    assert not torch.equal(f["lq"], f["gt"]) and (f["label"] == CLASSES.index("rain")).all()
    for kind in ("haze", "lowlight", "noise", "blur"):  # the entry never draws on other kinds
        on = TrainSampler(recipe=[flat_rain], tasks=(kind,), **kw).batch(1)
        off = TrainSampler(tasks=(kind,), **kw).batch(1)
        assert torch.equal(on["gt"], off["gt"]) and torch.equal(on["lq"], off["lq"])
    # an augmentation hits a sample at most once: rain-and-blur mixtures all toned by the first entry draw
    # nothing for the second
    both = dict(kw, mixed_share=1.0, tasks=("rain", "blur"))
    a = TrainSampler(recipe=[flat_blur], **both).batch(2)
    b = TrainSampler(recipe=[flat_blur, flat_rain], **both).batch(2)
    assert torch.equal(a["lq"], b["lq"]) and torch.equal(a["gt"], b["gt"])


@needs_data
def test_linear_blur_share_blurs_in_linear_light_and_draws_nothing_else():
    kw = dict(split="val", batch=8, patch=48, seed=0, mixed_share=0.0, clean_share=0.0)
    rng = np.random.default_rng(4)
    s = TrainSampler(recipe=[R("linear_blur")], tasks=("blur",), **kw)
    specs = [sp for _ in range(20) for sp in s.draw_specs(rng)]
    assert specs and all(sp.kind == "blur" and sp.linear for sp in specs)
    on = s.batch(0)
    off = TrainSampler(tasks=("blur",), **kw).batch(0)
    assert not torch.equal(on["lq"], off["lq"])  # the same scenes, blurred differently
    for kind in ("noise", "rain", "haze", "lowlight"):  # no blur: the coin is never drawn
        a = TrainSampler(recipe=[R("linear_blur")], tasks=(kind,), **kw).batch(1)
        b = TrainSampler(tasks=(kind,), **kw).batch(1)
        assert torch.equal(a["lq"], b["lq"]) and torch.equal(a["gt"], b["gt"])


def test_pale_flattens_one_soft_region_towards_the_level():
    img = np.random.default_rng(0).random((80, 96, 3)).astype(np.float32)
    out = pale(img, 0.4, 0.7, 0.4, np.random.default_rng(2))
    assert out.dtype == np.float32 and out.shape == img.shape
    toned = flatten(img, 0.4, 0.7)
    w = (out - img) / np.where(np.abs(toned - img) > 1e-3, toned - img, np.nan)  # per-pixel weight of the tone
    inside, outside = np.nanmin(w, -1) > 1 - 1e-4, np.nanmax(np.abs(w), -1) < 1e-4
    assert 0.3 < 1 - outside.mean() < 0.7 and inside.mean() > 0.05  # about the asked area (fully toned at its core)
    from scipy import ndimage

    assert ndimage.label(~outside)[1] <= 4  # a region, not speckle
    assert np.allclose(out[inside], toned[inside], atol=1e-4) and out[inside].std() < 0.5 * img[inside].std()
    assert np.array_equal(out[outside], img[outside])


@needs_data
def test_pale_share_keeps_the_light_region_in_the_target_and_skips_haze_and_low_light():
    kw = dict(split="val", batch=16, patch=48, seed=0, mixed_share=0.0)
    pale_entry = R("pale", only=["clean", *CLEAR])
    on = TrainSampler(recipe=[pale_entry], clean_share=1.0, tasks="five", **kw).batch(0)
    off = TrainSampler(clean_share=1.0, tasks="five", **kw).batch(0)
    assert torch.equal(on["lq"], on["gt"]) and (on["label"] == 0).all()  # clean crops: content, nothing to undo
    assert not torch.equal(on["gt"], off["gt"]) and on["gt"].mean() > off["gt"].mean()  # pulled towards light grey
    blur_on = TrainSampler(recipe=[pale_entry], clean_share=0.0, tasks=("blur",), **kw).batch(0)
    assert (blur_on["label"] == CLASSES.index("blur")).all() and not torch.equal(blur_on["lq"], blur_on["gt"])
    img = np.asarray(TrainSampler(clean_share=1.0, **kw).images[0])
    spec = [DegradationSpec("blur", strength=0.5)]
    a = make_sample(img, spec, 48, np.random.default_rng(5))
    b = make_sample(img, spec, 48, np.random.default_rng(5),
                    content=[lambda im, rng: pale(im, PALE_CONTRAST[0], PALE_LEVEL[1], 0.5, rng)])
    assert not np.allclose(a["gt"], b["gt"]) and b["gt"].std() < a["gt"].std()
    for kind in ("haze", "lowlight"):  # their targets are what the model must produce: the coin is never drawn
        x = TrainSampler(recipe=[pale_entry], clean_share=0.0, tasks=(kind,), **kw).batch(1)
        y = TrainSampler(clean_share=0.0, tasks=(kind,), **kw).batch(1)
        assert torch.equal(x["lq"], y["lq"]) and torch.equal(x["gt"], y["gt"])


@needs_data
def test_pale_blur_share_tones_only_blurred_crops():
    kw = dict(split="val", batch=12, patch=48, seed=0, mixed_share=0.0, clean_share=0.0)
    pale_blur = [R("pale", only=CLEAR, needs=["blur"])]
    on = TrainSampler(recipe=pale_blur, tasks=("blur",), **kw).batch(0)
    off = TrainSampler(tasks=("blur",), **kw).batch(0)
    assert not torch.equal(on["gt"], off["gt"]) and on["gt"].mean() > off["gt"].mean()  # light regions in the targets
    assert (on["label"] == CLASSES.index("blur")).all()
    for kind in ("noise", "rain", "haze", "lowlight"):  # no blur: the coin is never drawn
        a = TrainSampler(recipe=pale_blur, tasks=(kind,), **kw).batch(1)
        b = TrainSampler(tasks=(kind,), **kw).batch(1)
        assert torch.equal(a["lq"], b["lq"]) and torch.equal(a["gt"], b["gt"])
    clean = dict(kw, clean_share=1.0)
    assert torch.equal(TrainSampler(recipe=pale_blur, **clean).batch(2)["gt"], TrainSampler(**clean).batch(2)["gt"])


@needs_data
def test_wide_rain_share_marks_only_rain_specs():
    kw = dict(split="val", batch=8, patch=48, seed=0, mixed_share=0.0, clean_share=0.0)
    on = TrainSampler(recipe=[R("wide_rain")], tasks=("rain",), **kw)
    rng = np.random.default_rng(0)
    assert all(sp.wide for _ in range(20) for sp in on.draw_specs(rng))
    assert not torch.equal(on.batch(0)["lq"], TrainSampler(tasks=("rain",), **kw).batch(0)["lq"])
    for kind in ("noise", "haze", "blur", "lowlight"):  # no rain: the coin is never drawn
        a = TrainSampler(recipe=[R("wide_rain")], tasks=(kind,), **kw).batch(1)
        b = TrainSampler(tasks=(kind,), **kw).batch(1)
        assert torch.equal(a["lq"], b["lq"]) and torch.equal(a["gt"], b["gt"])


def test_zoom_enlarges_a_region_to_the_photo_size_and_softens_it():
    rng = np.random.default_rng(0)
    img = (rng.random((60, 90, 3)) * 255).astype(np.uint8)  # white noise: every pixel differs from its neighbour
    z = zoom(img, 3.0, np.random.default_rng(1))
    assert z.shape == img.shape and z.dtype == np.uint8
    step = lambda a: np.abs(np.diff(a.astype(float), axis=1)).mean()
    assert step(z) < 0.5 * step(img)  # softer per pixel
    assert np.array_equal(zoom(img, 1.0, np.random.default_rng(1)), img)  # factor 1: the photo itself
    assert np.array_equal(z, zoom(img, 3.0, np.random.default_rng(1)))  # a function of the generator
    ramp = np.repeat(np.linspace(0, 255, 90)[None, :, None], 60, 0).repeat(3, 2).astype(np.uint8)
    zr = zoom(ramp, 2.0, np.random.default_rng(2)).astype(float)
    assert np.abs(np.diff(zr, axis=1)).mean() == pytest.approx(255 / 89 / 2, rel=0.1)  # a region of half the width
    with pytest.raises(ValueError, match="at least 1"):
        zoom(img, 0.5, rng)


@needs_data
def test_full_chroma_sharpens_colour_only_and_the_recipe_applies_it_to_input_and_target():
    from PIL import Image

    from slerir.data.augment import from_ycc, full_chroma, to_ycc

    rng = np.random.default_rng(0)
    # a photo with half-resolution colour (as a JPEG stores it): colour blocks of 2x2 under crisp brightness
    small = rng.random((30, 45, 3)).astype(np.float32)
    y = rng.random((60, 90)).astype(np.float32) * 0.5 + 0.25
    _, cb, cr = to_ycc(np.repeat(np.repeat(small, 2, 0), 2, 1))
    img = (from_ycc(y, cb * 0.3, cr * 0.3) * 255 + 0.5).astype(np.uint8)
    out = full_chroma(img, 3.0)
    assert out.shape == img.shape and out.dtype == np.uint8
    yi, cbi, _ = to_ycc(img.astype(np.float32) / 255)
    yo, cbo, _ = to_ycc(out.astype(np.float32) / 255)
    assert np.abs(yo - yi).mean() < 2 / 255  # brightness kept (up to rounding and clipping)
    detail = lambda c: np.abs(c - np.asarray(Image.fromarray(c).resize((45, 30), Image.BILINEAR)
                                             .resize((90, 60), Image.BILINEAR))).mean()
    assert detail(cbo) > 1.5 * detail(cbi)  # colour detail at the pixel scale
    assert np.abs(full_chroma(img, 0.0).astype(int) - img).max() <= 1  # amount 0: the photo itself
    kw = dict(split="val", batch=4, patch=48, seed=0, mixed_share=0.0, clean_share=1.0)
    on, off = TrainSampler(recipe=[R("full_chroma")], **kw).batch(0), TrainSampler(**kw).batch(0)
    assert torch.equal(on["lq"], on["gt"]) and not torch.equal(on["gt"], off["gt"])  # content: input and target


def test_zoom_share_draws_from_zoomed_photos_and_only_where_asked():
    kw = dict(split="val", batch=8, patch=48, seed=0, mixed_share=0.0, clean_share=1.0)
    on, off = TrainSampler(recipe=[R("zoom")], **kw).batch(0), TrainSampler(**kw).batch(0)
    assert torch.equal(on["lq"], on["gt"])  # clean samples: the zoomed crop is both input and target
    step = lambda t: (t[..., 1:] - t[..., :-1]).abs().mean()
    assert step(on["gt"]) < 0.8 * step(off["gt"])  # softer per pixel than the crisp photos
    no_haze = ["clean", "noise", "rain", "blur", "lowlight"]
    hazy = dict(kw, clean_share=0.0, tasks=("haze",))
    assert torch.equal(TrainSampler(recipe=[R("zoom", only=no_haze)], **hazy).batch(4)["gt"],
                       TrainSampler(**hazy).batch(4)["gt"])  # kinds outside "only" are never zoomed
    assert step(TrainSampler(recipe=[R("zoom", only=["clean"])], **kw).batch(0)["gt"]) < 0.8 * step(off["gt"])
    rainy, blurred = dict(kw, clean_share=0.0, tasks=("rain",)), dict(kw, clean_share=0.0, tasks=("blur",))
    assert torch.equal(TrainSampler(recipe=[R("zoom", only=["blur"])], **rainy).batch(2)["gt"],
                       TrainSampler(**rainy).batch(2)["gt"])  # rain stays on crisp photos
    assert step(TrainSampler(recipe=[R("zoom", only=["blur"])], **blurred).batch(2)["gt"]) < \
        0.8 * step(TrainSampler(**blurred).batch(2)["gt"])
    mild, strong = (TrainSampler(recipe=[R("zoom", factor=[f, f])], **kw).batch(1)["gt"] for f in (1.1, 3.0))
    assert step(strong) < 0.8 * step(mild)  # the factor is a parameter (the same photos and draws, zoomed more)


@needs_data
def test_large_validation_images_are_enlarged_soft_photos_or_crisp_mosaics_degraded_at_their_own_scale():
    from slerir.data import LARGE_FACTOR, val_set_large

    enlarged = val_set_large(n=6, mode="enlarged")
    assert [CLASSES[s["label"]] for s in enlarged] == ["clean", "noise", "rain", "haze", "blur", "lowlight"]
    assert all(s["kind"] == "large_enlarged" for s in enlarged)
    for s in enlarged:
        long_side = max(s["gt"].shape[1:])
        assert LARGE_FACTOR[0] * 481 - 2 <= long_side <= LARGE_FACTOR[1] * 481 + 2
        assert s["lq"].shape == s["gt"].shape
    np.testing.assert_array_equal(enlarged[0]["lq"], enlarged[0]["gt"])  # the clean one stays clean
    assert all(not np.allclose(s["lq"], s["gt"], atol=0.02) for s in enlarged[1:])
    mosaic = val_set_large(n=3, mode="mosaic", tasks="three")
    assert [s["gt"].shape for s in mosaic] == [(3, 640, 960)] * 3
    assert [CLASSES[s["label"]] for s in mosaic] == ["clean", "noise", "rain"]

    def step(g):  # mean absolute difference of neighbouring pixels: how crisp per pixel
        return float(np.abs(np.diff(g, axis=2)).mean())
    assert step(mosaic[0]["gt"]) > 1.5 * step(enlarged[0]["gt"])  # the enlarged photos are soft per pixel
    assert [s["params"] for s in val_set_large(n=3, mode="mosaic", tasks="three")] == [s["params"] for s in mosaic]
    with pytest.raises(ValueError, match="mode"):
        val_set_large(n=1, mode="huge")


def test_v2_camera_augmentations_draw_what_they_say():
    """real_noise/real_rain/real_lowlight mark the specs real; jpeg changes the input only; camera_clean
    changes a clean sample's input and target alike (it must pass through)."""
    import numpy as np
    from slerir.data.augment import AUGMENTATIONS, parse_recipe
    from slerir.degradations import DegradationSpec

    rng = np.random.default_rng(0)
    for aug, kind in (("real_noise", "noise"), ("real_rain", "rain"), ("real_lowlight", "lowlight")):
        entry = parse_recipe([{"aug": aug, "share": 1.0}])[0]
        specs = entry.augmentation.fn([DegradationSpec(kind, sigma=25.0) if kind == "noise" else DegradationSpec(kind)],
                                      rng, lambda: True, **entry.params)
        assert specs[0].real and specs[0].kind == kind and specs[0].sigma is None
    # real_lowlight's exposure range: drawn log-uniformly inside it; the spec carries it to camera.night
    entry = parse_recipe([{"aug": "real_lowlight", "share": 1.0, "exposure": [0.003, 0.04]}])[0]
    cuts = [entry.augmentation.fn([DegradationSpec("lowlight")], rng, lambda: True, **entry.params)[0].exposure
            for _ in range(200)]
    assert 0.003 <= min(cuts) < 0.006 and 0.03 < max(cuts) <= 0.04
    entry = parse_recipe([{"aug": "real_rain", "share": 1.0, "scale": [0.3, 1.0]}])[0]
    scales = [entry.augmentation.fn([DegradationSpec("rain", wide=True)], rng, lambda: True, **entry.params)[0]
              for _ in range(100)]
    assert all(sp.real and not sp.wide and 0.3 <= sp.scale <= 1.0 for sp in scales)
    with pytest.raises(ValueError, match="scale"):
        DegradationSpec("rain", scale=0.5)  # real=False: the streak renderer of the benchmarks has no scale
    with pytest.raises(ValueError, match="exposure must be a range"):
        parse_recipe([{"aug": "real_lowlight", "share": 1.0, "exposure": 0.01}])
    with pytest.raises(ValueError, match="exposure"):
        DegradationSpec("lowlight", exposure=0.01)  # real=False: a dark capture's cut means nothing there
    gt = np.random.default_rng(1).random((48, 48, 3)).astype(np.float32)
    lq = np.clip(gt + 0.1, 0, 1).astype(np.float32)
    op = AUGMENTATIONS["jpeg"].fn(rng, quality=(60, 60))
    out = op(lq, rng)
    assert out.shape == lq.shape and not np.array_equal(out, lq)
    clean_op = AUGMENTATIONS["camera_clean"].fn(rng, strength=(0.1, 0.1), quality=(90, 90))
    a, b = clean_op(gt.copy(), gt.copy(), rng)
    assert np.array_equal(a, b) and not np.array_equal(b, gt)


# ---------------------------------------------------------------------- the extra validation sets


def _two(make, kind: str, label: str, **kw) -> list[dict]:
    """Two samples of an extra validation set: of ``kind``, labelled ``label``, degraded, and the same at
    every call (a fixed selection yardstick)."""
    extra = make(n=2, **kw)
    assert [s["kind"] for s in extra] == [kind] * 2 and all(s["label"] == CLASSES.index(label) for s in extra)
    assert all(not np.allclose(s["lq"], s["gt"], atol=0.02) for s in extra)
    assert [s["params"] for s in make(n=2, **kw)] == [s["params"] for s in extra]
    return extra


@needs_data
@pytest.mark.parametrize("make, kind, label", [(val_set_flat_blur, "flat_blur", "blur"),
                                               (val_set_flat_rain, "flat_rain", "rain")])
def test_toned_sets_degrade_flat_toned_photos(make, kind, label):
    extra = _two(make, kind, label)
    for s in extra:
        assert s["gt"].max() - s["gt"].min() <= FLAT_CONTRAST[1] + 1e-5  # the target is the toned photo
    if kind == "flat_blur":
        assert extra[1]["params"][0]["length"] >= LONG_BLUR_LENGTH[0]  # every second one camera shake
    else:  # every second one drizzle: fewer streaks than the ordinary rain before it
        changed = [(np.abs(s["lq"] - s["gt"]).max(0) > 0.02).mean() for s in extra]
        assert changed[1] < changed[0] and extra[1]["params"][0]["density"] <= FAINT_RAIN_DENSITY[1]


@needs_data
def test_linear_and_pale_blur_sets():
    linear = _two(val_set_linear_blur, "linear_blur", "blur")
    assert all(s["params"][0]["linear"] for s in linear) and linear[1]["params"][0]["length"] >= LONG_BLUR_LENGTH[0]
    pale = _two(val_set_pale_blur, "pale_blur", "blur")
    assert pale[1]["params"][0]["length"] >= LONG_BLUR_LENGTH[0]


@needs_data
def test_wide_rain_set_only_adds_light():
    extra = _two(val_set_wide_rain, "wide_rain", "rain")
    assert all(s["params"][0]["wide"] for s in extra)
    assert extra[1]["params"][0]["density"] <= FAINT_RAIN_DENSITY[1]  # every second one drizzle
    assert all((s["lq"] >= s["gt"] - 1e-6).all() for s in extra)


@needs_data
def test_zoom_set_has_one_degraded_photo_of_each_kind():
    extra = val_set_zoom(n=5)
    assert [s["kind"] for s in extra] == ["zoom"] * 5
    assert [CLASSES[s["label"]] for s in extra] == list(ZOOM_VAL_KINDS)  # one of each kind, no clean photo
    assert all(not np.allclose(s["lq"], s["gt"], atol=0.02) for s in extra)
    assert [s["params"] for s in val_set_zoom(n=5)] == [s["params"] for s in extra]
    assert [CLASSES[s["label"]] for s in val_set_zoom(n=4, tasks="three")] == ["noise", "rain", "haze", "noise"]


@needs_data
@pytest.mark.slow
def test_whole_photo_profiles_add_their_sets_for_the_trained_kinds():
    """Each whole-photo profile is the "scene" samples plus n // 8 of each extra set it names, for the
    kinds being trained (a set of blurred photos adds nothing without blur)."""
    base = profile_val_set("scene", n=16)
    five = [s["kind"] for s in profile_val_set("zoom", n=16)[len(base):]]
    assert five == [k for k in ("flat_blur", "flat_rain", "linear_blur", "pale_blur", "wide_rain", "zoom") for _ in range(2)]
    assert all(np.array_equal(a["lq"], b["lq"]) for a, b in zip(base, profile_val_set("zoom", n=16)))
    three = profile_val_set("zoom", n=16, tasks="three")
    added = three[len(profile_val_set("scene", n=16, tasks="three")):]
    assert [s["kind"] for s in added] == [k for k in ("flat_rain", "wide_rain", "zoom") for _ in range(2)]  # no blur sets



def test_dim_keeps_a_dim_photo_dim_in_the_target():
    """"dim": a normally exposed photo at lower brightness, a content change (input and target alike)."""
    import numpy as np
    from slerir.data.augment import AUGMENTATIONS

    img = np.full((8, 8, 3), 0.8, np.float32)
    op = AUGMENTATIONS["dim"].fn(np.random.default_rng(0), gain=(0.5, 0.5))
    assert AUGMENTATIONS["dim"].hook == "content" and np.allclose(op(img, None), 0.4)
