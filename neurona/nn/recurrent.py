"""Recurrent layers: the cells ``RNNCell``, ``LSTMCell``, ``GRUCell`` and the sequence layers
``RNN``, ``LSTM``, ``GRU``, with PyTorch's names, shapes, defaults and parameter layout.

A recurrent layer is a one-step cell plus a loop over time. The cells are
that one step; the sequence layers run it over a whole sequence, stacked
``num_layers`` deep, optionally in both directions, with dropout between
layers. Each (layer, direction) is one fused op (see
:mod:`neurona.functional.recurrent`); ``fused=False`` runs the cell in a
Python loop instead, with identical results.

The LSTM follows the notes' equations (gate order i, f, g, o in the stacked
weights, as in PyTorch)::

    Forget gate    f_t = σ(W_f·[h_{t-1}, x_t] + b_f)
    Input gate     i_t = σ(W_i·[h_{t-1}, x_t] + b_i)
    Output gate    o_t = σ(W_o·[h_{t-1}, x_t] + b_o)
    Memory update  ĉ_t = tanh(W_c·[h_{t-1}, x_t] + b_c)
    Memory         c_t = f_t * c_{t-1} + i_t * ĉ_t
    Output         h_t = o_t * tanh(c_t)

Variable-length batches are padded at the end and passed with ``lengths``:
``out, h_n = gru(x, lengths=lengths)``. Each sequence's final state is the
one at its true length, and padded steps output zeros and receive no
gradient. Long sequences are trained with truncated BPTT: carry the state
from one chunk to the next with :func:`detach_state` (see
:func:`truncated_bptt`).
"""
from __future__ import annotations

import math
import warnings
from typing import Callable, Iterator

import numpy as np

from .. import backend
from ..backend import get_array_module, get_default_dtype
from ..creation import from_numpy
from ..functional import recurrent as R
from ..functional.dropout import _check_p, dropout
from ..functional.shape import cat, stack
from ..engine import Tensor
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["RNNCellBase", "RNNCell", "LSTMCell", "GRUCell", "RNNBase", "RNN", "LSTM", "GRU", "detach_state",
           "truncated_bptt", "bptt_chunks"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _dtype(dtype) -> np.dtype:
    d = np.dtype(dtype) if dtype is not None else get_default_dtype()
    if d.kind != "f":
        raise TypeError(f"recurrent layer: dtype must be a floating dtype, got {d}")
    return d


def _check_sizes(op: str, input_size: int, hidden_size: int) -> tuple[int, int]:
    if int(hidden_size) <= 0:
        raise ValueError(f"{op}: hidden_size must be positive, got {hidden_size}")
    if int(input_size) <= 0:
        raise ValueError(f"{op}: input_size must be positive, got {input_size}")
    return int(input_size), int(hidden_size)


# --- cells ---------------------------------------------------------------------------------------


class RNNCellBase(Module):
    """Weights of one cell: ``weight_ih`` (G·H, I), ``weight_hh`` (G·H, H), ``bias_ih``, ``bias_hh`` (G·H,).

    All are drawn from U(−1/√H, 1/√H), PyTorch's default.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size = _check_sizes(type(self).__name__, input_size, hidden_size)
        self.bias = bool(bias)
        d = _dtype(dtype)
        G, H, I = num_chunks, self.hidden_size, self.input_size
        self.weight_ih = Parameter(from_numpy(np.empty((G * H, I), d)))
        self.weight_hh = Parameter(from_numpy(np.empty((G * H, H), d)))
        if bias:
            self.bias_ih = Parameter(from_numpy(np.empty((G * H,), d)))
            self.bias_hh = Parameter(from_numpy(np.empty((G * H,), d)))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every weight and bias from U(−1/√H, 1/√H)."""
        k = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -k, k)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        nl = getattr(self, "nonlinearity", "tanh")
        if nl != "tanh":
            s += f", nonlinearity={nl!r}"
        return s

    def _prepare(self, x: Tensor, hx, n_states: int):
        """Batch the input (a 1-D input is one sample) and make zero states if none were given."""
        name = type(self).__name__
        if not isinstance(x, Tensor):
            x = Tensor(x)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input of shape (batch, {self.input_size}) or ({self.input_size},), "
                             f"got {x.shape}")
        if x.dtype != self.weight_ih.dtype:
            raise TypeError(f"{name}: input dtype {x.dtype} differs from the weights' {self.weight_ih.dtype}; "
                            f"convert one of them (x.float(), cell.to(...))")
        unbatched = x.ndim == 1
        if unbatched:
            x = x.unsqueeze(0)
        B = x.shape[0]
        if hx is None:
            xp = get_array_module(x.array)
            states = tuple(from_numpy(xp.zeros((B, self.hidden_size), x.dtype)) for _ in range(n_states))
        else:
            states = hx if isinstance(hx, tuple) else (hx,)
            if len(states) != n_states:
                raise ValueError(f"{name}: expected {n_states} state tensor(s), got {len(states)}")
            states = tuple(s.unsqueeze(0) if unbatched else s for s in states)
            for s in states:
                if s.shape != (B, self.hidden_size):
                    raise ValueError(f"{name}: expected a state of shape ({B}, {self.hidden_size}), got "
                                     f"{s.shape if not unbatched else s.shape[1:]}")
        return x, states, unbatched

    def _weights(self):
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh


