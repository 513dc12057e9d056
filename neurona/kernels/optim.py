"""Fused optimizer updates: each optimizer's whole step for one parameter in one pass over its arrays.

The reference ``update_one`` of each optimizer (``neurona.optim``) makes ten
or more NumPy passes over the parameter and its state (Adam: twelve), each
limited by memory bandwidth; here one loop reads every array once and writes
the parameter and its state once. Each function updates the parameters of one
group, ``fn(thetas, grads, states, group)`` (lists of a group's parameter
arrays, their gradients and their state dicts, and the group), reading the
hyperparameters once: ``update_one`` for many parameters at once, with
``theta`` and ``grad`` C-contiguous arrays of one float dtype
(``Optimizer.step`` checks) and the state arrays created like ``theta``. The
arithmetic runs in the parameter's dtype, as the reference's does.
"""
from __future__ import annotations

import numpy as np

from ._jit import kernel

__all__ = ["sgd", "adam", "adamax", "nadam", "adagrad", "rmsprop", "adadelta"]


def _flat(a):
    return a.ravel()  # as reshape(-1) (a view of contiguous memory), at a third of its call cost


# --- SGD ------------------------------------------------------------------------------------------------


@kernel
def _sgd_plain(theta, grad, lr, wd, sign):
    dt = theta.dtype.type
    lr, wd, sign = dt(lr), dt(wd), dt(sign)
    for i in range(theta.size):
        theta[i] -= lr * (sign * grad[i] + wd * theta[i])


@kernel
def _sgd_momentum(theta, grad, buf, lr, wd, sign, momentum, damp, nesterov, first):
    dt = theta.dtype.type
    lr, wd, sign, mu, keep = dt(lr), dt(wd), dt(sign), dt(momentum), dt(1.0 - damp)
    if first:  # b_1 = g_1, undamped
        mu_b, keep = dt(0.0), dt(1.0)
    else:
        mu_b = mu
    mu_n = mu if nesterov else dt(0.0)
    step_b = dt(0.0) if nesterov else dt(1.0)
    step_g = dt(1.0) if nesterov else dt(0.0)
    for i in range(theta.size):
        g = sign * grad[i] + wd * theta[i]
        b = mu_b * buf[i] + keep * g
        buf[i] = b
        theta[i] -= lr * (step_g * g + mu_n * b + step_b * b)


def sgd(thetas, grads, states, group) -> None:
    """SGD with (Nesterov) momentum, dampening, weight decay and maximize, in one pass (see ``optim.SGD``)."""
    lr, wd = float(group["lr"]), float(group["weight_decay"])
    sign = -1.0 if group["maximize"] else 1.0
    momentum = float(group["momentum"])
    damp, nesterov = float(group["dampening"]), bool(group["nesterov"])
    for theta, grad, state in zip(thetas, grads, states):
        if momentum == 0:
            _sgd_plain(theta.ravel(), grad.ravel(), lr, wd, sign)
            continue
        buf = state.get("momentum_buffer")
        first = buf is None
        if first:
            buf = state["momentum_buffer"] = np.zeros_like(theta)  # read as 0·b, so no garbage (NaN) in it
        _sgd_momentum(_flat(theta), _flat(grad), _flat(buf), lr, wd, sign, momentum, damp, nesterov, first)


# --- the Adam family ---------------------------------------------------------------------------------------


@kernel
def _adam(theta, grad, m, v, vmax, lr, wd, decay, sign, beta1, beta2, eps, step, amsgrad):
    dt = theta.dtype.type
    root2 = np.sqrt(1.0 - beta2 ** step)
    scale = dt(lr * root2 / (1.0 - beta1 ** step))   # γ m̂/(√v̂ + ε) = γ √(1−β2^t)/(1−β1^t) · m/(√v + ε√(1−β2^t))
    eps_, keep = dt(eps * root2), dt(1.0 - decay)
    wd, sign, a1, b2, a2 = dt(wd), dt(sign), dt(1.0 - beta1), dt(beta2), dt(1.0 - beta2)
    for i in range(theta.size):
        th = theta[i] * keep                          # decoupled decay (AdamW): θ ← (1 − γλ) θ
        g = sign * grad[i] + wd * th
        mi = m[i] + a1 * (g - m[i])
        vi = b2 * v[i] + a2 * g * g
        m[i] = mi
        v[i] = vi
        if amsgrad:
            vi = max(vmax[i], vi)
            vmax[i] = vi
        theta[i] = th - scale * mi / (np.sqrt(vi) + eps_)


