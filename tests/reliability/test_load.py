"""Issue item 2: many users at once. 36 simultaneous ``/restore`` requests through gradio_client
(24 valid on 6 different images, 12 invalid), bounded in count and time.

* every valid request ends with the same bytes as a lone request (the result cache is disabled, so
  every one runs the network), every invalid one with its clear error;
* the queue never holds more than ``QUEUE_MAX_SIZE`` requests: the overflow is refused at once with
  "Queue is full" (HTTP 503) and the client tries again later, as a person would;
* peak resident memory of the process that serves (this one) stays under ``PEAK_RSS_BOUND_MB``;
* every file the burst left in Gradio's temp folder is tracked for ``delete_cache`` and goes when
  the cleanup runs; our own PNG scratch folder is pruned by age.
"""
from __future__ import annotations

import os
import random
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.reliability import corpus as C
from tests.reliability.conftest import free_port, peak_rss_mb, peak_rss_reset

VALID = ["valid.png", "rgba.png", "gray16.png", "palette.png", "cmyk.jpg", "exif_rot.jpg"]
INVALID = ["text.png", "truncated.png", "truncated.jpg", "1x1.png", "huge.png", "bomb.png"]
REQUESTS = VALID * 4 + INVALID * 2  # 36
PEAK_RSS_BOUND_MB = 2560  # stated bound for the serving process (torch + gradio + this tiny model: ~0.6 GB)
DEADLINE_S = 150  # the whole burst, retries included (about 5-20 s on 2 busy cores)
FILES_PER_REQUEST = 4  # upload + before + restored (+ a downscaled "after" for big images)


def _depth(demo) -> int:
    """Requests waiting in Gradio's queue (read from another thread: retry if it changes meanwhile)."""
    for _ in range(100):
        try:
            return len(demo._queue)
        except RuntimeError:  # dictionary changed size during iteration
            time.sleep(0.001)
    raise AssertionError("could not read the queue length")


def _one(served, path, deadline):
    """Send one request until it is accepted; returns (Outcome, refusals seen)."""
    from gradio_client.utils import QueueError

    refused = 0
    while True:
        try:
            return C.app_restore(served.client, path, served.url, timeout=max(1.0, deadline - time.monotonic())), refused
        except QueueError as e:
            assert "Queue is full" in str(e)
            refused += 1
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path.name}: still refused after {refused} tries") from e
            time.sleep(0.2 + random.random() * 0.5)


@pytest.mark.slow
def test_concurrent_burst(served, corpus, corpus_dir, no_result_cache):
    from demo.ui import DELETE_CACHE, QUEUE_MAX_SIZE
    from gradio.route_utils import delete_files_created_by_app

    demo, cb = served.demo, served.demo.slerir_callbacks
    assert demo._queue.max_size == QUEUE_MAX_SIZE < len(REQUESTS)
    assert DELETE_CACHE and demo.delete_cache == DELETE_CACHE and all(v > 0 for v in DELETE_CACHE)

    # lone requests: the reference bytes
    lone = {}
    for n in VALID:
        got = C.app_restore(served.client, corpus_dir / n, served.url)
        assert got.ok, got.text
        lone[n] = got.value[0]

    files_before = served.files()
    reset = peak_rss_reset()
    rss0 = peak_rss_mb()
    depth = {"max": 0}
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            depth["max"] = max(depth["max"], _depth(demo))
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = threading.Barrier(len(REQUESTS))
    deadline = time.monotonic() + DEADLINE_S

    def worker(name):
        start.wait(timeout=30)  # all 36 leave together
        return name, *_one(served, corpus_dir / name, deadline)

    t0 = time.monotonic()
    try:
        with ThreadPoolExecutor(len(REQUESTS)) as ex:
            results = list(ex.map(worker, REQUESTS, timeout=DEADLINE_S + 30))
    finally:
        stop.set()
        sampler.join()
    wall = time.monotonic() - t0
    peak = peak_rss_mb()

    refusals = sum(r for _, _, r in results)
    for name, got, _ in results:
        case = corpus[name]
        if name in VALID:
            assert got.ok, f"{name}: {got.text}"
            assert got.value[0] == lone[name], f"{name}: concurrent output differs from the lone request"
        else:
            assert not got.ok and re.search(case.app_error, got.text), f"{name}: {got.text}"
    print(f"\nburst: {len(REQUESTS)} requests in {wall:.1f} s, {refusals} 'queue full' refusals retried, "
          f"max queue depth {depth['max']}, peak RSS {peak:.0f} MiB (at start {rss0:.0f}, reset={reset})")
    assert depth["max"] <= QUEUE_MAX_SIZE
    assert peak < PEAK_RSS_BOUND_MB, f"peak RSS {peak:.0f} MiB"

    # temp files: bounded per request, all tracked by delete_cache, and gone when it runs
    new = served.files() - files_before
    attempts = len(REQUESTS) + refusals
    assert len(new) <= FILES_PER_REQUEST * attempts, len(new)
    untracked = {p for p in new if str(p) not in served.tracked()}
    assert not untracked, f"files delete_cache would never remove: {sorted(untracked)[:5]}"
    delete_files_created_by_app(demo, age=0)  # what the (900 s, 1800 s) schedule runs, with age 0
    assert not (served.files() & new), "files survived Gradio's cache cleanup"

    scratch = [p for p in cb.scratch.dir.rglob("*.png")]
    assert len(scratch) <= 3 * attempts + 3 * len(VALID) + 10
    cb.scratch.max_age = 0.0
    try:
        time.sleep(0.05)
        cb.scratch.prune()
    finally:
        cb.scratch.max_age = 600.0
    assert not list(cb.scratch.dir.rglob("*.png")), "scratch PNGs not pruned by age"

    # and the server is still fine
    got = C.app_restore(served.client, corpus_dir / "valid.png", served.url)
    assert got.ok and got.value[0] == lone["valid.png"]


