"""Arithmetic, matmul, elementwise math, where and comparisons (neurona/functional/math.py).

Each table row is one op: forward against plain NumPy, float64 gradcheck and
float32 preservation run through ``check_op`` for every shape it lists.
"""
from __future__ import annotations

import numpy as np
import pytest

import neurona as nr
from tests.opcheck import check_op

# --- unary ops: (name, fn, numpy reference, domain) ------------------------------------

UNARY = [
    ("neg", lambda x: -x, np.negative, "any"),
    ("neg_fn", nr.neg, np.negative, "any"),
    ("pos", lambda x: +x, lambda a: a, "any"),
    ("exp", nr.exp, np.exp, "any"),
    ("exp_method", lambda x: x.exp(), np.exp, "any"),
    ("log", nr.log, np.log, "pos"),
    ("log_method", lambda x: x.log(), np.log, "pos"),
    ("log1p", nr.log1p, np.log1p, "unit"),
    ("sqrt", nr.sqrt, np.sqrt, "pos"),
    ("sqrt_method", lambda x: x.sqrt(), np.sqrt, "pos"),
    ("abs", nr.abs, np.abs, "away0"),
    ("abs_builtin", abs, np.abs, "away0"),
    ("sign", nr.sign, np.sign, "away0"),
    ("clip", lambda x: nr.clip(x, -0.5, 0.7), lambda a: np.clip(a, -0.5, 0.7), "any"),
    ("clip_min", lambda x: x.clip(min=0.1), lambda a: np.maximum(a, 0.1), "any"),
    ("clamp_max", lambda x: nr.clamp(x, max=-0.2), lambda a: np.minimum(a, -0.2), "any"),
    ("clamp_method", lambda x: x.clamp(-1, 1), lambda a: np.clip(a, -1, 1), "any"),
    ("add_const", lambda x: x + 2.5, lambda a: a + 2.5, "any"),
    ("radd_const", lambda x: 2.5 + x, lambda a: 2.5 + a, "any"),
    ("sub_const", lambda x: x - 1.5, lambda a: a - 1.5, "any"),
    ("rsub_const", lambda x: 1.5 - x, lambda a: 1.5 - a, "any"),
    ("mul_const", lambda x: x * 3, lambda a: a * 3, "any"),
    ("rmul_const", lambda x: -2.0 * x, lambda a: -2.0 * a, "any"),
    ("div_const", lambda x: x / 4, lambda a: a / 4, "any"),
    ("rdiv_const", lambda x: 2 / x, lambda a: 2 / a, "away0"),
    ("pow_2", lambda x: x ** 2, lambda a: a ** 2, "any"),
    ("pow_3", lambda x: x ** 3, lambda a: a ** 3, "any"),
    ("pow_half", lambda x: x ** 0.5, np.sqrt, "pos"),
    ("pow_neg", lambda x: x ** -1.5, lambda a: a ** -1.5, "pos"),
    ("pow_fn", lambda x: nr.pow(x, 3), lambda a: a ** 3, "any"),
    ("pow_0", lambda x: x ** 0 + x, lambda a: a ** 0 + a, "any"),
    ("pow_method", lambda x: x.pow(2.5), lambda a: a ** 2.5, "pos"),
    ("rpow_2", lambda x: 2 ** x, lambda a: 2.0 ** a, "any"),
    ("rpow_e", lambda x: np.e ** x, np.exp, "any"),
    ("rpow_frac", lambda x: 0.5 ** x, lambda a: 0.5 ** a, "any"),
    ("clone", lambda x: x.clone(), lambda a: a.copy(), "any"),
]
UNARY_SHAPES = [(), (5,), (3, 4), (2, 1, 3)]


@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=str)
@pytest.mark.parametrize("name,fn,ref,domain", UNARY, ids=[u[0] for u in UNARY])
def test_unary(name, fn, ref, domain, shape):
    check_op(fn, ref, [shape], domain)