def adam(thetas, grads, states, group) -> None:
    """Adam / AdamW / AMSGrad in one pass (see ``optim.Adam``)."""
    lr, wd = float(group["lr"]), float(group["weight_decay"])
    beta1, beta2 = (float(b) for b in group["betas"])
    decoupled = wd != 0 and bool(group["decoupled_weight_decay"])
    amsgrad, eps, sign = bool(group["amsgrad"]), float(group["eps"]), -1.0 if group["maximize"] else 1.0
    for theta, grad, state in zip(thetas, grads, states):
        state["step"] = t = state["step"] + 1
        m, v = state["exp_avg"], state["exp_avg_sq"]
        if amsgrad:
            if "max_exp_avg_sq" not in state:  # amsgrad switched on after the state was created
                state["max_exp_avg_sq"] = v.copy()
            vmax = state["max_exp_avg_sq"]
        else:
            vmax = v
        _adam(_flat(theta), _flat(grad), _flat(m), _flat(v), _flat(vmax), lr, 0.0 if decoupled else wd,
              lr * wd if decoupled else 0.0, sign, beta1, beta2, eps, float(t), amsgrad)


@kernel
def _adamax(theta, grad, m, u, lr, wd, sign, beta1, beta2, eps, step):
    dt = theta.dtype.type
    scale = dt(lr / (1.0 - beta1 ** step))
    wd, sign, a1, b2, eps_ = dt(wd), dt(sign), dt(1.0 - beta1), dt(beta2), dt(eps)
    for i in range(theta.size):
        g = sign * grad[i] + wd * theta[i]
        mi = m[i] + a1 * (g - m[i])
        ui = max(b2 * u[i], abs(g) + eps_)
        m[i] = mi
        u[i] = ui
        theta[i] -= scale * mi / ui


def adamax(thetas, grads, states, group) -> None:
    """Adamax in one pass (see ``optim.Adamax``)."""
    beta1, beta2 = (float(b) for b in group["betas"])
    lr, wd, eps, sign = float(group["lr"]), float(group["weight_decay"]), float(group["eps"]), \
        -1.0 if group["maximize"] else 1.0
    for theta, grad, state in zip(thetas, grads, states):
        state["step"] = t = state["step"] + 1
        _adamax(_flat(theta), _flat(grad), _flat(state["exp_avg"]), _flat(state["exp_inf"]), lr, wd, sign, beta1,
                beta2, eps, float(t))


@kernel
def _nadam(theta, grad, m, v, wd, decay, sign, beta1, beta2, eps, bias2, coef_g, coef_m):
    dt = theta.dtype.type
    wd, keep, sign, a1, b2, a2 = dt(wd), dt(1.0 - decay), dt(sign), dt(1.0 - beta1), dt(beta2), dt(1.0 - beta2)
    bias2, eps_, cg, cm = dt(bias2), dt(eps), dt(coef_g), dt(coef_m)
    for i in range(theta.size):
        th = theta[i] * keep
        g = sign * grad[i] + wd * th
        mi = m[i] + a1 * (g - m[i])
        vi = b2 * v[i] + a2 * g * g
        m[i] = mi
        v[i] = vi
        d = np.sqrt(vi / bias2) + eps_
        theta[i] = th - cg * g / d - cm * mi / d


def nadam(thetas, grads, states, group) -> None:
    """NAdam in one pass (see ``optim.NAdam``)."""
    lr, wd = float(group["lr"]), float(group["weight_decay"])
    beta1, beta2 = (float(b) for b in group["betas"])
    psi, eps, sign = float(group["momentum_decay"]), float(group["eps"]), -1.0 if group["maximize"] else 1.0
    decoupled = wd != 0 and bool(group["decoupled_weight_decay"])
    for theta, grad, state in zip(thetas, grads, states):
        state["step"] = t = state["step"] + 1
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
        state["mu_product"] = mu_product = state["mu_product"] * mu
        _nadam(_flat(theta), _flat(grad), _flat(state["exp_avg"]), _flat(state["exp_avg_sq"]),
               0.0 if decoupled else wd, lr * wd if decoupled else 0.0, sign, beta1, beta2, eps, 1.0 - beta2 ** t,
               lr * (1.0 - mu) / (1.0 - mu_product), lr * mu_next / (1.0 - mu_product * mu_next))


