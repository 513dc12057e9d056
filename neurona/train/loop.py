"""The training loop: ``fit``, ``evaluate``, ``predict`` (``neurona.train``).

Two ways to train, both first-class.

**With fit** (Keras-like), a few lines for the usual case::

    from neurona import nn, optim
    from neurona.train import fit, EarlyStopping

    model = nn.Sequential(nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))
    history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3),
                  (X_train, y_train), val=(X_val, y_val), epochs=20, batch_size=128,
                  callbacks=[EarlyStopping(patience=3)])
    history["val_accuracy"]                  # one value per epoch

``train`` and ``val`` are DataLoaders (any re-iterable of ``(inputs,
targets)`` batches) or ``(X, y)`` arrays, which become a shuffled
DataLoader of ``batch_size`` (validation data is not shuffled).

**By hand**, the loop of the notes' BackProp algorithm — forward, loss,
backward, update — is just as short, and is what ``fit`` runs for each
batch::

    loader = DataLoader((X_train, y_train), batch_size=128, shuffle=True, seed=0)
    for epoch in range(20):
        model.train()
        for xb, yb in loader:
            optimizer.zero_grad()              # forget last batch's ∂L/∂θ
            loss = loss_fn(model(xb), yb)      # forward: q_S(Θ) on the batch
            loss.backward()                    # backward: ∂q/∂θ for every parameter
            optimizer.step()                   # θ ← θ − ρ ∂q/∂θ (or Adam's rule, ...)
        print(epoch, evaluate(model, loss_fn, (X_val, y_val)))

``evaluate`` and ``predict`` run under ``no_grad`` in eval mode (Dropout
off, BatchNorm on running statistics) and put the model back in the mode it
was in.
"""
from __future__ import annotations

import math
import sys
import time
from typing import Callable, Iterable, Sequence

import numpy as np

from .. import backend
from ..creation import tensor
from ..engine import Tensor, no_grad
from . import metrics as M
from .callbacks import Callback, CallbackList, History, ProgressBar, get_lr

__all__ = ["fit", "evaluate", "predict", "Trainer", "as_loader", "weight_penalty"]


# --- data -----------------------------------------------------------------------------


def _is_array_pair(data) -> bool:
    return (isinstance(data, (tuple, list)) and len(data) == 2
            and all(isinstance(a, (np.ndarray, Tensor)) for a in data)
            and len(data[0]) == len(data[1]))


def as_loader(data, batch_size: int | None = 32, shuffle: bool = False, seed: int | None = None, what: str = "data"):
    """A DataLoader for ``(X, y)`` arrays; a DataLoader or list of batches is returned as is."""
    if data is None:
        return None
    if _is_array_pair(data):
        from ..data import DataLoader

        X, y = (a.array if isinstance(a, Tensor) else a for a in data)
        return DataLoader((X, y), batch_size=batch_size, shuffle=shuffle, seed=seed)
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(hasattr(a, "__len__") for a in data) \
            and not isinstance(data[0], (tuple, list)):
        raise ValueError(f"{what}: (X, y) have {len(data[0])} and {len(data[1])} samples; they must match")
    if not hasattr(data, "__iter__"):
        raise TypeError(f"{what}: expected a DataLoader, an iterable of (inputs, targets) batches or an (X, y) pair "
                        f"of arrays, got {type(data).__name__}")
    if iter(data) is data:
        raise TypeError(f"{what}: got a one-shot iterator ({type(data).__name__}); training walks the data once per "
                        f"epoch, so pass a DataLoader or a list of batches")
    return data


class DeviceValue:
    """A number still on a device (a GPU): read back to the host only when something formats or compares it.

    A training step on a GPU logs its loss and running metrics as these, so that the step never waits for
    the device; a progress bar that prints them reads them back then, a silent run never does.
    """

    __slots__ = ("_array", "_scale")

    def __init__(self, array, scale: float = 1.0):
        self._array, self._scale = array, scale

    def __float__(self) -> float:
        return float(self._array) * self._scale

    def __format__(self, spec: str) -> str:
        return format(float(self), spec)

    def __repr__(self) -> str:
        return repr(float(self))

    def __lt__(self, other): return float(self) < float(other)
    def __le__(self, other): return float(self) <= float(other)
    def __gt__(self, other): return float(self) > float(other)
    def __ge__(self, other): return float(self) >= float(other)
    def __eq__(self, other): return float(self) == float(other)
    def __add__(self, other): return float(self) + float(other)
    def __radd__(self, other): return float(other) + float(self)
    def __sub__(self, other): return float(self) - float(other)
    def __rsub__(self, other): return float(other) - float(self)
    def __mul__(self, other): return float(self) * float(other)
    def __rmul__(self, other): return float(other) * float(self)
    def __truediv__(self, other): return float(self) / float(other)
    __hash__ = None


