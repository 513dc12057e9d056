"""Image files as grey arrays for a model to predict on (needs Pillow: ``pip install 'neurona[images]'``).

>>> image_size("shirt.png")               # (width, height), from the header alone
>>> img = read_image("shirt.png")          # (H, W) float32 in [0, 1]

PNG, JPEG, BMP, GIF and TIFF files of at most 64 MiB are read; the size in
the header is checked against ``max_pixels`` (16 Mi pixels by default)
before any pixel is decoded, so a small file declaring a huge image (a
decompression bomb) is refused at once; a FIFO or a device is refused
without blocking.
"""
from __future__ import annotations

import io
import os
import re
import warnings
from pathlib import Path

import numpy as np

from .._bounded import open_regular
from .files import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")
FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF")  # Pillow's decoders that may run; never EPS (Ghostscript) and co.
MAX_IMAGE_PIXELS = 16 * 1024 ** 2
MAX_IMAGE_FILE_BYTES = 64 * 1024 ** 2
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601 weights of R, G, B

__all__ = ["read_image", "image_size", "border_brightness", "IMAGE_SUFFIXES", "MAX_IMAGE_PIXELS",
           "MAX_IMAGE_FILE_BYTES"]


def _error(path, problem: str) -> DataError:
    return DataError(f"{path}: {problem}")


def _pillow(path):
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(f"{path}: reading images needs Pillow, which is not installed (pip install "
                          f"'neurona[images]'); or pass the pixels as .npz/.csv") from None
    return Image


class _Opened:
    """An image file opened by Pillow with only its header read; decoding happens in ``grey()``."""

    def __init__(self, path, max_pixels: int | None):
        self.path = Path(path)
        Image = _pillow(path)
        # the whole file in memory (it is small): Pillow then never asks the OS for more than the file holds,
        # whatever length a damaged chunk declares
        with open_regular(path, _error) as f:
            size = os.fstat(f.fileno()).st_size
            if size > MAX_IMAGE_FILE_BYTES:
                raise _error(path, f"is {size:,} bytes; image files are read up to {MAX_IMAGE_FILE_BYTES:,}")
            self._file = io.BytesIO(f.read())
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                self.image = Image.open(self._file, formats=FORMATS)
        except DataError:
            self._file.close()
            raise
        except Image.DecompressionBombError as e:  # Pillow's own limit, checked on opening, above ours
            self._file.close()
            found = re.search(r"\((\d+) pixels\)", str(e))
            size = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
            raise _error(path, self._too_large(size, max_pixels)) from None
        except Exception as e:  # Pillow's parsers raise many kinds of errors on damaged files; all mean the same
            self._file.close()
            raise _error(path, f"cannot read the image ({type(e).__name__}: {e})") from None
        w, h = self.image.size
        if w * h > self._limit(max_pixels):
            self.close()
            raise _error(path, self._too_large(f"{w}×{h} = {w * h:,} pixels", max_pixels))

    @staticmethod
    def _limit(max_pixels: int | None) -> int:
        return MAX_IMAGE_PIXELS if max_pixels is None else int(max_pixels)

    def _too_large(self, size: str, max_pixels: int | None) -> str:
        return (f"declares an image of {size}; at most {self._limit(max_pixels):,} pixels are decoded (a "
                f"decompression bomb, or an image to resize first)")

    def grey(self) -> np.ndarray:
        im = self.image
        try:
            im.load()
            if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
                return np.asarray(im, dtype=np.float32) / np.float32(65535.0)
            if im.mode == "F":
                return np.asarray(im, dtype=np.float32)
            if im.mode in ("1", "L", "LA"):
                return np.asarray(im.convert("L"), dtype=np.float32) / np.float32(255.0)
            rgb = np.asarray(im.convert("RGB"), dtype=np.float32) / np.float32(255.0)
            return rgb @ _LUMA
        except DataError:
            raise
        except Exception as e:  # truncated data, a broken stream, an unsupported mode
            raise _error(self.path, f"cannot decode the image ({type(e).__name__}: {e})") from None

    def close(self) -> None:
        if hasattr(self, "image"):
            self.image.close()
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def image_size(path: str | os.PathLike, *, max_pixels: int | None = None) -> tuple[int, int]:
    """(width, height) of an image, read from its header without decoding the pixels."""
    with _Opened(path, max_pixels) as im:
        return im.image.size


def read_image(path: str | os.PathLike, *, max_pixels: int | None = None) -> np.ndarray:
    """A grey (H, W) float32 image in [0, 1]; colour becomes its luma 0.299 R + 0.587 G + 0.114 B.

    8-bit images are divided by 255, 16-bit ones by 65535; alpha is ignored.
    """
    with _Opened(path, max_pixels) as im:
        return im.grey()


def border_brightness(img: np.ndarray) -> float:
    """The mean value of an image's outermost pixels (its background, for a centred object)."""
    return float(np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]]).mean())
