"""Issue item 3: files. Weights load only from safetensors + JSON, strictly, with clear errors; no
pickle is ever loaded; the server serves nothing outside its assets and temp folder; it binds
127.0.0.1 unless the platform says otherwise; uploads are size-limited."""
from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
import torch
from safetensors.torch import load_file, save_file

from slerir.checkpoint import CheckpointError, load_model
from tests.conftest import TEST_CFG, make_model
from tests.reliability.conftest import ROOT

SENTINEL_NAME = "UNPICKLED_SENTINEL"


class _Payload:
    """Unpickling this creates a file: proof that something unpickled it."""

    def __init__(self, target: str):
        self.target = target

    def __reduce__(self):
        return (Path.touch, (Path(self.target),))


@pytest.fixture
def no_pickle(monkeypatch):
    """Any unpickling while this is active fails the test."""
    calls = []

    def refuse(name):
        def f(*a, **kw):
            calls.append(name)
            raise AssertionError(f"{name} called: a pickle was about to be loaded")
        return f

    class RefusingUnpickler(pickle.Unpickler):  # a class: some libraries subclass it at import
        def load(self):
            return refuse("pickle.Unpickler.load")()

    for name in ("load", "loads"):
        monkeypatch.setattr(pickle, name, refuse(f"pickle.{name}"))
    monkeypatch.setattr(pickle, "Unpickler", RefusingUnpickler)
    monkeypatch.setattr(torch, "load", refuse("torch.load"))
    yield calls
    assert not calls, calls


def _copy(weights_dir: Path, dst: Path) -> Path:
    shutil.copytree(weights_dir, dst)
    return dst


def _set_config(d: Path, **model_changes):
    blob = json.loads((d / "config.json").read_text())
    blob["model"].update(model_changes)
    (d / "config.json").write_text(json.dumps(blob))


def _tensors(d: Path, change):
    st = load_file(str(d / "model.safetensors"))
    change(st)
    save_file(st, str(d / "model.safetensors"))


BAD_WEIGHTS = {
    # name: (how to break a copy of good weights, what the CheckpointError must say)
    "missing folder": (lambda d: shutil.rmtree(d), r"weights not found"),
    "no model.safetensors": (lambda d: (d / "model.safetensors").unlink(), r"holds no model\.safetensors"),
    "pickle named model.safetensors": (
        lambda d: (d / "model.safetensors").write_bytes(pickle.dumps(_Payload(str(d.parent / SENTINEL_NAME)))),
        r"not a readable safetensors file"),
    "truncated safetensors": (
        lambda d: (d / "model.safetensors").write_bytes((d / "model.safetensors").read_bytes()[:3000]),
        r"not a readable safetensors file"),
    "header length 2**40": (
        lambda d: (d / "model.safetensors").write_bytes((2**40).to_bytes(8, "little") + b"{}"),
        r"not a readable safetensors file"),
    "random bytes": (lambda d: (d / "model.safetensors").write_bytes(os.urandom(4096)), r"not a readable safetensors"),
    "config not JSON": (lambda d: (d / "config.json").write_text("{model: tiny"), r"cannot read the config"),
    "config a JSON list": (lambda d: (d / "config.json").write_text("[]"), r"cannot read the config"),
    "config unknown field": (lambda d: _set_config(d, future_field=1), r"future_field"),
    "config inconsistent": (lambda d: _set_config(d, num_experts=3), r"expert_ratios has 4 entries"),
    "no config at all": (
        lambda d: ((d / "config.json").unlink(), _tensors(d, lambda st: None)),  # re-saved: no metadata
        r"carries no config"),
    "tensor shape mismatch": (
        lambda d: _tensors(d, lambda st: st.update({"enc.0.0.router.keys": torch.zeros(
            st["enc.0.0.router.keys"].shape[0] + 1, *st["enc.0.0.router.keys"].shape[1:])})),
        r"do not match .*size mismatch for enc\.0\.0\.router\.keys"),
    "missing tensor": (lambda d: _tensors(d, lambda st: [st.pop(k) for k in list(st) if "enc.0.0.router." in k]),
                       r"do not match .*Missing key.*enc\.0\.0\.router"),
    "extra tensor": (lambda d: _tensors(d, lambda st: st.update({"evil.extra": torch.zeros(1)})),
                     r"do not match .*Unexpected key.*evil\.extra"),
}


