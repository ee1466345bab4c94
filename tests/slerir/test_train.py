import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from slerir.train import Trainer, TrainConfig, lr_at, parse_args
from tests.conftest import REPO, TEST_MODEL_OVERRIDES


def _tc(tmp_path, data_root, **kw):
    base = dict(model_overrides=TEST_MODEL_OVERRIDES, patch=32, batch=4, steps=6, warmup=2, val_every=0,
                ckpt_every=100, log_every=1, threads=1, out=str(tmp_path), data_root=str(data_root))
    base.update(kw)
    return TrainConfig(**base)


def test_lr_schedule():
    tc = TrainConfig(lr=1e-3, min_lr=0.0, warmup=10, steps=110)
    assert lr_at(0, tc) == pytest.approx(1e-4)
    assert lr_at(9, tc) == pytest.approx(1e-3)
    assert lr_at(60, tc) == pytest.approx(5e-4)
    assert lr_at(110, tc) == pytest.approx(0.0, abs=1e-12)


def test_one_step_lowers_loss_on_fixed_batch(tmp_path, data_root):
    tr = Trainer(_tc(tmp_path, data_root, lr=1e-3, warmup=1, grad_clip=10.0))
    batch = tr.sampler.batch(0)
    from slerir.losses import total_loss

    weights = {"l1": 1.0, "contrastive": 0.05, "uniformity": 0.01, "balance": 0.01}
    with torch.no_grad():
        before, _ = total_loss(tr.model(batch["lq"]), batch, weights)
    for _ in range(3):
        tr.train_step(batch)
    with torch.no_grad():
        after, _ = total_loss(tr.model(batch["lq"]), batch, weights)
    assert after < before


def test_resume_reproduces_uninterrupted_run(tmp_path, data_root):
    a = Trainer(_tc(tmp_path / "a", data_root))
    a.fit(progress=False)
    b = Trainer(_tc(tmp_path / "b", data_root))
    b.fit(progress=False, stop_at=3)  # "interrupted" after 3 steps (state saved at the stop)
    del b
    c = Trainer(_tc(tmp_path / "b", data_root), resume=True)
    assert c.step == 3
    c.fit(progress=False)
    assert c.step == a.step == 6
    for (k, x), (_, y) in zip(a.model.state_dict().items(), c.model.state_dict().items()):
        assert torch.equal(x, y), k
    for (k, x), (_, y) in zip(a.ema.state_dict().items(), c.ema.state_dict().items()):
        assert torch.equal(x, y), k
    logs = [json.loads(l) for l in open(tmp_path / "b" / "log.jsonl")]
    assert [l["step"] for l in logs] == [1, 2, 3, 4, 5, 6]
    assert {"l1", "con_global", "con_local", "uniformity", "balance", "load", "lr"} <= set(logs[0])
    assert (tmp_path / "b" / "weights" / "model.safetensors").exists()


def test_worker_processes_train_the_same_weights_and_resume(tmp_path, data_root):
    a = Trainer(_tc(tmp_path / "a", data_root, steps=4))
    a.fit(progress=False)
    b = Trainer(_tc(tmp_path / "b", data_root, steps=4, workers=2))
    b.fit(progress=False, stop_at=2)
    del b
    c = Trainer(_tc(tmp_path / "b", data_root, steps=4, workers=2), resume=True)
    assert c.step == 2
    c.fit(progress=False)  # the workers start drawing at the resumed step
    assert c.step == 4
    for (k, x), (_, y) in zip(a.model.state_dict().items(), c.model.state_dict().items()):
        assert torch.equal(x, y), k


@pytest.mark.slow
def test_sigterm_saves_the_state_and_the_run_resumes(tmp_path, data_root):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "slerir.train", "--patch", "32", "--batch", "4", "--steps", "100000", "--warmup", "2",
           "--val-every", "0", "--ckpt-every", "100000", "--log-every", "1", "--threads", "1", "--workers", "1",
           "--model-overrides", json.dumps(TEST_MODEL_OVERRIDES), "--data-root", str(data_root), "--out", str(out)]
    p = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    log = out / "log.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and p.poll() is None and not (log.exists() and len(log.read_text().splitlines()) >= 2):
        time.sleep(0.2)
    assert p.poll() is None, p.communicate()[1][-3000:]  # still training when the signal comes
    os.killpg(p.pid, signal.SIGTERM)  # the whole group, batch workers included, as `timeout` and Ctrl-C do
    stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 0, stderr[-3000:]
    assert "stopped by signal" in stdout
    step = torch.load(out / "state.pt", weights_only=False)["step"]
    assert step >= 2 and json.loads(log.read_text().splitlines()[-1])["step"] == step
    assert (out / "weights" / "model.safetensors").exists()
    tc = _tc(out, data_root, steps=step + 1, workers=1)
    tr = Trainer(tc, resume=True)
    assert tr.step == step
    tr.fit(progress=False)
    assert tr.step == step + 1


