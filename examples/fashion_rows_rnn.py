"""Fashion-MNIST read row by row by an LSTM or a GRU (many-to-one: images as sequences).

    python examples/fashion_rows_rnn.py --cell lstm            # 28 steps of 28 pixels, hidden 128, 15 epochs
    python examples/fashion_rows_rnn.py --cell gru --epochs 20
    python examples/fashion_rows_rnn.py --quick                # 3,000 embedded images, 1 epoch: a smoke test
    neurona train --model lstm --hidden 128                    # the same as a run folder (or --model gru)

Each image is a sequence of its 28 rows; the recurrent layer reads one row
(28 pixel values) per step, and its hidden state after the last row — which
has seen the whole image — is classified by a Linear layer. Adam with a
cosine learning-rate schedule, batch 128. The test accuracy after each epoch,
a confusion matrix and the wall time are printed at the end.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import neurona
from neurona import models, nn, optim
from neurona.data import CLASSES, fashion_mnist
from neurona.train import LearningRateScheduler, evaluate, fit, predict


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n: int) -> np.ndarray:
    """Counts m[true, predicted]."""
    m = np.zeros((n, n), np.int64)
    np.add.at(m, (y_true, y_pred), 1)
    return m


def print_confusion(m: np.ndarray, names) -> None:
    w = max(len(s) for s in names)
    print(" " * (w + 1) + " ".join(f"{s[:5]:>5s}" for s in names))
    for name, row in zip(names, m):
        print(f"{name:>{w}s} " + " ".join(f"{v:5d}" for v in row))


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cell", choices=["lstm", "gru", "rnn"], default="lstm")
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="embedded 3,000-image subset, 1 epoch")
    args = ap.parse_args(argv)

    neurona.manual_seed(args.seed)
    x_train, y_train = fashion_mnist("train", as_float=True, layout="NHW", subset=args.quick)
    x_test, y_test = fashion_mnist("test", as_float=True, layout="NHW", subset=args.quick)
    mean, std = float(x_train.mean()), float(x_train.std())
    x_train = (x_train - np.float32(mean)) / np.float32(std)
    x_test = (x_test - np.float32(mean)) / np.float32(std)
    epochs = 1 if args.quick else args.epochs

    model = models.SequenceClassifier(28, args.hidden, 10, cell=args.cell, num_layers=args.layers)
    print(f"{args.cell.upper()} {args.layers}x{args.hidden} reading 28 rows of 28 pixels: "
          f"{model.num_parameters():,} parameters; {len(x_train):,} training images", flush=True)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    schedule = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    loss_fn = nn.CrossEntropyLoss()

    start = time.perf_counter()
    history = fit(model, loss_fn, optimizer, (x_train, y_train), val=(x_test, y_test), epochs=epochs,
                  batch_size=args.batch_size, seed=args.seed, verbose=2, clip_grad_norm=5.0,
                  callbacks=[LearningRateScheduler(schedule)])
    wall = time.perf_counter() - start
    result = evaluate(model, loss_fn, (x_test, y_test))
    pred = predict(model, x_test, batch_size=1000).argmax(axis=1)
    print_confusion(confusion_matrix(y_test, pred, 10), CLASSES)
    print(f"{args.cell.upper()} test accuracy {result['accuracy']:.4f} after {epochs} epochs; wall time "
          f"{wall / 60:.1f} min ({wall / epochs:.0f} s per epoch, test evaluation included)", flush=True)
    return {"history": history, "test_accuracy": result["accuracy"], "wall_s": wall}


if __name__ == "__main__":
    main()
