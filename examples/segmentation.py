"""Semantic segmentation ("clasificación píxel a píxel") of Fashion-MNIST scenes with a U-Net.

    python examples/segmentation.py            # 10,000 training canvases, 6 epochs
    python examples/segmentation.py --quick    # the embedded subset, a few hundred canvases: a smoke test

Each 64 × 64 canvas holds 1-4 Fashion-MNIST items at random places (``neurona.vision.fashion_canvases``,
reproducible from a seed; training canvases from the training split, test canvases from the test split).
Every pixel is labelled with the class of the item it belongs to, or background: 11 classes. A U-Net
(``neurona.models.UNet``) learns to label every pixel; its loss is the per-pixel cross-entropy plus the
soft Dice loss (which keeps the small classes from being swamped by the background). The score is the
mean intersection over union (mIoU) over the 11 classes on held-out canvases.

Writes, into ``--out``: ``segmentation.png`` (inputs, true labels, predicted labels), ``model.npz``
(``neurona info`` describes it) and ``metrics.json``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import neurona
from neurona import io, models, nn, optim
from neurona.vision import DiceLoss, SEGMENTATION_CLASSES, SegmentationScores, fashion_canvases

# background black, then one colour per Fashion-MNIST class
COLOURS = ["#000000", "#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6",
           "#bcf60c", "#fabebe"]


def predict_labels(model, images: np.ndarray, batch_size: int = 128) -> np.ndarray:
    """The class of every pixel: argmax of the U-Net's logits (eval mode, no graph)."""
    model.eval()
    out = []
    with neurona.no_grad():
        for s in range(0, len(images), batch_size):
            out.append(model(neurona.from_numpy(images[s:s + batch_size])).array.argmax(axis=1))
    return np.concatenate(out)


def plot(images, truth, pred, path: Path, n: int = 8) -> str | None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.colors import ListedColormap
        from matplotlib.patches import Patch
    except ImportError:
        print("matplotlib is not installed: figure skipped (pip install 'neurona[plot]')")
        return None
    cmap = ListedColormap(COLOURS)
    n = min(n, len(images))
    fig, axes = plt.subplots(3, n, figsize=(1.6 * n, 5.4))
    axes = np.asarray(axes).reshape(3, n)
    for j in range(n):
        axes[0, j].imshow(images[j, 0], cmap="gray", vmin=0, vmax=1)
        axes[1, j].imshow(truth[j], cmap=cmap, vmin=0, vmax=10, interpolation="nearest")
        axes[2, j].imshow(pred[j], cmap=cmap, vmin=0, vmax=10, interpolation="nearest")
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    for i, name in enumerate(("input", "truth", "U-Net")):
        axes[i, 0].set_ylabel(name)
    fig.legend(handles=[Patch(color=c, label=s) for c, s in zip(COLOURS, SEGMENTATION_CLASSES)], loc="lower center",
               ncol=6, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description="segment Fashion-MNIST scenes with a U-Net; report mIoU")
    ap.add_argument("--train", type=int, default=10000, help="training canvases")
    ap.add_argument("--test", type=int, default=2000, help="held-out canvases")
    ap.add_argument("--size", type=int, default=64, help="canvas side in pixels")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--base-channels", type=int, default=16)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--upsampling", default="transpose", choices=["transpose", "bilinear"])
    ap.add_argument("--dice", type=float, default=1.0, help="weight of the Dice loss beside the cross-entropy")
    ap.add_argument("--out", default="runs/segmentation")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="embedded subset, 256 canvases, 2 epochs: a smoke test")
    args = ap.parse_args(argv)
    if args.quick:
        args.train, args.test, args.epochs = min(args.train, 256), min(args.test, 64), min(args.epochs, 2)
        args.base_channels = min(args.base_channels, 8)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    train = fashion_canvases("train", args.train, size=args.size, seed=args.seed, subset=args.quick)
    test = fashion_canvases("test", args.test, size=args.size, seed=args.seed + 1, subset=args.quick)
    print(f"{len(train):,} training and {len(test):,} test canvases of {args.size}x{args.size} "
          f"({np.mean([len(b) for b in train.boxes]):.2f} items on average), {time.perf_counter() - start:.1f} s")

    neurona.manual_seed(args.seed)
    model = models.UNet(num_classes=len(SEGMENTATION_CLASSES), base_channels=args.base_channels, depth=args.depth,
                        upsampling=args.upsampling)
    print(f"U-Net, depth {args.depth}, {args.base_channels} base channels: {model.num_parameters():,} parameters")
    ce, dice = nn.CrossEntropyLoss(), DiceLoss()
    opt = optim.Adam(model.parameters(), lr=args.lr)
    steps = (len(train) + args.batch_size - 1) // args.batch_size
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs * steps)
    rng = np.random.default_rng(args.seed)
    history = []
    train_start = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        t0, total = time.perf_counter(), 0.0
        order = rng.permutation(len(train))
        for s in range(0, len(order), args.batch_size):
            idx = order[s:s + args.batch_size]
            logits = model(neurona.from_numpy(train.images[idx]))
            loss = ce(logits, train.masks[idx])
            if args.dice:
                loss = loss + dice(logits, train.masks[idx]) * args.dice
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        scores = SegmentationScores(len(SEGMENTATION_CLASSES))
        scores.update(predict_labels(model, test.images), test.masks)
        m = scores.compute()
        history.append({"epoch": epoch + 1, "loss": total / len(train), "test_miou": m["miou"],
                        "seconds": time.perf_counter() - t0})
        print(f"epoch {epoch + 1}/{args.epochs}  loss {total / len(train):.4f}  test mIoU {m['miou']:.4f}  "
              f"pixel accuracy {m['pixel_accuracy']:.4f}  {time.perf_counter() - t0:.0f} s")
    train_seconds = time.perf_counter() - train_start

    pred = predict_labels(model, test.images)
    scores = SegmentationScores(len(SEGMENTATION_CLASSES))
    scores.update(pred, test.masks)
    m = scores.compute()
    print("IoU per class: " + ", ".join(f"{n} {v:.3f}" for n, v in zip(SEGMENTATION_CLASSES, m["iou"])))
    print(f"test mIoU {m['miou']:.4f} over {len(test):,} held-out canvases (pixel accuracy "
          f"{m['pixel_accuracy']:.4f}); training {train_seconds:.0f} s for {args.epochs} epochs")
    figure = plot(test.images, test.masks, pred, out / "segmentation.png")
    io.save(model, out / "model.npz", dataset="fashion-canvases", task="segmentation",
            input_shape=[1, args.size, args.size], class_names=list(SEGMENTATION_CLASSES),
            epochs_trained=args.epochs, seed=args.seed, test={"miou": m["miou"]})
    result = {"miou": m["miou"], "iou": dict(zip(SEGMENTATION_CLASSES, [float(v) for v in m["iou"]])),
              "pixel_accuracy": m["pixel_accuracy"], "epochs": args.epochs, "train_seconds": train_seconds,
              "train_canvases": len(train), "test_canvases": len(test), "parameters": model.num_parameters(),
              "history": history, "figure": figure}
    (out / "metrics.json").write_text(json.dumps(result, indent=2))
    print(f"files in {out}/: segmentation.png, model.npz, metrics.json")
    return result


if __name__ == "__main__":
    main()