@pytest.mark.parametrize("case", list(BAD_WEIGHTS))
def test_corrupt_or_mismatched_weights_give_clear_errors(case, weights_dir, tmp_path, no_pickle):
    breaker, msg = BAD_WEIGHTS[case]
    d = _copy(weights_dir, tmp_path / "w")
    breaker(d)
    with pytest.raises(CheckpointError, match=msg) as ei:
        load_model(d)
    assert "Traceback" not in str(ei.value)
    assert not (tmp_path / SENTINEL_NAME).exists()


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".bin", ".ckpt", ".pkl", ".npz"])
def test_pickle_checkpoints_are_refused_unread(suffix, tmp_path, no_pickle):
    f = tmp_path / f"model{suffix}"
    with f.open("wb") as fh:  # a real torch/pickle checkpoint whose unpickling would create a file
        pickle.Pickler(fh).dump({"state_dict": make_model().state_dict(), "x": _Payload(str(tmp_path / SENTINEL_NAME))})
    with pytest.raises(CheckpointError, match="pickle checkpoints are not loaded"):
        load_model(f)
    assert not (tmp_path / SENTINEL_NAME).exists()


def test_good_weights_load_without_pickle(weights_dir, no_pickle):
    model, meta = load_model(weights_dir)
    assert model.cfg == TEST_CFG and meta["note"] == "random test model"
    single, _ = load_model(weights_dir / "model.safetensors")  # config from the safetensors metadata
    assert single.cfg == TEST_CFG


@pytest.mark.parametrize("change", [{"widths": [8, "x", 32]}, {"embed_dim": -3}])
def test_wrongly_typed_config_gives_checkpoint_error(change, weights_dir, tmp_path):
    d = _copy(weights_dir, tmp_path / "w")
    _set_config(d, **change)
    with pytest.raises(CheckpointError):
        load_model(d)


@pytest.mark.parametrize("case", ["truncated safetensors", "tensor shape mismatch", "config wrongly typed"])
def test_app_py_refuses_bad_weights_with_a_message(case, weights_dir, tmp_path, capsys):
    """``python app.py --weights BAD`` exits with one line naming the problem (no traceback) before
    anything is served."""
    import app

    d = _copy(weights_dir, tmp_path / "w")
    if case == "config wrongly typed":
        _set_config(d, widths=[8, "x", 32])
    else:
        BAD_WEIGHTS[case][0](d)
    with pytest.raises(SystemExit) as ei:
        app.main(["--weights", str(d)])
    msg = str(ei.value.code)
    assert msg.startswith("SLER-IR Studio: cannot load the weights"), msg
    assert "Traceback" not in msg and "\n" not in msg.strip()


def test_no_pickle_on_any_path_a_user_reaches():
    """Static: the only unpickling call in the shipped code is the trainer's resume of its own
    training state; the app never imports the trainer (checked in a fresh interpreter below)."""
    pattern = re.compile(r"torch\.load\(|pickle\.loads?\(|Unpickler\(|allow_pickle\s*=\s*True|joblib\.load|dill\.")
    hits = []
    for f in [ROOT / "app.py", *(ROOT / "slerir").rglob("*.py"), *(ROOT / "demo").rglob("*.py"),
              *(ROOT / "analysis").rglob("*.py")]:
        for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line) and not line.lstrip().startswith("#"):
                hits.append(f"{f.relative_to(ROOT)}:{i}")
    assert all(h.startswith("slerir/train.py:") for h in hits), hits


