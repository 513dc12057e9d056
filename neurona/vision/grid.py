"""Boxes on a grid: the targets and the decoding of a single-stage grid detector (YOLO v1 style).

The image is cut into cells of ``stride`` × ``stride`` pixels. The cell that holds a box's centre is
responsible for it and predicts, besides an objectness logit and class logits,

    tx = cx/s − (j + ½),   ty = cy/s − (i + ½),   tw = log(w/s),   th = log(h/s)

for the box of centre (cx, cy) and size (w, h) in cell (row i, column j): the centre's offset from the
cell's centre and the log of the size in cells. Decoding inverts it:
cx = (j + ½ + tx)·s, w = s·e^tw. A detector's output has 1 + 4 + C channels per cell, in this order:
objectness, (tx, ty, tw, th), C class logits.

``GridDetectionLoss`` is the YOLO-style sum over cells: binary cross-entropy of the objectness on every
cell, cross-entropy of the class and smooth-L1 of the box on the responsible cells.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .. import backend
from ..backend import get_array_module
from ..engine import Tensor, no_grad
from ..functional.loss import binary_cross_entropy_with_logits, cross_entropy, smooth_l1_loss
from ..functional.math import as_tensor
from ..nn.module import Module
from .boxes import batched_nms

__all__ = ["GridBoxCoder", "GridDetectionLoss"]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # no overflow for large |x|


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


class GridBoxCoder:
    """Encodes boxes as grid targets and decodes a grid detector's outputs into boxes (module docstring).

    >>> coder = GridBoxCoder(image_size=64, stride=8)
    >>> t = coder.encode(np.array([[10.0, 20.0, 30.0, 36.0]]), np.array([3]))
    >>> t.shape, np.round(t[:, 3, 2], 4).tolist()     # the centre (20, 28) is in row 3, column 2
    ((6, 8, 8), [1.0, 3.0, 0.0, 0.0, 0.9163, 0.6931])
    """

    def __init__(self, image_size=64, stride: int = 8):
        self.image_size = (image_size, image_size) if isinstance(image_size, (int, np.integer)) else tuple(image_size)
        self.stride = int(stride)
        h, w = self.image_size
        if h % self.stride or w % self.stride:
            raise ValueError(f"GridBoxCoder: the image size {self.image_size} must be a multiple of the stride "
                             f"{self.stride}")
        self.grid_size = (h // self.stride, w // self.stride)

    def encode(self, boxes: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Targets (6, Gh, Gw) for one image: objectness, class (−100 where no object), tx, ty, tw, th.

        When two boxes have their centres in one cell, the larger one is kept there (the other is lost to
        this detector, as in YOLO v1).
        """
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        labels = np.asarray(labels, np.int64).reshape(-1)
        gh, gw = self.grid_size
        s = float(self.stride)
        t = np.zeros((6, gh, gw))
        t[1] = -100
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        for k in np.argsort(area, kind="stable"):  # larger boxes last: they win a shared cell
            x1, y1, x2, y2 = boxes[k]
            cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
            if w <= 0 or h <= 0:
                raise ValueError(f"GridBoxCoder.encode: box {k} {boxes[k].tolist()} is empty")
            i, j = min(int(cy // s), gh - 1), min(int(cx // s), gw - 1)
            t[:, i, j] = (1.0, labels[k], cx / s - (j + 0.5), cy / s - (i + 0.5), np.log(w / s), np.log(h / s))
        return t

    def encode_batch(self, boxes: Sequence[np.ndarray], labels: Sequence[np.ndarray]) -> np.ndarray:
        """Targets (N, 6, Gh, Gw) float32 for a list of images' boxes and labels."""
        return np.stack([self.encode(b, c) for b, c in zip(boxes, labels)]).astype(np.float32)

    def decode_boxes(self, params: np.ndarray) -> np.ndarray:
        """Box parameters (N, 4, Gh, Gw) → boxes (N, Gh·Gw, 4) ``xyxy``, cells in row-major order."""
        params = np.asarray(params, np.float64)
        gh, gw = self.grid_size
        s = float(self.stride)
        i, j = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
        cx = (j + 0.5 + params[:, 0]) * s
        cy = (i + 0.5 + params[:, 1]) * s
        w, h = s * np.exp(np.minimum(params[:, 2], 10.0)), s * np.exp(np.minimum(params[:, 3], 10.0))
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)
        return boxes.reshape(len(params), gh * gw, 4)

    def decode(self, output, score_threshold: float = 0.05, iou_threshold: float = 0.5,
               max_detections: int = 100, classes_per_cell: int = 3) -> list[dict]:
        """Detections from a detector's raw output (N, 5 + C, Gh, Gw), one dict per image.

        The score of class c in a cell is σ(objectness)·softmax(class logits)_c; each cell proposes its
        ``classes_per_cell`` best classes, those above ``score_threshold`` are kept, boxes of the same
        class overlapping with IoU > ``iou_threshold`` are suppressed (``batched_nms``), and the best
        ``max_detections`` remain. Returns ``{"boxes": (k, 4) xyxy, "scores": (k,), "labels": (k,)}``.
        """
        out = backend.to_numpy(output.array if isinstance(output, Tensor) else output)  # decoded on the host
        out = out.astype(np.float64)
        gh, gw = self.grid_size
        if out.ndim != 4 or out.shape[2:] != (gh, gw) or out.shape[1] < 6:
            raise ValueError(f"GridBoxCoder.decode: expected an output (N, 5 + C, {gh}, {gw}), got {out.shape}")
        n, c = len(out), out.shape[1] - 5
        boxes = self.decode_boxes(out[:, 1:5])
        scores = (_sigmoid(out[:, :1]) * _softmax(out[:, 5:], axis=1)).reshape(n, c, gh * gw)
        top = min(classes_per_cell, c)
        result = []
        for b in range(n):
            best = np.argsort(-scores[b], axis=0, kind="stable")[:top]  # (top, cells)
            cell = np.broadcast_to(np.arange(gh * gw), best.shape)
            sc = scores[b][best, cell].ravel()
            lab, cell = best.ravel(), cell.ravel()
            keep = sc > score_threshold
            bx, sc, lab = boxes[b][cell[keep]], sc[keep], lab[keep]
            kept = batched_nms(bx, sc, lab, iou_threshold)[:max_detections]
            result.append({"boxes": bx[kept].astype(np.float32), "scores": sc[kept].astype(np.float32),
                           "labels": lab[kept].astype(np.int64)})
        return result


class GridDetectionLoss(Module):
    """YOLO-style loss of a grid detector's output (N, 5 + C, Gh, Gw) against ``GridBoxCoder`` targets (N, 6, Gh, Gw):

        L = λ_obj · Σ_cells BCE(objectness) / N  +  CE(class | object cells)  +  λ_box · smooth-L1(box | object cells)

    (the objectness term summed over the cells of an image and averaged over images; the class and box
    terms averaged over the cells that hold an object).
    """

    def __init__(self, objectness_weight: float = 1.0, box_weight: float = 2.0, class_weight=None):
        super().__init__()
        self.objectness_weight, self.box_weight = float(objectness_weight), float(box_weight)
        self.class_weight = None if class_weight is None else np.asarray(class_weight, np.float32)

    def forward(self, output: Tensor, target) -> Tensor:
        return self.parts(output, target)["loss"]

    def parts(self, output: Tensor, target) -> dict:
        """The three terms and their weighted sum, as Tensors: ``objectness``, ``class``, ``box``, ``loss``."""
        out = as_tensor(output)
        t = target.array if isinstance(target, Tensor) else np.asarray(target)
        if out.ndim != 4 or t.shape != (out.shape[0], 6) + tuple(out.shape[2:]):
            raise ValueError(f"GridDetectionLoss: expected outputs (N, 5 + C, Gh, Gw) and targets (N, 6, Gh, Gw) "
                             f"of the same N, Gh, Gw, got {tuple(out.shape)} and {t.shape}")
        n = out.shape[0]
        obj = t[:, 0].astype(out.dtype)
        positive = obj > 0
        objectness = binary_cross_entropy_with_logits(out[:, 0], obj, reduction="sum") / float(n)
        classes = t[:, 1].astype(np.int64)
        weight = None if self.class_weight is None else self.class_weight.astype(out.dtype)
        if positive.any():
            cls = cross_entropy(out[:, 5:], classes, weight)
            mask = positive[:, None].astype(out.dtype)
            box = smooth_l1_loss(out[:, 1:5] * mask, (t[:, 2:6] * mask).astype(out.dtype), reduction="sum")
            box = box / float(positive.sum() * 4)
        else:  # no object in the batch: only the objectness term
            cls = box = (out[:, 5:] * 0.0).sum()
        loss = objectness * self.objectness_weight + cls + box * self.box_weight
        return {"loss": loss, "objectness": objectness, "class": cls, "box": box}


def detect(model: Module, images, coder: GridBoxCoder, batch_size: int = 256, **decode_kwargs) -> list[dict]:
    """Run a grid detector on ``images`` (N, C, H, W) in eval mode and decode its outputs (``GridBoxCoder.decode``)."""
    images = images.array if isinstance(images, Tensor) else get_array_module(images).asarray(images)
    was_training = model.training
    model.eval()
    result = []
    try:
        with no_grad():
            for start in range(0, len(images), batch_size):
                out = model(as_tensor(images[start:start + batch_size]))
                result += coder.decode(out, **decode_kwargs)
    finally:
        model.train(was_training)
    return result
