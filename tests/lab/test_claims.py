"""lab.claims: the verdict rule on hand-made numbers, the resumable training loop with a fake launcher (no
training), evaluate's cache, and one slow end-to-end smoke run (2 variants x 1 seed x 3 steps)."""
from __future__ import annotations

import json
import math
import signal
from pathlib import Path

import pytest

from lab import claims

REPO = Path(__file__).resolve().parents[2]
BASE = REPO / "lab" / "claims_base.json"


# ------------------------------------------------------------------------------------------- verdicts


def _variants(metric: str, **per_variant: list[float]) -> dict:
    return {v: {"per_seed": {str(s): {metric: x} for s, x in enumerate(xs)}} for v, xs in per_variant.items()}


@pytest.mark.parametrize("full, shared, want", [
    ([30.0, 30.5], [29.0, 29.8], "supported"),        # differences 1.0, 0.7: interval [0.7, 1.0]
    ([30.0, 30.5], [29.0, 30.9], "undecided"),        # 1.0, -0.4: straddles 0
    ([29.0, 29.8], [30.0, 30.5], "not supported"),    # -1.0, -0.7
    ([30.0, 30.0], [30.0, 29.5], "undecided"),        # 0.0, 0.5: the interval touches 0 from above
    ([30.0, 29.5], [30.0, 30.0], "not supported"),    # -0.5, 0.0: at or below 0 entirely
])
def test_two_seeds_use_min_max_of_the_paired_differences(full, shared, want):
    c = claims.compare(_variants("mean_psnr", full=full, shared=shared), "full", ["shared"], "mean_psnr")
    diffs = [a - b for a, b in zip(full, shared)]
    assert c["verdict"] == want
    assert c["interval"] == pytest.approx([min(diffs), max(diffs)])
    assert c["difference"] == pytest.approx(sum(diffs) / 2)
    assert c["per_seed"] == pytest.approx({"0": diffs[0], "1": diffs[1]})


def test_three_seeds_use_a_90_percent_t_interval():
    # differences 1, 2, 3: mean 2, sd 1, t(0.95, 2 df) = 2.919986 -> 2 -/+ 1.685852
    v = _variants("mean_psnr", full=[31.0, 32.0, 33.0], linear=[30.0, 30.0, 30.0])
    c = claims.compare(v, "full", ["linear"], "mean_psnr")
    assert c["interval"] == pytest.approx([2 - 2.919986 / math.sqrt(3), 2 + 2.919986 / math.sqrt(3)], abs=1e-5)
    assert c["verdict"] == "supported" and "t-interval" in c["interval_kind"]
    # the same mean with a wide spread straddles 0
    v = _variants("mean_psnr", full=[30.0, 35.0, 31.0], linear=[30.0, 30.0, 30.0])
    assert claims.compare(v, "full", ["linear"], "mean_psnr")["verdict"] == "undecided"


def test_one_seed_or_a_missing_variant_is_undecided():
    c = claims.compare(_variants("mean_psnr", full=[31.0], shared=[30.0]), "full", ["shared"], "mean_psnr")
    assert c["interval"] is None and c["verdict"] == "undecided" and c["difference"] == pytest.approx(1.0)
    c = claims.compare(_variants("mean_psnr", full=[31.0, 32.0]), "full", ["shared"], "mean_psnr")
    assert c["against"] is None and c["verdict"] == "undecided"


def test_claim_3_compares_with_the_better_of_global_and_local_on_composites_and_overall():
    v = _variants("composite_psnr", full=[28.0, 28.4], glob=[27.0, 27.2], loc=[27.5, 27.9])
    v["global"], v["local"] = v.pop("glob"), v.pop("loc")
    for name, xs in (("full", [30.0, 30.2]), ("global", [30.1, 30.4]), ("local", [29.0, 29.0])):
        for s, x in enumerate(xs):
            v[name]["per_seed"][str(s)]["mean_psnr"] = x
    out = {r["id"]: r for r in claims.verdicts(v)}
    c3 = out[3]
    assert c3["metric"] == "composite_psnr" and c3["against"] == "local"  # local is the better on composites
    assert c3["interval"] == pytest.approx([0.5, 0.5]) and c3["verdict"] == "supported"
    assert c3["overall"]["against"] == "global" and c3["overall"]["verdict"] == "not supported"
    assert out[1]["verdict"] == out[2]["verdict"] == "undecided"  # no shared / linear runs


