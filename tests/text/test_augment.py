"""Text augmentation: substitution, insertion, deletion, swap; embedding neighbours; the augmenter."""
from collections import Counter

import numpy as np
import pytest

from neurona.text.augment import (TextAugmenter, embedding_neighbours, random_delete, random_insert, random_swap,
                                  synonym_replace)

SYN = {"movie": ["film", "picture"], "great": ["excellent", "superb"], "boring": ["dull"]}
TEXT = "a great movie with a boring end"


def test_synonym_replace_uses_the_map_and_skips_stopwords():
    out = synonym_replace(TEXT, SYN, n=3, seed=0).split()
    assert len(out) == 7
    assert out[0] == "a" and out[3] == "with"
    assert out[1] in SYN["great"] and out[2] in SYN["movie"] and out[5] in SYN["boring"]
    one = synonym_replace(TEXT, SYN, n=1, seed=0).split()
    changed = [i for i, (a, b) in enumerate(zip(one, TEXT.split())) if a != b]
    assert len(changed) == 1
    assert synonym_replace(TEXT, {}, n=2, seed=0) == TEXT
    assert synonym_replace(["Movie", "night"], SYN, n=1, seed=0)[0] in SYN["movie"]  # lower-case lookup
    with pytest.raises(ValueError, match="n must be"):
        synonym_replace(TEXT, SYN, n=-1)


def test_random_insert_adds_synonyms_of_words_in_the_text():
    out = random_insert(TEXT, SYN, n=2, seed=1).split()
    assert len(out) == 9
    added = Counter(out) - Counter(TEXT.split())
    assert sum(added.values()) == 2
    assert all(w in sum(SYN.values(), []) for w in added)
    voc = random_insert(["x", "y"], vocabulary=["zebra"], n=2, seed=0)
    assert voc.count("zebra") == 2
    assert random_insert("nothing to see", SYN, n=2, seed=0) == "nothing to see"
    with pytest.raises(ValueError, match="synonyms= .* or vocabulary="):
        random_insert(TEXT)


def test_random_delete_rate_and_never_empty():
    words = [f"w{i}" for i in range(2000)]
    out = random_delete(words, p=0.3, seed=0)
    assert 0.25 < 1 - len(out) / 2000 < 0.35
    assert out == [w for w in words if w in set(out)]  # order kept
    assert len(random_delete("a b c", p=1.0, seed=0).split()) == 1
    assert random_delete("single", p=1.0, seed=0) == "single"
    assert random_delete(TEXT, p=0.0, seed=0) == TEXT
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        random_delete(TEXT, p=1.5)


def test_random_swap_is_a_permutation():
    out = random_swap(TEXT, n=2, seed=3)
    assert sorted(out.split()) == sorted(TEXT.split()) and out != TEXT
    assert random_swap("alone", n=3, seed=0) == "alone"
    toks = ["a", "b", "c", "d"]
    res = random_swap(toks, n=1, seed=0)
    assert isinstance(res, list) and sum(x != y for x, y in zip(res, toks)) == 2
    assert toks == ["a", "b", "c", "d"]  # the input list is not modified


def test_seeded_operations_are_reproducible():
    for f in (lambda s: synonym_replace(TEXT, SYN, 2, s), lambda s: random_insert(TEXT, SYN, 2, s),
              lambda s: random_delete(TEXT, 0.4, s), lambda s: random_swap(TEXT, 3, s)):
        assert f(5) == f(5)
    results = {random_swap(TEXT, 3, s) for s in range(10)}
    assert len(results) > 3


def test_embedding_neighbours_by_cosine_similarity():
    vocab = ["<pad>", "good", "fine", "bad", "awful", "cat"]
    E = np.array([[0, 0, 0],          # padding: skipped
                  [1, 0.1, 0],        # good
                  [2, 0.3, 0],        # fine: same direction as good, longer
                  [-1, 0, 0.1],       # bad
                  [-1, 0, 0.2],       # awful
                  [0, 0, 1]], float)  # cat
    syn = embedding_neighbours(E, vocab, k=1, min_similarity=0.5)
    assert syn == {"good": ["fine"], "fine": ["good"], "bad": ["awful"], "awful": ["bad"]}
    two = embedding_neighbours(E, {w: i for i, w in enumerate(vocab)}, k=2, min_similarity=-1.0,
                               words=["good", "cat"])
    assert set(two) == {"good", "cat"} and two["good"][0] == "fine" and len(two["good"]) == 2

    class Emb:  # an embedding layer: .weight holds the matrix
        weight = E

    class Vocab:
        itos = vocab

    assert embedding_neighbours(Emb(), Vocab(), k=1) == syn
    with pytest.raises(ValueError, match="6 rows"):
        embedding_neighbours(E, vocab[:4])
    # the neighbour map feeds substitution directly
    assert synonym_replace("good day", syn, n=1, seed=0) == "fine day"


def test_augmenter_expands_the_training_set_only():
    aug = TextAugmenter(SYN, p_replace=0.3, p_insert=0.1, p_swap=0.1, p_delete=0.1, seed=0)
    texts, labels = ["a great movie", "a boring movie with bad actors"], np.array([1, 0])
    t2, y2 = aug.augment(texts, labels, n_aug=3)
    assert len(t2) == 8 and t2[0] == texts[0] and t2[4] == texts[1]
    assert y2.tolist() == [1, 1, 1, 1, 0, 0, 0, 0] and y2.dtype == labels.dtype
    assert any(t not in texts for t in t2)
    t3, y3 = aug.augment(texts, None, n_aug=1, keep_original=False)
    assert len(t3) == 2 and y3 is None
    # as a per-sample transform: variants while training, the text itself in evaluation
    assert aug.eval()("a great movie") == "a great movie"
    aug.train()
    assert any(aug("a great movie") != "a great movie" for _ in range(5))
    tok = aug(["a", "great", "movie"])
    assert isinstance(tok, list)
    again = TextAugmenter(SYN, p_replace=0.3, p_insert=0.1, p_swap=0.1, p_delete=0.1, seed=0)
    assert again.augment(texts, labels, n_aug=3)[0] == t2  # seeded
    with pytest.raises(ValueError, match="labels"):
        aug.augment(texts, [1], n_aug=1)
    with pytest.raises(ValueError, match="need synonyms"):
        TextAugmenter(p_replace=0.1)
    with pytest.raises(ValueError, match="p_swap"):
        TextAugmenter(p_replace=0, p_insert=0, p_swap=2.0)
    only_structure = TextAugmenter(p_replace=0, p_insert=0, p_swap=0.5, p_delete=0.0, seed=1)
    assert sorted(only_structure("one two three four").split()) == ["four", "one", "three", "two"]
