"""Transposed convolution layers: ``ConvTranspose2d`` and ``ConvTranspose1d``.

The decoder half of an encoder–decoder network (U-Net, autoencoders, the
DCGAN generator) grows feature maps back to the input's size; a transposed
convolution does it with learned filters. The computation lives in
``neurona.functional.conv_transpose``.
"""
from __future__ import annotations

from ..engine import Tensor
from ..functional.conv_transpose import _pair, conv_transpose1d, conv_transpose2d, conv_transpose_output_size
from .conv import _check_channels, _kaiming_reset, _make_weights
from .module import Module

__all__ = ["ConvTranspose2d", "ConvTranspose1d"]


class _ConvTransposeNd(Module):
    """Shared body of ConvTranspose1d/2d: hyperparameters, weights (in, out/groups, *kernel), PyTorch's init."""

    _nd = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple, stride: tuple, padding: tuple,
                 output_padding: tuple, groups: int, bias: bool, dilation: tuple, padding_mode: str, dtype):
        super().__init__()
        name = type(self).__name__
        _check_channels(name, in_channels, out_channels, groups)
        if padding_mode != "zeros":
            raise ValueError(f"{name}: only padding_mode='zeros' is supported (as in PyTorch), got {padding_mode!r}")
        if min(kernel_size) < 1 or min(stride) < 1 or min(dilation) < 1:
            raise ValueError(f"{name}: kernel_size, stride and dilation must be positive, got {kernel_size}, "
                             f"{stride}, {dilation}")
        if min(padding) < 0 or min(output_padding) < 0:
            raise ValueError(f"{name}: padding and output_padding must be non-negative, got {padding}, "
                             f"{output_padding}")
        if any(op >= max(s, d) for op, s, d in zip(output_padding, stride, dilation)):
            raise ValueError(f"{name}: output_padding {output_padding} must be smaller than either the stride "
                             f"{stride} or the dilation {dilation}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride, padding, dilation
        self.output_padding, self.groups, self.padding_mode = output_padding, int(groups), padding_mode
        _make_weights(self, (self.in_channels, self.out_channels // self.groups) + kernel_size, bias, dtype)

    def reset_parameters(self) -> None:
        """PyTorch's default: W ~ kaiming_uniform(a=√5) = U(±1/√fan_in), b ~ U(±1/√fan_in), fan_in = out/groups·k.

        (PyTorch computes the fan of the (in, out/groups, k...) weight as if it were a convolution's.)
        """
        _kaiming_reset(self)

    def extra_repr(self) -> str:
        fmt = str  # tuples, (4,) for one axis, as PyTorch prints them
        zero, one = (0,) * self._nd, (1,) * self._nd
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={fmt(self.kernel_size)}, stride={fmt(self.stride)}"
        if self.padding != zero:
            s += f", padding={fmt(self.padding)}"
        if self.dilation != one:
            s += f", dilation={fmt(self.dilation)}"
        if self.output_padding != zero:
            s += f", output_padding={fmt(self.output_padding)}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s

    def _output_padding(self, spatial: tuple, output_size) -> tuple:
        """The output_padding that gives ``output_size`` (PyTorch's rule: a size between the smallest output and
        stride − 1 more); the layer's own ``output_padding`` when no size is asked for."""
        if output_size is None:
            return self.output_padding
        name = type(self).__name__
        size = [int(s) for s in (output_size.shape if isinstance(output_size, Tensor) else output_size)]
        if len(size) == self._nd + 2:
            size = size[2:]
        if len(size) != self._nd:
            raise ValueError(f"{name}: output_size must have {self._nd} or {self._nd + 2} elements, got {output_size!r}")
        pads = []
        for a in range(self._nd):
            smallest = conv_transpose_output_size(spatial[a], self.kernel_size[a], self.stride[a], self.padding[a], 0,
                                                  self.dilation[a])
            largest = smallest + self.stride[a] - 1
            if not smallest <= size[a] <= largest:
                raise ValueError(f"{name}: requested an output size of {tuple(size)}, but valid sizes along axis {a} "
                                 f"range from {smallest} to {largest} for an input of size {tuple(spatial)}")
            pads.append(size[a] - smallest)
        return tuple(pads)


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution (N, C_in, H, W) → (N, C_out, H_out, W_out), as ``torch.nn.ConvTranspose2d``.

    H_out = (H − 1)·stride − 2·padding + dilation·(kernel − 1) + output_padding + 1 (likewise W).
    ``weight`` has shape (in_channels, out_channels/groups, kh, kw) and ``bias``
    (out_channels,). ``forward(x, output_size=(H_out, W_out))`` picks the
    output_padding that gives that size (a strided convolution maps several
    sizes to one; this undoes it to the size you ask for).

    >>> import neurona
    >>> up = neurona.nn.ConvTranspose2d(16, 8, kernel_size=2, stride=2)
    >>> up(neurona.randn(4, 16, 7, 7)).shape
    neurona.Size([4, 8, 14, 14])
    """

    _nd = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", dtype=None):
        op = "ConvTranspose2d"
        super().__init__(in_channels, out_channels, _pair(kernel_size, "kernel_size", op), _pair(stride, "stride", op),
                         _pair(padding, "padding", op), _pair(output_padding, "output_padding", op), groups, bias,
                         _pair(dilation, "dilation", op), padding_mode, dtype)

    def forward(self, x: Tensor, output_size=None) -> Tensor:
        if x.ndim == 3:  # an unbatched (C, H, W) image
            return self.forward(x.unsqueeze(0), output_size).squeeze(0)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"ConvTranspose2d: expected input (N, {self.in_channels}, H, W) or "
                             f"({self.in_channels}, H, W), got shape {tuple(x.shape)}")
        output_padding = self._output_padding(tuple(x.shape[2:]), output_size)
        return conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, output_padding, self.groups,
                                self.dilation)

    def output_shape(self, input_shape: tuple) -> tuple:
        """The output shape for an input of shape (N, C, H, W), without running the layer."""
        n, _, h, w = input_shape
        size = [conv_transpose_output_size(s, self.kernel_size[a], self.stride[a], self.padding[a],
                                           self.output_padding[a], self.dilation[a]) for a, s in enumerate((h, w))]
        return (n, self.out_channels, size[0], size[1])


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution (N, C_in, L) → (N, C_out, L_out), as ``torch.nn.ConvTranspose1d``.

    L_out = (L − 1)·stride − 2·padding + dilation·(kernel − 1) + output_padding + 1; weight (in, out/groups, k).
    """

    _nd = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", dtype=None):
        def one(v, name):
            if isinstance(v, (tuple, list)):
                if len(v) != 1:
                    raise TypeError(f"ConvTranspose1d: {name} must be an int or a 1-tuple, got {v!r}")
                v = v[0]
            return (int(v),)
        super().__init__(in_channels, out_channels, one(kernel_size, "kernel_size"), one(stride, "stride"),
                         one(padding, "padding"), one(output_padding, "output_padding"), groups, bias,
                         one(dilation, "dilation"), padding_mode, dtype)

    def forward(self, x: Tensor, output_size=None) -> Tensor:
        if x.ndim == 2:  # an unbatched (C, L) sequence
            return self.forward(x.unsqueeze(0), output_size).squeeze(0)
        if x.ndim != 3 or x.shape[1] != self.in_channels:
            raise ValueError(f"ConvTranspose1d: expected input (N, {self.in_channels}, L) or ({self.in_channels}, L), "
                             f"got shape {tuple(x.shape)}")
        output_padding = self._output_padding(tuple(x.shape[2:]), output_size)
        return conv_transpose1d(x, self.weight, self.bias, self.stride, self.padding, output_padding, self.groups,
                                self.dilation)
