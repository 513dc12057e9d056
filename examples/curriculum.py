"""Curriculum learning and weight noise on Fashion-MNIST: two of the notes' ways to avoid bad minima.

    python examples/curriculum.py             # MLP 784-300-100-10, 6 epochs per run, full Fashion-MNIST
    python examples/curriculum.py --quick     # embedded subset: a smoke test

"Aprender primero las muestras más fáciles (Curriculum learning)" and
"Añadir ruido durante el entrenamiento". The difficulty of each training
image is the loss of a small reference model (a softmax regression trained
for one epoch). The same MLP (same initial weights, optimizer and epochs)
is then trained four ways:

- plain: every image, shuffled, every epoch;
- curriculum (subset): epoch 0 uses the easiest 30 % of the images, the
  share grows linearly to all of them at epoch 3 (shuffled within);
- curriculum (weighted): every epoch draws N images, easy ones more often
  (p ∝ exp(−β·rank), β from 4 down to 0 at epoch 3);
- weight noise: every training forward pass sees W + N(0, 0.01²).

Printed: test accuracy after each epoch, images seen and wall time.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import neurona
from neurona import models, nn, optim
from neurona.data import fashion_mnist
from neurona.nn.noise import add_weight_noise
from neurona.train import Callback, evaluate, fit
from neurona.train.curriculum import CurriculumCallback, CurriculumLoader, CurriculumSampler, loss_difficulty


class TestAccuracy(Callback):
    def __init__(self, test):
        self.test, self.acc, self.seen = test, [], 0

    def on_batch_end(self, batch, logs=None):
        self.seen += logs["size"]

    def on_epoch_end(self, epoch, logs=None):
        self.acc.append(evaluate(self.model, None, self.test)["accuracy"])


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="embedded subset, 3 epochs")
    args = ap.parse_args(argv)
    Xtr, ytr = fashion_mnist("train", as_float=True, layout="flat", subset=args.quick)
    Xte, yte = fashion_mnist("test", as_float=True, layout="flat", subset=args.quick)
    mean, std = np.float32(Xtr.mean()), np.float32(Xtr.std())
    Xtr, Xte = (Xtr - mean) / std, (Xte - mean) / std
    epochs = 3 if args.quick else args.epochs
    loss_fn = nn.CrossEntropyLoss()

    neurona.manual_seed(args.seed)
    reference = nn.Linear(784, 10)  # softmax regression
    fit(reference, loss_fn, optim.Adam(reference.parameters(), 1e-3), (Xtr, ytr), epochs=1, batch_size=128,
        seed=args.seed, verbose=0)
    difficulty = loss_difficulty(reference, Xtr, ytr)
    q = np.quantile(difficulty, [0.1, 0.5, 0.9])
    print(f"difficulty = reference model's loss per image: 10/50/90 % quantiles {q[0]:.3f} / {q[1]:.3f} / {q[2]:.3f}")
    by_class = [float(np.mean(difficulty[ytr == c])) for c in range(10)]
    print("mean difficulty per class: " + ", ".join(f"{c}:{d:.2f}" for c, d in enumerate(by_class)))

    def run(name, data, callbacks=(), setup=None):
        neurona.manual_seed(args.seed + 1)
        model = models.MLP(784, [300, 100], 10)
        if setup is not None:
            setup(model)
        probe = TestAccuracy((Xte, yte))
        start = time.perf_counter()
        fit(model, loss_fn, optim.Adam(model.parameters(), 1e-3), data, epochs=epochs, batch_size=128,
            seed=args.seed, verbose=0, callbacks=list(callbacks) + [probe])
        wall = time.perf_counter() - start
        print(f"{name:24s} " + " ".join(f"{a:.4f}" for a in probe.acc) + f"   images seen {probe.seen:>9,}  "
              f"{wall:5.1f} s", flush=True)
        return {"name": name, "accuracy": probe.acc, "seen": probe.seen, "seconds": wall}

    print(f"\ntest accuracy after each of {epochs} epochs:")
    results = [run("plain", (Xtr, ytr))]
    s = CurriculumSampler(difficulty, start_fraction=0.3, full_epoch=3, seed=args.seed)
    results.append(run("curriculum (subset)", CurriculumLoader((Xtr, ytr), s, batch_size=128),
                       [CurriculumCallback(s)]))
    w = CurriculumSampler(difficulty, mode="weighted", beta=4.0, full_epoch=3, seed=args.seed)
    results.append(run("curriculum (weighted)", CurriculumLoader((Xtr, ytr), w, batch_size=128),
                       [CurriculumCallback(w)]))
    results.append(run("weight noise σ=0.01", (Xtr, ytr), setup=lambda m: add_weight_noise(m, std=0.01)))
    return {"results": results}


if __name__ == "__main__":
    main()
