"""Backprop by the notes' delta equations, in the four modes, checked against autodiff.

Part 1 trains the same multilayer perceptron (2-8-1, tanh hidden units,
sigmoid output, cross-entropy) on the "XOR quadrants" problem (the label is 1
where x1·x2 > 0) with each mode of the notes ("BackProp incremental o batch"):

    batch        one update per epoch, from all N samples
    minibatch    one update per block of B samples (N/B updates per epoch)
    incremental  one update per sample, in random order (N updates per epoch)
    online       one update per sample, in the order the samples come

Part 2 takes networks with every differentiable activation, copies their
weights into neurona tensors, computes the same loss with the autodiff engine
and prints the largest difference between the two gradients.

Run: python examples/delta_rule_vs_autodiff.py [--epochs 200]   (about 10 s)
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import neurona
from neurona.classic import ClassicMLP


def xor_quadrants(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 2))
    return X, (X[:, :1] * X[:, 1:] > 0).astype(float)


def part1_modes(epochs: int = 200, n: int = 200) -> dict:
    """Train the same network in each mode; return {mode: {"history", "val_accuracy"}}."""
    X, T = xor_quadrants(n, seed=0)
    Xv, Tv = xor_quadrants(1000, seed=1)
    settings = {"batch": dict(lr=2.0), "minibatch": dict(lr=0.5, batch_size=20),
                "incremental": dict(lr=0.1), "online": dict(lr=0.1)}
    marks = sorted({m for m in (1, 10, 50, 100) if m < epochs} | {epochs})
    print(f"Part 1: 2-8-1 MLP (tanh, sigmoid, cross-entropy), N = {len(X)} samples, {epochs} epochs, same start")
    print(f"{'mode':12s} {'lr':>5s} {'updates/epoch':>14s}  " + "  ".join(f"q@{m:<4d}" for m in marks)
          + f"  {'val acc':>7s}  {'time':>6s}")
    results = {}
    for mode, kw in settings.items():
        net = ClassicMLP([2, 8, 1], activations="tanh", output="sigmoid", loss="cross_entropy", seed=0)
        start = time.perf_counter()
        history = net.fit(X, T, epochs=epochs, mode=mode, seed=0, **kw)
        seconds = time.perf_counter() - start
        updates = {"batch": 1, "minibatch": -(-len(X) // kw.get("batch_size", 1))}.get(mode, len(X))
        acc = float(((net.predict(Xv) > 0.5) == (Tv > 0.5)).mean())
        results[mode] = {"history": history, "val_accuracy": acc}
        print(f"{mode:12s} {kw['lr']:5.2f} {updates:14d}  " + "  ".join(f"{history[m - 1]:.4f}" for m in marks)
              + f"  {acc:7.3f}  {seconds:5.2f}s")
    print("(q@k: mean loss q_S over the training set after epoch k)\n")
    return results


# the same networks written with the engine's primitives only
HIDDEN = {
    "identity": lambda a: a,
    "sigmoid": neurona.sigmoid,
    "tanh": neurona.tanh,
    "relu": neurona.relu,
    "leaky_relu": lambda a: neurona.where(a > 0, a, a * 0.01),
    "elu": lambda a: neurona.where(a > 0, a, neurona.exp(a) - 1),
    "softsign": lambda a: a * (1 + neurona.abs(a)) ** -1,
}


def autodiff_gradients(net, X, T, hidden, output, loss):
    weights = [neurona.tensor(w, requires_grad=True, dtype=np.float64) for w in net.get_weights()]
    z, Tt, N = neurona.tensor(X, dtype=np.float64), neurona.tensor(T, dtype=np.float64), len(X)
    for l in range(net.L):
        a = z @ weights[2 * l].T + weights[2 * l + 1]
        z = hidden(a)
    lse = neurona.logsumexp(a, axis=1, keepdims=True)
    if output == "softmax" and loss == "cross_entropy":
        q = -(Tt * (a - lse)).sum() * (1 / N)
    elif output == "sigmoid" and loss == "cross_entropy":
        s = neurona.sigmoid(a)
        q = -(Tt * neurona.log(s) + (1 - Tt) * neurona.log(1 - s)).sum() * (1 / N)
    else:
        s = a if output == "linear" else neurona.exp(a - lse)
        q = ((s - Tt) ** 2).sum() * (0.5 / N)
    q.backward()
    return [w.grad.array for w in weights]


def part2_gradients() -> float:
    """Compare the two gradients for every hidden activation and output head; return the largest difference."""
    heads = [("linear", "squared_error", 2), ("softmax", "squared_error", 3),
             ("sigmoid", "cross_entropy", 2), ("softmax", "cross_entropy", 3)]
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32, 4))
    print("Part 2: max |delta-rule gradient - autodiff gradient| over all weights, 4-6-5-M_L network, float64")
    print(f"{'hidden':12s}" + "".join(f"{o + '+' + l:>28s}" for o, l, _ in heads))
    worst = 0.0
    for name, hidden in HIDDEN.items():
        row = []
        for output, loss, M_L in heads:
            net = ClassicMLP([4, 6, 5, M_L], activations=name, output=output, loss=loss, seed=1)
            if output == "linear":
                T = rng.standard_normal((len(X), M_L))
            else:
                T = np.eye(M_L)[rng.integers(0, M_L, len(X))]
            mine = net.backward(X, T).as_list()
            theirs = autodiff_gradients(net, X, T, hidden, output, loss)
            diff = max(float(np.abs(m - t).max()) for m, t in zip(mine, theirs))
            worst = max(worst, diff)
            row.append(diff)
        print(f"{name:12s}" + "".join(f"{d:28.2e}" for d in row))
    print(f"largest difference: {worst:.2e}  ({'agree' if worst < 1e-6 else 'DISAGREE'} to 1e-6)")
    return worst


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=200, help="epochs of part 1, for every mode")
    ap.add_argument("--samples", type=int, default=200, help="training samples N of part 1")
    args = ap.parse_args(argv)
    modes = part1_modes(args.epochs, args.samples)
    return {"modes": modes, "max_gradient_difference": part2_gradients()}


if __name__ == "__main__":
    raise SystemExit(0 if main()["max_gradient_difference"] < 1e-6 else 1)
