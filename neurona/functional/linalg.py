"""Linear algebra: products (mm, bmm, mv, dot, outer, einsum), triangles and diagonals, norms and distances.

Products are ``matmul`` with the shape checks of their PyTorch names;
``einsum`` differentiates each operand by another einsum (the output's
gradient contracted with the other operands). Norms follow
``torch.linalg``: ``vector_norm`` for any ``ord``, ``matrix_norm`` for
'fro', 'nuc', ±1, ±2, ±inf, ``norm`` choosing between them.
"""
from __future__ import annotations

import builtins
import math

import numpy as np

from ..backend import get_array_module
from ..engine import Function, Tensor
from .math import _pair, as_tensor, cast, matmul, mul

__all__ = ["mm", "bmm", "mv", "dot", "vdot", "inner", "outer", "ger", "addmm", "einsum", "tril", "triu", "diag",
           "diagonal", "diag_embed", "trace", "norm", "vector_norm", "matrix_norm", "dist", "cdist", "normalize",
           "cosine_similarity", "pairwise_distance"]


# --- products --------------------------------------------------------------------------


def _need_dims(op: str, **tensors) -> None:
    for name, (t, ndim) in tensors.items():
        if t.ndim != ndim:
            raise ValueError(f"{op}: {name} must be {ndim}-D, got shape {t.shape}")


def mm(input, mat2) -> Tensor:
    """Matrix product of two 2-D tensors: (n, m) @ (m, p) → (n, p)."""
    a, b = _pair(input, mat2)
    _need_dims("mm", input=(a, 2), mat2=(b, 2))
    return matmul(a, b)


def bmm(input, mat2) -> Tensor:
    """Batched matrix product of two 3-D tensors: (b, n, m) @ (b, m, p) → (b, n, p), no broadcasting."""
    a, b = _pair(input, mat2)
    _need_dims("bmm", input=(a, 3), mat2=(b, 3))
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"bmm: batch sizes differ: input {a.shape}, mat2 {b.shape}")
    return matmul(a, b)


def mv(input, vec) -> Tensor:
    """Matrix-vector product: (n, m) @ (m,) → (n,)."""
    a, b = _pair(input, vec)
    _need_dims("mv", input=(a, 2), vec=(b, 1))
    return matmul(a, b)


def dot(input, other) -> Tensor:
    """Inner product of two 1-D tensors of the same length (a 0-d tensor)."""
    a, b = _pair(input, other)
    _need_dims("dot", input=(a, 1), other=(b, 1))
    if a.shape != b.shape:
        raise ValueError(f"dot: the vectors have different lengths {a.shape[0]} and {b.shape[0]}")
    return matmul(a, b)


vdot = dot  # real tensors only: no conjugation to do


def inner(input, other) -> Tensor:
    """Σ over the last dimension of both: inner(a, b)[i..., j...] = Σ_k a[i..., k] b[j..., k]."""
    a, b = _pair(input, other)
    if a.ndim == 0 or b.ndim == 0:
        return mul(a, b)
    from .shape import reshape
    out = matmul(reshape(a, -1, a.shape[-1]), reshape(b, -1, b.shape[-1]).T)
    return reshape(out, a.shape[:-1] + b.shape[:-1])


def outer(input, vec2) -> Tensor:
    """Outer product of two 1-D tensors: out[i, j] = a[i] · b[j]."""
    from .shape import reshape
    a, b = _pair(input, vec2)
    _need_dims("outer", input=(a, 1), vec2=(b, 1))
    return mul(reshape(a, -1, 1), reshape(b, 1, -1))


ger = outer


def addmm(input, mat1, mat2, *, beta: float = 1, alpha: float = 1) -> Tensor:
    """β·input + α·(mat1 @ mat2), ``input`` broadcast to the product's shape."""
    prod = mm(mat1, mat2)
    if alpha != 1:
        prod = prod * alpha
    if beta == 0:  # PyTorch ignores input then (even NaNs in it)
        return prod
    base = as_tensor(input, like=prod)
    return prod + (base * beta if beta != 1 else base)