def _on_device(a) -> bool:
    return type(a) is not np.ndarray


def _device_accuracy(y, out):
    """Accuracy of class scores ``out`` (N, C) against integer labels ``y``, as a 0-d array on their device."""
    return (out.argmax(axis=1) == y.reshape(-1)).mean()


def _split_batch(batch, what: str, device=None):
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        x, y = batch[0], batch[1]
    else:
        raise ValueError(f"{what}: each batch must be an (inputs, targets) pair, got {type(batch).__name__}"
                         + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else ""))
    if not isinstance(x, Tensor):
        x = tensor(x)
    if not isinstance(y, Tensor):
        y = tensor(y)
    if device is not None:
        x, y = x.to(device), y.to(device)
    return x, y


def _scalar_loss(loss, what: str) -> Tensor:
    if not isinstance(loss, Tensor):
        raise TypeError(f"{what}: loss_fn must return a Tensor, got {type(loss).__name__}")
    if loss.array.size != 1:
        raise ValueError(f"{what}: loss_fn returned shape {loss.shape}; it must return one number "
                         f"(use reduction='mean')")
    return loss


def _resolve_metrics(metrics) -> list[tuple[str, Callable]]:
    if metrics is None:
        return []
    if isinstance(metrics, (str,)) or callable(metrics):
        metrics = [metrics]
    out = []
    for m in metrics:
        name, fn = M.get_metric(m)
        if name in ("loss", "lr", "time") or any(name == n for n, _ in out):
            raise ValueError(f"metrics: the name {name!r} is already in use")
        out.append((name, fn))
    return out


class _MetricAccumulator:
    """Running values of the metrics over an epoch: exact weighted means where possible, else all outputs."""

    def __init__(self, metrics, what: str):
        self.metrics = metrics
        self.what = what
        self.need_all = any(fn not in M.STREAMABLE for _, fn in metrics)
        self.reset()

    def reset(self):
        self.n = 0
        self.loss_sum = 0.0
        self.loss_dev = None  # the loss sum kept on the device when the model runs on one
        self.dev_sums: dict = {}
        self.sums = {name: 0.0 for name, _ in self.metrics}
        self.outputs, self.targets = [], []

    def _call(self, name, fn, y, out):
        try:
            return float(fn(y, out))
        except Exception as e:
            hint = ""
            if name == "accuracy":
                hint = "; for regression pass metrics=('mse', 'mae') (or metrics=())"
            raise type(e)(f"{self.what}: metric {name!r} failed on targets of shape {np.shape(y)} and outputs of "
                          f"shape {np.shape(out)}: {e}{hint}") from e

    def update(self, loss, out, y) -> dict:
        b = len(out)
        self.n += b
        if isinstance(loss, DeviceValue):  # sums stay on the device: nothing is read back per batch
            self.loss_dev = loss._array * b if self.loss_dev is None else self.loss_dev + loss._array * b
            live = {"loss": DeviceValue(self.loss_dev, 1.0 / self.n)}
        else:
            self.loss_sum += loss * b
            live = {"loss": self.loss_sum / self.n}
        for name, fn in self.metrics:
            if fn is M.accuracy and _on_device(out) and out.ndim == 2 and out.shape[1] > 1 and y.dtype.kind in "iu":
                s = _device_accuracy(y, out) * b
                self.dev_sums[name] = s if name not in self.dev_sums else self.dev_sums[name] + s
                live[name] = DeviceValue(self.dev_sums[name], 1.0 / self.n)
                continue
            if _on_device(out) and (fn in M.STREAMABLE or not self.need_all):
                out_h, y_h = backend.to_numpy(out), backend.to_numpy(y)  # a metric without a device version
                self.sums[name] += self._call(name, fn, y_h, out_h) * b
                live[name] = self.sums[name] / self.n
                continue
            if fn in M.STREAMABLE:
                self.sums[name] += self._call(name, fn, y, out) * b
                live[name] = self.sums[name] / self.n
        if self.need_all:
            self.outputs.append(out)
            self.targets.append(y)
        return live

    def result(self, ranks: "_Ranks | None" = None) -> dict:
        """The epoch's logs; in a distributed run (``ranks``) over the examples of every rank."""
        if ranks is not None:
            if self.loss_dev is not None:  # sums kept on a device are read back once, then summed over the ranks
                self.loss_sum, self.loss_dev = float(self.loss_dev), None
            for name in list(self.dev_sums):
                self.sums[name] = float(self.dev_sums.pop(name))
            totals = ranks.sum([self.n, self.loss_sum] + [self.sums[name] for name, _ in self.metrics])
            self.n, self.loss_sum = int(totals[0]), float(totals[1])
            self.sums = {name: float(v) for (name, _), v in zip(self.metrics, totals[2:])}
        if self.n == 0:
            return {"loss": math.nan, **{name: math.nan for name, _ in self.metrics}}
        loss_sum = self.loss_sum if self.loss_dev is None else float(self.loss_dev)  # one read-back an epoch
        logs = {"loss": loss_sum / self.n}
        if self.need_all:
            out, y = _concat(self.outputs), _concat(self.targets)
            if ranks is not None:
                out, y = ranks.gather(out), ranks.gather(y)
        for name, fn in self.metrics:
            if name in self.dev_sums:
                logs[name] = float(self.dev_sums[name]) / self.n
            else:
                logs[name] = self.sums[name] / self.n if fn in M.STREAMABLE else self._call(name, fn, y, out)
        return logs


