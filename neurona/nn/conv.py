"""Convolutional layers: ``Conv2d``, ``Conv1d``, and ``BatchNorm2d`` / ``Dropout2d`` for feature maps.

A convolutional layer slides a small filter (kernel) of size M x N over the
image with a stride and padding (the notes, "Redes convolucionales"); it
shares one set of weights across all positions, which is why a CNN needs far
fewer parameters than a fully connected network on the same image. The
computation lives in ``neurona.functional.conv``.
"""
from __future__ import annotations

import math

import numpy as np

from ..backend import get_default_dtype
from ..creation import from_numpy
from ..functional.conv import _pair, conv1d, conv2d, conv_output_size, pad_mode
from ..functional.pool import dropout2d
from ..engine import Tensor
from . import init
from .module import Module
from .normalization import _BatchNorm
from .parameter import Parameter

__all__ = ["Conv2d", "Conv1d", "BatchNorm2d", "Dropout2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _check_channels(name: str, in_channels: int, out_channels: int, groups: int) -> None:
    if in_channels < 1 or out_channels < 1:
        raise ValueError(f"{name}: in_channels and out_channels must be positive, got {in_channels}, {out_channels}")
    if groups < 1 or in_channels % groups or out_channels % groups:
        raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) must both be "
                         f"divisible by groups ({groups})")


def _make_weights(m: Module, shape: tuple, bias: bool, dtype) -> None:
    """The weight of ``shape`` and the bias (out_channels) of a convolution layer ``m``, initialised as PyTorch."""
    d = np.dtype(dtype) if dtype is not None else get_default_dtype()
    if d.kind != "f":
        raise TypeError(f"{type(m).__name__}: dtype must be a floating dtype, got {d}")
    m.weight = Parameter(from_numpy(np.empty(shape, d)))
    if bias:
        m.bias = Parameter(from_numpy(np.empty((m.out_channels,), d)))
    else:
        m.register_parameter("bias", None)
    m.reset_parameters()


def _kaiming_reset(m: Module) -> None:
    """W ~ kaiming_uniform(a=√5), b ~ U(±1/√fan_in) with fan_in = weight.shape[1]·prod(kernel), as PyTorch."""
    init.kaiming_uniform_(m.weight, a=math.sqrt(5))
    if m.bias is not None:
        fan_in = m.weight.shape[1] * int(np.prod(m.kernel_size))
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        init.uniform_(m.bias, -bound, bound)


