"""The ``neurona prune``, ``neurona quantize`` and ``neurona distill`` commands.

    neurona prune runs/<name> --sparsity 0.8 [--finetune-epochs 2] [--steps 3] [--scope layer] [--structured]
    neurona quantize runs/<name> [--calibration-batches 8] [--observer percentile]
    neurona distill --teacher runs/<name> --student mlp --hidden 100 [--epochs 10] [-T 4] [--alpha 0.9]

Each reads a model file written by ``neurona train`` (or a run folder), takes
the data set, its splits and the input scaling from the file's metadata
(``--data`` overrides the data set), and writes a new run folder
``runs/<command>-<model>-<date>/`` with the new model (``model.npz``),
``metrics.json`` and the comparison table ``comparison.md`` / ``comparison.csv``:
parameters, non-zero parameters, file size (raw and zlib-compressed),
test accuracy and inference time per batch of 256.

``build_parser`` in ``neurona/cli.py`` adds them with ``add_subparsers(sub)``.
"""
from __future__ import annotations

import datetime as _dt
import math
from pathlib import Path

import numpy as np

__all__ = ["add_subparsers", "cmd_prune", "cmd_quantize", "cmd_distill"]

_KEEP_META = ("dataset", "task", "class_names", "feature_names", "input_shape", "is_image", "seed", "samples",
              "noise", "target", "embedded_subset", "target_scaler")


# --- shared steps ----------------------------------------------------------------------------


def _cli():
    from .. import cli

    return cli


def _open(path: str):
    """(model file, model, path) for a model file or run folder."""
    cli = _cli()
    p = cli._model_path(path)
    from .. import io

    f = io.read_model_file(p)
    model = f.build()
    return f, model, p


def _data(f, spec: str | None, quiet: bool):
    """The data the model was trained on (same splits), scaled with the model's preprocessing."""
    cli = _cli()
    meta = f.metadata
    spec = spec or meta.get("dataset")
    if spec is None:
        raise cli.CLIError(f"{f.path} does not say which data it was trained on; pass --data")
    opts = meta.get("options") or {}
    data = cli.load_data(spec, target=meta.get("target"), task=meta.get("task", "auto"), seed=int(meta.get("seed", 0)),
                         val_split=float(opts.get("val_split", 0.1)), samples=int(meta.get("samples", 1000)),
                         noise=float(meta.get("noise", 0.1)))
    for note in data.notes:
        cli._loud(note)
    if data.task != "classification":
        raise cli.CLIError(f"--data {spec}: compression commands report accuracy and need a classification data set")
    expected = meta.get("input_shape")
    if expected is not None and math.prod(data.input_shape) != math.prod(expected):
        raise cli.CLIError(f"--data {spec}: samples of shape {data.input_shape}, but {f.path} expects "
                           f"{tuple(expected)}")
    scaler = f.preprocessing if hasattr(f.preprocessing, "transform") else None

    def prepare(a):  # the model's sample shape first (flat rows for an image model), then its scaling
        if expected is not None and list(a.shape[1:]) != list(expected):
            a = a.reshape((len(a),) + tuple(int(s) for s in expected))
        return cli._scale(scaler, a)

    X_tr, X_val, X_te = (prepare(a) for a in (data.X_train, data.X_val, data.X_test))
    return data, scaler, X_tr, X_val, X_te


def _meta(f, command: str, extra: dict) -> dict:
    meta = {k: f.metadata[k] for k in _KEEP_META if k in f.metadata}
    meta["compressed_from"] = str(f.path)
    meta["command"] = command
    meta.update(extra)
    return meta


def _run_dir(args, command: str, source: Path) -> Path:
    cli = _cli()
    stem = source.parent.name if source.name in ("model.npz", "checkpoint.npz") else source.stem
    run = cli._new_run_dir(args.out, args.name, f"{command}-{stem}")
    run.mkdir(parents=True, exist_ok=True)
    return run


def _write_results(run: Path, rows: list[dict], metrics: dict, extra_files: list[str], quiet: bool) -> None:
    from .compare import comparison_table

    cli = _cli()
    table = comparison_table(rows)
    (run / "comparison.md").write_text(table, encoding="utf-8")
    (run / "comparison.csv").write_text(comparison_table(rows, fmt="csv"), encoding="utf-8")
    metrics = {**metrics, "comparison": rows, "created": _dt.datetime.now().isoformat(timespec="seconds")}
    cli._write_json(run / "metrics.json", metrics)
    print(table, end="")
    files = ["model.npz", "metrics.json", "comparison.md", "comparison.csv"] + extra_files
    print(f"run files in {run}/: {', '.join(files)}")


