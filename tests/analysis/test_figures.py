import numpy as np
import plotly.graph_objects as go
import pytest

from analysis import figures as F
from analysis.embedding import EmbeddingBank, fit_pca_basis
from analysis.maps import EXPERT_COLORS
from slerir.config import CLASSES
from slerir.model import uniform_prototypes


def _bank(d=3):
    rng = np.random.default_rng(0)
    n = 60
    labels = np.arange(n) % 6
    protos = uniform_prototypes(6, d).numpy()
    z = protos[labels] + 0.1 * rng.normal(size=(n, d))
    return EmbeddingBank(z=z, labels=labels, kinds=np.where(np.arange(n) < 30, "global", "local"),
                         names=[f"p{i}" for i in range(n)], umap_xy=rng.normal(size=(n, 2)), prototypes=protos,
                         proto_umap_xy=rng.normal(size=(6, 2)), classes=CLASSES,
                         pca_basis=None if d == 3 else fit_pca_basis(z), meta={"layout": "umap"})


def _names(fig):
    return [t.name for t in fig.data]


@pytest.mark.parametrize("d", [3, 8])
def test_sphere_figure(d):
    b = _bank(d)
    user = b.z[0]
    fig = F.sphere_figure(b, user_global=user, user_local=b.z[:5])
    names = _names(fig)
    assert isinstance(fig, go.Figure) and isinstance(fig.data[0], go.Surface)
    assert F.PROTO_TRACE in names and F.USER_GLOBAL_TRACE in names and F.USER_LOCAL_TRACE in names
    assert "noise (global)" in names and "rain (local)" in names
    proto = fig.data[names.index(F.PROTO_TRACE)]
    assert list(proto.text) == list(CLASSES)
    assert fig.layout.scene.aspectmode == "cube"
    title = fig.layout.title.text
    assert ("projection" in title.lower()) == (d != 3)
    if d == 3:
        g = fig.data[names.index(F.USER_GLOBAL_TRACE)]
        u = b.z[0] / np.linalg.norm(b.z[0])
        assert np.allclose([g.x[0], g.y[0], g.z[0]], u, atol=1e-5)
    assert F.USER_GLOBAL_TRACE not in _names(F.sphere_figure(b))


def test_umap_figure_places_user_points():
    b = _bank()
    fig = F.umap_figure(b, user_global=b.z[3], user_local=b.z[:4])
    names = _names(fig)
    assert {F.PROTO_TRACE, F.USER_GLOBAL_TRACE, F.USER_LOCAL_TRACE} <= set(names)
    g = fig.data[names.index(F.USER_GLOBAL_TRACE)]
    assert np.allclose([g.x[0], g.y[0]], F.place_in_cluster(b, b.z[3])[0])
    assert "UMAP" in fig.layout.title.text


def test_place_in_cluster_lands_on_a_neighbour_in_the_majority_cluster():
    """Neighbours split 5:3 between two far clusters: an average lands between them, the medoid in the
    larger one, on a bank point."""
    from analysis.embedding import bank_from_embeddings

    z = np.array([[1, 0, 0]] * 5 + [[0.9, 0.3, 0]] * 3 + [[0, 0, 1]] * 4, np.float32)
    xy = np.array([[0, 0]] * 5 + [[10, 0]] * 3 + [[0, 10]] * 4, np.float32) + np.arange(12)[:, None] * 0.01
    b = bank_from_embeddings(z, np.zeros(12, int), np.array(["global"] * 12), [f"p{i}" for i in range(12)],
                             np.eye(3, dtype=np.float32), ("a", "b", "c"), meta={"layout": "pca"})
    b.umap_xy = xy
    q = np.array([0.97, 0.15, 0], np.float32)
    p = F.place_in_cluster(b, q)[0]
    assert any(np.allclose(p, row) for row in xy[:8]) and p[0] < 1  # on a point of the 5-point cluster
    assert 1 < b.place(q)[0][0] < 9  # the weighted average: in the empty space between the clusters


def test_usage_and_class_prob_figures(restorer):
    res = restorer.restore(np.random.default_rng(0).random((32, 48, 3)), capture=True)
    fig = F.usage_figure(res)
    E = restorer.cfg.num_experts
    assert _names(fig) == [f"expert {e}" for e in range(E)]
    assert [t.marker.color for t in fig.data] == EXPERT_COLORS[:E]
    assert list(fig.data[0].x) == [r.name for r in res.routing]
    assert len(fig.layout.annotations) == len(res.routing) and fig.layout.barmode == "stack"
    stacked = np.sum([np.asarray(t.y) for t in fig.data], axis=0)
    assert np.allclose(stacked, 1.0, atol=1e-5)
    cp = F.class_prob_figure(res)
    assert _names(cp) == ["class probability"] and list(cp.data[0].y) == list(CLASSES)
    assert cp.data[0].orientation == "h"


def test_agreement_nmi_heatmap_alpha_confusion_figures():
    ag = F.agreement_figure({"a": 0.9, "b": 0.5}, {"a": 0.2, "b": 0.7})
    assert _names(ag) == ["fused = global-only", "fused = local-only"] and ag.layout.barmode == "group"
    assert list(ag.data[0].y) == [0.9, 0.5]
    nm = F.nmi_figure({"a": 0.1, "b": None})
    assert _names(nm) == ["NMI"] and len(nm.data[0].x) == 2
    U = np.random.default_rng(0).random((6, 3, 4))
    hm = F.usage_heatmap_figure(U, CLASSES, ["l0", "l1", "l2"])
    assert _names(hm) == [f"expert {e}" for e in range(4)]
    assert np.allclose(np.asarray(hm.data[2].z), U[:, :, 2])
    with pytest.raises(ValueError):
        F.usage_heatmap_figure(U, CLASSES[:3], ["l0"])
    al = F.alpha_hist_figure({"bins": list(np.linspace(0, 1, 11)), "uniform": {"hist": [1] * 10, "mean": 0.5, "images": 2},
                              "mixed": {"hist": [0] * 10, "mean": None, "images": 0}})
    assert _names(al) == ["uniform"]
    cf = F.confusion_figure(np.eye(6, dtype=int) * 3, CLASSES)
    assert _names(cf) == ["confusion"]
