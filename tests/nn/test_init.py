"""neurona.nn.init: gains, fans, and the variance of every random initializer."""
import math

import numpy as np
import pytest

import neurona
from neurona import nn
from neurona.nn import init


def _w(*shape, dtype=None):
    return nn.Parameter(neurona.zeros(*shape, dtype=dtype))


def test_calculate_gain():
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")


def test_fans():
    assert init._calculate_fan_in_and_fan_out(_w(30, 20)) == (20, 30)
    assert init._calculate_fan_in_and_fan_out(_w(16, 3, 5, 5)) == (75, 400)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(_w(10))


# (initializer, kwargs, shape, expected std, distribution)
CASES = [
    (init.xavier_uniform_, {}, (300, 200), math.sqrt(2 / 500), "uniform"),
    (init.xavier_uniform_, {"gain": 5 / 3}, (300, 200), 5 / 3 * math.sqrt(2 / 500), "uniform"),
    (init.xavier_normal_, {}, (300, 200), math.sqrt(2 / 500), "normal"),
    (init.xavier_normal_, {}, (32, 16, 3, 3), math.sqrt(2 / (16 * 9 + 32 * 9)), "normal"),
    (init.kaiming_uniform_, {"nonlinearity": "relu"}, (300, 200), math.sqrt(2 / 200), "uniform"),
    (init.kaiming_uniform_, {"nonlinearity": "relu", "mode": "fan_out"}, (300, 200), math.sqrt(2 / 300), "uniform"),
    (init.kaiming_uniform_, {"a": math.sqrt(5)}, (300, 200), math.sqrt(1 / 3) / math.sqrt(200), "uniform"),
    (init.kaiming_normal_, {"nonlinearity": "relu"}, (300, 200), math.sqrt(2 / 200), "normal"),
    (init.kaiming_normal_, {"nonlinearity": "relu"}, (32, 16, 3, 3), math.sqrt(2 / 144), "normal"),
    (init.kaiming_normal_, {"a": 0.1, "mode": "fan_out"}, (200, 300), math.sqrt(2 / 1.01 / 200), "normal"),
]


@pytest.mark.parametrize("fn, kwargs, shape, std, dist", CASES)
def test_random_initializers_have_the_right_variance(fn, kwargs, shape, std, dist):
    w = _w(*shape)
    assert fn(w, generator=np.random.default_rng(0), **kwargs) is w
    d = w.array.astype(np.float64)
    assert w.dtype == np.float32
    assert abs(d.mean()) < 4 * std / math.sqrt(d.size)
    assert d.std() == pytest.approx(std, rel=0.03)
    if dist == "uniform":  # U(-a, a) with a = sqrt(3)·std: bounded, and reaches close to a
        a = math.sqrt(3) * std
        assert np.abs(d).max() <= a * (1 + 1e-6) and np.abs(d).max() > 0.99 * a
    else:  # a normal has excess kurtosis 0 (a uniform has -1.2)
        z = (d - d.mean()) / d.std()
        assert abs((z ** 4).mean() - 3) < 0.15


def test_xavier_matches_the_notes_variance():
    # the notes: Var(W_i) = 2 / (n_in + n_out)
    n_in, n_out = 400, 100
    w = _w(n_out, n_in)
    init.xavier_normal_(w, generator=np.random.default_rng(1))
    assert w.array.astype(np.float64).var() == pytest.approx(2 / (n_in + n_out), rel=0.05)


def test_uniform_normal_constant():
    w = _w(200, 100)
    init.uniform_(w, -2, 3, generator=np.random.default_rng(0))
    assert w.array.min() >= -2 and w.array.max() < 3 and w.array.mean() == pytest.approx(0.5, abs=0.05)
    init.normal_(w, 1.0, 0.5, generator=np.random.default_rng(0))
    assert w.array.mean() == pytest.approx(1.0, abs=0.01) and w.array.std() == pytest.approx(0.5, rel=0.02)
    init.constant_(w, 0.25)
    assert np.all(w.array == 0.25)
    init.ones_(w)
    assert np.all(w.array == 1)
    init.zeros_(w)
    assert not w.array.any()
    e = _w(3, 4)
    init.eye_(e)
    np.testing.assert_array_equal(e.array, np.eye(3, 4))


def test_trunc_normal_stays_in_bounds():
    w = _w(100, 100)
    init.trunc_normal_(w, mean=0.0, std=1.0, a=-1.0, b=0.5, generator=np.random.default_rng(0))
    assert w.array.min() >= -1.0 and w.array.max() <= 0.5
    assert len(np.unique(w.array)) > 9000


def test_orthogonal():
    for shape in [(6, 6), (4, 9), (9, 4)]:
        w = _w(*shape, dtype=neurona.float64)
        init.orthogonal_(w, gain=2.0, generator=np.random.default_rng(0))
        m = w.array / 2.0
        small = min(shape)
        gram = m @ m.T if shape[0] <= shape[1] else m.T @ m
        np.testing.assert_allclose(gram, np.eye(small), atol=1e-12)


def test_dtype_and_identity_of_the_array_are_kept():
    for dtype in (neurona.float32, neurona.float64):
        w = _w(20, 10, dtype=dtype)
        arr = w.array
        init.kaiming_uniform_(w)
        init.xavier_normal_(w)
        init.trunc_normal_(w, std=0.02)
        assert w.array is arr and w.dtype == dtype


def test_default_generator_follows_manual_seed():
    a, b = _w(5, 5), _w(5, 5)
    neurona.manual_seed(3)
    init.xavier_uniform_(a)
    neurona.manual_seed(3)
    init.xavier_uniform_(b)
    np.testing.assert_array_equal(a.array, b.array)
    init.xavier_uniform_(b)
    assert not np.array_equal(a.array, b.array)


def test_no_graph_is_recorded_and_parameters_stay_leaves():
    w = _w(4, 4)
    init.normal_(w)
    assert w.is_leaf and w.grad is None


def test_errors():
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out'"):
        init.kaiming_normal_(_w(3, 3), mode="fan_avg")
    with pytest.raises(TypeError, match="floating-point"):
        init.normal_(neurona.zeros(3, dtype=neurona.int64))
    with pytest.raises(TypeError, match="neurona Tensor"):
        init.normal_(np.zeros(3))
    with pytest.raises(ValueError, match="a <= b"):
        init.uniform_(_w(3), 1, 0)
