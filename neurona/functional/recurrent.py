"""Recurrent ops: one-step cells, and whole sequences as one fused op each.

A recurrent network reads a sequence x_1, ..., x_T and carries a state from
one step to the next; the notes' simplest form is

    y_n = f(W^Y y_{n-1} + W^X x_n),    n = 1, 2, ...

Unrolled over a sequence it is a feed-forward network with one layer per
step, all layers sharing the same weights, and it is trained by applying
backpropagation to that unrolled network ("back-propagation through time",
BPTT). Three cells are provided, with PyTorch's parameter layout (the gate
rows stacked in ``w_ih`` (G·H, I) and ``w_hh`` (G·H, H)):

Elman / simple RNN (G = 1)::

    h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)        (or relu)

LSTM (G = 4, gate order i, f, g, o), the notes' equations with
[h_{t-1}, x_t] split into the two products::

    Input gate     i_t  = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)
    Forget gate    f_t  = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)
    Memory update  ĉ_t  = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)      (the "g" gate)
    Output gate    o_t  = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)
    Memory         c_t  = f_t * c_{t-1} + i_t * ĉ_t
    Output         h_t  = o_t * tanh(c_t)

GRU (G = 3, gate order r, z, n; update and reset gates)::

    Reset gate     r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
    Update gate    z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
    Candidate      n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))
    Output         h_t = (1 - z_t) * n_t + z_t * h_{t-1}

Two implementations of each recurrence live here, and the tests check that
they agree in values and gradients:

- composed (``*_cell`` and ``fused=False``): the one-step cell written with
  engine ops, applied in a Python loop over time. The engine differentiates
  it; it is the reference and the readable version.
- fused (``LSTMSequence``, ``GRUSequence``, ``RNNSequence``): one ``Function``
  for a whole sequence of one layer in one direction. GRU and Elman compute
  the input projection of all T steps (bias included) in one matrix product,
  then one matmul call per step for the recurrent part of all gates. The
  LSTM makes each step a single product [h_{t-1}, x_t, 1] · [W_hhᵀ; W_ihᵀ; b]
  whose rows live in one buffer into which each step writes its new h: no
  projection to add, and after the loop one product gives ∂L/∂W_hh, ∂L/∂W_ih
  and ∂L/∂b together. Every buffer is allocated before the loop (and reused
  across calls, see ``neurona.workspace``). The gates are kept gate-major,
  (G, T, B, H), so that each gate of a step is one contiguous block for the
  elementwise work. Backward is the BPTT loop written by hand: per step one
  product for the recurrent gradient ∂L/∂h_{t-1} = ∂L/∂a_t · W_hh over all
  gates; the gate gradients of all steps are stacked in a (T, B, G·H) buffer
  and the weight gradients are one product each after the loop
  (∂L/∂W_hh = Σ_t ∂L/∂a_tᵀ h_{t-1}; the bias gradient comes out of the
  same product, as one more row of ones, see ``_with_ones``).

Every gate nonlinearity goes through one exponential. σ(a) = 1/(1 + e^{-a})
and tanh(a) = 2σ(2a) − 1, so the weight rows of each gate are scaled by −1
(sigmoid gates) or −2 (tanh gates) once per call (exact in floating point),
and a single ``exp`` over the (B, G·H) pre-activations of a step yields all
gates. This is the same function as ``np.tanh``, at about half the cost.

Variable-length batches: with ``lengths`` (one per sequence, padding at the
end), step t of sequence b is valid when t < lengths[b]. At an invalid step
the state is carried unchanged and the output is 0, so each sequence's final
state is its state at its true length, and padded steps contribute nothing
to any gradient. A reverse (right-to-left) pass meets the padding first,
keeps its initial state through it, then reads the sequence from its last
valid step backwards (what PyTorch's packed sequences do).
"""
from __future__ import annotations

import operator

import numpy as np

from .. import kernels, workspace
from ..backend import get_array_module
from ..engine import Function, Tensor, is_grad_enabled
from .activation import relu, sigmoid, tanh
from .linear import linear
from .math import as_tensor, where
from .shape import stack

__all__ = ["rnn_tanh_cell", "rnn_relu_cell", "lstm_cell", "gru_cell", "rnn_sequence", "lstm_sequence",
           "gru_sequence", "sequence_mask", "RNNSequence", "LSTMSequence", "GRUSequence"]


# --- one-step cells, composed from engine ops -----------------------------------------------


def _gates(x: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih, b_hh) -> Tensor:
    """W_ih x + b_ih + W_hh h + b_hh for all gates at once: (B, G·H)."""
    return linear(x, w_ih, b_ih) + linear(h, w_hh, b_hh)


def rnn_tanh_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None) -> Tensor:
    """One Elman step: h' = tanh(W_ih x + b_ih + W_hh h + b_hh). x (B, I), h (B, H) → (B, H)."""
    return tanh(_gates(x, h, w_ih, w_hh, b_ih, b_hh))


def rnn_relu_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None) -> Tensor:
    """One Elman step with ReLU: h' = max(0, W_ih x + b_ih + W_hh h + b_hh)."""
    return relu(_gates(x, h, w_ih, w_hh, b_ih, b_hh))


