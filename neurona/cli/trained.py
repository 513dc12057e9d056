"""A trained model and the data it was trained on, for the commands that start from a model file
(``evaluate``, ``predict``, ``info``, ``boundary --model-file``, ``prune``, ``quantize``, ``distill``)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import io
from ..data import DataBundle
from .build import load_data, scale
from .output import CLIError
from .runs import model_path

__all__ = ["open_model", "input_scaler", "ModelData", "model_data", "training_range", "on_training_scale"]


def open_model(p: str):
    """(the validated model file, the model built from it) for a model file or run folder."""
    f = io.read_model_file(model_path(p))
    return f, f.build()


def input_scaler(f: io.ModelFile):
    """The input scaling stored with a model (a fitted Standardizer), or None."""
    return f.preprocessing if hasattr(f.preprocessing, "transform") else None


def training_range(f: io.ModelFile) -> tuple[float, float] | None:
    """The range of the raw inputs the model was trained on: stored, else estimated from its standardizer."""
    from ..data import range_from_scaler

    if f.metadata.get("input_dtype") not in (None, "float32", "float64"):
        return None  # token ids, not measurements
    stored = f.metadata.get("input_range")
    if isinstance(stored, (list, tuple)) and len(stored) == 2:
        return float(stored[0]), float(stored[1])
    scaler = input_scaler(f)
    return range_from_scaler(scaler) if scaler is not None else None


def on_training_scale(f: io.ModelFile, X: np.ndarray, what: str, rescale: str = "auto") -> np.ndarray:
    """``X`` on the scale the model was trained on (see ``neurona.data.match_training_range``); says what it did."""
    from ..data import DataError, match_training_range

    if rescale == "no":
        return X
    try:
        X, note = match_training_range(X, training_range(f), what=what)
    except DataError as e:
        raise CLIError(f"{e}; or pass --rescale no to use them as they are") from None
    if note:
        print(note)
    return X


def training_options(f: io.ModelFile) -> dict:
    """The data options a model was trained with, from its metadata."""
    meta = f.metadata
    opts = meta.get("options") or {}
    return {"data": meta.get("dataset"), "target": meta.get("target"), "task": meta.get("task", "auto"),
            "seed": int(meta.get("seed", 0)), "val_split": float(opts.get("val_split", 0.1)),
            "min_val_samples": int(opts.get("min_val_samples") or 0),
            "samples": int(meta.get("samples", 1000)), "noise": float(meta.get("noise", 0.1))}


@dataclass
class ModelData:
    """The data of a model: the splits as loaded, and the inputs shaped and scaled for the model."""

    data: DataBundle
    X_train: np.ndarray
    X_val: np.ndarray | None
    X_test: np.ndarray


def model_data(f: io.ModelFile, spec: str | None) -> ModelData:
    """The data set ``spec`` (default: the model's own, with the same splits), ready for the model."""
    meta = f.metadata
    o = training_options(f)
    o["data"] = spec or o["data"]
    if o["data"] is None:
        raise CLIError(f"{f.path} does not say which data it was trained on; pass --data")
    data = load_data(o)
    expected = meta.get("input_shape")
    if expected is not None and math.prod(data.input_shape) != math.prod(expected):
        raise CLIError(f"--data {o['data']}: samples of shape {data.input_shape}, but {f.path} expects "
                       f"{tuple(expected)}")
    scaler = input_scaler(f)

    def prepare(a):  # the model's sample shape first (flat rows for an image model), then its scaling
        if a is not None and expected is not None and list(a.shape[1:]) != list(expected):
            a = a.reshape((len(a),) + tuple(int(s) for s in expected))
        return scale(scaler, a)

    return ModelData(data, prepare(data.X_train), prepare(data.X_val), prepare(data.X_test))


def source_name(path: Path) -> str:
    """The name of the run a model file belongs to (its folder, without its date), or the file's stem."""
    from .runs import strip_stamp

    return strip_stamp(path.parent.name if path.name in ("model.npz", "checkpoint.npz") else path.stem)
