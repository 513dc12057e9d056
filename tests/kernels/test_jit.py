"""The helpers every kernel compiles with: the vectorizable exponential and the cache key."""
import numpy as np
import pytest

pytest.importorskip("numba")

from neurona.kernels import _jit  # noqa: E402


@_jit.kernel
def _exp(x, out):
    for i in range(x.size):
        out[i] = _jit.expf(x[i])


@_jit.kernel
def _sig_tanh(x, s, t):
    for i in range(x.size):
        s[i] = _jit.sigmoid(x[i])
        t[i] = _jit.tanh(x[i])


def test_float32_exp_within_one_ulp_over_its_range():
    x = np.linspace(-87.3, 88.7, 400_001).astype(np.float32)
    y = np.empty_like(x)
    _exp(x, y)
    ref = np.exp(x.astype(np.float64))
    ulps = np.abs(y - ref) / np.spacing(ref.astype(np.float32)).astype(np.float64)
    assert ulps.max() <= 1.0, f"worst {ulps.max():.2f} ulp at x = {x[ulps.argmax()]}"
    assert y.dtype == np.float32


def test_exp_at_the_ends_of_the_float32_range():
    x = np.array([-1e4, -200.0, -104.0, 0.0, 89.0, 1e4, np.inf, -np.inf, np.nan], np.float32)
    y = np.empty_like(x)
    _exp(x, y)
    assert y[0] == y[1] == y[2] == 0 and y[3] == 1
    assert np.isinf(y[4]) and np.isinf(y[5]) and np.isinf(y[6]) and y[7] == 0 and np.isnan(y[8])


def test_float64_keeps_the_c_library_exp():
    x = np.linspace(-700, 700, 10_001)
    y = np.empty_like(x)
    _exp(x, y)
    np.testing.assert_allclose(y, np.exp(x), rtol=5e-16, atol=0)  # NumPy's own exp may differ by an ulp


@pytest.mark.parametrize("dtype, atol", [(np.float32, 2e-7), (np.float64, 1e-15)])
def test_sigmoid_and_tanh(dtype, atol):
    x = np.linspace(-60, 60, 100_001).astype(dtype)
    s, t = np.empty_like(x), np.empty_like(x)
    _sig_tanh(x, s, t)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(s, 1 / (1 + np.exp(-x64)), rtol=1e-6 if dtype == np.float32 else 1e-14, atol=1e-30)
    np.testing.assert_allclose(t, np.tanh(x64), rtol=0, atol=atol)
    assert s.min() >= 0 and s.max() <= 1 and np.abs(t).max() <= 1


def test_the_cache_key_holds_the_helpers_source():
    """A change to _jit.py must invalidate kernels compiled from other files that inline its helpers."""
    cache = _exp._cache
    key = cache._index_key(_exp.signatures[0], _exp.targetctx.codegen())
    assert key[-1] == _jit._HELPERS_STAMP and len(_jit._HELPERS_STAMP) == 64
