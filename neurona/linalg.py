"""``neurona.linalg``: norms, products, inverses, determinants and solves under PyTorch's ``torch.linalg`` names.

>>> import neurona
>>> neurona.linalg.norm(neurona.tensor([[1.0, 2.0], [2.0, 4.0]]))
tensor(5.)
"""
from .functional.linalg import linalg_norm as norm
from .functional.linalg import matrix_norm, vector_norm
from .functional.linalg import diagonal as _diagonal
from .functional.math import matmul

from .functional.blend import linalg_cross as cross
from .functional.solve import det, inv, slogdet, solve

__all__ = ["norm", "vector_norm", "matrix_norm", "matmul", "diagonal", "vecdot", "inv", "det", "slogdet", "solve",
           "cross"]


def diagonal(A, *, offset: int = 0, dim1: int = -2, dim2: int = -1):
    """The diagonals of the matrices in the last two dimensions (``torch.linalg.diagonal``)."""
    return _diagonal(A, offset, dim1, dim2)


def vecdot(x, y, *, dim: int = -1):
    """Σ x·y along ``dim`` (with broadcasting)."""
    from .functional.reduce import sum
    return sum(x * y, dim)
