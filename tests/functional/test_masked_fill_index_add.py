"""masked_fill and index_add (neurona/functional/shape.py): gradcheck, float32, and PyTorch's values."""
from __future__ import annotations

import os

import numpy as np
import pytest

import neurona as nr
from tests.opcheck import check_op

REF = np.load(os.path.join(os.path.dirname(__file__), "..", "fixtures", "inplace_reference.npz"), allow_pickle=False)
MASK = np.array([[True, False, False, True], [False, False, True, False], [True, True, False, False]])


@pytest.mark.parametrize("name, fn, ref, shapes", [
    ("masked_fill_number", lambda x: nr.masked_fill(x, nr.tensor(MASK), -0.5),
     lambda a: np.where(MASK, -0.5, a), [(3, 4)]),
    ("masked_fill_broadcast_mask", lambda x: x.masked_fill(nr.tensor(MASK[0]), 2.0),
     lambda a: np.where(MASK[0], 2.0, a), [(3, 4)]),
    ("masked_fill_tensor_value", lambda x, v: nr.masked_fill(x, nr.tensor(MASK), v.sum()),
     lambda a, v: np.where(MASK, v.sum(), a), [(3, 4), (2,)]),
    ("index_add_dim0", lambda x, s: nr.index_add(x, 0, nr.tensor([2, 0, 2]), s),
     lambda a, s: a + np.stack([s[1], 0 * s[0], s[0] + s[2]]), [(3, 4), (3, 4)]),
    ("index_add_dim1_alpha", lambda x, s: x.index_add(1, nr.tensor([3, 1]), s, alpha=-2.0),
     lambda a, s: a + np.stack([0 * s[:, 0], -2 * s[:, 1], 0 * s[:, 0], -2 * s[:, 0]], 1), [(3, 4), (3, 2)]),
    ("index_add_3d_neg_dim", lambda x, s: nr.index_add(x, -1, nr.tensor([0, 0]), s),
     lambda a, s: a + np.concatenate([s.sum(-1, keepdims=True), np.zeros(a.shape[:-1] + (2,))], -1),
     [(2, 2, 3), (2, 2, 2)]),
])
def test_op(name, fn, ref, shapes):
    check_op(fn, ref, shapes)


@pytest.mark.parametrize("tag", ["full", "broadcast"])
def test_masked_fill_matches_pytorch(tag):
    g = lambda k: REF[f"masked_fill/{tag}/{k}"]  # noqa: E731
    x = nr.tensor(g("x"), dtype=nr.float64, requires_grad=True)
    v = nr.tensor(0.7, dtype=nr.float64, requires_grad=True) if tag == "broadcast" else 0.7
    y = x.masked_fill(nr.tensor(g("mask")), v)
    y.backward(nr.tensor(g("gy"), dtype=nr.float64))
    np.testing.assert_allclose(y.array, g("y"), rtol=1e-12)
    np.testing.assert_allclose(x.grad.array, g("gx"), rtol=1e-12)
    if tag == "broadcast":
        np.testing.assert_allclose(v.grad.array, g("gv"), rtol=1e-12)


@pytest.mark.parametrize("tag, dim, alpha", [("dim0", 0, 1.5), ("dim1", 1, -1.0)])
def test_index_add_matches_pytorch(tag, dim, alpha):
    g = lambda k: REF[f"index_add/{tag}/{k}"]  # noqa: E731
    x = nr.tensor(g("x"), dtype=nr.float64, requires_grad=True)
    s = nr.tensor(g("source"), dtype=nr.float64, requires_grad=True)
    y = nr.index_add(x, dim, nr.tensor(g("index")), s, alpha=alpha)
    y.backward(nr.tensor(g("gy"), dtype=nr.float64))
    np.testing.assert_allclose(y.array, g("y"), rtol=1e-12)
    np.testing.assert_allclose(x.grad.array, g("gx"), rtol=1e-12)
    np.testing.assert_allclose(s.grad.array, g("gsource"), rtol=1e-12)


def test_out_of_place_ops_leave_the_input_alone():
    x = nr.ones(2, 3)
    y = x.masked_fill(nr.tensor([True, False, True]), 0.0)
    z = x.index_add(0, nr.tensor([1]), nr.ones(1, 3))
    np.testing.assert_array_equal(x.array, np.ones((2, 3)))
    np.testing.assert_array_equal(y.array, [[0, 1, 0], [0, 1, 0]])
    np.testing.assert_array_equal(z.array, [[1, 1, 1], [2, 2, 2]])
    assert y.dtype == z.dtype == np.float32
    i = nr.arange(4).masked_fill(nr.tensor([True, False, False, True]), 9)
    assert i.dtype == np.int64 and i.tolist() == [9, 1, 2, 9]


def test_errors_name_the_op_and_shapes():
    x = nr.zeros(2, 3)
    with pytest.raises(TypeError, match="masked_fill: the mask must be a boolean tensor, got float32"):
        x.masked_fill(nr.ones(2, 3), 1.0)
    with pytest.raises(ValueError, match=r"masked_fill: a mask of shape \(2,\) does not broadcast to the tensor's "
                                         r"shape \(2, 3\)"):
        x.masked_fill(nr.tensor([True, False]), 1.0)
    with pytest.raises(ValueError, match="0-dimensional tensor"):
        x.masked_fill(nr.tensor([[True, False, True]]), nr.ones(2))
    with pytest.raises(ValueError, match=r"index_add: source of shape \(2, 2\) does not fit: adding 2 slices along "
                                         r"dimension 0 of a tensor of shape \(2, 3\) needs shape \(2, 3\)"):
        x.index_add(0, nr.tensor([0, 1]), nr.ones(2, 2))
    with pytest.raises(TypeError, match="index_add: index must be a 1-D integer tensor"):
        x.index_add(0, nr.tensor([0.0]), nr.ones(1, 3))
    with pytest.raises(IndexError, match="index_add: index out of range for dimension 1 of size 3"):
        x.index_add(1, nr.tensor([3]), nr.ones(2, 1))
    with pytest.raises(ValueError, match="masked_fill_: a mask of shape"):
        x.masked_fill_(nr.tensor([True, False]), 0.0)
