"""The multilayer perceptron of the notes, as one configurable model.

"Lo habitual es hacer una pirámide. Poniendo cada vez menos neuronas": the
default ``MLP()`` is the notes' recommendation for 28×28 images,
784-300-100-10 with ReLU. Each hidden layer l computes
s^l = g(Θ^l s^{l-1} + b^l) (notes: φ^l = Θ^l s^{l-1}, s^l = g(φ^l)), optionally
followed by batch normalization (before g) and dropout (after g); the output
layer is linear (its logits go to a softmax cross-entropy loss).
"""
from __future__ import annotations

import math
from typing import Sequence

from .. import nn
from ..engine import Tensor
from .registry import register_model

__all__ = ["MLP", "ACTIVATIONS"]

# activation name -> nn class name
ACTIVATIONS = {
    "relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "leaky_relu": "LeakyReLU", "elu": "ELU",
    "gelu": "GELU", "selu": "SELU", "silu": "SiLU", "softplus": "Softplus", "identity": "Identity",
}

_INITS = ("default", "xavier", "he")


def _activation(name: str) -> nn.Module:
    key = name.lower().replace("-", "_")
    cls_name = ACTIVATIONS.get(key)
    cls = getattr(nn, cls_name, None) if cls_name else None
    if cls is None:
        avail = [k for k, v in ACTIVATIONS.items() if hasattr(nn, v)]
        raise ValueError(f"MLP: unknown activation {name!r}; choose one of {', '.join(avail)}")
    return cls()


class MLP(nn.Module):
    """A multilayer perceptron ``in_features → hidden[0] → ... → out_features``.

    >>> model = MLP(784, (300, 100), 10)           # the notes' 784-300-100-10 ReLU network
    >>> model(neurona.randn(32, 28, 28)).shape     # inputs are flattened after the batch dimension
    (32, 10)

    ``activation``: relu, tanh, sigmoid, leaky_relu, elu, gelu, selu, silu.
    ``dropout``: probability of zeroing each hidden unit during training.
    ``batch_norm``: BatchNorm1d between each hidden Linear and its activation.
    ``init``: ``"default"`` (PyTorch's Linear init), ``"xavier"`` (Glorot,
    suited to tanh/sigmoid) or ``"he"`` (Kaiming, suited to ReLU).
    """

    def __init__(self, in_features: int = 784, hidden: Sequence[int] = (300, 100), out_features: int = 10,
                 activation: str = "relu", dropout: float = 0.0, batch_norm: bool = False, bias: bool = True,
                 init: str = "default"):
        super().__init__()
        hidden = [int(h) for h in ([hidden] if isinstance(hidden, int) else hidden)]
        if int(in_features) < 1 or int(out_features) < 1 or any(h < 1 for h in hidden):
            raise ValueError(f"MLP: layer sizes must be positive, got in_features={in_features}, hidden={hidden}, "
                             f"out_features={out_features}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"MLP: dropout must be in [0, 1), got {dropout}")
        if init not in _INITS:
            raise ValueError(f"MLP: init must be one of {', '.join(_INITS)}, got {init!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.hidden = hidden
        self.activation = activation
        self.dropout = float(dropout)
        self.batch_norm = bool(batch_norm)
        self.bias = bool(bias)
        self.init = init
        _activation(activation)  # validate the name before building anything
        layers: list[nn.Module] = []
        width = self.in_features
        for h in hidden:
            layers.append(nn.Linear(width, h, bias=bias))
            if batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(_activation(activation))
            if self.dropout > 0:
                layers.append(nn.Dropout(self.dropout))
            width = h
        layers.append(nn.Linear(width, self.out_features, bias=bias))
        self.layers = nn.Sequential(*layers)
        if init != "default":
            self._init_weights()

    def _init_weights(self) -> None:
        from ..nn import init as I

        gain_name = self.activation.lower() if self.activation.lower() in ("relu", "tanh", "sigmoid",
                                                                           "leaky_relu", "selu") else "linear"
        for m in self.layers:
            if isinstance(m, nn.Linear):
                if self.init == "xavier":
                    I.xavier_uniform_(m.weight, gain=I.calculate_gain(gain_name))
                else:
                    I.kaiming_normal_(m.weight, nonlinearity="relu" if gain_name == "relu" else "leaky_relu")
                if m.bias is not None:
                    I.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim > 2:
            x = x.reshape(x.shape[0], -1)
        elif x.ndim == 1:
            raise ValueError(f"MLP: expected a batch of inputs (N, {self.in_features}), got shape {x.shape}; "
                             f"for one sample use x.reshape(1, -1)")
        if x.shape[-1] != self.in_features:
            raise ValueError(f"MLP: expected inputs with {self.in_features} features per sample, got shape "
                             f"{x.shape}")
        return self.layers(x)

    def get_config(self) -> dict:
        """The arguments that rebuild this model (stored in model files)."""
        return {"in_features": self.in_features, "hidden": list(self.hidden), "out_features": self.out_features,
                "activation": self.activation, "dropout": self.dropout, "batch_norm": self.batch_norm,
                "bias": self.bias, "init": self.init}

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]

    def __iter__(self):
        return iter(self.layers)

    def extra_repr(self) -> str:
        sizes = "-".join(str(s) for s in [self.in_features, *self.hidden, self.out_features])
        return f"{sizes}, activation={self.activation!r}" + (f", dropout={self.dropout}" if self.dropout else "")

    @staticmethod
    def from_cli(data_info: dict, options: dict) -> dict:
        """Config for the ``neurona`` command: inputs flattened, one output per class (or target)."""
        shape = data_info["input_shape"]
        return {"in_features": int(math.prod(shape)), "hidden": list(options.get("hidden", (300, 100))),
                "out_features": int(data_info["n_outputs"]), "activation": options.get("activation", "relu"),
                "dropout": float(options.get("dropout", 0.0)), "batch_norm": bool(options.get("batch_norm", False))}


register_model("mlp", MLP, from_cli=MLP.from_cli,
               description="multilayer perceptron: Linear layers with an activation, dropout, batch norm")
