"""The small datasets bundled with scikit-learn (optional: ``pip install neurona[sklearn]``)."""
from __future__ import annotations

import numpy as np

# name -> (loader function in sklearn.datasets, task)
SKLEARN_SETS = {
    "digits": ("load_digits", "classification"),
    "iris": ("load_iris", "classification"),
    "wine": ("load_wine", "classification"),
    "breast_cancer": ("load_breast_cancer", "classification"),
    "diabetes": ("load_diabetes", "regression"),
}


def load_sklearn(name: str, return_names: bool = False):
    """Load a scikit-learn bundled dataset as (X float32, y).

    y is int64 class labels for 'digits', 'iris', 'wine' and 'breast_cancer',
    and float32 targets for the regression set 'diabetes'. No download is needed.
    With ``return_names=True`` it returns ``(X, y, class_names, feature_names)``
    too (class_names is None for 'diabetes').

    >>> X, y = load_sklearn("iris")     # (150, 4) float32, (150,) int64
    >>> X, y, classes, features = load_sklearn("iris", return_names=True)   # classes[0] == "setosa"
    """
    if name not in SKLEARN_SETS:
        raise ValueError(f"load_sklearn: unknown dataset {name!r}; available: {', '.join(SKLEARN_SETS)}")
    try:
        from sklearn import datasets
    except ImportError as e:
        raise ImportError(f"load_sklearn({name!r}) needs scikit-learn, which is not installed. "
                          "Install the optional extra: pip install neurona[sklearn]  "
                          "(or: pip install scikit-learn)") from e
    loader, task = SKLEARN_SETS[name]
    bunch = getattr(datasets, loader)()
    X = np.asarray(bunch.data, dtype=np.float32)
    y = np.asarray(bunch.target, dtype=np.int64 if task == "classification" else np.float32)
    if not return_names:
        return X, y
    classes = None
    if task == "classification":
        names = getattr(bunch, "target_names", None)
        classes = [str(c) for c in names] if names is not None else [str(c) for c in range(int(y.max()) + 1)]
    features = getattr(bunch, "feature_names", None)
    features = [str(f) for f in features] if features is not None else None
    return X, y, classes, features
