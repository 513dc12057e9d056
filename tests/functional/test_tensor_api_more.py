"""The tensor API beyond what a recorded comparison shows: random draws, Python conversions, errors, names."""
from __future__ import annotations

import operator

import numpy as np
import pytest

import neurona as nr
import neurona.nn.functional as F

# --- random draws ---------------------------------------------------------------------------------


def test_multinomial_without_replacement_draws_distinct_categories_with_weight():
    w = nr.tensor([[0.0, 1.0, 2.0, 3.0], [5.0, 0.0, 0.0, 1.0]])
    for seed in range(20):
        nr.manual_seed(seed)
        out = nr.multinomial(w, 2)
        assert out.dtype == np.int64 and out.shape == (2, 2)
        assert out[0, 0].item() != out[0, 1].item() and 0 not in out[0].tolist()
        assert sorted(out[1].tolist()) == [0, 3]


def test_multinomial_with_replacement_follows_the_weights():
    g = np.random.default_rng(0)
    out = nr.tensor([1.0, 3.0]).multinomial(20000, replacement=True, generator=g)
    assert abs(out.float().mean().item() - 0.75) < 0.02
    a = nr.multinomial(nr.tensor([0.2, 0.8]), 50, True, generator=np.random.default_rng(1))
    b = nr.multinomial(nr.tensor([0.2, 0.8]), 50, True, generator=np.random.default_rng(1))
    assert nr.equal(a, b)


@pytest.mark.parametrize("call,match", [
    (lambda: nr.multinomial(nr.tensor([1.0, 0.0]), 2), "without replacement"),
    (lambda: nr.multinomial(nr.tensor([1.0, -1.0]), 1), "non-negative"),
    (lambda: nr.multinomial(nr.ones(2, 2, 2), 1), "1-D or 2-D"),
    (lambda: nr.multinomial(nr.tensor([0.0, 0.0]), 1, True), "positive total"),
])
def test_multinomial_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bernoulli_normal_poisson():
    nr.manual_seed(0)
    p = nr.full((20000,), 0.3, dtype=nr.float64)
    b = nr.bernoulli(p)
    assert b.dtype == np.float64 and set(b.tolist()) <= {0.0, 1.0}
    assert abs(b.mean().item() - 0.3) < 0.02
    assert nr.zeros(3).bernoulli(p=1.0).tolist() == [1.0, 1.0, 1.0]
    n = nr.normal(2.0, 3.0, size=(20000,))
    assert n.dtype == np.float32 and abs(n.mean().item() - 2) < 0.1 and abs(n.std().item() - 3) < 0.1
    m = nr.normal(nr.zeros(2, 3, dtype=nr.float64), 1.0)
    assert m.shape == (2, 3) and m.dtype == np.float64
    assert nr.poisson(nr.full((4,), 2.0)).dtype == np.float32
    with pytest.raises(ValueError, match="probabilities"):
        nr.bernoulli(nr.tensor([1.5]))


# --- one-element tensors as Python numbers --------------------------------------------------------


def test_index_int_float_bool_conversions():
    items = ["a", "b", "c"]
    i = nr.tensor(2)
    assert items[i] == "c" and operator.index(i) == 2 and list(range(10))[nr.tensor([1])] == 1
    assert items[nr.argmax(nr.tensor([0.1, 0.7, 0.2]))] == "b"
    assert float(nr.tensor([2.5])) == 2.5 and int(nr.tensor(3.9)) == 3 and bool(nr.tensor(0)) is False
    with pytest.raises(TypeError, match="only integer tensors of a single element"):
        items[nr.tensor(1.0)]
    with pytest.raises(TypeError, match="single element"):
        operator.index(nr.tensor([1, 2]))
    with pytest.raises(ValueError, match="one-element"):
        nr.tensor([1.0, 2.0]).item()


