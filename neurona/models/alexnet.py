"""AlexNet (Krizhevsky, Sutskever and Hinton, 2012).

"Alrededor de 60 millones de parámetros entrenables. Similar a LeNet pero
mucho más grande. Utiliza ReLU como función de activación." Five
convolutions (64-192-384-256-256 maps) with three max poolings, then three
dense layers with dropout. With 224x224 inputs and 1000 classes it has
61,100,840 parameters, with the layout and parameter names of torchvision's
``alexnet`` (so its weights load by name).
"""
from __future__ import annotations

from .. import nn
from ..engine import Tensor
from ._common import as_images, check_sizes, from_cli, is_small
from .registry import register_model

__all__ = ["AlexNet"]


class AlexNet(nn.Module):
    """AlexNet: ``features`` (5 conv + 3 max-pool), ``avgpool`` (adaptive), ``classifier`` (3 dense, dropout).

    For ``input_size`` ≥ 64 the stem is the original (11x11 kernels, stride 4,
    3x3 pooling with stride 2) and the classifier has 4096 hidden units. For
    small images (28x28, 32x32) the same layers use 3x3 kernels with stride 1
    and 2x2 pooling, the pooled map is 2x2, and the classifier has
    ``hidden`` = 1024 units by default, so that the network trains on a CPU.

    >>> import neurona
    >>> AlexNet(num_classes=10, in_channels=1, input_size=28)(neurona.randn(2, 1, 28, 28)).shape
    (2, 10)
    """

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, input_size: int = 224,
                 dropout: float = 0.5, hidden: int | None = None):
        super().__init__()
        check_sizes("AlexNet", num_classes, in_channels, input_size, minimum=8)
        self.num_classes, self.in_channels, self.input_size = int(num_classes), int(in_channels), int(input_size)
        self.dropout = float(dropout)
        small = is_small(self.input_size)
        self.hidden = int(hidden) if hidden is not None else (1024 if small else 4096)
        if small:
            stem = [nn.Conv2d(self.in_channels, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                    nn.Conv2d(64, 192, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            last_pool, pooled = nn.MaxPool2d(2), 2
        else:
            stem = [nn.Conv2d(self.in_channels, 64, 11, stride=4, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
                    nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2)]
            last_pool, pooled = nn.MaxPool2d(3, 2), 6
        self.features = nn.Sequential(
            *stem,
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), last_pool,
        )
        self.avgpool = nn.AdaptiveAvgPool2d(pooled)
        self.classifier = nn.Sequential(
            nn.Dropout(self.dropout), nn.Linear(256 * pooled * pooled, self.hidden), nn.ReLU(),
            nn.Dropout(self.dropout), nn.Linear(self.hidden, self.hidden), nn.ReLU(),
            nn.Linear(self.hidden, self.num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(as_images(x, self.in_channels, self.input_size, "AlexNet"))
        return self.classifier(self.avgpool(x).flatten(1))

    def get_config(self) -> dict:
        return {"num_classes": self.num_classes, "in_channels": self.in_channels, "input_size": self.input_size,
                "dropout": self.dropout, "hidden": self.hidden}


register_model("alexnet", AlexNet, from_cli=from_cli,
               description="AlexNet: 5 conv + 3 dense layers (61.1M parameters at 224x224)")
