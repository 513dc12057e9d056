"""Text corpora that install offline, and the small samples of them shipped with neurona.

- Word lists (Debian packages ``wamerican wspanish wfrench witalian wngerman wportuguese wdutch``,
  files under /usr/share/dict): :func:`load_word_lists` gives words labelled by language, for
  language identification of single words. :func:`words_sample` is a few hundred words per
  language shipped in ``neurona/text/_data`` (no packages needed).
- Fortunes (Debian package ``fortunes``, /usr/share/games/fortunes): short English texts in
  categories (computers, food, law, love, ...). :func:`load_fortunes` gives (texts, category
  labels) for text classification, language models and word embeddings; :func:`fortunes_sample`
  is a small sample shipped with neurona.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from ..data import DatasetNotFoundError

__all__ = ["WORD_LISTS", "read_word_list", "load_word_lists", "words_sample", "read_fortunes", "load_fortunes",
           "fortunes_sample", "fortune_categories", "stratified_split", "DICT_ROOT", "FORTUNES_ROOT"]

DICT_ROOT = "/usr/share/dict"
FORTUNES_ROOT = "/usr/share/games/fortunes"
_DATA = Path(__file__).parent / "_data"

#: language → (file under /usr/share/dict, Debian package)
WORD_LISTS = {
    "english": ("american-english", "wamerican"),
    "spanish": ("spanish", "wspanish"),
    "french": ("french", "wfrench"),
    "italian": ("italian", "witalian"),
    "german": ("ngerman", "wngerman"),
    "portuguese": ("portuguese", "wportuguese"),
    "dutch": ("dutch", "wdutch"),
}

_LETTERS = re.compile(r"^[^\W\d_]+$", re.UNICODE)


def read_word_list(path, min_length: int = 2) -> list[str]:
    """The distinct lower-cased words of a word-list file (one per line), letters only: entries with
    apostrophes, hyphens, digits or spaces (possessives, compounds, abbreviations) are left out."""
    seen: dict[str, None] = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            w = line.strip().lower()
            if len(w) >= min_length and _LETTERS.match(w):
                seen.setdefault(w, None)
    return list(seen)


def _remove_shared(per_lang: dict[str, list[str]]) -> dict[str, list[str]]:
    owners: dict[str, int] = {}
    for words in per_lang.values():
        for w in words:
            owners[w] = owners.get(w, 0) + 1
    return {lang: [w for w in words if owners[w] == 1] for lang, words in per_lang.items()}


def _pick(per_lang: dict[str, list[str]], per_language: int | None, seed: int):
    rng = np.random.default_rng(seed)
    words, labels = [], []
    for k, ws in enumerate(per_lang.values()):
        ws = sorted(ws)
        if per_language is not None and len(ws) > per_language:
            ws = [ws[i] for i in np.sort(rng.choice(len(ws), int(per_language), replace=False))]
        words += ws
        labels += [k] * len(ws)
    return words, np.asarray(labels, dtype=np.int64)


def load_word_lists(languages: Sequence[str] | None = None, root: str | os.PathLike | None = None,
                    per_language: int | None = None, remove_shared: bool = True, min_length: int = 2,
                    seed: int = 0) -> tuple[list[str], np.ndarray, list[str]]:
    """Words labelled by language, from the system word lists: (words, labels, language names).

    Words are lower-cased and letters only; with ``remove_shared`` a word found in more than one
    language ("taxi", "radio") is dropped from all of them, so every word has exactly one answer.
    ``per_language`` draws at most that many words of each language (seeded), which also balances
    the classes. ``labels[i]`` indexes ``names``.

    >>> words, y, names = load_word_lists(per_language=20000)      # doctest: +SKIP
    """
    root = Path(root or DICT_ROOT)
    languages = list(languages or WORD_LISTS)
    per_lang = {}
    missing = []
    for lang in languages:
        if lang not in WORD_LISTS:
            raise ValueError(f"load_word_lists: unknown language {lang!r}; known: {sorted(WORD_LISTS)}")
        fname, pkg = WORD_LISTS[lang]
        path = root / fname
        if not path.exists():
            missing.append(f"{path} (apt-get install {pkg})")
            continue
        per_lang[lang] = read_word_list(path, min_length)
    if missing:
        raise DatasetNotFoundError("load_word_lists: word lists not found: " + "; ".join(missing) +
                                   ". For a small sample that needs no packages use neurona.text.words_sample()")
    if remove_shared:
        per_lang = _remove_shared(per_lang)
    words, labels = _pick(per_lang, per_language, seed)
    return words, labels, list(per_lang)


def words_sample() -> tuple[list[str], np.ndarray, list[str]]:
    """The shipped sample: a few hundred words per language, shared words already removed.

    Same return values as :func:`load_word_lists`; drawn by ``_data/make_samples.py``.
    """
    with open(_DATA / "words_sample.json", encoding="utf-8") as f:
        data = json.load(f)
    names = list(data["languages"])
    words, labels = [], []
    for k, lang in enumerate(names):
        words += data["words"][lang]
        labels += [k] * len(data["words"][lang])
    return words, np.asarray(labels, dtype=np.int64), names


# --- fortunes --------------------------------------------------------------------------------------


def read_fortunes(path) -> list[str]:
    """The texts of one fortune file (entries separated by lines holding a single ``%``)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        raw = f.read()
    parts = re.split(r"^%\s*$", raw, flags=re.MULTILINE)
    return [p.strip("\n") for p in parts if p.strip()]


def fortune_categories(root: str | os.PathLike | None = None) -> list[str]:
    """Names of the fortune files installed under ``root`` (the categories)."""
    root = Path(root or FORTUNES_ROOT)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir()
                  if p.is_file() and not p.is_symlink() and p.suffix not in (".dat", ".u8"))


def load_fortunes(categories: Sequence[str] | None = None, root: str | os.PathLike | None = None,
                  max_chars: int | None = None) -> tuple[list[str], np.ndarray, list[str]]:
    """Fortunes with their category: (texts, labels, category names), labels indexing the names.

    ``categories`` selects files (default: all installed); ``max_chars`` drops longer texts.
    """
    root = Path(root or FORTUNES_ROOT)
    available = fortune_categories(root)
    if not available:
        raise DatasetNotFoundError(f"load_fortunes: no fortune files under {root} (apt-get install fortunes). "
                                   f"For a small sample that needs no packages use neurona.text.fortunes_sample()")
    cats = list(categories or available)
    unknown = [c for c in cats if c not in available]
    if unknown:
        raise ValueError(f"load_fortunes: unknown categories {unknown}; installed: {available}")
    texts, labels = [], []
    for k, c in enumerate(cats):
        for t in read_fortunes(root / c):
            if max_chars is None or len(t) <= max_chars:
                texts.append(t)
                labels.append(k)
    return texts, np.asarray(labels, dtype=np.int64), cats


def fortunes_sample() -> tuple[list[str], np.ndarray, list[str]]:
    """The shipped sample of fortunes (a few categories, a few dozen short texts each), as load_fortunes."""
    with open(_DATA / "fortunes_sample.json", encoding="utf-8") as f:
        data = json.load(f)
    names = list(data["categories"])
    texts, labels = [], []
    for k, c in enumerate(names):
        texts += data["fortunes"][c]
        labels += [k] * len(data["fortunes"][c])
    return texts, np.asarray(labels, dtype=np.int64), names


def stratified_split(labels: np.ndarray, test_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test) with the same class proportions in both (each class split separately)."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"stratified_split: test_fraction must be in (0, 1), got {test_fraction}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n = int(round(len(idx) * test_fraction))
        test.append(idx[:n])
        train.append(idx[n:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))