def test_split_chunk_unbind_give_tuples_as_pytorch():
    x = nr.arange(10)
    assert type(x.split(3)) is tuple and [t.shape for t in x.split(3)] == [(3,), (3,), (3,), (1,)]
    assert type(nr.chunk(x, 4)) is tuple and len(nr.chunk(x, 4)) == 4
    assert type(x.reshape(2, 5).unbind(1)) is tuple


# --- errors name the op and the shapes -------------------------------------------------------------


@pytest.mark.parametrize("call,exc,match", [
    (lambda: nr.gather(nr.ones(2, 3), 1, nr.tensor([[0, 3]])), IndexError, r"gather: index values \[3\]"),
    (lambda: nr.gather(nr.ones(2, 3), 1, nr.tensor([0, 1])), ValueError, "gather: index has 1 dimensions"),
    (lambda: nr.gather(nr.ones(2, 3), 1, nr.tensor([[0.0]])), TypeError, "gather: index must be an integer"),
    (lambda: nr.gather(nr.ones(2, 3), 2, nr.tensor([[0]])), IndexError, "gather: dim 2 is out of range"),
    (lambda: nr.ones(2, 3).topk(4), ValueError, r"topk: k=4 is out of range for dimension 1 of size 3"),
    (lambda: nr.ones(2, 3).kthvalue(0), ValueError, r"kthvalue: k=0"),
    (lambda: nr.einsum("ij,jk->ik", nr.ones(2, 3)), ValueError, "einsum: the equation .* names 2 operands, 1"),
    (lambda: nr.einsum("ijk->i", nr.ones(2, 3)), ValueError, "einsum: subscripts 'ijk' do not fit"),
    (lambda: nr.einsum("ij,jk->ik", nr.ones(2, 3), nr.ones(4, 2)), ValueError, "einsum"),
    (lambda: nr.mm(nr.ones(2, 3), nr.ones(3)), ValueError, r"mm: mat2 must be 2-D, got shape \(3,\)"),
    (lambda: nr.bmm(nr.ones(2, 2, 3), nr.ones(3, 3, 2)), ValueError, "bmm: batch sizes differ"),
    (lambda: nr.dot(nr.ones(2), nr.ones(3)), ValueError, "dot: the vectors have different lengths 2 and 3"),
    (lambda: nr.tril(nr.ones(3)), ValueError, r"tril: expected at least 2 dimensions, got shape \(3,\)"),
    (lambda: nr.trace(nr.ones(2, 2, 2)), ValueError, "trace: expected a 2-D tensor"),
    (lambda: nr.ones(2, 3).repeat(2), ValueError, "repeat: 1 repeat counts for a tensor with 2 dimensions"),
    (lambda: nr.ones(2, 3).narrow(1, 2, 2), IndexError, "narrow: start 2 and length 2 do not fit dimension 1"),
    (lambda: nr.ones(2, 3).unflatten(1, (2, 2)), ValueError, r"unflatten: cannot split dimension 1 of size 3"),
    (lambda: nr.ones(2, 3, 4).t(), ValueError, "t: expects a tensor with at most 2 dimensions"),
    (lambda: nr.masked_select(nr.ones(2, 3), nr.ones(2, 3)), TypeError, "masked_select: mask must be a bool"),
    (lambda: nr.linalg.matrix_norm(nr.ones(2, 2), ord=3), ValueError, "matrix_norm: ord must be one of"),
    (lambda: nr.norm(nr.ones(2), p="x"), ValueError, "norm: p must be a number, 'fro' or 'nuc'"),
    (lambda: nr.arange(3).mean(), TypeError, "pass dtype="),
    (lambda: nr.var(nr.ones(3), 0, True, correction=1), TypeError, "unbiased or correction"),
    (lambda: nr.cumsum(nr.ones(3)), TypeError, "cumsum: dim is required"),
    (lambda: nr.prod(nr.ones(2, 2), (0, 1)), TypeError, "prod: dim must be an int"),
    (lambda: nr.bitwise_and(nr.ones(2), nr.ones(2)), TypeError, "bitwise_and: expected integer or bool"),
    (lambda: nr.floor_divide(nr.tensor([1]), nr.tensor([0])), ZeroDivisionError, "floor_divide"),
    (lambda: F.interpolate(nr.ones(1, 1, 4), size=2, mode="nearest", align_corners=True), ValueError,
     "align_corners can only be set"),
    (lambda: F.interpolate(nr.ones(1, 1, 4), size=2, mode="bilinear"), ValueError, "needs a 4-D input"),
    (lambda: F.interpolate(nr.ones(1, 1, 4), size=2, scale_factor=2.0), ValueError, "exactly one"),
    (lambda: F.interpolate(nr.ones(1, 4)), ValueError, "3-D, 4-D or 5-D"),
    (lambda: nr.scatter(nr.ones(2, 3), 1, nr.tensor([[0, 1]])), TypeError, "scatter: give src"),
    (lambda: nr.diagonal(nr.ones(3, 3), 0, 1, 1), ValueError, "dim1 and dim2 must differ"),
])
def test_errors_are_named(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# --- names: every function has its method, as in PyTorch ------------------------------------------

BOTH = ["sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "log1p", "expm1", "exp2", "sign",
        "floor", "ceil", "round", "trunc", "frac", "square", "rsqrt", "reciprocal", "eq", "ne", "lt", "le", "gt",
        "ge", "equal", "logical_and", "logical_or", "logical_not", "logical_xor", "any", "all", "topk", "sort",
        "argsort", "kthvalue", "gather", "scatter", "scatter_add", "index_select", "masked_select", "nonzero",
        "where", "mm", "bmm", "mv", "dot", "outer", "matmul", "tril", "triu", "diag", "diagonal", "trace", "cumsum",
        "cumprod", "norm", "dist", "repeat_interleave", "tile", "chunk", "split", "unbind", "flip", "roll",
        "multinomial", "bernoulli", "allclose", "isclose", "numel", "narrow", "t", "transpose", "movedim",
        "swapaxes", "unflatten", "flatten", "squeeze", "unsqueeze", "prod", "amax", "amin", "median", "max", "min",
        "argmax", "argmin", "sum", "mean", "std", "var", "logsumexp", "clamp", "maximum", "minimum", "abs", "neg",
        "softmax", "log_softmax", "sigmoid", "tanh", "relu", "clone", "take", "take_along_dim", "fmod",
        "remainder", "floor_divide", "hypot", "erf", "log2", "log10", "isnan", "isinf", "isfinite"]


@pytest.mark.parametrize("name", BOTH)
def test_function_and_method(name):
    assert callable(getattr(nr, name)), f"neurona.{name} is missing"
    assert callable(getattr(nr.Tensor, name)), f"Tensor.{name} is missing"


@pytest.mark.parametrize("name", ["normalize", "one_hot", "pad", "interpolate", "embedding", "cosine_similarity",
                                  "pairwise_distance", "softmax", "log_softmax", "relu", "upsample"])
def test_nn_functional_names(name):
    assert callable(getattr(F, name))


def test_methods_are_defined_on_the_class_not_attached_at_import():
    import inspect
    src = inspect.getsource(nr.Tensor)
    assert "# --- tensor API: PyTorch's everyday methods ---" in src
    for name in ("topk", "gather", "mm", "new_zeros", "__index__", "mT"):
        assert name in nr.Tensor.__dict__, name


def test_new_tensors_keep_dtype_and_take_requires_grad():
    x = nr.ones(2, dtype=nr.float64)
    z = x.new_zeros((3, 2), requires_grad=True)
    assert z.dtype == np.float64 and z.requires_grad and z.shape == (3, 2)
    assert x.new_tensor([1, 2]).dtype == np.float64
    assert nr.arange(3).new_full((2,), 7).dtype == np.int64
