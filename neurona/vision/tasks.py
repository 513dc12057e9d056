"""The vision tasks, each one call from data to a trained model and its figures: segmentation with a U-Net,
detection with a grid detector, a convolutional autoencoder, a VAE and a DCGAN, all on Fashion-MNIST.

>>> o = task_options("unet", {"data": "fashion-mnist-small", "epochs": 1, "train_size": 64})
>>> result = run_task("unet", o)                        # doctest: +SKIP
>>> result.metrics["test_miou"], result.report          # doctest: +SKIP

They are also ``neurona train`` presets:

    neurona train --model unet                # segmentation of Fashion-MNIST scenes, mIoU on held-out scenes
    neurona train --model grid-detector       # detection in the same scenes, mAP@0.5
    neurona train --model conv-autoencoder    # reconstruction through a 32-number code, against PCA
    neurona train --model vae                 # a VAE with a 2-D code: reconstructions, samples, a latent map
    neurona train --model dcgan               # a small DCGAN, a grid of samples per epoch

``--data fashion-mnist-small`` trains on the embedded subset (seconds to minutes). ``--epochs``, ``--lr``,
``--batch-size``, ``--optimizer`` and ``--seed`` apply to all; ``--hidden`` sets the width: the U-Net's
base channels, the detector's first-layer channels, the autoencoder's code size, the VAE's hidden layers,
the DCGAN's channels; ``--samples`` the number of training scenes (a fifth as many are held out, at most
2,000), or of training images for the other tasks. The run folder holds the model file(s), ``metrics.json``, ``history.csv``, a text report and the
figures (with matplotlib).

The scenes are ``canvas.fashion_canvases``: training scenes from the training split, test scenes from the
test split, reproducible from the seed. The example scripts ``examples/segmentation.py``,
``detection.py``, ``autoencoders.py`` and ``dcgan.py`` run the same recipes.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = ["TASKS", "is_task", "task_options", "run_task", "write_figures", "VisionResult", "load_images", "pca_error",
           "predict_labels"]

_COMMON = {"data": "fashion-mnist", "seed": 0, "optimizer": "adam"}
#: preset name → defaults for the options the user did not give
TASKS = {
    "unet": {"epochs": 6, "lr": 2e-3, "batch_size": 32, "hidden": [16], "depth": 3, "upsampling": "transpose",
             "dice": 1.0, "train_size": 10000, "test_size": 2000, "canvas_size": 64},
    "grid-detector": {"epochs": 8, "lr": 2e-3, "batch_size": 32, "hidden": [16], "iou_threshold": 0.5,
                      "train_size": 10000, "test_size": 2000, "canvas_size": 64},
    "conv-autoencoder": {"epochs": 5, "lr": 1e-3, "batch_size": 128, "hidden": [32], "width": 16, "limit": None},
    "vae": {"epochs": 10, "lr": 1e-3, "batch_size": 128, "hidden": [512, 256], "latent": 2, "limit": None},
    "dcgan": {"epochs": 4, "lr": 2e-4, "batch_size": 64, "hidden": [32], "latent": 64, "limit": None},
}
#: the smaller scenes and networks of ``--data fashion-mnist-small`` (the embedded subset)
_SMALL = {"unet": {"train_size": 1000, "test_size": 200, "hidden": [8], "epochs": 3, "lr": 1e-2},
          "grid-detector": {"train_size": 1000, "test_size": 200, "hidden": [8], "epochs": 3},
          "conv-autoencoder": {"epochs": 10}, "vae": {"epochs": 5}, "dcgan": {"epochs": 3}}
_DATA = ("fashion-mnist", "fashion-mnist-small")


def is_task(name) -> bool:
    return name in TASKS


def task_options(name: str, given: dict) -> dict:
    """The options of task ``name``: the values of ``given`` that are not None over the task's defaults (and
    over the smaller defaults of the embedded subset when ``given['data']`` is 'fashion-mnist-small').
    Raises ValueError naming the option for a value the task cannot use."""
    if name not in TASKS:
        raise ValueError(f"task_options: unknown task {name!r}; tasks are {', '.join(TASKS)}")
    small = given.get("data") == "fashion-mnist-small"
    o = {**_COMMON, **TASKS[name], **(_SMALL[name] if small else {}), "model": name}
    for k, v in given.items():
        if v is not None:
            o[k] = v
    if "test_size" in o and given.get("train_size") is not None and given.get("test_size") is None:
        o["test_size"] = min(o["test_size"], max(8, int(o["train_size"]) // 5))  # held out: a fifth as many scenes
    if o["data"] not in _DATA:
        raise ValueError(f"data {o['data']!r}: the {name} preset trains on {' or '.join(_DATA)}")
    o["hidden"] = [int(h) for h in (o["hidden"] if isinstance(o["hidden"], (list, tuple)) else [o["hidden"]])]
    if not o["hidden"] or min(o["hidden"]) < 1:
        raise ValueError(f"hidden: {name} needs positive sizes, got {o['hidden']}")
    if name != "vae" and len(o["hidden"]) != 1:
        raise ValueError(f"hidden: {name} takes one width, got {o['hidden']}")
    for k in ("epochs", "batch_size", "train_size", "test_size"):
        if k in o and (o[k] is None or int(o[k]) < (0 if k == "epochs" else 1)):
            raise ValueError(f"{k} must be {'>= 0' if k == 'epochs' else 'positive'}, got {o[k]}")
    if name in ("unet", "grid-detector") and int(o["canvas_size"]) % 8:
        raise ValueError(f"canvas_size must be a multiple of 8, got {o['canvas_size']}")
    return o


@dataclass
class VisionResult:
    """What a task run produced: the trained model (``models`` holds any other network, e.g. the DCGAN's
    discriminator), its figures (``metrics``, JSON-like), the metadata to save with the model, one dict per
    epoch (``history``), a text report and a one-line summary; ``extras`` holds what the figures are drawn
    from (test scenes, predictions, samples)."""

    model: Any
    options: dict
    metrics: dict
    meta: dict
    history: list
    report_name: str
    report: str
    summary: str
    models: dict = field(default_factory=dict)
    extras: dict = field(default_factory=dict)


def _say(log: Callable[[str], None] | None, message: str) -> None:
    if log is not None:
        log(message)


def _canvases(o: dict):
    from ..data.fashion import EmbeddedSubsetWarning
    from .canvas import fashion_canvases

    small = o["data"] == "fashion-mnist-small"
    with warnings.catch_warnings():
        if small:  # asked for by name: no need to warn
            warnings.simplefilter("ignore", EmbeddedSubsetWarning)
        train = fashion_canvases("train", int(o["train_size"]), size=int(o["canvas_size"]), seed=o["seed"],
                                 subset=small)
        test = fashion_canvases("test", int(o["test_size"]), size=int(o["canvas_size"]), seed=o["seed"] + 1,
                                subset=small)
    return train, test


def load_images(o: dict) -> tuple:
    """(training images, test images, test labels) of Fashion-MNIST as float32 (N, 1, 28, 28) in [0, 1]; the
    embedded subset for ``o['data'] == 'fashion-mnist-small'``, the first ``o['limit']`` of each if set."""
    from ..data import fashion_mnist
    from ..data.fashion import EmbeddedSubsetWarning

    small = o["data"] == "fashion-mnist-small"
    with warnings.catch_warnings():
        if small:  # asked for by name: no need to warn
            warnings.simplefilter("ignore", EmbeddedSubsetWarning)
        x, _ = fashion_mnist("train", as_float=True, layout="NCHW", subset=small)
        xt, yt = fashion_mnist("test", as_float=True, layout="NCHW", subset=small)
    if o.get("limit"):
        x, xt, yt = x[:o["limit"]], xt[:o["limit"]], yt[:o["limit"]]
    return x, xt, yt


def _optimizer(o: dict, params, **kwargs):
    from ..optim import Adam, create_optimizer

    if o["optimizer"] == "adam":
        return Adam(params, lr=o["lr"], **kwargs)
    return create_optimizer(o["optimizer"], params, o["lr"])


def _cosine_run(o: dict, model, n: int):
    """A dense-prediction task's optimizer, batch size, cosine schedule over every step of the run, and the
    generator that shuffles its batches."""
    from ..optim.lr_scheduler import CosineAnnealingLR

    opt = _optimizer(o, model.parameters())
    bs = int(o["batch_size"])
    sched = CosineAnnealingLR(opt, T_max=max(1, o["epochs"] * ((n + bs - 1) // bs)))
    return opt, bs, sched, np.random.default_rng(o["seed"])


def _batches(n: int, batch_size: int, rng: np.random.Generator, full_only: bool = False):
    order = rng.permutation(n)
    stop = n - batch_size + 1 if full_only else n
    for s in range(0, stop, batch_size):
        yield order[s:s + batch_size]


def _in_batches(fn, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
    from ..creation import from_numpy
    from ..engine import no_grad

    with no_grad():
        return np.concatenate([fn(from_numpy(x[s:s + batch_size])).array for s in range(0, len(x), batch_size)])


# --- segmentation ----------------------------------------------------------------------------------


def predict_labels(model, images: np.ndarray, batch_size: int = 128) -> np.ndarray:
    """The class of every pixel: the argmax of a segmentation network's logits (eval mode, no graph)."""
    was = model.training
    model.eval()
    try:
        return _in_batches(model, images, batch_size).argmax(axis=1)
    finally:
        model.train(was)


