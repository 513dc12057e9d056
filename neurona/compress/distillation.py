"""Knowledge distillation: train a small network on a large network's outputs.

The notes' "Entrenamiento de redes pequeñas a partir de datos generados por
redes grandes (Knowledge distillation)". A trained *teacher* gives, for each
training sample, a whole probability distribution over the classes, which
says more than the one-hot label (a shirt that looks a bit like a T-shirt).
Softened with a temperature T,

    p_i^T = exp(z_i / T) / Σ_j exp(z_j / T)      (T > 1 spreads the mass over the classes),

the *student* (logits v) is trained on (Hinton, Vinyals & Dean, 2015)

    L = α · T² · KL(p^T(teacher) ‖ p^T(student)) + (1 − α) · CE(softmax(v), y).

The gradient of the soft term with respect to v_i is (q_i^T − p_i^T)/T, so
its size falls as 1/T²; multiplying by T² keeps the balance between the two
terms when T changes. α = 1 uses the teacher alone, α = 0 the labels alone.

The defaults T = 2, α = 0.5 are what worked best for small MLP students on
Fashion-MNIST (``examples/distillation.py``): higher temperatures with α = 0.9,
common for large students, made them mimic details of the teacher's wrong-class
logits they cannot represent, and cost accuracy.

>>> history = distill(student, teacher, (X_train, y_train), epochs=10, T=2.0, alpha=0.5)
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from ..creation import from_numpy
from ..functional.activation import log_softmax
from ..functional.loss import cross_entropy, kl_div
from ..nn.module import Module
from ..engine import Tensor, no_grad

__all__ = ["distillation_loss", "DistillationLoss", "soft_targets", "distill", "TeacherStudent"]


def soft_targets(teacher_logits, T: float = 1.0) -> np.ndarray:
    """The teacher's softened probabilities p^T = softmax(z / T) along the last axis, as a constant array."""
    z = teacher_logits.array if isinstance(teacher_logits, Tensor) else np.asarray(teacher_logits)
    if z.dtype.kind != "f":
        z = z.astype(np.float32)
    z = z / z.dtype.type(T)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _check(T: float, alpha: float, op: str) -> tuple[float, float]:
    T, alpha = float(T), float(alpha)
    if not T > 0:
        raise ValueError(f"{op}: the temperature T must be > 0, got {T}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"{op}: alpha (the weight of the teacher's soft targets) must be in [0, 1], got {alpha}")
    return T, alpha


def distillation_loss(student_logits: Tensor, teacher_logits, target=None, T: float = 2.0,
                      alpha: float = 0.5) -> Tensor:
    """α T² KL(softmax(t/T) ‖ softmax(s/T)) + (1 − α) CE(s, y), averaged over the batch.

    ``student_logits`` (N, C) carries the graph; ``teacher_logits`` (N, C) are
    constants (no gradient flows into the teacher); ``target`` holds the class
    indices (needed unless α = 1). The KL term is the per-sample KL divergence
    (``kl_div(..., reduction='batchmean')``).
    """
    T, alpha = _check(T, alpha, "distillation_loss")
    s = student_logits
    t = teacher_logits.array if isinstance(teacher_logits, Tensor) else np.asarray(teacher_logits)
    if t.shape != s.shape:
        raise ValueError(f"distillation_loss: teacher logits of shape {t.shape} do not match the student's "
                         f"{tuple(s.shape)}")
    total = None
    if alpha > 0:
        p = from_numpy(soft_targets(t.astype(s.dtype, copy=False), T))
        soft = kl_div(log_softmax(s / T if T != 1.0 else s, dim=-1), p, reduction="batchmean")
        total = soft * (alpha * T * T)
    if alpha < 1:
        if target is None:
            raise ValueError("distillation_loss: alpha < 1 mixes in the hard labels; pass target=")
        hard = cross_entropy(s, target) * (1.0 - alpha)
        total = hard if total is None else total + hard
    return total


class DistillationLoss:
    """``loss(student_logits, target, teacher_logits)``: :func:`distillation_loss` with fixed T and α."""

    def __init__(self, T: float = 2.0, alpha: float = 0.5):
        self.T, self.alpha = _check(T, alpha, "DistillationLoss")

    def __call__(self, student_logits: Tensor, target, teacher_logits) -> Tensor:
        return distillation_loss(student_logits, teacher_logits, target, self.T, self.alpha)

    def __repr__(self) -> str:
        return f"DistillationLoss(T={self.T}, alpha={self.alpha})"


class TeacherStudent(Module):
    """The student, with the teacher beside it: ``forward`` returns the student's logits and keeps the
    teacher's for the same batch (in training mode) in ``teacher_logits``.

    Only the student is a registered sub-module, so ``parameters()`` and
    ``state_dict()`` are the student's alone and the teacher is never trained.
    """

    def __init__(self, student: Module, teacher: Module):
        super().__init__()
        self.student = student
        object.__setattr__(self, "teacher", teacher)  # deliberately not registered
        self.teacher_logits: np.ndarray | None = None
        self.next_teacher_logits: np.ndarray | None = None  # set by a loader that has them cached

    def forward(self, x):
        out = self.student(x)
        if self.training and self.next_teacher_logits is not None:
            self.teacher_logits, self.next_teacher_logits = self.next_teacher_logits, None
        elif self.training:
            teacher = self.__dict__["teacher"]
            was = teacher.training
            teacher.eval()
            with no_grad():
                self.teacher_logits = teacher(x).array
            teacher.train(was)
        else:
            self.teacher_logits = None
        return out


class _CachedTeacherLoader:
    """Batches of (x, y) from arrays, handing the teacher's precomputed logits of each batch to the pair."""

    def __init__(self, pair: TeacherStudent, X, y, logits, batch_size, seed):
        from ..data import DataLoader

        self.pair = pair
        self.loader = DataLoader((X, y, logits), batch_size=batch_size, shuffle=True, seed=seed)

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        for xb, yb, tb in self.loader:
            self.pair.next_teacher_logits = tb.array
            yield xb, yb


def _is_arrays(data) -> bool:
    return (isinstance(data, (tuple, list)) and len(data) == 2
            and all(isinstance(a, (np.ndarray, Tensor)) for a in data))


def distill(student: Module, teacher: Module, train, *, epochs: int = 10, T: float = 2.0, alpha: float = 0.5,
            optimizer=None, lr: float = 1e-3, val=None, batch_size: int | None = 128, seed: int | None = None,
            metrics: Sequence = ("accuracy",), callbacks: Iterable = (), verbose: int = 0,
            cache_teacher: bool | None = None, teacher_logits=None, **fit_kwargs):
    """Train ``student`` on ``teacher``'s softened outputs and the labels with ``fit``; return the History.

    ``train``/``val``: DataLoaders or (X, y) arrays, as for ``neurona.train.fit``.
    ``optimizer`` defaults to Adam(student.parameters(), lr). The logged
    ``loss`` is the distillation loss; ``val_loss`` is the plain cross-entropy
    of the student, comparable with a student trained alone.
    ``cache_teacher`` (default: when ``train`` is an (X, y) pair): run the
    teacher once over X and reuse its logits every epoch, instead of one
    teacher forward pass per batch (use False with a loader that augments).
    ``teacher_logits``: the teacher's logits for the rows of X, computed
    beforehand (e.g. ``neurona.train.predict(teacher, X)``), to distil several
    students without running the teacher again.
    """
    from ..optim import Adam
    from ..train import fit, predict

    T, alpha = _check(T, alpha, "distill")
    pair = TeacherStudent(student, teacher)
    if optimizer is None:
        optimizer = Adam(student.parameters(), lr=lr)
    if cache_teacher is None:
        cache_teacher = _is_arrays(train) or teacher_logits is not None
    if cache_teacher:
        if not _is_arrays(train):
            raise ValueError("distill: cache_teacher=True needs train as an (X, y) pair of arrays")
        X, y = (a.array if isinstance(a, Tensor) else np.asarray(a) for a in train)
        if len(X) != len(y):
            raise ValueError(f"distill: X has {len(X)} samples, y has {len(y)}")
        if teacher_logits is not None:
            logits = np.asarray(getattr(teacher_logits, "data", teacher_logits))
            if logits.shape[0] != len(X) or logits.ndim != 2:
                raise ValueError(f"distill: teacher_logits must have one row per training sample ({len(X)}), "
                                 f"got shape {logits.shape}")
        else:
            logits = predict(teacher, X, batch_size=512)
        train = _CachedTeacherLoader(pair, X, y, logits, batch_size if batch_size is not None else len(X), seed)

    def loss_fn(out: Tensor, y) -> Tensor:
        t = pair.teacher_logits
        if t is None or t.shape != out.shape:  # evaluation: the student's own cross-entropy
            return cross_entropy(out, y)
        return distillation_loss(out, t, y, T, alpha)

    history = fit(pair, loss_fn, optimizer, train, val=val, epochs=epochs, batch_size=batch_size, seed=seed,
                  metrics=metrics, callbacks=callbacks, verbose=verbose, **fit_kwargs)
    student.eval()
    return history