def _concat(arrays: list) -> np.ndarray:
    """The batches' arrays as one host array: the metrics run once, on the host."""
    return np.concatenate([backend.to_numpy(a) for a in arrays]) if arrays else np.zeros((0,), np.float32)


class _Ranks:
    """Sums and gathers over the processes of a distributed run, for the epoch's logs."""

    def __init__(self):
        from .. import distributed

        self.dist = distributed

    def any(self, flag: bool) -> bool:
        a = np.array([1.0 if flag else 0.0])
        self.dist.all_reduce(a, "max")
        return bool(a[0])

    def sum(self, values) -> np.ndarray:
        a = np.array(values, np.float64)
        self.dist.all_reduce(a, "sum")
        return a

    def gather(self, a: np.ndarray) -> np.ndarray:
        """Every rank's rows of ``a``, in rank order (the ranks may hold different numbers of rows)."""
        counts = self.dist.all_gather_object([len(a), list(a.shape[1:]), a.dtype.str])
        n = max(c[0] for c in counts)
        shape, dtype = tuple(counts[0][1]), np.dtype(counts[0][2])
        padded = np.zeros((n,) + shape, dtype)
        padded[:len(a)] = a
        parts = self.dist.all_gather(padded)
        return np.concatenate([part[:c[0]] for part, c in zip(parts, counts)])


def _sharded(data, batch_size, shuffle: bool, seed, train: bool):
    """This rank's loader over an ``(X, y)`` pair: a DistributedSampler's share for training (padded to
    equal length, so that every rank runs the same number of steps), every N-th example for evaluation."""
    from ..data import DataLoader
    from ..distributed import DistributedEvalSampler, DistributedSampler

    X, y = (a.array if isinstance(a, Tensor) else a for a in data)
    every = range(len(X))
    sampler = (DistributedSampler(every, shuffle=shuffle, seed=0 if seed is None else int(seed)) if train
               else DistributedEvalSampler(every))
    return DataLoader((X, y), batch_size=batch_size or max(len(sampler), 1), sampler=sampler)


def _set_epoch(loader, epoch: int) -> None:
    """Give a distributed sampler the epoch, so that every rank walks the same permutation."""
    for obj in (loader, getattr(loader, "sampler", None)):
        if obj is not None and callable(getattr(obj, "set_epoch", None)):
            obj.set_epoch(epoch)
            return


