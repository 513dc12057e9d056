"""A data set by name or file, split and ready to train on: :func:`load_dataset` and :class:`DataBundle`.

>>> data = load_dataset("spiral", seed=0)              # a 2-D toy set: 80 % train (10 % of it validation), 20 % test
>>> data = load_dataset("houses.csv", target="price")  # a CSV file: regression, since the prices are not classes
>>> data.X_train.shape, data.n_outputs, data.task

Names: ``fashion-mnist`` (the full set, or the embedded subset with a note
when it cannot be found), ``fashion-mnist-small``, the toy sets ``circle``,
``xor``, ``gaussians``, ``spiral``, scikit-learn's ``digits``, ``iris``,
``wine``, ``breast_cancer``, ``diabetes``; or the path of a ``.csv`` file
(with ``target``) or an ``.npz`` file (arrays ``x``, ``y``, or ``x_train``,
``y_train``, ``x_test``, ``y_test``).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .fashion import DatasetNotFoundError
from .files import DataError

TOY = ("circle", "xor", "gaussians", "spiral")
SKLEARN = ("digits", "iris", "wine", "breast_cancer", "diabetes")
BUILTIN = ("fashion-mnist", "fashion-mnist-small") + TOY + SKLEARN

__all__ = ["DataBundle", "load_dataset", "as_images", "BUILTIN", "TOY", "SKLEARN"]


@dataclass
class DataBundle:
    """One data set, split and ready: arrays per split plus what a model needs to know about them."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray | None
    y_val: np.ndarray | None
    X_test: np.ndarray
    y_test: np.ndarray
    task: str  # "classification" | "regression"
    n_outputs: int
    class_names: list[str] | None = None
    feature_names: list[str] | None = None
    is_image: bool = False
    notes: list[str] = field(default_factory=list)  # warnings nobody should miss (a substitute data set)
    embedded_subset: bool = False
    adjustments: list[str] = field(default_factory=list)  # what load_dataset changed, e.g. the validation size
    input_range: tuple[float, float] | None = None  # min and max of the raw training inputs

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.X_train.shape[1:])

    def info(self) -> dict:
        """What a model builder needs: input shape, number of outputs, task, whether samples are images."""
        return {"input_shape": self.input_shape, "n_outputs": self.n_outputs, "task": self.task,
                "is_image": self.is_image}


