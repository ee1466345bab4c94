import json
import math

import numpy as np
import pytest

from analysis.routing import (RoutingCollector, agreement, contingency, glgf_agreement, nmi, nmi_from_contingency,
                              routing_entropy, top1_share, usage)
from slerir.config import CLASSES


def test_entropy_one_hot_is_zero_and_uniform_is_log2_E():
    E = 4
    onehot = np.eye(E)[np.random.default_rng(0).integers(E, size=(5, 6))].transpose(2, 0, 1)
    assert routing_entropy(onehot) == pytest.approx(0.0, abs=1e-12)
    assert routing_entropy(np.full((E, 5, 6), 1 / E)) == pytest.approx(math.log2(E))
    assert routing_entropy(np.full((6, 3), 0.5)[:2]) == pytest.approx(1.0)  # (E,...) any trailing shape
    # top-k=2 with equal weights: 1 bit whatever E is
    w = np.zeros((8, 2, 2))
    w[[1, 5]] = 0.5
    assert routing_entropy(w) == pytest.approx(1.0)


def test_usage_and_top1_share(make_layer):
    experts = np.array([[0, 0], [1, 3]])
    lm = make_layer("l", experts, 4)
    assert usage(lm) == pytest.approx([0.5, 0.25, 0.0, 0.25])
    assert top1_share(lm) == pytest.approx([0.5, 0.25, 0.0, 0.25])
    soft = np.array([[[0.6]], [[0.4]]])
    assert usage(soft) == pytest.approx([0.6, 0.4]) and top1_share(soft) == pytest.approx([1, 0])


def test_nmi_perfect_independent_and_degenerate():
    rng = np.random.default_rng(0)
    labels = rng.integers(6, size=3000)
    perm = np.array([3, 0, 2, 1, 5, 4])
    assert nmi(perm[labels], labels) == pytest.approx(1.0)
    # exactly independent: every (class, expert) pair equally often
    lab, exp = np.meshgrid(np.arange(6), np.arange(4), indexing="ij")
    assert nmi(np.tile(exp.ravel(), 10), np.tile(lab.ravel(), 10)) == pytest.approx(0.0, abs=1e-12)
    # random independent routing: close to 0
    assert nmi(rng.integers(4, size=20000), rng.integers(6, size=20000)) < 0.005
    # degenerate cases
    assert nmi(np.zeros(50, int), labels[:50]) == 0.0  # one expert
    assert nmi(labels[:50], np.full(50, 2)) == 0.0  # one class
    assert nmi(np.zeros(0, int), np.zeros(0, int)) == 0.0
    # two experts for six classes (merged pairs): strictly between 0 and 1
    v = nmi(labels % 2, labels)
    assert 0.2 < v < 1.0


def test_nmi_matches_sklearn_arithmetic():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    labels = rng.integers(5, size=500)
    chosen = np.where(rng.random(500) < 0.7, labels % 4, rng.integers(4, size=500))
    assert nmi(chosen, labels) == pytest.approx(sk.normalized_mutual_info_score(labels, chosen), abs=1e-10)


def test_agreement(make_layer, make_result):
    a = make_result([make_layer("x", np.array([[0, 1], [2, 3]]), 4), make_layer("y", np.zeros((1, 2), int), 4)], (4, 4))
    assert agreement(a, a) == {"x": 1.0, "y": 1.0}
    b = make_result([make_layer("x", np.array([[0, 1], [0, 0]]), 4), make_layer("y", np.ones((1, 2), int), 4)], (4, 4))
    assert agreement(a, b) == {"x": 0.5, "y": 0.0}


def test_collector_perfect_specialisation(make_layer, make_result):
    col = RoutingCollector(CLASSES)
    for c in range(len(CLASSES)):
        probs = np.eye(len(CLASSES))[c]
        # E = 6 experts, class c always routed to expert c, on a 16x16 image
        layers = [make_layer(n, np.full((16 // s, 16 // s), c), 6, stride=s) for n, s in (("a", 2), ("b", 4))]
        col.add(make_result(layers, (16, 16), probs=probs), label=c)
    assert col.nmi_per_layer() == pytest.approx({"a": 1.0, "b": 1.0})
    U = col.usage_tensor()
    assert U.shape == (6, 2, 6)
    assert np.allclose(U[:, 0, :], np.eye(6)) and np.allclose(U[:, 1, :], np.eye(6))
    assert col.entropy_per_layer() == pytest.approx({"a": 0.0, "b": 0.0})
    s = col.summary()
    json.dumps(s)  # JSON-serialisable
    assert s["recognition"]["global_accuracy"] == 1.0 and s["images_by_kind"] == {"uniform": 6, "mixed": 0}


def test_collector_mixed_mask_and_alpha(make_layer, make_result):
    col = RoutingCollector(CLASSES)
    mask = np.zeros((16, 16), int)
    mask[:, 8:] = 2  # left clean, right rain
    experts = np.zeros((8, 8), int)
    experts[:, 4:] = 1  # stride 2: columns 4.. are image columns 8..
    res = make_result([make_layer("a", experts, 4, stride=2)], (16, 16), alpha=0.25)
    rec = col.add(res, mask=mask)
    assert rec["kind"] == "mixed"
    U = col.usage_tensor()
    assert U[0, 0] == pytest.approx([1, 0, 0, 0]) and U[2, 0] == pytest.approx([0, 1, 0, 0])
    assert np.isnan(U[1]).all()  # class never seen
    assert col.nmi_per_layer()["a"] == pytest.approx(1.0)
    col.add(make_result([make_layer("a", np.zeros((8, 8), int), 4, stride=2)], (16, 16), alpha=0.75), label="noise")
    st = col.alpha_stats()
    assert st["mixed"]["mean"] == pytest.approx(0.25) and st["uniform"]["mean"] == pytest.approx(0.75)
    assert sum(st["mixed"]["hist"]) == 4 and st["mixed_boundary_mean"] == pytest.approx(0.25)
    col.add_agreement({"a": 1.0}, {"a": 0.5}, "mixed")
    assert col.agreement_per_layer("mixed") == {"global": {"a": 1.0}, "local": {"a": 0.5}}
    with pytest.raises(ValueError):
        col.add(res)  # neither mask nor label
    col.add(res, label="rain", label_known=False)  # a predicted label: routing counts, recognition does not
    assert col.confusion.sum() == 2 and col.n_images == 3


def test_glgf_agreement_runs_three_fusions(restorer):
    img = np.random.default_rng(0).random((24, 40, 3)).astype(np.float32)
    g = glgf_agreement(restorer, img)
    assert set(g) >= {"fused", "global", "local", "agree_global", "agree_local"}
    names = [r.name for r in g["fused"].routing]
    assert list(g["agree_global"]) == names and list(g["agree_local"]) == names
    assert np.all(g["global"].alpha == 1.0) and np.all(g["local"].alpha == 0.0)
    assert all(0.0 <= v <= 1.0 for v in g["agree_global"].values())
    assert agreement(g["fused"], g["fused"]) == {n: 1.0 for n in names}


def test_nmi_from_contingency_ignores_empty_rows_and_columns():
    t = contingency(np.array([0, 0, 2, 2]), np.array([1, 1, 3, 3]), 6, 4)
    assert t.shape == (6, 4) and t.sum() == 4
    assert nmi_from_contingency(t) == pytest.approx(1.0)
    assert nmi_from_contingency(np.zeros((3, 3))) == 0.0
