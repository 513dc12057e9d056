"""``neurona boundary``: the decision regions of a network on a 2-D toy set, as a PNG."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .. import io
from ..data.bundle import data_slug
from . import build
from .options import TRAIN_DEFAULTS, flag_groups, merge
from .output import EXIT_DIVERGED, CLIError, say
from .runs import RunFolder, model_path, new_run_dir
from .trained import input_scaler, open_model, training_options

NAME = "boundary"
DEFAULTS = {**TRAIN_DEFAULTS, "lr_schedule": "none", "data": "spiral", "hidden": "64,64", "epochs": 200,
            "lr": 0.01, "batch_size": 32, "patience": 0, "val_split": 0.0, "samples": 1000, "noise": 0.05}


# flags that mean nothing here: boundary trains for --epochs on 2-D points, without early stopping or schedules
LEFT_OUT = ("augment", "patience", "monitor", "lr_schedule")


def add_parser(sub):
    g = flag_groups(DEFAULTS, leave_out=LEFT_OUT, data_help=(
        "a 2-D classification set: circle, xor, gaussians, spiral, or a .csv/.npz file with two feature columns "
        "(default spiral)"))
    b = sub.add_parser(NAME, parents=[g["data"], g["model"], g["train"]],
                       help="decision regions of a network on a 2-D toy set, as a PNG",
                       description="Train a network on a 2-D classification set (or take one with --model-file) "
                                   "and draw its decision regions with the points on top.")
    b.add_argument("--model-file", dest="model_file", help="draw an existing model instead of training one")
    b.add_argument("--output", help="PNG path (default runs/<name>/boundary.png)")
    return b


def run(args) -> int:
    from .. import plot
    from ..train import TerminateOnDivergence, fit, weight_penalty

    quiet = bool(args.quiet)
    if not plot.available():
        raise CLIError("boundary draws a PNG and needs matplotlib, which is not installed (pip install "
                       "'neurona[plot]')")
    o = merge(args, DEFAULTS)
    o["standardize"] = not args.no_standardize
    if args.model_file:
        f, model = open_model(args.model_file)
        mo = training_options(f)
        mo["data"] = args.data or mo["data"] or o["data"]
        data = build.load_data(mo, val_split=0.0)
        x_scaler = input_scaler(f)
        out_png = Path(args.output) if args.output else model_path(args.model_file).parent / "boundary.png"
    else:
        run_dir = new_run_dir(args.out, args.name, f"boundary-{data_slug(o['data'])}")
        data, x_scaler, _, X_tr, y_tr, X_val, y_val, _ = build.prepared(o)
        model = build.build_model(o, data, o["seed"])
    if data.input_shape != (2,) or data.task != "classification":
        raise CLIError(f"boundary needs a 2-D classification data set (circle, xor, gaussians, spiral or a file "
                       f"with two feature columns); {data.name} has inputs of shape {data.input_shape}")
    if not args.model_file:
        optimizer = build.make_optimizer(o["optimizer"], model.parameters(), o["lr"], o["momentum"],
                                         o["weight_decay"])
        train_loader, val_loader = build.loaders(X_tr, y_tr, X_val, y_val, o["batch_size"], o["seed"])
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # divergence is reported below
            h = fit(model, build.loss_fn("classification"), optimizer, train_loader, val_loader, epochs=o["epochs"],
                    callbacks=[TerminateOnDivergence(verbose=0)], verbose=0 if quiet else 2 if o["epochs"] <= 30 else 0,
                    penalty=weight_penalty(o["l1"], o["l2"]), clip_grad_norm=o["clip_grad"])
        if h.diverged:
            lr = optimizer.param_groups[0]["lr"]
            say(f"neurona boundary: {h.stop_reason.split('. Try')[0]}. Nothing was drawn; try a smaller learning "
                f"rate, e.g. --lr {lr / 10:g}", err=True)
            return EXIT_DIVERGED
        out_png = Path(args.output) if args.output else run_dir / "boundary.png"
        with RunFolder(run_dir) as folder:
            io.save(model, folder.file("model.npz"), preprocessing=x_scaler, dataset=o["data"],
                    task="classification", class_names=data.class_names, input_shape=[2], seed=o["seed"],
                    samples=o["samples"], noise=o["noise"], options=o,
                    input_range=list(data.input_range) if data.input_range else None)
            _draw(model, data, x_scaler, out_png, o["hidden"], data.class_names)
            folder.keep()
    else:
        _draw(model, data, x_scaler, out_png, (f.config or {}).get("hidden", "?"),
              f.metadata.get("class_names") or data.class_names)
    return 0


def _draw(model, data, x_scaler, out_png: Path, hidden, names) -> None:
    from .. import plot
    from ..train import metrics as M
    from ..train import predict

    def scores(P):
        return predict(model, build.scale(x_scaler, P), batch_size=4096)

    acc_tr = M.accuracy(data.y_train, scores(data.X_train)) if len(data.X_train) else math.nan
    acc_te = M.accuracy(data.y_test, scores(data.X_test))
    X_all = np.concatenate([data.X_train, data.X_test])
    y_all = np.concatenate([data.y_train, data.y_test])
    plot.decision_boundary(scores, X_all, y_all, out_png, class_names=names,
                           title=f"{data.name}: hidden {hidden}, train acc {acc_tr:.3f}, test acc {acc_te:.3f}")
    print(f"train accuracy {acc_tr:.4f}, test accuracy {acc_te:.4f}")
    print(f"decision regions written to {out_png}")
