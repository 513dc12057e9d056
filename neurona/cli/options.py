"""The flags several commands share, their defaults, their checks, and how given flags meet a command's defaults.

A command that trains takes the groups of :func:`flag_groups` as argparse
parents (``data``, ``model``, ``train``), built with its own defaults (the
help shows them) and without the flags it has no use for; its options are
then ``merge(args, ITS_DEFAULTS)``: every flag left out takes the command's
default. A value out of range is refused by argparse, in one line, before
anything runs.
"""
from __future__ import annotations

import argparse
import math

from ..optim import OPTIMIZERS
from .output import CLIError

__all__ = ["TRAIN_DEFAULTS", "FULL_BATCH", "flag_groups", "merge", "parse_ints", "batch_size", "positive",
           "nonnegative", "fraction", "count", "at_least_one", "model_names"]

TRAIN_DEFAULTS = {
    "model": "mlp", "hidden": "300,100", "activation": "relu", "dropout": 0.0, "batch_norm": False,
    "optimizer": "adam", "lr": None, "momentum": None, "weight_decay": 0.0, "l1": 0.0, "l2": 0.0,
    "lr_schedule": "plateau", "clip_grad": None, "batch_size": 128, "epochs": 20, "patience": 5, "monitor": "auto",
    "val_split": 0.1,
    "augment": False, "seed": 0, "data": "fashion-mnist", "target": None, "task": "auto", "standardize": True,
    "samples": 1000, "noise": 0.1,
}

FULL_BATCH = "full"  # not None: None means "flag not given" to merge()


# --- checked values --------------------------------------------------------------------------------


def _float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return v


