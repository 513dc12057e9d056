"""Pruning: remove the weights (or whole neurons and channels) that matter least.

The notes list two families of pruning ("Reducción del tamaño de las redes
neuronales — MÉTODOS DE PODA: poda de pesos basada en RELEVANCIA / CASTIGO"):

- **Relevance** (:func:`magnitude_prune`). The relevance of a weight is its
  magnitude |w|: the weights with the smallest |w| are set to zero until a
  target *sparsity* s (fraction of zeros) is reached, either in every layer
  (``scope="layer"``) or over all layers together (``scope="global"``).
  Structured pruning (``structured=True``) removes whole rows instead — the
  neurons of a ``Linear`` layer or the output channels of a convolution —
  ranked by the norm ‖w_i‖ of their incoming weights.
- **Penalty** (:func:`penalty_prune`). Train with the L1 penalty of the notes,
  q_S(Θ) + λ Σ|θ|, which drives unneeded weights towards zero, then remove
  the weights with |w| < threshold (:func:`threshold_prune`).

Pruning returns a :class:`PruningMasks`: one boolean mask per pruned
parameter (True = kept). The masks stay applied while fine-tuning — pass
``masks.callback()`` to ``fit`` or call ``masks.attach(optimizer)`` in a loop
of your own: before each step the gradients of pruned weights are zeroed,
after it the weights are masked again — and are stored with the model by
:func:`save_pruned` (as packed bit arrays in the safe model file).
:func:`iterative_prune` alternates pruning and fine-tuning up to a target
sparsity; :func:`sparsity_report` gives the zeros per layer.

>>> masks = magnitude_prune(model, sparsity=0.8, scope="global")
>>> fit(model, loss_fn, optimizer, train, epochs=2, callbacks=[masks.callback()])
>>> print(sparsity_report(model))
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import numpy as np

from ..engine import Tensor
from ..train.callbacks import Callback

__all__ = ["PruningMasks", "magnitude_prune", "threshold_prune", "penalty_prune", "iterative_prune",
           "prunable_parameters", "sparsity_report", "SparsityReport", "PruningResult", "get_masks",
           "remove_pruning", "save_pruned", "load_pruned", "shrink", "sparsity_schedule", "KeepMasks"]

_ATTR = "_neurona_pruning_masks"


# --- which parameters -------------------------------------------------------------------


def prunable_parameters(model, include_bias: bool = False) -> list[tuple[str, Tensor]]:
    """The parameters pruned by default: weight matrices and kernels (ndim ≥ 2) whose name starts with 'weight'.

    That is the weights of ``Linear``, convolutions and recurrent layers;
    biases and normalization parameters (1-D) are left alone unless
    ``include_bias``.
    """
    out = []
    for name, p in model.named_parameters():
        last = name.rsplit(".", 1)[-1]
        if (p.ndim >= 2 and last.startswith("weight")) or (include_bias and p.ndim == 1 and last.startswith("bias")):
            out.append((name, p))
    return out


def _select(model, parameters, op: str) -> list[tuple[str, Tensor]]:
    """Resolve ``parameters`` (None, names, or (name, param) pairs) into (name, parameter) pairs."""
    if parameters is None:
        sel = prunable_parameters(model)
        if not sel:
            raise ValueError(f"{op}: {type(model).__name__} has no weight matrices or kernels to prune "
                             f"(no parameter of 2 or more dimensions whose name starts with 'weight')")
        return sel
    by_name = dict(model.named_parameters())
    out = []
    for item in parameters:
        if isinstance(item, str):
            if item not in by_name:
                raise KeyError(f"{op}: the model has no parameter {item!r}; its parameters are "
                               f"{', '.join(by_name) or 'none'}")
            out.append((item, by_name[item]))
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Tensor):
            out.append((item[0], item[1]))
        elif isinstance(item, Tensor):
            names = [n for n, p in by_name.items() if p is item]
            if not names:
                raise ValueError(f"{op}: a tensor of shape {item.shape} in parameters= is not a parameter of the model")
            out.append((names[0], item))
        else:
            raise TypeError(f"{op}: parameters= takes names, (name, parameter) pairs or parameters, "
                            f"got {type(item).__name__}")
    if not out:
        raise ValueError(f"{op}: parameters= is empty")
    return out


def _check_sparsity(s: float, op: str) -> float:
    s = float(s)
    if not 0.0 <= s < 1.0:
        raise ValueError(f"{op}: sparsity is the fraction of weights set to zero, in [0, 1); got {s}")
    return s


# --- the masks --------------------------------------------------------------------------


class PruningMasks:
    """Boolean masks (True = kept) for some parameters of ``model``, by parameter name.

    ``apply()`` zeroes the pruned weights; ``mask_grads()`` zeroes their
    gradients; ``attach(optimizer)`` does both around every optimizer step
    (so momentum and Adam moments of pruned weights stay zero and the weights
    stay pruned through fine-tuning); ``callback()`` does it for ``fit``.
    Pruning functions keep the masks on the model (``get_masks(model)``), so
    pruning twice accumulates.
    """

    def __init__(self, model, masks: dict[str, np.ndarray] | None = None):
        self.model = model
        self.masks: dict[str, np.ndarray] = {}
        self._params: dict[str, Tensor] = {}
        for name, m in (masks or {}).items():
            self.set(name, m)

    # --- contents ---
    def _param(self, name: str) -> Tensor:
        p = self._params.get(name)
        if p is None:
            p = dict(self.model.named_parameters()).get(name)
            if p is None:
                raise KeyError(f"PruningMasks: the model has no parameter {name!r}")
            self._params[name] = p
        return p

    def set(self, name: str, mask) -> None:
        """Set (replace) the mask of parameter ``name``; it must have the parameter's shape."""
        p = self._param(name)
        m = np.asarray(getattr(mask, "data", mask)).astype(bool)
        if m.shape != p.shape:
            raise ValueError(f"PruningMasks: the mask for {name!r} has shape {m.shape}, the parameter {p.shape}")
        self.masks[name] = m

    def __contains__(self, name) -> bool:
        return name in self.masks

    def __getitem__(self, name: str) -> np.ndarray:
        return self.masks[name]

    def __iter__(self):
        return iter(self.masks)

    def __len__(self) -> int:
        return len(self.masks)

    def items(self):
        return self.masks.items()

    def combine(self, other: "PruningMasks | dict") -> "PruningMasks":
        """Keep a weight only if both mask sets keep it (in place; returns self)."""
        items = other.items() if hasattr(other, "items") else other
        for name, m in items:
            m = np.asarray(m, bool)
            self.set(name, m if name not in self.masks else (self.masks[name] & m))
        return self

    # --- enforcing ---
    def apply(self) -> None:
        """Zero the pruned weights, in place (the arrays optimizers hold stay the same)."""
        for name, m in self.masks.items():
            w = self._param(name).array
            np.multiply(w, m, out=w)

    def mask_grads(self) -> None:
        """Zero the gradients of the pruned weights (a new array: gradient arrays may be shared)."""
        for name, m in self.masks.items():
            p = self._param(name)
            if p.grad is not None:
                p.grad.array = p.grad.array * m

    def attach(self, optimizer) -> "_StepHandle":
        """Keep the masks through ``optimizer.step()``: gradients masked before, weights masked after.

        Returns a handle; ``handle.remove()`` (or ``with masks.attach(opt):``) restores the plain step.
        """
        return _StepHandle(self, optimizer)

    def callback(self) -> "KeepMasks":
        """A ``fit`` callback that attaches the masks to the trainer's optimizer for the run."""
        return KeepMasks(self)

    # --- figures ---
    def sparsity(self) -> float:
        """The fraction of masked-out entries over all masked parameters."""
        total = sum(m.size for m in self.masks.values())
        return 0.0 if total == 0 else 1.0 - sum(int(m.sum()) for m in self.masks.values()) / total

    def layer_sparsity(self) -> dict[str, float]:
        return {n: 1.0 - float(m.mean()) if m.size else 0.0 for n, m in self.masks.items()}

    # --- storing ---
    def state_dict(self) -> dict:
        """{'masks': {name: bit-packed uint8 array}, 'shapes': {name: shape}}: 1 bit per weight."""
        return {"masks": {n: np.packbits(m.ravel()) for n, m in self.masks.items()},
                "shapes": {n: list(m.shape) for n, m in self.masks.items()}}

    @classmethod
    def from_state_dict(cls, model, state: dict) -> "PruningMasks":
        try:
            packed, shapes = state["masks"], state["shapes"]
            masks = {}
            for n, bits in packed.items():
                shape = tuple(int(s) for s in shapes[n])
                size = int(np.prod(shape))
                masks[n] = np.unpackbits(np.asarray(bits, np.uint8), count=size).astype(bool).reshape(shape)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"PruningMasks: malformed pruning state ({type(e).__name__}: {e})") from None
        return cls(model, masks)

    def __repr__(self) -> str:
        return f"PruningMasks({len(self.masks)} parameters, sparsity {self.sparsity():.1%})"


