"""Plots of training: learning curves, confusion matrices, the lr range test, decision regions.

matplotlib is an optional extra (``pip install 'neurona[plot]'``). Every
function here raises :class:`PlotUnavailable` (an ImportError with the fix)
when it is missing; ``available()`` says whether it is there. Figures are
built with matplotlib's object API (no global pyplot state, no display
needed) and returned; with ``path`` they are also written to a PNG (or
.pdf/.svg), atomically.

>>> from neurona import plot
>>> plot.learning_curves(history, "curves.png")
>>> plot.confusion_matrix(cm, class_names, "confusion.png")
"""
from __future__ import annotations

import os
from typing import Callable, Mapping, Sequence

import numpy as np

__all__ = ["available", "PlotUnavailable", "learning_curves", "compare_curves", "confusion_matrix", "lr_find_curve",
           "decision_boundary", "save_figure", "attention_heatmap",
           "attention_heatmaps"]


class PlotUnavailable(ImportError):
    """matplotlib is not installed."""


def available() -> bool:
    """Whether matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(*args, **kwargs):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotUnavailable("plotting needs matplotlib, which is not installed; install it with "
                              "pip install 'neurona[plot]' (or pip install matplotlib)") from None
    return Figure(*args, **kwargs)


def save_figure(fig, path) -> str:
    """Write ``fig`` to ``path`` (format from the extension, PNG by default) without a half-written file."""
    from .io import atomic_write

    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lstrip(".").lower() or "png"
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format=ext, dpi=110, bbox_inches="tight")
    return path


def _series(history) -> dict[str, list]:
    if hasattr(history, "history") and isinstance(history.history, dict):
        return history.history
    if isinstance(history, Mapping):
        return dict(history)
    raise TypeError(f"expected a History or a dict of name -> per-epoch values, got {type(history).__name__}")


def _metric_names(series: Mapping, metrics) -> list[str]:
    if metrics is not None:
        names = [metrics] if isinstance(metrics, str) else list(metrics)
    else:
        names = ["loss"] + [k for k in series if not k.startswith("val_") and k not in
                            ("loss", "lr", "time", "penalty", "epoch")][:1]
    missing = [n for n in names if n not in series and "val_" + n not in series]
    if missing:
        raise KeyError(f"learning_curves: nothing logged for {', '.join(missing)}; logged: {', '.join(series)}")
    return names


def learning_curves(history, path=None, metrics: Sequence[str] | str | None = None, title: str | None = None,
                    best_epoch: int | None = None, best_label: str | None = None):
    """Training and validation curves per epoch: one panel per quantity (loss, then accuracy by default).

    ``best_epoch`` (counted from 1), e.g. the epoch whose weights early
    stopping kept, is marked on every panel and named in the legend
    (``best_label``, default "best epoch"); without it each panel marks the
    best epoch of its own validation curve.
    """
    s = _series(history)
    names = _metric_names(s, metrics)
    fig = _figure(figsize=(5.2 * len(names), 3.8))
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names):
        for key, label, style in ((name, "train", "-"), ("val_" + name, "validation", "--")):
            if key in s:
                y = np.asarray(s[key], dtype=float)
                ax.plot(np.arange(1, len(y) + 1), y, style, marker="o", markersize=3, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        _integer_epochs(ax, _longest(s, (name, "val_" + name)))
        if best_epoch is not None:
            ax.axvline(best_epoch, color="grey", alpha=0.6, linestyle=":",
                       label=f"{best_label or 'best epoch'} (epoch {best_epoch})")
        else:
            _best_marker(ax, s, name)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    if path is not None:
        save_figure(fig, path)
    return fig


def _integer_epochs(ax, n_epochs: int | None = None) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    if n_epochs:  # half an epoch of margin: a one-epoch run gets the tick "1", not 0.95 ... 1.05
        ax.set_xlim(0.5, n_epochs + 0.5)


def _longest(series: Mapping, names) -> int:
    return max((len(series[k]) for k in names if k in series), default=0)


def _best_marker(ax, s: Mapping, name: str) -> None:
    key = "val_" + name if "val_" + name in s else None
    if key is None:
        return
    from .train.metrics import greater_is_better

    y = np.asarray(s[key], dtype=float)
    if not np.isfinite(y).any():
        return
    i = int(np.nanargmax(y) if greater_is_better(name) else np.nanargmin(y))
    ax.axvline(i + 1, color="grey", alpha=0.4, linestyle=":", label=f"best {key} (epoch {i + 1})")


def compare_curves(histories: Mapping[str, object], path=None, metrics: Sequence[str] = ("loss", "val_loss",
                                                                                             "val_accuracy"),
                   title: str | None = None):
    """Several runs on one figure (as the notes compare optimizers): one panel per quantity, one line per run."""
    names = [m for m in metrics if any(m in _series(h) for h in histories.values())]
    if not names:
        raise KeyError(f"compare_curves: none of {list(metrics)} was logged by the runs")
    fig = _figure(figsize=(5.2 * len(names), 3.8))
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names):
        for label, h in histories.items():
            s = _series(h)
            if name in s:
                y = np.asarray(s[name], dtype=float)
                ax.plot(np.arange(1, len(y) + 1), y, marker="o", markersize=2.5, label=str(label))
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        _integer_epochs(ax, max((len(_series(h).get(name, ())) for h in histories.values()), default=0))
        if "loss" in name:  # keep a diverging run from flattening the others
            vals = np.concatenate([np.asarray(_series(h)[name], float) for h in histories.values()
                                   if name in _series(h)])
            vals = vals[np.isfinite(vals)]
            if vals.size:
                top = min(vals.max(), 5 * float(np.median(vals)))
                low = vals.min()
                if top > low:
                    pad = 0.05 * (top - low)
                    ax.set_ylim(low - pad, top + pad)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    if path is not None:
        save_figure(fig, path)
    return fig


def confusion_matrix(cm, class_names: Sequence[str] | None = None, path=None, normalize: bool = True,
                     title: str | None = None):
    """A confusion matrix as a heat map (rows: true class, columns: predicted), row-normalized by default."""
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"confusion_matrix: expected a square matrix, got shape {cm.shape}")
    n = cm.shape[0]
    names = [str(c) for c in class_names] if class_names is not None else [str(i) for i in range(n)]
    if len(names) != n:
        raise ValueError(f"confusion_matrix: {len(names)} class names for {n} classes")
    with np.errstate(invalid="ignore", divide="ignore"):
        shown = cm / cm.sum(axis=1, keepdims=True) if normalize else cm.astype(float)
    shown = np.nan_to_num(shown)
    size = max(4.0, 0.55 * n + 2)
    fig = _figure(figsize=(size + 1, size))
    ax = fig.subplots()
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    bar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label("fraction of the true class" if normalize else "samples")
    ax.set_xticks(range(n), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if n <= 20:
        hi = shown.max() if shown.size else 1
        for i in range(n):
            for j in range(n):
                text = f"{shown[i, j]:.2f}" if normalize else str(int(cm[i, j]))
                ax.text(j, i, text, ha="center", va="center", fontsize=7,
                        color="white" if shown[i, j] > 0.6 * hi else "black")
    ax.set_title(title or ("confusion matrix (row-normalized)" if normalize else "confusion matrix"))
    if path is not None:
        save_figure(fig, path)
    return fig


def lr_find_curve(lrs, losses, suggestion: float | None = None, path=None, ax=None):
    """Smoothed loss against learning rate on a log axis, the suggested rate marked."""
    lrs, losses = np.asarray(lrs, float), np.asarray(losses, float)
    if ax is None:
        fig = _figure(figsize=(6, 4))
        ax = fig.subplots()
    else:
        fig = ax.figure
    ax.plot(lrs, losses)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss (smoothed)")
    ax.grid(alpha=0.3, which="both")
    finite = losses[np.isfinite(losses)]
    if finite.size:
        ax.set_ylim(finite.min() - 0.05 * abs(finite.min()), min(finite.max(), finite[0] * 2 + 1e-12) * 1.05 + 1e-12)
    if suggestion is not None:
        ax.axvline(suggestion, color="red", linestyle="--", label=f"suggested lr {suggestion:.2g}")
        ax.legend()
    ax.set_title("learning-rate range test")
    if path is not None:
        save_figure(fig, path)
    return fig


def decision_boundary(predict: Callable[[np.ndarray], np.ndarray], X, y, path=None, resolution: int = 200,
                      title: str | None = None, margin: float = 0.5, class_names: Sequence[str] | None = None):
    """Decision regions of a 2-D classifier, with the data points on top (the notes' playground view).

    The legend names each class's colour (``class_names``, default "class 0", "class 1", ...).

    ``predict`` maps an (M, 2) array of points to (M, C) scores or (M,)
    classes, e.g. ``lambda P: neurona.train.predict(model, P)``.
    """
    X, y = np.asarray(X, dtype=float), np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"decision_boundary: needs 2-D inputs (N, 2), got shape {X.shape}")
    x0, x1 = X[:, 0].min() - margin, X[:, 0].max() + margin
    y0, y1 = X[:, 1].min() - margin, X[:, 1].max() + margin
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    grid = np.column_stack([gx.ravel(), gy.ravel()]).astype(np.float32)
    scores = np.asarray(predict(grid))
    if scores.ndim == 2 and scores.shape[1] > 1:
        classes = scores.argmax(axis=1)
    else:
        s = scores.reshape(-1)
        classes = (s >= 0.5).astype(int) if s.dtype.kind == "f" else s
    classes = classes.reshape(gx.shape)
    n_classes = int(max(classes.max(), y.max()) + 1)
    fig = _figure(figsize=(5.5, 5))
    ax = fig.subplots()
    cmap = "tab10" if n_classes <= 10 else "tab20"
    ax.contourf(gx, gy, classes, levels=np.arange(n_classes + 1) - 0.5, cmap=cmap, alpha=0.3,
                vmin=-0.5, vmax=(10 if n_classes <= 10 else 20) - 0.5)
    points = ax.scatter(X[:, 0], X[:, 1], c=y, cmap=cmap, vmin=-0.5, vmax=(10 if n_classes <= 10 else 20) - 0.5,
                        s=12, edgecolors="k", linewidths=0.3)
    names = list(class_names) if class_names is not None else [f"class {k}" for k in range(n_classes)]
    handles, _ = points.legend_elements(num=list(range(n_classes)))
    ax.legend(handles, names[:len(handles)], title="points and regions", fontsize=8, loc="best")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    if title:
        ax.set_title(title)
    if path is not None:
        save_figure(fig, path)
    return fig


def attention_heatmap(weights, source: Sequence[str], target: Sequence[str], path=None, title: str | None = None,
                      ax=None):
    """Attention weights (target steps × source tokens) as a heat map: row t shows where output token t looked.

    ``weights`` (T, S); ``source`` the S source tokens (columns), ``target`` the T output tokens (rows).
    Several alignments side by side: pass ``ax`` (a matplotlib Axes) for each.
    """
    w = np.asarray(weights, dtype=float)
    if w.ndim != 2 or w.shape != (len(target), len(source)):
        raise ValueError(f"attention_heatmap: weights of shape {w.shape} do not match {len(target)} target and "
                         f"{len(source)} source tokens")
    fig = None
    if ax is None:
        fig = _figure(figsize=(0.55 * len(source) + 2.5, 0.45 * len(target) + 1.8))
        ax = fig.subplots()
    ax.imshow(w, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(source)), list(source), rotation=50, ha="right", fontsize=8)
    ax.set_yticks(range(len(target)), list(target), fontsize=8)
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    if title:
        ax.set_title(title, fontsize=9)
    if fig is not None and path is not None:
        save_figure(fig, path)
    return fig if fig is not None else ax.figure


def attention_heatmaps(panels: Sequence[tuple], path=None):
    """Several :func:`attention_heatmap` side by side: ``panels`` holds (weights, source, target, title) tuples."""
    if not panels:
        raise ValueError("attention_heatmaps: no panels to draw")
    width = sum(0.5 * len(p[1]) + 2.5 for p in panels)
    height = max(0.42 * len(p[2]) + 1.9 for p in panels)
    fig = _figure(figsize=(width, height))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (w, source, target, title) in zip(axes, panels):
        attention_heatmap(w, source, target, title=title, ax=ax)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig
