"""Reductions (neurona/functional/reduce.py): sum, mean, amax, amin, max, min, var, std, logsumexp, argmax, argmin."""
from __future__ import annotations

import numpy as np
import pytest

import neurona as nr
from tests.opcheck import check_op


def _np_logsumexp(a, axis=None, keepdims=False):
    m = np.max(a, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


# (name, method name, numpy reference taking axis/keepdims, domain)
REDUCTIONS = [
    ("sum", "sum", np.sum, "any"),
    ("mean", "mean", np.mean, "any"),
    ("amax", "amax", np.max, "distinct"),
    ("amin", "amin", np.min, "distinct"),
    ("var", "var", lambda a, axis=None, keepdims=False: np.var(a, axis=axis, ddof=1, keepdims=keepdims), "any"),
    ("std", "std", lambda a, axis=None, keepdims=False: np.std(a, axis=axis, ddof=1, keepdims=keepdims), "any"),
    ("logsumexp", "logsumexp", _np_logsumexp, "any"),
]
AXES = [None, 0, 1, -1, (0, 2), (-1, 0), (0, 1, 2), ()]
# the unbiased variance over no axis divides by n - 1 = 0: not a case to differentiate
AXIS_CASES = [pytest.param(*r, axis, id=f"{r[0]}-{axis}") for r in REDUCTIONS for axis in AXES
              if not (axis == () and r[0] in ("var", "std"))]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name,method,ref,domain,axis", AXIS_CASES)
def test_reduction_axes(name, method, ref, domain, axis, keepdims):
    check_op(lambda x: getattr(x, method)(axis=axis, keepdims=keepdims),
             lambda a: ref(a, axis=axis, keepdims=keepdims), [(2, 3, 4)], domain)


# other shapes: vectors, 0-d tensors, size-1 axes, non-contiguous inputs (transposed or sliced inside)
SHAPES = [
    ("vector", (5,), lambda a: a, [None, 0, -1]),
    ("scalar", (), lambda a: a, [None, 0, -1]),
    ("size1_axes", (3, 1, 2), lambda a: a, [None, 1, (0, 1), -1]),
    ("transposed", (4, 3), lambda a: a.T, [None, 0, 1]),
    ("strided", (6, 8), lambda a: a[::2, ::-3], [None, 0, -1]),
]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("case,shape,view,axes", SHAPES, ids=[s[0] for s in SHAPES])
@pytest.mark.parametrize("name,method,ref,domain", REDUCTIONS, ids=[r[0] for r in REDUCTIONS])
def test_reduction_shapes(name, method, ref, domain, case, shape, view, axes, keepdims):
    for axis in axes:
        if name in ("var", "std") and _count(view(np.empty(shape)).shape, axis) < 2:
            continue  # n - 1 = 0: the unbiased variance is undefined (tested below)
        np_axis = None if (axis is not None and len(shape) == 0) else axis  # NumPy refuses axis 0 of a 0-d array
        check_op(lambda x: getattr(nr, method)(view(x), axis, keepdim=keepdims),
                 lambda a: ref(view(a), axis=np_axis, keepdims=keepdims), [shape], domain)


def _count(shape, axis) -> int:
    if axis is None:
        return int(np.prod(shape))
    axes = (axis,) if isinstance(axis, int) else axis
    return int(np.prod([shape[a] for a in axes])) if shape else 1


@pytest.mark.parametrize("correction", [0, 1, 2])
@pytest.mark.parametrize("axis", [None, 0, (0, 1)], ids=str)
def test_var_std_correction(correction, axis):
    check_op(lambda x: nr.var(x, axis, correction=correction), lambda a: np.var(a, axis=axis, ddof=correction),
             [(3, 4)])
    check_op(lambda x: x.std(axis, correction=correction), lambda a: np.std(a, axis=axis, ddof=correction), [(3, 4)])


def test_var_of_one_element_is_nan():
    assert np.isnan(nr.tensor([3.0]).var().item())
    assert nr.tensor([3.0]).var(correction=0).item() == 0


# --- dim / keepdim aliases and the function forms ------------------------------------------

ALL_REDUCTIONS = ["sum", "mean", "amax", "amin", "var", "std", "logsumexp", "argmax", "argmin"]


@pytest.mark.parametrize("name", ALL_REDUCTIONS)
def test_dim_keepdim_aliases(name, rng):
    x = nr.tensor(rng.permutation(24).reshape(2, 3, 4).astype(float))
    method, function = getattr(x, name), getattr(nr, name)
    reference = method(axis=1, keepdims=True).array
    assert reference.shape == (2, 1, 4)
    positional = method(1, keepdim=True) if name in ("var", "std") else method(1, True)  # var(dim, unbiased)
    for out in (method(dim=1, keepdim=True), positional, function(x, dim=1, keepdim=True),
                function(x, axis=-2, keepdims=True), method(dim=-2, keepdims=True), method(axis=1, keepdim=True)):
        np.testing.assert_array_equal(out.array, reference)
    np.testing.assert_array_equal(method(dim=2).array, method(axis=2, keepdims=False).array)


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "amax", "amin", "var", "std", "logsumexp"])
def test_axis_and_dim_together_refused(name):
    with pytest.raises(TypeError, match=f"{name}: give axis or dim, not both"):
        getattr(nr, name)(nr.ones(2, 3), axis=0, dim=0)


@pytest.mark.parametrize("name,axis", [(n, a) for n in ALL_REDUCTIONS for a in (2, -3, (0, 5))
                                       if not (n.startswith("arg") and isinstance(a, tuple))], ids=str)
def test_axis_out_of_range(name, axis):
    with pytest.raises(ValueError, match=rf"{name}: axis -?\d is out of range for a tensor with 2 dimensions"):
        getattr(nr, name)(nr.ones(2, 3), axis=axis)


