"""word2vec: word embeddings learned by predicting words from their neighbours (CBOW, skip-gram),
trained with negative sampling, and nearest neighbours by cosine similarity.

The notes' "Algoritmos Word Embedding - Word2Vec": CBOW predicts a word from
the words around it (the context window), skip-gram predicts each context
word from the centre word. Each word w has two vectors, v_w (input, the
embedding that is kept) and u_w (output). A softmax over the whole
vocabulary would cost |V| per prediction; negative sampling replaces it by
a binary task, telling the true (centre, context) pair from K "noise" words
drawn from the unigram distribution raised to 3/4:

    skip-gram:  q = −log σ(u_o · v_c) − Σ_{k=1..K} log σ(−u_k · v_c)
    CBOW:       the same with v_c replaced by the mean of the context vectors

Frequent words ("the", "of") are subsampled: each occurrence is kept with
probability min(1, √(t/f) + t/f), f being the word's relative frequency.
Words used in alike contexts get close vectors; :func:`most_similar` ranks
words by the cosine of their vectors, cos(a, b) = a·b / (‖a‖ ‖b‖).
"""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from .. import nn, optim
from ..functional.activation import logsigmoid
from ..functional.embedding import embedding_bag
from ..engine import Tensor, no_grad
from .vocab import PAD, Vocab

__all__ = ["SkipGram", "CBOW", "Word2Vec", "cosine_similarity", "most_similar"]


def _init_tables(module: nn.Module, vocab_size: int, dim: int, padding_idx: int | None) -> None:
    # word2vec's initialization: input vectors U(−0.5/D, 0.5/D), output vectors 0
    module.in_embed = nn.Embedding(vocab_size, dim, padding_idx=padding_idx)
    module.out_embed = nn.Embedding(vocab_size, dim, padding_idx=padding_idx)
    with no_grad():
        nn.init.uniform_(module.in_embed.weight, -0.5 / dim, 0.5 / dim)
        module.out_embed.weight.array[...] = 0
        if padding_idx is not None:
            module.in_embed.weight.array[padding_idx] = 0


def _negative_sampling_loss(v: Tensor, u_pos: Tensor, u_neg: Tensor) -> Tensor:
    """mean over the batch of −log σ(u_o·v) − Σ_k log σ(−u_k·v); v, u_pos (N, D), u_neg (N, K, D)."""
    pos = (v * u_pos).sum(axis=-1)                              # (N,)
    neg = (u_neg @ v.unsqueeze(-1)).squeeze(-1)                 # (N, K)
    return -(logsigmoid(pos) + logsigmoid(-neg).sum(axis=-1)).mean()


class SkipGram(nn.Module):
    """Skip-gram with negative sampling: ``model(center, context, negatives)`` → the loss.

    center, context (N,) ids; negatives (N, K) ids. ``in_embed.weight`` holds the word vectors.
    """

    def __init__(self, vocab_size: int, embedding_dim: int = 100, padding_idx: int | None = None):
        super().__init__()
        self.vocab_size, self.embedding_dim = int(vocab_size), int(embedding_dim)
        self.padding_idx = None if padding_idx is None else int(padding_idx)
        _init_tables(self, self.vocab_size, self.embedding_dim, self.padding_idx)

    def get_config(self) -> dict:
        return {"vocab_size": self.vocab_size, "embedding_dim": self.embedding_dim, "padding_idx": self.padding_idx}

    def forward(self, center, context, negatives) -> Tensor:
        v = self.in_embed(center)
        return _negative_sampling_loss(v, self.out_embed(context), self.out_embed(negatives))


class CBOW(nn.Module):
    """Continuous bag of words with negative sampling: ``model(context, center, negatives)`` → the loss.

    context (N, 2·window) ids padded with ``padding_idx`` (ignored in the mean), center (N,),
    negatives (N, K). The context vectors are averaged with an embedding bag.
    """

    def __init__(self, vocab_size: int, embedding_dim: int = 100, padding_idx: int = 0):
        super().__init__()
        self.vocab_size, self.embedding_dim = int(vocab_size), int(embedding_dim)
        self.padding_idx = int(padding_idx)
        _init_tables(self, self.vocab_size, self.embedding_dim, self.padding_idx)

    def get_config(self) -> dict:
        return {"vocab_size": self.vocab_size, "embedding_dim": self.embedding_dim, "padding_idx": self.padding_idx}

    def forward(self, context, center, negatives) -> Tensor:
        v = embedding_bag(context, self.in_embed.weight, mode="mean", padding_idx=self.padding_idx)
        return _negative_sampling_loss(v, self.out_embed(center), self.out_embed(negatives))


