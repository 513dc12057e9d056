"""``neurona lr-find``: the learning-rate range test, loss against an exponentially growing learning rate.

Writes ``runs/lr-find-<optimizer>-<data>-<date>/``: ``lr_find.json`` (the
rates, the smoothed losses and the suggestion) and ``lr_find.png``.
"""
from __future__ import annotations

from pathlib import Path

from ..data.bundle import data_slug
from . import build
from .options import TRAIN_DEFAULTS, at_least_one, flag_groups, merge, positive
from .output import CLIError, plots_skipped, say
from .runs import RunFolder, new_run_dir, timestamp

NAME = "lr-find"
# the range test runs batches, not epochs: nothing to stop early, schedule, validate or augment
LEFT_OUT = ("epochs", "patience", "monitor", "lr_schedule", "augment", "val_split", "lr")


def add_parser(sub):
    g = flag_groups(TRAIN_DEFAULTS, leave_out=LEFT_OUT)
    lf = sub.add_parser(NAME, parents=[g["data"], g["model"], g["train"]],
                        help="learning-rate range test: loss against an exponentially growing learning rate",
                        description="Train on batch after batch while the learning rate grows exponentially from "
                                    "--start-lr to --end-lr, and suggest the rate where the smoothed loss falls "
                                    "fastest. The model's weights are not kept.")
    g = lf.add_argument_group("range test")
    g.add_argument("--start-lr", dest="start_lr", type=positive, default=1e-6,
                   help="learning rate of the first batch (default 1e-6)")
    g.add_argument("--end-lr", dest="end_lr", type=positive, default=1.0,
                   help="learning rate of the last batch (default 1)")
    g.add_argument("--num-iter", dest="num_iter", type=at_least_one, default=200,
                   help="batches tried, fewer if the loss diverges first (default 200)")
    g.add_argument("--output", help="also write the PNG here (default: lr_find.png in the run folder)")
    return lf


def run(args) -> int:
    import json

    from .. import io, plot
    from ..train import lr_find

    quiet = bool(args.quiet)
    if args.end_lr <= args.start_lr:
        raise CLIError(f"--end-lr ({args.end_lr:g}) must be larger than --start-lr ({args.start_lr:g})")
    o = merge(args, {**TRAIN_DEFAULTS, "val_split": 0.0})
    o["standardize"] = not args.no_standardize
    run_dir = new_run_dir(args.out, args.name, f"lr-find-{o['optimizer']}-{data_slug(o['data'])}")
    data, x_scaler, y_scaler, X_tr, y_tr, X_val, y_val, _ = build.prepared(o)
    model = build.build_model(o, data, o["seed"])
    optimizer = build.make_optimizer(o["optimizer"], model.parameters(), args.start_lr, o["momentum"],
                                     o["weight_decay"])
    train_loader, _ = build.loaders(X_tr, y_tr, None, None, o["batch_size"], o["seed"])
    result = lr_find(model, build.loss_fn(data.task), optimizer, train_loader, start_lr=args.start_lr,
                     end_lr=args.end_lr, num_iter=args.num_iter)
    if result.suggestion is None:
        print("the loss never fell over the range tried; try a wider range (--start-lr, --end-lr)")
    else:
        print(f"suggested learning rate for {o['optimizer']}: {result.suggestion:.3g} "
              f"(steepest descent of the smoothed loss over {len(result.lrs)} batches"
              f"{', stopped when the loss diverged' if result.diverged else ''})")
    with RunFolder(run_dir) as folder:
        with io.atomic_write(folder.file("lr_find.json"), "w", encoding="utf-8") as fh:
            json.dump({"optimizer": o["optimizer"], "data": o["data"], "suggestion": result.suggestion,
                       "diverged": bool(result.diverged), "lrs": [float(v) for v in result.lrs],
                       "losses": [float(v) if v == v else None for v in result.losses], "options": o,
                       "created": timestamp()}, fh, indent=2)
        files = ["lr_find.json"]
        if plot.available():
            result.plot(folder.file("lr_find.png"))
            files.append("lr_find.png")
            if args.output:
                result.plot(Path(args.output))
                say(f"curve also written to {args.output}", quiet)
        else:
            plots_skipped("matplotlib is not installed (pip install 'neurona[plot]')", quiet)
        folder.keep()
    print(f"run files in {run_dir}/: {', '.join(files)}")
    return 0
