"""Stochastic gradient descent, with momentum and Nesterov momentum."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from .. import workspace
from .optimizer import Optimizer, _check_nonnegative

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with (Nesterov) momentum.

    With learning rate γ (``lr``), momentum μ, dampening τ and weight decay λ,
    for t = 1, 2, ...::

        g_t = ∇f(θ_{t-1}) + λ θ_{t-1}              (negated first if maximize)
        if μ ≠ 0:
            b_t = g_t                   if t = 1
            b_t = μ b_{t-1} + (1 - τ) g_t   otherwise
            g_t = g_t + μ b_t           if nesterov
            g_t = b_t                   otherwise
        θ_t = θ_{t-1} - γ g_t

    Without momentum this is the notes' gradient step Δθ = -ρ ∂q_S(Θ)/∂θ
    (*Aprendizaje Automático*, § Algoritmo de retropropagación): their ρ is
    ``lr``, and their notation list names the momentum ν and the
    regularization factor λ (``momentum`` and ``weight_decay`` here).

    The notes (*Implementación de Redes Neuronales*, § Momentum and §
    Nesterov) use the Keras form: m ← β m - η ∇J(θ), θ ← θ + m, and for
    Nesterov m ← β m - η ∇J(θ + β m) (their eq. 1), θ ← θ + m (eq. 2). With
    τ = 0 and a constant rate it is the same method: m = -γ b, β = μ. Two
    differences remain: PyTorch scales the buffer by the *current* lr (so a
    scheduler changes the step at once), and its Nesterov evaluates the
    gradient at θ rather than at the look-ahead point θ + βm, using the
    Sutskever et al. reformulation g + μ b, which is equivalent after a change
    of variables.

    ``SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
    nesterov=False, *, maximize=False)``, as ``torch.optim.SGD``. State:
    ``momentum_buffer`` (after the first step, when μ ≠ 0).
    """

    kernel = "sgd"  # the fused update in neurona.kernels.optim

    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _check_hyperparameters(self, hp: dict[str, Any], where: str) -> None:
        _check_nonnegative(self, hp, where, "lr", "momentum", "weight_decay")
        if hp["nesterov"] and (hp["momentum"] <= 0 or hp["dampening"] != 0):
            raise ValueError(f"SGD: Nesterov momentum requires a momentum > 0 and zero dampening{where}, "
                             f"got momentum={hp['momentum']!r}, dampening={hp['dampening']!r}")

    def update_one(self, p, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        theta = p.array
        a, b = self._work(theta, 2)
        g = self._effective_grad(theta, grad, float(group["weight_decay"]), group["maximize"], a)
        momentum = float(group["momentum"])
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.copy()  # b_1 = g_1, undamped, as PyTorch
            else:
                buf *= momentum
                dampening = float(group["dampening"])
                if dampening != 0:
                    np.multiply(g, 1.0 - dampening, out=b)
                    buf += b
                else:
                    buf += g
            if group["nesterov"]:
                np.multiply(buf, momentum, out=b)
                np.add(g, b, out=b)
                g = b
            else:
                g = buf
        np.multiply(g, float(group["lr"]), out=b)
        theta -= b
        workspace.give(a, b)
