"""Fashion-MNIST: 70,000 grey 28×28 images of clothes in 10 classes.

60,000 training and 10,000 test images (Zalando Research, MIT licence),
stored as four IDX files. ``fashion_mnist`` finds them, in this order:

1. ``root=`` when given (only there, plus the download into it);
2. ``$NEURONA_DATA/fashion-mnist/`` and ``$NEURONA_DATA/``;
3. ``/usr/share/datasets/fashion-mnist/`` (``apt-get install dataset-fashion-mnist``);
4. ``~/.cache/neurona/fashion-mnist/``;
5. a download from the official mirror into the cache, checked against the
   published MD5 checksums.

A stratified subset of 3,000 + 1,000 images ships inside the package
(``fashion_mnist_small`` or ``subset=True``) so that examples and tests run
on a machine without the real files.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
import warnings
from pathlib import Path

import numpy as np

from .dataset import TensorDataset
from .idx import IDXError, read_idx

CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

MIRROR = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"

# split -> (images, labels), without the .gz the mirror serves
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
SIZES = {"train": 60000, "test": 10000}
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049

# MD5 of the .gz files as published by Zalando Research (README of the dataset)
MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}

SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
EMBEDDED = Path(__file__).parent / "_embedded" / "fashion_mnist_small.npz"
LAYOUTS = ("NHW", "NCHW", "flat")

_urlopen = urllib.request.urlopen  # tests replace it; nothing else should


class DatasetNotFoundError(FileNotFoundError):
    """No usable copy of a dataset was found; the message lists every place tried."""


class EmbeddedSubsetWarning(UserWarning):
    """The small embedded subset of Fashion-MNIST is being used instead of the full set."""


def cache_dir() -> Path:
    """Where downloads go: ``~/.cache/neurona/fashion-mnist``."""
    return Path.home() / ".cache" / "neurona" / "fashion-mnist"


def _find_file(directory: Path, name: str) -> Path | None:
    for candidate in (directory / (name + ".gz"), directory / name):
        if candidate.is_file():
            return candidate
    return None


def _candidate_dirs(root) -> list[tuple[str, Path | None]]:
    """(description, directory) in search order; directory None when not applicable."""
    if root is not None:
        return [("root=", Path(root).expanduser())]
    places: list[tuple[str, Path | None]] = []
    env = os.environ.get("NEURONA_DATA")
    if env:
        base = Path(env).expanduser()
        places += [("$NEURONA_DATA", base / "fashion-mnist"), ("$NEURONA_DATA", base)]
    else:
        places.append(("$NEURONA_DATA", None))
    places += [("system package", SYSTEM_DIR), ("user cache", cache_dir())]
    return places


def _download(url: str, dest: Path, md5: str | None, timeout: float = 60.0) -> None:
    """Fetch ``url`` to ``dest`` atomically: temp file in the same folder, fsync, checksum, rename."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + dest.name + ".", suffix=".part", dir=dest.parent)
    try:
        digest = hashlib.md5(usedforsecurity=False)  # a file checksum, not security
        with os.fdopen(fd, "wb") as out, _urlopen(url, timeout=timeout) as response:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if md5 is not None and digest.hexdigest() != md5:
            raise OSError(f"checksum mismatch for {url}: MD5 {digest.hexdigest()}, expected {md5}")
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _locate(split: str, root, download: bool) -> tuple[Path, Path] | list[str]:
    """The (images, labels) paths of ``split``, or the list of places tried and why each failed."""
    names = FILES[split]
    tried = []
    for what, directory in _candidate_dirs(root):
        if directory is None:
            tried.append(f"{what}: not set")
            continue
        found = [_find_file(directory, n) for n in names]
        if all(found):
            return found[0], found[1]
        missing = ", ".join(n + "(.gz)" for n, f in zip(names, found) if f is None)
        state = "missing " + missing if directory.is_dir() else "no such directory"
        tried.append(f"{what} {directory}: {state}")
    if not download:
        tried.append("download: disabled (download=False)")
        return tried
    target = Path(root).expanduser() if root is not None else cache_dir()
    try:
        paths = []
        for n in names:
            dest = target / (n + ".gz")
            if not dest.is_file():
                _download(MIRROR + n + ".gz", dest, MD5[n + ".gz"])
            paths.append(dest)
        return paths[0], paths[1]
    except Exception as e:  # no network, refused, checksum, disk: report it with the rest
        tried.append(f"download from {MIRROR} into {target}: failed ({type(e).__name__}: {e})")
        return tried


def _not_found_message(split: str, tried: list[str]) -> str:
    images, labels = FILES[split]
    lines = [f"Fashion-MNIST '{split}' split not found. Looked for {images}(.gz) and {labels}(.gz) in:"]
    lines += [f"  {k}. {t}" for k, t in enumerate(tried, 1)]
    lines += [
        "To fix it, do one of:",
        "  - install the system package:  apt-get install -y dataset-fashion-mnist",
        "  - put the four files (from " + MIRROR + ") in a folder and set NEURONA_DATA=<folder> or pass root=<folder>",
        "  - run on a machine with internet access once (download=True) to fill ~/.cache/neurona/fashion-mnist",
        "  - use the small embedded subset: fashion_mnist(split, subset=True) or fallback_to_embedded=True",
    ]
    return "\n".join(lines)


