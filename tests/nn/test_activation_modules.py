"""Activation layers (neurona/nn/activation.py): each module equals its function, and the learnable ones learn."""
from __future__ import annotations

import math

import numpy as np
import pytest

import neurona as nr
from neurona import nn
from neurona.functional import activation as A
from neurona.functional.math import sign

# module, the function it must equal
PAIRS = [
    (nn.Step(), A.heaviside),
    (nn.Step(threshold=0.5, value=1.0), lambda x: A.heaviside(x, 1.0, threshold=0.5)),
    (nn.Sign(), sign),
    (nn.Sigmoid(), A.sigmoid),
    (nn.LogSigmoid(), A.logsigmoid),
    (nn.Tanh(), A.tanh),
    (nn.ReLU(), A.relu),
    (nn.ReLU(inplace=True), A.relu),
    (nn.ReLU6(), A.relu6),
    (nn.Hardtanh(-2.0, 0.5), lambda x: A.hardtanh(x, -2.0, 0.5)),
    (nn.LeakyReLU(), A.leaky_relu),
    (nn.LeakyReLU(0.1), lambda x: A.leaky_relu(x, 0.1)),
    (nn.ELU(alpha=0.7), lambda x: A.elu(x, 0.7)),
    (nn.SELU(), A.selu),
    (nn.CELU(alpha=1.3), lambda x: A.celu(x, 1.3)),
    (nn.Softsign(), A.softsign),
    (nn.Softplus(beta=2.0, threshold=3.0), lambda x: A.softplus(x, 2.0, 3.0)),
    (nn.GELU(), A.gelu),
    (nn.GELU(approximate="tanh"), lambda x: A.gelu(x, "tanh")),
    (nn.SiLU(), A.silu),
    (nn.Softmax(dim=1), lambda x: A.softmax(x, 1)),
    (nn.Softmax(), A.softmax),
    (nn.LogSoftmax(dim=0), lambda x: A.log_softmax(x, 0)),
    (nn.PReLU(), lambda x: A.prelu(x, nr.tensor([0.25]))),
    (nn.PReLU(3, init=0.1), lambda x: A.prelu(x, nr.tensor([0.1, 0.1, 0.1]))),
]


@pytest.mark.parametrize("module,fn", PAIRS, ids=[repr(m) for m, _ in PAIRS])
def test_module_equals_function(module, fn, rng):
    x1 = nr.from_numpy((rng.standard_normal((4, 3, 2)) * 3).astype(np.float32)).requires_grad_()
    x2 = nr.from_numpy(x1.array.copy()).requires_grad_()
    y1, y2 = module(x1), fn(x2)
    assert y1.dtype == np.float32
    np.testing.assert_array_equal(y1.array, y2.array)
    r = nr.from_numpy(rng.standard_normal(y1.shape).astype(np.float32))
    (y1 * r).sum().backward()
    (y2 * r).sum().backward()
    np.testing.assert_array_equal(x1.grad.array, x2.grad.array)


def test_activation_modules_have_no_parameters_except_prelu_and_maxout():
    for module, _ in PAIRS:
        n = len(list(module.parameters()))
        assert n == (1 if isinstance(module, nn.PReLU) else 0), module


def test_reprs_show_hyperparameters():
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(nn.ELU()) == "ELU(alpha=1.0)"
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"
    assert repr(nn.GELU("tanh")) == "GELU(approximate='tanh')"
    assert repr(nn.Softplus()) == "Softplus(beta=1.0, threshold=20.0)"
    assert repr(nn.Sigmoid()) == "Sigmoid()"
    assert repr(nn.PReLU(4)).startswith("PReLU(num_parameters=4)")
    assert repr(nn.Maxout(3, 2, pool_size=4)).startswith(
        "Maxout(in_features=3, out_features=2, pool_size=4, bias=True)")


def test_bad_hyperparameters():
    with pytest.raises(ValueError, match="GELU: approximate"):
        nn.GELU("erf")
    with pytest.raises(ValueError, match="Hardtanh: min_val"):
        nn.Hardtanh(1.0, -1.0)
    with pytest.raises(ValueError, match="Softplus: beta"):
        nn.Softplus(beta=0.0)
    with pytest.raises(ValueError, match="CELU: alpha"):
        nn.CELU(alpha=0.0)
    with pytest.raises(ValueError, match="PReLU: num_parameters"):
        nn.PReLU(0)
    with pytest.raises(ValueError, match="Maxout: in_features, out_features and pool_size must be positive"):
        nn.Maxout(4, 3, pool_size=0)


