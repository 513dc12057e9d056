"""The notes' optimizers compared on one problem: SGD, momentum, Nesterov, Adagrad, Adadelta, RMSprop, Adam, ...

The notes present them as a progression ("SGD → Momentum → Nesterov →
AdaGrad → RMSProp → Adam → Nadam"): momentum turns the gradient into an
acceleration, Nesterov evaluates it a step ahead, AdaGrad divides each
coordinate by the root of its accumulated squared gradients, RMSprop
forgets old gradients (β = 0.9), Adam combines momentum and RMSprop with
bias correction, Nadam adds Nesterov to Adam. Their variants come along:
Adadelta (AdaGrad over a moving window, with no learning rate to tune),
AdaMax (Adam with the infinity norm) and AdamW (Adam whose weight decay
shrinks the weights directly). Here every optimizer trains the same MLP
784-128-10 (ReLU) from the same initial weights, on the same mini-batches
(same shuffling seed) of the small Fashion-MNIST subset, with the learning
rate the notes' Keras snippets use for it, and the learning curves are
drawn on one figure, as the notes do.

What to look for: plain SGD at this rate is by far the slowest; momentum
("la pelota rodando por una colina") and Nesterov close most of the gap;
the adaptive methods reach a low training loss from the first epochs
without tuning the rate (Adadelta has none to tune). On a problem this
small the differences among the fast ones are within the noise of the
validation curves: compare them over more epochs (``--epochs 30``) to see
AdaGrad's steps shrink as its accumulated squares grow ("a menudo se
detiene demasiado pronto").

Run: python examples/optimizers_compared.py [--epochs 10] [--out runs/optimizers_compared.png]   (about 10 s)
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import neurona
from neurona import nn, optim, plot
from neurona.data import DataLoader, Standardizer, fashion_mnist_small, train_val_split
from neurona.models import MLP
from neurona.train import evaluate, fit

# name -> (optimizer class, keyword arguments); rates as in the notes' snippets, 0.01 for the SGD family,
# and the libraries' defaults where the notes give none (Adadelta's 1.0 is a plain multiplier, AdaMax's 0.002)
OPTIMIZERS = {
    "SGD": (optim.SGD, dict(lr=0.01)),
    "Momentum": (optim.SGD, dict(lr=0.01, momentum=0.9)),
    "Nesterov": (optim.SGD, dict(lr=0.01, momentum=0.9, nesterov=True)),
    "Adagrad": (optim.Adagrad, dict(lr=0.01)),
    "Adadelta": (optim.Adadelta, dict(lr=1.0)),
    "RMSprop": (optim.RMSprop, dict(lr=0.001, alpha=0.9)),
    "Adam": (optim.Adam, dict(lr=0.001, betas=(0.9, 0.999))),
    "AdaMax": (optim.Adamax, dict(lr=0.002)),
    "Nadam": (optim.NAdam, dict(lr=0.001)),
    "AdamW": (optim.AdamW, dict(lr=0.001, weight_decay=0.01)),
}


def main(argv: list[str] | None = None) -> dict:
    """Train the same MLP with every optimizer; return {name: {"history", "test_accuracy"}}."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--train-size", type=int, default=None, help="use only the first N training images")
    ap.add_argument("--out", default="runs/optimizers_compared.png", help="where to save the curves ('' for none)")
    args = ap.parse_args(argv)

    x, y = fashion_mnist_small("train", as_float=True, layout="flat", warn=False)
    x_test, y_test = fashion_mnist_small("test", as_float=True, layout="flat", warn=False)
    x_train, x_val, y_train, y_val = train_val_split(x, y, val_fraction=0.2, seed=0)
    x_train, y_train = x_train[:args.train_size], y_train[:args.train_size]
    scaler = Standardizer(axis=(0, 1)).fit(x_train)
    x_train, x_val, x_test = (scaler.transform(a).astype(np.float32) for a in (x_train, x_val, x_test))

    histories, results = {}, {}
    print(f"{'optimizer':<10} {'lr':>6} {'train loss':>11} {'val acc':>8} {'test acc':>9} {'time':>6}")
    for name, (cls, kwargs) in OPTIMIZERS.items():
        neurona.manual_seed(0)  # the same initial weights for every optimizer
        model = MLP(784, [128], 10)
        loader = DataLoader((x_train, y_train), batch_size=64, shuffle=True, seed=0)  # the same batches too
        start = time.perf_counter()
        h = fit(model, nn.CrossEntropyLoss(), cls(model.parameters(), **kwargs), loader, val=(x_val, y_val),
                epochs=args.epochs, verbose=0)
        seconds = time.perf_counter() - start
        test = evaluate(model, None, (x_test, y_test))["accuracy"]
        histories[name] = h
        results[name] = {"history": h, "test_accuracy": test}
        print(f"{name:<10} {kwargs['lr']:>6g} {h['loss'][-1]:>11.4f} {h['val_accuracy'][-1]:>8.4f} {test:>9.4f} "
              f"{seconds:>5.1f}s")

    if not args.out:
        return results
    if plot.available():
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        plot.compare_curves(histories, args.out, metrics=("loss", "val_loss", "val_accuracy"),
                            title="Optimizers on Fashion-MNIST (subset), MLP 784-128-10")
        print(f"learning curves written to {args.out}")
    else:
        print("plots skipped: matplotlib is not installed")
    return results


if __name__ == "__main__":
    main()
