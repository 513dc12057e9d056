"""Weight initialization (``neurona.nn.init``), with PyTorch's names and formulas.

Each function fills ``tensor.array`` in place, keeps its dtype, records
nothing in the graph and returns the tensor. Random ones draw from
``generator`` (a ``numpy.random.Generator``) or, by default, from neurona's
global generator, so ``neurona.manual_seed(0)`` makes them reproducible.

Fans: for a weight of shape (out, in, k1, k2, ...), with receptive field
r = k1·k2·..., fan_in = in·r and fan_out = out·r (a Linear weight (out, in)
has r = 1).

Xavier/Glorot initialization keeps the variance of signals and gradients
across layers for symmetric activations; the notes give its variance,

    Var(W) = 2 / (n_in + n_out),

and ``gain`` multiplies the standard deviation. Kaiming/He initialization,
Var(W) = gain² / fan (gain = sqrt(2) for ReLU), does the same for ReLU-like
units.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..creation import _gen
from ..engine import Tensor

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_",
           "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_"]


def _fill(tensor: Tensor, values) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"init: expected a neurona Tensor (e.g. layer.weight), got {type(tensor).__name__}")
    # drawn on the host (the same initial weights on every device), copied once to the tensor's device;
    # casts to the tensor's dtype; the array object (and its dtype) stays
    tensor.array[...] = backend.to_device(values, backend.device_of(tensor.array)) \
        if isinstance(values, np.ndarray) else values
    return tensor


def _float_tensor(tensor, op: str) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected a neurona Tensor (e.g. layer.weight), got {type(tensor).__name__}")
    if tensor.array.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point tensor, got dtype {tensor.array.dtype}")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for an activation: what its output does to the variance.

    linear / conv / sigmoid: 1, tanh: 5/3, relu: sqrt(2), leaky_relu: sqrt(2/(1 + slope²))
    (slope ``param``, default 0.01), selu: 3/4.
    """
    linear = {"linear", "identity", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "sigmoid"}
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; expected one of "
                     f"{sorted(linear | {'tanh', 'relu', 'leaky_relu', 'selu'})}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel)."""
    shape = tuple(tensor.shape)
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out can not be computed for a tensor with fewer than 2 dimensions, "
                         f"got shape {shape}")
    receptive = 1
    for s in shape[2:]:
        receptive *= int(s)
    return int(shape[1]) * receptive, int(shape[0]) * receptive


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: np.random.Generator | None = None) -> Tensor:
    """Fill with samples of U(a, b)."""
    _float_tensor(tensor, "uniform_")
    if not a <= b:
        raise ValueError(f"uniform_: expected a <= b, got a={a}, b={b}")
    return _fill(tensor, _gen(generator).uniform(a, b, tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0,
            generator: np.random.Generator | None = None) -> Tensor:
    """Fill with samples of N(mean, std²)."""
    _float_tensor(tensor, "normal_")
    if std < 0:
        raise ValueError(f"normal_: std must be non-negative, got {std}")
    return _fill(tensor, _gen(generator).normal(mean, std, tensor.shape))


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  generator: np.random.Generator | None = None) -> Tensor:
    """Fill with N(mean, std²) samples restricted to [a, b] (out-of-range draws are redrawn)."""
    _float_tensor(tensor, "trunc_normal_")
    if not a < b:
        raise ValueError(f"trunc_normal_: expected a < b, got a={a}, b={b}")
    if std <= 0:
        raise ValueError(f"trunc_normal_: std must be positive, got {std}")
    lo, hi = (a - mean) / std, (b - mean) / std
    if hi < -8 or lo > 8:
        raise ValueError(f"trunc_normal_: [a, b] = [{a}, {b}] lies more than 8 standard deviations from the mean")
    rng = _gen(generator)
    z = rng.standard_normal(tensor.shape)
    bad = (z < lo) | (z > hi)
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = (z < lo) | (z > hi)
    return _fill(tensor, mean + std * z)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    return _fill(tensor, val)


def ones_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 1)


def zeros_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 0)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity matrix (ones on the diagonal)."""
    if tensor.ndim != 2:
        raise ValueError(f"eye_: expected a 2-D tensor, got shape {tuple(tensor.shape)}")
    return _fill(tensor, np.eye(*tensor.shape))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: np.random.Generator | None = None) -> Tensor:
    """Xavier/Glorot uniform: U(−a, a), a = gain·sqrt(6/(fan_in + fan_out)).

    Its variance a²/3 = gain² · 2/(n_in + n_out), the notes' Var(W).
    """
    _float_tensor(tensor, "xavier_uniform_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std
    return _fill(tensor, _gen(generator).uniform(-a, a, tensor.shape))


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: np.random.Generator | None = None) -> Tensor:
    """Xavier/Glorot normal: N(0, σ²), σ² = gain² · 2/(n_in + n_out) (the notes' Var(W))."""
    _float_tensor(tensor, "xavier_normal_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return _fill(tensor, _gen(generator).normal(0.0, std, tensor.shape))


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator: np.random.Generator | None = None) -> Tensor:
    """Kaiming/He uniform: U(−bound, bound), bound = gain·sqrt(3/fan), gain = calculate_gain(nonlinearity, a).

    ``a`` is the negative slope of a leaky ReLU (0: plain ReLU, gain sqrt(2));
    ``mode`` chooses fan_in (preserves forward variance) or fan_out (backward).
    """
    _float_tensor(tensor, "kaiming_uniform_")
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor  # nothing to draw for an empty weight
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return _fill(tensor, _gen(generator).uniform(-bound, bound, tensor.shape))


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator: np.random.Generator | None = None) -> Tensor:
    """Kaiming/He normal: N(0, σ²), σ = gain/sqrt(fan), gain = calculate_gain(nonlinearity, a)."""
    _float_tensor(tensor, "kaiming_normal_")
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return _fill(tensor, _gen(generator).normal(0.0, std, tensor.shape))


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator: np.random.Generator | None = None) -> Tensor:
    """A (semi-)orthogonal matrix times ``gain`` (trailing dims flattened), from the QR of a Gaussian matrix."""
    _float_tensor(tensor, "orthogonal_")
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: expected at least 2 dimensions, got shape {tuple(tensor.shape)}")
    rows = tensor.shape[0]
    cols = tensor.array.size // max(rows, 1)
    flat = _gen(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))  # makes the decomposition unique, hence Haar-distributed
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))
