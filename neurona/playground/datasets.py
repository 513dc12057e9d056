"""The playground's data: the demo's six data sets, CSV uploads and points added by hand.

Points live in the square [−6, 6]² the page draws (the demo's units).
Classification labels are 0..C−1 (2 ≤ C ≤ 6 colours); regression labels are
numbers, in [−1, 1] for the built-in sets.

>>> pts = make_points("spiral", n=500, noise=10, classes=3, ratio=50, seed=1)
>>> pts.X.shape, pts.classes, int(pts.train.sum())
((500, 2), 3, 250)
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["PointSet", "make_points", "parse_csv", "split", "DATASETS", "CLASSIFICATION", "REGRESSION", "DOMAIN",
           "MAX_CLASSES", "DataError"]

DOMAIN = 6.0
MAX_CLASSES = 6
CLASSIFICATION = ("circle", "xor", "gauss", "spiral")
REGRESSION = ("plane", "multigauss")
DATASETS = CLASSIFICATION + REGRESSION


class DataError(ValueError):
    """Data the playground cannot use; the message says what is wrong and what is expected."""


@dataclass
class PointSet:
    """The points of one session.

    X: raw coordinates (N, 2) float32, in the data's own units; ``shift`` and
    ``scale`` map them to the page's square, view = (X − shift)·scale.
    y: int64 classes (classification) or float32 values (regression).
    train: bool (N,), True for the training split.
    target_mean / target_std: regression targets are trained as (y − mean)/std
    (0 and 1 for the built-in sets; an uploaded file's own statistics).
    """

    name: str
    task: str
    X: np.ndarray
    y: np.ndarray
    train: np.ndarray
    classes: int = 0
    class_names: list = field(default_factory=list)
    shift: np.ndarray = field(default_factory=lambda: np.zeros(2, np.float32))
    scale: np.ndarray = field(default_factory=lambda: np.ones(2, np.float32))
    target_mean: float = 0.0
    target_std: float = 1.0

    def __len__(self) -> int:
        return len(self.X)

    @property
    def view(self) -> np.ndarray:
        """The points in the page's square [−6, 6]²."""
        return (self.X - self.shift) * self.scale

    def to_raw(self, view_xy) -> np.ndarray:
        """Page coordinates → the data's own units."""
        return (np.asarray(view_xy, np.float32) / self.scale + self.shift).astype(np.float32)

    def targets(self, mask: np.ndarray) -> np.ndarray:
        """The training targets of the points in ``mask``: class indices, or standardized values (n, 1)."""
        if self.task == "classification":
            return self.y[mask].astype(np.int64)
        return ((self.y[mask] - np.float32(self.target_mean)) / np.float32(self.target_std)).astype(
            np.float32).reshape(-1, 1)

    def to_message(self) -> dict:
        """The points as the page draws them: [x, y, label, is_train] in page coordinates."""
        v = self.view
        if self.task == "regression":
            lab = np.clip((self.y - self.target_mean) / self.target_std, -1.0, 1.0) if len(self) else self.y
            labels = [round(float(t), 4) for t in lab]
        else:
            labels = [int(t) for t in self.y]
        pts = [[round(float(a), 4), round(float(b), 4), lab, bool(t)] for (a, b), lab, t in
               zip(v.tolist(), labels, self.train.tolist())]
        return {"type": "data", "name": self.name, "task": self.task, "classes": self.classes,
                "class_names": list(self.class_names), "points": pts,
                "train": int(self.train.sum()), "test": int((~self.train).sum())}

    def copy(self) -> "PointSet":
        return PointSet(self.name, self.task, self.X.copy(), self.y.copy(), self.train.copy(), self.classes,
                        list(self.class_names), self.shift.copy(), self.scale.copy(), self.target_mean,
                        self.target_std)


# --- the built-in data sets ------------------------------------------------------------


def _polar(r, theta):
    return np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)