def _segmentation(o: dict, log) -> VisionResult:
    from .. import nn
    from ..creation import from_numpy, manual_seed
    from ..models import UNet
    from .canvas import SEGMENTATION_CLASSES
    from .losses import DiceLoss
    from .metrics import SegmentationScores

    start = time.perf_counter()
    train, test = _canvases(o)
    _say(log, f"{len(train):,} training and {len(test):,} test canvases of {o['canvas_size']}x{o['canvas_size']} "
              f"({np.mean([len(b) for b in train.boxes]):.2f} items on average), {time.perf_counter() - start:.1f} s")
    manual_seed(o["seed"])
    model = UNet(num_classes=len(SEGMENTATION_CLASSES), base_channels=o["hidden"][0], depth=o["depth"],
                 upsampling=o["upsampling"])
    # the head starts from the prior: its bias is the log of each class's share of the training pixels (about 80 %
    # background), so the first hundreds of steps are not spent moving the logits there at Adam's step size
    share = np.bincount(train.masks.ravel(), minlength=len(SEGMENTATION_CLASSES)) / train.masks.size
    model.head.bias.array[:] = np.log(np.maximum(share, 1e-6))
    _say(log, f"U-Net, depth {o['depth']}, {o['hidden'][0]} base channels: {model.num_parameters():,} parameters")
    ce, dice = nn.CrossEntropyLoss(), DiceLoss()
    opt, bs, sched, rng = _cosine_run(o, model, len(train))
    history = []
    train_start = time.perf_counter()
    for epoch in range(o["epochs"]):
        model.train()
        t0, total = time.perf_counter(), 0.0
        for idx in _batches(len(train), bs, rng):
            logits = model(from_numpy(train.images[idx]))
            loss = ce(logits, train.masks[idx])
            if o["dice"]:
                loss = loss + dice(logits, train.masks[idx]) * o["dice"]
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        scores = SegmentationScores(len(SEGMENTATION_CLASSES))
        scores.update(predict_labels(model, test.images), test.masks)
        m = scores.compute()
        history.append({"epoch": epoch + 1, "loss": total / len(train), "test_miou": m["miou"],
                        "test_pixel_accuracy": m["pixel_accuracy"], "seconds": time.perf_counter() - t0})
        _say(log, f"epoch {epoch + 1}/{o['epochs']}  loss {total / len(train):.4f}  test mIoU {m['miou']:.4f}  "
                  f"pixel accuracy {m['pixel_accuracy']:.4f}  {time.perf_counter() - t0:.0f} s")
    seconds = time.perf_counter() - train_start
    pred = predict_labels(model, test.images)
    scores = SegmentationScores(len(SEGMENTATION_CLASSES))
    scores.update(pred, test.masks)
    m = scores.compute()
    iou = {name: float(v) for name, v in zip(SEGMENTATION_CLASSES, m["iou"])}
    report = "class          IoU\n" + "".join(f"{name:<13s} {v:.4f}\n" for name, v in iou.items())
    report += f"{'mean (mIoU)':<13s} {m['miou']:.4f}\npixel accuracy {m['pixel_accuracy']:.4f}\n"
    metrics = {"test_miou": m["miou"], "test_iou": iou, "test_pixel_accuracy": m["pixel_accuracy"],
               "epochs": o["epochs"], "train_seconds": seconds, "train_canvases": len(train),
               "test_canvases": len(test), "parameters": model.num_parameters()}
    meta = {"dataset": "fashion-canvases", "task": "segmentation",
            "input_shape": [1, int(o["canvas_size"]), int(o["canvas_size"])], "class_names": list(SEGMENTATION_CLASSES),
            "epochs_trained": o["epochs"], "seed": o["seed"]}
    summary = (f"test mIoU {m['miou']:.4f} over {len(test):,} held-out canvases (pixel accuracy "
               f"{m['pixel_accuracy']:.4f}); training {seconds:.0f} s for {o['epochs']} epochs")
    return VisionResult(model, o, metrics, meta, history, "iou.txt", report, summary,
                        extras={"test": test, "pred": pred})