def test_queue_refuses_beyond_its_bound(served, corpus_dir, monkeypatch):
    """Deterministic: hold the model, fill the queue, and the next request is refused at once."""
    from demo.ui import QUEUE_MAX_SIZE, RESTORE_QUEUE
    from gradio_client.utils import QueueError

    busy = RESTORE_QUEUE["concurrency_limit"]  # restorations that run (held here) before any waits
    cb = served.demo.slerir_callbacks
    gate, entered = threading.Event(), threading.Event()
    run = cb.run

    def held_run(*a, **kw):
        entered.set()
        assert gate.wait(60)
        return run(*a, **kw)

    monkeypatch.setattr(cb, "run", held_run)
    path = corpus_dir / "valid.png"
    from gradio_client import handle_file

    jobs = [served.client.submit(handle_file(str(path)), api_name="/restore")]
    try:
        assert entered.wait(30), "the first request never started"
        jobs += [served.client.submit(handle_file(str(path)), api_name="/restore")
                 for _ in range(QUEUE_MAX_SIZE + busy - 1)]
        t_end = time.monotonic() + 30
        while _depth(served.demo) < QUEUE_MAX_SIZE and time.monotonic() < t_end:
            time.sleep(0.02)
        assert _depth(served.demo) == QUEUE_MAX_SIZE
        extra = served.client.submit(handle_file(str(path)), api_name="/restore")
        with pytest.raises(QueueError, match="Queue is full"):
            extra.result(timeout=30)
    finally:
        gate.set()
    outs = [j.result(timeout=120) for j in jobs]
    assert len(outs) == QUEUE_MAX_SIZE + busy


def test_scheduled_cache_cleanup_runs(weights_dir, corpus_dir, monkeypatch, tmp_path):
    """The real schedule, shortened: an app built with delete_cache=(1, 1) removes its files."""
    import demo.ui as ui
    from gradio_client import Client
    from slerir.inference import Restorer

    monkeypatch.setattr(ui, "DELETE_CACHE", (1, 1))
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    demo = ui.build_demo(Restorer.from_pretrained(weights_dir, max_pixels=ui.MAX_PIXELS, tile=ui.TILE))
    try:
        _, url, _ = demo.launch(**ui.launch_kwargs(server_port=free_port(), prevent_thread_lock=True, quiet=True))
        client = Client(url, verbose=False, download_files=False)
        at_start = {p for p in tmp_path.rglob("*") if p.is_file()}  # the example gallery (kept: keep_in_cache)
        got = C.app_restore(client, corpus_dir / "valid.png", url)
        assert got.ok
        made = [p for p in tmp_path.rglob("*") if p.is_file() and p not in at_start]
        assert len(made) >= 3  # upload, before, restored
        t_end = time.monotonic() + 20
        while any(p.exists() for p in made) and time.monotonic() < t_end:
            time.sleep(0.25)
        assert not [p for p in made if p.exists()], "delete_cache did not remove the app's files"
    finally:
        demo.close()


def test_scratch_prune_survives_expired_download_folders():
    """Defect found here: ``Scratch.prune`` iterated ``rglob`` while removing the one-file folders of
    expired downloads, so rglob then entered a folder that no longer existed: FileNotFoundError,
    i.e. "Something went wrong on the server" for the first requests after 10 quiet minutes."""
    import numpy as np
    from demo.callbacks import Scratch

    s = Scratch(max_age=600)
    img = np.zeros((8, 8, 3), np.uint8)
    paths = [s.png(img, "restored", exact=True) for _ in range(3)] + [s.png(img, "view") for _ in range(2)]
    old = time.time() - 3600
    for p in paths:
        os.utime(p, (old, old))
    s.prune()
    assert not list(s.dir.rglob("*")), "expired files or folders left behind"
    fresh = s.png(img, "restored", exact=True)
    s.prune()
    assert os.path.exists(fresh), "a fresh file was pruned"
