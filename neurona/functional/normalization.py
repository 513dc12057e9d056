"""Batch and layer normalization as fused ops.

The notes normalize a signal with its mean and variance,

    x̂ = (x − μ) / sqrt(σ² + ε),        y = γ x̂ + β,

over a mini-batch (batch normalization: μ_B, σ²_B per feature) or over the
features of one sample (layer normalization: μ_L, σ²_L). As in PyTorch the
variance used to normalize is the biased one (divided by n, not n − 1 as
written in the notes; the two agree for large n), while the running
variance that batch norm keeps for evaluation is the unbiased one.

Writing forward and backward out keeps one graph node per layer and
stores only x̂ and 1/sqrt(σ² + ε). With n values per statistic and
G = γ ⊙ ∂L/∂y, the backward of the normalization is

    ∂L/∂x = (1/sqrt(σ² + ε)) (G − mean(G) − x̂ ⊙ mean(G ⊙ x̂)).
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..backend import get_array_module
from ..engine import Function, Tensor
from .math import as_tensor

# --- batch norm ----------------------------------------------------------------


def _channel_shape(ndim: int, c: int) -> tuple:
    return (1, c) + (1,) * (ndim - 2)


class _ChannelMatrix:
    """An array seen as a 2-D matrix with the channels on one axis, without copying.

    A convolution hands batch norm its output channels-last (NHWC in memory) or
    batch-last (CHWN); (N, C) features are channels-last too. Seen as an
    (M, C) or a (C, M) matrix, the per-channel sums become matrix-vector
    products and x − μ, x·s + β one pass each over long rows, where NumPy's
    reductions over axes (0, 2, 3) and its broadcasting of a (1, C, 1, 1)
    vector over a few channels crawl through short inner loops.
    """

    __slots__ = ("xp", "kind", "shape", "order", "m", "c", "k")

    def __init__(self, xp, kind: str, shape: tuple, order: tuple, m: int, c: int):
        self.xp, self.kind, self.shape, self.order, self.m, self.c = xp, kind, shape, order, m, c
        # channels-last rows are only C long: k of them side by side make one row of k·C values
        self.k = 1
        if kind == "last":
            for k in (64, 32, 16, 8, 4, 2):
                if m % k == 0 and k * c <= 4096:
                    self.k = k
                    break

    @classmethod
    def of(cls, a) -> "_ChannelMatrix | None":
        if a.ndim < 2 or a.size == 0:
            return None
        xp = get_array_module(a)
        c = a.shape[1]
        m = a.size // c
        rest = (0,) + tuple(range(2, a.ndim))
        if a.transpose(rest + (1,)).flags.c_contiguous:
            return cls(xp, "last", a.shape, rest + (1,), m, c)
        if a.transpose((1,) + tuple(range(2, a.ndim)) + (0,)).flags.c_contiguous:
            return cls(xp, "first", a.shape, (1,) + tuple(range(2, a.ndim)) + (0,), m, c)
        return None

    def fits(self, a) -> bool:
        """Whether ``a`` has this shape and this memory layout."""
        return a.shape == self.shape and a.transpose(self.order).flags.c_contiguous

    def like(self, a):
        """``a`` in this layout: itself, or a copy (a gradient that came back in another layout)."""
        if self.fits(a):
            return a
        out = self.empty(a.dtype)
        out[...] = a
        return out

    def empty(self, dtype):
        stored = self.xp.empty(tuple(self.shape[i] for i in self.order), dtype)
        return stored.transpose(tuple(int(i) for i in np.argsort(self.order)))

    def matrix(self, a):
        """(M, C) for channels-last, (C, M) for channels-first: a view."""
        t = a.transpose(self.order)
        return t.reshape(-1, self.c) if self.kind == "last" else t.reshape(self.c, -1)

    def sum(self, a):
        """Σ over everything but the channels, (C,)."""
        mat = self.matrix(a)
        if self.kind == "last":
            return self.xp.ones(self.m, a.dtype) @ mat
        return mat @ self.xp.ones(self.m, a.dtype)

    def dot(self, a, b):
        """Σ a·b over everything but the channels, (C,), without a temporary."""
        return np.einsum("ij,ij->j" if self.kind == "last" else "ij,ij->i", self.matrix(a), self.matrix(b))

    def _wide(self, a):
        mat = self.matrix(a)
        return mat.reshape(-1, self.k * self.c) if self.kind == "last" else mat

    def _vec(self, v):
        return np.tile(v, self.k) if self.kind == "last" else v[:, None]

    def apply(self, ufunc, a, v, out):
        """out = ufunc(a, v) with the per-channel vector v broadcast over the channels; ``out`` in this layout."""
        ufunc(self._wide(a), self._vec(v), out=self._wide(out))
        return out


class BatchNormTrain(Function):
    """Batch statistics over every axis except the channel axis 1; γ and β optional.

    Keeps for backward x − μ and 1/sqrt(σ² + ε) (x̂ is their product).
    """

    def __init__(self, eps: float, has_weight: bool, has_bias: bool):
        self.eps, self.has_weight, self.has_bias = eps, has_weight, has_bias

    def forward(self, x, *affine):
        w = affine[0] if self.has_weight else None
        b = affine[-1] if self.has_bias else None
        self.w = w
        view = _ChannelMatrix.of(x)
        if view is None:
            return self._forward_any(x, w, b)
        dt = x.dtype
        mean = view.sum(x) / view.m
        xc = view.apply(np.subtract, x, mean, view.empty(dt))
        var = view.dot(xc, xc) / view.m                      # two passes: no cancellation in float32
        inv = 1.0 / np.sqrt(var + dt.type(self.eps))
        self.batch_mean, self.batch_var = mean, var          # read (then dropped) by batch_norm
        self.view, self.xc, self.inv = view, xc, inv
        y = view.apply(np.multiply, xc, inv if w is None else inv * w, view.empty(dt))  # y = γ x̂ + β
        if b is not None:
            view.apply(np.add, y, b, y)
        return y

    def _forward_any(self, x, w, b):
        axes = (0,) + tuple(range(2, x.ndim))
        cshape = _channel_shape(x.ndim, x.shape[1])
        mean = x.mean(axis=axes, keepdims=True)
        xc = x - mean
        var = np.mean(xc * xc, axis=axes, keepdims=True)
        inv = 1.0 / np.sqrt(var + x.dtype.type(self.eps))
        self.batch_mean, self.batch_var = mean.reshape(-1), var.reshape(-1)
        self.view, self.xc, self.inv, self.axes = None, xc, inv, axes
        y = xc * (inv if w is None else inv * w.reshape(cshape))
        if b is not None:
            y += b.reshape(cshape)
        return y

    def backward(self, gy):
        view, xc, inv, w = self.view, self.xc, self.inv, self.w
        if view is None:
            return self._backward_any(gy)
        gy = view.like(gy)
        n = view.m
        gb = view.sum(gy)                          # ∂L/∂β = Σ ∂L/∂y
        gw = view.dot(gy, xc) * inv                # ∂L/∂γ = Σ ∂L/∂y ⊙ x̂, with x̂ = (x − μ)/sqrt(σ² + ε)
        gx = None
        if self.needs[0]:
            # ∂L/∂x = s (G − mean(G) − x̂ mean(G x̂)), s = γ/sqrt(σ² + ε), the means over the batch axes:
            # = s G − (x − μ) s/sqrt(σ² + ε) mean(G x̂) − s mean(G)
            scale = inv if w is None else inv * w
            gx = view.apply(np.multiply, gy, scale, view.empty(gy.dtype))
            tmp = view.apply(np.multiply, xc, scale * inv * (gw / n), view.empty(gy.dtype))
            gx -= tmp
            view.apply(np.subtract, gx, scale * (gb / n), gx)
        return self._grads(gx, gw, gb)

    def _backward_any(self, gy):
        xc, inv, axes, w = self.xc, self.inv, self.axes, self.w
        xhat = xc * inv
        n = gy.size // gy.shape[1]
        gb = gy.sum(axis=axes)
        gw = np.sum(gy * xhat, axis=axes)
        gx = None
        if self.needs[0]:
            cshape = _channel_shape(gy.ndim, gy.shape[1])
            scale = inv if w is None else inv * w.reshape(cshape)
            inv_n = gy.dtype.type(1.0 / n)
            gx = gy - (gb * inv_n).reshape(cshape) - xhat * (gw * inv_n).reshape(cshape)
            gx *= scale
        return self._grads(gx, gw, gb)

    def _grads(self, gx, gw, gb) -> tuple:
        grads = [gx]
        i = 1
        if self.has_weight:
            grads.append(gw if self.needs[i] else None)
            i += 1
        if self.has_bias:
            grads.append(gb if self.needs[i] else None)
        return tuple(grads)


class BatchNormEval(Function):
    """Normalization with fixed statistics: a per-channel affine map y = x s + t."""

    def __init__(self, mean, var, eps: float, has_weight: bool, has_bias: bool):
        self.mean, self.var, self.eps = mean, var, eps
        self.has_weight, self.has_bias = has_weight, has_bias

    def forward(self, x, *affine):
        cshape = _channel_shape(x.ndim, x.shape[1])
        inv = (1.0 / np.sqrt(self.var + x.dtype.type(self.eps))).astype(x.dtype, copy=False).reshape(cshape)
        mean = self.mean.astype(x.dtype, copy=False).reshape(cshape)
        w = affine[0] if self.has_weight else None
        b = affine[-1] if self.has_bias else None
        scale = inv if w is None else inv * w.reshape(cshape)
        shift = -mean * scale
        if b is not None:
            shift = shift + b.reshape(cshape)
        self.x, self.inv, self.mu, self.scale = x, inv, mean, scale
        return x * scale + shift

    def backward(self, gy):
        axes = (0,) + tuple(range(2, gy.ndim))
        grads = [gy * self.scale if self.needs[0] else None]
        i = 1
        if self.has_weight:
            # ∂L/∂γ = Σ ∂L/∂y ⊙ (x − μ)/sqrt(σ² + ε)
            grads.append(np.sum(gy * ((self.x - self.mu) * self.inv), axis=axes) if self.needs[i] else None)
            i += 1
        if self.has_bias:
            grads.append(gy.sum(axis=axes) if self.needs[i] else None)
        return tuple(grads)


def batch_norm(x, running_mean: Tensor | None, running_var: Tensor | None, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor:
    """Batch normalization over every axis except the channel axis 1 (PyTorch's ``F.batch_norm``).

    ``x`` has shape (N, C), (N, C, L), (N, C, H, W), ... In training the
    statistics of the batch normalize it (the notes' μ_B, σ²_B, with σ²_B the
    biased estimate), and ``running_mean`` / ``running_var`` (Tensors of
    shape (C,), or None) are updated in place:

        running_mean ← (1 − momentum) running_mean + momentum μ_B
        running_var  ← (1 − momentum) running_var  + momentum σ²_B · n/(n − 1)

    Out of training the running statistics normalize (the batch statistics if
    they are None). Then y = γ x̂ + β with ``weight`` γ and ``bias`` β of shape (C,).
    """
    return _batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps)


def _batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps, train_op=None) -> Tensor:
    """``batch_norm``; ``train_op`` replaces the training-mode op (the fused batch norm + ReLU of
    ``neurona.rewrites``)."""
    x = as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected input of shape (N, C, ...) with at least 2 dimensions, got {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"batch_norm: expected a floating-point input, got dtype {x.dtype}")
    c = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise ValueError(f"batch_norm: {name} must have shape ({c},) for input of shape {x.shape} "
                             f"(C = {c} channels on axis 1), got {tuple(t.shape)}")
    affine = [t for t in (weight, bias) if t is not None]
    for t in affine:
        if t.dtype != x.dtype:
            raise TypeError(f"batch_norm: input dtype {x.dtype} and parameter dtype {t.dtype} differ; "
                            f"convert the input or the layer so they match")
    use_batch = training or running_mean is None or running_var is None
    if not use_batch:
        op = kernels.lookup("batch_norm_eval", x.array) or BatchNormEval
        fn = op(running_mean.array, running_var.array, eps, weight is not None, bias is not None)
        return fn(x, *affine)
    n = x.array.size // max(c, 1)
    if training and n <= 1:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input of shape "
                         f"{x.shape}; use a batch of 2 or more samples, or call model.eval() for single samples")
    op = train_op or kernels.lookup("batch_norm_train", x.array) or BatchNormTrain
    fn = op(eps, weight is not None, bias is not None)
    y = fn(x, *affine)
    mean, var = fn.__dict__.pop("batch_mean"), fn.__dict__.pop("batch_var")
    if training:
        m = float(momentum)
        if running_mean is not None:
            rm = running_mean.array
            rm *= 1.0 - m
            rm += (m * mean).astype(rm.dtype, copy=False)
        if running_var is not None:
            rv = running_var.array
            rv *= 1.0 - m
            rv += (var * (m * n / max(n - 1, 1))).astype(rv.dtype, copy=False)
    return y


# --- layer norm -------------------------------------------------------------------


class LayerNormOp(Function):
    """Statistics over the last ``k`` axes; γ and β (shape of those axes) optional."""

    def __init__(self, k: int, eps: float, has_weight: bool, has_bias: bool):
        self.k, self.eps, self.has_weight, self.has_bias = k, eps, has_weight, has_bias

    def forward(self, x, *affine):
        axes = tuple(range(x.ndim - self.k, x.ndim))
        mean = x.mean(axis=axes, keepdims=True)
        xc = x - mean
        var = np.mean(xc * xc, axis=axes, keepdims=True)
        inv = 1.0 / np.sqrt(var + x.dtype.type(self.eps))
        xhat = xc
        xhat *= inv
        w = affine[0] if self.has_weight else None
        b = affine[-1] if self.has_bias else None
        self.xhat, self.inv, self.axes, self.w = xhat, inv, axes, w
        y = xhat * w if w is not None else xhat.copy()
        if b is not None:
            y += b
        return y

    def backward(self, gy):
        xhat, inv, axes, w = self.xhat, self.inv, self.axes, self.w
        lead = tuple(range(gy.ndim - self.k))
        grads = [None]
        if self.needs[0]:
            g = gy * w if w is not None else gy
            # ∂L/∂x = (1/sqrt(σ²+ε)) (G − mean(G) − x̂ mean(G x̂)), G = γ ⊙ ∂L/∂y,
            # the means taken over the normalized axes
            gx = g - g.mean(axis=axes, keepdims=True) - xhat * np.mean(g * xhat, axis=axes, keepdims=True)
            gx *= inv
            grads[0] = gx
        i = 1
        if self.has_weight:
            grads.append(np.sum(gy * xhat, axis=lead) if self.needs[i] else None)  # ∂L/∂γ = Σ ∂L/∂y ⊙ x̂
            i += 1
        if self.has_bias:
            grads.append(gy.sum(axis=lead) if self.needs[i] else None)  # ∂L/∂β = Σ ∂L/∂y
        return tuple(grads)


def layer_norm(x, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Layer normalization over the trailing ``normalized_shape`` axes (PyTorch's ``F.layer_norm``).

    Each sample is normalized with the mean μ_L and (biased) variance σ²_L of
    its own features, x̂ = (x − μ_L)/sqrt(σ²_L + ε), then y = γ x̂ + β with
    ``weight`` γ and ``bias`` β of shape ``normalized_shape``.
    """
    x = as_tensor(x)
    shape = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) else tuple(
        int(s) for s in normalized_shape)
    if x.dtype.kind != "f":
        raise TypeError(f"layer_norm: expected a floating-point input, got dtype {x.dtype}")
    k = len(shape)
    if k == 0 or x.ndim < k or tuple(x.shape[x.ndim - k:]) != shape:
        raise ValueError(f"layer_norm: expected input whose last dimensions are normalized_shape {shape}, "
                         f"got shape {x.shape}")
    affine = []
    for name, t in (("weight", weight), ("bias", bias)):
        if t is None:
            continue
        if tuple(t.shape) != shape:
            raise ValueError(f"layer_norm: {name} must have shape {shape}, got {tuple(t.shape)}")
        if t.dtype != x.dtype:
            raise TypeError(f"layer_norm: input dtype {x.dtype} and {name} dtype {t.dtype} differ")
        affine.append(t)
    return LayerNormOp(k, eps, weight is not None, bias is not None)(x, *affine)
