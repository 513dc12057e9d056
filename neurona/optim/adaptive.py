"""Per-coordinate adaptive learning rates: Adagrad, RMSprop and Adadelta.

Each divides the gradient by a running measure of its own size, so steep
directions take smaller steps (*Implementación de Redes Neuronales*, §
AdaGrad: "reduce el vector gradiente a lo largo de las dimensiones más
empinadas").
"""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from ..backend import get_array_module
from .. import workspace
from .optimizer import Optimizer, _check_nonnegative

__all__ = ["Adagrad", "RMSprop", "Adadelta"]


def _zeros_like(p) -> np.ndarray:
    return get_array_module(p.array).zeros_like(p.array)


class Adagrad(Optimizer):
    r"""Adagrad: the step of each coordinate shrinks with its accumulated squared gradients (Duchi et al., 2011).

    With learning rate γ (``lr``), decay η (``lr_decay``), weight decay λ and
    s_0 = τ (``initial_accumulator_value``), for t = 1, 2, ...::

        g_t = ∇f(θ_{t-1}) + λ θ_{t-1}             (negated first if maximize)
        γ_t = γ / (1 + (t - 1) η)
        s_t = s_{t-1} + g_t²
        θ_t = θ_{t-1} - γ_t g_t / (√s_t + ε)

    The notes (*Implementación de Redes Neuronales*, § AdaGrad) write
    1. s ← s + ∇J(θ) ⊗ ∇J(θ) and 2. θ ← θ - η ∇J(θ) ⊘ √(s + ε), with ε under
    the root; PyTorch adds it after the root, and its ε is tiny (1e-10). The
    notes warn that Adagrad "a menudo se detiene demasiado pronto": s only
    grows, so the steps vanish.

    ``Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0,
    initial_accumulator_value=0, eps=1e-10, *, maximize=False)``, as
    ``torch.optim.Adagrad``. State (created for every parameter at
    construction, as PyTorch does): ``step``, ``sum`` (s).
    """

    kernel = "adagrad"  # the fused update in neurona.kernels.optim

    def __init__(self, params: Iterable, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = self.init_state(p, group)

    def _check_hyperparameters(self, hp: dict[str, Any], where: str) -> None:
        _check_nonnegative(self, hp, where, "lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")

    def init_state(self, p, group: dict[str, Any]) -> dict[str, Any]:
        s = get_array_module(p.array).full_like(p.array, float(group["initial_accumulator_value"]))
        return {"step": 0, "sum": s}

    def update_one(self, p, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        theta = p.array
        a, b = self._work(theta, 2)
        state["step"] = t = state["step"] + 1
        g = self._effective_grad(theta, grad, float(group["weight_decay"]), group["maximize"], a)
        clr = float(group["lr"]) / (1.0 + (t - 1) * float(group["lr_decay"]))
        s = state["sum"]
        np.multiply(g, g, out=b)
        s += b
        np.sqrt(s, out=b)
        b += float(group["eps"])
        np.divide(g, b, out=b)
        b *= clr
        theta -= b
        workspace.give(a, b)


class RMSprop(Optimizer):
    r"""RMSprop: divide by a moving root-mean-square of recent gradients (Hinton, 2012).

    With learning rate γ (``lr``), smoothing α (``alpha``), momentum μ and
    weight decay λ, from v_0 = b_0 = g^avg_0 = 0, for t = 1, 2, ...::

        g_t = ∇f(θ_{t-1}) + λ θ_{t-1}             (negated first if maximize)
        v_t = α v_{t-1} + (1 - α) g_t²
        ṽ_t = v_t - (g^avg_t)²,  g^avg_t = α g^avg_{t-1} + (1 - α) g_t      if centered
        ṽ_t = v_t                                                         otherwise
        b_t = μ b_{t-1} + g_t / (√ṽ_t + ε);   θ_t = θ_{t-1} - γ b_t      if μ > 0
        θ_t = θ_{t-1} - γ g_t / (√ṽ_t + ε)                               otherwise

    ``centered`` divides by an estimate of the gradient's standard deviation
    instead of its root mean square.

    The notes (*Implementación de Redes Neuronales*, § RMSProp) write
    1. s ← β s + (1 - β) ∇J(θ) ⊗ ∇J(θ) and 2. θ ← θ - η ∇J(θ) ⊘ √(s + ε), and
    give Keras' ``RMSprop(lr=0.001, rho=0.9)``, noting "rho es β". Mind the
    names: the notes' β (Keras' ``rho``, default 0.9) is PyTorch's ``alpha``
    here (default 0.99), while in the notes' backpropagation chapter ρ is the
    *learning rate*. ε also moves: under the root in the notes, after it here.

    ``RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0,
    momentum=0, centered=False, *, maximize=False)``, as
    ``torch.optim.RMSprop``. State: ``step``, ``square_avg`` (v), and
    ``momentum_buffer`` (b) if μ > 0, ``grad_avg`` if centered.
    """

    kernel = "rmsprop"  # the fused update in neurona.kernels.optim

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, *,
                 maximize: bool = False) -> None:
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _check_hyperparameters(self, hp: dict[str, Any], where: str) -> None:
        _check_nonnegative(self, hp, where, "lr", "eps", "momentum", "weight_decay", "alpha")

    def init_state(self, p, group: dict[str, Any]) -> dict[str, Any]:
        state = {"step": 0, "square_avg": _zeros_like(p)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = _zeros_like(p)
        if group["centered"]:
            state["grad_avg"] = _zeros_like(p)
        return state

    def update_one(self, p, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        theta = p.array
        a, b = self._work(theta, 2)
        alpha = float(group["alpha"])
        state["step"] += 1
        g = self._effective_grad(theta, grad, float(group["weight_decay"]), group["maximize"], a)
        v = state["square_avg"]
        v *= alpha
        np.multiply(g, g, out=b)
        b *= 1.0 - alpha
        v += b
        if group["centered"]:
            g_avg = state.get("grad_avg")
            if g_avg is None:  # centered switched on after the state was created
                g_avg = state["grad_avg"] = _zeros_like(p)
            np.subtract(g, g_avg, out=b)          # g_avg ← g_avg + (1 - α)(g - g_avg)
            b *= 1.0 - alpha
            g_avg += b
            np.multiply(g_avg, g_avg, out=b)
            np.subtract(v, b, out=b)
            np.sqrt(b, out=b)
        else:
            np.sqrt(v, out=b)
        b += float(group["eps"])
        np.divide(g, b, out=b)
        momentum = float(group["momentum"])
        if momentum > 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = _zeros_like(p)
            buf *= momentum
            buf += b
            np.multiply(buf, float(group["lr"]), out=b)
        else:
            b *= float(group["lr"])
        theta -= b
        workspace.give(a, b)


class Adadelta(Optimizer):
    r"""Adadelta: Adagrad over a moving window, with units that match (Zeiler, 2012).

    With decay ρ (``rho``), learning rate γ (``lr``, a plain multiplier that
    defaults to 1) and weight decay λ, from v_0 = u_0 = 0, for t = 1, 2, ...::

        g_t = ∇f(θ_{t-1}) + λ θ_{t-1}             (negated first if maximize)
        v_t = ρ v_{t-1} + (1 - ρ) g_t²
        Δ_t = √(u_{t-1} + ε) / √(v_t + ε) · g_t
        u_t = ρ u_{t-1} + (1 - ρ) Δ_t²
        θ_t = θ_{t-1} - γ Δ_t

    The ratio of the RMS of past updates to the RMS of gradients gives each
    step the units of θ, so no learning rate is needed (hence ``lr=1.0``).

    The notes (*Implementación de Redes Neuronales*, § Adadelta) describe it
    as Adagrad restricted to "una ventana de tamaño fijo de los últimos n
    gradientes", "similar a RMSProp que va olvidando los gradientes"; the
    exponential average with ρ is that window. Here ρ is a decay, not the
    notes' learning rate ρ.

    ``Adadelta(params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, *,
    maximize=False)``, as ``torch.optim.Adadelta``. State: ``step``,
    ``square_avg`` (v), ``acc_delta`` (u).
    """

    kernel = "adadelta"  # the fused update in neurona.kernels.optim

    def __init__(self, params: Iterable, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _check_hyperparameters(self, hp: dict[str, Any], where: str) -> None:
        _check_nonnegative(self, hp, where, "lr", "eps", "weight_decay")
        if not 0.0 <= hp["rho"] <= 1.0:
            raise ValueError(f"Adadelta: invalid rho {hp['rho']!r}{where}; expected 0 <= rho <= 1")

    def init_state(self, p, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": 0, "square_avg": _zeros_like(p), "acc_delta": _zeros_like(p)}

    def update_one(self, p, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        theta = p.array
        a, b, c = self._work(theta, 3)
        rho, eps = float(group["rho"]), float(group["eps"])
        state["step"] += 1
        g = self._effective_grad(theta, grad, float(group["weight_decay"]), group["maximize"], a)
        v, u = state["square_avg"], state["acc_delta"]
        v *= rho
        np.multiply(g, g, out=b)
        b *= 1.0 - rho
        v += b
        np.add(u, eps, out=b)                    # Δ = √(u + ε) / √(v + ε) · g
        np.sqrt(b, out=b)
        np.add(v, eps, out=c)
        np.sqrt(c, out=c)
        np.divide(b, c, out=b)
        b *= g
        u *= rho
        np.multiply(b, b, out=c)
        c *= 1.0 - rho
        u += c
        b *= float(group["lr"])
        theta -= b
        workspace.give(a, b, c)
