"""Loss functions: the notes' error functions and their PyTorch relatives.

The notes train by minimising the mean loss over the N samples,
q_S(Θ) = (1/N) Σ_n q_n(Θ) ("Funciones objetivo o de pérdida"), with

- ERROR CUADRÁTICO  q_n = ½ Σ_i (t_ni - s_i)²       → :func:`mse_loss` (which averages (s - t)²)
- ENTROPÍA CRUZADA  q_n = -Σ_i t_ni log s_i, s = softmax(φ)  → :func:`cross_entropy` (takes the logits φ)

Both are one line in neurona. With ``y`` the network output, ``t`` the
targets, N samples and ``model``'s weights W (the notes' regularised loss
Loss = 1/(2N) Σ (y - t)² + λ/(2N) Σ W²)::

    sse  = 0.5 * ((y - t) ** 2).sum()                                   # ½ Σ (t - s)²
    loss = sse / N + lam / (2 * N) * sum((p ** 2).sum() for p in model.parameters())

(``neurona.nn.utils.l2_penalty(model.parameters())`` computes the Σ W² term.)

Every loss takes ``reduction='mean' | 'sum' | 'none'`` (``kl_div`` also
``'batchmean'``), follows PyTorch's definitions and defaults, and is one fused
``Function``: forward and the analytic gradient, finite for logits of ±1e4.
Options after ``(input, target[, weight])`` are keyword-only: PyTorch's
positional slots there hold its deprecated ``size_average``/``reduce``, so a
positional call written for PyTorch fails loudly instead of misassigning.
:func:`huber_loss` is the exception, as in PyTorch, which gives it no such
slots: ``huber_loss(input, target, reduction, delta)``.
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..backend import get_array_module
from ..engine import Function, Tensor
from .activation import _sigmoid, log_softmax
from .math import as_tensor, cast

__all__ = [
    "mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "cross_entropy", "nll_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div",
]

_REDUCTIONS = ("mean", "sum", "none")


def _c(a, c):
    return a.dtype.type(c)


def _check_reduction(reduction: str, op: str, allowed=_REDUCTIONS) -> str:
    if reduction not in allowed:
        raise ValueError(f"{op}: reduction must be one of {', '.join(repr(r) for r in allowed)}, got {reduction!r}")
    return reduction


def _reduce(loss, reduction: str, n: int | None = None):
    """'none': the elementwise losses; 'sum': their sum; 'mean': the sum divided by ``n`` (default: their count)."""
    if reduction == "none":
        return loss
    xp = get_array_module(loss)
    total = loss.sum()
    if reduction == "sum":
        return xp.asarray(total)
    n = loss.size if n is None else n
    with np.errstate(invalid="ignore", divide="ignore"):
        return xp.asarray(total / _c(loss, n)) if n else xp.asarray(_c(loss, np.nan))


def _spread(gy, reduction: str, n: int | None):
    """The upstream gradient of each element: ``gy`` itself ('none'), or the scalar ``gy`` (divided by n for 'mean')."""
    if reduction == "mean":
        return gy * _c(gy, 1.0 / n) if n else gy * _c(gy, np.nan)
    return gy


def _float_target(target, x: Tensor, op: str) -> Tensor:
    """The target as a float tensor of the input's dtype (differentiable if it was a float tensor)."""
    if isinstance(target, Tensor):
        if target.array.dtype == x.array.dtype:
            return target
        if target.array.dtype.kind == "f" and x.array.dtype.kind == "f":
            return cast(target, x.array.dtype)
        return Tensor(target.array.astype(x.array.dtype), dtype=x.array.dtype)
    return Tensor(get_array_module(x.array).asarray(target, dtype=x.array.dtype), dtype=x.array.dtype)


def _check_float_input(x: Tensor, op: str) -> None:
    if x.array.dtype.kind != "f":
        raise TypeError(f"{op}: input must be a floating-point tensor, got dtype {x.dtype}")


