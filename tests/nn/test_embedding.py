"""Embedding, EmbeddingBag and one_hot: PyTorch values (rnn_reference.npz), the one-hot-product
identity, gradcheck, padding rows, float32, options and errors."""
from __future__ import annotations

import os

import numpy as np
import pytest

import neurona
from neurona import nn
from neurona.functional.embedding import embedding, embedding_bag, one_hot, scatter_rows

REF = np.load(os.path.join(os.path.dirname(__file__), "..", "fixtures", "rnn_reference.npz"), allow_pickle=False)


def test_embedding_matches_pytorch_with_padding_idx():
    emb = nn.Embedding(7, 3, padding_idx=0, dtype=np.float64)
    emb.weight.array[...] = REF["emb_w"]
    y = emb(neurona.tensor(REF["emb_idx"]))
    (y * neurona.from_numpy(REF["emb_gy"])).sum().backward()
    np.testing.assert_allclose(y.array, REF["emb_y"], rtol=1e-12)
    np.testing.assert_allclose(emb.weight.grad.array, REF["emb_dw"], rtol=1e-12, atol=1e-14)
    assert np.all(emb.weight.grad.array[0] == 0)


def test_embedding_is_the_one_hot_product_and_gradchecks():
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 6, (4, 5))
    w = rng.standard_normal((6, 3))
    y = embedding(neurona.tensor(idx), neurona.from_numpy(w))
    np.testing.assert_allclose(y.array, one_hot(idx, 6).array @ w, rtol=1e-12)
    assert neurona.gradcheck(lambda w: embedding(idx, w), neurona.from_numpy(w))
    # padding_idx and scale_grad_by_freq change the gradient on purpose (a frozen row, a rescaling),
    # so they are checked against PyTorch and by value instead of by finite differences


def test_embedding_float32_and_initialization():
    neurona.manual_seed(0)
    emb = nn.Embedding(1000, 16, padding_idx=3)
    assert emb.weight.dtype == np.float32
    assert np.all(emb.weight.array[3] == 0)
    assert abs(emb.weight.array.std() - 1) < 0.05           # N(0, 1)
    y = emb(neurona.tensor([[3, 4], [5, 999]]))
    assert y.dtype == np.float32 and y.shape == (2, 2, 16)
    y.sum().backward()
    assert emb.weight.grad.dtype == np.float32
    np.testing.assert_array_equal(emb.weight.grad.array[4], np.ones(16, np.float32))


def test_scatter_rows_equals_add_at():
    rng = np.random.default_rng(1)
    idx = rng.integers(0, 50, 400)
    v = rng.standard_normal((400, 3))
    ref = np.zeros((50, 3))
    np.add.at(ref, idx, v)
    np.testing.assert_allclose(scatter_rows(50, idx, v), ref, rtol=1e-12, atol=1e-12)
    assert scatter_rows(4, np.zeros(0, np.int64), np.zeros((0, 3))).shape == (4, 3)


def test_scale_grad_by_freq_and_max_norm():
    emb = nn.Embedding(4, 2, scale_grad_by_freq=True)
    emb(neurona.tensor([1, 1, 1, 2])).sum().backward()
    np.testing.assert_allclose(emb.weight.grad.array[1], [1, 1])    # three lookups, divided by 3
    capped = nn.Embedding(4, 2, max_norm=1.0)
    capped.weight.array[...] = [[3, 4], [0.1, 0], [0, 0], [0, 0]]
    y = capped(neurona.tensor([0, 1]))
    np.testing.assert_allclose(np.linalg.norm(y.array, axis=1), [1.0, 0.1], rtol=1e-5)


