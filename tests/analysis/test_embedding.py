import json
import math

import numpy as np
import pytest

from analysis.embedding import (EmbeddingBank, alignment, fit_pca_basis, local_pixel_accuracy, nearest_prototype_accuracy,
                                sphere_coords, uniformity)
from slerir.config import CLASSES
from slerir.model import uniform_prototypes

OCTA = uniform_prototypes(6, 3).numpy()


def _bank(n=40, d=3, seed=0, basis=False) -> EmbeddingBank:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, d)).astype(np.float32)
    protos = uniform_prototypes(6, d).numpy()
    return EmbeddingBank(
        z=z / np.linalg.norm(z, axis=1, keepdims=True), labels=rng.integers(6, size=n),
        kinds=np.where(np.arange(n) % 2 == 0, "global", "local"), names=[f"p{i}" for i in range(n)],
        umap_xy=rng.normal(size=(n, 2)), prototypes=protos, proto_umap_xy=rng.normal(size=(6, 2)), classes=CLASSES,
        pca_basis=fit_pca_basis(z) if basis else None, meta={"layout": "umap", "x": 1.5, "nan": float("nan")})


def test_uniformity_of_octahedron():
    # 15 pairs: 12 neighbours at squared distance 2, 3 antipodal pairs at 4
    expected = math.log((12 * math.exp(-4) + 3 * math.exp(-8)) / 15)
    assert uniformity(OCTA) == pytest.approx(expected, rel=1e-6)
    assert uniformity(OCTA, t=1) == pytest.approx(math.log((12 * math.exp(-2) + 3 * math.exp(-4)) / 15), rel=1e-6)
    # collapsed points are maximally non-uniform: log(1) = 0
    assert uniformity(np.tile([[0, 0, 1.0]], (5, 1))) == pytest.approx(0.0)


def test_alignment():
    labels = np.arange(6)
    assert alignment(OCTA, labels, OCTA) == pytest.approx(0.0, abs=1e-6)
    assert alignment(OCTA[[1, 0, 3, 2, 5, 4]], labels, OCTA) == pytest.approx(2.0, abs=1e-6)  # antipodes
    assert alignment(OCTA[[2, 3, 4, 5, 0, 1]], labels, OCTA) == pytest.approx(1.0, abs=1e-6)  # 90 degrees off
    assert alignment(np.repeat(OCTA, 3, 0) * 2.5, np.repeat(labels, 3)) == pytest.approx(0.0, abs=1e-6)  # pairwise form
    z = np.array([[1, 0, 0], [0, 1, 0.0]])
    assert alignment(z, [0, 0]) == pytest.approx(2.0)  # ||e0 - e1||^2


def test_nearest_prototype_accuracy_on_constructed_points():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(6), 10)
    z = OCTA[labels] + 0.2 * rng.normal(size=(60, 3))  # near their own prototype
    assert nearest_prototype_accuracy(z, labels, OCTA) == 1.0
    wrong = labels.copy()
    wrong[:15] = (wrong[:15] + 1) % 6  # 15 of 60 labels wrong
    assert nearest_prototype_accuracy(z, wrong, OCTA) == pytest.approx(0.75)


def test_local_pixel_accuracy():
    grid = np.array([[0, 1], [2, 3]])
    sims = np.eye(6)[grid].transpose(2, 0, 1)  # (K,2,2) nearest prototype = grid
    mask = np.kron(grid, np.ones((8, 8), int))  # 16x16 image
    assert local_pixel_accuracy(sims, mask) == 1.0
    assert local_pixel_accuracy(sims, np.zeros((16, 16), int)) == 0.25
    assert local_pixel_accuracy(sims, mask[:13, :11]) == 1.0  # ceil-sized grid of a cropped image


def test_sphere_coords_exact_for_d3_and_projection_otherwise():
    z = np.array([[2.0, 0, 0], [0, 3, 4]])
    xyz, exact = sphere_coords(z)
    assert exact and np.allclose(xyz, [[1, 0, 0], [0, 0.6, 0.8]])
    z8 = np.random.default_rng(0).normal(size=(30, 8))
    xyz, exact = sphere_coords(z8)
    assert not exact and xyz.shape == (30, 3) and np.allclose(np.linalg.norm(xyz, axis=1), 1, atol=1e-5)
    basis = fit_pca_basis(z8)
    assert basis.shape == (8, 3) and np.allclose(basis.T @ basis, np.eye(3), atol=1e-5)
    assert np.allclose(sphere_coords(z8, basis)[0], xyz, atol=1e-5)


def test_place_returns_coordinates_of_coinciding_neighbours():
    b = _bank()
    target = np.array([0.3, -0.5, 0.8])
    target /= np.linalg.norm(target)
    b.z[:8] = target  # k = 8 neighbours coincide
    b.umap_xy[:8] = [4.0, -2.0]
    assert np.allclose(b.place(target), [[4.0, -2.0]], atol=1e-6)
    # a query equal to one bank point lands (almost exactly) on it
    b2 = _bank(seed=3)
    xy = b2.place(b2.z[5:6])
    assert np.allclose(xy, b2.umap_xy[5:6], atol=1e-3)
    assert b2.place(b2.z[:7]).shape == (7, 2)
    with pytest.raises(ValueError):
        b2.place(np.ones(4))


def test_bank_save_load_roundtrip(tmp_path):
    for basis in (False, True):
        b = _bank(d=5, basis=True) if basis else _bank()  # d=5: a PCA basis for the sphere view
        if basis:
            assert b.pca_basis.shape == (5, 3)
        out = b.save(tmp_path / f"bank{int(basis)}")
        assert (out / "bank.npz").is_file() and (out / "bank.json").is_file()
        json.loads((out / "bank.json").read_text())  # strict JSON (NaN -> null)
        with np.load(out / "bank.npz", allow_pickle=False) as d:  # no object arrays
            assert all(d[k].dtype != object for k in d.files)
        c = EmbeddingBank.load(out)
        for f in ("z", "labels", "kinds", "names", "umap_xy", "prototypes", "proto_umap_xy"):
            assert np.array_equal(getattr(b, f), getattr(c, f)), f
        assert c.classes == CLASSES and c.meta["x"] == 1.5 and c.meta["nan"] is None
        assert (c.pca_basis is None) == (not basis)
    # also the x.npz + x.json form
    b.save(tmp_path / "single.npz")
    assert EmbeddingBank.load(tmp_path / "single.npz").names.tolist() == b.names.tolist()
    m = b.metrics()
    assert set(m) >= {"global", "local", "prototype_uniformity"}


def test_bank_validates_shapes():
    b = _bank()
    with pytest.raises(ValueError):
        EmbeddingBank(z=b.z, labels=b.labels[:-1], kinds=b.kinds, names=b.names, umap_xy=b.umap_xy,
                      prototypes=b.prototypes, proto_umap_xy=b.proto_umap_xy, classes=CLASSES)


def test_bank_compatibility(restorer):
    b = _bank()
    b.prototypes = restorer.model.prototypes.detach().numpy()
    assert b.compatible_with(restorer)[0]
    b.meta["weights_sha256"] = "abc"
    ok, why = b.compatible_with(restorer, "def")
    assert not ok and "other weights" in why
