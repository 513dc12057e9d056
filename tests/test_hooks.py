"""Tensor hooks: ``register_hook`` on leaves and non-leaves, ``register_post_accumulate_grad_hook``.

The expected numbers are PyTorch 2.13's for the same code (worked out by hand
in the comments).
"""
from __future__ import annotations

import numpy as np
import pytest

import neurona as nr


def test_hooks_on_a_leaf_and_a_non_leaf_in_pytorchs_order():
    x = nr.ones(3, requires_grad=True)
    calls = []

    def on_x(g):
        calls.append(("x", g.numpy().copy()))
        return g * 10

    x.register_hook(on_x)
    x.register_post_accumulate_grad_hook(lambda t: calls.append(("post", t.grad.numpy().copy())))
    y = x * 2
    y.retain_grad()
    y.register_hook(lambda g: g + 1)  # runs before retain_grad's store, whatever the order of registration
    z = (y * x).sum() + x.sum()
    z.backward()
    # ∂z/∂y = x = 1, +1 by the hook = 2; ∂z/∂x = 2·2 (through y) + y (= 2) + 1 = 7, then ×10 by x's hook
    assert [c[0] for c in calls] == ["x", "post"]  # the leaf's hook once, with every use summed, then accumulation
    np.testing.assert_array_equal(calls[0][1], [7.0, 7.0, 7.0])
    np.testing.assert_array_equal(calls[1][1], [70.0, 70.0, 70.0])
    np.testing.assert_array_equal(x.grad.numpy(), [70.0, 70.0, 70.0])
    np.testing.assert_array_equal(y.grad.numpy(), [2.0, 2.0, 2.0])


def test_leaf_hook_sees_this_pass_only_and_grad_accumulates_the_replacement():
    w = nr.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    w.register_hook(lambda g: seen.append(g.numpy().copy()))  # returns None: the gradient is unchanged
    (w * w).sum().backward()
    (w * 3).sum().backward()
    np.testing.assert_array_equal(seen[0], [2.0, 4.0])
    np.testing.assert_array_equal(seen[1], [3.0, 3.0])  # not the accumulated .grad
    np.testing.assert_array_equal(w.grad.numpy(), [5.0, 7.0])


def test_hooks_chain_in_registration_order_and_remove():
    x = nr.tensor([1.0, -2.0], requires_grad=True)
    h1 = x.register_hook(lambda g: g + 1)
    x.register_hook(lambda g: g * 3)
    (x * 1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 6.0])  # (1 + 1) · 3
    h1.remove()
    x.grad = None
    (x * 1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_a_non_leaf_hook_changes_what_flows_back():
    x = nr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    h = x.tanh()
    h.register_hook(lambda g: nr.zeros_like(g))  # gradient clipping to zero: nothing reaches x
    (h.sum() + x.sum()).backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 2)))


def test_hook_on_the_root_and_with_a_module():
    lin = nr.nn.Linear(3, 2)
    out = lin(nr.ones(4, 3)).sum()
    out.register_hook(lambda g: g * 0.5)
    out.backward()
    np.testing.assert_allclose(lin.bias.grad.numpy(), [2.0, 2.0])  # 4 samples, ½ each
    # gradient clipping per parameter with hooks, as tutorials do
    for p in lin.parameters():
        p.grad = None
        p.register_hook(lambda g: g.clamp(-0.1, 0.1))
    lin(nr.ones(4, 3) * 10).sum().backward()
    assert float(lin.weight.grad.abs().max()) <= 0.1 + 1e-7


def test_hooks_apply_to_autograd_grad():
    a = nr.ones(2, requires_grad=True)
    a.register_hook(lambda g: g * 3)
    (ga,) = nr.autograd.grad((a * 2).sum(), a)
    np.testing.assert_array_equal(ga.numpy(), [6.0, 6.0])
    b = nr.ones(2, requires_grad=True) * 2
    b.register_hook(lambda g: g * 3)
    (gb,) = nr.autograd.grad((b * 2).sum(), b)
    np.testing.assert_array_equal(gb.numpy(), [6.0, 6.0])


def test_hook_keeps_the_dtype_and_copies_a_kept_replacement():
    x = nr.ones(2, requires_grad=True)
    kept = nr.tensor([5.0, 5.0], dtype=nr.float64)
    x.register_hook(lambda g: kept)
    (x * 1).sum().backward()
    assert x.grad.dtype == np.float32
    x.grad.add_(1.0)
    np.testing.assert_array_equal(kept.numpy(), [5.0, 5.0])


def test_hook_errors():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        nr.ones(2).register_hook(lambda g: g)
    a = nr.ones(2, requires_grad=True)
    b = a * 1
    b.register_hook(lambda g: nr.ones(3))
    with pytest.raises(RuntimeError, match=r"shape \(3,\), expected \(2,\)"):
        b.sum().backward()
    with pytest.raises(RuntimeError, match="leaf tensors"):
        (a * 2).register_post_accumulate_grad_hook(lambda t: None)
    c = a * 3
    c.sum().backward()
    with pytest.raises(RuntimeError, match="freed"):
        c.register_hook(lambda g: g)


def test_post_accumulate_hook_can_step_a_parameter():
    p = nr.nn.Parameter(nr.tensor([1.0, 2.0]))

    def sgd(t):
        with nr.no_grad():
            t -= 0.1 * t.grad
        t.grad = None

    p.register_post_accumulate_grad_hook(sgd)
    (p * p).sum().backward()
    np.testing.assert_allclose(p.numpy(force=True), [0.8, 1.6])
    assert p.grad is None
