"""Data augmentation on batches of images (notes: "Aumento de datos artificiales").

The notes' recipe: make new training samples from real ones with
transformations that keep them plausible (flips, rotations, crops, noise),
applied to the training set only so that the model does not learn the
data by heart. Here each transform takes a whole batch, NHW (N×H×W) or
NCHW (N×C×H×W), as a NumPy array or a Tensor, and returns the same kind,
shape and dtype; the random choices are drawn per image but applied to
the batch at once. Give the training DataLoader ``transform=Compose([...])``.

Randomness comes from ``seed``/``generator`` when given, otherwise from
neurona's global generator (``neurona.manual_seed``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .. import backend
from ..backend import get_array_module
from .dataset import _generator


def _unwrap(x) -> tuple[np.ndarray, tuple]:
    """The images as a host array, and how they came (a Tensor or not, and on which device).

    Augmentation runs on the host, as a data pipeline's does, so that a seed gives the same images on every
    device; a device batch is read once and its result copied back.
    """
    from ..engine import Tensor
    a = x.array if isinstance(x, Tensor) else x
    device = backend.device_of(a) if backend.is_array(a) else backend.CPU
    return backend.to_numpy(a), (isinstance(x, Tensor), device)


def _rewrap(out: np.ndarray, came: tuple):
    was_tensor, device = came
    out = backend.to_device(out, device)
    if was_tensor:
        from ..engine import Tensor
        return Tensor(out, dtype=out.dtype)
    return out


def _as_nchw(a: np.ndarray, name: str) -> np.ndarray:
    if a.ndim == 3:
        return a[:, None]
    if a.ndim == 4:
        return a
    raise ValueError(f"{name}: expected a batch of images of shape N×H×W or N×C×H×W, got shape {a.shape}"
                     + (" (flat images? reshape them, e.g. to (N, 28, 28))" if a.ndim == 2 else ""))


def _back(out: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Undo _as_nchw and restore the input dtype (rounding and clipping integer images)."""
    if like.ndim == 3:
        out = out[:, 0]
    if like.dtype.kind in "iu" and out.dtype.kind == "f":
        info = np.iinfo(like.dtype)
        out = np.clip(np.rint(out), info.min, info.max)
    return out.astype(like.dtype, copy=False)


class Transform:
    """A callable on a batch; subclasses define ``apply(array) -> array``."""

    def __call__(self, x):
        a, came = _unwrap(x)
        return _rewrap(self.apply(a), came)

    def apply(self, a: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({fields})"


class RandomTransform(Transform):
    """A Transform that draws random numbers from its own or the global generator."""

    def __init__(self, seed: int | None = None, generator: np.random.Generator | None = None):
        self._rng = _generator(seed, generator) if (seed is not None or generator is not None) else None

    @property
    def rng(self) -> np.random.Generator:
        return self._rng if self._rng is not None else _generator()


class Compose(Transform):
    """Apply ``transforms`` one after the other: Compose([RandomCrop(28, 2), RandomHorizontalFlip()])."""

    def __init__(self, transforms: Sequence):
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"Compose: {t!r} is not callable")

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def apply(self, a: np.ndarray) -> np.ndarray:
        return self(a)


def _check_p(name: str, p: float) -> float:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: p must be a probability in [0, 1], got {p}")
    return float(p)


class RandomHorizontalFlip(RandomTransform):
    """Mirror each image left-right with probability ``p`` (a "giro horizontal")."""

    def __init__(self, p: float = 0.5, seed: int | None = None, generator: np.random.Generator | None = None):
        super().__init__(seed, generator)
        self.p = _check_p("RandomHorizontalFlip", p)

    def apply(self, a: np.ndarray) -> np.ndarray:
        _as_nchw(a, "RandomHorizontalFlip")
        flip = self.rng.random(len(a)) < self.p
        out = a.copy()
        out[flip] = a[flip][..., ::-1]
        return out


class RandomVerticalFlip(RandomTransform):
    """Mirror each image upside-down with probability ``p``."""

    def __init__(self, p: float = 0.5, seed: int | None = None, generator: np.random.Generator | None = None):
        super().__init__(seed, generator)
        self.p = _check_p("RandomVerticalFlip", p)

    def apply(self, a: np.ndarray) -> np.ndarray:
        _as_nchw(a, "RandomVerticalFlip")
        flip = self.rng.random(len(a)) < self.p
        out = a.copy()
        out[flip] = a[flip][..., ::-1, :]
        return out