# --- Trainer ------------------------------------------------------------------------


class Trainer:
    """The state of one training run; ``fit`` makes one and calls ``Trainer.fit``.

    Callbacks see it as ``self.trainer``: ``model``, ``optimizer``,
    ``loss_fn``, ``epochs``, ``steps`` (batches per epoch, when known),
    ``epoch`` (the current one, from 0), ``history``, and the flags
    ``stop_training`` / ``stop_reason`` that end the run after the current
    batch (``stop(reason)`` sets both). ``diverge(where, reason)`` stops
    with the epoch in progress unfinished (see ``TerminateOnDivergence``);
    ``diverged`` then says where. ``state_dict()`` holds what a resumed run
    needs: the epochs done, the history and the callbacks' states.

    With ``distributed=True`` (see ``fit``) the model trains wrapped in a
    ``DistributedDataParallel`` (``self.net``), the epoch's logs are means over
    every rank's examples, every rank stops at the same batch, and only rank 0
    prints and runs the callbacks that write files.
    """

    def __init__(self, model, loss_fn: Callable, optimizer, metrics=("accuracy",), callbacks: Iterable = (),
                 verbose: int = 1, penalty: Callable | None = None, clip_grad_norm: float | None = None,
                 stream=None, distributed: bool = False):
        if not callable(model):
            raise TypeError(f"fit: model must be callable (a neurona.nn.Module), got {type(model).__name__}")
        if not callable(loss_fn):
            raise TypeError(f"fit: loss_fn must be callable, e.g. nn.CrossEntropyLoss(), got {type(loss_fn).__name__}")
        if optimizer is None or not hasattr(optimizer, "step"):
            raise TypeError(f"fit: optimizer must have step() and zero_grad(), got {type(optimizer).__name__}")
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.metrics = _resolve_metrics(metrics)
        self.verbose = int(verbose)
        self.penalty = penalty
        self.clip_grad_norm = clip_grad_norm
        self.device = None  # set by fit(device=...): batches are moved there
        self.history = History()
        user = list(callbacks or ())
        cbs: list[Callback] = [self.history]
        if self.verbose > 0 and not any(isinstance(c, ProgressBar) for c in user):
            cbs.append(ProgressBar(self.verbose, stream=stream))
        self.callbacks = CallbackList(cbs + user, trainer=self)
        self.net = model  # what trains: the model itself, or its DistributedDataParallel wrapper
        self.ranks: _Ranks | None = None
        self.is_main = True
        if distributed:
            self._join_ranks()
        self.epochs = 0
        self.steps: int | None = None
        self.epoch = -1
        self.epochs_done = 0
        self.stop_training = False
        self.stop_reason: str | None = None
        self.diverged: dict | None = None
        self._stop_said = {"error": False, "log": True}
        self.resuming = False

    def _join_ranks(self) -> None:
        from .. import distributed

        distributed.init_process_group()
        if distributed.get_world_size() == 1:
            return
        self.ranks = _Ranks()
        self.is_main = distributed.is_main_process()
        self.callbacks.main = self.is_main
        if not isinstance(self.model, distributed.DistributedDataParallel):
            self.net = distributed.DistributedDataParallel(self.model)

    # --- stopping ---
    def _agree_to_stop(self) -> None:
        """Stop every rank at the same batch (a rank's loss may diverge a batch before the others'): one tiny
        all-reduce per step, and the state of the first rank that stopped when one did."""
        if not self.ranks.any(self.stop_training):
            return
        states = self.ranks.dist.all_gather_object([self.stop_training, self.stop_reason, self.diverged,
                                                    self._stop_said])
        for stopped, reason, diverged, said in states:
            if stopped:
                self.stop_training, self.stop_reason, self.diverged, self._stop_said = True, reason, diverged, said
                return

    def stop(self, reason: str, *, error: bool = False, log: bool = True) -> None:
        """End training after the current batch; ``reason`` is said once, at the end of fit (stderr if ``error``)."""
        self.stop_training = True
        self.stop_reason = reason
        self._stop_said = {"error": bool(error), "log": bool(log)}

    def diverge(self, where: dict, reason: str, *, log: bool = True) -> None:
        """Stop now, leaving the epoch in progress unfinished (not validated, no ``on_epoch_end``)."""
        self.diverged = dict(where)
        self.stop(reason, error=True, log=log)

    # --- messages ---
    def log(self, message: str, error: bool = False) -> None:
        """Print a message: errors always (stderr), others unless verbose=0; in a distributed run, on rank 0 only
        (every rank reaches the same stops and says the same things)."""
        if error:
            if self.is_main:
                print(message, file=sys.stderr, flush=True)
            return
        if self.verbose <= 0 or not self.is_main:
            return
        for c in self.callbacks:
            if isinstance(c, ProgressBar):
                c.log(message)
                return
        print(message, flush=True)

    # --- one epoch ---
    def _clip(self) -> None:
        from ..nn.utils import clip_grad_norm_

        clip_grad_norm_(_parameters(self.model), float(self.clip_grad_norm))

    def train_epoch(self, loader) -> dict:
        """Run one pass over ``loader``, updating the weights; return the epoch's training logs."""
        model, loss_fn, opt = self.net, self.loss_fn, self.optimizer
        acc = _MetricAccumulator(self.metrics, "fit")
        penalty_sum = 0.0
        if hasattr(model, "train"):
            model.train()
        for b, batch in enumerate(loader):
            if self.steps is not None and b >= self.steps:
                break
            x, y = _split_batch(batch, "fit", self.device)
            self.callbacks.on_batch_begin(b, {"batch": b, "size": len(x)})
            opt.zero_grad()
            out = model(x)
            loss = _scalar_loss(loss_fn(out, y), "fit")
            total = loss
            if self.penalty is not None:
                pen = self.penalty(model)
                penalty_sum += float(pen.item() if isinstance(pen, Tensor) else pen) * len(x)
                total = loss + pen
            total.backward()
            if self.clip_grad_norm is not None:
                self._clip()
            opt.step()
            # on a device the loss stays there: read back only when logged (a progress bar, the epoch's end)
            batch_loss = DeviceValue(loss.array) if _on_device(loss.array) else float(loss.item())
            # running means over the epoch so far; a model with auxiliary outputs (GoogLeNet in training)
            # returns a tuple whose first element is the prediction the metrics score
            main = out[0] if isinstance(out, (tuple, list)) else out
            live = acc.update(batch_loss, main.array, y.array)
            self.callbacks.on_batch_end(b, {"batch": b, "size": len(x), **live, "batch_loss": batch_loss})
            if self.ranks is not None:
                self._agree_to_stop()
            if self.stop_training:
                break
        logs = acc.result(self.ranks)
        if self.penalty is not None and self.ranks is not None:
            penalty_sum = float(self.ranks.sum([penalty_sum])[0])
        if self.penalty is not None and acc.n:
            logs["penalty"] = penalty_sum / acc.n
        return logs

    # --- the run ---
    def fit(self, train, val=None, epochs: int = 10, initial_epoch: int = 0, steps_per_epoch: int | None = None,
            batch_size: int | None = 32, shuffle: bool = True, seed: int | None = None) -> History:
        val_batch = max(batch_size or 0, 256)
        if self.ranks is not None and _is_array_pair(train):
            train = _sharded(train, batch_size, shuffle, seed, train=True)
        else:
            train = as_loader(train, batch_size, shuffle=shuffle, seed=seed, what="fit(train)")
        if self.ranks is not None and _is_array_pair(val):
            val = _sharded(val, val_batch, False, None, train=False)
        else:
            val = as_loader(val, val_batch, shuffle=False, what="fit(val)")
        if int(epochs) < 0:
            raise ValueError(f"fit: epochs must be >= 0, got {epochs}")
        self.epochs = int(epochs)
        steps = len(train) if hasattr(train, "__len__") else None
        if steps_per_epoch is not None:
            steps = int(steps_per_epoch) if steps is None else min(int(steps_per_epoch), steps)
        if self.ranks is not None:
            counts = self.ranks.dist.all_gather_object(steps)
            if len(set(counts)) > 1:
                raise ValueError(f"fit(distributed=True): the ranks have different numbers of training batches "
                                 f"({', '.join(f'rank {r}: {c}' for r, c in enumerate(counts))}); each rank must run "
                                 f"the same number of steps (pass (X, y) arrays, or a DataLoader with a "
                                 f"DistributedSampler)")
        self.steps = steps
        self.stop_training = False
        self.stop_reason = None
        self.diverged = None
        self._stop_said = {"error": False, "log": True}
        self.epoch = initial_epoch - 1
        cb = self.callbacks
        cb.on_train_begin({})
        logs: dict = {}
        try:
            for epoch in range(int(initial_epoch), self.epochs):
                self.epoch = epoch
                logs = {}
                cb.on_epoch_begin(epoch, logs)
                lr = _lr_or_none(self.optimizer)  # after the callbacks: a schedule may set it for this epoch
                start = time.perf_counter()
                _set_epoch(train, epoch)
                logs.update(self.train_epoch(train))
                if self.diverged is not None:  # an unfinished epoch: the last good one stays the last
                    break
                if val is not None:
                    for k, v in _evaluate(self.model, self.loss_fn, val, self.metrics, self.ranks).items():
                        logs["val_" + k] = v
                if lr is not None:
                    logs["lr"] = lr
                logs["time"] = time.perf_counter() - start
                self.epochs_done = epoch + 1
                cb.on_epoch_end(epoch, logs)
                if self.stop_training:
                    break
        finally:
            self.resuming = False
        if self.stop_reason and self._stop_said["log"]:
            self.log(self.stop_reason, error=self._stop_said["error"])
        cb.on_train_end(logs)
        return self.history

    # --- resuming ---
    def state_dict(self) -> dict:
        """Epochs done, history and callback states (JSON values and arrays), for checkpoints."""
        states = {}
        for key, c in self._keyed_callbacks().items():
            if c is self.history:
                continue
            s = c.state_dict()
            if s:
                states[key] = s
        return {"epochs_done": self.epochs_done, "history": self.history.state_dict(), "callbacks": states,
                "stop_reason": self.stop_reason, "diverged": self.diverged}

    def _keyed_callbacks(self) -> dict:
        # "EarlyStopping:0": the first EarlyStopping; a progress bar added or not does not shift the keys
        seen: dict[str, int] = {}
        out = {}
        for c in self.callbacks:
            name = type(c).__name__
            out[f"{name}:{seen.get(name, 0)}"] = c
            seen[name] = seen.get(name, 0) + 1
        return out

    def load_state_dict(self, state: dict) -> None:
        by_key = self._keyed_callbacks()
        saved = state.get("callbacks", {})
        for key in saved:  # refuse before changing anything
            if key not in by_key:
                raise ValueError(f"resume: the checkpoint has state for callback {key}, which this run does not have "
                                 f"(callbacks now: {', '.join(by_key)})")
        self.epochs_done = int(state["epochs_done"])
        self.epoch = self.epochs_done - 1
        self.history.load_state_dict(state["history"])
        self.stop_reason = state.get("stop_reason")
        self.diverged = state.get("diverged")
        for key, s in saved.items():
            by_key[key].load_state_dict(s)
        self.resuming = True