# --- detection -------------------------------------------------------------------------------------


def _detection(o: dict, log) -> VisionResult:
    from ..creation import from_numpy, manual_seed
    from ..data.fashion import CLASSES
    from ..models import GridDetector
    from .grid import GridDetectionLoss
    from .metrics import mean_average_precision

    train, test = _canvases(o)
    manual_seed(o["seed"])
    model = GridDetector(num_classes=len(CLASSES), image_size=int(o["canvas_size"]), width=o["hidden"][0])
    targets = model.coder.encode_batch(train.boxes, train.labels)
    n_boxes = sum(len(b) for b in train.boxes)
    _say(log, f"{len(train):,} training and {len(test):,} test canvases, {n_boxes:,} training boxes "
              f"({n_boxes - int(targets[:, 0].sum())} share a cell with a larger box and are not targets); "
              f"grid {model.coder.grid_size}")
    _say(log, f"grid detector, width {o['hidden'][0]}: {model.num_parameters():,} parameters")
    loss_fn = GridDetectionLoss()
    opt, bs, sched, rng = _cosine_run(o, model, len(train))
    history = []
    train_start = time.perf_counter()
    for epoch in range(o["epochs"]):
        model.train()
        t0 = time.perf_counter()
        sums = {"loss": 0.0, "objectness": 0.0, "class": 0.0, "box": 0.0}
        for idx in _batches(len(train), bs, rng):
            parts = loss_fn.parts(model(from_numpy(train.images[idx])), targets[idx])
            opt.zero_grad()
            parts["loss"].backward()
            opt.step()
            sched.step()
            for k in sums:
                sums[k] += parts[k].item() * len(idx)
        detections = model.detect(test.images, iou_threshold=o["iou_threshold"])
        m = mean_average_precision(detections, test.targets(), iou_threshold=0.5)
        history.append({"epoch": epoch + 1, **{k: v / len(train) for k, v in sums.items()}, "test_map50": m["map"],
                        "seconds": time.perf_counter() - t0})
        _say(log, f"epoch {epoch + 1}/{o['epochs']}  loss {sums['loss'] / len(train):.4f} (objectness "
                  f"{sums['objectness'] / len(train):.3f}, class {sums['class'] / len(train):.3f}, box "
                  f"{sums['box'] / len(train):.3f})  test mAP@0.5 {m['map']:.4f}  {time.perf_counter() - t0:.0f} s")
    seconds = time.perf_counter() - train_start
    detections = model.detect(test.images, iou_threshold=o["iou_threshold"])
    m = mean_average_precision(detections, test.targets(), iou_threshold=0.5)
    m75 = mean_average_precision(detections, test.targets(), iou_threshold=0.75)
    ap = {CLASSES[c]: v for c, v in m["ap_per_class"].items()}
    report = "class         AP@0.5  AP@0.75\n" + "".join(
        f"{CLASSES[c]:<13s} {v:.4f}  {m75['ap_per_class'].get(c, float('nan')):.4f}\n"
        for c, v in m["ap_per_class"].items())
    report += f"{'mean (mAP)':<13s} {m['map']:.4f}  {m75['map']:.4f}\n"
    metrics = {"test_map50": m["map"], "test_map75": m75["map"], "test_ap50": ap, "epochs": o["epochs"],
               "train_seconds": seconds, "train_canvases": len(train), "test_canvases": len(test),
               "test_items": sum(len(b) for b in test.boxes), "parameters": model.num_parameters()}
    meta = {"dataset": "fashion-canvases", "task": "detection",
            "input_shape": [1, int(o["canvas_size"]), int(o["canvas_size"])], "class_names": list(CLASSES),
            "epochs_trained": o["epochs"], "seed": o["seed"]}
    summary = (f"test mAP@0.5 {m['map']:.4f} (mAP@0.75 {m75['map']:.4f}) over {len(test):,} held-out canvases, "
               f"{metrics['test_items']:,} items; training {seconds:.0f} s for {o['epochs']} epochs")
    return VisionResult(model, o, metrics, meta, history, "ap.txt", report, summary,
                        extras={"test": test, "detections": detections})


