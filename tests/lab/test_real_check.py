"""lab.real_check: paired gains and recognition of the real photos, on a tiny real/ tree and a stub restorer."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
from PIL import Image

from lab import real_check

CLASSES = ("clean", "noise", "rain", "haze", "blur", "lowlight")


class _Stub:
    """Restores by returning the input brightened by 0.02; calls every photo whose first pixel is dark haze,
    with rain second, and every other photo rain."""

    classes = CLASSES

    def _probs(self, x):
        p = np.full(len(CLASSES), 0.02)
        dark = (x[0, 0, 0] if x.dtype != np.uint8 else x[0, 0, 0] / 255) < 0.5
        p[CLASSES.index("haze" if dark else "rain")] = 0.8
        if dark:
            p[CLASSES.index("rain")] = 0.12
        return p / p.sum()

    def classify(self, x):
        return self._probs(x)

    def restore(self, x, capture=False):
        xf = x.astype(np.float32) / 255 if x.dtype == np.uint8 else x
        p = self._probs(x)
        return SimpleNamespace(image=np.clip(xf + 0.02, 0, 1), predicted_class=CLASSES[int(p.argmax())])


def _save(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((16, 16, 3), value, np.uint8)).save(path)


def test_check_reports_gains_recognition_and_near_misses(tmp_path):
    root = tmp_path / "real"
    _save(root / "SIDD_samples" / "input" / "0.png", 100)
    _save(root / "SIDD_samples" / "target" / "0.png", 110)
    _save(root / "SIRR_real_rain" / "input" / "a.png", 200)   # called rain
    _save(root / "SIRR_real_rain" / "input" / "b.png", 20)    # called haze, rain second
    r = real_check.check(_Stub(), root)
    sidd = r["paired"]["SIDD_samples"]
    assert sidd["n"] == 1 and sidd["gain"] > 0 and sidd["below_input"] == 0
    rain = r["noref"]["SIRR_real_rain"]
    assert rain["n"] == 2 and rain["recognised"] == 0.5 and rain["predicted"] == {"rain": 1, "haze": 1}
    assert rain["second_choice"] == 1 and [x["kind_rank"] for x in rain["images"]] == [1, 2]
    assert abs(rain["kind_prob"] - np.mean([x["probs"]["rain"] for x in rain["images"]])) < 1e-9
    assert r["recognition_by_kind"] == {"rain": 0.5}
    md = real_check.to_markdown({"command": "c", "weights": {"w": {**r, "seconds": 1.0}}})
    assert "| SIRR_real_rain | rain | 2 | 50% | rain 1, haze 1 |" in md and "| 1 of 1 |" in md
    json.dumps(r)  # the JSON beside the table


def test_missing_real_folder_is_a_clear_error(tmp_path, capsys):
    assert real_check.main(["--data-root", str(tmp_path)]) == 2
    assert "no real/ folder" in capsys.readouterr().err
