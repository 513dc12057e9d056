"""Weight noise: Gaussian perturbations of chosen parameters during training.

Among the notes' ways to avoid bad local minima: "Añadir ruido durante el
entrenamiento". Noise on the inputs is the ``GaussianNoise`` layer; noise on
the *weights* perturbs the network itself. At every training forward pass
each chosen parameter θ is replaced by

    θ̃ = θ + ε,   ε ~ N(0, σ²)     (or σ·|θ| per element with ``relative=True``),

the loss and its gradient are computed at θ̃, and the optimizer applies that
gradient to the clean θ (Graves, 2011; An, 1996). The noise is drawn once per
forward pass of the model, so a layer used several times in one pass (a
recurrent cell over the time steps) sees the same perturbed weights. In
``eval()`` mode nothing changes.

>>> noise = add_weight_noise(model, std=0.01)          # every weight matrix / kernel
>>> fit(model, loss_fn, optimizer, train, epochs=10)   # noisy while training, clean in evaluation
>>> noise.remove()                                     # back to plain training
"""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from ..backend import get_array_module
from ..creation import device_generator
from ..engine import Tensor
from .module import Module

__all__ = ["WeightNoise", "add_weight_noise"]


def _default_selection(model: Module) -> list[tuple[str, Tensor]]:
    return [(n, p) for n, p in model.named_parameters()
            if p.ndim >= 2 and n.rsplit(".", 1)[-1].startswith("weight")]


class WeightNoise:
    """Adds N(0, std²) to chosen parameters of ``model`` for each training forward pass, then restores them.

    Parameters are chosen by ``parameters`` (names, (name, parameter) pairs,
    or a predicate ``f(name, parameter) -> bool``); by default the weight
    matrices and kernels (not biases nor normalization parameters).
    ``relative=True`` scales the noise per element by |θ|. Noise comes from
    ``generator`` (default: neurona's global generator, ``neurona.manual_seed``).

    It works through the model's forward hooks: before the forward pass each
    parameter's array is swapped for a noisy copy (the graph records the
    noisy values, so backward differentiates at θ̃), and after it the clean
    array is put back, so the optimizer updates θ itself. Set ``std`` at any
    time (e.g. anneal it in a callback); ``remove()`` detaches it.
    """

    def __init__(self, model: Module, std: float = 0.01, parameters: Iterable | Callable | None = None,
                 relative: bool = False, generator: np.random.Generator | None = None):
        if not isinstance(model, Module):
            raise TypeError(f"WeightNoise: expected a neurona.nn.Module, got {type(model).__name__}")
        self.model = model
        self.std = std
        self.relative = bool(relative)
        self.generator = generator
        self.params = self._choose(model, parameters)
        if not self.params:
            raise ValueError(f"WeightNoise: no parameters of {type(model).__name__} were chosen")
        self._clean: list[tuple[Tensor, np.ndarray]] | None = None
        self._pre = model.register_forward_pre_hook(self._perturb)
        self._post = model.register_forward_hook(self._restore)

    @property
    def std(self) -> float:
        return self._std

    @std.setter
    def std(self, value: float) -> None:
        value = float(value)
        if not value >= 0:
            raise ValueError(f"WeightNoise: std must be >= 0, got {value}")
        self._std = value

    @staticmethod
    def _choose(model, parameters) -> list[tuple[str, Tensor]]:
        if parameters is None:
            return _default_selection(model)
        named = list(model.named_parameters())
        if callable(parameters):
            return [(n, p) for n, p in named if parameters(n, p)]
        by_name = dict(named)
        out = []
        for item in parameters:
            if isinstance(item, str):
                if item not in by_name:
                    raise KeyError(f"WeightNoise: the model has no parameter {item!r}; it has "
                                   f"{', '.join(by_name) or 'none'}")
                out.append((item, by_name[item]))
            elif isinstance(item, tuple) and len(item) == 2:
                out.append((item[0], item[1]))
            else:
                raise TypeError(f"WeightNoise: parameters= takes names, (name, parameter) pairs or a predicate, "
                                f"got {type(item).__name__}")
        return out

    def _perturb(self, module, inputs):
        self.restore()  # a forward that raised half-way left noisy arrays in place
        if not module.training or self._std == 0.0:
            return None
        clean = []
        for _, p in self.params:
            a = p.array
            eps = device_generator(get_array_module(a), self.generator).standard_normal(a.shape)
            eps = eps.astype(a.dtype, copy=False)
            eps *= a.dtype.type(self._std)
            if self.relative:
                eps *= abs(a)
            clean.append((p, a))
            p.array = a + eps  # a new array: the clean one is untouched and comes back after forward
        self._clean = clean
        return None

    def _restore(self, module, inputs, output):
        self.restore()
        return None

    def restore(self) -> None:
        """Put the clean arrays back (done after every forward; call it if a forward raised half-way)."""
        if self._clean is not None:
            for p, a in self._clean:
                p.array = a
            self._clean = None

    def remove(self) -> None:
        """Stop adding noise (the hooks are removed)."""
        self.restore()
        self._pre.remove()
        self._post.remove()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False

    def __repr__(self) -> str:
        kind = "relative " if self.relative else ""
        return f"WeightNoise({kind}std={self._std}, on {', '.join(n for n, _ in self.params)})"


def add_weight_noise(model: Module, std: float = 0.01, parameters: Iterable | Callable | None = None,
                     relative: bool = False, generator: np.random.Generator | None = None) -> WeightNoise:
    """Train ``model`` with Gaussian weight noise θ̃ = θ + N(0, std²); returns the :class:`WeightNoise` handle."""
    return WeightNoise(model, std, parameters, relative, generator)
