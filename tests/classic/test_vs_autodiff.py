"""The delta rule (neurona.classic) against the autodiff engine (neurona.tensor), same network, same weights.

The autodiff side is written only with the engine's primitives (@, +, -, *,
**, sum, where, exp, log, abs, logsumexp, sigmoid, tanh, relu), not with
layers, so it checks the classic equations against an independent derivation.
"""
import numpy as np
import pytest

import neurona
from neurona.classic import ELU, ClassicMLP, LeakyReLU

AUTODIFF_ACTIVATIONS = {  # name -> (classic spec, the same function from engine primitives)
    "identity": ("identity", lambda a: a),
    "sigmoid": ("sigmoid", neurona.sigmoid),
    "tanh": ("tanh", neurona.tanh),
    "relu": ("relu", neurona.relu),
    "leaky_relu": ("leaky_relu", lambda a: neurona.where(a > 0, a, a * 0.01)),
    "leaky_relu_0.1": (LeakyReLU(0.1), lambda a: neurona.where(a > 0, a, a * 0.1)),
    "elu": ("elu", lambda a: neurona.where(a > 0, a, neurona.exp(a) - 1)),
    "elu_0.5": (ELU(0.5), lambda a: neurona.where(a > 0, a, (neurona.exp(a) - 1) * 0.5)),
    "softsign": ("softsign", lambda a: a * (1 + neurona.abs(a)) ** -1),
}
HEADS = [  # (output, loss, M_L)
    ("linear", "squared_error", 2),
    ("sigmoid", "squared_error", 2),
    ("softmax", "squared_error", 3),
    ("sigmoid", "cross_entropy", 2),
    ("softmax", "cross_entropy", 3),
]


def _t(x, requires_grad=False):
    return neurona.tensor(x, requires_grad=requires_grad, dtype=np.float64)


def autodiff_loss(weights, X, T, hidden, output, loss):
    """q_S for weights [W1, w0_1, ..., WL, w0_L] (Tensors), computed by the engine."""
    L = len(weights) // 2
    z = _t(X)
    for l in range(1, L + 1):
        W, w0 = weights[2 * l - 2], weights[2 * l - 1]
        a = z @ W.T + w0                      # a^(l) = W^(l) z^(l-1) + w0^(l), samples as rows
        if l < L:
            z = hidden(a)
    T, N = _t(T), len(X)
    lse = neurona.logsumexp(a, axis=1, keepdims=True)
    if loss == "cross_entropy" and output == "softmax":
        return -(T * (a - lse)).sum() * (1 / N)
    if output == "softmax":
        s = neurona.exp(a - lse)
    elif output == "sigmoid":
        s = neurona.sigmoid(a)
    else:
        s = a
    if loss == "cross_entropy":
        return -(T * neurona.log(s) + (1 - T) * neurona.log(1 - s)).sum() * (1 / N)
    return ((s - T) ** 2).sum() * (0.5 / N)


def _problem(output, loss, M_L, n=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4))
    if output == "softmax" and loss == "cross_entropy":
        T = np.eye(M_L)[rng.integers(0, M_L, n)]
    elif output in ("sigmoid", "softmax"):
        T = rng.integers(0, 2, (n, M_L)).astype(float)
    else:
        T = rng.standard_normal((n, M_L))
    return X, T


@pytest.mark.parametrize("output,loss,M_L", HEADS)
@pytest.mark.parametrize("name", list(AUTODIFF_ACTIVATIONS))
def test_delta_rule_equals_autodiff(name, output, loss, M_L):
    spec, hidden = AUTODIFF_ACTIVATIONS[name]
    net = ClassicMLP([4, 6, 5, M_L], activations=spec, output=output, loss=loss, seed=1)
    rng = np.random.default_rng(2)
    net.set_weights([w + 0.2 * rng.standard_normal(w.shape) for w in net.get_weights()])
    X, T = _problem(output, loss, M_L)

    weights = [_t(w, requires_grad=True) for w in net.get_weights()]
    q = autodiff_loss(weights, X, T, hidden, output, loss)
    q.backward()

    g = net.backward(X, T)
    assert g.loss == pytest.approx(float(q.array), rel=1e-12)
    for mine, w in zip(g.as_list(), weights):
        assert mine.shape == w.grad.array.shape
        np.testing.assert_allclose(mine, w.grad.array, rtol=1e-6, atol=1e-10)


def test_a_step_of_training_matches_autodiff_descent():
    # one batch epoch of the classic network == one manual gradient-descent step on the autodiff weights
    X, T = _problem("sigmoid", "cross_entropy", 1, n=16, seed=3)
    net = ClassicMLP([4, 5, 1], activations="tanh", output="sigmoid", loss="cross_entropy", seed=3)
    weights = [_t(w, requires_grad=True) for w in net.get_weights()]
    autodiff_loss(weights, X, T, neurona.tanh, "sigmoid", "cross_entropy").backward()
    expected = [w.array - 0.5 * w.grad.array for w in weights]
    net.fit(X, T, lr=0.5, epochs=1, mode="batch")
    for mine, e in zip(net.get_weights(), expected):
        np.testing.assert_allclose(mine, e, rtol=1e-12, atol=1e-14)