def weight_penalty(l1: float = 0.0, l2: float = 0.0, weights_only: bool = True) -> Callable | None:
    """A ``penalty`` for ``fit``: the notes' regularization terms λ₁ Σ|θ| + λ₂/2 Σ θ².

    ``weights_only`` leaves biases and normalization parameters out (only
    parameters whose name ends in ``weight`` are penalized). Returns None
    when both λ are 0.

    >>> fit(model, loss_fn, opt, train, penalty=weight_penalty(l2=1e-4))
    """
    l1, l2 = float(l1), float(l2)
    if l1 < 0 or l2 < 0:
        raise ValueError(f"weight_penalty: l1 and l2 must be >= 0, got l1={l1}, l2={l2}")
    if l1 == 0 and l2 == 0:
        return None

    def penalty(model) -> Tensor:
        from ..nn.utils import l1_penalty, l2_penalty

        ps = [p for n, p in model.named_parameters() if not weights_only or n.rsplit(".", 1)[-1] == "weight"]
        if not ps:
            ps = list(model.parameters())
        total = None
        if l1:
            total = l1 * l1_penalty(ps)
        if l2:
            term = (l2 / 2) * l2_penalty(ps)
            total = term if total is None else total + term
        return total

    penalty.__name__ = f"weight_penalty(l1={l1}, l2={l2})"
    return penalty


