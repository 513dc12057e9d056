"""``neurona evaluate MODEL [--data ...]``: loss, accuracy and the per-class report of a model on a data set."""
from __future__ import annotations

import math

import numpy as np

from ..data import npz_names
from ..data.bundle import BUILTIN
from . import build
from .output import CLIError, plots_skipped
from .trained import input_scaler, on_training_scale, open_model, training_options

NAME = "evaluate"


def add_parser(sub):
    e = sub.add_parser(NAME, help="loss, accuracy and per-class report of a model on a data set")
    e.add_argument("model", help="model file or run folder")
    e.add_argument("--data", help="data set (default: the one it was trained on, its test split; a file given "
                                  "here is scored whole, unless it holds x_test/y_test)")
    e.add_argument("--target", help="target column for a CSV file")
    e.add_argument("--confusion", metavar="PNG", help="also draw the confusion matrix")
    e.add_argument("--rescale", choices=("auto", "no"), default="auto",
                   help="auto: inputs clearly on another scale than the training data are converted when that is "
                        "unambiguous, else refused; no: use them as they are")
    return e


def run(args) -> int:
    from .. import tensor
    from ..train import metrics as M
    from ..train import predict

    f, model = open_model(args.model)
    meta = f.metadata
    spec = args.data or meta.get("dataset")
    if spec is None:
        raise CLIError(f"{f.path} does not say which data it was trained on; pass --data")
    o = {**training_options(f), "data": spec, "target": args.target or meta.get("target")}
    own = args.data is None  # the model's own data: the same split, its test part
    data = build.load_data(o, val_split=o["val_split"] if own else 0.0, whole_file=not own)
    if own or spec in BUILTIN:
        part = "its test split"
    elif str(spec).lower().endswith(".npz") and "x_test" in npz_names(spec):
        part = "its x_test, y_test"
    else:
        part = "the whole file"
    expected = meta.get("input_shape")
    if expected is not None and list(data.input_shape) != list(expected) and \
            math.prod(data.input_shape) != math.prod(expected):
        raise CLIError(f"--data {spec}: samples of shape {data.input_shape}, but {f.path} expects "
                       f"{tuple(expected)}")
    X = data.X_test
    if expected is not None:  # e.g. flat 784-value rows for a model trained on 1×28×28 images
        X = X.reshape((len(X),) + tuple(int(s) for s in expected))
    X = on_training_scale(f, X, f"--data {spec}", args.rescale)
    X = build.scale(input_scaler(f), X)
    out = predict(model, X, batch_size=512)
    task = meta.get("task", data.task)
    print(f"{f.path} on {spec} ({part}): {len(X):,} samples")
    if task == "classification":
        n_classes = out.shape[1] if out.ndim == 2 else data.n_outputs
        acc = M.accuracy(data.y_test, out)
        loss = float(build.loss_fn("classification")(tensor(out), tensor(data.y_test)).item())
        print(f"loss {loss:.4f}  accuracy {acc:.4f}")
        names = meta.get("class_names") or data.class_names
        if names is not None and len(names) != n_classes:
            names = None
        print(M.classification_report(data.y_test, out, names, num_classes=n_classes))
        if args.confusion:
            from .. import plot

            if not plot.available():
                plots_skipped("matplotlib is not installed (pip install 'neurona[plot]')")
            else:
                plot.confusion_matrix(M.confusion_matrix(data.y_test, out, n_classes), names, args.confusion)
                print(f"confusion matrix written to {args.confusion}")
    else:
        pred = out
        ts = meta.get("target_scaler")
        if ts is not None:
            from ..data import Standardizer

            s = Standardizer()
            s.load_state_dict(ts)
            pred = np.asarray(s.inverse_transform(out))
        print(f"MSE {M.mse(data.y_test, pred):.4g}  MAE {M.mae(data.y_test, pred):.4g}  "
              f"R² {M.r2(data.y_test, pred):.4f}")
    return 0
