"""Inception blocks and GoogLeNet (Szegedy et al., 2014).

The notes: choosing the kernel size is one more decision when designing a
CNN, so an *Inception block* applies several — 1x1, 3x3, 5x5 convolutions and
a 3x3 max pooling — side by side to the same input and concatenates their
feature maps along the channels. The naive form grows the parameters and
the computation quickly; the form with dimension reductions first applies
1x1 convolutions ("Convoluciones 1x1 ... para reducir la dimensionalidad")
before the 3x3 and 5x5 ones and after the pooling.

GoogLeNet stacks nine such blocks (with batch-normalized convolutions, as
torchvision's ``googlenet``) and adds two optional auxiliary classifiers
whose losses are weighted into the training loss ("funciones de pérdida
auxiliares ponderadas en diferentes partes de la red"). Its layout and
parameter names are torchvision's, including the 3x3 kernel that
torchvision's pretrained weights use in the "5x5" branch: 6,624,904
parameters at 224x224 with 1000 classes and no auxiliary classifiers
(``branch5_kernel=5`` gives the paper's 5x5 kernels).
"""
from __future__ import annotations

from .. import nn
from ..functional.loss import cross_entropy
from ..functional.pool import adaptive_avg_pool2d
from ..functional.shape import cat
from ..engine import Tensor
from ._common import as_images, check_sizes, from_cli, is_small
from .registry import register_model

__all__ = ["BasicConv2d", "InceptionBlock", "InceptionAux", "GoogLeNet", "googlenet_loss"]