def _lr_or_none(optimizer):
    try:
        return get_lr(optimizer)
    except (AttributeError, KeyError, TypeError):
        return None


def _parameters(model) -> list:
    return list(model.parameters()) if hasattr(model, "parameters") else []


# --- public functions ---------------------------------------------------------------


def fit(model, loss_fn: Callable, optimizer, train, val=None, epochs: int = 10, *, callbacks: Iterable = (),
        metrics: Sequence = ("accuracy",), verbose: int = 1, batch_size: int | None = 32, shuffle: bool = True,
        seed: int | None = None, initial_epoch: int = 0, steps_per_epoch: int | None = None,
        penalty: Callable | None = None, clip_grad_norm: float | None = None, device=None,
        distributed: bool = False) -> History:
    """Train ``model`` for ``epochs`` passes over ``train``; return the per-epoch ``History``.

    Each batch runs the notes' update: forward, loss q(Θ) (+ ``penalty(model)``,
    e.g. the L2 term λ/2 Σθ²), backward, optional gradient-norm clipping to
    ``clip_grad_norm``, and ``optimizer.step()``. After each epoch, ``val``
    is evaluated (``val_loss``, ``val_<metric>``) and the callbacks run;
    a callback may stop training (``EarlyStopping``, ``TerminateOnNaN``).
    Pass ``TerminateOnDivergence()`` to stop a run whose loss turns NaN or
    grows 1000-fold: the epoch it happens in is dropped, ``history.diverged``
    says where, and the other callbacks (checkpoints, early stopping's best
    weights) keep the last good epoch.

    ``train``/``val``: DataLoaders or ``(X, y)`` arrays (batched with
    ``batch_size``, ``None`` = the whole set, 1 = online; shuffled each epoch
    with ``seed`` for the training data). ``metrics``: names from
    ``neurona.train.metrics`` (``'accuracy'``, ``'top5'``, ``'f1'``, ``'mse'``,
    ``'mae'``, ``'r2'``) or functions ``f(y_true, y_pred) -> float``.
    ``verbose``: 0 silent, 1 progress bar (plain lines when not a terminal),
    2 one line per epoch. The logged ``loss`` is the mean data loss over the
    epoch (the penalty is logged apart as ``penalty``), so it compares with
    ``val_loss``.

    ``device``: where to train, ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or
    ``"auto"`` (a GPU when one can be used): the model moves there before the
    first step (build the optimizer before or after: it holds the same
    parameters) and each batch is copied there. On a GPU the loss and the
    accuracy are summed on the device and read back once an epoch (or when a
    progress bar prints them). ``None``: where the model already is.

    ``distributed=True``: data-parallel training on the processes started by
    ``mpiexec -n N`` (``neurona.distributed``; a world of one without MPI).
    The model is wrapped in ``DistributedDataParallel`` (rank 0's weights are
    copied to all ranks, gradients averaged after each backward); ``(X, y)``
    arrays are split among the ranks by a ``DistributedSampler`` (a loader you
    pass is taken as this rank's share), so each step trains on a global
    batch of N × ``batch_size`` examples. The learning rate is used as given:
    the linear scaling rule (lr × N for a batch N times larger) is yours to
    apply. Logs are means over all ranks; only rank 0 prints and writes files.
    """
    trainer = Trainer(model, loss_fn, optimizer, metrics=metrics, callbacks=callbacks, verbose=verbose,
                      penalty=penalty, clip_grad_norm=clip_grad_norm, distributed=distributed)
    if device is not None:
        trainer.device = backend.resolve_device(device)
        if hasattr(model, "to"):
            model.to(trainer.device)
        _move_optimizer_state(optimizer, trainer.device)
    return trainer.fit(train, val, epochs=epochs, initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch,
                       batch_size=batch_size, shuffle=shuffle, seed=seed)


