"""Preprocessing: input scaling, one-hot labels and a stratified train/validation split.

Scalers are fitted on the training set only and then applied unchanged to
validation and test data; their ``state_dict()`` holds plain arrays so they
can be saved next to the model that expects their scaled inputs.
"""
from __future__ import annotations

import numpy as np


def _array(x) -> tuple[np.ndarray, bool]:
    """(the ndarray behind x, whether x was a neurona Tensor)."""
    from ..engine import Tensor
    if isinstance(x, Tensor):
        return x.array, True
    return np.asarray(x), False


def _float_like(a: np.ndarray) -> np.ndarray:
    if a.dtype.kind == "f":
        return a
    from ..backend import get_default_dtype
    return a.astype(get_default_dtype())


def _wrap(out: np.ndarray, was_tensor: bool):
    if was_tensor:
        from ..engine import Tensor
        return Tensor(out, dtype=out.dtype)
    return out


def _axes(axis, ndim: int) -> tuple[int, ...]:
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(a % ndim for a in axes)


class _Scaler:
    """fit / transform / fit_transform / state_dict plumbing shared by the scalers."""

    _state: tuple[str, ...] = ()

    def __init__(self, axis):
        self.axis = axis

    @property
    def fitted(self) -> bool:
        return all(getattr(self, k, None) is not None for k in self._state)

    def _require_fit(self, name: str) -> None:
        if not self.fitted:
            raise RuntimeError(f"{type(self).__name__}.{name}: call fit(X_train) first")

    def _check_shape(self, a: np.ndarray, name: str) -> None:
        ref = getattr(self, self._state[0])
        try:
            if a.ndim != ref.ndim:  # broadcasting (N, 784) against (1, 1, 1, 1) would succeed and scramble rows
                raise ValueError
            np.broadcast_shapes(a.shape, ref.shape)
        except ValueError:
            raise ValueError(f"{type(self).__name__}.{name}: input of shape {a.shape} does not match the statistics "
                             f"of shape {ref.shape} fitted on axis={self.axis}") from None

    def fit_transform(self, x):
        return self.fit(x).transform(x)

    def state_dict(self) -> dict[str, np.ndarray]:
        """The fitted statistics as plain arrays (save them with the model)."""
        self._require_fit("state_dict")
        extra = {k: np.asarray(v) for k, v in self._hyper().items()}
        return {**{k: getattr(self, k).copy() for k in self._state}, **extra}

    def load_state_dict(self, state: dict) -> None:
        missing = [k for k in self._state if k not in state]
        if missing:
            raise KeyError(f"{type(self).__name__}.load_state_dict: missing {missing}, got keys {sorted(state)}")
        for k in self._state:
            setattr(self, k, np.array(state[k], dtype=np.float64))
        self._set_hyper(state)

    def _hyper(self) -> dict:
        return {}

    def _set_hyper(self, state: dict) -> None:
        pass


class Standardizer(_Scaler):
    """Standardize inputs: x̂_j = (x_j − μ_j) / sqrt(σ_j² + ε).

    The notes' input normalization ("Normalización de las entradas", to
    avoid the saturation that paralyses training): μ_j and σ_j² are the mean
    and variance of feature j over the N training samples, with
    σ_j² = 1/(N−1) Σ_i (x_ij − μ_j)² (``ddof=1``), and ε avoids a division
    by zero. After it, each feature has mean 0 and standard deviation ≈ 1.

    ``axis`` are the axes reduced: 0 gives one statistic per feature (per
    pixel for images); ``axis=(0, 2, 3)`` one per channel of NCHW images.

    >>> sc = Standardizer().fit(X_train)
    >>> X_train, X_test = sc.transform(X_train), sc.transform(X_test)
    """

    _state = ("mean", "var")

    def __init__(self, eps: float = 1e-8, ddof: int = 1, axis=0):
        super().__init__(axis)
        self.eps, self.ddof = float(eps), int(ddof)
        self.mean = self.var = None

    def fit(self, x) -> "Standardizer":
        a, _ = _array(x)
        axes = _axes(self.axis, a.ndim)
        n = int(np.prod([a.shape[k] for k in axes]))
        if n <= self.ddof:
            raise ValueError(f"Standardizer.fit: {n} samples along axis={self.axis}, need more than ddof={self.ddof}")
        a64 = a.astype(np.float64)
        self.mean = a64.mean(axis=axes, keepdims=True)
        self.var = a64.var(axis=axes, ddof=self.ddof, keepdims=True)
        return self

    def transform(self, x):
        """x̂ = (x − μ) / sqrt(σ² + ε), in x's float dtype (float32 for integer input)."""
        self._require_fit("transform")
        a, was_tensor = _array(x)
        self._check_shape(a, "transform")
        a = _float_like(a)
        scale = np.sqrt(self.var + self.eps)
        return _wrap(((a - self.mean.astype(a.dtype)) / scale.astype(a.dtype)).astype(a.dtype, copy=False), was_tensor)

    def inverse_transform(self, x):
        """x = x̂ · sqrt(σ² + ε) + μ."""
        self._require_fit("inverse_transform")
        a, was_tensor = _array(x)
        self._check_shape(a, "inverse_transform")
        a = _float_like(a)
        scale = np.sqrt(self.var + self.eps)
        return _wrap(a * scale.astype(a.dtype) + self.mean.astype(a.dtype), was_tensor)

    def _hyper(self) -> dict:
        return {"eps": self.eps, "ddof": self.ddof}

    def _set_hyper(self, state: dict) -> None:
        self.eps = float(state.get("eps", self.eps))
        self.ddof = int(state.get("ddof", self.ddof))


