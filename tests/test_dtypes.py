"""dtype names (neurona's PyTorch-style names, neurona/backend.py's to_dtype) and Tensor casts."""
from __future__ import annotations

import builtins

import numpy as np
import pytest

import neurona as nr
from neurona import backend

NAMES = [("float", np.float32), ("float32", np.float32), ("double", np.float64), ("float64", np.float64),
         ("half", np.float16), ("float16", np.float16), ("long", np.int64), ("int64", np.int64),
         ("int", np.int32), ("int32", np.int32), ("short", np.int16), ("int16", np.int16), ("int8", np.int8),
         ("uint8", np.uint8), ("bool", np.bool_)]


@pytest.mark.parametrize("name, dtype", NAMES)
def test_dtype_names(name, dtype):
    d = getattr(nr, name)
    assert np.dtype(d) == dtype and backend.to_dtype(d) == dtype and backend.to_dtype(name) == dtype
    assert nr.zeros(2, dtype=d).dtype == dtype and nr.tensor([1], dtype=d).dtype == dtype
    assert nr.ones(2).to(d).dtype == dtype and nr.ones(2).type(d).dtype == dtype


def test_names_do_not_shadow_builtins_inside_the_package():
    assert nr.float is np.float32 and nr.int is np.int32 and nr.bool is np.bool_
    assert builtins.float(nr.tensor(2.5)) == 2.5 and nr.is_floating_point(nr.ones(1))
    assert nr.zeros(2, dtype=builtins.float).dtype == np.float64  # Python's float is float64, as in PyTorch
    assert nr.zeros(2, dtype=builtins.int).dtype == np.int64


def test_bfloat16_and_complex_are_refused_clearly():
    assert repr(nr.bfloat16) == "neurona.bfloat16"
    for make in (lambda: nr.zeros(2, dtype=nr.bfloat16), lambda: nr.ones(2).to(nr.bfloat16),
                 lambda: nr.tensor([1.0], dtype="bfloat16"), lambda: nr.ones(1).type(nr.bfloat16)):
        with pytest.raises(TypeError, match="bfloat16 is not supported: NumPy has no bfloat16"):
            make()
    with pytest.raises(TypeError, match="not supported"):
        nr.zeros(2, dtype=np.complex64)
    with pytest.raises(TypeError, match="unknown dtype 'float33'"):
        backend.to_dtype("float33")


@pytest.mark.parametrize("dtype, name", [(nr.float, "FloatTensor"), (nr.double, "DoubleTensor"),
                                         (nr.half, "HalfTensor"), (nr.long, "LongTensor"), (nr.int, "IntTensor"),
                                         (nr.short, "ShortTensor"), (nr.int8, "CharTensor"), (nr.uint8, "ByteTensor"),
                                         (nr.bool, "BoolTensor")])
def test_type_names(dtype, name):
    t = nr.zeros(2, dtype=dtype)
    assert t.type() == f"neurona.{name}"
    assert nr.ones(1).type(f"torch.{name}").dtype == np.dtype(dtype)
    assert nr.ones(1).type(f"neurona.{name}").dtype == np.dtype(dtype)


def test_cast_methods():
    x = nr.tensor([1.5, -2.5], requires_grad=True)
    assert x.float() is x
    casts = {"double": np.float64, "half": np.float16, "long": np.int64, "int": np.int32, "short": np.int16,
             "char": np.int8, "byte": np.uint8, "bool": np.bool_}
    for method, dtype in casts.items():
        y = getattr(x, method)()
        assert y.dtype == dtype, method
        assert y.requires_grad == (np.dtype(dtype).kind == "f"), method
    assert nr.arange(3).half().dtype == np.float16  # integer data to float16 stays float16
    assert x.is_floating_point() and not x.long().is_floating_point()
    assert nr.is_tensor(x) and not nr.is_tensor(x.array) and nr.is_tensor(nr.nn.Parameter(nr.ones(1)))
    h = x.half()
    (h * h).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.array, [3, -5])


def test_default_dtype_accepts_names():
    try:
        nr.set_default_dtype(nr.double)
        assert nr.get_default_dtype() == np.float64 and nr.zeros(1).dtype == np.float64
        nr.set_default_dtype("float32")
        assert nr.zeros(1).dtype == np.float32
        with pytest.raises(ValueError, match="expected float32 or float64, got float16"):
            nr.set_default_dtype(nr.half)
    finally:
        nr.set_default_dtype(nr.float32)


def test_half_precision_runs_a_small_network():
    nr.manual_seed(0)
    m = nr.nn.Sequential(nr.nn.Conv2d(1, 2, 3), nr.nn.BatchNorm2d(2), nr.nn.ReLU(), nr.nn.Flatten(),
                         nr.nn.Linear(8, 3)).half()
    x = nr.randn(4, 1, 4, 4).half()
    loss = nr.nn.functional.cross_entropy(m(x), nr.tensor([0, 1, 2, 0]))
    assert loss.dtype == np.float16
    loss.backward()
    assert all(p.grad.dtype == np.float16 for p in m.parameters())
