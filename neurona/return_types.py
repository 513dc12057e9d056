"""The named tuples that ops with two results return, as ``torch.return_types``.

``values, indices = x.max(dim=1)`` unpacks like a tuple; ``r.values`` and
``r.indices`` name the parts.

>>> import neurona
>>> r = neurona.tensor([3.0, 1.0, 2.0]).sort()
>>> r.indices
tensor([1, 2, 0])
"""
from __future__ import annotations

from collections import namedtuple

__all__ = ["max", "min", "sort", "topk", "kthvalue", "median", "cummax", "cummin", "slogdet"]


def _values_indices(name: str):
    cls = namedtuple(name, ["values", "indices"])
    cls.__module__ = __name__
    return cls


max = _values_indices("max")  # noqa: A001
min = _values_indices("min")  # noqa: A001
sort = _values_indices("sort")
topk = _values_indices("topk")
kthvalue = _values_indices("kthvalue")
median = _values_indices("median")
cummax = _values_indices("cummax")
cummin = _values_indices("cummin")
slogdet = namedtuple("slogdet", ["sign", "logabsdet"])
slogdet.__module__ = __name__
