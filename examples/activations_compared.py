"""The notes' activation functions compared: the same MLP on two interleaved spirals.

Each run trains a 2-32-32-2 network (same data, same seed, same optimizer) in
which only the hidden activation g changes: the notes' SIGMOID, TANGENTE
HIPERBÓLICA, RÁPIDA (softsign, z/(1+|z|)), RELU, LeakyReLU, PReLU, ELU and
Maxout ("Funciones de activación (1)"), plus GELU. The output layer gives
logits and the loss is the fused softmax + cross-entropy (nn.CrossEntropyLoss).
Training is full-batch gradient descent with momentum, written out as the
update rule itself: v ← μ v + ∂L/∂θ, θ ← θ − ρ v.

It prints, per activation, the final training loss, training and test
accuracy and the time taken, and saves the learning curves to
``runs/activations_compared.png`` when matplotlib is installed. What to look for:
sigmoid learns slowest (its derivative is at most 1/4, so gradients shrink
layer after layer: the notes' "parálisis de la red"); the ReLU family and
maxout, whose derivative is 1 on their active side, learn fastest.

Run: python examples/activations_compared.py [--epochs 600] [--out curves.png]   (about 10 s)
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import neurona
from neurona import nn


def two_spirals(n_per_class: int, noise: float, seed: int):
    """Two interleaved spirals in the plane: class 0 and its copy rotated by 180°."""
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.uniform(0.0, 1.0, n_per_class)) * 3 * np.pi  # angle, denser towards the centre
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (3 * np.pi)
    x = np.concatenate([arm, -arm]) + rng.normal(0.0, noise, (2 * n_per_class, 2))
    y = np.repeat([0, 1], n_per_class)
    order = rng.permutation(2 * n_per_class)
    return x[order].astype(np.float32), y[order]


def make_model(activation: str) -> nn.Module:
    """2-32-32-2 MLP with the given hidden activation (maxout: layers of 32 units, 2 pieces each)."""
    if activation == "maxout":
        return nn.Sequential(nn.Maxout(2, 32, pool_size=2), nn.Maxout(32, 32, pool_size=2), nn.Linear(32, 2))
    make = {
        "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "softsign": nn.Softsign, "relu": nn.ReLU,
        "leaky_relu": lambda: nn.LeakyReLU(0.1), "prelu": lambda: nn.PReLU(32), "elu": nn.ELU, "gelu": nn.GELU,
    }[activation]
    return nn.Sequential(nn.Linear(2, 32), make(), nn.Linear(32, 32), make(), nn.Linear(32, 2))


def accuracy(model: nn.Module, x, y) -> float:
    with neurona.no_grad():
        return float((model(x).array.argmax(axis=1) == y).mean())


def train(activation: str, x, y, epochs: int, lr: float, momentum: float, seed: int):
    neurona.manual_seed(seed)  # the same initial draws for every activation
    model = make_model(activation)
    criterion = nn.CrossEntropyLoss()
    params = list(model.parameters())
    velocity = [np.zeros_like(p.array) for p in params]
    losses = []
    for _ in range(epochs):
        model.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        for p, v in zip(params, velocity):
            v *= momentum
            v += p.grad.array
            p.array -= lr * v
        losses.append(loss.item())
    return model, losses


def main(argv: list[str] | None = None) -> dict:
    """Train one network per activation; return {activation: {"losses", "train_accuracy", "test_accuracy"}}."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=600)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/activations_compared.png",
                        help="where to save the learning curves ('' for no figure)")
    args = parser.parse_args(argv)

    x_train, y_train = two_spirals(200, noise=0.03, seed=1)
    x_test, y_test = two_spirals(500, noise=0.03, seed=2)
    x_train, x_test = neurona.tensor(x_train), neurona.tensor(x_test)
    activations = ["sigmoid", "tanh", "softsign", "relu", "leaky_relu", "prelu", "elu", "gelu", "maxout"]

    print(f"Two spirals: {len(y_train)} training and {len(y_test)} test points; 2-32-32-2 MLP, "
          f"{args.epochs} full-batch steps, lr {args.lr}, momentum {args.momentum}")
    print(f"{'activation':12s} {'final loss':>10s} {'train acc':>9s} {'test acc':>8s} {'time':>6s}")
    curves, results = {}, {}
    for name in activations:
        start = time.perf_counter()
        model, losses = train(name, x_train, y_train, args.epochs, args.lr, args.momentum, args.seed)
        seconds = time.perf_counter() - start
        curves[name] = losses
        results[name] = {"losses": losses, "train_accuracy": accuracy(model, x_train, y_train),
                         "test_accuracy": accuracy(model, x_test, y_test)}
        print(f"{name:12s} {losses[-1]:10.4f} {results[name]['train_accuracy']:9.3f} "
              f"{results[name]['test_accuracy']:8.3f} {seconds:5.1f}s")
    if not args.out:
        return results

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot saved (pip install matplotlib)")
        return results
    fig, ax = plt.subplots(figsize=(8, 5))
    for name, losses in curves.items():
        ax.plot(losses, label=name, linestyle="--" if name in ("sigmoid", "tanh", "softsign") else "-")
    ax.set_yscale("log")
    ax.set_xlabel("step (full batch)")
    ax.set_ylabel("cross-entropy (training)")
    ax.set_title("Same MLP, same data, different hidden activation g")
    ax.legend(ncol=3)
    fig.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=120)
    plt.close(fig)
    print(f"learning curves saved to {args.out}")
    return results


if __name__ == "__main__":
    main()
