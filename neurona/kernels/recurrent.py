"""The LSTM and GRU time steps as one-pass kernels (the products stay with BLAS).

The reference fused ops (``neurona.functional.recurrent``) run each time step
as one matrix product and then about fifteen NumPy passes over (B, H) blocks
for the gates (the exponentials, the divisions, the products of c and h),
and backward as many more. Here the product is the same BLAS call, and
everything elementwise of a step is one loop: forward takes the step's
pre-activations of all gates and writes the gates, the cell state, tanh(c)
and h; backward takes ∂L/∂h and ∂L/∂c and writes the step's gate gradients
and ∂L/∂c_{t−1}. σ and tanh use the vectorizable exponential of
``neurona.kernels._jit`` (float32; float64 keeps the C library's).

These ops keep the reference's inputs, outputs and weight-gradient products
after the loop; they run sequences without ``lengths`` (the padded case keeps
the reference).
"""
from __future__ import annotations

import numpy as np

from .. import workspace
from ..functional.recurrent import GRUSequence as _GRU
from ..functional.recurrent import LSTMSequence as _LSTM
from ..functional.recurrent import _slots, _with_ones
from ._jit import kernel, sigmoid, tanh
from .gemm import matmul, pack

__all__ = ["LSTMSequence", "GRUSequence"]


@kernel
def _lstm_step(A, rec, G, C, TC, Z, t, p, n):
    """From the pre-activations A[t] + rec (B, 4H) of step t (input and recurrent parts): gates G[:, t],
    c_t = C[n], tanh(c_t) = TC[t], h_t = Z[n, :, :H]."""
    B, H = C.shape[1], C.shape[2]
    for b in range(B):
        for j in range(H):
            i = sigmoid(A[t, b, j] + rec[b, j])
            f = sigmoid(A[t, b, H + j] + rec[b, H + j])
            g = tanh(A[t, b, 2 * H + j] + rec[b, 2 * H + j])
            o = sigmoid(A[t, b, 3 * H + j] + rec[b, 3 * H + j])
            c = f * C[p, b, j] + i * g          # c_t = f c_{t−1} + i ĉ
            tc = tanh(c)
            G[0, t, b, j] = i
            G[1, t, b, j] = f
            G[2, t, b, j] = g
            G[3, t, b, j] = o
            C[n, b, j] = c
            TC[t, b, j] = tc
            Z[n, b, j] = o * tc                 # h_t = o tanh(c_t)


@kernel
def _lstm_step_back(dout, G, C, TC, t, p, dh, dc, dG):
    """Step t of BPTT: dh += ∂L/∂y_t; dc += dh o (1 − tanh²c); the gate gradients dG[t]; dc ← dc f."""
    B, H = dh.shape
    one = dh.dtype.type(1)
    for b in range(B):
        for j in range(H):
            i, f, g, o = G[0, t, b, j], G[1, t, b, j], G[2, t, b, j], G[3, t, b, j]
            tc = TC[t, b, j]
            h = dh[b, j] + dout[t, b, j]
            c = dc[b, j] + h * o * (one - tc * tc)
            dG[t, b, j] = c * g * i * (one - i)                      # ∂a_i = ∂c ĉ σ'(a_i)
            dG[t, b, H + j] = c * C[p, b, j] * f * (one - f)         # ∂a_f = ∂c c_{t−1} σ'(a_f)
            dG[t, b, 2 * H + j] = c * i * (one - g * g)              # ∂a_g = ∂c i (1 − ĉ²)
            dG[t, b, 3 * H + j] = h * tc * o * (one - o)             # ∂a_o = ∂h tanh(c) σ'(a_o)
            dc[b, j] = c * f                                         # ∂c_{t−1} = ∂c_t f_t


