"""Bounding boxes: formats, areas, overlaps and non-maximum suppression (torchvision's ``ops`` semantics).

Object detection ("localizar e identificar objetos" in the notes) outputs, for each object, the
coordinates of a box and a class. Boxes are rows of four numbers; three formats are in use:

- ``xyxy``: (x1, y1, x2, y2), the top-left and bottom-right corners (the format every function here takes);
- ``xywh``: (x1, y1, w, h), the top-left corner and the size (COCO's annotation format);
- ``cxcywh``: (cx, cy, w, h), the centre and the size (what grid detectors predict).

Float arrays keep their dtype (integer coordinates become the default float dtype). A box covering
pixel columns 3..9 has x1 = 3 and x2 = 10: coordinates are continuous and the width is
x2 − x1, with no "+1" (as in torchvision and pycocotools).

The overlap of two boxes is their intersection over union,
IoU(A, B) = |A ∩ B| / (|A| + |B| − |A ∩ B|) ∈ [0, 1].
``box_area``, ``box_iou``, ``generalized_box_iou`` and ``box_convert`` are built from differentiable ops:
on Tensors they record a graph (a box-regression loss can use them); on NumPy arrays they return arrays.
``nms`` and ``batched_nms`` return indices and are not differentiable.
"""
from __future__ import annotations

import numpy as np

from ..backend import get_default_dtype
from ..creation import from_numpy
from ..engine import Tensor
from ..functional.math import clamp, maximum, minimum
from ..functional.shape import stack

__all__ = ["box_area", "box_iou", "generalized_box_iou", "box_convert", "clip_boxes_to_image", "remove_small_boxes",
           "nms", "batched_nms", "BOX_FORMATS"]

BOX_FORMATS = ("xyxy", "xywh", "cxcywh")


def _boxes(b, op: str, name: str = "boxes") -> tuple[Tensor, bool]:
    """``b`` as a float Tensor of shape (N, 4), and whether the caller gave a Tensor (to answer in kind)."""
    given_tensor = isinstance(b, Tensor)
    if given_tensor:
        t = b
    else:  # float arrays keep their dtype; integer coordinates become the default float dtype
        a = np.asarray(b)
        t = from_numpy(a if a.dtype.kind == "f" else a.astype(get_default_dtype()))
    if t.ndim != 2 or t.shape[1] != 4:
        raise ValueError(f"{op}: {name} must have shape (N, 4), got {tuple(t.shape)}")
    if t.dtype.kind != "f":
        raise TypeError(f"{op}: {name} must be floating point, got {t.dtype}")
    return t, given_tensor


def _answer(t: Tensor, as_tensor_: bool):
    return t if as_tensor_ else t.array


def _area(t: Tensor) -> Tensor:
    return (t[:, 2] - t[:, 0]) * (t[:, 3] - t[:, 1])


def box_area(boxes):
    """Areas (x2 − x1)·(y2 − y1) of (N, 4) ``xyxy`` boxes.

    >>> box_area(np.array([[0.0, 0.0, 4.0, 3.0]]))
    array([12.])
    """
    t, kind = _boxes(boxes, "box_area")
    return _answer(_area(t), kind)


def _inter_union(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    lt = maximum(a[:, None, :2], b[None, :, :2])  # (N, M, 2): the intersection's top-left corner
    rb = minimum(a[:, None, 2:], b[None, :, 2:])
    wh = clamp(rb - lt, min=0.0)  # no overlap: width or height 0
    inter = wh[:, :, 0] * wh[:, :, 1]
    union = _area(a)[:, None] + _area(b)[None, :] - inter
    return inter, union


def box_iou(boxes1, boxes2):
    """Pairwise intersection over union of (N, 4) and (M, 4) ``xyxy`` boxes: an (N, M) matrix.

    IoU = |A ∩ B| / (|A| + |B| − |A ∩ B|); two boxes of zero area give NaN (0/0), as torchvision.

    >>> box_iou(np.array([[0.0, 0.0, 2.0, 2.0]]), np.array([[1.0, 0.0, 3.0, 2.0], [5.0, 5.0, 6.0, 6.0]]))
    array([[0.33333333, 0.        ]])
    """
    a, kind = _boxes(boxes1, "box_iou", "boxes1")
    b, _ = _boxes(boxes2, "box_iou", "boxes2")
    with np.errstate(invalid="ignore", divide="ignore"):
        inter, union = _inter_union(a, b)
        return _answer(inter / union, kind)


def generalized_box_iou(boxes1, boxes2):
    """Pairwise generalized IoU (Rezatofighi et al., 2019) of ``xyxy`` boxes: IoU − |C ∖ (A ∪ B)| / |C|, where C
    is the smallest box enclosing A and B. In [−1, 1]; unlike IoU it still says how far apart two disjoint
    boxes are, so ``1 − GIoU`` is a usable box-regression loss."""
    a, kind = _boxes(boxes1, "generalized_box_iou", "boxes1")
    b, _ = _boxes(boxes2, "generalized_box_iou", "boxes2")
    with np.errstate(invalid="ignore", divide="ignore"):
        inter, union = _inter_union(a, b)
        iou = inter / union
        lt = minimum(a[:, None, :2], b[None, :, :2])
        rb = maximum(a[:, None, 2:], b[None, :, 2:])
        wh = clamp(rb - lt, min=0.0)
        hull = wh[:, :, 0] * wh[:, :, 1]
        return _answer(iou - (hull - union) / hull, kind)


def box_convert(boxes, in_fmt: str, out_fmt: str):
    """Convert (N, 4) boxes between 'xyxy', 'xywh' and 'cxcywh' (see the module docstring).

    >>> box_convert(np.array([[10.0, 20.0, 30.0, 60.0]]), "xyxy", "cxcywh")
    array([[20., 40., 20., 40.]])
    """
    for f, name in ((in_fmt, "in_fmt"), (out_fmt, "out_fmt")):
        if f not in BOX_FORMATS:
            raise ValueError(f"box_convert: {name} must be one of {BOX_FORMATS}, got {f!r}")
    t, kind = _boxes(boxes, "box_convert")
    if in_fmt == out_fmt:
        return boxes
    c0, c1, c2, c3 = t[:, 0], t[:, 1], t[:, 2], t[:, 3]
    if in_fmt == "xywh":  # to xyxy
        c2, c3 = c0 + c2, c1 + c3
    elif in_fmt == "cxcywh":
        c0, c1, c2, c3 = c0 - 0.5 * c2, c1 - 0.5 * c3, c0 + 0.5 * c2, c1 + 0.5 * c3
    if out_fmt == "xywh":  # from xyxy
        c2, c3 = c2 - c0, c3 - c1
    elif out_fmt == "cxcywh":
        c0, c1, c2, c3 = 0.5 * (c0 + c2), 0.5 * (c1 + c3), c2 - c0, c3 - c1
    return _answer(stack([c0, c1, c2, c3], axis=1), kind)


def clip_boxes_to_image(boxes, size: tuple):
    """Clip ``xyxy`` boxes to an image of ``size`` = (height, width): x in [0, width], y in [0, height]."""
    t, kind = _boxes(boxes, "clip_boxes_to_image")
    h, w = size
    x = clamp(stack([t[:, 0], t[:, 2]], axis=1), min=0.0, max=float(w))
    y = clamp(stack([t[:, 1], t[:, 3]], axis=1), min=0.0, max=float(h))
    return _answer(stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]], axis=1), kind)


