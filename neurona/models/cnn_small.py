"""A small CNN for 28x28 images: under 100k parameters, over 0.92 on Fashion-MNIST.

Four 3x3 convolution blocks (convolution, batch normalization, ReLU) with
16-32-64-64 channels, max pooling after the second and third, global average
pooling and one linear layer: 61,050 parameters for one input channel and
10 classes. Batch normalization lets it train with a large learning rate; the
global average pooling (each of the 64 last feature maps becomes its mean)
replaces the large dense layers of LeNet and AlexNet, so almost all of the
parameters are convolution kernels.
"""
from __future__ import annotations

from .. import nn
from ..engine import Tensor
from ._common import as_images, check_sizes, from_cli
from .registry import register_model

__all__ = ["CNNSmall", "cnn_small"]


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int = 3) -> nn.Sequential:
    """Convolution (no bias: batch norm's β takes its place) → BatchNorm2d → ReLU, keeping the spatial size."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU())


class CNNSmall(nn.Module):
    """conv-bn-relu(16) → conv-bn-relu(32) → maxpool → conv-bn-relu(64) → maxpool → conv-bn-relu(64) → GAP → linear.

    ``width`` scales the channels (16·width, 32·width, 64·width, 64·width);
    ``dropout`` applies before the linear head. Works for any input size
    (global pooling); built for 1x28x28.

    >>> import neurona
    >>> model = CNNSmall()
    >>> model(neurona.randn(2, 1, 28, 28)).shape
    (2, 10)
    >>> model.num_parameters() < 100_000
    True
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, input_size: int = 28, width: int = 1,
                 dropout: float = 0.1):
        super().__init__()
        check_sizes("CNNSmall", num_classes, in_channels, input_size, minimum=4)
        if int(width) < 1:
            raise ValueError(f"CNNSmall: width must be a positive int, got {width}")
        self.num_classes, self.in_channels, self.input_size = int(num_classes), int(in_channels), int(input_size)
        self.width, self.dropout = int(width), float(dropout)
        c1, c2, c3 = 16 * self.width, 32 * self.width, 64 * self.width
        self.features = nn.Sequential(
            conv_bn_relu(self.in_channels, c1), conv_bn_relu(c1, c2), nn.MaxPool2d(2),
            conv_bn_relu(c2, c3), nn.MaxPool2d(2),
            conv_bn_relu(c3, c3),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(self.dropout), nn.Linear(c3, self.num_classes))

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(as_images(x, self.in_channels, self.input_size, "CNNSmall"))
        return self.classifier(self.pool(x).flatten(1))

    def get_config(self) -> dict:
        return {"num_classes": self.num_classes, "in_channels": self.in_channels, "input_size": self.input_size,
                "width": self.width, "dropout": self.dropout}


def cnn_small(num_classes: int = 10, in_channels: int = 1, **kwargs) -> CNNSmall:
    """The small CNN preset (see :class:`CNNSmall`)."""
    return CNNSmall(num_classes, in_channels, **kwargs)


register_model("cnn-small", CNNSmall, from_cli=from_cli,
               description="small CNN for 28x28 images: 4 conv-bn-relu blocks, global pooling (61k parameters)")