class MinMaxScaler(_Scaler):
    """Rescale each feature linearly to ``feature_range`` (default [0, 1]).

    x' = a + (x − min) (b − a) / (max − min), with min and max taken over
    the training samples; a constant feature maps to a.
    """

    _state = ("min", "max")

    def __init__(self, feature_range: tuple[float, float] = (0.0, 1.0), axis=0):
        super().__init__(axis)
        lo, hi = feature_range
        if not lo < hi:
            raise ValueError(f"MinMaxScaler: feature_range must be (low, high) with low < high, got {feature_range}")
        self.feature_range = (float(lo), float(hi))
        self.min = self.max = None

    def fit(self, x) -> "MinMaxScaler":
        a, _ = _array(x)
        axes = _axes(self.axis, a.ndim)
        a64 = a.astype(np.float64)
        self.min = a64.min(axis=axes, keepdims=True)
        self.max = a64.max(axis=axes, keepdims=True)
        return self

    def _scale(self) -> np.ndarray:
        span = self.max - self.min
        lo, hi = self.feature_range
        return (hi - lo) / np.where(span > 0, span, 1.0)

    def transform(self, x):
        self._require_fit("transform")
        a, was_tensor = _array(x)
        self._check_shape(a, "transform")
        a = _float_like(a)
        out = (a - self.min.astype(a.dtype)) * self._scale().astype(a.dtype) + a.dtype.type(self.feature_range[0])
        return _wrap(out, was_tensor)

    def inverse_transform(self, x):
        self._require_fit("inverse_transform")
        a, was_tensor = _array(x)
        self._check_shape(a, "inverse_transform")
        a = _float_like(a)
        out = (a - a.dtype.type(self.feature_range[0])) / self._scale().astype(a.dtype) + self.min.astype(a.dtype)
        return _wrap(out, was_tensor)

    def _hyper(self) -> dict:
        return {"feature_range": np.array(self.feature_range)}

    def _set_hyper(self, state: dict) -> None:
        if "feature_range" in state:
            lo, hi = np.asarray(state["feature_range"], dtype=np.float64).tolist()
            self.feature_range = (lo, hi)


def one_hot(labels, num_classes: int | None = None, dtype=np.float32) -> np.ndarray:
    """Class indices → one-hot rows: one_hot([2, 0], 3) = [[0, 0, 1], [1, 0, 0]].

    Works on any shape of labels (the classes become a new last axis).
    """
    y, _ = _array(labels)
    if y.dtype.kind not in "iu":
        if y.dtype.kind == "f" and y.size and np.all(y == np.round(y)):
            y = y.astype(np.int64)
        else:
            raise TypeError(f"one_hot: expected integer class labels, got dtype {y.dtype}")
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    bad = (y < 0) | (y >= num_classes)
    if bad.any():
        values = np.unique(y[bad])[:10].tolist()
        raise ValueError(f"one_hot: labels {values} are outside [0, {num_classes}) for num_classes={num_classes}")
    return np.eye(num_classes, dtype=dtype)[y]


def train_val_split(X, y, val_fraction: float = 0.2, stratify: bool = True, seed: int | None = None):
    """Split (X, y) at random into (X_train, X_val, y_train, y_val).

    With ``stratify=True`` every class keeps (within one sample) its
    proportion in both parts; it needs integer class labels, so pass
    ``stratify=False`` for regression targets. Arrays or Tensors in, arrays out.

    >>> X_tr, X_val, y_tr, y_val = train_val_split(X, y, val_fraction=0.1, seed=0)
    """
    from .dataset import _generator

    Xa, _ = _array(X)
    ya, _ = _array(y)
    n = len(Xa)
    if len(ya) != n:
        raise ValueError(f"train_val_split: X has {n} samples (shape {Xa.shape}) "
                         f"but y has {len(ya)} (shape {ya.shape})")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"train_val_split: val_fraction must be in (0, 1), got {val_fraction}")
    rng = _generator(seed)
    n_val = int(round(val_fraction * n))
    if n_val == 0 or n_val == n:
        raise ValueError(f"train_val_split: val_fraction={val_fraction} of {n} samples leaves an empty part")
    if not stratify:
        perm = rng.permutation(n)
        val, train = perm[:n_val], perm[n_val:]
    else:
        if ya.dtype.kind not in "iub":
            raise ValueError(f"train_val_split: stratify=True needs integer class labels, got y of dtype {ya.dtype}; "
                             f"pass stratify=False for regression targets")
        val, train = _stratified(ya.reshape(n, -1)[:, 0] if ya.ndim > 1 else ya, n_val, rng)
    return Xa[train], Xa[val], ya[train], ya[val]


def _stratified(y: np.ndarray, n_val: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Validation quota per class by largest remainders, so quotas add up to n_val exactly."""
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    exact = counts * (n_val / len(y))
    quota = np.floor(exact).astype(np.int64)
    short = n_val - int(quota.sum())
    quota[np.argsort(-(exact - quota), kind="stable")[:short]] += 1
    val, train = [], []
    for k in range(len(classes)):
        members = rng.permutation(np.flatnonzero(inverse == k))
        val.append(members[:quota[k]])
        train.append(members[quota[k]:])
    return rng.permutation(np.concatenate(val)), rng.permutation(np.concatenate(train))