def _read_split(split: str, images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(images_path, expected_magic=IMAGES_MAGIC)
    labels = read_idx(labels_path, expected_magic=LABELS_MAGIC)
    if images.shape[1:] != (28, 28):
        raise IDXError(f"{images_path}: images of shape {images.shape[1:]}, Fashion-MNIST has 28×28")
    if len(images) != len(labels):
        raise IDXError(f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} labels")
    if labels.size and labels.max() >= len(CLASSES):
        raise IDXError(f"{labels_path}: label {int(labels.max())} out of range, Fashion-MNIST has 10 classes")
    if len(images) != SIZES[split]:
        warnings.warn(f"Fashion-MNIST '{split}' at {images_path} has {len(images)} images, "
                      f"the official split has {SIZES[split]}", stacklevel=3)
    return images.astype(np.uint8, copy=False), labels.astype(np.int64)


def _format(images: np.ndarray, labels: np.ndarray, as_float: bool, layout: str):
    if layout not in LAYOUTS:
        raise ValueError(f"fashion_mnist: layout must be one of {LAYOUTS}, got {layout!r}")
    if as_float:
        images = images.astype(np.float32) / np.float32(255.0)
    if layout == "NCHW":
        images = images.reshape(len(images), 1, 28, 28)
    elif layout == "flat":
        images = images.reshape(len(images), 28 * 28)
    return images, labels


def _check_split(split: str) -> None:
    if split not in FILES:
        raise ValueError(f"fashion_mnist: split must be 'train' or 'test', got {split!r}")


def fashion_mnist_small(split: str = "train", as_float: bool = False, layout: str = "NHW",
                        warn: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The embedded subset: 3,000 train / 1,000 test images, 10 balanced classes.

    Drawn with a fixed seed from the official files by ``_embedded/make_subset.py``.
    Returns (images uint8 N×28×28, or float32 in [0, 1] with ``as_float``, labels int64).
    """
    _check_split(split)
    with np.load(EMBEDDED, allow_pickle=False) as z:
        images, labels = z[f"x_{split}"], z[f"y_{split}"].astype(np.int64)
    if warn:
        warnings.warn(f"using the small embedded subset of Fashion-MNIST ({len(images)} '{split}' images of "
                      f"{SIZES[split]}); results will not match the full dataset", EmbeddedSubsetWarning,
                      stacklevel=2)
    return _format(images, labels, as_float, layout)


def fashion_mnist(split: str = "train", root: str | os.PathLike | None = None, as_float: bool = False,
                  layout: str = "NHW", subset: bool = False, download: bool = True,
                  fallback_to_embedded: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Load a Fashion-MNIST split as (images, labels).

    >>> x, y = fashion_mnist("train")          # uint8 (60000, 28, 28), int64 (60000,)
    >>> x, y = fashion_mnist("test", as_float=True, layout="NCHW")   # float32 in [0, 1]

    ``layout``: "NHW", "NCHW" (one channel, for convolutions) or "flat" (N×784).
    ``subset=True`` loads the small embedded subset instead. When the files are
    nowhere to be found, ``DatasetNotFoundError`` lists every place tried and
    how to fix it, unless ``fallback_to_embedded=True``, which warns and
    returns the embedded subset.
    """
    _check_split(split)
    if layout not in LAYOUTS:
        raise ValueError(f"fashion_mnist: layout must be one of {LAYOUTS}, got {layout!r}")
    if subset:
        return fashion_mnist_small(split, as_float=as_float, layout=layout)
    found = _locate(split, root, download)
    if isinstance(found, list):
        message = _not_found_message(split, found)
        if not fallback_to_embedded:
            raise DatasetNotFoundError(message)
        warnings.warn(message.split("\n")[0] + " Using the small embedded subset instead "
                      "(fallback_to_embedded=True).", EmbeddedSubsetWarning, stacklevel=2)
        return fashion_mnist_small(split, as_float=as_float, layout=layout, warn=False)
    images, labels = _read_split(split, *found)
    return _format(images, labels, as_float, layout)


class FashionMNIST(TensorDataset):
    """Fashion-MNIST as a Dataset of (image, label) pairs.

    >>> train = FashionMNIST("train", layout="NCHW")     # float32 images in [0, 1]
    >>> loader = DataLoader(train, batch_size=64, shuffle=True, seed=0)

    Takes the arguments of :func:`fashion_mnist`; images are float32 in
    [0, 1] by default here (``as_float=False`` keeps uint8).
    """

    classes = CLASSES

    def __init__(self, split: str = "train", root: str | os.PathLike | None = None, as_float: bool = True,
                 layout: str = "NHW", subset: bool = False, download: bool = True,
                 fallback_to_embedded: bool = False):
        images, labels = fashion_mnist(split, root=root, as_float=as_float, layout=layout, subset=subset,
                                       download=download, fallback_to_embedded=fallback_to_embedded)
        super().__init__(images, labels)
        self.split = split
        self.images, self.labels = images, labels

    def __repr__(self) -> str:
        return f"FashionMNIST(split={self.split!r}, images {self.images.shape} {self.images.dtype})"