def _permute(a, *axes):
    """Reorder axes of a Tensor or an ndarray (Tensor.transpose swaps two axes, as in PyTorch)."""
    return a.permute(*axes) if isinstance(a, nr.Tensor) else a.transpose(axes)


# non-contiguous inputs: build the input, then transpose or slice it inside the op
LAYOUTS = [
    ("transposed", (4, 3), lambda a: a.T),
    ("strided", (6, 8), lambda a: a[::2, ::-3]),
    ("permuted_3d", (2, 3, 4), lambda a: _permute(a, 2, 0, 1)[:, ::-1]),
]


@pytest.mark.parametrize("layout,shape,view", LAYOUTS, ids=[l[0] for l in LAYOUTS])
@pytest.mark.parametrize("name,fn,ref,domain", UNARY, ids=[u[0] for u in UNARY])
def test_unary_noncontiguous(name, fn, ref, domain, layout, shape, view):
    check_op(lambda x: fn(view(x)), lambda a: ref(view(a)), [shape], domain)


# --- binary ops with broadcasting: (name, fn, numpy reference, domains) --------------------

BINARY = [
    ("add", lambda a, b: a + b, np.add, ("any", "any")),
    ("add_fn", nr.add, np.add, ("any", "any")),
    ("add_method", lambda a, b: a.add(b), np.add, ("any", "any")),
    ("sub", lambda a, b: a - b, np.subtract, ("any", "any")),
    ("sub_fn", nr.sub, np.subtract, ("any", "any")),
    ("mul", lambda a, b: a * b, np.multiply, ("any", "any")),
    ("mul_fn", nr.mul, np.multiply, ("any", "any")),
    ("div", lambda a, b: a / b, np.divide, ("any", "away0")),
    ("div_fn", nr.div, np.divide, ("any", "away0")),
    ("pow", lambda a, b: a ** b, np.power, ("pos", "any")),
    ("pow_fn", nr.pow, np.power, ("pos", "any")),
    ("maximum", nr.maximum, np.maximum, ("any", "any")),
    ("minimum", nr.minimum, np.minimum, ("any", "any")),
    ("maximum_method", lambda a, b: a.maximum(b), np.maximum, ("any", "any")),
    ("minimum_method", lambda a, b: a.minimum(b), np.minimum, ("any", "any")),
    ("mul_self_expr", lambda a, b: a * b + a / (b * b + 1), lambda a, b: a * b + a / (b * b + 1), ("any", "any")),
]
BINARY_SHAPES = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((4,), (3, 4)),
    ((3, 1), (1, 4)),
    ((2, 3, 4), (3, 1)),
    ((), (2, 3)),
    ((2, 3), ()),
    ((1,), (2, 1, 3)),
]


@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
@pytest.mark.parametrize("name,fn,ref,domains", BINARY, ids=[b[0] for b in BINARY])
def test_binary(name, fn, ref, domains, shapes):
    check_op(fn, ref, shapes, domains)


BINARY_LAYOUTS = [
    ("a_transposed", ((4, 3), (3, 4)), lambda a, b: (a.T, b)),
    ("b_strided", ((3, 4), (6, 8)), lambda a, b: (a, b[::2, ::-2])),
    ("both_sliced_broadcast", ((5, 3), (3, 4)), lambda a, b: (a[1:4, :1], b[::-1])),
]


@pytest.mark.parametrize("layout,shapes,views", BINARY_LAYOUTS, ids=[l[0] for l in BINARY_LAYOUTS])
@pytest.mark.parametrize("name,fn,ref,domains", BINARY, ids=[b[0] for b in BINARY])
def test_binary_noncontiguous(name, fn, ref, domains, layout, shapes, views):
    check_op(lambda a, b: fn(*views(a, b)), lambda a, b: ref(*views(a, b)), shapes, domains)


def test_same_tensor_on_both_sides():
    check_op(lambda x: x * x + x / (x * x + 1) - x ** x, lambda a: a * a + a / (a * a + 1) - a ** a, [(3, 4)], "pos")