# --- PReLU: a learnable slope ---------------------------------------------------------------------------


def test_prelu_parameter_registration_and_gradient():
    act = nn.PReLU(num_parameters=3, init=0.2)
    assert [n for n, _ in act.named_parameters()] == ["weight"]
    assert act.weight.shape == (3,) and act.weight.dtype == np.float32
    np.testing.assert_array_equal(act.weight.array, np.full(3, 0.2, np.float32))
    assert list(act.state_dict()) == ["weight"]
    x = nr.tensor([[[-1.0, 2.0], [-3.0, -4.0], [5.0, 6.0]]])  # (1, 3, 2): channels on dim 1
    act(x).sum().backward()
    np.testing.assert_array_equal(act.weight.grad.array, [-1.0, -7.0, 0.0])  # ∂y/∂α = x where x ≤ 0
    act.double()
    assert act.weight.dtype == np.float64 and act(x.double()).dtype == np.float64


def test_prelu_learns_the_slope():
    # data made by a leaky ReLU with slope 0.3: gradient descent on α recovers it
    act = nn.PReLU()
    x = nr.from_numpy(np.linspace(-3, 3, 61).astype(np.float32))
    target = A.leaky_relu(x, 0.3)
    for _ in range(200):
        act.zero_grad()
        loss = ((act(x) - target) ** 2).mean()
        loss.backward()
        act.weight.array -= 0.5 * act.weight.grad.array
    assert abs(act.weight.array[0] - 0.3) < 1e-4


def test_prelu_channel_mismatch():
    with pytest.raises(ValueError, match=r"prelu: weight has 3 parameters but the input of shape \(2, 4\) has 4"):
        nn.PReLU(3)(nr.randn(2, 4))


# --- Maxout: max over k affine pieces -------------------------------------------------------------------


def test_maxout_parameters_and_initialization():
    nr.manual_seed(0)
    layer = nn.Maxout(16, 5, pool_size=3)
    assert layer.weight.shape == (5, 3, 16) and layer.bias.shape == (5, 3)
    assert layer.num_parameters() == 5 * 3 * 16 + 5 * 3
    bound = 1 / math.sqrt(16)
    assert np.abs(layer.weight.array).max() <= bound and np.abs(layer.bias.array).max() <= bound
    assert layer.weight.array.std() > bound / 3  # actually drawn, not constant
    assert nn.Maxout(4, 2, bias=False).bias is None
    assert [n for n, _ in nn.Maxout(4, 2, bias=False).named_parameters()] == ["weight"]
    assert nn.Maxout(4, 2, dtype=nr.float64).weight.dtype == np.float64


@pytest.mark.parametrize("bias", [True, False])
def test_maxout_module_matches_function_and_reaches_every_parameter(bias):
    layer = nn.Maxout(4, 3, pool_size=2, bias=bias).double()
    x = nr.randn(6, 4, dtype=nr.float64, requires_grad=True)
    y = layer(x)
    z = np.einsum("ni,opi->nop", x.array, layer.weight.array) + (layer.bias.array if bias else 0)
    np.testing.assert_allclose(y.array, z.max(axis=-1), rtol=1e-13)
    y.sum().backward()
    assert x.grad is not None and layer.weight.grad is not None
    # each (sample, unit) sends its gradient to exactly one piece
    if bias:
        assert layer.bias.grad.array.sum() == pytest.approx(6 * 3)
    assert nr.gradcheck(lambda t: layer(t), x)


def test_maxout_network_learns_xor():
    # a maxout layer is a universal piecewise-linear unit: with 2 pieces it solves XOR, which no linear model can
    nr.manual_seed(3)
    x = nr.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = nr.tensor([[0.0], [1.0], [1.0], [0.0]])
    model = nn.Sequential(nn.Maxout(2, 8, pool_size=2), nn.Linear(8, 1))
    for _ in range(400):
        model.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        for p in model.parameters():
            p.array -= 0.1 * p.grad.array
    assert loss.item() < 1e-2


def test_activations_inside_sequential():
    nr.manual_seed(1)
    for act in (nn.ReLU(), nn.Tanh(), nn.GELU(), nn.PReLU(8), nn.Softsign(), nn.ELU(), nn.SiLU()):
        model = nn.Sequential(nn.Linear(3, 8), act, nn.Linear(8, 2), nn.LogSoftmax(dim=1))
        out = model(nr.randn(5, 3))
        assert out.shape == (5, 2) and out.dtype == np.float32
        np.testing.assert_allclose(np.exp(out.array).sum(axis=1), 1.0, rtol=1e-5)