class LSTMSequence(_LSTM):
    """The reference's op (same inputs, output and kept arrays' layout), each step's gate work in one kernel."""

    _matmul = staticmethod(matmul)

    def forward(self, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None):
        H = w_hh.shape[1]
        T, B = self._setup(x, H)
        dt = x.dtype
        I = x.shape[2]
        K = H + I + 1
        wz = np.empty((K, 4 * H), dt)                  # [W_hhᵀ; W_ihᵀ; b]: a step is [h, x, 1] · wz
        wz[:H] = w_hh.T
        wz[H:H + I] = w_ih.T
        if b_ih is None:
            wz[H + I] = 0
        else:
            np.add(b_ih, b_hh, out=wz[H + I])
        steps, po, no, first, _ = _slots(T, self.reverse)
        Z = workspace.take((T + 1, B, K), dt)
        Z[po:po + T, :, H:H + I] = x
        Z[:, :, H + I] = 1
        Z[first, :, :H] = h0
        G = workspace.take((4, T, B, H), dt)
        C = workspace.take((T + 1, B, H), dt)
        TC = workspace.take((T, B, H), dt)
        C[first] = c0
        # the input part of every step in one product, [x_t, 1] · [W_ihᵀ; b]; each step then multiplies h only
        A = workspace.take((T, B, 4 * H), dt)
        matmul(Z[po:po + T, :, H:].reshape(T * B, I + 1), wz[H:], out=A.reshape(T * B, 4 * H))
        whh = pack(wz[:H])  # the same right operand every step: packed once
        rec = np.empty((B, 4 * H), dt)
        h0_zero = not h0.any()                  # the default initial state: the first product would be zero
        for t in steps:
            if h0_zero:
                rec.fill(0)
                h0_zero = False
            else:
                matmul(Z[t + po, :, :H], whh, out=rec)
            _lstm_step(A, rec, G, C, TC, Z, t, t + po, t + no)
        workspace.give(A)
        self.x, self.w_ih, self.w_hh, self.po = x, w_ih, w_hh, po
        self.G, self.Z, self.C, self.TC = G, Z, C, TC
        self.has_bias = b_ih is not None
        self._keep(G, Z, C, TC)
        return self._finish(self._pack(Z[:, :, :H], (C,), T, B, H, dt))

    def backward(self, gy):
        G, C, TC, w_hh, po = self.G, self.C, self.TC, self.w_hh, self.po
        _, T, B, H = G.shape
        dt = G.dtype
        gy = np.ascontiguousarray(gy, dtype=dt)
        dh = gy[T].copy()
        dc = gy[T + 1].copy()
        dG = workspace.take((T, B, 4 * H), dt)
        dh_next = np.empty((B, H), dt)
        last = T - 1 if self.reverse else 0           # the step whose product gives ∂L/∂h_0
        w_hh = pack(w_hh)
        for t in self._bptt_steps(T):
            _lstm_step_back(gy, G, C, TC, t, t + po, dh, dc, dG)
            if t != last or self.needs[1]:
                matmul(dG[t], w_hh, out=dh_next)             # ∂h_{t−1} = ∂a_t W_hh
                dh, dh_next = dh_next, dh
        grads = self._weight_grads(dG, dh, dc)
        workspace.give(dG)
        return grads


@kernel
def _gru_step(rec, A, HN, S, bhn, t, p, n):
    """From the recurrent products rec (B, 3H) of step t and the input projections A[:, t]:
    r, z, n into A[:, t], W_hn h + b_hn into HN[t], h_t into S[n]."""
    B, H = S.shape[1], S.shape[2]
    for b in range(B):
        for j in range(H):
            r = sigmoid(A[0, t, b, j] + rec[b, j])
            z = sigmoid(A[1, t, b, j] + rec[b, H + j])
            hn = rec[b, 2 * H + j] + bhn[j]
            c = tanh(A[2, t, b, j] + r * hn)
            A[0, t, b, j] = r
            A[1, t, b, j] = z
            A[2, t, b, j] = c
            HN[t, b, j] = hn
            S[n, b, j] = c + z * (S[p, b, j] - c)   # h_t = n + z (h_{t−1} − n)


@kernel
def _gru_step_back(dout, A, HN, S, t, p, dh_mm, carry, dHg, dAn):
    """Step t of BPTT. ∂L/∂h_t = dh_mm + carry + ∂L/∂y_t, where dh_mm = ∂a_{t+1} W_hh came from the product and
    carry = ∂h_{t+1} z_{t+1}; writes the step's gradients and the new carry ∂h_t z_t."""
    B, H = carry.shape
    one = carry.dtype.type(1)
    for b in range(B):
        for j in range(H):
            d = dh_mm[b, j] + carry[b, j] + dout[t, b, j]
            r, z, c = A[0, t, b, j], A[1, t, b, j], A[2, t, b, j]
            dz = d * (S[p, b, j] - c) * z * (one - z)      # ∂a_z = ∂h (h_{t−1} − n) σ'(a_z)
            dn = d * (one - z) * (one - c * c)             # ∂a_n = ∂h (1 − z)(1 − n²)
            dr = dn * HN[t, b, j] * r * (one - r)          # ∂a_r = ∂a_n (W_hn h + b_hn) σ'(a_r)
            dHg[t, b, j] = dr
            dHg[t, b, H + j] = dz
            dHg[t, b, 2 * H + j] = r * dn
            dAn[t, b, j] = dn
            carry[b, j] = d * z


class GRUSequence(_GRU):
    """The reference's op (same inputs and output), each step's gate work in one kernel."""

    _matmul = staticmethod(matmul)

    def forward(self, x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
        H = w_hh.shape[1]
        T, B = self._setup(x, H)
        dt = x.dtype
        I = x.shape[2]
        H2 = 2 * H
        wa = np.zeros((3, I + 1, H), dt)                      # per gate [W_gᵀ; b_g]
        wa[:, :I] = w_ih.reshape(3, H, I).transpose(0, 2, 1)
        bhn = np.zeros(H, dt)
        if b_ih is not None:
            b = b_ih.copy()
            b[:H2] += b_hh[:H2]                  # b_hr, b_hz add outside the recurrence; b_hn is inside r*(.)
            wa[:, I] = b.reshape(3, H)
            bhn[:] = b_hh[H2:]
        xa = _with_ones(x)
        A = workspace.take((3, T * B, H), dt)
        for gate in range(3):
            matmul(xa, wa[gate], out=A[gate])
        A = A.reshape(3, T, B, H)  # becomes r, z, n
        whs = pack(w_hh.T)       # (H, 3H): one product for the three gates, the same every step
        HN = workspace.take((T, B, H), dt)
        S = workspace.take((T + 1, B, H), dt)
        steps, po, no, first, _ = _slots(T, self.reverse)
        S[first] = h0
        rec = np.empty((B, 3 * H), dt)
        h0_zero = not h0.any()                  # the default initial state: the first product would be zero
        for t in steps:
            if h0_zero:
                rec.fill(0)
                h0_zero = False
            else:
                matmul(S[t + po], whs, out=rec)
            _gru_step(rec, A, HN, S, bhn, t, t + po, t + no)
        self.x, self.xa, self.w_ih, self.w_hh = x, xa, w_ih, w_hh
        self.A, self.HN, self.S, self.po = A, HN, S, po
        self._keep(A.base if A.base is not None else A, HN, S, xa)
        self.has_bias = b_ih is not None
        return self._finish(self._pack(S, (), T, B, H, dt))

    def backward(self, gy):
        A, HN, S, w_hh, po = self.A, self.HN, self.S, self.w_hh, self.po
        _, T, B, H = A.shape
        dt = A.dtype
        gy = np.ascontiguousarray(gy, dtype=dt)
        dHg = workspace.take((T, B, 3 * H), dt)
        dAn = workspace.take((T, B, H), dt)
        dh_mm = gy[T].copy()                     # ∂L/∂h_T enters as if it came from the product
        carry = np.zeros((B, H), dt)
        last = T - 1 if self.reverse else 0           # the step whose product gives ∂L/∂h_0
        w_hh = pack(w_hh)
        for t in self._bptt_steps(T):
            _gru_step_back(gy, A, HN, S, t, t + po, dh_mm, carry, dHg, dAn)
            if t != last or self.needs[1]:
                matmul(dHg[t], w_hh, out=dh_mm)              # ∂h_{t−1} = ∂(W_h h) W_hh + carry
        dh_mm += carry
        grads = self._weight_grads(dHg, dAn, dh_mm)
        workspace.give(dHg, dAn)
        return grads