def cosine_similarity(a, b) -> np.ndarray:
    """cos(a_i, b_j) = a_i·b_j / (‖a_i‖ ‖b_j‖) for rows of a (n, D) and b (m, D) → (n, m) (1-D inputs: rows)."""
    a = np.atleast_2d(np.asarray(a.array if isinstance(a, Tensor) else a, dtype=np.float64))
    b = np.atleast_2d(np.asarray(b.array if isinstance(b, Tensor) else b, dtype=np.float64))
    an = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    bn = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return an @ bn.T


def most_similar(vectors, vocab: Vocab, query, topn: int = 10, exclude: Sequence[str] = ()) -> list[tuple[str, float]]:
    """The ``topn`` words whose vectors have the highest cosine with ``query`` (a word or a vector).

    Special tokens, the query word itself and ``exclude`` are skipped.
    """
    V = np.asarray(vectors.array if isinstance(vectors, Tensor) else vectors)
    skip = set(exclude) | {t for t in vocab.itos if t.startswith("<") and t.endswith(">")}
    if isinstance(query, str):
        if query not in vocab.stoi:
            raise KeyError(f"most_similar: {query!r} is not in the vocabulary ({len(vocab)} words)")
        skip.add(query)
        q = V[vocab.stoi[query]]
    else:
        q = np.asarray(query)
    sims = cosine_similarity(q, V)[0]
    order = np.argsort(-sims)
    out = []
    for i in order:
        w = vocab.itos[i]
        if w not in skip:
            out.append((w, float(sims[i])))
            if len(out) == topn:
                break
    return out