def test_mean_of_integers_refused():
    with pytest.raises(TypeError, match="mean: expected a floating-point tensor, got int64"):
        nr.arange(4).mean()


def test_sum_of_integers_stays_integer():
    s = nr.arange(5).sum()
    assert s.dtype == np.int64 and s.item() == 10


# --- max / min ties and stable logsumexp -------------------------------------------------------

@pytest.mark.parametrize("name,values,grad", [
    ("max", [1.0, 3.0, 3.0, 2.0], [0, 0.5, 0.5, 0]),
    ("min", [1.0, 3.0, 1.0, 1.0], [1 / 3, 0, 1 / 3, 1 / 3]),
])
def test_ties_share_the_gradient(name, values, grad):
    x = nr.tensor(values, requires_grad=True)
    getattr(x, name)().backward()
    np.testing.assert_allclose(x.grad.array, grad, rtol=1e-6)


def test_amax_over_axis_with_ties():
    x = nr.tensor([[2.0, 2.0, 1.0], [0.0, 5.0, 5.0]], requires_grad=True)
    x.amax(axis=1).backward(nr.tensor([1.0, 4.0]))
    np.testing.assert_allclose(x.grad.array, [[0.5, 0.5, 0], [0, 2, 2]])


def test_max_with_dim_gives_values_and_indices_and_routes_the_gradient_to_the_index():
    x = nr.tensor([[2.0, 2.0, 1.0], [0.0, 5.0, 5.0]], requires_grad=True)
    r = x.max(dim=1)
    values, indices = r
    assert type(r).__name__ == "max" and r.values is values and r.indices is indices
    np.testing.assert_array_equal(indices.array, [0, 1])  # the first of tied maxima, as PyTorch on the CPU
    values.backward(nr.tensor([1.0, 4.0]))
    np.testing.assert_allclose(x.grad.array, [[1, 0, 0], [0, 4, 0]])
    lo = nr.min(x, 0, keepdim=True)
    assert lo.values.shape == lo.indices.shape == (1, 3) and lo.indices.dtype == np.int64
    np.testing.assert_array_equal(nr.max(x, nr.tensor(3.0)).array, np.maximum(x.array, 3))  # max(x, other)
    with pytest.raises(TypeError, match="max: dim must be an int; use amax"):
        x.max(dim=(0, 1))


def test_var_std_positional_unbiased_as_pytorch():
    x = nr.tensor([[1.0, 2.0, 4.0], [0.0, 3.0, 3.0]])
    np.testing.assert_allclose(x.var(1, False).array, np.var(x.array, axis=1))
    np.testing.assert_allclose(x.std(1, True).array, np.std(x.array, axis=1, ddof=1), rtol=1e-6)
    np.testing.assert_allclose(x.std(False).item(), np.std(x.array), rtol=1e-6)
    np.testing.assert_allclose(x.var(1, unbiased=False, keepdim=True).array, np.var(x.array, 1, keepdims=True))
    with pytest.raises(TypeError, match="unbiased or correction"):
        x.var(1, True, correction=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logsumexp_is_stable(dtype):
    x = nr.tensor([[1000.0, 1000.0, -1000.0], [-1000.0, -2000.0, -1000.0]], dtype=dtype, requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # exp(-1000) may underflow to 0: fine
        y = nr.logsumexp(x, axis=1)
        y.sum().backward()
    np.testing.assert_allclose(y.array, [1000 + np.log(2), -1000 + np.log(2)], rtol=1e-6)
    np.testing.assert_allclose(x.grad.array, [[0.5, 0.5, 0], [0.5, 0, 0.5]], atol=1e-7)
    assert y.dtype == x.grad.dtype == dtype


def test_logsumexp_of_all_minus_infinity():
    x = nr.tensor([-np.inf, -np.inf])
    with np.errstate(divide="ignore", invalid="ignore"):  # log(0), as in NumPy
        assert nr.logsumexp(x).item() == -np.inf


# --- argmax / argmin: int64, not differentiable --------------------------------------------------

ARG_CASES = [None, 0, 1, -1, 2]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", ARG_CASES, ids=str)
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin(name, axis, keepdims, rng):
    a = rng.permutation(24).reshape(2, 3, 4).astype(float)
    x = nr.tensor(a, requires_grad=True)
    out = getattr(x, name)(axis=axis, keepdims=keepdims)
    assert out.dtype == np.int64 and not out.requires_grad and out.grad_fn is None
    expected = getattr(np, name)(a, axis=axis, keepdims=keepdims)
    assert out.shape == np.shape(expected)
    np.testing.assert_array_equal(out.array, expected)
    np.testing.assert_array_equal(getattr(nr, name)(x, dim=axis, keepdim=keepdims).array, expected)


def test_argmax_on_noncontiguous_input(rng):
    a = rng.permutation(12).reshape(3, 4).astype(np.float32)
    x = nr.tensor(a)
    np.testing.assert_array_equal(x.T[::-1].argmax(axis=1).array, a.T[::-1].argmax(axis=1))
    assert x.argmax().item() == int(a.argmax())


# --- dtype: float32 stays float32 through every reduction's constants --------------------------

@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin", "var", "std", "logsumexp"])
@pytest.mark.parametrize("axis", [None, 0, (0, 1)], ids=str)
def test_large_float32_reductions_stay_float32(name, axis, rng):
    # a size whose count 1/n, n - 1 ... is not exactly representable in float32
    x = nr.tensor(rng.standard_normal((7, 13)).astype(np.float32), requires_grad=True)
    out = getattr(x, name)(axis=axis)
    assert out.dtype == np.float32
    (out * 1.0).sum().backward()
    assert x.grad.dtype == np.float32
