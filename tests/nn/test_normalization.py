"""BatchNorm1d, LayerNorm and their fused ops: NumPy and PyTorch references, gradcheck, running statistics."""
import os

import numpy as np
import pytest

import neurona
from neurona import nn
from neurona.functional.normalization import batch_norm, layer_norm
from tests.opcheck import check_op

REF = np.load(os.path.join(os.path.dirname(__file__), "..", "fixtures", "nn_reference.npz"), allow_pickle=False)
EPS = 1e-5


def _cshape(x):
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def np_batch_norm(x, w=None, b=None, eps=EPS):
    """x̂ = (x − μ_B)/sqrt(σ²_B + ε), y = γ x̂ + β over all axes but 1 (biased σ²_B)."""
    axes = (0,) + tuple(range(2, x.ndim))
    mu = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    y = (x - mu) / np.sqrt(var + eps)
    if w is not None:
        y = y * w.reshape(_cshape(x))
    if b is not None:
        y = y + b.reshape(_cshape(x))
    return y


def np_layer_norm(x, k, w=None, b=None, eps=EPS):
    axes = tuple(range(x.ndim - k, x.ndim))
    y = (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y


# --- batch norm: the fused op -------------------------------------------------------------


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (3, 2, 3, 4), (2, 1)])
def test_batch_norm_training_against_numpy_gradcheck_float32(shape):
    c = shape[1]
    check_op(lambda x, w, b: batch_norm(x, None, None, w, b, training=True),
             lambda x, w, b: np_batch_norm(x, w, b), [shape, (c,), (c,)], rtol32=1e-3, atol32=1e-4)


@pytest.mark.parametrize("shape", [(5, 4), (3, 2, 6)])
def test_batch_norm_without_affine(shape):
    check_op(lambda x: batch_norm(x, None, None, training=True), lambda x: np_batch_norm(x), [shape],
             rtol32=1e-3, atol32=1e-4)


@pytest.mark.parametrize("shape", [(5, 4), (3, 4, 6), (2, 4, 3, 3)])
def test_batch_norm_eval_against_numpy_gradcheck_float32(shape, rng):
    c = shape[1]
    rm, rv = rng.standard_normal(c), rng.uniform(0.5, 2.0, c)

    def fn(x, w, b):
        return batch_norm(x, neurona.from_numpy(rm.astype(x.dtype)), neurona.from_numpy(rv.astype(x.dtype)), w, b,
                          training=False)

    def ref(x, w, b):
        cs = _cshape(x)
        return (x - rm.reshape(cs)) / np.sqrt(rv.reshape(cs) + EPS) * w.reshape(cs) + b.reshape(cs)

    check_op(fn, ref, [shape, (c,), (c,)])


def test_batch_norm_and_layer_norm_on_noncontiguous_inputs(rng):
    rm, rv = rng.standard_normal(3), rng.uniform(0.5, 2.0, 3)
    check_op(lambda x, w, b: batch_norm(x.T, None, None, w, b, training=True),
             lambda x, w, b: np_batch_norm(x.T, w, b), [(3, 6), (3,), (3,)], rtol32=1e-3, atol32=1e-4)
    check_op(lambda x: batch_norm(x.permute(2, 1, 0)[::2], None, None, training=True),
             lambda x: np_batch_norm(x.transpose(2, 1, 0)[::2]), [(4, 3, 8)], rtol32=1e-3, atol32=1e-4)

    def eval_ref(x):
        a = x[:, ::-1]
        return (a - rm) / np.sqrt(rv + EPS)

    check_op(lambda x: batch_norm(x[:, ::-1], neurona.from_numpy(rm.astype(x.dtype)),
                                  neurona.from_numpy(rv.astype(x.dtype)), training=False), eval_ref, [(5, 3)])
    check_op(lambda x, w, b: layer_norm(x.transpose(0, 2)[:, ::2], 3, w, b),
             lambda x, w, b: np_layer_norm(np.swapaxes(x, 0, 2)[:, ::2], 1, w, b), [(3, 4, 2), (3,), (3,)],
             rtol32=1e-3, atol32=1e-4)


