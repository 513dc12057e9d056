"""The Adam family: Adam (with AMSGrad), AdamW, Adamax and NAdam.

All keep exponential moving averages of the gradient (first moment m) and of
its square or its magnitude (second moment v, or the infinity norm u), the
notes' "Momentum + RMSProp" (*Implementación de Redes Neuronales*, § Adam).
"""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from ..backend import get_array_module
from .. import workspace
from .optimizer import Optimizer, _check_betas, _check_nonnegative

__all__ = ["Adam", "AdamW", "Adamax", "NAdam"]


def _moments(g, m, v, beta1: float, beta2: float, tmp) -> None:
    """m ← β1 m + (1-β1) g (as m + (1-β1)(g - m), PyTorch's lerp) and v ← β2 v + (1-β2) g², in place."""
    np.subtract(g, m, out=tmp)
    tmp *= 1.0 - beta1
    m += tmp
    v *= beta2
    np.multiply(g, g, out=tmp)
    tmp *= 1.0 - beta2
    v += tmp


def _zeros_like(p) -> np.ndarray:
    return get_array_module(p.array).zeros_like(p.array)


class Adam(Optimizer):
    r"""Adam: adaptive moment estimation (Kingma & Ba, 2015), optionally AMSGrad.

    With learning rate γ (``lr``), betas (β1, β2), ε (``eps``) and weight
    decay λ, from m_0 = v_0 = v_0^max = 0, for t = 1, 2, ...::

        g_t = ∇f(θ_{t-1}) + λ θ_{t-1}             (negated first if maximize)
        m_t = β1 m_{t-1} + (1 - β1) g_t            first moment (momentum)
        v_t = β2 v_{t-1} + (1 - β2) g_t²           second moment (RMSProp)
        m̂_t = m_t / (1 - β1^t)                     bias corrections: the notes' "sombreritos"
        v̂_t = v_t / (1 - β2^t)                     (v_t^max = max(v_{t-1}^max, v_t) in place of v_t if amsgrad)
        θ_t = θ_{t-1} - γ m̂_t / (√v̂_t + ε)

    With ``decoupled_weight_decay=True`` the decay is not added to g but
    applied as θ ← (1 - γλ) θ before the moments (that is AdamW).

    The notes (*Implementación de Redes Neuronales*, § Adam) present it as
    "Momentum + RMSProp" and explain the hats ("¿Qué son estos
    sombreritos?"): m and s start at zero, so early averages are biased toward
    zero; dividing by 1 - β^t undoes that and matters only in the first
    iterations. Their s is v here, and their Keras call names the betas
    ``beta_1``/``beta_2``. Where the notes' equations (RMSProp, AdaGrad) put ε
    under the root, √(s + ε), PyTorch, followed here, adds it after: √v̂ + ε;
    and the notes' Keras sign convention (m ← β m - ..., θ ← θ + ...) keeps
    the minus sign inside m, where here m averages the gradient itself.

    ``Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    amsgrad=False, *, maximize=False, decoupled_weight_decay=False)``, as
    ``torch.optim.Adam``. State: ``step``, ``exp_avg`` (m), ``exp_avg_sq`` (v)
    and, with amsgrad, ``max_exp_avg_sq``.
    """

    kernel = "adam"  # the fused update in neurona.kernels.optim

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False) -> None:
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _check_hyperparameters(self, hp: dict[str, Any], where: str) -> None:
        _check_nonnegative(self, hp, where, "lr", "eps", "weight_decay")
        _check_betas(self, hp, where)

    def init_state(self, p, group: dict[str, Any]) -> dict[str, Any]:
        state = {"step": 0, "exp_avg": _zeros_like(p), "exp_avg_sq": _zeros_like(p)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = _zeros_like(p)
        return state

    def update_one(self, p, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        theta = p.array
        a, b = self._work(theta, 2)
        lr, wd = float(group["lr"]), float(group["weight_decay"])
        beta1, beta2 = (float(x) for x in group["betas"])
        state["step"] = t = state["step"] + 1
        if wd != 0 and group["decoupled_weight_decay"]:
            theta *= 1.0 - lr * wd
            g = self._effective_grad(theta, grad, 0.0, group["maximize"], a)
        else:
            g = self._effective_grad(theta, grad, wd, group["maximize"], a)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        _moments(g, m, v, beta1, beta2, b)
        if group["amsgrad"]:
            if "max_exp_avg_sq" not in state:  # amsgrad switched on after the state was created
                state["max_exp_avg_sq"] = v.copy()
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        # γ m̂ / (√v̂ + ε) = γ √(1-β2^t) / (1-β1^t) · m / (√v + ε √(1-β2^t)): one pass fewer over the arrays
        root2 = (1.0 - beta2 ** t) ** 0.5
        np.sqrt(v, out=b)
        b += float(group["eps"]) * root2
        np.divide(m, b, out=b)
        b *= lr * root2 / (1.0 - beta1 ** t)
        theta -= b
        workspace.give(a, b)


class AdamW(Adam):
    r"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    Same moments as :class:`Adam`, but the decay shrinks the weights directly
    instead of entering the gradient (and so the moment estimates)::

        θ_{t-1}' = θ_{t-1} - γ λ θ_{t-1}
        m_t, v_t, m̂_t, v̂_t as in Adam, from g_t = ∇f(θ_{t-1})
        θ_t = θ_{t-1}' - γ m̂_t / (√v̂_t + ε)

    With Adam's coupled decay a weight with large gradients is barely
    regularized (its λθ is divided by a large √v̂); here every weight decays
    at the same rate γλ.

    ``AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
    amsgrad=False, *, maximize=False)``, as ``torch.optim.AdamW``.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:  # an AdamW stays AdamW whatever the checkpoint says
            group["decoupled_weight_decay"] = True


class Adamax(Optimizer):
    r"""Adamax: Adam with the infinity norm in place of the second moment.

    From m_0 = u_0 = 0, for t = 1, 2, ...::

        g_t = ∇f(θ_{t-1}) + λ θ_{t-1}             (negated first if maximize)
        m_t = β1 m_{t-1} + (1 - β1) g_t
        u_t = max(β2 u_{t-1}, |g_t| + ε)
        θ_t = θ_{t-1} - γ m_t / ((1 - β1^t) u_t)

    The notes (*Implementación de Redes Neuronales*, § AdaMax) write it in the
    Keras sign convention: 1. m ← β1 m - (1 - β1)∇J(θ), 2. s ← max(β2 s, ∇J(θ)),
    3. m̂ ← m / (1 - β1^t), 5. θ ← θ + η m̂ ⊘ s. Their s is u here; the max is
    taken with the gradient's magnitude |g| (the notes drop the bars), and
    PyTorch adds ε inside the max so that u is never zero.

    ``Adamax(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    *, maximize=False)``, as ``torch.optim.Adamax``. State: ``step``,
    ``exp_avg`` (m), ``exp_inf`` (u).
    """

    kernel = "adamax"  # the fused update in neurona.kernels.optim

    def __init__(self, params: Iterable, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _check_hyperparameters(self, hp: dict[str, Any], where: str) -> None:
        _check_nonnegative(self, hp, where, "lr", "eps", "weight_decay")
        _check_betas(self, hp, where)

    def init_state(self, p, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": 0, "exp_avg": _zeros_like(p), "exp_inf": _zeros_like(p)}

    def update_one(self, p, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        theta = p.array
        a, b = self._work(theta, 2)
        beta1, beta2 = (float(x) for x in group["betas"])
        state["step"] = t = state["step"] + 1
        g = self._effective_grad(theta, grad, float(group["weight_decay"]), group["maximize"], a)
        m, u = state["exp_avg"], state["exp_inf"]
        np.subtract(g, m, out=b)
        b *= 1.0 - beta1
        m += b
        u *= beta2
        np.abs(g, out=b)
        b += float(group["eps"])
        np.maximum(u, b, out=u)
        np.divide(m, u, out=b)
        b *= float(group["lr"]) / (1.0 - beta1 ** t)
        theta -= b
        workspace.give(a, b)


class NAdam(Optimizer):
    r"""NAdam: Adam with Nesterov momentum (Dozat, 2016), with momentum decay.

    The momentum coefficient warms up as μ_t = β1 (1 - ½ · 0.96^(tψ)), with
    ψ = ``momentum_decay``. From m_0 = v_0 = 0 and the running product
    Π_0 = 1, for t = 1, 2, ...::

        g_t = ∇f(θ_{t-1}) + λ θ_{t-1}             (or θ ← (1 - γλ) θ if decoupled_weight_decay)
        μ_t = β1 (1 - ½ 0.96^(t ψ)),   μ_{t+1} = β1 (1 - ½ 0.96^((t+1) ψ))
        Π_t = Π_{t-1} μ_t
        m_t = β1 m_{t-1} + (1 - β1) g_t
        v_t = β2 v_{t-1} + (1 - β2) g_t²
        v̂_t = v_t / (1 - β2^t)
        θ_t = θ_{t-1} - γ (1 - μ_t)/(1 - Π_t) · g_t / (√v̂_t + ε)
                      - γ μ_{t+1}/(1 - Π_t μ_{t+1}) · m_t / (√v̂_t + ε)

    The second line is the Nesterov look-ahead: the step uses the momentum
    that the *next* iteration will have. The notes (*Implementación de Redes
    Neuronales*, § Nadam) describe it as "Adam + Nesterov, que a menudo
    converge más rápido que Adam", without equations.

    ``NAdam(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    momentum_decay=4e-3, decoupled_weight_decay=False, *, maximize=False)``,
    as ``torch.optim.NAdam``. State: ``step``, ``mu_product`` (Π_t),
    ``exp_avg`` (m), ``exp_avg_sq`` (v).
    """

    kernel = "nadam"  # the fused update in neurona.kernels.optim

    _scalar_state = ("step", "mu_product")

    def __init__(self, params: Iterable, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _check_hyperparameters(self, hp: dict[str, Any], where: str) -> None:
        _check_nonnegative(self, hp, where, "lr", "eps", "weight_decay", "momentum_decay")
        _check_betas(self, hp, where)

    def init_state(self, p, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": 0, "mu_product": 1.0, "exp_avg": _zeros_like(p), "exp_avg_sq": _zeros_like(p)}

    def update_one(self, p, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        theta = p.array
        a, b = self._work(theta, 2)
        lr, wd = float(group["lr"]), float(group["weight_decay"])
        beta1, beta2 = (float(x) for x in group["betas"])
        psi = float(group["momentum_decay"])
        state["step"] = t = state["step"] + 1
        if wd != 0 and group["decoupled_weight_decay"]:
            theta *= 1.0 - lr * wd
            g = self._effective_grad(theta, grad, 0.0, group["maximize"], a)
        else:
            g = self._effective_grad(theta, grad, wd, group["maximize"], a)
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
        state["mu_product"] = mu_product = state["mu_product"] * mu
        m, v = state["exp_avg"], state["exp_avg_sq"]
        _moments(g, m, v, beta1, beta2, b)
        np.divide(v, 1.0 - beta2 ** t, out=b)    # b = √v̂ + ε
        np.sqrt(b, out=b)
        b += float(group["eps"])
        np.divide(g, b, out=a)                   # a may hold g itself: it is read before it is overwritten
        a *= lr * (1.0 - mu) / (1.0 - mu_product)
        theta -= a
        np.divide(m, b, out=a)
        a *= lr * mu_next / (1.0 - mu_product * mu_next)
        theta -= a
        workspace.give(a, b)
