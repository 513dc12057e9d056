"""Train the notes' MLP on Fashion-MNIST with ``fit``, callbacks and a safe model file.

The recipe of the notes, step by step:

1. inputs standardized with statistics of the training split only,
   x̂ = (x − μ)/sqrt(σ² + ε) ("Normalización de las entradas");
2. a validation split held out for early stopping ("parar el entrenamiento
   antes de que el error del set validación empiece a aumentar");
3. the pyramid MLP 784-300-100-10 with ReLU, trained with Adam (lr 1e-3)
   on mini-batches of 128, through ``neurona.train.fit`` with
   ``EarlyStopping``, ``ModelCheckpoint`` and ``CSVLogger``;
4. test accuracy, per-class report and confusion matrix;
5. the model saved with its preprocessing and loaded back (no pickle).

The same epoch is also written as a plain loop (``one_epoch_by_hand``) to
show what ``fit`` does for each batch.

By default it uses the small Fashion-MNIST subset shipped with neurona
(3,000 training images, about 20 s); ``--full`` uses the full 60,000/10,000
images when they are installed (``apt-get install dataset-fashion-mnist``;
about 15 s per epoch on one CPU core). Files go to ``runs/fit_fashion_mnist/``.

Run: python examples/fit_fashion_mnist.py [--full] [--epochs 20]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import neurona
from neurona import io, nn, optim, plot
from neurona.data import CLASSES, DataLoader, Standardizer, fashion_mnist, fashion_mnist_small, train_val_split
from neurona.models import MLP
from neurona.train import CSVLogger, EarlyStopping, ModelCheckpoint, evaluate, fit, metrics, predict


def load(full: bool):
    if full:
        x_train, y_train = fashion_mnist("train", as_float=True, layout="flat")
        x_test, y_test = fashion_mnist("test", as_float=True, layout="flat")
    else:
        x_train, y_train = fashion_mnist_small("train", as_float=True, layout="flat", warn=False)
        x_test, y_test = fashion_mnist_small("test", as_float=True, layout="flat", warn=False)
    return x_train, y_train, x_test, y_test


def one_epoch_by_hand(model, loss_fn, optimizer, loader) -> float:
    """What fit runs for each batch: forward, loss, backward, update (the notes' BackProp, mini-batch)."""
    model.train()
    total, n = 0.0, 0
    for xb, yb in loader:
        optimizer.zero_grad()           # forget the previous batch's gradients
        loss = loss_fn(model(xb), yb)   # forward pass and q(Θ) on the batch
        loss.backward()                 # ∂q/∂θ for every parameter
        optimizer.step()                # θ ← update(θ, ∂q/∂θ)
        total += float(loss.item()) * len(xb)
        n += len(xb)
    return total / n


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true", help="use the full data set (must be installed)")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--out", default="runs/fit_fashion_mnist")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    x_train, y_train, x_test, y_test = load(args.full)
    x_train, x_val, y_train, y_val = train_val_split(x_train, y_train, val_fraction=0.1, seed=0)
    scaler = Standardizer(axis=(0, 1)).fit(x_train)  # one μ and σ over all pixels of the training split
    x_train, x_val, x_test = (scaler.transform(a).astype(np.float32) for a in (x_train, x_val, x_test))
    print(f"{len(x_train):,} training, {len(x_val):,} validation, {len(x_test):,} test images")

    neurona.manual_seed(0)
    model = MLP(784, (300, 100), 10, activation="relu")
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    print(model)

    # the plain loop first, for one epoch, on a copy of the model
    neurona.manual_seed(0)
    copy = MLP(784, (300, 100), 10)
    loader = DataLoader((x_train, y_train), batch_size=128, shuffle=True, seed=0)
    start = time.perf_counter()
    loss = one_epoch_by_hand(copy, loss_fn, optim.Adam(copy.parameters(), lr=1e-3), loader)
    print(f"one epoch by hand: mean training loss {loss:.4f} ({time.perf_counter() - start:.1f}s)")

    # the same training with fit: validation, early stopping, checkpoints and a CSV log
    history = fit(model, loss_fn, optimizer, (x_train, y_train), val=(x_val, y_val), epochs=args.epochs,
                  batch_size=128, seed=0, metrics=["accuracy"],
                  callbacks=[EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True),
                             ModelCheckpoint(out / "best.npz", monitor="val_accuracy", save_best_only=True),
                             CSVLogger(out / "history.csv")])
    best_epoch, best = history.best("val_loss")
    print(f"fit ran {len(history)} epochs; epoch 1 logged loss {history['loss'][0]:.4f}, the same as the loop "
          f"by hand; best epoch {best_epoch + 1} (val_loss {best:.4f})")

    test = evaluate(model, loss_fn, (x_test, y_test))
    print(f"test loss {test['loss']:.4f}, test accuracy {test['accuracy']:.4f}")
    scores = predict(model, x_test)
    print(metrics.classification_report(y_test, scores, CLASSES))

    path = io.save(model, out / "model.npz", preprocessing=scaler, dataset="fashion-mnist" if args.full else
                   "fashion-mnist-small", class_names=list(CLASSES), test_accuracy=test["accuracy"])
    again = io.load(path)
    same = np.array_equal(predict(again, x_test), scores)
    print(f"saved {path} and loaded it back: identical predictions: {same}")

    if plot.available():
        plot.learning_curves(history, out / "learning_curves.png", title="MLP 784-300-100-10 on Fashion-MNIST")
        plot.confusion_matrix(metrics.confusion_matrix(y_test, scores), CLASSES, out / "confusion_matrix.png")
        print(f"plots in {out}/: learning_curves.png, confusion_matrix.png")
    else:
        print("plots skipped: matplotlib is not installed")
    return {"history": history, "test_accuracy": test["accuracy"], "hand_loss": loss, "reloaded_same": same,
            "model_path": path}


if __name__ == "__main__":
    main()