class RNNCell(RNNCellBase):
    """Elman cell: h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu).

    The notes' recurrent network y_n = f(W^Y y_{n-1} + W^X x_n), one step.

    >>> import neurona
    >>> cell = neurona.nn.RNNCell(10, 20)
    >>> h = cell(neurona.randn(3, 10))        # (3, 20); pass h back in at the next step
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r}; expected 'tanh' or 'relu'")
        self.__dict__["nonlinearity"] = nonlinearity
        super().__init__(input_size, hidden_size, bias, 1, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, (h,), unbatched = self._prepare(input, hx, 1)
        cell = R.rnn_tanh_cell if self.nonlinearity == "tanh" else R.rnn_relu_cell
        h = cell(x, h, *self._weights())
        return h.squeeze(0) if unbatched else h


class LSTMCell(RNNCellBase):
    """One LSTM step; ``hx`` = (h, c) of shape (batch, hidden) each, returns (h', c').

        f = σ(W_f·[h, x] + b_f),  i = σ(W_i·[h, x] + b_i),  o = σ(W_o·[h, x] + b_o)
        ĉ = tanh(W_c·[h, x] + b_c),  c' = f * c + i * ĉ,  h' = o * tanh(c')

    Stacked gate order in ``weight_ih`` / ``weight_hh``: i, f, g (= ĉ), o, as in PyTorch.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        x, (h, c), unbatched = self._prepare(input, hx, 2)
        h, c = R.lstm_cell(x, (h, c), *self._weights())
        if unbatched:
            return h.squeeze(0), c.squeeze(0)
        return h, c


class GRUCell(RNNCellBase):
    """One GRU step (reset gate r, update gate z; stacked order r, z, n as in PyTorch):

        r = σ(W_ir x + b_ir + W_hr h + b_hr),  z = σ(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h' = (1 − z) * n + z * h
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, (h,), unbatched = self._prepare(input, hx, 1)
        h = R.gru_cell(x, h, *self._weights())
        return h.squeeze(0) if unbatched else h


# --- sequence layers -------------------------------------------------------------------------------


class RNNBase(Module):
    """A stack of recurrent layers over whole sequences (the common code of RNN, LSTM and GRU).

    Parameters, per layer k and direction (suffix ``_reverse`` for the right-to-left one):
    ``weight_ih_l{k}`` (G·H, I_k), ``weight_hh_l{k}`` (G·H, H), ``bias_ih_l{k}``, ``bias_hh_l{k}`` (G·H,),
    with I_0 = input_size and I_k = H·num_directions above, all drawn from U(−1/√H, 1/√H).
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, dtype=None,
                 fused: bool = True):
        super().__init__()
        name = type(self).__name__
        if mode not in _GATES:
            raise ValueError(f"{name}: unknown mode {mode!r}; expected one of {sorted(_GATES)}")
        self.mode = mode
        self.input_size, self.hidden_size = _check_sizes(name, input_size, hidden_size)
        if int(num_layers) < 1:
            raise ValueError(f"{name}: num_layers must be at least 1, got {num_layers}")
        self.num_layers = int(num_layers)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = _check_p(dropout, name)
        if self.dropout > 0 and self.num_layers == 1:
            warnings.warn(f"{name}: dropout={dropout} acts between stacked layers, and num_layers=1 has none; "
                          f"it has no effect (add an nn.Dropout after the layer instead)", stacklevel=3)
        self.bidirectional = bool(bidirectional)
        self.fused = bool(fused)
        d = _dtype(dtype)
        G, H = _GATES[mode], self.hidden_size
        D = 2 if self.bidirectional else 1
        self._flat_weights_names = []
        for layer in range(self.num_layers):
            n_in = self.input_size if layer == 0 else H * D
            for direction in range(D):
                sfx = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes = [("weight_ih", (G * H, n_in)), ("weight_hh", (G * H, H))]
                if bias:
                    shapes += [("bias_ih", (G * H,)), ("bias_hh", (G * H,))]
                for pname, shape in shapes:
                    setattr(self, pname + sfx, Parameter(from_numpy(np.empty(shape, d))))
                    self._flat_weights_names.append(pname + sfx)
        self.reset_parameters()

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def reset_parameters(self) -> None:
        """Draw every weight and bias from U(−1/√H, 1/√H) (PyTorch's default)."""
        k = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -k, k)

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """Parameters grouped per (layer, direction): [[w_ih, w_hh, b_ih, b_hh], ...]."""
        per = 4 if self.bias else 2
        ws = [getattr(self, n) for n in self._flat_weights_names]
        return [ws[i:i + per] for i in range(0, len(ws), per)]

    def _layer_weights(self, layer: int, direction: int):
        sfx = f"_l{layer}" + ("_reverse" if direction == 1 else "")
        w = [getattr(self, "weight_ih" + sfx), getattr(self, "weight_hh" + sfx)]
        if self.bias:
            w += [getattr(self, "bias_ih" + sfx), getattr(self, "bias_hh" + sfx)]
        else:
            w += [None, None]
        return w

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        if not self.fused:
            s += ", fused=False"
        return s

    # --- forward ---

    def _check_input(self, x) -> tuple[Tensor, bool]:
        name = type(self).__name__
        if not isinstance(x, Tensor):
            x = Tensor(x)
        if x.ndim not in (2, 3):
            raise ValueError(f"{name}: expected input of shape "
                             f"{'(batch, seq_len, ' if self.batch_first else '(seq_len, batch, '}{self.input_size}) "
                             f"or unbatched (seq_len, {self.input_size}), got {x.shape}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input_size {self.input_size} (last dimension), got shape {x.shape}")
        w = self.weight_ih_l0
        if x.dtype != w.dtype:
            raise TypeError(f"{name}: input dtype {x.dtype} differs from the weights' {w.dtype}; convert the input "
                            f"(x.float() / x.double()) or the layer (layer.to(neurona.{x.dtype}))")
        unbatched = x.ndim == 2
        if unbatched:
            x = x.unsqueeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        return x, unbatched

    def _initial_states(self, hx, n_states: int, B: int, dtype, unbatched: bool) -> list[tuple]:
        """Per (layer, direction) tuple of initial states, each (B, H)."""
        name = type(self).__name__
        LD = self.num_layers * self.num_directions
        H = self.hidden_size
        if hx is None:
            dev = next(iter(self.parameters())).device  # zero states where the weights are
            z = from_numpy(backend.array_module_for(dev).zeros((B, H), dtype))
            return [(z,) * n_states for _ in range(LD)]
        states = hx if isinstance(hx, tuple) else (hx,)
        if len(states) != n_states:
            what = "(h_0, c_0)" if n_states == 2 else "h_0"
            raise ValueError(f"{name}: expected the initial state as {what}, got a tuple of {len(states)}")
        out = []
        for s in states:
            if not isinstance(s, Tensor):
                s = Tensor(s)
            if unbatched:
                if s.shape != (LD, H):
                    raise ValueError(f"{name}: expected an unbatched initial state of shape ({LD}, {H}), got {s.shape}")
                s = s.unsqueeze(1)
            if s.shape != (LD, B, H):
                raise ValueError(f"{name}: expected an initial state of shape (num_layers*num_directions, batch, "
                                 f"hidden) = ({LD}, {B}, {H}), got {s.shape}")
            if s.dtype != dtype:
                raise TypeError(f"{name}: initial state dtype {s.dtype} differs from the input's {dtype}")
            out.append(s)
        return [tuple(s[k] for s in out) for k in range(LD)]

    def _run(self, x: Tensor, states: tuple, layer: int, direction: int, lengths):
        w = self._layer_weights(layer, direction)
        rev = direction == 1
        if self.mode == "LSTM":
            out, h, c = R.lstm_sequence(x, states[0], states[1], *w, lengths=lengths, reverse=rev, fused=self.fused)
            return out, (h, c)
        if self.mode == "GRU":
            out, h = R.gru_sequence(x, states[0], *w, lengths=lengths, reverse=rev, fused=self.fused)
        else:
            nl = "tanh" if self.mode == "RNN_TANH" else "relu"
            out, h = R.rnn_sequence(x, states[0], *w, nonlinearity=nl, lengths=lengths, reverse=rev,
                                    fused=self.fused)
        return out, (h,)

    def forward(self, input: Tensor, hx=None, lengths=None):
        """Run the stack over ``input``; returns (output, h_n), or (output, (h_n, c_n)) for an LSTM.

        input: (seq_len, batch, input_size), or (batch, seq_len, input_size) with ``batch_first``,
        or unbatched (seq_len, input_size). hx: initial state(s) of shape
        (num_layers·num_directions, batch, hidden_size), zeros if omitted. lengths: (batch,) true
        lengths of padded sequences. output: (seq_len, batch, num_directions·hidden_size) (batch first
        with ``batch_first``), the top layer's h_t at every step, 0 at padded steps; h_n (and c_n):
        (num_layers·num_directions, batch, hidden_size), each sequence's state at its true length.
        A :class:`~neurona.nn.utils.rnn.PackedSequence` input gives a packed output (and carries the lengths).
        """
        from .utils.rnn import PackedSequence, pad_packed_sequence, repack_like

        if isinstance(input, PackedSequence):
            if lengths is not None:
                raise ValueError(f"{type(self).__name__}: a PackedSequence carries its lengths; do not pass lengths=")
            padded, lengths = pad_packed_sequence(input, batch_first=self.batch_first)
            output, h = self.forward(padded, hx, lengths=lengths)
            return repack_like(output, input, self.batch_first), h
        x, unbatched = self._check_input(input)
        T, B = x.shape[0], x.shape[1]
        n_states = 2 if self.mode == "LSTM" else 1
        init_states = self._initial_states(hx, n_states, B, x.dtype, unbatched)
        if lengths is not None:
            if unbatched:
                raise ValueError(f"{type(self).__name__}: lengths apply to a batch; this input is unbatched")
            lengths = R._check_lengths(lengths, T, B, type(self).__name__)
        finals = [[] for _ in range(n_states)]
        D = self.num_directions
        layer_input = x
        for layer in range(self.num_layers):
            outs = []
            for direction in range(D):
                out, st = self._run(layer_input, init_states[layer * D + direction], layer, direction, lengths)
                outs.append(out)
                for k in range(n_states):
                    finals[k].append(st[k])
            layer_input = outs[0] if D == 1 else cat(outs, axis=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = dropout(layer_input, self.dropout, True)
        output = layer_input
        hs = [f[0].unsqueeze(0) if len(f) == 1 else stack(f, 0) for f in finals]
        if unbatched:
            output = output.squeeze(1)
            hs = [h.squeeze(1) for h in hs]
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, (tuple(hs) if n_states == 2 else hs[0])

    def flatten_parameters(self) -> None:
        """Nothing to do here; kept so that PyTorch code runs unchanged.

        In PyTorch it packs the weights into one contiguous cuDNN buffer after
        they were moved or replaced (it warns when they are not). Here every
        weight is its own array and the layer reads them as they are, so there
        is nothing to pack.
        """


class RNN(RNNBase):
    """Elman network over sequences: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh) (or relu).

    >>> import neurona
    >>> rnn = neurona.nn.RNN(10, 20, num_layers=2)
    >>> out, h_n = rnn(neurona.randn(5, 3, 10))    # (seq_len, batch, input_size)
    >>> out.shape, h_n.shape
    ((5, 3, 20), (2, 3, 20))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype=None, fused: bool = True):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r}; expected 'tanh' or 'relu'")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, dtype, fused)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory over sequences (the notes' forget, input and output gates and memory c).

    Returns (output, (h_n, c_n)). Weights stack the gates in PyTorch's order i, f, g, o, so a
    ``state_dict`` from ``torch.nn.LSTM`` loads as is (``model.load_state_dict``).

    >>> import neurona
    >>> lstm = neurona.nn.LSTM(28, 128, batch_first=True)
    >>> out, (h_n, c_n) = lstm(neurona.randn(64, 28, 28))   # (batch, seq_len, input_size)
    >>> out.shape, h_n.shape
    ((64, 28, 128), (1, 64, 128))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, dtype=None,
                 fused: bool = True):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype, fused)


class GRU(RNNBase):
    """Gated recurrent unit over sequences (update and reset gates; stacked order r, z, n as in PyTorch).

        r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr),  z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
        n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn)),  h_t = (1 − z_t) * n_t + z_t * h_{t-1}
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, dtype=None,
                 fused: bool = True):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype, fused)


