"""Forward values and the notes' deltas δ of every neuron, for one input point.

For a plain network (no residual connection) this is ``neurona.classic``'s
:class:`~neurona.classic.ClassicMLP`, the notes' BackProp written literally,
given the playground network's weights:

    φ^(l) = W^(l) s^(l−1) + w0^(l),   s^(l) = g(φ^(l))              (forward)
    δ^(L) = g'(φ^(L)) ⊙ ∂q/∂s^(L)                                    (output layer)
    δ^(l) = g'(φ^(l)) ⊙ W^(l+1)ᵀ δ^(l+1)                             (hidden layers)

with δ^(l) = ∂q_n/∂φ^(l) (the notes' δ_i = (t_i − s_i) g'(φ_i) with the opposite
sign; see ``neurona/classic/losses.py``). A residual layer s^(l) = g(φ^(l)) + s^(l−1)
adds the skip's share to the gradient that reaches s^(l−1):

    δ^(l) = g'(φ^(l)) ⊙ e^(l),   e^(l−1) = W^(l)ᵀ δ^(l) + e^(l) [if layer l is residual]
    e^(L−1) = W^(L)ᵀ δ^(L)

where e^(l) = ∂q_n/∂s^(l). Batch normalization is shown as the network computes
in evaluation mode, an affine map of each unit folded into W^(l) and w0^(l), so
φ^(l) is the normalized pre-activation; dropout is off. The values agree with
autodiff's ∂q/∂φ (the tests check it).
"""
from __future__ import annotations

import numpy as np

from ..classic import ClassicMLP, get_activation
from ..classic.losses import LOSSES

__all__ = ["folded_layers", "point_deltas"]

_CLASSIC_ACT = {"relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid", "linear": "identity"}


def folded_layers(model) -> list[tuple[np.ndarray, np.ndarray, bool]]:
    """[(W^(l), w0^(l), residual)] in float64, each BatchNorm (running statistics) folded into its layer."""
    out = []
    for layer in model.layers:
        W = layer.linear.weight.array.astype(np.float64)
        b = layer.linear.bias.array.astype(np.float64)
        bn = layer.norm
        if bn is not None:
            # γ (φ − μ)/sqrt(σ² + ε) + β is affine in φ: scale the rows of W and shift the bias
            k = bn.weight.array.astype(np.float64) / np.sqrt(bn.running_var.array.astype(np.float64) + bn.eps)
            b = k * (b - bn.running_mean.array.astype(np.float64)) + bn.bias.array.astype(np.float64)
            W = W * k[:, None]
        out.append((W, b, layer.residual))
    out.append((model.output.weight.array.astype(np.float64), model.output.bias.array.astype(np.float64), False))
    return out


def _setup(model, task: str, loss: str):
    output = "softmax" if task == "classification" else "identity"
    loss_name = loss if task == "classification" else "squared_error"
    return output, loss_name


def point_deltas(model, x_raw, target, task: str, loss: str) -> dict:
    """φ^(l), s^(l) and δ^(l) of every layer for the point ``x_raw`` (its 2 raw coordinates) and its target.

    ``target``: the class index (classification) or the value the network is
    trained on (regression). Returns ``{"inputs": s^(0), "layers": [{"phi", "s",
    "delta"}, ...] (hidden layers then the output layer), "loss": q_n,
    "method": "classic" | "residual"}`` with plain lists of floats.
    """
    from ..creation import from_numpy
    from ..engine import no_grad

    x = np.asarray(x_raw, dtype=model.output.weight.array.dtype).reshape(1, 2)
    with no_grad():
        s0 = model.inputs(from_numpy(x)).array.astype(np.float64)
    layers = folded_layers(model)
    output, loss_name = _setup(model, task, loss)
    act = _CLASSIC_ACT[model.activation]
    T = np.array([int(target)]) if task == "classification" else np.array([[float(target)]])
    if not any(res for _, _, res in layers):
        sizes = [s0.shape[1]] + [W.shape[0] for W, _, _ in layers]
        net = ClassicMLP(sizes, activations=act, output=output, loss=loss_name, seed=None)
        net.set_weights([w for W, b, _ in layers for w in (W, b)])
        grads = net.backward(s0, T)
        fwd = net.forward(s0)
        phis, ss, deltas = fwd.a[1:], fwd.z[1:], grads.delta[1:]
        q, method = grads.loss, "classic"
    else:
        phis, ss, deltas, q = _residual_backprop(s0, layers, act, output, loss_name, T)
        method = "residual"
    return {"inputs": _row(s0), "layers": [{"phi": _row(p), "s": _row(s), "delta": _row(d)}
                                           for p, s, d in zip(phis, ss, deltas)],
            "loss": float(q), "method": method}


def _residual_backprop(s0, layers, act_name, output, loss_name, T):
    """The delta recursion above, for layers with skip connections (one sample, rows as in ClassicMLP)."""
    g = get_activation(act_name)
    h_out = get_activation(output)
    loss = LOSSES[loss_name]()
    L = len(layers)
    if output == "softmax":
        T = np.eye(layers[-1][0].shape[0])[T]
    s, phis, ss = s0, [], []
    for l, (W, b, res) in enumerate(layers):
        phi = s @ W.T + b
        z = (h_out if l == L - 1 else g)(phi)
        if res:
            z = z + s
        phis.append(phi)
        ss.append(z)
        s = z
    deltas = [None] * L
    deltas[L - 1] = loss.delta(phis[-1], ss[-1], T, h_out)          # δ^(L) = ∂q/∂φ^(L)
    e = deltas[L - 1] @ layers[L - 1][0]                            # e^(L−1) = W^(L)ᵀ δ^(L)
    for l in range(L - 2, -1, -1):
        W, _, res = layers[l]
        deltas[l] = g.derivative(phis[l], g(phis[l])) * e           # δ^(l) = g'(φ^(l)) ⊙ e^(l)
        e = deltas[l] @ W + (e if res else 0)                        # e^(l−1) = W^(l)ᵀ δ^(l) + e^(l) [residual]
    q = loss.value(phis[-1], ss[-1], T, h_out)
    return phis, ss, deltas, q


def _row(a) -> list:
    return [float(v) for v in np.asarray(a).reshape(-1)]
