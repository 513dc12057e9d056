"""Dropout and GaussianNoise: masks, scaling, expectation, eval mode, gradients."""
import numpy as np
import pytest

import neurona
from neurona import nn
from neurona.functional.dropout import dropout, gaussian_noise


def test_train_mode_zeroes_a_fraction_p_and_scales_the_rest():
    neurona.manual_seed(0)
    x = neurona.ones(200, 500)
    y = nn.Dropout(0.3)(x).array
    dropped = (y == 0).mean()
    assert dropped == pytest.approx(0.3, abs=0.01)
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)
    assert y.dtype == np.float32


def test_expectation_is_preserved():
    rng = np.random.default_rng(0)
    x = neurona.tensor(rng.standard_normal((4, 5)))
    draws = np.stack([dropout(x, 0.5, generator=rng).array for _ in range(4000)])
    # each draw has variance x² (p/(1-p)) = x²: the mean of 4000 is within 4/sqrt(4000)·|x|
    np.testing.assert_array_less(np.abs(draws.mean(0) - x.array), 4 * np.abs(x.array) / np.sqrt(4000) + 1e-6)


def test_eval_mode_and_p0_are_the_identity():
    x = neurona.randn(3, 4)
    layer = nn.Dropout(0.5).eval()
    assert layer(x) is x
    assert nn.Dropout(0.0)(x) is x
    assert dropout(x, 0.9, training=False) is x
    assert dropout(x, 0.9, False, True) is x  # PyTorch's positional (input, p, training, inplace)


def test_p1_drops_everything():
    x = neurona.randn(3, 4, requires_grad=True)
    y = dropout(x, 1.0)
    assert not y.array.any()
    y.sum().backward()
    assert not x.grad.array.any()


def test_invalid_p():
    with pytest.raises(ValueError, match="between 0 and 1, got p=1.5"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        dropout(neurona.ones(2), -0.1)


def test_gradient_is_the_mask():
    neurona.manual_seed(1)
    x = neurona.randn(6, 7, requires_grad=True)
    y = nn.Dropout(0.4)(x)
    y.backward(neurona.ones_like(y))
    expected = np.where(y.array != 0, 1 / 0.6, 0.0)
    np.testing.assert_allclose(x.grad.array, expected, rtol=1e-6)
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4)])
def test_gradcheck_with_a_fixed_mask(shape):
    x = neurona.randn(*shape, dtype=neurona.float64, requires_grad=True)
    # a fresh generator with the same seed in every call: the same mask for the finite differences
    assert neurona.gradcheck(lambda t: dropout(t, 0.3, generator=np.random.default_rng(5)), x)


def test_same_seed_same_mask():
    x = neurona.ones(10, 10)
    neurona.manual_seed(4)
    a = nn.Dropout()(x).array
    neurona.manual_seed(4)
    b = nn.Dropout()(x).array
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, nn.Dropout()(x).array)


def test_float64_input_stays_float64():
    x = neurona.randn(3, 3, dtype=neurona.float64, requires_grad=True)
    y = dropout(x, 0.5)
    y.sum().backward()
    assert y.dtype == np.float64 and x.grad.dtype == np.float64


def test_gaussian_noise():
    neurona.manual_seed(0)
    layer = nn.GaussianNoise(0.5)
    x = neurona.zeros(300, 300, requires_grad=True)
    y = layer(x)
    assert y.dtype == np.float32
    assert y.array.std() == pytest.approx(0.5, rel=0.02) and abs(y.array.mean()) < 0.01
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.array, np.ones((300, 300)))  # the noise is a constant
    layer.eval()
    assert layer(x) is x
    assert gaussian_noise(x, 0.0) is x
    with pytest.raises(ValueError, match="non-negative"):
        nn.GaussianNoise(-1)
    assert "std=0.5" in repr(layer)


def test_dropout_in_a_model_follows_train_and_eval():
    model = nn.Sequential(nn.Linear(10, 10), nn.Dropout(0.5))
    x = neurona.randn(4, 10)
    model.eval()
    np.testing.assert_array_equal(model(x).array, model(x).array)
    model.train()
    neurona.manual_seed(0)
    assert not np.array_equal(model(x).array, model(x).array)
