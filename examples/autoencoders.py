"""Autoencoders on Fashion-MNIST: a convolutional autoencoder and a variational autoencoder (VAE).

    python examples/autoencoders.py            # the full data: 5 epochs (AE) and 10 epochs (VAE)
    python examples/autoencoders.py --quick    # the embedded subset, 10 + 5 epochs

1. The convolutional autoencoder (``neurona.models.ConvAutoencoder``) squeezes each image through a
   code of 32 numbers and rebuilds it; its test reconstruction error (mean squared error per pixel) is
   compared with PCA's on the same number of components, the best *linear* code.
2. The VAE (``neurona.models.VAE``) has a 2-D Gaussian code, trained on the negative ELBO
   (``neurona.models.vae_loss``). Its decoder turns any point of the plane into an image, so it also
   generates new images (codes drawn from N(0, I)), and the test set can be drawn as a map of codes.

The recipes are ``neurona.vision.tasks`` (also ``neurona train --model conv-autoencoder`` / ``vae``).
Writes, into ``--out``: ``reconstructions.png`` (test images, AE and VAE reconstructions),
``vae_samples.png`` (decoded random codes), ``vae_latent_map.png`` (the test set's codes coloured by
class, beside the images decoded on a grid of codes), ``ae.npz``, ``vae.npz`` and ``metrics.json``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from neurona import io, plot
from neurona.vision import figures as F
from neurona.vision import tasks


def plots(out: Path, ae, vae) -> list[str]:
    """The three figures, or [] without matplotlib."""
    if not plot.available():
        print("matplotlib is not installed: figures skipped (pip install 'neurona[plot]')")
        return []
    paths = [str(out / "reconstructions.png"), str(out / "vae_samples.png")]
    F.image_rows_figure([ae.extras["test"], ae.extras["reconstructions"], vae.extras["reconstructions"]],
                        ["test images", f"autoencoder ({ae.metrics['latent_dim']}-D code)",
                         f"VAE ({vae.metrics['latent_dim']}-D code)"], paths[0])
    F.image_grid_figure(vae.extras["samples"], 8, 8, "VAE: 64 codes z ~ N(0, I) decoded", paths[1])
    if "decoded_grid" in vae.extras:
        paths.append(str(out / "vae_latent_map.png"))
        F.latent_map_figure(vae.extras["codes"], vae.extras["labels"], vae.extras["decoded_grid"], path=paths[-1])
    return paths


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description="a convolutional autoencoder and a VAE on Fashion-MNIST")
    ap.add_argument("--ae-epochs", type=int, default=None, help="5 (10 with --quick)")
    ap.add_argument("--vae-epochs", type=int, default=None, help="10 (5 with --quick)")
    ap.add_argument("--latent", type=int, default=32, help="code size of the autoencoder")
    ap.add_argument("--vae-latent", type=int, default=2, help="code size of the VAE (2 draws the latent map)")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--limit", type=int, default=None, help="use the first N training and test images only")
    ap.add_argument("--out", default="runs/autoencoders")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="the embedded subset and fewer epochs")
    args = ap.parse_args(argv)
    data = "fashion-mnist-small" if args.quick else "fashion-mnist"
    common = {"data": data, "batch_size": args.batch_size, "lr": args.lr, "limit": args.limit, "seed": args.seed}
    o_ae = tasks.task_options("conv-autoencoder", {**common, "epochs": args.ae_epochs, "hidden": args.latent})
    o_vae = tasks.task_options("vae", {**common, "epochs": args.vae_epochs, "latent": args.vae_latent})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    images = tasks.load_images(o_ae)
    rng = np.random.default_rng(args.seed)  # one shuffling generator for both networks
    ae = tasks.run_task("conv-autoencoder", o_ae, rng=rng, data=images)
    print(ae.summary)
    io.save(ae.model, out / "ae.npz", **ae.meta, test={"mse": ae.metrics["test_mse"]})
    vae = tasks.run_task("vae", o_vae, rng=rng, data=images)
    print(vae.summary)
    io.save(vae.model, out / "vae.npz", **vae.meta,
            test={"neg_elbo": vae.metrics["test_neg_elbo"], "mse": vae.metrics["test_mse"]})
    figures = plots(out, ae, vae)
    result = {"train_images": len(images[0]), "test_images": len(images[1]), "autoencoder": ae.metrics,
              "vae": vae.metrics, "history": {"autoencoder": ae.history, "vae": vae.history}, "figures": figures}
    (out / "metrics.json").write_text(json.dumps(result, indent=2))
    print(f"files in {out}/: " + ", ".join([Path(p).name for p in figures] + ["ae.npz", "vae.npz", "metrics.json"]))
    return result


if __name__ == "__main__":
    main()
