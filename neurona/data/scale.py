"""Inputs on the scale a model was trained on: pixel values 0–255 given to a model of 0–1 inputs, and back.

>>> X, note = match_training_range(X_new, (0.0, 1.0), what="rows.csv")
>>> if note: print(note)            # "rows.csv: values from 0 to 255, ... divided by 255"

A model's input statistics only help if new inputs arrive on the scale the
training inputs had: standardizing 0–255 pixels with the mean and spread of
0–1 pixels gives values hundreds of deviations out, and saturated, confident,
wrong predictions. The training range is stored with the model
(``input_range``); when it is missing it is estimated from the stored
standardizer as mean ± 3 deviations.
"""
from __future__ import annotations

import numpy as np

from .files import DataError

__all__ = ["match_training_range", "range_from_scaler"]

_FACTORS = ((1 / 255, "divided by 255 (pixel values 0–255, the model was trained on 0–1)"),
            (255.0, "multiplied by 255 (values 0–1, the model was trained on pixel values 0–255)"))


def range_from_scaler(scaler) -> tuple[float, float] | None:
    """An estimate of the training inputs' range from a fitted Standardizer: mean ± 3 deviations."""
    mean, var = getattr(scaler, "mean", None), getattr(scaler, "var", None)
    if mean is None or var is None:
        return None
    mean, std = np.asarray(mean, np.float64), np.sqrt(np.asarray(var, np.float64))
    return float(np.min(mean - 3 * std)), float(np.max(mean + 3 * std))


def match_training_range(X: np.ndarray, train_range, *, what: str = "the inputs") -> tuple[np.ndarray, str | None]:
    """``X`` on the training scale: (X unchanged, None), or (X rescaled, what was done); else a DataError.

    Inputs whose values lie within the training range widened by its own
    span on either side are taken as they are. Inputs outside it are
    rescaled when exactly one of ×1/255 and ×255 brings them inside, and
    refused otherwise; fractional inputs within 0–1 given to a model trained
    on values up to 255 are multiplied by 255.
    """
    if train_range is None or X.size == 0:
        return X, None
    lo, hi = float(train_range[0]), float(train_range[1])
    span = max(hi - lo, 1e-12)
    a, b = float(np.min(X)), float(np.max(X))

    def inside(f: float) -> bool:
        return a * f >= lo - span and b * f <= hi + span

    if inside(1.0):
        fractional = 0 <= a and b <= 1 and bool(np.any(X != np.round(X)))
        if not (lo >= 0 and hi > 2 * 255 / 3 and fractional):
            return X, None
        factor, how = _FACTORS[1]
    else:
        fits = [(f, how) for f, how in _FACTORS if inside(f)]
        if len(fits) != 1:
            raise DataError(f"{what}: values from {a:g} to {b:g}, far outside the range the model was trained on "
                            f"({lo:g} to {hi:g}); scale them as the training data were")
        factor, how = fits[0]
    note = f"{what}: values from {a:g} to {b:g}; the model was trained on {lo:g} to {hi:g}: {how}"
    return (X * np.asarray(factor, dtype=X.dtype if X.dtype.kind == "f" else np.float32)), note
