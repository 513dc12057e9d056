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
  for a whole sequence of one layer in one direction. Forward computes the
  input projection of all T steps in one matrix product, then one product
  per step for the recurrent part of all gates at once, with every buffer
  allocated once before the loop. It keeps the gate activations, and its
  backward is the BPTT loop written by hand: per step only the recurrent
  product ∂L/∂h_{t-1} = ∂L/∂a_t · W_hh; the weight gradients are one
  product each after the loop, over the gate gradients of all steps stacked
  (∂L/∂W_hh = Σ_t ∂L/∂a_tᵀ h_{t-1}).

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

import numpy as np

from ..tensor import Function, Tensor
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
    lengths = np.asarray(lengths.data if isinstance(lengths, Tensor) else lengths)
    T = int(lengths.max()) if max_len is None else int(max_len)
    return np.arange(T)[:, None] < lengths[None, :]


def _check_lengths(lengths, T: int, B: int, op: str):
    """Lengths as an int64 array, or None when every sequence is full (the unmasked fast path)."""
    if lengths is None:
        return None
    arr = np.asarray(lengths.data if isinstance(lengths, Tensor) else lengths)
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

    def __init__(self, lengths: np.ndarray, T: int, dtype):
        self.valid = np.arange(T)[:, None] < lengths[None, :]          # (T, B)
        self.invalid_col = (~self.valid)[:, :, None]                    # (T, B, 1), for np.copyto
        self.partial = (~self.valid).any(axis=1).tolist()              # steps where some row is padding
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

    def __init__(self, lengths=None, reverse: bool = False):
        self.lengths = lengths
        self.reverse = bool(reverse)

    def _setup(self, x, H):
        T, B = x.shape[0], x.shape[1]
        self.mask = None if self.lengths is None else _Mask(self.lengths, T, x.dtype)
        return T, B

    def _prev_and_outputs(self, S, T):
        """(previous states, outputs) of each step in time order, as (T, B, H) views of state buffer S."""
        if self.reverse:
            return S[1:], S[:T]
        return S[:T], S[1:]

    def _pack(self, S, extra_final, T, B, H, dtype):
        final = 0 if self.reverse else T
        k = 1 + len(extra_final)
        out = np.empty((T + k, B, H), dtype)
        outs = self._prev_and_outputs(S, T)[1]
        if self.mask is None:
            out[:T] = outs
        else:
            np.multiply(outs, self.mask.valid3, out=out[:T])  # padded steps output 0
        out[T] = S[final]
        for j, e in enumerate(extra_final):
            out[T + 1 + j] = e[final]
        return out

    def _bptt_steps(self, T):
        # backward visits the steps in the opposite order of forward
        return range(T) if self.reverse else range(T - 1, -1, -1)


def _project(x, w, b):
    """x (T, B, I) → x Wᵀ + b, (T, B, G·H), in one matrix product over all steps."""
    T, B, I = x.shape
    a = (x.reshape(T * B, I) @ w.T)
    if b is not None:
        a += b
    return a.reshape(T, B, w.shape[0])


def _scaled(w, s):
    return w * s[:, None]


