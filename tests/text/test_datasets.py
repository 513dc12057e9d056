"""Corpora: the shipped samples (always), the system word lists and fortunes (when installed)."""
from __future__ import annotations

import os

import numpy as np
import pytest

from neurona.data import DatasetNotFoundError
from neurona.text import (fortunes_sample, load_fortunes, load_word_lists, read_fortunes, read_word_list,
                          stratified_split, words_sample)
from neurona.text.datasets import DICT_ROOT, FORTUNES_ROOT, WORD_LISTS


def test_words_sample():
    words, labels, names = words_sample()
    assert names == list(WORD_LISTS)
    assert len(words) == len(labels) == 300 * len(names)
    assert np.all(np.bincount(labels) == 300)
    assert len(set(words)) == len(words)                           # shared words were removed
    assert all(w == w.lower() and w.isalpha() for w in words)


def test_fortunes_sample():
    texts, labels, names = fortunes_sample()
    assert len(names) == 6 and len(texts) == len(labels) == 240
    assert all(0 < len(t) <= 300 for t in texts)
    assert "%" not in [t.strip() for t in texts]


def test_read_word_list_and_fortunes_files(tmp_path):
    p = tmp_path / "words"
    p.write_text("Apple\napple's\nbanana\nX-ray\nño\nBanana\n42\ncafé\n", encoding="utf-8")
    assert read_word_list(p) == ["apple", "banana", "ño", "café"]
    f = tmp_path / "fort"
    f.write_text("one\nline\n%\ntwo\n%\n\n%\n", encoding="utf-8")
    assert read_fortunes(f) == ["one\nline", "two"]


def test_missing_corpora_say_how_to_install(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="apt-get install wspanish"):
        load_word_lists(["spanish"], root=tmp_path)
    with pytest.raises(DatasetNotFoundError, match="apt-get install fortunes"):
        load_fortunes(root=tmp_path)
    with pytest.raises(ValueError, match="unknown language 'klingon'"):
        load_word_lists(["klingon"], root=tmp_path)


def test_stratified_split_keeps_proportions():
    y = np.repeat([0, 1, 2], [100, 50, 10])
    tr, te = stratified_split(y, 0.2, seed=0)
    assert len(set(tr) & set(te)) == 0 and len(tr) + len(te) == 160
    np.testing.assert_array_equal(np.bincount(y[te]), [20, 10, 2])


@pytest.mark.skipif(not all(os.path.exists(os.path.join(DICT_ROOT, f)) for f, _ in WORD_LISTS.values()),
                    reason="Debian word lists not installed")
def test_system_word_lists():
    words, labels, names = load_word_lists(["spanish", "italian"], per_language=500)
    assert np.all(np.bincount(labels) == 500) and names == ["spanish", "italian"]
    assert len(set(words)) == len(words)


@pytest.mark.skipif(not os.path.isdir(FORTUNES_ROOT), reason="fortunes not installed")
def test_system_fortunes():
    texts, labels, names = load_fortunes(["computers", "food"], max_chars=200)
    assert names == ["computers", "food"] and len(texts) > 100
    assert set(np.unique(labels)) == {0, 1}
