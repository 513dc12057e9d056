"""A small DCGAN on Fashion-MNIST: a generator and a discriminator trained against each other.

    python examples/dcgan.py            # the full training set, 4 epochs
    python examples/dcgan.py --quick    # the embedded subset, 3 epochs: a smoke test

The generator (``neurona.models.DCGANGenerator``) turns a code z ~ N(0, I) of 64 numbers into a 28 × 28
image through transposed convolutions; the discriminator (``neurona.models.DCGANDiscriminator``) says
whether an image is real. Each step trains the discriminator on a real and a generated batch and the
generator to fool it (``neurona.models.gan_step``), with DCGAN's recipe: N(0, 0.02) initial weights,
batch normalization, Adam with learning rate 2·10⁻⁴ and β₁ = 0.5, images scaled to [−1, 1].

After every epoch the generator draws the same 64 codes, so the figures show one set of images
taking shape. Writes, into ``--out``: ``samples_epoch_<k>.png`` (one grid per epoch),
``samples_per_epoch.png`` (the first 16 codes, one row per epoch), ``generator.npz``,
``discriminator.npz`` and ``metrics.json``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import neurona
from neurona import io, models, optim
from neurona.data import fashion_mnist


def grid_image(images: np.ndarray, rows: int, cols: int) -> np.ndarray:
    h, w = images.shape[2:]
    return images[:rows * cols, 0].reshape(rows, cols, h, w).transpose(0, 2, 1, 3).reshape(rows * h, cols * w)


def save_grid(images: np.ndarray, path: Path, title: str, rows: int, cols: int) -> str | None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(0.55 * cols + 0.4, 0.55 * rows + 0.5))
    ax.imshow(grid_image((images + 1) / 2, rows, cols), cmap="gray", vmin=0, vmax=1)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description="a small DCGAN on Fashion-MNIST, with a grid of samples per epoch")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--latent", type=int, default=64)
    ap.add_argument("--width", type=int, default=32, help="channels of the discriminator's first layer")
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--limit", type=int, default=None, help="train on the first N images only")
    ap.add_argument("--out", default="runs/dcgan")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="embedded subset, 3 epochs: a smoke test")
    args = ap.parse_args(argv)
    if args.quick:
        args.epochs = min(args.epochs, 3)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    x, _ = fashion_mnist("train", as_float=True, layout="NCHW", subset=args.quick)
    if args.limit:
        x = x[:args.limit]
    x = x * 2.0 - 1.0  # the generator's tanh range

    neurona.manual_seed(args.seed)
    gen = models.DCGANGenerator(latent_dim=args.latent, width=args.width)
    disc = models.DCGANDiscriminator(width=args.width)
    opt_g = optim.Adam(gen.parameters(), lr=args.lr, betas=(0.5, 0.999))
    opt_d = optim.Adam(disc.parameters(), lr=args.lr, betas=(0.5, 0.999))
    print(f"{len(x):,} training images; generator {gen.num_parameters():,} and discriminator "
          f"{disc.num_parameters():,} parameters")
    rng = np.random.default_rng(args.seed)
    history, rows, figures = [], [], []
    start = time.perf_counter()
    for epoch in range(args.epochs):
        gen.train()
        disc.train()
        t0 = time.perf_counter()
        sums = {"loss_d": 0.0, "loss_g": 0.0, "d_real": 0.0, "d_fake": 0.0}
        order = rng.permutation(len(x))
        steps = 0
        for s in range(0, len(order) - args.batch_size + 1, args.batch_size):  # full batches (batch norm)
            step = models.gan_step(gen, disc, opt_g, opt_d, x[order[s:s + args.batch_size]], rng)
            for k in sums:
                sums[k] += step[k]
            steps += 1
        logs = {k: v / max(steps, 1) for k, v in sums.items()}
        samples = gen.sample(64, seed=args.seed).array  # the same 64 codes every epoch
        rows.append(samples[:16])
        figures.append(save_grid(samples, out / f"samples_epoch_{epoch + 1}.png", f"epoch {epoch + 1}", 8, 8))
        history.append({"epoch": epoch + 1, **logs, "seconds": time.perf_counter() - t0})
        print(f"epoch {epoch + 1}/{args.epochs}  D loss {logs['loss_d']:.3f}  G loss {logs['loss_g']:.3f}  "
              f"D(real) {logs['d_real']:.2f}  D(G(z)) {logs['d_fake']:.2f}  {time.perf_counter() - t0:.0f} s")
    seconds = time.perf_counter() - start
    if rows:
        figures.append(save_grid(np.concatenate(rows), out / "samples_per_epoch.png",
                                 "the same 16 codes after each epoch (one row per epoch)", len(rows), 16))
    io.save(gen, out / "generator.npz", dataset="fashion-mnist", task="gan-generator", input_shape=[args.latent],
            epochs_trained=args.epochs, seed=args.seed)
    io.save(disc, out / "discriminator.npz", dataset="fashion-mnist", task="gan-discriminator",
            input_shape=[1, 28, 28], epochs_trained=args.epochs, seed=args.seed)
    result = {"epochs": args.epochs, "seconds": seconds, "train_images": len(x), "history": history,
              "figures": [f for f in figures if f]}
    (out / "metrics.json").write_text(json.dumps(result, indent=2))
    print(f"{seconds:.0f} s; files in {out}/: samples_epoch_*.png, samples_per_epoch.png, generator.npz, "
          f"discriminator.npz, metrics.json")
    return result


if __name__ == "__main__":
    main()
