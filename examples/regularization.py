"""Regularization against overfitting: L2, L1, dropout and early stopping, train vs validation curves.

The notes' recipe against "una red neuronal muy compleja ⇒ OVERFITTING":

- L2: minimize q(Θ) + λ/2 Σ θ² (small weights everywhere);
- L1: minimize q(Θ) + λ Σ |θ| (many weights exactly small, a sparse network);
- Dropout: "apagar activaciones aleatoriamente durante el entrenamiento";
- Early stopping: stop "antes de que el error del set validación empiece a
  aumentar" and keep the weights of the best epoch.

To make overfitting visible, a large MLP (784-256-256-10) is trained on only
500 images of the small Fashion-MNIST subset, five ways, from the same
initial weights and on the same mini-batches. Without regularization the
training loss goes to ~0 while the validation loss turns upward; each
remedy narrows that gap. The figure shows, for each variant, training and
validation loss per epoch; the table gives the final gap, the validation
and test accuracy and the size of the weights (Σθ² and the fraction of
|θ| < 10⁻³, which L1 drives up). Early stopping here watches the validation
loss, which bottoms out after a few epochs: it stops earliest, with the
smallest gap but not the best accuracy; the validation *error*
(``monitor="val_accuracy"``) usually keeps improving for longer.

Run: python examples/regularization.py [--epochs 40] [--out runs/regularization.png]   (about 15 s)
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import neurona
from neurona import nn, optim, plot
from neurona.data import DataLoader, Standardizer, fashion_mnist_small, train_val_split
from neurona.models import MLP
from neurona.train import EarlyStopping, evaluate, fit, weight_penalty

VARIANTS = {
    "none": {},
    "L2 (λ=1e-3)": {"penalty": weight_penalty(l2=1e-3)},
    "L1 (λ=1e-4)": {"penalty": weight_penalty(l1=1e-4)},
    "dropout 0.5": {"dropout": 0.5},
    "early stopping": {"early_stopping": True},
}


COLUMNS = ("epochs", "train_loss", "val_loss", "val_accuracy", "test_accuracy", "sum_sq_weights", "frac_small")


def main(argv: list[str] | None = None) -> dict:
    """Train the five variants; return {variant: {column: value}} for the COLUMNS of the printed table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--train-size", type=int, default=500)
    ap.add_argument("--out", default="runs/regularization.png", help="where to save the curves ('' for none)")
    args = ap.parse_args(argv)

    x, y = fashion_mnist_small("train", as_float=True, layout="flat", warn=False)
    x_test, y_test = fashion_mnist_small("test", as_float=True, layout="flat", warn=False)
    x_rest, x_val, y_rest, y_val = train_val_split(x, y, val_fraction=0.2, seed=0)
    x_train, y_train = x_rest[:args.train_size], y_rest[:args.train_size]
    scaler = Standardizer(axis=(0, 1)).fit(x_train)
    x_train, x_val, x_test = (scaler.transform(a).astype(np.float32) for a in (x_train, x_val, x_test))
    print(f"{len(x_train)} training images (few, on purpose), {len(x_val)} validation, {len(x_test)} test")

    histories, rows = {}, []
    for name, v in VARIANTS.items():
        neurona.manual_seed(0)  # same initial weights for all (dropout layers have no weights)
        model = MLP(784, [256, 256], 10, dropout=v.get("dropout", 0.0))
        callbacks = [EarlyStopping(monitor="val_loss", patience=5, verbose=0)] if v.get("early_stopping") else []
        loader = DataLoader((x_train, y_train), batch_size=64, shuffle=True, seed=0)
        h = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3), loader, val=(x_val, y_val),
                epochs=args.epochs, penalty=v.get("penalty"), callbacks=callbacks, verbose=0)
        histories[name] = h
        final_train = evaluate(model, nn.CrossEntropyLoss(), (x_train, y_train))
        final_val = evaluate(model, nn.CrossEntropyLoss(), (x_val, y_val))
        test = evaluate(model, None, (x_test, y_test))["accuracy"]
        w = np.concatenate([p.array.ravel() for n, p in model.named_parameters() if n.endswith("weight")])
        rows.append((name, len(h), final_train["loss"], final_val["loss"], final_val["accuracy"], test,
                     float((w ** 2).sum()), float(np.mean(np.abs(w) < 1e-3))))

    print(f"\n{'variant':<15} {'epochs':>6} {'train loss':>10} {'val loss':>9} {'val acc':>8} {'test acc':>9} "
          f"{'Σθ²':>8} {'|θ|<1e-3':>9}")
    for r in rows:
        print(f"{r[0]:<15} {r[1]:>6} {r[2]:>10.4f} {r[3]:>9.4f} {r[4]:>8.4f} {r[5]:>9.4f} {r[6]:>8.1f} {r[7]:>9.1%}")
    results = {r[0]: dict(zip(COLUMNS, r[1:])) for r in rows}

    if not args.out:
        return results
    if not plot.available():
        print("plots skipped: matplotlib is not installed")
        return results
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4 * len(histories), 3.8), layout="constrained")
    axes = fig.subplots(1, len(histories), sharey=True)
    for ax, (name, h) in zip(axes, histories.items()):
        epochs = np.arange(1, len(h) + 1)
        ax.plot(epochs, h["loss"], label="train")
        ax.plot(epochs, h["val_loss"], "--", label="validation")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.set_ylim(0, 2.0)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("cross-entropy loss")
    axes[0].legend()
    fig.suptitle(f"MLP 784-256-256-10 on {len(x_train)} Fashion-MNIST images: train vs validation loss")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    plot.save_figure(fig, args.out)
    print(f"\ncurves written to {args.out}")
    return results


if __name__ == "__main__":
    main()
