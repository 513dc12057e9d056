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
and ``confusion_matrix.png`` (plots need matplotlib).

Small data sets: by default the validation split keeps at least 30 samples
(or there is none, with a notice), and early stopping watches the validation
loss (with a minimum improvement of 0.001) unless the validation set has
1,000 samples or more.

What can go wrong ends cleanly: a loss that turns NaN or grows 1000-fold
stops the run with exit status 3 and ``"diverged": true`` in metrics.json,
the last good checkpoint kept; Ctrl-C (or SIGTERM) says what is saved and how
to continue; a full or read-only disk keeps the last checkpoint, and a run
that saved nothing removes what it wrote. ``--model language-id`` and the
other sequence tasks train through :mod:`neurona.cli.text_tasks`; ``--model unet``,
``grid-detector``, ``conv-autoencoder``, ``vae`` and ``dcgan`` (the vision tasks of
:mod:`neurona.vision.tasks`) through :mod:`neurona.cli.vision_tasks`.
"""
from __future__ import annotations

import json
import math
import shlex
import time
from pathlib import Path

import numpy as np

from .. import io
from ..data import DataBundle
from ..data.bundle import data_slug
from . import build, text_tasks, vision_tasks
from .errors import describe_os_error
from .options import TRAIN_DEFAULTS, flag_groups, merge
from .output import EXIT_DIVERGED, EXIT_INTERRUPTED, CLIError, Interrupted, plots_skipped, say
from .runs import RunFolder, new_run_dir, timestamp

NAME = "train"


def add_parser(sub):
    g = flag_groups(TRAIN_DEFAULTS)
    p = sub.add_parser(NAME, parents=[g["data"], g["model"], g["train"]],
                       help="train a network (default: the notes' MLP on Fashion-MNIST)",
                       description="Train a network and write runs/<name>/ (model, checkpoint, metrics, history, "
                                   "plots). Defaults: MLP 784-300-100-10 ReLU, Adam 1e-3 (halved when the validation "
                                   "loss stalls), batch 128, standardized inputs, early stopping (patience 5) on a "
                                   "10 percent validation split, at most 20 epochs, Fashion-MNIST.",
                       epilog="Exit status: 0 done, 1 an error the message explains, 2 a bad command line, 3 "
                              "training diverged (the run folder keeps what finished; metrics.json says "
                              "\"diverged\": true), 130 interrupted (the last finished epoch is kept).")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue runs/<name> from its last checkpoint (its saved "
                                                       "options are used; --epochs sets the new total)")
    p.add_argument("--device", default="cpu", metavar="DEVICE",
                   help="where to train: cpu (default), cuda, cuda:N, or auto (a CUDA GPU when CuPy finds one, "
                        "else the CPU); files are the same whatever the device, and a run resumes on any device")
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel training on the processes started by mpiexec -n N (needs the mpi extra): "
                        "each takes --batch-size examples of every step, so the global batch is N x --batch-size; "
                        "rank 0 prints and writes the run folder. Resuming works with any N")
    p.add_argument("--scale-lr", action="store_true",
                   help="with --distributed, multiply the learning rate by N (the linear scaling rule for a batch "
                        "N times larger); saved with the run")
    return p


def _checkpoint_callback(folder: RunFolder, loader, x_scaler, meta: dict):
    """Saves checkpoint.npz and history.csv at the end of each epoch; the run is worth keeping from the first."""
    from ..train import Callback

    class RunCheckpoint(Callback):
        rank_zero_only = True

        def on_epoch_end(self, epoch, logs=None):
            io.save_checkpoint(folder.file("checkpoint.npz"), self.model, self.optimizer, epoch=epoch + 1,
                               trainer=self.trainer, loader=loader, preprocessing=x_scaler, **meta)
            folder.saved_epoch = epoch + 1
            folder.keep()
            self.trainer.history.to_csv(folder.file("history.csv"))

    return RunCheckpoint()


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _resume_options(args) -> tuple[dict, Path]:
    resume_dir = Path(args.resume)
    given = [k for k in TRAIN_DEFAULTS if k != "epochs" and getattr(args, k, None) is not None]
    given += [k for k in ("no_standardize",) if getattr(args, k, False)]
    given += [k for k in ("name",) if getattr(args, k, None) is not None]
    if given:  # silently training with other options than asked would be worse than refusing
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        raise CLIError(f"--resume continues {resume_dir} with the options it was started with; only --epochs "
                       f"and --quiet may be given with it, got {flags}")
    metrics = _read_json(resume_dir / "metrics.json") or {}
    if metrics.get("diverged"):
        at = metrics.get("diverged_at") or {}
        lr = metrics.get("lr")
        raise CLIError(f"--resume {resume_dir}: this run diverged (epoch {at.get('epoch', '?')}, batch "
                       f"{at.get('batch', '?')}); resuming would repeat the same steps. Start a new run with a "
                       f"smaller learning rate" + (f", e.g. --lr {lr / 10:g}" if isinstance(lr, (int, float)) else ""))
    ckpt_path, cfg_path = resume_dir / "checkpoint.npz", resume_dir / "config.json"
    if not ckpt_path.exists() or not cfg_path.exists():
        raise CLIError(f"--resume {resume_dir}: no checkpoint.npz and config.json there (is it a run folder "
                       f"made by neurona train, and did it finish an epoch?)")
    saved = (_read_json(cfg_path) or {}).get("options")
    if not isinstance(saved, dict):
        raise CLIError(f"{cfg_path}: not a valid run configuration (no 'options'); the run cannot be resumed")
    o = {**TRAIN_DEFAULTS, **saved}
    if args.epochs is not None:
        o["epochs"] = int(args.epochs)
    return o, resume_dir


def _check_resume_fits(ckpt: io.ModelFile, data: DataBundle) -> None:
    """The checkpoint was made for this data: same sample shape and columns, else say which file is which."""
    meta = ckpt.metadata
    shape = meta.get("input_shape")
    if shape is not None and list(shape) != list(data.input_shape):
        raise CLIError(f"{ckpt.path}: saved for samples of shape {tuple(shape)}, but the run's data "
                       f"({data.name}) now gives {data.input_shape}; the data file changed since the run started")
    names = meta.get("feature_names")
    if names and data.feature_names and list(names) != list(data.feature_names):
        raise CLIError(f"{ckpt.path}: saved for the columns {', '.join(names)}, but {data.name} now has "
                       f"{', '.join(data.feature_names)}")


class _Ranks:
    """Who this process is in a ``--distributed`` run: rank 0 of 1 otherwise."""

    def __init__(self, distributed: bool):
        self.distributed = bool(distributed)
        self.rank, self.size, self.dist = 0, 1, None
        if self.distributed:
            from .. import distributed as dist

            dist.init_process_group()
            self.dist, self.rank, self.size = dist, dist.get_rank(), dist.get_world_size()

    @property
    def main(self) -> bool:
        return self.rank == 0

    def share(self, value):
        """Rank 0's ``value`` (a JSON value) on every rank."""
        return value if self.size == 1 else self.dist.broadcast_object(value)


