"""Creating tensors (neurona/creation.py): tensor(), the factories, seeding and the dtype policy."""
from __future__ import annotations

import numpy as np
import pytest

import neurona as nr

# --- tensor(): the dtype policy ---------------------------------------------------------------

POLICY = [
    ("python_float", 1.5, np.float32),
    ("python_floats", [[1.0, 2.0], [3.0, 4.0]], np.float32),
    ("python_int", 3, np.int64),
    ("python_ints", [1, 2, 3], np.int64),
    ("mixed_int_float", [1, 2.5], np.float32),
    ("python_bool", [True, False], np.bool_),
    ("float64_array", np.ones(3), np.float32),
    ("float32_array", np.ones(3, np.float32), np.float32),
    ("float16_array", np.ones(3, np.float16), np.float32),
    ("int32_array", np.ones(3, np.int32), np.int32),
    ("uint8_array", np.ones(3, np.uint8), np.uint8),
    ("numpy_float64_scalar", np.float64(2.0), np.float32),
]


@pytest.mark.parametrize("name,data,dtype", POLICY, ids=[p[0] for p in POLICY])
def test_default_dtype_policy(name, data, dtype):
    t = nr.tensor(data)
    assert t.dtype == dtype and type(t.array) is np.ndarray
    np.testing.assert_array_equal(t.array, np.asarray(data).astype(dtype))


def test_explicit_dtype_is_kept():
    assert nr.tensor(np.ones(2), dtype=nr.float64).dtype == np.float64
    assert nr.tensor([1, 2], dtype=nr.float32).dtype == np.float32
    assert nr.tensor([1.0, 2.0], dtype=np.float16).dtype == np.float16
    assert nr.tensor([0, 1], dtype=bool).dtype == np.bool_


def test_set_default_dtype():
    nr.set_default_dtype(nr.float64)
    assert nr.get_default_dtype() == np.float64
    for t in (nr.tensor([1.0]), nr.zeros(2), nr.ones(2), nr.randn(2), nr.rand(2), nr.arange(0.0, 1.0, 0.5),
              nr.full((2,), 1.5), nr.eye(2), nr.linspace(0, 1, 3)):
        assert t.dtype == np.float64
    assert nr.tensor([1, 2]).dtype == np.int64  # integers are not touched
    nr.set_default_dtype(np.float32)
    assert nr.tensor([1.0]).dtype == np.float32
    with pytest.raises(ValueError, match="set_default_dtype: expected float32 or float64, got int64"):
        nr.set_default_dtype(np.int64)


def test_tensor_copies_only_when_converting():
    a32 = np.ones(3, np.float32)
    assert np.shares_memory(nr.tensor(a32).array, a32)
    assert not np.shares_memory(nr.tensor(np.ones(3)).array, a32)
    t = nr.tensor([1.0, 2.0])
    assert nr.tensor(t).array is t.array


def test_from_numpy_keeps_dtype_and_memory():
    a = np.arange(4.0)
    t = nr.from_numpy(a)
    assert t.dtype == np.float64 and t.array is a
    with pytest.raises(TypeError, match="from_numpy: dtype <U1 is not supported"):
        nr.from_numpy(np.array(["a"]))


def test_as_tensor():
    t = nr.tensor([1.0])
    assert nr.as_tensor(t) is t
    assert nr.as_tensor(t, dtype=np.float64).dtype == np.float64
    assert nr.as_tensor([1.0, 2.0]).dtype == np.float32


REFUSED = [
    ("string", "abc"),
    ("strings", ["1.0", "2.0"]),
    ("object_array", np.array([1.0, None])),
    ("object_array_of_numbers", np.array([1.0, 2.0], dtype=object)),
    ("none", None),
    ("dict", {"a": 1}),
    ("complex", [1 + 2j]),
]


@pytest.mark.parametrize("dtype", [None, np.float32], ids=["no_dtype", "float32"])
@pytest.mark.parametrize("name,data", REFUSED, ids=[r[0] for r in REFUSED])
def test_non_numeric_data_refused_at_creation(name, data, dtype):
    with pytest.raises(TypeError, match="tensor: cannot make a tensor from data of dtype"):
        nr.tensor(data, dtype=dtype)


