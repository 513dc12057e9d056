"""``neurona quantize MODEL [--calibration-batches 8] [--observer percentile]``: post-training int8
quantization (the notes' cuantización de los parámetros), compared with the float model."""
from __future__ import annotations

import numpy as np

from .. import io
from . import compression as C
from .output import CLIError
from .trained import open_model

NAME = "quantize"


def add_parser(sub):
    q = sub.add_parser(
        NAME, help="post-training int8 quantization of a trained model",
        description="Quantize Linear/Conv weights to int8 (one scale per output channel) and their inputs "
                    "(calibrated on training batches); int8 products summed in int32. Compares size, accuracy "
                    "and speed with the float model.")
    q.add_argument("model", help="model file or run folder")
    q.add_argument("--calibration-batches", dest="calibration_batches", type=int, default=8,
                   help="training batches of 256 used to fix the activation ranges (default 8)")
    q.add_argument("--observer", default="minmax", help="minmax (default), percentile, or a percentile like 99.9")
    q.add_argument("--gemm", choices=("int32", "blas"), default="int32",
                   help="integer products by numpy int32 matmul (default) or by an exact float GEMM (faster)")
    C.training_flags(q)
    C.output_flags(q)
    return q


def run(args) -> int:
    from ..compress import quantize
    from ..train import predict

    quiet = bool(args.quiet)
    f, model = open_model(args.model)
    path = f.path
    md = C.classification_data(f, args.data)
    data, X_tr, X_te = md.data, md.X_train, md.X_test
    if args.calibration_batches < 1:
        raise CLIError("--calibration-batches must be >= 1")
    rng = np.random.default_rng(0)
    calib = X_tr[rng.permutation(len(X_tr))[:args.calibration_batches * 256]]
    observer = args.observer if args.observer in ("minmax", "percentile") else float(args.observer)
    qmodel = quantize(model, calib, num_batches=args.calibration_batches, batch_size=256, observer=observer,
                      gemm=args.gemm)
    run_dir = C.run_dir(args, "quantize", path)
    meta = C.meta(f, "quantize", {"quantization": {"calibration_batches": args.calibration_batches,
                                                   "observer": args.observer, "bits": 8},
                                  "options": f.metadata.get("options") or {}})
    io.save(qmodel, run_dir / "model.npz", preprocessing=f.preprocessing, **meta)
    rows = [C.stats("float32", model, X_te, data.y_test, path)]
    other = "blas" if args.gemm == "int32" else "int32"
    rows.append(C.stats(f"int8 (gemm {args.gemm})", qmodel, X_te, data.y_test, run_dir / "model.npz"))
    qmodel.set_gemm(other)
    rows.append(C.stats(f"int8 (gemm {other})", qmodel, X_te, data.y_test, run_dir / "model.npz"))
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
    return 0