def _int(text: str) -> int:
    try:
        return int(str(text).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def positive(text: str) -> float:
    """argparse type: a finite number > 0 (a learning rate, a clipping norm, a temperature)."""
    v = _float(text)
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return v


def nonnegative(text: str) -> float:
    """argparse type: a finite number >= 0 (a penalty, a weight decay, a noise level)."""
    v = _float(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return v


def fraction(text: str) -> float:
    """argparse type: a fraction in [0, 1) (a split, a dropout rate, a sparsity, a momentum)."""
    v = _float(text)
    if not 0 <= v < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return v


def weight(text: str) -> float:
    """argparse type: a weight in [0, 1]."""
    v = _float(text)
    if not 0 <= v <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return v


def count(text: str) -> int:
    """argparse type: a whole number >= 0 (epochs, patience, a seed)."""
    v = _int(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return v


def at_least_one(text: str) -> int:
    """argparse type: a whole number >= 1."""
    v = _int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return v


def batch_size(text: str):
    """argparse type of ``--batch-size``: a positive integer, or ``full`` for the whole set in one batch."""
    t = str(text).strip().lower()
    if t in ("full", "all"):
        return FULL_BATCH
    try:
        b = int(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'full', got {text!r}") from None
    if b < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'full' (the whole set in one batch), "
                                         f"got {text!r}")
    return b


def parse_ints(text: str, what: str) -> list[int]:
    """Comma-separated layer sizes, e.g. ``300,100``; ``none`` for no hidden layer at all."""
    t = str(text).strip()
    if t.lower() == "none":
        return []
    try:
        values = [int(v) for v in t.replace(" ", "").split(",")]
    except ValueError:
        raise CLIError(f"{what}: expected comma-separated sizes like 300,100 (or 'none' for no hidden layer), "
                       f"got {text!r}") from None
    if any(v < 1 for v in values):
        raise CLIError(f"{what}: layer sizes must be >= 1, got {text!r} (write 'none' for no hidden layer)")
    return values


def merge(args, defaults: dict) -> dict:
    """The command's options: the flags given over the command's ``defaults``."""
    out = {}
    for k, d in defaults.items():
        v = getattr(args, k, None)
        out[k] = d if v is None else v
    if isinstance(out["hidden"], str):
        out["hidden"] = parse_ints(out["hidden"], "--hidden")
    if out.get("batch_size") == FULL_BATCH:
        out["batch_size"] = None  # the whole training set in one batch
    return out


def model_names() -> list[str]:
    """The names ``--model`` accepts: registered models the command can shape for a data set, and the text and
    vision tasks."""
    from ..models.registry import get_model_spec, list_models
    from ..text.tasks import TASKS
    from ..vision.tasks import TASKS as VISION_TASKS

    return [n for n in list_models() if get_model_spec(n).from_cli is not None] + list(TASKS) + list(VISION_TASKS)


# --- the shared flag groups ----------------------------------------------------------------------------


def _default(d: dict, key: str, shown=None) -> str:
    v = d.get(key) if shown is None else shown
    return f" (default {v})"


def flag_groups(defaults: dict | None = None, leave_out=(), data_help: str | None = None
                ) -> dict[str, argparse.ArgumentParser]:
    """The shared flags as argparse parents, ``data``, ``model`` and ``train``, with ``defaults`` in their help.

    ``leave_out``: flag names (``"augment"``, ``"patience"``...) the command
    has no use for; ``data_help`` replaces the help of ``--data``.
    """
    d = TRAIN_DEFAULTS if defaults is None else defaults
    skip = set(leave_out)

    def add(group, dest, *flags, **kwargs):
        if dest not in skip:
            group.add_argument(*flags, dest=dest, **kwargs)

    data = argparse.ArgumentParser(add_help=False)
    g = data.add_argument_group("data")
    add(g, "data", "--data", help=data_help or (
        f"fashion-mnist, fashion-mnist-small, circle, xor, gaussians, spiral, digits, iris, wine, breast_cancer, "
        f"diabetes, or a .csv/.npz file{_default(d, 'data')}"))
    add(g, "target", "--target", help="the column to predict, for --data FILE.csv")
    add(g, "task", "--task", choices=("auto", "classification", "regression"), help="for files: what the target is")
    add(g, "val_split", "--val-split", type=fraction,
        help=f"fraction of the training data held out for validation{_default(d, 'val_split')}; by default at "
             f"least 30 samples, or none with a notice when the data are too few")
    add(g, "samples", "--samples", type=at_least_one, help=f"points of the 2-D toy sets{_default(d, 'samples')}")
    add(g, "noise", "--noise", type=nonnegative, help=f"noise of the 2-D toy sets{_default(d, 'noise')}")
    add(g, "no_standardize", "--no-standardize", action="store_true",
        help="feed raw inputs instead of standardized ones")
    add(g, "seed", "--seed", type=count,
        help=f"seed of the initial weights, shuffling, splits and dropout{_default(d, 'seed')}")

    model = argparse.ArgumentParser(add_help=False)
    g = model.add_argument_group("model")
    add(g, "model", "--model", help=f"{', '.join(model_names())}{_default(d, 'model')}")
    add(g, "hidden", "--hidden", help=f"hidden layer sizes, e.g. 300,100, or 'none'{_default(d, 'hidden')}")
    add(g, "activation", "--activation",
        help=f"relu, tanh, sigmoid, leaky_relu, elu, gelu, ...{_default(d, 'activation')}")
    add(g, "dropout", "--dropout", type=fraction,
        help=f"dropout probability after each hidden layer{_default(d, 'dropout')}")
    add(g, "batch_norm", "--batch-norm", action="store_true", default=None,
        help="batch normalization in the hidden layers")

    train = argparse.ArgumentParser(add_help=False)
    g = train.add_argument_group("training")
    add(g, "optimizer", "--optimizer", choices=tuple(OPTIMIZERS), metavar="OPTIMIZER",
        help=f"{', '.join(OPTIMIZERS)}{_default(d, 'optimizer')}")
    add(g, "lr", "--lr", type=positive,
        help="learning rate" + (_default(d, "lr") if d.get("lr") is not None else
                                " (default: the optimizer's usual one, 1e-3 for adam and rmsprop, 0.01 for sgd)"))
    add(g, "momentum", "--momentum", type=fraction, help="momentum for sgd/momentum/nesterov/rmsprop, in [0, 1)")
    add(g, "weight_decay", "--weight-decay", type=nonnegative, help="the optimizer's weight decay")
    add(g, "l1", "--l1", type=nonnegative, help="L1 penalty λ Σ|w| added to the loss")
    add(g, "l2", "--l2", type=nonnegative, help="L2 penalty λ/2 Σw² added to the loss")
    add(g, "lr_schedule", "--lr-schedule", choices=("none", "plateau", "step", "cosine"),
        help=f"plateau: halve the rate when the validation loss stalls for an epoch; step: ÷10 every third of the "
             f"epochs; cosine: cosine annealing to 0{_default(d, 'lr_schedule')}")
    add(g, "clip_grad", "--clip-grad", type=positive, help="clip the gradient norm to this value (> 0)")
    add(g, "batch_size", "--batch-size", type=batch_size,
        help=f"mini-batch size; 1 = online, 'full' = the whole set{_default(d, 'batch_size')}")
    add(g, "epochs", "--epochs", type=count, help=f"maximum number of epochs{_default(d, 'epochs')}")
    add(g, "patience", "--patience", type=count,
        help=f"early stopping patience in epochs, 0 = off{_default(d, 'patience')}")
    add(g, "monitor", "--monitor", choices=("auto", "val_loss", "val_accuracy"),
        help="what early stopping watches (auto: val_accuracy for classes with 1,000 validation samples or more, "
             "else val_loss)")
    add(g, "augment", "--augment", action="store_true", default=None,
        help="random flips, shifts and rotations of training images")
    g = train.add_argument_group("output")
    add(g, "out", "--out", default="runs", help="folder for runs (default runs/)")
    add(g, "name", "--name", help="run name (default: <model>-<data>-<date>-<time>)")
    add(g, "quiet", "--quiet", action="store_true", help="no progress display")
    return {"data": data, "model": model, "train": train}
