"""``Bilinear``: y = x₁ᵀ A x₂ + b, one matrix A_k per output feature (PyTorch's ``nn.Bilinear``)."""
from __future__ import annotations

import math

import numpy as np

from ..backend import get_default_dtype
from ..creation import from_numpy
from ..engine import Tensor
from ..functional.blend import bilinear
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Bilinear"]


class Bilinear(Module):
    """y_k = x₁ᵀ A_k x₂ + b_k: ``weight`` (out_features, in1_features, in2_features), ``bias`` (out_features,),
    both drawn from U(−1/√in1_features, 1/√in1_features) as in PyTorch.

    >>> import neurona
    >>> neurona.nn.Bilinear(3, 4, 2)(neurona.randn(5, 3), neurona.randn(5, 4)).shape
    neurona.Size([5, 2])
    """

    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True, dtype=None):
        super().__init__()
        self.in1_features, self.in2_features = int(in1_features), int(in2_features)
        self.out_features = int(out_features)
        d = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self.weight = Parameter(from_numpy(np.empty((self.out_features, self.in1_features, self.in2_features), d)))
        if bias:
            self.bias = Parameter(from_numpy(np.empty((self.out_features,), d)))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.in1_features) if self.in1_features > 0 else 0.0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        return bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
