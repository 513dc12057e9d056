"""The engine's core activations: relu, sigmoid, tanh, softmax, log_softmax.

(The other activations are tested in test_activation.py.)
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import neurona as nr
from tests.opcheck import check_op


def _np_sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _np_softmax(a, axis=-1):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_log_softmax(a, axis=-1):
    z = a - a.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


ELEMENTWISE = [
    ("relu", nr.relu, lambda a: np.maximum(a, 0), "away0"),
    ("relu_method", lambda x: x.relu(), lambda a: np.maximum(a, 0), "away0"),
    ("sigmoid", nr.sigmoid, _np_sigmoid, "any"),
    ("sigmoid_method", lambda x: x.sigmoid(), _np_sigmoid, "any"),
    ("tanh", nr.tanh, np.tanh, "any"),
    ("tanh_method", lambda x: x.tanh(), np.tanh, "any"),
]


@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 1, 3)], ids=str)
@pytest.mark.parametrize("name,fn,ref,domain", ELEMENTWISE, ids=[e[0] for e in ELEMENTWISE])
def test_elementwise_activation(name, fn, ref, domain, shape):
    check_op(fn, ref, [shape], domain)


@pytest.mark.parametrize("name,fn,ref,domain", ELEMENTWISE, ids=[e[0] for e in ELEMENTWISE])
def test_elementwise_activation_noncontiguous(name, fn, ref, domain):
    check_op(lambda x: fn(x.T[::-1]), lambda a: ref(a.T[::-1]), [(4, 3)], domain)


SOFTMAXES = [
    ("softmax", nr.softmax, _np_softmax),
    ("softmax_method", lambda x, dim: x.softmax(dim), _np_softmax),
    ("log_softmax", nr.log_softmax, _np_log_softmax),
    ("log_softmax_method", lambda x, dim: x.log_softmax(dim=dim), _np_log_softmax),
]
SOFTMAX_CASES = [((5,), -1), ((5,), 0), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1), ((2, 3, 4), -3), ((3, 1), 1)]


@pytest.mark.parametrize("shape,dim", SOFTMAX_CASES, ids=str)
@pytest.mark.parametrize("name,fn,ref", SOFTMAXES, ids=[s[0] for s in SOFTMAXES])
def test_softmax_family(name, fn, ref, shape, dim):
    check_op(lambda x: fn(x, dim), lambda a: ref(a, axis=dim), [shape])


@pytest.mark.parametrize("name,fn,ref", SOFTMAXES, ids=[s[0] for s in SOFTMAXES])
def test_softmax_family_noncontiguous(name, fn, ref):
    check_op(lambda x: fn(x.T[:, ::2], 1), lambda a: ref(a.T[:, ::2], axis=1), [(6, 3)])


def test_softmax_default_dim_is_last(rng):
    x = nr.tensor(rng.standard_normal((2, 3)))
    np.testing.assert_allclose(nr.softmax(x).array.sum(axis=-1), 1, rtol=1e-6)
    np.testing.assert_allclose(nr.log_softmax(x).array, np.log(nr.softmax(x).array), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_inputs_stay_finite(dtype):
    x = nr.tensor([-1e4, -1000.0, 0.0, 1000.0, 1e4], dtype=dtype, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning either
        s = nr.sigmoid(x)
        t = nr.tanh(x)
        sm = nr.softmax(x)
        lsm = nr.log_softmax(x)
        (s.sum() + t.sum() + (sm * nr.arange(5)).sum() + lsm[0]).backward()
    np.testing.assert_allclose(s.array, [0, 0, 0.5, 1, 1])
    np.testing.assert_allclose(t.array, [-1, -1, 0, 1, 1])
    np.testing.assert_allclose(sm.array, [0, 0, 0, 0, 1])
    np.testing.assert_allclose(lsm.array, [-2e4, -11000, -1e4, -9000, 0], rtol=1e-6)
    assert np.all(np.isfinite(x.grad.array)) and x.grad.dtype == dtype
    for t in (s, t, sm, lsm):
        assert t.dtype == dtype


def test_relu_gradient_at_zero_is_zero():
    x = nr.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    nr.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad.array, [0, 0, 1])


def test_relu_keeps_integers():
    y = nr.relu(nr.tensor([-2, 0, 3]))
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y.array, [0, 0, 3])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_dim_out_of_range(name):
    with pytest.raises(ValueError, match=rf"{name}: dim 2 is out of range for a tensor of shape \(2, 3\)"):
        getattr(nr, name)(nr.zeros(2, 3), dim=2)
