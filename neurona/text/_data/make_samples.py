"""Regenerate the small text samples shipped with neurona (run by hand; needs the Debian packages).

    apt-get install wamerican wspanish wfrench witalian wngerman wportuguese wdutch fortunes
    python neurona/text/_data/make_samples.py

- words_sample.json: 300 words per language, drawn with seed 0 from the word lists after removing
  words shared by several languages (as ``load_word_lists`` does): ``{"languages": [...],
  "words": {language: [word, ...]}}``.
- fortunes_sample.json: 40 fortunes of at most 300 characters from each of six categories:
  ``{"categories": [...], "fortunes": {category: [text, ...]}}``.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from neurona.text.datasets import load_fortunes, load_word_lists  # noqa: E402

HERE = Path(__file__).parent
CATEGORIES = ["computers", "food", "love", "science", "politics", "sports"]


def main() -> None:
    words, labels, names = load_word_lists(per_language=300, seed=0)
    data = {"languages": names, "words": {n: [w for w, y in zip(words, labels) if y == k] for k, n in enumerate(names)}}
    with open(HERE / "words_sample.json", "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=0)
    texts, labels, cats = load_fortunes(CATEGORIES, max_chars=300)
    rng = np.random.default_rng(0)
    fortunes = {}
    for k, c in enumerate(cats):
        idx = np.flatnonzero(labels == k)
        fortunes[c] = [texts[i] for i in np.sort(rng.choice(idx, min(40, len(idx)), replace=False))]
    with open(HERE / "fortunes_sample.json", "w", encoding="utf-8") as f:
        json.dump({"categories": cats, "fortunes": fortunes}, f, ensure_ascii=False, indent=0)
    for name in ("words_sample.json", "fortunes_sample.json"):
        print(name, os.path.getsize(HERE / name), "bytes")


if __name__ == "__main__":
    main()
