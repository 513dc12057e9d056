"""Evaluation metrics on NumPy arrays (``neurona.train.metrics``).

Every metric takes ``(y_true, y_pred)`` and accepts Tensors or arrays.
For classification, ``y_pred`` may be class indices (N,), scores/logits/
probabilities (N, C) — the predicted class is the arg-max, which is the
same for logits and softmax probabilities — or one probability column
(N,) / (N, 1) for a binary problem, thresholded at ``threshold``.
``y_true`` may be class indices (N,) or one-hot rows (N, C).

>>> accuracy([0, 1, 2], [[2.0, 0.1, 0.3], [0.2, 1.5, 0.0], [0.0, 3.0, 0.1]])
0.6666666666666666

Regression metrics (``mse``, ``mae``, ``r2``) compare values of any shape.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["accuracy", "top_k_accuracy", "confusion_matrix", "precision_recall_f1", "classification_report",
           "f1_score", "mse", "mae", "rmse", "r2", "get_metric", "METRICS", "greater_is_better"]


def _np(a) -> np.ndarray:
    """A host array of ``a``: a Tensor's array (copied from its device if needed), else the thing itself."""
    from ..backend import is_array, to_numpy
    from ..engine import Tensor

    data = a.array if isinstance(a, Tensor) else a
    return to_numpy(data) if is_array(data) else np.asarray(data)


def _labels(y_true) -> np.ndarray:
    y = _np(y_true)
    if y.ndim == 2 and y.shape[1] > 1:  # one-hot / probability rows
        return y.argmax(axis=1)
    y = y.reshape(-1) if y.ndim == 2 else y
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError("metrics: y_true holds non-integer values; expected class indices or one-hot rows")
        y = y.astype(np.int64)
    return y


def _predicted(y_pred, threshold: float = 0.5) -> np.ndarray:
    p = _np(y_pred)
    if p.ndim == 2 and p.shape[1] > 1:
        return p.argmax(axis=1)
    if p.ndim == 2:
        p = p[:, 0]
    if p.dtype.kind == "f":
        if p.size and np.all(p == np.round(p)) and p.max() > 1:  # class indices stored as floats
            return p.astype(np.int64)
        return (p >= threshold).astype(np.int64)  # one probability column: binary decision
    return p


def _check_len(name: str, a: np.ndarray, b: np.ndarray) -> None:
    if len(a) != len(b):
        raise ValueError(f"{name}: y_true has {len(a)} samples but y_pred has {len(b)}")


def accuracy(y_true, y_pred, threshold: float = 0.5) -> float:
    """Fraction of samples whose predicted class equals the true class, (1/N) Σ [ŷ_n = y_n]."""
    t, p = _labels(y_true), _predicted(y_pred, threshold)
    _check_len("accuracy", t, p)
    if len(t) == 0:
        return float("nan")
    return float(np.mean(t == p))


