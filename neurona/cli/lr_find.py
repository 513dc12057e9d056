"""``neurona lr-find``: the learning-rate range test, loss against an exponentially growing learning rate."""
from __future__ import annotations

from pathlib import Path

from ..data.bundle import data_slug
from . import build
from .options import TRAIN_DEFAULTS, flag_groups, merge
from .output import plots_skipped

NAME = "lr-find"


def add_parser(sub):
    g = flag_groups()
    lf = sub.add_parser(NAME, parents=[g["data"], g["model"], g["train"]],
                        help="learning-rate range test: loss against an exponentially growing learning rate")
    lf.add_argument("--start-lr", dest="start_lr", type=float, default=1e-6)
    lf.add_argument("--end-lr", dest="end_lr", type=float, default=1.0)
    lf.add_argument("--num-iter", dest="num_iter", type=int, default=200)
    lf.add_argument("--output", help="PNG path")
    return lf


def run(args) -> int:
    from .. import plot
    from ..train import lr_find

    quiet = bool(args.quiet)
    o = merge(args, TRAIN_DEFAULTS)
    o["standardize"] = not args.no_standardize
    data, x_scaler, y_scaler, X_tr, y_tr, X_val, y_val, _ = build.prepared(o)
    model = build.build_model(o, data, o["seed"])
    optimizer = build.make_optimizer(o["optimizer"], model.parameters(), o["lr"], o["momentum"], o["weight_decay"])
    train_loader, _ = build.loaders(X_tr, y_tr, None, None, o["batch_size"], o["seed"])
    result = lr_find(model, build.loss_fn(data.task), optimizer, train_loader, start_lr=args.start_lr,
                     end_lr=args.end_lr, num_iter=args.num_iter)
    if result.suggestion is None:
        print("the loss never fell over the range tried; try a wider range (--start-lr, --end-lr)")
    else:
        print(f"suggested learning rate for {o['optimizer']}: {result.suggestion:.3g} "
              f"(steepest descent of the smoothed loss over {len(result.lrs)} batches"
              f"{', stopped when the loss diverged' if result.diverged else ''})")
    out = Path(args.output) if args.output else Path(args.out) / f"lr_find-{o['optimizer']}-{data_slug(o['data'])}.png"
    if plot.available():
        result.plot(out)
        print(f"curve written to {out}")
    else:
        plots_skipped("matplotlib is not installed (pip install 'neurona[plot]')", quiet)
    return 0
