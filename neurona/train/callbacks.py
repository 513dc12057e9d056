"""Callbacks: the training loop's named hooks (``neurona.train.callbacks``).

``fit`` calls, on every callback, in the order given:

    on_train_begin(logs)
      on_epoch_begin(epoch, logs)
        on_batch_begin(batch, logs)  ...  on_batch_end(batch, logs)     (once per batch)
      on_epoch_end(epoch, logs)      logs: loss, metrics, val_loss, val_metrics, lr, time
    on_train_end(logs)

``epoch`` and ``batch`` count from 0. A callback reaches the loop through
``self.trainer`` (and the shortcuts ``self.model``, ``self.optimizer``) and
stops training by setting ``self.trainer.stop_training = True`` (with an
optional ``self.trainer.stop_reason``). Progress display, early stopping,
checkpoints, logging and learning-rate schedules are all callbacks.

A callback that has state worth resuming (the best value seen, a patience
counter, an open file's position) implements ``state_dict`` /
``load_state_dict``; training checkpoints save it.
"""
from __future__ import annotations

import csv
import math
import os
import shutil
import sys
import time
import warnings
from typing import Callable

import numpy as np

from ..backend import is_array
from ..engine import Tensor

from .metrics import greater_is_better

__all__ = ["Callback", "CallbackList", "History", "EarlyStopping", "ModelCheckpoint", "ProgressBar", "CSVLogger",
           "LearningRateScheduler", "TerminateOnNaN", "TerminateOnDivergence", "LambdaCallback"]


