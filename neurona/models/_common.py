"""Helpers shared by the convolutional models: input checks, the small-input rule, ``skip_init``."""
from __future__ import annotations

import contextlib
import math

from .. import nn
from ..engine import Tensor

# inputs smaller than this (28x28 Fashion-MNIST, 32x32 CIFAR) get a stem without early downsampling
SMALL_INPUT = 64


def is_small(input_size: int) -> bool:
    return int(input_size) < SMALL_INPUT


def check_sizes(name: str, num_classes: int, in_channels: int, input_size: int, minimum: int = 1) -> None:
    if int(num_classes) < 1:
        raise ValueError(f"{name}: num_classes must be positive, got {num_classes}")
    if int(in_channels) < 1:
        raise ValueError(f"{name}: in_channels must be positive, got {in_channels}")
    if int(input_size) < minimum:
        raise ValueError(f"{name}: input_size must be at least {minimum}, got {input_size}")


def as_images(x: Tensor, in_channels: int, input_size: int, name: str) -> Tensor:
    """Accept (N, C, H, W); also (N, H, W) for one channel and flattened (N, C·S·S) rows, as the data loaders give."""
    if x.ndim == 4:
        if x.shape[1] != in_channels:
            raise ValueError(f"{name}: expected {in_channels} input channel(s), got input of shape {tuple(x.shape)}")
        return x
    if x.ndim == 3 and in_channels == 1:
        return x.unsqueeze(1)
    if x.ndim == 2 and x.shape[1] == in_channels * input_size * input_size:
        return x.reshape(x.shape[0], in_channels, input_size, input_size)
    raise ValueError(f"{name}: expected images (N, {in_channels}, H, W), (N, H, W) for one channel or flattened "
                     f"(N, {in_channels * input_size * input_size}), got shape {tuple(x.shape)}")


def from_cli(data_info: dict, options: dict) -> dict:
    """Config for the ``neurona`` command from the data set's sample shape and number of classes."""
    shape = tuple(int(s) for s in data_info["input_shape"])
    if len(shape) == 3:
        channels, size = shape[0], shape[1]
    elif len(shape) == 2:
        channels, size = 1, shape[0]
    elif len(shape) == 1 and math.isqrt(shape[0]) ** 2 == shape[0]:
        channels, size = 1, math.isqrt(shape[0])
    else:
        raise ValueError(f"convolutional models need image inputs (C, H, W), (H, W) or square flattened images, "
                         f"got samples of shape {shape}")
    return {"num_classes": int(data_info["n_outputs"]), "in_channels": channels, "input_size": size}


def _keep(tensor, *args, **kwargs):
    return tensor


@contextlib.contextmanager
def skip_init():
    """Build models without drawing initial weights (like PyTorch's ``skip_init``).

    Parameters are allocated with ``numpy.empty`` and left unfilled, so even
    VGG-16's 138M parameters cost neither time nor touched memory: use it to
    count parameters, inspect shapes, or right before loading trained weights.

    >>> from neurona import models
    >>> with models.skip_init():
    ...     n = models.VGG16().num_parameters()
    >>> n
    138357544
    """
    from ..nn import init
    names = [n for n in init.__all__ if n.endswith("_")]
    saved = {n: getattr(init, n) for n in names}
    try:
        for n in names:
            setattr(init, n, _keep)
        yield
    finally:
        for n, f in saved.items():
            setattr(init, n, f)


def activation(name: str) -> nn.Module:
    table = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
    key = name.lower()
    if key not in table:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(table)}")
    return table[key]()