# ---------------------------------------------------------------------------------------------- train


class FakeProc:
    """Stands in for a training subprocess: finishes at once (writing the weights' step like the trainer), or,
    with ``hang``, runs until it is sent SIGTERM and then saves where it stopped."""

    def __init__(self, cmd, run_dir: Path, steps: int, hang: bool):
        self.cmd, self.run_dir, self.steps, self.hang, self.rc = cmd, run_dir, steps, hang, None
        if not hang:
            self._save(steps)
            self.rc = 0

    def _save(self, step):
        (self.run_dir / "weights").mkdir(parents=True, exist_ok=True)
        (self.run_dir / "weights" / "config.json").write_text(json.dumps({"model": {}, "meta": {"step": step}}))
        (self.run_dir / "state.pt").write_text("fake")

    def poll(self):
        return self.rc

    def send_signal(self, sig):
        assert sig == signal.SIGTERM
        if self.rc is None:
            self._save(2)
            self.rc = 0

    def wait(self):
        return self.rc


def _launcher(steps, calls, hang=False):
    def launch(cmd, log_path):
        calls.append(cmd)
        return FakeProc(cmd, Path(log_path).parent, steps, hang)
    return launch


def test_train_writes_configs_resumes_partial_runs_and_skips_finished_ones(tmp_path):
    runs = tmp_path / "runs"
    done = runs / "full_s0"
    (done / "weights").mkdir(parents=True)
    (done / "weights" / "config.json").write_text(json.dumps({"meta": {"step": 5}}))
    part = runs / "linear_s0"
    part.mkdir(parents=True)
    (part / "state.pt").write_text("partial")
    (part / "weights").mkdir()
    (part / "weights" / "config.json").write_text(json.dumps({"meta": {"step": 2}}))
    calls, lines = [], []
    status = claims.train(["full", "linear", "shared"], [0, 1], 5, runs, BASE, {"batch": 4}, poll=0,
                          launch=_launcher(5, calls), log=lines.append)
    assert status == {"full_s0": "skipped", "linear_s0": "finished", "shared_s0": "finished", "full_s1": "finished",
                      "linear_s1": "finished", "shared_s1": "finished"}
    ran = [Path(c[c.index("--config") + 1]).parent.name for c in calls]
    assert ran == ["linear_s0", "shared_s0", "full_s1", "linear_s1", "shared_s1"]  # seed by seed
    assert calls[0][1:3] == ["-m", "slerir.train"] and calls[0][-1] == "--resume"
    assert "--resume" not in calls[1]
    base = json.loads(BASE.read_text())
    for name, over in (("full_s1", claims.VARIANTS["full"]), ("linear_s0", {"router": "linear", "router_scale_min": 0.0}),
                       ("shared_s1", {"shared_router": True, "router_scale_min": 10.0})):
        cfg = json.loads((runs / name / "train_config.json").read_text())
        # the base's architecture (router scale floor, regional GLGF gate), then the variant's changes
        assert cfg["init_from"] is None and cfg["model_overrides"] == {**base["model_overrides"], **over}
        assert (cfg["steps"], cfg["batch"], cfg["seed"], cfg["out"]) == (5, 4, int(name[-1]), str(runs / name))
        assert cfg["recipe"] == base["recipe"] and cfg["w_entropy"] == base["w_entropy"]
        assert json.loads((runs / name / "claims_run.json").read_text())["variant"] == name.split("_")[0]
    timings = [json.loads(l) for l in (runs / claims.TIMINGS).read_text().splitlines()]
    assert [t["run"] for t in timings] == ran and timings[0]["from"] == 2 and timings[0]["to"] == 5
    # a second call finds every run finished and launches nothing
    calls.clear()
    status = claims.train(["full", "linear", "shared"], [0, 1], 5, runs, BASE, {"batch": 4}, poll=0,
                          launch=_launcher(5, calls), log=lines.append)
    assert calls == [] and set(status.values()) == {"skipped"}
    # the same folder under another protocol is refused before anything runs
    with pytest.raises(SystemExit, match="steps"):
        claims.train(["full"], [0], 9, runs, BASE, {"batch": 4}, poll=0, launch=_launcher(9, calls), log=lines.append)
    assert calls == []


