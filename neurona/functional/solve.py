"""Square matrices: inverse, determinant, log-determinant and linear solves (``torch.linalg``'s names).

Batched over leading dimensions. The gradients are the classical ones
(Aᵀ below means the transpose of the last two dimensions):

- Y = A⁻¹:              ∂L/∂A = −Yᵀ · ∂L/∂Y · Yᵀ
- d = det A:            ∂L/∂A = ∂L/∂d · d · A⁻ᵀ
- l = log|det A|:       ∂L/∂A = ∂L/∂l · A⁻ᵀ
- X = A⁻¹B:             ∂L/∂B = A⁻ᵀ · ∂L/∂X,   ∂L/∂A = −∂L/∂B · Xᵀ

The determinant's formula needs A invertible; at a singular matrix the
gradient is not defined here (PyTorch uses an SVD there).
"""
from __future__ import annotations

import numpy as np

from .. import return_types
from ..backend import get_array_module
from ..engine import Function, Tensor
from .math import as_tensor

__all__ = ["inv", "det", "slogdet", "logdet", "solve"]


def _mT(a):
    return a.swapaxes(-1, -2)


def _square(A: Tensor, op: str) -> Tensor:
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(f"{op}: expected square matrices (*, n, n), got shape {tuple(A.shape)}")
    if A.dtype.kind != "f":
        raise TypeError(f"{op}: expects a floating-point tensor, got {A.dtype}")
    return A


def _linalg_call(fn, op: str, *arrays):
    try:
        return fn(*arrays)
    except np.linalg.LinAlgError as e:
        raise RuntimeError(f"{op}: the input is not invertible ({e})") from None


class Inverse(Function):
    def forward(self, a):
        self.y = _linalg_call(get_array_module(a).linalg.inv, "linalg.inv", a)
        return self.y

    def backward(self, gy):  # −Yᵀ g Yᵀ
        yt = _mT(self.y)
        return -(yt @ gy @ yt)


class Det(Function):
    def forward(self, a):
        xp = get_array_module(a)
        self.a = a
        self.d = xp.linalg.det(a)
        return self.d

    def backward(self, gy):  # g · d · A⁻ᵀ
        inv = _linalg_call(get_array_module(self.a).linalg.inv, "linalg.det (backward)", self.a)
        return (gy * self.d)[..., None, None] * _mT(inv)


class LogAbsDet(Function):
    def forward(self, a):
        sign, logabs = get_array_module(a).linalg.slogdet(a)
        self.a = a
        return logabs

    def backward(self, gy):  # g · A⁻ᵀ
        inv = _linalg_call(get_array_module(self.a).linalg.inv, "linalg.slogdet (backward)", self.a)
        return gy[..., None, None] * _mT(inv)


class Solve(Function):
    def forward(self, a, b):
        xp = get_array_module(a)
        self.a = a
        self.x = _linalg_call(xp.linalg.solve, "linalg.solve", a, b)
        return self.x

    def backward(self, gy):
        xp = get_array_module(gy)
        gb = _linalg_call(xp.linalg.solve, "linalg.solve (backward)", _mT(self.a), gy)
        ga = -(gb @ _mT(self.x)) if self.needs[0] else None
        return ga, gb


def inv(A) -> Tensor:
    """A⁻¹ for each square matrix in the last two dimensions (``torch.linalg.inv``, ``torch.inverse``).

    >>> import neurona
    >>> neurona.linalg.inv(neurona.tensor([[2.0, 0.0], [0.0, 4.0]]))
    tensor([[0.5000, 0.0000],
            [0.0000, 0.2500]])
    """
    return Inverse()(_square(as_tensor(A), "linalg.inv"))


def det(A) -> Tensor:
    """det A for each square matrix in the last two dimensions (``torch.linalg.det``, ``torch.det``)."""
    return Det()(_square(as_tensor(A), "linalg.det"))


def slogdet(A):
    """``(sign, logabsdet)``: det A = sign · exp(logabsdet), without overflow (``torch.linalg.slogdet``); the
    gradient flows through ``logabsdet``."""
    A = _square(as_tensor(A), "linalg.slogdet")
    sign = get_array_module(A.array).linalg.slogdet(A.array)[0]
    from ..engine import _wrap
    return return_types.slogdet(_wrap(np.asarray(sign, A.dtype)), LogAbsDet()(A))


def logdet(A) -> Tensor:
    """log det A (``torch.logdet``): NaN where the determinant is negative, −inf where it is 0."""
    sign, logabs = slogdet(A)
    xp = get_array_module(sign.array)
    from ..engine import _wrap
    nan_where_negative = _wrap(xp.where(sign.array < 0, np.nan, 0.0).astype(logabs.dtype))
    return logabs + nan_where_negative


def solve(A, B, *, left: bool = True) -> Tensor:
    """X with A·X = B (``left=False``: X·A = B), for each matrix in the batch (``torch.linalg.solve``).

    B is a batch of vectors when it has one dimension fewer than A.

    >>> import neurona
    >>> neurona.linalg.solve(neurona.tensor([[2.0, 0.0], [0.0, 4.0]]), neurona.tensor([2.0, 8.0]))
    tensor([1., 2.])
    """
    A = _square(as_tensor(A), "linalg.solve")
    B = as_tensor(B, like=A)
    if B.dtype != A.dtype:
        B = B.to(A.dtype)
    if not left:  # X A = B  ⇔  Aᵀ Xᵀ = Bᵀ
        return solve(A.mT, B.mT).mT
    vector = B.ndim == A.ndim - 1 or B.ndim == 1
    if vector:
        B = B.unsqueeze(-1)
    if B.shape[-2] != A.shape[-1]:
        raise ValueError(f"linalg.solve: A has shape {tuple(A.shape)}, B {tuple(B.shape if not vector else B.shape[:-1])}"
                         f"; B's rows must number {A.shape[-1]}")
    batch = np.broadcast_shapes(tuple(A.shape[:-2]), tuple(B.shape[:-2]))
    A = A.expand(*batch, *A.shape[-2:]) if tuple(A.shape[:-2]) != batch else A
    B = B.expand(*batch, *B.shape[-2:]) if tuple(B.shape[:-2]) != batch else B
    X = Solve()(A, B)
    return X.squeeze(-1) if vector else X
