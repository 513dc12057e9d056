"""Transfer learning: reuse the weights of a trained network for a new task.

The notes: training from scratch is costly and a small data set cannot fit
many parameters, so "podemos aprovechar los pesos de un modelo ya entrenado
en una tarea similar para nuestro problema". The usual recipe:

1. build the architecture and load the trained weights by name
   (:func:`load_weights`: from a neurona model, a PyTorch ``state_dict``
   saved as ``.npz``, or a ``.safetensors`` file);
2. replace the classifier head for the new number of classes (:func:`replace_head`);
3. freeze the body (:func:`freeze`) and train the head, and/or fine-tune
   everything with a smaller learning rate for the body
   (:func:`param_groups` → ``optim.Adam(param_groups(model, lr=1e-3, body_lr=1e-4))``).

>>> from neurona import models, optim
>>> model = models.LeNet5()
>>> head = models.replace_head(model, 5)           # a new Linear(84, 5)
>>> models.freeze(model)
>>> models.unfreeze(head)
>>> opt = optim.Adam(models.param_groups(model, lr=1e-3, body_lr=1e-4))
"""
from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import numpy as np

from .. import nn
from ..engine import Tensor

__all__ = ["freeze", "unfreeze", "find_head", "replace_head", "param_groups", "load_weights", "read_safetensors",
           "LoadReport"]


def _modules(target) -> list:
    if isinstance(target, nn.Module):
        return [target]
    return list(target)


def freeze(*modules) -> None:
    """Stop training these modules: their parameters get ``requires_grad = False``.

    Frozen parameters receive no gradient, so optimizers leave them as they
    are. Batch-norm layers still update their running statistics in
    ``train()`` mode; call ``.eval()`` on them to fix those too.
    """
    for group in modules:
        for m in _modules(group):
            for p in m.parameters():
                p.requires_grad = False


def unfreeze(*modules) -> None:
    """Train these modules again (``requires_grad = True`` on their parameters)."""
    for group in modules:
        for m in _modules(group):
            for p in m.parameters():
                p.requires_grad = True


def find_head(model: nn.Module) -> tuple[str, nn.Linear]:
    """The classifier head: the last ``Linear`` layer registered in ``model`` (its dotted name and the layer).

    For LeNet5, AlexNet and VGG that is ``classifier.<last>``, for ResNet and
    GoogLeNet ``fc`` (auxiliary classifiers, registered earlier, are not it).
    """
    last = None
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear) and not name.startswith(("aux1", "aux2")):
            last = (name, m)
    if last is None:
        raise ValueError(f"find_head: {type(model).__name__} has no Linear layer to serve as the head")
    return last


def replace_head(model: nn.Module, num_classes: int, bias: bool = True) -> nn.Linear:
    """Put a freshly initialized ``Linear(in_features, num_classes)`` in place of the model's head; return it.

    The model's ``num_classes`` attribute (if any) is updated. Auxiliary
    classifiers (GoogLeNet) keep their heads; replace them by hand if they
    are trained too.
    """
    if int(num_classes) < 1:
        raise ValueError(f"replace_head: num_classes must be positive, got {num_classes}")
    name, old = find_head(model)
    new = nn.Linear(old.in_features, int(num_classes), bias=bias, dtype=old.weight.dtype)
    parent = model.get_submodule(name.rsplit(".", 1)[0]) if "." in name else model
    setattr(parent, name.rsplit(".", 1)[-1], new)
    if hasattr(model, "num_classes"):
        model.num_classes = int(num_classes)
    return new


def param_groups(model: nn.Module, lr: float, body_lr: float | None = None, head: nn.Module | None = None,
                 **options) -> list[dict]:
    """Two optimizer parameter groups: the head at ``lr``, the rest of the model (the body) at ``body_lr``.

    Frozen parameters are left out. ``body_lr`` defaults to ``lr / 10``, a
    common choice for fine-tuning; ``head`` defaults to :func:`find_head`.
    Extra ``options`` (weight_decay, ...) apply to both groups.
    """
    if head is None:
        head = find_head(model)[1]
    head_ids = {id(p) for p in head.parameters()}
    head_params = [p for p in head.parameters() if p.requires_grad]
    body_params = [p for p in model.parameters() if id(p) not in head_ids and p.requires_grad]
    body_lr = lr / 10 if body_lr is None else body_lr
    groups = []
    if body_params:
        groups.append(dict(options, params=body_params, lr=float(body_lr)))
    if head_params:
        groups.append(dict(options, params=head_params, lr=float(lr)))
    if not groups:
        raise ValueError("param_groups: every parameter of the model is frozen; unfreeze something to train")
    return groups


