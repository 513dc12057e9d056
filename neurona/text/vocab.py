"""From text to integer ids and back: tokenizers, ``Vocab``, padding and stream batching.

The notes' pipeline for text: fix a vocabulary V (its maximum size |V|), give
every token an index, and feed the network either one-hot codes of those
indices or, better, embeddings looked up by them. A batch of sequences of
different lengths becomes a (B, T_max) array padded with a padding id, plus
the true lengths; the recurrent layers take both (``lengths=``).
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Iterable, Sequence

import numpy as np

__all__ = ["Vocab", "char_tokenize", "word_tokenize", "pad_sequences", "batchify", "BucketLoader", "PAD", "UNK", "BOS",
           "EOS"]

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*|\d+|[^\w\s]", re.UNICODE)


def char_tokenize(text: str, lower: bool = False) -> list[str]:
    """The characters of ``text`` (optionally lower-cased): ``'Hola' → ['H', 'o', 'l', 'a']``."""
    return list(text.lower() if lower else text)


def word_tokenize(text: str, lower: bool = True, punctuation: bool = False) -> list[str]:
    """Words of ``text``: runs of letters (with inner apostrophes: "don't"), numbers, and, with
    ``punctuation=True``, each punctuation mark as its own token. Lower-cased by default.

    >>> word_tokenize("Don't panic -- it's 42!")
    ["don't", 'panic', "it's", '42']
    """
    if lower:
        text = text.lower()
    toks = _WORD.findall(text)
    if not punctuation:
        toks = [t for t in toks if t[0].isalnum()]
    return toks


class Vocab:
    """A token ↔ id mapping. Special tokens come first (``<pad>`` = 0 by default), then the tokens by
    decreasing frequency (ties in first-seen order), limited by ``min_freq`` and ``max_size``.

    >>> v = Vocab.build([["a", "b", "a"], ["c"]], specials=["<pad>", "<unk>"])
    >>> v.encode(["a", "z"]), v.decode([2, 3])
    ([2, 1], ['a', 'b'])
    """

    def __init__(self, tokens: Sequence[str], unk: str | None = UNK, pad: str | None = PAD,
                 counts: dict | None = None):
        self.itos = list(tokens)
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            dup = [t for t, n in Counter(self.itos).items() if n > 1][:5]
            raise ValueError(f"Vocab: tokens must be unique, repeated: {dup}")
        self.unk = unk if unk in self.stoi else None
        self.pad = pad if pad in self.stoi else None
        self.counts = dict(counts) if counts else {}

    @classmethod
    def build(cls, sequences: Iterable[Sequence[str]], min_freq: int = 1, max_size: int | None = None,
              specials: Sequence[str] = (PAD, UNK)) -> "Vocab":
        """Count the tokens of ``sequences`` (an iterable of token lists, or of strings for characters)."""
        counter: Counter = Counter()
        for seq in sequences:
            counter.update(seq)
        specials = list(specials)
        kept = [t for t, n in counter.most_common() if n >= min_freq and t not in specials]
        if max_size is not None:
            kept = kept[:max(int(max_size) - len(specials), 0)]
        return cls(specials + kept, unk=UNK if UNK in specials else None, pad=PAD if PAD in specials else None,
                   counts={t: counter[t] for t in kept})

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __getitem__(self, token: str) -> int:
        return self.index(token)

    def index(self, token: str) -> int:
        i = self.stoi.get(token)
        if i is None:
            if self.unk is None:
                raise KeyError(f"Vocab: token {token!r} is not in the vocabulary and there is no unknown token")
            return self.stoi[self.unk]
        return i

    @property
    def pad_index(self) -> int | None:
        return None if self.pad is None else self.stoi[self.pad]

    @property
    def unk_index(self) -> int | None:
        return None if self.unk is None else self.stoi[self.unk]

    def encode(self, tokens: Iterable[str], skip_unknown: bool = False) -> list[int]:
        """Ids of ``tokens``; unknown ones map to ``<unk>``, or are left out with ``skip_unknown``."""
        stoi, unk = self.stoi, (None if self.unk is None else self.stoi[self.unk])
        if skip_unknown:
            return [stoi[t] for t in tokens if t in stoi]
        if unk is None:
            return [self.index(t) for t in tokens]
        return [stoi.get(t, unk) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[int(i)] for i in ids]

    def to_dict(self) -> dict:
        """Plain JSON values: the tokens in id order and the special names (for saving with a model)."""
        return {"tokens": self.itos, "unk": self.unk, "pad": self.pad}

    @classmethod
    def from_dict(cls, d: dict) -> "Vocab":
        return cls(d["tokens"], unk=d.get("unk"), pad=d.get("pad"))

    def __repr__(self) -> str:
        head = ", ".join(repr(t) for t in self.itos[:6])
        return f"Vocab({len(self)} tokens: {head}{', ...' if len(self) > 6 else ''})"


def pad_sequences(sequences: Sequence[Sequence[int]], padding_value: int = 0, max_len: int | None = None,
                  dtype=np.int64) -> tuple[np.ndarray, np.ndarray]:
    """Stack id sequences of different lengths into (B, T) with padding at the end; returns (ids, lengths).

    ``max_len`` truncates longer sequences (their length becomes max_len).

    >>> pad_sequences([[5, 6, 7], [8]])
    (array([[5, 6, 7],
           [8, 0, 0]]), array([3, 1]))
    """
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    if max_len is not None:
        lengths = np.minimum(lengths, int(max_len))
    T = int(lengths.max()) if len(lengths) else 0
    out = np.full((len(sequences), T), padding_value, dtype)
    for i, (s, n) in enumerate(zip(sequences, lengths)):
        out[i, :n] = np.asarray(s[:n], dtype)
    return out, lengths


def batchify(ids: Sequence[int], batch_size: int) -> np.ndarray:
    """Cut one long id stream into ``batch_size`` parallel streams: (batch_size, len // batch_size).

    Stream b continues where stream b − 1's text ended, so a language model trained on (B, k)
    windows of it, carrying its state from one window to the next (truncated BPTT), reads
    ``batch_size`` contiguous pieces of the text in parallel.
    """
    arr = np.asarray(ids, dtype=np.int64)
    n = len(arr) // int(batch_size)
    if n == 0:
        raise ValueError(f"batchify: {len(arr)} tokens are too few for {batch_size} streams")
    return arr[:n * batch_size].reshape(batch_size, n)


class BucketLoader:
    """Batches of padded id sequences grouped by length, trimmed to their longest member.

    Padding every batch to the longest sequence of the whole set wastes steps; this loader sorts the
    samples by length within pools of ``pool`` batches (shuffled first when ``shuffle``), cuts the
    pools into batches of similar lengths, shuffles the batch order, and trims each batch's padding
    columns. Yields ``(ids (B, T_batch), targets)``; a model that counts lengths from the padding
    (``SequenceClassifier`` with an embedding) needs nothing else. Re-iterable, one pass per epoch,
    so ``neurona.train.fit`` takes it as training data.

    >>> ids, lengths = pad_sequences([vocab.encode(w) for w in words])        # doctest: +SKIP
    >>> loader = BucketLoader(ids, labels, lengths, batch_size=256, shuffle=True, seed=0)  # doctest: +SKIP
    """

    def __init__(self, ids: np.ndarray, targets: np.ndarray, lengths: np.ndarray | None = None,
                 batch_size: int = 64, shuffle: bool = True, pool: int = 50, seed: int | None = None,
                 padding_value: int = 0):
        self.ids = np.asarray(ids)
        self.targets = np.asarray(targets)
        if len(self.ids) != len(self.targets):
            raise ValueError(f"BucketLoader: {len(self.ids)} sequences but {len(self.targets)} targets")
        self.lengths = (np.asarray(lengths) if lengths is not None
                        else (self.ids != padding_value).sum(axis=1))
        self.batch_size, self.shuffle, self.pool = int(batch_size), bool(shuffle), max(int(pool), 1)
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return -(-len(self.ids) // self.batch_size)

    def __iter__(self):
        n = len(self.ids)
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        chunk = self.batch_size * self.pool
        batches = []
        for s in range(0, n, chunk):
            part = order[s:s + chunk]
            part = part[np.argsort(self.lengths[part], kind="stable")]
            batches += [part[i:i + self.batch_size] for i in range(0, len(part), self.batch_size)]
        if self.shuffle:
            batches = [batches[i] for i in self.rng.permutation(len(batches))]
        for b in batches:
            T = max(int(self.lengths[b].max()), 1)
            yield self.ids[b, :T], self.targets[b]
