"""The engine (neurona/engine.py): Tensor API, backward, gradient accumulation, grad mode, errors."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import neurona as nr
from neurona import Function, Tensor

# --- attributes and conversions ----------------------------------------------------------------


def test_attributes():
    x = nr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    assert isinstance(x.array, np.ndarray) and x.grad is None and x.requires_grad
    assert x.shape == (2, 3) and x.ndim == 2 and x.dim() == 2 and x.dtype == np.float32
    assert x.size() == (2, 3) and x.size(1) == 3 and x.size(-2) == 2
    assert x.numel() == 6 and len(x) == 2
    assert x.is_leaf and x.grad_fn is None and x.device == "cpu"
    np.testing.assert_array_equal(x.T.array, x.array.T)
    assert x.tolist() == [[1, 2, 3], [4, 5, 6]]


def test_item_and_python_numbers():
    x = nr.tensor([[2.5]])
    assert x.item() == 2.5 and isinstance(x.item(), float)
    assert float(x) == 2.5 and int(nr.tensor(7)) == 7 and bool(nr.tensor([True]))
    with pytest.raises(ValueError, match=r"item\(\): only a one-element tensor.*shape \(2,\)"):
        nr.tensor([1.0, 2.0]).item()
    with pytest.raises(ValueError, match="ambiguous"):
        bool(nr.tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match="0-d"):
        len(nr.tensor(1.0))


def test_numpy_interop():
    x = nr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    assert x.detach().numpy() is x.array and x.numpy(force=True) is x.array
    with pytest.raises(RuntimeError, match=r"numpy\(\) on a tensor that requires grad.*detach\(\)\.numpy\(\)"):
        x.numpy()  # as in PyTorch: the array is outside the graph
    a = np.asarray(x)
    assert a.dtype == np.float32 and np.shares_memory(a, x.array)
    np.testing.assert_array_equal(np.asarray(x, dtype=np.float64), [1, 2, 3])
    assert np.array(x, copy=True) is not x.array
    (x * x).sum().backward()
    np.testing.assert_array_equal(np.asarray(x.grad), [2, 4, 6])
    assert np.asarray(x.grad).dtype == np.float32
    # list(t) iterates over the first axis
    assert [t.item() for t in x] == [1, 2, 3]


def test_ndarray_on_the_left_uses_the_reflected_op():
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    a = np.array([10.0, 20.0])
    for out, expected in [(a + x, [11, 22]), (a - x, [9, 18]), (a * x, [10, 40]), (a / x, [10, 10]),
                          (a ** x, [10, 400]), (a @ x, 50), (a > x, [True, True])]:
        assert isinstance(out, Tensor), type(out)
        np.testing.assert_allclose(out.array, expected, rtol=1e-6)
    y = a * x + a @ x  # the 0-d a @ x is broadcast over both elements
    assert y.dtype == np.float32
    y.sum().backward()
    np.testing.assert_allclose(x.grad.array, a + 2 * a, rtol=1e-6)


def test_repr_is_readable():
    assert repr(nr.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(nr.tensor([1.0, 2.0], requires_grad=True)) == "tensor([1., 2.], requires_grad=True)"
    assert repr(nr.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(nr.tensor([1.5], dtype=nr.float64)) == "tensor([1.5], dtype=float64)"
    assert repr(nr.tensor(3.0)) == "tensor(3.)"
    y = nr.tensor([1.0], requires_grad=True) * 2
    assert repr(y).startswith("tensor([2.], grad_fn=<") and repr(y).endswith(">)")
    big = repr(nr.zeros(1001))  # PyTorch summarizes beyond 1,000 values
    assert "..." in big and len(big) < 400


def test_detach_shares_data_and_leaves_the_graph():
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    assert np.shares_memory(d.array, y.array)
    z = (d * x).sum()
    z.backward()
    np.testing.assert_array_equal(x.grad.array, [2, 4])  # d is a constant


def test_requires_grad_():
    x = nr.zeros(3)
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    y = nr.zeros(3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="detach"):
        y.requires_grad_(False)


@pytest.mark.parametrize("make", [lambda: nr.tensor([1, 2], requires_grad=True),
                                  lambda: nr.arange(3).requires_grad_(),
                                  lambda: nr.tensor([True]).requires_grad_(True),
                                  lambda: nr.zeros(2, dtype=nr.int64, requires_grad=True)],
                         ids=["tensor", "method", "bool", "factory"])
def test_requires_grad_on_integers_refused(make):
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients"):
        make()


def test_astype_and_casts():
    x = nr.tensor([1.5, -2.5], requires_grad=True)
    y = x.double()
    assert y.dtype == np.float64 and y.requires_grad
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.array, [3, -5])
    assert x.long().dtype == np.int64 and x.int().dtype == np.int32 and x.bool().dtype == np.bool_
    assert x.to(np.float16).dtype == np.float16 and x.astype(np.float64).dtype == np.float64
    assert x.float() is x


def test_clone_copies_and_keeps_dtype():
    for t in (nr.tensor([1.5, 2.0]), nr.tensor([True, False]), nr.arange(3), nr.tensor([1.0], dtype=nr.float64)):
        c = t.clone()
        assert c.dtype == t.dtype and not np.shares_memory(c.array, t.array)
        np.testing.assert_array_equal(c.array, t.array)
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    (x.clone() * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.array, [3, 3])


def test_in_place_helpers():
    x = nr.ones(2, 3)
    x.zero_()
    assert not x.array.any()
    x.fill_(2.0)
    x[0, 1] = 5.0
    x[1] = nr.tensor([7.0, 8.0, 9.0])
    np.testing.assert_array_equal(x.array, [[2, 5, 2], [7, 8, 9]])
    x.copy_(np.arange(3.0))
    np.testing.assert_array_equal(x.array, [[0, 1, 2], [0, 1, 2]])
    with pytest.raises(ValueError, match=r"copy_: cannot copy shape \(4,\) into shape \(2, 3\)"):
        x.copy_(np.zeros(4))
    w = nr.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        w.zero_()
    with nr.no_grad():
        w.fill_(0.5)
        w[0] = 0.0
    np.testing.assert_array_equal(w.array, [0, 0.5, 0.5])


def test_zero_d_results_are_arrays():
    """0-d op results are 0-d arrays (NumPy itself answers 0-d arithmetic with scalars)."""
    x = nr.tensor(3.0, requires_grad=True)
    for y in (x * x, nr.exp(x), x.sum(), nr.tensor([1.0, 2.0]).sum(), nr.tensor([1.0, 2.0]) @ nr.ones(2)):
        assert type(y.array) is np.ndarray and y.shape == ()
    (x * x + x * x).backward()  # two contributions reach the same 0-d leaf
    assert type(x.grad.array) is np.ndarray and x.grad.item() == 12.0


# --- backward: gradients and accumulation -------------------------------------------------


def test_square_of_a_tensor_used_twice():
    x = nr.tensor([1.0, -2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.array, [2, -4, 6])


def test_tensor_used_in_several_branches():
    x = nr.tensor([0.5, 2.0], requires_grad=True)
    a = x * 3           # da/dx = 3
    b = nr.exp(x)       # db/dx = e^x
    c = a * b + x       # dc/dx = 3 e^x + 3x e^x + 1
    d = c + a - b       # dd/dx = dc/dx + 3 - e^x
    d.sum().backward()
    xv = x.array.astype(np.float64)
    np.testing.assert_allclose(x.grad.array, 3 * np.exp(xv) + 3 * xv * np.exp(xv) + 1 + 3 - np.exp(xv), rtol=1e-6)


def test_diamond_graph_runs_each_node_once():
    calls = []

    class Count(Function):
        def forward(self, x):
            return x

        def backward(self, gy):
            calls.append(gy.copy())
            return gy

    x = nr.tensor([1.0, 2.0], requires_grad=True)
    h = Count()(x)
    (h * 2 + h * 3 + h).sum().backward()
    assert len(calls) == 1  # the shared node gets the summed gradient once
    np.testing.assert_array_equal(calls[0], [6, 6])
    np.testing.assert_array_equal(x.grad.array, [6, 6])


def test_grad_accumulates_across_backward_calls_until_zeroed():
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()  # a new graph
    np.testing.assert_array_equal(x.grad.array, [3 + 2, 3 + 4])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.array, [3, 3])
    x.grad.zero_()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.array, [3, 3])


def test_retain_graph_allows_a_second_backward_that_accumulates():
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad.array, [4, 8])


def test_second_backward_through_a_freed_graph_is_refused():
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"already freed.*retain_graph=True"):
        y.backward()
    # a graph sharing the freed part is refused too
    h = nr.exp(x)
    h.sum().backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        (h * 2).sum().backward()


def test_retain_grad_on_a_non_leaf():
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    y = h * h
    z = y.sum()
    z.backward()
    np.testing.assert_array_equal(h.grad.array, 2 * h.array)
    assert y.grad is None and z.grad is None  # intermediates without retain_grad keep no gradient
    np.testing.assert_array_equal(x.grad.array, 18 * x.array)


def test_retained_grad_of_the_root_and_of_a_reused_non_leaf():
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1.0
    h.retain_grad()
    y = (h * h + h).sum()
    y.retain_grad()
    y.backward()
    assert y.grad.item() == 1.0
    np.testing.assert_array_equal(h.grad.array, 2 * x.array + 1)


def test_retain_grad_without_grad_refused():
    with pytest.raises(RuntimeError, match="does not require grad"):
        nr.zeros(2).retain_grad()


def test_backward_with_explicit_gradient():
    x = nr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    y.backward(nr.tensor([1.0, 0.0, -1.0]))
    np.testing.assert_array_equal(x.grad.array, [2, 0, -6])
    x.grad = None
    (x * 2).backward(np.array([1.0, 1.0, 1.0]))  # a float64 array is accepted and cast
    assert x.grad.dtype == np.float32


def test_backward_of_a_leaf():
    x = nr.tensor(2.0, requires_grad=True)
    x.backward()
    assert x.grad.item() == 1.0


def test_backward_on_non_scalar_without_grad_explains_what_to_pass():
    y = nr.ones(2, 3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"shape \(2, 3\).*y\.sum\(\)\.backward\(\).*gradient=.*shape \(2, 3\)"):
        y.backward()


def test_backward_grad_of_wrong_shape():
    y = nr.ones(2, 3, requires_grad=True) * 2
    with pytest.raises(ValueError, match=r"grad has shape \(3,\), expected the tensor's shape \(2, 3\)"):
        y.backward(np.ones(3))


def test_backward_without_graph_explains():
    with pytest.raises(RuntimeError, match="requires_grad=True"):
        nr.ones(2).sum().backward()


def test_gradient_does_not_alias_between_leaves():
    a = nr.tensor([1.0, 2.0], requires_grad=True)
    b = nr.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    assert not np.shares_memory(a.grad.array, b.grad.array)
    a.grad.array *= 10  # an in-place change to one gradient must not reach the other
    np.testing.assert_array_equal(b.grad.array, [1, 1])


def test_user_gradient_is_not_stored_by_reference():
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    g = np.array([1.0, 1.0], dtype=np.float32)
    (x + 1).backward(g)
    g[:] = 5
    np.testing.assert_array_equal(x.grad.array, [1, 1])


def test_only_inputs_that_need_a_gradient_get_one():
    a = nr.tensor([1.0, 2.0], requires_grad=True)
    b = nr.tensor([3.0, 4.0])
    (a * b).sum().backward()
    assert b.grad is None
    np.testing.assert_array_equal(a.grad.array, [3, 4])


def test_long_chain_backward_is_iterative():
    """10,000 ops deep, with a recursion limit far below that: backward never recurses."""
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(120)
    try:
        y.sum().backward()
        del y  # freeing a deep graph must not recurse either
    finally:
        sys.setrecursionlimit(limit)
    np.testing.assert_allclose(x.grad.array, [1.0001 ** 10_000] * 2, rtol=1e-3)


def test_wide_and_deep_graph():
    """Many branches rejoining at every step: each gradient is the sum over all paths."""
    x = nr.tensor([0.5], requires_grad=True)
    y = x
    for _ in range(200):
        y = y * 0.5 + y * 0.5  # each step keeps the value and the derivative
    y.backward(np.ones(1))
    np.testing.assert_allclose(x.grad.array, [1.0], rtol=1e-5)


# --- grad mode -----------------------------------------------------------------------------------


def test_no_grad_context_builds_no_graph():
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    with nr.no_grad():
        assert not nr.is_grad_enabled()
        y = x * 2 + nr.exp(x)
        z = x @ x
    assert nr.is_grad_enabled()
    for t in (y, z):
        assert not t.requires_grad and t.grad_fn is None and t._ctx is None


def test_no_grad_as_decorator():
    @nr.no_grad()
    def step(t):
        """Docstring kept."""
        return t * 2, nr.is_grad_enabled()

    x = nr.tensor([1.0], requires_grad=True)
    y, enabled = step(x)
    assert not enabled and not y.requires_grad and y._ctx is None
    assert nr.is_grad_enabled()
    assert step.__name__ == "step" and step.__doc__ == "Docstring kept."


def test_no_grad_restores_the_mode_after_an_exception():
    with pytest.raises(KeyError):
        with nr.no_grad():
            raise KeyError("x")
    assert nr.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = nr.tensor([1.0], requires_grad=True)
    with nr.no_grad():
        with nr.enable_grad():
            y = x * 2
        z = x * 2
    assert y.requires_grad and y._ctx is not None
    assert not z.requires_grad

    @nr.enable_grad()
    def f(t):
        return t * 3

    with nr.no_grad():
        w = f(x)
    assert w.requires_grad


def test_set_grad_enabled():
    x = nr.tensor([1.0], requires_grad=True)
    with nr.set_grad_enabled(False):
        assert not (x * 2).requires_grad
        with nr.set_grad_enabled(True):
            assert (x * 2).requires_grad
    assert nr.is_grad_enabled()
    nr.set_grad_enabled(False)  # called as a function it switches the mode until switched back
    assert not (x * 2).requires_grad
    nr.set_grad_enabled(True)
    assert (x * 2).requires_grad


def test_set_grad_enabled_as_decorator():
    @nr.set_grad_enabled(False)
    def f(t):
        return t * 2

    assert nr.is_grad_enabled()  # decorating does not switch the mode
    x = nr.tensor([1.0], requires_grad=True)
    assert not f(x).requires_grad
    assert nr.is_grad_enabled()


def test_grad_mode_is_per_thread():
    import threading

    seen = []
    with nr.no_grad():
        t = threading.Thread(target=lambda: seen.append(nr.is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [True]


# --- Function subclasses -----------------------------------------------------------------------


def test_custom_function_with_two_inputs_and_needs():
    class Hypot(Function):
        """sqrt(a² + b²)."""

        def forward(self, a, b):
            self.a, self.b = a, b
            self.y = y = np.sqrt(a * a + b * b)
            return y

        def backward(self, gy):
            seen.append(self.needs)
            return (gy * self.a / self.y if self.needs[0] else None,
                    gy * self.b / self.y if self.needs[1] else None)

    seen = []
    a = nr.tensor([3.0], requires_grad=True)
    b = nr.tensor([4.0])
    Hypot()(a, b).sum().backward()
    assert seen == [(True, False)] and b.grad is None
    np.testing.assert_allclose(a.grad.array, [0.6], rtol=1e-6)
    assert nr.gradcheck(lambda p, q: Hypot()(p, q), nr.tensor([3.0, 1.0], dtype=nr.float64),
                        nr.tensor([4.0, -2.0], dtype=nr.float64))


def test_backward_frees_what_forward_kept():
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    y = nr.exp(x)
    fn = y.grad_fn
    assert hasattr(fn, "y")
    y.sum().backward()
    assert not hasattr(fn, "y")
    z = nr.exp(x)
    z.sum().backward(retain_graph=True)
    assert hasattr(z.grad_fn, "y")


def test_failing_forward_names_the_op_and_shapes():
    class Bad(Function):
        def forward(self, a, b):
            raise ValueError("inner detail")

    with pytest.raises(ValueError, match=r"bad: cannot apply to inputs of shapes \(2,\) and \(3,\): inner detail"):
        Bad()(nr.zeros(2), nr.zeros(3))


def test_broadcast_shape_mismatch_names_op_and_both_shapes():
    with pytest.raises(ValueError, match=r"add.*\(2, 3\).*\(2,\)"):
        nr.zeros(2, 3) + nr.zeros(2)
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3\).*\(2, 3\)"):
        nr.zeros(2, 3) @ nr.zeros(2, 3)


def test_the_suite_and_the_library_do_not_import_torch():
    code = ("import sys, neurona, neurona.functional, neurona.gradcheck; "
            "neurona.tensor([1.0], requires_grad=True).sum().backward(); "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd=_repo_root()).returncode == 0
    assert "torch" not in sys.modules


def _repo_root() -> str:
    import os
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_no_grad_as_bare_decorator():
    @nr.no_grad
    def double(t):
        return t * 2

    x = nr.tensor([1.0, 2.0], requires_grad=True)
    assert not double(x).requires_grad
    assert double.__name__ == "double"
    assert (x * 2).requires_grad  # the mode is back on outside the function


def test_backward_with_wrong_number_of_gradients_is_named():
    class Bad(nr.Function):
        def forward(self, a, b):
            return a + b

        def backward(self, gy):
            return gy  # one gradient for two inputs

    x = nr.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Bad\.backward returned 1 gradient\(s\) for 2 input\(s\)"):
        Bad()(x, x).sum().backward()


def test_format_specs_apply_to_0d_tensors_as_in_pytorch():
    loss = nr.tensor(3.14159)
    assert f"{loss:.3f}" == "3.142" and f"epoch loss {loss * 2:.1f}" == "epoch loss 6.3"
    assert f"{loss}" == str(loss.item())  # an empty spec on a 0-d tensor: its number, as PyTorch prints it
    assert f"{nr.tensor([1.0, 2.0])}" == repr(nr.tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match=r"format string '\.3f' for a tensor of shape \(1,\)"):
        f"{nr.tensor([2.5]):.3f}"
