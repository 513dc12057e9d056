"""``neurona compare --optimizers LIST | --activations LIST``: one network trained several ways, its learning
curves on one figure (the notes' comparison of optimizers and activations)."""
from __future__ import annotations

import time

import numpy as np

from ..data.bundle import data_slug
from ..optim import OPTIMIZERS
from . import build
from .options import TRAIN_DEFAULTS, flag_groups, merge
from .output import CLIError, plots_skipped, say
from .runs import RunFolder, new_run_dir, write_json

NAME = "compare"
DEFAULTS = {**TRAIN_DEFAULTS, "epochs": 10, "patience": 0, "lr_schedule": "none"}


def add_parser(sub):
    g = flag_groups(DEFAULTS)
    c = sub.add_parser(NAME, parents=[g["data"], g["model"], g["train"]],
                       help="train the same network with several optimizers or activations and plot their learning "
                            "curves together")
    c.add_argument("--optimizers", help="e.g. sgd,momentum,nesterov,adagrad,rmsprop,adam,nadam")
    c.add_argument("--activations", help="e.g. relu,tanh,sigmoid")
    return c


def run(args) -> int:
    from .. import plot
    from ..train import EarlyStopping, TerminateOnDivergence, evaluate, fit, weight_penalty

    if bool(args.optimizers) == bool(args.activations):
        raise CLIError("give exactly one of --optimizers LIST or --activations LIST")
    quiet = bool(args.quiet)
    o = merge(args, DEFAULTS)
    o["standardize"] = not args.no_standardize
    what = "optimizer" if args.optimizers else "activation"
    variants = [v.strip() for v in (args.optimizers or args.activations).split(",") if v.strip()]
    if len(variants) < 1:
        raise CLIError(f"--{what}s: give a comma-separated list")
    for v in variants:
        if what == "optimizer" and v.lower() not in OPTIMIZERS:
            raise CLIError(f"unknown optimizer {v!r}; choose from {', '.join(OPTIMIZERS)}")
    run_dir = new_run_dir(args.out, args.name, f"compare-{what}s-{data_slug(o['data'])}")
    o["min_val_samples"] = 0 if getattr(args, "val_split", None) is not None else build.MIN_VALIDATION
    data, x_scaler, y_scaler, X_tr, y_tr, X_val, y_val, X_te = build.prepared(o)
    for line in data.adjustments:
        say(line, quiet)
    if o["augment"] and not data.is_image:
        raise CLIError(f"--augment works on images; {data.name} is not an image data set")
    with RunFolder(run_dir) as folder:
        histories, summary = {}, {}
        metrics = ["accuracy"] if data.task == "classification" else ["mae"]
        y_te = data.y_test if y_scaler is None else build.scale(y_scaler, data.y_test)
        for v in variants:
            ov = {**o, what: v}
            model = build.build_model(ov, data, o["seed"])  # same seed: every variant starts from the same weights
            optimizer = build.make_optimizer(ov["optimizer"], model.parameters(), o["lr"], o["momentum"],
                                             o["weight_decay"])
            transform = build.augmentation(data, x_scaler, o["seed"]) if o["augment"] else None
            train_loader, val_loader = build.loaders(X_tr, y_tr, X_val, y_val, o["batch_size"], o["seed"], transform)
            cbs = [TerminateOnDivergence()]
            if o["patience"] > 0 and val_loader is not None:
                monitor, min_delta = build.monitor(o, data)
                cbs.append(EarlyStopping(monitor=monitor, patience=o["patience"], min_delta=min_delta))
            sched = build.lr_schedule(o["lr_schedule"] if val_loader is not None or o["lr_schedule"] != "plateau"
                                      else "none", optimizer, o["epochs"])
            if sched is not None:
                cbs.append(sched)
            say(f"== {what} {v} (lr {optimizer.param_groups[0]['lr']:g}) ==", quiet)
            start = time.perf_counter()
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # a diverging variant is reported
                h = fit(model, build.loss_fn(data.task), optimizer, train_loader, val_loader, epochs=o["epochs"],
                        callbacks=cbs, metrics=metrics, verbose=0 if quiet else 1,
                        penalty=weight_penalty(o["l1"], o["l2"]), clip_grad_norm=o["clip_grad"])
                test = evaluate(model, build.loss_fn(data.task), (X_te, y_te), metrics)
            elapsed = time.perf_counter() - start
            histories[v] = h
            summary[v] = {"lr": optimizer.param_groups[0]["lr"], "epochs": len(h), "seconds": round(elapsed, 2),
                          "final_loss": h["loss"][-1] if len(h) else None, "diverged": h.diverged,
                          **{f"test_{k}": val for k, val in test.items()}}
            if "val_loss" in h and np.isfinite(np.asarray(h["val_loss"], dtype=float)).any():
                summary[v]["best_val_loss"] = h.best("val_loss")[1]
            h.to_csv(run_dir / f"history_{v}.csv")
        write_json(run_dir / "compare.json", {"compare": what, "data": o["data"], "options": o, "results": summary})
        key = "test_accuracy" if data.task == "classification" else "test_mae"
        print(f"\n{what:<12} {'lr':>8} {'epochs':>7} {'final loss':>11} {key:>14} {'seconds':>8}")
        for v, s in summary.items():
            fl = s["final_loss"]
            d = s["diverged"]
            note = f"  diverged at epoch {d['epoch']}, batch {d['batch']}" if d else ""
            print(f"{v:<12} {s['lr']:>8g} {s['epochs']:>7} {'-' if fl is None else f'{fl:.4f}':>11} "
                  f"{s[key]:>14.4f} {s['seconds']:>8.1f}{note}")
        files = ["compare.json"] + [f"history_{v}.csv" for v in variants]
        if plot.available():
            metric = "accuracy" if data.task == "classification" else "mae"
            keys = ("loss", "val_loss", "val_" + metric) if X_val is not None else ("loss", metric)
            plot.compare_curves(histories, run_dir / "compare.png", metrics=keys,
                                title=f"{what}s compared on {data.name} ({o['model']} {o['hidden']})")
            files.append("compare.png")
        else:
            plots_skipped("matplotlib is not installed (pip install 'neurona[plot]')", quiet)
        print(f"run files in {run_dir}/: {', '.join(files)}")
        folder.keep()
    return 0
