"""ClassicMLP.fit in the notes' four modes: batch, mini-batch, incremental, online."""
import numpy as np
import pytest

from neurona.classic import MODES, ClassicMLP

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_T = np.array([[0.0], [1.0], [1.0], [0.0]])


def _regression(n=32):
    x = np.linspace(-3, 3, n)[:, None]
    return x, np.sin(x)


def _same_weights(a, b):
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(u, v, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("mode,lr,epochs", [
    ("batch", 0.5, 1500), ("minibatch", 0.5, 800), ("incremental", 0.3, 500), ("online", 0.3, 500)])
def test_every_mode_learns_xor(mode, lr, epochs):
    net = ClassicMLP([2, 4, 1], activations="tanh", output="sigmoid", loss="cross_entropy", seed=0)
    before = net.loss(XOR_X, XOR_T)
    history = net.fit(XOR_X, XOR_T, lr=lr, epochs=epochs, mode=mode, batch_size=2, seed=0)
    assert len(history) == epochs
    assert history[-1] < 0.1 * before
    assert ((net.predict(XOR_X) > 0.5) == (XOR_T > 0.5)).all()


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_fits_a_regression(mode):
    X, T = _regression()
    net = ClassicMLP([1, 10, 1], activations="tanh", output="linear", loss="squared_error", seed=1)
    before = net.loss(X, T)
    epochs = 1500 if mode == "batch" else 150
    history = net.fit(X, T, lr=0.1 if mode == "batch" else 0.05, epochs=epochs, mode=mode, batch_size=8, seed=1)
    assert history[-1] < 0.1 * before
    assert history[-1] == pytest.approx(net.loss(X, T))


def test_softmax_classifier_on_three_blobs_with_class_indices():
    rng = np.random.default_rng(2)
    centers = np.array([[0.0, 3.0], [-3.0, -2.0], [3.0, -2.0]])
    y = rng.integers(0, 3, 90)
    X = centers[y] + rng.standard_normal((90, 2))
    net = ClassicMLP([2, 8, 3], activations="relu", output="softmax", loss="cross_entropy", seed=2)
    history = net.fit(X, y, lr=0.1, epochs=30, mode="minibatch", batch_size=16, seed=2)
    assert history[-1] < history[0]
    assert (net.predict(X).argmax(axis=1) == y).mean() > 0.9


def test_a_batch_epoch_is_one_gradient_step():
    X, T = _regression(10)
    net = ClassicMLP([1, 5, 1], seed=3)
    g = net.backward(X, T)
    expected = [w - 0.2 * d for w, d in zip(net.get_weights(), g.as_list())]
    net.fit(X, T, lr=0.2, epochs=1, mode="batch")
    for w, e in zip(net.get_weights(), expected):
        np.testing.assert_allclose(w, e, rtol=1e-14)


def test_minibatch_of_the_whole_set_is_batch():
    X, T = _regression(12)
    a, b = ClassicMLP([1, 5, 1], seed=4), ClassicMLP([1, 5, 1], seed=4)
    ha = a.fit(X, T, lr=0.1, epochs=5, mode="batch")
    hb = b.fit(X, T, lr=0.1, epochs=5, mode="minibatch", batch_size=100, seed=0)
    np.testing.assert_allclose(ha, hb, rtol=1e-12)  # the shuffle does not change a mean over all samples
    _same_weights(a, b)


def test_incremental_is_minibatch_of_one_and_online_is_online_step_in_order():
    X, T = _regression(9)
    a, b = ClassicMLP([1, 5, 1], seed=5), ClassicMLP([1, 5, 1], seed=5)
    a.fit(X, T, lr=0.1, epochs=3, mode="incremental", seed=7)
    b.fit(X, T, lr=0.1, epochs=3, mode="minibatch", batch_size=1, seed=7)
    _same_weights(a, b)

    c, d = ClassicMLP([1, 5, 1], seed=5), ClassicMLP([1, 5, 1], seed=5)
    c.fit(X, T, lr=0.1, epochs=2, mode="online", seed=123)
    for _ in range(2):
        for x, t in zip(X, T):
            d.online_step(x, t, lr=0.1)
    _same_weights(c, d)


def test_incremental_visits_samples_in_random_order():
    X, T = _regression(9)
    ref = ClassicMLP([1, 5, 1], seed=5)
    ref.fit(X, T, lr=0.1, epochs=1, mode="online")
    a, b = ClassicMLP([1, 5, 1], seed=5), ClassicMLP([1, 5, 1], seed=5)
    a.fit(X, T, lr=0.1, epochs=1, mode="incremental", seed=8)
    b.fit(X, T, lr=0.1, epochs=1, mode="incremental", seed=8)
    _same_weights(a, b)  # reproducible for a given seed
    assert not np.allclose(a.W[1], ref.W[1], rtol=1e-9)  # but not the order given


def test_online_step_is_one_update_from_one_sample():
    net = ClassicMLP([2, 3, 2], activations="sigmoid", output="softmax", loss="cross_entropy", seed=6)
    x, label = np.array([0.5, -1.0]), 1
    g = net.backward(x[None, :], [label])
    expected = [w - 0.3 * d for w, d in zip(net.get_weights(), g.as_list())]
    q = net.online_step(x, label, lr=0.3)
    assert q == pytest.approx(g.loss)
    for w, e in zip(net.get_weights(), expected):
        np.testing.assert_allclose(w, e, rtol=1e-14)


def test_fit_is_reproducible_and_handles_zero_epochs():
    X, T = _regression(16)
    h1 = ClassicMLP([1, 4, 1], seed=9).fit(X, T, lr=0.05, epochs=4, mode="minibatch", batch_size=5, seed=3)
    h2 = ClassicMLP([1, 4, 1], seed=9).fit(X, T, lr=0.05, epochs=4, mode="minibatch", batch_size=5, seed=3)
    assert h1 == h2
    assert ClassicMLP([1, 4, 1]).fit(X, T, epochs=0) == []


def test_float32_training_stays_float32():
    X, T = _regression(16)
    net = ClassicMLP([1, 6, 1], seed=0, dtype=np.float32)
    g = net.backward(X, T)
    assert all(d.dtype == np.float32 for d in g.as_list() + g.delta[1:])
    history = net.fit(X, T, lr=0.05, epochs=50, mode="minibatch", batch_size=4, seed=0)
    assert all(w.dtype == np.float32 for w in net.get_weights())
    assert net.predict(X).dtype == np.float32
    assert history[-1] < history[0]