def _composed_batch_norm(x, w, b, eps=EPS):
    """The same normalization written with primitive ops (the reference for the fused backward)."""
    axes = (0,) + tuple(range(2, x.ndim))
    cs = _cshape(x)
    mu = x.mean(axis=axes, keepdims=True)
    xc = x - mu
    var = (xc * xc).mean(axis=axes, keepdims=True)
    return xc / (var + eps).sqrt() * w.reshape(cs) + b.reshape(cs)


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5)])
def test_fused_and_composed_batch_norm_agree(shape, rng):
    x0, w0, b0 = rng.standard_normal(shape), rng.uniform(0.5, 1.5, shape[1]), rng.standard_normal(shape[1])
    gy = rng.standard_normal(shape)
    res = []
    for fn in (lambda x, w, b: batch_norm(x, None, None, w, b, training=True), _composed_batch_norm):
        x, w, b = (neurona.from_numpy(a.copy()).requires_grad_() for a in (x0, w0, b0))
        y = fn(x, w, b)
        y.backward(gy)
        res.append((y.array, x.grad.array, w.grad.array, b.grad.array))
    for fused, composed in zip(*res):
        np.testing.assert_allclose(fused, composed, rtol=1e-10, atol=1e-12)


def test_running_statistics_update_uses_the_unbiased_variance(rng):
    x = rng.standard_normal((10, 3, 4)) * 3 + 2
    rm, rv = neurona.zeros(3, dtype=neurona.float64), neurona.ones(3, dtype=neurona.float64)
    batch_norm(neurona.from_numpy(x), rm, rv, training=True, momentum=0.2)
    n = 10 * 4
    mu = x.mean(axis=(0, 2))
    var = x.var(axis=(0, 2)) * n / (n - 1)
    np.testing.assert_allclose(rm.array, 0.2 * mu, rtol=1e-12)
    np.testing.assert_allclose(rv.array, 0.8 + 0.2 * var, rtol=1e-12)
    before = rm.array.copy()
    batch_norm(neurona.from_numpy(x), rm, rv, training=False)
    np.testing.assert_array_equal(rm.array, before)  # evaluation leaves them alone


# --- BatchNorm1d: the layer --------------------------------------------------------------


