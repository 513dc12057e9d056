"""Object detection ("localizar e identificar objetos") on Fashion-MNIST scenes with a single-stage grid detector.

    python examples/detection.py            # 10,000 training canvases, 8 epochs
    python examples/detection.py --quick    # the embedded subset, fewer canvases and epochs: a smoke test

The scenes are the segmentation example's: 64 × 64 canvases with 1-4 Fashion-MNIST items, now labelled
with a box (the tight box around each item) and a class. The detector (``neurona.models.GridDetector``,
YOLO v1 style) cuts the image into 8 × 8 cells; the cell holding an item's centre predicts its
objectness, box and class (``neurona.vision.GridBoxCoder``). At test time the confident boxes are kept
and duplicates removed by non-maximum suppression; the score is the mean average precision at IoU 0.5
over the 10 classes (``neurona.vision.mean_average_precision``, equal to pycocotools' AP@0.5).

Writes, into ``--out``: ``detection.png`` (predicted boxes on held-out canvases, true boxes dotted),
``model.npz`` (``neurona info`` describes it) and ``metrics.json``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import neurona
from neurona import io, models, optim
from neurona.data.fashion import CLASSES
from neurona.vision import GridDetectionLoss, fashion_canvases, mean_average_precision

SHORT = ["T-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"]
COLOURS = ["#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6", "#bcf60c",
           "#fabebe"]


def plot(canvases, detections, path: Path, n: int = 8, min_score: float = 0.3) -> str | None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Rectangle
    except ImportError:
        print("matplotlib is not installed: figure skipped (pip install 'neurona[plot]')")
        return None
    n = min(n, len(canvases))
    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 3.0 * rows))
    axes = np.asarray(axes).reshape(-1)
    for k in range(n):
        ax = axes[k]
        ax.imshow(canvases.images[k, 0], cmap="gray", vmin=0, vmax=1)
        for (x1, y1, x2, y2) in canvases.boxes[k]:
            ax.add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, ec="white", ls=":", lw=1))
        d = detections[k]
        for (x1, y1, x2, y2), s, c in zip(d["boxes"], d["scores"], d["labels"]):
            if s < min_score:
                continue
            ax.add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, ec=COLOURS[c], lw=1.5))
            ax.text(x1, y1 - 1, f"{SHORT[c]} {s:.2f}", color=COLOURS[c], fontsize=7, va="bottom")
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[n:]:
        ax.axis("off")
    fig.suptitle(f"grid detector: boxes scoring ≥ {min_score} (true boxes dotted)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description="detect Fashion-MNIST items in scenes with a grid detector; report mAP@0.5")
    ap.add_argument("--train", type=int, default=10000, help="training canvases")
    ap.add_argument("--test", type=int, default=2000, help="held-out canvases")
    ap.add_argument("--size", type=int, default=64, help="canvas side in pixels (a multiple of 8)")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--width", type=int, default=16, help="channels of the first layer (then x2, x4, x8)")
    ap.add_argument("--iou-threshold", type=float, default=0.5, help="NMS: suppress same-class boxes above this IoU")
    ap.add_argument("--out", default="runs/detection")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="embedded subset, 1,000 canvases, 3 epochs: a smoke test")
    args = ap.parse_args(argv)
    if args.quick:
        args.train, args.test, args.epochs = min(args.train, 1000), min(args.test, 200), min(args.epochs, 3)
        args.width = min(args.width, 8)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    train = fashion_canvases("train", args.train, size=args.size, seed=args.seed, subset=args.quick)
    test = fashion_canvases("test", args.test, size=args.size, seed=args.seed + 1, subset=args.quick)
    neurona.manual_seed(args.seed)
    model = models.GridDetector(num_classes=len(CLASSES), image_size=args.size, width=args.width)
    targets = model.coder.encode_batch(train.boxes, train.labels)
    lost = sum(len(b) for b in train.boxes) - int(targets[:, 0].sum())
    print(f"{len(train):,} training and {len(test):,} test canvases, {sum(len(b) for b in train.boxes):,} training "
          f"boxes ({lost} share a cell with a larger box and are not targets); grid {model.coder.grid_size}")
    print(f"grid detector, width {args.width}: {model.num_parameters():,} parameters")
    loss_fn = GridDetectionLoss()
    opt = optim.Adam(model.parameters(), lr=args.lr)
    steps = (len(train) + args.batch_size - 1) // args.batch_size
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs * steps)
    rng = np.random.default_rng(args.seed)
    history = []
    train_start = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        t0 = time.perf_counter()
        sums = {"loss": 0.0, "objectness": 0.0, "class": 0.0, "box": 0.0}
        order = rng.permutation(len(train))
        for s in range(0, len(order), args.batch_size):
            idx = order[s:s + args.batch_size]
            parts = loss_fn.parts(model(neurona.from_numpy(train.images[idx])), targets[idx])
            opt.zero_grad()
            parts["loss"].backward()
            opt.step()
            sched.step()
            for k in sums:
                sums[k] += parts[k].item() * len(idx)
        detections = model.detect(test.images, iou_threshold=args.iou_threshold)
        m = mean_average_precision(detections, test.targets(), iou_threshold=0.5)
        history.append({"epoch": epoch + 1, **{k: v / len(train) for k, v in sums.items()}, "test_map50": m["map"],
                        "seconds": time.perf_counter() - t0})
        print(f"epoch {epoch + 1}/{args.epochs}  loss {sums['loss'] / len(train):.4f} (objectness "
              f"{sums['objectness'] / len(train):.3f}, class {sums['class'] / len(train):.3f}, box "
              f"{sums['box'] / len(train):.3f})  test mAP@0.5 {m['map']:.4f}  {time.perf_counter() - t0:.0f} s")
    train_seconds = time.perf_counter() - train_start

    detections = model.detect(test.images, iou_threshold=args.iou_threshold)
    m = mean_average_precision(detections, test.targets(), iou_threshold=0.5)
    m75 = mean_average_precision(detections, test.targets(), iou_threshold=0.75)
    print("AP@0.5 per class: " + ", ".join(f"{SHORT[c]} {v:.3f}" for c, v in m["ap_per_class"].items()))
    print(f"test mAP@0.5 {m['map']:.4f} (mAP@0.75 {m75['map']:.4f}) over {len(test):,} held-out canvases, "
          f"{sum(len(b) for b in test.boxes):,} items; training {train_seconds:.0f} s for {args.epochs} epochs")
    figure = plot(test, detections, out / "detection.png")
    io.save(model, out / "model.npz", dataset="fashion-canvases", task="detection", input_shape=[1, args.size, args.size],
            class_names=list(CLASSES), epochs_trained=args.epochs, seed=args.seed, test={"map50": m["map"]})
    result = {"map50": m["map"], "map75": m75["map"], "ap50_per_class": {CLASSES[c]: v for c, v in
                                                                         m["ap_per_class"].items()},
              "epochs": args.epochs, "train_seconds": train_seconds, "train_canvases": len(train),
              "test_canvases": len(test), "parameters": model.num_parameters(), "history": history, "figure": figure}
    (out / "metrics.json").write_text(json.dumps(result, indent=2))
    print(f"files in {out}/: detection.png, model.npz, metrics.json")
    return result


if __name__ == "__main__":
    main()