def run(args) -> int:
    if text_tasks.is_task(args.model):  # the sequence tasks: language-id, char-lm, word2vec, text-classifier
        if getattr(args, "distributed", False):
            raise CLIError(f"--distributed trains the models of the data sets; {args.model} is a sequence task "
                           f"that trains on one process")
        return text_tasks.train(args)
    if vision_tasks.is_task(args.model):  # segmentation, detection, autoencoders, DCGAN
        if getattr(args, "distributed", False):
            raise CLIError(f"--distributed trains the models of the data sets; {args.model} is a vision task "
                           f"that trains on one process")
        return vision_tasks.train(args)
    ranks = _Ranks(getattr(args, "distributed", False))
    quiet = bool(args.quiet) or not ranks.main  # only rank 0 speaks
    resuming = bool(args.resume)
    if resuming:
        if getattr(args, "scale_lr", False):
            raise CLIError("--resume continues the run with the options it was started with; --scale-lr is one of "
                           "them and cannot be given again")
        o, run_dir = _resume_options(args)
    else:
        o = merge(args, TRAIN_DEFAULTS)
        if args.no_standardize:
            o["standardize"] = False
        # a split asked for is a split given; the default one keeps enough samples (saved, so a resume splits alike)
        o["min_val_samples"] = 0 if getattr(args, "val_split", None) is not None else build.MIN_VALIDATION
        o["scale_lr"] = bool(getattr(args, "scale_lr", False))
        run_dir = None
        if ranks.main:  # rank 0 names the run (the others never write into it)
            run_dir = str(new_run_dir(args.out, args.name, f"{o['model']}-{data_slug(o['data'])}"))
        run_dir = Path(ranks.share(run_dir))
    if ranks.distributed and ranks.size == 1:
        say("--distributed: one process (start N with mpiexec -n N neurona train --distributed ...)", quiet)
    data = build.load_data(o)
    for line in data.adjustments:
        say(line, quiet)
    if o["augment"] and not data.is_image:
        raise CLIError(f"--augment works on images; {data.name} is not an image data set")
    ckpt_file = None
    if resuming:
        ckpt_file = io.read_model_file(run_dir / "checkpoint.npz")
        _check_resume_fits(ckpt_file, data)
    model = build.build_model(o, data, o["seed"])
    x_scaler, y_scaler = build.scalers(data, o["standardize"])
    if ckpt_file is not None and ckpt_file.preprocessing is not None:
        x_scaler = ckpt_file.preprocessing  # the statistics the run started with
    scale = build.scale
    X_tr, X_val, X_te = scale(x_scaler, data.X_train), scale(x_scaler, data.X_val), scale(x_scaler, data.X_test)
    y_tr, y_val = data.y_train, data.y_val
    if y_scaler is not None:
        y_tr, y_val = scale(y_scaler, y_tr), scale(y_scaler, y_val)
    transform = build.augmentation(data, x_scaler, o["seed"] + ranks.rank) if o["augment"] else None
    train_loader, val_loader = build.loaders(X_tr, y_tr, X_val, y_val, o["batch_size"], o["seed"], transform,
                                             distributed=ranks.size > 1)
    optimizer = build.make_optimizer(o["optimizer"], model.parameters(), o["lr"], o["momentum"], o["weight_decay"])
    if o.get("scale_lr") and ranks.size > 1:  # the linear scaling rule, before any schedule reads the rate
        for group in optimizer.param_groups:
            group["lr"] *= ranks.size
    loss_fn = build.loss_fn(data.task)
    if o["lr_schedule"] == "plateau" and val_loader is None:
        if not resuming and getattr(args, "lr_schedule", None) == "plateau":
            raise CLIError("--lr-schedule plateau needs a validation split (--val-split > 0)")
        o["lr_schedule"] = "none"  # the default schedule watches the validation loss; without one, none
    meta = {"dataset": o["data"], "task": data.task, "class_names": data.class_names,
            "feature_names": data.feature_names, "input_shape": list(data.input_shape), "is_image": data.is_image,
            "input_range": list(data.input_range) if data.input_range else None,
            "seed": o["seed"], "samples": o["samples"], "noise": o["noise"], "target": o["target"],
            "options": o, "embedded_subset": data.embedded_subset,
            "target_scaler": y_scaler.state_dict() if y_scaler is not None else None}
    device = _device(args)
    with (RunFolder(run_dir, existing=resuming) if ranks.main else _OtherRank(run_dir)) as folder:
        if folder.removed_leftovers:
            say(f"removed {len(folder.removed_leftovers)} temporary file(s) left in {run_dir} by an interrupted save",
                quiet)
        trainer, stopper = _trainer(o, data, model, loss_fn, optimizer, val_loader, folder, train_loader, x_scaler,
                                    meta, quiet, ranks)
        if device.type != "cpu":
            model.to(device)
            trainer.device = device
        initial_epoch = 0
        if ckpt_file is not None:
            initial_epoch = _restore(ckpt_file, model, optimizer, trainer, train_loader, o, run_dir, quiet)
            from ..train.loop import _move_optimizer_state

            _move_optimizer_state(optimizer, device)  # a checkpoint holds host arrays: they follow the model
            folder.saved_epoch = initial_epoch
        else:
            folder.write_json("config.json", {"command": "train", "options": o, "created": timestamp()})
            _describe(data, model, optimizer, o, X_tr, X_val, X_te, quiet, ranks)
        start = time.perf_counter()
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # divergence is reported below
                history = trainer.fit(train_loader, val_loader, epochs=o["epochs"], initial_epoch=initial_epoch)
        except KeyboardInterrupt as e:
            return _interrupted(e, folder, trainer, args)
        except OSError as e:
            raise _disk_error(e, folder, trainer) from None
        seconds = time.perf_counter() - start
        if not ranks.main:  # rank 0 evaluates on the test set and writes the results
            return EXIT_DIVERGED if history.diverged else 0
        if history.diverged:
            return _diverged(folder, history, data, optimizer, o, quiet)
        return _finish(folder, model, loss_fn, data, X_te, x_scaler, y_scaler, history, trainer, stopper, meta, o,
                       seconds, quiet)


def _device(args):
    """The device of ``--device``, checked before anything is written."""
    from .. import backend

    try:
        device = backend.resolve_device(getattr(args, "device", "cpu"))
    except (RuntimeError, TypeError, ValueError) as e:
        raise CLIError(f"--device: {e}") from None
    return device


def _trainer(o, data, model, loss_fn, optimizer, val_loader, folder, train_loader, x_scaler, meta, quiet, ranks):
    from ..train import EarlyStopping, TerminateOnDivergence, Trainer, weight_penalty

    callbacks = []
    stopper = None
    if o["patience"] > 0 and val_loader is not None:
        monitor, min_delta = build.monitor(o, data)
        stopper = EarlyStopping(monitor=monitor, patience=o["patience"], min_delta=min_delta,
                                restore_best_weights=True)
        callbacks.append(stopper)
    sched = build.lr_schedule(o["lr_schedule"], optimizer, o["epochs"])
    if sched is not None:
        callbacks.append(sched)
    callbacks.append(TerminateOnDivergence(verbose=0))  # reported by _diverged, once
    callbacks.append(_checkpoint_callback(folder, train_loader, x_scaler, meta))
    trainer = Trainer(model, loss_fn, optimizer, metrics=["accuracy"] if data.task == "classification" else ["mae"],
                      callbacks=callbacks, verbose=0 if quiet else 1, penalty=weight_penalty(o["l1"], o["l2"]),
                      clip_grad_norm=o["clip_grad"], distributed=ranks.size > 1)
    return trainer, stopper