class BasicConv2d(nn.Module):
    """Convolution (no bias) → BatchNorm2d (ε = 0.001) → ReLU; ``batch_norm=False`` gives conv (with bias) → ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, batch_norm: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                              bias=not batch_norm)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001) if batch_norm else None
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return self.relu(x)


class InceptionBlock(nn.Module):
    """An Inception block: four parallel branches whose outputs are concatenated along the channels.

    With dimension reductions (``reduce=True``, the default):

    - ``branch1``: 1x1 conv → ``ch1x1`` maps
    - ``branch2``: 1x1 conv to ``ch3x3red`` → 3x3 conv → ``ch3x3``
    - ``branch3``: 1x1 conv to ``ch5x5red`` → 5x5 conv → ``ch5x5``
    - ``branch4``: 3x3 max pool (stride 1) → 1x1 conv → ``pool_proj``

    giving ch1x1 + ch3x3 + ch5x5 + pool_proj channels. The naive block
    (``reduce=False``) drops the 1x1 reductions: 1x1, 3x3 and 5x5
    convolutions straight on the input and the pooled input itself,
    ch1x1 + ch3x3 + ch5x5 + in_channels channels (``ch3x3red``, ``ch5x5red``
    and ``pool_proj`` are then ignored). Every branch keeps the spatial size.

    >>> import neurona
    >>> block = InceptionBlock(192, 64, 96, 128, 16, 32, 32)
    >>> block(neurona.randn(1, 192, 7, 7)).shape
    (1, 256, 7, 7)
    """

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int, ch5x5: int,
                 pool_proj: int, reduce: bool = True, branch5_kernel: int = 5, batch_norm: bool = True):
        super().__init__()
        if branch5_kernel % 2 == 0:
            raise ValueError(f"InceptionBlock: branch5_kernel must be odd to keep the size, got {branch5_kernel}")
        self.reduce = bool(reduce)
        k5, bn = int(branch5_kernel), batch_norm
        self.branch1 = BasicConv2d(in_channels, ch1x1, 1, batch_norm=bn)
        if self.reduce:
            self.branch2 = nn.Sequential(BasicConv2d(in_channels, ch3x3red, 1, batch_norm=bn),
                                         BasicConv2d(ch3x3red, ch3x3, 3, padding=1, batch_norm=bn))
            self.branch3 = nn.Sequential(BasicConv2d(in_channels, ch5x5red, 1, batch_norm=bn),
                                         BasicConv2d(ch5x5red, ch5x5, k5, padding=k5 // 2, batch_norm=bn))
            self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
                                         BasicConv2d(in_channels, pool_proj, 1, batch_norm=bn))
            self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj
        else:
            self.branch2 = BasicConv2d(in_channels, ch3x3, 3, padding=1, batch_norm=bn)
            self.branch3 = BasicConv2d(in_channels, ch5x5, k5, padding=k5 // 2, batch_norm=bn)
            self.branch4 = nn.MaxPool2d(3, stride=1, padding=1)
            self.out_channels = ch1x1 + ch3x3 + ch5x5 + in_channels

    def forward(self, x: Tensor) -> Tensor:
        return cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


class InceptionAux(nn.Module):
    """Auxiliary classifier: 4x4 average pooling → 1x1 conv (128) → 1024 dense → dropout 0.7 → classes."""

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7):
        super().__init__()
        self.conv = BasicConv2d(in_channels, 128, 1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(adaptive_avg_pool2d(x, 4))
        x = self.dropout(self.relu(self.fc1(x.flatten(1))))
        return self.fc2(x)


# in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj (Table 1 of the paper)
_BLOCKS = {
    "inception3a": (192, 64, 96, 128, 16, 32, 32),
    "inception3b": (256, 128, 128, 192, 32, 96, 64),
    "inception4a": (480, 192, 96, 208, 16, 48, 64),
    "inception4b": (512, 160, 112, 224, 24, 64, 64),
    "inception4c": (512, 128, 128, 256, 24, 64, 64),
    "inception4d": (512, 112, 144, 288, 32, 64, 64),
    "inception4e": (528, 256, 160, 320, 32, 128, 128),
    "inception5a": (832, 256, 160, 320, 32, 128, 128),
    "inception5b": (832, 384, 192, 384, 48, 128, 128),
}


class GoogLeNet(nn.Module):
    """GoogLeNet (Inception v1): a stem, nine Inception blocks with max pooling between stages, global pooling.

    ``aux_logits=True`` adds the two auxiliary classifiers (after blocks 4a and
    4d); in training mode ``forward`` then returns ``(logits, aux2, aux1)``
    (train with loss + 0.3·(aux losses), as in the paper: :func:`googlenet_loss`),
    in eval mode only the logits. For ``input_size`` ≥ 64 the stem is the original (7x7 conv
    with stride 2, two max poolings); for small images it is a 3x3 conv
    with stride 1 and only the second pooling, so the blocks see 14x14 maps
    for 28x28 inputs.

    >>> import neurona
    >>> GoogLeNet(num_classes=10, in_channels=1, input_size=28)(neurona.randn(2, 1, 28, 28)).shape
    (2, 10)
    """

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, input_size: int = 224,
                 aux_logits: bool = False, dropout: float = 0.2, aux_dropout: float = 0.7, branch5_kernel: int = 3):
        super().__init__()
        check_sizes("GoogLeNet", num_classes, in_channels, input_size, minimum=1)
        self.num_classes, self.in_channels, self.input_size = int(num_classes), int(in_channels), int(input_size)
        self.aux_logits, self.dropout_p, self.aux_dropout = bool(aux_logits), float(dropout), float(aux_dropout)
        self.branch5_kernel = int(branch5_kernel)
        if is_small(self.input_size):
            self.conv1 = BasicConv2d(self.in_channels, 64, 3, padding=1)
            self.maxpool1 = nn.Identity()
        else:
            self.conv1 = BasicConv2d(self.in_channels, 64, 7, stride=2, padding=3)
            self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, 1)
        self.conv3 = BasicConv2d(64, 192, 3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        for name in ("inception3a", "inception3b"):
            setattr(self, name, InceptionBlock(*_BLOCKS[name], branch5_kernel=self.branch5_kernel))
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        for name in ("inception4a", "inception4b", "inception4c", "inception4d", "inception4e"):
            setattr(self, name, InceptionBlock(*_BLOCKS[name], branch5_kernel=self.branch5_kernel))
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        for name in ("inception5a", "inception5b"):
            setattr(self, name, InceptionBlock(*_BLOCKS[name], branch5_kernel=self.branch5_kernel))
        if self.aux_logits:
            self.aux1 = InceptionAux(512, self.num_classes, self.aux_dropout)
            self.aux2 = InceptionAux(528, self.num_classes, self.aux_dropout)
        else:
            self.aux1 = self.aux2 = None
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(self.dropout_p)
        self.fc = nn.Linear(1024, self.num_classes)

    def forward(self, x: Tensor):
        x = as_images(x, self.in_channels, self.input_size, "GoogLeNet")
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        logits = self.fc(self.dropout(self.avgpool(x).flatten(1)))
        if aux1 is not None:
            return logits, aux2, aux1
        return logits

    def get_config(self) -> dict:
        return {"num_classes": self.num_classes, "in_channels": self.in_channels, "input_size": self.input_size,
                "aux_logits": self.aux_logits, "dropout": self.dropout_p, "aux_dropout": self.aux_dropout,
                "branch5_kernel": self.branch5_kernel}


def googlenet_loss(output, target, aux_weight: float = 0.3) -> Tensor:
    """Cross-entropy of GoogLeNet's output; in training with auxiliary classifiers, where the output is
    (logits, aux2, aux1), the paper's weighted sum CE(logits) + aux_weight·(CE(aux1) + CE(aux2)).

    In eval mode the model returns only the logits and this is the plain cross-entropy::

        model.train()
        loss = googlenet_loss(model(x), y)      # the auxiliary classifiers train the middle blocks too
        loss.backward()
    """
    if isinstance(output, tuple):
        logits, *aux = output
        loss = cross_entropy(logits, target)
        for a in aux:
            loss = loss + cross_entropy(a, target) * float(aux_weight)
        return loss
    return cross_entropy(output, target)


register_model("googlenet", GoogLeNet, from_cli=from_cli,
               description="GoogLeNet: nine Inception blocks (6.6M parameters at 224x224)")
