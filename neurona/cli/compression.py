"""What ``neurona prune``, ``quantize`` and ``distill`` share: flags, the model's data, the new run folder and
the comparison table (parameters, non-zero parameters, file size raw and zipped, test accuracy, time per batch)."""
from __future__ import annotations

from pathlib import Path

from .. import io
from ..optim import OPTIMIZERS
from . import build
from .options import at_least_one, count, positive
from .output import CLIError
from .runs import RunFolder, new_run_dir, timestamp, write_json
from .trained import ModelData, model_data, source_name

KEEP_META = ("dataset", "task", "class_names", "feature_names", "input_shape", "is_image", "seed", "samples",
             "noise", "target", "embedded_subset", "target_scaler")


def output_flags(p) -> None:
    g = p.add_argument_group("output")
    g.add_argument("--out", default="runs", help="folder for runs (default runs/)")
    g.add_argument("--name", help="run name (default: <command>-<model>-<date>)")
    g.add_argument("--quiet", action="store_true", help="print only the results")


def data_flag(p) -> None:
    p.add_argument("--data", help="data set (default: the one the model was trained on, with the same splits)")


def training_flags(p) -> None:
    g = p.add_argument_group("training")
    g.add_argument("--optimizer", choices=tuple(OPTIMIZERS), metavar="OPTIMIZER",
                   help=f"{', '.join(OPTIMIZERS)} (default: the model's, else adam)")
    g.add_argument("--lr", type=positive, help="learning rate (default: the optimizer's usual one)")
    g.add_argument("--batch-size", dest="batch_size", type=at_least_one,
                   help="mini-batch size (default: the model's, else 128)")
    g.add_argument("--seed", type=count, help="seed of shuffling and new weights (default: the model's)")


def classification_data(f: io.ModelFile, spec: str | None) -> ModelData:
    """The model's data (same splits, scaled); the comparison reports accuracy, so classes only."""
    md = model_data(f, spec)
    if md.data.task != "classification":
        raise CLIError(f"--data {spec or f.metadata.get('dataset')}: compression commands report accuracy and need "
                       f"a classification data set")
    return md


def meta(f: io.ModelFile, command: str, extra: dict) -> dict:
    """The metadata of the new model: the original's data description, where it came from, and ``extra``."""
    out = {k: f.metadata[k] for k in KEEP_META if k in f.metadata}
    out["compressed_from"] = str(f.path)
    out["command"] = command
    out.update(extra)
    return out


def run_folder(args, command: str, source: Path) -> RunFolder:
    """The new run's folder (``<command>-<source run>-<date>``), to enter while writing it."""
    return RunFolder(new_run_dir(args.out, args.name, f"{command}-{source_name(source)}"))


def train_parts(args, model, md: ModelData, opts: dict):
    """(optimizer, training loader, validation loader) for fine-tuning or training a student."""
    optimizer = build.make_optimizer(args.optimizer or opts.get("optimizer", "adam"), model.parameters(), args.lr)
    bs = args.batch_size if args.batch_size is not None else opts.get("batch_size", 128)
    seed = int(args.seed if args.seed is not None else opts.get("seed", 0))
    train, val = build.loaders(md.X_train, md.data.y_train, md.X_val, md.data.y_val, bs, seed)
    return optimizer, train, val


def stats(name, model, X_te, y_te, path=None) -> dict:
    from ..compress import model_stats

    return model_stats(name, model, X_te, y_te, path=path)


def write_results(run: Path, rows: list[dict], metrics: dict, extra_files: list[str]) -> None:
    """comparison.md / .csv and metrics.json, the table printed."""
    from ..compress import comparison_table

    table = comparison_table(rows)
    with io.atomic_write(run / "comparison.md", "w", encoding="utf-8") as fh:
        fh.write(table)
    with io.atomic_write(run / "comparison.csv", "w", encoding="utf-8") as fh:
        fh.write(comparison_table(rows, fmt="csv"))
    write_json(run / "metrics.json", {**metrics, "comparison": rows, "created": timestamp()})
    print(table, end="")
    files = ["model.npz", "metrics.json", "comparison.md", "comparison.csv"] + extra_files
    print(f"run files in {run}/: {', '.join(files)}")
