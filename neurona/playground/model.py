"""The network the playground trains: the chosen input features, hidden layers and an output layer.

>>> net = PlaygroundNet(features=["x1", "x2", "sinx1"], hidden=[8, 8], out_features=3, activation="relu")
>>> net(neurona.randn(5, 2)).shape          # raw points (x1, x2) in, one logit per class out
(5, 3)

The model takes the raw point (x₁, x₂) and computes everything else itself,
so a saved model file predicts from the same two numbers a CSV row holds:

    x̃ = (x − shift) · scale                    the input units → the playground's square [−6, 6]²
    s^(0) = features(x̃)                        e.g. (x̃₁, x̃₂, x̃₁², sin x̃₁): the input layer
    φ^(l) = W^(l) s^(l−1) + w0^(l)              then BatchNorm1d on φ^(l) when ``batch_norm``
    s^(l) = g(φ^(l))  [dropout]  [+ s^(l−1)]    the residual term f(s) + s where the widths match
    output = W^(L) s^(L−1) + w0^(L)             logits (classification) or the value (regression)

It is registered as ``"playground"`` in ``neurona.models``, so ``neurona.io.load``
rebuilds it from a model file and ``neurona predict`` runs it.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .. import nn
from ..engine import Function, Tensor
from ..functional.math import as_tensor
from ..functional.shape import cat
from ..models.registry import register_model

__all__ = ["PlaygroundNet", "FeatureMap", "Layer", "FEATURES", "ACTIVATIONS", "INITS", "sin"]

# feature name -> what the page shows
FEATURES = {"x1": "X₁", "x2": "X₂", "x1sq": "X₁²", "x2sq": "X₂²", "x1x2": "X₁X₂", "sinx1": "sin(X₁)",
            "sinx2": "sin(X₂)"}
# activation name -> neurona.nn class name
ACTIVATIONS = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "linear": "Identity"}
INITS = ("glorot", "he", "zeros", "default")


class Sin(Function):
    """sin(x), elementwise; d sin(x)/dx = cos(x)."""

    def forward(self, x):
        self.x = x
        return np.sin(x)

    def backward(self, gy):
        return gy * np.cos(self.x)


def sin(x) -> Tensor:
    """Elementwise sine, for the input features sin(X₁) and sin(X₂)."""
    return Sin()(as_tensor(x))


class FeatureMap(nn.Module):
    """The input layer: rescale the raw point, then compute the chosen features, s^(0) = features(x̃).

    ``shift`` and ``scale`` map the data's own units to the playground's square
    (both the identity for the built-in data sets); the features are computed on
    the rescaled point, as the page draws them.
    """

    def __init__(self, features: Sequence[str] = ("x1", "x2"), shift: Sequence[float] = (0.0, 0.0),
                 scale: Sequence[float] = (1.0, 1.0)):
        super().__init__()
        features = [str(f) for f in features]
        unknown = [f for f in features if f not in FEATURES]
        if not features or unknown or len(set(features)) != len(features):
            raise ValueError(f"FeatureMap: features must be distinct names from {', '.join(FEATURES)}, "
                             f"got {features}")
        if len(shift) != 2 or len(scale) != 2:
            raise ValueError(f"FeatureMap: shift and scale take one number per input (2), got {shift} and {scale}")
        self.features = features
        self.shift = np.asarray(shift, dtype=np.float32)
        self.scale = np.asarray(scale, dtype=np.float32)
        if not (np.isfinite(self.shift).all() and np.isfinite(self.scale).all() and (self.scale > 0).all()):
            raise ValueError(f"FeatureMap: shift must be finite and scale positive, got {shift} and {scale}")

    @property
    def identity_scaling(self) -> bool:
        return bool((self.shift == 0).all() and (self.scale == 1).all())

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 2 or x.shape[1] != 2:
            raise ValueError(f"FeatureMap: expected points of shape (N, 2) (columns x1, x2), got shape {x.shape}")
        if not self.identity_scaling:
            x = (x - Tensor(self.shift.astype(x.dtype))) * Tensor(self.scale.astype(x.dtype))
        x1, x2 = x[:, 0:1], x[:, 1:2]
        make = {"x1": lambda: x1, "x2": lambda: x2, "x1sq": lambda: x1 * x1, "x2sq": lambda: x2 * x2,
                "x1x2": lambda: x1 * x2, "sinx1": lambda: sin(x1), "sinx2": lambda: sin(x2)}
        return cat([make[f]() for f in self.features], dim=1)

    def extra_repr(self) -> str:
        out = ", ".join(self.features)
        if not self.identity_scaling:
            out += f", shift={self.shift.tolist()}, scale={self.scale.tolist()}"
        return out


def _activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"PlaygroundNet: unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return getattr(nn, ACTIVATIONS[name])()


class Layer(nn.Module):
    """One hidden layer: s ↦ g(BN(W s + w0)), then dropout, plus s itself when ``residual``.

    ``forward(s, trace)`` appends (φ, s_out) to ``trace`` when it is a list:
    φ is the pre-activation (after batch norm), s_out the layer's output.
    """

    def __init__(self, in_features: int, out_features: int, activation: str = "tanh", batch_norm: bool = False,
                 dropout: float = 0.0, residual: bool = False):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.norm = nn.BatchNorm1d(out_features) if batch_norm else None
        self.act = _activation(activation)
        self.drop = nn.Dropout(dropout) if dropout > 0 else None
        # f(s) + s needs f to keep the width (the notes: "s y f(s) de la misma dimensionalidad")
        self.residual = bool(residual) and in_features == out_features

    def forward(self, s: Tensor, trace: list | None = None) -> Tensor:
        phi = self.linear(s)
        if self.norm is not None:
            phi = self.norm(phi)
        z = self.act(phi)
        if self.drop is not None:
            z = self.drop(z)
        if self.residual:
            z = z + s
        if trace is not None:
            trace.append((phi, z))
        return z

    def extra_repr(self) -> str:
        return "residual" if self.residual else ""


class PlaygroundNet(nn.Module):
    """Input features → hidden layers → a linear output layer (see the module docstring).

    ``init``: ``"glorot"`` (W ~ N(0, 2/(n_in + n_out)), the notes' Glorot),
    ``"he"`` (N(0, 2/n_in), for ReLU), ``"zeros"`` (every weight 0: all the
    neurons of a layer stay equal, so the network cannot learn) or
    ``"default"`` (PyTorch's Linear init); biases start at 0 except with
    ``"default"``. ``seed`` fixes the initial weights.
    """

    def __init__(self, features: Sequence[str] = ("x1", "x2"), hidden: Sequence[int] = (4, 2), out_features: int = 2,
                 activation: str = "tanh", batch_norm: bool = False, dropout: float = 0.0, residual: bool = False,
                 init: str = "glorot", seed: int | None = 0, input_shift: Sequence[float] = (0.0, 0.0),
                 input_scale: Sequence[float] = (1.0, 1.0)):
        super().__init__()
        hidden = [int(h) for h in hidden]
        if any(h < 1 for h in hidden) or int(out_features) < 1:
            raise ValueError(f"PlaygroundNet: layer sizes must be positive, got hidden={hidden}, "
                             f"out_features={out_features}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"PlaygroundNet: dropout must be in [0, 1), got {dropout}")
        if init not in INITS:
            raise ValueError(f"PlaygroundNet: init must be one of {', '.join(INITS)}, got {init!r}")
        _activation(activation)
        self.inputs = FeatureMap(features, input_shift, input_scale)
        self.hidden_sizes = hidden
        self.out_features = int(out_features)
        self.activation, self.batch_norm, self.dropout = activation, bool(batch_norm), float(dropout)
        self.use_residual, self.init, self.seed = bool(residual), init, seed
        width = len(self.inputs.features)
        layers = []
        for h in hidden:
            layers.append(Layer(width, h, activation, batch_norm, self.dropout, residual))
            width = h
        self.layers = nn.ModuleList(layers)
        self.output = nn.Linear(width, self.out_features)
        self.reset_parameters()

    def linears(self) -> list:
        """The Linear layers W^(1), ..., W^(L), in order."""
        return [layer.linear for layer in self.layers] + [self.output]

    def reset_parameters(self) -> None:
        """Draw the initial weights with ``init`` from a generator seeded with ``seed``."""
        from ..nn import init as I

        gen = np.random.default_rng(self.seed)
        for lin in self.linears():
            if self.init == "glorot":
                I.xavier_normal_(lin.weight, generator=gen)
                I.zeros_(lin.bias)
            elif self.init == "he":
                I.kaiming_normal_(lin.weight, nonlinearity="relu", generator=gen)
                I.zeros_(lin.bias)
            elif self.init == "zeros":
                I.zeros_(lin.weight)
                I.zeros_(lin.bias)
            else:
                I.kaiming_uniform_(lin.weight, a=math.sqrt(5), generator=gen)
                bound = 1 / math.sqrt(lin.in_features) if lin.in_features else 0.0
                I.uniform_(lin.bias, -bound, bound, generator=gen)

    def forward(self, x: Tensor, trace: list | None = None) -> Tensor:
        """Raw points (N, 2) → outputs (N, out_features); ``trace`` (a list) collects (φ^(l), s^(l)) per layer."""
        return self.from_features(self.inputs(x), trace)

    def from_features(self, s: Tensor, trace: list | None = None) -> Tensor:
        """The layers after the input layer: s^(0) (N, number of features) → outputs."""
        for layer in self.layers:
            s = layer(s, trace)
        out = self.output(s)
        if trace is not None:
            trace.append((out, out))
        return out

    def get_config(self) -> dict:
        """The arguments that rebuild this model (stored in model files)."""
        return {"features": list(self.inputs.features), "hidden": list(self.hidden_sizes),
                "out_features": self.out_features, "activation": self.activation, "batch_norm": self.batch_norm,
                "dropout": self.dropout, "residual": self.use_residual, "init": self.init, "seed": self.seed,
                "input_shift": [float(v) for v in self.inputs.shift],
                "input_scale": [float(v) for v in self.inputs.scale]}

    def extra_repr(self) -> str:
        sizes = "-".join(str(s) for s in [len(self.inputs.features), *self.hidden_sizes, self.out_features])
        return f"{sizes}, activation={self.activation!r}"


register_model("playground", PlaygroundNet,
               description="the playground's network: input features of (x1, x2), hidden layers, linear output")
