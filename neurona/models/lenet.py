"""LeNet-5 (LeCun et al., 1998), the first convolutional network of the notes.

"Alrededor de 60.000 parámetros entrenables. Disminuye el ancho y alto del
tensor en cada bloque pero aumenta el número de canales. Uso de Sigmoid y
Tanh como función de activación." Two convolution + pooling blocks
(6 and 16 feature maps of 5x5 kernels) and three fully connected layers
(120, 84, classes): 61,706 parameters for 32x32 inputs and 10 classes.
"""
from __future__ import annotations

from .. import nn
from ..engine import Tensor
from ._common import activation, as_images, check_sizes, from_cli
from .registry import register_model

__all__ = ["LeNet5"]


class LeNet5(nn.Module):
    """LeNet-5: conv(6, 5x5) → act → pool → conv(16, 5x5) → act → pool → 120 → 84 → classes.

    ``input_size`` 32 is the original; for 28x28 images (MNIST, Fashion-MNIST)
    the first convolution pads by 2 so the network and its parameter count
    are the same. ``activation`` is 'relu' (default), 'tanh' or 'sigmoid' (the
    original); ``pooling`` 'max' (default) or 'avg' (the original's
    subsampling). The body is ``features``, the head ``classifier``.

    Each block reads as in the notes: convolution → activation → pooling.
    (With ReLU and max pooling, ``nn.Sequential`` runs the last two as one
    fused op, see ``neurona.rewrites``; the layers stay as written.)

    >>> import neurona
    >>> model = LeNet5()
    >>> model(neurona.randn(2, 1, 28, 28)).shape
    (2, 10)
    >>> model.num_parameters()
    61706
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, input_size: int = 28, activation: str = "relu",
                 pooling: str = "max"):
        super().__init__()
        check_sizes("LeNet5", num_classes, in_channels, input_size, minimum=16)
        if pooling not in ("max", "avg"):
            raise ValueError(f"LeNet5: pooling must be 'max' or 'avg', got {pooling!r}")
        self.num_classes, self.in_channels, self.input_size = int(num_classes), int(in_channels), int(input_size)
        self.activation, self.pooling = activation, pooling
        pad = max(0, (32 - self.input_size + 1) // 2)  # 28x28 → padding 2, as if the image were 32x32
        pool = nn.MaxPool2d if pooling == "max" else nn.AvgPool2d
        self.features = nn.Sequential(
            nn.Conv2d(self.in_channels, 6, 5, padding=pad), _act(activation), pool(2),
            nn.Conv2d(6, 16, 5), _act(activation), pool(2),
        )
        side = ((self.input_size + 2 * pad - 4) // 2 - 4) // 2
        self.classifier = nn.Sequential(
            nn.Linear(16 * side * side, 120), _act(activation),
            nn.Linear(120, 84), _act(activation),
            nn.Linear(84, self.num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(as_images(x, self.in_channels, self.input_size, "LeNet5"))
        return self.classifier(x.flatten(1))

    def get_config(self) -> dict:
        return {"num_classes": self.num_classes, "in_channels": self.in_channels, "input_size": self.input_size,
                "activation": self.activation, "pooling": self.pooling}


def _act(name: str) -> nn.Module:
    return activation(name)



register_model("lenet5", LeNet5, from_cli=from_cli,
               description="LeNet-5: two conv + pooling blocks and three dense layers (61.7k parameters)")
