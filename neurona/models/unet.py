"""U-Net (Ronneberger et al., 2015): an encoder–decoder for per-pixel classification with skip connections.

Segmentation is the notes' "clasificación píxel a píxel": one class per pixel, so the output has the
input's height and width. The encoder is a CNN (two 3×3 conv-BN-ReLU layers per level, max pooling
between levels: the maps shrink while the channels double); the decoder walks back up, each level
upsampling (a 2×2 transposed convolution with stride 2, or bilinear interpolation and a 1×1
convolution) and concatenating the encoder's map of the same size — the *skip connection*, which
brings back the fine detail that pooling lost — before two more conv-BN-ReLU layers. A 1×1
convolution gives the C class logits of every pixel; train it with ``nn.CrossEntropyLoss`` on
(N, C, H, W) logits and (N, H, W) labels, optionally plus ``vision.DiceLoss``.

Odd sizes work: each upsampling is asked for the exact size of its skip connection
(``ConvTranspose2d(..., output_size=...)``).
"""
from __future__ import annotations

from .. import nn
from ..engine import Tensor
from ..functional.resample import interpolate
from ..functional.shape import cat
from .registry import register_model

__all__ = ["UNet", "DoubleConv", "UpBlock"]


class DoubleConv(nn.Sequential):
    """(3×3 convolution → BatchNorm2d → ReLU) twice; the spatial size is kept."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels),
                         nn.ReLU(),
                         nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU())


class UpBlock(nn.Module):
    """Upsample ×2 to the skip connection's size, concatenate [skip, upsampled] on the channels, DoubleConv."""

    def __init__(self, in_channels: int, out_channels: int, upsampling: str = "transpose"):
        super().__init__()
        self.upsampling = upsampling
        if upsampling == "transpose":
            self.up = nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2)
        else:  # bilinear: interpolate, then a 1x1 convolution halves the channels
            self.up = nn.Conv2d(in_channels, out_channels, 1)
        self.conv = DoubleConv(2 * out_channels, out_channels)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        size = tuple(skip.shape[2:])
        if self.upsampling == "transpose":
            x = self.up(x, output_size=size)
        else:
            x = self.up(interpolate(x, size=size, mode="bilinear", align_corners=False))
        return self.conv(cat([skip, x], 1))


class UNet(nn.Module):
    """U-Net with ``depth`` poolings and ``base_channels`` · 2^level channels at each level.

    ``upsampling``: 'transpose' (learned 2×2 transposed convolutions) or 'bilinear'. Input (N, C, H, W)
    with H and W at least 2^depth; output (N, num_classes, H, W) logits.

    >>> import neurona
    >>> model = UNet(num_classes=11, base_channels=8, depth=2)
    >>> model(neurona.randn(2, 1, 30, 30)).shape
    neurona.Size([2, 11, 30, 30])
    """

    def __init__(self, num_classes: int = 11, in_channels: int = 1, base_channels: int = 16, depth: int = 3,
                 upsampling: str = "transpose"):
        super().__init__()
        if upsampling not in ("transpose", "bilinear"):
            raise ValueError(f"UNet: upsampling must be 'transpose' or 'bilinear', got {upsampling!r}")
        for name, v in (("num_classes", num_classes), ("in_channels", in_channels), ("base_channels", base_channels),
                        ("depth", depth)):
            if int(v) < 1:
                raise ValueError(f"UNet: {name} must be a positive int, got {v}")
        self.num_classes, self.in_channels = int(num_classes), int(in_channels)
        self.base_channels, self.depth, self.upsampling = int(base_channels), int(depth), upsampling
        ch = [self.base_channels * 2 ** i for i in range(self.depth + 1)]
        self.stem = DoubleConv(self.in_channels, ch[0])
        self.down = nn.ModuleList([nn.Sequential(nn.MaxPool2d(2), DoubleConv(ch[i], ch[i + 1]))
                                   for i in range(self.depth)])
        self.up = nn.ModuleList([UpBlock(ch[i + 1], ch[i], upsampling) for i in reversed(range(self.depth))])
        self.head = nn.Conv2d(ch[0], self.num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"UNet: expected input (N, {self.in_channels}, H, W), got shape {tuple(x.shape)}")
        if min(x.shape[2:]) < 2 ** self.depth:
            raise ValueError(f"UNet: input of size {tuple(x.shape[2:])} is smaller than 2^depth = {2 ** self.depth}")
        skips = [self.stem(x)]
        for level in self.down:
            skips.append(level(skips[-1]))
        x = skips.pop()
        for block in self.up:
            x = block(x, skips.pop())
        return self.head(x)

    def get_config(self) -> dict:
        return {"num_classes": self.num_classes, "in_channels": self.in_channels,
                "base_channels": self.base_channels, "depth": self.depth, "upsampling": self.upsampling}


register_model("unet", UNet, description="U-Net for segmentation: conv encoder, transposed-conv decoder, "
                                         "skip connections; per-pixel class logits")
