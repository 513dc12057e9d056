"""neurona.autograd: Function in PyTorch's form, grad, backward, functional, gradcheck, Variable."""
from __future__ import annotations

import numpy as np
import pytest

import neurona as nr
from neurona.autograd import Function


class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        y, = ctx.saved_tensors
        return gy * y


class ScaledMul(Function):
    """a · b · scale, with a non-tensor argument and a keyword."""

    @staticmethod
    def forward(ctx, a, b, scale, *, shift=0.0):
        ctx.save_for_backward(a, b)
        ctx.scale = scale
        ctx.seen = ctx.needs_input_grad
        return a * b * scale + shift

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_tensors
        ga = gy * b * ctx.scale if ctx.needs_input_grad[0] else None
        gb = gy * a * ctx.scale if ctx.needs_input_grad[1] else None
        return ga, gb, None


class SortWithIndices(Function):
    """Two outputs, the second not differentiable."""

    @staticmethod
    def forward(ctx, x):
        order = np.argsort(x.array, kind="stable")
        idx = nr.tensor(order)
        ctx.mark_non_differentiable(idx)
        ctx.save_for_backward(idx)
        return x[idx], idx

    @staticmethod
    def backward(ctx, g_values, g_idx):
        idx, = ctx.saved_tensors
        g = nr.zeros_like(g_values)
        g[idx] = g_values
        return g


class SplitTwo(Function):
    """Two differentiable outputs; backward sees None for an unused one when materialization is off."""

    @staticmethod
    def forward(ctx, x, materialize):
        ctx.set_materialize_grads(materialize)
        return x * 2, x * 3

    @staticmethod
    def backward(ctx, g1, g2):
        SplitTwo.received = (g1, g2)
        total = 0
        if g1 is not None:
            total = total + g1 * 2
        if g2 is not None:
            total = total + g2 * 3
        return total, None


class CubeNoCtx(Function):
    """PyTorch 2's form: forward without ctx, and setup_context."""

    @staticmethod
    def forward(x):
        return x ** 3

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, gy):
        x, = ctx.saved_tensors
        return 3 * x * x * gy


def test_single_output_function():
    x = nr.tensor([0.0, 1.0], requires_grad=True)
    y = Exp.apply(x)
    assert y.requires_grad and type(y.grad_fn).__name__ == "ExpBackward" and repr(y).endswith("<ExpBackward>)")
    y.sum().backward()
    np.testing.assert_allclose(x.grad.array, np.exp([0.0, 1.0]), rtol=1e-6)
    assert nr.gradcheck(Exp.apply, nr.tensor([0.3, -0.2], dtype=nr.float64))


def test_non_tensor_arguments_keywords_and_needs_input_grad():
    a = nr.tensor([1.0, 2.0], requires_grad=True)
    b = nr.tensor([3.0, -1.0])
    y = ScaledMul.apply(a, b, 0.5, shift=1.0)
    np.testing.assert_allclose(y.array, [2.5, 0.0])
    assert y.grad_fn.seen == (True, False, False)
    y.sum().backward()
    np.testing.assert_allclose(a.grad.array, [1.5, -0.5])
    assert b.grad is None
    assert nr.gradcheck(lambda p, q: ScaledMul.apply(p, q, 2.0), nr.tensor([0.5, 1.5], dtype=nr.float64),
                        nr.tensor([2.0, -3.0], dtype=nr.float64))


def test_no_graph_without_grad():
    y = Exp.apply(nr.tensor([1.0]))
    assert not y.requires_grad and y.grad_fn is None
    with nr.no_grad():
        assert Exp.apply(nr.tensor([1.0], requires_grad=True)).grad_fn is None