class RandomRotation(RandomTransform):
    """Rotate each image about its centre by an angle drawn uniformly in [-degrees, degrees].

    ``degrees`` may also be a (low, high) range. Positive angles turn the
    image counter-clockwise as displayed. Each output pixel p reads the
    input at R(−θ)(p − c) + c (c the centre) with bilinear interpolation
    (``mode="nearest"`` rounds instead); pixels that come from outside the
    image get ``fill``. All images are sampled at once, no per-image loop.
    """

    def __init__(self, degrees: float | tuple[float, float], mode: str = "bilinear", fill: float = 0.0,
                 seed: int | None = None, generator: np.random.Generator | None = None):
        super().__init__(seed, generator)
        lo, hi = (-abs(degrees), abs(degrees)) if np.isscalar(degrees) else tuple(degrees)
        if lo > hi:
            raise ValueError(f"RandomRotation: degrees range ({lo}, {hi}) has low > high")
        if mode not in ("bilinear", "nearest"):
            raise ValueError(f"RandomRotation: mode must be 'bilinear' or 'nearest', got {mode!r}")
        self.degrees, self.mode, self.fill = (float(lo), float(hi)), mode, float(fill)

    def apply(self, a: np.ndarray) -> np.ndarray:
        x = _as_nchw(a, "RandomRotation")
        n, c, h, w = x.shape
        theta = np.deg2rad(self.rng.uniform(*self.degrees, size=n))[:, None, None]
        cos, sin = np.cos(theta), np.sin(theta)
        cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
        yy, xx = np.meshgrid(np.arange(h) - cy, np.arange(w) - cx, indexing="ij")
        # R(-θ) written in (row, col): rows grow downwards, so the sign of sin flips against (x, y) maths
        src_y = cos * yy + sin * xx + cy
        src_x = cos * xx - sin * yy + cx
        if self.mode == "nearest":
            taps = [(np.rint(src_y), np.rint(src_x), np.ones_like(src_y))]
        else:
            y0, x0 = np.floor(src_y), np.floor(src_x)
            dy, dx = src_y - y0, src_x - x0
            taps = [(y0, x0, (1 - dy) * (1 - dx)), (y0, x0 + 1, (1 - dy) * dx),
                    (y0 + 1, x0, dy * (1 - dx)), (y0 + 1, x0 + 1, dy * dx)]
        xp = get_array_module(x)
        flat = x.reshape(n, c, h * w)
        work = np.result_type(x.dtype, np.float32) if x.dtype.kind == "f" else np.float32
        out = xp.zeros((n, c, h * w), dtype=work)
        covered = xp.zeros((n, 1, h * w), dtype=work)
        for ty, tx, wt in taps:  # 4 (or 1) gathers over the whole batch; the taps are drawn on the host
            inside = (ty >= 0) & (ty <= h - 1) & (tx >= 0) & (tx <= w - 1)
            idx = (np.clip(ty, 0, h - 1) * w + np.clip(tx, 0, w - 1)).astype(np.intp).reshape(n, 1, h * w)
            wt = xp.asarray((wt * inside).astype(work).reshape(n, 1, h * w))
            idx = xp.asarray(np.broadcast_to(idx, (n, c, h * w)))
            out += xp.take_along_axis(flat, idx, axis=2) * wt
            covered += wt
        if self.fill != 0.0:
            out += (1 - covered) * work.type(self.fill)
        return _back(out.reshape(n, c, h, w), a)


class RandomCrop(RandomTransform):
    """Pad each image by ``padding`` pixels of ``fill``, then cut a random ``size`` window ("recortes").

    ``size`` is an int, (height, width), or None for the input size, which
    makes it a random translation by up to ``padding`` pixels.
    """

    def __init__(self, size: int | tuple[int, int] | None, padding: int = 0, fill: float = 0.0,
                 seed: int | None = None, generator: np.random.Generator | None = None):
        super().__init__(seed, generator)
        if padding < 0:
            raise ValueError(f"RandomCrop: padding must be >= 0, got {padding}")
        self.size = (size, size) if isinstance(size, (int, np.integer)) else (None if size is None else tuple(size))
        self.padding, self.fill = int(padding), fill

    def apply(self, a: np.ndarray) -> np.ndarray:
        x = _as_nchw(a, type(self).__name__)
        n, c, h, w = x.shape
        p = self.padding
        th, tw = (h, w) if self.size is None else self.size
        if th > h + 2 * p or tw > w + 2 * p:
            raise ValueError(f"{type(self).__name__}: crop {th}×{tw} is larger than the padded image "
                             f"{h + 2 * p}×{w + 2 * p}")
        if p:
            x = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=np.asarray(self.fill).astype(x.dtype))
        oy = self.rng.integers(0, h + 2 * p - th + 1, size=n)
        ox = self.rng.integers(0, w + 2 * p - tw + 1, size=n)
        rows = (oy[:, None] + np.arange(th))[:, None, :, None]
        cols = (ox[:, None] + np.arange(tw))[:, None, None, :]
        out = np.take_along_axis(x, np.broadcast_to(rows, (n, c, th, x.shape[3])), axis=2)
        out = np.take_along_axis(out, np.broadcast_to(cols, (n, c, th, tw)), axis=3)
        return _back(out, a)


class RandomTranslate(RandomCrop):
    """Shift each image by up to ``max_shift`` pixels in each direction, filling with ``fill``."""

    def __init__(self, max_shift: int, fill: float = 0.0, seed: int | None = None,
                 generator: np.random.Generator | None = None):
        super().__init__(None, padding=max_shift, fill=fill, seed=seed, generator=generator)


class GaussianNoise(RandomTransform):
    """Add N(0, std²) noise to every input value (the notes' "añadiendo ruido").

    Works on batches of any shape; integer inputs give float32 outputs.
    ``clip=(low, high)`` keeps the result in range (e.g. (0, 1) for pixels).
    """

    def __init__(self, std: float, clip: tuple[float, float] | None = None, seed: int | None = None,
                 generator: np.random.Generator | None = None):
        super().__init__(seed, generator)
        if std < 0:
            raise ValueError(f"GaussianNoise: std must be >= 0, got {std}")
        self.std, self.clip = float(std), clip

    def apply(self, a: np.ndarray) -> np.ndarray:
        if a.dtype.kind != "f":
            from ..backend import get_default_dtype
            a = a.astype(get_default_dtype())
        out = a + self.rng.standard_normal(a.shape, dtype=np.float32 if a.dtype == np.float32 else np.float64
                                           ).astype(a.dtype, copy=False) * a.dtype.type(self.std)
        if self.clip is not None:
            out = np.clip(out, a.dtype.type(self.clip[0]), a.dtype.type(self.clip[1]))
        return out