# --- einsum ------------------------------------------------------------------------------


def _parse_einsum(equation: str, ndims: list) -> tuple:
    """Split an equation into per-operand subscripts (lists of letters and '...') and the output's."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ndims):
        raise ValueError(f"einsum: the equation {equation!r} names {len(terms)} operands, {len(ndims)} were given")

    def tokens(term: str) -> list:
        if term.count("...") > 1:
            raise ValueError(f"einsum: more than one '...' in {term!r}")
        out = []
        rest = term
        while rest:
            if rest.startswith("..."):
                out.append("...")
                rest = rest[3:]
            elif rest[0].isalpha():
                out.append(rest[0])
                rest = rest[1:]
            else:
                raise ValueError(f"einsum: invalid subscript {rest[0]!r} in {equation!r} (letters and '...' only)")
        return out

    subs = [tokens(t) for t in terms]
    for s, nd in zip(subs, ndims):
        letters = len([c for c in s if c != "..."])
        if letters > nd or ("..." not in s and letters != nd):
            raise ValueError(f"einsum: subscripts {''.join(s)!r} do not fit an operand with {nd} dimensions")
    if arrow:
        out = tokens(rhs)
    else:  # implicit output: '...' first, then the letters used once, in alphabetical order
        counts: dict = {}
        for s in subs:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        out = (["..."] if "..." in counts else []) + sorted(c for c, n in counts.items() if n == 1 and c != "...")
    return subs, out


def _eq(subs: list, out: list) -> str:
    return ",".join("".join(s) for s in subs) + "->" + "".join(out)


class Einsum(Function):
    """Σ over the letters missing from the output of the product of the operands (NumPy's einsum)."""

    def __init__(self, subs: list, out: list):
        self.subs, self.out = subs, out

    def forward(self, *xs):
        self.xs = xs
        return np.einsum(_eq(self.subs, self.out), *xs, optimize=len(xs) > 1)

    def backward(self, gy):  # ∂/∂x_i: the output's gradient contracted with every other operand, onto x_i's letters
        grads = []
        for i, (x, s) in enumerate(zip(self.xs, self.subs)):
            if not self.needs[i]:
                grads.append(None)
                continue
            others = [o for k, o in enumerate(self.xs) if k != i]
            other_subs = [t for k, t in enumerate(self.subs) if k != i]
            present = set(self.out).union(*[set(t) for t in other_subs])
            target = [c for c in dict.fromkeys(s) if c in present]  # each letter once, if the others know it
            g = np.einsum(_eq([self.out] + other_subs, target), gy, *others, optimize=len(others) > 0)
            grads.append(_onto_operand(g, target, s, x.shape, self.subs + [self.out]))
        return tuple(grads)


def _onto_operand(g, target: list, subs: list, shape: tuple, every: list):
    """Turn ``g`` (subscripts ``target``) into the gradient of an operand with subscripts ``subs`` and ``shape``."""
    xp = get_array_module(g)
    ell_nd = len(shape) - len([c for c in subs if c != "..."])
    if "..." in subs:
        # the output's '...' may be wider than this operand's (broadcasting): sum the extra dimensions away
        k = subs.index("...")
        own = shape[k:k + ell_nd]
        if "..." in target:
            j = target.index("...")
            lead = g.ndim - (len(target) - 1) - ell_nd
            g = g.sum(axis=tuple(range(j, j + lead))) if lead else g
            for m, n in enumerate(own):
                if n == 1 and g.shape[j + m] != 1:
                    g = g.sum(axis=j + m, keepdims=True)
        # from here on '...' is ell_nd fresh letters
        used = {c for t in every for c in t}
        fresh = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in used][:ell_nd]

        def expand(t):
            return [f for c in t for f in (fresh if c == "..." else [c])]

        target, subs = expand(target), expand(subs)
    sizes = dict(zip(subs, shape))
    full = list(dict.fromkeys(subs))
    missing = [c for c in full if c not in target]
    if missing:  # letters summed inside this operand alone: its gradient is the same all along them
        g = g.reshape(g.shape + (1,) * len(missing))
        target = target + missing
    if target != full:
        g = np.einsum("".join(target) + "->" + "".join(full), g)
    g = xp.broadcast_to(g, tuple(sizes[c] for c in full))
    if len(full) == len(subs):
        return g if g.flags.writeable else g.copy()
    gx = xp.zeros(shape, g.dtype)  # a repeated letter ('ii'): the gradient lies on that diagonal
    np.einsum("".join(subs) + "->" + "".join(full), gx)[...] = g
    return gx