def _numpy_boxes(boxes, scores, op: str) -> tuple[np.ndarray, np.ndarray]:
    b = boxes.array if isinstance(boxes, Tensor) else np.asarray(boxes)
    s = scores.array if isinstance(scores, Tensor) else np.asarray(scores)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"{op}: boxes must have shape (N, 4), got {b.shape}")
    if s.shape != (b.shape[0],):
        raise ValueError(f"{op}: scores must have shape ({b.shape[0]},) (one per box), got {s.shape}")
    return b, s


def remove_small_boxes(boxes, min_size: float) -> np.ndarray:
    """Indices of the ``xyxy`` boxes whose width and height are both at least ``min_size``."""
    b = boxes.array if isinstance(boxes, Tensor) else np.asarray(boxes)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"remove_small_boxes: boxes must have shape (N, 4), got {b.shape}")
    return np.flatnonzero(((b[:, 2] - b[:, 0]) >= min_size) & ((b[:, 3] - b[:, 1]) >= min_size))


def _descending(scores: np.ndarray) -> np.ndarray:
    """Indices by decreasing score; equal scores keep their input order (a stable sort)."""
    return np.argsort(-scores, kind="stable")


def nms(boxes, scores, iou_threshold: float) -> np.ndarray:
    """Non-maximum suppression: indices of the boxes kept, by decreasing score (torchvision's ``nms``).

    Greedy: take the highest-scoring box left, keep it, and drop every remaining box whose IoU with it
    is *greater* than ``iou_threshold``; repeat. Boxes are ``xyxy``.

    >>> b = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], dtype=np.float32)
    >>> nms(b, np.array([0.9, 0.8, 0.7]), 0.5)
    array([0, 2])
    """
    b, s = _numpy_boxes(boxes, scores, "nms")
    order = _descending(s)
    b = b[order].astype(np.float64)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    alive = np.ones(len(b), bool)
    keep = []
    for i in range(len(b)):
        if not alive[i]:
            continue
        keep.append(order[i])
        rest = np.arange(i + 1, len(b))[alive[i + 1:]]
        w = np.maximum(0.0, np.minimum(b[i, 2], b[rest, 2]) - np.maximum(b[i, 0], b[rest, 0]))
        h = np.maximum(0.0, np.minimum(b[i, 3], b[rest, 3]) - np.maximum(b[i, 1], b[rest, 1]))
        inter = w * h
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = inter / (area[i] + area[rest] - inter)
        alive[rest[iou > iou_threshold]] = False  # NaN (two empty boxes) suppresses nothing
    return np.asarray(keep, dtype=np.int64)


def batched_nms(boxes, scores, idxs, iou_threshold: float) -> np.ndarray:
    """NMS within each category: boxes of different ``idxs`` (e.g. classes) never suppress each other.

    Returns the indices kept, by decreasing score (torchvision's ``batched_nms``).
    """
    b, s = _numpy_boxes(boxes, scores, "batched_nms")
    c = idxs.array if isinstance(idxs, Tensor) else np.asarray(idxs)
    if c.shape != s.shape:
        raise ValueError(f"batched_nms: idxs must have shape {s.shape} (one per box), got {c.shape}")
    keep = [np.flatnonzero(c == k)[nms(b[c == k], s[c == k], iou_threshold)] for k in np.unique(c)]
    keep = np.sort(np.concatenate(keep)) if keep else np.zeros(0, np.int64)
    return keep[_descending(s[keep])]  # equal scores: lower index first, as one NMS over all boxes would
