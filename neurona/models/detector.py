"""A single-stage grid detector (YOLO v1 style): one CNN pass gives every cell's objectness, box and class.

Detection in the notes is "localizar e identificar objetos": coordinates and a class for each object.
A single-stage detector does both at once. A convolutional backbone reduces the image by 8 (three max
poolings), so each position of its last feature map sees one 8 × 8 cell of the image (and, through its
receptive field, the neighbourhood around it); a 1×1 convolution then predicts, per cell, 1 + 4 + C
numbers: the objectness logit, the box parameters (tx, ty, tw, th) and C class logits (the encoding
is ``vision.GridBoxCoder``'s). Training uses ``vision.GridDetectionLoss``; ``detect`` decodes the
output, keeps the confident boxes and removes duplicates with non-maximum suppression.
"""
from __future__ import annotations

import math

from .. import nn
from ..engine import Tensor
from ..vision.grid import GridBoxCoder, detect
from .registry import register_model

__all__ = ["GridDetector"]


def _conv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels),
                         nn.ReLU())


class GridDetector(nn.Module):
    """Backbone of conv-BN-ReLU layers with ``width``·(1, 2, 4, 8) channels and 3 poolings, a 3×3 conv-BN-ReLU
    and a 1×1 convolution to 5 + ``num_classes`` channels per cell of ``stride`` 8.

    The objectness bias starts at log(p/(1 − p)) with p = ``prior``, the expected share of cells holding
    an object, so training does not begin by pushing every empty cell down.

    >>> import neurona
    >>> model = GridDetector(num_classes=10, width=8)
    >>> model(neurona.randn(2, 1, 64, 64)).shape
    neurona.Size([2, 15, 8, 8])
    """

    stride = 8

    def __init__(self, num_classes: int = 10, in_channels: int = 1, image_size: int = 64, width: int = 16,
                 prior: float = 0.04):
        super().__init__()
        for name, v in (("num_classes", num_classes), ("in_channels", in_channels), ("width", width)):
            if int(v) < 1:
                raise ValueError(f"GridDetector: {name} must be a positive int, got {v}")
        if int(image_size) % self.stride:
            raise ValueError(f"GridDetector: image_size must be a multiple of {self.stride}, got {image_size}")
        if not 0 < prior < 1:
            raise ValueError(f"GridDetector: prior must be in (0, 1), got {prior}")
        self.num_classes, self.in_channels, self.image_size = int(num_classes), int(in_channels), int(image_size)
        self.width, self.prior = int(width), float(prior)
        w = self.width
        self.backbone = nn.Sequential(
            _conv_bn_relu(self.in_channels, w), nn.MaxPool2d(2),
            _conv_bn_relu(w, 2 * w), _conv_bn_relu(2 * w, 2 * w), nn.MaxPool2d(2),
            _conv_bn_relu(2 * w, 4 * w), _conv_bn_relu(4 * w, 4 * w), nn.MaxPool2d(2),
            _conv_bn_relu(4 * w, 8 * w), _conv_bn_relu(8 * w, 8 * w),
        )
        self.head = nn.Sequential(_conv_bn_relu(8 * w, 8 * w), nn.Conv2d(8 * w, 5 + self.num_classes, 1))
        self.coder = GridBoxCoder(self.image_size, self.stride)
        self.head[1].bias.array[0] = math.log(self.prior / (1 - self.prior))

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels or tuple(x.shape[2:]) != (self.image_size,) * 2:
            raise ValueError(f"GridDetector: expected input (N, {self.in_channels}, {self.image_size}, "
                             f"{self.image_size}), got shape {tuple(x.shape)}")
        return self.head(self.backbone(x))

    def detect(self, images, score_threshold: float = 0.05, iou_threshold: float = 0.5, max_detections: int = 100,
               batch_size: int = 256) -> list[dict]:
        """Boxes, scores and labels for each image (eval mode, no graph); see ``GridBoxCoder.decode``."""
        return detect(self, images, self.coder, batch_size=batch_size, score_threshold=score_threshold,
                      iou_threshold=iou_threshold, max_detections=max_detections)

    def get_config(self) -> dict:
        return {"num_classes": self.num_classes, "in_channels": self.in_channels, "image_size": self.image_size,
                "width": self.width, "prior": self.prior}


register_model("grid-detector", GridDetector,
               description="single-stage grid detector (YOLO v1 style): objectness, box and class per 8x8 cell")