class Word2Vec:
    """Train word vectors on tokenized sentences with CBOW or skip-gram and negative sampling.

    >>> w2v = Word2Vec(mode="skipgram", embedding_dim=64, window=4, min_count=5, seed=0)
    >>> w2v.fit(sentences, epochs=3)            # sentences: list of token lists      # doctest: +SKIP
    >>> w2v.most_similar("computer", 5)                                                 # doctest: +SKIP

    The window is dynamic, as in the original: for each centre word a width b is drawn from
    1..window, so near words count more. ``subsample`` is the threshold t of frequent-word
    subsampling (0 disables it). Adam updates both tables.
    """

    def __init__(self, mode: str = "skipgram", embedding_dim: int = 100, window: int = 5, negative: int = 5,
                 min_count: int = 5, max_vocab: int | None = None, subsample: float = 1e-3, seed: int = 0):
        if mode not in ("skipgram", "cbow"):
            raise ValueError(f"Word2Vec: mode must be 'skipgram' or 'cbow', got {mode!r}")
        if window < 1 or negative < 1:
            raise ValueError(f"Word2Vec: window and negative must be at least 1, got {window} and {negative}")
        self.mode, self.embedding_dim, self.window, self.negative = mode, int(embedding_dim), int(window), int(negative)
        self.min_count, self.max_vocab, self.subsample = int(min_count), max_vocab, float(subsample)
        self.rng = np.random.default_rng(seed)
        self.vocab: Vocab | None = None
        self.model: nn.Module | None = None

    # --- data ---

    def build_vocab(self, sentences: Sequence[Sequence[str]]) -> Vocab:
        self.vocab = Vocab.build(sentences, min_freq=self.min_count, max_size=self.max_vocab, specials=[PAD])
        counts = np.array([0] + [self.vocab.counts[t] for t in self.vocab.itos[1:]], dtype=np.float64)
        self.freq = counts / counts.sum()
        noise = counts ** 0.75
        self.noise_cdf = np.cumsum(noise / noise.sum())
        return self.vocab

    def _encode(self, sentences) -> tuple[np.ndarray, np.ndarray]:
        """All kept tokens as one id stream and the sentence number of each (out-of-vocabulary dropped)."""
        ids, sid = [], []
        stoi = self.vocab.stoi
        for k, s in enumerate(sentences):
            e = [stoi[t] for t in s if t in stoi]
            ids.extend(e)
            sid.extend([k] * len(e))
        return np.asarray(ids, np.int64), np.asarray(sid, np.int64)

    def _subsampled(self, ids, sid):
        if self.subsample <= 0:
            return ids, sid
        f = self.freq[ids]
        r = self.subsample / f
        keep = self.rng.random(len(ids)) < np.sqrt(r) + r
        return ids[keep], sid[keep]

    def _negatives(self, n: int) -> np.ndarray:
        u = self.rng.random((n, self.negative))
        return np.minimum(np.searchsorted(self.noise_cdf, u), len(self.noise_cdf) - 1).astype(np.int64)

    def pairs(self, ids: np.ndarray, sid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(centre positions, context positions) of every skip-gram pair with a dynamic window."""
        n = len(ids)
        b = self.rng.integers(1, self.window + 1, n)
        cs, xs = [], []
        pos = np.arange(n)
        for d in range(-self.window, self.window + 1):
            if d == 0:
                continue
            j = pos + d
            ok = (j >= 0) & (j < n) & (np.abs(d) <= b)
            ok[ok] &= sid[j[ok]] == sid[pos[ok]]
            cs.append(pos[ok])
            xs.append(j[ok])
        return np.concatenate(cs), np.concatenate(xs)

    def contexts(self, ids: np.ndarray, sid: np.ndarray) -> np.ndarray:
        """(n, 2·window) context ids of each position, 0 (padding) outside the dynamic window or sentence."""
        n = len(ids)
        b = self.rng.integers(1, self.window + 1, n)
        ctx = np.zeros((n, 2 * self.window), np.int64)
        pos = np.arange(n)
        col = 0
        for d in range(-self.window, self.window + 1):
            if d == 0:
                continue
            j = pos + d
            ok = (j >= 0) & (j < n) & (np.abs(d) <= b)
            ok[ok] &= sid[j[ok]] == sid[pos[ok]]
            ctx[ok, col] = ids[j[ok]]
            col += 1
        return ctx

    # --- training ---

    def fit(self, sentences: Sequence[Sequence[str]], epochs: int = 5, batch_size: int = 1024, lr: float = 0.005,
            verbose: bool = True) -> list[float]:
        """Train (building the vocabulary first if needed); returns the mean loss of each epoch."""
        if self.vocab is None:
            self.build_vocab(sentences)
        if self.model is None:
            cls = SkipGram if self.mode == "skipgram" else CBOW
            self.model = cls(len(self.vocab), self.embedding_dim, padding_idx=0)
            self.opt = optim.Adam(self.model.parameters(), lr=lr)
        all_ids, all_sid = self._encode(sentences)
        history = []
        for epoch in range(int(epochs)):
            t0 = time.perf_counter()
            ids, sid = self._subsampled(all_ids, all_sid)
            if self.mode == "skipgram":
                c, x = self.pairs(ids, sid)
                order = self.rng.permutation(len(c))
                a_all, b_all = ids[c[order]], ids[x[order]]
            else:
                ctx = self.contexts(ids, sid)
                has = (ctx != 0).any(axis=1)
                order = self.rng.permutation(np.flatnonzero(has))
                a_all, b_all = ctx[order], ids[order]
            total, n = 0.0, 0
            for s in range(0, len(a_all), batch_size):
                a, b = a_all[s:s + batch_size], b_all[s:s + batch_size]
                neg = self._negatives(len(b))
                loss = self.model(a, b, neg)
                self.opt.zero_grad()
                loss.backward()
                self.opt.step()
                total += float(loss.item()) * len(b)
                n += len(b)
            history.append(total / max(n, 1))
            if verbose:
                print(f"word2vec {self.mode} epoch {epoch + 1}/{epochs}: loss {history[-1]:.4f}, {n:,} examples, "
                      f"{time.perf_counter() - t0:.1f}s", flush=True)
        return history

    # --- using the vectors ---

    @property
    def vectors(self) -> np.ndarray:
        """The word vectors (the input embeddings), (|V|, D); row i is word ``vocab.itos[i]``."""
        if self.model is None:
            raise RuntimeError("Word2Vec: call fit() first")
        return self.model.in_embed.weight.array

    def __getitem__(self, word: str) -> np.ndarray:
        return self.vectors[self.vocab.stoi[word]]

    def most_similar(self, query, topn: int = 10) -> list[tuple[str, float]]:
        return most_similar(self.vectors, self.vocab, query, topn)

    def similarity(self, a: str, b: str) -> float:
        return float(cosine_similarity(self[a], self[b])[0, 0])

    def analogy(self, a: str, b: str, c: str, topn: int = 5) -> list[tuple[str, float]]:
        """Words d with b − a + c ≈ d (a is to b as c is to d), by cosine on normalized vectors."""
        V = self.vectors / np.maximum(np.linalg.norm(self.vectors, axis=1, keepdims=True), 1e-12)
        s = self.vocab.stoi
        q = V[s[b]] - V[s[a]] + V[s[c]]
        return most_similar(self.vectors, self.vocab, q, topn, exclude=(a, b, c))


def _register() -> None:
    from ..models.registry import register_model

    register_model("skipgram", SkipGram, overwrite=True,
                   description="word2vec skip-gram tables (in_embed: the vectors)")
    register_model("cbow", CBOW, overwrite=True, description="word2vec CBOW tables (in_embed: the vectors)")


_register()
