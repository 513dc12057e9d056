"""Spanish number words: writing a number in words, reading it back, and a translation data set
between the two ("cuatrocientos treinta y dos mil ciento siete" ↔ "432107").

The rules are those of the Real Academia's Ortografía for cardinals:

- 0–29 are single words, with the accents of the compounds: dieciséis, veintidós, veintitrés,
  veintiséis; 31–99 are "treinta y uno" ... "noventa y nueve";
- 100 is "cien", 101–199 "ciento ..."; the hundreds are doscientos, trescientos, cuatrocientos,
  quinientos, seiscientos, setecientos, ochocientos, novecientos;
- 1000 is "mil" (never "un mil"), 2000 "dos mil"; 10^6 is "un millón", 2·10^6 "dos millones",
  10^9 "mil millones";
- "uno" loses its last vowel before "mil" and "millón(es)": "veintiún mil", "treinta y un mil",
  "ciento un mil", "un millón"; it stays whole at the end: "mil uno", "veintiuno".
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .vocab import BOS, EOS, PAD, UNK, Vocab, pad_sequences

__all__ = ["number_to_spanish", "spanish_to_number", "sample_numbers", "NumberTranslation",
           "number_translation_data", "DIRECTIONS"]

_UNITS = ["cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve", "diez", "once", "doce",
          "trece", "catorce", "quince", "dieciséis", "diecisiete", "dieciocho", "diecinueve", "veinte", "veintiuno",
          "veintidós", "veintitrés", "veinticuatro", "veinticinco", "veintiséis", "veintisiete", "veintiocho",
          "veintinueve"]
_TENS = {3: "treinta", 4: "cuarenta", 5: "cincuenta", 6: "sesenta", 7: "setenta", 8: "ochenta", 9: "noventa"}
_HUNDREDS = {1: "ciento", 2: "doscientos", 3: "trescientos", 4: "cuatrocientos", 5: "quinientos",
             6: "seiscientos", 7: "setecientos", 8: "ochocientos", 9: "novecientos"}
LIMIT = 10 ** 12


def _below_100(n: int, short: bool) -> list[str]:
    """1..99 in words; ``short`` writes the apocope of 'uno' used before mil/millón."""
    if n < 30:
        if short and n == 1:
            return ["un"]
        if short and n == 21:
            return ["veintiún"]
        return [_UNITS[n]]
    tens, unit = divmod(n, 10)
    if unit == 0:
        return [_TENS[tens]]
    return [_TENS[tens], "y"] + _below_100(unit, short)


def _below_1000(n: int, short: bool) -> list[str]:
    if n == 100:
        return ["cien"]
    hundreds, rest = divmod(n, 100)
    words = [_HUNDREDS[hundreds]] if hundreds else []
    return words + (_below_100(rest, short) if rest else [])


def _below_million(n: int, short: bool) -> list[str]:
    thousands, rest = divmod(n, 1000)
    words = []
    if thousands:
        words += (["mil"] if thousands == 1 else _below_1000(thousands, True) + ["mil"])
    if rest:
        words += _below_1000(rest, short)
    return words


def number_to_spanish(n: int) -> str:
    """The cardinal ``n`` (0 ≤ n < 10^12) in Spanish words.

    >>> number_to_spanish(432107)
    'cuatrocientos treinta y dos mil ciento siete'
    >>> number_to_spanish(21_001_100)
    'veintiún millones mil cien'
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"number_to_spanish: expected an integer, got {type(n).__name__}")
    n = int(n)
    if not 0 <= n < LIMIT:
        raise ValueError(f"number_to_spanish: n must lie in [0, 10^12), got {n}")
    if n == 0:
        return "cero"
    millions, rest = divmod(n, 10 ** 6)
    words = []
    if millions == 1:
        words += ["un", "millón"]
    elif millions:
        words += _below_million(millions, True) + ["millones"]
    if rest:
        words += _below_million(rest, False)
    return " ".join(words)


_VALUES = {w: i for i, w in enumerate(_UNITS)}
_VALUES.update({"un": 1, "veintiún": 21})
_VALUES.update({w: 10 * t for t, w in _TENS.items()})
_VALUES.update({w: 100 * h for h, w in _HUNDREDS.items()})
_VALUES["cien"] = 100


def spanish_to_number(text: str, strict: bool = True) -> int:
    """The number written in ``text`` ("doscientos mil uno" → 200001).

    With ``strict`` (the default) the text must be exactly how :func:`number_to_spanish` writes the
    number (canonical spelling, spaces, accents); otherwise a ``ValueError`` says why. With
    ``strict=False`` any sequence of known words is summed and scaled ("ciento mil" reads as 100000).

    >>> spanish_to_number("veintiún mil trescientos")
    21300
    """
    words = text.split()
    if not words:
        raise ValueError("spanish_to_number: empty text")
    total, thousands, current = 0, 0, 0
    for w in words:
        if w == "y":
            continue
        if w in _VALUES:
            current += _VALUES[w]
        elif w == "mil":
            thousands += max(current, 1) * 1000
            current = 0
        elif w in ("millón", "millones"):
            total += (thousands + current) * 10 ** 6
            thousands = current = 0
        else:
            raise ValueError(f"spanish_to_number: unknown word {w!r} in {text!r}")
    n = total + thousands + current
    if strict and (n >= LIMIT or number_to_spanish(n) != " ".join(words)):
        expected = number_to_spanish(n) if n < LIMIT else "a number below 10^12"
        raise ValueError(f"spanish_to_number: {text!r} is not how {n} is written; expected {expected!r}")
    return n