def _counts(n: int, k: int) -> list[int]:
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def _circle(rng, n, classes):
    # C concentric bands of the disc of radius 5, with a gap between them (C = 2: a disc inside a ring)
    width = 5.0 / classes
    parts, labels = [], []
    for c, m in enumerate(_counts(n, classes)):
        lo, hi = c * width + (0.0 if c == 0 else 0.1 * width), (c + 1) * width - 0.1 * width
        # uniform over the band's area, not its radius
        r = np.sqrt(rng.uniform(lo * lo, hi * hi, m))
        parts.append(_polar(r, rng.uniform(0, 2 * np.pi, m)))
        labels.append(np.full(m, c))
    return np.concatenate(parts), np.concatenate(labels)


def _xor(rng, n, classes):
    # a C×C board of cells over [−5, 5]², cell (i, j) of class (i + j) mod C, points kept 0.3 away from the cell
    # edges; with two classes the cells are the quadrants and the class is the XOR of the signs
    size = 10.0 / classes
    cells = rng.integers(0, classes, (n, 2))
    pts = -5.0 + cells * size + rng.uniform(0.3, size - 0.3, (n, 2))
    return pts, cells.sum(axis=1) % classes


def _gauss(rng, n, classes):
    # C blobs of standard deviation 1 on a circle of radius 3 (two classes: around (2, 2) and (−2, −2))
    parts, labels = [], []
    for c, m in enumerate(_counts(n, classes)):
        angle = math.pi / 4 + 2 * math.pi * c / classes
        centre = np.array([3 * math.cos(angle), 3 * math.sin(angle)])
        parts.append(rng.normal(centre, 1.0, (m, 2)))
        labels.append(np.full(m, c))
    return np.concatenate(parts), np.concatenate(labels)


def _spiral(rng, n, classes):
    # C arms of 1.75 turns: r = 5t, θ = 1.75·2π·t + 2πc/C
    parts, labels = [], []
    for c, m in enumerate(_counts(n, classes)):
        t = np.sort(rng.uniform(0.0, 1.0, m))
        parts.append(_polar(5 * t, 1.75 * 2 * np.pi * t + 2 * np.pi * c / classes))
        labels.append(np.full(m, c))
    return np.concatenate(parts), np.concatenate(labels)


def _plane(rng, n):
    pts = rng.uniform(-DOMAIN, DOMAIN, (n, 2))
    return pts, (pts[:, 0] + pts[:, 1]) / (2 * DOMAIN)


_BUMPS = [(-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1)]


def _multigauss(rng, n):
    # a sum of six Gaussian bumps of alternating sign, clipped to [−1, 1]
    pts = rng.uniform(-DOMAIN, DOMAIN, (n, 2))
    value = np.zeros(n)
    for cx, cy, sign in _BUMPS:
        value += sign * np.exp(-((pts[:, 0] - cx) ** 2 + (pts[:, 1] - cy) ** 2) / (2 * 1.6 ** 2))
    return pts, np.clip(value, -1.0, 1.0)


def split(n: int, ratio: float, seed: int) -> np.ndarray:
    """A random train mask of ``n`` points with round(ratio % of n) training points."""
    train = np.zeros(n, bool)
    k = int(round(n * ratio / 100.0))
    train[np.random.default_rng([seed, 1]).permutation(n)[:k]] = True
    return train


def make_points(name: str, n: int = 500, noise: float = 0.0, classes: int = 2, ratio: float = 50.0,
                seed: int = 0) -> PointSet:
    """One of the built-in data sets: ``n`` points, ``noise`` in percent, ``ratio`` percent for training.

    Classification noise moves each point by N(0, (noise/100 · 2.5)²) per
    coordinate (labels stay, so classes start to overlap); regression noise
    adds N(0, (noise/100)²) to the value.
    """
    rng = np.random.default_rng(seed)
    if name in CLASSIFICATION:
        if not 2 <= classes <= MAX_CLASSES:
            raise DataError(f"{name}: classes must be 2 to {MAX_CLASSES}, got {classes}")
        X, y = {"circle": _circle, "xor": _xor, "gauss": _gauss, "spiral": _spiral}[name](rng, n, classes)
        if noise:
            X = X + rng.normal(0.0, noise / 100.0 * 2.5, X.shape)
        order = rng.permutation(len(X))
        return PointSet(name, "classification", X[order].astype(np.float32), y[order].astype(np.int64),
                        split(n, ratio, seed), classes, [str(c) for c in range(classes)])
    if name in REGRESSION:
        X, y = (_plane if name == "plane" else _multigauss)(rng, n)
        if noise:
            y = y + rng.normal(0.0, noise / 100.0, y.shape)
        return PointSet(name, "regression", X.astype(np.float32), y.astype(np.float32), split(n, ratio, seed))
    raise DataError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")


