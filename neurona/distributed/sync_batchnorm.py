"""``SyncBatchNorm``: batch normalization with the statistics of the whole batch over all processes.

The notes' batch normalization, x̂ = (x − μ_B)/sqrt(σ²_B + ε), y = γ x̂ + β,
where B is now the union of every rank's mini-batch: μ_B and σ²_B are sums
over all ranks divided by the total count N (two small all-reduces per
layer). Backward needs the same sums of the incoming gradient, with
m = (1/N) Σ_all ∂L/∂y and m̂ = (1/N) Σ_all ∂L/∂y · x̂:

    ∂L/∂x = γ / sqrt(σ²_B + ε) · (∂L/∂y − m − x̂ · m̂)

so N processes with batch b normalize and differentiate exactly as one
process with batch N·b does (with ``DistributedDataParallel`` averaging γ
and β's gradients).
"""
from __future__ import annotations

import numpy as np

from ..engine import Function, Tensor
from ..nn.module import Module
from ..nn.normalization import _BatchNorm
from . import comm

__all__ = ["SyncBatchNorm"]


def _axes(ndim: int) -> tuple:
    return (0,) + tuple(range(2, ndim))


def _shape(ndim: int, c: int) -> tuple:
    return (1, c) + (1,) * (ndim - 2)


class SyncBatchNormOp(Function):
    """Normalize with the mean and biased variance of all ranks' batches; keeps x̂ and 1/σ for backward."""

    def __init__(self, eps: float, has_weight: bool, has_bias: bool):
        self.eps, self.has_weight, self.has_bias = eps, has_weight, has_bias

    def forward(self, x, *affine):
        axes, shape = _axes(x.ndim), _shape(x.ndim, x.shape[1])
        count = x.size // x.shape[1]
        head = np.concatenate([x.sum(axis=axes, dtype=np.float64), [float(count)]])
        comm.all_reduce(head, "sum")
        self.n = n = head[-1]
        mean = head[:-1] / n
        sq = ((x - mean.astype(x.dtype).reshape(shape)) ** 2).sum(axis=axes, dtype=np.float64)
        comm.all_reduce(sq, "sum")
        var = sq / n
        self.mean, self.var = mean.astype(x.dtype), var.astype(x.dtype)  # for the running statistics
        self.inv_std = inv = (1.0 / np.sqrt(var + self.eps)).astype(x.dtype)
        self.xhat = xhat = (x - self.mean.reshape(shape)) * inv.reshape(shape)
        y = xhat
        k = 0
        if self.has_weight:
            self.w = affine[0]
            y = y * affine[0].reshape(shape)
            k = 1
        if self.has_bias:
            y = y + affine[k].reshape(shape)
        return y

    def backward(self, gy):
        xhat, inv = self.xhat, self.inv_std
        axes, shape = _axes(gy.ndim), _shape(gy.ndim, gy.shape[1])
        sums = np.concatenate([gy.sum(axis=axes, dtype=np.float64), (gy * xhat).sum(axis=axes, dtype=np.float64)])
        local = sums.copy()
        comm.all_reduce(sums, "sum")
        c = gy.shape[1]
        m, mh = (sums[:c] / self.n).astype(gy.dtype), (sums[c:] / self.n).astype(gy.dtype)
        scale = inv * (self.w if self.has_weight else 1)
        gx = scale.reshape(shape) * (gy - m.reshape(shape) - xhat * mh.reshape(shape))
        grads = [gx]
        if self.has_weight:  # γ and β's gradients from this rank's examples; DDP averages them over ranks
            grads.append(local[c:].astype(gy.dtype))
        if self.has_bias:
            grads.append(local[:c].astype(gy.dtype))
        return tuple(grads)


class SyncBatchNorm(_BatchNorm):
    """Batch normalization over the combined batch of all processes (PyTorch's ``nn.SyncBatchNorm``).

    Use it like ``BatchNorm1d/2d`` for inputs (N, C, ...); in training on more
    than one process the statistics come from every rank's batch, in
    evaluation (or in a world of one) it is ordinary batch norm. Convert an
    existing model with ``SyncBatchNorm.convert_sync_batchnorm(model)``.
    """

    _accepted_ndims = (2, 3, 4, 5)
    _layout = "(N, C, ...)"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, process_group=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or comm.get_world_size() == 1:
            return super().forward(x)
        self._check_input_dim(x)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats:
            self.num_batches_tracked.array += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.array)
        op = SyncBatchNormOp(self.eps, self.weight is not None, self.bias is not None)
        ins = [x] + [t for t in (self.weight, self.bias) if t is not None]
        y = op(*ins)
        if self.track_running_stats:
            n = float(op.n) if hasattr(op, "n") else 1.0
            unbiased = op.var * (n / max(n - 1.0, 1.0))
            rm, rv = self.running_mean.array, self.running_var.array
            rm *= 1 - factor
            rm += factor * op.mean
            rv *= 1 - factor
            rv += factor * unbiased
        return y

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group=None) -> Module:
        """``module`` with every BatchNorm layer replaced by a SyncBatchNorm holding the same weights and
        statistics (returns the new module when ``module`` itself is a batch norm)."""
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            new = cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats)
            for name in ("weight", "bias"):
                if getattr(module, name, None) is not None:
                    setattr(new, name, getattr(module, name))
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                if getattr(module, name, None) is not None:
                    setattr(new, name, getattr(module, name))
            new.train(module.training)
            return new
        for name, child in list(module.named_children()):
            new_child = cls.convert_sync_batchnorm(child, process_group)
            if new_child is not child:
                setattr(module, name, new_child)
        return module