def test_deadline_stops_runs_saved_and_the_next_call_resumes_them(tmp_path):
    runs, calls = tmp_path / "runs", []
    status = claims.train(["full", "global"], [0], 5, runs, BASE, poll=0, deadline=0.0, parallel=2,
                          launch=_launcher(5, calls, hang=True), log=lambda s: None)
    # the deadline is checked before anything starts: nothing ran
    assert calls == [] and set(status.values()) == {"not started"}
    status = claims.train(["full", "global"], [0], 5, runs, BASE, poll=0, deadline=0.05, parallel=2,
                          launch=_launcher(5, calls, hang=True), log=lambda s: None)
    assert status == {"full_s0": "stopped", "global_s0": "stopped"} and len(calls) == 2
    assert claims.run_step(runs / "full_s0") == 2 and not claims.is_finished(runs / "full_s0")
    calls.clear()
    status = claims.train(["full", "global"], [0], 5, runs, BASE, poll=0, launch=_launcher(5, calls), log=lambda s: None)
    assert set(status.values()) == {"finished"} and all(c[-1] == "--resume" for c in calls)


class LoggingProc(FakeProc):
    """Runs until SIGTERM; from its second poll on, its log holds a step like the trainer's log.jsonl."""

    def __init__(self, *a):
        super().__init__(*a)
        self.polls = 0

    def poll(self):
        self.polls += 1
        if self.polls == 2:
            (self.run_dir / "log.jsonl").write_text(json.dumps({"step": 3, "loss": 1.5}) + "\n")
        return self.rc


def test_progress_lines_say_starting_until_a_step_is_logged_then_give_rate_and_loss(tmp_path):
    lines = []
    claims.train(["full"], [0], 5, tmp_path / "runs", BASE, poll=0.01, deadline=0.3, progress_every=0,
                 launch=lambda cmd, log_path: LoggingProc(cmd, Path(log_path).parent, 5, True), log=lines.append)
    progress = [x for x in lines if x.startswith("[full_s0] step")]
    assert progress and "starting" in progress[0] and "no step logged yet" in progress[0]
    assert any("step 3/5" in x and "loss 1.5000" in x and "min left" in x for x in progress)
    assert not any("nan" in x for x in lines)


def test_status_projects_the_time_left_from_the_measured_rate(tmp_path):
    runs = tmp_path / "runs"
    _finished_run(runs, "full", 0, steps=100)
    _finished_run(runs, "shared", 0, steps=100, step=40)
    (runs / claims.TIMINGS).write_text(json.dumps({"run": "shared_s0", "from": 0, "to": 40, "seconds": 20.0,
                                                   "parallel": 2}) + "\n")
    p = claims.progress(runs)
    assert p["runs"] == {"full_s0": {"step": 100, "steps": 100}, "shared_s0": {"step": 40, "steps": 100}}
    assert p["steps_left"] == 60 and p["steps_per_s_per_run"] == pytest.approx(2.0)
    assert p["hours_left"] == pytest.approx(60 / (2.0 * 2) / 3600)
    assert "60 steps left" in claims.progress_text(p)


def test_nproc_launches_torchrun(tmp_path):
    d = tmp_path / "full_s0"
    d.mkdir()
    cmd = claims.train_command(d, nproc=4)
    assert cmd[:3] == ["torchrun", "--standalone", "--nproc_per_node=4"] and cmd[3:5] == ["-m", "slerir.train"]
    assert claims.train_command(d, nproc=1)[1:3] == ["-m", "slerir.train"]


# ------------------------------------------------------------------------------------------- evaluate


def _finished_run(runs: Path, variant: str, seed: int, steps: int = 5, step: int | None = None, payload: bytes = b"w"):
    d = runs / claims.run_name(variant, seed)
    cfg = claims.resolved_config(BASE, variant, seed, steps, d)
    claims.prepare_run(d, cfg, {"variant": variant, "seed": seed, "nproc": 1, "base": str(BASE)})
    (d / "weights").mkdir(exist_ok=True)
    (d / "weights" / "model.safetensors").write_bytes(payload)
    (d / "weights" / "config.json").write_text(json.dumps({"meta": {"step": steps if step is None else step}}))
    return d