# --- matmul: 2-D, batched with broadcasting, vectors ---------------------------------------

MATMUL = [
    ("2d", (3, 4), (4, 5)),
    ("2d_outer_dims_1", (1, 4), (4, 1)),
    ("batched", (2, 3, 4), (2, 4, 5)),
    ("batched_by_2d", (2, 3, 4), (4, 5)),
    ("2d_by_batched", (3, 4), (2, 4, 5)),
    ("batch_broadcast", (2, 1, 3, 4), (5, 4, 2)),
    ("batch_broadcast_size1", (1, 3, 4), (2, 4, 2)),
    ("vector_matrix", (4,), (4, 5)),
    ("matrix_vector", (3, 4), (4,)),
    ("vector_vector", (4,), (4,)),
    ("batched_vector", (2, 3, 4), (4,)),
    ("vector_batched", (4,), (2, 4, 3)),
]


@pytest.mark.parametrize("name,sa,sb", MATMUL, ids=[m[0] for m in MATMUL])
@pytest.mark.parametrize("form", ["operator", "function", "method"])
def test_matmul(name, sa, sb, form):
    fn = {"operator": lambda a, b: a @ b, "function": nr.matmul, "method": lambda a, b: a.matmul(b)}[form]
    check_op(fn, np.matmul, [sa, sb])


MATMUL_LAYOUTS = [
    ("a_transposed", (4, 3), (4, 5), lambda a, b: (a.T, b)),
    ("b_transposed", (3, 4), (5, 4), lambda a, b: (a, b.T)),
    ("both_strided", (6, 4), (4, 10), lambda a, b: (a[::2], b[:, ::-2])),
    ("batched_swapped", (2, 4, 3), (2, 4, 5), lambda a, b: (_permute(a, 0, 2, 1), b)),
    ("vector_strided", (8,), (4, 5), lambda a, b: (a[::2], b)),
]


@pytest.mark.parametrize("name,sa,sb,views", MATMUL_LAYOUTS, ids=[m[0] for m in MATMUL_LAYOUTS])
def test_matmul_noncontiguous(name, sa, sb, views):
    check_op(lambda a, b: nr.matmul(*views(a, b)), lambda a, b: np.matmul(*views(a, b)), [sa, sb])


def test_matmul_with_ndarray_on_either_side_keeps_float32():
    x = nr.randn(3, 4, requires_grad=True)
    w = np.random.default_rng(0).standard_normal((4, 2))  # float64
    y = x @ w
    z = w.T @ x.T  # ndarray @ Tensor: the reflected operator
    assert y.dtype == z.dtype == np.float32
    np.testing.assert_allclose(z.array, y.array.T, rtol=1e-6)
    (y.sum() + z.sum()).backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.array, 2 * np.tile(w.sum(1), (3, 1)), rtol=1e-5)


# --- where ---------------------------------------------------------------------------------

_C34 = np.array([[True, False, True, False], [False, False, True, True], [True, True, False, True]])

WHERE = [
    ("same_shapes", lambda a, b: nr.where(_C34, a, b), lambda a, b: np.where(_C34, a, b), [(3, 4), (3, 4)]),
    ("broadcast_ab", lambda a, b: nr.where(_C34, a, b), lambda a, b: np.where(_C34, a, b), [(4,), (3, 1)]),
    ("cond_widens", lambda a, b: nr.where(_C34[None], a, b), lambda a, b: np.where(_C34[None], a, b), [(4,), ()]),
    ("cond_tensor", lambda a, b: nr.where(nr.tensor(_C34[:, :1]), a, b),
     lambda a, b: np.where(_C34[:, :1], a, b), [(3, 4), (1, 4)]),
    ("cond_widens_3d", lambda a, b: nr.where(np.ones((2, 3, 4), bool) & _C34, a, b),
     lambda a, b: np.where(np.ones((2, 3, 4), bool) & _C34, a, b), [(3, 4), (4,)]),
    ("scalar_other", lambda a: nr.where(_C34, a, 0.0), lambda a: np.where(_C34, a, 0.0), [(3, 4)]),
    ("leaky", lambda a: nr.where(a > 0, a, 0.1 * a), lambda a: np.where(a > 0, a, 0.1 * a), [(3, 4)]),
    ("noncontiguous", lambda a, b: nr.where(_C34, a.T, b[::2]), lambda a, b: np.where(_C34, a.T, b[::2]),
     [(4, 3), (6, 4)]),
]


