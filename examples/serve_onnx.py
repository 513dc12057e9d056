"""Serve an exported model with ONNX Runtime alone: no neurona in this process.

    python examples/serve_onnx.py model.onnx images.npy [--batch 256] [--repeats 20]

What a deployment runs: ``onnxruntime`` and NumPy, the ``.onnx`` file, and the
inputs. It prints the predicted classes' histogram and the time per batch,
and writes the predictions next to the inputs (``<images>.pred.npy``).
``examples/onnx_export_serve.py`` trains and exports the model, then starts
this script in its own process.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import onnxruntime as ort


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description="predict with an ONNX model, without neurona")
    ap.add_argument("model")
    ap.add_argument("images", help="a .npy file of inputs, batch first")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=20, help="timed runs of one batch (after one warm-up)")
    args = ap.parse_args(argv)

    session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    x = np.load(args.images, allow_pickle=False)
    logits = np.concatenate([session.run(None, {name: x[i:i + args.batch]})[0]
                             for i in range(0, len(x), args.batch)])
    pred = logits.argmax(axis=1)
    np.save(args.images[:-len(".npy")] + ".pred.npy", pred)

    times = {}
    for size in (1, args.batch):
        batch = x[:size]
        session.run(None, {name: batch})  # warm-up
        runs = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            session.run(None, {name: batch})
            runs.append(time.perf_counter() - start)
        times[size] = float(np.median(runs))
    report = {"samples": int(len(x)), "neurona_imported": "neurona" in sys.modules,
              "ms_per_batch": {str(k): 1e3 * v for k, v in times.items()},
              "class_counts": np.bincount(pred, minlength=logits.shape[1]).tolist()}
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
