"""The activations g and their derivatives g' (neurona.classic.activations)."""
import numpy as np
import pytest

from neurona.classic import (ELU, LeakyReLU, NotDifferentiableError, Softmax, get_activation)

DIFFERENTIABLE = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softsign"]
EXTRA = [LeakyReLU(0.1), ELU(0.5)]


def _points(dtype=np.float64):
    # away from the kink at 0, where relu, leaky relu and elu have no two-sided derivative
    a = np.linspace(-3, 3, 24, dtype=dtype).reshape(4, 6)
    return np.where(np.abs(a) < 1e-3, dtype(0.1), a)


@pytest.mark.parametrize("spec", DIFFERENTIABLE + EXTRA, ids=str)
def test_derivative_matches_central_differences(spec):
    g = get_activation(spec)
    a, eps = _points(), 1e-6
    numeric = (g(a + eps) - g(a - eps)) / (2 * eps)
    np.testing.assert_allclose(g.derivative(a, g(a)), numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name,reference", [
    ("identity", lambda a: a),
    ("sigmoid", lambda a: 1 / (1 + np.exp(-a))),
    ("tanh", lambda a: (np.exp(a) - np.exp(-a)) / (np.exp(a) + np.exp(-a))),
    ("relu", lambda a: np.maximum(0, a)),
    ("leaky_relu", lambda a: np.maximum(0.01 * a, a)),
    ("elu", lambda a: np.where(a >= 0, a, np.exp(a) - 1)),
    ("softsign", lambda a: a / (1 + np.abs(a))),
    ("step", lambda a: (a > 0) * 1.0),
    ("sign", np.sign),
])
def test_values_match_the_notes_definitions(name, reference):
    a = _points()
    np.testing.assert_allclose(get_activation(name)(a), reference(a), rtol=1e-12, atol=1e-15)


def test_notes_identities():
    # the notes' exercises: g'_S = g_S(1 - g_S) and g_T(a) = 2 g_S(2a) - 1 (so g'_T = 4 g'_S(2a)); g'_F = (g_F/a)²
    a = _points()
    s, t, f = get_activation("sigmoid"), get_activation("tanh"), get_activation("softsign")
    np.testing.assert_allclose(t(a), 2 * s(2 * a) - 1, atol=1e-14)
    np.testing.assert_allclose(f.derivative(a, f(a)), (f(a) / a) ** 2, rtol=1e-12)


@pytest.mark.parametrize("spec", DIFFERENTIABLE + ["step", "sign", "softmax"])
def test_float32_in_float32_out(spec):
    g = get_activation(spec)
    a = _points(np.float32)
    z = g(a)
    assert z.dtype == np.float32
    if g.differentiable and not isinstance(g, Softmax):
        assert g.derivative(a, z).dtype == np.float32


def test_sigmoid_and_elu_do_not_overflow():
    a = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = get_activation("sigmoid")(a)
        e = get_activation("elu")(a)
    np.testing.assert_allclose(s, [0, 1 / (1 + np.exp(50)), 0.5, 1 / (1 + np.exp(-50)), 1])
    np.testing.assert_allclose(e, [-1, np.expm1(-50), 0, 50, 1000])


@pytest.mark.parametrize("name", ["step", "sign"])
def test_step_and_sign_have_no_derivative(name):
    g = get_activation(name)
    assert not g.differentiable
    with pytest.raises(NotDifferentiableError, match="cannot train"):
        g.derivative(np.ones(3), g(np.ones(3)))


def test_softmax_vjp_is_the_jacobian_transpose_product():
    rng = np.random.default_rng(1)
    a, v = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    sm = Softmax()
    z = sm(a)
    np.testing.assert_allclose(z.sum(axis=1), 1)
    eps = 1e-6
    for n in range(3):
        J = np.empty((4, 4))  # J[i, j] = ∂s_i/∂a_j
        for j in range(4):
            d = np.zeros(4)
            d[j] = eps
            J[:, j] = (sm(a[n] + d) - sm(a[n] - d)) / (2 * eps)
        np.testing.assert_allclose(sm.vjp(z[n:n + 1], v[n:n + 1])[0], J.T @ v[n], rtol=1e-6, atol=1e-9)
        # the notes' g'_M = g_M(1 - g_M) is the diagonal of J only
        np.testing.assert_allclose(np.diag(J), z[n] * (1 - z[n]), rtol=1e-6, atol=1e-9)
    with pytest.raises(NotDifferentiableError, match="output activation"):
        sm.derivative(a, z)


def test_get_activation_errors():
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        get_activation("swish")
    with pytest.raises(TypeError, match="got int"):
        get_activation(3)
    leaky = LeakyReLU(0.1)
    assert get_activation(leaky) is leaky
    assert get_activation("LINEAR").name == "identity"