@pytest.mark.parametrize("name,fn,ref,shapes", WHERE, ids=[w[0] for w in WHERE])
def test_where(name, fn, ref, shapes):
    check_op(fn, ref, shapes, "away0")


def test_where_gradient_goes_to_the_chosen_branch_only():
    a = nr.ones(2, 3, requires_grad=True)
    b = nr.ones(3, requires_grad=True)
    cond = np.array([[True, False, True], [True, True, False]])
    nr.where(cond, a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.array, cond.astype(np.float32))
    np.testing.assert_array_equal(b.grad.array, [0, 1, 1])


# --- comparisons: boolean, never differentiable ---------------------------------------------

COMPARISONS = [
    ("lt", lambda a, b: a < b, np.less),
    ("le", lambda a, b: a <= b, np.less_equal),
    ("gt", lambda a, b: a > b, np.greater),
    ("ge", lambda a, b: a >= b, np.greater_equal),
    ("eq", lambda a, b: a == b, np.equal),
    ("ne", lambda a, b: a != b, np.not_equal),
]
OTHERS = [
    ("tensor_broadcast", lambda rng: nr.tensor(rng.integers(-1, 2, (4,)).astype(float))),
    ("python_scalar", lambda rng: 0.0),
    ("numpy_float64", lambda rng: np.float64(0.0)),
    ("ndarray", lambda rng: rng.integers(-1, 2, (3, 4)).astype(float)),
]


@pytest.mark.parametrize("other_name,other", OTHERS, ids=[o[0] for o in OTHERS])
@pytest.mark.parametrize("name,op,ufunc", COMPARISONS, ids=[c[0] for c in COMPARISONS])
def test_comparison(name, op, ufunc, other_name, other, rng):
    x = nr.tensor(rng.integers(-1, 2, (3, 4)).astype(float), requires_grad=True)  # ties included
    b = other(rng)
    out = op(x, b)
    assert isinstance(out, nr.Tensor) and out.dtype == np.bool_
    assert not out.requires_grad and out.grad_fn is None
    np.testing.assert_array_equal(out.array, ufunc(x.array, b.array if isinstance(b, nr.Tensor) else b))


def test_logical_ops_on_bool_tensors(rng):
    x = nr.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    a, b = x > -0.5, x < 0.5
    both, either, neither = a & b, a | b, ~(a | b)
    for t in (both, either, neither):
        assert t.dtype == np.bool_ and not t.requires_grad
    np.testing.assert_array_equal(both.array, (x.array > -0.5) & (x.array < 0.5))
    np.testing.assert_array_equal(either.array, np.ones((3, 4), bool))
    np.testing.assert_array_equal(neither.array, np.zeros((3, 4), bool))


def test_comparison_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"less.*\(2, 3\).*\(4,\)"):
        nr.zeros(2, 3) < nr.zeros(4)


# --- float32 preservation with Python and NumPy scalars --------------------------------------

