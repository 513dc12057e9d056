"""Import a network trained and exported by PyTorch, freeze it, and train a new head in neurona.

    python examples/onnx_finetune_pytorch.py                     # the PyTorch CNN of examples/assets
    python examples/onnx_finetune_pytorch.py --onnx model.onnx   # any PyTorch-exported 1x28x28 classifier
    python examples/onnx_finetune_pytorch.py --quick             # embedded subset: a smoke test

``examples/assets/fashion_cnn_torch.onnx`` is a small CNN that PyTorch
trained on Fashion-MNIST's classes 0-4 (tops, trousers, dresses, coats) and
exported with ``torch.onnx.export`` (``record_fashion_cnn_torch.py`` beside
it made it). The new task is classes 5-9 (sandals, shirts, sneakers, bags,
ankle boots), with only ``--per-class`` labelled images of each:

1. ``neurona.onnx.load`` turns the graph into a neurona module whose
   convolutions and linear layers are neurona layers holding PyTorch's
   weights (checked: its accuracy on classes 0-4 is PyTorch's);
2. ``models.freeze`` fixes them and ``models.replace_head`` puts a new
   ``Linear(64, 5)`` in place of the last layer. Trained alone, the new head
   reads 64 features that PyTorch shaped to tell tops apart; training the
   hidden linear layer before it too (the convolutions stay frozen) lets
   the classifier adapt to footwear and bags;
3. for comparison, the same architecture with fresh weights trains entirely
   on the same few images, for the same number of epochs.

Measured with the defaults (50 images per class, 20 epochs, full test set):
new head alone 0.76, new head + hidden layer 0.93, from scratch 0.88; with
20 images per class: 0.60, 0.89 and 0.83.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import neurona
import neurona.onnx
from neurona import models, nn, optim
from neurona.data import fashion_mnist
from neurona.train import evaluate, fit

ASSET = Path(__file__).resolve().parent / "assets" / "fashion_cnn_torch.onnx"


def task(x, y, classes, per_class=None, seed=0):
    """The images of ``classes`` (labels renumbered 0..k-1), optionally only ``per_class`` of each."""
    rng = np.random.default_rng(seed)
    keep = [np.flatnonzero(y == c) for c in classes]
    if per_class is not None:
        keep = [rng.choice(k, per_class, replace=False) for k in keep]
    keep = np.sort(np.concatenate(keep))
    return x[keep], np.searchsorted(np.asarray(classes), y[keep])


def fresh_weights(model: nn.Module) -> nn.Module:
    """The same layers with newly drawn weights (each layer's own initialization)."""
    for m in model.modules():
        if m is not model and hasattr(m, "reset_parameters"):
            m.reset_parameters()
    return model


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--onnx", default=str(ASSET), help="a PyTorch-exported classifier of 1x28x28 images")
    ap.add_argument("--per-class", type=int, default=50, help="labelled images per class of the new task")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--quick", action="store_true", help="embedded subset, fewer epochs")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.quick:
        args.epochs, args.per_class = 8, min(args.per_class, 20)

    x, y = fashion_mnist("train", as_float=True, layout="NCHW", subset=args.quick)
    xt, yt = fashion_mnist("test", as_float=True, layout="NCHW", subset=args.quick)
    loss_fn = nn.CrossEntropyLoss()

    # 1. PyTorch's network, as neurona layers
    model = neurona.onnx.load(args.onnx)
    print(f"imported {args.onnx}:")
    print(model)
    acc_a = evaluate(model, loss_fn, task(xt, yt, [0, 1, 2, 3, 4]))["accuracy"]
    print(f"classes 0-4 (what PyTorch trained it on): test accuracy {acc_a:.3f}")

    # 2. frozen body, new head for classes 5-9
    xb, yb = task(x, y, [5, 6, 7, 8, 9], per_class=args.per_class, seed=args.seed)
    xb_test, yb_test = task(xt, yt, [5, 6, 7, 8, 9])
    print(f"classes 5-9: {len(xb)} labelled images, {args.epochs} epochs")
    results = {}
    for name, also in (("new head", False), ("new head + hidden layer", True)):
        neurona.manual_seed(args.seed)
        net = neurona.onnx.load(args.onnx)
        models.freeze(net)
        head = models.replace_head(net, 5)
        if also:  # the Linear layer that feeds the head trains too
            linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
            models.unfreeze(linears[-2])
        trainable = [p for p in net.parameters() if p.requires_grad]
        fit(net, loss_fn, optim.Adam(trainable, lr=args.lr), (xb, yb), epochs=args.epochs, batch_size=32,
            seed=args.seed, verbose=0)
        results[name] = evaluate(net, loss_fn, (xb_test, yb_test))["accuracy"]
        print(f"  {name} ({head.in_features}->5): {sum(p.array.size for p in trainable):,} of "
              f"{net.num_parameters():,} parameters trained, test accuracy {results[name]:.3f}")

    # 3. the same architecture from scratch, same images and budget
    neurona.manual_seed(args.seed)
    scratch = fresh_weights(neurona.onnx.load(args.onnx))
    models.replace_head(scratch, 5)
    fit(scratch, loss_fn, optim.Adam(scratch.parameters(), lr=args.lr), (xb, yb), epochs=args.epochs,
        batch_size=32, seed=args.seed, verbose=0)
    acc_scratch = evaluate(scratch, loss_fn, (xb_test, yb_test))["accuracy"]
    print(f"  from scratch: {scratch.num_parameters():,} parameters trained, test accuracy {acc_scratch:.3f} "
          f"({len(xb_test):,} test images)")
    return {"task_a": acc_a, "head": results["new head"], "head_and_hidden": results["new head + hidden layer"],
            "scratch": acc_scratch}


if __name__ == "__main__":
    main()
