"""Scaled dot-product attention and the masked softmax (neurona/functional/attention.py), and the
second-order recurrent step (neurona/functional/second_order.py).

Forward against plain NumPy, float64 gradcheck and float32 preservation (``check_op``) over masks,
causal attention, scales and grouped heads; the masked softmax against the composed
softmax(where(mask, x, −∞)) it replaces; dropout on the weights; the errors. PyTorch's values are
checked in tests/nn/test_attention_vs_pytorch.py.
"""
from __future__ import annotations

import doctest

import numpy as np
import pytest

import neurona
import neurona.nn.functional as F
from neurona.functional import attention as A
from neurona.functional import second_order
from tests.opcheck import check_op

NEG_INF = -np.inf


def np_attention(q, k, v, mask=None, scale=None):
    """Plain NumPy: softmax over the keys of q kᵀ·scale + mask (additive), rows with no key → 0."""
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = np.einsum("...le,...se->...ls", q, k) * scale
    if mask is not None:
        s = s + mask
    m = s.max(-1, keepdims=True)
    m = np.where(np.isneginf(m), 0, m)
    e = np.exp(s - m)
    tot = e.sum(-1, keepdims=True)
    w = e / np.where(tot > 0, tot, 1)
    return np.einsum("...ls,...sv->...lv", w, v)


def bool_to_additive(keep):
    return np.where(keep, 0.0, NEG_INF)


