"""Every fast op kernel against its reference op: values and gradients, float32 and float64, memory orders.

Each case runs the same computation with ``NEURONA_KERNELS=reference`` and with the kernels
(``tests/kernels/common.py``); the float64 gradients of the kernels also pass a finite-difference check.
"""
import itertools

import numpy as np
import pytest

import neurona
from neurona import nn, runtime
from neurona.nn import functional as F
from tests.kernels.common import DTYPES, assert_agree, run_both, stored

pytest.importorskip("numba")

MEMORY = [(0, 1, 2, 3), (1, 2, 3, 0), (0, 2, 3, 1)]  # NCHW, batch-last, channels-last


def _x(shape, dtype, memory=None, seed=0, scale=1.0):
    a = (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)
    return a if memory is None else stored(a, memory)


def _kernel_ran(fn, *arrays, module):
    """The op that ``fn`` records comes from the kernel file ``module``."""
    ts = [neurona.from_numpy(a).requires_grad_() for a in arrays]
    op = fn(*ts).grad_fn
    while type(op).__module__ == "neurona.functional.shape":  # slices of a packed output
        op = op.parents[0]
    assert type(op).__module__ == f"neurona.kernels.{module}", type(op)


# --- activations ----------------------------------------------------------------------------------------

ACTS = {"relu": F.relu, "sigmoid": F.sigmoid, "tanh": F.tanh, "leaky_relu": lambda t: F.leaky_relu(t, 0.2)}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", list(ACTS))
@pytest.mark.parametrize("shape, memory", [((7,), None), ((3, 5), (1, 0)), ((2, 3, 4, 5), MEMORY[1]),
                                           ((2, 3, 1, 1), MEMORY[2]), ((0, 3), None)])
def test_activations(act, dtype, shape, memory):
    x = _x(shape, dtype, memory, scale=3)
    out = run_both(ACTS[act], [x])
    assert_agree(out, dtype)
    if dtype == np.float64 and x.size:
        _kernel_ran(ACTS[act], x, module="activation")
        assert neurona.gradcheck(ACTS[act], neurona.from_numpy(np.ascontiguousarray(x)))


def test_activations_keep_nan_and_extremes():
    x = np.array([np.nan, -1e4, 1e4, 0.0, -0.0], np.float32)
    for name, f in ACTS.items():
        out = run_both(f, [x], grad=False)
        np.testing.assert_array_equal(np.isnan(out["numba"][0]), np.isnan(out["reference"][0]), err_msg=name)
        np.testing.assert_allclose(out["numba"][0], out["reference"][0], rtol=1e-6, atol=1e-30, err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ["relu", "leaky_relu", "sigmoid", "tanh"])
def test_linear_activation_equals_linear_then_activation(act, dtype):
    from neurona.kernels.activation import LinearActivation
    x, w, b = _x((4, 3, 6), dtype, scale=2), _x((5, 6), dtype, seed=1), _x((5,), dtype, seed=2)
    slope = 0.1

    def fused(x, w, b):
        return LinearActivation(act, slope)(x, w, b)

    def plain(x, w, b):
        y = F.linear(x, w, b)
        return {"relu": F.relu, "sigmoid": F.sigmoid, "tanh": F.tanh}.get(act, lambda t: F.leaky_relu(t, slope))(y)

    ts = [neurona.from_numpy(a).requires_grad_() for a in (x, w, b)]
    y = fused(*ts)
    y.backward(neurona.from_numpy(np.cos(np.arange(y.array.size)).reshape(y.shape).astype(dtype)))
    with runtime.use_kernels("reference"):
        rs = [neurona.from_numpy(a).requires_grad_() for a in (x, w, b)]
        r = plain(*rs)
        r.backward(neurona.from_numpy(np.cos(np.arange(r.array.size)).reshape(r.shape).astype(dtype)))
    tol = dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-12)
    assert y.dtype == dtype and y.shape == (4, 3, 5)
    for a, b_ in zip([y] + [t.grad for t in ts], [r] + [t.grad for t in rs]):
        assert a.dtype == dtype
        np.testing.assert_allclose(a.array, b_.array, **tol)
    if dtype == np.float64:
        assert neurona.gradcheck(fused, *(neurona.from_numpy(a) for a in (x, w, b)))


# --- cross-entropy --------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("ignore", [None, 2])
def test_cross_entropy(dtype, reduction, ignore):
    x = _x((9, 5), dtype, scale=3)
    y = np.array([0, 2, 4, 1, 2, 3, 0, 2, 1])
    kw = {} if ignore is None else {"ignore_index": ignore}
    out = run_both(lambda t: F.cross_entropy(t, y, reduction=reduction, **kw), [x])
    assert_agree(out, dtype)
    if dtype == np.float64:
        _kernel_ran(lambda t: F.cross_entropy(t, y, reduction=reduction, **kw), x, module="loss")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_cross_entropy_extreme_logits_and_all_ignored():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]], np.float32)
    out = run_both(lambda t: F.cross_entropy(t, np.array([1, 2])), [x])
    assert_agree(out, np.float32)
    assert np.isfinite(out["numba"][0]).all()
    out = run_both(lambda t: F.cross_entropy(t, np.array([-100, -100])), [x])
    assert np.isnan(out["numba"][0]) and np.isnan(out["reference"][0])  # 0/0, as PyTorch