class _StepHandle:
    """Wraps ``optimizer.step`` so that the masks hold across it; ``remove()`` undoes it."""

    def __init__(self, masks: PruningMasks, optimizer):
        if not hasattr(optimizer, "step"):
            raise TypeError(f"PruningMasks.attach: expected an optimizer, got {type(optimizer).__name__}")
        self.masks, self.optimizer = masks, optimizer
        self._had_own = "step" in optimizer.__dict__
        self._previous = optimizer.__dict__.get("step")
        inner = optimizer.step

        def step(closure=None):
            if closure is not None:
                user_closure = closure

                def closure():
                    loss = user_closure()
                    masks.mask_grads()
                    return loss
            masks.mask_grads()
            out = inner(closure) if closure is not None else inner()
            masks.apply()
            return out

        step.__doc__ = getattr(inner, "__doc__", None)
        self._step = step
        optimizer.step = step
        masks.apply()

    def remove(self) -> None:
        d = self.optimizer.__dict__
        if d.get("step") is self._step:
            if self._had_own:
                d["step"] = self._previous
            else:
                del d["step"]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


class KeepMasks(Callback):
    """``fit`` callback: the pruning masks hold through every optimizer step of the run."""

    def __init__(self, masks: PruningMasks):
        self.masks = masks
        self._handle = None

    def on_train_begin(self, logs=None):
        self._handle = self.masks.attach(self.trainer.optimizer)

    def on_train_end(self, logs=None):
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
        self.masks.apply()


