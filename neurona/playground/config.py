"""A playground setup (data, network, training) and the limits every request is held to.

A :class:`Config` is what the page's controls and its URL hold; the server
checks every value against :class:`Limits` before anything changes, and a
refused value comes back as a :class:`ConfigError` naming the setting, the
value and what is allowed.

>>> cfg = Config().updated({"dataset": "spiral", "hidden": [8, 8], "optimizer": "adam", "lr": 0.01})
>>> cfg.hidden, cfg.optimizer
([8, 8], 'adam')
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .datasets import CLASSIFICATION, DATASETS, MAX_CLASSES, REGRESSION
from .model import ACTIVATIONS, FEATURES, INITS

__all__ = ["Config", "Limits", "ConfigError", "OPTIMIZERS", "LOSSES", "DATA_KEYS", "MODEL_KEYS", "LIVE_KEYS"]

# optimizer name -> (neurona.optim class, its hyperparameters besides lr)
OPTIMIZERS = {
    "sgd": ("SGD", ()), "momentum": ("SGD", ("momentum",)), "nesterov": ("SGD", ("momentum",)),
    "adagrad": ("Adagrad", ("eps",)), "rmsprop": ("RMSprop", ("alpha", "eps")),
    "adadelta": ("Adadelta", ("rho", "eps")), "adam": ("Adam", ("beta1", "beta2", "eps")),
    "adamax": ("Adamax", ("beta1", "beta2", "eps")), "nadam": ("NAdam", ("beta1", "beta2", "eps")),
}
LOSSES = ("cross_entropy", "squared_error")
REGULARIZATIONS = ("none", "l1", "l2")
CLIPS = ("none", "norm", "value")


class ConfigError(ValueError):
    """A setting the playground refuses; ``key`` names it."""

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(message)


@dataclass(frozen=True)
class Limits:
    """The bounds on every request; each is refused with a message when exceeded."""

    max_hidden_layers: int = 10
    max_neurons: int = 32
    max_points: int = 5000
    max_batch: int = 1000
    max_upload_bytes: int = 1 << 20
    max_message_bytes: int = 64 << 10
    max_sessions: int = 16
    messages_per_second: float = 40.0
    message_burst: int = 80
    http_per_second: float = 20.0
    http_burst: int = 60

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class Config:
    """Every setting of the page; the defaults are the demo's (circle, 4-2 tanh, SGD 0.03, batch 10)."""

    # data
    dataset: str = "circle"
    problem: str = "classification"
    classes: int = 2
    points: int = 500
    noise: float = 0.0
    ratio: float = 50.0
    seed: int = 1
    # network
    features: list = field(default_factory=lambda: ["x1", "x2"])
    hidden: list = field(default_factory=lambda: [4, 2])
    activation: str = "tanh"
    init: str = "glorot"
    dropout: float = 0.0
    batch_norm: bool = False
    residual: bool = False
    wseed: int = 1
    # training
    loss: str = "cross_entropy"
    optimizer: str = "sgd"
    lr: float = 0.03
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    rho: float = 0.9
    alpha: float = 0.99
    batch: int = 10
    regularization: str = "none"
    reg_rate: float = 0.0
    clip: str = "none"
    clip_value: float = 1.0
    early_stopping: bool = False
    patience: int = 20

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["features"], d["hidden"] = list(self.features), list(self.hidden)
        return d

    def updated(self, changes: dict, limits: Limits | None = None) -> "Config":
        """A new Config with ``changes`` applied and checked; raises ConfigError on the first bad value."""
        if not isinstance(changes, dict):
            raise ConfigError("config", f"config: expected an object of settings, got {type(changes).__name__}")
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ConfigError(unknown[0], f"unknown setting {unknown[0]!r}; settings are {', '.join(sorted(names))}")
        d = self.to_dict()
        d.update(changes)
        return _check(d, limits or Limits())


def _fail(key: str, value: Any, expected: str):
    raise ConfigError(key, f"{key}: {value!r} is not allowed; expected {expected}")


def _choice(d, key, options):
    v = d[key]
    if v not in options:
        _fail(key, v, "one of " + ", ".join(options))
    return v


def _int(d, key, lo, hi):
    v = d[key]
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        _fail(key, v, f"an integer from {lo} to {hi}")
    return v


