"""Block and pixel rearranging layers: ``Unfold``, ``Fold``, ``PixelShuffle``, ``PixelUnshuffle``,
``MaxUnpool1d``/``MaxUnpool2d``, ``UpsamplingNearest2d``, ``UpsamplingBilinear2d`` (PyTorch's names)."""
from __future__ import annotations

from ..engine import Tensor
from ..functional import fold as F
from ..functional.resample import interpolate
from .module import Module

__all__ = ["Unfold", "Fold", "PixelShuffle", "PixelUnshuffle", "MaxUnpool1d", "MaxUnpool2d", "UpsamplingNearest2d",
           "UpsamplingBilinear2d"]


class Unfold(Module):
    """The blocks under a sliding kernel: (N, C, H, W) → (N, C·kh·kw, L) (im2col)."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, x: Tensor) -> Tensor:
        return F.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
                f"stride={self.stride}")


class Fold(Module):
    """Blocks (N, C·kh·kw, L) summed back into (N, C, *output_size) (col2im, the adjoint of ``Unfold``)."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, x: Tensor) -> Tensor:
        return F.fold(x, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class PixelShuffle(Module):
    """(*, C·r², H, W) → (*, C, H·r, W·r), the upsampling of sub-pixel convolution."""

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = int(upscale_factor)

    def forward(self, x: Tensor) -> Tensor:
        return F.pixel_shuffle(x, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H·r, W·r) → (*, C·r², H, W), the inverse of ``PixelShuffle``."""

    def __init__(self, downscale_factor: int):
        super().__init__()
        self.downscale_factor = int(downscale_factor)

    def forward(self, x: Tensor) -> Tensor:
        return F.pixel_unshuffle(x, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class MaxUnpool2d(Module):
    """Put the maxima of ``MaxPool2d(..., return_indices=True)`` back in place, zeros elsewhere:
    ``unpool(pooled, indices, output_size=None)``."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, input: Tensor, indices: Tensor, output_size=None) -> Tensor:
        return F.max_unpool2d(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(MaxUnpool2d):
    """The 1-D form of ``MaxUnpool2d``."""

    def forward(self, input: Tensor, indices: Tensor, output_size=None) -> Tensor:
        return F.max_unpool1d(input, indices, self.kernel_size, self.stride, self.padding, output_size)


class UpsamplingNearest2d(Module):
    """Nearest-neighbour upsampling of (N, C, H, W) to ``size`` or by ``scale_factor``."""

    _mode = "nearest"

    def __init__(self, size=None, scale_factor=None):
        super().__init__()
        self.size, self.scale_factor = size, scale_factor

    def forward(self, x: Tensor) -> Tensor:
        if self._mode == "nearest":
            return interpolate(x, self.size, self.scale_factor, mode="nearest")
        return interpolate(x, self.size, self.scale_factor, mode="bilinear", align_corners=True)

    def extra_repr(self) -> str:
        return f"size={self.size}, scale_factor={self.scale_factor}" if self.size is None else f"size={self.size}"


class UpsamplingBilinear2d(UpsamplingNearest2d):
    """Bilinear upsampling of (N, C, H, W) with ``align_corners=True``, as PyTorch's layer."""

    _mode = "bilinear"