class LSTMSequence(_SequenceOp):
    """One LSTM layer in one direction over a whole sequence, as one op.

    Inputs: x (T, B, I), h_0 (B, H), c_0 (B, H), w_ih (4H, I), w_hh (4H, H), then b_ih, b_hh (4H,)
    if the layer has biases. Output: (T + 2, B, H) = [h_1 .. h_T, h_n, c_n].
    Keeps for backward: the gate activations (T, B, 4H), the states h and c, tanh(c_t).
    """

    def forward(self, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None):
        H = w_hh.shape[1]
        T, B = self._setup(x, H)
        dt = x.dtype
        s = np.full(4 * H, -1.0, dt)
        s[2 * H:3 * H] = -2.0  # tanh(a) = 2σ(2a) − 1: one exp serves all four gates
        b = None if b_ih is None else (b_ih + b_hh) * s
        G = _project(x, _scaled(w_ih, s), b)         # becomes the gate activations, step by step
        whs = np.ascontiguousarray(_scaled(w_hh, s).T)  # (H, 4H)
        S = np.empty((T + 1, B, H), dt)
        C = np.empty((T + 1, B, H), dt)
        TC = np.empty((T, B, H), dt)                   # tanh(c_t)
        steps, po, no, first, _ = _slots(T, self.reverse)
        S[first], C[first] = h0, c0
        rec = np.empty((B, 4 * H), dt)
        ig = np.empty((B, H), dt)
        mask = self.mask
        H2, H3 = 2 * H, 3 * H
        with np.errstate(over="ignore"):  # e^{large} = inf gives σ = 0 exactly
            for t in steps:
                p, n = t + po, t + no
                g = G[t]
                np.matmul(S[p], whs, out=rec)
                g += rec
                np.exp(g, out=g)
                g += 1
                np.divide(1, g, out=g)                 # i, f, o = σ(a); slot g holds σ(2a)
                cand = g[:, H2:H3]
                cand *= 2
                cand -= 1                              # ĉ = tanh(a_g)
                c = C[n]
                np.multiply(g[:, H:H2], C[p], out=c)   # c_t = f_t * c_{t-1} + i_t * ĉ_t
                np.multiply(g[:, :H], cand, out=ig)
                c += ig
                tc = TC[t]
                np.multiply(c, -2, out=tc)
                np.exp(tc, out=tc)
                tc += 1
                np.divide(2, tc, out=tc)
                tc -= 1                                # tanh(c_t)
                np.multiply(g[:, H3:], tc, out=S[n])   # h_t = o_t * tanh(c_t)
                if mask is not None and mask.partial[t]:
                    m = mask.invalid_col[t]
                    np.copyto(S[n], S[p], where=m)
                    np.copyto(C[n], C[p], where=m)
        self.x, self.w_ih, self.w_hh = x, w_ih, w_hh
        self.G, self.S, self.C, self.TC = G, S, C, TC
        self.has_bias = b_ih is not None
        return self._pack(S, (C,), T, B, H, dt)

    def backward(self, gy):
        G, S, C, TC, w_hh = self.G, self.S, self.C, self.TC, self.w_hh
        T, B, H4 = G.shape
        H = H4 // 4
        dt = G.dtype
        mask = self.mask
        dout = gy[:T]
        if mask is not None:
            dout = dout * mask.valid3
        i, f, g, o = G[..., :H], G[..., H:2 * H], G[..., 2 * H:3 * H], G[..., 3 * H:]
        Sprev, _ = self._prev_and_outputs(S, T)
        Cprev = C[1:] if self.reverse else C[:T]
        # the local derivatives of every step at once (they do not depend on the recurrence):
        # ∂a_i = ∂c ĉ σ'(a_i), ∂a_f = ∂c c_{t-1} σ'(a_f), ∂a_g = ∂c i (1 − ĉ²), ∂a_o = ∂h tanh(c) σ'(a_o)
        Q = np.empty((T, B, H4), dt)
        Qi, Qf, Qg, Qo = Q[..., :H], Q[..., H:2 * H], Q[..., 2 * H:3 * H], Q[..., 3 * H:]
        np.subtract(1, i, out=Qi); Qi *= i; Qi *= g
        np.subtract(1, f, out=Qf); Qf *= f; Qf *= Cprev
        np.multiply(g, g, out=Qg); np.subtract(1, Qg, out=Qg); Qg *= i
        np.subtract(1, o, out=Qo); Qo *= o; Qo *= TC
        K = TC * TC                                    # ∂c_t += ∂h_t o_t (1 − tanh²(c_t))
        np.subtract(1, K, out=K)
        K *= o
        F = f
        if mask is not None:
            Q *= mask.valid3
            K *= mask.valid3
            F = np.where(mask.valid[:, :, None], f, dt.type(1))  # padded steps pass ∂c through
        dG = np.empty((T, B, H4), dt)
        dh = np.array(gy[T], dtype=dt)
        dc = np.array(gy[T + 1], dtype=dt)
        tmp = np.empty((B, H), dt)
        dh_next = np.empty((B, H), dt)
        Q4 = Q.reshape(T, B, 4, H)
        dG4 = dG.reshape(T, B, 4, H)
        for t in self._bptt_steps(T):
            dh += dout[t]
            np.multiply(dh, K[t], out=tmp)
            dc += tmp
            np.multiply(dc[:, None, :], Q4[t, :, :3], out=dG4[t, :, :3])  # ∂a_i, ∂a_f, ∂a_g
            np.multiply(dh, Qo[t], out=dG[t, :, 3 * H:])                     # ∂a_o
            dc *= F[t]                                                       # ∂c_{t-1} = ∂c_t f_t
            np.matmul(dG[t], w_hh, out=dh_next)                              # ∂h_{t-1} = ∂a_t W_hh
            if mask is not None and mask.partial[t]:
                np.copyto(dh_next, dh, where=mask.invalid_col[t])
            dh, dh_next = dh_next, dh
        return self._weight_grads(dG, Sprev, dh, dc)

    def _weight_grads(self, dG, Sprev, dh0, dc0):
        T, B, H4 = dG.shape
        x = self.x
        needs = self.needs
        dG2 = dG.reshape(T * B, H4)
        gx = (dG2 @ self.w_ih).reshape(x.shape) if needs[0] else None
        gw_ih = dG2.T @ x.reshape(T * B, x.shape[2]) if needs[3] else None
        gw_hh = dG2.T @ Sprev.reshape(T * B, -1) if needs[4] else None
        grads = [gx, dh0 if needs[1] else None, dc0 if needs[2] else None, gw_ih, gw_hh]
        if self.has_bias:
            gb = dG2.sum(axis=0) if (needs[5] or needs[6]) else None
            grads += [gb if needs[5] else None, gb.copy() if needs[6] else None]
        return tuple(grads)


