"""Latency of SLER-IR Studio as a user meets it, on this machine (prints medians).

1. start-up: from spawning ``python app.py`` to the page being served (first HTTP 200 on "/"),
   and to the first ``/restore`` answered through ``gradio_client``;
2. ``/restore`` of a 512x512 image (round trip through gradio_client: upload, network, PNG
   encoding included), and ``Restorer.restore`` alone in the server process for reference;
3. ``/analyze`` right after ``/restore`` of the same image (the UI's flow: routing, GLGF with its
   two extra restorations, embedding views), warm;
4. a 3-megapixel photo (2000x1500): ``/restore`` (full size) and ``/analyze`` (views of a 768-px copy),
   as ratios to the 512x512 figures of the same run, and a 512x512 ``/restore`` submitted while a 3 MP
   ``/analyze`` runs, as a ratio to its lone time;
5. with ``--mem16``: the peak RSS (VmHWM) of a fresh app after a 512x512 restore and restoring and analysing
   a 16 MP (4096x4096) upload.

Every timed request uses a new image (different noise seeds), so no cached result is reused.
Targets (issue 31): page served <= 10 s, 512x512 analysis <= 2 s warm on 2 CPU cores; 3 MP restore
<= 15x and analysis <= 4x the 512x512 figures; a 512x512 restore beside a 3 MP analysis <= 3x its lone
time; peak RSS with a 16 MP upload <= 2.5 GB.

Usage: python benchmarks/app_latency.py [--weights PATH] [--runs 5] [--big-runs 1] [--mem16] [--port 7899]
"""
from __future__ import annotations

import argparse
import contextlib
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


def make_big_images(n: int, out: Path, size: tuple[int, int] = (1500, 2000), tag: str = "3mp") -> list[Path]:
    """n photos of ``size`` (h, w): scikit-image's astronaut enlarged, with sensor-like noise (different seeds)."""
    import numpy as np
    import skimage.data
    from PIL import Image

    sys.path.insert(0, str(ROOT))
    from slerir.degradations import DegradationSpec, degrade
    from slerir.imaging import to_uint8

    clean = np.asarray(Image.fromarray(skimage.data.astronaut()).resize((size[1], size[0]), Image.BICUBIC))
    paths = []
    for i in range(n):
        img = degrade(clean, [DegradationSpec("noise", sigma=15.0)], seed=2000 + i).image
        p = out / f"bench_{tag}_{i}.png"
        Image.fromarray(to_uint8(img)).save(p, compress_level=1)
        paths.append(p)
    return paths


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a process in MB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


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


