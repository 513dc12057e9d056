"""VGG networks (Simonyan and Zisserman, 2014): stacks of 3x3 convolutions.

"Alrededor de 138 millones de parámetros entrenables. Bloques de
convoluciones con kernels de 3×3 y stride 1. MaxPooling de 2×2 y stride 2.
Primera red profunda con 13 capas convolucionales. Cada capa convolucional
doblando el número de filtros de la anterior." VGG-16 at 224x224 with 1000
classes has 138,357,544 parameters; the layout and parameter names are
torchvision's (``features.<i>``, ``classifier.<i>``), so its weights load by name.
"""
from __future__ import annotations

from typing import Sequence

from .. import nn
from ..engine import Tensor
from ._common import as_images, check_sizes, from_cli, is_small
from .registry import register_model

__all__ = ["VGG", "VGG11", "VGG13", "VGG16", "VGG19", "vgg", "VGG_CONFIGS"]

# numbers are 3x3 convolutions with that many output channels, "M" a 2x2 max pooling with stride 2
VGG_CONFIGS: dict[int, list] = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


class VGG(nn.Module):
    """A VGG network from a configuration: 3x3 conv + ReLU layers (numbers) and 2x2 max poolings ("M").

    ``batch_norm`` inserts BatchNorm2d after each convolution (VGG-BN). For
    ``input_size`` ≥ 64: adaptive average pooling to 7x7 and a classifier of
    4096-4096 units, as the original. For small images a pooling that would
    shrink the map below 1x1 is replaced by an identity (28x28 keeps four of
    the five poolings; layer indices do not move), the map is pooled to 1x1
    and the classifier has ``hidden`` = 512 units by default.

    >>> import neurona
    >>> VGG16(num_classes=10, in_channels=1, input_size=28)(neurona.randn(2, 1, 28, 28)).shape
    (2, 10)
    """

    def __init__(self, cfg: Sequence = VGG_CONFIGS[16], num_classes: int = 1000, in_channels: int = 3,
                 input_size: int = 224, batch_norm: bool = False, dropout: float = 0.5, hidden: int | None = None):
        super().__init__()
        check_sizes("VGG", num_classes, in_channels, input_size, minimum=1)
        cfg = list(cfg)
        if not cfg or any(not (v == "M" or (isinstance(v, int) and v > 0)) for v in cfg):
            raise ValueError(f"VGG: cfg must list positive channel counts and 'M' for pooling, got {cfg}")
        if not any(isinstance(v, int) for v in cfg):
            raise ValueError("VGG: cfg needs at least one convolution")
        self.cfg, self.batch_norm, self.dropout = cfg, bool(batch_norm), float(dropout)
        self.num_classes, self.in_channels, self.input_size = int(num_classes), int(in_channels), int(input_size)
        small = is_small(self.input_size)
        self.hidden = int(hidden) if hidden is not None else (512 if small else 4096)
        layers, channels, size = [], self.in_channels, self.input_size
        for v in cfg:
            if v == "M":
                if size >= 2:
                    layers.append(nn.MaxPool2d(2, 2))
                    size //= 2
                else:  # the map is already 1x1: keep the layer index, skip the pooling
                    layers.append(nn.Identity())
            else:
                layers.append(nn.Conv2d(channels, v, 3, padding=1))
                if self.batch_norm:
                    layers.append(nn.BatchNorm2d(v))
                layers.append(nn.ReLU())
                channels = v
        self.features = nn.Sequential(*layers)
        pooled = 1 if small else 7
        self.avgpool = nn.AdaptiveAvgPool2d(pooled)
        self.classifier = nn.Sequential(
            nn.Linear(channels * pooled * pooled, self.hidden), nn.ReLU(), nn.Dropout(self.dropout),
            nn.Linear(self.hidden, self.hidden), nn.ReLU(), nn.Dropout(self.dropout),
            nn.Linear(self.hidden, self.num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(as_images(x, self.in_channels, self.input_size, "VGG"))
        return self.classifier(self.avgpool(x).flatten(1))

    def get_config(self) -> dict:
        return {"cfg": list(self.cfg), "num_classes": self.num_classes, "in_channels": self.in_channels,
                "input_size": self.input_size, "batch_norm": self.batch_norm, "dropout": self.dropout,
                "hidden": self.hidden}


def vgg(depth: int = 16, num_classes: int = 1000, in_channels: int = 3, input_size: int = 224,
        batch_norm: bool = False, cfg: Sequence | None = None, **kwargs) -> VGG:
    """VGG-11/13/16/19 by ``depth`` (the number of weight layers), or any ``cfg`` list."""
    if cfg is None:
        if depth not in VGG_CONFIGS:
            raise ValueError(f"vgg: depth must be one of {sorted(VGG_CONFIGS)} (or pass cfg=[...]), got {depth}")
        cfg = VGG_CONFIGS[depth]
    return VGG(cfg, num_classes, in_channels, input_size, batch_norm, **kwargs)


def VGG11(num_classes: int = 1000, in_channels: int = 3, input_size: int = 224, **kwargs) -> VGG:
    """VGG-11 (8 convolutions + 3 dense layers)."""
    return vgg(11, num_classes, in_channels, input_size, **kwargs)


def VGG13(num_classes: int = 1000, in_channels: int = 3, input_size: int = 224, **kwargs) -> VGG:
    """VGG-13 (10 convolutions + 3 dense layers)."""
    return vgg(13, num_classes, in_channels, input_size, **kwargs)


def VGG16(num_classes: int = 1000, in_channels: int = 3, input_size: int = 224, **kwargs) -> VGG:
    """VGG-16 (13 convolutions + 3 dense layers; 138,357,544 parameters at 224x224, 1000 classes)."""
    return vgg(16, num_classes, in_channels, input_size, **kwargs)


def VGG19(num_classes: int = 1000, in_channels: int = 3, input_size: int = 224, **kwargs) -> VGG:
    """VGG-19 (16 convolutions + 3 dense layers)."""
    return vgg(19, num_classes, in_channels, input_size, **kwargs)


register_model("vgg", VGG, from_cli=from_cli, description="VGG network from a configuration of 3x3 convolutions")


def _vgg16_from_cli(data_info: dict, options: dict) -> dict:
    return dict(from_cli(data_info, options), batch_norm=bool(options.get("batch_norm", False)))


register_model("vgg16", VGG16, from_cli=_vgg16_from_cli,
               description="VGG-16: 13 3x3 convolutions + 3 dense layers (138.4M parameters at 224x224)")