@pytest.mark.parametrize("tag", ["bn2d", "bn3d", "bncum"])
def test_batchnorm1d_matches_pytorch(tag):
    w = REF[f"{tag}_w"]
    bn = nn.BatchNorm1d(len(w), momentum=None if tag == "bncum" else 0.1, dtype=neurona.float64)
    bn.weight.array[...] = w
    bn.bias.array[...] = REF[f"{tag}_b"]
    for step in range(3):
        x = neurona.from_numpy(REF[f"{tag}_x{step}"].copy()).requires_grad_()
        y = bn(x)
        if step == 0:
            y.backward(REF[f"{tag}_gy0"])
            np.testing.assert_allclose(y.array, REF[f"{tag}_y0"], rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(x.grad.array, REF[f"{tag}_gx0"], rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(bn.weight.grad.array, REF[f"{tag}_gw0"], rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(bn.bias.grad.array, REF[f"{tag}_gb0"], rtol=1e-10, atol=1e-12)
    assert bn.num_batches_tracked.item() == 3
    np.testing.assert_allclose(bn.running_mean.array, REF[f"{tag}_running_mean"], rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.array, REF[f"{tag}_running_var"], rtol=1e-12)
    bn.eval()
    y = bn(neurona.from_numpy(REF[f"{tag}_xeval"]))
    np.testing.assert_allclose(y.array, REF[f"{tag}_yeval"], rtol=1e-10, atol=1e-12)


def test_batchnorm1d_train_versus_eval(rng):
    bn = nn.BatchNorm1d(4)
    x = neurona.tensor(rng.standard_normal((32, 4)) * 5 + 3)
    y = bn(x).array
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(0), 1, rtol=1e-3)
    bn.eval()
    # after one step the running statistics are still mostly the initial (0, 1): the output is not normalized
    assert np.abs(bn(x).array.mean(0)).max() > 0.1
    # in eval a sample's output does not depend on the rest of its batch
    one = bn(x[:1]).array
    np.testing.assert_allclose(one, bn(x).array[:1], rtol=1e-6)


def test_batchnorm1d_running_statistics_converge(rng):
    bn = nn.BatchNorm1d(2, momentum=0.5)
    for _ in range(30):
        bn(neurona.tensor(rng.standard_normal((256, 2)) * [1.0, 3.0] + [4.0, -2.0]))
    np.testing.assert_allclose(bn.running_mean.array, [4.0, -2.0], atol=0.3)
    np.testing.assert_allclose(bn.running_var.array, [1.0, 9.0], rtol=0.2)


def test_batchnorm1d_options():
    bn = nn.BatchNorm1d(3, affine=False, track_running_stats=False)
    assert list(bn.parameters()) == [] and list(bn.buffers()) == [] and bn.state_dict() == {}
    x = neurona.randn(8, 3) * 4
    bn.eval()  # no running statistics: batch statistics even in eval, as PyTorch
    np.testing.assert_allclose(bn(x).array, np_batch_norm(x.array.astype(np.float64)), rtol=1e-4, atol=1e-5)
    default = nn.BatchNorm1d(3)
    assert list(default.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    np.testing.assert_array_equal(default.weight.array, 1)
    np.testing.assert_array_equal(default.bias.array, 0)
    default(neurona.randn(4, 3))
    default.reset_running_stats()
    assert default.num_batches_tracked.item() == 0 and not default.running_mean.array.any()
    assert "BatchNorm1d(3, eps=1e-05, momentum=0.1" in repr(default)


def test_batchnorm1d_float32(rng):
    bn = nn.BatchNorm1d(3)
    x = neurona.tensor(rng.standard_normal((5, 3, 4)), requires_grad=True)
    y = bn(x)
    y.sum().backward()
    assert y.dtype == x.grad.dtype == bn.weight.grad.dtype == np.float32
    assert bn.running_mean.dtype == bn.running_var.dtype == np.float32
    bn.eval()
    assert bn(x).dtype == np.float32


def test_batchnorm1d_errors():
    bn = nn.BatchNorm1d(4)
    with pytest.raises(ValueError,
                       match=r"expected 4 channels on axis 1 \(num_features\), got input of shape \(8, 3\)"):
        bn(neurona.randn(8, 3))
    with pytest.raises(ValueError, match=r"expected input of shape \(N, C\) or \(N, C, L\), got shape \(2, 4, 3, 3\)"):
        bn(neurona.randn(2, 4, 3, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel when training"):
        bn(neurona.randn(1, 4))
    bn.eval()
    assert bn(neurona.randn(1, 4)).shape == (1, 4)  # a single sample is fine in eval
    with pytest.raises(ValueError, match="running_mean must have shape"):
        batch_norm(neurona.randn(3, 4), neurona.zeros(3), neurona.ones(3))


# --- layer norm ------------------------------------------------------------------------


@pytest.mark.parametrize("shape, k", [((4, 6), 1), ((2, 3, 5), 1), ((2, 3, 4), 2), ((7,), 1)])
def test_layer_norm_against_numpy_gradcheck_float32(shape, k):
    ns = shape[len(shape) - k:]
    check_op(lambda x, w, b: layer_norm(x, ns, w, b), lambda x, w, b: np_layer_norm(x, k, w, b),
             [shape, ns, ns], rtol32=1e-3, atol32=1e-4)
    check_op(lambda x: layer_norm(x, ns), lambda x: np_layer_norm(x, k), [shape], rtol32=1e-3, atol32=1e-4)


@pytest.mark.parametrize("tag, ns", [("ln1", (6,)), ("ln2", (4, 5))])
def test_layernorm_matches_pytorch(tag, ns):
    ln = nn.LayerNorm(ns, dtype=neurona.float64)
    ln.load_state_dict({"weight": REF[f"{tag}_w"], "bias": REF[f"{tag}_b"]})
    x = neurona.from_numpy(REF[f"{tag}_x"].copy()).requires_grad_()
    y = ln(x)
    y.backward(REF[f"{tag}_gy"])
    np.testing.assert_allclose(y.array, REF[f"{tag}_y"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(x.grad.array, REF[f"{tag}_gx"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ln.weight.grad.array, REF[f"{tag}_gw"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ln.bias.grad.array, REF[f"{tag}_gb"], rtol=1e-10, atol=1e-12)


def test_layernorm_layer(rng):
    ln = nn.LayerNorm(8)
    assert ln.weight.shape == ln.bias.shape == (8,) and ln.weight.dtype == np.float32
    x = neurona.tensor(rng.standard_normal((3, 5, 8)) * 4 + 1, requires_grad=True)
    y = ln(x)
    np.testing.assert_allclose(y.array.mean(-1), 0, atol=1e-5)
    np.testing.assert_allclose(y.array.var(-1), 1, rtol=1e-3)
    y.sum().backward()
    assert y.dtype == x.grad.dtype == ln.weight.grad.dtype == np.float32
    ln.eval()
    np.testing.assert_array_equal(ln(x).array, y.array)  # no train/eval difference
    plain = nn.LayerNorm((5, 8), elementwise_affine=False)
    assert list(plain.parameters()) == [] and plain(x).shape == x.shape
    assert len(list(nn.LayerNorm(8, bias=False).parameters())) == 1
    assert "LayerNorm((8,), eps=1e-05, elementwise_affine=True)" in repr(ln)
    with pytest.raises(ValueError, match=r"last dimensions are normalized_shape \(8,\), got shape \(3, 7\)"):
        ln(neurona.randn(3, 7))


def test_integer_input_is_refused():
    with pytest.raises(TypeError, match="batch_norm: expected a floating-point input, got dtype int64"):
        batch_norm(neurona.tensor([[1, 2], [3, 4]]), None, None, training=True)
    with pytest.raises(TypeError, match="layer_norm: expected a floating-point input"):
        layer_norm(neurona.tensor([[1, 2], [3, 4]]), 2)


# --- batch norm on the memory layouts convolutions produce ------------------------------------------

from neurona.functional.pool import _alloc, _axis_order  # noqa: E402
from neurona.engine import Function  # noqa: E402


class _Layout(Function):
    """Identity that stores its output in axis order ``order``; its gradient goes back in the input's order."""

    def __init__(self, order):
        self.order = order

    def forward(self, x):
        self.back = _axis_order(x)
        out = _alloc(np, x.shape, x.dtype, self.order)
        out[...] = x
        return out

    def backward(self, gy):
        g = _alloc(np, gy.shape, gy.dtype, self.back)
        g[...] = gy
        return g


LAYOUTS = {"NHWC": (0, 2, 3, 1), "CHWN": (1, 2, 3, 0), "NWHC": (0, 3, 2, 1)}  # the last one: neither fast path


@pytest.mark.host_only("memory layouts of host arrays (a copy to a device is contiguous)")
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("shape", [(4, 3, 5, 6), (3, 2, 5, 3), (2, 5, 1, 1)])
def test_batch_norm_in_channels_last_and_batch_last_memory(layout, shape):
    """Channels-last and batch-last inputs take the matrix fast path (channels as one axis of an (M, C)
    or (C, M) matrix); gradients arriving in the output's layout or another one give the same results."""
    c = shape[1]
    order = LAYOUTS[layout]

    def fn(x, w, b):
        y = batch_norm(_Layout(order)(x), None, None, w, b, training=True)
        return _Layout((0, 1, 2, 3))(y) if layout == "NHWC" else y  # NHWC: the gradient comes back NCHW

    check_op(fn, lambda x, w, b: np_batch_norm(x, w, b), [shape, (c,), (c,)], rtol32=1e-3, atol32=1e-4)


def test_batch_norm_fast_path_is_taken_for_convolution_layouts(rng):
    from neurona.functional.normalization import _ChannelMatrix

    a = rng.standard_normal((8, 16, 5, 5)).astype(np.float32)
    assert _ChannelMatrix.of(np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)).kind == "last"
    assert _ChannelMatrix.of(np.ascontiguousarray(a.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)).kind == "first"
    assert _ChannelMatrix.of(a[:, :, ::2]) is None and _ChannelMatrix.of(a) is None
    assert _ChannelMatrix.of(np.ascontiguousarray(a[:, :, 0, 0])).kind == "last"  # (N, C) features
