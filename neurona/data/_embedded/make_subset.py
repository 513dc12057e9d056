"""Make ``fashion_mnist_small.npz``, the Fashion-MNIST subset shipped with neurona.

Run from the repository root, with the real files installed
(``apt-get install -y dataset-fashion-mnist`` or ``$NEURONA_DATA``):

    python -m neurona.data._embedded.make_subset

It draws, with a fixed seed, 300 training and 100 test images of each of the
10 classes (3,000 + 1,000, balanced), in random order, and stores them as
uint8 with the indices they had in the official files.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from neurona.data.fashion import EMBEDDED, fashion_mnist

SEED = 20230901
PER_CLASS = {"train": 300, "test": 100}


def stratified_indices(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """``per_class`` indices of each class drawn without replacement, then shuffled together."""
    picks = [rng.choice(np.flatnonzero(labels == c), size=per_class, replace=False)
             for c in range(int(labels.max()) + 1)]
    return rng.permutation(np.concatenate(picks))


def main(out: Path = EMBEDDED) -> None:
    rng = np.random.default_rng(SEED)
    arrays = {}
    for split, per_class in PER_CLASS.items():
        images, labels = fashion_mnist(split, download=False)
        idx = stratified_indices(labels, per_class, rng)
        arrays[f"x_{split}"] = images[idx].astype(np.uint8)
        arrays[f"y_{split}"] = labels[idx].astype(np.uint8)
        arrays[f"index_{split}"] = idx.astype(np.int32)
    arrays["seed"] = np.array(SEED, dtype=np.int64)
    np.savez_compressed(out, **arrays)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB): "
          + ", ".join(f"{k} {v.shape}" for k, v in arrays.items()))


if __name__ == "__main__":
    main()