def test_validation_writes_best(tmp_path, data_root):
    tr = Trainer(_tc(tmp_path, data_root, steps=2, val_every=2, val_n=7))
    tr.fit(progress=False)
    val = [json.loads(l) for l in open(tmp_path / "val.jsonl")]
    assert "mean_psnr" in val[-1] and 0 <= val[-1]["recognition"] <= 1
    assert (tmp_path / "best" / "config.json").exists()
    assert not (tmp_path / "val_weights").exists()  # only when asked


def test_keep_val_weights_saves_every_validation(tmp_path, data_root):
    tr = Trainer(_tc(tmp_path, data_root, steps=4, val_every=2, val_n=7, keep_val_weights=True))
    tr.fit(progress=False)
    kept = sorted(p.name for p in (tmp_path / "val_weights").iterdir())
    assert kept == ["step_000002", "step_000004"]
    val = [json.loads(l) for l in open(tmp_path / "val.jsonl")]
    for name, v in zip(kept, val):
        meta = json.loads((tmp_path / "val_weights" / name / "config.json").read_text())["meta"]
        assert meta["val"]["score"] == v["score"] and meta["val"]["step"] == v["step"]
    # the last one is the latest EMA: identical to weights/
    a = load_file(str(tmp_path / "val_weights" / "step_000004" / "model.safetensors"))
    b = load_file(str(tmp_path / "weights" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_full_profile_validation_chooses_by_score(tmp_path, data_root):
    tr = Trainer(_tc(tmp_path, data_root, steps=2, val_every=1, val_n=8, val_profile="full",
                     recipe=[{"aug": "light_haze", "share": 0.5}, {"aug": "dark", "share": 0.3}]))
    assert sorted(tr.val[0]["lq"].shape[1:]) == [321, 481]  # whole photos: validate pads them
    tr.fit(progress=False)
    val = [json.loads(l) for l in open(tmp_path / "val.jsonl")]
    assert len(val) == 2 and {"clean", "dark", "haze", "mixed", "score", "recognition"} <= set(val[-1])
    best = json.loads((tmp_path / "best" / "config.json").read_text())
    assert best["meta"]["val"]["score"] == max(v["score"] for v in val)  # chosen by the score, not the mean
    with pytest.raises(ValueError, match="val_profile"):
        Trainer(_tc(tmp_path / "x", data_root, val_every=1, val_profile="tiles"))


def test_cli_flags_override_config(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"steps": 50, "batch": 3}))
    tc, resume = parse_args(["--config", str(cfg), "--batch", "5", "--resume", "--model-overrides", '{"router": "linear"}'])
    assert tc.steps == 50 and tc.batch == 5 and resume and tc.model_overrides == {"router": "linear"}
    with pytest.raises(SystemExit):
        parse_args(["--tasks", "seven"])
    tc, _ = parse_args(["--config", str(cfg), "--recipe", '[{"aug": "long_blur", "share": 0.4}]'])
    assert tc.recipe == [{"aug": "long_blur", "share": 0.4}]
    cfg.write_text(json.dumps({"task_weights": {"noise": 2.0}, "threads": 1}))
    tc, _ = parse_args(["--config", str(cfg), "--threads", "2"])
    assert tc.task_weights == {"noise": 2.0} and tc.threads == 2  # a resume may change the thread count
    tc, _ = parse_args(["--task-weights", '{"rain": 3}'])
    assert tc.task_weights == {"rain": 3}


def test_published_configs_load_and_old_share_options_point_to_the_recipe(tmp_path):
    for cfg in sorted((REPO / "configs").glob("*.json")):
        TrainConfig.from_json(cfg)  # every kept config is a valid TrainConfig
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"steps": 5, "long_blur_share": 0.4}))
    with pytest.raises(SystemExit, match="long_blur_share.*recipe"):
        TrainConfig.from_json(old)


@pytest.mark.slow
def test_ddp_two_processes_identical_weights(tmp_path, data_root):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(REPO / "tests" / "slerir" / "ddp_worker.py"), str(tmp_path)]
    p = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    w0 = load_file(str(tmp_path / "rank0.safetensors"))
    w1 = load_file(str(tmp_path / "rank1.safetensors"))
    assert w0.keys() == w1.keys()
    for k in w0:
        assert torch.equal(w0[k], w1[k]), k
    log = [json.loads(l) for l in open(tmp_path / "run" / "log.jsonl")]
    assert log[-1]["step"] == 3


