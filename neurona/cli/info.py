"""``neurona info MODEL``: architecture, parameter counts, per-layer output shapes and training metadata."""
from __future__ import annotations

import json

from .. import io
from .runs import model_path

NAME = "info"


def add_parser(sub):
    i = sub.add_parser(NAME, help="architecture, parameter counts and training metadata of a model file")
    i.add_argument("model", help="model file, checkpoint or run folder")
    return i


def _short(v) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k}={_short(x)}" for k, x in v.items())
    if isinstance(v, float):
        return f"{v:.4f}"
    if isinstance(v, list) and len(v) > 12:
        return str(v[:12])[:-1] + ", ...]"
    return str(v)


def _option(opts: dict, key: str) -> str:
    """An option as the run used it: the learning rate left to the optimizer's default is that default."""
    value = opts[key]
    if key == "lr" and value is None:
        from ..optim.factory import OPTIMIZERS, default_lr

        name = str(opts.get("optimizer", "adam"))
        return f"{default_lr(name):g} ({name}'s default)" if name.lower() in OPTIMIZERS else "the optimizer's default"
    if key == "batch_size" and value is None:
        return "full"
    return str(value)


def run(args) -> int:
    path = model_path(args.model)
    f = io.read_model_file(path)
    h = f.header
    print(f"{path}: neurona {f.kind} file (format version {h['version']}, written by neurona "
          f"{h.get('neurona_version', '?')} on {h.get('created', '?')})")
    if f.model_name is not None:
        print(f"model: {f.model_name} {json.dumps(f.config)}")
    else:
        print("model: weights only (not rebuildable by name)")
    total = 0
    groups: dict[str, list] = {}
    for name, a in f.weights.items():
        layer = name.rsplit(".", 1)[0] if "." in name else ""
        groups.setdefault(layer, []).append((name.rsplit(".", 1)[-1], a))
    model = None
    if f.model_name is not None:
        try:
            model = f.build()
        except io.ModelFileError as e:
            print(f"warning: {e.problem}")
    if model is not None:
        print("\n" + repr(model))
    print(f"\n{'layer':<28} {'tensors':<40} {'parameters':>12}")
    learnable = {n for n, _ in model.named_parameters()} if model is not None else None
    for layer, items in groups.items():
        n = sum(int(a.size) for k, a in items if learnable is None or f"{layer}.{k}".lstrip(".") in learnable)
        total += n
        shapes = ", ".join(f"{k} {tuple(a.shape)}" for k, a in items)
        print(f"{layer or '(model)':<28} {shapes:<40} {n:>12,}")
    print(f"{'total learnable parameters':<69} {total:>12,}")
    if model is not None and f.metadata.get("input_shape") is not None:
        from ..models.summary import format_summary, summary

        shape = tuple(f.metadata["input_shape"])
        try:
            rows = summary(model, shape, dtype=f.metadata.get("input_dtype"))
        except (ValueError, TypeError, IndexError) as e:
            print(f"\nper-layer output shapes: not available ({e})")
        else:
            # containers (a Sequential holding the layers) own no parameters: their rows would read "0"
            names = [r.name for r in rows]
            rows = [r for r in rows if r.name == "(output)" or not any(n.startswith(r.name + ".") for n in names)]
            print(f"\nper-layer output shapes, for one input of shape {shape}:\n{format_summary(rows)}")
    meta = f.metadata
    if meta:
        print("\ntraining metadata:")
        for k in ("dataset", "task", "input_shape", "class_names", "epochs_trained", "epoch", "seed", "test",
                  "embedded_subset"):
            if k in meta and meta[k] is not None:
                print(f"  {k}: {_short(meta[k])}")
        opts = meta.get("options")
        if isinstance(opts, dict):
            keys = ("optimizer", "lr", "batch_size", "epochs", "patience", "dropout", "l1", "l2", "augment")
            print("  options: " + ", ".join(f"{k}={_option(opts, k)}" for k in keys if k in opts))
    if f.preprocessing is not None:
        print(f"preprocessing: {type(f.preprocessing).__name__}")
    if f.kind == "checkpoint":
        opt = h.get("optimizer") or {}
        print(f"checkpoint: epoch {h.get('epoch')}, optimizer {opt.get('class', 'none')}")
    return 0
