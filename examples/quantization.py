"""Post-training int8 quantization of an MLP and a small CNN on Fashion-MNIST (the notes' "cuantización").

    python examples/quantization.py                   # trains the MLP (10 epochs) and cnn-small (3 epochs)
    python examples/quantization.py --mlp runs/examples/mlp.npz --cnn runs/examples/cnn.npz   # reuse models
    python examples/quantization.py --quick           # embedded 3,000-image subset: a smoke test

Each weight becomes an 8-bit integer with one scale per output neuron or
channel (s_i = max|W_i|/127); each quantized layer's input is mapped to int8
with a scale and zero point fixed on 8 calibration batches; the int8 products
are summed in int32 and only then turned back to float. Batch normalization
after a convolution is folded into its weights first.

For each model the table gives the float32 and int8 versions: parameters,
file size, test accuracy and inference time for a batch of 256 — with the
integer products computed by NumPy's int32 matmul (true integer arithmetic,
but NumPy has no fast integer GEMM) and by an exact float GEMM on the same
integers (identical outputs, BLAS speed). The change of accuracy and the
share of unchanged predictions follow.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import neurona
from neurona import compress, models, nn, optim
from neurona.data import fashion_mnist
from neurona.train import LearningRateScheduler, fit, predict


def load_data(quick: bool):
    Xtr, ytr = fashion_mnist("train", as_float=True, layout="NCHW", subset=quick)
    Xte, yte = fashion_mnist("test", as_float=True, layout="NCHW", subset=quick)
    mean, std = np.float32(Xtr.mean()), np.float32(Xtr.std())
    return ((Xtr - mean) / std, ytr), ((Xte - mean) / std, yte)


def train_model(name: str, train, test, epochs: int, lr: float, seed: int, save: str | None):
    neurona.manual_seed(seed)
    model = models.build_model("mlp", hidden=[300, 100]) if name == "mlp" else models.build_model(name)
    opt = optim.Adam(model.parameters(), lr)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    start = time.perf_counter()
    fit(model, nn.CrossEntropyLoss(), opt, train, val=test, epochs=epochs, batch_size=128, seed=seed, verbose=2,
        callbacks=[LearningRateScheduler(sched)])
    print(f"{name}: trained {epochs} epochs in {time.perf_counter() - start:.0f} s")
    if save:
        Path(save).parent.mkdir(parents=True, exist_ok=True)
        neurona.io.save(model, save, dataset="fashion-mnist")
    return model.eval()


def compare(name: str, model, train, test, calibration_batches: int = 8) -> list[dict]:
    Xtr, _ = train
    Xte, yte = test
    rng = np.random.default_rng(0)
    calib = Xtr[rng.permutation(len(Xtr))[:256 * calibration_batches]]
    start = time.perf_counter()
    q = compress.quantize(model, calib, num_batches=calibration_batches)
    print(f"\n{name}: quantized in {time.perf_counter() - start:.1f} s; {len(q.quantized_layers())} int8 layers"
          + (f", {len(q.folded)} batch norms folded" if q.folded else ""))
    rows = [compress.model_stats(f"{name} float32", model, Xte, yte)]
    rows.append(compress.model_stats(f"{name} int8 (int32 matmul)", q, Xte, yte))
    q.set_gemm("blas")
    rows.append(compress.model_stats(f"{name} int8 (exact float GEMM)", q, Xte, yte))
    ref, out = predict(model, Xte, 512), predict(q, Xte, 512)
    print(f"accuracy {rows[0]['accuracy']:.4f} -> {rows[1]['accuracy']:.4f} "
          f"({100 * (rows[1]['accuracy'] - rows[0]['accuracy']):+.2f} points); "
          f"{np.mean(ref.argmax(1) == out.argmax(1)):.2%} of predictions unchanged; largest logit change "
          f"{np.abs(ref - out).max():.3f} (logits span {ref.max() - ref.min():.1f}); "
          f"file {rows[0]['file_bytes']:,} -> {rows[1]['file_bytes']:,} bytes "
          f"({rows[1]['file_bytes'] / rows[0]['file_bytes']:.1%})")
    return rows


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mlp", help="a trained MLP model file (default: train one, 10 epochs)")
    ap.add_argument("--cnn", help="a trained cnn-small model file (default: train one)")
    ap.add_argument("--cnn-epochs", type=int, default=3)
    ap.add_argument("--mlp-epochs", type=int, default=10)
    ap.add_argument("--save-dir", help="save the trained float models here (mlp.npz, cnn.npz)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="embedded subset, 1-2 epochs")
    args = ap.parse_args(argv)

    train, test = load_data(args.quick)
    d = args.save_dir
    mlp = neurona.io.load(args.mlp) if args.mlp else train_model(
        "mlp", train, test, 2 if args.quick else args.mlp_epochs, 1e-3, args.seed, d and f"{d}/mlp.npz")
    cnn = neurona.io.load(args.cnn) if args.cnn else train_model(
        "cnn-small", train, test, 1 if args.quick else args.cnn_epochs, 3e-3, args.seed, d and f"{d}/cnn.npz")
    rows = compare("MLP 784-300-100-10", mlp, train, test) + compare("cnn-small", cnn, train, test)
    print("\n" + compress.comparison_table(rows))
    return rows


if __name__ == "__main__":
    main()