def test_from_pretrained_is_frozen_by_default():
    w = np.arange(12, dtype=np.float32).reshape(4, 3)
    emb = nn.Embedding.from_pretrained(neurona.from_numpy(w))
    assert not emb.weight.requires_grad
    np.testing.assert_array_equal(emb(neurona.tensor([2])).array, w[2:3])
    assert nn.Embedding.from_pretrained(w, freeze=False).weight.requires_grad
    bag = nn.EmbeddingBag.from_pretrained(w, mode="sum")
    np.testing.assert_array_equal(bag(neurona.tensor([[0, 1]])).array, [w[0] + w[1]])


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_matches_pytorch(mode):
    bag = nn.EmbeddingBag(10, 4, mode=mode, dtype=np.float64)
    bag.weight.array[...] = REF["bag_w"]
    y = bag(neurona.tensor(REF["bag_input"]), neurona.tensor(REF["bag_offsets"]))
    (y * neurona.from_numpy(REF[f"bag_{mode}_gy"])).sum().backward()
    np.testing.assert_allclose(y.array, REF[f"bag_{mode}_y"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(bag.weight.grad.array, REF[f"bag_{mode}_dw"], rtol=1e-12, atol=1e-14)


def test_embedding_bag_per_sample_weights_match_pytorch():
    w = neurona.from_numpy(REF["bag_w"].copy()).requires_grad_()
    psw = neurona.from_numpy(REF["bagw_psw"].copy()).requires_grad_()
    y = embedding_bag(REF["bag_input"], w, REF["bag_offsets"], mode="sum", per_sample_weights=psw)
    (y * neurona.from_numpy(REF["bagw_gy"])).sum().backward()
    np.testing.assert_allclose(y.array, REF["bagw_y"], rtol=1e-12)
    np.testing.assert_allclose(w.grad.array, REF["bagw_dw"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(psw.grad.array, REF["bagw_dpsw"], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_gradcheck_and_2d_input(mode):
    rng = np.random.default_rng(2)
    w = rng.standard_normal((8, 3))
    rows = rng.integers(0, 8, (4, 3))
    assert neurona.gradcheck(lambda w: embedding_bag(rows, w, mode=mode), neurona.from_numpy(w))
    flat = embedding_bag(rows.reshape(-1), neurona.from_numpy(w), np.arange(0, 12, 3), mode=mode)
    np.testing.assert_allclose(embedding_bag(rows, neurona.from_numpy(w), mode=mode).array, flat.array)
    expect = {"sum": w[rows].sum(1), "mean": w[rows].mean(1), "max": w[rows].max(1)}[mode]
    np.testing.assert_allclose(flat.array, expect, rtol=1e-12)


def test_embedding_bag_padding_idx_and_last_offset():
    w = np.arange(15, dtype=np.float32).reshape(5, 3)
    bag = nn.EmbeddingBag.from_pretrained(w, freeze=False, mode="mean", padding_idx=0, include_last_offset=True)
    y = bag(neurona.tensor([0, 1, 3, 0, 0]), neurona.tensor([0, 3, 5]))
    np.testing.assert_allclose(y.array, [(w[1] + w[3]) / 2, np.zeros(3)])   # padding left out of bag and count
    y.sum().backward()
    assert np.all(bag.weight.grad.array[0] == 0)
    with pytest.raises(ValueError, match="last offset must equal the input length 5"):
        bag(neurona.tensor([0, 1, 3, 0, 0]), neurona.tensor([0, 3]))


def test_embedding_bag_float32():
    bag = nn.EmbeddingBag(20, 5, mode="sum")
    y = bag(neurona.tensor([[1, 2, 3], [4, 5, 6]]))
    assert y.dtype == np.float32
    y.sum().backward()
    assert bag.weight.grad.dtype == np.float32


def test_pytorch_positional_signatures():
    """Arguments given by position in PyTorch's order land where PyTorch puts them (sparse included)."""
    emb = nn.Embedding(10, 3, 0, None, 2.0, True, True)
    assert emb.padding_idx == 0 and emb.scale_grad_by_freq and emb.sparse
    emb(neurona.tensor([1, 1, 2])).sum().backward()
    assert emb.weight.grad.shape == (10, 3)                      # dense, rows not looked up are 0
    np.testing.assert_allclose(emb.weight.grad.array[1], [1, 1, 1])
    bag = nn.EmbeddingBag(10, 3, None, 2.0, False, "sum", True, None, True, 0)
    assert bag.mode == "sum" and bag.sparse and bag.include_last_offset and bag.padding_idx == 0
    w = np.ones((4, 2), np.float32)
    assert nn.Embedding.from_pretrained(w, True, None, None, 2.0, False, True).sparse
    assert nn.EmbeddingBag.from_pretrained(w, True, None, 2.0, "max", True).mode == "max"


def test_one_hot():
    oh = one_hot(neurona.tensor([0, 2, 1]), 4)
    assert oh.dtype == np.int64
    np.testing.assert_array_equal(oh.array, np.eye(4, dtype=np.int64)[[0, 2, 1]])
    assert one_hot(np.array([[1], [3]])).shape == (2, 1, 4)
    assert one_hot([1], 3, dtype=np.float32).dtype == np.float32
    with pytest.raises(ValueError, match="out of range for num_classes=2"):
        one_hot([2], 2)


def test_errors():
    emb = nn.Embedding(5, 2)
    with pytest.raises(IndexError, match="embedding: index 5 is out of range for a table of 5 rows"):
        emb(neurona.tensor([1, 5]))
    with pytest.raises(TypeError, match="indices must be integers"):
        emb(neurona.tensor([1.0]))
    with pytest.raises(ValueError, match="padding_idx 7 is out of range"):
        nn.Embedding(5, 2, padding_idx=7)
    with pytest.raises(ValueError, match="needs offsets"):
        nn.EmbeddingBag(5, 2)(neurona.tensor([1, 2]))
    with pytest.raises(ValueError, match="per_sample_weights work with mode='sum' only"):
        embedding_bag([[1]], neurona.zeros(5, 2), per_sample_weights=neurona.ones(1, 1))
    with pytest.raises(ValueError, match="mode must be"):
        nn.EmbeddingBag(5, 2, mode="median")


def test_nn_functional_has_the_embedding_functions():
    """PyTorch users reach for F.one_hot, F.embedding and F.embedding_bag."""
    import neurona.nn.functional as F
    from neurona.functional import embedding as E

    assert F.one_hot is E.one_hot and F.embedding is E.embedding and F.embedding_bag is E.embedding_bag
    np.testing.assert_array_equal(F.one_hot(neurona.tensor([0, 2]), 3).array, [[1, 0, 0], [0, 0, 1]])
