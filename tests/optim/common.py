"""What the optimizer tests share: the recorded PyTorch fixture and a NumPy MLP with its gradients.

The network matches ``tests/fixtures/record_optim.py``: out = tanh(x W1ᵀ + b1) W2ᵀ + b2
with the mean squared error. Its gradients are written out by hand here, so
that the optimizer tests do not depend on the engine's backward.
"""
from __future__ import annotations

import json
import os

import numpy as np

import neurona
import neurona.optim as optim
from neurona.nn import Parameter

FIXTURE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures",
                       "optim_trajectories.npz")
NAMES = ("w1", "b1", "w2", "b2")
STEPS = 20


def load_fixture() -> dict[str, np.ndarray]:
    with np.load(FIXTURE, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def configs(fx: dict, prefix: str = "") -> dict[str, dict]:
    """``{key: config}`` for the recorded runs whose key starts with ``prefix``."""
    return {k[: -len("/config")]: json.loads(str(fx[k])) for k in sorted(fx)
            if k.endswith("/config") and k.startswith(prefix) and not k.startswith("sched/")}


def mlp_grads(p: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """∂L/∂θ of L = mean((tanh(x W1ᵀ + b1) W2ᵀ + b2 - y)²), by the chain rule."""
    h = np.tanh(x @ p["w1"].T + p["b1"])
    out = h @ p["w2"].T + p["b2"]
    d_out = 2.0 * (out - y) / out.size            # ∂L/∂out
    d_pre = (d_out @ p["w2"]) * (1.0 - h * h)     # δ of the hidden layer: tanh' = 1 - tanh²
    return {"w1": d_pre.T @ x, "b1": d_pre.sum(0), "w2": d_out.T @ h, "b2": d_out.sum(0)}


def make_params(fx: dict, dtype=np.float64) -> dict[str, Parameter]:
    return {k: Parameter(neurona.from_numpy(fx[f"init/{k}"].astype(dtype))) for k in NAMES}


def make_optimizer(cfg: dict, params: dict[str, Parameter]) -> optim.Optimizer:
    cls = getattr(optim, cfg["optim"])
    if cfg["groups"] is None:
        spec = [params[k] for k in NAMES]
    else:
        spec = [{**g, "params": [params[k] for k in g["params"]]} for g in cfg["groups"]]
    return cls(spec, **cfg["kwargs"])


def set_grads(params: dict[str, Parameter], x: np.ndarray, y: np.ndarray) -> None:
    dtype = params["w1"].array.dtype
    grads = mlp_grads({k: p.array for k, p in params.items()}, x.astype(dtype), y.astype(dtype))
    for k, p in params.items():
        p.grad = neurona.from_numpy(grads[k].astype(dtype))


def train(opt: optim.Optimizer, params: dict[str, Parameter], fx: dict, steps: int) -> None:
    for _ in range(steps):
        opt.zero_grad()
        set_grads(params, fx["x"], fx["y"])
        opt.step()
