"""Image files as grey arrays for a model to predict on.

>>> img = read_image("shirt.png")          # (H, W) float32 in [0, 1]
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .files import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601 weights of R, G, B


def read_image(path: str | os.PathLike) -> np.ndarray:
    """A grey (H, W) float32 image in [0, 1]; colour images become their luma 0.299 R + 0.587 G + 0.114 B."""
    path = Path(path)
    try:
        import matplotlib.image as mpimg
    except ImportError:
        raise ImportError(f"{path}: reading images needs matplotlib, which is not installed "
                          f"(pip install 'neurona[plot]'); or pass the pixels as .npz/.csv") from None
    try:
        img = np.asarray(mpimg.imread(path))
    except Exception as e:  # unreadable or unsupported image
        raise DataError(f"{path}: cannot read the image ({type(e).__name__}: {e})") from None
    if img.dtype == np.uint8:
        img = img.astype(np.float32) / 255.0
    img = img.astype(np.float32)
    if img.ndim == 3:
        img = img[..., :3] @ _LUMA if img.shape[2] >= 3 else img[..., 0]
    return img


def border_brightness(img: np.ndarray) -> float:
    """The mean value of an image's outermost pixels (its background, for a centred object)."""
    return float(np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]]).mean())
