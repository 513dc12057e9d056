"""The affine map of a fully connected layer, as one fused op.

The notes relate the signals of consecutive layers by

    a^(l) = W^(l) z^(l-1) + w_0^(l),    W^(l) ∈ R^{M(l) × M(l-1)}

for one column vector z. With a batch stored as rows (x of shape (N, M(l-1)))
the same map is ``y = x Wᵀ + b``. Doing it in one ``Function`` costs one GEMM
forward and two GEMMs backward, with any leading batch dimensions folded
into the rows, instead of the four graph nodes of ``x @ w.T + b``.
"""
from __future__ import annotations

import operator

from .. import kernels
from ..engine import Function, Tensor
from .math import as_tensor


class Linear(Function):
    """y = x Wᵀ + b over the last axis of x; leading axes are folded into rows."""

    @staticmethod
    def _products():
        """The function the three products run on; the fast kernels' subclasses choose neurona.kernels.gemm's
        (read once per call: a batch-1 step has microseconds for all of them)."""
        return operator.matmul

    def forward(self, x, w, b=None):
        k = x.shape[-1]
        x2 = x.reshape(-1, k)
        self.x2, self.w, self.xshape = x2, w, x.shape
        y = self._products()(x2, w.T)
        if b is not None:
            y += b  # y is a fresh array: adding in place saves one temporary
        return y.reshape(x.shape[:-1] + (w.shape[0],))

    def backward(self, gy):
        # ∂L/∂x = G W,  ∂L/∂W = Gᵀ x,  ∂L/∂b = Σ_rows G   (G = ∂L/∂y with batch axes as rows)
        g2 = gy.reshape(-1, gy.shape[-1])
        mm = self._products()
        gx = mm(g2, self.w).reshape(self.xshape) if self.needs[0] else None
        gw = mm(g2.T, self.x2) if self.needs[1] else None
        if len(self.needs) == 2:
            return gx, gw
        gb = g2.sum(axis=0) if self.needs[2] else None
        return gx, gw, gb


def linear(x, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Fully connected layer: ``y = x Wᵀ + b`` (the notes' a = W z + w_0 for a batch of rows).

    ``x`` has shape (..., in_features), ``weight`` (out_features, in_features),
    ``bias`` (out_features,) or None; the result has shape (..., out_features).

    >>> import neurona
    >>> x, w, b = neurona.ones(2, 3), neurona.ones(4, 3), neurona.zeros(4)
    >>> linear(x, w, b).shape
    (2, 4)
    """
    x = as_tensor(x)
    weight = as_tensor(weight)
    # the arrays' shapes (plain tuples) rather than .shape (a Size built per call): this runs for every layer call
    xs, ws = x.array.shape, weight.array.shape
    if len(ws) != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape {ws}")
    n_out, n_in = ws
    if not xs or xs[-1] != n_in:
        raise ValueError(f"linear: expected input with {n_in} features (last dimension), got shape {xs}")
    if bias is not None:
        bias = as_tensor(bias)
        if bias.array.shape != (n_out,):
            raise ValueError(
                f"linear: bias must have shape ({n_out},) to match weight {ws}, got {bias.array.shape}")
    if x.array.dtype != weight.array.dtype or (bias is not None and bias.array.dtype != weight.array.dtype):
        bd = "" if bias is None else f", bias {bias.dtype}"
        raise TypeError(
            f"linear: dtypes differ: input {x.dtype}, weight {weight.dtype}{bd}; convert the input "
            f"(x.float() / x.double()) or the layer (layer.to(neurona.{x.dtype.name})) so they match"
        )
    op = kernels.lookup("linear", x.array, weight.array) or Linear
    if bias is None:
        return op()(x, weight)
    return op()(x, weight, bias)
