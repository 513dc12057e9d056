"""Metrics for dense prediction and detection: IoU / mIoU from a confusion matrix, and mean average precision.

Segmentation ("clasificación píxel a píxel") is scored per class by the intersection over union of the
predicted and the true pixel sets, IoU_c = TP_c / (TP_c + FP_c + FN_c), all read off one confusion
matrix accumulated over the data set; mIoU is their mean over the classes present.

Detection is scored by average precision: detections of one class, over all images, are sorted by
decreasing score; each is a true positive if it overlaps a still-unmatched true box of its class with
IoU ≥ the threshold (0.5 for mAP@0.5). The running precision TP/(TP + FP) against recall TP/#true
boxes traces the precision–recall curve; AP is the area under its upper envelope, and mAP the mean
of AP over the classes that have true boxes. ``interpolation='coco'`` samples the envelope at the 101
recall values 0, 0.01, ..., 1 as pycocotools does (its matching, its tie-breaking, at most
``max_detections`` per image and class); ``'continuous'`` takes the exact area (VOC 2010 onward).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ..engine import Tensor

__all__ = ["confusion_matrix", "iou_from_confusion", "mean_iou", "SegmentationScores", "average_precision",
           "mean_average_precision", "MeanAveragePrecision"]


def _np(a) -> np.ndarray:
    return a.array if isinstance(a, Tensor) else np.asarray(a)


def _labels(pred, target_shape: tuple) -> np.ndarray:
    """Predicted labels: ``pred`` as given if it has the target's shape, else the argmax over its class axis (1)."""
    p = _np(pred)
    if p.shape == target_shape:
        return p.astype(np.int64, copy=False)
    if p.ndim == len(target_shape) + 1 and p.shape[:1] + p.shape[2:] == target_shape:
        return p.argmax(axis=1)
    raise ValueError(f"segmentation metrics: predictions of shape {p.shape} match neither the target's shape "
                     f"{target_shape} (labels) nor (N, C, ...) scores for it")


