"""``neurona quantize MODEL [--calibration-batches 8] [--observer percentile]``: post-training int8
quantization (the notes' cuantización de los parámetros), compared with the float model."""
from __future__ import annotations

import argparse

import numpy as np

from .. import io
from . import compression as C
from .options import at_least_one, count
from .output import say
from .trained import open_model

NAME = "quantize"


def add_parser(sub):
    q = sub.add_parser(
        NAME, help="post-training int8 quantization of a trained model",
        description="Quantize Linear/Conv weights to int8 (one scale per output channel) and their inputs "
                    "(calibrated on training batches); int8 products summed in int32. Compares size, accuracy "
                    "and speed with the float model.")
    q.add_argument("model", help="model file or run folder")
    q.add_argument("--calibration-batches", dest="calibration_batches", type=at_least_one, default=8,
                   help="training batches of 256 used to fix the activation ranges (default 8)")
    q.add_argument("--observer", type=_observer, default="minmax",
                   help="minmax (default), percentile, or a percentile like 99.9")
    q.add_argument("--gemm", choices=("int32", "blas"), default="int32",
                   help="integer products by numpy int32 matmul (default) or by an exact float GEMM (faster)")
    C.data_flag(q)
    g = q.add_argument_group("data and training")
    g.add_argument("--seed", type=count, help="seed of the choice of calibration batches (default 0)")
    C.output_flags(q)
    return q


def _left_in_float(qmodel) -> dict[str, tuple[str, int]]:
    """The layers that keep float32 parameters after quantization: name -> (class, parameters)."""
    left: dict[str, tuple[str, int]] = {}
    for name, p in qmodel.model.named_parameters():
        owner = name.rsplit(".", 1)[0] if "." in name else ""
        kind = type(qmodel.model.get_submodule(owner)).__name__ if owner else type(qmodel.model).__name__
        top = owner.split(".")[0] if owner else "(model)"
        k, n = left.get(top, (kind, 0))
        left[top] = (k, n + int(p.array.size))
    return left


def _observer(text: str):
    if text in ("minmax", "percentile"):
        return text
    try:
        v = float(text)
    except ValueError:
        v = None
    if v is None or not 0 < v <= 100:
        raise argparse.ArgumentTypeError(f"expected minmax, percentile or a percentile in (0, 100], got {text!r}")
    return text


def run(args) -> int:
    from ..compress import quantize
    from ..train import predict

    quiet = bool(args.quiet)
    f, model = open_model(args.model)
    path = f.path
    md = C.classification_data(f, args.data)
    data, X_tr, X_te = md.data, md.X_train, md.X_test
    rng = np.random.default_rng(args.seed or 0)
    calib = X_tr[rng.permutation(len(X_tr))[:args.calibration_batches * 256]]
    observer = args.observer if args.observer in ("minmax", "percentile") else float(args.observer)
    qmodel = quantize(model, calib, num_batches=args.calibration_batches, batch_size=256, observer=observer,
                      gemm=args.gemm)
    left = _left_in_float(qmodel)
    if left:
        n_float = sum(n for _, n in left.values())
        n_all = n_float + sum(int(np.size(getattr(b, "array", b))) for n, b in qmodel.named_buffers()
                             if n.endswith("weight_int8"))
        kinds = sorted({kind for kind, _ in left.values()})
        say(f"note: only Linear and Conv layers are quantized; {', '.join(kinds)} "
            f"({', '.join(f'{name}: {n:,} parameters' for name, (kind, n) in left.items())}) "
            f"{'stays' if len(left) == 1 else 'stay'} float32 — {n_float / max(n_all, 1):.0%} of the parameters",
            err=True)
    label = "int8" + (f", {'/'.join(sorted({k for k, _ in left.values()}))} float32" if left else "")
    with C.run_folder(args, "quantize", path) as folder:
        run_dir = folder.path
        meta = C.meta(f, "quantize", {"quantization": {"calibration_batches": args.calibration_batches,
                                                       "observer": args.observer, "bits": 8,
                                                       "float32_layers": {n: k for n, (k, _) in left.items()}},
                                      "options": f.metadata.get("options") or {}})
        io.save(qmodel, run_dir / "model.npz", preprocessing=f.preprocessing, **meta)
        rows = [C.stats("float32", model, X_te, data.y_test, path)]
        other = "blas" if args.gemm == "int32" else "int32"
        rows.append(C.stats(f"{label} (gemm {args.gemm})", qmodel, X_te, data.y_test, run_dir / "model.npz"))
        qmodel.set_gemm(other)
        rows.append(C.stats(f"{label} (gemm {other})", qmodel, X_te, data.y_test, run_dir / "model.npz"))
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
        C.write_results(run_dir, rows, metrics, [])
        folder.keep()
    return 0
