"""Semantic segmentation ("clasificación píxel a píxel") of Fashion-MNIST scenes with a U-Net.

    python examples/segmentation.py            # 10,000 training canvases, 6 epochs
    python examples/segmentation.py --quick    # the embedded subset, 1,000 canvases, 3 epochs at a higher rate

Each 64 × 64 canvas holds 1-4 Fashion-MNIST items at random places (``neurona.vision.fashion_canvases``,
reproducible from a seed; training canvases from the training split, test canvases from the test split).
Every pixel is labelled with the class of the item it belongs to, or background: 11 classes. A U-Net
(``neurona.models.UNet``) learns to label every pixel; its loss is the per-pixel cross-entropy plus the
soft Dice loss (which keeps the small classes from being swamped by the background). The score is the
mean intersection over union (mIoU) over the 11 classes on held-out canvases.

The recipe is ``neurona.vision.tasks`` (also ``neurona train --model unet``). Writes, into ``--out``:
``segmentation.png`` (inputs, true labels, predicted labels), ``model.npz`` (``neurona info`` describes it),
``metrics.json`` and ``iou.txt``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from neurona import io
from neurona.vision import tasks


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description="segment Fashion-MNIST scenes with a U-Net; report mIoU")
    ap.add_argument("--train", type=int, default=None, help="training canvases (10,000; 1,000 with --quick)")
    ap.add_argument("--test", type=int, default=None, help="held-out canvases (2,000; 200 with --quick)")
    ap.add_argument("--size", type=int, default=64, help="canvas side in pixels")
    ap.add_argument("--epochs", type=int, default=None, help="6 (3 with --quick)")
    ap.add_argument("--batch-size", type=int, default=None, help="32")
    ap.add_argument("--lr", type=float, default=None, help="Adam's rate, cosine-annealed to 0 (2e-3; 1e-2 with --quick)")
    ap.add_argument("--base-channels", type=int, default=None, help="channels of the first level (16; 8 with --quick)")
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--upsampling", default="transpose", choices=["transpose", "bilinear"])
    ap.add_argument("--dice", type=float, default=1.0, help="weight of the Dice loss beside the cross-entropy")
    ap.add_argument("--out", default="runs/segmentation")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="the embedded subset and smaller settings")
    args = ap.parse_args(argv)
    o = tasks.task_options("unet", {
        "data": "fashion-mnist-small" if args.quick else "fashion-mnist", "train_size": args.train,
        "test_size": args.test, "canvas_size": args.size, "epochs": args.epochs, "batch_size": args.batch_size,
        "lr": args.lr, "hidden": args.base_channels, "depth": args.depth, "upsampling": args.upsampling,
        "dice": args.dice, "seed": args.seed})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    result = tasks.run_task("unet", o)
    print("IoU per class: " + ", ".join(f"{n} {v:.3f}" for n, v in result.metrics["test_iou"].items()))
    print(result.summary)
    figures = tasks.write_figures("unet", result, out)
    io.save(result.model, out / "model.npz", **result.meta, test={"miou": result.metrics["test_miou"]})
    (out / "iou.txt").write_text(result.report)
    metrics = {**result.metrics, "history": result.history, "figures": figures, "options": o}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"files in {out}/: " + ", ".join([Path(f).name for f in figures] + ["model.npz", "metrics.json", "iou.txt"]))
    return metrics


if __name__ == "__main__":
    main()
