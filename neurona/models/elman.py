"""The notes' recurrent networks with an output perceptron: Elman's network ("Red de Elman:
recurrente + perceptrón en la salida") and the same with a second-order recurrent layer.

    h_t = f(W^X x_t + W^Y h_{t-1} + b)             (Elman: the recurrent layer)
    h_t = f(Σ_jk W_ijk x_t,j h_{t-1},k + b)        (second order)
    y_t = g(W^O h_t + b^O)                          (the output perceptron, at every step)

Registered names: ``elman`` and ``second-order-rnn``. For ``neurona train`` they
read each sample row by row (Fashion-MNIST: 28 steps of 28 pixels) and the
perceptron classifies the last state.
"""
from __future__ import annotations

import math

import numpy as np

from .. import nn
from ..creation import from_numpy
from ..engine import Tensor
from ..functional.activation import sigmoid, softmax, tanh
from .registry import register_model

__all__ = ["ElmanNetwork", "SecondOrderNetwork"]

_OUTPUTS = {None: None, "identity": None, "sigmoid": sigmoid, "tanh": tanh, "softmax": softmax}


def _as_sequence(x, input_size: int, op: str) -> Tensor:
    """(B, T, I) as is; images (B, C, H, W) or (B, H, W) as H steps of C·W values; flat rows reshaped."""
    if not isinstance(x, Tensor):
        x = from_numpy(np.asarray(x))
    if x.ndim == 4 and x.shape[1] * x.shape[3] == input_size:
        B, C, H, W = x.shape
        x = x.transpose(1, 2).reshape(B, H, C * W) if C > 1 else x.reshape(B, H, W)
    elif x.ndim == 2 and x.shape[1] % input_size == 0 and x.shape[1] != input_size:
        x = x.reshape(x.shape[0], x.shape[1] // input_size, input_size)
    if x.ndim != 3 or x.shape[2] != input_size:
        raise ValueError(f"{op}: expected sequences (batch, steps, {input_size}), images whose rows have {input_size} "
                         f"values, or flattened rows, got shape {tuple(x.shape)}")
    return x


class _RecurrentPerceptron(nn.Module):
    """A recurrent layer (batch first) and a perceptron on its state."""

    _name = ""

    def __init__(self, input_size: int, hidden_size: int, output_size: int, nonlinearity: str, num_layers: int,
                 output_activation: str | None, return_sequences: bool):
        super().__init__()
        if output_activation not in _OUTPUTS:
            raise ValueError(f"{self._name}: output_activation must be one of "
                             f"{sorted(k for k in _OUTPUTS if k)} or None, got {output_activation!r}")
        self.config = dict(input_size=int(input_size), hidden_size=int(hidden_size), output_size=int(output_size),
                           nonlinearity=nonlinearity, num_layers=int(num_layers),
                           output_activation=output_activation, return_sequences=bool(return_sequences))
        self.output = nn.Linear(hidden_size, output_size)

    def get_config(self) -> dict:
        return dict(self.config)

    def run(self, x, hx=None, lengths=None) -> tuple[Tensor, Tensor]:
        """(y, h_n): the output at every step (B, T, output_size) (the last one, (B, output_size), when
        ``return_sequences`` is False) and the final states (num_layers, B, hidden_size)."""
        seq = _as_sequence(x, self.config["input_size"], self._name)
        h, h_n = self.rnn(seq, hx, lengths=lengths)
        z = self.output(h if self.config["return_sequences"] else h_n[-1])
        g = _OUTPUTS[self.config["output_activation"]]
        return (z if g is None else g(z)), h_n

    def forward(self, x, hx=None, lengths=None) -> Tensor:
        return self.run(x, hx, lengths)[0]

    @classmethod
    def from_cli(cls, data_info: dict, options: dict) -> dict:
        """Classify each sample read row by row: (C, H, W) → H steps of C·W values, (H, W) → H steps of W,
        a flat square image → its rows, other flat vectors → one value per step."""
        shape = tuple(int(s) for s in data_info["input_shape"])
        if data_info.get("task", "classification") != "classification":
            raise ValueError(f"the {cls._name} classifier is for classification; this data set is for regression")
        if len(shape) == 3:
            size = shape[0] * shape[2]
        elif len(shape) == 2:
            size = shape[1]
        elif len(shape) == 1 and math.isqrt(shape[0]) ** 2 == shape[0] and shape[0] >= 16:
            size = math.isqrt(shape[0])
        elif len(shape) == 1:
            size = 1
        else:
            raise ValueError(f"recurrent networks need sequences or images, got samples of shape {shape}")
        hidden = list(options.get("hidden") or [128])
        if hidden == [300, 100]:  # the command's default hidden sizes are the MLP's: use this model's own
            hidden = [128]
        if len(set(hidden)) > 1:
            raise ValueError(f"a recurrent stack has one hidden size for all layers, got --hidden {hidden}")
        return {"input_size": size, "hidden_size": int(hidden[0]), "output_size": int(data_info["n_outputs"]),
                "num_layers": len(hidden), "return_sequences": False}


class ElmanNetwork(_RecurrentPerceptron):
    """Elman's network: an Elman recurrent layer ``rnn`` (:class:`neurona.nn.RNN`, tanh or relu) and an
    output perceptron ``output`` (Linear, then ``output_activation``: None for scores, 'sigmoid',
    'tanh' or 'softmax') applied to the state at every step, y_t = g(W^O h_t + b^O).

    ``forward(x, hx=None, lengths=None)``: x (B, T, input_size) (images are read row by row) →
    y (B, T, output_size), or the last step's (B, output_size) with ``return_sequences=False``
    (each sequence's true last step when ``lengths`` is given). :meth:`run` also returns the final
    state.

    >>> import neurona
    >>> net = ElmanNetwork(3, 16, 2)
    >>> net(neurona.randn(4, 10, 3)).shape
    neurona.Size([4, 10, 2])
    """

    _name = "ElmanNetwork"

    def __init__(self, input_size: int, hidden_size: int, output_size: int, nonlinearity: str = "tanh",
                 num_layers: int = 1, output_activation: str | None = None, return_sequences: bool = True):
        super().__init__(input_size, hidden_size, output_size, nonlinearity, num_layers, output_activation,
                         return_sequences)
        self.rnn = nn.RNN(input_size, hidden_size, num_layers=num_layers, nonlinearity=nonlinearity,
                          batch_first=True)


class SecondOrderNetwork(_RecurrentPerceptron):
    """A second-order recurrent layer ``rnn`` (:class:`neurona.nn.SecondOrderRNN`) and the output
    perceptron ``output`` of :class:`ElmanNetwork`; same arguments and outputs."""

    _name = "SecondOrderNetwork"

    def __init__(self, input_size: int, hidden_size: int, output_size: int, nonlinearity: str = "tanh",
                 num_layers: int = 1, output_activation: str | None = None, return_sequences: bool = True):
        super().__init__(input_size, hidden_size, output_size, nonlinearity, num_layers, output_activation,
                         return_sequences)
        self.rnn = nn.SecondOrderRNN(input_size, hidden_size, num_layers=num_layers, nonlinearity=nonlinearity,
                                     batch_first=True)


register_model("elman", ElmanNetwork, from_cli=ElmanNetwork.from_cli,
               description="Elman network: recurrent layer + output perceptron (rows of an image as steps)")
register_model("second-order-rnn", SecondOrderNetwork, from_cli=SecondOrderNetwork.from_cli,
               description="second-order recurrent network h = f(Σ W_ijk x_j h_k + b) + output perceptron")