def _train_parts(args, model, data, X_tr, X_val, opts: dict):
    cli = _cli()
    lr = args.lr
    optimizer = cli.make_optimizer(args.optimizer or opts.get("optimizer", "adam"), model.parameters(), lr)
    bs = args.batch_size if args.batch_size is not None else opts.get("batch_size", 128)
    seed = int(args.seed if args.seed is not None else opts.get("seed", 0))
    train, val = cli._loaders(data, X_tr, data.y_train, X_val, data.y_val, bs, seed)
    return optimizer, train, val


def _stats(name, model, X_te, y_te, path=None):
    from .compare import model_stats

    return model_stats(name, model, X_te, y_te, path=path)


# --- prune -------------------------------------------------------------------------------------


def cmd_prune(args) -> int:
    from .. import io, nn
    from .pruning import iterative_prune, magnitude_prune, save_pruned, shrink, sparsity_report

    cli = _cli()
    quiet = bool(args.quiet)
    if not 0.0 <= args.sparsity < 1.0:
        raise cli.CLIError(f"--sparsity must be in [0, 1), got {args.sparsity}")
    if args.finetune_epochs < 0 or args.steps < 1:
        raise cli.CLIError("--finetune-epochs must be >= 0 and --steps >= 1")
    f, model, path = _open(args.model)
    data, _, X_tr, X_val, X_te = _data(f, args.data, quiet)
    rows = [_stats("original", model, X_te, data.y_test, path)]
    loss_fn = nn.CrossEntropyLoss()
    opts = f.metadata.get("options") or {}
    if args.finetune_epochs > 0 or args.steps > 1:
        model.train()
        optimizer, train, val_loader = _train_parts(args, model, data, X_tr, X_val, opts)
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
    run = _run_dir(args, "prune", path)
    meta = _meta(f, "prune", {"pruning_options": {"sparsity": args.sparsity, "scope": args.scope,
                                                  "structured": bool(args.structured), "steps": args.steps,
                                                  "finetune_epochs": args.finetune_epochs},
                              "options": opts})
    save_pruned(model, run / "model.npz", masks, preprocessing=f.preprocessing, **meta)
    label = f"pruned {report.sparsity:.0%}" + (" structured" if args.structured else "") + \
        (f" + {args.finetune_epochs} ep fine-tune" if args.finetune_epochs else "")
    rows.append(_stats(label, model, X_te, data.y_test, run / "model.npz"))
    extra = ["sparsity.txt"]
    if args.structured:
        try:
            small = shrink(model)
        except TypeError as e:
            cli._say(f"not shrunk: {e}", quiet, err=True)
        else:
            io.save(small, run / "model_shrunk.npz", preprocessing=f.preprocessing, **meta)
            rows.append(_stats("pruned, neurons removed", small, X_te, data.y_test, run / "model_shrunk.npz"))
            extra.append("model_shrunk.npz")
    (run / "sparsity.txt").write_text(str(report) + "\n", encoding="utf-8")
    if not quiet:
        print(report)
    metrics = {"dataset": data.name, "sparsity": report.sparsity, "layers": report.as_dict()["layers"],
               "steps": steps, "test_accuracy_before": rows[0]["accuracy"], "test_accuracy_after": rows[1]["accuracy"]}
    _write_results(run, rows, metrics, extra, quiet)
    return 0


# --- quantize ----------------------------------------------------------------------------------


def cmd_quantize(args) -> int:
    from .. import io
    from ..train import predict
    from .quantization import quantize

    cli = _cli()
    quiet = bool(args.quiet)
    f, model, path = _open(args.model)
    data, _, X_tr, X_val, X_te = _data(f, args.data, quiet)
    if args.calibration_batches < 1:
        raise cli.CLIError("--calibration-batches must be >= 1")
    rng = np.random.default_rng(0)
    calib = X_tr[rng.permutation(len(X_tr))[:args.calibration_batches * 256]]
    observer = args.observer if args.observer in ("minmax", "percentile") else float(args.observer)
    qmodel = quantize(model, calib, num_batches=args.calibration_batches, batch_size=256, observer=observer,
                      gemm=args.gemm)
    run = _run_dir(args, "quantize", path)
    meta = _meta(f, "quantize", {"quantization": {"calibration_batches": args.calibration_batches,
                                                  "observer": args.observer, "bits": 8},
                                 "options": f.metadata.get("options") or {}})
    io.save(qmodel, run / "model.npz", preprocessing=f.preprocessing, **meta)
    rows = [_stats("float32", model, X_te, data.y_test, path)]
    other = "blas" if args.gemm == "int32" else "int32"
    rows.append(_stats(f"int8 (gemm {args.gemm})", qmodel, X_te, data.y_test, run / "model.npz"))
    qmodel.set_gemm(other)
    rows.append(_stats(f"int8 (gemm {other})", qmodel, X_te, data.y_test, run / "model.npz"))
    qmodel.set_gemm(args.gemm)
    out_f, out_q = predict(model, X_te, 512), predict(qmodel, X_te, 512)
    metrics = {"dataset": data.name, "test_accuracy_float": rows[0]["accuracy"],
               "test_accuracy_int8": rows[1]["accuracy"],
               "accuracy_change": rows[1]["accuracy"] - rows[0]["accuracy"],
               "max_abs_logit_difference": float(np.abs(out_f - out_q).max()),
               "prediction_agreement": float(np.mean(out_f.argmax(1) == out_q.argmax(1))),
               "size_ratio": rows[1]["file_bytes"] / rows[0]["file_bytes"]}
    if not quiet:
        print(f"accuracy {metrics['test_accuracy_float']:.4f} -> {metrics['test_accuracy_int8']:.4f}, "
              f"file {rows[0]['file_bytes']:,} -> {rows[1]['file_bytes']:,} bytes, "
              f"{metrics['prediction_agreement']:.2%} of predictions unchanged")
    _write_results(run, rows, metrics, [], quiet)
    return 0


# --- distill ------------------------------------------------------------------------------------


def cmd_distill(args) -> int:
    from .. import io, manual_seed, nn
    from ..models.registry import build_model, get_model_spec
    from ..train import fit
    from .distillation import distill

    cli = _cli()
    quiet = bool(args.quiet)
    f, teacher, path = _open(args.teacher)
    data, _, X_tr, X_val, X_te = _data(f, args.data, quiet)
    opts = dict(f.metadata.get("options") or {})
    hidden = cli._parse_ints(args.hidden, "--hidden") if args.hidden is not None else [100]
    try:
        spec = get_model_spec(args.student)
    except KeyError as e:
        raise cli.CLIError(str(e)) from None
    options = {"hidden": hidden, "activation": args.activation or "relu", "dropout": 0.0, "batch_norm": False}
    config = spec.from_cli(data.info(), options) if spec.from_cli is not None else {}
    seed = int(args.seed if args.seed is not None else opts.get("seed", 0))
    epochs = int(args.epochs)
    if epochs < 1:
        raise cli.CLIError("--epochs must be >= 1")

    def new_student():
        manual_seed(seed)
        return build_model(args.student, **config)

    def parts(model):
        return _train_parts(args, model, data, X_tr, X_val, opts)

    student = new_student()
    optimizer, train, val = parts(student)
    verbose = 0 if quiet else 2
    history = distill(student, teacher, train, val=val, epochs=epochs, T=args.temperature, alpha=args.alpha,
                      optimizer=optimizer, verbose=verbose)
    rows = [_stats("teacher", teacher, X_te, data.y_test, path)]
    run = _run_dir(args, "distill", path)
    opts.update({"model": args.student, "hidden": hidden})
    meta = _meta(f, "distill", {"distillation": {"teacher": str(path), "T": args.temperature, "alpha": args.alpha,
                                                 "epochs": epochs}, "options": opts})
    io.save(student, run / "model.npz", preprocessing=f.preprocessing, **meta)
    rows.append(_stats(f"student {args.student} {hidden} distilled", student, X_te, data.y_test, run / "model.npz"))
    metrics = {"dataset": data.name, "T": args.temperature, "alpha": args.alpha, "epochs": epochs,
               "teacher_accuracy": rows[0]["accuracy"], "distilled_accuracy": rows[1]["accuracy"],
               "history": history.history}
    extra = []
    if not args.no_baseline:
        alone = new_student()
        opt2, train2, val2 = parts(alone)
        h2 = fit(alone, nn.CrossEntropyLoss(), opt2, train2, val=val2, epochs=epochs, verbose=verbose)
        alone.eval()
        io.save(alone, run / "model_alone.npz", preprocessing=f.preprocessing, **meta)
        rows.append(_stats(f"student {args.student} {hidden} alone", alone, X_te, data.y_test,
                           run / "model_alone.npz"))
        metrics.update(alone_accuracy=rows[2]["accuracy"], gain=rows[1]["accuracy"] - rows[2]["accuracy"],
                       history_alone=h2.history)
        extra.append("model_alone.npz")
    _write_results(run, rows, metrics, extra, quiet)
    return 0