def _fake_eval(calls):
    def fn(weights, data_root=None, limit=None, images=8, side=192, real=True):
        calls.append((Path(weights).parent.name, limit))
        d = Path(weights).parent.name
        bump = {"full": 1.0, "shared": 0.0, "linear": 0.5, "global": 0.2, "local": 0.3}[d.split("_")[0]]
        seed = int(d.split("_s")[1])
        return {"step": 5, "mean_psnr": 28.0 + bump + 0.1 * seed, "composite_psnr": 25.0 + bump - 0.1 * seed,
                "recognition": 0.5, "layers": [{"name": "enc0", "top1": 0.8}]}
    return fn


def test_composites_are_scored_against_their_own_clean_photo(tiny_weights, data_root, monkeypatch):
    """Through a restorer that hands back its input, every probe PSNR equals the input's PSNR against the photo
    it was made from (a wrong photo for a composite would give another number), and the clean photo scores
    the cap."""
    import numpy as np

    from lab import routing_check
    from slerir.data import load_clean_images
    from slerir.inference import Restorer
    from slerir.metrics import psnr

    real = Restorer.from_pretrained(tiny_weights)

    class PassThrough:
        classes, meta, cfg, model = real.classes, {"step": 0}, real.cfg, real.model

        def restore(self, image, **kw):
            res = real.restore(image, **kw)
            res.image = res.input
            return res

    monkeypatch.setattr(Restorer, "from_pretrained", classmethod(lambda cls, path, **kw: PassThrough()))
    m = claims.evaluate_weights(tiny_weights, data_root=str(data_root), limit=1, images=2, side=64, real=False)
    assert m["composite_psnr"] == pytest.approx(m["composite_input_psnr"])
    assert m["clean_psnr"] == claims.PSNR_CAP
    photos = [routing_check.centre_crop(p, 64) for p in load_clean_images(str(data_root), "val")[:2]]
    singles, comps = routing_check.probe_images(photos)
    want = np.mean([psnr(img, photos[1].astype(np.float32) / 255.0) for img, _, _ in comps[len(comps) // 2:]]
                   + [psnr(img, photos[0].astype(np.float32) / 255.0) for img, _, _ in comps[:len(comps) // 2]])
    assert m["composite_psnr"] == pytest.approx(want)
    for b in claims.BENCH:
        assert math.isfinite(m[b]) and 0 <= m[b + "_recognition"] <= 1
    assert m["mean_psnr"] == pytest.approx(np.mean([m[b] for b in claims.BENCH]))
    assert len(m["layers"]) == len(real.model.routed_blocks()) and "sidd_gain" not in m


def test_evaluate_caches_per_weights_and_settings_and_writes_claims(tmp_path):
    runs = tmp_path / "runs"
    for v in ("full", "shared", "linear", "global", "local"):
        for s in (0, 1):
            _finished_run(runs, v, s)
    _finished_run(runs, "full", 2, step=3)  # unfinished: left out
    calls, out = [], tmp_path / "docs" / "claims.json"
    doc = claims.evaluate_all(runs, out, limit=1, evaluate_fn=_fake_eval(calls), command="cmd", log=lambda s: None)
    assert len(calls) == 10 and doc["unfinished"] == {"full_s2": 3}
    saved = json.loads(out.read_text())
    assert set(saved) >= {"protocol", "variants", "verdicts", "command"}
    assert saved["protocol"]["steps"] == 5 and saved["protocol"]["from_scratch"] and saved["protocol"]["evaluation"]["limit"] == 1
    full = saved["variants"]["full"]
    assert full["seeds"] == [0, 1] and full["steps"] == 5 and set(full["per_seed"]) == {"0", "1"}
    assert full["mean"]["mean_psnr"] == pytest.approx(29.05) and "layers" not in full["mean"]
    by_id = {v["id"]: v for v in saved["verdicts"]}
    assert [by_id[i]["verdict"] for i in (1, 2, 3)] == ["supported"] * 3
    assert by_id[1]["difference"] == pytest.approx(1.0) and by_id[3]["against"] == "local"
    md = out.with_suffix(".md").read_text()
    assert "| full | 0,1 |" in md and "**supported**" in md and "`cmd`" in md and "full_s2 at step 3" in md
    # cached: nothing is measured again
    calls.clear()
    doc2 = claims.evaluate_all(runs, out, limit=1, evaluate_fn=_fake_eval(calls), command="cmd", log=lambda s: None)
    assert calls == [] and doc2["variants"] == doc["variants"]
    # other settings, or new weights in one run, are measured again (that run only)
    claims.evaluate_all(runs, None, limit=2, evaluate_fn=_fake_eval(calls), log=lambda s: None)
    assert len(calls) == 10 and {c[1] for c in calls} == {2}
    calls.clear()
    (runs / "local_s1" / "weights" / "model.safetensors").write_bytes(b"other weights")
    claims.evaluate_all(runs, None, limit=1, evaluate_fn=_fake_eval(calls), log=lambda s: None)
    assert calls == [("local_s1", 1)]
    cache = json.loads((runs / "local_s1" / "eval.json").read_text())
    assert len(cache) == 2  # two weights files, each under its own SHA-256


def test_runs_of_another_protocol_are_left_out(tmp_path):
    runs = tmp_path / "runs"
    for v in ("full", "shared"):
        for s in (0, 1):
            _finished_run(runs, v, s)
    _finished_run(runs, "linear", 0, steps=9)  # trained for other steps
    doc = claims.evaluate_all(runs, None, evaluate_fn=_fake_eval([]), log=lambda s: None)
    assert doc["excluded"] == ["linear_s0"] and "linear" not in doc["variants"]


def test_report_prints_the_table(tmp_path, capsys):
    runs = tmp_path / "runs"
    for v in ("full", "shared"):
        for s in (0, 1):
            _finished_run(runs, v, s)
    out = tmp_path / "claims.json"
    claims.evaluate_all(runs, out, evaluate_fn=_fake_eval([]), command="python -m lab.claims evaluate", log=lambda s: None)
    assert claims.main(["report", "--claims", str(out)]) == 0
    text = capsys.readouterr().out
    assert text == out.with_suffix(".md").read_text() + "\n"
    assert "| 1 layer-wise expert routing beats one shared router | full vs shared | mean_psnr | +1.00 |" in text


def test_pack_keeps_within_the_device_limits(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runs = Path("runs")
    d = _finished_run(runs, "full", 0, payload=b"x" * 3000)
    part = _finished_run(runs, "shared", 0, step=2)
    (part / "state.pt").write_bytes(b"s" * 5000)
    tars = claims.pack(runs, "out", max_files=2, max_file_mb=6000 / 2 ** 20 + 0.07, log=lambda s: None)
    import tarfile

    names = [n for t in tars for n in tarfile.open(t).getnames()]
    assert len(tars) <= 2 and "runs/full_s0/weights/model.safetensors" in names
    assert "runs/full_s0/train_config.json" in names and "runs/shared_s0/claims_run.json" in names
    assert all(t.stat().st_size <= 6000 + 0.07 * 2 ** 20 for t in tars)


# ---------------------------------------------------------------------------------------------- smoke


@pytest.mark.slow
def test_train_and_evaluate_end_to_end(tmp_path, data_root, monkeypatch):
    from tests.conftest import TEST_MODEL_OVERRIDES

    monkeypatch.chdir(REPO)
    runs, out = tmp_path / "runs", tmp_path / "claims" / "claims.json"
    common = ["--runs", str(runs), "--data-root", str(data_root)]
    assert claims.main(["train", "--variants", "full", "linear", "--seeds", "0", "--steps", "3", "--patch", "32",
                        "--batch", "2", "--val-every", "0", "--workers", "0", "--threads", "1",
                        "--model-overrides", json.dumps(TEST_MODEL_OVERRIDES), *common]) == 0
    for name in ("full_s0", "linear_s0"):
        assert claims.run_step(runs / name) == 3 and (runs / name / "state.pt").exists()
    from slerir.checkpoint import read_config

    assert read_config(runs / "linear_s0" / "weights")[0].router == "linear"
    assert read_config(runs / "full_s0" / "weights")[0].widths == (8, 16, 32)
    assert claims.main(["evaluate", "--limit", "1", "--images", "1", "--side", "64", "--out", str(out), *common]) == 0
    doc = json.loads(out.read_text())
    assert set(doc["variants"]) == {"full", "linear"}
    m = doc["variants"]["full"]["per_seed"]["0"]
    for k in (*claims.BENCH, "mean_psnr", "composite_psnr", "recognition", "real_recognition", "sidd_gain", "nmi_mean"):
        assert m[k] is not None and math.isfinite(m[k]), k
    assert m["layers"] and all(0 < row["top1"] <= 1 for row in m["layers"]) and doc["protocol"]["steps"] == 3 and doc["protocol"]["batch"] == 2
    assert [v["verdict"] for v in doc["verdicts"]] == ["undecided"] * 3  # one seed decides nothing
