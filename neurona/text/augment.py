"""Text augmentation: new training sentences from old ones by substituting, inserting, deleting and swapping words.

The notes' "Aumento de datos artificiales — En texto: sustituyendo palabras,
insertando palabras, borrando palabras". Four operations on a list of
tokens (the "EDA" recipe of Wei & Zou, 2019), each seeded:

- :func:`synonym_replace`: replace up to n words by a synonym;
- :func:`random_insert`: insert a synonym of a random word (or a random
  vocabulary word) at a random position, n times;
- :func:`random_delete`: drop each word with probability p (never all);
- :func:`random_swap`: swap two random words, n times.

Synonyms come from a map the user provides (``{"good": ["fine", "great"]}``)
or from the nearest neighbours of trained word embeddings
(:func:`embedding_neighbours`: cosine similarity between the rows of an
embedding matrix). :class:`TextAugmenter` combines the four with per-word
rates and is applied to the *training* texts only: :meth:`TextAugmenter.augment`
expands a training set, and as a per-sample transform it is the identity
after ``.eval()``. Texts are either strings (split on whitespace and joined
back) or lists of tokens.

>>> aug = TextAugmenter(synonyms={"movie": ["film"], "great": ["excellent"]}, p_replace=0.2, seed=0)
>>> texts, labels = aug.augment(train_texts, train_labels, n_aug=2)   # originals + 2 variants each
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np

__all__ = ["synonym_replace", "random_insert", "random_delete", "random_swap", "embedding_neighbours",
           "TextAugmenter", "DEFAULT_STOPWORDS"]

#: words never replaced nor used as insertion seeds by default (English and Spanish function words)
DEFAULT_STOPWORDS = frozenset("""
a an the and or but if of at by for with about to from in on into over under is are was were be been being it
its this that these those i me my we our you your he him his she her they them their what which who whom not no
el la los las un una unos unas y o pero si de del al a en con por para sin sobre es son era fue ser que se lo le
les su sus mi mis tu tus no
""".split())


def _rng(seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def _tokens(text) -> tuple[list[str], bool]:
    """(list of tokens, whether the input was a string)."""
    if isinstance(text, str):
        return text.split(), True
    if isinstance(text, (list, tuple)):
        return [str(t) for t in text], False
    raise TypeError(f"text augmentation: expected a string or a list of tokens, got {type(text).__name__}")


def _back(tokens: list[str], was_str: bool):
    return " ".join(tokens) if was_str else tokens


def _check_n(n, op: str) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"{op}: n must be a non-negative integer, got {n!r}")
    return int(n)


def _options(word: str, synonyms: Mapping[str, Sequence[str]]) -> list[str]:
    opts = synonyms.get(word)
    if opts is None:
        opts = synonyms.get(word.lower())
    return [s for s in (opts or ()) if s != word]


def synonym_replace(text, synonyms: Mapping[str, Sequence[str]], n: int = 1, seed=None,
                    stopwords: Iterable[str] = DEFAULT_STOPWORDS):
    """Replace up to ``n`` distinct words (not stopwords) that have synonyms by a random synonym each."""
    n = _check_n(n, "synonym_replace")
    toks, was_str = _tokens(text)
    rng, stop = _rng(seed), set(stopwords)
    candidates = [i for i, w in enumerate(toks) if w.lower() not in stop and _options(w, synonyms)]
    if candidates and n:
        for i in rng.permutation(candidates)[:n]:
            opts = _options(toks[i], synonyms)
            toks[i] = opts[int(rng.integers(len(opts)))]
    return _back(toks, was_str)


def random_insert(text, synonyms: Mapping[str, Sequence[str]] | None = None, n: int = 1, seed=None,
                  vocabulary: Sequence[str] | None = None, stopwords: Iterable[str] = DEFAULT_STOPWORDS):
    """Insert ``n`` words at random positions: a synonym of a random word of the text (EDA), or with
    ``vocabulary`` (and no synonym available) a random vocabulary word."""
    n = _check_n(n, "random_insert")
    if synonyms is None and vocabulary is None:
        raise ValueError("random_insert: give synonyms= (insert synonyms of the text's words) or vocabulary=")
    toks, was_str = _tokens(text)
    rng, stop = _rng(seed), set(stopwords)
    for _ in range(n):
        word = None
        if synonyms is not None:
            seeds = [w for w in toks if w.lower() not in stop and _options(w, synonyms)]
            if seeds:
                opts = _options(seeds[int(rng.integers(len(seeds)))], synonyms)
                word = opts[int(rng.integers(len(opts)))]
        if word is None and vocabulary is not None and len(vocabulary):
            word = str(vocabulary[int(rng.integers(len(vocabulary)))])
        if word is None:
            break
        toks.insert(int(rng.integers(len(toks) + 1)), word)
    return _back(toks, was_str)


def random_delete(text, p: float = 0.1, seed=None):
    """Drop each word independently with probability ``p``; one random word survives if all would go."""
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"random_delete: p must be in [0, 1], got {p}")
    toks, was_str = _tokens(text)
    if len(toks) <= 1 or p == 0.0:
        return _back(toks, was_str)
    rng = _rng(seed)
    keep = rng.random(len(toks)) >= p
    if not keep.any():
        keep[int(rng.integers(len(toks)))] = True
    return _back([w for w, k in zip(toks, keep) if k], was_str)


def random_swap(text, n: int = 1, seed=None):
    """Swap the words at two random positions, ``n`` times."""
    n = _check_n(n, "random_swap")
    toks, was_str = _tokens(text)
    if len(toks) >= 2:
        rng = _rng(seed)
        for _ in range(n):
            i, j = rng.choice(len(toks), size=2, replace=False)
            toks[i], toks[j] = toks[j], toks[i]
    return _back(toks, was_str)


def _vocab_list(vocab, size: int) -> list[str]:
    """index → word from a list, a dict word → index, or an object with ``itos`` / ``get_itos()`` / ``index_to_word``."""
    if isinstance(vocab, Mapping):
        itos = [None] * size
        for w, i in vocab.items():
            if 0 <= int(i) < size:
                itos[int(i)] = str(w)
        return itos
    for attr in ("itos", "index_to_word", "tokens"):
        v = getattr(vocab, attr, None)
        if v is not None and not callable(v):
            return [str(w) for w in v]
    get = getattr(vocab, "get_itos", None)
    if callable(get):
        return [str(w) for w in get()]
    return [str(w) for w in vocab]


def embedding_neighbours(embeddings, vocab, k: int = 5, min_similarity: float = 0.5,
                         words: Iterable[str] | None = None, skip: Iterable[str] = ("<pad>", "<unk>", "<bos>", "<eos>"),
                         batch: int = 1024) -> dict[str, list[str]]:
    """A synonym map from trained word embeddings: each word's ``k`` nearest neighbours by cosine similarity.

    ``embeddings``: a (V, D) matrix — an array, a Tensor, or an embedding
    layer with ``.weight``; ``vocab``: the words of its rows (a list, a dict
    word → row, or a vocabulary object with ``itos``/``get_itos()``).
    Neighbours with cos(e_w, e_v) = e_w·e_v / (‖e_w‖‖e_v‖) below
    ``min_similarity`` are left out. ``words`` restricts the keys.
    """
    E = getattr(embeddings, "weight", embeddings)
    E = np.asarray(getattr(E, "data", E), dtype=np.float64)
    if E.ndim != 2:
        raise ValueError(f"embedding_neighbours: expected a (vocabulary, dimension) matrix, got shape {E.shape}")
    itos = _vocab_list(vocab, len(E))
    if len(itos) != len(E):
        raise ValueError(f"embedding_neighbours: the vocabulary has {len(itos)} words, the matrix {len(E)} rows")
    k = _check_n(k, "embedding_neighbours")
    skip = set(skip)
    valid = np.array([w is not None and w not in skip for w in itos])
    norms = np.linalg.norm(E, axis=1)
    valid &= norms > 0
    U = E / np.where(norms > 0, norms, 1.0)[:, None]
    rows = np.flatnonzero(valid)
    if words is not None:
        index = {w: i for i, w in enumerate(itos) if w is not None}
        rows = np.array([index[w] for w in words if w in index and valid[index[w]]], dtype=np.int64)
    out: dict[str, list[str]] = {}
    for start in range(0, len(rows), batch):
        r = rows[start:start + batch]
        sim = U[r] @ U.T
        sim[:, ~valid] = -np.inf
        sim[np.arange(len(r)), r] = -np.inf  # a word is not its own synonym
        kk = min(k, int(valid.sum()) - 1)
        if kk <= 0:
            break
        top = np.argpartition(-sim, kk - 1, axis=1)[:, :kk]
        for j, (row, cand) in enumerate(zip(r, top)):
            s = sim[j, cand]
            order = np.argsort(-s, kind="stable")
            nb = [itos[c] for c, v in zip(cand[order], s[order]) if v >= min_similarity]
            if nb:
                out[itos[row]] = nb
    return out


class TextAugmenter:
    """Random substitutions, insertions, deletions and swaps, at per-word rates, for training texts.

    For a text of ℓ words, one call makes max(1, round(p·ℓ)) replacements
    (``p_replace``), insertions (``p_insert``) and swaps (``p_swap``) — each
    skipped when its rate is 0 — and deletes each word with probability
    ``p_delete``. ``synonyms`` (a dict, e.g. from :func:`embedding_neighbours`)
    feeds replacement and insertion; ``vocabulary`` is the fallback for
    insertion. Seeded with ``seed`` (one generator for the augmenter's life).

    ``augment(texts, labels, n_aug)`` returns the training set with ``n_aug``
    variants of every text (labels repeated); called on one text the
    augmenter returns one variant while training, the text itself after
    ``eval()`` — so the same object can sit in a training pipeline without
    touching validation or test texts.
    """

    def __init__(self, synonyms: Mapping[str, Sequence[str]] | None = None, p_replace: float = 0.1,
                 p_insert: float = 0.1, p_swap: float = 0.1, p_delete: float = 0.1,
                 vocabulary: Sequence[str] | None = None, stopwords: Iterable[str] = DEFAULT_STOPWORDS,
                 seed: int | np.random.Generator | None = None):
        for name, v in (("p_replace", p_replace), ("p_insert", p_insert), ("p_swap", p_swap),
                        ("p_delete", p_delete)):
            if not 0.0 <= float(v) <= 1.0:
                raise ValueError(f"TextAugmenter: {name} must be in [0, 1], got {v}")
        if (p_replace or p_insert) and synonyms is None and vocabulary is None:
            raise ValueError("TextAugmenter: replacement and insertion need synonyms= (or vocabulary= for "
                             "insertion); set p_replace=p_insert=0 to use only deletion and swaps")
        self.synonyms = dict(synonyms) if synonyms is not None else {}
        self.p_replace, self.p_insert = float(p_replace), float(p_insert)
        self.p_swap, self.p_delete = float(p_swap), float(p_delete)
        self.vocabulary = list(vocabulary) if vocabulary is not None else None
        self.stopwords = frozenset(stopwords)
        self.rng = _rng(seed)
        self.training = True

    def train(self, mode: bool = True) -> "TextAugmenter":
        self.training = bool(mode)
        return self

    def eval(self) -> "TextAugmenter":
        return self.train(False)

    @staticmethod
    def _count(p: float, n_words: int) -> int:
        return 0 if p == 0.0 else max(1, int(round(p * n_words)))

    def variant(self, text):
        """One augmented version of ``text`` (always, whatever the mode)."""
        toks, was_str = _tokens(text)
        n = len(toks)
        if n == 0:
            return _back(toks, was_str)
        r = self.rng
        if self.p_replace and self.synonyms:
            toks = synonym_replace(toks, self.synonyms, self._count(self.p_replace, n), r, self.stopwords)
        if self.p_insert:
            toks = random_insert(toks, self.synonyms or None, self._count(self.p_insert, n), r, self.vocabulary,
                                 self.stopwords)
        if self.p_swap:
            toks = random_swap(toks, self._count(self.p_swap, n), r)
        if self.p_delete:
            toks = random_delete(toks, self.p_delete, r)
        return _back(toks, was_str)

    def __call__(self, text):
        return self.variant(text) if self.training else text

    def augment(self, texts: Sequence, labels: Sequence | None = None, n_aug: int = 1,
                keep_original: bool = True) -> tuple[list, list | None]:
        """The training set with ``n_aug`` variants per text: (texts, labels), originals first per text."""
        n_aug = _check_n(n_aug, "TextAugmenter.augment")
        if labels is not None and len(labels) != len(texts):
            raise ValueError(f"TextAugmenter.augment: {len(texts)} texts but {len(labels)} labels")
        out_t, out_y = [], [] if labels is not None else None
        for i, t in enumerate(texts):
            group = ([t] if keep_original else []) + [self.variant(t) for _ in range(n_aug)]
            out_t.extend(group)
            if out_y is not None:
                out_y.extend([labels[i]] * len(group))
        if out_y is not None and isinstance(labels, np.ndarray):
            out_y = np.asarray(out_y, dtype=labels.dtype)
        return out_t, out_y

    def __repr__(self) -> str:
        return (f"TextAugmenter(p_replace={self.p_replace}, p_insert={self.p_insert}, p_swap={self.p_swap}, "
                f"p_delete={self.p_delete}, {len(self.synonyms)} words with synonyms)")