# --- truncated backpropagation through time --------------------------------------------------------


def detach_state(state):
    """The same state cut from the graph: a Tensor, or a (nested) tuple/list of them (e.g. LSTM's (h, c)).

    Carrying ``detach_state(state)`` into the next chunk keeps the values (the network remembers)
    while backward stops at the chunk boundary: truncated BPTT.
    """
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    raise TypeError(f"detach_state: expected a Tensor or a tuple of Tensors, got {type(state).__name__}")


def truncated_bptt(model: Module, loss_fn: Callable, optimizer, inputs, targets, k: int, state=None,
                   time_dim: int = 1, clip_grad_norm: float | None = None) -> tuple[float, object]:
    """Train on long sequences k steps at a time, carrying the state across chunks (truncated BPTT).

    The sequences are cut into chunks of ``k`` steps along ``time_dim``; for each chunk:
    ``output, state = model(x_chunk, state)``, ``loss_fn(output, y_chunk).backward()``, an optimizer
    step, and the state is detached so the next chunk starts from its values without
    backpropagating into the previous chunk. Returns (mean loss per chunk, weighted by chunk length,
    final state), so successive calls continue the same streams.

    x: (batch, 10_000) token ids of parallel text streams, y the same shifted by one step::

        loss, state = truncated_bptt(lm, loss_fn, opt, x, y, k=64)
        loss, state = truncated_bptt(lm, loss_fn, opt, x2, y2, k=64, state=state)   # the text goes on
    """
    from .utils import clip_grad_norm_

    if int(k) < 1:
        raise ValueError(f"truncated_bptt: k must be a positive number of steps, got {k}")
    T = inputs.shape[time_dim]
    if targets.shape[time_dim] != T:
        raise ValueError(f"truncated_bptt: inputs have {T} steps along dim {time_dim}, targets "
                         f"{targets.shape[time_dim]}")
    total, steps = 0.0, 0
    for xs, ys in bptt_chunks(inputs, targets, int(k), time_dim):
        optimizer.zero_grad()
        output, state = model(xs, state)
        loss = loss_fn(output, ys)
        loss.backward()
        if clip_grad_norm is not None:
            clip_grad_norm_(model.parameters(), clip_grad_norm)
        optimizer.step()
        state = detach_state(state)
        n = xs.shape[time_dim]
        total += float(loss.item()) * n
        steps += n
    return total / max(steps, 1), state


def bptt_chunks(inputs, targets, k: int, time_dim: int = 1) -> Iterator[tuple]:
    """Consecutive (inputs, targets) chunks of at most ``k`` steps along ``time_dim`` (views, no copies)."""
    T = inputs.shape[time_dim]
    for s in range(0, T, k):
        idx = (slice(None),) * time_dim + (slice(s, min(s + k, T)),)
        yield inputs[idx], targets[idx]