class GRUSequence(_SequenceOp):
    """One GRU layer in one direction over a whole sequence, as one op.

    Inputs: x (T, B, I), h_0 (B, H), w_ih (3H, I), w_hh (3H, H), then b_ih, b_hh (3H,) if the
    layer has biases. Output: (T + 1, B, H) = [h_1 .. h_T, h_n].
    Keeps for backward: r, z, n (T, B, 3H), W_hn h_{t-1} + b_hn (T, B, H) and the states.
    """

    def forward(self, x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
        H = w_hh.shape[1]
        T, B = self._setup(x, H)
        dt = x.dtype
        H2 = 2 * H
        s = np.full(3 * H, -1.0, dt)
        s[H2:] = -2.0
        if b_ih is not None:
            b = b_ih.copy()
            b[:H2] += b_hh[:H2]                      # b_hr, b_hz add outside the recurrence; b_hn is inside r*(.)
            b *= s
            bhn = b_hh[H2:] * dt.type(-2)
        else:
            b = bhn = None
        A = _project(x, _scaled(w_ih, s), b)          # becomes (r, z, n), step by step
        whs = np.ascontiguousarray(_scaled(w_hh, s).T)  # (H, 3H)
        HN = np.empty((T, B, H), dt)                   # −2 (W_hn h_{t-1} + b_hn)
        S = np.empty((T + 1, B, H), dt)
        steps, po, no, first, _ = _slots(T, self.reverse)
        S[first] = h0
        rec = np.empty((B, 3 * H), dt)
        tmp = np.empty((B, H), dt)
        mask = self.mask
        with np.errstate(over="ignore"):
            for t in steps:
                p, n = t + po, t + no
                a = A[t]
                np.matmul(S[p], whs, out=rec)
                rz = a[:, :H2]
                rz += rec[:, :H2]
                np.exp(rz, out=rz)
                rz += 1
                np.divide(1, rz, out=rz)                # r, z
                hn = HN[t]
                if bhn is None:
                    hn[...] = rec[:, H2:]
                else:
                    np.add(rec[:, H2:], bhn, out=hn)
                cand = a[:, H2:]
                np.multiply(rz[:, :H], hn, out=tmp)     # r * (W_hn h + b_hn)
                cand += tmp
                np.exp(cand, out=cand)
                cand += 1
                np.divide(2, cand, out=cand)
                cand -= 1                               # n = tanh(...)
                hnew = S[n]
                np.subtract(S[p], cand, out=hnew)       # h_t = n + z (h_{t-1} − n)
                hnew *= rz[:, H:]
                hnew += cand
                if mask is not None and mask.partial[t]:
                    np.copyto(hnew, S[p], where=mask.invalid_col[t])
        self.x, self.w_ih, self.w_hh = x, w_ih, w_hh
        self.A, self.HN, self.S = A, HN, S
        self.has_bias = b_ih is not None
        return self._pack(S, (), T, B, H, dt)

    def backward(self, gy):
        A, HN, S, w_hh = self.A, self.HN, self.S, self.w_hh
        T, B, H3 = A.shape
        H = H3 // 3
        H2 = 2 * H
        dt = A.dtype
        mask = self.mask
        dout = gy[:T]
        if mask is not None:
            dout = dout * mask.valid3
        r, z, n = A[..., :H], A[..., H:H2], A[..., H2:]
        Sprev, _ = self._prev_and_outputs(S, T)
        # per-step local derivatives, all steps at once:
        # ∂a_z = ∂h (h_{t-1} − n) σ'(a_z),  ∂a_n = ∂h (1 − z)(1 − n²),  ∂a_r = ∂a_n (W_hn h + b_hn) σ'(a_r)
        Pz = np.subtract(Sprev, n)
        Pz *= z
        Pz *= 1 - z
        Pn = np.multiply(n, n)
        np.subtract(1, Pn, out=Pn)
        Pn *= 1 - z
        Pr = np.multiply(HN, dt.type(-0.5))           # W_hn h + b_hn
        Pr *= r
        Pr *= 1 - r
        Z = z
        if mask is not None:
            Pz *= mask.valid3
            Pn *= mask.valid3
            Z = np.where(mask.valid[:, :, None], z, dt.type(1))
        dHg = np.empty((T, B, H3), dt)                  # ∂L/∂(W_h h + b_h): [∂a_r, ∂a_z, r ∂a_n]
        dAn = np.empty((T, B, H), dt)                   # ∂L/∂a_n (the input side of n)
        dh = np.array(gy[T], dtype=dt)
        dh_next = np.empty((B, H), dt)
        tmp = np.empty((B, H), dt)
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
        x = self.x
        needs = self.needs
        I = x.shape[2]
        dH2 = dHg.reshape(T * B, H3)
        dN2 = dAn.reshape(T * B, H)
        gx = gw_ih = None
        if needs[0]:
            gx = dH2[:, :H2] @ self.w_ih[:H2]
            gx += dN2 @ self.w_ih[H2:]
            gx = gx.reshape(x.shape)
        if needs[2]:
            x2 = x.reshape(T * B, I)
            gw_ih = np.empty((H3, I), dt)
            np.matmul(dH2[:, :H2].T, x2, out=gw_ih[:H2])
            np.matmul(dN2.T, x2, out=gw_ih[H2:])
        gw_hh = dH2.T @ Sprev.reshape(T * B, H) if needs[3] else None
        grads = [gx, dh if needs[1] else None, gw_ih, gw_hh]
        if self.has_bias:
            gb_ih = gb_hh = None
            if needs[4] or needs[5]:
                gb_hh = dH2.sum(axis=0)
            if needs[4]:
                gb_ih = gb_hh.copy()
                gb_ih[H2:] = dN2.sum(axis=0)
            grads += [gb_ih, gb_hh if needs[5] else None]
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
        H = w_hh.shape[1]
        T, B = self._setup(x, H)
        dt = x.dtype
        use_tanh = self.nonlinearity == "tanh"
        k = dt.type(-2.0 if use_tanh else 1.0)
        b = None if b_ih is None else (b_ih + b_hh) * k
        A = _project(x, w_ih * k, b)
        whs = np.ascontiguousarray((w_hh * k).T)
        S = np.empty((T + 1, B, H), dt)
        steps, po, no, first, _ = _slots(T, self.reverse)
        S[first] = h0
        rec = np.empty((B, H), dt)
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
        self.x, self.w_ih, self.w_hh, self.S = x, w_ih, w_hh, S
        self.has_bias = b_ih is not None
        return self._pack(S, (), T, B, H, dt)

    def backward(self, gy):
        S, w_hh, x = self.S, self.w_hh, self.x
        T, B, H = S.shape[0] - 1, S.shape[1], S.shape[2]
        dt = S.dtype
        mask = self.mask
        dout = gy[:T]
        if mask is not None:
            dout = dout * mask.valid3
        Sprev, Sout = self._prev_and_outputs(S, T)
        if self.nonlinearity == "tanh":
            D = np.multiply(Sout, Sout)
            np.subtract(1, D, out=D)                    # tanh' = 1 − h²
        else:
            D = (Sout > 0).astype(dt)                   # relu' = 1 where h > 0
        if mask is not None:
            D *= mask.valid3                           # padded steps: output 0, no gradient into a
        dA = np.empty((T, B, H), dt)
        dh = np.array(gy[T], dtype=dt)
        dh_next = np.empty((B, H), dt)
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
        gw_ih = dA2.T @ x.reshape(T * B, x.shape[2]) if needs[2] else None
        gw_hh = dA2.T @ Sprev.reshape(T * B, H) if needs[3] else None
        grads = [gx, dh if needs[1] else None, gw_ih, gw_hh]
        if self.has_bias:
            gb = dA2.sum(axis=0) if (needs[4] or needs[5]) else None
            grads += [gb if needs[4] else None, gb.copy() if needs[5] else None]
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
    valid = None if lengths is None else np.arange(T)[:, None] < lengths[None, :]
    outs = [None] * T
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        new = step(x[t], state)
        if valid is not None and not valid[t].all():
            m = valid[t][:, None]
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
    packed = LSTMSequence(lengths, reverse)(*ins)
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
    packed = GRUSequence(lengths, reverse)(*ins)
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
