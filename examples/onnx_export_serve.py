"""Train a CNN in neurona, export it to ONNX, and serve it from ONNX Runtime without neurona.

    python examples/onnx_export_serve.py                      # LeNet-5, 3 epochs of Fashion-MNIST
    python examples/onnx_export_serve.py --model cnn-small    # conv-bn-relu blocks, global pooling
    python examples/onnx_export_serve.py --quick              # embedded 3,000-image subset: a smoke test

1. Train a CNN of ``neurona.models`` (LeNet-5 by default).
2. ``neurona.onnx.export`` writes ``<out>/<model>.onnx``: every weight an
   initializer named as in the ``state_dict``, batch norm in eval form, the
   batch size free. ``onnx.checker`` validates it.
3. ``examples/serve_onnx.py`` runs in its own Python process, which imports
   only NumPy and ONNX Runtime: it predicts the test set from the ``.onnx``
   file and times one batch. Its predictions must be neurona's.
4. Here, neurona and ONNX Runtime are timed on the same batches, alternately
   (paired runs in one process): the ratio is the figure to trust on a
   shared machine.

Measured with the defaults (LeNet-5, 3 epochs, on a shared 2-core machine):
test accuracy 0.8683 in neurona and in ONNX Runtime, every prediction
equal, logits within 5.7e-6; one image 0.22 ms in neurona and 0.03 ms in
ONNX Runtime, a batch of 256 222 ms and 8.9 ms (ONNX Runtime's fused
convolution kernels, on both cores).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import neurona
import neurona.onnx
from neurona import models, nn, optim
from neurona.data import fashion_mnist
from neurona.train import fit, predict

HERE = Path(__file__).resolve().parent


def paired_times(fn_a, fn_b, repeats: int) -> tuple[float, float]:
    """Median seconds of a and of b, run alternately (a, b, a, b, ...) after one warm-up each."""
    fn_a(), fn_b()
    ta, tb = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        fn_a()
        ta.append(time.perf_counter() - start)
        start = time.perf_counter()
        fn_b()
        tb.append(time.perf_counter() - start)
    return float(np.median(ta)), float(np.median(tb))


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="lenet5", help="any image model of neurona.models (cnn-small, resnet18, ...)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--out", default="runs/onnx", help="folder for the .onnx file and the test images")
    ap.add_argument("--repeats", type=int, default=20, help="timed runs per batch size")
    ap.add_argument("--quick", action="store_true", help="embedded subset, 1 epoch")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.quick:
        args.epochs, args.repeats = 2, min(args.repeats, 5)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    # 1. train
    x, y = fashion_mnist("train", as_float=True, layout="NCHW", subset=args.quick)
    xt, yt = fashion_mnist("test", as_float=True, layout="NCHW", subset=args.quick)
    neurona.manual_seed(args.seed)
    model = models.build_model(args.model, num_classes=10, in_channels=1, input_size=28)
    fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=3e-3), (x, y), epochs=args.epochs,
        batch_size=128, seed=args.seed, verbose=0)
    logits = predict(model, xt, 512)
    accuracy = float((logits.argmax(1) == yt).mean())
    print(f"{args.model}: {args.epochs} epoch(s), test accuracy {accuracy:.4f} in neurona")

    # 2. export (a batch of one is enough: the batch axis stays free)
    path = out / f"{args.model}.onnx"
    proto = neurona.onnx.export(model, xt[:1], path)
    ops = sorted({n.op_type for n in proto.graph.node})
    print(f"exported {path} ({path.stat().st_size:,} bytes): {', '.join(ops)}")

    # 3. serve from a process without neurona
    images = out / "test_images.npy"
    np.save(images, xt)
    done = subprocess.run([sys.executable, str(HERE / "serve_onnx.py"), str(path), str(images),
                           "--repeats", str(args.repeats)], capture_output=True, text=True, check=True)
    served = json.loads(done.stdout.strip().splitlines()[-1])
    pred = np.load(out / "test_images.pred.npy")
    agree = float((pred == logits.argmax(1)).mean())
    print(f"ONNX Runtime alone (neurona imported there: {served['neurona_imported']}): test accuracy "
          f"{(pred == yt).mean():.4f}, {agree:.2%} of predictions equal to neurona's; "
          f"{served['ms_per_batch']['1']:.2f} ms for 1 image, {served['ms_per_batch']['256']:.2f} ms for 256")

    # 4. the same batches through both, in this process
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    diff = float(np.abs(session.run(None, {"input": xt[:512]})[0] - logits[:512]).max())
    timing = {}
    model.eval()
    for size in (1, 256):
        batch = xt[:size]
        tensor = neurona.from_numpy(batch)

        def run_neurona():
            with neurona.no_grad():
                model(tensor)

        t_neurona, t_ort = paired_times(run_neurona, lambda: session.run(None, {"input": batch}), args.repeats)
        timing[size] = (t_neurona, t_ort)
        print(f"batch {size:>3}: neurona {1e3 * t_neurona:8.2f} ms, ONNX Runtime {1e3 * t_ort:8.2f} ms "
              f"({t_neurona / t_ort:.1f}x), paired medians of {args.repeats}")
    print(f"largest logit difference, 512 test images: {diff:.2e}")
    return {"accuracy": accuracy, "served_accuracy": float((pred == yt).mean()), "agreement": agree,
            "max_difference": diff, "neurona_in_server": served["neurona_imported"], "timing": timing}


if __name__ == "__main__":
    main()
