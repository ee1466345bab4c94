"""The shipped model's outputs, bit for bit (issue 29: "behaviour of the shipped model unchanged").

``tests/slerir/data/golden_outputs.json`` holds the SHA-256 of the restored uint8 images of three
shipped examples (one cropped to odd sides, so padding is exercised; one restored in 128-px tiles, so
tiling is exercised) and of one example's routing weights, GLGF alpha map and class probabilities
(float32 bytes), all from ``Restorer.from_pretrained("assets/weights")`` on one CPU thread.

Floating-point sums depend on the thread count and on the CPU's vector instructions, so the hashes are
compared where the recording environment (torch version, CPU capability and the matrix instructions oneDNN
picks kernels by: two AVX512 machines with and without AMX differ in the last bit) matches; elsewhere the test
compares the per-channel means of the uint8 outputs instead (within 0.05 grey levels), which still
catches any change to the model's behaviour but not a last-bit difference.

Re-record only on purpose (new shipped weights), never to make a refactor pass:
``python tests/slerir/test_golden_outputs.py --record``.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "data" / "golden_outputs.json"
EXAMPLES = REPO / "assets" / "examples"
WEIGHTS = REPO / "assets" / "weights"


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


# CPU flags that change oneDNN's convolution kernels within one torch CPU capability (Linux /proc/cpuinfo)
KERNEL_FLAGS = ("avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8")


def _cpu_flags() -> list[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return sorted(set(flags) & set(KERNEL_FLAGS))


def _environment() -> dict:
    return {"torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "cpu_flags": _cpu_flags()}


def compute() -> dict:
    """Run the shipped model on the golden cases (one CPU thread) and return the record."""
    from slerir.imaging import to_uint8
    from slerir.inference import Restorer

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        r = Restorer.from_pretrained(WEIGHTS, device="cpu") if _accepts_device() else Restorer.from_pretrained(WEIGHTS)
        cases: dict[str, dict] = {}

        def image_entry(res) -> dict:
            u8 = to_uint8(res.image)
            return {"sha256": _sha(u8.tobytes()), "shape": list(u8.shape), "tiles": res.tiles,
                    "channel_means": [round(float(v), 4) for v in u8.reshape(-1, 3).mean(0)]}

        # 384x255: an odd side, padded by the model's multiple
        cases["noise_chelsea"] = image_entry(r.restore(EXAMPLES / "noise_chelsea.png", capture=False))
        # a 301x203 crop restored in 128-px tiles: odd sides and tiling with a whole-image global embedding
        crop = np.asarray(Image.open(EXAMPLES / "haze_motorcycle.png").convert("RGB"))[5:5 + 203, 7:7 + 301]
        cases["haze_motorcycle_crop_tiled"] = image_entry(r.restore(np.ascontiguousarray(crop), capture=False, tile=128))
        res = r.restore(EXAMPLES / "mixed_noise_haze_rocket.png", capture=True)
        e = image_entry(res)
        e["routing_sha256"] = _sha(b"".join(np.ascontiguousarray(m.weights, np.float32).tobytes() for m in res.routing))
        e["routing_layers"] = [m.name for m in res.routing]
        e["alpha_sha256"] = _sha(np.ascontiguousarray(res.alpha, np.float32).tobytes())
        e["class_probs_sha256"] = _sha(np.ascontiguousarray(res.class_probs, np.float32).tobytes())
        cases["mixed_noise_haze_rocket"] = e
    finally:
        torch.set_num_threads(threads)
    return {"environment": {**_environment(), "threads": 1}, "cases": cases}


def _accepts_device() -> bool:
    import inspect

    from slerir.inference import Restorer

    return "device" in inspect.signature(Restorer.__init__).parameters


@pytest.fixture(scope="module")
def golden() -> dict:
    return json.loads(GOLDEN.read_text())


@pytest.fixture(scope="module")
def current() -> dict:
    return compute()


def test_shipped_outputs_unchanged(golden, current):
    env = _environment()
    same_env = {k: golden["environment"].get(k) for k in env} == env  # a record without cpu_flags: means only
    assert current["cases"].keys() == golden["cases"].keys()
    for name, want in golden["cases"].items():
        got = current["cases"][name]
        assert got["shape"] == want["shape"] and got["tiles"] == want["tiles"], name
        if same_env:
            for key in [k for k in want if k.endswith("sha256")]:
                assert got[key] == want[key], f"{name}: {key} changed: the shipped model's output is no longer bit-identical"
        else:  # another CPU or torch: last bits may differ; the picture may not
            np.testing.assert_allclose(got["channel_means"], want["channel_means"], atol=0.05, err_msg=name)
    assert current["cases"]["mixed_noise_haze_rocket"]["routing_layers"] == golden["cases"]["mixed_noise_haze_rocket"]["routing_layers"]


def test_golden_cases_exercise_padding_and_tiling(golden):
    cases = golden["cases"]
    assert any(c["shape"][0] % 8 or c["shape"][1] % 8 for c in cases.values())  # an unpadded side
    assert max(c["tiles"] for c in cases.values()) > 1


if __name__ == "__main__":
    if "--record" not in sys.argv:
        sys.exit("usage: python tests/slerir/test_golden_outputs.py --record   (rewrites the golden file)")
    sys.path.insert(0, str(REPO))
    GOLDEN.write_text(json.dumps(compute(), indent=1) + "\n")
    print(f"wrote {GOLDEN}")
