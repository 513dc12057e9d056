"""Second-order recurrent layers: ``SecondOrderRNNCell`` (one step) and ``SecondOrderRNN`` (the loop
over time, stacked), the notes' "redes recurrentes de segundo orden".

    h_t,i = f( Σ_j Σ_k W_ijk x_t,j h_t-1,k + b_i )

See :func:`neurona.functional.second_order.second_order_rnn_cell`. The
weight of a layer is the third-order tensor W (hidden, input, hidden).
"""
from __future__ import annotations

import math

import numpy as np

from ..backend import get_default_dtype
from ..creation import from_numpy
from ..engine import Tensor
from ..functional.dropout import _check_p, dropout
from ..functional.recurrent import _check_lengths
from ..functional.second_order import _NONLINEARITIES, second_order_rnn_cell
from ..functional.shape import stack
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["SecondOrderRNNCell", "SecondOrderRNN", "second_order_start_state"]


def _dtype(dtype, op: str) -> np.dtype:
    d = np.dtype(dtype) if dtype is not None else get_default_dtype()
    if d.kind != "f":
        raise TypeError(f"{op}: dtype must be a floating dtype, got {d}")
    return d


def _check(op: str, input_size: int, hidden_size: int, nonlinearity: str) -> tuple[int, int]:
    if int(input_size) <= 0 or int(hidden_size) <= 0:
        raise ValueError(f"{op}: input_size and hidden_size must be positive, got {input_size} and {hidden_size}")
    if nonlinearity not in _NONLINEARITIES:
        raise ValueError(f"{op}: nonlinearity must be one of {sorted(_NONLINEARITIES)}, got {nonlinearity!r}")
    return int(input_size), int(hidden_size)


def second_order_start_state(batch: int, hidden_size: int, dtype=np.float32) -> np.ndarray:
    """The classic start state (Giles et al. 1992): unit 0 on, the others off, (batch, hidden_size).

    A zero state would make every product W_ijk x_j h_k vanish at the first step: the first input
    would be ignored.
    """
    h = np.zeros((int(batch), int(hidden_size)), dtype)
    h[:, 0] = 1
    return h


