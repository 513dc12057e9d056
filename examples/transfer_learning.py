"""Transfer learning (the notes' "Transferencia del aprendizaje") on Fashion-MNIST.

    python examples/transfer_learning.py            # LeNet-5; about a minute on a laptop CPU
    python examples/transfer_learning.py --quick    # embedded 3,000-image subset: a smoke test

Task A: classes 0-4 (T-shirt, trouser, pullover, dress, coat), plenty of data.
Task B: classes 5-9 (sandal, shirt, sneaker, bag, ankle boot), only a few
labelled images per class and a small training budget.

1. Train a network on task A.
2. For task B, build the same architecture, load A's weights by name
   (``models.load_weights``, which checks every shape; with
   ``skip_mismatched=True`` a head for another number of classes would be
   skipped), put a new 5-class head (``models.replace_head``: B's classes
   are not A's) and fine-tune everything,
   the body and the head in two optimizer parameter groups
   (``models.param_groups``; ``--body-lr`` below ``--lr`` changes the
   pretrained filters more gently, which pays when the tasks are close) —
   or train the new head alone on a frozen body (``--freeze``).
3. Train the same architecture on task B from scratch with the same budget.

The filters learned on A (edges, textures, shapes) are useful for B, so the
transferred network beats the one trained from scratch. Measured with the
defaults (LeNet-5, 50 images per class, 15 epochs): 0.91 test accuracy after
transfer against 0.88 from scratch; with 20 images per class and 5 epochs,
0.66 against 0.60. Footwear and bags look little like tops, so a frozen
body (``--freeze``) is not enough here: the body must adapt.
"""
from __future__ import annotations

import argparse

import numpy as np

import neurona
from neurona import models, nn, optim
from neurona.data import fashion_mnist
from neurona.train import evaluate, fit


def subset(x, y, classes, per_class=None, seed=0):
    """The images of ``classes`` (labels renumbered 0..k-1), optionally only ``per_class`` of each."""
    rng = np.random.default_rng(seed)
    keep = []
    for c in classes:
        idx = np.flatnonzero(y == c)
        keep.append(idx if per_class is None else rng.choice(idx, per_class, replace=False))
    keep = np.sort(np.concatenate(keep))
    return x[keep], np.searchsorted(np.asarray(classes), y[keep])


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description="fine-tune a Fashion-MNIST network from classes 0-4 to classes 5-9")
    ap.add_argument("--model", default="lenet5", help="lenet5, cnn-small, resnet18, ...")
    ap.add_argument("--per-class", type=int, default=50, help="labelled training images per class of task B")
    ap.add_argument("--pretrain-epochs", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=15, help="training budget on task B (epochs over its few images)")
    ap.add_argument("--lr", type=float, default=1e-3, help="learning rate of the new head")
    ap.add_argument("--body-lr", type=float, default=1e-3, help="learning rate of the pretrained body")
    ap.add_argument("--freeze", action="store_true", help="train only the new head on a frozen body")
    ap.add_argument("--quick", action="store_true",
                    help="embedded subset: a smoke test of the steps, too little data for a meaningful comparison")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.quick:
        args.pretrain_epochs, args.epochs, args.per_class = 8, 8, min(args.per_class, 20)

    x, y = fashion_mnist("train", as_float=True, layout="NCHW", subset=args.quick)
    xt, yt = fashion_mnist("test", as_float=True, layout="NCHW", subset=args.quick)
    xa, ya = subset(x, y, [0, 1, 2, 3, 4])
    xb, yb = subset(x, y, [5, 6, 7, 8, 9], per_class=args.per_class, seed=args.seed)
    xb_test, yb_test = subset(xt, yt, [5, 6, 7, 8, 9])
    loss_fn = nn.CrossEntropyLoss()

    def build(seed):
        neurona.manual_seed(seed)
        return models.build_model(args.model, num_classes=5, in_channels=1, input_size=28)

    # 1. task A
    source = build(args.seed)
    print(f"task A (classes 0-4): {len(xa):,} images, {args.pretrain_epochs} epochs")
    fit(source, loss_fn, optim.Adam(source.parameters(), lr=1e-3), (xa, ya), epochs=args.pretrain_epochs,
        batch_size=128, seed=args.seed, verbose=0)
    acc_a = evaluate(source, loss_fn, subset(xt, yt, [0, 1, 2, 3, 4]))["accuracy"]
    print(f"  task A test accuracy {acc_a:.3f}")

    # 2. transfer to task B
    print(f"task B (classes 5-9): {len(xb)} labelled images, {args.epochs} epochs")
    transferred = build(args.seed + 1)
    report = models.load_weights(transferred, source)
    head = models.replace_head(transferred, 5)  # a fresh head: B's classes are not A's
    if args.freeze:
        models.freeze(transferred)
        models.unfreeze(head)
        opt = optim.Adam([p for p in transferred.parameters() if p.requires_grad], lr=args.lr)
    else:
        opt = optim.Adam(models.param_groups(transferred, lr=args.lr, body_lr=args.body_lr))
    print(f"  loaded {len(report.loaded)} tensors from the task-A network; new head {head}")
    fit(transferred, loss_fn, opt, (xb, yb), epochs=args.epochs, batch_size=32, seed=args.seed, verbose=0)
    acc_transfer = evaluate(transferred, loss_fn, (xb_test, yb_test))["accuracy"]

    # 3. from scratch, same budget
    scratch = build(args.seed + 1)
    fit(scratch, loss_fn, optim.Adam(scratch.parameters(), lr=args.lr), (xb, yb), epochs=args.epochs,
        batch_size=32, seed=args.seed, verbose=0)
    acc_scratch = evaluate(scratch, loss_fn, (xb_test, yb_test))["accuracy"]

    print(f"task B test accuracy: transfer {acc_transfer:.3f}  vs  from scratch {acc_scratch:.3f} "
          f"({len(xb_test):,} test images)")
    return {"task_a": acc_a, "transfer": acc_transfer, "scratch": acc_scratch}


if __name__ == "__main__":
    main()