CONSTANTS = [
    ("mul_np_float64", lambda x: x * np.float64(2.0)),
    ("rmul_np_float64", lambda x: np.float64(2.0) * x),
    ("div_np_sqrt", lambda x: x / np.sqrt(np.float64(3))),
    ("rdiv_np_float64", lambda x: np.float64(2.0) / (x * x + 1)),
    ("add_np_float64", lambda x: x + np.float64(1.0)),
    ("radd_np_float64", lambda x: np.float64(1.0) + x),
    ("sub_np_float64", lambda x: x - np.float64(1.0)),
    ("rsub_np_float64", lambda x: np.float64(1.0) - x),
    ("pow_np_float64", lambda x: x ** np.float64(2.0)),
    ("pow_np_int64", lambda x: x ** np.int64(3)),
    ("rpow_np_float64", lambda x: np.float64(2.0) ** x),
    ("mul_np_float32", lambda x: x * np.float32(3.0)),
    ("mul_0d_float64_array", lambda x: x * np.array(2.0)),
    ("add_float64_array", lambda x: x + np.ones(4)),
    ("radd_float64_array", lambda x: np.ones((3, 4)) + x),
    ("rsub_float64_array", lambda x: np.ones(4) - x),
    ("rmul_float64_array", lambda x: np.full(4, 0.5) * x),
    ("rdiv_float64_array", lambda x: np.ones(4) / (x * x + 1)),
    ("matmul_float64_array", lambda x: x @ np.eye(4)),
    ("rmatmul_float64_array", lambda x: np.eye(3) @ x),
    ("maximum_np_float64", lambda x: nr.maximum(x, np.float64(0.0))),
    ("minimum_float", lambda x: nr.minimum(x, 0.0)),
    ("where_np_float64", lambda x: nr.where(x.array > 0, x, np.float64(0.0))),
    ("clip_np_float64", lambda x: nr.clip(x, np.float64(-0.5), np.float64(0.5))),
    ("mul_python_float", lambda x: 0.1 * x * 3.7),
    ("mul_python_int", lambda x: 3 * x * 2),
    ("div_python", lambda x: x / 7 + 1 / (x * x + 1)),
    ("pow_python", lambda x: x ** 2 + 2 ** x + x ** 0.5 * 0),
    ("mul_bool", lambda x: x * True),
    ("mean_var_std", lambda x: x.mean() + x.var() + x.std(axis=0).sum()),
]


@pytest.mark.parametrize("name,fn", CONSTANTS, ids=[c[0] for c in CONSTANTS])
def test_constants_keep_float32(name, fn, rng):
    x = nr.tensor(rng.uniform(0.5, 2.0, (3, 4)).astype(np.float32), requires_grad=True)
    out = fn(x)
    assert out.dtype == np.float32, f"{name}: float32 in, {out.dtype} out"
    out.sum().backward()
    assert x.grad.dtype == np.float32
    # the same expression in float64 gives the same values: the constant was not lost on the way
    x64 = nr.tensor(x.array, dtype=np.float64)
    np.testing.assert_allclose(out.array, fn(x64).array, rtol=1e-5)


def test_float64_stays_float64_with_constants():
    x = nr.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    y = x * np.float32(2.0) + 1.5 - 2 ** x
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float64


# integers combined with floats follow PyTorch: the float operand's dtype, or the default dtype
INT_PROMOTION = [
    ("int_times_float", lambda i, x: i * 0.5, np.float32),
    ("int_true_div", lambda i, x: i / 2, np.float32),
    ("int_rdiv", lambda i, x: 1 / (i + 1), np.float32),
    ("int_exp", lambda i, x: nr.exp(i), np.float32),
    ("int_sqrt", lambda i, x: nr.sqrt(i), np.float32),
    ("int_plus_float32", lambda i, x: i + x, np.float32),
    ("float32_times_int", lambda i, x: x * i, np.float32),
    ("int_pow_float", lambda i, x: i ** 0.5, np.float32),
    ("int_times_int", lambda i, x: i * 2, np.int64),
    ("int_plus_float64", lambda i, x: i + x.double(), np.float64),
]


@pytest.mark.parametrize("name,fn,dtype", INT_PROMOTION, ids=[p[0] for p in INT_PROMOTION])
def test_integer_promotion_follows_the_float_operand(name, fn, dtype):
    i = nr.arange(4)
    x = nr.ones(4, requires_grad=True)
    out = fn(i, x)
    assert out.dtype == dtype
    if out.requires_grad:
        out.sum().backward()
        assert x.grad.dtype == np.float32


