"""The delta-rule gradients of ClassicMLP against finite differences and the notes' loops."""
import numpy as np
import pytest

from neurona.classic import ClassicMLP, ELU, LeakyReLU

HIDDEN = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softsign", LeakyReLU(0.1), ELU(0.5)]
HEADS = [  # (output activation, loss, outputs M_L)
    ("linear", "squared_error", 2),
    ("sigmoid", "squared_error", 2),
    ("tanh", "squared_error", 2),
    ("softmax", "squared_error", 3),
    ("sigmoid", "cross_entropy", 2),
    ("softmax", "cross_entropy", 3),
]


def _problem(M_L, output, loss, n=6, m0=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, m0))
    if output == "softmax" and loss == "cross_entropy":
        T = np.eye(M_L)[rng.integers(0, M_L, n)]
    elif output in ("sigmoid", "softmax"):
        T = rng.uniform(0, 1, (n, M_L))  # soft targets exercise the general formulas too
    else:
        T = rng.standard_normal((n, M_L))
    return X, T


def _randomize(net, seed=1):
    # nonzero biases, so that the gradient with respect to them is exercised at a generic point
    rng = np.random.default_rng(seed)
    net.set_weights([w + 0.3 * rng.standard_normal(w.shape) for w in net.get_weights()])


def numeric_gradients(net, X, T, eps=1e-6):
    """Central differences (q(θ + ε) - q(θ - ε)) / 2ε of q_S for every weight, in get_weights() order."""
    out = []
    for l in range(1, net.L + 1):
        for P in (net.W[l], net.w0[l]):
            G = np.zeros_like(P)
            for i in np.ndindex(P.shape):
                old = P[i]
                P[i] = old + eps
                up = net.loss(X, T)
                P[i] = old - eps
                down = net.loss(X, T)
                P[i] = old
                G[i] = (up - down) / (2 * eps)
            out.append(G)
    return out