def get_masks(model) -> PruningMasks | None:
    """The masks that pruning left on ``model`` (None if it was never pruned)."""
    return model.__dict__.get(_ATTR)


def _store(model, masks: PruningMasks) -> PruningMasks:
    object.__setattr__(model, _ATTR, masks)
    return masks


def remove_pruning(model) -> PruningMasks | None:
    """Forget the masks of ``model`` (its zeros stay; further training may make them non-zero). Returns them."""
    return model.__dict__.pop(_ATTR, None)


def _masks_for(model, new: bool) -> PruningMasks:
    old = get_masks(model)
    if old is None or new:
        return PruningMasks(model)
    return old


# --- relevance (magnitude) pruning ---------------------------------------------------------


def _prune_smallest(scores: np.ndarray, k: int) -> np.ndarray:
    """A keep-mask for a 1-D score vector that drops the ``k`` smallest scores."""
    keep = np.ones(scores.shape, bool)
    if k <= 0:
        return keep
    if k >= scores.size:
        keep[:] = False
        return keep
    keep[np.argpartition(scores, k - 1)[:k]] = False
    return keep


def _prune_smallest_weighted(scores: np.ndarray, sizes: np.ndarray, target: float) -> np.ndarray:
    """A keep-mask dropping the lowest-scored slices until their total size is as close as possible to ``target``."""
    order = np.argsort(scores, kind="stable")
    cum = np.cumsum(sizes[order])
    k = int(np.searchsorted(cum, target, side="right"))  # slices whose running total stays <= target
    if k < len(cum) and (k == 0 or cum[k] - target < target - cum[k - 1]):
        k += 1  # one more slice lands closer to the target
    keep = np.ones(scores.shape, bool)
    keep[order[:k]] = False
    return keep


def _row_scores(w: np.ndarray, mask: np.ndarray, dim: int, norm: float, mean: bool) -> np.ndarray:
    """One score per slice along ``dim``: ‖w_i‖ (L1 or L2), or its per-element mean; −1 for slices already pruned."""
    a = np.moveaxis(np.abs(w.astype(np.float64)), dim, 0).reshape(w.shape[dim], -1)
    m = np.moveaxis(mask, dim, 0).reshape(w.shape[dim], -1)
    if norm == 1:
        s = a.sum(axis=1)
    elif norm == 2:
        s = np.sqrt((a * a).sum(axis=1))
    else:
        raise ValueError(f"magnitude_prune: norm must be 1 or 2, got {norm}")
    if mean:  # comparable across layers of different fan-in
        s = s / (a.shape[1] if norm == 1 else math.sqrt(max(a.shape[1], 1)))
    s[~m.any(axis=1)] = -1.0
    return s