# --- loading weights by name --------------------------------------------------------------------

def read_safetensors(path) -> "OrderedDict[str, np.ndarray]":
    """Read a ``.safetensors`` file (8-byte header length, JSON header, raw little-endian data) into arrays.

    bfloat16 tensors become float32. Nothing is executed: the format holds
    only a JSON header and numbers. The ``safetensors`` package reads the
    data when it is installed (see :mod:`neurona.safetensors`).
    """
    from ..safetensors import load_file

    return load_file(path)


def _read_weights(source) -> dict:
    if isinstance(source, nn.Module):
        return {k: v.array for k, v in source.state_dict().items()}
    if isinstance(source, dict):
        return {k: (v.array if isinstance(v, Tensor) else np.asarray(v)) for k, v in source.items()}
    p = Path(os.fspath(source))
    if p.suffix == ".safetensors":
        return read_safetensors(p)
    with np.load(p, allow_pickle=False) as z:
        names = list(z.files)
        if any(n.startswith("weights/") for n in names):  # a neurona model file: its weights entries
            return {n[len("weights/"):]: z[n] for n in names if n.startswith("weights/")}
        return {n: z[n] for n in names}


class LoadReport(tuple):
    """What :func:`load_weights` did: ``loaded``, ``skipped`` (shape mismatch), ``missing``, ``unexpected`` names."""

    __slots__ = ()

    def __new__(cls, loaded, skipped, missing, unexpected):
        return super().__new__(cls, (loaded, skipped, missing, unexpected))

    loaded = property(lambda self: self[0])
    skipped = property(lambda self: self[1])
    missing = property(lambda self: self[2])
    unexpected = property(lambda self: self[3])

    def __repr__(self) -> str:
        return (f"LoadReport(loaded={len(self.loaded)}, skipped={self.skipped}, missing={self.missing}, "
                f"unexpected={self.unexpected})")


def load_weights(model: nn.Module, source, strict: bool = True, skip_mismatched: bool = False,
                 prefix: str = "") -> LoadReport:
    """Copy weights into ``model`` by parameter name, checking every shape.

    ``source``: a Module, a dict of arrays (a ``state_dict``), a ``.npz`` file
    (e.g. ``numpy.savez(path, **{k: v.numpy() for k, v in torch_model.state_dict().items()})``),
    a neurona model file or a ``.safetensors`` file. PyTorch and neurona use
    the same names for the same architecture (``features.0.weight``,
    ``layer1.0.bn1.running_mean``, ...). ``prefix`` is stripped from the
    source names first (e.g. ``"module."`` or ``"model."``).

    ``strict``: every parameter of the model must be given and every given
    name must exist. ``skip_mismatched``: names whose shapes differ (a head
    for another number of classes, a stem for other input channels) are
    skipped and reported instead of failing. Nothing is changed when any
    check fails. Returns a :class:`LoadReport`.
    """
    weights = _read_weights(source)
    if prefix:
        weights = {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in weights.items()}
    own = model.state_dict(keep_vars=True)
    skipped = []
    usable = {}
    for k, v in weights.items():
        if k in own and tuple(np.shape(v)) != tuple(own[k].shape):
            if skip_mismatched:
                skipped.append(k)
                continue
        usable[k] = v
    missing = [k for k in own if k not in usable and k not in skipped]
    unexpected = [k for k in usable if k not in own]
    if strict and not skip_mismatched and (missing or unexpected):
        parts = []
        if missing:
            parts.append("missing: " + ", ".join(missing))
        if unexpected:
            parts.append("unexpected: " + ", ".join(unexpected))
        raise RuntimeError(f"load_weights: the weights do not match {type(model).__name__} by name "
                           f"({'; '.join(parts)}); pass strict=False to load what matches")
    if strict and skip_mismatched and unexpected:
        raise RuntimeError(f"load_weights: names not in {type(model).__name__}: {', '.join(unexpected)}; "
                           f"pass strict=False to ignore them")
    model.load_state_dict({k: v for k, v in usable.items() if k in own}, strict=False)  # checks shapes, dtypes
    loaded = [k for k in usable if k in own]
    return LoadReport(loaded, skipped, missing, unexpected)