# --- batch norm -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, memory", [((6, 3, 4, 5), m) for m in MEMORY] + [((7, 4), None), ((5, 3, 6), None),
                                                                                 ((3, 2, 1, 1), MEMORY[2])])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_train_and_eval(dtype, shape, memory, affine):
    x = _x(shape, dtype, memory, scale=2) + 3
    c = shape[1]
    for training in (True, False):
        def fn(t):
            rm, rv = neurona.zeros(c, dtype=dtype) + 0.5, neurona.ones(c, dtype=dtype) * 2
            w = neurona.from_numpy(np.linspace(0.5, 1.5, c).astype(dtype)) if affine else None
            b = neurona.from_numpy(np.linspace(-1, 1, c).astype(dtype)) if affine else None
            y = F.batch_norm(t, rm, rv, w, b, training, 0.1)
            return y, rm * 1, rv * 1
        assert_agree(run_both(fn, [x]), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("memory", MEMORY)
def test_batch_norm_relu_equals_batch_norm_then_relu(dtype, memory):
    from neurona.kernels.normalization import BatchNormReLU
    x = _x((6, 3, 4, 5), dtype, memory)
    w = np.linspace(-1, 1.5, 3).astype(dtype)
    b = np.linspace(-0.5, 0.5, 3).astype(dtype)
    ts = [neurona.from_numpy(a).requires_grad_() for a in (x, w, b)]
    y = BatchNormReLU(1e-5, True, True)(*ts)
    g = np.cos(np.arange(y.array.size)).reshape(y.shape).astype(dtype)
    y.backward(neurona.from_numpy(g))
    with runtime.use_kernels("reference"):
        rs = [neurona.from_numpy(a).requires_grad_() for a in (x, w, b)]
        r = F.relu(F.batch_norm(rs[0], None, None, rs[1], rs[2], True))
        r.backward(neurona.from_numpy(g))
    tol = dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-12)
    for a, b_ in zip([y] + [t.grad for t in ts], [r] + [t.grad for t in rs]):
        np.testing.assert_allclose(a.array, b_.array, **tol)
    assert y.array.transpose(memory).flags.c_contiguous  # the input's memory order is kept


# --- pooling --------------------------------------------------------------------------------------------

POOLS = [(2, None, 0, 1, False), (3, 2, 1, 1, False), (2, 1, 0, 1, False), (3, 2, 0, 2, True), (2, 2, 0, 1, True),
         ((2, 3), (1, 2), (1, 1), 1, False)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("memory", MEMORY)
@pytest.mark.parametrize("k, s, p, d, ceil", POOLS)
def test_pooling(dtype, memory, k, s, p, d, ceil):
    x = _x((2, 3, 7, 8), dtype, memory)
    out = run_both(lambda t: F.max_pool2d(t, k, s, p, d, ceil), [x])
    assert_agree(out, dtype)
    if d == 1:
        assert_agree(run_both(lambda t: F.avg_pool2d(t, k, s, p, ceil), [x]), dtype)
    if dtype == np.float64:
        xd = np.random.default_rng(3).permutation(336).reshape(2, 3, 7, 8) * 0.1  # distinct: differentiable
        inverse = tuple(int(i) for i in np.argsort(memory))
        xs = np.ascontiguousarray(xd.transpose(memory))  # gradcheck perturbs a contiguous array; the op sees it

        def pool(t):                                       # in the memory order under test
            return F.max_pool2d(t.permute(*inverse), k, s, p, d, ceil)
        assert neurona.gradcheck(pool, neurona.from_numpy(xs))


def test_max_pool_ties_indices_and_nan():
    """Ties: the first maximum of the window wins, as in the reference and PyTorch (same indices). A NaN wins its
    window (PyTorch's rule; the reference gives NaN too)."""
    x = np.round(np.random.default_rng(2).standard_normal((2, 2, 6, 6)) * 1.5).astype(np.float32)  # many ties
    for memory in MEMORY:
        xs = stored(x, memory)
        for args in ((2,), (3, 2, 1)):
            res = {}
            for path in ("reference", "numba"):
                with runtime.use_kernels(path):
                    y, i = F.max_pool2d(neurona.from_numpy(xs), *args, return_indices=True)
                    res[path] = (y.array, i.array)
            np.testing.assert_array_equal(res["numba"][0], res["reference"][0])
            np.testing.assert_array_equal(res["numba"][1], res["reference"][1])
    x[0, 0, 0, 0] = np.nan
    y, i = F.max_pool2d(neurona.from_numpy(x), 3, 2, 1, return_indices=True)
    assert np.isnan(y.array[0, 0, 0, 0]) and i.array[0, 0, 0, 0] == 0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("memory", MEMORY)
def test_max_pool_relu_equals_relu_then_max_pool(dtype, memory):
    from neurona.kernels.pool import MaxPoolReLU
    x = stored(np.round(np.random.default_rng(4).standard_normal((2, 3, 8, 7)) * 1.5).astype(dtype), memory)
    for k, s, p in ((2, 2, 0), (3, 2, 1)):
        from neurona.functional.pool import _max_pool2d
        xt = neurona.from_numpy(x).requires_grad_()
        y = _max_pool2d(xt, k, s, p, 1, False, False, MaxPoolReLU)
        g = np.cos(np.arange(y.array.size)).reshape(y.shape).astype(dtype)
        y.backward(neurona.from_numpy(g))
        with runtime.use_kernels("reference"):
            rt = neurona.from_numpy(x).requires_grad_()
            r = F.max_pool2d(F.relu(rt), k, s, p)
            r.backward(neurona.from_numpy(g))
        np.testing.assert_array_equal(y.array, r.array)
        np.testing.assert_allclose(xt.grad.array, rt.grad.array, rtol=1e-12, atol=1e-15)  # overlapping windows
        assert ((xt.grad.array != 0) == (rt.grad.array != 0)).all()                     # add in another order


# --- dropout --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("memory", [None, (1, 2, 3, 0)])
def test_dropout_drops_the_same_units(dtype, memory):
    x = _x((3, 4, 5, 6), dtype, memory)
    out = run_both(lambda t: F.dropout(t, 0.3, True), [x], seed=7)
    assert_agree(out, dtype)
    assert (out["numba"][0] == 0).mean() == pytest.approx(0.3, abs=0.08)


# --- recurrent layers -----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cell, reverse, bias", list(itertools.product(["lstm", "gru"], [False, True],
                                                                       [True, False])))
