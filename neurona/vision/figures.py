"""Figures of the vision tasks: segmentations, detections, reconstructions, samples and a latent map.

matplotlib is optional (``pip install 'neurona[plot]'``): every function raises ``neurona.plot.PlotUnavailable``
without it. Each returns the matplotlib Figure and, given ``path``, writes it (PNG) atomically.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..data.fashion import CLASSES
from ..plot import _figure, save_figure

__all__ = ["CLASS_COLOURS", "SHORT_NAMES", "segmentation_figure", "detection_figure", "image_rows_figure",
           "image_grid_figure", "latent_map_figure", "tile"]

#: one colour per Fashion-MNIST class (segmentation maps add black for the background)
CLASS_COLOURS = ["#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6", "#bcf60c",
                 "#fabebe"]
SHORT_NAMES = ["T-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"]


def tile(images: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """(rows·cols, 1, h, w) images tiled into one (rows·h, cols·w) array, row by row."""
    images = np.asarray(images)[:rows * cols, 0]
    if len(images) < rows * cols:
        images = np.concatenate([images, np.zeros((rows * cols - len(images),) + images.shape[1:], images.dtype)])
    h, w = images.shape[1:]
    return images.reshape(rows, cols, h, w).transpose(0, 2, 1, 3).reshape(rows * h, cols * w)


def _bare(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def segmentation_figure(images: np.ndarray, truth: np.ndarray, pred: np.ndarray, path=None, n: int = 8,
                        class_names: Sequence[str] = ("background",) + CLASSES):
    """Rows of inputs (N, 1, H, W), true label maps and predicted label maps (N, H, W), with a legend."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    colours = ["#000000"] + CLASS_COLOURS
    cmap = ListedColormap(colours[:len(class_names)])
    n = min(n, len(images))
    fig = _figure(figsize=(1.6 * n, 5.6))
    axes = fig.subplots(3, n, squeeze=False)
    for j in range(n):
        axes[0, j].imshow(images[j, 0], cmap="gray", vmin=0, vmax=1)
        axes[1, j].imshow(truth[j], cmap=cmap, vmin=0, vmax=len(class_names) - 1, interpolation="nearest")
        axes[2, j].imshow(pred[j], cmap=cmap, vmin=0, vmax=len(class_names) - 1, interpolation="nearest")
    for ax in axes.ravel():
        _bare(ax)
    for i, name in enumerate(("input", "truth", "prediction")):
        axes[i, 0].set_ylabel(name)
    fig.legend(handles=[Patch(color=c, label=s) for c, s in zip(colours, class_names)], loc="lower center",
               ncol=6, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    if path is not None:
        save_figure(fig, path)
    return fig


def detection_figure(images: np.ndarray, detections: Sequence[dict], targets: Sequence[dict] | None = None, path=None,
                     n: int = 8, min_score: float = 0.3, names: Sequence[str] = SHORT_NAMES):
    """Images with their detected boxes (class and score) above ``min_score``; true boxes dotted if given."""
    from matplotlib.patches import Rectangle

    n = min(n, len(images))
    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    fig = _figure(figsize=(3.0 * cols, 3.0 * rows + 0.3))
    axes = np.asarray(fig.subplots(rows, cols, squeeze=False)).ravel()
    for k in range(n):
        ax = axes[k]
        ax.imshow(images[k, 0], cmap="gray", vmin=0, vmax=1)
        if targets is not None:
            for (x1, y1, x2, y2) in targets[k]["boxes"]:
                ax.add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, ec="white", ls=":", lw=1))
        d = detections[k]
        for (x1, y1, x2, y2), s, c in zip(d["boxes"], d["scores"], d["labels"]):
            if s < min_score:
                continue
            colour = CLASS_COLOURS[int(c) % len(CLASS_COLOURS)]
            ax.add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, ec=colour, lw=1.5))
            ax.text(x1, y1 - 1, f"{names[int(c)]} {s:.2f}", color=colour, fontsize=7, va="bottom")
        _bare(ax)
    for ax in axes[n:]:
        ax.axis("off")
    fig.suptitle(f"detections scoring ≥ {min_score}" + (" (true boxes dotted)" if targets is not None else ""),
                 fontsize=9)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig


def image_rows_figure(rows: Sequence[np.ndarray], titles: Sequence[str], path=None, n: int = 12,
                      value_range: tuple = (0.0, 1.0)):
    """One strip of ``n`` images (N, 1, h, w) per entry of ``rows``, each with its title (e.g. originals and
    their reconstructions)."""
    fig = _figure(figsize=(n * 0.9, 1.1 * len(rows)))
    axes = np.asarray(fig.subplots(len(rows), 1, squeeze=False)).ravel()
    for ax, imgs, title in zip(axes, rows, titles):
        ax.imshow(tile(imgs[:n], 1, n), cmap="gray", vmin=value_range[0], vmax=value_range[1])
        ax.set_title(title, fontsize=9, loc="left")
        ax.axis("off")
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig


def image_grid_figure(images: np.ndarray, rows: int, cols: int, title: str = "", path=None,
                      value_range: tuple = (0.0, 1.0)):
    """``rows`` × ``cols`` images (N, 1, h, w) in one grid (e.g. generated samples)."""
    fig = _figure(figsize=(0.55 * cols + 0.4, 0.55 * rows + 0.5))
    ax = fig.subplots()
    ax.imshow(tile(images, rows, cols), cmap="gray", vmin=value_range[0], vmax=value_range[1])
    if title:
        ax.set_title(title, fontsize=9)
    ax.axis("off")
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig


def latent_map_figure(codes: np.ndarray, labels: np.ndarray, decoded: np.ndarray, extent: tuple = (-3.0, 3.0),
                      path=None, class_names: Sequence[str] = CLASSES):
    """A 2-D latent space: the codes (N, 2) of labelled images as dots coloured by class, beside the images
    ``decoded`` (k², 1, h, w) on a k × k grid of codes spanning ``extent`` (rows from the top: decreasing
    second coordinate)."""
    fig = _figure(figsize=(12, 5.6))
    a1, a2 = fig.subplots(1, 2)
    sc = a1.scatter(codes[:, 0], codes[:, 1], c=labels, cmap="tab10", s=2, alpha=0.6, vmin=-0.5,
                    vmax=len(class_names) - 0.5)
    a1.set_xlim(*extent)
    a1.set_ylim(*extent)
    a1.set_title("codes μ(x) of the test images, by class", fontsize=9)
    cb = fig.colorbar(sc, ax=a1, ticks=range(len(class_names)))
    cb.ax.set_yticklabels(class_names, fontsize=7)
    k = int(round(np.sqrt(len(decoded))))
    a2.imshow(tile(decoded, k, k), cmap="gray", vmin=0, vmax=1, extent=(extent[0], extent[1], extent[0], extent[1]))
    a2.set_title("images decoded on a grid of codes", fontsize=9)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig
