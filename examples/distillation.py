"""Knowledge distillation on Fashion-MNIST: small MLPs learn from a CNN's softened outputs.

    python examples/distillation.py                              # teacher cnn-small (3 epochs), students MLP
    python examples/distillation.py --teacher runs/examples/cnn.npz --hidden 100,32 --epochs 10
    python examples/distillation.py --quick                      # embedded subset: a smoke test

The notes' "entrenamiento de redes pequeñas a partir de datos generados por
redes grandes". The teacher's probabilities at temperature T,
p_i = softmax(z/T)_i, say which wrong classes an image resembles; the
student minimises α T² KL(p_teacher ‖ p_student) + (1 − α) CE(student, y).

For each student size and each (T, α), the same network (same initial
weights, same data order, optimizer and epochs) is trained alone on the
labels and distilled, and the test accuracies are compared, in two settings:

- all training images: the student sees the teacher's 60,000 images;
- few labels: the student gets only ``--few`` of them (default 10 %) —
  soft targets then carry what the teacher learnt from images the student
  never sees, the case where distillation helps most (Hinton et al., 2015).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import neurona
from neurona import compress, models, nn, optim
from neurona.data import fashion_mnist, train_val_split
from neurona.train import LearningRateScheduler, evaluate, fit, predict


def load_data(quick: bool):
    Xtr, ytr = fashion_mnist("train", as_float=True, layout="NCHW", subset=quick)
    Xte, yte = fashion_mnist("test", as_float=True, layout="NCHW", subset=quick)
    mean, std = np.float32(Xtr.mean()), np.float32(Xtr.std())
    return ((Xtr - mean) / std, ytr), ((Xte - mean) / std, yte)


def students(name, teacher, train, logits, test, hidden, settings, epochs, seed) -> list[dict]:
    """Each student size trained alone and distilled with each (T, α), from the same start; test accuracies."""
    loss_fn = nn.CrossEntropyLoss()
    rows = []
    for h in hidden:
        def student():
            neurona.manual_seed(seed + 1)
            return models.MLP(784, [h], 10)

        s = student()
        fit(s, loss_fn, optim.Adam(s.parameters(), 1e-3), train, epochs=epochs, batch_size=128, seed=seed,
            verbose=0)
        row = {"setting": name, "student": f"MLP 784-{h}-10", "parameters": s.num_parameters(),
               "alone": evaluate(s, None, test)["accuracy"]}
        for T, alpha in settings:
            s = student()
            compress.distill(s, teacher, train, epochs=epochs, T=T, alpha=alpha, teacher_logits=logits,
                             optimizer=optim.Adam(s.parameters(), 1e-3), batch_size=128, seed=seed)
            row[(T, alpha)] = evaluate(s, None, test)["accuracy"]
        print(f"{name}: {row['student']}: alone {row['alone']:.4f}; " + "; ".join(
            f"T={T:g} α={a:g} {row[(T, a)]:.4f} ({100 * (row[(T, a)] - row['alone']):+.2f})" for T, a in settings),
            flush=True)
        rows.append(row)
    return rows


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--teacher", help="a trained teacher model file (default: train cnn-small)")
    ap.add_argument("--teacher-epochs", type=int, default=3)
    ap.add_argument("--save-teacher", help="save the trained teacher here")
    ap.add_argument("--hidden", default="100,32", help="hidden sizes of the students, one per student (MLP 784-h-10)")
    ap.add_argument("--epochs", type=int, default=10, help="epochs of every student")
    ap.add_argument("--settings", default="1:0.5,2:0.5,4:0.9", help="T:alpha pairs to try")
    ap.add_argument("--few", type=float, default=0.1, help="share of the training images in the few-labels setting")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="embedded subset, fewer epochs")
    args = ap.parse_args(argv)

    train, test = load_data(args.quick)
    if args.teacher:
        teacher = neurona.io.load(args.teacher)
    else:
        neurona.manual_seed(args.seed)
        teacher = models.build_model("cnn-small")
        epochs = 1 if args.quick else args.teacher_epochs
        opt = optim.Adam(teacher.parameters(), 3e-3)
        sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
        fit(teacher, nn.CrossEntropyLoss(), opt, train, val=test, epochs=epochs, batch_size=128, seed=args.seed,
            verbose=2, callbacks=[LearningRateScheduler(sched)])
        if args.save_teacher:
            Path(args.save_teacher).parent.mkdir(parents=True, exist_ok=True)
            neurona.io.save(teacher, args.save_teacher, dataset="fashion-mnist")
    teacher.eval()
    acc_t = evaluate(teacher, None, test)["accuracy"]
    print(f"teacher {type(teacher).__name__}: {teacher.num_parameters():,} parameters, test accuracy {acc_t:.4f}")
    start = time.perf_counter()
    logits = predict(teacher, train[0], batch_size=512)  # once, for every student
    print(f"teacher logits for {len(logits):,} training images in {time.perf_counter() - start:.0f} s\n")

    settings = [(float(a), float(b)) for a, b in (p.split(":") for p in args.settings.split(","))]
    hidden = [int(v) for v in args.hidden.split(",")]
    epochs = 2 if args.quick else args.epochs
    X, y = train
    few, _, _, _ = train_val_split(np.arange(len(X)), y, val_fraction=1.0 - args.few, stratify=True,
                                   seed=args.seed)
    rows = students("all images", teacher, train, logits, test, hidden, settings, epochs, args.seed)
    rows += students(f"{len(few):,} images", teacher, (X[few], y[few]), logits[few], test, hidden, settings,
                     epochs, args.seed)

    print(f"\nstudents trained {epochs} epochs; teacher test accuracy {acc_t:.4f}\n")
    print("| training images | student | parameters | alone | "
          + " | ".join(f"distilled T={T:g}, α={a:g}" for T, a in settings) + " |")
    print("|---|---|---:|---:|" + "---:|" * len(settings))
    for r in rows:
        print(f"| {r['setting']} | {r['student']} | {r['parameters']:,} | {r['alone']:.4f} | "
              + " | ".join(f"{r[k]:.4f} ({100 * (r[k] - r['alone']):+.2f})" for k in settings) + " |")
    return rows


if __name__ == "__main__":
    main()
