"""PyTorch's legacy typed constructors: ``FloatTensor``, ``DoubleTensor``, ``LongTensor``, ...

Each is a constructor and an ``isinstance`` test, as in PyTorch:
``FloatTensor([1, 2])`` is a float32 tensor made from data, ``FloatTensor(2, 3)``
one of that shape (zeros), and ``isinstance(t, FloatTensor)`` asks whether
``t`` is a float32 tensor. The objects made are plain ``neurona.Tensor``s.
"""
from __future__ import annotations

import numpy as np

from .engine import Tensor
from .size import Size


class _TensorType(type):
    """The metaclass behind the typed constructors: calling makes a Tensor, ``isinstance`` checks the dtype."""

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor) and obj.array.dtype == cls.dtype

    def __call__(cls, *args, device=None) -> Tensor:
        if len(args) == 1 and isinstance(args[0], Tensor):
            got = args[0].array.dtype
            if got != cls.dtype:  # PyTorch refuses to convert here: .to(dtype) or .type(...) does that
                raise TypeError(f"{cls.__name__}(tensor): expected a tensor of dtype {cls.dtype.name}, got "
                                f"{got.name}; convert it with tensor.to({cls.dtype.name}) or "
                                f"tensor.type(neurona.{cls.__name__})")
            return args[0]
        if len(args) == 1 and type(args[0]) is not int and not isinstance(args[0], Size):
            a = np.asarray(args[0])
            if a.dtype.kind not in "fiub":
                raise TypeError(f"{cls.__name__}: expected numbers, got data of dtype {a.dtype}")
            t = Tensor(a.astype(cls.dtype, copy=False))
        else:
            t = Tensor(*args, dtype=cls.dtype)
        return t if device is None else t.to(device)

    def __repr__(cls) -> str:
        return f"<class 'neurona.{cls.__name__}'>"


def _make(name: str, dtype) -> type:
    doc = (f"A {np.dtype(dtype).name} tensor: ``{name}(data)`` from data, ``{name}(*sizes)`` of that shape (zeros); "
           f"``isinstance(t, {name})`` says whether ``t`` is a {np.dtype(dtype).name} tensor.")
    return _TensorType(name, (), {"dtype": np.dtype(dtype), "__doc__": doc, "__module__": "neurona"})


FloatTensor = _make("FloatTensor", np.float32)
DoubleTensor = _make("DoubleTensor", np.float64)
HalfTensor = _make("HalfTensor", np.float16)
LongTensor = _make("LongTensor", np.int64)
IntTensor = _make("IntTensor", np.int32)
ShortTensor = _make("ShortTensor", np.int16)
CharTensor = _make("CharTensor", np.int8)
ByteTensor = _make("ByteTensor", np.uint8)
BoolTensor = _make("BoolTensor", np.bool_)

TYPES = (FloatTensor, DoubleTensor, HalfTensor, LongTensor, IntTensor, ShortTensor, CharTensor, ByteTensor, BoolTensor)
__all__ = [t.__name__ for t in TYPES]
