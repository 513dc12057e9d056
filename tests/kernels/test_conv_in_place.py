"""The channels-last convolution read in place by neurona's product kernel (stride 1, float32).

With ``neurona.kernels.gemm`` in force, a stride-1 convolution with 24 or more input and output
channels makes no patches: the micro-kernel reads each kernel offset's values from the padded
input where they are (``_conv_rows``, or ``_conv_rows_whole`` for rows of a multiple of 14
pixels), and backward does the same for ∂L/∂x (the flipped kernel over the padded output
gradient) and ∂L/∂W (over the output's pixels only). These tests force the kernel on and compare
values and gradients with the reference op over the geometries whose bookkeeping differs.
"""
from __future__ import annotations

import numpy as np
import pytest

import neurona
from neurona import kernels, runtime
from neurona.functional import conv as C
from neurona.kernels import conv_channels_last as CL
from neurona.kernels import gemm
from tests.kernels.common import run_both

pytestmark = pytest.mark.skipif(not gemm._numba(), reason="the product kernel needs Numba")


@pytest.fixture
def gemm_on(monkeypatch):
    """neurona's product kernel in force, and the channels-last strategy for every shape."""
    monkeypatch.setattr(runtime._state, "gemm", "neurona")
    monkeypatch.setattr(kernels, "conv2d_strategy", lambda x, w, groups: "conv2d_channels_last")


GEOMETRIES = [
    # (n, c, h, w, o, kh, kw, padding, dilation)
    (2, 32, 9, 9, 32, 3, 3, 1, 1),        # grid tiles of 12, one block of segments
    (3, 32, 7, 10, 64, 3, 3, 1, 1),       # two 32-wide slivers of output channels
    (2, 40, 8, 8, 24, 3, 5, (0, 2), 1),   # a partial sliver; padding only across
    (2, 24, 12, 12, 32, 3, 3, 2, 2),      # dilation
    (1, 300, 5, 5, 40, 3, 3, 1, 1),       # segments in three blocks of packed weights
    (1, 32, 40, 41, 32, 3, 3, 1, 1),      # more than one block of output rows in the weight gradient
    (2, 32, 8, 8, 32, 3, 3, 3, 1),        # padding wider than the kernel's reach
    (2, 32, 8, 8, 32, 3, 3, 0, 1),        # no padding
    (2, 24, 9, 9, 32, 5, 5, 1, (2, 1)),   # 5x5, dilation along one axis
    (2, 32, 14, 14, 48, 3, 3, 1, 1),      # whole rows in tiles of 14
    (2, 24, 28, 28, 64, 3, 3, 1, 1),      # two tiles of 14 a row
    (2, 32, 14, 28, 32, 5, 5, 2, 1),
]


@pytest.mark.parametrize("geom", GEOMETRIES, ids=lambda g: "x".join(map(str, g[:7])))
def test_in_place_agrees_with_the_reference(gemm_on, rng, geom):
    n, c, h, w, o, kh, kw, padding, dilation = geom
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wt = (rng.standard_normal((o, c, kh, kw)) / np.sqrt(c * kh * kw)).astype(np.float32)
    out = run_both(lambda a, b: C.conv2d(a, b, padding=padding, dilation=dilation), [x, wt])
    for name, ref, got in zip(("y", "∂L/∂x", "∂L/∂W"), out["reference"], out["numba"]):
        assert got.dtype == np.float32 and got.shape == ref.shape
        # float32 sums of up to a few thousand terms, in another order than the BLAS's
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max(), err_msg=name)


def test_the_path_is_taken_only_where_it_applies(gemm_on, rng):
    def op(c, o, stride=1, dtype=np.float32):
        x = neurona.from_numpy(rng.standard_normal((2, c, 8, 8)).astype(dtype)).requires_grad_()
        w = neurona.from_numpy(rng.standard_normal((o, c, 3, 3)).astype(dtype)).requires_grad_()
        return C.conv2d(x, w, stride=stride, padding=1).grad_fn
    assert isinstance(op(32, 32), CL.Conv2d) and op(32, 32).implicit is not None
    assert op(32, 32, stride=2).implicit is None          # strided: patches
    assert op(16, 32).implicit is None                    # few input channels: patches
    assert op(32, 16).implicit is None                    # few output channels: patches
    assert op(32, 32, dtype=np.float64).implicit is None  # float64: NumPy's products


def test_input_in_nchw_memory_and_a_frozen_weight(gemm_on, rng):
    """An NCHW input (copied into the padded NHWC grid) and a weight that needs no gradient."""
    x = rng.standard_normal((2, 32, 10, 10)).astype(np.float32)
    w = rng.standard_normal((32, 32, 3, 3)).astype(np.float32) / 17
    for path in ("reference", "numba"):
        with runtime.use_kernels(path):
            xt = neurona.from_numpy(x.copy()).requires_grad_()
            y = C.conv2d(xt, neurona.from_numpy(w), padding=1)
            y.backward(neurona.from_numpy(np.cos(np.arange(y.array.size, dtype=np.float32)).reshape(y.shape)))
            if path == "reference":
                ref = (y.array.copy(), xt.grad.array.copy())
    np.testing.assert_allclose(y.array, ref[0], rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(xt.grad.array, ref[1], rtol=2e-5, atol=2e-6)


def test_two_live_graphs_keep_their_own_padded_inputs(gemm_on, rng):
    w = neurona.from_numpy(rng.standard_normal((32, 32, 3, 3)).astype(np.float32) / 17).requires_grad_()
    xs = [rng.standard_normal((2, 32, 6, 6)).astype(np.float32) for _ in range(2)]
    outs = [C.conv2d(neurona.from_numpy(x), w, padding=1) for x in xs]
    g = np.ones(outs[0].shape, np.float32)
    for y in outs:
        y.backward(g)
    total = np.zeros(w.shape, np.float32)
    for x in xs:
        with runtime.use_kernels("reference"):
            wt = neurona.from_numpy(w.array.copy()).requires_grad_()
            C.conv2d(neurona.from_numpy(x), wt, padding=1).backward(g)
        total += wt.grad.array
    np.testing.assert_allclose(w.grad.array, total, rtol=1e-4, atol=1e-4)


def test_no_grad_forward_hands_its_buffer_back(gemm_on, rng):
    x = rng.standard_normal((2, 32, 6, 6)).astype(np.float32)
    w = rng.standard_normal((32, 32, 3, 3)).astype(np.float32) / 17
    with neurona.no_grad():
        y = C.conv2d(neurona.from_numpy(x), neurona.from_numpy(w), padding=1)
        y2 = C.conv2d(neurona.from_numpy(x), neurona.from_numpy(w), padding=1)
    ref = C.conv2d_reference(x.astype(np.float64), w.astype(np.float64), None, 1, 1)
    np.testing.assert_allclose(y.array, ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(y.array, y2.array)
