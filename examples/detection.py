"""Object detection ("localizar e identificar objetos") in Fashion-MNIST scenes with a single-stage grid detector.

    python examples/detection.py            # 10,000 training canvases, 8 epochs
    python examples/detection.py --quick    # the embedded subset, 1,000 canvases, 3 epochs

The scenes are the segmentation example's: 64 × 64 canvases with 1-4 Fashion-MNIST items, now labelled
with a box (the tight box around each item) and a class. The detector (``neurona.models.GridDetector``,
YOLO v1 style) cuts the image into 8 × 8 cells; the cell holding an item's centre predicts its
objectness, box and class (``neurona.vision.GridBoxCoder``). At test time the confident boxes are kept
and duplicates removed by non-maximum suppression; the score is the mean average precision at IoU 0.5
over the 10 classes (``neurona.vision.mean_average_precision``, equal to pycocotools' AP@0.5).

The recipe is ``neurona.vision.tasks`` (also ``neurona train --model grid-detector``). Writes, into
``--out``: ``detection.png`` (predicted boxes on held-out canvases, true boxes dotted), ``model.npz``
(``neurona info`` describes it), ``metrics.json`` and ``ap.txt``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from neurona import io
from neurona.vision import tasks


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description="detect Fashion-MNIST items in scenes with a grid detector; report mAP@0.5")
    ap.add_argument("--train", type=int, default=None, help="training canvases (10,000; 1,000 with --quick)")
    ap.add_argument("--test", type=int, default=None, help="held-out canvases (2,000; 200 with --quick)")
    ap.add_argument("--size", type=int, default=64, help="canvas side in pixels (a multiple of 8)")
    ap.add_argument("--epochs", type=int, default=None, help="8 (3 with --quick)")
    ap.add_argument("--batch-size", type=int, default=None, help="32")
    ap.add_argument("--lr", type=float, default=None, help="Adam's rate, cosine-annealed to 0 (2e-3)")
    ap.add_argument("--width", type=int, default=None, help="channels of the first layer, then x2, x4, x8 (16; 8 "
                                                            "with --quick)")
    ap.add_argument("--iou-threshold", type=float, default=0.5, help="NMS: suppress same-class boxes above this IoU")
    ap.add_argument("--out", default="runs/detection")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="the embedded subset and smaller settings")
    args = ap.parse_args(argv)
    o = tasks.task_options("grid-detector", {
        "data": "fashion-mnist-small" if args.quick else "fashion-mnist", "train_size": args.train,
        "test_size": args.test, "canvas_size": args.size, "epochs": args.epochs, "batch_size": args.batch_size,
        "lr": args.lr, "hidden": args.width, "iou_threshold": args.iou_threshold, "seed": args.seed})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    result = tasks.run_task("grid-detector", o)
    print("AP@0.5 per class: " + ", ".join(f"{n} {v:.3f}" for n, v in result.metrics["test_ap50"].items()))
    print(result.summary)
    figures = tasks.write_figures("grid-detector", result, out)
    io.save(result.model, out / "model.npz", **result.meta, test={"map50": result.metrics["test_map50"]})
    (out / "ap.txt").write_text(result.report)
    metrics = {**result.metrics, "history": result.history, "figures": figures, "options": o}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"files in {out}/: " + ", ".join([Path(f).name for f in figures] + ["model.npz", "metrics.json", "ap.txt"]))
    return metrics


if __name__ == "__main__":
    main()