class SecondOrderRNNCell(Module):
    """One second-order step, h' = f(Σ_jk W_ijk x_j h_k + b): ``weight`` (hidden, input, hidden),
    ``bias`` (hidden,), both drawn from U(−1/√hidden, 1/√hidden).

    ``forward(input, hx=None)``: input (B, input_size) or (input_size,), hx (B, hidden_size)
    (default :func:`second_order_start_state`) → h' of the same shape.

    >>> import neurona
    >>> cell = SecondOrderRNNCell(3, 8)
    >>> h = cell(neurona.randn(5, 3))           # (5, 8); pass h back in at the next step
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 dtype=None):
        super().__init__()
        self.input_size, self.hidden_size = _check("SecondOrderRNNCell", input_size, hidden_size, nonlinearity)
        self.nonlinearity = nonlinearity
        d = _dtype(dtype, "SecondOrderRNNCell")
        H, I = self.hidden_size, self.input_size
        self.weight = Parameter(from_numpy(np.empty((H, I, H), d)))
        if bias:
            self.bias = Parameter(from_numpy(np.empty((H,), d)))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        k = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -k, k)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is None:
            s += ", bias=False"
        if self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        return s

    def forward(self, input, hx=None) -> Tensor:
        x = input if isinstance(input, Tensor) else from_numpy(np.asarray(input))
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"SecondOrderRNNCell: expected input of shape (batch, {self.input_size}) or "
                             f"({self.input_size},), got {x.shape}")
        if x.dtype != self.weight.dtype:
            raise TypeError(f"SecondOrderRNNCell: input dtype {x.dtype} differs from the weights' {self.weight.dtype}")
        unbatched = x.ndim == 1
        if unbatched:
            x = x.unsqueeze(0)
        if hx is None:
            h = from_numpy(second_order_start_state(x.shape[0], self.hidden_size, x.dtype))
        else:
            h = hx if isinstance(hx, Tensor) else from_numpy(np.asarray(hx))
            h = h.unsqueeze(0) if unbatched else h
        h = second_order_rnn_cell(x, h, self.weight, self.bias, self.nonlinearity)
        return h.squeeze(0) if unbatched else h


class SecondOrderRNN(Module):
    """A stack of second-order recurrent layers over whole sequences (the cell in a loop over time).

    Parameters per layer k: ``weight_l{k}`` (hidden, I_k, hidden) with I_0 = input_size and
    I_k = hidden_size above, ``bias_l{k}`` (hidden,). ``forward(input, hx=None, lengths=None)`` →
    (output, h_n), as :class:`neurona.nn.RNN`: input (T, B, input_size), (B, T, input_size) with
    ``batch_first``, or unbatched (T, input_size); hx (num_layers, B, hidden) (default: every layer
    starts from :func:`second_order_start_state`); ``lengths`` (B,) for padded batches (padded steps
    output 0 and keep the state). output: the top layer's h_t at every step; h_n: each layer's last
    state. ``dropout`` acts between layers in training.

    >>> import neurona
    >>> rnn = SecondOrderRNN(3, 8, batch_first=True)
    >>> out, h_n = rnn(neurona.randn(4, 10, 3))
    >>> out.shape, h_n.shape
    (neurona.Size([4, 10, 8]), neurona.Size([1, 4, 8]))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size = _check("SecondOrderRNN", input_size, hidden_size, nonlinearity)
        if int(num_layers) < 1:
            raise ValueError(f"SecondOrderRNN: num_layers must be at least 1, got {num_layers}")
        self.num_layers, self.nonlinearity = int(num_layers), nonlinearity
        self.batch_first, self.dropout, self.bias = bool(batch_first), _check_p(dropout, "SecondOrderRNN"), bool(bias)
        d = _dtype(dtype, "SecondOrderRNN")
        H = self.hidden_size
        for k in range(self.num_layers):
            n_in = self.input_size if k == 0 else H
            setattr(self, f"weight_l{k}", Parameter(from_numpy(np.empty((H, n_in, H), d))))
            if bias:
                setattr(self, f"bias_l{k}", Parameter(from_numpy(np.empty((H,), d))))
            else:
                self.register_parameter(f"bias_l{k}", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        k = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -k, k)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        return s

    def forward(self, input, hx=None, lengths=None):
        name = "SecondOrderRNN"
        x = input if isinstance(input, Tensor) else from_numpy(np.asarray(input))
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input of shape {'(batch, seq_len, ' if self.batch_first else '(seq_len, batch, '}"
                             f"{self.input_size}) or (seq_len, {self.input_size}), got {x.shape}")
        if x.dtype != self.weight_l0.dtype:
            raise TypeError(f"{name}: input dtype {x.dtype} differs from the weights' {self.weight_l0.dtype}")
        unbatched = x.ndim == 2
        if unbatched:
            x = x.unsqueeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        T, B, H = x.shape[0], x.shape[1], self.hidden_size
        if hx is None:
            start = from_numpy(second_order_start_state(B, H, x.dtype))
            states = [start] * self.num_layers
        else:
            h0 = hx if isinstance(hx, Tensor) else from_numpy(np.asarray(hx))
            if unbatched:
                h0 = h0.unsqueeze(1)
            if h0.shape != (self.num_layers, B, H):
                raise ValueError(f"{name}: expected an initial state of shape (num_layers, batch, hidden) = "
                                 f"{(self.num_layers, B, H)}, got {h0.shape}")
            states = [h0[k] for k in range(self.num_layers)]
        live = None
        if lengths is not None:
            if unbatched:
                raise ValueError(f"{name}: lengths apply to a batch; this input is unbatched")
            lengths = _check_lengths(lengths, T, B, name)                    # None when all are full
            if lengths is not None:
                live = np.arange(T)[:, None] < lengths[None, :]                 # (T, B)
        finals = []
        layer_input = x
        for k in range(self.num_layers):
            w, b = getattr(self, f"weight_l{k}"), getattr(self, f"bias_l{k}")
            h = states[k]
            outs = []
            for t in range(T):
                new = second_order_rnn_cell(layer_input[t], h, w, b, self.nonlinearity)
                if live is not None and not live[t].all():
                    on = from_numpy(live[t][:, None].astype(x.dtype))
                    h = new * on + h * (1 - on)                      # finished sequences keep their state
                    outs.append(new * on)
                else:
                    h = new
                    outs.append(new)
            finals.append(h)
            layer_input = stack(outs, 0)
            if self.dropout and self.training and k < self.num_layers - 1:
                layer_input = dropout(layer_input, self.dropout, True)
        output, h_n = layer_input, stack(finals, 0)
        if unbatched:
            return output.squeeze(1), h_n.squeeze(1)
        if self.batch_first:
            output = output.transpose(0, 1)
        return output, h_n