def _restore(ckpt_file, model, optimizer, trainer, train_loader, o, run_dir, quiet) -> int:
    try:
        ckpt = io.load_checkpoint(ckpt_file.path, model=model, optimizer=optimizer, trainer=trainer,
                                  loader=train_loader)
    except ValueError as e:  # callbacks or generators that do not match the run's options
        if isinstance(e, io.ModelFileError):
            raise
        raise CLIError(f"{ckpt_file.path}: does not fit the run's configuration ({e})") from None
    initial_epoch = ckpt.epoch
    if trainer.stop_reason:
        say(f"this run had already stopped ({trainer.stop_reason}); writing its results again", quiet)
        initial_epoch = max(initial_epoch, o["epochs"])
    elif initial_epoch >= o["epochs"]:
        say(f"{run_dir} has already trained {initial_epoch} epochs; pass --epochs N (N > {initial_epoch}) to "
            f"train more", quiet)
    else:
        say(f"resuming {run_dir} at epoch {initial_epoch + 1} of {o['epochs']}", quiet)
    return initial_epoch


def _describe(data, model, optimizer, o, X_tr, X_val, X_te, quiet, ranks) -> None:
    n_val = 0 if X_val is None else len(X_val)
    say(f"data: {data.name} — {len(X_tr):,} training, {n_val:,} validation, {len(X_te):,} test samples"
        f"{' (embedded subset)' if data.embedded_subset else ''}", quiet)
    if o["model"] == "mlp":
        shape = "-".join(map(str, [math.prod(data.input_shape), *o["hidden"], data.n_outputs])) + " " + o["activation"]
        if not o["hidden"]:
            shape += " (no hidden layer: a linear model)"
    else:
        shape = f"for inputs {data.input_shape}"
    say(f"model: {o['model']} {shape}, {model.num_parameters():,} parameters; optimizer {o['optimizer']} "
        f"lr={optimizer.param_groups[0]['lr']:g}, batch {o['batch_size'] or 'full'}", quiet)
    if ranks.size > 1:
        per = o["batch_size"] or "full"
        glob = f"{ranks.size * o['batch_size']:,}" if o["batch_size"] else "full"
        say(f"distributed: {ranks.size} processes, batch {per} each, global batch {glob}"
            f"{f' (lr scaled x{ranks.size})' if o.get('scale_lr') else ''}", quiet)