def _move_optimizer_state(optimizer, dev) -> None:
    """Arrays of an optimizer's state (momentum, Adam's moments) follow the parameters to ``dev``."""
    for s in getattr(optimizer, "state", {}).values():
        if isinstance(s, dict):
            for k, v in s.items():
                if backend.is_array(v) and backend.device_of(v) != dev:
                    s[k] = backend.to_device(v, dev)


class _EvalMode:
    """Eval mode and no_grad for the block; the model's previous mode comes back after."""

    def __init__(self, model):
        self.model = model
        self.was_training = getattr(model, "training", None)
        self.ng = no_grad()

    def __enter__(self):
        if self.was_training is not None:
            self.model.eval()
        self.ng.__enter__()
        return self

    def __exit__(self, *exc):
        self.ng.__exit__(*exc)
        if self.was_training is not None:
            self.model.train(bool(self.was_training))
        return False


def evaluate(model, loss_fn: Callable | None, data, metrics: Sequence = ("accuracy",), batch_size: int = 256) -> dict:
    """The mean loss and the metrics of ``model`` on ``data`` (a DataLoader or ``(X, y)`` arrays).

    Runs under ``no_grad`` in eval mode. Returns e.g.
    ``{'loss': 0.35, 'accuracy': 0.88}`` (no ``loss`` when ``loss_fn`` is None).
    """
    loader = as_loader(data, batch_size, shuffle=False, what="evaluate")
    return _evaluate(model, loss_fn, loader, _resolve_metrics(metrics))


