"""Padding layers (PyTorch's names): ``ZeroPad1d/2d/3d``, ``ConstantPad1d/2d/3d``, ``ReflectionPad1d/2d/3d``,
``ReplicationPad1d/2d/3d``, ``CircularPad1d/2d/3d``, each over :func:`neurona.nn.functional.pad`.

``padding`` is an int (the same on every side) or a tuple (left, right) for
1-D, (left, right, top, bottom) for 2-D, (left, right, top, bottom, front,
back) for 3-D, as in PyTorch.
"""
from __future__ import annotations

from ..engine import Tensor
from ..functional.shape import pad
from .module import Module

__all__ = ["ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
           "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
           "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d"]


class _Pad(Module):
    _dims = 1
    _mode = "constant"

    def __init__(self, padding, value: float = 0.0):
        super().__init__()
        n = 2 * self._dims
        if isinstance(padding, int):
            padding = (padding,) * n
        padding = tuple(int(p) for p in padding)
        if len(padding) != n:
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple of {n} ints, got {padding}")
        self.padding = padding
        self.value = float(value)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in (self._dims + 1, self._dims + 2):
            raise ValueError(f"{type(self).__name__}: expected a {self._dims + 1}-D or {self._dims + 2}-D input, "
                             f"got shape {x.shape}")
        if self._mode == "constant":
            return pad(x, self.padding, value=self.value)
        return pad(x, self.padding, mode=self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}" + (f", value={self.value}" if self._mode == "constant" and self.value else "")


def _make(name: str, dims: int, mode: str, constant: bool):
    doc = (f"Pad the last {dims} dimension{'s' if dims > 1 else ''} with "
           + ({"constant": "a constant value", "reflect": "the reflection of the input at its edges (edge not "
               "repeated)", "replicate": "copies of the edge values", "circular": "the input wrapped around"}[mode])
           + ".")
    if constant:
        def __init__(self, padding, value: float):
            _Pad.__init__(self, padding, value)
    else:
        def __init__(self, padding):
            _Pad.__init__(self, padding)
    return type(name, (_Pad,), {"_dims": dims, "_mode": mode, "__init__": __init__, "__doc__": doc,
                                "__module__": __name__})


ZeroPad1d = _make("ZeroPad1d", 1, "constant", False)
ZeroPad2d = _make("ZeroPad2d", 2, "constant", False)
ZeroPad3d = _make("ZeroPad3d", 3, "constant", False)
ConstantPad1d = _make("ConstantPad1d", 1, "constant", True)
ConstantPad2d = _make("ConstantPad2d", 2, "constant", True)
ConstantPad3d = _make("ConstantPad3d", 3, "constant", True)
ReflectionPad1d = _make("ReflectionPad1d", 1, "reflect", False)
ReflectionPad2d = _make("ReflectionPad2d", 2, "reflect", False)
ReflectionPad3d = _make("ReflectionPad3d", 3, "reflect", False)
ReplicationPad1d = _make("ReplicationPad1d", 1, "replicate", False)
ReplicationPad2d = _make("ReplicationPad2d", 2, "replicate", False)
ReplicationPad3d = _make("ReplicationPad3d", 3, "replicate", False)
CircularPad1d = _make("CircularPad1d", 1, "circular", False)
CircularPad2d = _make("CircularPad2d", 2, "circular", False)
CircularPad3d = _make("CircularPad3d", 3, "circular", False)