def test_warm_start_copies_matching_tensors_and_keeps_new_ones(tmp_path, data_root):
    # source: the first-version architecture (no conditioning, other encoder stem)
    v1 = {**TEST_MODEL_OVERRIDES, "enc_stem": "unshuffle4", "global_cond": False}
    src = Trainer(_tc(tmp_path / "src", data_root, model_overrides=v1, steps=2))
    src.fit(progress=False)
    tr = Trainer(_tc(tmp_path / "dst", data_root, init_from=str(tmp_path / "src" / "weights")))
    own = tr.model.state_dict()
    from safetensors.torch import load_file as lf

    s = lf(str(tmp_path / "src" / "weights" / "model.safetensors"))
    shared = [k for k in own if k in s and s[k].shape == own[k].shape]
    assert any(k.startswith("enc.") for k in shared) and any(".router." in k for k in shared)
    for k in shared:
        assert torch.equal(own[k], s[k]), k
        assert torch.equal(tr.ema.state_dict()[k], s[k]), k
    conds = [k for k in own if ".cond." in k]
    assert conds and all(float(own[k].abs().sum()) == 0.0 for k in conds)  # new: still zero-initialised
    assert tr.step == 0


def test_init_from_names_a_checkpoint_by_content_hash(tmp_path, monkeypatch, weights_dir):
    import shutil

    from slerir.checkpoint import save_weights, weights_sha256
    from slerir.train import resolve_init
    from tests.conftest import make_model

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SLERIR_WEIGHTS", raising=False)
    save_weights(make_model(seed=3), tmp_path / "runs" / "a" / "weights")  # another model, looked at first
    shutil.copytree(weights_dir, tmp_path / "runs" / "b" / "best")
    full = weights_sha256(weights_dir)
    assert resolve_init("sha256:" + full) == resolve_init("sha256:" + full[:16].upper()) == Path("runs/b/best")
    assert resolve_init("runs/a/weights") == Path("runs/a/weights")  # a path stays a path
    with pytest.raises(SystemExit, match="no checkpoint with that hash"):
        resolve_init("sha256:" + "0" * 64)
    with pytest.raises(SystemExit, match="16 to 64 hex digits"):
        resolve_init("sha256:" + full[:8])
    monkeypatch.setenv("SLERIR_WEIGHTS", str(weights_dir))  # found beside the runs, where the env var points
    shutil.rmtree(tmp_path / "runs" / "b")
    assert resolve_init("sha256:" + full) == weights_dir
    with pytest.raises(SystemExit):  # only where it is told to look
        resolve_init("sha256:" + full, search=("runs/*/weights",))


def test_stats_context_trains_with_the_wider_view(tmp_path, data_root):
    tr = Trainer(_tc(tmp_path, data_root, steps=2, stats_context=3))
    assert tr.sampler.context_side == 96
    seen = []
    forward = tr.model.forward
    tr.model.forward = lambda x, **kw: seen.append(kw.get("context")) or forward(x, **kw)
    tr.fit(progress=False)
    assert len(seen) == 2 and all(c is not None and tuple(c.shape[-2:]) == (96, 96) for c in seen)
    logs = [json.loads(l) for l in open(tmp_path / "log.jsonl")]
    assert all(torch.isfinite(torch.tensor(l["loss"])) for l in logs)


def test_resume_with_only_out_continues_the_run_as_it_was_set_up(tmp_path, data_root):
    """`--out RUN --resume` without --config takes the run's own settings from its state (a run set up with
    model overrides and a recipe would otherwise meet the default config and be refused)."""
    from slerir.train import parse_args

    tc = _tc(tmp_path / "r", data_root, steps=2)
    tc.recipe = [{"aug": "jpeg", "share": 0.5}]
    tc.w_entropy = 0.02
    Trainer(tc).fit(progress=False, stop_at=1)
    got, resume = parse_args(["--out", str(tmp_path / "r"), "--resume"])
    assert resume and got.recipe == tc.recipe and got.w_entropy == 0.02
    assert got.model_overrides == tc.model_overrides and got.steps == 2
    got, _ = parse_args(["--out", str(tmp_path / "r"), "--resume", "--steps", "5"])  # flags still override
    assert got.steps == 5
    fresh, _ = parse_args(["--out", str(tmp_path / "none"), "--resume"])  # no state yet: the defaults
    assert fresh.recipe == TrainConfig().recipe