# --- masked softmax --------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape,dim", [((5,), -1), ((3, 4), -1), ((2, 3, 4), 1), ((2, 3, 4), 0)])
def test_masked_softmax_is_softmax_without_masks(shape, dim):
    def ref(a):
        e = np.exp(a - a.max(axis=dim, keepdims=True))
        return e / e.sum(axis=dim, keepdims=True)

    check_op(lambda x: A.masked_softmax(x, dim), ref, [shape])


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # the composed softmax's NaN rows
def test_masked_softmax_agrees_with_the_composed_softmax():
    """The op equals softmax(x + mask) wherever a row has a key left, and gives zeros (not NaN) elsewhere."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 6))
    keep = rng.random((3, 4, 6)) > 0.5
    keep[0, 1] = False                                   # a row with nothing to attend to
    keep[1, 2] = True
    add = bool_to_additive(keep)
    for dtype in (np.float64, np.float32):
        xt = neurona.from_numpy(x.astype(dtype)).requires_grad_()
        xc = neurona.from_numpy(x.astype(dtype)).requires_grad_()
        fused = A.masked_softmax(xt + neurona.from_numpy(add.astype(dtype)))
        composed = neurona.softmax(neurona.where(keep, xc, float("-inf")), -1)
        alive = keep.any(-1)
        np.testing.assert_allclose(fused.array[alive], composed.array[alive], rtol=1e-6, atol=1e-7)
        assert np.all(fused.array[~alive] == 0) and np.all(np.isnan(composed.array[~alive]))
        assert fused.dtype == dtype
        g = np.random.default_rng(2).standard_normal(x.shape)
        (fused * neurona.from_numpy(g.astype(dtype))).sum().backward()
        (neurona.where(alive[..., None], composed, 0.0) * neurona.from_numpy(g.astype(dtype))).sum().backward()
        np.testing.assert_allclose(xt.grad.array[alive], xc.grad.array[alive], rtol=1e-5, atol=1e-6)
        assert np.all(xt.grad.array[~alive] == 0) and xt.grad.dtype == dtype


def test_masked_softmax_gradcheck_with_a_mask():
    rng = np.random.default_rng(3)
    keep = rng.random((4, 5)) > 0.3
    keep[2] = False
    add = neurona.from_numpy(bool_to_additive(keep))
    x = neurona.from_numpy(rng.standard_normal((4, 5))).requires_grad_()
    assert neurona.gradcheck(lambda t: A.masked_softmax(t + add), x)


# --- scaled dot-product attention ------------------------------------------------------------------------


def test_sdpa_no_mask():
    check_op(lambda q, k, v: F.scaled_dot_product_attention(q, k, v), np_attention, [(2, 3, 4, 5), (2, 3, 6, 5),
                                                                                     (2, 3, 6, 7)])


def test_sdpa_3d_and_broadcast_batch():
    check_op(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, scale=0.7),
             lambda q, k, v: np_attention(q, k, v, scale=0.7), [(2, 3, 4, 5), (1, 3, 6, 5), (2, 1, 6, 2)])
    check_op(lambda q, k, v: F.scaled_dot_product_attention(q, k, v), np_attention, [(4, 3), (5, 3), (5, 2)])


def test_sdpa_bool_mask_broadcasts_and_zeroes_empty_rows():
    rng = np.random.default_rng(4)
    keep = rng.random((4, 6)) > 0.4
    keep[1] = False
    keep[0, 0] = True
    add = bool_to_additive(keep)
    check_op(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=keep),
             lambda q, k, v: np_attention(q, k, v, add), [(2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7)])
    q = neurona.randn(2, 4, 5)
    out = F.scaled_dot_product_attention(q, neurona.randn(2, 6, 5), neurona.randn(2, 6, 5), attn_mask=keep)
    assert np.all(out.array[:, 1] == 0)


def test_sdpa_float_mask_is_added_and_differentiable():
    rng = np.random.default_rng(5)
    m = rng.standard_normal((2, 1, 4, 6))
    m[0, 0, 1, :2] = NEG_INF
    check_op(lambda q, k, v, mask: F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
             lambda q, k, v, mask: np_attention(q, k, v, mask), [(2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7), m.shape],
             grad=False)
    qkv = [neurona.from_numpy(rng.standard_normal(s)).requires_grad_() for s in ((2, 3, 4, 5), (2, 3, 6, 5),
                                                                             (2, 3, 6, 7))]
    mt = neurona.from_numpy(np.where(np.isinf(m), -30.0, m)).requires_grad_()   # finite, for finite differences
    assert neurona.gradcheck(lambda q, k, v, mask: F.scaled_dot_product_attention(q, k, v, attn_mask=mask), *qkv, mt)


def test_sdpa_causal_equals_the_lower_triangular_mask():
    L, S = 4, 6
    tri = np.tril(np.ones((L, S), bool))
    check_op(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
             lambda q, k, v: np_attention(q, k, v, bool_to_additive(tri)), [(2, L, 3), (2, S, 3), (2, S, 2)])
    assert np.array_equal(A.causal_mask(3), [[1, 0, 0], [1, 1, 0], [1, 1, 1]])
    f = A.causal_mask(2, dtype=np.float32)
    assert f.dtype == np.float32 and f[0, 1] == NEG_INF and f[1, 0] == 0


def test_sdpa_grouped_query_heads_share_keys():
    def ref(q, k, v):
        return np_attention(q, np.repeat(k, 2, axis=1), np.repeat(v, 2, axis=1))

    check_op(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, enable_gqa=True), ref,
             [(2, 4, 3, 5), (2, 2, 6, 5), (2, 2, 6, 5)])


def test_sdpa_dropout_drops_weights_and_rescales_the_rest():
    rng = np.random.default_rng(6)
    q, k, v = (neurona.from_numpy(rng.standard_normal(s)) for s in ((8, 16, 4), (8, 16, 4), (8, 16, 4)))
    _, clean = A.scaled_dot_product_attention_weights(q, k, v)
    _, dropped = A.scaled_dot_product_attention_weights(q, k, v, dropout_p=0.25, generator=np.random.default_rng(0))
    zero = dropped.array == 0
    assert 0.15 < zero.mean() < 0.35
    np.testing.assert_allclose(dropped.array[~zero], clean.array[~zero] / 0.75, rtol=1e-6)
    neurona.manual_seed(0)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    neurona.manual_seed(0)
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    assert np.array_equal(a.array, b.array)
    assert not np.allclose(a.array, F.scaled_dot_product_attention(q, k, v).array)


def test_sdpa_errors_name_the_problem():
    q = neurona.randn(2, 4, 5)
    with pytest.raises(ValueError, match="same feature size"):
        F.scaled_dot_product_attention(q, neurona.randn(2, 6, 3), neurona.randn(2, 6, 3))
    with pytest.raises(ValueError, match="same length"):
        F.scaled_dot_product_attention(q, neurona.randn(2, 6, 5), neurona.randn(2, 7, 5))
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=np.ones((4, 4), bool), is_causal=True)
    with pytest.raises(ValueError, match=r"attn_mask of shape \(3, 4\)"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=np.ones((3, 4), bool))
    with pytest.raises(TypeError, match="boolean or floating"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=np.ones((4, 4), np.int64))
    with pytest.raises(TypeError, match="one dtype"):
        F.scaled_dot_product_attention(q, q.double(), q)
    with pytest.raises(ValueError, match="multiple"):
        F.scaled_dot_product_attention(neurona.randn(1, 3, 2, 4), neurona.randn(1, 2, 2, 4), neurona.randn(1, 2, 2, 4),
                                       enable_gqa=True)


# --- second-order step -------------------------------------------------------------------------------------


def np_second_order(x, h, w, b):
    return np.tanh(np.einsum("ijk,bj,bk->bi", w, x, h) + b)


def test_second_order_cell_op():
    check_op(lambda x, h, w, b: second_order.second_order_rnn_cell(x, h, w, b), np_second_order,
             [(3, 2), (3, 4), (4, 2, 4), (4,)])
    check_op(lambda x, h, w: second_order.second_order_rnn_cell(x, h, w, nonlinearity="sigmoid"),
             lambda x, h, w: 1 / (1 + np.exp(-np.einsum("ijk,bj,bk->bi", w, x, h))), [(2, 3), (2, 2), (2, 3, 2)])


def test_second_order_cell_errors():
    with pytest.raises(ValueError, match="hidden, input, hidden"):
        second_order.second_order_rnn_cell(neurona.randn(2, 3), neurona.randn(2, 4), neurona.randn(4, 3, 5))
    with pytest.raises(ValueError, match=r"expected input of shape \(batch, 3\)"):
        second_order.second_order_rnn_cell(neurona.randn(2, 2), neurona.randn(2, 4), neurona.randn(4, 3, 4))
    with pytest.raises(ValueError, match="nonlinearity"):
        second_order.second_order_rnn_cell(neurona.randn(2, 3), neurona.randn(2, 4), neurona.randn(4, 3, 4),
                                           nonlinearity="cube")


def test_docstring_examples_run():
    for mod in (A, second_order):
        assert doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0
