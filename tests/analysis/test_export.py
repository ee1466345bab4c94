"""Static PNG/SVG export of plotly figures (kaleido driving the locally installed Chromium)."""
import importlib.util
import os

import plotly.graph_objects as go
import pytest
from PIL import Image

from analysis import figures as F
from analysis.export import export_static, find_browser, parse_formats

HAVE_EXPORTER = bool(find_browser() and importlib.util.find_spec("kaleido"))


def test_parse_formats():
    assert parse_formats("png,svg") == ("png", "svg")
    assert parse_formats(" SVG ") == ("svg",)
    assert parse_formats("png,png") == ("png",)
    assert parse_formats("none") == () and parse_formats("") == ()
    with pytest.raises(ValueError, match="pdf"):
        parse_formats("png,pdf")


def test_no_browser_is_said_not_raised(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on it
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "missing"))
    assert find_browser() is None
    fig = go.Figure(go.Bar(x=[1, 2], y=[3, 4]))
    written, why = export_static([(fig, tmp_path / "bar")], ("png",))
    assert written == [] and why is not None and "not written" in why
    assert not (tmp_path / "bar.png").exists()


def test_nothing_asked_nothing_done(tmp_path):
    assert export_static([], ("png",)) == ([], None)
    assert export_static([(go.Figure(), tmp_path / "x")], ()) == ([], None)


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_EXPORTER and not os.environ.get("CI"), reason="needs kaleido and Debian's chromium")
def test_png_and_svg_of_real_figures(tmp_path):
    bar = F.nmi_figure({"enc0.b0": 0.2, "mid.b0": 0.5})
    sph = go.Figure(go.Scatter3d(x=[0, 1], y=[0, 1], z=[1, 0], mode="markers"))
    sph.update_layout(width=400, height=300)
    written, why = export_static([(bar, tmp_path / "nmi"), (sph, tmp_path / "sub" / "sphere")], ("png", "svg"),
                                 scale=2)
    assert why is None, why
    assert sorted(p.name for p in written) == ["nmi.png", "nmi.svg", "sphere.png", "sphere.svg"]
    with Image.open(tmp_path / "sub" / "sphere.png") as im:
        assert im.size == (800, 600)  # layout size x scale
        assert len(set(im.convert("L").getdata())) > 2  # something was drawn
    assert b"<svg" in (tmp_path / "nmi.svg").read_bytes()[:2000]
