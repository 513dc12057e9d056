"""Optimizers by short name, with the notes' usual settings: ``create_optimizer("nesterov", params)``.

>>> opt = create_optimizer("momentum", model.parameters())        # SGD, lr 0.01, momentum 0.9
>>> opt = create_optimizer("adam", model.parameters(), lr=3e-4)
"""
from __future__ import annotations

__all__ = ["OPTIMIZERS", "create_optimizer"]

#: short name -> (class name in neurona.optim, default learning rate, fixed options)
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


def default_lr(name: str) -> float:
    """The learning rate ``create_optimizer(name, ...)`` uses when none is given."""
    return OPTIMIZERS[_key(name)][1]


def _key(name: str) -> str:
    key = str(name).lower()
    if key not in OPTIMIZERS:
        raise ValueError(f"create_optimizer: unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")
    return key


def create_optimizer(name: str, params, lr: float | None = None, momentum: float | None = None,
                     weight_decay: float = 0.0):
    """The optimizer called ``name`` (see ``OPTIMIZERS``) over ``params``; ``lr=None`` takes its usual rate.

    ``momentum`` applies to the SGD family and RMSprop; ``nesterov`` needs it > 0.
    """
    from . import adam, adaptive, sgd

    cls_name, rate, fixed = OPTIMIZERS[_key(name)]
    kwargs = dict(fixed)
    if momentum is not None:
        if cls_name not in ("SGD", "RMSprop"):
            raise ValueError(f"create_optimizer: momentum applies to sgd, momentum, nesterov and rmsprop, not {name}")
        kwargs["momentum"] = float(momentum)
        if kwargs.get("nesterov") and kwargs["momentum"] <= 0:
            raise ValueError("create_optimizer: nesterov needs momentum > 0")
    if weight_decay:
        kwargs["weight_decay"] = float(weight_decay)
    cls = next(getattr(m, cls_name) for m in (sgd, adaptive, adam) if hasattr(m, cls_name))
    return cls(params, lr=float(lr if lr is not None else rate), **kwargs)
