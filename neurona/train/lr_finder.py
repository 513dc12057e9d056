"""The learning-rate range test (``lr_find``).

The notes call the learning rate "el más importante" of the
hyperparameters: too large and the loss jumps over the minimum, too small
and training crawls. The range test trains for a few hundred batches while
the rate grows exponentially from ``start_lr`` to ``end_lr``,

    lr_i = start_lr · (end_lr / start_lr)^(i / (num_iter − 1)),

and records the loss, smoothed with an exponential moving average
(bias-corrected). The loss first stays flat (rate too small), then falls,
then explodes; a good rate lies on the steepest part of the fall, about an
order of magnitude below the minimum. The model, the optimizer and the
random generators are put back as they were afterwards.

>>> result = lr_find(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), train_loader)
>>> result.suggestion          # e.g. 0.03
>>> result.plot("lr_find.png")
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .callbacks import get_lr, set_lr
from .loop import _scalar_loss, _split_batch, as_loader

__all__ = ["lr_find", "LRFinderResult"]


@dataclass
class LRFinderResult:
    """Rates tried, smoothed and raw losses, and the suggested rate (None if the curve never fell)."""

    lrs: np.ndarray
    losses: np.ndarray
    raw_losses: np.ndarray
    suggestion: float | None
    diverged: bool

    def plot(self, path=None, ax=None):
        """Loss against learning rate (log scale), with the suggestion marked; needs matplotlib."""
        from .. import plot

        return plot.lr_find_curve(self.lrs, self.losses, self.suggestion, path=path, ax=ax)

    def __repr__(self) -> str:
        s = "none" if self.suggestion is None else f"{self.suggestion:.3g}"
        return (f"LRFinderResult({len(self.lrs)} rates from {self.lrs[0]:.3g} to {self.lrs[-1]:.3g}, "
                f"suggestion={s}{', diverged' if self.diverged else ''})") if len(self.lrs) else "LRFinderResult(empty)"


def _suggest(lrs: np.ndarray, losses: np.ndarray) -> float | None:
    """The rate where the smoothed loss falls fastest (per unit of log lr), before its minimum."""
    n = len(lrs)
    if n < 5:
        return None
    stop = int(np.argmin(losses)) + 1
    skip = max(1, n // 10)  # the first points are dominated by the smoothing warm-up
    if stop - skip < 3:  # the loss never fell: no rate to recommend
        return None
    slope = np.gradient(losses[skip:stop], np.log(lrs[skip:stop]))
    i = int(np.argmin(slope))
    if slope[i] >= 0:
        return None
    return float(lrs[skip + i])


def lr_find(model, loss_fn, optimizer, loader, start_lr: float = 1e-7, end_lr: float = 10.0, num_iter: int = 100,
            smooth: float = 0.98, diverge_threshold: float = 4.0, batch_size: int = 64,
            restore: bool = True) -> LRFinderResult:
    """Run the learning-rate range test; return rates, losses and a suggested rate.

    ``loader``: a DataLoader (re-walked if it has fewer than ``num_iter``
    batches) or ``(X, y)`` arrays. Stops early when the smoothed loss exceeds
    ``diverge_threshold`` times its best value (or becomes NaN). With
    ``restore`` (the default) the model's weights, the optimizer's state and
    the random generators are restored afterwards, so the test does not
    disturb the training that follows.
    """
    from ..io import capture_rng_state, restore_rng_state

    if not 0 < start_lr < end_lr:
        raise ValueError(f"lr_find: need 0 < start_lr < end_lr, got start_lr={start_lr}, end_lr={end_lr}")
    if int(num_iter) < 2:
        raise ValueError(f"lr_find: num_iter must be at least 2, got {num_iter}")
    if not 0 <= smooth < 1:
        raise ValueError(f"lr_find: smooth must be in [0, 1), got {smooth}")
    loader = as_loader(loader, batch_size, shuffle=True, what="lr_find")
    num_iter = int(num_iter)
    weights = {k: v.clone() for k, v in model.state_dict().items()}  # a snapshot: state_dict() shares memory
    opt_state = optimizer.state_dict() if hasattr(optimizer, "state_dict") else None
    old_lr = get_lr(optimizer)
    rng = capture_rng_state(loader)
    was_training = getattr(model, "training", True)
    factor = (end_lr / start_lr) ** (1.0 / (num_iter - 1))
    lrs, raw, smoothed = [], [], []
    avg, best = 0.0, math.inf
    diverged = False
    try:
        model.train()
        it, i = iter(loader), 0
        while i < num_iter:
            try:
                batch = next(it)
            except StopIteration:
                it = iter(loader)
                try:
                    batch = next(it)
                except StopIteration:
                    raise ValueError("lr_find: the loader yields no batches") from None
            lr = start_lr * factor ** i
            set_lr(optimizer, lr)
            x, y = _split_batch(batch, "lr_find")
            optimizer.zero_grad()
            loss = _scalar_loss(loss_fn(model(x), y), "lr_find")
            loss.backward()
            optimizer.step()
            value = float(loss.item())
            avg = smooth * avg + (1 - smooth) * value
            s = avg / (1 - smooth ** (i + 1))
            lrs.append(lr)
            raw.append(value)
            smoothed.append(s)
            i += 1
            if not math.isfinite(s) or (i > 1 and s > diverge_threshold * best):
                diverged = True
                break
            best = min(best, s)
    finally:
        if restore:
            model.load_state_dict(weights)
            if opt_state is not None:
                optimizer.load_state_dict(opt_state)
            set_lr(optimizer, old_lr)
            restore_rng_state(rng, loader)
        model.train(bool(was_training))
    lrs_a, sm = np.asarray(lrs), np.asarray(smoothed)
    finite = np.isfinite(sm)
    return LRFinderResult(lrs_a, sm, np.asarray(raw), _suggest(lrs_a[finite], sm[finite]), diverged)
