"""Curriculum learning: easy samples first, the whole training set later.

One of the notes' ways to avoid bad local minima: "Aprender primero las
muestras más 'fáciles' (Curriculum learning)" (Bengio et al., 2009). Each
sample gets a *difficulty* — a score you give, or the loss of a reference
model on it (:func:`loss_difficulty`) — and a :class:`CurriculumSampler`
decides, epoch by epoch, which samples are used and in what order:

- ``mode="subset"`` (baby steps): epoch e uses the easiest fraction λ(e) of
  the set, shuffled; the *pacing function* λ grows from ``start_fraction``
  to 1 at epoch ``full_epoch`` (``"linear"``: λ = λ₀ + (1 − λ₀)·e/E;
  ``"root"``: λ = sqrt(λ₀² + (1 − λ₀²)·e/E); ``"step"``: doubling; or any
  function epoch → fraction);
- ``mode="weighted"``: every epoch draws N samples with replacement, sample i
  with probability ∝ exp(−β(e)·r_i), r_i ∈ [0, 1] its difficulty rank; β
  falls linearly from ``beta`` to 0 at ``full_epoch`` (uniform sampling).

A sampler yields indices, one epoch per ``iter()``, as PyTorch samplers do.
:class:`CurriculumLoader` batches a dataset in the sampler's order (a
``neurona.data.DataLoader`` whose order comes from the sampler), and
:class:`CurriculumCallback` keeps the sampler's epoch in step with ``fit``::

    difficulty = loss_difficulty(reference_model, X_train, y_train)
    sampler = CurriculumSampler(difficulty, start_fraction=0.3, full_epoch=5, seed=0)
    loader = CurriculumLoader((X_train, y_train), sampler, batch_size=128)
    fit(model, loss_fn, optimizer, loader, epochs=10, callbacks=[CurriculumCallback(sampler)])
"""
from __future__ import annotations

import math
from typing import Callable, Iterator

import numpy as np

from ..data.loader import DataLoader
from ..engine import Tensor
from .callbacks import Callback

__all__ = ["CurriculumSampler", "CurriculumLoader", "CurriculumCallback", "loss_difficulty", "PACINGS"]

PACINGS = ("linear", "root", "step")


class CurriculumSampler:
    """Indices of the training samples, easy to hard, widening to the whole set over the epochs.

    ``difficulty``: one score per sample, higher = harder (e.g. a reference
    model's loss). ``mode``: ``"subset"`` or ``"weighted"`` (see the module
    docstring). ``pacing``: ``"linear"``, ``"root"``, ``"step"`` or a
    function ``epoch -> fraction``; ``start_fraction``: the share of samples
    in epoch 0; ``full_epoch``: the first epoch that uses every sample.
    ``shuffle=False`` keeps the easy-to-hard order inside an epoch.

    Each ``iter(sampler)`` is one epoch; the epoch counter advances by
    itself, or is set with :meth:`set_epoch` (``CurriculumCallback`` does it
    from ``fit``). ``len(sampler)`` is the number of indices of the current epoch.
    """

    def __init__(self, difficulty, mode: str = "subset", pacing: str | Callable[[int], float] = "linear",
                 start_fraction: float = 0.25, full_epoch: int = 5, beta: float = 5.0, shuffle: bool = True,
                 seed: int | None = None, generator: np.random.Generator | None = None):
        d = np.asarray(difficulty.array if isinstance(difficulty, Tensor) else difficulty, dtype=np.float64)
        if d.ndim != 1 or d.size == 0:
            raise ValueError(f"CurriculumSampler: difficulty must be a non-empty 1-D array (one score per sample), "
                             f"got shape {d.shape}")
        if not np.isfinite(d).all():
            raise ValueError("CurriculumSampler: difficulty holds NaN or infinite scores")
        if mode not in ("subset", "weighted"):
            raise ValueError(f"CurriculumSampler: mode must be 'subset' or 'weighted', got {mode!r}")
        if not callable(pacing) and pacing not in PACINGS:
            raise ValueError(f"CurriculumSampler: pacing must be one of {PACINGS} or a function epoch -> fraction, "
                             f"got {pacing!r}")
        if not 0.0 < float(start_fraction) <= 1.0:
            raise ValueError(f"CurriculumSampler: start_fraction must be in (0, 1], got {start_fraction}")
        if int(full_epoch) < 0:
            raise ValueError(f"CurriculumSampler: full_epoch must be >= 0, got {full_epoch}")
        if float(beta) < 0:
            raise ValueError(f"CurriculumSampler: beta must be >= 0, got {beta}")
        self.difficulty = d
        self.mode, self.pacing = mode, pacing
        self.start_fraction, self.full_epoch, self.beta = float(start_fraction), int(full_epoch), float(beta)
        self.shuffle = bool(shuffle)
        self.generator = generator if generator is not None else np.random.default_rng(seed)
        # stable sort: equal scores keep their order, so runs are reproducible
        self.order = np.argsort(d, kind="stable")
        self.rank = np.empty(d.size)
        self.rank[self.order] = np.arange(d.size) / max(d.size - 1, 1)
        self.epoch = 0

    # --- the schedule ---
    def fraction(self, epoch: int | None = None) -> float:
        """λ(epoch): the share of the (easiest) samples used at ``epoch`` in subset mode."""
        e = self.epoch if epoch is None else int(epoch)
        if callable(self.pacing):
            f = float(self.pacing(e))
            if not 0.0 < f <= 1.0:
                raise ValueError(f"CurriculumSampler: the pacing function gave {f} at epoch {e}; expected (0, 1]")
            return f
        if self.full_epoch == 0 or e >= self.full_epoch:
            return 1.0
        l0, t = self.start_fraction, max(e, 0) / self.full_epoch
        if self.pacing == "linear":
            return l0 + (1.0 - l0) * t
        if self.pacing == "root":
            return math.sqrt(l0 * l0 + (1.0 - l0 * l0) * t)
        return min(1.0, l0 * 2.0 ** max(e, 0))  # "step": double the share every epoch

    def weights(self, epoch: int | None = None) -> np.ndarray:
        """Sampling probabilities of weighted mode at ``epoch``: ∝ exp(−β(e)·rank)."""
        e = self.epoch if epoch is None else int(epoch)
        b = 0.0 if self.full_epoch == 0 or e >= self.full_epoch else self.beta * (1.0 - max(e, 0) / self.full_epoch)
        w = np.exp(-b * self.rank)
        return w / w.sum()

    def _count(self, epoch: int) -> int:
        n = self.difficulty.size
        return n if self.mode == "weighted" else max(1, int(math.ceil(self.fraction(epoch) * n)))

    def indices(self, epoch: int | None = None) -> np.ndarray:
        """The sample indices of ``epoch`` (drawing from the sampler's generator)."""
        e = self.epoch if epoch is None else int(epoch)
        n = self.difficulty.size
        if self.mode == "weighted":
            return self.generator.choice(n, size=n, replace=True, p=self.weights(e))
        idx = self.order[:self._count(e)]
        return self.generator.permutation(idx) if self.shuffle else idx.copy()

    # --- the sampler protocol ---
    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch``'s share for the next ``iter()`` (then advance from there)."""
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        idx = self.indices(self.epoch)
        self.epoch += 1
        return iter(idx.tolist())

    def __len__(self) -> int:
        return self._count(self.epoch)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "generator": self.generator.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.epoch = int(state["epoch"])
        self.generator.bit_generator.state = state["generator"]

    def __repr__(self) -> str:
        return (f"CurriculumSampler({self.difficulty.size} samples, mode={self.mode!r}, pacing={self.pacing!r}, "
                f"start_fraction={self.start_fraction}, full_epoch={self.full_epoch}, epoch={self.epoch})")


class CurriculumLoader(DataLoader):
    """A ``DataLoader`` that takes its sample order from ``sampler`` (e.g. a :class:`CurriculumSampler`).

    ``len(loader)`` is the number of batches of the widest epoch (the whole
    set), so that ``fit`` never cuts a later, larger epoch short.
    """

    def __init__(self, dataset, sampler, batch_size: int | None = 32, drop_last: bool = False, transform=None):
        if not hasattr(sampler, "__iter__"):
            raise TypeError(f"CurriculumLoader: sampler must be iterable (yield sample indices), got "
                            f"{type(sampler).__name__}")
        super().__init__(dataset, batch_size=batch_size, sampler=sampler, drop_last=drop_last, transform=transform)
        n_scores = getattr(getattr(sampler, "difficulty", None), "size", None)
        if n_scores is not None and n_scores != len(self.dataset):
            raise ValueError(f"CurriculumLoader: the sampler scores {n_scores} samples, the dataset has "
                             f"{len(self.dataset)}")

    def __len__(self) -> int:
        n, b = len(self.dataset), self._batch_size()
        return n // b if self.drop_last else -(-n // b)

    def __repr__(self) -> str:
        return f"CurriculumLoader({type(self.dataset).__name__} of {len(self.dataset)}, batch_size={self.batch_size}, " \
               f"sampler={self.sampler!r})"


class CurriculumCallback(Callback):
    """Sets the sampler's epoch at the start of each ``fit`` epoch (also right after a resumed run)."""

    def __init__(self, sampler: CurriculumSampler):
        self.sampler = sampler

    def on_epoch_begin(self, epoch, logs=None):
        self.sampler.set_epoch(epoch)
        if logs is not None:
            logs["curriculum_fraction"] = (self.sampler.fraction(epoch) if self.sampler.mode == "subset" else 1.0)


def loss_difficulty(model, X, y, loss: str | Callable = "cross_entropy", batch_size: int = 512) -> np.ndarray:
    """Per-sample loss of a reference ``model`` on (X, y): the difficulty score of each sample.

    ``loss``: ``"cross_entropy"`` (class indices), ``"mse"``, or a function
    ``f(output, target) -> Tensor`` returning one value per sample
    (``reduction='none'``). Runs in eval mode without a graph.
    """
    from ..creation import tensor
    from ..functional.loss import cross_entropy, mse_loss
    from ..engine import no_grad

    Xa = X.array if isinstance(X, Tensor) else np.asarray(X)
    ya = y.array if isinstance(y, Tensor) else np.asarray(y)
    if len(Xa) != len(ya):
        raise ValueError(f"loss_difficulty: X has {len(Xa)} samples, y has {len(ya)}")
    if loss == "cross_entropy":
        def fn(o, t):
            return cross_entropy(o, t, reduction="none")
    elif loss == "mse":
        def fn(o, t):
            per = mse_loss(o, t, reduction="none")
            return per.reshape(per.shape[0], -1).mean(axis=1) if per.ndim > 1 else per
    elif callable(loss):
        fn = loss
    else:
        raise ValueError(f"loss_difficulty: loss must be 'cross_entropy', 'mse' or a function, got {loss!r}")
    out = []
    was = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        with no_grad():
            for i in range(0, len(Xa), batch_size):
                per = fn(model(tensor(Xa[i:i + batch_size])), tensor(ya[i:i + batch_size]))
                a = per.array if isinstance(per, Tensor) else np.asarray(per)
                if a.shape[:1] != (min(batch_size, len(Xa) - i),):
                    raise ValueError(f"loss_difficulty: the loss must give one value per sample, got shape {a.shape}")
                out.append(a.reshape(len(a), -1).mean(axis=1))
    finally:
        if hasattr(model, "train"):
            model.train(was)
    return np.concatenate(out).astype(np.float64) if out else np.zeros(0)
