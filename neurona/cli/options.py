"""The flags several commands share, their defaults, and how given flags combine with a command's defaults.

A command that trains takes the three groups of :func:`flag_groups` as
argparse parents (``data``, ``model``, ``train``); its options are then
``merge(args, ITS_DEFAULTS)``: every flag left out takes the command's default.
"""
from __future__ import annotations

import argparse

from ..optim import OPTIMIZERS
from .output import CLIError

__all__ = ["TRAIN_DEFAULTS", "FULL_BATCH", "flag_groups", "merge", "parse_ints", "batch_size"]

TRAIN_DEFAULTS = {
    "model": "mlp", "hidden": "300,100", "activation": "relu", "dropout": 0.0, "batch_norm": False,
    "optimizer": "adam", "lr": None, "momentum": None, "weight_decay": 0.0, "l1": 0.0, "l2": 0.0,
    "lr_schedule": "plateau", "clip_grad": None, "batch_size": 128, "epochs": 20, "patience": 5, "monitor": "auto",
    "val_split": 0.1,
    "augment": False, "seed": 0, "data": "fashion-mnist", "target": None, "task": "auto", "standardize": True,
    "samples": 1000, "noise": 0.1,
}

FULL_BATCH = "full"  # not None: None means "flag not given" to merge()


def parse_ints(text: str, what: str) -> list[int]:
    """Comma-separated layer sizes, e.g. ``300,100``; ``none``, ``0`` or nothing is an empty list."""
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


def batch_size(text: str):
    """argparse type of ``--batch-size``: a positive integer, or ``full`` for the whole set in one batch."""
    t = str(text).strip().lower()
    if t in ("full", "all", "0"):
        return FULL_BATCH
    try:
        b = int(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'full', got {text!r}") from None
    if b < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'full', got {text!r}")
    return b


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


def flag_groups() -> dict[str, argparse.ArgumentParser]:
    """The shared flags as argparse parents: ``data``, ``model`` and ``train`` (training and output)."""
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
                                   "word2vec, word2vec-cbow, text-classifier; vision tasks: unet, grid-detector, "
                                   "conv-autoencoder, vae, dcgan")
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
    g.add_argument("--batch-size", dest="batch_size", type=batch_size,
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