@contextlib.contextmanager
def app_server(args, env: dict, stderr=subprocess.DEVNULL):
    """``python app.py`` on a free port, answering HTTP; yields (process, url) and stops it afterwards."""
    port = free_port(args.port)
    url = f"http://127.0.0.1:{port}/"
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--weights", args.weights, "--port", str(port),
                             "--threads", str(args.threads)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr, text=True)
    try:
        wait_http(url, proc)
        yield proc, url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", default=os.environ.get("SLERIR_WEIGHTS") or str(ROOT / "assets" / "weights"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--starts", type=int, default=3, help="how many cold starts to time")
    ap.add_argument("--port", type=int, default=7899)
    ap.add_argument("--threads", type=int, default=0, help="torch threads in the app (0: its default)")
    ap.add_argument("--big-runs", type=int, default=1, help="3 MP runs (0: skip the 3 MP case)")
    ap.add_argument("--mem16", action="store_true", help="also measure peak RSS with a 16 MP upload")
    ap.add_argument("--json", default=None, help="also write the numbers here")
    args = ap.parse_args()

    from gradio_client import Client, handle_file

    tmp = Path(tempfile.mkdtemp(prefix="slerir_bench_"))
    images = make_images(2 * args.runs + args.starts + 1 + args.big_runs, tmp)
    big = make_big_images(2 * args.big_runs, tmp)
    huge = make_big_images(1, tmp, (4096, 4096), "16mp") if args.mem16 else []
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    results: dict[str, list[float]] = {"startup_page_s": [], "startup_first_restore_s": [],
                                       "restore_512_s": [], "restore_512_server_s": [], "analyze_warm_s": [],
                                       "restore_3mp_s": [], "analyze_3mp_s": [], "restore_512_beside_3mp_analysis_s": [],
                                       "peak_rss_16mp_mb": []}
    img_i = 0
    for start in range(args.starts):
        t0 = time.perf_counter()
        with app_server(args, env, stderr=subprocess.PIPE) as (proc, url):
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
                for b in range(args.big_runs):
                    p = handle_file(str(big[2 * b]))
                    t = time.perf_counter()
                    client.predict(p, api_name="/restore")
                    results["restore_3mp_s"].append(time.perf_counter() - t)
                    t = time.perf_counter()
                    client.predict(p, 0.55, api_name="/analyze")
                    results["analyze_3mp_s"].append(time.perf_counter() - t)
                    # another user's 512x512 restore while a 3 MP analysis runs (a fresh photo: not cached)
                    other = Client(url, verbose=False, download_files=False)
                    job = client.submit(handle_file(str(big[2 * b + 1])), 0.55, api_name="/analyze")
                    t_end = time.monotonic() + 120
                    while time.monotonic() < t_end and job.status().code.name not in ("PROCESSING", "ITERATING"):
                        time.sleep(0.05)  # uploaded, queued: wait until the analysis runs
                    time.sleep(0.3)
                    t = time.perf_counter()
                    other.predict(handle_file(str(images[img_i])), api_name="/restore")
                    img_i += 1
                    results["restore_512_beside_3mp_analysis_s"].append(time.perf_counter() - t)
                    if job.done():
                        print("note: the 3 MP analysis ended before the 512x512 restore did", file=sys.stderr)
                    job.result(timeout=600)
    if huge:  # a fresh server: its peak is that of this upload, not of the 3 MP runs before it
        with app_server(args, env) as (proc, url):
            client = Client(url, verbose=False, download_files=False)
            client.predict(handle_file(str(images[0])), api_name="/restore")  # the app as a user finds it: warm
            p = handle_file(str(huge[0]))
            client.predict(p, api_name="/restore")
            client.predict(p, 0.55, api_name="/analyze")
            results["peak_rss_16mp_mb"].append(peak_rss_mb(proc.pid))
    import torch

    threads = args.threads or torch.get_num_threads()
    print(f"SLER-IR Studio latency ({os.cpu_count()} CPUs, torch threads in the app {threads}, "
          f"weights {args.weights}); medians over runs:")
    targets = {"startup_page_s": 10, "startup_first_restore_s": 10, "restore_512_s": 1.0,
               "restore_512_server_s": 1.0, "analyze_warm_s": 2.0, "peak_rss_16mp_mb": 2560}
    summary = {}
    med = {k: statistics.median(v) for k, v in results.items() if v}
    for k, v in results.items():
        if not v:
            continue
        unit = "MB" if k.endswith("_mb") else "s"
        summary[k] = {"median": round(med[k], 3), "runs": [round(x, 3) for x in v], "target": targets.get(k)}
        ok = "" if k not in targets else f"target <= {targets[k]} {unit}: {'ok' if med[k] <= targets[k] else 'OVER'}; "
        print(f"  {k:34s} {med[k]:8.3f} {unit}   ({ok}runs {', '.join(f'{x:.2f}' for x in v)})")
    # the 3 MP case, as ratios to the 512x512 figures of this run
    for k, ref, target in (("restore_3mp_s", "restore_512_s", 15.0), ("analyze_3mp_s", "analyze_warm_s", 4.0),
                           ("restore_512_beside_3mp_analysis_s", "restore_512_s", 3.0)):
        if k in med and ref in med:
            ratio = med[k] / med[ref]
            summary[f"{k}_ratio"] = {"ratio": round(ratio, 2), "to": ref, "target": target}
            print(f"  {k + ' / ' + ref:60s} {ratio:6.2f}x  (target <= {target}x: {'ok' if ratio <= target else 'OVER'})")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
