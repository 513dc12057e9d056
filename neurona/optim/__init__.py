"""Optimizers and learning-rate schedules, with PyTorch's names and semantics.

>>> import neurona
>>> w = neurona.nn.Parameter([1.0, -2.0])
>>> opt = neurona.optim.SGD([w], lr=0.1, momentum=0.9)
>>> (w * w).sum().backward()        # ∂/∂w (w·w) = 2w
>>> opt.step()                      # w ← w - 0.1 · 2w
>>> opt.zero_grad()
>>> w.array
array([ 0.8, -1.6], dtype=float32)

Every optimizer is an :class:`Optimizer` (parameter groups, ``step``,
``zero_grad``, ``state_dict``/``load_state_dict``) that writes one
``update_one``; the schedules live in :mod:`neurona.optim.lr_scheduler`.
"""
from . import lr_scheduler
from .adam import Adam, Adamax, AdamW, NAdam
from .adaptive import Adadelta, Adagrad, RMSprop
from .factory import OPTIMIZERS, create_optimizer
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "Adamax", "NAdam", "lr_scheduler",
           "create_optimizer", "OPTIMIZERS"]