def lstm_cell(x, hx, w_ih, w_hh, b_ih=None, b_hh=None) -> tuple[Tensor, Tensor]:
    """One LSTM step (gate order i, f, g, o); ``hx`` = (h, c), returns (h', c').

        f = σ(W_f·[h, x] + b_f),  i = σ(W_i·[h, x] + b_i),  o = σ(W_o·[h, x] + b_o)
        ĉ = tanh(W_c·[h, x] + b_c),  c' = f * c + i * ĉ,  h' = o * tanh(c')
    """
    h, c = hx
    a = _gates(x, h, w_ih, w_hh, b_ih, b_hh)
    H = h.shape[-1]
    i = sigmoid(a[..., :H])
    f = sigmoid(a[..., H:2 * H])
    g = tanh(a[..., 2 * H:3 * H])
    o = sigmoid(a[..., 3 * H:])
    c_new = f * c + i * g
    return o * tanh(c_new), c_new


def gru_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None) -> Tensor:
    """One GRU step (gate order r, z, n):

        r = σ(W_ir x + b_ir + W_hr h + b_hr),  z = σ(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h' = (1 − z) * n + z * h
    """
    H = h.shape[-1]
    ax = linear(x, w_ih, b_ih)
    ah = linear(h, w_hh, b_hh)
    r = sigmoid(ax[..., :H] + ah[..., :H])
    z = sigmoid(ax[..., H:2 * H] + ah[..., H:2 * H])
    n = tanh(ax[..., 2 * H:] + r * ah[..., 2 * H:])
    return n + z * (h - n)


# --- lengths ------------------------------------------------------------------------------


def sequence_mask(lengths, max_len: int | None = None) -> np.ndarray:
    """Boolean (T, B) mask, True where step t < lengths[b] (a valid, non-padded step).

    >>> sequence_mask([3, 1])
    array([[ True,  True],
           [ True, False],
           [ True, False]])
    """
    lengths = np.asarray(lengths.array if isinstance(lengths, Tensor) else lengths)
    T = int(lengths.max()) if max_len is None else int(max_len)
    return np.arange(T)[:, None] < lengths[None, :]


