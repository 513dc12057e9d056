"""The pieces the training commands assemble from their options: data, model, loss, optimizer, scaling,
loaders and schedules (``train``, ``compare``, ``boundary``, ``lr-find``, ``prune``, ``distill``)."""
from __future__ import annotations

import numpy as np

from ..data import DataBundle
from .output import CLIError, loud

__all__ = ["load_data", "build_model", "loss_fn", "make_optimizer", "scalers", "scale", "augmentation", "loaders",
           "lr_schedule", "monitor", "prepared", "MIN_VALIDATION", "SMALL_VALIDATION", "MIN_DELTA"]

MIN_VALIDATION = 30       # samples a default validation split keeps at least (else none, with a notice)
SMALL_VALIDATION = 1000   # below this, accuracy moves in steps too coarse to stop on: watch the loss instead
MIN_DELTA = 1e-3          # the improvement of the validation loss that counts, for early stopping


def load_data(o: dict, **overrides) -> DataBundle:
    """The data set of options ``o`` (``data``, ``target``, ``task``, ``seed``, ...), its notes said loudly."""
    from ..data import load_dataset

    kwargs = dict(target=o["target"], task=o["task"], seed=o["seed"], val_split=o["val_split"],
                  samples=o["samples"], noise=o["noise"], min_val_samples=int(o.get("min_val_samples") or 0))
    kwargs.update(overrides)
    if str(o["data"]).lower().endswith(".csv") and kwargs["target"] is None:
        raise CLIError(f"--data {o['data']}: a CSV file needs --target COLUMN, the name (or index) of the column "
                       f"to predict")
    data = load_dataset(o["data"], **kwargs)
    for note in data.notes:
        loud(note)
    return data


def build_model(opts: dict, data: DataBundle, seed: int):
    """The registered model ``opts['model']`` shaped for ``data``, its weights drawn with ``seed``."""
    from .. import manual_seed
    from ..models.registry import build_model as build, get_model_spec

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
        return build(name, **config)
    except (TypeError, ValueError) as e:
        raise CLIError(f"cannot build model {name!r}: {e}") from None


def loss_fn(task: str):
    from .. import nn

    return nn.CrossEntropyLoss() if task == "classification" else nn.MSELoss()


def make_optimizer(name: str, params, lr: float | None = None, momentum: float | None = None,
                   weight_decay: float = 0.0):
    """``neurona.optim.create_optimizer``, its refusals worded for the command line."""
    from ..optim import create_optimizer

    try:
        return create_optimizer(name, params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    except ValueError as e:
        raise CLIError(str(e).replace("create_optimizer: ", "").replace("momentum applies", "--momentum applies")
                       .replace("needs momentum", "needs --momentum")) from None


def scalers(data: DataBundle, standardize: bool):
    """(input scaler or None, target scaler or None), fitted on the training split only."""
    from ..data import Standardizer

    x_scaler = y_scaler = None
    if standardize and len(data.X_train):
        # images: one mean and deviation per channel (pixels at the border are nearly constant); tables: per feature
        axis = (0, 2, 3) if data.is_image and data.X_train.ndim == 4 else 0
        x_scaler = Standardizer(axis=axis).fit(data.X_train)
    if data.task == "regression" and len(data.y_train):
        y_scaler = Standardizer(axis=0).fit(data.y_train)
    return x_scaler, y_scaler


def scale(scaler, X):
    """``X`` through a fitted scaler (None: unchanged), as float32."""
    if scaler is None or X is None:
        return X
    return np.asarray(scaler.transform(X), dtype=np.float32)


def augmentation(data: DataBundle, x_scaler, seed: int):
    """Random flips, shifts and rotations of training images, the background filled with its scaled value."""
    from ..data import Compose, RandomHorizontalFlip, RandomRotation, RandomTranslate

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


def loaders(X_tr, y_tr, X_val, y_val, batch_size, seed: int, transform=None, distributed: bool = False):
    """(shuffled training loader, validation loader or None); with ``distributed``, this rank's shares."""
    from ..data import DataLoader

    has_val = X_val is not None and len(X_val)
    if distributed:  # a DistributedSampler's share of each epoch's permutation; every N-th validation example
        from ..distributed import DistributedEvalSampler, DistributedSampler

        sampler = DistributedSampler(range(len(X_tr)), shuffle=True, seed=seed)
        train = DataLoader((X_tr, y_tr), batch_size=batch_size or len(sampler), sampler=sampler, transform=transform)
        val = DataLoader((X_val, y_val), batch_size=max(batch_size or 0, 512),
                         sampler=DistributedEvalSampler(range(len(X_val)))) if has_val else None
        return train, val
    train = DataLoader((X_tr, y_tr), batch_size=batch_size, shuffle=True, seed=seed, transform=transform)
    val = DataLoader((X_val, y_val), batch_size=max(batch_size or 0, 512), shuffle=False) if has_val else None
    return train, val


def lr_schedule(kind: str, optimizer, epochs: int):
    """The ``--lr-schedule`` callback, or None for ``none``."""
    from ..optim import lr_scheduler as S
    from ..train import LearningRateScheduler

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


def monitor(o: dict, data: DataBundle) -> tuple[str, float]:
    """(what early stopping watches, the minimum change that counts as an improvement).

    The notes stop "antes de que el error del set validación empiece a
    aumentar". For classification that error is the misclassification rate:
    the cross-entropy on the validation set often starts rising (the network
    grows over-confident on a few samples) epochs before the error does. On a
    small validation set, though, the accuracy moves in steps of 1/n and
    stalls at its first plateau (a 12-sample set reaching 0.867) while the
    loss still falls: there the loss is watched, with a minimum delta.
    """
    chosen = o.get("monitor", "auto")
    n_val = 0 if data.X_val is None else len(data.X_val)
    if chosen == "auto":
        large = data.task == "classification" and n_val >= SMALL_VALIDATION
        chosen = "val_accuracy" if large else "val_loss"
    return chosen, (MIN_DELTA if chosen == "val_loss" else 0.0)


def prepared(o: dict, **overrides):
    """(data, x_scaler, y_scaler, X_train, y_train, X_val, y_val, X_test): the data of ``o``, scaled."""
    data = load_data(o, **overrides)
    x_scaler, y_scaler = scalers(data, o["standardize"])
    X_tr, X_val, X_te = scale(x_scaler, data.X_train), scale(x_scaler, data.X_val), scale(x_scaler, data.X_test)
    y_tr, y_val = data.y_train, data.y_val
    if y_scaler is not None:
        y_tr, y_val = scale(y_scaler, y_tr), scale(y_scaler, y_val)
    return data, x_scaler, y_scaler, X_tr, y_tr, X_val, y_val, X_te
