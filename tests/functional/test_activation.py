"""Activation functions (neurona/functional/activation.py).

Every activation: forward against plain NumPy, float64 gradcheck and float32
preservation over several shapes (``check_op``); forward and gradients against
PyTorch values recorded in tests/fixtures/activation_loss_reference.npz;
finite values and gradients for inputs of ±1e4; and the identities the notes
state for the derivatives.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import neurona as nr
from neurona.functional import activation as A
from neurona.functional import loss as L
from neurona.functional.math import sign
from tests.opcheck import check_op

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "activation_loss_reference.npz"
SHAPES = [(), (5,), (3, 4), (2, 3, 4)]

_erf_ref = np.vectorize(math.erf)


def np_sigmoid(a):
    return 0.5 * (1 + np.tanh(0.5 * a))  # a different formula from neurona's


def np_elu(a, alpha=1.0):
    return np.where(a > 0, a, alpha * (np.exp(np.minimum(a, 0)) - 1))


def np_softmax(a, axis):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


SELU_A, SELU_L = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946

# name, neurona fn, NumPy reference, check_op domain
UNARY = [
    ("sigmoid", A.sigmoid, np_sigmoid, "any"),
    ("logsigmoid", A.logsigmoid, lambda a: -np.logaddexp(0, -a), "any"),
    ("tanh", A.tanh, np.tanh, "any"),
    ("relu", A.relu, lambda a: np.maximum(a, 0), "away0"),
    ("relu6", lambda x: A.relu6(x * 4), lambda a: np.clip(a * 4, 0, 6), "away0"),
    ("hardtanh", A.hardtanh, lambda a: np.clip(a, -1, 1), "any"),
    ("hardtanh_range", lambda x: A.hardtanh(x, -0.5, 0.25), lambda a: np.clip(a, -0.5, 0.25), "any"),
    ("leaky_relu", A.leaky_relu, lambda a: np.where(a > 0, a, 0.01 * a), "away0"),
    ("leaky_relu_notes", lambda x: A.leaky_relu(x, 0.1), lambda a: np.maximum(0.1 * a, a), "away0"),
    ("elu", A.elu, np_elu, "away0"),
    ("elu_alpha", lambda x: A.elu(x, 0.3), lambda a: np_elu(a, 0.3), "away0"),
    ("selu", A.selu, lambda a: SELU_L * np_elu(a, SELU_A), "away0"),
    ("celu", lambda x: A.celu(x, 2.0), lambda a: np.maximum(a, 0) + np.minimum(0, 2 * (np.exp(a / 2) - 1)), "away0"),
    ("softsign", A.softsign, lambda a: a / (1 + np.abs(a)), "any"),
    ("softplus", A.softplus, lambda a: np.logaddexp(0, a), "any"),
    ("softplus_beta", lambda x: A.softplus(x * 2, beta=3.0, threshold=4.0),
     lambda a: np.where(6 * a > 4, 2 * a, np.logaddexp(0, 6 * a) / 3), "any"),
    ("gelu", A.gelu, lambda a: 0.5 * a * (1 + _erf_ref(a / math.sqrt(2))), "any"),
    ("gelu_wide", lambda x: A.gelu(x * 4), lambda a: 2 * a * (1 + _erf_ref(4 * a / math.sqrt(2))), "any"),
    ("gelu_tanh", lambda x: A.gelu(x, approximate="tanh"),
     lambda a: 0.5 * a * (1 + np.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a ** 3))), "any"),
    ("silu", A.silu, lambda a: a * np_sigmoid(a), "any"),
    ("identity", lambda x: A.identity(x) * 1.0, lambda a: a, "any"),
    ("softmax_last", A.softmax, lambda a: np_softmax(a, -1), "any"),
    ("log_softmax_last", A.log_softmax, lambda a: np.log(np_softmax(a, -1)), "any"),
]


@pytest.mark.parametrize("name,fn,ref,domain", UNARY, ids=[u[0] for u in UNARY])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_activation_op(name, fn, ref, domain, shape):
    check_op(fn, ref, [shape], domain)


# size-1 axes and non-contiguous inputs (transposed, strided, reversed), built inside the op
LAYOUTS = [
    ("size1_axes", (3, 1, 1), lambda a: a),
    ("transposed", (4, 1, 3), lambda a: a.T),
    ("strided", (6, 8), lambda a: a[::2, ::-3]),
]


@pytest.mark.parametrize("layout,shape,view", LAYOUTS, ids=[l[0] for l in LAYOUTS])
@pytest.mark.parametrize("name,fn,ref,domain", UNARY, ids=[u[0] for u in UNARY])
def test_activation_op_layouts(name, fn, ref, domain, layout, shape, view):
    check_op(lambda x: fn(view(x)), lambda a: ref(view(a)), [shape], domain)


@pytest.mark.parametrize("dim,shape", [(0, (4,)), (0, (3, 4)), (1, (3, 4)), (1, (2, 3, 4)), (-2, (2, 3, 4))])
def test_softmax_dims(dim, shape):
    check_op(lambda x: A.softmax(x, dim), lambda a: np_softmax(a, dim), [shape])
    check_op(lambda x: A.log_softmax(x, dim), lambda a: np.log(np_softmax(a, dim)), [shape])


def test_softmax_bad_dim_names_shape():
    with pytest.raises(ValueError, match=r"softmax: dim 2 is out of range.*\(3, 4\)"):
        A.softmax(nr.randn(3, 4), 2)


@pytest.mark.parametrize("xshape,wshape", [((4, 3), (3,)), ((2, 3, 4), (3,)), ((2, 3, 2, 2), (3,)),
                                           ((5,), (1,)), ((), (1,)), ((2, 3, 4), (1,))])
def test_prelu_op(xshape, wshape):
    def ref(a, w):
        wb = w.reshape((1, -1) + (1,) * (a.ndim - 2)) if w.size > 1 else w.reshape(())
        return np.where(a > 0, a, wb * a)

    check_op(A.prelu, ref, [xshape, wshape], ["away0", "any"])


def test_prelu_and_maxout_on_noncontiguous_inputs():
    def prelu_ref(a, w):
        return np.where(a > 0, a, w.reshape(1, -1, 1) * a)

    check_op(lambda x, w: A.prelu(x.permute(2, 1, 0), w), lambda a, w: prelu_ref(a.transpose(2, 1, 0), w),
             [(4, 3, 2), (3,)], ["away0", "any"])
    check_op(lambda x, w, b: A.maxout(x.T[::2], w, b), lambda x, w, b: np_maxout(x.T[::2], w, b),
             [(3, 8), (2, 2, 3), (2, 2)])


def test_prelu_channel_mismatch_names_shapes():
    with pytest.raises(ValueError, match=r"prelu: weight has 4 parameters but the input of shape \(2, 3\) has 3"):
        A.prelu(nr.randn(2, 3), nr.ones(4))


def np_maxout(x, w, b=None):
    z = np.einsum("...i,opi->...op", x, w)
    if b is not None:
        z = z + b
    return z.max(axis=-1)


@pytest.mark.parametrize("xshape,out_f,k", [((5, 4), 3, 2), ((2, 3, 4), 2, 3), ((4,), 3, 4), ((6, 2), 1, 1)])
def test_maxout_op(xshape, out_f, k):
    in_f = xshape[-1]
    check_op(A.maxout, np_maxout, [xshape, (out_f, k, in_f), (out_f, k)])
    check_op(lambda x, w: A.maxout(x, w), np_maxout, [xshape, (out_f, k, in_f)])


def test_maxout_contains_relu_and_leaky_relu():
    # the notes' special cases of maxout: ReLU = max(z, 0), PReLU/LeakyReLU = max(z, αz)
    z = nr.from_numpy(np.linspace(-3, 3, 13).reshape(13, 1))
    relu_pieces = nr.from_numpy(np.array([[[1.0], [0.0]]]))
    leaky_pieces = nr.from_numpy(np.array([[[1.0], [0.2]]]))
    np.testing.assert_allclose(A.maxout(z, relu_pieces).array[:, 0], A.relu(z).array[:, 0])
    np.testing.assert_allclose(A.maxout(z, leaky_pieces).array[:, 0], A.leaky_relu(z, 0.2).array[:, 0])


def test_maxout_bad_shapes():
    with pytest.raises(ValueError, match=r"maxout: expected input with 4 features .*\(2, 3\)"):
        A.maxout(nr.randn(2, 3), nr.randn(5, 2, 4))
    with pytest.raises(ValueError, match=r"maxout: bias must have shape \(5, 2\)"):
        A.maxout(nr.randn(2, 4), nr.randn(5, 2, 4), nr.randn(5))
    with pytest.raises(ValueError, match="out_features, pool_size, in_features"):
        A.maxout(nr.randn(2, 4), nr.randn(10, 4))


# --- step and sign: values, and a zero gradient --------------------------------------------------


def test_heaviside_values_and_zero_gradient():
    x = nr.tensor([-2.0, 0.0, 0.5, 3.0], requires_grad=True)
    y = A.heaviside(x, 0.5)
    np.testing.assert_array_equal(y.array, [0.0, 0.5, 1.0, 1.0])
    assert y.dtype == np.float32
    (y * nr.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.array, np.zeros(4))
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(A.heaviside(x, threshold=1.0).array, [0, 0, 0, 1])
    np.testing.assert_array_equal(A.heaviside(x, 1.0, threshold=0.5).array, [0, 0, 1, 1])


def test_sign_is_the_notes_step_with_zero_gradient():
    x = nr.tensor([-2.0, -0.1, 0.3, 5.0], dtype=nr.float64, requires_grad=True)
    y = sign(x)
    np.testing.assert_array_equal(y.array, [-1, -1, 1, 1])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.array, np.zeros(4))


# --- the notes' derivative identities --------------------------------------------------------


def test_notes_identities():
    z = nr.from_numpy(np.linspace(-6, 6, 49) + 1e-3).requires_grad_()
    # tanh(z) = 2 σ(2z) - 1 (exercise in the notes)
    np.testing.assert_allclose(A.tanh(z).array, 2 * A.sigmoid(z * 2).array - 1, atol=1e-14)
    # g_S'(z) = g_S(z)(1 - g_S(z))
    s = A.sigmoid(z)
    s.sum().backward()
    np.testing.assert_allclose(z.grad.array, s.array * (1 - s.array), rtol=1e-14)
    # g_F'(z) = (g_F(z)/z)²
    z.grad = None
    f = A.softsign(z)
    f.sum().backward()
    np.testing.assert_allclose(z.grad.array, (f.array / z.array) ** 2, rtol=1e-13)
    # g_T'(z) = 1 - g_T(z)²
    z.grad = None
    t = A.tanh(z)
    t.sum().backward()
    np.testing.assert_allclose(z.grad.array, 1 - t.array ** 2, rtol=1e-13, atol=1e-15)


# --- extreme inputs ------------------------------------------------------------------------------

EXTREME = [-1e4, -1e3, -88.0, -50.0, -0.5, 0.5, 50.0, 88.0, 1e3, 1e4]
ALL_ACTIVATIONS = {
    "sigmoid": A.sigmoid, "logsigmoid": A.logsigmoid, "tanh": A.tanh, "relu": A.relu, "relu6": A.relu6,
    "hardtanh": A.hardtanh, "leaky_relu": A.leaky_relu, "elu": A.elu, "selu": A.selu, "celu": A.celu,
    "softsign": A.softsign, "softplus": A.softplus, "softplus_beta": lambda x: A.softplus(x, 0.5, 2.0),
    "gelu": A.gelu, "gelu_tanh": lambda x: A.gelu(x, "tanh"), "silu": A.silu, "softmax": A.softmax,
    "log_softmax": A.log_softmax, "heaviside": A.heaviside, "sign": sign,
    "prelu": lambda x: A.prelu(x, nr.tensor([0.25], dtype=x.dtype)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", sorted(ALL_ACTIVATIONS))
def test_extreme_inputs_give_finite_values_and_gradients(name, dtype):
    x = nr.from_numpy(np.array(EXTREME, dtype)).requires_grad_()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = ALL_ACTIVATIONS[name](x)
        (y * nr.from_numpy(np.linspace(-1, 1, len(EXTREME)).astype(dtype))).sum().backward()
    assert y.dtype == dtype and x.grad.dtype == dtype
    assert np.all(np.isfinite(y.array)), y.array
    assert np.all(np.isfinite(x.grad.array)), x.grad.array


def test_extreme_values():
    x = nr.from_numpy(np.array([-1e4, 1e4]))
    np.testing.assert_array_equal(A.sigmoid(x).array, [0.0, 1.0])
    np.testing.assert_array_equal(A.logsigmoid(x).array, [-1e4, 0.0])
    np.testing.assert_array_equal(A.softplus(x).array, [0.0, 1e4])
    np.testing.assert_array_equal(A.gelu(x).array, [0.0, 1e4])
    np.testing.assert_array_equal(A.silu(x).array, [0.0, 1e4])
    np.testing.assert_allclose(A.log_softmax(x).array, [-2e4, 0.0])


# --- erf accuracy (GELU evaluates it itself) -------------------------------------------------------


def test_erf_matches_math_erf():
    x = np.concatenate([np.linspace(-7, 7, 4001), [-2.0, 2.0, -1e-9, 0.0, 1e-9, 30.0, -30.0]])
    np.testing.assert_allclose(A._erf(x), _erf_ref(x), rtol=0, atol=2e-15)
    # the left tail of Φ keeps its relative accuracy (no 1 + erf cancellation)
    t = np.linspace(-35, -2, 500)
    cdf = np.array([0.5 * math.erfc(-v / math.sqrt(2)) for v in t])
    np.testing.assert_allclose(A._normal_cdf(t), cdf, rtol=1e-11)


# --- argument checks ------------------------------------------------------------------------------


def test_bad_arguments():
    x = nr.randn(3)
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh'"):
        A.gelu(x, "fast")
    with pytest.raises(ValueError, match="hardtanh: min_val"):
        A.hardtanh(x, 1.0, -1.0)
    with pytest.raises(ValueError, match="softplus: beta"):
        A.softplus(x, beta=0)
    with pytest.raises(ValueError, match="prelu: weight must be 1-D"):
        A.prelu(x, nr.ones(1, 1))


# --- PyTorch reference values ---------------------------------------------------------------------

FUNCTIONS = {**{n: getattr(A, n) for n in A.__all__}, **{n: getattr(L, n) for n in L.__all__}, "sign": sign}


def load_reference():
    return np.load(FIXTURE, allow_pickle=False)


def reference_cases(prefixes: tuple) -> list:
    with load_reference() as ref:
        return sorted(k[: -len(".spec")] for k in ref.files if k.endswith(".spec") and k.startswith(prefixes))


def run_reference_case(case: str, rtol: float = 1e-9, atol: float = 1e-12) -> None:
    """Run one recorded case through neurona in float64: output and gradients of Σ r ⊙ output vs PyTorch."""
    with load_reference() as ref:
        spec = json.loads(str(ref[case + ".spec"]))
        inputs = []
        for k in spec["inputs"]:
            t = nr.from_numpy(ref[f"{case}.{k}"].copy())
            if k in spec["grads"]:
                t.requires_grad_()
            inputs.append(t)
        kwargs = {k: ref[f"{case}.{v[1:]}"] if isinstance(v, str) and v.startswith("@") else v
                  for k, v in spec["kwargs"].items()}
        out = FUNCTIONS[spec["fn"]](*inputs, **kwargs)
        expected = ref[case + ".out"]
        assert out.shape == expected.shape, f"{case}: shape {out.shape}, PyTorch gives {expected.shape}"
        assert out.dtype == np.float64
        np.testing.assert_allclose(out.array, expected, rtol=rtol, atol=atol, err_msg=f"{case}: forward")
        if spec["grads"]:
            (out * nr.from_numpy(ref[case + ".r"])).sum().backward()
            for k, t in zip(spec["inputs"], inputs):
                if k in spec["grads"]:
                    np.testing.assert_allclose(t.grad.array, ref[f"{case}.grad_{k}"], rtol=rtol, atol=atol,
                                               err_msg=f"{case}: gradient with respect to {k}")


@pytest.mark.parametrize("case", reference_cases(("act_",)))
def test_against_pytorch(case):
    run_reference_case(case)
