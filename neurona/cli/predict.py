"""``neurona predict MODEL --input rows.csv | arrays.npz | image.png``: a model's predictions for new inputs."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from .. import io
from ..data import load_npz_array, npz_names, read_feature_rows
from ..data.bundle import as_images
from ..data.images import IMAGE_SUFFIXES, border_brightness, image_size, read_image
from . import build
from .options import at_least_one
from .output import CLIError
from .trained import input_scaler, on_training_scale, open_model

NAME = "predict"


def add_parser(sub):
    r = sub.add_parser(NAME, help="predict for rows of a CSV, arrays of an .npz, or an image")
    r.add_argument("model", help="model file or run folder")
    r.add_argument("--input", required=True, help="file.csv, file.npz or image.png")
    r.add_argument("--output", help="write the predictions to this CSV file")
    r.add_argument("--top", type=at_least_one, default=3, help="classes shown per sample (default 3)")
    r.add_argument("--invert", choices=("auto", "yes", "no"), default="auto",
                   help="invert image brightness (auto: when the background is light)")
    r.add_argument("--rescale", choices=("auto", "no"), default="auto",
                   help="auto: inputs clearly on another scale than the training data (pixel values 0-255 for a "
                        "model trained on 0-1) are converted when that is unambiguous, else refused; no: use them "
                        "as they are")
    return r


def _image_sample(path: Path, img: np.ndarray, expected: list | None) -> np.ndarray:
    """One image as one sample of the shape the model expects."""
    if expected is None:
        return img[None, None]
    if len(expected) < 2:  # a model of flat inputs: accept an image with as many pixels
        if img.size != math.prod(expected):
            raise CLIError(f"{path}: the image is {img.shape[1]}×{img.shape[0]} = {img.size} pixels; this model "
                           f"expects {math.prod(expected)} values per sample")
        return img.reshape((1,) + tuple(int(s) for s in expected))
    h, w = int(expected[-2]), int(expected[-1])
    if img.shape != (h, w):
        raise CLIError(f"{path}: the image is {img.shape[1]}×{img.shape[0]} pixels; this model expects {w}×{h} "
                       f"grey images (resize it first)")
    return img.reshape((1,) + tuple(int(s) for s in expected))


def _read_inputs(path: Path, meta: dict, invert: str) -> tuple[np.ndarray, bool]:
    """(the inputs of ``--input``, whether it is one image)."""
    expected = meta.get("input_shape")
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        w, h = image_size(path)  # the header alone: a wrong size is refused before any pixel is decoded
        _image_sample(path, np.zeros((h, w), np.float32), expected)
        img = read_image(path)
        X = _image_sample(path, img, expected)
        if invert == "auto":
            # a model of flat inputs may have been trained on images too: judge by the data it saw
            looks_like_images = meta.get("is_image") or str(meta.get("dataset") or "").startswith("fashion-mnist") \
                or len(expected or ()) < 2
            invert = "yes" if looks_like_images and border_brightness(img) > 0.5 else "no"
            if invert == "yes":
                print(f"{path}: light background detected; inverting it (the training images are light on dark; "
                      f"--invert no to keep it)")
        if invert == "yes":
            X = 1.0 - X
        return X, True
    if suffix == ".npz":
        files = npz_names(path)
        known = [k for k in ("x", "X", "x_test", "images") if k in files]
        if not known and len(files) != 1:
            raise CLIError(f"{path}: holds {len(files)} arrays ({', '.join(files) or 'none'}); name the inputs 'x'")
        X = load_npz_array(path, known[0] if known else files[0])
        if meta.get("is_image") and X.ndim in (3, 4):
            X = as_images(X)[0]
        return X, False
    if suffix == ".csv":
        return read_feature_rows(path, meta.get("feature_names"), meta.get("target")), False
    raise CLIError(f"--input {path}: unknown file type {suffix!r}; use .csv, .npz or an image (.png)")


def run(args) -> int:
    from .. import softmax, tensor
    from ..train import predict

    f, model = open_model(args.model)
    meta = f.metadata
    path = Path(args.input)
    if not path.exists():
        raise CLIError(f"--input {path}: no such file")
    expected = meta.get("input_shape")
    X, image = _read_inputs(path, meta, args.invert)
    X = np.asarray(X, dtype=np.float32)
    if expected is not None:
        per = math.prod(expected)
        if X.ndim >= 2 and math.prod(X.shape[1:]) == per:
            X = X.reshape((len(X),) + tuple(int(s) for s in expected))
        elif X.ndim == 1 and X.size == per:
            X = X.reshape((1,) + tuple(int(s) for s in expected))
        else:
            raise CLIError(f"--input {path}: samples of shape {X.shape[1:] if X.ndim > 1 else X.shape}, but the "
                           f"model expects {tuple(expected)} ({per} values per sample)")
    if not np.isfinite(X).all():
        bad = np.argwhere(~np.isfinite(X))[0]
        raise CLIError(f"--input {path}: NaN or infinite value in sample {bad[0]}")
    X = on_training_scale(f, X, str(path), args.rescale)
    X = build.scale(input_scaler(f), X)
    out = predict(model, X, batch_size=512)
    task = meta.get("task", "classification")
    rows = []
    if task == "classification":
        probs = softmax(tensor(out), dim=1).array
        names = meta.get("class_names") or [str(i) for i in range(out.shape[1])]
        top = probs.argmax(axis=1)
        for i in range(len(out)):
            rows.append([i, int(top[i]), names[int(top[i])], float(probs[i, top[i]])])
        if len(out) <= 20 or image:
            for i in range(len(out)):
                order = np.argsort(-probs[i])[:max(1, args.top)]
                alts = ", ".join(f"{names[j]} {probs[i, j]:.3f}" for j in order)
                print(f"{'sample ' + str(i) if not image else path.name}: {names[int(top[i])]}   ({alts})")
        header = ["index", "class", "name", "probability"]
    else:
        pred = out
        ts = meta.get("target_scaler")
        if ts is not None:
            from ..data import Standardizer

            s = Standardizer()
            s.load_state_dict(ts)
            pred = np.asarray(s.inverse_transform(out))
        for i in range(len(pred)):
            rows.append([i] + [float(v) for v in np.ravel(pred[i])])
        if len(pred) <= 20:
            for r in rows:
                print(f"sample {r[0]}: " + ", ".join(f"{v:.4g}" for v in r[1:]))
        header = ["index"] + [f"prediction_{k}" for k in range(np.asarray(pred).reshape(len(pred), -1).shape[1])]
    if args.output:
        with io.atomic_write(args.output, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(rows)
        print(f"{len(rows)} predictions written to {args.output}")
    elif len(rows) > 20 and not image:
        counts = np.bincount([r[1] for r in rows]) if task == "classification" else None
        print(f"{len(rows)} predictions; pass --output FILE.csv to save them")
        if counts is not None:
            names = meta.get("class_names") or [str(i) for i in range(len(counts))]
            print("predicted classes: " + ", ".join(f"{names[i]} {c}" for i, c in enumerate(counts) if c))
    return 0
