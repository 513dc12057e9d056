"""``neurona boundary``: the decision regions of a network on a 2-D toy set, as a PNG."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .. import io
from ..data.bundle import data_slug
from . import build
from .options import TRAIN_DEFAULTS, flag_groups, merge
from .output import CLIError
from .runs import model_path, new_run_dir
from .trained import input_scaler, open_model, training_options

NAME = "boundary"
DEFAULTS = {**TRAIN_DEFAULTS, "lr_schedule": "none", "data": "spiral", "hidden": "64,64", "epochs": 200,
            "lr": 0.01, "batch_size": 32, "patience": 0, "val_split": 0.0, "samples": 1000, "noise": 0.05}


def add_parser(sub):
    g = flag_groups()
    b = sub.add_parser(NAME, parents=[g["data"], g["model"], g["train"]],
                       help="decision regions of a network on a 2-D toy set, as a PNG")
    b.add_argument("--model-file", dest="model_file", help="draw an existing model instead of training one")
    b.add_argument("--output", help="PNG path (default runs/<name>/boundary.png)")
    return b


def run(args) -> int:
    from .. import plot
    from ..train import TerminateOnNaN, fit, predict, weight_penalty
    from ..train import metrics as M

    quiet = bool(args.quiet)
    if not plot.available():
        raise CLIError("boundary draws a PNG and needs matplotlib, which is not installed (pip install "
                       "'neurona[plot]')")
    o = merge(args, DEFAULTS)
    o["standardize"] = not args.no_standardize
    if args.model_file:
        f, model = open_model(args.model_file)
        meta = f.metadata
        mo = training_options(f)
        mo["data"] = args.data or mo["data"] or o["data"]
        data = build.load_data(mo, val_split=0.0)
        x_scaler = input_scaler(f)
        run_dir = Path(args.output).parent if args.output else model_path(args.model_file).parent
        out_png = Path(args.output) if args.output else run_dir / "boundary.png"
    else:
        data, x_scaler, _, X_tr, y_tr, X_val, y_val, _ = build.prepared(o)
        model = build.build_model(o, data, o["seed"])
    if data.input_shape != (2,) or data.task != "classification":
        raise CLIError(f"boundary needs a 2-D classification data set (circle, xor, gaussians, spiral or a file "
                       f"with two feature columns); {data.name} has inputs of shape {data.input_shape}")
    if not args.model_file:
        optimizer = build.make_optimizer(o["optimizer"], model.parameters(), o["lr"], o["momentum"],
                                         o["weight_decay"])
        train_loader, val_loader = build.loaders(X_tr, y_tr, X_val, y_val, o["batch_size"], o["seed"])
        fit(model, build.loss_fn("classification"), optimizer, train_loader, val_loader, epochs=o["epochs"],
            callbacks=[TerminateOnNaN()], verbose=0 if quiet else 2 if o["epochs"] <= 30 else 0,
            penalty=weight_penalty(o["l1"], o["l2"]))
        run_dir = new_run_dir(args.out, args.name, f"boundary-{data_slug(o['data'])}")
        run_dir.mkdir(parents=True, exist_ok=True)
        io.save(model, run_dir / "model.npz", preprocessing=x_scaler, dataset=o["data"], task="classification",
                class_names=data.class_names, input_shape=[2], seed=o["seed"], samples=o["samples"],
                noise=o["noise"], options=o)
        out_png = Path(args.output) if args.output else run_dir / "boundary.png"

    def scores(P):
        return predict(model, build.scale(x_scaler, P), batch_size=4096)

    acc_tr = M.accuracy(data.y_train, scores(data.X_train)) if len(data.X_train) else math.nan
    acc_te = M.accuracy(data.y_test, scores(data.X_test))
    X_all = np.concatenate([data.X_train, data.X_test])
    y_all = np.concatenate([data.y_train, data.y_test])
    hidden = o["hidden"] if not args.model_file else (f.config or {}).get("hidden", "?")
    plot.decision_boundary(scores, X_all, y_all, out_png,
                           title=f"{data.name}: hidden {hidden}, train acc {acc_tr:.3f}, test acc {acc_te:.3f}")
    print(f"train accuracy {acc_tr:.4f}, test accuracy {acc_te:.4f}")
    print(f"decision regions written to {out_png}")
    return 0
