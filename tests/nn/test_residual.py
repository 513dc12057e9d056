"""Residual: f(x) + x, its gradient, projections and the shape error."""
import numpy as np
import pytest

import neurona
from neurona import nn
from neurona.functional.linear import linear


def test_value_is_f_of_x_plus_x():
    f = nn.Linear(5, 5)
    block = nn.Residual(f)
    x = neurona.randn(4, 5)
    np.testing.assert_allclose(block(x).array, f(x).array + x.array, rtol=1e-6)
    assert [n for n, _ in block.named_parameters()] == ["fn.weight", "fn.bias"]


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4)])
def test_gradcheck(shape, rng):
    w, b = rng.standard_normal((4, 4)), rng.standard_normal(4)

    class F(nn.Module):
        def forward(self, x):
            return linear(x, neurona.from_numpy(w), neurona.from_numpy(b)).tanh()

    x = neurona.from_numpy(rng.standard_normal(shape)).requires_grad_()
    assert neurona.gradcheck(nn.Residual(F()), x)


def test_gradient_of_the_skip_path_is_the_identity():
    block = nn.Residual(nn.Linear(3, 3))
    nn.init.zeros_(block.fn.weight)
    x = neurona.randn(2, 3, requires_grad=True)
    block(x).sum().backward()
    np.testing.assert_array_equal(x.grad.array, np.ones((2, 3)))  # ∂(f(x) + x)/∂x = f'(x) + I, f' = 0 here


def test_shape_mismatch_is_a_clear_error():
    block = nn.Residual(nn.Linear(10, 20))
    with pytest.raises(ValueError) as e:
        block(neurona.randn(8, 10))
    msg = str(e.value)
    assert "Residual" in msg and "Linear maps (8, 10) to (8, 20)" in msg and "shortcut=" in msg


def test_projection_shortcut():
    f, proj = nn.Linear(10, 20), nn.Linear(10, 20, bias=False)
    block = nn.Residual(f, shortcut=proj)
    x = neurona.randn(8, 10)
    np.testing.assert_allclose(block(x).array, f(x).array + proj(x).array, rtol=1e-6)
    assert block.num_parameters() == 10 * 20 + 20 + 10 * 20
    bad = nn.Residual(nn.Linear(10, 20), shortcut=nn.Linear(10, 5))
    with pytest.raises(ValueError, match=r"shortcut\(x\) has shape \(8, 5\)"):
        bad(x)
    assert "(shortcut): Linear" in repr(block)


def test_residual_needs_a_module():
    with pytest.raises(TypeError, match="expected a Module"):
        nn.Residual(lambda x: x)