def test_recurrent_sequences(dtype, cell, reverse, bias):
    from neurona.functional import recurrent as R
    g = 4 if cell == "lstm" else 3
    T, B, I, H = 6, 3, 4, 5
    arrays = [_x((T, B, I), dtype), _x((B, H), dtype, seed=1), _x((B, H), dtype, seed=2),
              _x((g * H, I), dtype, seed=3), _x((g * H, H), dtype, seed=4)]
    if bias:
        arrays += [_x((g * H,), dtype, seed=5), _x((g * H,), dtype, seed=6)]
    if cell == "gru":
        del arrays[2]
    fn = R.lstm_sequence if cell == "lstm" else R.gru_sequence
    assert_agree(run_both(lambda *ts: fn(*ts, reverse=reverse), arrays), dtype)
    if dtype == np.float64:
        _kernel_ran(lambda *ts: fn(*ts, reverse=reverse)[0], *arrays, module="recurrent")
        assert neurona.gradcheck(lambda *ts: fn(*ts, reverse=reverse)[0],
                                 *(neurona.from_numpy(a) for a in arrays))


@pytest.mark.parametrize("cell, reverse", list(itertools.product(["lstm", "gru"], [False, True])))
def test_recurrent_sequences_from_a_zero_state_without_gradient(cell, reverse):
    # the layers' default initial state: the kernels skip the first step's product and the one for ∂L/∂h_0
    from neurona.functional import recurrent as R
    g = 4 if cell == "lstm" else 3
    T, B, I, H = 6, 3, 4, 5
    arrays = [_x((T, B, I), np.float64), _x((g * H, I), np.float64, seed=3), _x((g * H, H), np.float64, seed=4),
              _x((g * H,), np.float64, seed=5), _x((g * H,), np.float64, seed=6)]
    fn = R.lstm_sequence if cell == "lstm" else R.gru_sequence

    def seq(x, w_ih, w_hh, b_ih, b_hh):
        zeros = [neurona.zeros(B, H, dtype=neurona.float64) for _ in range(2 if cell == "lstm" else 1)]
        return fn(x, *zeros, w_ih, w_hh, b_ih, b_hh, reverse=reverse)

    assert_agree(run_both(seq, arrays), np.float64)
    _kernel_ran(lambda *ts: seq(*ts)[0], *arrays, module="recurrent")


def test_padded_sequences_keep_the_reference():
    from neurona.functional import recurrent as R
    x = neurona.from_numpy(_x((5, 2, 3), np.float64)).requires_grad_()
    h0 = neurona.zeros(2, 4, dtype=neurona.float64)
    w_ih = neurona.from_numpy(_x((12, 3), np.float64)).requires_grad_()
    w_hh = neurona.from_numpy(_x((12, 4), np.float64)).requires_grad_()
    out, _ = R.gru_sequence(x, h0, w_ih, w_hh, lengths=[5, 3])
    assert type(out.grad_fn).__module__ != "neurona.kernels.recurrent"


def test_layers_use_the_kernels_in_float32():
    lstm = nn.LSTM(3, 4)
    y, (h, c) = lstm(neurona.from_numpy(_x((5, 2, 3), np.float32)))
    assert y.dtype == h.dtype == c.dtype == np.float32