# --- autoencoder and VAE ---------------------------------------------------------------------------


def pca_error(train: np.ndarray, test: np.ndarray, k: int) -> float:
    """Test MSE per pixel of the best rank-k linear reconstruction fitted on the training images (PCA)."""
    a, b = train.reshape(len(train), -1).astype(np.float64), test.reshape(len(test), -1).astype(np.float64)
    mean = a.mean(axis=0)
    _, _, vt = np.linalg.svd(a - mean, full_matrices=False)
    v = vt[:k].T
    rebuilt = (b - mean) @ v @ v.T + mean
    return float(np.mean((np.clip(rebuilt, 0, 1) - b) ** 2))


def _autoencoder(o: dict, log, rng: np.random.Generator | None = None, data=None) -> VisionResult:
    from .. import nn
    from ..creation import from_numpy, manual_seed
    from ..models import ConvAutoencoder

    x, xt, yt = data if data is not None else load_images(o)
    rng = np.random.default_rng(o["seed"]) if rng is None else rng
    manual_seed(o["seed"])
    latent = o["hidden"][0]
    ae = ConvAutoencoder(latent_dim=latent, width=o["width"])
    opt = _optimizer(o, ae.parameters())
    mse = nn.MSELoss()
    history = []
    start = time.perf_counter()
    for epoch in range(o["epochs"]):
        ae.train()
        total = 0.0
        for idx in _batches(len(x), int(o["batch_size"]), rng):
            xb = from_numpy(x[idx])
            loss = mse(ae(xb), xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        ae.eval()
        test_mse = float(np.mean((_in_batches(ae, xt) - xt) ** 2))
        history.append({"epoch": epoch + 1, "loss": total / len(x), "test_mse": test_mse})
        _say(log, f"autoencoder epoch {epoch + 1}/{o['epochs']}  train MSE {total / len(x):.5f}  test MSE "
                  f"{test_mse:.5f}")
    seconds = time.perf_counter() - start
    ae.eval()
    rec = _in_batches(ae, xt)
    err = float(np.mean((rec - xt) ** 2))
    pca = pca_error(x, xt, latent)
    summary = (f"autoencoder ({latent}-D code, {ae.num_parameters():,} parameters): test MSE per pixel {err:.5f}; "
               f"PCA with {latent} components {pca:.5f}; {seconds:.0f} s")
    metrics = {"test_mse": err, "pca_test_mse": pca, "latent_dim": latent, "epochs": o["epochs"],
               "train_seconds": seconds, "parameters": ae.num_parameters(), "train_images": len(x)}
    meta = {"dataset": o["data"], "task": "autoencoder", "input_shape": [1, 28, 28], "epochs_trained": o["epochs"],
            "seed": o["seed"]}
    report = f"test MSE per pixel\nautoencoder ({latent}-D code)  {err:.5f}\nPCA ({latent} components)      {pca:.5f}\n"
    return VisionResult(ae, o, metrics, meta, history, "reconstruction.txt", report, summary,
                        extras={"test": xt, "reconstructions": rec})


def _vae(o: dict, log, rng: np.random.Generator | None = None, data=None) -> VisionResult:
    from ..creation import from_numpy, manual_seed
    from ..engine import no_grad
    from ..models import VAE, vae_loss

    x, xt, yt = data if data is not None else load_images(o)
    rng = np.random.default_rng(o["seed"]) if rng is None else rng
    manual_seed(o["seed"])
    vae = VAE(latent_dim=int(o["latent"]), hidden=o["hidden"])
    opt = _optimizer(o, vae.parameters())
    history = []
    start = time.perf_counter()
    for epoch in range(o["epochs"]):
        vae.train()
        total = 0.0
        for idx in _batches(len(x), int(o["batch_size"]), rng):
            logits, mu, logvar = vae(from_numpy(x[idx]))
            loss = vae_loss(logits, x[idx], mu, logvar)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        history.append({"epoch": epoch + 1, "neg_elbo": total / len(x)})
        _say(log, f"VAE epoch {epoch + 1}/{o['epochs']}  negative ELBO {total / len(x):.2f} per image")
    seconds = time.perf_counter() - start
    vae.eval()
    rec = _in_batches(vae.reconstruct, xt)
    err = float(np.mean((rec - xt) ** 2))
    with no_grad():
        logits, mu, logvar = vae(from_numpy(xt))
        elbo = float(vae_loss(logits, xt, mu, logvar).item())
    extras = {"test": xt, "labels": yt, "reconstructions": rec, "codes": mu.array,
              "samples": vae.sample(64, seed=o["seed"]).array}
    if vae.latent_dim == 2:
        g = np.linspace(3.0, -3.0, 15)  # rows from the top: decreasing second coordinate
        grid = np.array([[a, b] for b in g for a in g[::-1]], np.float32)
        with no_grad():
            extras["decoded_grid"] = vae.decode(from_numpy(grid)).array
    summary = (f"VAE ({vae.latent_dim}-D code): test negative ELBO {elbo:.2f} per image (mean code), reconstruction "
               f"MSE per pixel {err:.5f}; {seconds:.0f} s")
    metrics = {"test_neg_elbo": elbo, "test_mse": err, "latent_dim": vae.latent_dim, "epochs": o["epochs"],
               "train_seconds": seconds, "parameters": vae.num_parameters(), "train_images": len(x)}
    meta = {"dataset": o["data"], "task": "vae", "input_shape": [1, 28, 28], "epochs_trained": o["epochs"],
            "seed": o["seed"]}
    report = f"test negative ELBO per image {elbo:.2f}\ntest reconstruction MSE per pixel {err:.5f}\n"
    return VisionResult(vae, o, metrics, meta, history, "vae.txt", report, summary, extras=extras)


# --- DCGAN -----------------------------------------------------------------------------------------


def _dcgan(o: dict, log, on_epoch: Callable[[int, np.ndarray], None] | None = None) -> VisionResult:
    from ..creation import manual_seed
    from ..models import DCGANDiscriminator, DCGANGenerator, gan_step

    x, _, _ = load_images(o)
    x = x * 2.0 - 1.0  # the generator's tanh range
    manual_seed(o["seed"])
    width = o["hidden"][0]
    gen = DCGANGenerator(latent_dim=int(o["latent"]), width=width)
    disc = DCGANDiscriminator(width=width)
    opt_g = _optimizer(o, gen.parameters(), betas=(0.5, 0.999))
    opt_d = _optimizer(o, disc.parameters(), betas=(0.5, 0.999))
    _say(log, f"{len(x):,} training images; generator {gen.num_parameters():,} and discriminator "
              f"{disc.num_parameters():,} parameters")
    rng = np.random.default_rng(o["seed"])
    history, rows = [], []
    start = time.perf_counter()
    for epoch in range(o["epochs"]):
        gen.train()
        disc.train()
        t0 = time.perf_counter()
        sums = {"loss_d": 0.0, "loss_g": 0.0, "d_real": 0.0, "d_fake": 0.0}
        steps = 0
        for idx in _batches(len(x), int(o["batch_size"]), rng, full_only=True):  # full batches (batch norm)
            step = gan_step(gen, disc, opt_g, opt_d, x[idx], rng)
            for k in sums:
                sums[k] += step[k]
            steps += 1
        logs = {k: v / max(steps, 1) for k, v in sums.items()}
        samples = gen.sample(64, seed=o["seed"]).array  # the same 64 codes every epoch
        rows.append(samples[:16])
        if on_epoch is not None:
            on_epoch(epoch + 1, samples)
        history.append({"epoch": epoch + 1, **logs, "seconds": time.perf_counter() - t0})
        _say(log, f"epoch {epoch + 1}/{o['epochs']}  D loss {logs['loss_d']:.3f}  G loss {logs['loss_g']:.3f}  "
                  f"D(real) {logs['d_real']:.2f}  D(G(z)) {logs['d_fake']:.2f}  {time.perf_counter() - t0:.0f} s")
    seconds = time.perf_counter() - start
    last = history[-1] if history else {}
    metrics = {"epochs": o["epochs"], "train_seconds": seconds, "train_images": len(x),
               **{f"final_{k}": v for k, v in last.items() if k not in ("epoch", "seconds")}}
    meta = {"dataset": o["data"], "task": "gan-generator", "input_shape": [int(o["latent"])],
            "epochs_trained": o["epochs"], "seed": o["seed"]}
    report = "epoch  D loss  G loss  D(real)  D(G(z))\n" + "".join(
        f"{h['epoch']:5d}  {h['loss_d']:.3f}   {h['loss_g']:.3f}   {h['d_real']:.2f}     {h['d_fake']:.2f}\n"
        for h in history)
    summary = f"DCGAN: {o['epochs']} epochs on {len(x):,} images, {seconds:.0f} s"
    return VisionResult(gen, o, metrics, meta, history, "losses.txt", report, summary, models={"discriminator": disc},
                        extras={"rows": rows})


def run_task(name: str, o: dict, log: Callable[[str], None] | None = print, **kwargs) -> VisionResult:
    """Train task ``name`` with the options ``o`` (from :func:`task_options`); ``log`` receives progress lines.

    ``dcgan`` takes ``on_epoch(epoch, samples)``, called with the 64 samples of each epoch; ``conv-autoencoder``
    and ``vae`` take ``rng`` (to share one shuffling generator) and ``data`` ((train, test, test labels)).
    """
    runners = {"unet": _segmentation, "grid-detector": _detection, "conv-autoencoder": _autoencoder, "vae": _vae,
               "dcgan": _dcgan}
    if name not in runners:
        raise ValueError(f"run_task: unknown task {name!r}; tasks are {', '.join(runners)}")
    return runners[name](o, log, **kwargs)


def write_figures(name: str, result: VisionResult, folder) -> list[str]:
    """Draw the task's figures into ``folder`` (PNG); returns their paths, or [] without matplotlib."""
    from .. import plot
    from . import figures as F

    if not plot.available():
        return []
    folder = Path(folder)
    e = result.extras
    paths = []
    if name == "unet":
        paths.append(str(folder / "segmentation.png"))
        F.segmentation_figure(e["test"].images, e["test"].masks, e["pred"], paths[-1])
    elif name == "grid-detector":
        paths.append(str(folder / "detection.png"))
        F.detection_figure(e["test"].images, e["detections"], e["test"].targets(), paths[-1])
    elif name == "conv-autoencoder":
        paths.append(str(folder / "reconstructions.png"))
        F.image_rows_figure([e["test"], e["reconstructions"]], ["test images", "autoencoder"], paths[-1])
    elif name == "vae":
        paths.append(str(folder / "reconstructions.png"))
        F.image_rows_figure([e["test"], e["reconstructions"]], ["test images", "VAE"], paths[-1])
        paths.append(str(folder / "vae_samples.png"))
        F.image_grid_figure(e["samples"], 8, 8, "VAE: 64 codes z ~ N(0, I) decoded", paths[-1])
        if "decoded_grid" in e:
            paths.append(str(folder / "vae_latent_map.png"))
            F.latent_map_figure(e["codes"], e["labels"], e["decoded_grid"], path=paths[-1])
    elif name == "dcgan" and e["rows"]:
        paths.append(str(folder / "samples_per_epoch.png"))
        F.image_grid_figure(np.concatenate(e["rows"]), len(e["rows"]), 16,
                            "the same 16 codes after each epoch (one row per epoch)", paths[-1], value_range=(-1, 1))
    return paths