def confusion_matrix(pred, target, num_classes: int, ignore_index: int | None = None) -> np.ndarray:
    """(C, C) pixel counts: row = true class, column = predicted class.

    ``pred``: labels of ``target``'s shape, or scores (N, C, ...) whose argmax over axis 1 is taken.
    Pixels whose target is ``ignore_index`` are left out.

    >>> confusion_matrix(np.array([[0, 1], [1, 1]]), np.array([[0, 1], [0, 1]]), 2)
    array([[1, 1],
           [0, 2]])
    """
    t = _np(target).astype(np.int64, copy=False)
    p = _labels(pred, t.shape)
    keep = np.ones(t.shape, bool) if ignore_index is None else t != ignore_index
    t, p = t[keep], p[keep]
    bad = (t < 0) | (t >= num_classes)
    if bad.any():
        raise ValueError(f"confusion_matrix: target labels must be in [0, {num_classes}) or ignore_index "
                         f"({ignore_index}), got {np.unique(t[bad])[:5].tolist()}")
    if ((p < 0) | (p >= num_classes)).any():
        raise ValueError(f"confusion_matrix: predicted labels must be in [0, {num_classes})")
    return np.bincount(t * num_classes + p, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def iou_from_confusion(cm: np.ndarray) -> np.ndarray:
    """IoU_c = cm[c, c] / (Σ_j cm[c, j] + Σ_i cm[i, c] − cm[c, c]); NaN for a class neither true nor predicted."""
    cm = np.asarray(cm, np.float64)
    tp = np.diag(cm)
    with np.errstate(invalid="ignore", divide="ignore"):
        return tp / (cm.sum(axis=1) + cm.sum(axis=0) - tp)


def mean_iou(pred, target, num_classes: int, ignore_index: int | None = None) -> float:
    """Mean over classes of the IoU (classes absent from both prediction and truth are left out).

    >>> mean_iou(np.array([[0, 1], [1, 1]]), np.array([[0, 1], [0, 1]]), 2)   # (1/2 + 2/3) / 2
    0.5833333333333333
    """
    return float(np.nanmean(iou_from_confusion(confusion_matrix(pred, target, num_classes, ignore_index))))


class SegmentationScores:
    """Accumulates a confusion matrix over batches; ``compute()`` gives mIoU, per-class IoU and accuracies.

    >>> scores = SegmentationScores(num_classes=3)
    >>> scores.update(np.array([[0, 1, 2]]), np.array([[0, 1, 1]]))
    >>> scores.compute()["miou"]          # IoU 1, 1/2 and 0 for classes 0, 1, 2
    0.5
    """

    def __init__(self, num_classes: int, ignore_index: int | None = None):
        self.num_classes, self.ignore_index = int(num_classes), ignore_index
        self.cm = np.zeros((self.num_classes, self.num_classes), np.int64)

    def update(self, pred, target) -> None:
        self.cm += confusion_matrix(pred, target, self.num_classes, self.ignore_index)

    def reset(self) -> None:
        self.cm[...] = 0

    def compute(self) -> dict:
        iou = iou_from_confusion(self.cm)
        total = self.cm.sum()
        with np.errstate(invalid="ignore", divide="ignore"):
            per_class_acc = np.diag(self.cm) / self.cm.sum(axis=1)
        return {"miou": float(np.nanmean(iou)), "iou": iou,
                "pixel_accuracy": float(np.trace(self.cm) / total) if total else float("nan"),
                "mean_accuracy": float(np.nanmean(per_class_acc))}


# --- detection: average precision ------------------------------------------------------------------------


def _iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0.0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def _match(det: np.ndarray, gt: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Which detections (sorted by decreasing score) are true positives: each takes the unmatched true box
    it overlaps most, if that IoU is at least the threshold (pycocotools' greedy rule)."""
    tp = np.zeros(len(det), bool)
    if len(det) == 0 or len(gt) == 0:
        return tp
    ious = _iou_matrix(det, gt)
    taken = np.zeros(len(gt), bool)
    for d in range(len(det)):
        best, m = min(iou_threshold, 1 - 1e-10), -1
        for g in range(len(gt)):
            if taken[g] or ious[d, g] < best:
                continue
            best, m = ious[d, g], g
        if m >= 0:
            tp[d], taken[m] = True, True
    return tp


def average_precision(scores: np.ndarray, is_tp: np.ndarray, num_true: int, interpolation: str = "coco") -> float:
    """AP of one class from the scores of its detections over all images, which of them are true positives,
    and the number of true boxes (see the module docstring). NaN when there are no true boxes."""
    if interpolation not in ("coco", "continuous"):
        raise ValueError(f"average_precision: interpolation must be 'coco' or 'continuous', got {interpolation!r}")
    if num_true == 0:
        return float("nan")
    order = np.argsort(-np.asarray(scores, np.float64), kind="mergesort")
    tp = np.cumsum(np.asarray(is_tp, bool)[order])
    fp = np.cumsum(~np.asarray(is_tp, bool)[order])
    recall = tp / num_true
    precision = tp / (tp + fp + np.spacing(1))
    envelope = np.maximum.accumulate(precision[::-1])[::-1]  # the best precision at this recall or beyond
    if interpolation == "coco":
        at = np.searchsorted(recall, np.linspace(0.0, 1.0, 101), side="left")
        return float(np.mean(np.append(envelope, 0.0)[at]))  # recall never reached: precision 0
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float(np.sum(steps * envelope))


def _as_dicts(items, what: str, need_scores: bool) -> list[dict]:
    out = []
    for i, d in enumerate(items):
        if not isinstance(d, Mapping) or "boxes" not in d or "labels" not in d or (need_scores and "scores" not in d):
            keys = "'boxes', 'scores' and 'labels'" if need_scores else "'boxes' and 'labels'"
            raise ValueError(f"mean_average_precision: {what}[{i}] must be a dict with {keys}")
        boxes = _np(d["boxes"]).astype(np.float64).reshape(-1, 4)
        labels = _np(d["labels"]).astype(np.int64).reshape(-1)
        scores = _np(d["scores"]).astype(np.float64).reshape(-1) if need_scores else None
        if len(labels) != len(boxes) or (scores is not None and len(scores) != len(boxes)):
            raise ValueError(f"mean_average_precision: {what}[{i}] has {len(boxes)} boxes but {len(labels)} labels"
                             + (f" and {len(scores)} scores" if scores is not None else ""))
        out.append({"boxes": boxes, "labels": labels, "scores": scores})
    return out


def mean_average_precision(detections: Sequence[Mapping], targets: Sequence[Mapping], iou_threshold: float = 0.5,
                           interpolation: str = "coco", max_detections: int = 100) -> dict:
    """mAP of ``detections`` against ``targets``, one dict per image (torchmetrics' format):
    detections ``{"boxes": (k, 4) xyxy, "scores": (k,), "labels": (k,)}``, targets ``{"boxes", "labels"}``.

    Returns ``{"map": mean AP over classes with true boxes, "ap_per_class": {class: AP}}``. With the
    default 'coco' interpolation this equals pycocotools' AP at IoU ``iou_threshold`` (area 'all', at most
    ``max_detections`` detections per image and class).

    >>> det = [{"boxes": np.array([[0, 0, 10, 10]]), "scores": np.array([0.9]), "labels": np.array([1])}]
    >>> round(mean_average_precision(det, [{"boxes": np.array([[1, 1, 10, 10]]), "labels": np.array([1])}])["map"], 6)
    1.0
    """
    if len(detections) != len(targets):
        raise ValueError(f"mean_average_precision: {len(detections)} detection entries for {len(targets)} images")
    dets, gts = _as_dicts(detections, "detections", True), _as_dicts(targets, "targets", False)
    classes = np.unique(np.concatenate([g["labels"] for g in gts] + [np.zeros(0, np.int64)]))
    ap = {}
    for c in classes:
        scores, tps, num_true = [], [], 0
        for d, g in zip(dets, gts):
            gt = g["boxes"][g["labels"] == c]
            mine = d["labels"] == c
            order = np.argsort(-d["scores"][mine], kind="mergesort")[:max_detections]
            det, sc = d["boxes"][mine][order], d["scores"][mine][order]
            num_true += len(gt)
            scores.append(sc)
            tps.append(_match(det, gt, iou_threshold))
        ap[int(c)] = average_precision(np.concatenate(scores), np.concatenate(tps), num_true, interpolation)
    values = [v for v in ap.values() if not np.isnan(v)]
    return {"map": float(np.mean(values)) if values else float("nan"), "ap_per_class": ap}


class MeanAveragePrecision:
    """Collects detections and targets batch by batch; ``compute()`` is :func:`mean_average_precision`."""

    def __init__(self, iou_threshold: float = 0.5, interpolation: str = "coco", max_detections: int = 100):
        self.iou_threshold, self.interpolation, self.max_detections = iou_threshold, interpolation, max_detections
        self.detections: list = []
        self.targets: list = []

    def update(self, detections: Sequence[Mapping], targets: Sequence[Mapping]) -> None:
        if len(detections) != len(targets):
            raise ValueError(f"MeanAveragePrecision.update: {len(detections)} detection entries for "
                             f"{len(targets)} images")
        self.detections += list(detections)
        self.targets += list(targets)

    def reset(self) -> None:
        self.detections, self.targets = [], []

    def compute(self) -> dict:
        return mean_average_precision(self.detections, self.targets, self.iou_threshold, self.interpolation,
                                      self.max_detections)
