"""Blends and products made of other ops: ``lerp``, ``addcmul``, ``addcdiv``, ``tensordot``, ``kron``, ``cross``.

Each is a short composition of differentiable ops (``+``, ``*``, ``matmul``,
reshapes), so its gradient is theirs.
"""
from __future__ import annotations

from ..engine import Tensor
from .math import as_tensor, matmul

__all__ = ["lerp", "addcmul", "addcdiv", "tensordot", "kron", "cross", "linalg_cross", "bilinear"]


def lerp(input, end, weight) -> Tensor:
    """Linear interpolation: out = input + weight·(end − input).

    >>> import neurona
    >>> neurona.lerp(neurona.tensor([0.0, 10.0]), neurona.tensor([1.0, 20.0]), 0.5)
    tensor([ 0.5000, 15.0000])
    """
    x = as_tensor(input)
    return x + (as_tensor(end, like=x) - x) * weight


def addcmul(input, tensor1, tensor2, *, value=1) -> Tensor:
    """out = input + value·tensor1·tensor2 (elementwise, broadcasting)."""
    x = as_tensor(input)
    term = as_tensor(tensor1, like=x) * tensor2
    return x + (term if value == 1 else term * value)


def addcdiv(input, tensor1, tensor2, *, value=1) -> Tensor:
    """out = input + value·tensor1/tensor2 (elementwise, broadcasting): Adam's update has this form."""
    x = as_tensor(input)
    term = as_tensor(tensor1, like=x) / tensor2
    return x + (term if value == 1 else term * value)


def _dims_pair(dims, na: int, nb: int) -> tuple[list, list]:
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0 or dims > min(na, nb):
            raise ValueError(f"tensordot: dims={dims} must be in 0..{min(na, nb)} for tensors of {na} and {nb} "
                             f"dimensions")
        return list(range(na - dims, na)), list(range(dims))
    da, db = dims
    da = [da] if isinstance(da, int) else list(da)
    db = [db] if isinstance(db, int) else list(db)
    if len(da) != len(db):
        raise ValueError(f"tensordot: dims lists {da} and {db} must have the same length")
    return [d % na for d in da], [d % nb for d in db]


def tensordot(a, b, dims=2) -> Tensor:
    """Σ over paired dimensions: the last ``dims`` of ``a`` with the first ``dims`` of ``b`` (an int), or the
    dimensions listed (``dims=([1, 0], [0, 1])``). The result has a's free dimensions, then b's.

    >>> import neurona
    >>> neurona.tensordot(neurona.ones(2, 3, 4), neurona.ones(3, 4, 5)).shape
    neurona.Size([2, 5])
    """
    a, b = as_tensor(a), as_tensor(b)
    da, db = _dims_pair(dims, a.ndim, b.ndim)
    for i, j in zip(da, db):
        if a.shape[i] != b.shape[j]:
            raise ValueError(f"tensordot: dimension {i} of a (size {a.shape[i]}) and dimension {j} of b "
                             f"(size {b.shape[j]}) are paired but differ; shapes {tuple(a.shape)} and {tuple(b.shape)}")
    fa = [i for i in range(a.ndim) if i not in da]
    fb = [j for j in range(b.ndim) if j not in db]
    k = 1
    for i in da:
        k *= a.shape[i]
    A = a.permute(*(fa + da)).reshape(-1, k)
    B = b.permute(*(db + fb)).reshape(k, -1)
    return matmul(A, B).reshape(*[a.shape[i] for i in fa], *[b.shape[j] for j in fb])


def kron(input, other) -> Tensor:
    """The Kronecker product: block (i, j) of the result is input[i, j]·other (for any number of dimensions).

    >>> import neurona
    >>> neurona.kron(neurona.eye(2), neurona.ones(2, 2)).shape
    neurona.Size([4, 4])
    """
    a, b = as_tensor(input), as_tensor(other)
    n = max(a.ndim, b.ndim)
    sa = (1,) * (n - a.ndim) + tuple(a.shape)
    sb = (1,) * (n - b.ndim) + tuple(b.shape)
    # interleave: a as (a0, 1, a1, 1, ...), b as (1, b0, 1, b1, ...), so their product holds every block
    prod = a.reshape(*[d for s in sa for d in (s, 1)]) * b.reshape(*[d for s in sb for d in (1, s)])
    return prod.reshape(*[x * y for x, y in zip(sa, sb)])


def linalg_cross(input, other, *, dim: int = -1) -> Tensor:
    """The cross product of 3-vectors along ``dim`` (``torch.linalg.cross``), broadcasting the other dimensions:
    (a × b) = (a₂b₃ − a₃b₂, a₃b₁ − a₁b₃, a₁b₂ − a₂b₁)."""
    a, b = as_tensor(input), as_tensor(other)
    if a.shape[dim] != 3 or b.shape[dim] != 3:
        raise ValueError(f"cross: dimension {dim} must have size 3 in both inputs, got shapes {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")
    a1, a2, a3 = a.unbind(dim)
    b1, b2, b3 = b.unbind(dim)
    from .shape import stack
    return stack([a2 * b3 - a3 * b2, a3 * b1 - a1 * b3, a1 * b2 - a2 * b1], dim % max(a.ndim, b.ndim))


def cross(input, other, dim: int | None = None) -> Tensor:
    """``torch.cross``: as :func:`linalg_cross`; without ``dim``, along the first dimension of size 3."""
    a = as_tensor(input)
    if dim is None:
        sizes = [d for d, n in enumerate(a.shape) if n == 3]
        if not sizes:
            raise ValueError(f"cross: no dimension of size 3 in shape {tuple(a.shape)}")
        dim = sizes[0]
    return linalg_cross(a, other, dim=dim)


def bilinear(input1, input2, weight, bias=None) -> Tensor:
    """y_k = x₁ᵀ A_k x₂ + b_k for every output k (PyTorch's ``F.bilinear``): x₁ (*, n₁), x₂ (*, n₂),
    ``weight`` A (out, n₁, n₂), ``bias`` (out,)."""
    from .linalg import einsum

    x1, x2 = as_tensor(input1), as_tensor(input2)
    w = as_tensor(weight)
    if w.ndim != 3 or x1.shape[-1] != w.shape[1] or x2.shape[-1] != w.shape[2]:
        raise ValueError(f"bilinear: weight (out, n1, n2) = {tuple(w.shape)} does not fit inputs of shapes "
                         f"{tuple(x1.shape)} and {tuple(x2.shape)}")
    y = einsum("...i,kij,...j->...k", x1, w, x2)
    return y if bias is None else y + bias