@pytest.mark.parametrize("dtype", [np.complex64, object, str])
def test_unsupported_dtype_refused(dtype):
    with pytest.raises(TypeError, match="tensor: dtype .* is not supported"):
        nr.tensor([1.0], dtype=dtype)


# --- factories ----------------------------------------------------------------------------------

FACTORIES = [
    ("zeros_varargs", lambda: nr.zeros(2, 3), np.zeros((2, 3))),
    ("zeros_tuple", lambda: nr.zeros((2, 3)), np.zeros((2, 3))),
    ("zeros_list", lambda: nr.zeros([4]), np.zeros(4)),
    ("zeros_0d", lambda: nr.zeros(()), np.zeros(())),
    ("ones", lambda: nr.ones(3, 1), np.ones((3, 1))),
    ("empty_shape", lambda: nr.zeros_like(nr.empty(2, 2)), np.zeros((2, 2))),
    ("full", lambda: nr.full((2, 2), 1.5), np.full((2, 2), 1.5)),
    ("full_int_shape", lambda: nr.full(3, 0.25), np.full(3, 0.25)),
    ("eye", lambda: nr.eye(3), np.eye(3)),
    ("eye_rect", lambda: nr.eye(2, 4), np.eye(2, 4)),
    ("arange_float", lambda: nr.arange(0.0, 1.0, 0.25), np.arange(0, 1, 0.25)),
    ("arange_float_step", lambda: nr.arange(0, 2, 0.5), np.arange(0, 2, 0.5)),
    ("linspace", lambda: nr.linspace(-1, 1, 5), np.linspace(-1, 1, 5)),
    ("zeros_like", lambda: nr.zeros_like(nr.ones(2, 3)), np.zeros((2, 3))),
    ("ones_like", lambda: nr.ones_like(nr.zeros(2)), np.ones(2)),
    ("full_like", lambda: nr.full_like(nr.zeros(2), 7.0), np.full(2, 7.0)),
    ("ones_like_ndarray", lambda: nr.ones_like(np.zeros(3, np.float32)), np.ones(3)),
]


@pytest.mark.parametrize("name,make,expected", FACTORIES, ids=[f[0] for f in FACTORIES])
def test_float_factories(name, make, expected):
    t = make()
    assert isinstance(t, nr.Tensor) and type(t.array) is np.ndarray
    assert t.dtype == np.float32 and not t.requires_grad
    np.testing.assert_allclose(t.array, expected)


INTEGER_FACTORIES = [
    ("arange_stop", lambda: nr.arange(5), np.arange(5), np.int64),
    ("arange_start_stop_step", lambda: nr.arange(2, 11, 3), np.arange(2, 11, 3), np.int64),
    ("arange_negative_step", lambda: nr.arange(5, 0, -2), np.arange(5, 0, -2), np.int64),
    ("full_int", lambda: nr.full((2,), 3), np.full(2, 3), np.int64),
    ("full_bool", lambda: nr.full((2,), True), np.full(2, True), np.bool_),
    ("zeros_int", lambda: nr.zeros(2, dtype=nr.int64), np.zeros(2), np.int64),
    ("eye_bool", lambda: nr.eye(2, dtype=bool), np.eye(2, dtype=bool), np.bool_),
    ("zeros_like_int", lambda: nr.zeros_like(nr.arange(3)), np.zeros(3), np.int64),
    ("ones_like_dtype", lambda: nr.ones_like(nr.zeros(3), dtype=np.float64), np.ones(3), np.float64),
    ("arange_dtype", lambda: nr.arange(3, dtype=nr.float64), np.arange(3.0), np.float64),
]


@pytest.mark.parametrize("name,make,expected,dtype", INTEGER_FACTORIES, ids=[f[0] for f in INTEGER_FACTORIES])
def test_factories_with_other_dtypes(name, make, expected, dtype):
    t = make()
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.array, expected)


WITH_GRAD = [
    ("zeros", lambda: nr.zeros(2, requires_grad=True)),
    ("ones", lambda: nr.ones(2, 2, requires_grad=True)),
    ("randn", lambda: nr.randn(3, requires_grad=True)),
    ("rand", lambda: nr.rand(2, requires_grad=True)),
    ("full", lambda: nr.full((2,), 0.5, requires_grad=True)),
    ("eye", lambda: nr.eye(2, requires_grad=True)),
    ("zeros_like", lambda: nr.zeros_like(nr.ones(2), requires_grad=True)),
    ("tensor", lambda: nr.tensor([1.0], requires_grad=True)),
]


