import numpy as np
import pytest

import neurona
from neurona.data import MinMaxScaler, Standardizer, one_hot, train_val_split


def test_standardizer_statistics_match_the_notes():
    rng = np.random.default_rng(0)
    X = rng.normal([5.0, -2.0, 100.0], [2.0, 0.5, 30.0], size=(200, 3)).astype(np.float32)
    sc = Standardizer(eps=1e-8).fit(X)
    mu = X.astype(np.float64).mean(axis=0)
    var = ((X - mu) ** 2).sum(axis=0) / (len(X) - 1)  # σ² with 1/(N-1), as in the notes
    np.testing.assert_allclose(sc.mean.ravel(), mu, rtol=1e-6)
    np.testing.assert_allclose(sc.var.ravel(), var, rtol=1e-6)
    Z = sc.transform(X)
    assert Z.dtype == np.float32
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(Z.std(axis=0, ddof=1), 1, atol=1e-4)
    np.testing.assert_allclose(sc.inverse_transform(Z), X, rtol=1e-5, atol=1e-4)


def test_standardizer_fits_on_train_only_and_round_trips_state():
    X_train = np.array([[0.0], [2.0], [4.0]])
    X_test = np.array([[10.0]])
    sc = Standardizer().fit(X_train)
    np.testing.assert_allclose(sc.transform(X_test), [[(10 - 2) / 2]], rtol=1e-6)
    state = sc.state_dict()
    assert all(isinstance(v, np.ndarray) for v in state.values())
    other = Standardizer()
    other.load_state_dict(state)
    np.testing.assert_array_equal(other.transform(X_test), sc.transform(X_test))


def test_standardizer_constant_feature_tensor_and_channels():
    X = np.stack([np.ones(5), np.arange(5.0)], axis=1)
    Z = Standardizer().fit_transform(neurona.tensor(X))
    assert isinstance(Z, neurona.Tensor) and Z.dtype == np.float32
    np.testing.assert_array_equal(Z.array[:, 0], 0)
    imgs = np.random.default_rng(1).normal(3, 2, size=(8, 3, 4, 4))
    sc = Standardizer(axis=(0, 2, 3)).fit(imgs)
    assert sc.mean.shape == (1, 3, 1, 1)
    with pytest.raises(ValueError, match="does not match"):
        sc.transform(np.ones((2, 5, 4, 4)))
    with pytest.raises(RuntimeError, match="fit"):
        Standardizer().transform(X)


def test_minmax_scaler():
    X = np.array([[0.0, 5.0], [10.0, 5.0], [5.0, 5.0]])
    sc = MinMaxScaler((-1, 1)).fit(X)
    np.testing.assert_allclose(sc.transform(X), [[-1, -1], [1, -1], [0, -1]])
    np.testing.assert_allclose(sc.inverse_transform(sc.transform(X))[:, 0], X[:, 0])
    other = MinMaxScaler()
    other.load_state_dict(sc.state_dict())
    assert other.feature_range == (-1.0, 1.0)


def test_one_hot():
    np.testing.assert_array_equal(one_hot([2, 0], 3), [[0, 0, 1], [1, 0, 0]])
    assert one_hot(np.array([[1, 0]]), 2).shape == (1, 2, 2)
    assert one_hot(np.arange(4)).dtype == np.float32
    with pytest.raises(ValueError, match=r"labels \[3\]"):
        one_hot([0, 3], 3)
    with pytest.raises(TypeError, match="integer"):
        one_hot([0.5], 2)


def test_train_val_split_stratified_and_reproducible():
    y = np.repeat(np.arange(3), [50, 30, 20])
    X = np.arange(100)[:, None] * np.ones((1, 2))
    Xtr, Xva, ytr, yva = train_val_split(X, y, val_fraction=0.2, seed=0)
    assert len(Xva) == 20 and len(Xtr) == 80
    assert np.bincount(yva).tolist() == [10, 6, 4]
    assert sorted(np.concatenate([Xtr[:, 0], Xva[:, 0]]).tolist()) == list(range(100))
    np.testing.assert_array_equal(ytr, y[Xtr[:, 0].astype(int)])  # rows stay paired
    again = train_val_split(X, y, val_fraction=0.2, seed=0)
    np.testing.assert_array_equal(again[1], Xva)


def test_train_val_split_errors_and_unstratified():
    X, y = np.zeros((10, 1)), np.linspace(0, 1, 10)
    with pytest.raises(ValueError, match="stratify=False"):
        train_val_split(X, y)
    Xtr, Xva, _, _ = train_val_split(X, y, 0.3, stratify=False, seed=0)
    assert len(Xva) == 3
    with pytest.raises(ValueError, match="samples"):
        train_val_split(X, y[:5], stratify=False)


def test_scalers_refuse_inputs_of_another_rank():
    # (N, 784) rows would broadcast against per-channel statistics of shape (1, 1, 1, 1) into (1, 1, N, 784)
    imgs = np.random.default_rng(2).random((6, 1, 4, 4))
    for sc in (Standardizer(axis=(0, 2, 3)).fit(imgs), MinMaxScaler(axis=(0, 2, 3)).fit(imgs)):
        for method in ("transform", "inverse_transform"):
            with pytest.raises(ValueError, match=r"shape \(6, 16\) does not match the statistics of shape "
                                                 r"\(1, 1, 1, 1\)"):
                getattr(sc, method)(imgs.reshape(6, 16))
        assert sc.transform(imgs).shape == imgs.shape