def _check_lengths(lengths, T: int, B: int, op: str):
    """Lengths as an int64 array, or None when every sequence is full (the unmasked fast path)."""
    if lengths is None:
        return None
    arr = np.asarray(lengths.array if isinstance(lengths, Tensor) else lengths)
    if arr.dtype.kind not in "iu" and not (arr.dtype.kind == "f" and np.all(arr == np.round(arr))):
        raise TypeError(f"{op}: lengths must be integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64).reshape(-1)
    if arr.shape != (B,):
        raise ValueError(f"{op}: expected one length per sequence ({B}), got lengths of shape {np.shape(lengths)}")
    if arr.size and (arr.min() < 0 or arr.max() > T):
        raise ValueError(f"{op}: lengths must lie in [0, {T}] (the padded length), got min {arr.min()}, "
                         f"max {arr.max()}")
    if np.all(arr == T):
        return None
    return arr


class _Mask:
    """Which (step, sequence) pairs are valid, in the forms the fused loops use."""

    def __init__(self, lengths: np.ndarray, T: int, dtype, xp=np):
        valid = np.arange(T)[:, None] < lengths[None, :]               # (T, B), on the host: lengths are
        self.partial = (~valid).any(axis=1).tolist()                   # steps where some row is padding
        self.valid = xp.asarray(valid)                                  # on the arrays' device
        self.invalid_col = (~self.valid)[:, :, None]                    # (T, B, 1), for np.copyto
        self.valid3 = self.valid[:, :, None].astype(dtype)              # (T, B, 1) 0/1 multiplier


# --- fused whole-sequence ops ---------------------------------------------------------------




def _slots(T: int, reverse: bool):
    """Processing order and state slots. States live in a (T+1, B, H) buffer: forward keeps h_0 in
    slot 0 and the state after step t in slot t+1; reverse keeps h_0 in slot T and the state after
    step t in slot t. Either way the outputs in time order and the previous states of each step are
    contiguous slabs of that buffer."""
    if reverse:
        return range(T - 1, -1, -1), 1, 0, T, 0  # steps, prev offset, new offset, initial slot, final slot
    return range(T), 0, 1, 0, T


class _SequenceOp(Function):
    """Shared bookkeeping of the fused ops: lengths mask, direction, packed output.

    Forward returns one array that packs the outputs and the final state(s) along axis 0:
    (T + k, B, H) = [y_1 .. y_T, h_T, (c_T)]; the public functions slice it.
    """

    # the weight-gradient products; the fast kernels' subclasses run them on neurona.kernels.gemm
    _matmul = staticmethod(operator.matmul)

    def __init__(self, lengths=None, reverse: bool = False):
        self.lengths = lengths
        self.reverse = bool(reverse)

    def _setup(self, x, H):
        T, B = x.shape[0], x.shape[1]
        self.mask = None if self.lengths is None else _Mask(self.lengths, T, x.dtype, get_array_module(x))
        return T, B

    def _prev_and_outputs(self, S, T):
        """(previous states, outputs) of each step in time order, as (T, B, H) views of state buffer S."""
        if self.reverse:
            return S[1:], S[:T]
        return S[:T], S[1:]

    def _pack(self, S, extra_final, T, B, H, dtype):
        xp = get_array_module(S)
        final = 0 if self.reverse else T
        k = 1 + len(extra_final)
        out = xp.empty((T + k, B, H), dtype)
        outs = self._prev_and_outputs(S, T)[1]
        if self.mask is None:
            out[:T] = outs
        else:
            np.multiply(outs, self.mask.valid3, out=out[:T])  # padded steps output 0
        out[T] = S[final]
        for j, e in enumerate(extra_final):
            out[T + 1 + j] = e[final]
        return out

    def _keep(self, *arrays):
        """Remember workspace arrays that backward reads; they go back to the workspace on release."""
        self._pooled = arrays

    def _finish(self, out):
        """Forward's last step: with no graph recorded, nothing will run backward, so release now."""
        if not is_grad_enabled():
            self.release()
        return out

    def release(self) -> None:
        pooled = self.__dict__.get("_pooled")
        super().release()
        if pooled:
            workspace.give(*pooled)

    def _bptt_steps(self, T):
        # backward visits the steps in the opposite order of forward
        return range(T) if self.reverse else range(T - 1, -1, -1)


def _with_ones(x) -> np.ndarray:
    """x (T, B, I) as rows [x, 1], (T·B, I + 1), in a pooled buffer.

    With the bias as one more row of the weights, x Wᵀ + b is a single product [x, 1]·[Wᵀ; b],
    and backward's product ∂L/∂Aᵀ·[x, 1] gives ∂L/∂W and, in its last column, ∂L/∂b = Σ_rows ∂L/∂A:
    no separate pass over the (T·B, G·H) arrays for either.
    """
    T, B, I = x.shape
    xa = workspace.take((T * B, I + 1), x.dtype, get_array_module(x))
    xa.reshape(T, B, I + 1)[:, :, :I] = x
    xa[:, I] = 1
    return xa


def _project(xa, w, b, T: int, B: int):
    """[x, 1] (T·B, I + 1) → x Wᵀ + b, (T, B, G·H), in one matrix product over all steps (pooled buffer)."""
    xp = get_array_module(xa)
    I = xa.shape[1] - 1
    wa = xp.empty((I + 1, w.shape[0]), w.dtype)
    wa[:I] = w.T
    wa[I] = 0 if b is None else b
    a = workspace.take((T * B, w.shape[0]), xa.dtype, xp)
    np.matmul(xa, wa, out=a)
    return a.reshape(T, B, w.shape[0])


def _split_bias_grad(gwa):
    """(G·H, I + 1) gradient of [W, b] → (∂L/∂W contiguous, ∂L/∂b)."""
    xp = get_array_module(gwa)
    return xp.ascontiguousarray(gwa[:, :-1]), gwa[:, -1].copy()


def _scaled(w, s):
    return w * s[:, None]


class LSTMSequence(_SequenceOp):
    """One LSTM layer in one direction over a whole sequence, as one op.

    Inputs: x (T, B, I), h_0 (B, H), c_0 (B, H), w_ih (4H, I), w_hh (4H, H), then b_ih, b_hh (4H,)
    if the layer has biases. Output: (T + 2, B, H) = [h_1 .. h_T, h_n, c_n].

    Each step is one product [h_{t-1}, x_t, 1] · [W_hhᵀ; W_ihᵀ; b] of (B, H + I + 1) by
    (H + I + 1, 4H). The rows [h, x, 1] of every step live in one buffer Z, (T + 1, B, H + I + 1),
    into which each step writes its new h: there is no input projection to add to the recurrent
    part, and after the loop ∂L/∂W_hh, ∂L/∂W_ih and ∂L/∂b are one product Zᵀ · ∂L/∂a. The gate
    activations of each step go gate-major, (4, T, B, H), while in cache (the copy is one of the
    passes of σ), so that the single-gate work of forward and of backward runs on contiguous memory.
    Keeps for backward: the gates, Z (the states h and the inputs), tanh(c_t), and the two terms
    i_t ĉ_t and f_t c_{t-1} of c_t, from which backward writes each gate's factor in two passes.
    """

    def forward(self, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None):
        xp = get_array_module(x)
        H = w_hh.shape[1]
        T, B = self._setup(x, H)
        dt = x.dtype
        I = x.shape[2]
        K = H + I + 1
        s = xp.full(4 * H, -1.0, dt)
        s[2 * H:3 * H] = -2.0  # tanh(a) = 2σ(2a) − 1: one exp serves all four gates
        wz = xp.empty((K, 4 * H), dt)                  # [W_hhᵀ; W_ihᵀ; b], each column scaled by s
        np.multiply(w_hh.T, s, out=wz[:H])
        np.multiply(w_ih.T, s, out=wz[H:H + I])
        if b_ih is None:
            wz[H + I] = 0
        else:
            np.multiply(b_ih + b_hh, s, out=wz[H + I])
        steps, po, no, first, _ = _slots(T, self.reverse)
        Z = workspace.take((T + 1, B, K), dt, xp)
        Z[po:po + T, :, H:H + I] = x                   # step t reads slot t + po
        Z[:, :, H + I] = 1
        Z[first, :, :H] = h0
        S = Z[:, :, :H]                                # the states h, (T + 1, B, H) view
        G = workspace.take((4, T, B, H), dt, xp)              # gate-major: becomes i, f, ĉ, o
        C = workspace.take((T + 1, B, H), dt, xp)
        TC = workspace.take((T, B, H), dt, xp)                 # tanh(c_t)
        C[first] = c0
        rec = xp.empty((B, 4 * H), dt)
        rec4 = rec.reshape(B, 4, H).transpose(1, 0, 2)  # its gate-major view (4, B, H)
        IG = workspace.take((T, B, H), dt, xp)                 # i_t ĉ_t and f_t c_{t-1}, the two terms of c_t (backward
        FC = workspace.take((T, B, H), dt, xp)                 # derives its gate factors from them)
        num = xp.array([1, 1, 2, 1], dt).reshape(4, 1, 1)
        mask = self.mask
        with np.errstate(over="ignore"):  # e^{large} = inf gives σ = 0 exactly
            for t in steps:
                p, n = t + po, t + no
                np.matmul(Z[p], wz, out=rec)
                np.exp(rec, out=rec)
                g = G[:, t]
                np.add(rec4, 1, out=g)                 # gate-major from here on, for contiguous single-gate work
                np.divide(num, g, out=g)               # i, f, o = σ(a); the candidate's slot holds 2σ(2a)
                cand = G[2, t]
                cand -= 1                              # ĉ = tanh(a_g) = 2σ(2a_g) − 1
                c = C[n]
                np.multiply(G[1, t], C[p], out=FC[t])  # c_t = f_t * c_{t-1} + i_t * ĉ_t
                np.multiply(G[0, t], cand, out=IG[t])
                np.add(FC[t], IG[t], out=c)
                tc = TC[t]
                np.multiply(c, -2, out=tc)
                np.exp(tc, out=tc)
                tc += 1
                np.divide(2, tc, out=tc)
                tc -= 1                                # tanh(c_t)
                np.multiply(G[3, t], tc, out=S[n])     # h_t = o_t * tanh(c_t)
                if mask is not None and mask.partial[t]:
                    m = mask.invalid_col[t]
                    np.copyto(S[n], S[p], where=m)
                    np.copyto(C[n], C[p], where=m)
        self.x, self.w_ih, self.w_hh, self.po = x, w_ih, w_hh, po
        self.G, self.Z, self.TC, self.IG, self.FC = G, Z, TC, IG, FC
        self.has_bias = b_ih is not None
        self._keep(G, Z, C, TC, IG, FC)  # C only goes back to the pool: backward does not read it
        return self._finish(self._pack(S, (C,), T, B, H, dt))

    def backward(self, gy):
        xp = get_array_module(gy)
        G, TC, IG, FC, w_hh = self.G, self.TC, self.IG, self.FC, self.w_hh
        _, T, B, H = G.shape
        H4 = 4 * H
        dt = G.dtype
        mask = self.mask
        dout = gy[:T]
        if mask is not None:
            dout = dout * mask.valid3
        i, f, g, o = G
        h = self._prev_and_outputs(self.Z[:, :, :H], T)[1]  # h_t = o_t tanh(c_t), (T, B, H) view
        # the local derivatives of every step at once (they do not depend on the recurrence):
        # ∂a_i = ∂c ĉ σ'(a_i), ∂a_f = ∂c c_{t-1} σ'(a_f), ∂a_g = ∂c i (1 − ĉ²), ∂a_o = ∂h tanh(c) σ'(a_o),
        # with σ' = σ(1 − σ) and each factor written from the products forward kept, two passes each
        Q = workspace.take(G.shape, dt, xp)
        np.subtract(1, i, out=Q[0])
        Q[0] *= IG                                     # ĉ σ'(a_i) = (1 − i) · iĉ
        np.subtract(1, f, out=Q[1])
        Q[1] *= FC                                     # c_{t-1} σ'(a_f) = (1 − f) · f c_{t-1}
        np.multiply(IG, g, out=Q[2])
        np.subtract(i, Q[2], out=Q[2])                 # i (1 − ĉ²) = i − iĉ · ĉ
        np.subtract(1, o, out=Q[3])
        Q[3] *= h                                      # tanh(c) σ'(a_o) = (1 − o) · h
        K = np.multiply(h, TC, out=workspace.take(TC.shape, dt, xp))  # ∂c_t += ∂h_t o_t (1 − tanh²(c_t))
        np.subtract(o, K, out=K)                       # o (1 − tanh²(c)) = o − h tanh(c)
        F = f
        if mask is not None:
            Q *= mask.valid3
            K *= mask.valid3
            F = xp.where(mask.valid[:, :, None], f, dt.type(1))  # padded steps pass ∂c through
        dG = workspace.take((T, B, H4), dt, xp)
        dh = xp.array(gy[T], dtype=dt)
        dc = xp.array(gy[T + 1], dtype=dt)
        tmp = xp.empty((B, H), dt)
        dh_next = xp.empty((B, H), dt)
        dG4 = dG.reshape(T, B, 4, H).transpose(0, 2, 1, 3)                  # (T, 4, B, H) view
        for t in self._bptt_steps(T):
            dh += dout[t]
            np.multiply(dh, K[t], out=tmp)
            dc += tmp
            np.multiply(dc, Q[:3, t], out=dG4[t, :3])                        # ∂a_i, ∂a_f, ∂a_g
            np.multiply(dh, Q[3, t], out=dG4[t, 3])                          # ∂a_o
            dc *= F[t]                                                       # ∂c_{t-1} = ∂c_t f_t
            np.matmul(dG[t], w_hh, out=dh_next)                              # ∂h_{t-1} = ∂a_t W_hh
            if mask is not None and mask.partial[t]:
                np.copyto(dh_next, dh, where=mask.invalid_col[t])
            dh, dh_next = dh_next, dh
        grads = self._weight_grads(dG, dh, dc)
        workspace.give(Q, K, dG)
        return grads

    def _weight_grads(self, dG, dh0, dc0):
        xp = get_array_module(dG)
        T, B, H4 = dG.shape
        H = H4 // 4
        x, needs, po = self.x, self.needs, self.po
        I = x.shape[2]
        dG2 = dG.reshape(T * B, H4)
        mm = self._matmul
        gx = mm(dG2, self.w_ih).reshape(x.shape) if needs[0] else None
        # [∂L/∂W_hh, ∂L/∂W_ih, ∂L/∂b] = ∂L/∂aᵀ [h_{t-1}, x_t, 1] over all steps, in one product computed
        # transposed (a wide result multiplies faster)
        gz = mm(self.Z[po:po + T].reshape(T * B, -1).T, dG2)     # (H + I + 1, 4H)
        gw_hh = xp.ascontiguousarray(gz[:H].T) if needs[4] else None
        gw_ih = xp.ascontiguousarray(gz[H:H + I].T) if needs[3] else None
        grads = [gx, dh0 if needs[1] else None, dc0 if needs[2] else None, gw_ih, gw_hh]
        if self.has_bias:
            gb = gz[H + I]
            grads += [gb.copy() if needs[5] else None, gb.copy() if needs[6] else None]
        return tuple(grads)


class GRUSequence(_SequenceOp):
    """One GRU layer in one direction over a whole sequence, as one op.

    Inputs: x (T, B, I), h_0 (B, H), w_ih (3H, I), w_hh (3H, H), then b_ih, b_hh (3H,) if the
    layer has biases. Output: (T + 1, B, H) = [h_1 .. h_T, h_n].
    Keeps for backward: r, z, n (3, T, B, H), W_hn h_{t-1} + b_hn (T, B, H) and the states.

    The gates are stored gate-major, (3, T, B, H), so that every elementwise op of a step, most of
    them on a single gate, runs on contiguous memory (measured faster than strided (B, 3H) slices);
    the recurrent part of the three gates is one (B, H)·(H, 3H) product, read through a gate-major
    view by the two ops that add it in.
    """

    def forward(self, x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
        xp = get_array_module(x)
        H = w_hh.shape[1]
        T, B = self._setup(x, H)
        dt = x.dtype
        I = x.shape[2]
        H2 = 2 * H
        s = xp.full(3 * H, -1.0, dt)
        s[H2:] = -2.0
        wa = xp.zeros((3, I + 1, H), dt)                                  # per gate [W_gᵀ; b_g], scaled
        wa[:, :I] = _scaled(w_ih, s).reshape(3, H, I).transpose(0, 2, 1)
        if b_ih is not None:
            b = b_ih.copy()
            b[:H2] += b_hh[:H2]                      # b_hr, b_hz add outside the recurrence; b_hn is inside r*(.)
            wa[:, I] = (b * s).reshape(3, H)
            bhn = b_hh[H2:] * dt.type(-2)
        else:
            bhn = None
        xa = _with_ones(x)
        A = np.matmul(xa, wa, out=workspace.take((3, T * B, H), dt, xp)).reshape(3, T, B, H)  # becomes r, z, n
        whs = xp.ascontiguousarray(_scaled(w_hh, s).T)  # (H, 3H): one product for the three gates
        HN = workspace.take((T, B, H), dt, xp)                 # −2 (W_hn h_{t-1} + b_hn)
        S = workspace.take((T + 1, B, H), dt, xp)
        steps, po, no, first, _ = _slots(T, self.reverse)
        S[first] = h0
        rec = xp.empty((B, 3 * H), dt)
        rec3 = rec.reshape(B, 3, H).transpose(1, 0, 2)  # its gate-major view (3, B, H)
        tmp = xp.empty((B, H), dt)
        mask = self.mask
        with np.errstate(over="ignore"):
            for t in steps:
                p, n = t + po, t + no
                np.matmul(S[p], whs, out=rec)
                rz = A[:2, t]
                rz += rec3[:2]
                np.exp(rz, out=rz)
                rz += 1
                np.divide(1, rz, out=rz)                # r, z
                hn = HN[t]
                if bhn is None:
                    hn[...] = rec3[2]
                else:
                    np.add(rec3[2], bhn, out=hn)
                cand = A[2, t]
                np.multiply(A[0, t], hn, out=tmp)       # r * (W_hn h + b_hn)
                cand += tmp
                np.exp(cand, out=cand)
                cand += 1
                np.divide(2, cand, out=cand)
                cand -= 1                               # n = tanh(...)
                hnew = S[n]
                np.subtract(S[p], cand, out=hnew)       # h_t = n + z (h_{t-1} − n)
                hnew *= A[1, t]
                hnew += cand
                if mask is not None and mask.partial[t]:
                    np.copyto(hnew, S[p], where=mask.invalid_col[t])
        self.x, self.xa, self.w_ih, self.w_hh = x, xa, w_ih, w_hh
        self.A, self.HN, self.S = A, HN, S
        self._keep(A.base if A.base is not None else A, HN, S, xa)
        self.has_bias = b_ih is not None
        return self._finish(self._pack(S, (), T, B, H, dt))

    def backward(self, gy):
        xp = get_array_module(gy)
        A, HN, S, w_hh = self.A, self.HN, self.S, self.w_hh
        _, T, B, H = A.shape
        H3 = 3 * H
        H2 = 2 * H
        dt = A.dtype
        mask = self.mask
        dout = gy[:T]
        if mask is not None:
            dout = dout * mask.valid3
        r, z, n = A
        Sprev, _ = self._prev_and_outputs(S, T)
        # per-step local derivatives, all steps at once:
        # ∂a_z = ∂h (h_{t-1} − n) σ'(a_z),  ∂a_n = ∂h (1 − z)(1 − n²),  ∂a_r = ∂a_n (W_hn h + b_hn) σ'(a_r)
        shape = (T, B, H)
        Pr = np.subtract(1, r, out=workspace.take(shape, dt, xp))
        Pr *= r
        Pr *= HN
        Pr *= dt.type(-0.5)                            # HN holds −2 (W_hn h + b_hn)
        one_z = np.subtract(1, z, out=workspace.take(shape, dt, xp))
        Pz = np.subtract(Sprev, n, out=workspace.take(shape, dt, xp))
        Pz *= z
        Pz *= one_z
        Pn = np.multiply(n, n, out=workspace.take(shape, dt, xp))
        np.subtract(1, Pn, out=Pn)
        Pn *= one_z
        Z = z
        if mask is not None:
            Pz *= mask.valid3
            Pn *= mask.valid3
            Z = xp.where(mask.valid[:, :, None], z, dt.type(1))
        dHg = workspace.take((T, B, H3), dt, xp)                # ∂L/∂(W_h h + b_h): [∂a_r, ∂a_z, r ∂a_n]
        dAn = workspace.take(shape, dt, xp)                     # ∂L/∂a_n (the input side of n)
        dh = xp.array(gy[T], dtype=dt)
        dh_next = xp.empty((B, H), dt)
        tmp = xp.empty((B, H), dt)
        for t in self._bptt_steps(T):
            dh += dout[t]
            g = dHg[t]
            dn = dAn[t]
            np.multiply(dh, Pz[t], out=g[:, H:H2])
            np.multiply(dh, Pn[t], out=dn)
            np.multiply(dn, Pr[t], out=g[:, :H])
            np.multiply(dn, r[t], out=g[:, H2:])
            np.multiply(dh, Z[t], out=tmp)             # ∂h_{t-1} = ∂h_t z_t + ∂(W_h h) W_hh
            np.matmul(g, w_hh, out=dh_next)
            dh_next += tmp
            if mask is not None and mask.partial[t]:
                np.copyto(dh_next, dh, where=mask.invalid_col[t])
            dh, dh_next = dh_next, dh
        grads = self._weight_grads(dHg, dAn, dh)
        workspace.give(Pr, one_z, Pz, Pn, dHg, dAn)
        return grads

    def _weight_grads(self, dHg, dAn, dh0):
        """The input, weight and bias gradients from the stacked step gradients (after the BPTT loop):
        dHg (T, B, 3H) = ∂L/∂(W_h h + b_h) per gate, dAn (T, B, H) = ∂L/∂a_n, and ∂L/∂h_0."""
        T, B, H3 = dHg.shape
        H = H3 // 3
        H2 = 2 * H
        xp = get_array_module(dHg)
        Sprev, _ = self._prev_and_outputs(self.S, T)
        x = self.x
        needs = self.needs
        I = x.shape[2]
        dH2 = dHg.reshape(T * B, H3)
        dN2 = dAn.reshape(T * B, H)
        gx = gw_ih = None
        mm = self._matmul
        if needs[0]:
            gx = mm(dH2[:, :H2], self.w_ih[:H2])
            gx += mm(dN2, self.w_ih[H2:])
            gx = gx.reshape(x.shape)
        xa = self.xa
        g_rz = mm(dH2[:, :H2].T, xa)                     # [∂L/∂W_ir; ∂L/∂W_iz] and their bias sums, last column
        g_n = mm(dN2.T, xa)
        gw_ih = xp.concatenate([g_rz[:, :I], g_n[:, :I]]) if needs[2] else None
        gw_hh = mm(dH2.T, Sprev.reshape(T * B, H)) if needs[3] else None
        grads = [gx, dh0 if needs[1] else None, gw_ih, gw_hh]
        if self.has_bias:
            gb_ih = xp.concatenate([g_rz[:, I], g_n[:, I]])
            gb_hh = gb_ih.copy()                       # r and z: the same sums; n: Σ r ∂a_n
            gb_hh[H2:] = dH2[:, H2:].sum(axis=0)
            grads += [gb_ih if needs[4] else None, gb_hh if needs[5] else None]
        return tuple(grads)


class RNNSequence(_SequenceOp):
    """One Elman layer (tanh or relu) in one direction over a whole sequence, as one op.

    Inputs: x (T, B, I), h_0 (B, H), w_ih (H, I), w_hh (H, H), then b_ih, b_hh (H,).
    Output: (T + 1, B, H) = [h_1 .. h_T, h_n]. Keeps for backward: the states.
    """

    def __init__(self, lengths=None, reverse: bool = False, nonlinearity: str = "tanh"):
        super().__init__(lengths, reverse)
        self.nonlinearity = nonlinearity

    def forward(self, x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
        xp = get_array_module(x)
        H = w_hh.shape[1]
        T, B = self._setup(x, H)
        dt = x.dtype
        use_tanh = self.nonlinearity == "tanh"
        k = dt.type(-2.0 if use_tanh else 1.0)
        b = None if b_ih is None else (b_ih + b_hh) * k
        xa = _with_ones(x)
        A = _project(xa, w_ih * k, b, T, B)
        whs = xp.ascontiguousarray((w_hh * k).T)
        S = workspace.take((T + 1, B, H), dt, xp)
        steps, po, no, first, _ = _slots(T, self.reverse)
        S[first] = h0
        rec = xp.empty((B, H), dt)
        mask = self.mask
        with np.errstate(over="ignore"):
            for t in steps:
                p, n = t + po, t + no
                a = A[t]
                np.matmul(S[p], whs, out=rec)
                a += rec
                if use_tanh:
                    np.exp(a, out=a)
                    a += 1
                    np.divide(2, a, out=S[n])
                    S[n] -= 1
                else:
                    np.maximum(a, 0, out=S[n])
                if mask is not None and mask.partial[t]:
                    np.copyto(S[n], S[p], where=mask.invalid_col[t])
        self.x, self.xa, self.w_ih, self.w_hh, self.S = x, xa, w_ih, w_hh, S
        self._keep(S, xa)
        workspace.give(A.base if A.base is not None else A)   # the pre-activations are not needed by backward
        self.has_bias = b_ih is not None
        return self._finish(self._pack(S, (), T, B, H, dt))

    def backward(self, gy):
        xp = get_array_module(gy)
        S, w_hh, x = self.S, self.w_hh, self.x
        T, B, H = S.shape[0] - 1, S.shape[1], S.shape[2]
        dt = S.dtype
        mask = self.mask
        dout = gy[:T]
        if mask is not None:
            dout = dout * mask.valid3
        Sprev, Sout = self._prev_and_outputs(S, T)
        D = workspace.take(Sout.shape, dt, xp)
        if self.nonlinearity == "tanh":
            np.multiply(Sout, Sout, out=D)
            np.subtract(1, D, out=D)                    # tanh' = 1 − h²
        else:
            np.greater(Sout, 0, out=D)                  # relu' = 1 where h > 0
        if mask is not None:
            D *= mask.valid3                           # padded steps: output 0, no gradient into a
        dA = workspace.take((T, B, H), dt, xp)
        dh = xp.array(gy[T], dtype=dt)
        dh_next = xp.empty((B, H), dt)
        for t in self._bptt_steps(T):
            dh += dout[t]
            np.multiply(dh, D[t], out=dA[t])
            np.matmul(dA[t], w_hh, out=dh_next)
            if mask is not None and mask.partial[t]:
                np.copyto(dh_next, dh, where=mask.invalid_col[t])
            dh, dh_next = dh_next, dh
        needs = self.needs
        dA2 = dA.reshape(T * B, H)
        gx = (dA2 @ self.w_ih).reshape(x.shape) if needs[0] else None
        gw_ih, gb = _split_bias_grad(dA2.T @ self.xa)
        gw_hh = dA2.T @ Sprev.reshape(T * B, H) if needs[3] else None
        grads = [gx, dh if needs[1] else None, gw_ih if needs[2] else None, gw_hh]
        if self.has_bias:
            grads += [gb if needs[4] else None, gb.copy() if needs[5] else None]
        workspace.give(D, dA)
        return tuple(grads)


# --- public sequence functions ---------------------------------------------------------------


def _check_sequence(op: str, x: Tensor, states, w_ih: Tensor, w_hh: Tensor, b_ih, b_hh, gates: int):
    if x.ndim != 3:
        raise ValueError(f"{op}: expected a time-major input (T, B, input_size), got shape {x.shape}")
    T, B, I = x.shape
    if w_hh.ndim != 2 or w_hh.shape[0] != gates * w_hh.shape[1]:
        raise ValueError(f"{op}: w_hh must have shape ({gates}*H, H), got {w_hh.shape}")
    H = w_hh.shape[1]
    if w_ih.shape != (gates * H, I):
        raise ValueError(f"{op}: w_ih must have shape ({gates * H}, {I}) for input size {I} and hidden size {H}, "
                         f"got {w_ih.shape}")
    if (b_ih is None) != (b_hh is None):
        raise ValueError(f"{op}: give both biases (b_ih, b_hh) or neither")
    for name, b in (("b_ih", b_ih), ("b_hh", b_hh)):
        if b is not None and b.shape != (gates * H,):
            raise ValueError(f"{op}: {name} must have shape ({gates * H},), got {b.shape}")
    for name, s in states:
        if s.shape != (B, H):
            raise ValueError(f"{op}: {name} must have shape (batch, hidden) = ({B}, {H}), got {s.shape}")
    dts = {t.dtype for t in [x, w_ih, w_hh] + [s for _, s in states] + [b for b in (b_ih, b_hh) if b is not None]}
    if len(dts) != 1 or x.dtype.kind != "f":
        raise TypeError(f"{op}: input, states and weights must share one floating dtype, got "
                        f"{sorted(str(d) for d in dts)}; convert the input (x.float()) or the layer (.to(...))")


def _tensors(*xs):
    return [None if x is None else as_tensor(x) for x in xs]


def _composed(step, x: Tensor, state: tuple, lengths, reverse: bool) -> tuple[Tensor, tuple]:
    """The cell applied in a Python loop over time, with the padding rules of the fused ops."""
    T = x.shape[0]
    valid = None if lengths is None else np.arange(T)[:, None] < lengths[None, :]  # host: read per step
    outs = [None] * T
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        new = step(x[t], state)
        if valid is not None and not valid[t].all():
            m = Tensor(get_array_module(x.array).asarray(valid[t][:, None]))
            new = tuple(where(m, a, b) for a, b in zip(new, state))
            outs[t] = where(m, new[0], 0.0)
        else:
            outs[t] = new[0]
        state = new
    return stack(outs, 0), state


def lstm_sequence(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, *, lengths=None, reverse: bool = False,
                  fused: bool = True) -> tuple[Tensor, Tensor, Tensor]:
    """Run one LSTM layer over a time-major sequence; returns (output (T, B, H), h_n, c_n).

    ``x`` (T, B, I); ``h0``, ``c0`` (B, H); weights in PyTorch's layout (gate order i, f, g, o).
    ``lengths`` (B,) marks the true length of each padded sequence; ``reverse`` reads right to left.
    ``fused=False`` runs :func:`lstm_cell` in a loop (the composed reference).
    """
    x, h0, c0, w_ih, w_hh, b_ih, b_hh = _tensors(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    _check_sequence("lstm", x, (("h0", h0), ("c0", c0)), w_ih, w_hh, b_ih, b_hh, 4)
    T = x.shape[0]
    lengths = _check_lengths(lengths, T, x.shape[1], "lstm")
    if not fused:
        out, (h, c) = _composed(lambda xt, s: lstm_cell(xt, s, w_ih, w_hh, b_ih, b_hh), x, (h0, c0), lengths, reverse)
        return out, h, c
    ins = (x, h0, c0, w_ih, w_hh) + (() if b_ih is None else (b_ih, b_hh))
    op = (kernels.lookup("lstm", x.array) if lengths is None else None) or LSTMSequence
    packed = op(lengths, reverse)(*ins)
    return packed[:T], packed[T], packed[T + 1]


def gru_sequence(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, *, lengths=None, reverse: bool = False,
                 fused: bool = True) -> tuple[Tensor, Tensor]:
    """Run one GRU layer over a time-major sequence; returns (output (T, B, H), h_n).

    Weights in PyTorch's layout (gate order r, z, n); see :func:`lstm_sequence` for the arguments.
    """
    x, h0, w_ih, w_hh, b_ih, b_hh = _tensors(x, h0, w_ih, w_hh, b_ih, b_hh)
    _check_sequence("gru", x, (("h0", h0),), w_ih, w_hh, b_ih, b_hh, 3)
    T = x.shape[0]
    lengths = _check_lengths(lengths, T, x.shape[1], "gru")
    if not fused:
        out, (h,) = _composed(lambda xt, s: (gru_cell(xt, s[0], w_ih, w_hh, b_ih, b_hh),), x, (h0,), lengths,
                              reverse)
        return out, h
    ins = (x, h0, w_ih, w_hh) + (() if b_ih is None else (b_ih, b_hh))
    op = (kernels.lookup("gru", x.array) if lengths is None else None) or GRUSequence
    packed = op(lengths, reverse)(*ins)
    return packed[:T], packed[T]


def rnn_sequence(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, *, nonlinearity: str = "tanh", lengths=None,
                 reverse: bool = False, fused: bool = True) -> tuple[Tensor, Tensor]:
    """Run one Elman layer (``nonlinearity`` 'tanh' or 'relu') over a time-major sequence; returns (output, h_n)."""
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"rnn: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    x, h0, w_ih, w_hh, b_ih, b_hh = _tensors(x, h0, w_ih, w_hh, b_ih, b_hh)
    _check_sequence("rnn", x, (("h0", h0),), w_ih, w_hh, b_ih, b_hh, 1)
    T = x.shape[0]
    lengths = _check_lengths(lengths, T, x.shape[1], "rnn")
    if not fused:
        cell = rnn_tanh_cell if nonlinearity == "tanh" else rnn_relu_cell
        out, (h,) = _composed(lambda xt, s: (cell(xt, s[0], w_ih, w_hh, b_ih, b_hh),), x, (h0,), lengths, reverse)
        return out, h
    ins = (x, h0, w_ih, w_hh) + (() if b_ih is None else (b_ih, b_hh))
    packed = RNNSequence(lengths, reverse, nonlinearity)(*ins)
    return packed[:T], packed[T]