class _ConvNd(Module):
    """Shared body of Conv1d and Conv2d: hyperparameters, weights and PyTorch's default init."""

    _nd = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple, stride: tuple, padding,
                 dilation: tuple, groups: int, bias: bool, padding_mode: str, dtype):
        super().__init__()
        name = type(self).__name__
        _check_channels(name, in_channels, out_channels, groups)
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided convolutions (stride {stride})")
        if min(kernel_size) < 1 or min(stride) < 1 or min(dilation) < 1:
            raise ValueError(f"{name}: kernel_size, stride and dilation must be positive, got {kernel_size}, "
                             f"{stride}, {dilation}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride, padding, dilation
        self.groups, self.padding_mode = int(groups), padding_mode
        _make_weights(self, (self.out_channels, self.in_channels // self.groups) + kernel_size, bias, dtype)

    def reset_parameters(self) -> None:
        """PyTorch's default: W ~ kaiming_uniform(a=√5) = U(±1/√fan_in), b ~ U(±1/√fan_in), fan_in = C/groups·kh·kw."""
        _kaiming_reset(self)

    def extra_repr(self) -> str:
        def fmt(t):
            return str(t[0]) if self._nd == 1 else str(t)
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={fmt(self.kernel_size)}, stride={fmt(self.stride)}"
        if self.padding not in (0, (0,) * self._nd, "valid"):
            s += f", padding={self.padding if isinstance(self.padding, str) else fmt(self.padding)}"
        if self.dilation != (1,) * self._nd:
            s += f", dilation={fmt(self.dilation)}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode!r}"
        return s

    def _explicit_pads(self) -> tuple:
        """(top, bottom, left, right) of the padding, for the non-zero padding modes."""
        kh, kw = (1,) + self.kernel_size if self._nd == 1 else self.kernel_size
        dh, dw = (1,) + self.dilation if self._nd == 1 else self.dilation
        if self.padding == "same":
            th, tw = dh * (kh - 1), dw * (kw - 1)
            return (th // 2, th - th // 2, tw // 2, tw - tw // 2)
        if self.padding == "valid":
            return (0, 0, 0, 0)
        ph, pw = (0,) + self.padding if self._nd == 1 else self.padding
        return (ph, ph, pw, pw)


class Conv2d(_ConvNd):
    """2-D convolution over (N, C_in, H, W) → (N, C_out, H_out, W_out), as ``torch.nn.Conv2d``.

    H_out = ⌊(H + 2·padding − dilation·(kernel − 1) − 1)/stride⌋ + 1 (likewise W).
    ``weight`` has shape (out_channels, in_channels/groups, kh, kw) and ``bias``
    (out_channels,). ``kernel_size``, ``stride``, ``padding`` and ``dilation``
    are ints or (h, w) pairs; ``padding`` may be 'same' or 'valid';
    ``padding_mode`` is 'zeros', 'reflect', 'replicate' or 'circular';
    ``groups`` splits the channels into independent groups (``groups=in_channels``
    is a depthwise convolution). A 1x1 convolution mixes channels only (the
    notes' dimensionality reduction).

    >>> import neurona
    >>> conv = neurona.nn.Conv2d(1, 6, kernel_size=5, padding=2)
    >>> conv(neurona.randn(8, 1, 28, 28)).shape
    (8, 6, 28, 28)
    """

    _nd = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", dtype=None):
        k = _pair(kernel_size, "kernel_size", "Conv2d")
        s = _pair(stride, "stride", "Conv2d")
        dl = _pair(dilation, "dilation", "Conv2d")
        p = padding if isinstance(padding, str) else _pair(padding, "padding", "Conv2d")
        super().__init__(in_channels, out_channels, k, s, p, dl, groups, bias, padding_mode, dtype)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 3:  # an unbatched (C, H, W) image
            return self.forward(x.unsqueeze(0)).squeeze(0)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"Conv2d: expected input (N, {self.in_channels}, H, W) or ({self.in_channels}, H, W), "
                             f"got shape {tuple(x.shape)}")
        if self.padding_mode != "zeros":
            x = pad_mode(x, self._explicit_pads(), self.padding_mode)
            return conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        return conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def output_shape(self, input_shape: tuple) -> tuple:
        """The output shape for an input of shape (N, C, H, W), without running the layer."""
        n, c, h, w = input_shape
        t, b, l, r = self._explicit_pads()
        return (n, self.out_channels,
                conv_output_size(h, self.kernel_size[0], self.stride[0], t, b, self.dilation[0]),
                conv_output_size(w, self.kernel_size[1], self.stride[1], l, r, self.dilation[1]))


class Conv1d(_ConvNd):
    """1-D convolution over sequences (N, C_in, L) → (N, C_out, L_out), as ``torch.nn.Conv1d``.

    L_out = ⌊(L + 2·padding − dilation·(kernel − 1) − 1)/stride⌋ + 1; weight (out, in/groups, k).
    """

    _nd = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", dtype=None):
        def one(v, name):
            if isinstance(v, (tuple, list)):
                if len(v) != 1:
                    raise TypeError(f"Conv1d: {name} must be an int or a 1-tuple, got {v!r}")
                v = v[0]
            return (int(v),)
        p = padding if isinstance(padding, str) else one(padding, "padding")
        super().__init__(in_channels, out_channels, one(kernel_size, "kernel_size"), one(stride, "stride"), p,
                         one(dilation, "dilation"), groups, bias, padding_mode, dtype)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 2:  # an unbatched (C, L) sequence
            return self.forward(x.unsqueeze(0)).squeeze(0)
        if x.ndim != 3 or x.shape[1] != self.in_channels:
            raise ValueError(f"Conv1d: expected input (N, {self.in_channels}, L) or ({self.in_channels}, L), "
                             f"got shape {tuple(x.shape)}")
        if self.padding_mode != "zeros":
            t, b, l, r = self._explicit_pads()
            x = pad_mode(x.unsqueeze(2), (0, 0, l, r), self.padding_mode).squeeze(2)
            return conv1d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        pad = self.padding if isinstance(self.padding, str) else self.padding[0]
        return conv1d(x, self.weight, self.bias, self.stride, pad, self.dilation, self.groups)


class BatchNorm2d(_BatchNorm):
    """Batch normalization of feature maps (N, C, H, W), one γ, β, μ and σ² per channel.

    The statistics are taken over the batch and both spatial axes (N·H·W
    values per channel): x̂ = (x − μ_B)/sqrt(σ²_B + ε), y = γ x̂ + β. In
    ``eval()`` the running statistics replace the batch ones. Same arguments
    as ``BatchNorm1d``.

    >>> import neurona
    >>> neurona.nn.BatchNorm2d(16)(neurona.randn(4, 16, 8, 8)).shape
    (4, 16, 8, 8)
    """

    _accepted_ndims = (4,)
    _layout = "(N, C, H, W)"


class Dropout2d(Module):
    """Channel dropout: in training, zero each whole feature map with probability ``p`` and scale the
    others by 1/(1 − p); the identity in ``eval()``. Input (N, C, H, W) or (C, H, W)."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        from ..functional.dropout import _check_p
        self.p = _check_p(p, "Dropout2d")
        self.inplace = inplace  # accepted for PyTorch compatibility; the result is always a new tensor

    def forward(self, x: Tensor) -> Tensor:
        return dropout2d(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
