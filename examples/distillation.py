"""Knowledge distillation on Fashion-MNIST: a small MLP learns from a CNN's softened outputs.

    python examples/distillation.py                              # teacher cnn-small (3 epochs), students MLP
    python examples/distillation.py --teacher runs/examples/cnn.npz --hidden 100,32 --epochs 10
    python examples/distillation.py --quick                      # embedded subset: a smoke test

The notes' "entrenamiento de redes pequeñas a partir de datos generados por
redes grandes". The teacher's probabilities at temperature T,
p_i = softmax(z/T)_i, say which wrong classes an image resembles; the
student minimises α T² KL(p_teacher ‖ p_student) + (1 − α) CE(student, y).
For each student size, the same network (same initial weights, same data
order, same optimizer and epochs) is trained alone on the labels and
distilled, and the test accuracies are compared.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import neurona
from neurona import compress, models, nn, optim
from neurona.data import fashion_mnist
from neurona.train import LearningRateScheduler, evaluate, fit


def load_data(quick: bool):
    Xtr, ytr = fashion_mnist("train", as_float=True, layout="NCHW", subset=quick)
    Xte, yte = fashion_mnist("test", as_float=True, layout="NCHW", subset=quick)
    mean, std = np.float32(Xtr.mean()), np.float32(Xtr.std())
    return ((Xtr - mean) / std, ytr), ((Xte - mean) / std, yte)


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--teacher", help="a trained teacher model file (default: train cnn-small)")
    ap.add_argument("--teacher-epochs", type=int, default=3)
    ap.add_argument("--save-teacher", help="save the trained teacher here")
    ap.add_argument("--hidden", default="100,32", help="hidden sizes of the students, one per student (MLP 784-h-10)")
    ap.add_argument("--epochs", type=int, default=10, help="epochs of every student")
    ap.add_argument("--settings", default="4:0.9,2:0.5", help="T:alpha pairs to try")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="embedded subset, fewer epochs")
    args = ap.parse_args(argv)

    train, test = load_data(args.quick)
    loss_fn = nn.CrossEntropyLoss()
    if args.teacher:
        teacher = neurona.io.load(args.teacher)
    else:
        neurona.manual_seed(args.seed)
        teacher = models.build_model("cnn-small")
        epochs = 1 if args.quick else args.teacher_epochs
        opt = optim.Adam(teacher.parameters(), 3e-3)
        sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
        fit(teacher, loss_fn, opt, train, val=test, epochs=epochs, batch_size=128, seed=args.seed, verbose=2,
            callbacks=[LearningRateScheduler(sched)])
        if args.save_teacher:
            Path(args.save_teacher).parent.mkdir(parents=True, exist_ok=True)
            neurona.io.save(teacher, args.save_teacher, dataset="fashion-mnist")
    teacher.eval()
    acc_t = evaluate(teacher, None, test)["accuracy"]
    print(f"teacher {type(teacher).__name__}: {teacher.num_parameters():,} parameters, test accuracy {acc_t:.4f}")

    settings = [(float(a), float(b)) for a, b in (p.split(":") for p in args.settings.split(","))]
    start = time.perf_counter()
    logits = neurona.train.predict(teacher, train[0], batch_size=512)  # once, for every student
    print(f"teacher logits for {len(logits):,} training images in {time.perf_counter() - start:.0f} s")
    epochs = 2 if args.quick else args.epochs
    results = []
    for h in (int(v) for v in args.hidden.split(",")):
        def student():
            neurona.manual_seed(args.seed + 1)
            return models.MLP(784, [h], 10)

        s = student()
        start = time.perf_counter()
        fit(s, loss_fn, optim.Adam(s.parameters(), 1e-3), train, epochs=epochs, batch_size=128, seed=args.seed,
            verbose=0)
        alone = evaluate(s, None, test)["accuracy"]
        row = {"student": f"MLP 784-{h}-10", "parameters": s.num_parameters(), "alone": alone,
               "alone_s": time.perf_counter() - start}
        line = f"student MLP 784-{h}-10 ({s.num_parameters():,} parameters), {epochs} epochs: alone {alone:.4f}"
        for T, alpha in settings:
            s = student()
            start = time.perf_counter()
            compress.distill(s, teacher, train, epochs=epochs, T=T, alpha=alpha, teacher_logits=logits,
                             optimizer=optim.Adam(s.parameters(), 1e-3), batch_size=128, seed=args.seed)
            acc = evaluate(s, None, test)["accuracy"]
            row[f"T={T:g}, alpha={alpha:g}"] = acc
            line += f";  distilled (T={T:g}, α={alpha:g}) {acc:.4f} ({100 * (acc - alone):+.2f})"
        print(line, flush=True)
        results.append(row)

    keys = [f"T={T:g}, alpha={a:g}" for T, a in settings]
    print("\n| student | parameters | alone | " + " | ".join(f"distilled {k}" for k in keys) + " |")
    print("|---|---:|---:|" + "---:|" * len(keys))
    for r in results:
        print(f"| {r['student']} | {r['parameters']:,} | {r['alone']:.4f} | "
              + " | ".join(f"{r[k]:.4f} ({100 * (r[k] - r['alone']):+.2f})" for k in keys) + " |")
    print(f"\n(teacher: test accuracy {acc_t:.4f}, {teacher.num_parameters():,} parameters)")
    return results


if __name__ == "__main__":
    main()
