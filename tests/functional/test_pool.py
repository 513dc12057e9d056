"""Pooling, channel dropout and upsampling: PyTorch values, finite differences, float32, memory order, errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import neurona
from neurona.functional import pool as P
from tests.opcheck import check_op

REF = np.load(Path(__file__).parents[1] / "fixtures" / "conv_reference.npz", allow_pickle=False)
OPS = {"max_pool2d": P.max_pool2d, "avg_pool2d": P.avg_pool2d, "adaptive_avg_pool2d": P.adaptive_avg_pool2d,
       "adaptive_max_pool2d": P.adaptive_max_pool2d, "interpolate": P.interpolate}
CASES = sorted({k.split(".")[0] for k in REF.files if k.endswith(".spec") and k.split(".")[0].rsplit("_", 1)[0] in OPS}
               | {"max_pool2d_ties"})


def _kw(spec):
    return {k: (tuple(v) if isinstance(v, list) else v) for k, v in spec["kwargs"].items()}


@pytest.mark.parametrize("case", CASES)
def test_matches_pytorch(case):
    spec = json.loads(str(REF[f"{case}.spec"]))
    x = neurona.from_numpy(REF[f"{case}.x"].copy()).requires_grad_()
    out = OPS[spec["op"]](x, **_kw(spec))
    np.testing.assert_allclose(out.array, REF[f"{case}.out"], rtol=1e-12, atol=1e-12)
    out.backward(REF[f"{case}.r"])
    np.testing.assert_allclose(x.grad.array, REF[f"{case}.grad_x"], rtol=1e-12, atol=1e-12)
    if f"{case}.indices" in REF.files:
        _, idx = OPS[spec["op"]](neurona.from_numpy(REF[f"{case}.x"]), return_indices=True, **_kw(spec))
        np.testing.assert_array_equal(idx.array, REF[f"{case}.indices"])


def _ref_max(x, k, s, p, d=(1, 1)):
    """Max pooling straight from the definition, one output at a time."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])), constant_values=-np.inf)
    oh = (h + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (w + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    y = np.empty((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            win = xp[:, :, i * s[0]:i * s[0] + d[0] * (k[0] - 1) + 1:d[0], j * s[1]:j * s[1] + d[1] * (k[1] - 1) + 1:d[1]]
            y[:, :, i, j] = win.max(axis=(2, 3))
    return y


def _ref_avg(x, k, s, p):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    oh, ow = (h + 2 * p[0] - k[0]) // s[0] + 1, (w + 2 * p[1] - k[1]) // s[1] + 1
    y = np.empty((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            y[:, :, i, j] = xp[:, :, i * s[0]:i * s[0] + k[0], j * s[1]:j * s[1] + k[1]].mean(axis=(2, 3))
    return y


POOL_GRID = [((2, 2, 6, 6), (2, 2), (2, 2), (0, 0), (1, 1)), ((1, 3, 7, 5), (2, 2), (2, 2), (0, 0), (1, 1)),
             ((1, 2, 7, 6), (3, 3), (2, 2), (1, 1), (1, 1)), ((2, 1, 6, 7), (3, 2), (1, 2), (1, 0), (1, 1)),
             ((1, 2, 8, 7), (2, 3), (1, 1), (1, 1), (2, 2))]


@pytest.mark.parametrize("xs, k, s, p, d", POOL_GRID)
def test_max_pool_gradcheck_reference_float32(xs, k, s, p, d):
    check_op(lambda x: P.max_pool2d(x, k, s, p, d), lambda x: _ref_max(x, k, s, p, d), [xs], "distinct")


@pytest.mark.parametrize("xs, k, s, p, d", [g for g in POOL_GRID if g[4] == (1, 1)])
def test_avg_pool_gradcheck_reference_float32(xs, k, s, p, d):
    check_op(lambda x: P.avg_pool2d(x, k, s, p), lambda x: _ref_avg(x, k, s, p), [xs])


def test_adaptive_and_interpolate_gradcheck_float32():
    def ref_global(x):
        return x.mean(axis=(2, 3), keepdims=True)

    check_op(lambda x: P.adaptive_avg_pool2d(x, 1), ref_global, [(2, 3, 5, 4)])
    check_op(lambda x: P.adaptive_avg_pool2d(x, (2, 3)), lambda x: np.stack(
        [np.stack([x[:, :, a:b, c:e].mean(axis=(2, 3)) for c, e in ((0, 2), (1, 3), (2, 4))], -1)
         for a, b in ((0, 3), (2, 5))], -2), [(2, 2, 5, 4)])
    check_op(lambda x: P.interpolate(x, scale_factor=2), lambda x: x.repeat(2, axis=2).repeat(2, axis=3),
             [(1, 2, 3, 4)])
    check_op(lambda x: P.global_avg_pool2d(x), lambda x: x.mean(axis=(2, 3)), [(2, 3, 4, 4)])


@pytest.mark.parametrize("memory", [(0, 2, 3, 1), (1, 2, 3, 0)])
@pytest.mark.parametrize("op", ["max", "avg"])
def test_pooling_keeps_the_memory_order(memory, op, rng):
    """Pooling an NHWC- or CHWN-stored map gives the same values, stored in the same order (no re-layout)."""
    x = rng.standard_normal((4, 3, 8, 6))
    stored = np.ascontiguousarray(x.transpose(memory))
    view = stored.transpose(tuple(int(i) for i in np.argsort(memory)))
    fn = P.max_pool2d if op == "max" else P.avg_pool2d
    t = neurona.from_numpy(view).requires_grad_()
    y = fn(t, 2)
    np.testing.assert_allclose(y.array, fn(neurona.from_numpy(x), 2).array)
    assert y.array.transpose(memory).flags.c_contiguous
    y.backward(np.ones(y.shape))
    assert t.grad.array.transpose(memory).flags.c_contiguous or t.grad.array.flags.c_contiguous


def test_max_pool_routes_ties_to_the_first_maximum():
    x = neurona.zeros(1, 1, 2, 2, dtype=neurona.float64, requires_grad=True)
    P.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.array[0, 0], [[1, 0], [0, 0]])


def test_unbatched_input_and_1d():
    x = neurona.randn(3, 8, 8)
    assert P.max_pool2d(x, 2).shape == (3, 4, 4)
    assert P.avg_pool2d(x, 2).shape == (3, 4, 4)
    y = neurona.from_numpy(np.arange(12.0).reshape(1, 2, 6))
    np.testing.assert_array_equal(P.max_pool1d(y, 2).array, [[[1, 3, 5], [7, 9, 11]]])
    np.testing.assert_array_equal(P.avg_pool1d(y, 3).array, [[[1, 4], [7, 10]]])


@pytest.mark.parametrize("call, message", [
    (lambda: P.max_pool2d(neurona.zeros(1, 1, 4, 4), 2, padding=2), "at most half"),
    (lambda: P.max_pool2d(neurona.zeros(1, 1, 2, 2), 3), "too small"),
    (lambda: P.max_pool2d(neurona.zeros(4, 4), 2), "4-D input"),
    (lambda: P.avg_pool2d(neurona.zeros(1, 1, 4, 4), 2, divisor_override=0), "positive"),
    (lambda: P.adaptive_avg_pool2d(neurona.zeros(1, 1, 4, 4), 0), "positive"),
    (lambda: P.interpolate(neurona.zeros(1, 1, 4, 4), size=2, scale_factor=2), "exactly one"),
    (lambda: P.interpolate(neurona.zeros(1, 1, 4, 4), size=2, mode="cubic"), "mode"),
])
def test_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_dropout2d_drops_whole_channels(rng):
    neurona.manual_seed(0)
    x = neurona.ones(64, 32, 3, 3, requires_grad=True)
    y = P.dropout2d(x, 0.25)
    per_map = y.array.reshape(64, 32, 9)
    assert np.all((per_map == 0).all(-1) | np.isclose(per_map, 1 / 0.75).all(-1))  # a map is all kept or all dropped
    dropped = (per_map == 0).all(-1).mean()
    assert 0.18 < dropped < 0.32
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.array, y.array)  # ∂y/∂x is the mask
    assert P.dropout2d(x, 0.5, training=False) is x
    assert y.dtype == np.float32
    with pytest.raises(ValueError, match="between 0 and 1"):
        P.dropout2d(x, 1.5)


def test_pool_output_size_ceil_mode_rule():
    assert P.pool_output_size(7, 2, 2, 0) == 3
    assert P.pool_output_size(7, 2, 2, 0, ceil_mode=True) == 4
    assert P.pool_output_size(7, 2, 2, 1, ceil_mode=True) == 4  # a window starting in the right padding is dropped