def test_integer_promotion_uses_the_default_dtype():
    nr.set_default_dtype(np.float64)
    assert (nr.arange(3) / 2).dtype == np.float64
    assert (nr.arange(3) + nr.ones(3, dtype=np.float32)).dtype == np.float32


# --- errors ------------------------------------------------------------------------------------

BROADCAST_ERRORS = [
    ("add", lambda a, b: a + b),
    ("sub", lambda a, b: a - b),
    ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b),
    ("pow", lambda a, b: a ** b),
    ("maximum", nr.maximum),
    ("minimum", nr.minimum),
    ("where", lambda a, b: nr.where(True, a, b)),
]


@pytest.mark.parametrize("name,fn", BROADCAST_ERRORS, ids=[e[0] for e in BROADCAST_ERRORS])
def test_broadcast_error_names_op_and_shapes(name, fn):
    a, b = nr.ones(2, 3, requires_grad=True), nr.ones(4)
    with pytest.raises(ValueError, match=rf"{name}.*\(2, 3\).*\(4,\)"):
        fn(a, b)


MATMUL_ERRORS = [
    ((2, 3), (4, 5), r"matmul: shapes \(2, 3\) and \(4, 5\) are not aligned.*\(3\).*\(4\)"),
    ((3,), (4,), r"matmul: shapes \(3,\) and \(4,\) are not aligned"),
    ((2, 3), (4,), r"matmul: shapes \(2, 3\) and \(4,\)"),
    ((2, 3, 4), (3, 4, 5), r"matmul: cannot multiply shapes \(2, 3, 4\) and \(3, 4, 5\).*batch"),
    ((), (3,), r"matmul: both operands need at least 1 dimension.*\(\) and \(3,\)"),
]


@pytest.mark.parametrize("sa,sb,message", MATMUL_ERRORS, ids=str)
def test_matmul_error_names_shapes(sa, sb, message):
    with pytest.raises(ValueError, match=message):
        nr.zeros(sa) @ nr.zeros(sb)


def test_clip_needs_a_bound():
    with pytest.raises(ValueError, match="clip: give at least one of min and max"):
        nr.clip(nr.ones(3))


def test_gradient_of_kinks_follows_pytorch():
    """Documented choices at non-differentiable points: |x|' = 0 at 0, clip passes bounds, ties split."""
    x = nr.tensor([0.0, 1.0, -1.0], requires_grad=True)
    nr.abs(x).sum().backward()
    np.testing.assert_array_equal(x.grad.array, [0, 1, -1])
    x = nr.tensor([-1.0, 0.0, 1.0, 2.0], requires_grad=True)
    nr.clip(x, 0.0, 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad.array, [0, 1, 1, 0])
    a = nr.tensor([1.0, 2.0], requires_grad=True)
    b = nr.tensor([1.0, 1.0], requires_grad=True)
    nr.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.array, [0.5, 1])
    np.testing.assert_array_equal(b.grad.array, [0.5, 0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zeroth_power_has_zero_gradient_even_at_zero(dtype):
    """x ** 0 is the constant 1: its gradient is 0 everywhere, even at 0 where c·x^(c-1) is 0 · inf (as PyTorch)."""
    x = nr.tensor([0.0, 2.0, -3.0], dtype=dtype, requires_grad=True)
    e = nr.tensor([0.0, 0.0, 0.0], dtype=dtype, requires_grad=True)
    with np.errstate(all="raise"):
        ((x ** 0) * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.array, [0, 0, 0])
    assert x.grad.dtype == dtype
    x.grad = None
    (x ** e).sum().backward()  # a tensor exponent that is 0: ∂/∂x is 0, ∂/∂e = ln x (0 at x = 0, NaN below)
    np.testing.assert_array_equal(x.grad.array, [0, 0, 0])
    np.testing.assert_allclose(e.grad.array, [0, np.log(2.0), np.nan], rtol=1e-6)
    assert x.grad.dtype == e.grad.dtype == dtype
