"""Spanish number words (neurona/text/numbers.py): the spelling rules, reading back, the data set."""
from __future__ import annotations

import numpy as np
import pytest

from neurona.text import numbers as N

CANONICAL = {
    0: "cero", 1: "uno", 15: "quince", 16: "dieciséis", 20: "veinte", 21: "veintiuno", 22: "veintidós",
    23: "veintitrés", 26: "veintiséis", 30: "treinta", 31: "treinta y uno", 99: "noventa y nueve", 100: "cien",
    101: "ciento uno", 115: "ciento quince", 200: "doscientos", 500: "quinientos", 555: "quinientos cincuenta y cinco",
    700: "setecientos", 900: "novecientos", 1000: "mil", 1001: "mil uno", 1100: "mil cien", 2000: "dos mil",
    21000: "veintiún mil", 22000: "veintidós mil", 31000: "treinta y un mil", 100000: "cien mil",
    101000: "ciento un mil", 121121: "ciento veintiún mil ciento veintiuno", 200001: "doscientos mil uno",
    432107: "cuatrocientos treinta y dos mil ciento siete",
    999999: "novecientos noventa y nueve mil novecientos noventa y nueve",
    1_000_000: "un millón", 1_000_001: "un millón uno", 2_000_000: "dos millones", 21_000_000: "veintiún millones",
    101_000_000: "ciento un millones", 1_000_000_000: "mil millones", 21_001_100: "veintiún millones mil cien",
}


@pytest.mark.parametrize("n,text", sorted(CANONICAL.items()))
def test_spelling_and_reading_back(n, text):
    assert N.number_to_spanish(n) == text
    assert N.spanish_to_number(text) == n


def test_round_trip_over_every_magnitude():
    rng = np.random.default_rng(0)
    for digits in range(1, 13):
        lo = 0 if digits == 1 else 10 ** (digits - 1)
        for n in rng.integers(lo, 10 ** digits, size=200):
            assert N.spanish_to_number(N.number_to_spanish(int(n))) == int(n)


@pytest.mark.parametrize("text,why", [("un mil", "not how"), ("ciento", "not how"), ("veintiun mil", "unknown word"),
                                      ("cien uno", "not how"), ("mil mil", "not how"), ("", "empty"),
                                      ("mil un", "not how")])
def test_strict_reading_rejects_misspellings(text, why):
    with pytest.raises(ValueError, match=why):
        N.spanish_to_number(text)
    if why == "not how":
        N.spanish_to_number(text, strict=False)          # lenient reading still gives a number


def test_range_and_type_errors():
    with pytest.raises(ValueError, match="10\\^12"):
        N.number_to_spanish(10 ** 12)
    with pytest.raises(ValueError):
        N.number_to_spanish(-1)
    with pytest.raises(TypeError):
        N.number_to_spanish(3.0)


def test_sample_numbers_are_distinct_with_every_length():
    nums = N.sample_numbers(3000, 6, seed=1)
    assert len(set(nums.tolist())) == 3000 and nums.min() >= 0 and nums.max() < 10 ** 6
    lengths = np.bincount([len(str(n)) for n in nums], minlength=7)[1:]
    assert lengths[0] == 10 and lengths[1] == 90 and lengths[5] > 500     # short numbers all taken, long ones many
    with pytest.raises(ValueError, match="only 100"):
        N.sample_numbers(101, 2)


@pytest.mark.parametrize("direction", N.DIRECTIONS)
def test_translation_data_split_and_encoding(direction):
    data = N.number_translation_data(direction, 300, 30, 40, seed=2)
    splits = [set(data.numbers[k].tolist()) for k in ("train", "val", "test")]
    assert not (splits[0] & splits[2]) and not (splits[0] & splits[1]) and not (splits[1] & splits[2])
    assert data.src["train"].shape[0] == 300 and data.tgt["test"].shape[0] == 40
    for k in range(5):
        n = int(data.numbers["test"][k])
        tgt = data.tgt["test"][k]
        assert tgt[0] == data.bos and data.decode(tgt[1:]) == data.target_text(n)
        src_text = data.src_vocab.decode([i for i in data.src["test"][k] if i != 0])
        assert ("" if direction == "digits2words" else " ").join(src_text) == data.source_text(n)
    assert data.src_vocab.unk_index not in data.src["train"]
    ids, lengths = data.encode_source([data.source_text(432107)])
    assert lengths[0] == (7 if direction == "words2digits" else 6)
    with pytest.raises(ValueError, match="direction"):
        N.number_translation_data("words2roman")
