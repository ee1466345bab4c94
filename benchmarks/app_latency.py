"""Latency of SLER-IR Studio as a user meets it, on this machine (prints medians).

1. start-up: from spawning ``python app.py`` to the page being served (first HTTP 200 on "/"),
   and to the first ``/restore`` answered through ``gradio_client``;
2. ``/restore`` of a 512x512 image (round trip through gradio_client: upload, network, PNG
   encoding included), and ``Restorer.restore`` alone in the server process for reference;
3. ``/analyze`` right after ``/restore`` of the same image (the UI's flow: routing, GLGF with its
   two extra restorations, embedding views), warm.

Every timed request uses a new image (different noise seeds), so no cached result is reused.
Targets (issue): start-up <= 10 s, restore <= 1 s, analysis <= 2 s on 2 CPU cores.

Usage: python benchmarks/app_latency.py [--weights PATH] [--runs 5] [--port 7899]
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port(preferred: int) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]


def make_images(n: int, out: Path) -> list[Path]:
    """n 512x512 noisy versions of scikit-image's astronaut (sigma 25, different seeds)."""
    import numpy as np
    import skimage.data
    from PIL import Image

    sys.path.insert(0, str(ROOT))
    from slerir.degradations import DegradationSpec, degrade
    from slerir.imaging import to_uint8

    clean = skimage.data.astronaut()
    paths = []
    for i in range(n):
        img = degrade(clean, [DegradationSpec("noise", sigma=25.0)], seed=1000 + i).image
        p = out / f"bench_{i}.png"
        Image.fromarray(to_uint8(img)).save(p)
        paths.append(p)
    return paths


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", default=os.environ.get("SLERIR_WEIGHTS") or str(ROOT / "assets" / "weights"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--starts", type=int, default=3, help="how many cold starts to time")
    ap.add_argument("--port", type=int, default=7899)
    ap.add_argument("--threads", type=int, default=0, help="torch threads in the app (0: its default)")
    ap.add_argument("--json", default=None, help="also write the numbers here")
    args = ap.parse_args()

    from gradio_client import Client, handle_file

    tmp = Path(tempfile.mkdtemp(prefix="slerir_bench_"))
    images = make_images(2 * args.runs + args.starts + 1, tmp)
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    results: dict[str, list[float]] = {"startup_page_s": [], "startup_first_restore_s": [],
                                       "restore_512_s": [], "restore_512_server_s": [], "analyze_warm_s": []}
    img_i = 0
    for start in range(args.starts):
        port = free_port(args.port)
        url = f"http://127.0.0.1:{port}/"
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--weights", args.weights, "--port", str(port),
                                 "--threads", str(args.threads)],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            wait_http(url, proc)
            results["startup_page_s"].append(time.perf_counter() - t0)
            # download_files=False: time the server and the transfer of results, not writing them to disk here
            client = Client(url, verbose=False, download_files=False)
            client.predict(handle_file(str(images[img_i])), api_name="/restore")
            img_i += 1
            results["startup_first_restore_s"].append(time.perf_counter() - t0)
            if start == args.starts - 1:  # warm measurements on the last server
                for _ in range(args.runs):
                    p = handle_file(str(images[img_i]))
                    img_i += 1
                    t = time.perf_counter()
                    out = client.predict(p, api_name="/restore")
                    results["restore_512_s"].append(time.perf_counter() - t)
                    secs = float(out[3].split("in **")[1].split(" s")[0])
                    results["restore_512_server_s"].append(secs)
                    t = time.perf_counter()
                    client.predict(p, 0.55, api_name="/analyze")
                    results["analyze_warm_s"].append(time.perf_counter() - t)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    import torch

    threads = args.threads or torch.get_num_threads()
    print(f"SLER-IR Studio latency ({os.cpu_count()} CPUs, torch threads in the app {threads}, "
          f"weights {args.weights}); medians over runs:")
    targets = {"startup_page_s": 10, "startup_first_restore_s": 10, "restore_512_s": 1.0,
               "restore_512_server_s": 1.0, "analyze_warm_s": 2.0}
    summary = {}
    for k, v in results.items():
        if not v:
            continue
        med = statistics.median(v)
        summary[k] = {"median": round(med, 3), "runs": [round(x, 3) for x in v], "target": targets[k]}
        ok = "ok" if med <= targets[k] else "OVER"
        print(f"  {k:26s} {med:7.3f} s   (target <= {targets[k]} s: {ok}; runs {', '.join(f'{x:.2f}' for x in v)})")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