class Callback:
    """Base class: override the hooks you need; each receives a ``logs`` dict.

    In a distributed run every rank calls the hooks with the same epoch logs
    (averaged over ranks), except for callbacks with ``rank_zero_only = True``
    (those that print or write files), which run on rank 0 only.
    """

    trainer = None
    rank_zero_only = False

    def set_trainer(self, trainer) -> None:
        self.trainer = trainer

    @property
    def model(self):
        return None if self.trainer is None else self.trainer.model

    @property
    def optimizer(self):
        return None if self.trainer is None else self.trainer.optimizer

    def on_train_begin(self, logs: dict | None = None) -> None: ...
    def on_train_end(self, logs: dict | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_batch_end(self, batch: int, logs: dict | None = None) -> None: ...

    def state_dict(self) -> dict:
        """What this callback needs to continue after a resume (JSON values and ndarrays)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: print(logs))``."""

    _HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_batch_begin", "on_batch_end")

    def __init__(self, **hooks: Callable):
        for name, fn in hooks.items():
            if name not in self._HOOKS:
                raise TypeError(f"LambdaCallback: unknown hook {name!r}; hooks are {', '.join(self._HOOKS)}")
            setattr(self, name, fn)


class CallbackList:
    """Calls one hook on every callback in order."""

    def __init__(self, callbacks, trainer=None):
        self.callbacks = list(callbacks)
        for c in self.callbacks:
            if not isinstance(c, Callback):
                raise TypeError(f"callbacks: expected Callback instances, got {type(c).__name__}")
            if trainer is not None:
                c.set_trainer(trainer)

    def __iter__(self):
        return iter(self.callbacks)

    main = True  # False on the ranks other than 0 of a distributed run: rank_zero_only callbacks skip there

    def call(self, hook: str, *args) -> None:
        for c in self.callbacks:
            if c.rank_zero_only and not self.main:
                continue
            getattr(c, hook)(*args)

    def on_train_begin(self, logs=None): self.call("on_train_begin", logs)
    def on_train_end(self, logs=None): self.call("on_train_end", logs)
    def on_epoch_begin(self, epoch, logs=None): self.call("on_epoch_begin", epoch, logs)
    def on_epoch_end(self, epoch, logs=None): self.call("on_epoch_end", epoch, logs)
    def on_batch_begin(self, batch, logs=None): self.call("on_batch_begin", batch, logs)
    def on_batch_end(self, batch, logs=None): self.call("on_batch_end", batch, logs)


# --- History ----------------------------------------------------------------------


class History(Callback):
    """The per-epoch logs of a training run, what ``fit`` returns.

    >>> history = fit(model, loss_fn, opt, (X, y), val=(Xv, yv), epochs=5)
    >>> history["val_loss"]          # one value per epoch
    >>> history.best("val_accuracy") # (epoch, value) of the best epoch

    ``history.history`` maps each logged name (``loss``, ``accuracy``,
    ``val_loss``, ``val_accuracy``, ``lr``, ``time``, ...) to a list with one
    entry per epoch; ``history.epoch`` lists the epoch numbers (from 0).
    ``stop_reason`` says why training ended early, if it did; ``diverged``
    where it diverged (see :class:`TerminateOnDivergence`), or None.
    """

    def __init__(self):
        self.epoch: list[int] = []
        self.history: dict[str, list] = {}
        self.stop_reason: str | None = None
        self.diverged: dict | None = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        n = len(self.epoch)
        self.epoch.append(int(epoch))
        for k, v in logs.items():
            if k not in self.history:
                self.history[k] = [math.nan] * n  # a name that appears late: earlier epochs had none
            self.history[k].append(_scalar(v))
        for k, vals in self.history.items():
            if len(vals) < n + 1:
                vals.append(math.nan)

    def on_train_end(self, logs=None):
        if self.trainer is not None and self.trainer.stop_reason:
            self.stop_reason = self.trainer.stop_reason
        if self.trainer is not None and getattr(self.trainer, "diverged", None):
            self.diverged = dict(self.trainer.diverged)

    def __getitem__(self, key: str) -> list:
        try:
            return self.history[key]
        except KeyError:
            raise KeyError(f"History has no {key!r}; logged: {', '.join(self.history) or 'nothing yet'}") from None

    def __contains__(self, key: str) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epoch)

    def keys(self):
        return self.history.keys()

    @property
    def logs(self) -> list[dict]:
        """One dict per epoch: ``[{'epoch': 0, 'loss': ..., ...}, ...]``."""
        return [{"epoch": e, **{k: v[i] for k, v in self.history.items()}} for i, e in enumerate(self.epoch)]

    def best(self, monitor: str = "val_loss", mode: str = "auto") -> tuple[int, float]:
        """(epoch, value) where ``monitor`` was best (lowest for losses, highest for accuracies)."""
        vals = np.asarray(self[monitor], dtype=np.float64)
        if mode == "auto":
            mode = "max" if greater_is_better(monitor) else "min"
        if np.all(np.isnan(vals)):
            raise ValueError(f"History.best: {monitor!r} has no finite value")
        i = int(np.nanargmax(vals) if mode == "max" else np.nanargmin(vals))
        return self.epoch[i], float(vals[i])

    def to_csv(self, path, separator: str = ",") -> None:
        """Write one row per epoch (epoch counted from 1, as printed)."""
        from ..io import atomic_write

        keys = list(self.history)
        with atomic_write(path, "w", newline="") as f:
            w = csv.writer(f, delimiter=separator)
            w.writerow(["epoch"] + keys)
            for i, e in enumerate(self.epoch):
                w.writerow([e + 1] + [_fmt_csv(self.history[k][i]) for k in keys])

    def state_dict(self) -> dict:
        return {"epoch": list(self.epoch), "history": {k: list(v) for k, v in self.history.items()},
                "stop_reason": self.stop_reason, "diverged": self.diverged}

    def load_state_dict(self, state: dict) -> None:
        self.epoch = [int(e) for e in state.get("epoch", [])]
        self.history = {str(k): [float(x) if x is not None else math.nan for x in v]
                        for k, v in state.get("history", {}).items()}
        self.stop_reason = state.get("stop_reason")
        self.diverged = state.get("diverged")

    def __repr__(self) -> str:
        return f"History({len(self.epoch)} epochs: {', '.join(self.history)})"


