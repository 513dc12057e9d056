import sys

import numpy as np
import pytest

from neurona.data import load_sklearn, make_circle, make_gaussians, make_spiral, make_xor

MAKERS = [make_circle, make_xor, make_gaussians, make_spiral]


@pytest.mark.parametrize("make", MAKERS)
def test_shapes_dtypes_balance(make):
    X, y = make(101, noise=0.1, seed=0)
    assert X.shape == (101, 2) and X.dtype == np.float32
    assert y.shape == (101,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [51, 50]
    assert np.all(np.isfinite(X))


@pytest.mark.parametrize("make", MAKERS)
def test_deterministic_with_seed(make):
    a, b, c = make(50, 0.05, seed=3), make(50, 0.05, seed=3), make(50, 0.05, seed=4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_geometry_without_noise():
    X, y = make_circle(400, seed=0)
    r = np.linalg.norm(X, axis=1)
    assert r[y == 0].max() < 0.5 + 1e-6 and r[y == 1].min() > 0.7 - 1e-6
    X, y = make_xor(400, seed=0)
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] < 0).astype(np.int64))
    X, y = make_gaussians(400, seed=0)
    assert X[y == 0].mean() < 0 < X[y == 1].mean()
    X, y = make_spiral(400, seed=0)
    assert np.linalg.norm(X, axis=1).max() <= 1.0 + 1e-6


@pytest.mark.parametrize("make", MAKERS)
def test_bad_arguments(make):
    with pytest.raises(ValueError, match="n_samples"):
        make(1)
    with pytest.raises(ValueError, match="noise"):
        make(10, noise=-1)


@pytest.mark.parametrize("name,n,task", [("iris", 150, "c"), ("wine", 178, "c"), ("diabetes", 442, "r"),
                                         ("digits", 1797, "c"), ("breast_cancer", 569, "c")])
def test_load_sklearn(name, n, task):
    pytest.importorskip("sklearn")
    X, y = load_sklearn(name)
    assert X.dtype == np.float32 and len(X) == len(y) == n
    assert y.dtype == (np.int64 if task == "c" else np.float32)
    X2, y2, classes, features = load_sklearn(name, return_names=True)
    np.testing.assert_array_equal(X2, X)
    assert len(features) == X.shape[1]
    if task == "c":
        assert len(classes) == int(y.max()) + 1
    else:
        assert classes is None
    if name == "iris":
        assert classes == ["setosa", "versicolor", "virginica"]


def test_load_sklearn_unknown_name():
    with pytest.raises(ValueError, match="digits"):
        load_sklearn("mnist")


def test_load_sklearn_without_sklearn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # makes `import sklearn` fail
    with pytest.raises(ImportError, match=r"pip install neurona\[sklearn\]"):
        load_sklearn("iris")