def sample_numbers(n: int, max_digits: int = 6, seed: int = 0) -> np.ndarray:
    """``n`` distinct numbers with a uniformly drawn number of digits (1..max_digits), then uniform among
    those: short numbers are as frequent as long ones, as far as there are enough of them.

    Raises ``ValueError`` when fewer than ``n`` distinct numbers exist below 10^max_digits.
    """
    if not 1 <= int(max_digits) <= 12:
        raise ValueError(f"sample_numbers: max_digits must be in 1..12, got {max_digits}")
    if n > 10 ** max_digits:
        raise ValueError(f"sample_numbers: only {10 ** max_digits} numbers have at most {max_digits} digits, "
                         f"asked for {n}")
    rng = np.random.default_rng(seed)
    seen: dict[int, None] = {}
    while len(seen) < n:
        d = rng.integers(1, max_digits + 1, size=2 * (n - len(seen)) + 16)
        lo = np.where(d == 1, 0, 10 ** (d - 1))
        draws = lo + (rng.random(d.size) * (10 ** d - lo)).astype(np.int64)
        for v in draws.tolist():
            seen.setdefault(int(v), None)
            if len(seen) == n:
                break
    return np.fromiter(seen, np.int64, count=n)


DIRECTIONS = ("words2digits", "digits2words")


def _tokens(n: int, side: str) -> list[str]:
    return number_to_spanish(n).split() if side == "words" else list(str(n))


@dataclass
class NumberTranslation:
    """A number ↔ words translation data set: vocabularies and, per split, the numbers and the padded ids.

    ``src[split]`` (N, S) and ``tgt[split]`` (N, T) are int64 ids padded with 0; every target is
    ``<bos> tokens <eos>``; ``numbers[split]`` the numbers themselves. ``direction`` is
    'words2digits' (source: words, target: digits) or 'digits2words'.
    """

    direction: str
    src_vocab: Vocab
    tgt_vocab: Vocab
    numbers: dict = field(default_factory=dict)
    src: dict = field(default_factory=dict)
    tgt: dict = field(default_factory=dict)

    @property
    def bos(self) -> int:
        return self.tgt_vocab.index(BOS)

    @property
    def eos(self) -> int:
        return self.tgt_vocab.index(EOS)

    @property
    def pad(self) -> int:
        return self.tgt_vocab.pad_index

    def source_text(self, n: int) -> str:
        return number_to_spanish(n) if self.direction == "words2digits" else str(n)

    def target_text(self, n: int) -> str:
        return str(n) if self.direction == "words2digits" else number_to_spanish(n)

    def decode(self, ids) -> str:
        """Target ids (without <bos>; stops at <eos>) as text: digits joined, words separated by spaces."""
        toks = []
        for i in ids:
            if int(i) == self.eos:
                break
            toks.append(self.tgt_vocab.itos[int(i)])
        return ("" if self.direction == "words2digits" else " ").join(toks)

    def encode_source(self, texts) -> tuple[np.ndarray, np.ndarray]:
        """Source texts (words, or digit strings) as padded ids and lengths."""
        seqs = [self.src_vocab.encode(t.split() if self.direction == "words2digits" else list(t)) for t in texts]
        return pad_sequences(seqs, self.src_vocab.pad_index)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k} {len(v):,}" for k, v in self.numbers.items())
        return (f"NumberTranslation({self.direction}: {sizes}; source vocabulary {len(self.src_vocab)}, "
                f"target vocabulary {len(self.tgt_vocab)})")


def number_translation_data(direction: str = "words2digits", n_train: int = 20000, n_val: int = 1000,
                            n_test: int = 2000, max_digits: int = 6, seed: int = 0) -> NumberTranslation:
    """Draw ``n_train + n_val + n_test`` distinct numbers (:func:`sample_numbers`) and split them at random:
    no test number is seen in training. Vocabularies hold every Spanish number word and the ten digits,
    whether the training split used them or not, so nothing becomes <unk>.

    >>> data = number_translation_data("words2digits", 200, 20, 20, seed=1)
    >>> data.decode(data.tgt["test"][0, 1:]) == str(data.numbers["test"][0])
    True
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"number_translation_data: direction must be one of {DIRECTIONS}, got {direction!r}")
    total = int(n_train) + int(n_val) + int(n_test)
    numbers = sample_numbers(total, max_digits, seed)
    rng = np.random.default_rng(seed + 1)
    numbers = numbers[rng.permutation(total)]
    splits = {"train": numbers[:n_train], "val": numbers[n_train:n_train + n_val],
              "test": numbers[n_train + n_val:]}
    word_list = sorted(set(_VALUES) | {"y", "mil", "millón", "millones"})
    specials = [PAD, UNK, BOS, EOS]
    words_vocab = Vocab(specials + word_list)
    digits_vocab = Vocab(specials + list("0123456789"))
    src_side, tgt_side = ("words", "digits") if direction == "words2digits" else ("digits", "words")
    src_vocab, tgt_vocab = (words_vocab, digits_vocab) if direction == "words2digits" else (digits_vocab, words_vocab)
    data = NumberTranslation(direction, src_vocab, tgt_vocab)
    bos, eos = tgt_vocab.index(BOS), tgt_vocab.index(EOS)
    for name, nums in splits.items():
        src = [src_vocab.encode(_tokens(int(n), src_side)) for n in nums]
        tgt = [[bos] + tgt_vocab.encode(_tokens(int(n), tgt_side)) + [eos] for n in nums]
        data.numbers[name] = nums
        data.src[name] = pad_sequences(src, src_vocab.pad_index)[0] if len(src) else np.zeros((0, 1), np.int64)
        data.tgt[name] = pad_sequences(tgt, tgt_vocab.pad_index)[0] if len(tgt) else np.zeros((0, 2), np.int64)
    return data