def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation: ``einsum("ij,jk->ik", a, b)`` is ``a @ b``; ``"bij->bji"`` a transpose; ``"ii"`` the trace.

    Letters name dimensions; a letter missing from the output (after ``->``)
    is summed over. ``...`` stands for leading dimensions, broadcast between
    operands. Operands may also be passed as one list.
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    xs = [as_tensor(o) for o in operands]
    if not xs:
        raise ValueError("einsum: no operands")
    floats = [t.array.dtype for t in xs if t.array.dtype.kind == "f"]
    if floats:  # mixed dtypes: compute in the widest floating one
        wide = builtins.max(floats, key=lambda d: d.itemsize)
        xs = [cast(t, wide) for t in xs]
    subs, out = _parse_einsum(equation, [t.ndim for t in xs])
    return Einsum(subs, out)(*xs)


# --- triangles and diagonals ---------------------------------------------------------------


class Triangle(Function):
    def __init__(self, k: int, upper: bool):
        self.k, self.upper = k, upper

    def forward(self, x):
        return np.triu(x, self.k) if self.upper else np.tril(x, self.k)

    def backward(self, gy):  # the kept entries pass their gradient through, the zeroed ones get none
        return np.triu(gy, self.k) if self.upper else np.tril(gy, self.k)


def tril(input, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dimensions (on and below ``diagonal``), the rest zero."""
    x = as_tensor(input)
    if x.ndim < 2:
        raise ValueError(f"tril: expected at least 2 dimensions, got shape {x.shape}")
    return Triangle(int(diagonal), False)(x)


def triu(input, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dimensions (on and above ``diagonal``), the rest zero."""
    x = as_tensor(input)
    if x.ndim < 2:
        raise ValueError(f"triu: expected at least 2 dimensions, got shape {x.shape}")
    return Triangle(int(diagonal), True)(x)


def _diag_coords(xp, n1: int, n2: int, offset: int):
    """Row and column indices of the diagonal ``offset`` of an (n1, n2) matrix."""
    if offset >= 0:
        rows = xp.arange(builtins.max(builtins.min(n1, n2 - offset), 0))
        return rows, rows + offset
    cols = xp.arange(builtins.max(builtins.min(n1 + offset, n2), 0))
    return cols - offset, cols


class Diagonal(Function):
    """The diagonal ``offset`` of the planes (dim1, dim2), appended as the last dimension."""

    def __init__(self, offset: int, dim1: int, dim2: int):
        self.offset, self.dim1, self.dim2 = offset, dim1, dim2

    def forward(self, x):
        self.shape = x.shape
        return np.diagonal(x, self.offset, self.dim1, self.dim2).copy()

    def backward(self, gy):  # each diagonal entry came from one matrix entry: write it back there
        xp = get_array_module(gy)
        gx = xp.zeros(self.shape, gy.dtype)
        planes = np.moveaxis(gx, (self.dim1, self.dim2), (-2, -1))  # a view: writing it writes gx
        r, c = _diag_coords(xp, planes.shape[-2], planes.shape[-1], self.offset)
        planes[..., r, c] = gy
        return gx


class DiagEmbed(Function):
    """Matrices (in dims dim1, dim2) whose diagonal ``offset`` holds the last dimension of the input."""

    def __init__(self, offset: int, dim1: int, dim2: int):
        self.offset, self.dim1, self.dim2 = offset, dim1, dim2

    def forward(self, x):
        xp = get_array_module(x)
        n = x.shape[-1] + abs(self.offset)
        out = xp.zeros(x.shape[:-1] + (n, n), x.dtype)
        r, c = _diag_coords(xp, n, n, self.offset)
        out[..., r, c] = x
        return np.moveaxis(out, (-2, -1), (self.dim1, self.dim2))

    def backward(self, gy):  # read the diagonal back
        return np.diagonal(gy, self.offset, self.dim1, self.dim2)


def diagonal(input, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal of the planes (dim1, dim2), as a new last dimension (``offset`` > 0 above the main one)."""
    x = as_tensor(input)
    if x.ndim < 2:
        raise ValueError(f"diagonal: expected at least 2 dimensions, got shape {x.shape}")
    d1, d2 = dim1 % x.ndim, dim2 % x.ndim
    if d1 == d2:
        raise ValueError(f"diagonal: dim1 and dim2 must differ, both are {d1}")
    return Diagonal(int(offset), d1, d2)(x)


def diag_embed(input, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Matrices with the last dimension of ``input`` on their diagonal ``offset`` (batched ``diag``)."""
    x = as_tensor(input)
    nd = x.ndim + 1
    d1, d2 = dim1 % nd, dim2 % nd
    if d1 == d2:
        raise ValueError(f"diag_embed: dim1 and dim2 must differ, both are {d1}")
    return DiagEmbed(int(offset), d1, d2)(x)


def diag(input, diagonal: int = 0) -> Tensor:
    """A 1-D tensor → the square matrix with it on diagonal ``diagonal``; a 2-D tensor → that diagonal (1-D)."""
    x = as_tensor(input)
    if x.ndim == 1:
        return DiagEmbed(int(diagonal), 0, 1)(x)
    if x.ndim == 2:
        return Diagonal(int(diagonal), 0, 1)(x)
    raise ValueError(f"diag: expected a 1-D or 2-D tensor, got shape {x.shape}")


def trace(input) -> Tensor:
    """Σ of the main diagonal of a 2-D tensor."""
    from .reduce import sum
    x = as_tensor(input)
    if x.ndim != 2:
        raise ValueError(f"trace: expected a 2-D tensor, got shape {x.shape}")
    return sum(Diagonal(0, 0, 1)(x))


# --- norms ------------------------------------------------------------------------------------


class VectorNorm(Function):
    """‖x‖_p = (Σ |x_i|^p)^(1/p) over ``axes``; p = ∞ is max |x_i|, -∞ min |x_i|, 0 the count of nonzeros."""

    def __init__(self, p: float, axes, keepdim: bool):
        self.p, self.axes, self.keepdim = p, axes, keepdim

    def forward(self, x):
        p, axes = self.p, self.axes
        self.x = x
        a = np.abs(x)
        if p == math.inf:
            y = a.max(axis=axes, keepdims=True)
        elif p == -math.inf:
            y = a.min(axis=axes, keepdims=True)
        elif p == 0:
            y = (x != 0).sum(axis=axes, keepdims=True).astype(x.dtype)
        elif p == 1:
            y = a.sum(axis=axes, keepdims=True)
        elif p == 2:
            y = np.sqrt((x * x).sum(axis=axes, keepdims=True))
        else:
            y = (a ** p).sum(axis=axes, keepdims=True) ** (1 / p)
        self.y = y
        if self.keepdim:
            return y
        return y.reshape(()) if axes is None else np.squeeze(y, axes)

    def backward(self, gy):
        p, x, y = self.p, self.x, self.y
        if not self.keepdim:
            gy = gy.reshape(y.shape)
        if p in (math.inf, -math.inf):  # the extreme entries share the gradient, with their sign
            hit = (np.abs(x) == y)
            share = hit / hit.sum(axis=self.axes, keepdims=True)
            return (np.sign(x) * share * gy).astype(x.dtype, copy=False)
        if p == 0:
            return np.zeros_like(x)
        if p == 1:  # ∂‖x‖₁/∂x = sign x
            return np.sign(x) * gy
        safe = np.where(y == 0, 1, y)  # at x = 0 the gradient is taken as 0, as PyTorch
        if p == 2:  # ∂‖x‖₂/∂x = x / ‖x‖₂
            return np.where(y == 0, 0, x / safe * gy).astype(x.dtype, copy=False)
        # ∂‖x‖_p/∂x = sign(x) |x|^(p-1) / ‖x‖_p^(p-1)
        g = np.sign(x) * np.abs(x) ** (p - 1) / safe ** (p - 1) * gy
        return np.where(y == 0, 0, g).astype(x.dtype, copy=False)


class MatrixSvdNorm(Function):
    """The nuclear norm Σσ_i, or the largest (2) or smallest (-2) singular value, of the last two dimensions."""

    def __init__(self, ord):
        self.ord = ord

    def forward(self, x):
        u, s, vt = np.linalg.svd(x, full_matrices=False)
        self.u, self.s, self.vt = u, s, vt
        if self.ord == "nuc":
            return s.sum(axis=-1)
        return s[..., 0] if self.ord == 2 else s[..., -1]

    def backward(self, gy):  # ∂σ_i/∂A = u_i v_iᵀ, so ∂Σσ/∂A = U Vᵀ
        u, vt = self.u, self.vt
        if self.ord == "nuc":
            return gy[..., None, None] * (u @ vt)
        k = 0 if self.ord == 2 else -1
        return gy[..., None, None] * (u[..., :, k, None] * vt[..., k, None, :])


def _norm_axes(dim, ndim: int, op: str):
    from .reduce import _axes
    return _axes(None, dim, ndim, op)


def _float_input(x, dtype, op: str) -> Tensor:
    from .math import cast
    x = as_tensor(x)
    if dtype is not None:
        x = cast(x, dtype)
    if x.array.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point tensor, got {x.dtype}")
    return x


def vector_norm(x, ord: float = 2, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """‖x‖_ord over ``dim`` (every element when None): (Σ|x|^ord)^(1/ord); ord = inf, -inf, 0 too.

    >>> import neurona
    >>> neurona.linalg.vector_norm(neurona.tensor([3.0, -4.0]))
    tensor(5.)
    """
    x = _float_input(x, dtype, "vector_norm")
    p = float(ord)
    axes = _norm_axes(dim, x.ndim, "vector_norm")
    if axes == () and x.ndim:
        axes = None
    return VectorNorm(p, axes, bool(keepdim))(x)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None) -> Tensor:
    """A matrix norm over the two dimensions ``dim``: 'fro', 'nuc', 1, -1 (column sums), inf, -inf (row sums), 2, -2."""
    from .reduce import amax, amin, sum
    from .shape import permute, reshape
    x = _float_input(A, dtype, "matrix_norm")
    if x.ndim < 2:
        raise ValueError(f"matrix_norm: expected at least 2 dimensions, got shape {x.shape}")
    d = tuple(int(k) % x.ndim for k in dim)
    if len(d) != 2 or d[0] == d[1]:
        raise ValueError(f"matrix_norm: dim must name two different dimensions, got {dim}")
    if ord == "fro":
        return VectorNorm(2.0, d, bool(keepdim))(x)
    if ord in ("nuc", 2, -2):
        rest = [k for k in range(x.ndim) if k not in d]
        y = MatrixSvdNorm(ord)(permute(x, *rest, *d))
        if keepdim:
            shape = list(x.shape)
            shape[d[0]] = shape[d[1]] = 1
            y = reshape(y, tuple(shape))
        return y
    if ord in (1, -1, math.inf, -math.inf):
        from .math import abs as _abs
        sum_over, then = (d[0], d[1]) if ord in (1, -1) else (d[1], d[0])
        sums = sum(_abs(x), sum_over, keepdim=True)
        pick = amax if ord in (1, math.inf) else amin
        y = pick(sums, then, keepdim=True)
        return y if keepdim else reshape(y, tuple(n for k, n in enumerate(x.shape) if k not in d))
    raise ValueError(f"matrix_norm: ord must be one of 'fro', 'nuc', 1, -1, 2, -2, inf, -inf, got {ord!r}")


def linalg_norm(A, ord=None, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """``torch.linalg.norm``: a vector norm (1-D, an int ``dim``, or everything when ``ord`` is None) or a matrix norm."""
    x = as_tensor(A)
    if isinstance(dim, (int, np.integer)):
        dim = (int(dim),)
    if dim is None and ord is None:
        return vector_norm(x, 2, None, keepdim, dtype=dtype)
    if dim is None:
        if x.ndim == 1:
            return vector_norm(x, ord, None, keepdim, dtype=dtype)
        if x.ndim == 2:
            return matrix_norm(x, ord, (-2, -1), keepdim, dtype=dtype)
        raise ValueError(f"linalg.norm: with ord={ord!r} and no dim the input must be 1-D or 2-D, got {x.shape}")
    if len(dim) == 1:
        return vector_norm(x, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
    if len(dim) == 2:
        return matrix_norm(x, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)
    raise ValueError(f"linalg.norm: dim must be an int or a pair of ints, got {dim!r}")


def norm(input, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """``torch.norm``: 'fro' (the 2-norm of the elements), 'nuc', or the vector p-norm over ``dim`` (all when None)."""
    x = as_tensor(input)
    if p == "fro":
        return vector_norm(x, 2, dim, keepdim, dtype=dtype)
    if p == "nuc":
        return matrix_norm(x, "nuc", (-2, -1) if dim is None else dim, keepdim, dtype=dtype)
    if isinstance(p, str):
        raise ValueError(f"norm: p must be a number, 'fro' or 'nuc', got {p!r}")
    return vector_norm(x, p, dim, keepdim, dtype=dtype)


def dist(input, other, p: float = 2) -> Tensor:
    """‖input - other‖_p over every element (broadcasting)."""
    from .math import sub
    return vector_norm(sub(*_pair(input, other)), p)


def cdist(x1, x2, p: float = 2.0) -> Tensor:
    """The p-norm distance between each row of x1 (…, P, M) and each row of x2 (…, R, M): shape (…, P, R)."""
    from .math import sub
    from .shape import unsqueeze
    a, b = _pair(x1, x2)
    if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-1]:
        raise ValueError(f"cdist: expected (…, P, M) and (…, R, M) with the same M, got {a.shape} and {b.shape}")
    return vector_norm(sub(unsqueeze(a, -2), unsqueeze(b, -3)), p, -1)


def normalize(input, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """v / max(‖v‖_p, eps) for every vector v along ``dim``.

    >>> import neurona
    >>> import neurona.nn.functional as F
    >>> F.normalize(neurona.tensor([[3.0, 4.0]]))
    tensor([[0.6, 0.8]])
    """
    from .math import clamp, div
    x = as_tensor(input)
    return div(x, clamp(vector_norm(x, p, dim, keepdim=True), min=eps))


def cosine_similarity(x1, x2, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """x1·x2 / (max(‖x1‖₂, eps) · max(‖x2‖₂, eps)) along ``dim`` (inputs broadcast)."""
    from .math import clamp, div
    from .reduce import sum
    from .shape import broadcast_to
    a, b = _pair(x1, x2)
    shape = np.broadcast_shapes(a.shape, b.shape)
    a, b = broadcast_to(a, shape), broadcast_to(b, shape)
    na = clamp(vector_norm(a, 2, dim, keepdim=True), min=eps)
    nb = clamp(vector_norm(b, 2, dim, keepdim=True), min=eps)
    return sum(mul(div(a, na), div(b, nb)), dim)


def pairwise_distance(x1, x2, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """‖x1 - x2 + eps‖_p over the last dimension."""
    from .math import add, sub
    a, b = _pair(x1, x2)
    return vector_norm(add(sub(a, b), eps), p, -1, keepdim)