def _scalar(v):
    if hasattr(v, "item") and getattr(v, "size", 1) == 1:
        v = v.item()
    if isinstance(v, (bool, np.bool_)):
        return float(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
    return v


def _fmt_csv(v) -> str:
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else str(v)
    return str(v)


# --- early stopping -------------------------------------------------------------


def _resolve_mode(mode: str, monitor: str, who: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{who}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        return "max" if greater_is_better(monitor) else "min"
    return mode


class _Monitor:
    """Tracks the best value of a logged quantity with a ``min_delta`` margin."""

    def __init__(self, monitor: str, mode: str, min_delta: float, who: str):
        self.monitor = monitor
        self.mode = _resolve_mode(mode, monitor, who)
        self.min_delta = abs(float(min_delta))
        self.best = math.inf if self.mode == "min" else -math.inf
        self.who = who
        self._warned = False

    def value(self, logs: dict | None):
        v = (logs or {}).get(self.monitor)
        if v is None:
            if not self._warned:
                avail = ", ".join(k for k in (logs or {}) if k not in ("epoch", "time", "lr")) or "nothing"
                hint = " (pass val= to fit, or monitor='loss')" if self.monitor.startswith("val_") else ""
                warnings.warn(f"{self.who}: '{self.monitor}' is not in the logs{hint}; logged: {avail}",
                              RuntimeWarning, stacklevel=4)
                self._warned = True
            return None
        return float(v)

    def improved(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs (notes: "Early stopping").

    "La idea es evitar el sobreajuste parando el entrenamiento antes de que
    el error del set validación empiece a aumentar ... quedarse con los pesos
    en la instancia óptima": with ``restore_best_weights=True`` the model ends
    training with the weights of its best epoch.

    An epoch improves when its value beats the best so far by more than
    ``min_delta`` (lower for ``mode='min'``, higher for ``'max'``; ``'auto'``
    picks ``max`` for accuracy-like names and ``min`` otherwise). ``baseline``:
    stop if the monitored value does not beat it within ``patience`` epochs.
    ``start_from_epoch``: epochs of warm-up during which nothing is counted.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 3, min_delta: float = 0.0, mode: str = "auto",
                 restore_best_weights: bool = True, baseline: float | None = None, start_from_epoch: int = 0,
                 verbose: int = 1):
        if int(patience) < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}")
        self._mon = _Monitor(monitor, mode, min_delta, "EarlyStopping")
        self.monitor, self.mode, self.min_delta = monitor, self._mon.mode, self._mon.min_delta
        self.patience = int(patience)
        self.restore_best_weights = bool(restore_best_weights)
        self.baseline = baseline
        self.start_from_epoch = int(start_from_epoch)
        self.verbose = verbose
        self._reset()

    def _reset(self):
        self.wait = 0
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self.best_weights: dict | None = None
        self._mon.best = math.inf if self.mode == "min" else -math.inf
        if self.baseline is not None:
            self._mon.best = float(self.baseline)

    @property
    def best(self) -> float:
        return self._mon.best

    def on_train_begin(self, logs=None):
        if self.trainer is None or not getattr(self.trainer, "resuming", False):
            self._reset()

    def on_epoch_end(self, epoch, logs=None):
        if epoch < self.start_from_epoch:
            return
        value = self._mon.value(logs)
        if value is None:
            return
        if self._mon.improved(value):
            self._mon.best = value
            self.best_epoch = epoch
            self.wait = 0
            if self.restore_best_weights and self.model is not None:
                self.best_weights = {k: v.clone() for k, v in self.model.state_dict().items()}
            return
        self.wait += 1
        if self.wait >= max(self.patience, 1):
            self.stopped_epoch = epoch
            self.trainer.stop_training = True
            where = (f"best {self.monitor} = {self._mon.best:.4g} at epoch {self.best_epoch + 1}"
                     if self.best_epoch is not None else f"{self.monitor} never beat the baseline {self.baseline}")
            self.trainer.stop_reason = (f"early stopping at epoch {epoch + 1}: {self.monitor} did not improve for "
                                        f"{self.wait} epoch{'s' if self.wait != 1 else ''} ({where})")

    def on_train_end(self, logs=None):
        if not self.restore_best_weights or self.best_weights is None or self.model is None:
            return
        last = self.trainer.epoch if self.trainer is not None else None
        if self.best_epoch is not None and self.best_epoch != last:
            self.model.load_state_dict(self.best_weights)
            if self.verbose and self.trainer is not None and self.trainer.verbose:
                self.trainer.log(f"restored the weights of epoch {self.best_epoch + 1} "
                                 f"({self.monitor} = {self._mon.best:.4g})")

    def state_dict(self) -> dict:
        return {"best": self._mon.best, "wait": self.wait, "best_epoch": self.best_epoch,
                "stopped_epoch": self.stopped_epoch,
                "best_weights": dict(self.best_weights) if self.best_weights is not None else None}

    def load_state_dict(self, state: dict) -> None:
        self._mon.best = float(state["best"])
        self.wait = int(state["wait"])
        self.best_epoch = None if state.get("best_epoch") is None else int(state["best_epoch"])
        self.stopped_epoch = None if state.get("stopped_epoch") is None else int(state["stopped_epoch"])
        bw = state.get("best_weights")
        self.best_weights = None if bw is None else {
            str(k): v.clone() if isinstance(v, Tensor) else v.copy() if is_array(v) else np.array(v)
            for k, v in bw.items()}


# --- checkpoints -------------------------------------------------------------------


class ModelCheckpoint(Callback):
    """Save the model at the end of each epoch, or only when ``monitor`` improves.

    ``filepath`` may hold fields filled from the logs, e.g.
    ``"runs/m-{epoch:02d}-{val_loss:.3f}.npz"`` (``epoch`` counted from 1).
    The file is a safe neurona model file (``neurona.io.save``); with
    ``include_optimizer=True`` it is a full training checkpoint instead
    (``neurona.io.save_checkpoint``: weights, optimizer state, epoch, RNG
    state), which ``neurona.io.load_checkpoint`` resumes from. Writes are
    atomic, so an interrupted save leaves the previous file intact.
    """

    rank_zero_only = True

    def __init__(self, filepath, monitor: str = "val_loss", save_best_only: bool = False, mode: str = "auto",
                 include_optimizer: bool = False, metadata: dict | None = None, verbose: int = 0):
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.save_best_only = bool(save_best_only)
        self.include_optimizer = bool(include_optimizer)
        self.metadata = dict(metadata or {})
        self.verbose = verbose
        self._mon = _Monitor(monitor, mode, 0.0, "ModelCheckpoint")
        self.best_path: str | None = None

    @property
    def best(self) -> float:
        return self._mon.best

    def _path(self, epoch: int, logs: dict) -> str:
        fields = {k: v for k, v in logs.items() if isinstance(v, (int, float, np.number))}
        fields["epoch"] = epoch + 1
        try:
            return self.filepath.format(**fields)
        except (KeyError, IndexError, ValueError) as e:
            raise ValueError(f"ModelCheckpoint: cannot fill the file name {self.filepath!r} from the logs "
                             f"({type(e).__name__}: {e}); available fields: {', '.join(sorted(fields))}") from None

    def on_epoch_end(self, epoch, logs=None):
        from .. import io

        logs = logs or {}
        if self.save_best_only:
            value = self._mon.value(logs)
            if value is None or not self._mon.improved(value):
                return
            self._mon.best = value
        path = self._path(epoch, logs)
        meta = {**self.metadata,
                "logs": {k: float(v) for k, v in logs.items() if isinstance(v, (int, float, np.number))}}
        if self.include_optimizer:
            io.save_checkpoint(path, self.model, self.optimizer, epoch=epoch + 1, trainer=self.trainer, **meta)
        else:
            io.save(self.model, path, epoch=epoch + 1, **meta)
        self.best_path = path
        if self.verbose and self.trainer is not None:
            self.trainer.log(f"saved {path}")

    def state_dict(self) -> dict:
        return {"best": self._mon.best, "best_path": self.best_path}

    def load_state_dict(self, state: dict) -> None:
        self._mon.best = float(state["best"])
        self.best_path = state.get("best_path")


# --- logging -----------------------------------------------------------------------


class CSVLogger(Callback):
    """Append one row per epoch (``epoch`` from 1, then every logged value) to a CSV file.

    The file is flushed after each row, so it can be watched while training.
    ``append=True`` continues an existing file (e.g. after a resume).
    """

    rank_zero_only = True

    def __init__(self, filename, separator: str = ",", append: bool = False):
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = bool(append)
        self.keys: list[str] | None = None
        self._file = None
        self._writer = None

    def on_train_begin(self, logs=None):
        resuming = self.append or (self.trainer is not None and getattr(self.trainer, "resuming", False))
        if resuming and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0:
            with open(self.filename, newline="") as f:
                header = next(csv.reader(f, delimiter=self.separator), None)
            self.keys = header[1:] if header else None
            self._file = open(self.filename, "a", newline="")
        else:
            self.keys = None
            self._file = open(self.filename, "w", newline="")
        self._writer = csv.writer(self._file, delimiter=self.separator)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._file is None:
            self.on_train_begin()
        if self.keys is None:
            self.keys = [k for k in logs if isinstance(_scalar(logs[k]), float)]
            self._writer.writerow(["epoch"] + self.keys)
        self._writer.writerow([epoch + 1] + [_fmt_csv(_scalar(logs[k])) if k in logs else "" for k in self.keys])
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None


class ProgressBar(Callback):
    """Progress display: a live bar on a terminal, one line per epoch otherwise.

    On a terminal (``stream.isatty()``), each epoch shows
    ``Epoch 3/20  211/422 [=========>..........]  50% ETA 0:05  loss 0.4123  accuracy 0.8512``
    rewritten in place with ``\\r``, then a final line with the epoch's
    validation values and time. When the output is a file or a pipe, only the
    final line of each epoch is written. ``verbose=0`` prints nothing;
    ``verbose=2`` prints only the per-epoch lines even on a terminal.
    """

    rank_zero_only = True

    def __init__(self, verbose: int = 1, stream=None, width: int = 24, refresh: float = 0.1):
        self.verbose = int(verbose)
        self._stream = stream
        self.width = int(width)
        self.refresh = float(refresh)
        self._live = False

    @property
    def stream(self):
        return self._stream if self._stream is not None else sys.stdout

    def _is_tty(self) -> bool:
        try:
            return bool(self.stream.isatty())
        except (AttributeError, ValueError):
            return False

    def on_train_begin(self, logs=None):
        self._live = self.verbose == 1 and self._is_tty()
        self.epochs = getattr(self.trainer, "epochs", None)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.steps = getattr(self.trainer, "steps", None)
        self._start = time.perf_counter()
        self._last = 0.0
        self._seen = 0
        if self._live:
            self._write_live(0, {})

    def on_batch_end(self, batch, logs=None):
        if not self._live:
            return
        now = time.perf_counter()
        if now - self._last < self.refresh and not (self.steps and batch + 1 >= self.steps):
            return
        self._last = now
        self._write_live(batch + 1, logs or {})

    def _head(self) -> str:
        total = f"/{self.epochs}" if self.epochs else ""
        return f"Epoch {self.epoch + 1}{total}"

    def _write_live(self, done: int, logs: dict) -> None:
        elapsed = time.perf_counter() - self._start
        parts = [self._head()]
        if self.steps:
            frac = min(done / self.steps, 1.0)
            filled = int(self.width * frac)
            bar = "=" * filled + (">" if filled < self.width else "") + "." * max(self.width - filled - 1, 0)
            n = len(str(self.steps))
            parts.append(f"{done:{n}d}/{self.steps} [{bar}] {frac * 100:3.0f}%")
            if 0 < done < self.steps:
                parts.append(f"ETA {_clock(elapsed / done * (self.steps - done))}")
            else:
                parts.append(f"{_clock(elapsed)}")
        else:
            parts.append(f"{done} batches {_clock(elapsed)}")
        parts += [f"{k} {_fmt(v)}" for k, v in logs.items() if k not in ("batch", "size", "batch_loss") and _numeric(v)]
        line = "  ".join(parts)
        cols = shutil.get_terminal_size((100, 20)).columns
        self.stream.write("\r" + line[:max(cols - 1, 20)].ljust(min(cols - 1, len(line) + 2)))
        self.stream.flush()

    def on_epoch_end(self, epoch, logs=None):
        if self.verbose <= 0:
            return
        logs = logs or {}
        elapsed = logs.get("time", time.perf_counter() - self._start)
        parts = [self._head(), f"{elapsed:.1f}s" if elapsed >= 1 else f"{elapsed:.2f}s"]
        parts += [f"{k} {_fmt(v)}" for k, v in logs.items() if k not in ("time",) and _numeric(v)]
        line = "  ".join(parts)
        if self._live:
            cols = shutil.get_terminal_size((100, 20)).columns
            self.stream.write("\r" + " " * max(cols - 1, 0) + "\r")
        self.stream.write(line + "\n")
        self.stream.flush()

    def log(self, message: str) -> None:
        if self.verbose > 0:
            self.stream.write(message + "\n")
            self.stream.flush()


def _numeric(v) -> bool:
    return isinstance(v, (int, float, np.number)) and not isinstance(v, bool)


def _fmt(v) -> str:
    v = float(v)
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
        return f"{v:.3e}"
    return f"{v:.4f}"


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


# --- learning rate --------------------------------------------------------------------


class LearningRateScheduler(Callback):
    """Step a learning-rate schedule once per epoch (or per batch).

    ``schedule`` is a scheduler from ``neurona.optim.lr_scheduler`` (StepLR,
    ExponentialLR, CosineAnnealingLR, ...; ``ReduceLROnPlateau`` is stepped
    with the value of ``monitor``, ``'val_loss'`` by default), or a function
    ``schedule(epoch, lr) -> new lr`` applied at the start of each epoch
    (Keras style).
    """

    def __init__(self, schedule, monitor: str | None = None, interval: str = "epoch", verbose: int = 0):
        if interval not in ("epoch", "batch"):
            raise ValueError(f"LearningRateScheduler: interval must be 'epoch' or 'batch', got {interval!r}")
        self.schedule = schedule
        self.interval = interval
        self.verbose = verbose
        self.plateau = _is_plateau(schedule)
        self.monitor = monitor if monitor is not None else ("val_loss" if self.plateau else None)
        self._function = not hasattr(schedule, "step")
        if self._function and not callable(schedule):
            raise TypeError("LearningRateScheduler: expected a scheduler (with .step()) or a function "
                            "(epoch, lr) -> lr")
        self._mon = _Monitor(self.monitor, "min", 0.0, "LearningRateScheduler") if self.monitor else None

    def on_epoch_begin(self, epoch, logs=None):
        if self._function:
            opt = self.optimizer
            new = float(self.schedule(epoch, get_lr(opt)))
            set_lr(opt, new)

    def on_batch_end(self, batch, logs=None):
        if self.interval == "batch" and not self._function and not self.plateau:
            self.schedule.step()

    def on_epoch_end(self, epoch, logs=None):
        if self._function:
            return
        before = get_lr(self.optimizer)
        if self.plateau:
            value = self._mon.value(logs)
            if value is None:
                return
            self.schedule.step(value)
        elif self.interval == "epoch":
            self.schedule.step()
        after = get_lr(self.optimizer)
        if self.verbose and after != before and self.trainer is not None:
            self.trainer.log(f"learning rate {before:.3g} -> {after:.3g}")

    def state_dict(self) -> dict:
        if not self._function and hasattr(self.schedule, "state_dict"):
            return {"schedule": self.schedule.state_dict()}
        return {}

    def load_state_dict(self, state: dict) -> None:
        if "schedule" in state and hasattr(self.schedule, "load_state_dict"):
            self.schedule.load_state_dict(state["schedule"])


def _is_plateau(schedule) -> bool:
    try:
        from ..optim.lr_scheduler import ReduceLROnPlateau
    except ImportError:  # pragma: no cover - optim is part of the package
        ReduceLROnPlateau = None
    if ReduceLROnPlateau is not None and isinstance(schedule, ReduceLROnPlateau):
        return True
    return type(schedule).__name__ == "ReduceLROnPlateau"


def get_lr(optimizer) -> float:
    """The learning rate of the optimizer's first parameter group."""
    groups = getattr(optimizer, "param_groups", None)
    if groups:
        return float(groups[0]["lr"])
    lr = getattr(optimizer, "lr", None)
    if lr is None:
        raise AttributeError(f"{type(optimizer).__name__} has neither param_groups nor lr")
    return float(lr)


def set_lr(optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group."""
    groups = getattr(optimizer, "param_groups", None)
    if groups:
        for g in groups:
            g["lr"] = float(lr)
    else:
        optimizer.lr = float(lr)


# --- NaN guard ---------------------------------------------------------------------


class TerminateOnDivergence(Callback):
    """Stop when training diverges: a batch's loss is NaN or infinite, or over ``factor`` times the first one.

    The epoch in progress is left unfinished: it is not validated and
    ``on_epoch_end`` is not called, so the history and any checkpoint keep
    the last good epoch. ``trainer.diverged`` and ``history.diverged`` say
    where (``{"epoch": 3, "batch": 12, "loss": nan, "start": 2.31}``,
    counted from 1) and ``history.stop_reason`` says it in words, suggesting
    a smaller learning rate. The first batch's loss is kept across a resume.

    ``factor=None`` watches for NaN and infinity only; a first loss of 0 (or
    below) turns the ratio test off. ``verbose=0``: no message at the end
    of ``fit`` (the caller reports it).

    >>> history = fit(model, loss_fn, opt, train, epochs=20, callbacks=[TerminateOnDivergence()])
    >>> if history.diverged: print(history.stop_reason)
    """

    def __init__(self, factor: float | None = 1000.0, verbose: int = 1):
        if factor is not None and not float(factor) > 1:
            raise ValueError(f"TerminateOnDivergence: factor must be > 1 (or None), got {factor}")
        self.factor = None if factor is None else float(factor)
        self.verbose = int(verbose)
        self.start: float | None = None

    def on_train_begin(self, logs=None):
        if self.trainer is None or not getattr(self.trainer, "resuming", False):
            self.start = None

    def on_batch_end(self, batch, logs=None):
        logs = logs or {}
        loss = logs.get("batch_loss", logs.get("loss"))
        if loss is None:
            return
        loss = float(loss)
        if self.start is None and math.isfinite(loss):
            self.start = loss
        if math.isfinite(loss):
            if self.factor is None or self.start is None or self.start <= 0 or loss <= self.factor * self.start:
                return
            what = (f"the loss reached {loss:.4g}, over {self.factor:g} times its first value "
                    f"{self.start:.4g}")
        else:
            what = f"the loss became {loss}"
        epoch = self.trainer.epoch if self.trainer is not None else 0
        where = {"epoch": epoch + 1, "batch": batch + 1, "loss": loss, "start": self.start}
        try:
            lr = f" (it is {get_lr(self.optimizer):g})"
        except (AttributeError, KeyError, TypeError):
            lr = ""
        reason = (f"training diverged at epoch {epoch + 1}, batch {batch + 1}: {what}. Try a learning rate 10 times "
                  f"smaller{lr}; unscaled inputs or a log of zero in a custom loss can do this too.")
        if self.trainer is not None:
            self.trainer.diverge(where, reason, log=bool(self.verbose))

    def state_dict(self) -> dict:
        return {} if self.factor is None else {"start": self.start}

    def load_state_dict(self, state: dict) -> None:
        start = state.get("start")
        self.start = None if start is None else float(start)


class TerminateOnNaN(TerminateOnDivergence):
    """Stop as soon as the training loss is NaN or infinite, saying at which epoch and batch.

    ``TerminateOnDivergence(factor=None)``; see it for what is kept.
    """

    def __init__(self, verbose: int = 1):
        super().__init__(factor=None, verbose=verbose)
