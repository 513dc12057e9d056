"""word2vec: training pairs and contexts, negative sampling, the loss against NumPy, gradients, and
embeddings that separate two topics on a synthetic corpus; cosine neighbours."""
from __future__ import annotations

import numpy as np
import pytest

import neurona
from neurona.text import CBOW, SkipGram, Vocab, Word2Vec, cosine_similarity, most_similar


def _logsig(x):
    return -np.log1p(np.exp(-x))


def test_skipgram_loss_matches_numpy_and_gradchecks():
    neurona.manual_seed(0)
    m = SkipGram(7, 3)
    rng = np.random.default_rng(0)
    for p in m.parameters():
        p.array[...] = rng.standard_normal(p.shape).astype(np.float32)
    c, o, neg = np.array([1, 2, 3]), np.array([2, 4, 1]), np.array([[5, 6], [1, 3], [2, 2]])
    loss = m(c, o, neg)
    V, U = m.in_embed.weight.array.astype(np.float64), m.out_embed.weight.array.astype(np.float64)
    v = V[c]
    ref = -(_logsig((v * U[o]).sum(1)) + _logsig(-np.einsum("nkd,nd->nk", U[neg], v)).sum(1)).mean()
    assert loss.dtype == np.float32
    np.testing.assert_allclose(loss.item(), ref, rtol=1e-5)

    def fn(win, wout):
        m.in_embed._parameters["weight"], m.out_embed._parameters["weight"] = win, wout
        return m(c, o, neg)

    assert neurona.gradcheck(fn, neurona.from_numpy(V.copy()), neurona.from_numpy(U.copy()))


def test_cbow_averages_the_context_ignoring_padding():
    m = CBOW(6, 2, padding_idx=0)
    rng = np.random.default_rng(1)
    for p in m.parameters():
        p.array[...] = rng.standard_normal(p.shape).astype(np.float32)
    ctx = np.array([[1, 2, 0, 0], [3, 0, 0, 0]])
    center, neg = np.array([4, 5]), np.array([[1], [2]])
    loss = m(ctx, center, neg)
    V, U = m.in_embed.weight.array.astype(np.float64), m.out_embed.weight.array.astype(np.float64)
    v = np.stack([(V[1] + V[2]) / 2, V[3]])
    ref = -(_logsig((v * U[center]).sum(1)) + _logsig(-(v * U[neg[:, 0]]).sum(1))).mean()
    np.testing.assert_allclose(loss.item(), ref, rtol=1e-5)
    loss.backward()
    assert np.all(m.in_embed.weight.grad.array[0] == 0)             # padding learns nothing


def test_pairs_and_contexts_stay_in_window_and_sentence():
    w2v = Word2Vec(window=2, min_count=1, subsample=0, seed=0)
    sents = [["a", "b", "c", "d"], ["e", "f"]]
    w2v.build_vocab(sents)
    ids, sid = w2v._encode(sents)
    c, x = w2v.pairs(ids, sid)
    assert np.all(np.abs(c - x) <= 2) and np.all(sid[c] == sid[x]) and np.all(c != x)
    w1 = Word2Vec(window=1, min_count=1, subsample=0)
    w1.build_vocab(sents)
    c1, x1 = w1.pairs(ids, sid)
    assert sorted(zip(c1.tolist(), x1.tolist())) == [(0, 1), (1, 0), (1, 2), (2, 1), (2, 3), (3, 2), (4, 5), (5, 4)]
    ctx = w2v.contexts(ids, sid)
    assert ctx.shape == (6, 4)
    assert set(ctx[4].tolist()) <= {0, ids[5]}                     # "e" sees only "f" (and padding)


def test_negative_samples_follow_the_three_quarter_power():
    w2v = Word2Vec(negative=4, min_count=1, seed=0)
    w2v.build_vocab([["a"] * 80 + ["b"] * 15 + ["c"] * 5])
    neg = w2v._negatives(40000).ravel()
    assert neg.min() >= 1                                          # never the padding id
    counts = np.array([80, 15, 5]) ** 0.75
    np.testing.assert_allclose(np.bincount(neg, minlength=4)[1:] / neg.size, counts / counts.sum(), atol=0.01)


@pytest.mark.parametrize("mode", ["skipgram", "cbow"])
def test_word2vec_separates_two_topics(mode):
    rng = np.random.default_rng(0)
    A = [f"a{i}" for i in range(8)]
    B = [f"b{i}" for i in range(8)]
    sents = [list(rng.choice(A if k % 2 else B, 12)) for k in range(300)]
    w2v = Word2Vec(mode=mode, embedding_dim=16, window=3, negative=4, min_count=1, subsample=0, seed=0)
    hist = w2v.fit(sents, epochs=3, batch_size=256, lr=0.02, verbose=False)
    assert hist[-1] < hist[0]
    near = [w for w, _ in w2v.most_similar("a0", 5)]
    assert all(w.startswith("a") for w in near)
    assert w2v.similarity("a1", "a2") > w2v.similarity("a1", "b2")
    assert w2v.vectors.shape == (17, 16) and w2v["b3"].shape == (16,)


def test_cosine_and_most_similar():
    a = np.array([[1.0, 0.0], [0.0, 2.0]])
    np.testing.assert_allclose(cosine_similarity(a, np.array([[3.0, 3.0]])), [[2 ** -0.5], [2 ** -0.5]])
    vocab = Vocab(["<pad>", "x", "y", "z"], unk=None)
    vecs = np.array([[0, 0], [1, 0], [0.9, 0.1], [0, 1.0]])
    assert [w for w, _ in most_similar(vecs, vocab, "x", 2)] == ["y", "z"]
    assert most_similar(vecs, vocab, np.array([0.0, 1.0]), 1)[0][0] == "z"
    with pytest.raises(KeyError, match="not in the vocabulary"):
        most_similar(vecs, vocab, "w")