def _model_device(model):
    params = getattr(model, "parameters", None)
    for p in (params() if callable(params) else ()):
        return p.device
    return None


def _evaluate(model, loss_fn, loader, resolved, ranks: _Ranks | None = None) -> dict:
    outs, ys = [], []
    loss_sum, n = 0.0, 0
    dev = _model_device(model)
    dev = None if dev is None or dev.type == "cpu" else dev
    with _EvalMode(model):
        for batch in loader:
            x, y = _split_batch(batch, "evaluate", dev)
            out = model(x)
            if loss_fn is not None:
                # on a device the sum stays there (one read-back at the end)
                loss_sum = loss_sum + _scalar_loss(loss_fn(out, y), "evaluate").array * len(x)
            n += len(x)
            outs.append(out.array)
            ys.append(y.array)
    loss_sum = float(loss_sum)
    out, y = _concat(outs), _concat(ys)
    if ranks is not None:  # every rank evaluated its share: combine them
        loss_sum, n = ranks.sum([loss_sum, n])
        n = int(n)
        out, y = ranks.gather(out), ranks.gather(y)
    logs = {}
    if loss_fn is not None:
        logs["loss"] = loss_sum / n if n else math.nan
    if not n:
        return {**logs, **{name: math.nan for name, _ in resolved}}
    acc = _MetricAccumulator(resolved, "evaluate")
    for name, fn in resolved:
        logs[name] = acc._call(name, fn, y, out)
    return logs


def predict(model, X, batch_size: int = 256) -> np.ndarray:
    """The model's outputs for inputs ``X`` (array, Tensor, or a loader of batches), as one ndarray.

    Runs under ``no_grad`` in eval mode, ``batch_size`` samples at a time, on
    the model's device; the result is a host array.
    For class probabilities apply a softmax: ``neurona.softmax(neurona.tensor(out), dim=1)``.
    """
    outs = []
    dev = _model_device(model)
    dev = None if dev is None or dev.type == "cpu" else dev

    def run(x):
        x = x if isinstance(x, Tensor) else tensor(x)
        return model(x if dev is None else x.to(dev)).array

    with _EvalMode(model):
        if isinstance(X, (np.ndarray, Tensor)):
            arr = X.array if isinstance(X, Tensor) else X
            if arr.ndim == 0:
                raise ValueError("predict: X must have a batch dimension, got a scalar")
            for i in range(0, len(arr), batch_size):
                outs.append(run(arr[i:i + batch_size]))
        else:
            for batch in as_loader(X, batch_size, what="predict"):
                outs.append(run(batch[0] if isinstance(batch, (tuple, list)) else batch))
    if not outs:
        return np.zeros((0,), dtype=np.float32)
    return np.concatenate([backend.to_numpy(a) for a in outs])