@pytest.mark.slow
def test_fresh_app_process_never_unpickles_and_cleans_its_scratch(weights_dir, corpus, corpus_dir):
    """In a fresh interpreter: import app.py, load the weights, restore corpus files, with every
    unpickling entry point wrapped to count calls; the trainer is never imported; and the
    scratch folder of the demo is gone after the process exits (it used to stay behind)."""
    code = textwrap.dedent(f"""
        import pickle, sys, torch
        calls = []
        def wrap(mod, name):
            orig = getattr(mod, name)
            def f(*a, **kw):
                calls.append(mod.__name__ + "." + name)
                return orig(*a, **kw)
            setattr(mod, name, f)
        for n in ("load", "loads"):
            wrap(pickle, n)
        wrap(torch, "load")
        class CountingUnpickler(pickle.Unpickler):
            def load(self):
                calls.append("pickle.Unpickler.load")
                return super().load()
        pickle.Unpickler = CountingUnpickler
        torch.set_num_threads(1)
        import app  # noqa: F401
        from demo.ui import MAX_PIXELS, TILE, build_demo
        from slerir.inference import Restorer
        demo = build_demo(Restorer.from_pretrained({str(weights_dir)!r}, max_pixels=MAX_PIXELS, tile=TILE))
        cb = demo.slerir_callbacks
        for name in ("valid.png", "rgba.png", "exif_rot.jpg", "text.png", "bomb.png", "huge.png"):
            try:
                cb.restore({str(corpus_dir)!r} + "/" + name, progress=None)
            except Exception as e:
                print("ERR", name, type(e).__name__, str(e)[:100])
        print("SCRATCH", cb.scratch.dir, len(list(cb.scratch.dir.rglob("*.png"))))
        print("UNPICKLE_CALLS", len(calls), calls[:3])
        print("TRAINER_IMPORTED", "slerir.train" in sys.modules)
    """)
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=240,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr[-3000:]
    out = dict(line.split(" ", 1) for line in r.stdout.splitlines() if " " in line)
    assert out["UNPICKLE_CALLS"].startswith("0 "), out["UNPICKLE_CALLS"]
    assert out["TRAINER_IMPORTED"] == "False"
    scratch, n = out["SCRATCH"].rsplit(" ", 1)
    assert int(n) >= 3, "the restorations wrote no PNGs?"
    assert not Path(scratch).exists(), f"scratch folder {scratch} left behind after exit"


# ---------------------------------------------------------------------------------------------
# what the server serves


def _get(served, raw: str) -> httpx.Response:
    return httpx.get(served.url.rstrip("/") + raw, timeout=30, follow_redirects=False)


def test_serves_no_path_outside_assets_and_temp(served, weights_dir, corpus, corpus_dir):
    port = served.url.rstrip("/").rsplit(":", 1)[1]
    secrets = {
        "/etc/passwd": "root:",
        "/proc/self/environ": "PATH=",
        str(ROOT / "app.py"): "def main",
        "app.py": "def main",  # relative to the server's working directory
        str(weights_dir / "model.safetensors"): "slerir_config",
        str(weights_dir / "config.json"): '"model"',
        str(corpus_dir / "valid.png"): "PNG",  # in /tmp, but never uploaded
    }
    urls = {f"/gradio_api/file={p}": s for p, s in secrets.items()}
    urls.update({
        "/gradio_api/file=%2e%2e/%2e%2e/%2e%2e/etc/passwd": "root:",
        f"/gradio_api/file={ROOT}/assets/%2e%2e/app.py": "def main",  # out of the allowed folder
        f"/gradio_api/file={served.temp_dir}/%2e%2e/%2e%2e/%2e%2e/etc/passwd": "root:",  # out of the temp folder
        "/gradio_api/file=%2Fetc%2Fpasswd": "root:",
        "/file=/etc/passwd": "root:",  # Gradio 3 route
        "/file=../../app.py": "def main",
        f"/gradio_api/file=http://127.0.0.1:{port}/gradio_api/file=/etc/passwd": "root:",  # no SSRF to loopback
    })
    for u, secret in urls.items():
        r = _get(served, u)
        assert r.status_code in (400, 403, 404), f"{u}: HTTP {r.status_code}"
        assert secret not in r.text, f"{u} leaked content"

    # positive controls: the shipped examples and the app's own outputs are served
    examples = sorted((ROOT / "assets" / "examples").glob("*.png"))
    if examples:
        assert _get(served, f"/gradio_api/file={examples[0]}").status_code == 200
    from tests.reliability import corpus as C

    got = C.app_restore(served.client, corpus_dir / "valid.png", served.url)
    url = got.value[1][1]["url"]
    assert httpx.get(url, timeout=30).content == got.value[0]


