"""``neurona train``: train a network and write its run folder; ``--resume`` continues one.

    neurona train                                  # MLP 784-300-100-10 ReLU, Adam 1e-3, batch 128, Fashion-MNIST
    neurona train --data spiral --hidden 32,32 --epochs 100
    neurona train --resume runs/<name> --epochs 30 # continue a run from its last checkpoint

It reproduces the notes' recommendation by default: the MLP 784-300-100-10
with ReLU ("una pirámide"), Adam with learning rate 1e-3, mini-batches of
128, inputs standardized with statistics of the training split
(x̂ = (x − μ)/sqrt(σ² + ε)), early stopping on a 10 % validation split
(watching the validation error, patience 5, best weights restored), up to 20
epochs. Adam's rate starts at 1e-3 and is halved whenever the validation
loss has not improved for an epoch (``--lr-schedule plateau``; ``none``
keeps it constant): with a constant rate the test accuracy oscillates around
0.885-0.89 after epoch 10, with the halvings it settles near 0.90. Each run
writes ``runs/<name>/``: ``model.npz`` (the model with its preprocessing and
metadata), ``checkpoint.npz`` (the state to resume from, saved every epoch),
``config.json``, ``metrics.json``, ``history.csv``, ``learning_curves.png``
and ``confusion_matrix.png`` (plots need matplotlib). ``--model language-id``
and the other sequence tasks of :mod:`neurona.text.tasks` train through
:mod:`neurona.cli.text_tasks`; ``--model unet``, ``grid-detector``, ``conv-autoencoder``, ``vae`` and
``dcgan`` (the vision tasks of :mod:`neurona.vision.tasks`) through :mod:`neurona.cli.vision_tasks`.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from .. import io
from ..data import DataBundle
from ..data.bundle import data_slug
from . import build, text_tasks, vision_tasks
from .options import TRAIN_DEFAULTS, flag_groups, merge
from .output import CLIError, plots_skipped, say
from .runs import new_run_dir, timestamp, write_json

NAME = "train"


def add_parser(sub):
    g = flag_groups()
    p = sub.add_parser(NAME, parents=[g["data"], g["model"], g["train"]],
                       help="train a network (default: the notes' MLP on Fashion-MNIST)",
                       description="Train a network and write runs/<name>/ (model, checkpoint, metrics, history, "
                                   "plots). Defaults: MLP 784-300-100-10 ReLU, Adam 1e-3 (halved when the validation "
                                   "loss stalls), batch 128, standardized inputs, early stopping (patience 5, on the "
                                   "validation accuracy) on a 10%% validation split, at most 20 epochs, "
                                   "Fashion-MNIST.")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue runs/<name> from its last checkpoint (its saved "
                                                       "options are used; --epochs sets the new total)")
    return p


class _RunCheckpoint:
    """Callback (built lazily to keep the import light) saving checkpoint.npz and history.csv each epoch."""

    def __new__(cls, run: Path, loader, x_scaler, meta: dict):
        from ..train import Callback

        class RunCheckpoint(Callback):
            def on_epoch_end(self, epoch, logs=None):
                io.save_checkpoint(run / "checkpoint.npz", self.model, self.optimizer, epoch=epoch + 1,
                                   trainer=self.trainer, loader=loader, preprocessing=x_scaler, **meta)
                self.trainer.history.to_csv(run / "history.csv")

        return RunCheckpoint()


def _resume_options(args) -> tuple[dict, Path, io.ModelFile]:
    resume_dir = Path(args.resume)
    given = [k for k in TRAIN_DEFAULTS if k != "epochs" and getattr(args, k, None) is not None]
    given += [k for k in ("no_standardize",) if getattr(args, k, False)]
    given += [k for k in ("name",) if getattr(args, k, None) is not None]
    if given:  # silently training with other options than asked would be worse than refusing
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        raise CLIError(f"--resume continues {resume_dir} with the options it was started with; only --epochs "
                       f"and --quiet may be given with it, got {flags}")
    ckpt_path = resume_dir / "checkpoint.npz"
    cfg_path = resume_dir / "config.json"
    if not ckpt_path.exists() or not cfg_path.exists():
        raise CLIError(f"--resume {resume_dir}: no checkpoint.npz and config.json there (is it a run folder "
                       f"made by neurona train?)")
    try:
        saved = json.loads(cfg_path.read_text(encoding="utf-8"))["options"]
    except (ValueError, KeyError) as e:
        raise CLIError(f"{cfg_path}: not a valid run configuration ({e})") from None
    o = {**TRAIN_DEFAULTS, **saved}
    if args.epochs is not None:
        o["epochs"] = int(args.epochs)
    return o, resume_dir, io.read_model_file(ckpt_path)


def run(args) -> int:
    from ..train import EarlyStopping, TerminateOnNaN, Trainer, weight_penalty

    if text_tasks.is_task(args.model):  # the sequence tasks: language-id, char-lm, word2vec, text-classifier
        return text_tasks.train(args)
    if vision_tasks.is_task(args.model):  # segmentation, detection, autoencoders, DCGAN
        return vision_tasks.train(args)
    quiet = bool(args.quiet)
    ckpt_file = None
    if args.resume:
        o, run_dir, ckpt_file = _resume_options(args)
    else:
        o = merge(args, TRAIN_DEFAULTS)
        if args.no_standardize:
            o["standardize"] = False
        run_dir = None
    if o["epochs"] < 0 or o["patience"] < 0:
        raise CLIError("--epochs and --patience must be >= 0")

    data = build.load_data(o)
    if o["augment"] and not data.is_image:
        raise CLIError(f"--augment works on images; {data.name} is not an image data set")
    model = build.build_model(o, data, o["seed"])
    x_scaler, y_scaler = build.scalers(data, o["standardize"])
    if ckpt_file is not None and ckpt_file.preprocessing is not None:
        x_scaler = ckpt_file.preprocessing  # the statistics the run started with
    scale = build.scale
    X_tr, X_val, X_te = scale(x_scaler, data.X_train), scale(x_scaler, data.X_val), scale(x_scaler, data.X_test)
    y_tr, y_val = data.y_train, data.y_val
    if y_scaler is not None:
        y_tr, y_val = scale(y_scaler, y_tr), scale(y_scaler, y_val)
    transform = build.augmentation(data, x_scaler, o["seed"]) if o["augment"] else None
    train_loader, val_loader = build.loaders(X_tr, y_tr, X_val, y_val, o["batch_size"], o["seed"], transform)

    optimizer = build.make_optimizer(o["optimizer"], model.parameters(), o["lr"], o["momentum"], o["weight_decay"])
    loss_fn = build.loss_fn(data.task)
    metrics = ["accuracy"] if data.task == "classification" else ["mae"]
    callbacks = []
    if o["patience"] > 0 and val_loader is not None:
        callbacks.append(EarlyStopping(monitor=build.monitor(o, data), patience=o["patience"],
                                       restore_best_weights=True))
    if o["lr_schedule"] == "plateau" and val_loader is None:
        if ckpt_file is None and getattr(args, "lr_schedule", None) == "plateau":
            raise CLIError("--lr-schedule plateau needs a validation split (--val-split > 0)")
        o["lr_schedule"] = "none"  # the default schedule watches the validation loss; without one, none
    sched = build.lr_schedule(o["lr_schedule"], optimizer, o["epochs"])
    if sched is not None:
        callbacks.append(sched)
    callbacks.append(TerminateOnNaN())

    if run_dir is None:
        run_dir = new_run_dir(args.out, args.name, f"{o['model']}-{data_slug(o['data'])}")
    meta = {"dataset": o["data"], "task": data.task, "class_names": data.class_names,
            "feature_names": data.feature_names, "input_shape": list(data.input_shape), "is_image": data.is_image,
            "seed": o["seed"], "samples": o["samples"], "noise": o["noise"], "target": o["target"],
            "options": o, "embedded_subset": data.embedded_subset,
            "target_scaler": y_scaler.state_dict() if y_scaler is not None else None}
    callbacks.append(_RunCheckpoint(run_dir, train_loader, x_scaler, meta))
    trainer = Trainer(model, loss_fn, optimizer, metrics=metrics, callbacks=callbacks, verbose=0 if quiet else 1,
                      penalty=weight_penalty(o["l1"], o["l2"]), clip_grad_norm=o["clip_grad"])

    initial_epoch = 0
    if ckpt_file is not None:
        ckpt = io.load_checkpoint(run_dir / "checkpoint.npz", model=model, optimizer=optimizer, trainer=trainer,
                                  loader=train_loader)
        initial_epoch = ckpt.epoch
        if trainer.stop_reason:
            say(f"this run had already stopped ({trainer.stop_reason}); writing its results again", quiet)
            initial_epoch = max(initial_epoch, o["epochs"])
        elif initial_epoch >= o["epochs"]:
            say(f"{run_dir} has already trained {initial_epoch} epochs; pass --epochs N (N > {initial_epoch}) to "
                f"train more", quiet)
        else:
            say(f"resuming {run_dir} at epoch {initial_epoch + 1} of {o['epochs']}", quiet)
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json(run_dir / "config.json", {"command": "train", "options": o, "created": timestamp()})
        n_val = 0 if X_val is None else len(X_val)
        say(f"data: {data.name} — {len(X_tr):,} training, {n_val:,} validation, {len(X_te):,} test samples"
            f"{' (embedded subset)' if data.embedded_subset else ''}", quiet)
        shape = ("-".join(map(str, [math.prod(data.input_shape), *o["hidden"], data.n_outputs])) + " "
                 + o["activation"]) if o["model"] == "mlp" else f"for inputs {data.input_shape}"
        say(f"model: {o['model']} {shape}, {model.num_parameters():,} parameters; optimizer {o['optimizer']} "
            f"lr={optimizer.param_groups[0]['lr']:g}, batch {o['batch_size'] or 'full'}", quiet)

    start = time.perf_counter()
    try:
        history = trainer.fit(train_loader, val_loader, epochs=o["epochs"], initial_epoch=initial_epoch)
    except KeyboardInterrupt:
        say(f"\ninterrupted; the last finished epoch is saved. Continue with: neurona train --resume {run_dir}",
            err=True)
        return 130
    seconds = time.perf_counter() - start
    return _finish(run_dir, model, loss_fn, data, X_te, x_scaler, y_scaler, history, trainer, meta, o, seconds,
                   quiet)


def _finish(run: Path, model, loss_fn, data: DataBundle, X_te, x_scaler, y_scaler, history, trainer, meta: dict,
            o: dict, seconds: float, quiet: bool) -> int:
    from .. import plot, tensor
    from ..train import metrics as M
    from ..train import predict

    out = predict(model, X_te, batch_size=512)
    results: dict = {"dataset": data.name, "task": data.task, "test_samples": int(len(X_te)),
                     "epochs_trained": len(history), "stop_reason": history.stop_reason or trainer.stop_reason,
                     "train_seconds_this_session": round(seconds, 2), "embedded_subset": data.embedded_subset}
    if "val_loss" in history and len(history):
        best_epoch, best = history.best("val_loss")
        results.update(best_epoch=best_epoch + 1, best_val_loss=best)
    if data.task == "classification":
        y_te = data.y_test
        results["test_loss"] = float(loss_fn(tensor(out), tensor(y_te)).item()) if len(y_te) else math.nan
        results["test_accuracy"] = M.accuracy(y_te, out)
        prf = M.precision_recall_f1(y_te, out, num_classes=data.n_outputs)
        cm = M.confusion_matrix(y_te, out, num_classes=data.n_outputs)
        results["macro_f1"] = prf["macro_f1"]
        results["per_class"] = {name: {"precision": prf["precision"][i], "recall": prf["recall"][i],
                                       "f1": prf["f1"][i], "support": int(prf["support"][i])}
                                for i, name in enumerate(data.class_names)}
        results["confusion_matrix"] = cm
    else:
        pred = out if y_scaler is None else np.asarray(y_scaler.inverse_transform(out))
        results.update(test_mse=M.mse(data.y_test, pred), test_mae=M.mae(data.y_test, pred),
                       test_r2=M.r2(data.y_test, pred))
    meta = {**meta, "epochs_trained": len(history),
            "test": {k: v for k, v in results.items() if k.startswith("test_")}}
    io.save(model, run / "model.npz", preprocessing=x_scaler, **meta)
    write_json(run / "metrics.json", results)
    history.to_csv(run / "history.csv")
    written = ["model.npz", "checkpoint.npz", "config.json", "metrics.json", "history.csv"]
    if plot.available():
        title = f"{o['model']} on {data.name}"
        if len(history):
            plot.learning_curves(history, run / "learning_curves.png", title=title)
            written.append("learning_curves.png")
        if data.task == "classification":
            plot.confusion_matrix(results["confusion_matrix"], data.class_names, run / "confusion_matrix.png",
                                  title=f"test set, accuracy {results['test_accuracy']:.4f}")
            written.append("confusion_matrix.png")
    else:
        plots_skipped("matplotlib is not installed (pip install 'neurona[plot]')", quiet)
    if data.task == "classification":
        n_ok = int(round(results["test_accuracy"] * len(X_te)))
        print(f"test accuracy: {results['test_accuracy']:.4f} ({n_ok:,}/{len(X_te):,})"
              f"{'  [embedded subset]' if data.embedded_subset else ''}")
    else:
        print(f"test MSE {results['test_mse']:.4g}, MAE {results['test_mae']:.4g}, R² {results['test_r2']:.4f}")
    print(f"run files in {run}/: {', '.join(written)}")
    return 0
