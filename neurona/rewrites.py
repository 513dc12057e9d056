"""Named rewrites: ``nn.Sequential`` runs some pairs of consecutive layers as one fused op.

A model is written the way the notes draw it — ``Linear`` then ``ReLU``,
``Conv2d`` then ``ReLU`` then ``MaxPool2d`` — and stays that way: its modules,
their order, parameter names and ``state_dict`` are untouched. When
``nn.Sequential`` runs, it asks :func:`plan` for the steps to take, and each
rewrite below replaces a run of layers by one op that computes the same
function with the same gradients:

``linear+activation``
    ``Linear`` (with a bias) then ``ReLU``, ``LeakyReLU`` (slope ≥ 0), ``Sigmoid`` or
    ``Tanh``: one op, act(x Wᵀ + b), whose bias and activation are one pass
    (``neurona.kernels.activation.LinearActivation``).
``relu+max_pool``
    ``ReLU`` then ``MaxPool2d``: max pooling commutes with ReLU (non-decreasing),
    so y = relu(max_pool(x)); one op reads the input once and writes a
    quarter of it (``neurona.kernels.pool.MaxPoolReLU``). The gradient is the
    same: ReLU's derivative and the pooling's routing meet at one element.
``batch_norm+relu``
    ``BatchNorm1d``/``BatchNorm2d`` in training then ``ReLU``: normalization,
    affine map and ReLU in one pass, and backward in two
    (``neurona.kernels.normalization.BatchNormReLU``).

A rewrite applies only where nobody could tell: to those exact classes (not
subclasses), with no forward hook or pre-hook on the layers it fuses, and
only while the Numba kernels are in force (``neurona.runtime``;
``NEURONA_REWRITES=off`` turns rewrites off alone). Where an input does not
suit the fused op (another dtype, a CuPy array), the layers run one by one.
"""
from __future__ import annotations

from . import kernels, runtime

__all__ = ["plan", "REWRITES"]


def _plain(*modules) -> bool:
    """No hook on any of ``modules``: running them fused cannot be observed."""
    for m in modules:
        d = m.__dict__
        if d["_forward_hooks"] or d["_forward_pre_hooks"]:
            return False
    return True


class _Fused:
    """A run of layers executed as one op; falls back to calling them in turn."""

    __slots__ = ("layers",)

    def __init__(self, *layers):
        self.layers = layers

    def unfused(self, x):
        for m in self.layers:
            x = m(x)
        return x


class _LinearActivation(_Fused):
    __slots__ = ("act",)

    def __init__(self, linear, activation, act: str):
        super().__init__(linear, activation)
        self.act = act

    def __call__(self, x):
        lin, a = self.layers
        p = lin._parameters  # read from the registry: lin.weight finds it only after a failed attribute lookup
        w, b = p.get("weight"), p.get("bias")
        xa = getattr(x, "array", None)
        if xa is None or w is None or b is None or xa.ndim == 0 or xa.shape[-1] != w.array.shape[1] or xa.dtype != w.array.dtype \
                or b.array.dtype != xa.dtype:
            return self.unfused(x)
        op = kernels.lookup("linear_activation", xa, w.array, b.array)
        if op is None:
            return self.unfused(x)
        if self.act == "leaky_relu":
            if a.negative_slope < 0:
                return self.unfused(x)
            return op(self.act, a.negative_slope)(x, w, b)
        return op(self.act)(x, w, b)


def _linear_activation(mods, i):
    from .nn.activation import LeakyReLU, ReLU, Sigmoid, Tanh
    from .nn.linear import Linear

    if i + 1 >= len(mods) or type(mods[i]) is not Linear or mods[i].bias is None:
        return None
    a = mods[i + 1]
    t = type(a)
    if t is ReLU:
        return _LinearActivation(mods[i], a, "relu")
    if t is LeakyReLU:
        return _LinearActivation(mods[i], a, "leaky_relu")
    if t is Sigmoid:
        return _LinearActivation(mods[i], a, "sigmoid")
    if t is Tanh:
        return _LinearActivation(mods[i], a, "tanh")
    return None


class _ReLUMaxPool(_Fused):
    def __call__(self, x):
        pool = self.layers[1]
        xa = getattr(x, "array", None)
        if xa is None or xa.ndim != 4 or pool.return_indices:
            return self.unfused(x)
        op = kernels.lookup("max_pool2d_relu", xa)
        if op is None:
            return self.unfused(x)
        from .functional.pool import _max_pool2d
        return _max_pool2d(x, pool.kernel_size, pool.stride, pool.padding, pool.dilation, pool.ceil_mode, False, op)


def _relu_max_pool(mods, i):
    from .nn.activation import ReLU
    from .nn.pooling import MaxPool2d

    if i + 1 < len(mods) and type(mods[i]) is ReLU and type(mods[i + 1]) is MaxPool2d:
        return _ReLUMaxPool(mods[i], mods[i + 1])
    return None


class _BatchNormReLU(_Fused):
    def __call__(self, x):
        bn = self.layers[0]
        xa = getattr(x, "array", None)
        if xa is None or not (bn.training or bn.running_mean is None):  # evaluation: the running statistics
            return self.unfused(x)
        op = kernels.lookup("batch_norm_relu", xa)
        if op is None:
            return self.unfused(x)
        return bn._normalize(x, op)


def _batch_norm_relu(mods, i):
    from .nn.activation import ReLU
    from .nn.conv import BatchNorm2d
    from .nn.normalization import BatchNorm1d

    if i + 1 < len(mods) and type(mods[i]) in (BatchNorm1d, BatchNorm2d) and type(mods[i + 1]) is ReLU:
        return _BatchNormReLU(mods[i], mods[i + 1])
    return None


#: name -> matcher(modules, i): a fused step for the run of layers starting at i, or None
REWRITES = {
    "linear+activation": _linear_activation,
    "batch_norm+relu": _batch_norm_relu,
    "relu+max_pool": _relu_max_pool,
}


def plan(seq) -> list:
    """The steps ``seq`` (an ``nn.Sequential``) runs: its modules, with fusable runs replaced by fused steps."""
    mods = tuple(seq._modules.values())
    if not runtime.rewrites_enabled():
        return mods
    cached = seq.__dict__.get("_plan")
    if cached is not None and cached[0] == mods:
        steps = cached[1]
    else:
        steps = []
        i = 0
        while i < len(mods):
            for match in REWRITES.values():
                fused = match(mods, i)
                if fused is not None:
                    steps.append(fused)
                    i += len(fused.layers)
                    break
            else:
                steps.append(mods[i])
                i += 1
        seq.__dict__["_plan"] = (mods, steps)  # rebuilt when the layers change
    if _plain(*mods):
        return steps
    out = []  # a hooked layer runs alone, so that its hook sees what it computes
    for s in steps:
        if isinstance(s, _Fused) and not _plain(*s.layers):
            out.extend(s.layers)
        else:
            out.append(s)
    return out
