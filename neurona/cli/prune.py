"""``neurona prune MODEL --sparsity 0.8 [--finetune-epochs 2] [--steps 3] [--scope layer] [--structured]``:
magnitude pruning (the notes' poda por relevancia), optionally in prune/fine-tune rounds."""
from __future__ import annotations

from .. import io
from . import compression as C
from .options import at_least_one, count, fraction
from .output import say
from .trained import open_model

NAME = "prune"


def add_parser(sub):
    p = sub.add_parser(
        NAME, help="magnitude pruning of a trained model, with optional fine-tuning",
        description="Zero the smallest weights (the notes' poda por relevancia) to a target sparsity, optionally "
                    "in several prune/fine-tune rounds, and compare size, sparsity, accuracy and speed.")
    p.add_argument("model", help="model file or run folder")
    p.add_argument("--sparsity", type=fraction, required=True, help="fraction of weights set to zero, e.g. 0.8")
    p.add_argument("--finetune-epochs", dest="finetune_epochs", type=count, default=0,
                   help="epochs of fine-tuning after each pruning round, masks held (default 0)")
    p.add_argument("--steps", type=at_least_one, default=1, help="prune/fine-tune rounds up to --sparsity (default 1)")
    p.add_argument("--schedule", choices=("geometric", "linear", "cubic"), default="geometric",
                   help="how the sparsity grows over the rounds (default geometric)")
    p.add_argument("--scope", choices=("global", "layer"), default="global",
                   help="rank weights over all layers (global, default) or within each layer")
    p.add_argument("--structured", action="store_true",
                   help="remove whole neurons / channels; an MLP is also saved shrunk (model_shrunk.npz)")
    C.data_flag(p)
    C.training_flags(p)
    C.output_flags(p)
    return p


def run(args) -> int:
    from .. import nn
    from ..compress import iterative_prune, magnitude_prune, save_pruned, shrink, sparsity_report

    quiet = bool(args.quiet)
    f, model = open_model(args.model)
    path = f.path
    md = C.classification_data(f, args.data)
    data, X_te = md.data, md.X_test
    rows = [C.stats("original", model, X_te, data.y_test, path)]
    loss_fn = nn.CrossEntropyLoss()
    opts = f.metadata.get("options") or {}
    if args.finetune_epochs > 0 or args.steps > 1:
        model.train()
        optimizer, train, val_loader = C.train_parts(args, model, md, opts)
        result = iterative_prune(model, loss_fn, optimizer, train, args.sparsity, steps=args.steps,
                                 finetune_epochs=args.finetune_epochs, schedule=args.schedule, scope=args.scope,
                                 structured=args.structured, val=val_loader, verbose=0 if quiet else 2)
        steps = result.steps
        masks = result.masks
    else:
        masks = magnitude_prune(model, args.sparsity, scope=args.scope, structured=args.structured)
        steps = []
    model.eval()
    report = sparsity_report(model)
    with C.run_folder(args, "prune", path) as folder:
        run_dir = folder.path
        meta = C.meta(f, "prune", {"pruning_options": {"sparsity": args.sparsity, "scope": args.scope,
                                                       "structured": bool(args.structured), "steps": args.steps,
                                                       "finetune_epochs": args.finetune_epochs},
                                   "options": opts})
        save_pruned(model, run_dir / "model.npz", masks, preprocessing=f.preprocessing, **meta)
        label = f"pruned {report.sparsity:.0%}" + (" structured" if args.structured else "") + \
            (f" + {args.finetune_epochs} ep fine-tune" if args.finetune_epochs else "")
        rows.append(C.stats(label, model, X_te, data.y_test, run_dir / "model.npz"))
        extra = ["sparsity.txt"]
        if args.structured:
            try:
                small = shrink(model)
            except TypeError as e:
                say(f"not shrunk: {e}", quiet, err=True)
            else:
                io.save(small, run_dir / "model_shrunk.npz", preprocessing=f.preprocessing, **meta)
                rows.append(C.stats("pruned, neurons removed", small, X_te, data.y_test, run_dir / "model_shrunk.npz"))
                extra.append("model_shrunk.npz")
        with io.atomic_write(run_dir / "sparsity.txt", "w", encoding="utf-8") as fh:
            fh.write(str(report) + "\n")
        if not quiet:
            print(report)
        metrics = {"dataset": data.name, "sparsity": report.sparsity, "layers": report.as_dict()["layers"],
                   "steps": steps, "test_accuracy_before": rows[0]["accuracy"],
                   "test_accuracy_after": rows[1]["accuracy"]}
        C.write_results(run_dir, rows, metrics, extra)
        folder.keep()
    return 0
