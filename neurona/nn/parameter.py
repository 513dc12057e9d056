"""``Parameter``: a tensor that a ``Module`` learns.

A Parameter is a leaf ``Tensor`` with ``requires_grad=True`` by default.
Assigning one to a module attribute registers it (``self.weight =
Parameter(...)``), so ``module.parameters()`` hands it to an optimizer.
"""
from __future__ import annotations

import numpy as np

from ..creation import _as_array
from ..engine import Tensor, _wrap


class Parameter(Tensor):
    """A learnable tensor; modules register it when it is assigned as an attribute.

    ``Parameter(t)`` with a Tensor ``t`` shares ``t``'s array (keeping its
    dtype) and is a new leaf, cut from any graph ``t`` belongs to. Other data
    (arrays, lists) follows :func:`neurona.tensor`'s dtype policy (float data
    becomes float32).

    >>> import neurona
    >>> w = neurona.nn.Parameter(neurona.zeros(3, 2))
    >>> w.requires_grad, w.is_leaf
    (True, True)
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            from ..backend import get_default_dtype
            arr = np.empty((0,), get_default_dtype())
        elif isinstance(data, Tensor):
            arr = data.array
        else:
            arr = _as_array(data)
        self.array = arr
        self._alias = None
        self._grad = None
        self._ctx = None
        self.name = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)  # raises a clear TypeError for integer data

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol):
        # copy / deepcopy / pickle rebuild a Parameter from its array, flag and gradient
        grad = None if self.grad is None else self.grad.array
        return (_rebuild_parameter, (self.array, self.requires_grad, grad))


def _rebuild_parameter(data, requires_grad, grad=None):
    p = Parameter.__new__(Parameter)
    p.array, p._grad, p._ctx, p.name, p.requires_grad = data, None, None, None, bool(requires_grad)
    p._alias = None
    if grad is not None:
        p._grad = _wrap(grad)
    return p
