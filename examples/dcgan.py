"""A small DCGAN on Fashion-MNIST: a generator and a discriminator trained against each other.

    python examples/dcgan.py            # the full training set, 4 epochs
    python examples/dcgan.py --quick    # the embedded subset, 3 epochs

The generator (``neurona.models.DCGANGenerator``) turns a code z ~ N(0, I) of 64 numbers into a 28 × 28
image through transposed convolutions; the discriminator (``neurona.models.DCGANDiscriminator``) says
whether an image is real. Each step trains the discriminator on a real and a generated batch and the
generator to fool it (``neurona.models.gan_step``), with DCGAN's recipe: N(0, 0.02) initial weights,
batch normalization, Adam with learning rate 2·10⁻⁴ and β₁ = 0.5, images scaled to [−1, 1].

After every epoch the generator draws the same 64 codes, so the figures show one set of images
taking shape. The recipe is ``neurona.vision.tasks`` (also ``neurona train --model dcgan``). Writes,
into ``--out``: ``samples_epoch_<k>.png`` (one grid per epoch), ``samples_per_epoch.png`` (the first 16
codes, one row per epoch), ``generator.npz``, ``discriminator.npz`` and ``metrics.json``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from neurona import io, plot
from neurona.vision import figures as F
from neurona.vision import tasks


def save_grid(images, path: Path, title: str) -> str | None:
    if not plot.available():
        return None
    F.image_grid_figure(images, 8, 8, title, path, value_range=(-1, 1))
    return str(path)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description="a small DCGAN on Fashion-MNIST, with a grid of samples per epoch")
    ap.add_argument("--epochs", type=int, default=None, help="4 (3 with --quick)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--latent", type=int, default=64)
    ap.add_argument("--width", type=int, default=32, help="channels of the discriminator's first layer")
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--limit", type=int, default=None, help="train on the first N images only")
    ap.add_argument("--out", default="runs/dcgan")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="the embedded subset, 3 epochs")
    args = ap.parse_args(argv)
    o = tasks.task_options("dcgan", {"data": "fashion-mnist-small" if args.quick else "fashion-mnist",
                                     "epochs": args.epochs, "batch_size": args.batch_size, "latent": args.latent,
                                     "hidden": args.width, "lr": args.lr, "limit": args.limit, "seed": args.seed})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    figures = []

    def on_epoch(epoch, samples):
        figures.append(save_grid(samples, out / f"samples_epoch_{epoch}.png", f"epoch {epoch}"))

    result = tasks.run_task("dcgan", o, on_epoch=on_epoch)
    figures += tasks.write_figures("dcgan", result, out)
    io.save(result.model, out / "generator.npz", **result.meta)
    io.save(result.models["discriminator"], out / "discriminator.npz", **{**result.meta, "task": "gan-discriminator",
                                                                          "input_shape": [1, 28, 28]})
    print(result.summary)
    metrics = {**result.metrics, "history": result.history, "figures": [f for f in figures if f], "options": o}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"files in {out}/: samples_epoch_*.png, samples_per_epoch.png, generator.npz, discriminator.npz, "
          f"metrics.json")
    return metrics


if __name__ == "__main__":
    main()