def test_multiple_outputs_and_non_differentiable():
    x = nr.tensor([3.0, 1.0, 2.0], requires_grad=True)
    values, idx = SortWithIndices.apply(x)
    assert values.requires_grad and not idx.requires_grad and idx.dtype == np.int64
    (values * nr.tensor([1.0, 10.0, 100.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.array, [100, 1, 10])


@pytest.mark.parametrize("materialize", [True, False])
def test_materialize_grads(materialize):
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    y1, y2 = SplitTwo.apply(x, materialize)
    y1.sum().backward()  # y2 unused
    g1, g2 = SplitTwo.received
    assert g1 is not None and (g2 is None) == (not materialize)
    if materialize:
        np.testing.assert_array_equal(g2.array, [0, 0])
    np.testing.assert_array_equal(x.grad.array, [2, 2])
    x.grad = None
    y1, y2 = SplitTwo.apply(x, True)
    (y1.sum() + y2.sum()).backward()  # both outputs reach the same node: their gradients are gathered
    np.testing.assert_array_equal(x.grad.array, [5, 5])


def test_setup_context_form():
    x = nr.tensor([1.0, -2.0], dtype=nr.float64, requires_grad=True)
    CubeNoCtx.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.array, [3.0, 12.0])
    assert nr.gradcheck(CubeNoCtx.apply, nr.tensor([0.5, -1.5], dtype=nr.float64))


def test_saved_tensors_are_version_checked_and_freed():
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    y = Exp.apply(x * 1)
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*output 0 of ExpBackward"):
        y.sum().backward()
    y = Exp.apply(x * 1)
    node = y.grad_fn
    y.sum().backward()
    with pytest.raises(RuntimeError, match="saved_tensors: the saved tensors were already freed"):
        node.saved_tensors


def test_bad_backward_results_are_named():
    class WrongCount(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            return g

    class WrongShape(Function):
        @staticmethod
        def forward(ctx, a):
            return a.sum()

        @staticmethod
        def backward(ctx, g):
            return g

    class GradForNumber(Function):
        @staticmethod
        def forward(ctx, a, k):
            return a * k

        @staticmethod
        def backward(ctx, g):
            return g, g

    a = nr.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="WrongCount.backward returned 1 gradient\\(s\\), expected 2"):
        WrongCount.apply(a, a).sum().backward()
    with pytest.raises(RuntimeError, match=r"WrongShape.backward returned a gradient of shape \(\) for argument 0 "
                                           r"of forward, which has shape \(2,\)"):
        WrongShape.apply(a).backward()
    with pytest.raises(RuntimeError, match="argument 1 of forward, which is not a tensor"):
        GradForNumber.apply(a, nr.ones(2, requires_grad=True).sum().item()).sum().backward()
    with pytest.raises(TypeError, match="save_for_backward: expected tensors"):
        class SaveNumber(Function):
            @staticmethod
            def forward(ctx, a):
                ctx.save_for_backward(3)
                return a
        SaveNumber.apply(a)


# --- grad and backward ----------------------------------------------------------------------------------------


def test_grad_returns_gradients_and_leaves_dot_grad_alone():
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    w = nr.tensor([3.0, -1.0], requires_grad=True)
    h = x * w
    y = (h * h).sum()
    gx, gh = nr.autograd.grad(y, [x, h])
    np.testing.assert_allclose(gx.array, 2 * x.array * w.array ** 2)
    np.testing.assert_allclose(gh.array, 2 * h.array)
    assert x.grad is None and w.grad is None and h.grad is None
    assert h.grad_fn.retained is None  # no mark left behind


def test_grad_options():
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    unused = nr.tensor([5.0], requires_grad=True)
    y = x * x
    (g,) = nr.autograd.grad(y, x, grad_outputs=nr.tensor([1.0, -1.0]), retain_graph=True)
    np.testing.assert_allclose(g.array, [2, -4])
    (g,) = nr.autograd.grad([y.sum(), (x * 3).sum()], x, retain_graph=True)
    np.testing.assert_allclose(g.array, [5, 7])
    with pytest.raises(RuntimeError, match="index 1 appears to not have been used in the graph; set allow_unused"):
        nr.autograd.grad(y.sum(), [x, unused], retain_graph=True)
    g, u = nr.autograd.grad(y.sum(), [x, unused], allow_unused=True, retain_graph=True)
    assert u is None
    g, u = nr.autograd.grad(y.sum(), [x, unused], materialize_grads=True, retain_graph=True)
    np.testing.assert_array_equal(u.array, [0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        nr.autograd.grad(y.sum(), nr.ones(2))
    with pytest.raises(RuntimeError, match=r"shape \(2,\); only a one-element tensor"):
        nr.autograd.grad(y, x)
    with pytest.raises(NotImplementedError, match="create_graph=True .* not supported"):
        nr.autograd.grad(y.sum(), x, create_graph=True)


def test_backward_functions():
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    w = nr.tensor([0.5, 0.5], requires_grad=True)
    nr.autograd.backward([(x * x).sum(), x * w], [None, nr.tensor([1.0, 2.0])])
    np.testing.assert_allclose(x.grad.array, [2 + 0.5, 4 + 1.0])
    np.testing.assert_allclose(w.grad.array, [1, 4])
    x.grad = w.grad = None
    (x * w).sum().backward(inputs=[w])
    assert x.grad is None
    np.testing.assert_allclose(w.grad.array, [1, 2])
    h = x * 2
    (h * h).sum().backward(inputs=[h])
    np.testing.assert_allclose(h.grad.array, 2 * h.array)
    assert x.grad is None
    (x * x).sum().backward(gradient=nr.tensor(2.0))
    np.testing.assert_allclose(x.grad.array, [4, 8])
    with pytest.raises(NotImplementedError, match="higher-order gradients"):
        (x * x).sum().backward(create_graph=True)


def test_functional_jacobian_vjp_jvp():
    from neurona.autograd import functional as AF

    def f(a, b):
        return a * b.sum(), a.exp()

    a, b = nr.tensor([1.0, 2.0], dtype=nr.float64), nr.tensor([0.5, -1.5], dtype=nr.float64)
    (j11, j12), (j21, j22) = AF.jacobian(f, (a, b))
    np.testing.assert_allclose(j11.array, np.eye(2) * -1.0)
    np.testing.assert_allclose(j12.array, [[1, 1], [2, 2]])
    np.testing.assert_allclose(j21.array, np.diag(np.exp([1.0, 2.0])))
    np.testing.assert_array_equal(j22.array, np.zeros((2, 2)))
    out, g = AF.vjp(lambda t: (t * t).sum(), a)
    assert out.item() == 5.0 and not out.requires_grad
    np.testing.assert_allclose(g.array, [2, 4])
    out, jv = AF.jvp(lambda t: t * t, a, nr.tensor([1.0, 0.0], dtype=nr.float64))
    np.testing.assert_allclose(jv.array, [2, 0])
    with pytest.raises(NotImplementedError, match="second derivatives"):
        AF.hessian(lambda t: (t * t).sum(), a)


def test_gradcheck_variable_and_grad_mode_names():
    assert nr.autograd.gradcheck(lambda t: (t * t).sum(), (nr.tensor([1.0, 2.0], dtype=nr.float64,
                                                                     requires_grad=True),))

    class Wrong(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 3

    x = nr.tensor([1.0], dtype=nr.float64, requires_grad=True)
    assert nr.autograd.gradcheck(Wrong.apply, x, raise_exception=False) is False
    with pytest.raises(nr.GradcheckError):
        nr.autograd.gradcheck(Wrong.apply, x)
    v = nr.autograd.Variable(nr.ones(2), requires_grad=True)
    assert isinstance(v, nr.Tensor) and v.requires_grad
    assert nr.autograd.no_grad is nr.no_grad and nr.autograd.set_grad_enabled is nr.set_grad_enabled
    with nr.inference_mode():
        assert not nr.is_grad_enabled()
    with nr.inference_mode(False):
        assert nr.is_grad_enabled()

    @nr.inference_mode
    def f():
        return nr.is_grad_enabled()
    assert f() is False and nr.is_grad_enabled()


def test_failing_forward_chains_the_original_exception():
    class Bad(nr.Function):
        def forward(self, a):
            raise ValueError("the real line")

    with pytest.raises(ValueError, match=r"bad: cannot apply to inputs of shapes \(2,\)") as info:
        Bad()(nr.zeros(2))
    assert isinstance(info.value.__cause__, ValueError) and str(info.value.__cause__) == "the real line"
    assert not info.value.__suppress_context__ or info.value.__cause__ is not None