@pytest.mark.parametrize("hidden", HIDDEN, ids=str)
@pytest.mark.parametrize("output,loss,M_L", HEADS)
def test_gradients_match_finite_differences(hidden, output, loss, M_L):
    net = ClassicMLP([3, 5, 4, M_L], activations=hidden, output=output, loss=loss, seed=0)
    _randomize(net)
    X, T = _problem(M_L, output, loss)
    analytic = net.backward(X, T).as_list()
    for g, n in zip(analytic, numeric_gradients(net, X, T)):
        np.testing.assert_allclose(g, n, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("output", ["relu", "leaky_relu", "elu", "softsign", "identity"])
def test_gradients_for_other_output_activations(output):
    net = ClassicMLP([3, 4, 2], activations="tanh", output=output, loss="squared_error", seed=2)
    _randomize(net, seed=3)
    X, T = _problem(2, output, "squared_error")
    for g, n in zip(net.backward(X, T).as_list(), numeric_gradients(net, X, T)):
        np.testing.assert_allclose(g, n, rtol=1e-5, atol=1e-8)


def test_single_layer_and_deep_networks():
    for sizes in ([3, 2], [3, 4, 4, 4, 4, 2]):
        net = ClassicMLP(sizes, activations="tanh", output="linear", seed=4)
        _randomize(net)
        X, T = _problem(2, "linear", "squared_error")
        for g, n in zip(net.backward(X, T).as_list(), numeric_gradients(net, X, T)):
            np.testing.assert_allclose(g, n, rtol=1e-5, atol=1e-8)


def test_cross_entropy_value_is_the_notes_formula():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((7, 3))
    net = ClassicMLP([3, 4, 3], output="softmax", loss="cross_entropy", seed=5)
    T = np.eye(3)[rng.integers(0, 3, 7)]
    s = net.predict(X)
    assert net.loss(X, T) == pytest.approx(np.mean(-(T * np.log(s)).sum(axis=1)), rel=1e-12)
    net = ClassicMLP([3, 4, 2], output="sigmoid", loss="cross_entropy", seed=5)
    T = rng.integers(0, 2, (7, 2)).astype(float)
    s = net.predict(X)
    q = -(T * np.log(s) + (1 - T) * np.log(1 - s)).sum(axis=1).mean()
    assert net.loss(X, T) == pytest.approx(q, rel=1e-12)
    net = ClassicMLP([3, 4, 2], output="tanh", loss="squared_error", seed=5)
    assert net.loss(X, T) == pytest.approx(np.mean(0.5 * ((T - net.predict(X)) ** 2).sum(axis=1)), rel=1e-12)


def test_cross_entropy_stays_finite_for_saturated_outputs():
    net = ClassicMLP([1, 1], output="sigmoid", loss="cross_entropy")
    net.set_weights([np.array([[1.0]]), np.array([0.0])])
    X, T = np.array([[800.0], [-800.0]]), np.array([[0.0], [1.0]])
    assert net.loss(X, T) == pytest.approx(800.0)  # log(1 + e^800) = 800 exactly in float64; not inf
    np.testing.assert_allclose(net.backward(X, T).dW[1], [[800.0]])  # 1/2 [(1 - 0)·800 + (0 - 1)·(-800)]


def _notes_batch_epoch(theta, g, dg, X, T, rho):
    """The notes' "Algoritmo BACKPROP" (batch) with its loops, in homogeneous coordinates.

    theta[l][i, j], j = 0..M_{l-1}, column 0 the threshold; g is every layer's
    activation, squared error. Δθ accumulates ρ δ_i^l s_j^{l-1} over the samples,
    then θ ← θ + (1/N) Δθ, with δ_i^L = g'(φ_i^L)(t_i - s_i^L) and
    δ_i^l = g'(φ_i^l) Σ_r δ_r^{l+1} θ_ri^{l+1}.
    """
    L, N = len(theta) - 1, len(X)
    Delta = [None] + [np.zeros_like(th) for th in theta[1:]]
    for x, t in zip(X, T):
        s, phi = [np.concatenate([[1.0], x])], [None]  # s_0^l = 1: the threshold's input
        for l in range(1, L + 1):
            M = theta[l].shape[0]
            phi.append(np.array([sum(theta[l][i, j] * s[l - 1][j] for j in range(len(s[l - 1]))) for i in range(M)]))
            s.append(np.concatenate([[1.0], [g(p) for p in phi[l]]]))
        delta = [None] * (L + 1)
        for l in range(L, 0, -1):
            M = theta[l].shape[0]
            if l == L:
                delta[l] = [dg(phi[l][i]) * (t[i] - s[l][i + 1]) for i in range(M)]
            else:
                delta[l] = [dg(phi[l][i]) * sum(delta[l + 1][r] * theta[l + 1][r, i + 1]
                                                 for r in range(theta[l + 1].shape[0])) for i in range(M)]
            for i in range(M):
                for j in range(theta[l].shape[1]):
                    Delta[l][i, j] += rho * delta[l][i] * s[l - 1][j]
    return [None] + [theta[l] + Delta[l] / N for l in range(1, L + 1)]


def test_one_batch_epoch_equals_the_notes_algorithm_with_loops():
    rng = np.random.default_rng(6)
    X, T = rng.standard_normal((5, 3)), rng.uniform(0, 1, (5, 2))
    net = ClassicMLP([3, 4, 3, 2], activations="sigmoid", output="sigmoid", loss="squared_error", seed=6)
    _randomize(net)
    theta = [None] + [np.column_stack([net.w0[l], net.W[l]]) for l in range(1, net.L + 1)]  # θ^l = [w0 | W]

    def sig(p):
        return 1 / (1 + np.exp(-p))

    expected = _notes_batch_epoch(theta, sig, lambda p: sig(p) * (1 - sig(p)), X, T, rho=0.7)
    net.fit(X, T, lr=0.7, epochs=1, mode="batch")
    for l in range(1, net.L + 1):
        np.testing.assert_allclose(net.w0[l], expected[l][:, 0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(net.W[l], expected[l][:, 1:], rtol=1e-12, atol=1e-14)


def test_notes_sign_convention_for_the_output_delta():
    # Casacuberta–Vidal: δ_i = (t_i - s_i) g'(φ_i) = -∂q_n/∂φ_i; ours is ∂q_n/∂a_i
    rng = np.random.default_rng(7)
    X, T = rng.standard_normal((4, 2)), rng.uniform(0, 1, (4, 1))
    net = ClassicMLP([2, 3, 1], activations="tanh", output="sigmoid", loss="squared_error")
    p, g = net.forward(X), net.backward(X, T)
    s = p.z[2]
    np.testing.assert_allclose(-g.delta[2], (T - s) * s * (1 - s), rtol=1e-12)
    np.testing.assert_allclose(-g.delta[1], (1 - p.z[1] ** 2) * (-g.delta[2] @ net.W[2]), rtol=1e-12)
