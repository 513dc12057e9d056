"""nn.utils: gradient clipping (norm and value), L1/L2 penalties, flat parameter vectors."""
import math

import numpy as np
import pytest

import neurona
from neurona import nn
from neurona.nn.utils import (clip_grad_norm_, clip_grad_value_, l1_penalty, l2_penalty, parameters_to_vector,
                              vector_to_parameters)


def _params_with_grads(rng, shapes, scale=1.0, dtype=np.float32):
    ps = []
    for s in shapes:
        p = nn.Parameter(neurona.from_numpy(rng.standard_normal(s).astype(dtype)))
        p.grad = neurona.from_numpy((rng.standard_normal(s) * scale).astype(dtype))
        ps.append(p)
    return ps


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
def test_clip_grad_norm_matches_numpy(rng, norm_type):
    ps = _params_with_grads(rng, [(4, 3), (3,), (2, 2, 2)], scale=5.0)
    grads = [p.grad.array.astype(np.float64) for p in ps]
    flat = np.concatenate([g.ravel() for g in grads])
    expected = np.abs(flat).max() if math.isinf(norm_type) else np.linalg.norm(flat, ord=norm_type)
    total = clip_grad_norm_(ps, max_norm=1.0, norm_type=norm_type)
    assert isinstance(total, neurona.Tensor) and total.dtype == np.float32
    assert float(total) == pytest.approx(expected, rel=1e-6)
    coef = 1.0 / (expected + 1e-6)
    for p, g in zip(ps, grads):
        np.testing.assert_allclose(p.grad.array, g * coef, rtol=1e-5)
        assert p.grad.dtype == np.float32
    new = np.concatenate([p.grad.array.astype(np.float64).ravel() for p in ps])
    new_norm = np.abs(new).max() if math.isinf(norm_type) else np.linalg.norm(new, ord=norm_type)
    assert new_norm == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_norm_leaves_small_gradients_alone(rng):
    ps = _params_with_grads(rng, [(3, 3)], scale=0.01)
    before = ps[0].grad.array.copy()
    total = clip_grad_norm_(ps, max_norm=10.0)
    np.testing.assert_array_equal(ps[0].grad.array, before)
    assert float(total) == pytest.approx(np.linalg.norm(before.astype(np.float64)), rel=1e-6)


def test_clip_grad_norm_on_a_model_after_backward():
    model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 1))
    (model(neurona.randn(16, 4)) * 1000).sum().backward()
    no_grad_param = nn.Parameter(neurona.ones(2))  # no .grad: skipped
    total = clip_grad_norm_(list(model.parameters()) + [no_grad_param], 0.5)
    assert float(total) > 0.5
    norm = math.sqrt(sum(float((p.grad.array.astype(np.float64) ** 2).sum()) for p in model.parameters()))
    assert norm == pytest.approx(0.5, rel=1e-4)
    assert float(clip_grad_norm_([no_grad_param], 1.0)) == 0.0
    assert float(clip_grad_norm_(no_grad_param, 1.0)) == 0.0  # a single tensor is accepted


def test_clip_grad_norm_nonfinite(rng):
    ps = _params_with_grads(rng, [(2,)])
    ps[0].grad.array[0] = np.inf
    with pytest.raises(RuntimeError, match="is inf"):
        clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)


def test_clip_grad_value(rng):
    ps = _params_with_grads(rng, [(5, 5), (5,)], scale=3.0)
    grads = [p.grad.array.copy() for p in ps]
    assert clip_grad_value_(ps, 0.5) is None
    for p, g in zip(ps, grads):
        np.testing.assert_array_equal(p.grad.array, np.clip(g, -0.5, 0.5))
        assert p.grad.dtype == np.float32
    with pytest.raises(ValueError, match="non-negative"):
        clip_grad_value_(ps, -1)
    with pytest.raises(TypeError, match="iterable of Tensors"):
        clip_grad_value_(3, 1.0)


def test_penalties_values_and_gradients(rng):
    a = nn.Parameter(neurona.from_numpy(rng.standard_normal((3, 4))))
    b = nn.Parameter(neurona.from_numpy(rng.standard_normal(4)))
    l2 = l2_penalty([a, b])
    l1 = l1_penalty([a, b])
    assert l2.shape == () and l1.shape == ()
    assert float(l2) == pytest.approx((a.array ** 2).sum() + (b.array ** 2).sum())
    assert float(l1) == pytest.approx(np.abs(a.array).sum() + np.abs(b.array).sum())
    l2.backward()
    np.testing.assert_allclose(a.grad.array, 2 * a.array)
    a.grad = b.grad = None
    l1.backward()
    np.testing.assert_allclose(b.grad.array, np.sign(b.array))
    assert neurona.gradcheck(lambda x: l2_penalty([x]), neurona.from_numpy(rng.standard_normal((2, 3))))


def test_regularized_loss_is_one_line():
    neurona.manual_seed(0)
    model = nn.Linear(3, 1)
    x, t = neurona.randn(8, 3), neurona.randn(8, 1)
    lam = 0.1
    # the notes: q_S(Θ) + λ/2 Σ θ²
    loss = ((model(x) - t) ** 2).mean() + lam / 2 * l2_penalty(model.parameters())
    loss.backward()
    w = model.weight.array.astype(np.float64)
    err = (x.array @ w.T + model.bias.array - t.array)
    expected = 2 * err.T @ x.array / 8 + lam * w
    np.testing.assert_allclose(model.weight.grad.array, expected, rtol=1e-4)
    assert loss.dtype == np.float32


def test_penalties_keep_float32():
    p = nn.Parameter(neurona.randn(3))
    assert l2_penalty([p]).dtype == np.float32 and l1_penalty(p).dtype == np.float32
    with pytest.raises(ValueError, match="no parameters"):
        l2_penalty([])


def test_parameters_to_vector_round_trip():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    vec = parameters_to_vector(model.parameters())
    assert vec.shape == (model.num_parameters(),)
    target = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    vector_to_parameters(vec, target.parameters())
    for p, q in zip(model.parameters(), target.parameters()):
        np.testing.assert_array_equal(p.array, q.array)
    with pytest.raises(ValueError, match="has 3 elements, the parameters hold 11"):
        vector_to_parameters(np.zeros(3), target.parameters())