def _num(d, key, lo, hi, lo_open=False, hi_open=False):
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        _fail(key, v, "a number")
    v = float(v)
    ok = (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
    if not ok:
        _fail(key, v, f"a number in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}")
    return v


def _bool(d, key):
    v = d[key]
    if not isinstance(v, bool):
        _fail(key, v, "true or false")
    return v


def _check(d: dict, lim: Limits) -> Config:
    c = {}
    c["dataset"] = _choice(d, "dataset", DATASETS + ("custom",))
    c["problem"] = _choice(d, "problem", ("classification", "regression"))
    if c["dataset"] in CLASSIFICATION and c["problem"] != "classification":
        raise ConfigError("problem", f"problem: the {c['dataset']} data set is a classification; regression data "
                                     f"sets are {', '.join(REGRESSION)}")
    if c["dataset"] in REGRESSION and c["problem"] != "regression":
        raise ConfigError("problem", f"problem: the {c['dataset']} data set is a regression; classification data "
                                     f"sets are {', '.join(CLASSIFICATION)}")
    c["classes"] = _int(d, "classes", 2, MAX_CLASSES)
    c["points"] = _int(d, "points", 10, lim.max_points)
    c["noise"] = _num(d, "noise", 0, 50)
    c["ratio"] = _num(d, "ratio", 10, 90)
    c["seed"] = _int(d, "seed", 0, 2**31 - 1)
    feats = d["features"]
    if not isinstance(feats, list) or not feats or any(f not in FEATURES for f in feats) \
            or len(set(feats)) != len(feats):
        _fail("features", feats, f"a non-empty list of distinct features from {', '.join(FEATURES)}")
    c["features"] = [f for f in FEATURES if f in feats]  # the page's order
    hidden = d["hidden"]
    if not isinstance(hidden, list) or len(hidden) > lim.max_hidden_layers:
        _fail("hidden", hidden, f"a list of at most {lim.max_hidden_layers} layer sizes")
    for h in hidden:
        if isinstance(h, bool) or not isinstance(h, int) or not 1 <= h <= lim.max_neurons:
            _fail("hidden", hidden, f"layer sizes from 1 to {lim.max_neurons} neurons")
    c["hidden"] = list(hidden)
    c["activation"] = _choice(d, "activation", tuple(ACTIVATIONS))
    c["init"] = _choice(d, "init", INITS)
    c["dropout"] = _num(d, "dropout", 0, 0.9)
    c["batch_norm"] = _bool(d, "batch_norm")
    c["residual"] = _bool(d, "residual")
    c["wseed"] = _int(d, "wseed", 0, 2**31 - 1)
    c["loss"] = _choice(d, "loss", LOSSES)
    if c["problem"] == "regression" and c["loss"] != "squared_error":
        raise ConfigError("loss", "loss: cross-entropy compares class probabilities; a regression uses the "
                                  "squared error")
    c["optimizer"] = _choice(d, "optimizer", tuple(OPTIMIZERS))
    c["lr"] = _num(d, "lr", 0, 10, lo_open=True)
    c["momentum"] = _num(d, "momentum", 0, 1, hi_open=True)
    c["beta1"] = _num(d, "beta1", 0, 1, hi_open=True)
    c["beta2"] = _num(d, "beta2", 0, 1, hi_open=True)
    c["eps"] = _num(d, "eps", 0, 1, lo_open=True)
    c["rho"] = _num(d, "rho", 0, 1, hi_open=True)
    c["alpha"] = _num(d, "alpha", 0, 1, hi_open=True)
    c["batch"] = _int(d, "batch", 1, lim.max_batch)
    c["regularization"] = _choice(d, "regularization", REGULARIZATIONS)
    c["reg_rate"] = _num(d, "reg_rate", 0, 10)
    c["clip"] = _choice(d, "clip", CLIPS)
    c["clip_value"] = _num(d, "clip_value", 0, 1e6, lo_open=True)
    c["early_stopping"] = _bool(d, "early_stopping")
    c["patience"] = _int(d, "patience", 1, 10000)
    return Config(**c)


# which settings need what when they change
DATA_KEYS = ("dataset", "problem", "classes", "points", "noise", "seed")      # new points, new networks
MODEL_KEYS = ("features", "hidden", "activation", "init", "dropout", "batch_norm", "residual", "wseed", "loss",
              "optimizer")                                                     # a new network on the same points
LIVE_KEYS = ("lr", "momentum", "beta1", "beta2", "eps", "rho", "alpha", "batch", "regularization", "reg_rate",
             "clip", "clip_value", "early_stopping", "patience")               # applied while training goes on