@pytest.mark.parametrize("path", ["/etc/passwd", "{weights}/model.safetensors", "{root}/app.py"])
def test_api_cannot_name_a_server_file_as_input(served, weights_dir, path):
    """A client that skips the upload and names a server file in the request gets an error, not it."""
    path = path.format(weights=weights_dir, root=ROOT)
    r = httpx.post(served.url + "gradio_api/call/restore",
                   json={"data": [{"path": path, "meta": {"_type": "gradio.FileData"}}]}, timeout=30)
    assert r.status_code == 200
    events = httpx.get(served.url + f"gradio_api/call/restore/{r.json()['event_id']}", timeout=60).text
    assert "event: error" in events and "complete" not in events, events[:300]
    assert "root:" not in events and "Traceback" not in events


def _non_loopback_ip() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))  # no packet is sent
            ip = s.getsockname()[0]
    except OSError:
        return None
    return None if ip.startswith("127.") or ip == "0.0.0.0" else ip


def test_binds_loopback_by_default_and_follows_the_platform(served, monkeypatch):
    import app
    from demo.ui import launch_kwargs

    launched_with = os.environ.get("GRADIO_SERVER_NAME") or "127.0.0.1"  # what the served app read
    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    monkeypatch.delenv("GRADIO_SERVER_PORT", raising=False)
    a = app.parse_args([])
    kw = launch_kwargs(server_name=a.host, server_port=a.port)
    assert (kw["server_name"], kw["server_port"]) == ("127.0.0.1", 7860)
    assert launch_kwargs(server_name="::1")["server_name"] == "::1"  # --host wins
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")  # what a Hugging Face Space sets
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7861")
    a = app.parse_args([])
    kw = launch_kwargs(server_name=a.host, server_port=a.port)
    assert (kw["server_name"], kw["server_port"]) == ("0.0.0.0", 7861)

    # the running app: loopback only (unless the environment asked otherwise)
    assert served.demo.server_name == launched_with
    if launched_with == "127.0.0.1":
        ip = _non_loopback_ip()
        if ip:
            port = int(served.url.rstrip("/").rsplit(":", 1)[1])
            with socket.socket() as s:
                s.settimeout(2)
                assert s.connect_ex((ip, port)) != 0, f"the server answers on {ip}"


def test_upload_size_is_limited(served, monkeypatch):
    from demo.ui import MAX_FILE_SIZE, launch_kwargs

    assert launch_kwargs()["max_file_size"] == MAX_FILE_SIZE == "50mb"
    assert served.demo.max_file_size == 50 * 1024 * 1024
    # enforced by the server: lower the limit of the running app and upload just above it
    monkeypatch.setattr(served.demo, "max_file_size", 10_000)
    r = httpx.post(served.url + "gradio_api/upload", files={"files": ("big.png", b"\0" * 10_001)}, timeout=30)
    assert r.status_code == 413 and "maximum allowed size" in r.text
    r = httpx.post(served.url + "gradio_api/upload", files={"files": ("ok.png", b"\0" * 9_000)}, timeout=30)
    assert r.status_code == 200