# --- adaptive learning rates ----------------------------------------------------------------------------


@kernel
def _adagrad(theta, grad, s, clr, wd, sign, eps):
    dt = theta.dtype.type
    clr, wd, sign, eps_ = dt(clr), dt(wd), dt(sign), dt(eps)
    for i in range(theta.size):
        g = sign * grad[i] + wd * theta[i]
        si = s[i] + g * g
        s[i] = si
        theta[i] -= clr * g / (np.sqrt(si) + eps_)


def adagrad(thetas, grads, states, group) -> None:
    """Adagrad in one pass (see ``optim.Adagrad``)."""
    lr, decay, wd, eps = float(group["lr"]), float(group["lr_decay"]), float(group["weight_decay"]), \
        float(group["eps"])
    sign = -1.0 if group["maximize"] else 1.0
    for theta, grad, state in zip(thetas, grads, states):
        state["step"] = t = state["step"] + 1
        _adagrad(_flat(theta), _flat(grad), _flat(state["sum"]), lr / (1.0 + (t - 1) * decay), wd, sign, eps)


@kernel
def _rmsprop(theta, grad, v, gavg, buf, lr, wd, sign, alpha, eps, momentum, centered):
    dt = theta.dtype.type
    lr, wd, sign, al, a1, eps_, mu = dt(lr), dt(wd), dt(sign), dt(alpha), dt(1.0 - alpha), dt(eps), dt(momentum)
    for i in range(theta.size):
        g = sign * grad[i] + wd * theta[i]
        vi = al * v[i] + a1 * g * g
        v[i] = vi
        if centered:
            ga = gavg[i] + a1 * (g - gavg[i])
            gavg[i] = ga
            vi = vi - ga * ga
        d = g / (np.sqrt(vi) + eps_)
        if momentum > 0:
            d = mu * buf[i] + d
            buf[i] = d
        theta[i] -= lr * d


def rmsprop(thetas, grads, states, group) -> None:
    """RMSprop (centered, with momentum) in one pass (see ``optim.RMSprop``)."""
    centered, momentum = bool(group["centered"]), float(group["momentum"])
    lr, wd, alpha, eps = float(group["lr"]), float(group["weight_decay"]), float(group["alpha"]), float(group["eps"])
    sign = -1.0 if group["maximize"] else 1.0
    for theta, grad, state in zip(thetas, grads, states):
        state["step"] += 1
        v = state["square_avg"]
        gavg = buf = v
        if centered:
            if state.get("grad_avg") is None:  # centered switched on after the state was created
                state["grad_avg"] = np.zeros_like(theta)
            gavg = state["grad_avg"]
        if momentum > 0:
            if state.get("momentum_buffer") is None:
                state["momentum_buffer"] = np.zeros_like(theta)
            buf = state["momentum_buffer"]
        _rmsprop(_flat(theta), _flat(grad), _flat(v), _flat(gavg), _flat(buf), lr, wd, sign, alpha, eps, momentum,
                 centered)


@kernel
def _adadelta(theta, grad, v, u, lr, wd, sign, rho, eps):
    dt = theta.dtype.type
    lr, wd, sign, r, r1, eps_ = dt(lr), dt(wd), dt(sign), dt(rho), dt(1.0 - rho), dt(eps)
    for i in range(theta.size):
        g = sign * grad[i] + wd * theta[i]
        vi = r * v[i] + r1 * g * g
        v[i] = vi
        d = np.sqrt(u[i] + eps_) / np.sqrt(vi + eps_) * g   # Δ = √(u + ε)/√(v + ε) · g
        u[i] = r * u[i] + r1 * d * d
        theta[i] -= lr * d


def adadelta(thetas, grads, states, group) -> None:
    """Adadelta in one pass (see ``optim.Adadelta``)."""
    lr, wd, rho, eps = float(group["lr"]), float(group["weight_decay"]), float(group["rho"]), float(group["eps"])
    sign = -1.0 if group["maximize"] else 1.0
    for theta, grad, state in zip(thetas, grads, states):
        state["step"] += 1
        _adadelta(_flat(theta), _flat(grad), _flat(state["square_avg"]), _flat(state["acc_delta"]), lr, wd, sign,
                  rho, eps)
