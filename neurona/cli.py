"""The ``neurona`` command: train, evaluate, predict, inspect and compare networks.

    neurona train                                  # MLP 784-300-100-10 ReLU, Adam 1e-3, batch 128, Fashion-MNIST
    neurona train --data spiral --hidden 32,32 --epochs 100
    neurona train --resume runs/<name> --epochs 30 # continue a run from its last checkpoint
    neurona evaluate runs/<name> [--data ...]
    neurona predict runs/<name> --input shirt.png | rows.csv | arrays.npz
    neurona info runs/<name>/model.npz
    neurona compare --optimizers sgd,momentum,adam,rmsprop
    neurona compare --activations relu,tanh,sigmoid
    neurona boundary --data spiral
    neurona lr-find --optimizer sgd
    neurona prune | quantize | distill ...         # model compression (neurona.compress.cli_commands)

``neurona train`` reproduces the notes' recommendation by default: the MLP
784-300-100-10 with ReLU ("una pirámide"), Adam with learning rate 1e-3,
mini-batches of 128, inputs standardized with statistics of the training
split (x̂ = (x − μ)/sqrt(σ² + ε)), early stopping on a 10 % validation split
(watching the validation error, patience 5, best weights restored), up to 20
epochs. Adam's rate starts at 1e-3 and is halved whenever the validation
loss has not improved for an epoch (``--lr-schedule plateau``; ``none``
keeps it constant): with a constant rate the test accuracy oscillates around
0.885-0.89 after epoch 10, with the halvings it settles near 0.90. Each run writes
``runs/<name>/``: ``model.npz`` (the model with its preprocessing and
metadata), ``checkpoint.npz`` (the state to resume from, saved every epoch),
``config.json``, ``metrics.json``, ``history.csv``, ``learning_curves.png``
and ``confusion_matrix.png`` (plots need matplotlib).
"""
from __future__ import annotations

import argparse
import csv
import datetime as _dt
import json
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["main", "build_parser", "load_data", "DataBundle", "CLIError", "OPTIMIZERS"]


class CLIError(Exception):
    """A problem with the command's input: printed as ``neurona <command>: error: ...``, exit status 1."""


# --- data --------------------------------------------------------------------------

TOY = ("circle", "xor", "gaussians", "spiral")
SKLEARN = ("digits", "iris", "wine", "breast_cancer", "diabetes")
BUILTIN = ("fashion-mnist", "fashion-mnist-small") + TOY + SKLEARN


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
    notes: list[str] = field(default_factory=list)
    embedded_subset: bool = False

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.X_train.shape[1:])

    def info(self) -> dict:
        return {"input_shape": self.input_shape, "n_outputs": self.n_outputs, "task": self.task,
                "is_image": self.is_image}


def _say(msg: str, quiet: bool = False, err: bool = False) -> None:
    if err:
        print(msg, file=sys.stderr, flush=True)
    elif not quiet:
        print(msg, flush=True)


def _loud(msg: str) -> None:
    bar = "!" * 78
    print(f"{bar}\n{msg}\n{bar}", file=sys.stderr, flush=True)


def _fashion(small: bool) -> tuple[tuple, tuple, bool, str | None]:
    from .data import EmbeddedSubsetWarning, fashion_mnist, fashion_mnist_small

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


def _split(X, y, fraction: float, seed: int, stratify: bool):
    from .data import train_val_split

    return train_val_split(X, y, val_fraction=fraction, stratify=stratify, seed=seed)


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