def _same_shape(x: Tensor, t: Tensor, op: str) -> None:
    if x.shape != t.shape:
        hint = ""
        if x.ndim == t.ndim + 1 and x.shape[-1] == 1 or t.ndim == x.ndim + 1 and t.shape[-1] == 1:
            hint = " (a trailing size-1 dim? reshape one of them, e.g. output.reshape(-1))"
        raise ValueError(f"{op}: input has shape {x.shape} but target has shape {t.shape}; they must match{hint}")


def _const_array(a, x: Tensor, op: str, name: str, shape_ok) -> np.ndarray | None:
    """A non-differentiable per-element or per-class factor (weight, pos_weight) as an array of x's dtype."""
    if a is None:
        return None
    arr = a.array if isinstance(a, Tensor) else get_array_module(x.array).asarray(a)
    arr = arr.astype(x.array.dtype, copy=False)
    problem = shape_ok(arr.shape)
    if problem:
        raise ValueError(f"{op}: {name} {problem}")
    return arr


# --- regression losses -----------------------------------------------------------------


class _Pointwise(Function):
    """ℓ(x - t) elementwise, then reduced; subclasses give the value and the slope dℓ/dd of d = x - t."""

    def __init__(self, reduction):
        self.reduction = reduction

    def forward(self, x, t):
        self.d = d = x - t
        return _reduce(self.value(d), self.reduction)

    def backward(self, gy):  # ∂ℓ/∂x = ℓ'(d), ∂ℓ/∂t = -ℓ'(d)
        g = _spread(gy, self.reduction, self.d.size) * self.slope(self.d)
        return (g if self.needs[0] else None), (-g if self.needs[1] else None)


class MSE(_Pointwise):
    def value(self, d):
        return d * d

    def slope(self, d):  # d(d²)/dd = 2d
        return d + d


class L1(_Pointwise):
    def value(self, d):
        return np.abs(d)

    def slope(self, d):  # d|d|/dd = sign(d), 0 at 0
        return np.sign(d)


class Huber(_Pointwise):
    """scale · (½d² if |d| < δ else δ(|d| - ½δ)); smooth L1 with β is δ = β, scale = 1/β."""

    def __init__(self, reduction, delta, scale=1.0):
        super().__init__(reduction)
        self.delta, self.scale = delta, scale

    def value(self, d):
        a, dl = np.abs(d), _c(d, self.delta)
        v = np.where(a < dl, 0.5 * d * d, dl * (a - 0.5 * dl))
        return v * _c(d, self.scale) if self.scale != 1.0 else v

    def slope(self, d):  # d clipped to [-δ, δ]
        s = np.clip(d, _c(d, -self.delta), _c(d, self.delta))
        return s * _c(d, self.scale) if self.scale != 1.0 else s


def _pointwise(cls, input, target, reduction, op, *args) -> Tensor:
    _check_reduction(reduction, op)
    x = as_tensor(input)
    _check_float_input(x, op)
    t = _float_target(target, x, op)
    _same_shape(x, t, op)
    return cls(reduction, *args)(x, t)


def mse_loss(input, target, *, reduction: str = "mean") -> Tensor:
    """Mean squared error, mean((input - target)²) (notes: MSE, the SSE normalised by the number of samples).

    The notes' squared error ½ Σ (t - s)² is ``0.5 * mse_loss(s, t, reduction='sum')``.
    Gradient: 2(input - target)/n.
    """
    return _pointwise(MSE, input, target, reduction, "mse_loss")


def l1_loss(input, target, *, reduction: str = "mean") -> Tensor:
    """Mean absolute error, mean(|input - target|); gradient sign(input - target)/n."""
    return _pointwise(L1, input, target, reduction, "l1_loss")


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """Huber loss: ½d² for |d| < δ, δ(|d| - ½δ) beyond (d = input - target): quadratic near 0, linear far away."""
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    return _pointwise(Huber, input, target, reduction, "huber_loss", float(delta))


