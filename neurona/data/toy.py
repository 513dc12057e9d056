"""Two-class 2-D datasets like those of the notes' demo (playground.tensorflow.org).

Each returns ``(X, y)``: X float32 of shape (n_samples, 2), points roughly in
[-1, 1]², and y int64 labels 0/1, half of the samples in each class, in random
order. ``noise`` is the standard deviation of Gaussian noise added to the
points; ``seed`` (an int or a numpy Generator) makes the draw reproducible,
and with ``seed=None`` neurona's global generator is used.
"""
from __future__ import annotations

import numpy as np

from .dataset import _generator


def _start(name: str, n_samples: int, noise: float, seed) -> tuple[np.random.Generator, int, int]:
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 2:
        raise ValueError(f"{name}: n_samples must be an integer >= 2, got {n_samples!r}")
    if not noise >= 0:
        raise ValueError(f"{name}: noise must be >= 0, got {noise!r}")
    rng = seed if isinstance(seed, np.random.Generator) else _generator(seed)
    n0 = (n_samples + 1) // 2
    return rng, n0, n_samples - n0


def _finish(rng: np.random.Generator, points: np.ndarray, n0: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    labels = np.repeat(np.array([0, 1], dtype=np.int64), [n0, len(points) - n0])
    if noise > 0:
        points = points + rng.normal(0.0, noise, size=points.shape)
    order = rng.permutation(len(points))
    return points[order].astype(np.float32), labels[order]


def _polar(radius: np.ndarray, angle: np.ndarray) -> np.ndarray:
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)


def make_circle(n_samples: int = 500, noise: float = 0.0, seed=None) -> tuple[np.ndarray, np.ndarray]:
    """A disc (class 0, radius < 0.5) inside a ring (class 1, radius 0.7 to 1)."""
    rng, n0, n1 = _start("make_circle", n_samples, noise, seed)
    inner = _polar(rng.uniform(0.0, 0.5, n0), rng.uniform(0, 2 * np.pi, n0))
    outer = _polar(rng.uniform(0.7, 1.0, n1), rng.uniform(0, 2 * np.pi, n1))
    return _finish(rng, np.concatenate([inner, outer]), n0, noise)


def make_xor(n_samples: int = 500, noise: float = 0.0, seed=None) -> tuple[np.ndarray, np.ndarray]:
    """XOR of the signs: class 0 where x1·x2 > 0 (quadrants I and III), class 1 elsewhere.

    Points keep a margin of 0.05 from the axes so that, without noise, the
    classes are separable (by a network with a hidden layer, not by a line).
    """
    rng, n0, n1 = _start("make_xor", n_samples, noise, seed)

    def quadrants(n, same_sign):
        mag = rng.uniform(0.05, 1.0, size=(n, 2))
        s = rng.choice([-1.0, 1.0], size=n)
        return mag * np.stack([s, s if same_sign else -s], axis=1)

    return _finish(rng, np.concatenate([quadrants(n0, True), quadrants(n1, False)]), n0, noise)


def make_gaussians(n_samples: int = 500, noise: float = 0.0, seed=None) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian blobs of standard deviation 0.2: class 0 around (-0.5, -0.5), class 1 around (0.5, 0.5)."""
    rng, n0, n1 = _start("make_gaussians", n_samples, noise, seed)
    a = rng.normal(-0.5, 0.2, size=(n0, 2))
    b = rng.normal(0.5, 0.2, size=(n1, 2))
    return _finish(rng, np.concatenate([a, b]), n0, noise)


def make_spiral(n_samples: int = 500, noise: float = 0.0, seed=None) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spirals of 1.75 turns, class 1 being class 0 turned by half a turn."""
    rng, n0, n1 = _start("make_spiral", n_samples, noise, seed)

    def arm(n, phase):
        t = rng.uniform(0.0, 1.0, n)  # radius grows with the angle: r = t, θ = 1.75·2π·t + phase
        return _polar(t, 1.75 * 2 * np.pi * t + phase)

    return _finish(rng, np.concatenate([arm(n0, 0.0), arm(n1, np.pi)]), n0, noise)