def top_k_accuracy(y_true, y_score, k: int = 5) -> float:
    """Fraction of samples whose true class is among the ``k`` highest scores of its row."""
    t, s = _labels(y_true), _np(y_score)
    if s.ndim != 2:
        raise ValueError(f"top_k_accuracy: y_score must be (N, C) scores, got shape {s.shape}")
    _check_len("top_k_accuracy", t, s)
    k = int(k)
    if not 1 <= k:
        raise ValueError(f"top_k_accuracy: k must be at least 1, got {k}")
    if k >= s.shape[1]:
        return 1.0 if len(t) else float("nan")
    # the true class is in the top k when fewer than k classes score strictly higher than it
    true_score = s[np.arange(len(t)), t]
    higher = (s > true_score[:, None]).sum(axis=1)
    return float(np.mean(higher < k)) if len(t) else float("nan")


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """(C, C) int64 counts; row = true class, column = predicted class."""
    t, p = _labels(y_true), _predicted(y_pred)
    _check_len("confusion_matrix", t, p)
    if num_classes is None:
        num_classes = int(max(t.max(initial=-1), p.max(initial=-1))) + 1
        scores = _np(y_pred)
        if scores.ndim == 2 and scores.shape[1] > 1:  # scores say how many classes there are
            num_classes = max(num_classes, scores.shape[1])
    bad = (t < 0) | (t >= num_classes) | (p < 0) | (p >= num_classes)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"confusion_matrix: sample {i} has true class {int(t[i])} and prediction {int(p[i])}, "
                         f"outside 0..{num_classes - 1}")
    return np.bincount(t * num_classes + p, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def precision_recall_f1(y_true, y_pred, num_classes: int | None = None) -> dict:
    """Per-class precision, recall, F1 and support, plus their macro averages.

    precision_c = TP_c / (TP_c + FP_c), recall_c = TP_c / (TP_c + FN_c),
    F1_c = 2·P_c·R_c / (P_c + R_c); a class never predicted (or absent) gets 0
    where the ratio is 0/0. Returns a dict of arrays ``precision``, ``recall``,
    ``f1``, ``support`` and floats ``macro_precision``, ``macro_recall``,
    ``macro_f1`` and ``accuracy``.
    """
    cm = confusion_matrix(y_true, y_pred, num_classes)
    tp = np.diag(cm).astype(np.float64)
    predicted = cm.sum(axis=0).astype(np.float64)
    support = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        denom = precision + recall
        f1 = np.where(denom > 0, 2 * precision * recall / denom, 0.0)
    total = cm.sum()
    return {
        "precision": precision, "recall": recall, "f1": f1, "support": support,
        "macro_precision": float(precision.mean()) if len(tp) else float("nan"),
        "macro_recall": float(recall.mean()) if len(tp) else float("nan"),
        "macro_f1": float(f1.mean()) if len(tp) else float("nan"),
        "accuracy": float(tp.sum() / total) if total else float("nan"),
    }


def f1_score(y_true, y_pred) -> float:
    """Macro-averaged F1 (the mean of the per-class F1 scores)."""
    return precision_recall_f1(y_true, y_pred)["macro_f1"]


def classification_report(y_true, y_pred, class_names=None, num_classes: int | None = None) -> str:
    """A text table of per-class precision, recall, F1 and support."""
    r = precision_recall_f1(y_true, y_pred, num_classes)
    n = len(r["f1"])
    names = [str(c) for c in class_names] if class_names is not None else [str(c) for c in range(n)]
    if len(names) != n:
        raise ValueError(f"classification_report: {len(names)} class names for {n} classes")
    w = max([len(s) for s in names] + [9])
    lines = [f"{'':{w}}  precision  recall     f1  support"]
    for i in range(n):
        lines.append(f"{names[i]:{w}}  {r['precision'][i]:9.3f}  {r['recall'][i]:6.3f}  {r['f1'][i]:5.3f}"
                     f"  {int(r['support'][i]):7d}")
    lines.append(f"{'macro avg':{w}}  {r['macro_precision']:9.3f}  {r['macro_recall']:6.3f}  {r['macro_f1']:5.3f}"
                 f"  {int(r['support'].sum()):7d}")
    lines.append(f"{'accuracy':{w}}  {'':9}  {'':6}  {r['accuracy']:5.3f}  {int(r['support'].sum()):7d}")
    return "\n".join(lines)


def _regression_pair(name: str, y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    t = _np(y_true).astype(np.float64)
    p = _np(y_pred).astype(np.float64)
    if t.shape != p.shape:
        if t.size == p.size:  # (N,) against (N, 1)
            t = t.reshape(p.shape)
        else:
            raise ValueError(f"{name}: y_true has shape {t.shape} but y_pred has shape {p.shape}")
    return t, p


def mse(y_true, y_pred) -> float:
    """Mean squared error, (1/N) Σ (y_n − ŷ_n)²."""
    t, p = _regression_pair("mse", y_true, y_pred)
    return float(np.mean((t - p) ** 2)) if t.size else float("nan")


def rmse(y_true, y_pred) -> float:
    """Root mean squared error, sqrt(MSE)."""
    return float(np.sqrt(mse(y_true, y_pred)))


def mae(y_true, y_pred) -> float:
    """Mean absolute error, (1/N) Σ |y_n − ŷ_n|."""
    t, p = _regression_pair("mae", y_true, y_pred)
    return float(np.mean(np.abs(t - p))) if t.size else float("nan")


def r2(y_true, y_pred) -> float:
    """Coefficient of determination, R² = 1 − Σ(y − ŷ)² / Σ(y − ȳ)² (per output column, then averaged).

    1 is a perfect fit, 0 is as good as predicting the mean; a constant
    target gives 1.0 for a perfect prediction and 0.0 otherwise.
    """
    t, p = _regression_pair("r2", y_true, y_pred)
    if t.ndim == 1:
        t, p = t[:, None], p[:, None]
    t, p = t.reshape(len(t), -1), p.reshape(len(p), -1)
    ss_res = ((t - p) ** 2).sum(axis=0)
    ss_tot = ((t - t.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        scores = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0),
                          np.where(ss_res == 0, 1.0, 0.0))
    return float(scores.mean())


def _top5(y_true, y_pred) -> float:
    return top_k_accuracy(y_true, y_pred, k=5)


def _top3(y_true, y_pred) -> float:
    return top_k_accuracy(y_true, y_pred, k=3)


METRICS: dict[str, Callable] = {
    "accuracy": accuracy, "acc": accuracy,
    "top_k_accuracy": _top5, "top5": _top5, "top_5_accuracy": _top5, "top3": _top3, "top_3_accuracy": _top3,
    "f1": f1_score, "macro_f1": f1_score,
    "mse": mse, "mae": mae, "rmse": rmse, "r2": r2,
}

# metrics whose value over a whole epoch is the size-weighted mean of their per-batch values
STREAMABLE = {accuracy, _top5, _top3, mse, mae}

_CANONICAL = {"acc": "accuracy", "top5": "top_5_accuracy", "top_k_accuracy": "top_5_accuracy",
              "top3": "top_3_accuracy", "macro_f1": "f1"}


def get_metric(spec) -> tuple[str, Callable]:
    """Resolve a metric given by name (``'accuracy'``, ``'top5'``, ``'mse'``...) or as a callable.

    Returns ``(name used in logs, function(y_true, y_pred) -> float)``.
    """
    if callable(spec):
        return getattr(spec, "__name__", "metric"), spec
    if isinstance(spec, str):
        key = spec.lower()
        if key in METRICS:
            return _CANONICAL.get(key, key), METRICS[key]
        raise ValueError(f"unknown metric {spec!r}; known metrics: {', '.join(sorted(METRICS))}, "
                         f"or pass a function f(y_true, y_pred) -> float")
    raise TypeError(f"a metric is a name or a function f(y_true, y_pred) -> float, got {type(spec).__name__}")


def greater_is_better(name: str) -> bool:
    """Whether a larger value of the monitored quantity ``name`` is an improvement.

    Losses and errors decrease, scores (accuracy, F1, R², precision, recall) increase.
    """
    n = name.lower()
    if n.startswith("val_"):
        n = n[4:]
    return any(s in n for s in ("acc", "f1", "r2", "precision", "recall", "auc")) and "loss" not in n