# --- your own data --------------------------------------------------------------------


def _number(cell: str):
    try:
        v = float(cell)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def parse_csv(text: str, *, ratio: float = 50.0, seed: int = 0, max_points: int = 5000,
              name: str = "upload.csv", problem: str = "classification") -> PointSet:
    """Points from CSV text: three columns x1, x2, label (a header row is optional).

    Labels that are words, or integers with at most six distinct values, make a
    classification problem (classes in sorted order); any other numbers a
    regression problem, and so do integers when ``problem`` is "regression".
    The points are rescaled to the page's square (the largest |coordinate|
    after centring goes to 5.5); the model files keep that map, so predictions
    take the file's own units.
    """
    rows = [(i + 1, r) for i, r in enumerate(csv.reader(io.StringIO(text))) if r and any(c.strip() for c in r)]
    if not rows:
        raise DataError(f"{name}: no rows; expected lines of x1,x2,label")
    first = rows[0][1]
    if len(first) >= 2 and (_number(first[0]) is None or _number(first[1]) is None):
        rows = rows[1:]  # a header
    if not rows:
        raise DataError(f"{name}: a header but no rows of data")
    if len(rows) > max_points:
        raise DataError(f"{name}: {len(rows)} rows; the playground takes at most {max_points} points")
    xs, labels = [], []
    for line, r in rows:
        if len(r) != 3:
            raise DataError(f"{name}, line {line}: {len(r)} columns; expected 3 (x1, x2, label)")
        a, b = _number(r[0]), _number(r[1])
        if a is None or b is None:
            raise DataError(f"{name}, line {line}: x1 and x2 must be finite numbers, got {r[0]!r} and {r[1]!r}")
        lab = r[2].strip()
        if not lab:
            raise DataError(f"{name}, line {line}: the label is empty")
        try:
            bad = not math.isfinite(float(lab))
        except ValueError:
            bad = False
        if bad:
            raise DataError(f"{name}, line {line}: the label {lab!r} is not a finite number")
        xs.append((a, b))
        labels.append(lab)
    X = np.asarray(xs, dtype=np.float64)
    values = [_number(t) for t in labels]
    distinct = sorted(set(labels), key=lambda t: (_number(t) is None, _number(t) or 0.0, t))
    integers = all(v is not None and float(v).is_integer() for v in values)
    words = any(v is None for v in values)
    if (words or (integers and problem != "regression")) and len(distinct) <= MAX_CLASSES:
        if len(distinct) < 2:
            raise DataError(f"{name}: every point has the label {distinct[0]!r}; a classification needs at least "
                            f"two classes")
        index = {t: k for k, t in enumerate(distinct)}
        task, y, classes, names = "classification", np.array([index[t] for t in labels], np.int64), len(distinct), \
            distinct
    elif words:
        raise DataError(f"{name}: {len(distinct)} different labels; classification takes at most {MAX_CLASSES} "
                        f"classes (or use numbers for a regression)")
    else:
        task, y, classes, names = "regression", np.asarray(values, np.float32), 0, []
    centre = (X.max(axis=0) + X.min(axis=0)) / 2
    half = np.abs(X - centre).max(axis=0)
    scale = 5.5 / np.where(half > 0, half, 1.0)
    pts = PointSet("custom", task, X.astype(np.float32), y, split(len(X), ratio, seed), classes,
                   [str(t) for t in names], centre.astype(np.float32), scale.astype(np.float32))
    if task == "regression":
        pts.target_mean = float(np.mean(y))
        std = float(np.std(y))
        pts.target_std = std if std > 0 else 1.0
    return pts
