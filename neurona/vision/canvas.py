"""Scenes for segmentation and detection: Fashion-MNIST items placed at random on a larger canvas.

Each canvas (64 × 64 by default) holds 1 to 4 Fashion-MNIST items (28 × 28 each) at random places, and
comes with both kinds of labels:

- a per-pixel class map for segmentation: 0 for the background, 1 + the item's class on the item's
  pixels (those brighter than ``threshold``), so 11 classes in all;
- a box (``xyxy``, the tight box around the item's pixels) and a class (0-9) per item for detection.

Items may overlap a little: a new item is placed only where its box overlaps every box already there
with IoU ≤ ``max_iou`` (otherwise a new place is drawn; after ``tries`` failures the canvas keeps the
items it has). Where items overlap, the image takes the brighter pixel and the label map the later item.

Everything is drawn from one seeded generator, so the same arguments give the same canvases; the
training canvases are made from the training split of Fashion-MNIST and the test canvases from the test
split, so no item seen in training appears in the test scenes.

>>> from neurona.vision import fashion_canvases
>>> train = fashion_canvases("train", 1000, seed=0)     # doctest: +SKIP
>>> train.images.shape, train.masks.shape, train.boxes[0], train.labels[0]   # doctest: +SKIP
((1000, 1, 64, 64), (1000, 64, 64), array([[ 3., 30., 25., 58.]], dtype=float32), array([9]))
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from ..data.fashion import CLASSES, EmbeddedSubsetWarning, fashion_mnist, fashion_mnist_small

__all__ = ["Canvases", "make_canvases", "fashion_canvases", "SEGMENTATION_CLASSES"]

SEGMENTATION_CLASSES = ("background",) + CLASSES


@dataclass
class Canvases:
    """A set of canvases and their labels (see the module docstring).

    ``images`` (N, 1, S, S) float32 in [0, 1]; ``masks`` (N, S, S) int64 in [0, 11); ``boxes[i]`` (k_i, 4)
    float32 ``xyxy`` in pixels; ``labels[i]`` (k_i,) int64 in [0, 10); ``sources[i]`` the indices of the
    items in the data set they were drawn from.
    """

    images: np.ndarray
    masks: np.ndarray
    boxes: list = field(default_factory=list)
    labels: list = field(default_factory=list)
    sources: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.images)

    def targets(self) -> list[dict]:
        """The boxes and labels as one dict per canvas (the format of ``mean_average_precision``)."""
        return [{"boxes": b, "labels": c} for b, c in zip(self.boxes, self.labels)]

    def __getitem__(self, index) -> "Canvases":
        """A subset (a slice or an array of indices) as Canvases."""
        idx = np.arange(len(self))[index]
        idx = np.atleast_1d(idx)
        return Canvases(self.images[idx], self.masks[idx], [self.boxes[i] for i in idx],
                        [self.labels[i] for i in idx], [self.sources[i] for i in idx])


def _tight_box(item: np.ndarray, threshold: float) -> tuple[int, int, int, int] | None:
    rows = np.flatnonzero((item > threshold).any(axis=1))
    cols = np.flatnonzero((item > threshold).any(axis=0))
    if len(rows) == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _iou(a, b) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def make_canvases(images: np.ndarray, labels: np.ndarray, count: int, size: int = 64, items: tuple = (1, 4),
                  seed: int = 0, max_iou: float = 0.1, threshold: float = 0.1, tries: int = 50) -> Canvases:
    """``count`` canvases of ``size`` × ``size`` made of items drawn from ``images`` (M, h, w) with classes ``labels``.

    ``images`` are floats in [0, 1] or uint8 (divided by 255). Each canvas holds a number of items drawn
    uniformly from ``items`` = (fewest, most). See the module docstring for the labels.
    """
    images = np.asarray(images)
    labels = np.asarray(labels).astype(np.int64)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3 or len(images) != len(labels):
        raise ValueError(f"make_canvases: expected images (M, h, w) and labels (M,), got shapes {images.shape} and "
                         f"{labels.shape}")
    if images.dtype == np.uint8:
        images = images.astype(np.float32) / 255.0
    h, w = images.shape[1:]
    lo, hi = items
    if not 1 <= lo <= hi:
        raise ValueError(f"make_canvases: items must be (fewest, most) with 1 ≤ fewest ≤ most, got {items}")
    if size < max(h, w):
        raise ValueError(f"make_canvases: the canvas ({size}) must be at least as large as an item ({h} × {w})")
    rng = np.random.default_rng(seed)
    out = np.zeros((count, 1, size, size), np.float32)
    masks = np.zeros((count, size, size), np.int64)
    all_boxes, all_labels, all_sources = [], [], []
    for n in range(count):
        want = int(rng.integers(lo, hi + 1))
        boxes, classes, sources = [], [], []
        for _ in range(tries):
            if len(boxes) == want:
                break
            k = int(rng.integers(len(images)))
            top, left = int(rng.integers(size - h + 1)), int(rng.integers(size - w + 1))
            tight = _tight_box(images[k], threshold)
            if tight is None:
                continue
            box = (tight[0] + left, tight[1] + top, tight[2] + left, tight[3] + top)
            if any(_iou(box, b) > max_iou for b in boxes):
                continue
            item = images[k]
            region = out[n, 0, top:top + h, left:left + w]
            np.maximum(region, item, out=region)
            masks[n, top:top + h, left:left + w][item > threshold] = labels[k] + 1
            boxes.append(box)
            classes.append(labels[k])
            sources.append(k)
        all_boxes.append(np.asarray(boxes, np.float32).reshape(-1, 4))
        all_labels.append(np.asarray(classes, np.int64))
        all_sources.append(np.asarray(sources, np.int64))
    return Canvases(out, masks, all_boxes, all_labels, all_sources)


def fashion_canvases(split: str, count: int, size: int = 64, items: tuple = (1, 4), seed: int = 0,
                     subset: bool = False, max_iou: float = 0.1, threshold: float = 0.1) -> Canvases:
    """Canvases made from the ``split`` ('train' or 'test') of Fashion-MNIST (``subset=True``: the embedded
    3,000/1,000-image subset). The same arguments always give the same canvases."""
    if subset:
        x, y = fashion_mnist_small(split, warn=False)
        warnings.warn(f"fashion_canvases: drawing items from the small embedded subset of Fashion-MNIST "
                      f"({len(x):,} '{split}' images)", EmbeddedSubsetWarning, stacklevel=2)
    else:
        x, y = fashion_mnist(split)
    return make_canvases(x, y, count, size=size, items=items, seed=seed, max_iou=max_iou, threshold=threshold)
