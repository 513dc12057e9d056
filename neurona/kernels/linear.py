"""The fully connected layer's products on ``gemm.matmul`` (neurona's AVX-512 kernel where it is in force).

Same op as ``neurona.functional.linear.Linear``: y = x Wᵀ + b forward,
∂L/∂x = G W, ∂L/∂W = Gᵀ x, ∂L/∂b = Σ_rows G backward. Only the products
change; where ``gemm`` is not in force they are NumPy's, as in the reference.
"""
from __future__ import annotations

from ..functional.linear import Linear as _Linear
from .gemm import products


class Linear(_Linear):
    """y = x Wᵀ + b (see ``neurona.functional.linear``) with its three products on ``gemm.matmul``."""

    def forward(self, x, w, b=None):
        x2 = x.reshape(-1, x.shape[-1])
        self.x2, self.w, self.xshape = x2, w, x.shape
        y = products()(x2, w.T)
        if b is not None:
            y += b
        return y.reshape(x.shape[:-1] + (w.shape[0],))

    def backward(self, gy):
        g2 = gy.reshape(-1, gy.shape[-1])
        mm = products()
        gx = mm(g2, self.w).reshape(self.xshape) if self.needs[0] else None
        gw = mm(g2.T, self.x2) if self.needs[1] else None
        if len(self.needs) == 2:
            return gx, gw
        return gx, gw, (g2.sum(axis=0) if self.needs[2] else None)