def _fashion(small: bool) -> tuple[tuple, tuple, bool, str | None]:
    from .fashion import EmbeddedSubsetWarning, fashion_mnist, fashion_mnist_small

    if small:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EmbeddedSubsetWarning)
            tr = fashion_mnist_small("train", as_float=True, layout="NCHW", warn=False)
            te = fashion_mnist_small("test", as_float=True, layout="NCHW", warn=False)
        return tr, te, True, None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EmbeddedSubsetWarning)
        tr = fashion_mnist("train", as_float=True, layout="NCHW", fallback_to_embedded=True)
        te = fashion_mnist("test", as_float=True, layout="NCHW", fallback_to_embedded=True)
    fell_back = [w for w in caught if issubclass(w.category, EmbeddedSubsetWarning)]
    note = None
    if fell_back:
        first = str(fell_back[0].message).splitlines()[0]
        note = (f"WARNING: the full Fashion-MNIST data set was not found ({first})\n"
                f"Training on the SMALL EMBEDDED SUBSET instead ({len(tr[0]):,} training / {len(te[0]):,} test "
                f"images): accuracy will be well below the full data's.\n"
                f"To get the full set: apt-get install -y dataset-fashion-mnist, or put the four IDX files in a "
                f"folder and set NEURONA_DATA=<folder>.")
    for w in caught:
        if not issubclass(w.category, EmbeddedSubsetWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return tr, te, bool(fell_back), note


def _classes_from_labels(y: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Labels as codes 0..K-1 with the original values as class names."""
    values, codes = np.unique(y, return_inverse=True)
    return codes.astype(np.int64), [str(v) for v in values]


def _decide_task(y: np.ndarray, task: str, classes) -> str:
    if task != "auto":
        return task
    if classes is not None or y.dtype.kind in "iub":
        return "classification" if classes is not None or len(np.unique(y)) <= 50 else "regression"
    return "regression"


def _read_csv(path: Path, target, task: str) -> tuple:
    from .files import csv_columns, load_csv

    if target is None:
        raise DataError(f"{path}: a CSV file needs a target, the name (or index) of the column to predict")
    tgt = int(target) if isinstance(target, str) and target.lstrip("-").isdigit() else target
    X, y, classes = load_csv(path, target=tgt, return_classes=True)
    names = csv_columns(path)
    t_index = names.index(tgt) if isinstance(tgt, str) else int(tgt) % len(names)
    feature_names = [n for i, n in enumerate(names) if i != t_index]
    kind = _decide_task(y, task, classes)
    if kind == "classification" and classes is None:
        y, classes = _classes_from_labels(y)
    return X, y, classes, feature_names, kind, None


def _read_npz(path: Path, task: str):
    from .files import load_npz, npz_names

    files = set(npz_names(path))
    test = None
    if {"x_train", "y_train"} <= files:
        X, y = load_npz(path, x="x_train", y="y_train")
        if {"x_test", "y_test"} <= files:
            test = load_npz(path, x="x_test", y="y_test")
    else:
        xk = "x" if "x" in files else "X" if "X" in files else None
        yk = "y" if "y" in files else "Y" if "Y" in files else None
        if xk is None or yk is None:
            raise DataError(f"{path}: expected arrays 'x' and 'y' (or x_train, y_train[, x_test, y_test]); "
                            f"the file has {', '.join(sorted(files)) or 'none'}")
        X, y = load_npz(path, x=xk, y=yk)
    kind = _decide_task(y, task, None)
    classes = None
    if kind == "classification":
        if test is not None:
            _, classes = _classes_from_labels(np.concatenate([y, test[1]]))
            lookup = {c: i for i, c in enumerate(classes)}
            y = np.array([lookup[str(v)] for v in y], dtype=np.int64)
            test = (test[0], np.array([lookup[str(v)] for v in test[1]], dtype=np.int64))
        else:
            y, classes = _classes_from_labels(y)
    return X, y, classes, None, kind, test


def _read_file(path: Path, target, task: str) -> tuple:
    """(X, y, class_names, feature_names, task, explicit test split or None) from a .csv or .npz file."""
    if not path.exists():
        raise DatasetNotFoundError(f"data file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path, target, task)
    if suffix == ".npz":
        return _read_npz(path, task)
    raise DataError(f"{path}: unknown file type {suffix!r}; use a .csv file (with a target column) or an .npz file")


def as_images(X: np.ndarray) -> tuple[np.ndarray, bool]:
    """(N,H,W) or (N,C,H,W) arrays become float NCHW in [0, 1] (uint8 divided by 255); (array, is_image)."""
    if X.ndim == 3:
        X = X[:, None]
    if X.ndim != 4:
        return X, False
    if X.dtype == np.uint8:
        X = X.astype(np.float32) / np.float32(255.0)
    return X.astype(np.float32, copy=False), True


def _split(X, y, fraction: float, seed: int, stratify: bool):
    from .preprocessing import train_val_split

    return train_val_split(X, y, val_fraction=fraction, stratify=stratify, seed=seed)


def load_dataset(spec: str, *, target=None, task: str = "auto", seed: int = 0, val_split: float = 0.1,
                 samples: int = 1000, noise: float = 0.1, test_split: float = 0.2,
                 whole_file: bool = False, min_val_samples: int = 0) -> DataBundle:
    """Load the data set ``spec`` (a name or a file, see the module docstring), split into train/validation/test.

    Labels become 0..K-1 (``class_names`` keeps the originals). A file with
    its own test split (``x_test``/``y_test``) keeps it; otherwise
    ``test_split`` of the samples are held out for testing (stratified for
    classes), then ``val_split`` of the rest for validation. ``samples`` and
    ``noise`` shape the toy sets. With ``whole_file`` a file is used entirely
    as the test set.

    ``min_val_samples``: a validation split smaller than this grows to it
    while at least twice as many samples are left to train on; with fewer,
    there is no validation split. Either change is said in ``adjustments``
    (a split that would round to no sample at all is dropped the same way).
    """
    if not 0.0 <= val_split < 1.0:
        raise ValueError(f"load_dataset: val_split must be in [0, 1), got {val_split}")
    notes: list[str] = []
    class_names = feature_names = None
    is_image = embedded = False
    test = None
    if spec in ("fashion-mnist", "fashion-mnist-small"):
        from .fashion import CLASSES

        (X, y), test, embedded, note = _fashion(small=spec.endswith("small"))
        if note:
            notes.append(note)
        task, class_names, is_image = "classification", list(CLASSES), True
    elif spec in TOY:
        from . import toy

        X, y = getattr(toy, f"make_{spec}")(n_samples=int(samples), noise=float(noise), seed=seed)
        task, class_names = "classification", ["class 0", "class 1"]
    elif spec in SKLEARN:
        from .sklearn_sets import load_sklearn

        X, y, class_names, _ = load_sklearn(spec, return_names=True)
        task = "regression" if spec == "diabetes" else "classification"
    else:
        path = Path(spec)
        if not path.suffix and not path.exists():
            raise DatasetNotFoundError(f"{spec!r}: not a known data set ({', '.join(BUILTIN)}) nor an existing file")
        X, y, class_names, feature_names, task, test = _read_file(path, target, task)
        X, is_image = as_images(X)
        if test is not None:
            test = (as_images(test[0])[0], test[1])
    X = np.asarray(X)
    if X.dtype != np.float32:
        X = X.astype(np.float32)
    if not np.isfinite(X).all():
        bad = np.argwhere(~np.isfinite(X))[0]
        raise DataError(f"{spec}: the inputs hold NaN or infinite values (first at sample {bad[0]}, "
                        f"position {tuple(int(i) for i in bad[1:])})")
    if task == "regression":
        y = np.asarray(y, dtype=np.float32)
        if y.ndim == 1:
            y = y[:, None]
        if not np.isfinite(y).all():
            raise DataError(f"{spec}: the targets hold NaN or infinite values")
    stratify = task == "classification"
    if whole_file and spec not in BUILTIN:
        X_tr = y_tr = None
        X_te, y_te = X, y
        if test is not None:
            X_te, y_te = test
    elif test is not None:
        X_tr, y_tr = X, y
        X_te, y_te = np.asarray(test[0], dtype=np.float32), test[1]
    else:
        if len(X) < 10:
            raise DataError(f"{spec}: only {len(X)} samples; need at least 10 to split off a test set")
        X_tr, X_te, y_tr, y_te = _split(X, y, test_split, seed, stratify)
    X_val = y_val = None
    adjustments: list[str] = []
    if X_tr is not None and val_split > 0:
        val_split = _validation_fraction(len(X_tr), val_split, int(min_val_samples), adjustments)
    if X_tr is not None and val_split > 0:
        X_tr, X_val, y_tr, y_val = _split(X_tr, y_tr, val_split, seed + 1, stratify)
    if X_tr is None:
        X_tr, y_tr = X_te[:0], y_te[:0]
    if task == "classification":
        n_out = int(max(len(class_names or []), int(np.max(y)) + 1 if len(y) else 0,
                        int(np.max(y_te)) + 1 if len(y_te) else 0))
        if class_names is None:
            class_names = [str(i) for i in range(n_out)]
    else:
        n_out = int(y.shape[1])
    input_range = (float(X_tr.min()), float(X_tr.max())) if X_tr.size else None
    return DataBundle(spec, X_tr, y_tr, X_val, y_val, X_te, y_te, task, n_out, class_names, feature_names,
                      is_image, notes, embedded, adjustments, input_range)


def _validation_fraction(n: int, fraction: float, minimum: int, adjustments: list[str]) -> float:
    """The validation fraction to use on ``n`` training samples (0: none), the reason added to ``adjustments``."""
    n_val = int(round(fraction * n))
    if minimum and n_val < minimum:
        if n - minimum >= 2 * minimum:
            adjustments.append(f"validation split: {minimum} of the {n:,} training samples (not {n_val}), so that "
                               f"early stopping has enough to judge by")
            return minimum / n
        adjustments.append(f"only {n} training samples: no validation split, so no early stopping (every epoch "
                           f"runs); at least {3 * minimum} are needed for a validation split of {minimum}")
        return 0.0
    if n_val == 0 or n_val == n:
        adjustments.append(f"a validation fraction of {fraction:g} of {n} training samples leaves an empty part: "
                           f"no validation split")
        return 0.0
    return fraction


def data_slug(spec: str) -> str:
    """A short name of a data set for folder names: the name itself, or a file's stem."""
    return Path(spec).stem if spec not in BUILTIN else spec