def _bias_name(model, weight_name: str) -> str | None:
    """The bias that belongs to the same neurons as ``weight_name`` (e.g. 'fc.bias' for 'fc.weight')."""
    if not weight_name.endswith("weight"):
        return None
    cand = weight_name[: -len("weight")] + "bias"
    return cand if cand in dict(model.named_parameters()) else None


def magnitude_prune(model, sparsity: float, scope: str = "layer", structured: bool = False, dim: int = 0,
                    norm: int = 1, parameters: Iterable | None = None, include_output_layer: bool | None = None,
                    ) -> PruningMasks:
    """Relevance pruning: zero the smallest-magnitude weights until ``sparsity`` of them are zero.

    Unstructured: a weight's relevance is |w|; ``scope="layer"`` prunes the
    fraction ``sparsity`` of every parameter, ``scope="global"`` ranks all
    selected weights together (layers with many small weights lose more).

    Structured (``structured=True``): slices along ``dim`` (0: the neurons
    of a Linear, the output channels of a convolution) are ranked by the
    L1 (``norm=1``) or L2 norm of their weights and removed whole, with the
    matching bias entries; ``scope="global"`` compares the norms divided by
    the slice size and removes slices until ``sparsity`` of the selected
    weights are gone. Every layer keeps at least one slice, and the last
    selected layer (the model's outputs: one neuron per class) is left out
    when the layers are chosen automatically, unless ``include_output_layer=True``.

    ``sparsity`` is the target fraction of zeros *after* pruning, counting
    weights pruned before: pruning 0.5 then 0.8 ends at 0.8. ``parameters``:
    names or (name, parameter) pairs (default :func:`prunable_parameters`).
    The pruned weights are zeroed now; the returned masks (also kept on the
    model, see :func:`get_masks`) keep them zero through fine-tuning.

    >>> masks = magnitude_prune(model, 0.9, scope="global")
    >>> round(masks.sparsity(), 2)
    0.9
    """
    op = "magnitude_prune"
    s = _check_sparsity(sparsity, op)
    if scope not in ("layer", "global"):
        raise ValueError(f"{op}: scope must be 'layer' or 'global', got {scope!r}")
    sel = _select(model, parameters, op)
    if structured and len(sel) > 1:
        if include_output_layer is False or (include_output_layer is None and parameters is None):
            sel = sel[:-1]  # the output layer's rows are the classes
    masks = _masks_for(model, new=False)
    old = {n: masks.masks.get(n, np.ones(p.shape, bool)) for n, p in sel}
    new: dict[str, np.ndarray] = {}
    if not structured:
        scores = {}
        for n, p in sel:
            sc = np.abs(p.array.astype(np.float64)).ravel()
            sc[~old[n].ravel()] = -1.0  # already pruned: they go first and stay pruned
            scores[n] = sc
        if scope == "layer":
            for n, p in sel:
                k = int(round(s * p.array.size))
                new[n] = _prune_smallest(scores[n], k).reshape(p.shape) & old[n]
        else:
            allsc = np.concatenate([scores[n] for n, _ in sel])
            keep = _prune_smallest(allsc, int(round(s * allsc.size)))
            start = 0
            for n, p in sel:
                size = p.array.size
                new[n] = keep[start:start + size].reshape(p.shape) & old[n]
                start += size
    else:
        rows = {}
        for n, p in sel:
            if p.ndim < 1 or not -p.ndim <= dim < p.ndim:
                raise ValueError(f"{op}: cannot prune {n!r} of shape {p.shape} along dim {dim}")
            rows[n] = _row_scores(p.array, old[n], dim % p.ndim, norm, mean=(scope == "global"))
        if scope == "layer":
            keeps = {n: _prune_smallest(rows[n], min(int(round(s * rows[n].size)), rows[n].size - 1))
                     for n, _ in sel}
        else:  # slices of different layers differ in size: prune the smallest until s of the *weights* are gone
            allsc = np.concatenate([rows[n] for n, _ in sel])
            sizes = np.concatenate([np.full(rows[n].size, p.array.size // rows[n].size) for n, p in sel])
            keep = _prune_smallest_weighted(allsc, sizes, s * float(sizes.sum()))
            keeps, start = {}, 0
            for n, _ in sel:
                k = keep[start:start + rows[n].size]
                start += rows[n].size
                if not k.any():  # never remove a whole layer: keep its most relevant slice
                    k[np.argmax(rows[n])] = True
                keeps[n] = k
        for n, p in sel:
            d = dim % p.ndim
            shape = [1] * p.ndim
            shape[d] = p.shape[d]
            m = np.broadcast_to(keeps[n].reshape(shape), p.shape) & old[n]
            new[n] = np.ascontiguousarray(m)
            b = _bias_name(model, n)
            if d == 0 and b is not None:
                bm = masks.masks.get(b, np.ones(p.shape[0], bool))
                new[b] = keeps[n] & bm
    for n, m in new.items():
        masks.set(n, m)
    masks.apply()
    return _store(model, masks)


def threshold_prune(model, threshold: float, parameters: Iterable | None = None) -> PruningMasks:
    """Zero every selected weight with |w| < ``threshold`` (the removal step of penalty pruning)."""
    t = float(threshold)
    if t < 0:
        raise ValueError(f"threshold_prune: threshold must be >= 0, got {threshold}")
    sel = _select(model, parameters, "threshold_prune")
    masks = _masks_for(model, new=False)
    for n, p in sel:
        keep = np.abs(p.array) >= p.array.dtype.type(t)
        masks.set(n, keep & masks.masks[n] if n in masks else keep)
    masks.apply()
    return _store(model, masks)


# --- reports --------------------------------------------------------------------------------


@dataclass
class SparsityReport:
    """Zeros per parameter: rows of (name, shape, size, non-zero, sparsity), and the totals."""

    rows: list[dict]

    @property
    def total(self) -> int:
        return sum(r["size"] for r in self.rows)

    @property
    def nonzero(self) -> int:
        return sum(r["nonzero"] for r in self.rows)

    @property
    def sparsity(self) -> float:
        return 0.0 if self.total == 0 else 1.0 - self.nonzero / self.total

    def as_dict(self) -> dict:
        return {"layers": {r["name"]: {k: v for k, v in r.items() if k != "name"} for r in self.rows},
                "total": self.total, "nonzero": self.nonzero, "sparsity": self.sparsity}

    def __str__(self) -> str:
        w = max([len("parameter")] + [len(r["name"]) for r in self.rows])
        lines = [f"{'parameter':<{w}}  {'shape':>16}  {'size':>10}  {'non-zero':>10}  {'sparsity':>8}"]
        for r in self.rows:
            lines.append(f"{r['name']:<{w}}  {str(tuple(r['shape'])):>16}  {r['size']:>10,}  {r['nonzero']:>10,}  "
                         f"{r['sparsity']:>8.1%}")
        lines.append(f"{'total':<{w}}  {'':>16}  {self.total:>10,}  {self.nonzero:>10,}  {self.sparsity:>8.1%}")
        return "\n".join(lines)


def sparsity_report(model, parameters: Iterable | None = None, all_parameters: bool = False) -> SparsityReport:
    """Zeros per layer: for each weight (or each parameter with ``all_parameters``), its size and non-zeros."""
    if all_parameters:
        sel = list(model.named_parameters())
    else:
        sel = _select(model, parameters, "sparsity_report")
        masks = get_masks(model)
        if masks is not None and parameters is None:  # include masked biases of structured pruning
            names = {n for n, _ in sel}
            sel += [(n, masks._param(n)) for n in masks if n not in names]
    rows = []
    for n, p in sel:
        nz = int(np.count_nonzero(p.array))
        rows.append({"name": n, "shape": list(p.shape), "size": int(p.array.size), "nonzero": nz,
                     "sparsity": 0.0 if p.array.size == 0 else 1.0 - nz / p.array.size})
    return SparsityReport(rows)


# --- penalty ("castigo") pruning and schedules ------------------------------------------------


@dataclass
class PruningResult:
    """What a pruning run produced: the masks, the per-step log, the final report and the training histories."""

    masks: PruningMasks
    steps: list[dict] = field(default_factory=list)
    report: SparsityReport | None = None
    histories: list = field(default_factory=list)

    def __str__(self) -> str:
        lines = []
        for s in self.steps:
            parts = [f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in s.items()]
            lines.append("  ".join(parts))
        if self.report is not None:
            lines.append(str(self.report))
        return "\n".join(lines)


def _evaluate(model, loss_fn, val, metrics) -> dict:
    from ..train import evaluate

    return evaluate(model, loss_fn, val, metrics=metrics) if val is not None else {}


def _fit(model, loss_fn, optimizer, train, epochs, val, callbacks, **fit_kwargs):
    from ..train import fit

    fit_kwargs.setdefault("verbose", 0)
    return fit(model, loss_fn, optimizer, train, val=val, epochs=epochs, callbacks=list(callbacks), **fit_kwargs)


def _prefixed(d: dict, prefix: str) -> dict:
    return {f"{prefix}{k}": v for k, v in d.items()}


def penalty_prune(model, loss_fn: Callable, optimizer, train, *, l1: float = 1e-4, threshold: float = 1e-2,
                  epochs: int = 5, finetune_epochs: int = 0, val=None, parameters: Iterable | None = None,
                  metrics: Sequence = ("accuracy",), callbacks: Iterable = (), **fit_kwargs) -> PruningResult:
    """Penalty ("castigo") pruning: train with q_S(Θ) + λ Σ|θ|, remove |w| < threshold, optionally fine-tune.

    The L1 term (notes: "Regularización L1") pushes weights the data does not
    need towards zero; afterwards those below ``threshold`` are removed and
    (with ``finetune_epochs``) the rest are retrained without the penalty,
    the masks held. ``train``/``val`` and ``fit_kwargs`` go to
    ``neurona.train.fit``. The result's ``steps`` log the sparsity and the
    validation metrics before, after the removal and after fine-tuning.
    """
    l1 = float(l1)
    if l1 < 0:
        raise ValueError(f"penalty_prune: l1 must be >= 0, got {l1}")
    sel = _select(model, parameters, "penalty_prune")
    ps = [p for _, p in sel]

    def penalty(m) -> Tensor:
        from ..nn.utils import l1_penalty

        return l1 * l1_penalty(ps)

    result = PruningResult(PruningMasks(model))
    result.steps.append({"step": "before", "sparsity": sparsity_report(model, sel).sparsity,
                         **_prefixed(_evaluate(model, loss_fn, val, metrics), "val_")})
    old = get_masks(model)
    extra = [old.callback()] if old is not None else []
    result.histories.append(_fit(model, loss_fn, optimizer, train, epochs, val, list(callbacks) + extra,
                                 penalty=penalty if l1 else None, metrics=metrics, **fit_kwargs))
    result.steps.append({"step": f"trained with l1={l1:g}", "sparsity": sparsity_report(model, sel).sparsity,
                         **_prefixed(_evaluate(model, loss_fn, val, metrics), "val_")})
    masks = threshold_prune(model, threshold, parameters=sel)
    result.masks = masks
    result.steps.append({"step": f"removed |w| < {threshold:g}", "sparsity": sparsity_report(model, sel).sparsity,
                         **_prefixed(_evaluate(model, loss_fn, val, metrics), "val_")})
    if finetune_epochs:
        result.histories.append(_fit(model, loss_fn, optimizer, train, finetune_epochs, val,
                                     list(callbacks) + [masks.callback()], metrics=metrics, **fit_kwargs))
        result.steps.append({"step": "fine-tuned", "sparsity": sparsity_report(model, sel).sparsity,
                             **_prefixed(_evaluate(model, loss_fn, val, metrics), "val_")})
    result.report = sparsity_report(model)
    return result


def sparsity_schedule(target: float, steps: int, kind: str = "geometric", initial: float = 0.0) -> list[float]:
    """The sparsity to reach after each of ``steps`` prune → fine-tune rounds, ending at ``target``.

    - ``"linear"``: s_k = s_0 + (s_f − s_0)·k/n;
    - ``"geometric"``: each round removes the same fraction of the weights still present,
      1 − s_k = (1 − s_0)·((1 − s_f)/(1 − s_0))^{k/n};
    - ``"cubic"`` (Zhu & Gupta, 2017): s_k = s_f + (s_0 − s_f)(1 − k/n)³, fast at first, gentle at the end.

    >>> [round(s, 3) for s in sparsity_schedule(0.9, 3, "linear")]
    [0.3, 0.6, 0.9]
    """
    target, initial = _check_sparsity(target, "sparsity_schedule"), float(initial)
    steps = int(steps)
    if steps < 1:
        raise ValueError(f"sparsity_schedule: steps must be >= 1, got {steps}")
    ks = [k / steps for k in range(1, steps + 1)]
    if kind == "linear":
        return [initial + (target - initial) * f for f in ks]
    if kind == "geometric":
        return [1.0 - (1.0 - initial) * ((1.0 - target) / (1.0 - initial)) ** f for f in ks]
    if kind == "cubic":
        return [target + (initial - target) * (1.0 - f) ** 3 for f in ks]
    raise ValueError(f"sparsity_schedule: kind must be 'linear', 'geometric' or 'cubic', got {kind!r}")


def iterative_prune(model, loss_fn: Callable, optimizer, train, sparsity: float, *, steps: int = 3,
                    finetune_epochs: int = 1, schedule: str = "geometric", scope: str = "global",
                    structured: bool = False, val=None, parameters: Iterable | None = None,
                    metrics: Sequence = ("accuracy",), callbacks: Iterable = (), **fit_kwargs) -> PruningResult:
    """Prune → fine-tune, ``steps`` times, raising the sparsity along ``schedule`` up to ``sparsity``.

    Pruning a little at a time and letting the network recover in between
    keeps more accuracy than pruning everything at once (Han et al., 2015).
    Each round calls :func:`magnitude_prune` (``scope``, ``structured``) and
    then ``fit`` for ``finetune_epochs`` with the masks held. ``steps`` of
    the result log, per round, the target and reached sparsity and the
    validation metrics after pruning and after fine-tuning.
    """
    sched = sparsity_schedule(sparsity, steps, schedule)
    result = PruningResult(_masks_for(model, new=False))
    result.steps.append({"step": 0, "target": 0.0, "sparsity": sparsity_report(model, parameters).sparsity,
                         **_prefixed(_evaluate(model, loss_fn, val, metrics), "val_")})
    for k, target in enumerate(sched, 1):
        masks = magnitude_prune(model, target, scope=scope, structured=structured, parameters=parameters)
        row = {"step": k, "target": target, "sparsity": sparsity_report(model, parameters).sparsity,
               **_prefixed(_evaluate(model, loss_fn, val, metrics), "pruned_val_")}
        if finetune_epochs:
            result.histories.append(_fit(model, loss_fn, optimizer, train, finetune_epochs, val,
                                         list(callbacks) + [masks.callback()], metrics=metrics, **fit_kwargs))
            row.update(_prefixed(_evaluate(model, loss_fn, val, metrics), "val_"))
        result.steps.append(row)
        result.masks = masks
    result.report = sparsity_report(model)
    return result


# --- saving ---------------------------------------------------------------------------------


def save_pruned(model, path, masks: PruningMasks | None = None, **metadata):
    """Save a pruned model with its masks (packed, 1 bit per weight) in a safe neurona model file.

    ``neurona.io.load(path)`` gives the model with its zeros; :func:`load_pruned`
    also gives the masks back, ready for more fine-tuning.
    """
    from .. import io

    masks = masks if masks is not None else get_masks(model)
    if masks is None:
        raise ValueError("save_pruned: the model has no pruning masks (prune it first, or pass masks=)")
    masks.apply()
    rep = sparsity_report(model)
    metadata.setdefault("sparsity", rep.sparsity)
    return io.save(model, path, pruning=masks.state_dict(), **metadata)


def load_pruned(path, model=None) -> tuple:
    """``(model, masks)`` from a file written by :func:`save_pruned`; the masks are kept on the model."""
    from .. import io

    f = io.read_model_file(path)
    m = f.build(model)
    state = f.metadata.get("pruning")
    if state is None:
        raise io.ModelFileError(path, "holds no pruning masks (it was not written by neurona.compress.save_pruned)")
    try:
        masks = PruningMasks.from_state_dict(m, state)
    except (ValueError, KeyError) as e:
        raise io.ModelFileError(path, f"its pruning masks do not fit the model: {e}") from None
    masks.apply()
    return m, _store(m, masks)


# --- shrinking structured-pruned MLPs ------------------------------------------------------------


_MIXING = ("Softmax", "LogSoftmax", "Maxout")  # activations that combine features: a neuron cannot be cut out


def _per_feature_ok(module) -> bool:
    """Whether ``module`` acts on each feature separately (so a removed neuron stays a constant)."""
    from .. import nn

    if isinstance(module, (nn.Dropout, nn.Identity, nn.BatchNorm1d)):
        return True
    return (not list(module.parameters()) and not list(module.children())
            and type(module).__module__.endswith(".activation") and type(module).__name__ not in _MIXING)


def shrink(model, tol: float = 0.0):
    """A smaller copy of an MLP (or a ``Sequential`` of Linear layers) without its dead neurons.

    A hidden neuron whose incoming weights and bias are all zero (as left by
    structured pruning) outputs a constant c = g(0) (after any BatchNorm);
    it is removed from its layer, and its contribution c·W_next[:, j] is
    folded into the next layer's bias, so the outputs are unchanged. The
    result has fewer parameters, a smaller file and faster inference. An
    ``neurona.models.MLP`` comes back as an MLP with the new hidden sizes
    (savable and loadable by name); a Sequential as a Sequential.
    """
    import copy

    from .. import nn
    from ..engine import no_grad

    seq = model.layers if hasattr(model, "layers") and isinstance(model.layers, nn.Sequential) else model
    if not isinstance(seq, nn.Sequential):
        raise TypeError(f"shrink: expected a neurona.models.MLP or an nn.Sequential of Linear layers, got "
                        f"{type(model).__name__}")
    mods = list(seq)
    lin = [i for i, m in enumerate(mods) if isinstance(m, nn.Linear)]
    for i, m in enumerate(mods):
        if not isinstance(m, nn.Linear) and not _per_feature_ok(m):
            raise TypeError(f"shrink: cannot remove neurons across a {type(m).__name__} (layer {i}); only Linear "
                            f"layers with activations, Dropout and BatchNorm1d between them are supported")
    if not lin:
        raise TypeError("shrink: the model has no Linear layers")
    new_mods = [copy.deepcopy(m) for m in mods]
    was_training = model.training
    with no_grad():
        for a, b in zip(lin[:-1], lin[1:]):
            la, lb = new_mods[a], new_mods[b]
            w = la.weight.array
            bias = la.bias.array if la.bias is not None else np.zeros(la.out_features, w.dtype)
            dead = (np.abs(w) <= tol).all(axis=1) & (np.abs(bias) <= tol)
            if not dead.any():
                continue
            if dead.all():
                dead[np.argmax(np.abs(w).sum(axis=1))] = False
            alive = ~dead
            # the constant each dead unit sends on: the modules between a and b applied to a zero input (eval mode)
            between = new_mods[a + 1:b]
            z = Tensor(np.zeros((1, la.out_features), w.dtype))
            for m in between:
                m.eval()
                z = m(z)
            c = z.array[0]
            if lb.bias is None:
                if np.any(c[dead] != 0):
                    raise ValueError("shrink: the next Linear has no bias to absorb the constant output of the "
                                     "removed neurons")
            else:
                lb.bias.array = lb.bias.array + (lb.weight.array[:, dead] @ c[dead]).astype(lb.bias.array.dtype)
            la.weight.array = np.ascontiguousarray(w[alive])
            if la.bias is not None:
                la.bias.array = np.ascontiguousarray(la.bias.array[alive])
            la.out_features = int(alive.sum())
            lb.weight.array = np.ascontiguousarray(lb.weight.array[:, alive])
            lb.in_features = la.out_features
            for m in between:
                if isinstance(m, nn.BatchNorm1d):
                    for name in ("weight", "bias", "running_mean", "running_var"):
                        t = getattr(m, name, None)
                        if t is not None:
                            t.array = np.ascontiguousarray(t.array[alive])
                    m.num_features = la.out_features
    if seq is model:
        out = nn.Sequential(*new_mods)
    else:
        from ..models.mlp import MLP

        if not isinstance(model, MLP):
            raise TypeError(f"shrink: {type(model).__name__} holds a Sequential in .layers but is not an MLP; "
                            f"pass the Sequential itself")
        cfg = model.get_config()
        cfg["hidden"] = [new_mods[i].out_features for i in lin[:-1]]
        out = MLP(**cfg)
        out.layers = nn.Sequential(*new_mods)
    out.train(was_training)
    return out
