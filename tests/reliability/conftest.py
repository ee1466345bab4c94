"""Fixtures of the reliability suite: the generated bad-input corpus, a restorer with the demo's
own settings, and the app served on 127.0.0.1 exactly as ``app.py`` builds it (size guard, tile,
queue, cache cleanup, upload limit), with its own Gradio temp folder so that files can be counted.

The model is the small random one of ``tests/conftest.py`` (``weights_dir``): reliability does
not depend on what the weights learned.
"""
from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from tests.reliability import corpus as corpus_mod

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_reset() -> bool:
    """Reset the kernel's peak-RSS counter of this process (Linux >= 4.0); False if unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """Peak resident memory of this process (the server runs in it) in MiB: VmHWM, which
    ``peak_rss_reset`` can reset, else ``getrusage`` (lifetime peak)."""
    try:
        m = re.search(r"VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text())
        if m:
            return int(m.group(1)) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.fixture(scope="package")
def _built_corpus(tmp_path_factory) -> tuple[Path, dict[str, corpus_mod.Case]]:
    d = tmp_path_factory.mktemp("corpus")
    return d, corpus_mod.build(d)


@pytest.fixture(scope="package")
def corpus_dir(_built_corpus) -> Path:
    """The folder of the generated corpus (built on first use)."""
    return _built_corpus[0]


@pytest.fixture(scope="package")
def corpus(_built_corpus) -> dict[str, corpus_mod.Case]:
    """{file name: Case} of the generated corpus."""
    return _built_corpus[1]


@pytest.fixture(scope="package")
def demo_restorer(weights_dir):
    """What app.py builds: Restorer.from_pretrained(weights, max_pixels=MAX_PIXELS, tile=TILE)."""
    from demo.ui import MAX_PIXELS, TILE
    from slerir.inference import Restorer

    torch.set_num_threads(1)
    return Restorer.from_pretrained(weights_dir, max_pixels=MAX_PIXELS, tile=TILE)


@dataclass
class Served:
    demo: object
    url: str
    client: Client
    temp_dir: Path  # GRADIO_TEMP_DIR of this app

    def files(self) -> set[Path]:
        return {p for p in self.temp_dir.rglob("*") if p.is_file()}

    def tracked(self) -> set[str]:
        """Files Gradio will delete on its delete_cache schedule."""
        out: set[str] = set()
        for s in self.demo.temp_file_sets:
            out |= set(s)
        return out


@pytest.fixture(scope="package")
def served(demo_restorer, tmp_path_factory):
    """The app as app.py launches it (build_demo defaults + launch_kwargs), on a free port."""
    from demo.ui import build_demo, launch_kwargs

    temp_dir = tmp_path_factory.mktemp("gradio_tmp")
    old = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = str(temp_dir)  # read at build, launch and request time
    try:
        demo = build_demo(demo_restorer)
        kw = launch_kwargs(server_port=free_port(), prevent_thread_lock=True, quiet=True)
        _, url, _ = demo.launch(**kw)
        client = Client(url, verbose=False, download_files=False)
        yield Served(demo, url, client, temp_dir)
        demo.close()
    finally:
        if old is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = old


@pytest.fixture
def no_result_cache(served, monkeypatch):
    """Every request runs the network (the demo caches restorations by pixels + options)."""
    monkeypatch.setattr(served.demo.slerir_callbacks.cache, "get", lambda key: None)
