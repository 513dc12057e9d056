"""Pruning an MLP trained on Fashion-MNIST (the notes' "métodos de poda": relevancia y castigo).

    python examples/pruning.py                 # MLP 784-300-100-10, 10 epochs on the full set, then pruning
    python examples/pruning.py --quick         # embedded 3,000-image subset, 2 epochs: a smoke test
    python examples/pruning.py --model runs/<name>/model.npz    # prune a model from `neurona train`

1. Relevance, one shot: the weights with the smallest |w| are zeroed, ranked
   within each layer or over the whole network (global), without retraining.
2. Relevance, iterative: prune → fine-tune for one epoch, three times, the
   sparsity growing geometrically to 90 % then 95 %; the masks keep pruned
   weights at zero while fine-tuning.
3. Penalty ("castigo"): train on with the L1 term λ Σ|w|, remove |w| < t,
   fine-tune.
4. Structured: remove half of the hidden neurons (smallest L1 norm), fine-tune,
   and shrink the layers: a genuinely smaller and faster network.

A table compares parameters, non-zeros, file size (raw and zlib-compressed:
zeros compress), test accuracy and inference time per batch of 256.
"""
from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import numpy as np

import neurona
from neurona import compress, models, nn, optim
from neurona.data import fashion_mnist, train_val_split
from neurona.train import evaluate, fit


def load_data(quick: bool):
    Xtr, ytr = fashion_mnist("train", as_float=True, layout="flat", subset=quick)
    Xte, yte = fashion_mnist("test", as_float=True, layout="flat", subset=quick)
    mean, std = np.float32(Xtr.mean()), np.float32(Xtr.std())
    Xtr, Xte = (Xtr - mean) / std, (Xte - mean) / std
    Xtr, Xval, ytr, yval = train_val_split(Xtr, ytr, val_fraction=0.1, stratify=True, seed=0)
    return (Xtr, ytr), (Xval, yval), (Xte, yte), {"mean": float(mean), "std": float(std)}


def accuracy(model, data) -> float:
    return evaluate(model, None, data)["accuracy"]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="a trained model file to prune (default: train the notes' MLP)")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save", help="also save the trained dense model here (e.g. runs/examples/mlp.npz)")
    ap.add_argument("--quick", action="store_true", help="embedded subset, 2 epochs")
    args = ap.parse_args(argv)

    train, val, test, scaling = load_data(args.quick)
    loss_fn = nn.CrossEntropyLoss()
    epochs = 2 if args.quick else args.epochs
    if args.model:
        base = neurona.io.load(args.model)
        print(f"loaded {args.model}")
    else:
        neurona.manual_seed(args.seed)
        base = models.MLP(784, [300, 100], 10)
        start = time.perf_counter()
        fit(base, loss_fn, optim.Adam(base.parameters(), 1e-3), train, val=val, epochs=epochs, batch_size=128,
            seed=args.seed, verbose=2)
        print(f"trained {epochs} epochs in {time.perf_counter() - start:.0f} s")
        if args.save:
            Path(args.save).parent.mkdir(parents=True, exist_ok=True)
            neurona.io.save(base, args.save, dataset="fashion-mnist", scaling=scaling)
    base.eval()
    acc0 = accuracy(base, test)
    print(f"\ndense model: {base.num_parameters():,} parameters, test accuracy {acc0:.4f}\n")

    def finetuner(model):
        return optim.Adam(model.parameters(), 5e-4)

    # 1. one shot, no retraining
    print("1. one-shot relevance pruning (no fine-tuning): test accuracy")
    print(f"{'sparsity':>9}  {'per layer':>9}  {'global':>9}")
    one_shot = {}
    for s in (0.5, 0.8, 0.9, 0.95, 0.98):
        row = []
        for scope in ("layer", "global"):
            m = copy.deepcopy(base)
            compress.magnitude_prune(m, s, scope=scope)
            row.append(accuracy(m, test))
            one_shot[(s, scope)] = (m, row[-1])
        print(f"{s:>9.0%}  {row[0]:>9.4f}  {row[1]:>9.4f}")

    # 2. iterative prune -> fine-tune
    print("\n2. iterative pruning, 3 rounds of prune + 1 epoch of fine-tuning (global, geometric schedule)")
    iterative = {}
    for target in (0.9, 0.95):
        m = copy.deepcopy(base)
        m.train()
        res = compress.iterative_prune(m, loss_fn, finetuner(m), train, target, steps=3, finetune_epochs=1,
                                       scope="global", val=val, batch_size=128, seed=args.seed)
        for st in res.steps[1:]:
            print(f"   round {st['step']}: sparsity {st['sparsity']:.3f}  val accuracy after pruning "
                  f"{st['pruned_val_accuracy']:.4f}, after fine-tuning {st['val_accuracy']:.4f}")
        m.eval()
        iterative[target] = (m, accuracy(m, test))
        print(f"   -> {target:.0%} sparse: test accuracy {iterative[target][1]:.4f} "
              f"(one shot, no fine-tuning: {one_shot[(target, 'global')][1]:.4f})")
    print("\n   per layer, at 95 %:")
    print("   " + str(compress.sparsity_report(iterative[0.95][0])).replace("\n", "\n   "))

    # 3. penalty (castigo)
    print("\n3. penalty pruning: 3 epochs with λ Σ|w| (λ = 1e-4), remove |w| < 0.02, 1 epoch fine-tuning")
    pen = copy.deepcopy(base)
    pen.train()
    res = compress.penalty_prune(pen, loss_fn, finetuner(pen), train, l1=1e-4, threshold=0.02,
                                 epochs=1 if args.quick else 3, finetune_epochs=1, val=val, batch_size=128,
                                 seed=args.seed)
    for st in res.steps:
        print(f"   {st['step']:<24} sparsity {st['sparsity']:.3f}  val accuracy {st['val_accuracy']:.4f}")
    pen.eval()

    # 4. structured: whole neurons, then shrink
    print("\n4. structured pruning: half of the hidden neurons (smallest L1 norm), 2 epochs fine-tuning, shrink")
    st_model = copy.deepcopy(base)
    st_model.train()
    masks = compress.magnitude_prune(st_model, 0.5, structured=True)
    fit(st_model, loss_fn, finetuner(st_model), train, val=val, epochs=2, batch_size=128, seed=args.seed,
        verbose=0, callbacks=[masks.callback()])
    st_model.eval()
    small = compress.shrink(st_model)
    print(f"   hidden sizes {base.hidden} -> {small.hidden}; outputs unchanged by shrinking: "
          f"{np.allclose(neurona.train.predict(small, test[0][:512]), neurona.train.predict(st_model, test[0][:512]), atol=1e-4)}")

    rows = [compress.model_stats("dense", base, *test),
            compress.model_stats("90% one shot (global)", one_shot[(0.9, "global")][0], *test),
            compress.model_stats("90% iterative", iterative[0.9][0], *test),
            compress.model_stats("95% iterative", iterative[0.95][0], *test),
            compress.model_stats(f"L1 penalty ({res.report.sparsity:.0%})", pen, *test),
            compress.model_stats("50% neurons, shrunk", small, *test)]
    print("\n" + compress.comparison_table(rows))
    return {"rows": rows, "one_shot": {f"{s}-{k}": v[1] for (s, k), v in one_shot.items()}}


if __name__ == "__main__":
    main()
