"""Tokenizers, Vocab, padding, stream batching and the length-bucketing loader."""
from __future__ import annotations

import numpy as np
import pytest

from neurona.text import BucketLoader, Vocab, batchify, char_tokenize, pad_sequences, word_tokenize


def test_tokenizers():
    assert char_tokenize("Año") == ["A", "ñ", "o"]
    assert char_tokenize("Año", lower=True) == ["a", "ñ", "o"]
    assert word_tokenize("Don't PANIC -- it's 42!") == ["don't", "panic", "it's", "42"]
    assert word_tokenize("¿Qué tal?", punctuation=True) == ["¿", "qué", "tal", "?"]
    assert word_tokenize("Über café", lower=False) == ["Über", "café"]


def test_vocab_build_order_min_freq_and_max_size():
    v = Vocab.build([["b", "a", "b"], ["c", "b", "a", "d"]], min_freq=1)
    assert v.itos[:2] == ["<pad>", "<unk>"] and v.pad_index == 0 and v.unk_index == 1
    assert v.itos[2:] == ["b", "a", "c", "d"]                     # by frequency, ties in first-seen order
    assert Vocab.build([["b", "a", "b"]], min_freq=2).itos == ["<pad>", "<unk>", "b"]
    assert len(Vocab.build([list("abcdef")], max_size=4)) == 4
    assert v.encode(["a", "zz"]) == [3, 1] and v.decode([2, 3]) == ["b", "a"]
    assert v.encode(["a", "zz"], skip_unknown=True) == [3]
    assert v["c"] == 4 and "d" in v and "q" not in v
    chars = Vocab.build(["hola", "hello"])                          # strings count their characters
    assert "h" in chars and "o" in chars


def test_vocab_without_unk_and_round_trip():
    v = Vocab.build([["x", "y"]], specials=["<pad>"])
    with pytest.raises(KeyError, match="not in the vocabulary"):
        v.encode(["z"])
    w = Vocab.from_dict(v.to_dict())
    assert w.itos == v.itos and w.unk is None and w.pad_index == 0
    with pytest.raises(ValueError, match="unique"):
        Vocab(["a", "a"])


def test_pad_sequences():
    ids, lengths = pad_sequences([[5, 6, 7], [8], []], padding_value=0)
    np.testing.assert_array_equal(ids, [[5, 6, 7], [8, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(lengths, [3, 1, 0])
    ids, lengths = pad_sequences([[1, 2, 3, 4], [5]], max_len=2)
    assert ids.shape == (2, 2) and lengths.tolist() == [2, 1]


def test_batchify_makes_contiguous_streams():
    s = batchify(list(range(10)), 3)
    np.testing.assert_array_equal(s, [[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    with pytest.raises(ValueError, match="too few"):
        batchify([1, 2], 3)


def test_bucket_loader_covers_everything_once_and_trims_padding():
    rng = np.random.default_rng(0)
    seqs = [list(rng.integers(1, 9, rng.integers(1, 30))) for _ in range(500)]
    ids, lengths = pad_sequences(seqs)
    y = np.arange(500)
    loader = BucketLoader(ids, y, lengths, batch_size=32, seed=0)
    seen = []
    assert len(loader) == 16
    for xb, yb in loader:
        assert xb.shape[1] == lengths[yb].max()                   # trimmed to the batch's longest
        np.testing.assert_array_equal(xb, ids[yb, :xb.shape[1]])
        seen.extend(yb.tolist())
    assert sorted(seen) == list(range(500))
    spread = np.mean([np.ptp(lengths[yb]) for _, yb in loader])
    assert spread < 10                                             # similar lengths in a batch
    fixed = [yb.tolist() for _, yb in BucketLoader(ids, y, batch_size=64, shuffle=False)]
    assert fixed == [yb.tolist() for _, yb in BucketLoader(ids, y, batch_size=64, shuffle=False)]