@pytest.mark.parametrize("name,make", WITH_GRAD, ids=[w[0] for w in WITH_GRAD])
def test_factories_accept_requires_grad(name, make):
    t = make()
    assert t.requires_grad and t.is_leaf
    (t * t).sum().backward()
    assert t.grad.shape == t.shape and t.grad.dtype == np.float32


def test_random_factories_distributions():
    nr.manual_seed(0)
    u = nr.rand(20_000)
    n = nr.randn(20_000)
    assert u.dtype == n.dtype == np.float32
    assert 0 <= u.array.min() and u.array.max() < 1 and abs(u.array.mean() - 0.5) < 0.01
    assert abs(n.array.mean()) < 0.03 and abs(n.array.std() - 1) < 0.03
    i = nr.randint(3, 7, size=(1000,))
    assert i.dtype == np.int64 and i.array.min() == 3 and i.array.max() == 6
    assert nr.randint(5, size=4).shape == (4,)
    p = nr.randperm(10)
    assert p.dtype == np.int64 and sorted(p.tolist()) == list(range(10))
    x = nr.zeros(3, 2, dtype=nr.float64)
    assert nr.rand_like(x).shape == (3, 2) and nr.randn_like(x).dtype == np.float64


# --- seeding -----------------------------------------------------------------------------------

DRAWS = [
    ("randn", lambda **k: nr.randn(3, 4, **k)),
    ("rand", lambda **k: nr.rand(5, **k)),
    ("randint", lambda **k: nr.randint(0, 100, size=(6,), **k)),
    ("randperm", lambda **k: nr.randperm(8, **k)),
]


@pytest.mark.parametrize("name,draw", DRAWS, ids=[d[0] for d in DRAWS])
def test_manual_seed_repeats_the_numbers(name, draw):
    nr.manual_seed(123)
    a = draw()
    b = draw()
    nr.manual_seed(123)
    np.testing.assert_array_equal(draw().array, a.array)
    np.testing.assert_array_equal(draw().array, b.array)
    assert not np.array_equal(a.array, b.array)
    nr.manual_seed(124)
    assert not np.array_equal(draw().array, a.array)


@pytest.mark.parametrize("name,draw", DRAWS, ids=[d[0] for d in DRAWS])
def test_explicit_generator(name, draw):
    nr.manual_seed(0)
    state = nr.get_rng_state()
    a = draw(generator=np.random.default_rng(7))
    b = draw(generator=np.random.default_rng(7))
    np.testing.assert_array_equal(a.array, b.array)
    assert nr.get_rng_state() == state  # the global generator was not used


def test_rng_state_round_trip():
    nr.manual_seed(5)
    state = nr.get_rng_state()
    a = nr.randn(4)
    nr.randn(10)
    nr.set_rng_state(state)
    np.testing.assert_array_equal(nr.randn(4).array, a.array)


def test_manual_seed_reseeds_the_generator_others_hold():
    held = nr.default_generator()
    assert nr.manual_seed(5) is held and nr.default_generator() is held
    np.testing.assert_array_equal(held.standard_normal(3), np.random.default_rng(5).standard_normal(3))
    nr.manual_seed(5)
    np.testing.assert_array_equal(nr.randn(3, dtype=nr.float64).array, np.random.default_rng(5).standard_normal(3))


@pytest.mark.parametrize("make", [lambda: nr.rand_like(nr.arange(3)), lambda: nr.randn(2, dtype=nr.int64),
                                  lambda: nr.rand(2, dtype=bool)], ids=["rand_like_int", "randn_int", "rand_bool"])
def test_random_floats_of_integer_dtype_refused(make):
    with pytest.raises(TypeError, match=r"randn?: expected a floating dtype, got .*use randint"):
        make()


def test_bad_generator_refused():
    with pytest.raises(TypeError, match="generator: expected a neurona.Generator, a numpy.random.Generator or None, got int"):
        nr.randn(2, generator=42)