def smooth_l1_loss(input, target, *, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """Smooth L1: ½d²/β for |d| < β, |d| - ½β beyond; equals huber_loss(δ=β)/β, and l1_loss for β = 0."""
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    if beta == 0:
        return _pointwise(L1, input, target, reduction, "smooth_l1_loss")
    return _pointwise(Huber, input, target, reduction, "smooth_l1_loss", float(beta), 1.0 / float(beta))


# --- classification: cross-entropy and NLL ---------------------------------------------------


def _classes_last(a, c: int):
    """(C,), (N, C) or (N, C, d1, ...) → a 2-D (rows, C) array with the classes on the last axis."""
    if a.ndim == 1:
        return a.reshape(1, c)
    if a.ndim == 2:
        return a
    return np.moveaxis(a, 1, -1).reshape(-1, c)


def _classes_back(g2, shape: tuple):
    """The inverse of :func:`_classes_last`: a (rows, C) gradient back to the input's shape."""
    if len(shape) <= 2:
        return g2.reshape(shape)
    moved = (shape[0],) + tuple(shape[2:]) + (shape[1],)
    return np.moveaxis(g2.reshape(moved), -1, 1)


def _sample_shape(shape: tuple) -> tuple:
    """The shape of the per-sample losses: the input's shape without the class dim."""
    return () if len(shape) == 1 else (shape[0],) + tuple(shape[2:])


def _log_softmax_rows(x2):
    z = x2 - x2.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _per_row(gy, reduction: str, rows: int, denom):
    """The upstream gradient of each row's loss, as a (rows,) array (or a scalar for 'sum'/'mean')."""
    if reduction == "none":
        return gy.reshape(rows)
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            return gy / denom
    return gy


class CrossEntropy(Function):
    """Fused log-softmax + negative log-likelihood with class-index targets.

    Per row n (ignored rows contribute 0), with p = softmax(x_n), y = y_n, ε the label smoothing::

        ℓ_n = -(1-ε) w_y log p_y - (ε/C) Σ_c w_c log p_c
        ∂ℓ_n/∂x_n = A_n p - a_n,  a_nc = (1-ε) w_y [c = y] + (ε/C) w_c,  A_n = Σ_c a_nc

    i.e. softmax - onehot without weights or smoothing (the notes' output delta
    s - t). 'mean' divides by Σ_n w_{y_n} over non-ignored rows (PyTorch).
    """

    def __init__(self, target, weight, ignore_index, reduction, smoothing):
        self.target, self.weight = target, weight
        self.ignore_index, self.reduction, self.smoothing = ignore_index, reduction, smoothing

    def forward(self, x):
        c = x.shape[1] if x.ndim > 1 else x.shape[0]
        self.shape = x.shape
        self.logp = logp = _log_softmax_rows(_classes_last(x, c))
        y = self.target.reshape(-1)
        self.mask = mask = y != self.ignore_index
        self.ys = ys = np.where(mask, y, 0)
        w = self.weight
        self.w_y = w_y = w[ys] if w is not None else _c(x, 1.0)  # w_{y_n} (not yet masked)
        wm = w_y * mask
        xp = get_array_module(x)
        loss = -(wm * logp[xp.arange(y.size), ys])
        eps = self.smoothing
        if eps:
            smooth = -((logp @ w) if w is not None else logp.sum(axis=1)) * mask
            loss = _c(x, 1 - eps) * loss + _c(x, eps / c) * smooth
        if self.reduction == "none":
            return loss.reshape(self.target.shape)
        if self.reduction == "sum":
            return xp.asarray(loss.sum())
        self.denom = wm.sum()
        return _mean_by(loss.sum(), self.denom)

    def backward(self, gy):
        logp, ys, w, eps = self.logp, self.ys, self.weight, self.smoothing
        rows_idx = get_array_module(logp).arange(logp.shape[0])
        rows, c = logp.shape
        g_row = _per_row(gy, self.reduction, rows, getattr(self, "denom", None)) * self.mask
        p = np.exp(logp)
        if eps == 0 and w is None:  # the common case: g = softmax - onehot, per row
            g = p * g_row[:, None]
            g[rows_idx, ys] -= g_row
            return _classes_back(g, self.shape)
        wsum = w.sum() if w is not None else _c(p, c)
        big_a = _c(p, 1 - eps) * self.w_y + _c(p, eps / c) * wsum
        g = p * (g_row * big_a)[:, None]
        g[rows_idx, ys] -= g_row * _c(p, 1 - eps) * self.w_y
        if eps:
            g -= (g_row * _c(p, eps / c))[:, None] * (w[None, :] if w is not None else _c(p, 1.0))
        return _classes_back(g, self.shape)


def _mean_by(total, denom):
    with np.errstate(invalid="ignore", divide="ignore"):
        return get_array_module(total).asarray(total / denom)


class CrossEntropyProbs(Function):
    """Fused log-softmax + cross-entropy with probability targets t (the notes' q_n = -Σ_i t_ni log s_i).

    With t' = (1-ε) t + ε/C and a_nc = w_c t'_nc: ℓ_n = -Σ_c a_nc log p_nc,
    ∂ℓ_n/∂x_n = (Σ_c a_nc) p - a_n, ∂ℓ_n/∂t_nc = -(1-ε) w_c log p_nc.
    'mean' divides by the number of rows (samples), weights or not (PyTorch).
    """

    def __init__(self, weight, reduction, smoothing):
        self.weight, self.reduction, self.smoothing = weight, reduction, smoothing

    def forward(self, x, t):
        c = x.shape[1] if x.ndim > 1 else x.shape[0]
        self.shape = x.shape
        self.logp = logp = _log_softmax_rows(_classes_last(x, c))
        t2 = _classes_last(t, c)
        eps = self.smoothing
        if eps:
            t2 = t2 * _c(x, 1 - eps) + _c(x, eps / c)
        self.a = a = t2 * self.weight if self.weight is not None else t2
        loss = -(a * logp).sum(axis=1)
        if self.reduction == "none":
            return loss.reshape(_sample_shape(x.shape))
        return _reduce(loss, self.reduction)

    def backward(self, gy):
        logp, a = self.logp, self.a
        rows = logp.shape[0]
        g_row = _per_row(gy, self.reduction, rows, rows)
        g_row = g_row[:, None] if np.ndim(g_row) else g_row
        gx = gt = None
        if self.needs[0]:
            gx = _classes_back(g_row * (np.exp(logp) * a.sum(axis=1, keepdims=True) - a), self.shape)
        if self.needs[1]:
            wl = logp * self.weight if self.weight is not None else logp
            gt = _classes_back(g_row * _c(logp, -(1 - self.smoothing)) * wl, self.shape)
        return gx, gt


class NLLLoss(Function):
    """Negative log-likelihood: ℓ_n = -w_{y_n} x_{n, y_n}; ∂ℓ_n/∂x_{n,c} = -w_{y_n} [c = y_n]."""

    def __init__(self, target, weight, ignore_index, reduction):
        self.target, self.weight = target, weight
        self.ignore_index, self.reduction = ignore_index, reduction

    def forward(self, x):
        c = x.shape[1] if x.ndim > 1 else x.shape[0]
        self.shape, self.dtype = x.shape, x.dtype
        x2 = _classes_last(x, c)
        y = self.target.reshape(-1)
        mask = y != self.ignore_index
        self.ys = ys = np.where(mask, y, 0)
        xp = get_array_module(x)
        w_y = self.weight[ys] if self.weight is not None else xp.ones(y.size, x.dtype)
        self.wm = wm = w_y * mask
        loss = -(wm * x2[xp.arange(y.size), ys])
        if self.reduction == "none":
            return loss.reshape(self.target.shape)
        if self.reduction == "sum":
            return xp.asarray(loss.sum())
        self.denom = wm.sum()
        return _mean_by(loss.sum(), self.denom)

    def backward(self, gy):
        rows = self.ys.size
        c = self.shape[1] if len(self.shape) > 1 else self.shape[0]
        g_row = _per_row(gy, self.reduction, rows, getattr(self, "denom", None))
        xp = get_array_module(gy)
        g = xp.zeros((rows, c), self.dtype)
        g[xp.arange(rows), self.ys] = -(g_row * self.wm)
        return _classes_back(g, self.shape)


def _class_input(x: Tensor, op: str) -> int:
    _check_float_input(x, op)
    s = x.array.shape  # a plain tuple: no Size built per loss call
    if not s:
        raise ValueError(f"{op}: input must have a class dimension: shape (C,), (N, C) or (N, C, d1, ...), "
                         f"got shape ()")
    c = s[1] if len(s) > 1 else s[0]
    if c == 0:
        raise ValueError(f"{op}: input of shape {s} has no classes (C = 0)")
    return c


def _index_target(x: Tensor, target, c: int, ignore_index: int, op: str, check_range: bool = True) -> np.ndarray:
    t = target.array if isinstance(target, Tensor) else get_array_module(target).asarray(target)
    expected = _sample_shape(x.array.shape)
    if t.dtype.kind not in "iu":
        raise TypeError(
            f"{op}: class-index targets must be integers (e.g. target.long()), got dtype {t.dtype} and shape {t.shape}"
            + (f"; probability targets must have the input's shape {x.shape}" if op == "cross_entropy" else "")
        )
    if t.shape != expected:
        where = "dim 1" if x.ndim > 1 else "dim 0"
        raise ValueError(
            f"{op}: for input of shape {x.shape} (classes on {where}), the target of class indices must have "
            f"shape {expected}, got shape {t.shape}"
        )
    if not check_range:
        return t
    bad = (t != ignore_index) & ((t < 0) | (t >= c))
    if bad.any():
        v = int(t[bad].reshape(-1)[0])
        raise ValueError(
            f"{op}: target class index {v} is out of range for {c} classes (valid: 0 to {c - 1}, "
            f"or ignore_index={ignore_index})"
        )
    return get_array_module(x.array).asarray(t)  # on the input's array library, like the logits


def _class_weight(weight, c: int, x: Tensor, op: str):
    return _const_array(weight, x, op, "weight",
                        lambda s: None if s == (c,) else f"must have one value per class, shape ({c},), got shape {s}")


def cross_entropy(input, target, weight=None, *, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy between softmax(input) and the target (notes: ENTROPÍA CRUZADA, q_n = -Σ_i t_ni log s_i).

    ``input``: logits of shape (N, C), (C,) or (N, C, d1, ...) — classes on dim 1.
    ``target``: class indices (integers) of shape (N,), () or (N, d1, ...);
    or class probabilities of the input's shape (float). ``weight`` (C,)
    rescales each class; rows whose target is ``ignore_index`` are skipped;
    ``label_smoothing`` ε mixes the target with the uniform distribution
    ((1-ε) t + ε/C). With index targets, 'mean' divides by the summed weights
    of the counted rows; with probabilities, by the number of rows — as PyTorch.

    One fused op: log-softmax and NLL together, gradient softmax - onehot
    (scaled by weights/smoothing). Equal to :func:`cross_entropy_composed`.

    >>> import neurona
    >>> logits = neurona.tensor([[2.0, 0.5, -1.0]], requires_grad=True)
    >>> loss = cross_entropy(logits, neurona.tensor([0]))
    >>> round(loss.item(), 4)
    0.2413
    """
    op = "cross_entropy"
    _check_reduction(reduction, op)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    x = as_tensor(input)
    c = _class_input(x, op)
    w = _class_weight(weight, c, x, op)
    t_arr = target.array if isinstance(target, Tensor) else get_array_module(target).asarray(target)
    if t_arr.dtype.kind == "f":
        if t_arr.shape != x.shape:
            raise ValueError(
                f"{op}: probability targets (float) must have the input's shape {x.shape}, got shape {t_arr.shape}; "
                f"class indices must be integers of shape {_sample_shape(x.shape)} (e.g. target.long())"
            )
        t = _float_target(target, x, op)
        return CrossEntropyProbs(w, reduction, float(label_smoothing))(x, t)
    fast = kernels.lookup("cross_entropy", x.array) if w is None and not label_smoothing and x.array.ndim == 2 else None
    t = _index_target(x, target, c, ignore_index, op, check_range=fast is None)  # the kernel checks the range
    fn = fast or CrossEntropy
    try:
        return fn(t, w, ignore_index, reduction, float(label_smoothing))(x)
    except IndexError as e:
        raise ValueError(str(e)) from None


def nll_loss(input, target, weight=None, *, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of the target classes: ℓ_n = -w_{y_n} input[n, y_n], ``input`` being log-probabilities.

    Shapes as :func:`cross_entropy` with index targets; ``nll_loss(log_softmax(x, 1), y)`` equals
    ``cross_entropy(x, y)``. 'mean' divides by Σ_n w_{y_n} over the rows not ignored.
    """
    op = "nll_loss"
    _check_reduction(reduction, op)
    x = as_tensor(input)
    c = _class_input(x, op)
    w = _class_weight(weight, c, x, op)
    t = _index_target(x, target, c, ignore_index, op)
    return NLLLoss(t, w, ignore_index, reduction)(x)


def cross_entropy_composed(input, target, weight=None, *, ignore_index: int = -100, reduction: str = "mean",
                           label_smoothing: float = 0.0) -> Tensor:
    """:func:`cross_entropy` built from ``log_softmax`` + ``nll_loss`` and elementwise ops.

    Slower (several ops, gradients by the chain rule); kept beside the fused
    version as its reference, which the tests compare against.
    """
    op = "cross_entropy"
    _check_reduction(reduction, op)
    x = as_tensor(input)
    c = _class_input(x, op)
    cdim = 1 if x.ndim > 1 else 0
    w = _class_weight(weight, c, x, op)
    wb = None if w is None else Tensor(w.reshape((1, c) + (1,) * (x.ndim - 2)) if x.ndim > 1 else w, dtype=w.dtype)
    eps = float(label_smoothing)
    logp = log_softmax(x, dim=cdim)
    t_arr = target.array if isinstance(target, Tensor) else get_array_module(target).asarray(target)
    if t_arr.dtype.kind == "f":
        t = _float_target(target, x, op)
        _same_shape(x, t, op)
        if eps:
            t = t * (1 - eps) + eps / c
        a = t * wb if wb is not None else t
        per = -(logp * a).sum(axis=cdim)
        if reduction == "none":
            return per
        total = per.sum()
        return total / (x.array.size // c) if reduction == "mean" else total
    nll = nll_loss(logp, target, weight=w, ignore_index=ignore_index, reduction=reduction)
    if not eps:
        return nll
    y = _index_target(x, target, c, ignore_index, op)
    mask = y != ignore_index
    smooth = -(logp * wb).sum(axis=cdim) if wb is not None else -logp.sum(axis=cdim)
    smooth = smooth * Tensor(mask.astype(x.array.dtype), dtype=x.array.dtype)
    if reduction == "sum":
        smooth = smooth.sum()
    elif reduction == "mean":
        w_y = w[np.where(mask, y, 0)] if w is not None else get_array_module(x.array).ones(y.shape, x.array.dtype)
        smooth = smooth.sum() / Tensor((w_y * mask).sum(), dtype=x.array.dtype)
    return nll * (1 - eps) + smooth * (eps / c)


# --- binary classification -------------------------------------------------------------------


def _broadcast_check(x_shape):
    def check(s):
        try:
            ok = np.broadcast_shapes(s, x_shape) == x_shape
        except ValueError:
            ok = False
        return None if ok else f"of shape {s} does not broadcast to the input's shape {x_shape}"
    return check


class BinaryCrossEntropy(Function):
    """ℓ = -w [t log x + (1-t) log(1-x)], logs clamped at -100 (PyTorch) so ℓ is finite at x ∈ {0, 1}."""

    def __init__(self, weight, reduction):
        self.weight, self.reduction = weight, reduction

    def forward(self, x, t):
        with np.errstate(divide="ignore"):
            self.lx = lx = np.maximum(np.log(x), _c(x, -100.0))
            self.l1x = l1x = np.maximum(np.log1p(-x), _c(x, -100.0))
        self.x, self.t = x, t
        loss = -(t * lx + (1 - t) * l1x)
        if self.weight is not None:
            loss = loss * self.weight
        return _reduce(loss, self.reduction)

    def backward(self, gy):
        # ∂ℓ/∂x = w (x - t) / (x(1 - x)), the denominator kept ≥ 1e-12;  ∂ℓ/∂t = w (log(1-x) - log x)
        x, t, w = self.x, self.t, self.weight
        g = _spread(gy, self.reduction, x.size)
        if w is not None:
            g = g * w
        gx = g * (x - t) / np.maximum(x * (1 - x), _c(x, 1e-12)) if self.needs[0] else None
        gt = g * (self.l1x - self.lx) if self.needs[1] else None
        return gx, gt


class BinaryCrossEntropyWithLogits(Function):
    """ℓ = w [p t softplus(-x) + (1-t) softplus(x)] = -w [p t log σ(x) + (1-t) log(1 - σ(x))], stably."""

    def __init__(self, weight, pos_weight, reduction):
        self.weight, self.pos_weight, self.reduction = weight, pos_weight, reduction

    def forward(self, x, t):
        # softplus(±x) = max(±x, 0) + log(1 + e^{-|x|}): no exp of a large number, exact tails
        tail = np.log1p(np.exp(-np.abs(x)))
        self.sp = sp = np.maximum(x, 0) + tail      # -log(1 - σ(x))
        self.sn = sn = np.maximum(-x, 0) + tail     # -log σ(x)
        self.x, self.t = x, t
        pt = t * self.pos_weight if self.pos_weight is not None else t
        loss = pt * sn + (1 - t) * sp
        if self.weight is not None:
            loss = loss * self.weight
        return _reduce(loss, self.reduction)

    def backward(self, gy):
        # ∂ℓ/∂x = w [(1-t) σ(x) - p t σ(-x)]  (= w (σ(x) - t) without pos_weight)
        # ∂ℓ/∂t = w [p softplus(-x) - softplus(x)]
        x, t, pw, w = self.x, self.t, self.pos_weight, self.weight
        g = _spread(gy, self.reduction, x.size)
        if w is not None:
            g = g * w
        gx = gt = None
        if self.needs[0]:
            if pw is None:
                gx = g * (_sigmoid(x) - t)
            else:
                gx = g * ((1 - t) * _sigmoid(x) - pw * t * _sigmoid(-x))
        if self.needs[1]:
            gt = g * ((self.sn * pw if pw is not None else self.sn) - self.sp)
        return gx, gt


def binary_cross_entropy(input, target, weight=None, *, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of probabilities: -w [t log x + (1-t) log(1-x)] (x = σ(φ), the notes' 2-class output).

    ``input`` holds probabilities in [0, 1]; the logs are clamped at -100 as in
    PyTorch, so the loss and its gradient stay finite at 0 and 1. On logits use
    :func:`binary_cross_entropy_with_logits` (stabler and faster).
    """
    op = "binary_cross_entropy"
    _check_reduction(reduction, op)
    x = as_tensor(input)
    _check_float_input(x, op)
    t = _float_target(target, x, op)
    _same_shape(x, t, op)
    if x.array.size and (x.array.min() < 0 or x.array.max() > 1):
        raise ValueError(
            f"{op}: input values must be probabilities in [0, 1], got min {x.array.min():.4g} and max "
            f"{x.array.max():.4g}; for logits use binary_cross_entropy_with_logits"
        )
    w = _const_array(weight, x, op, "weight", _broadcast_check(x.shape))
    return BinaryCrossEntropy(w, reduction)(x, t)


def binary_cross_entropy_with_logits(input, target, weight=None, *, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable op: w [p t softplus(-x) + (1-t) softplus(x)].

    ``weight`` rescales elements (broadcast to the input); ``pos_weight`` p
    (e.g. shape (C,), broadcast along the last dim) weighs the positive term,
    p > 1 favouring recall. Finite loss and gradient σ(x) - t for any logits.
    """
    op = "binary_cross_entropy_with_logits"
    _check_reduction(reduction, op)
    x = as_tensor(input)
    _check_float_input(x, op)
    t = _float_target(target, x, op)
    _same_shape(x, t, op)
    w = _const_array(weight, x, op, "weight", _broadcast_check(x.shape))
    pw = _const_array(pos_weight, x, op, "pos_weight", _broadcast_check(x.shape))
    return BinaryCrossEntropyWithLogits(w, pw, reduction)(x, t)


# --- distributions ---------------------------------------------------------------------------


class KLDiv(Function):
    """Pointwise KL divergence t (log t - x) with x = log q (0 where t = 0); or e^t (t - x) with log targets."""

    def __init__(self, reduction, log_target):
        self.reduction, self.log_target = reduction, log_target

    def forward(self, x, t):
        self.x, self.t = x, t
        if self.log_target:
            self.et = et = np.exp(t)
            loss = et * (t - x)
        else:
            self.pos = pos = t > 0
            self.logt = logt = np.log(np.where(pos, t, 1))  # 0 where t = 0, so that 0 log 0 = 0
            loss = t * logt - t * x
        return self._reduce(loss)

    def _n(self, loss):
        if self.reduction == "batchmean":
            return loss.shape[0] if loss.ndim else 1
        return loss.size

    def _reduce(self, loss):
        if self.reduction == "batchmean":
            return _reduce(loss, "mean", self._n(loss))
        return _reduce(loss, self.reduction)

    def backward(self, gy):
        # ∂/∂x = -t (-e^t with log targets);  ∂/∂t = log t + 1 - x (e^t (t - x + 1)); taken as 0 where t = 0
        x, t = self.x, self.t
        mode = "mean" if self.reduction == "batchmean" else self.reduction
        g = _spread(gy, mode, self._n(x))
        gx = gt = None
        if self.log_target:
            gx = -g * self.et if self.needs[0] else None
            gt = g * self.et * (t - x + 1) if self.needs[1] else None
        else:
            gx = -g * t if self.needs[0] else None
            gt = g * np.where(self.pos, self.logt + 1 - x, 0) if self.needs[1] else None
        return gx, gt


def kl_div(input, target, *, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence KL(t ‖ q) with ``input`` = log q (log-probabilities, e.g. log_softmax).

    Pointwise ℓ = t (log t - input) (0 where t = 0), or e^t (t - input) if
    ``log_target``. ``reduction='batchmean'`` (sum / batch size) is the
    mathematical KL per sample; 'mean' divides by the number of elements
    (PyTorch's default, kept for compatibility). Used for distillation with
    softened teacher targets.
    """
    op = "kl_div"
    _check_reduction(reduction, op, _REDUCTIONS + ("batchmean",))
    x = as_tensor(input)
    _check_float_input(x, op)
    t = _float_target(target, x, op)
    _same_shape(x, t, op)
    return KLDiv(reduction, bool(log_target))(x, t)