# --- argument parsing ----------------------------------------------------------------------------


def _common(p) -> None:
    g = p.add_argument_group("data and training")
    g.add_argument("--data", help="data set (default: the one the model was trained on, with the same splits)")
    g.add_argument("--optimizer", help="optimizer for (fine-)training (default: the model's, else adam)")
    g.add_argument("--lr", type=float, help="learning rate (default: the optimizer's usual one)")
    g.add_argument("--batch-size", dest="batch_size", type=int, help="mini-batch size (default: the model's, else 128)")
    g.add_argument("--seed", type=int, help="seed of shuffling and new weights (default: the model's)")
    g = p.add_argument_group("output")
    g.add_argument("--out", default="runs", help="folder for runs (default runs/)")
    g.add_argument("--name", help="run name (default: <command>-<model>-<date>)")
    g.add_argument("--quiet", action="store_true", help="print only the results")


def add_subparsers(subparsers) -> None:
    """Add ``prune``, ``quantize`` and ``distill`` to the ``neurona`` command's sub-parsers."""
    p = subparsers.add_parser(
        "prune", help="magnitude pruning of a trained model, with optional fine-tuning",
        description="Zero the smallest weights (the notes' poda por relevancia) to a target sparsity, optionally "
                    "in several prune/fine-tune rounds, and compare size, sparsity, accuracy and speed.")
    p.add_argument("model", help="model file or run folder")
    p.add_argument("--sparsity", type=float, required=True, help="fraction of weights set to zero, e.g. 0.8")
    p.add_argument("--finetune-epochs", dest="finetune_epochs", type=int, default=0,
                   help="epochs of fine-tuning after each pruning round, masks held (default 0)")
    p.add_argument("--steps", type=int, default=1, help="prune/fine-tune rounds up to --sparsity (default 1)")
    p.add_argument("--schedule", choices=("geometric", "linear", "cubic"), default="geometric",
                   help="how the sparsity grows over the rounds (default geometric)")
    p.add_argument("--scope", choices=("global", "layer"), default="global",
                   help="rank weights over all layers (global, default) or within each layer")
    p.add_argument("--structured", action="store_true",
                   help="remove whole neurons / channels; an MLP is also saved shrunk (model_shrunk.npz)")
    _common(p)
    p.set_defaults(func=cmd_prune)

    q = subparsers.add_parser(
        "quantize", help="post-training int8 quantization of a trained model",
        description="Quantize Linear/Conv weights to int8 (one scale per output channel) and their inputs "
                    "(calibrated on training batches); int8 products summed in int32. Compares size, accuracy "
                    "and speed with the float model.")
    q.add_argument("model", help="model file or run folder")
    q.add_argument("--calibration-batches", dest="calibration_batches", type=int, default=8,
                   help="training batches of 256 used to fix the activation ranges (default 8)")
    q.add_argument("--observer", default="minmax", help="minmax (default), percentile, or a percentile like 99.9")
    q.add_argument("--gemm", choices=("int32", "blas"), default="int32",
                   help="integer products by numpy int32 matmul (default) or by an exact float GEMM (faster)")
    _common(q)
    q.set_defaults(func=cmd_quantize)

    d = subparsers.add_parser(
        "distill", help="train a small student network from a trained teacher's softened outputs",
        description="Knowledge distillation: loss α T² KL(teacher_T ‖ student_T) + (1 − α) CE; the same student "
                    "is also trained alone for comparison (unless --no-baseline).")
    d.add_argument("--teacher", required=True, help="the teacher's model file or run folder")
    d.add_argument("--student", default="mlp", help="registered model name of the student (default mlp)")
    d.add_argument("--hidden", help="the student's hidden layer sizes (default 100)")
    d.add_argument("--activation", help="the student's activation (default relu)")
    d.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    d.add_argument("-T", "--temperature", type=float, default=2.0, help="softmax temperature T (default 2)")
    d.add_argument("--alpha", type=float, default=0.5, help="weight α of the soft targets (default 0.5)")
    d.add_argument("--no-baseline", dest="no_baseline", action="store_true",
                   help="skip training the student alone")
    _common(d)
    d.set_defaults(func=cmd_distill)
