"""Residual connection: ``Residual(f)(x) = f(x) + x``."""
from __future__ import annotations

from ..engine import Tensor
from .module import Module

__all__ = ["Residual"]


class Residual(Module):
    """The notes' residual connection: for layers implementing s → f(s), compute f(s) + s.

    f(s) and s must have the same shape. When they do not (a block that
    changes the width or the number of channels), pass a ``shortcut`` module
    that maps s to f(s)'s shape, e.g. a ``Linear`` projection:
    ``Residual(f, shortcut=nn.Linear(64, 128))`` computes f(s) + shortcut(s).

    >>> import neurona
    >>> from neurona import nn
    >>> block = nn.Residual(nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 16)))
    >>> block(neurona.randn(4, 16)).shape
    (4, 16)
    """

    def __init__(self, fn: Module, shortcut: Module | None = None):
        super().__init__()
        if not isinstance(fn, Module):
            raise TypeError(f"Residual: expected a Module to wrap, got {type(fn).__name__}")
        self.fn = fn
        self.shortcut = shortcut

    def forward(self, x: Tensor) -> Tensor:
        y = self.fn(x)
        s = x if self.shortcut is None else self.shortcut(x)
        if tuple(y.shape) != tuple(s.shape):
            inner = type(self.fn).__name__
            if self.shortcut is None:
                raise ValueError(
                    f"Residual: f(x) + x needs f to keep the shape, but the wrapped {inner} maps {tuple(x.shape)} "
                    f"to {tuple(y.shape)}; pass shortcut= a module mapping {tuple(x.shape)} to {tuple(y.shape)} "
                    f"(e.g. a Linear projection)"
                )
            raise ValueError(
                f"Residual: f(x) has shape {tuple(y.shape)} but shortcut(x) has shape {tuple(s.shape)} "
                f"(input {tuple(x.shape)}); they must match"
            )
        return y + s