def _read_file_data(path: Path, target, task: str) -> tuple:
    """(X, y, class_names, feature_names, task, explicit test split or None) from a .csv or .npz file."""
    from .data import load_csv

    if not path.exists():
        raise CLIError(f"data file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        if target is None:
            raise CLIError(f"{path}: a CSV file needs --target COLUMN, the name (or index) of the column to predict")
        tgt = int(target) if isinstance(target, str) and target.lstrip("-").isdigit() else target
        X, y, classes = load_csv(path, target=tgt, return_classes=True)
        with open(path, newline="", encoding="utf-8-sig") as f:
            header = next(csv.reader(f), [])
        names = [h.strip() for h in header]
        t_index = names.index(tgt) if isinstance(tgt, str) else int(tgt) % len(names)
        feature_names = [n for i, n in enumerate(names) if i != t_index]
        kind = _decide_task(y, task, classes)
        if kind == "classification" and classes is None:
            y, classes = _classes_from_labels(y)
        return X, y, classes, feature_names, kind, None
    if suffix == ".npz":
        return _read_npz_data(path, task)
    raise CLIError(f"--data {path}: unknown file type {suffix!r}; use a .csv file (with --target) or an .npz file")


def _npz_names(path: Path) -> list[str]:
    """The array names of an .npz file; a damaged or pickled file is a CLIError naming it."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise CLIError(f"{path}: a single .npy array, not an .npz archive of named arrays")
            return list(z.files)
    except CLIError:
        raise
    except Exception as e:  # truncated zip, pickled data, not an archive at all
        raise CLIError(f"{path}: cannot read it as an .npz archive ({type(e).__name__}: {e})") from None


def _read_npz_data(path: Path, task: str):
    from .data import load_npz

    files = set(_npz_names(path))
    test = None
    if {"x_train", "y_train"} <= files:
        X, y = load_npz(path, x="x_train", y="y_train")
        if {"x_test", "y_test"} <= files:
            test = load_npz(path, x="x_test", y="y_test")
    else:
        xk = "x" if "x" in files else "X" if "X" in files else None
        yk = "y" if "y" in files else "Y" if "Y" in files else None
        if xk is None or yk is None:
            raise CLIError(f"{path}: expected arrays 'x' and 'y' (or x_train, y_train[, x_test, y_test]); "
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


def _as_images(X: np.ndarray) -> tuple[np.ndarray, bool]:
    """(N,H,W) or (N,C,H,W) arrays become float NCHW in [0, 1] (uint8 divided by 255)."""
    if X.ndim == 3:
        X = X[:, None]
    if X.ndim != 4:
        return X, False
    if X.dtype == np.uint8:
        X = X.astype(np.float32) / np.float32(255.0)
    return X.astype(np.float32, copy=False), True


def load_data(spec: str, *, target=None, task: str = "auto", seed: int = 0, val_split: float = 0.1,
              samples: int = 1000, noise: float = 0.1, test_split: float = 0.2, whole_file: bool = False) -> DataBundle:
    """Load the data set named by ``--data``: split into train/validation/test, labels as 0..K-1.

    ``spec``: fashion-mnist, fashion-mnist-small, circle, xor, gaussians,
    spiral, digits, iris, wine, breast_cancer, diabetes, or a path to a .csv
    (with ``target``) or .npz file. With ``whole_file`` a file is used
    entirely as the test set (for ``neurona evaluate``).
    """
    if not 0.0 <= val_split < 1.0:
        raise CLIError(f"--val-split must be in [0, 1), got {val_split}")
    notes: list[str] = []
    class_names = feature_names = None
    is_image = embedded = False
    test = None
    if spec in ("fashion-mnist", "fashion-mnist-small"):
        from .data import CLASSES

        (X, y), test, embedded, note = _fashion(small=spec.endswith("small"))
        if note:
            notes.append(note)
        task, class_names, is_image = "classification", list(CLASSES), True
    elif spec in TOY:
        from . import data

        X, y = getattr(data, f"make_{spec}")(n_samples=int(samples), noise=float(noise), seed=seed)
        task, class_names = "classification", ["class 0", "class 1"]
    elif spec in SKLEARN:
        from .data import load_sklearn

        X, y, class_names, _ = load_sklearn(spec, return_names=True)
        task = "regression" if spec == "diabetes" else "classification"
    else:
        path = Path(spec)
        if not path.suffix and not path.exists():
            raise CLIError(f"--data {spec!r}: not a known data set ({', '.join(BUILTIN)}) nor an existing file")
        X, y, class_names, feature_names, task, test = _read_file_data(path, target, task)
        X, is_image = _as_images(X)
        if test is not None:
            test = (_as_images(test[0])[0], test[1])
    X = np.asarray(X)
    if X.dtype.kind != "f":
        X = X.astype(np.float32)
    if X.dtype != np.float32:
        X = X.astype(np.float32)
    if not np.isfinite(X).all():
        bad = np.argwhere(~np.isfinite(X))[0]
        raise CLIError(f"--data {spec}: the inputs hold NaN or infinite values (first at sample {bad[0]}, "
                       f"position {tuple(int(i) for i in bad[1:])})")
    if task == "regression":
        y = np.asarray(y, dtype=np.float32)
        if y.ndim == 1:
            y = y[:, None]
        if not np.isfinite(y).all():
            raise CLIError(f"--data {spec}: the targets hold NaN or infinite values")
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
            raise CLIError(f"--data {spec}: only {len(X)} samples; need at least 10 to split off a test set")
        X_tr, X_te, y_tr, y_te = _split(X, y, test_split, seed, stratify)
    X_val = y_val = None
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
    return DataBundle(spec, X_tr, y_tr, X_val, y_val, X_te, y_te, task, n_out, class_names, feature_names,
                      is_image, notes, embedded)


def _data_slug(spec: str) -> str:
    return Path(spec).stem if spec not in BUILTIN else spec


# --- building blocks ------------------------------------------------------------------

# name -> (class name in neurona.optim, default learning rate, fixed options)
OPTIMIZERS = {
    "sgd": ("SGD", 0.01, {}),
    "momentum": ("SGD", 0.01, {"momentum": 0.9}),
    "nesterov": ("SGD", 0.01, {"momentum": 0.9, "nesterov": True}),
    "adagrad": ("Adagrad", 0.01, {}),
    "rmsprop": ("RMSprop", 1e-3, {}),
    "adadelta": ("Adadelta", 1.0, {}),
    "adam": ("Adam", 1e-3, {}),
    "adamw": ("AdamW", 1e-3, {}),
    "adamax": ("Adamax", 2e-3, {}),
    "nadam": ("NAdam", 2e-3, {}),
}


def make_optimizer(name: str, params, lr: float | None = None, momentum: float | None = None,
                   weight_decay: float = 0.0):
    """An optimizer by its command-line name, with the notes' usual defaults."""
    from . import optim

    key = name.lower()
    if key not in OPTIMIZERS:
        raise CLIError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")
    cls_name, default_lr, fixed = OPTIMIZERS[key]
    kwargs = dict(fixed)
    if momentum is not None:
        if cls_name not in ("SGD", "RMSprop"):
            raise CLIError(f"--momentum applies to sgd, momentum, nesterov and rmsprop, not {name}")
        kwargs["momentum"] = float(momentum)
        if kwargs.get("nesterov") and kwargs["momentum"] <= 0:
            raise CLIError("nesterov needs --momentum > 0")
    if weight_decay:
        kwargs["weight_decay"] = float(weight_decay)
    return getattr(optim, cls_name)(params, lr=float(lr if lr is not None else default_lr), **kwargs)


def _parse_ints(text: str, what: str) -> list[int]:
    text = str(text).strip()
    if text in ("", "none", "0"):
        return []
    try:
        values = [int(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise CLIError(f"{what}: expected comma-separated integers like 300,100, got {text!r}") from None
    if any(v < 1 for v in values):
        raise CLIError(f"{what}: layer sizes must be positive, got {text!r}")
    return values


FULL_BATCH = "full"


def _batch_size(text: str):
    t = str(text).strip().lower()
    if t in ("full", "all", "0"):
        return FULL_BATCH  # not None: None means "flag not given" to _options
    try:
        b = int(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'full', got {text!r}") from None
    if b < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'full', got {text!r}")
    return b


def _build_model(opts: dict, data: DataBundle, seed: int):
    from . import manual_seed
    from .models.registry import build_model, get_model_spec

    name = opts["model"]
    try:
        spec = get_model_spec(name)
    except KeyError as e:
        raise CLIError(str(e)) from None
    options = {"hidden": opts["hidden"], "activation": opts["activation"], "dropout": opts["dropout"],
               "batch_norm": opts["batch_norm"]}
    config = spec.from_cli(data.info(), options) if spec.from_cli is not None else {}
    manual_seed(seed)
    try:
        return build_model(name, **config)
    except (TypeError, ValueError) as e:
        raise CLIError(f"cannot build model {name!r}: {e}") from None


def _loss_fn(task: str):
    from . import nn

    return nn.CrossEntropyLoss() if task == "classification" else nn.MSELoss()


def _scalers(data: DataBundle, standardize: bool):
    """(input scaler or None, target scaler or None), fitted on the training split only."""
    from .data import Standardizer

    x_scaler = y_scaler = None
    if standardize and len(data.X_train):
        # images: one mean and deviation per channel (pixels at the border are nearly constant); tables: per feature
        axis = (0, 2, 3) if data.is_image and data.X_train.ndim == 4 else 0
        x_scaler = Standardizer(axis=axis).fit(data.X_train)
    if data.task == "regression" and len(data.y_train):
        y_scaler = Standardizer(axis=0).fit(data.y_train)
    return x_scaler, y_scaler


def _scale(scaler, X):
    if scaler is None or X is None:
        return X
    return np.asarray(scaler.transform(X), dtype=np.float32)


def _augmentation(data: DataBundle, x_scaler, seed: int):
    from .data import Compose, RandomHorizontalFlip, RandomRotation, RandomTranslate

    if not data.is_image:
        raise CLIError(f"--augment works on images; {data.name} is not an image data set")
    fill = 0.0
    if x_scaler is not None:  # the background (raw 0) after standardization
        fill = float(np.asarray(x_scaler.transform(np.zeros((1,) + data.input_shape, np.float32))).ravel()[0])
    return Compose([
        RandomHorizontalFlip(0.5, generator=np.random.default_rng(seed + 11)),
        RandomTranslate(2, fill=fill, generator=np.random.default_rng(seed + 12)),
        RandomRotation(10, fill=fill, generator=np.random.default_rng(seed + 13)),
    ])


def _loaders(data: DataBundle, X_tr, y_tr, X_val, y_val, batch_size, seed: int, transform=None):
    from .data import DataLoader

    train = DataLoader((X_tr, y_tr), batch_size=batch_size, shuffle=True, seed=seed, transform=transform)
    val = DataLoader((X_val, y_val), batch_size=max(batch_size or 0, 512), shuffle=False) \
        if X_val is not None and len(X_val) else None
    return train, val


def _write_json(path: Path, obj) -> None:
    from .io import atomic_write

    with atomic_write(path, "w", encoding="utf-8") as f:
        json.dump(_jsonable(obj), f, indent=2, allow_nan=True)
        f.write("\n")


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    return obj


def _plots_skipped(why: str, quiet: bool) -> None:
    _say(f"plots skipped: {why}", quiet, err=True)


def _new_run_dir(out: str, name: str | None, slug: str) -> Path:
    base = Path(out)
    if name:
        if "/" in name or name in (".", ".."):
            raise CLIError(f"--name must be a plain folder name, got {name!r}")
        run = base / name
        if (run / "checkpoint.npz").exists() or (run / "model.npz").exists():
            raise CLIError(f"{run} already holds a run; choose another --name, or continue it with --resume {run}")
        return run
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run = base / f"{slug}-{stamp}"
    k = 2
    while run.exists():
        run = base / f"{slug}-{stamp}-{k}"
        k += 1
    return run


# --- train ------------------------------------------------------------------------------

TRAIN_DEFAULTS = {
    "model": "mlp", "hidden": "300,100", "activation": "relu", "dropout": 0.0, "batch_norm": False,
    "optimizer": "adam", "lr": None, "momentum": None, "weight_decay": 0.0, "l1": 0.0, "l2": 0.0,
    "lr_schedule": "plateau", "clip_grad": None, "batch_size": 128, "epochs": 20, "patience": 5, "monitor": "auto",
    "val_split": 0.1,
    "augment": False, "seed": 0, "data": "fashion-mnist", "target": None, "task": "auto", "standardize": True,
    "samples": 1000, "noise": 0.1,
}


def _options(args, defaults: dict) -> dict:
    """The command's options: given flags over the command's defaults."""
    out = {}
    for k, d in defaults.items():
        v = getattr(args, k, None)
        out[k] = d if v is None else v
    if isinstance(out["hidden"], str):
        out["hidden"] = _parse_ints(out["hidden"], "--hidden")
    if out.get("batch_size") == FULL_BATCH:
        out["batch_size"] = None  # the whole training set in one batch
    return out


class _RunCheckpoint:
    """Callback (built lazily to keep the import light) saving checkpoint.npz and history.csv each epoch."""

    def __new__(cls, run: Path, loader, x_scaler, meta: dict):
        from .train import Callback

        class RunCheckpoint(Callback):
            def on_epoch_end(self, epoch, logs=None):
                from . import io

                io.save_checkpoint(run / "checkpoint.npz", self.model, self.optimizer, epoch=epoch + 1,
                                   trainer=self.trainer, loader=loader, preprocessing=x_scaler, **meta)
                self.trainer.history.to_csv(run / "history.csv")

        return RunCheckpoint()


def _lr_schedule(kind: str, optimizer, epochs: int):
    from .optim import lr_scheduler as S
    from .train import LearningRateScheduler

    if kind == "none":
        return None
    if kind == "plateau":
        return LearningRateScheduler(S.ReduceLROnPlateau(optimizer, factor=0.5, patience=1), monitor="val_loss",
                                     verbose=1)
    if kind == "step":
        return LearningRateScheduler(S.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.1), verbose=1)
    if kind == "cosine":
        return LearningRateScheduler(S.CosineAnnealingLR(optimizer, T_max=max(1, epochs)))
    raise CLIError(f"--lr-schedule must be none, plateau, step or cosine, got {kind!r}")


def _setup(o: dict, quiet: bool, data: DataBundle | None = None):
    """Data, scalers, model, loss and optimizer for the options ``o``."""
    if data is None:
        data = load_data(o["data"], target=o["target"], task=o["task"], seed=o["seed"], val_split=o["val_split"],
                         samples=o["samples"], noise=o["noise"])
    for note in data.notes:
        _loud(note)
    if o["augment"] and not data.is_image:
        raise CLIError(f"--augment works on images; {data.name} is not an image data set")
    model = _build_model(o, data, o["seed"])
    return data, model


def _monitor(o: dict, data: DataBundle) -> str:
    """What early stopping watches: the validation error rate (through accuracy) for classes, else the loss.

    The notes stop "antes de que el error del set validación empiece a
    aumentar". For classification that error is the misclassification rate:
    the cross-entropy on the validation set often starts rising (the network
    grows over-confident on a few samples) epochs before the error does.
    """
    if o.get("monitor", "auto") != "auto":
        return o["monitor"]
    return "val_accuracy" if data.task == "classification" else "val_loss"


def cmd_train(args) -> int:
    from . import io
    from .text.tasks import is_task, train_task
    from .train import EarlyStopping, TerminateOnNaN, Trainer, weight_penalty

    if is_task(args.model):  # the sequence tasks: language-id, char-lm, word2vec, text-classifier
        return train_task(args)
    quiet = bool(args.quiet)
    resume_dir = Path(args.resume) if args.resume else None
    ckpt_file = None
    if resume_dir is not None:
        given = [k for k in TRAIN_DEFAULTS if k != "epochs" and getattr(args, k, None) is not None]
        given += [k for k in ("no_standardize",) if getattr(args, k, False)]
        given += [k for k in ("name",) if getattr(args, k, None) is not None]
        if given:  # silently training with other options than asked would be worse than refusing
            flags = ", ".join("--" + k.replace("_", "-") for k in given)
            raise CLIError(f"--resume continues {resume_dir} with the options it was started with; only --epochs "
                           f"and --quiet may be given with it, got {flags}")
        ckpt_path = resume_dir / "checkpoint.npz"
        cfg_path = resume_dir / "config.json"
        if not ckpt_path.exists() or not cfg_path.exists():
            raise CLIError(f"--resume {resume_dir}: no checkpoint.npz and config.json there (is it a run folder "
                           f"made by neurona train?)")
        try:
            saved = json.loads(cfg_path.read_text(encoding="utf-8"))["options"]
        except (ValueError, KeyError) as e:
            raise CLIError(f"{cfg_path}: not a valid run configuration ({e})") from None
        o = {**TRAIN_DEFAULTS, **saved}
        if args.epochs is not None:
            o["epochs"] = int(args.epochs)
        ckpt_file = io.read_model_file(ckpt_path)
        run = resume_dir
    else:
        o = _options(args, TRAIN_DEFAULTS)
        if args.no_standardize:
            o["standardize"] = False
        run = None
    if o["epochs"] < 0 or o["patience"] < 0:
        raise CLIError("--epochs and --patience must be >= 0")

    data, model = _setup(o, quiet)
    x_scaler, y_scaler = _scalers(data, o["standardize"])
    if ckpt_file is not None and ckpt_file.preprocessing is not None:
        x_scaler = ckpt_file.preprocessing  # the statistics the run started with
    X_tr, X_val, X_te = _scale(x_scaler, data.X_train), _scale(x_scaler, data.X_val), _scale(x_scaler, data.X_test)
    y_tr, y_val = data.y_train, data.y_val
    if y_scaler is not None:
        y_tr, y_val = _scale(y_scaler, y_tr), _scale(y_scaler, y_val)
    transform = _augmentation(data, x_scaler, o["seed"]) if o["augment"] else None
    train_loader, val_loader = _loaders(data, X_tr, y_tr, X_val, y_val, o["batch_size"], o["seed"], transform)

    optimizer = make_optimizer(o["optimizer"], model.parameters(), o["lr"], o["momentum"], o["weight_decay"])
    loss_fn = _loss_fn(data.task)
    metrics = ["accuracy"] if data.task == "classification" else ["mae"]
    callbacks = []
    if o["patience"] > 0 and val_loader is not None:
        callbacks.append(EarlyStopping(monitor=_monitor(o, data), patience=o["patience"],
                                       restore_best_weights=True))
    if o["lr_schedule"] == "plateau" and val_loader is None:
        if resume_dir is None and getattr(args, "lr_schedule", None) == "plateau":
            raise CLIError("--lr-schedule plateau needs a validation split (--val-split > 0)")
        o["lr_schedule"] = "none"  # the default schedule watches the validation loss; without one, none
    sched = _lr_schedule(o["lr_schedule"], optimizer, o["epochs"])
    if sched is not None:
        callbacks.append(sched)
    callbacks.append(TerminateOnNaN())

    if run is None:
        run = _new_run_dir(args.out, args.name, f"{o['model']}-{_data_slug(o['data'])}")
    meta = {"dataset": o["data"], "task": data.task, "class_names": data.class_names,
            "feature_names": data.feature_names, "input_shape": list(data.input_shape), "is_image": data.is_image,
            "seed": o["seed"], "samples": o["samples"], "noise": o["noise"], "target": o["target"],
            "options": o, "embedded_subset": data.embedded_subset,
            "target_scaler": y_scaler.state_dict() if y_scaler is not None else None}
    callbacks.append(_RunCheckpoint(run, train_loader, x_scaler, meta))
    trainer = Trainer(model, loss_fn, optimizer, metrics=metrics, callbacks=callbacks, verbose=0 if quiet else 1,
                      penalty=weight_penalty(o["l1"], o["l2"]), clip_grad_norm=o["clip_grad"])

    initial_epoch = 0
    if ckpt_file is not None:
        ckpt = io.load_checkpoint(run / "checkpoint.npz", model=model, optimizer=optimizer, trainer=trainer,
                                  loader=train_loader)
        initial_epoch = ckpt.epoch
        if trainer.stop_reason:
            _say(f"this run had already stopped ({trainer.stop_reason}); writing its results again", quiet)
            initial_epoch = max(initial_epoch, o["epochs"])
        elif initial_epoch >= o["epochs"]:
            _say(f"{run} has already trained {initial_epoch} epochs; pass --epochs N (N > {initial_epoch}) to "
                 f"train more", quiet)
        else:
            _say(f"resuming {run} at epoch {initial_epoch + 1} of {o['epochs']}", quiet)
    else:
        run.mkdir(parents=True, exist_ok=True)
        _write_json(run / "config.json", {"command": "train", "options": o,
                                          "created": _dt.datetime.now().isoformat(timespec="seconds")})
        n_val = 0 if X_val is None else len(X_val)
        _say(f"data: {data.name} — {len(X_tr):,} training, {n_val:,} validation, {len(X_te):,} test samples"
             f"{' (embedded subset)' if data.embedded_subset else ''}", quiet)
        shape = ("-".join(map(str, [math.prod(data.input_shape), *o["hidden"], data.n_outputs])) + " "
                 + o["activation"]) if o["model"] == "mlp" else f"for inputs {data.input_shape}"
        _say(f"model: {o['model']} {shape}, {model.num_parameters():,} parameters; optimizer {o['optimizer']} "
             f"lr={optimizer.param_groups[0]['lr']:g}, batch {o['batch_size'] or 'full'}", quiet)

    start = time.perf_counter()
    try:
        history = trainer.fit(train_loader, val_loader, epochs=o["epochs"], initial_epoch=initial_epoch)
    except KeyboardInterrupt:
        _say(f"\ninterrupted; the last finished epoch is saved. Continue with: neurona train --resume {run}",
             err=True)
        return 130
    seconds = time.perf_counter() - start
    return _finish_run(run, model, loss_fn, data, X_te, x_scaler, y_scaler, history, trainer, meta, o, seconds,
                       quiet)


def _finish_run(run: Path, model, loss_fn, data: DataBundle, X_te, x_scaler, y_scaler, history, trainer, meta: dict,
                o: dict, seconds: float, quiet: bool) -> int:
    from . import io, plot
    from .train import metrics as M
    from .train import predict

    out = predict(model, X_te, batch_size=512)
    results: dict = {"dataset": data.name, "task": data.task, "test_samples": int(len(X_te)),
                     "epochs_trained": len(history), "stop_reason": history.stop_reason or trainer.stop_reason,
                     "train_seconds_this_session": round(seconds, 2), "embedded_subset": data.embedded_subset}
    if "val_loss" in history and len(history):
        best_epoch, best = history.best("val_loss")
        results.update(best_epoch=best_epoch + 1, best_val_loss=best)
    if data.task == "classification":
        y_te = data.y_test
        results["test_loss"] = float(loss_fn(_tensor(out), _tensor(y_te)).item()) if len(y_te) else math.nan
        results["test_accuracy"] = M.accuracy(y_te, out)
        prf = M.precision_recall_f1(y_te, out, num_classes=data.n_outputs)
        cm = M.confusion_matrix(y_te, out, num_classes=data.n_outputs)
        results["macro_f1"] = prf["macro_f1"]
        results["per_class"] = {name: {"precision": prf["precision"][i], "recall": prf["recall"][i],
                                       "f1": prf["f1"][i], "support": int(prf["support"][i])}
                                for i, name in enumerate(data.class_names)}
        results["confusion_matrix"] = cm
    else:
        pred = out if y_scaler is None else np.asarray(y_scaler.inverse_transform(out))
        results.update(test_mse=M.mse(data.y_test, pred), test_mae=M.mae(data.y_test, pred),
                       test_r2=M.r2(data.y_test, pred))
    meta = {**meta, "epochs_trained": len(history),
            "test": {k: v for k, v in results.items() if k.startswith("test_")}}
    io.save(model, run / "model.npz", preprocessing=x_scaler, **meta)
    _write_json(run / "metrics.json", results)
    history.to_csv(run / "history.csv")
    written = ["model.npz", "checkpoint.npz", "config.json", "metrics.json", "history.csv"]
    if plot.available():
        title = f"{o['model']} on {data.name}"
        if len(history):
            plot.learning_curves(history, run / "learning_curves.png", title=title)
            written.append("learning_curves.png")
        if data.task == "classification":
            plot.confusion_matrix(results["confusion_matrix"], data.class_names, run / "confusion_matrix.png",
                                  title=f"test set, accuracy {results['test_accuracy']:.4f}")
            written.append("confusion_matrix.png")
    else:
        _plots_skipped("matplotlib is not installed (pip install 'neurona[plot]')", quiet)
    if data.task == "classification":
        n_ok = int(round(results["test_accuracy"] * len(X_te)))
        print(f"test accuracy: {results['test_accuracy']:.4f} ({n_ok:,}/{len(X_te):,})"
              f"{'  [embedded subset]' if data.embedded_subset else ''}")
    else:
        print(f"test MSE {results['test_mse']:.4g}, MAE {results['test_mae']:.4g}, R² {results['test_r2']:.4f}")
    print(f"run files in {run}/: {', '.join(written)}")
    return 0


def _tensor(a):
    from .creation import tensor

    return tensor(a)


# --- evaluate / predict / info ------------------------------------------------------------


def _model_path(p: str) -> Path:
    path = Path(p)
    if path.is_dir():
        for name in ("model.npz", "checkpoint.npz"):
            if (path / name).exists():
                return path / name
        raise CLIError(f"{path} is a folder without model.npz; pass a model file or a run folder")
    if not path.exists():
        raise CLIError(f"{path}: no such model file")
    return path


def _open_model(p: str):
    from . import io

    path = _model_path(p)
    f = io.read_model_file(path)
    return f, f.build()


def cmd_evaluate(args) -> int:
    from .train import metrics as M
    from .train import predict

    f, model = _open_model(args.model)
    meta = f.metadata
    spec = args.data or meta.get("dataset")
    if spec is None:
        raise CLIError(f"{f.path} does not say which data it was trained on; pass --data")
    data = load_data(spec, target=args.target or meta.get("target"), task=meta.get("task", "auto"),
                     seed=int(meta.get("seed", 0)), samples=int(meta.get("samples", 1000)),
                     noise=float(meta.get("noise", 0.1)), val_split=0.0, whole_file=True)
    for note in data.notes:
        _loud(note)
    expected = meta.get("input_shape")
    if expected is not None and list(data.input_shape) != list(expected) and \
            math.prod(data.input_shape) != math.prod(expected):
        raise CLIError(f"--data {spec}: samples of shape {data.input_shape}, but {f.path} expects "
                       f"{tuple(expected)}")
    X = data.X_test
    if expected is not None:  # e.g. flat 784-value rows for a model trained on 1×28×28 images
        X = X.reshape((len(X),) + tuple(int(s) for s in expected))
    X = _scale(f.preprocessing if hasattr(f.preprocessing, "transform") else None, X)
    out = predict(model, X, batch_size=512)
    task = meta.get("task", data.task)
    print(f"{f.path} on {spec}: {len(X):,} samples")
    if task == "classification":
        n_classes = out.shape[1] if out.ndim == 2 else data.n_outputs
        acc = M.accuracy(data.y_test, out)
        loss = float(_loss_fn("classification")(_tensor(out), _tensor(data.y_test)).item())
        print(f"loss {loss:.4f}  accuracy {acc:.4f}")
        names = meta.get("class_names") or data.class_names
        if names is not None and len(names) != n_classes:
            names = None
        print(M.classification_report(data.y_test, out, names, num_classes=n_classes))
        if args.confusion:
            from . import plot

            if not plot.available():
                _plots_skipped("matplotlib is not installed (pip install 'neurona[plot]')", False)
            else:
                plot.confusion_matrix(M.confusion_matrix(data.y_test, out, n_classes), names, args.confusion)
                print(f"confusion matrix written to {args.confusion}")
    else:
        pred = out
        ts = meta.get("target_scaler")
        if ts is not None:
            from .data import Standardizer

            s = Standardizer()
            s.load_state_dict(ts)
            pred = np.asarray(s.inverse_transform(out))
        print(f"MSE {M.mse(data.y_test, pred):.4g}  MAE {M.mae(data.y_test, pred):.4g}  "
              f"R² {M.r2(data.y_test, pred):.4f}")
    return 0


def _read_features_csv(path: Path, feature_names, target) -> np.ndarray:
    """Rows of numbers from a CSV (header optional); the target column, if present, is dropped."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = [(i + 1, r) for i, r in enumerate(csv.reader(fh)) if r and any(c.strip() for c in r)]
    if not rows:
        raise CLIError(f"{path}: no rows")

    def numeric(cell):
        try:
            float(cell)
            return True
        except ValueError:
            return False

    header = None
    if not all(numeric(c) for c in rows[0][1]):
        header = [c.strip() for c in rows[0][1]]
        rows = rows[1:]
    cols = None
    if header is not None and feature_names:
        missing = [n for n in feature_names if n not in header]
        if missing:
            raise CLIError(f"{path}: missing column(s) {', '.join(missing)}; the model expects "
                           f"{', '.join(feature_names)}")
        cols = [header.index(n) for n in feature_names]
    elif header is not None and target in header:
        cols = [i for i, n in enumerate(header) if n != target]
    out = []
    for line, r in rows:
        cells = [r[c] if c < len(r) else "" for c in cols] if cols is not None else r
        if cols is not None and header:
            names = [header[c] for c in cols]
        else:
            names = header or [f"#{k}" for k in range(len(r))]
        values = []
        for k, cell in enumerate(cells):
            t = cell.strip()
            col = names[k] if k < len(names) else f"#{k}"
            try:
                v = float(t)
            except ValueError:
                raise CLIError(f"{path}, row {line}, column {col!r}: {t!r} is not a number") from None
            if not math.isfinite(v):
                raise CLIError(f"{path}, row {line}, column {col!r}: {t!r} is missing or not finite")
            values.append(v)
        out.append(values)
    widths = {len(v) for v in out}
    if len(widths) != 1:
        raise CLIError(f"{path}: rows have different numbers of values ({sorted(widths)})")
    return np.asarray(out, dtype=np.float32)


def _read_image(path: Path, expected: list | None) -> tuple[np.ndarray, float]:
    """(one sample shaped as the model expects, grey in [0, 1]; the mean brightness of the image's border)."""
    try:
        import matplotlib.image as mpimg
    except ImportError:
        raise CLIError(f"{path}: reading images needs matplotlib, which is not installed "
                       f"(pip install 'neurona[plot]'); or pass the pixels as .npz/.csv") from None
    try:
        img = np.asarray(mpimg.imread(path))
    except Exception as e:  # unreadable or unsupported image
        raise CLIError(f"{path}: cannot read the image ({type(e).__name__}: {e})") from None
    if img.dtype == np.uint8:
        img = img.astype(np.float32) / 255.0
    img = img.astype(np.float32)
    if img.ndim == 3:
        if img.shape[2] == 4:
            img = img[..., :3]
        img = img[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32) if img.shape[2] >= 3 else img[..., 0]
    border = float(np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]]).mean())
    if expected is None:
        return img[None, None], border
    if len(expected) < 2:  # a model of flat inputs: accept an image with as many pixels
        if img.size != math.prod(expected):
            raise CLIError(f"{path}: the image is {img.shape[1]}×{img.shape[0]} = {img.size} pixels; this model "
                           f"expects {math.prod(expected)} values per sample")
        return img.reshape((1,) + tuple(int(s) for s in expected)), border
    h, w = int(expected[-2]), int(expected[-1])
    if img.shape != (h, w):
        raise CLIError(f"{path}: the image is {img.shape[1]}×{img.shape[0]} pixels; this model expects {w}×{h} "
                       f"grey images (resize it first)")
    return img.reshape((1,) + tuple(int(s) for s in expected)), border


def cmd_predict(args) -> int:
    from . import softmax
    from .train import predict

    f, model = _open_model(args.model)
    meta = f.metadata
    path = Path(args.input)
    if not path.exists():
        raise CLIError(f"--input {path}: no such file")
    expected = meta.get("input_shape")
    suffix = path.suffix.lower()
    image = False
    if suffix in (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff"):
        X, border = _read_image(path, expected)
        image = True
        invert = args.invert
        if invert == "auto":
            # a model of flat inputs may have been trained on images too: judge by the data it saw
            looks_like_images = meta.get("is_image") or str(meta.get("dataset") or "").startswith("fashion-mnist") \
                or len(expected or ()) < 2
            invert = "yes" if looks_like_images and border > 0.5 else "no"
            if invert == "yes":
                print(f"{path}: light background detected; inverting it (the training images are light on dark; "
                      f"--invert no to keep it)")
        if invert == "yes":
            X = 1.0 - X
    elif suffix == ".npz":
        files = _npz_names(path)
        known = [k for k in ("x", "X", "x_test", "images") if k in files]
        if not known and len(files) != 1:
            raise CLIError(f"{path}: holds {len(files)} arrays ({', '.join(files) or 'none'}); name the inputs 'x'")
        key = known[0] if known else files[0]
        try:
            with np.load(path, allow_pickle=False) as z:
                X = z[key]
        except ValueError as e:
            raise CLIError(f"{path}: array {key!r} cannot be read without pickle ({e})") from None
        except Exception as e:  # a damaged entry
            raise CLIError(f"{path}: cannot read array {key!r} ({type(e).__name__}: {e})") from None
        if X.dtype.kind not in "fiub":
            raise CLIError(f"{path}: array has dtype {X.dtype}, expected numbers")
        X, _ = _as_images(X) if meta.get("is_image") and X.ndim in (3, 4) else (X, False)
    elif suffix == ".csv":
        X = _read_features_csv(path, meta.get("feature_names"), meta.get("target"))
    else:
        raise CLIError(f"--input {path}: unknown file type {suffix!r}; use .csv, .npz or an image (.png)")
    X = np.asarray(X, dtype=np.float32)
    if expected is not None:
        per = math.prod(expected)
        if X.ndim >= 2 and math.prod(X.shape[1:]) == per:
            X = X.reshape((len(X),) + tuple(int(s) for s in expected))
        elif X.ndim == 1 and X.size == per:
            X = X.reshape((1,) + tuple(int(s) for s in expected))
        else:
            raise CLIError(f"--input {path}: samples of shape {X.shape[1:] if X.ndim > 1 else X.shape}, but the "
                           f"model expects {tuple(expected)} ({per} values per sample)")
    if not np.isfinite(X).all():
        bad = np.argwhere(~np.isfinite(X))[0]
        raise CLIError(f"--input {path}: NaN or infinite value in sample {bad[0]}")
    X = _scale(f.preprocessing if hasattr(f.preprocessing, "transform") else None, X)
    out = predict(model, X, batch_size=512)
    task = meta.get("task", "classification")
    rows = []
    if task == "classification":
        probs = softmax(_tensor(out), dim=1).array
        names = meta.get("class_names") or [str(i) for i in range(out.shape[1])]
        top = probs.argmax(axis=1)
        for i in range(len(out)):
            rows.append([i, int(top[i]), names[int(top[i])], float(probs[i, top[i]])])
        if len(out) <= 20 or image:
            for i in range(len(out)):
                order = np.argsort(-probs[i])[:max(1, args.top)]
                alts = ", ".join(f"{names[j]} {probs[i, j]:.3f}" for j in order)
                print(f"{'sample ' + str(i) if not image else path.name}: {names[int(top[i])]}   ({alts})")
        header = ["index", "class", "name", "probability"]
    else:
        pred = out
        ts = meta.get("target_scaler")
        if ts is not None:
            from .data import Standardizer

            s = Standardizer()
            s.load_state_dict(ts)
            pred = np.asarray(s.inverse_transform(out))
        for i in range(len(pred)):
            rows.append([i] + [float(v) for v in np.ravel(pred[i])])
        if len(pred) <= 20:
            for r in rows:
                print(f"sample {r[0]}: " + ", ".join(f"{v:.4g}" for v in r[1:]))
        header = ["index"] + [f"prediction_{k}" for k in range(np.asarray(pred).reshape(len(pred), -1).shape[1])]
    if args.output:
        from .io import atomic_write

        with atomic_write(args.output, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(rows)
        print(f"{len(rows)} predictions written to {args.output}")
    elif len(rows) > 20 and not image:
        counts = np.bincount([r[1] for r in rows]) if task == "classification" else None
        print(f"{len(rows)} predictions; pass --output FILE.csv to save them")
        if counts is not None:
            names = meta.get("class_names") or [str(i) for i in range(len(counts))]
            print("predicted classes: " + ", ".join(f"{names[i]} {c}" for i, c in enumerate(counts) if c))
    return 0


def cmd_info(args) -> int:
    from . import io

    path = _model_path(args.model)
    f = io.read_model_file(path)
    h = f.header
    print(f"{path}: neurona {f.kind} file (format version {h['version']}, written by neurona "
          f"{h.get('neurona_version', '?')} on {h.get('created', '?')})")
    if f.model_name is not None:
        print(f"model: {f.model_name} {json.dumps(f.config)}")
    else:
        print("model: weights only (not rebuildable by name)")
    total = 0
    groups: dict[str, list] = {}
    for name, a in f.weights.items():
        layer = name.rsplit(".", 1)[0] if "." in name else ""
        groups.setdefault(layer, []).append((name.rsplit(".", 1)[-1], a))
    model = None
    if f.model_name is not None:
        try:
            model = f.build()
        except io.ModelFileError as e:
            print(f"warning: {e.problem}")
    if model is not None:
        print("\n" + repr(model))
    print(f"\n{'layer':<28} {'tensors':<40} {'parameters':>12}")
    learnable = {n for n, _ in model.named_parameters()} if model is not None else None
    for layer, items in groups.items():
        n = sum(int(a.size) for k, a in items if learnable is None or f"{layer}.{k}".lstrip(".") in learnable)
        total += n
        shapes = ", ".join(f"{k} {tuple(a.shape)}" for k, a in items)
        print(f"{layer or '(model)':<28} {shapes:<40} {n:>12,}")
    print(f"{'total learnable parameters':<69} {total:>12,}")
    if model is not None and f.metadata.get("input_shape") is not None:
        from .models.summary import format_summary, summary

        shape = tuple(f.metadata["input_shape"])
        try:
            rows = summary(model, shape, dtype=f.metadata.get("input_dtype"))
        except (ValueError, TypeError, IndexError) as e:
            print(f"\nper-layer output shapes: not available ({e})")
        else:
            print(f"\nper-layer output shapes, for one input of shape {shape}:\n{format_summary(rows)}")
    meta = f.metadata
    if meta:
        print("\ntraining metadata:")
        for k in ("dataset", "task", "input_shape", "class_names", "epochs_trained", "epoch", "seed", "test",
                  "embedded_subset"):
            if k in meta and meta[k] is not None:
                print(f"  {k}: {_short(meta[k])}")
        opts = meta.get("options")
        if isinstance(opts, dict):
            keys = ("optimizer", "lr", "batch_size", "epochs", "patience", "dropout", "l1", "l2", "augment")
            print("  options: " + ", ".join(f"{k}={opts[k]}" for k in keys if k in opts))
    if f.preprocessing is not None:
        print(f"preprocessing: {type(f.preprocessing).__name__}")
    if f.kind == "checkpoint":
        opt = h.get("optimizer") or {}
        print(f"checkpoint: epoch {h.get('epoch')}, optimizer {opt.get('class', 'none')}")
    return 0


def _short(v) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k}={_short(x)}" for k, x in v.items())
    if isinstance(v, float):
        return f"{v:.4f}"
    if isinstance(v, list) and len(v) > 12:
        return str(v[:12])[:-1] + ", ...]"
    return str(v)


# --- compare / boundary / lr-find -------------------------------------------------------

COMPARE_DEFAULTS = {**TRAIN_DEFAULTS, "epochs": 10, "patience": 0, "lr_schedule": "none"}
BOUNDARY_DEFAULTS = {**TRAIN_DEFAULTS, "lr_schedule": "none", "data": "spiral", "hidden": "64,64", "epochs": 200,
                     "lr": 0.01, "batch_size": 32, "patience": 0, "val_split": 0.0, "samples": 1000, "noise": 0.05}


def _prepared(o: dict, quiet: bool):
    data, _ = _setup({**o, "augment": False}, quiet)
    x_scaler, y_scaler = _scalers(data, o["standardize"])
    X_tr, X_val, X_te = _scale(x_scaler, data.X_train), _scale(x_scaler, data.X_val), _scale(x_scaler, data.X_test)
    y_tr, y_val = data.y_train, data.y_val
    if y_scaler is not None:
        y_tr, y_val = _scale(y_scaler, y_tr), _scale(y_scaler, y_val)
    return data, x_scaler, y_scaler, X_tr, y_tr, X_val, y_val, X_te


def cmd_compare(args) -> int:
    from . import plot
    from .train import EarlyStopping, TerminateOnNaN, evaluate, fit, weight_penalty

    if bool(args.optimizers) == bool(args.activations):
        raise CLIError("give exactly one of --optimizers LIST or --activations LIST")
    quiet = bool(args.quiet)
    o = _options(args, COMPARE_DEFAULTS)
    o["standardize"] = not args.no_standardize
    what = "optimizer" if args.optimizers else "activation"
    variants = [v.strip() for v in (args.optimizers or args.activations).split(",") if v.strip()]
    if len(variants) < 1:
        raise CLIError(f"--{what}s: give a comma-separated list")
    for v in variants:
        if what == "optimizer" and v.lower() not in OPTIMIZERS:
            raise CLIError(f"unknown optimizer {v!r}; choose from {', '.join(OPTIMIZERS)}")
    data, x_scaler, y_scaler, X_tr, y_tr, X_val, y_val, X_te = _prepared(o, quiet)
    run = _new_run_dir(args.out, args.name, f"compare-{what}s-{_data_slug(o['data'])}")
    histories, summary = {}, {}
    metrics = ["accuracy"] if data.task == "classification" else ["mae"]
    y_te = data.y_test if y_scaler is None else _scale(y_scaler, data.y_test)
    for v in variants:
        ov = {**o, what: v}
        model = _build_model(ov, data, o["seed"])  # same seed: every variant starts from the same weights
        optimizer = make_optimizer(ov["optimizer"], model.parameters(), o["lr"], o["momentum"], o["weight_decay"])
        train_loader, val_loader = _loaders(data, X_tr, y_tr, X_val, y_val, o["batch_size"], o["seed"])
        cbs = [TerminateOnNaN()]
        if o["patience"] > 0 and val_loader is not None:
            cbs.append(EarlyStopping(patience=o["patience"]))
        _say(f"== {what} {v} (lr {optimizer.param_groups[0]['lr']:g}) ==", quiet)
        start = time.perf_counter()
        h = fit(model, _loss_fn(data.task), optimizer, train_loader, val_loader, epochs=o["epochs"], callbacks=cbs,
                metrics=metrics, verbose=0 if quiet else 1, penalty=weight_penalty(o["l1"], o["l2"]))
        elapsed = time.perf_counter() - start
        test = evaluate(model, _loss_fn(data.task), (X_te, y_te), metrics)
        histories[v] = h
        summary[v] = {"lr": optimizer.param_groups[0]["lr"], "epochs": len(h), "seconds": round(elapsed, 2),
                      "final_loss": h["loss"][-1] if len(h) else None,
                      **{f"test_{k}": val for k, val in test.items()}}
        if "val_loss" in h:
            summary[v]["best_val_loss"] = h.best("val_loss")[1]
        h.to_csv(run / f"history_{v}.csv")
    _write_json(run / "compare.json", {"compare": what, "data": o["data"], "options": o, "results": summary})
    key = "test_accuracy" if data.task == "classification" else "test_mae"
    print(f"\n{what:<12} {'lr':>8} {'epochs':>7} {'final loss':>11} {key:>14} {'seconds':>8}")
    for v, s in summary.items():
        fl = s["final_loss"]
        print(f"{v:<12} {s['lr']:>8g} {s['epochs']:>7} {fl if fl is None else f'{fl:.4f}':>11} "
              f"{s[key]:>14.4f} {s['seconds']:>8.1f}")
    files = ["compare.json"] + [f"history_{v}.csv" for v in variants]
    if plot.available():
        metric = "accuracy" if data.task == "classification" else "mae"
        keys = ("loss", "val_loss", "val_" + metric) if X_val is not None else ("loss", metric)
        plot.compare_curves(histories, run / "compare.png", metrics=keys,
                            title=f"{what}s compared on {data.name} ({o['model']} {o['hidden']})")
        files.append("compare.png")
    else:
        _plots_skipped("matplotlib is not installed (pip install 'neurona[plot]')", quiet)
    print(f"run files in {run}/: {', '.join(files)}")
    return 0


def cmd_boundary(args) -> int:
    from . import io, plot
    from .train import TerminateOnNaN, fit, predict, weight_penalty
    from .train import metrics as M

    quiet = bool(args.quiet)
    if not plot.available():
        raise CLIError("boundary draws a PNG and needs matplotlib, which is not installed (pip install "
                       "'neurona[plot]')")
    o = _options(args, BOUNDARY_DEFAULTS)
    o["standardize"] = not args.no_standardize
    if args.model_file:
        f, model = _open_model(args.model_file)
        meta = f.metadata
        spec = args.data or meta.get("dataset") or o["data"]
        data = load_data(spec, target=meta.get("target"), seed=int(meta.get("seed", 0)),
                         samples=int(meta.get("samples", o["samples"])), noise=float(meta.get("noise", o["noise"])),
                         val_split=0.0)
        x_scaler = f.preprocessing if hasattr(f.preprocessing, "transform") else None
        run = Path(args.output).parent if args.output else _model_path(args.model_file).parent
        out_png = Path(args.output) if args.output else run / "boundary.png"
    else:
        data, x_scaler, _, X_tr, y_tr, X_val, y_val, _ = _prepared(o, quiet)
        model = _build_model(o, data, o["seed"])
    if data.input_shape != (2,) or data.task != "classification":
        raise CLIError(f"boundary needs a 2-D classification data set (circle, xor, gaussians, spiral or a file "
                       f"with two feature columns); {data.name} has inputs of shape {data.input_shape}")
    if not args.model_file:
        optimizer = make_optimizer(o["optimizer"], model.parameters(), o["lr"], o["momentum"], o["weight_decay"])
        train_loader, val_loader = _loaders(data, X_tr, y_tr, X_val, y_val, o["batch_size"], o["seed"])
        fit(model, _loss_fn("classification"), optimizer, train_loader, val_loader, epochs=o["epochs"],
            callbacks=[TerminateOnNaN()], verbose=0 if quiet else 2 if o["epochs"] <= 30 else 0,
            penalty=weight_penalty(o["l1"], o["l2"]))
        run = _new_run_dir(args.out, args.name, f"boundary-{_data_slug(o['data'])}")
        run.mkdir(parents=True, exist_ok=True)
        io.save(model, run / "model.npz", preprocessing=x_scaler, dataset=o["data"], task="classification",
                class_names=data.class_names, input_shape=[2], seed=o["seed"], samples=o["samples"],
                noise=o["noise"], options=o)
        out_png = Path(args.output) if args.output else run / "boundary.png"

    def scores(P):
        return predict(model, _scale(x_scaler, P), batch_size=4096)

    acc_tr = M.accuracy(data.y_train, scores(data.X_train)) if len(data.X_train) else math.nan
    acc_te = M.accuracy(data.y_test, scores(data.X_test))
    X_all = np.concatenate([data.X_train, data.X_test])
    y_all = np.concatenate([data.y_train, data.y_test])
    hidden = o["hidden"] if not args.model_file else (f.config or {}).get("hidden", "?")
    plot.decision_boundary(scores, X_all, y_all, out_png,
                           title=f"{data.name}: hidden {hidden}, train acc {acc_tr:.3f}, test acc {acc_te:.3f}")
    print(f"train accuracy {acc_tr:.4f}, test accuracy {acc_te:.4f}")
    print(f"decision regions written to {out_png}")
    return 0


def cmd_lr_find(args) -> int:
    from . import plot
    from .train import lr_find

    quiet = bool(args.quiet)
    o = _options(args, TRAIN_DEFAULTS)
    o["standardize"] = not args.no_standardize
    data, x_scaler, y_scaler, X_tr, y_tr, X_val, y_val, _ = _prepared(o, quiet)
    model = _build_model(o, data, o["seed"])
    optimizer = make_optimizer(o["optimizer"], model.parameters(), o["lr"], o["momentum"], o["weight_decay"])
    train_loader, _ = _loaders(data, X_tr, y_tr, None, None, o["batch_size"], o["seed"])
    result = lr_find(model, _loss_fn(data.task), optimizer, train_loader, start_lr=args.start_lr,
                     end_lr=args.end_lr, num_iter=args.num_iter)
    if result.suggestion is None:
        print("the loss never fell over the range tried; try a wider range (--start-lr, --end-lr)")
    else:
        print(f"suggested learning rate for {o['optimizer']}: {result.suggestion:.3g} "
              f"(steepest descent of the smoothed loss over {len(result.lrs)} batches"
              f"{', stopped when the loss diverged' if result.diverged else ''})")
    out = Path(args.output) if args.output else Path(args.out) / f"lr_find-{o['optimizer']}-{_data_slug(o['data'])}.png"
    if plot.available():
        result.plot(out)
        print(f"curve written to {out}")
    else:
        _plots_skipped("matplotlib is not installed (pip install 'neurona[plot]')", quiet)
    return 0


# --- argument parsing ----------------------------------------------------------------------


def _common_parents() -> dict[str, argparse.ArgumentParser]:
    d = argparse.ArgumentParser(add_help=False)
    g = d.add_argument_group("data")
    g.add_argument("--data", help="fashion-mnist (default), fashion-mnist-small, circle, xor, gaussians, spiral, "
                                  "digits, iris, wine, breast_cancer, diabetes, or a .csv/.npz file")
    g.add_argument("--target", help="the column to predict, for --data FILE.csv")
    g.add_argument("--task", choices=("auto", "classification", "regression"), help="for files: what the target is")
    g.add_argument("--val-split", dest="val_split", type=float, help="fraction of the training data held out for "
                                                                      "validation (default 0.1)")
    g.add_argument("--samples", type=int, help="points generated for the 2-D toy sets (default 1000)")
    g.add_argument("--noise", type=float, help="noise of the 2-D toy sets (default 0.1; boundary: 0.05)")
    g.add_argument("--no-standardize", dest="no_standardize", action="store_true",
                   help="feed raw inputs instead of standardized ones")
    g.add_argument("--seed", type=int, help="seed of the initial weights, shuffling, splits and dropout (default 0)")

    m = argparse.ArgumentParser(add_help=False)
    g = m.add_argument_group("model")
    g.add_argument("--model", help="registered model name (default mlp); sequence tasks: language-id, char-lm, "
                                   "word2vec, word2vec-cbow, text-classifier")
    g.add_argument("--hidden", help="hidden layer sizes, e.g. 300,100 (default)")
    g.add_argument("--activation", help="relu (default), tanh, sigmoid, leaky_relu, elu, gelu, ...")
    g.add_argument("--dropout", type=float, help="dropout probability after each hidden layer (default 0)")
    g.add_argument("--batch-norm", dest="batch_norm", action="store_true", default=None,
                   help="batch normalization in the hidden layers")

    t = argparse.ArgumentParser(add_help=False)
    g = t.add_argument_group("training")
    g.add_argument("--optimizer", help=f"{', '.join(OPTIMIZERS)} (default adam)")
    g.add_argument("--lr", type=float, help="learning rate (default: 1e-3 for adam and rmsprop, 0.01 for sgd)")
    g.add_argument("--momentum", type=float, help="momentum for sgd/momentum/nesterov/rmsprop")
    g.add_argument("--weight-decay", dest="weight_decay", type=float, help="the optimizer's weight decay")
    g.add_argument("--l1", type=float, help="L1 penalty λ Σ|w| added to the loss")
    g.add_argument("--l2", type=float, help="L2 penalty λ/2 Σw² added to the loss")
    g.add_argument("--lr-schedule", dest="lr_schedule", choices=("none", "plateau", "step", "cosine"),
                   help="plateau (train's default): halve the rate when the validation loss stalls for an "
                        "epoch; step: ÷10 every third of the epochs; cosine: cosine annealing to 0")
    g.add_argument("--clip-grad", dest="clip_grad", type=float, help="clip the gradient norm to this value")
    g.add_argument("--batch-size", dest="batch_size", type=_batch_size,
                   help="mini-batch size (default 128); 1 = online, 'full' = the whole set")
    g.add_argument("--epochs", type=int, help="maximum number of epochs (default 20)")
    g.add_argument("--patience", type=int, help="early stopping patience in epochs, 0 = off (default 5)")
    g.add_argument("--monitor", choices=("auto", "val_loss", "val_accuracy"),
                   help="what early stopping watches (auto: val_accuracy for classes, val_loss for regression)")
    g.add_argument("--augment", action="store_true", default=None,
                   help="random flips, shifts and rotations of training images")
    g.add_argument("--out", default="runs", help="folder for runs (default runs/)")
    g.add_argument("--name", help="run name (default: model-data-date)")
    g.add_argument("--quiet", action="store_true", help="no progress display")
    return {"data": d, "model": m, "train": t}


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    p = argparse.ArgumentParser(prog="neurona", description="Train, evaluate and inspect neural networks "
                                                            "built with neurona.")
    p.add_argument("--version", action="version", version=f"neurona {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    par = _common_parents()
    all3 = [par["data"], par["model"], par["train"]]

    t = sub.add_parser("train", parents=all3, help="train a network (default: the notes' MLP on Fashion-MNIST)",
                       description="Train a network and write runs/<name>/ (model, checkpoint, metrics, history, "
                                   "plots). Defaults: MLP 784-300-100-10 ReLU, Adam 1e-3 (halved when the validation "
                                   "loss stalls), batch 128, standardized inputs, early stopping (patience 5, on the "
                                   "validation accuracy) on a 10%% validation split, at most 20 epochs, "
                                   "Fashion-MNIST.")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue runs/<name> from its last checkpoint (its saved "
                                                       "options are used; --epochs sets the new total)")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="loss, accuracy and per-class report of a model on a data set")
    e.add_argument("model", help="model file or run folder")
    e.add_argument("--data", help="data set (default: the one it was trained on; its test split)")
    e.add_argument("--target", help="target column for a CSV file")
    e.add_argument("--confusion", metavar="PNG", help="also draw the confusion matrix")
    e.set_defaults(func=cmd_evaluate)

    r = sub.add_parser("predict", help="predict for rows of a CSV, arrays of an .npz, or an image")
    r.add_argument("model", help="model file or run folder")
    r.add_argument("--input", required=True, help="file.csv, file.npz or image.png")
    r.add_argument("--output", help="write the predictions to this CSV file")
    r.add_argument("--top", type=int, default=3, help="classes shown per sample (default 3)")
    r.add_argument("--invert", choices=("auto", "yes", "no"), default="auto",
                   help="invert image brightness (auto: when the background is light)")
    r.set_defaults(func=cmd_predict)

    i = sub.add_parser("info", help="architecture, parameter counts and training metadata of a model file")
    i.add_argument("model", help="model file, checkpoint or run folder")
    i.set_defaults(func=cmd_info)

    c = sub.add_parser("compare", parents=all3, help="train the same network with several optimizers or "
                                                     "activations and plot their learning curves together")
    c.add_argument("--optimizers", help="e.g. sgd,momentum,nesterov,adagrad,rmsprop,adam,nadam")
    c.add_argument("--activations", help="e.g. relu,tanh,sigmoid")
    c.set_defaults(func=cmd_compare)

    b = sub.add_parser("boundary", parents=all3, help="decision regions of a network on a 2-D toy set, as a PNG")
    b.add_argument("--model-file", dest="model_file", help="draw an existing model instead of training one")
    b.add_argument("--output", help="PNG path (default runs/<name>/boundary.png)")
    b.set_defaults(func=cmd_boundary)

    lf = sub.add_parser("lr-find", parents=all3, help="learning-rate range test: loss against an exponentially "
                                                      "growing learning rate")
    lf.add_argument("--start-lr", dest="start_lr", type=float, default=1e-6)
    lf.add_argument("--end-lr", dest="end_lr", type=float, default=1.0)
    lf.add_argument("--num-iter", dest="num_iter", type=int, default=200)
    lf.add_argument("--output", help="PNG path")
    lf.set_defaults(func=cmd_lr_find)

    # commands of other parts of the library: prune, quantize, distill
    from .compress.cli_commands import add_subparsers as add_compress_commands

    add_compress_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``neurona`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    from .data import DatasetNotFoundError
    from .io import ModelFileError
    from .models.registry import UnknownModelError

    expected = (CLIError, ModelFileError, DatasetNotFoundError, UnknownModelError, FileNotFoundError, ValueError,
                KeyError, ImportError)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except expected as e:
        if os.environ.get("NEURONA_DEBUG"):
            raise
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"neurona {args.command}: error: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
