"""Residual networks (He et al., 2015): ResNet-18 and ResNet-34.

The notes: training very deep networks the gradient vanishes; a *skip
connection* adds the block's input to its output before the last activation,

    φ^{l+1} = Θ^{l+1} s^l,  s^{l+1} = f_relu(φ^{l+1}),  φ^{l+2} = Θ^{l+2} s^{l+1},
    s^{l+2} = f_relu(φ^{l+2} + s^l),

so the block only has to learn a correction to the identity and the
gradient reaches early layers through the shortcut. Here each Θ is a 3x3
convolution followed by batch normalization (``BasicBlock``). When a block
halves the resolution and doubles the channels, s^l is brought to the new
shape by a 1x1 convolution with stride 2 (the projection shortcut).
ResNet-18 at 224x224 with 1000 classes has 11,689,512 parameters; layout
and parameter names are torchvision's (``conv1``, ``bn1``, ``layer1.0.conv1``,
``layer2.0.downsample.0``, ``fc``), so its weights load by name.
"""
from __future__ import annotations

from typing import Sequence

from .. import nn
from ..engine import Tensor
from ._common import as_images, check_sizes, from_cli, is_small
from .registry import register_model

__all__ = ["BasicBlock", "ResNet", "ResNet18", "ResNet34", "resnet"]


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with a skip connection: s' = relu(bn2(conv2(relu(bn1(conv1(s))))) + shortcut(s)).

    ``shortcut`` is the identity when the shape is kept, else (``stride`` > 1 or
    a change of channels) the projection ``downsample`` = 1x1 conv (stride) + BN.
    """

    expansion = 1

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(out_channels))
        else:
            self.downsample = None
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))        # s^{l+1} = f_relu(φ^{l+1})
        out = self.bn2(self.conv2(out))                 # φ^{l+2}
        skip = x if self.downsample is None else self.downsample(x)
        return self.relu(out + skip)                    # s^{l+2} = f_relu(φ^{l+2} + s^l)


class ResNet(nn.Module):
    """A ResNet of ``BasicBlock`` stages: ``layers`` blocks per stage at 64, 128, 256 and 512 channels.

    Stem for ``input_size`` ≥ 64: 7x7 conv with stride 2 + 3x3 max pooling
    (as the original). For small images (28x28, 32x32): a 3x3 conv with
    stride 1 and no max pooling (``maxpool`` is an identity), as is usual for
    CIFAR-sized inputs. Then global average pooling and the ``fc`` head.

    >>> import neurona
    >>> ResNet18(num_classes=10, in_channels=1, input_size=28)(neurona.randn(2, 1, 28, 28)).shape
    (2, 10)
    """

    def __init__(self, layers: Sequence[int] = (2, 2, 2, 2), num_classes: int = 1000, in_channels: int = 3,
                 input_size: int = 224, widths: Sequence[int] = (64, 128, 256, 512)):
        super().__init__()
        check_sizes("ResNet", num_classes, in_channels, input_size, minimum=1)
        layers, widths = [int(n) for n in layers], [int(w) for w in widths]
        if len(layers) != len(widths) or not layers or min(layers) < 1:
            raise ValueError(f"ResNet: layers {layers} and widths {widths} must be equally long, with ≥ 1 block each")
        self.layers, self.widths = layers, widths
        self.num_classes, self.in_channels, self.input_size = int(num_classes), int(in_channels), int(input_size)
        if is_small(self.input_size):
            self.conv1 = nn.Conv2d(self.in_channels, widths[0], 3, stride=1, padding=1, bias=False)
            self.maxpool = nn.Identity()
        else:
            self.conv1 = nn.Conv2d(self.in_channels, widths[0], 7, stride=2, padding=3, bias=False)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU()
        channels = widths[0]
        for i, (n, w) in enumerate(zip(layers, widths)):
            blocks = [BasicBlock(channels, w, stride=1 if i == 0 else 2)]
            blocks += [BasicBlock(w, w) for _ in range(n - 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            channels = w
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, self.num_classes)
        for m in self.modules():  # He initialization for ReLU networks, as torchvision
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        x = as_images(x, self.in_channels, self.input_size, "ResNet")
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for i in range(len(self.layers)):
            x = getattr(self, f"layer{i + 1}")(x)
        return self.fc(self.avgpool(x).flatten(1))

    def get_config(self) -> dict:
        return {"layers": list(self.layers), "num_classes": self.num_classes, "in_channels": self.in_channels,
                "input_size": self.input_size, "widths": list(self.widths)}


_DEPTHS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}


def resnet(depth: int = 18, num_classes: int = 1000, in_channels: int = 3, input_size: int = 224, **kwargs) -> ResNet:
    """ResNet-18 or ResNet-34 (BasicBlock stages of 2-2-2-2 or 3-4-6-3 blocks)."""
    if depth not in _DEPTHS:
        raise ValueError(f"resnet: depth must be one of {sorted(_DEPTHS)}, got {depth}; for other depths "
                         f"use ResNet(layers=[...])")
    return ResNet(_DEPTHS[depth], num_classes, in_channels, input_size, **kwargs)


def ResNet18(num_classes: int = 1000, in_channels: int = 3, input_size: int = 224, **kwargs) -> ResNet:
    """ResNet-18: 8 BasicBlocks (11,689,512 parameters at 224x224 with 1000 classes)."""
    return resnet(18, num_classes, in_channels, input_size, **kwargs)


def ResNet34(num_classes: int = 1000, in_channels: int = 3, input_size: int = 224, **kwargs) -> ResNet:
    """ResNet-34: 16 BasicBlocks (21,797,672 parameters at 224x224 with 1000 classes)."""
    return resnet(34, num_classes, in_channels, input_size, **kwargs)


register_model("resnet", ResNet, from_cli=from_cli, description="residual network of BasicBlocks")
register_model("resnet18", ResNet18, from_cli=from_cli,
               description="ResNet-18: 8 residual blocks with skip connections (11.7M parameters)")
