"""The fully connected layer with its products on ``gemm.matmul`` (neurona's AVX-512 kernel where it is in force).

The same op as ``neurona.functional.linear.Linear`` (y = x Wᵀ + b; ∂L/∂x = G W,
∂L/∂W = Gᵀ x, ∂L/∂b = Σ_rows G): only the function its three products run on
changes. Where the kernel is not in force ``gemm.products()`` is NumPy's product.
"""
from __future__ import annotations

from ..functional.linear import Linear as _Linear
from .gemm import products


class Linear(_Linear):
    """``neurona.functional.linear.Linear`` with its products on ``gemm.matmul``."""

    _products = staticmethod(products)
