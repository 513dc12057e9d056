"""Linear and the fused ``functional.linear`` op: NumPy and PyTorch references, gradcheck, fused vs composed."""
import math
import os

import numpy as np
import pytest

import neurona
from neurona import nn
from neurona.functional.linear import linear
from tests.opcheck import check_op

REF = np.load(os.path.join(os.path.dirname(__file__), "..", "fixtures", "nn_reference.npz"), allow_pickle=False)


@pytest.mark.parametrize("xshape, n_out", [((5, 7), 3), ((7,), 2), ((2, 3, 4), 5), ((1, 1), 1)])
def test_linear_op_against_numpy_gradcheck_float32(xshape, n_out):
    n_in = xshape[-1]
    check_op(linear, lambda x, w, b: x @ w.T + b, [xshape, (n_out, n_in), (n_out,)])


def test_empty_batch():
    layer = nn.Linear(3, 2)
    x = neurona.zeros(0, 3, requires_grad=True)
    y = layer(x)
    assert y.shape == (0, 2)
    y.sum().backward()
    assert x.grad.shape == (0, 3) and not layer.weight.grad.array.any()


def test_linear_op_without_bias():
    check_op(linear, lambda x, w: x @ w.T, [(4, 6), (3, 6)])
    check_op(linear, lambda x, w: x @ w.T, [(2, 2, 6), (3, 6)])


def test_linear_op_non_contiguous_input():
    check_op(lambda x, w, b: linear(x.transpose(), w, b), lambda x, w, b: x.T @ w.T + b, [(4, 6), (3, 4), (3,)])


def _composed(x, w, b):
    return x @ w.transpose() + b


@pytest.mark.parametrize("xshape", [(8, 5), (2, 3, 5), (5,)])
def test_fused_and_composed_agree(rng, xshape):
    x0, w0, b0 = rng.standard_normal(xshape), rng.standard_normal((4, 5)), rng.standard_normal(4)
    gy = rng.standard_normal(xshape[:-1] + (4,))
    results = []
    for fn in (linear, _composed):
        x, w, b = (neurona.from_numpy(a.copy()).requires_grad_() for a in (x0, w0, b0))
        y = fn(x, w, b)
        y.backward(gy)
        results.append((y.array, x.grad.array, w.grad.array, b.grad.array))
    for fused, composed in zip(*results):
        np.testing.assert_allclose(fused, composed, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("tag", ["linear2d", "linear3d"])
def test_linear_layer_matches_pytorch(tag):
    w, b = REF[f"{tag}_w"], REF[f"{tag}_b"]
    layer = nn.Linear(w.shape[1], w.shape[0], dtype=neurona.float64)
    layer.load_state_dict({"weight": w, "bias": b})
    x = neurona.from_numpy(REF[f"{tag}_x"].copy()).requires_grad_()
    y = layer(x)
    y.backward(REF[f"{tag}_gy"])
    np.testing.assert_allclose(y.array, REF[f"{tag}_y"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(x.grad.array, REF[f"{tag}_gx"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.weight.grad.array, REF[f"{tag}_gw"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.bias.grad.array, REF[f"{tag}_gb"], rtol=1e-12, atol=1e-12)


def test_layer_shapes_and_parameters():
    layer = nn.Linear(784, 128)
    assert layer.weight.shape == (128, 784) and layer.bias.shape == (128,)
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    assert layer(neurona.randn(32, 784)).shape == (32, 128)
    assert layer(neurona.randn(2, 5, 784)).shape == (2, 5, 128)
    nobias = nn.Linear(4, 2, bias=False)
    assert nobias.bias is None and len(list(nobias.parameters())) == 1
    assert "bias=False" in repr(nobias)


def test_default_init_is_uniform_with_bound_one_over_sqrt_fan_in():
    neurona.manual_seed(0)
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for p in (layer.weight, layer.bias):
        assert np.abs(p.array).max() <= bound
    w = layer.weight.array
    assert np.abs(w).max() > 0.99 * bound
    assert abs(w.var() - bound ** 2 / 3) < 0.03 * bound ** 2 / 3  # U(-a, a) has variance a²/3


def test_init_is_reproducible_with_manual_seed():
    neurona.manual_seed(7)
    a = nn.Linear(5, 3)
    neurona.manual_seed(7)
    b = nn.Linear(5, 3)
    np.testing.assert_array_equal(a.weight.array, b.weight.array)
    np.testing.assert_array_equal(a.bias.array, b.bias.array)


def test_wrong_feature_count_message():
    layer = nn.Linear(784, 10)
    with pytest.raises(ValueError) as e:
        layer(neurona.randn(32, 100))
    assert str(e.value) == "linear: expected input with 784 features (last dimension), got shape (32, 100)"
    with pytest.raises(ValueError, match="bias must have shape"):
        linear(neurona.randn(2, 3), neurona.randn(4, 3), neurona.randn(3))
    with pytest.raises(ValueError, match="weight must be 2-D"):
        linear(neurona.randn(2, 3), neurona.randn(3))


def test_dtype_mismatch_is_reported():
    layer = nn.Linear(3, 2)
    with pytest.raises(TypeError, match="input float64, weight float32"):
        layer(neurona.randn(4, 3, dtype=neurona.float64))
    layer.double()
    assert layer(neurona.randn(4, 3, dtype=neurona.float64)).dtype == np.float64


def test_float32_layer_keeps_float32_values_and_grads():
    layer = nn.Linear(6, 3)
    x = neurona.randn(4, 6, requires_grad=True)
    y = layer(x)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == layer.weight.grad.dtype == layer.bias.grad.dtype == np.float32


def test_frozen_weight_gets_no_gradient():
    layer = nn.Linear(3, 2)
    layer.weight.requires_grad_(False)
    x = neurona.randn(4, 3, requires_grad=True)
    layer(x).sum().backward()
    assert layer.weight.grad is None and layer.bias.grad is not None and x.grad is not None
