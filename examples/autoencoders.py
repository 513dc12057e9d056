"""Autoencoders on Fashion-MNIST: a convolutional autoencoder and a variational autoencoder (VAE).

    python examples/autoencoders.py            # the full data: 5 epochs (AE) and 10 epochs (VAE)
    python examples/autoencoders.py --quick    # the embedded subset, a few epochs: a smoke test

1. The convolutional autoencoder (``neurona.models.ConvAutoencoder``) squeezes each image through a
   code of 32 numbers and rebuilds it; its test reconstruction error (mean squared error per pixel) is
   compared with PCA's on the same number of components, the best *linear* code.
2. The VAE (``neurona.models.VAE``) has a 2-D Gaussian code, trained on the negative ELBO
   (``neurona.models.vae_loss``). Its decoder turns any point of the plane into an image, so it also
   generates new images (codes drawn from N(0, I)), and the test set can be drawn as a map of codes.

Writes, into ``--out``: ``reconstructions.png`` (test images, AE and VAE reconstructions),
``vae_samples.png`` (decoded random codes), ``vae_latent_map.png`` (the test set's codes coloured by
class, beside the images decoded on a grid of codes), ``ae.npz``, ``vae.npz`` and ``metrics.json``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import neurona
from neurona import io, models, nn, optim
from neurona.data import fashion_mnist
from neurona.data.fashion import CLASSES


def batches(n: int, batch_size: int, rng: np.random.Generator):
    order = rng.permutation(n)
    for s in range(0, n, batch_size):
        yield order[s:s + batch_size]


def in_batches(fn, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    with neurona.no_grad():
        return np.concatenate([fn(neurona.from_numpy(x[s:s + batch_size])).array for s in range(0, len(x), batch_size)])


def pca_error(train: np.ndarray, test: np.ndarray, k: int) -> float:
    """Test MSE per pixel of the best rank-k linear reconstruction fitted on the training images."""
    a, b = train.reshape(len(train), -1).astype(np.float64), test.reshape(len(test), -1).astype(np.float64)
    mean = a.mean(axis=0)
    _, _, vt = np.linalg.svd(a - mean, full_matrices=False)
    v = vt[:k].T
    rebuilt = (b - mean) @ v @ v.T + mean
    return float(np.mean((np.clip(rebuilt, 0, 1) - b) ** 2))


def grid_image(images: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """(rows·cols, 1, h, w) images tiled into one (rows·h, cols·w) array."""
    h, w = images.shape[2:]
    return images[:rows * cols, 0].reshape(rows, cols, h, w).transpose(0, 2, 1, 3).reshape(rows * h, cols * w)


def plots(out: Path, x_test, y_test, ae_rec, vae_rec, samples, codes, manifold, extent) -> list[str]:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: figures skipped (pip install 'neurona[plot]')")
        return []
    paths = []
    n = 12
    fig, axes = plt.subplots(3, 1, figsize=(n * 0.9, 3.3))
    for ax, imgs, name in zip(axes, (x_test, ae_rec, vae_rec), ("test images", "autoencoder (32-D code)",
                                                                 "VAE (2-D code)")):
        ax.imshow(grid_image(imgs[:n], 1, n), cmap="gray", vmin=0, vmax=1)
        ax.set_title(name, fontsize=9, loc="left")
        ax.axis("off")
    fig.tight_layout()
    paths.append(str(out / "reconstructions.png"))
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(grid_image(samples, 8, 8), cmap="gray", vmin=0, vmax=1)
    ax.set_title("VAE: 64 codes z ~ N(0, I) decoded", fontsize=9)
    ax.axis("off")
    fig.tight_layout()
    paths.append(str(out / "vae_samples.png"))
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 5.6))
    sc = a1.scatter(codes[:, 0], codes[:, 1], c=y_test, cmap="tab10", s=2, alpha=0.6)
    a1.set_xlim(extent[0], extent[1])
    a1.set_ylim(extent[0], extent[1])
    a1.set_title("test images' codes μ(x), by class", fontsize=9)
    cb = fig.colorbar(sc, ax=a1, ticks=range(10))
    cb.ax.set_yticklabels(CLASSES, fontsize=7)
    k = int(round(np.sqrt(len(manifold))))
    a2.imshow(grid_image(manifold, k, k), cmap="gray", vmin=0, vmax=1,
              extent=(extent[0], extent[1], extent[0], extent[1]))
    a2.set_title("images decoded on a grid of codes", fontsize=9)
    fig.tight_layout()
    paths.append(str(out / "vae_latent_map.png"))
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description="a convolutional autoencoder and a VAE on Fashion-MNIST")
    ap.add_argument("--ae-epochs", type=int, default=5)
    ap.add_argument("--vae-epochs", type=int, default=10)
    ap.add_argument("--latent", type=int, default=32, help="code size of the autoencoder")
    ap.add_argument("--vae-latent", type=int, default=2, help="code size of the VAE (2 draws the latent map)")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--limit", type=int, default=None, help="use the first N training and test images only")
    ap.add_argument("--out", default="runs/autoencoders")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="embedded subset, 3 + 5 epochs: a smoke test")
    args = ap.parse_args(argv)
    if args.quick:
        args.ae_epochs, args.vae_epochs = min(args.ae_epochs, 3), min(args.vae_epochs, 5)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    x, _ = fashion_mnist("train", as_float=True, layout="NCHW", subset=args.quick)
    xt, yt = fashion_mnist("test", as_float=True, layout="NCHW", subset=args.quick)
    if args.limit:
        x, xt, yt = x[:args.limit], xt[:args.limit], yt[:args.limit]
    rng = np.random.default_rng(args.seed)
    result: dict = {"train_images": len(x), "test_images": len(xt)}

    # 1. convolutional autoencoder, mean squared error
    neurona.manual_seed(args.seed)
    ae = models.ConvAutoencoder(latent_dim=args.latent)
    opt = optim.Adam(ae.parameters(), lr=args.lr)
    mse = nn.MSELoss()
    start = time.perf_counter()
    for epoch in range(args.ae_epochs):
        ae.train()
        total = 0.0
        for idx in batches(len(x), args.batch_size, rng):
            xb = neurona.from_numpy(x[idx])
            loss = mse(ae(xb), xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        ae.eval()
        test_mse = float(np.mean((in_batches(ae, xt) - xt) ** 2))
        print(f"autoencoder epoch {epoch + 1}/{args.ae_epochs}  train MSE {total / len(x):.5f}  test MSE {test_mse:.5f}")
    ae_seconds = time.perf_counter() - start
    ae_rec = in_batches(ae, xt)
    ae_mse = float(np.mean((ae_rec - xt) ** 2))
    pca = pca_error(x, xt, args.latent)
    print(f"autoencoder ({args.latent}-D code, {ae.num_parameters():,} parameters): test MSE per pixel {ae_mse:.5f}; "
          f"PCA with {args.latent} components {pca:.5f}; {ae_seconds:.0f} s")
    result["autoencoder"] = {"latent_dim": args.latent, "test_mse": ae_mse, "pca_test_mse": pca,
                             "epochs": args.ae_epochs, "seconds": ae_seconds, "parameters": ae.num_parameters()}
    io.save(ae, out / "ae.npz", dataset="fashion-mnist", task="autoencoder", input_shape=[1, 28, 28],
            epochs_trained=args.ae_epochs, seed=args.seed, test={"mse": ae_mse})

    # 2. VAE: negative ELBO
    neurona.manual_seed(args.seed)
    vae = models.VAE(latent_dim=args.vae_latent)
    opt = optim.Adam(vae.parameters(), lr=args.lr)
    start = time.perf_counter()
    for epoch in range(args.vae_epochs):
        vae.train()
        total = 0.0
        for idx in batches(len(x), args.batch_size, rng):
            logits, mu, logvar = vae(neurona.from_numpy(x[idx]))
            loss = models.vae_loss(logits, x[idx], mu, logvar)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        print(f"VAE epoch {epoch + 1}/{args.vae_epochs}  negative ELBO {total / len(x):.2f} per image")
    vae_seconds = time.perf_counter() - start
    vae.eval()
    vae_rec = in_batches(vae.reconstruct, xt)
    vae_mse = float(np.mean((vae_rec - xt) ** 2))
    with neurona.no_grad():
        logits, mu, logvar = vae(neurona.from_numpy(xt))
        elbo = float(models.vae_loss(logits, xt, mu, logvar).item())
    codes = mu.array
    print(f"VAE ({args.vae_latent}-D code): test negative ELBO {elbo:.2f} per image (mean code), reconstruction MSE "
          f"per pixel {vae_mse:.5f}; {vae_seconds:.0f} s")
    result["vae"] = {"latent_dim": args.vae_latent, "test_neg_elbo": elbo, "test_mse": vae_mse,
                     "epochs": args.vae_epochs, "seconds": vae_seconds, "parameters": vae.num_parameters()}
    io.save(vae, out / "vae.npz", dataset="fashion-mnist", task="vae", input_shape=[1, 28, 28],
            epochs_trained=args.vae_epochs, seed=args.seed, test={"neg_elbo": elbo, "mse": vae_mse})

    samples = vae.sample(64, seed=args.seed).array
    extent = (-3.0, 3.0)
    if args.vae_latent == 2:
        g = np.linspace(extent[1], extent[0], 15)  # rows from the top: decreasing second coordinate
        grid = np.array([[a, b] for b in g for a in g[::-1]], np.float32)
        with neurona.no_grad():
            manifold = vae.decode(neurona.from_numpy(grid)).array
        result["figures"] = plots(out, xt, yt, ae_rec, vae_rec, samples, codes, manifold, extent)
    (out / "metrics.json").write_text(json.dumps(result, indent=2))
    print(f"files in {out}/: " + ", ".join(Path(p).name for p in result.get("figures", [])) +
          ", ae.npz, vae.npz, metrics.json")
    return result


if __name__ == "__main__":
    main()