class _OtherRank:
    """The run folder as seen by ranks other than 0 of a distributed run: they read it, never write it."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.saved_epoch = 0
        self.removed_leftovers: list = []

    def __enter__(self) -> "_OtherRank":
        return self

    def __exit__(self, *exc) -> bool:
        return False

    def write_json(self, name: str, obj) -> None:
        pass

    def keep(self) -> None:
        pass

    def discard(self) -> bool:
        return False


def _saved_epochs(folder: RunFolder) -> int:
    return folder.saved_epoch if (folder.path / "checkpoint.npz").exists() else 0


def _interrupted(e: KeyboardInterrupt, folder: RunFolder, trainer, args) -> int:
    status = e.exit_status if isinstance(e, Interrupted) else EXIT_INTERRUPTED
    done = _saved_epochs(folder)
    epoch = trainer.epoch + 1
    if done:
        say(f"\ninterrupted during epoch {epoch}; epochs 1-{done} are saved in {folder.path}. Continue with: "
            f"neurona train --resume {folder.path}", err=True)
    else:
        folder.discard()
        say(f"\ninterrupted during epoch {epoch}, before the first checkpoint: nothing was kept. Start again with: "
            f"neurona {shlex.join(getattr(args, 'argv', ['train']))}", err=True)
    return status


def _disk_error(e: OSError, folder: RunFolder, trainer) -> CLIError | OSError:
    what = describe_os_error(e)
    if what is None:
        return e  # not the disk: a bug, with its traceback
    done = _saved_epochs(folder)
    if done:
        return CLIError(f"{what}. The checkpoint of epoch {done} in {folder.path} is intact; once there is room, "
                        f"continue with: neurona train --resume {folder.path}")
    folder.discard()
    return CLIError(f"{what}. Nothing was kept of the run (no epoch had finished)")


def _diverged(folder: RunFolder, history, data, optimizer, o, quiet) -> int:
    """The run diverged: its folder keeps config, history, the last good checkpoint and metrics saying so."""
    from ..train import get_lr

    at = history.diverged
    lr = get_lr(optimizer)
    results = {"dataset": data.name, "task": data.task, "diverged": True, "diverged_at": at,
               "epochs_finished": len(history), "stop_reason": history.stop_reason, "lr": lr,
               "optimizer": o["optimizer"]}
    folder.write_json("metrics.json", results)
    history.to_csv(folder.file("history.csv"))
    folder.keep()
    kept = [n for n in ("config.json", "checkpoint.npz", "history.csv", "metrics.json") if (folder.path / n).exists()]
    loss = at.get("loss")
    what = (f"the loss became {loss}" if loss is None or not math.isfinite(loss) else
            f"the loss reached {loss:.4g}, over 1000 times its first value {at.get('start', float('nan')):.4g}")
    hint = "" if o["standardize"] else "; the inputs are not standardized (--no-standardize), which can do it too"
    say(f"neurona train: training diverged at epoch {at['epoch']}, batch {at['batch']}: {what}. Start a new run "
        f"with a smaller learning rate, e.g. --lr {lr / 10:g} (it was {lr:g}){hint}. {folder.path}/ keeps what "
        f"finished: {', '.join(kept)}", err=True)
    return EXIT_DIVERGED


def _best_epoch(results: dict, history, stopper, trainer) -> None:
    """The epoch whose weights the model has: early stopping's best, named with what it watched."""
    if stopper is not None and stopper.best_epoch is not None:
        results.update(best_epoch=stopper.best_epoch + 1, best_monitor=stopper.monitor, best_value=stopper.best,
                       weights_of_epoch=stopper.best_epoch + 1)
    elif len(history):
        results["weights_of_epoch"] = trainer.epochs_done
    if "val_loss" in history and np.isfinite(np.asarray(history["val_loss"], dtype=float)).any():
        results["best_val_loss"] = history.best("val_loss")[1]


def _finish(folder: RunFolder, model, loss_fn, data: DataBundle, X_te, x_scaler, y_scaler, history, trainer,
            stopper, meta: dict, o: dict, seconds: float, quiet: bool) -> int:
    from .. import plot, tensor
    from ..train import metrics as M
    from ..train import predict

    run = folder.path
    out = predict(model, X_te, batch_size=512)
    results: dict = {"dataset": data.name, "task": data.task, "test_samples": int(len(X_te)),
                     "epochs_trained": len(history), "stop_reason": history.stop_reason or trainer.stop_reason,
                     "diverged": False, "train_seconds_this_session": round(seconds, 2),
                     "embedded_subset": data.embedded_subset}
    _best_epoch(results, history, stopper, trainer)
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
    io.save(model, folder.file("model.npz"), preprocessing=x_scaler, **meta)
    folder.write_json("metrics.json", results)
    history.to_csv(folder.file("history.csv"))
    written = ["model.npz", "checkpoint.npz", "config.json", "metrics.json", "history.csv"]
    if plot.available():
        title = f"{o['model']} on {data.name}"
        if len(history):
            best = results.get("weights_of_epoch") if stopper is not None else None
            plot.learning_curves(history, folder.file("learning_curves.png"), title=title, best_epoch=best,
                                 best_label=f"best {stopper.monitor}" if stopper is not None else None)
            written.append("learning_curves.png")
        if data.task == "classification":
            plot.confusion_matrix(results["confusion_matrix"], data.class_names, folder.file("confusion_matrix.png"),
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
