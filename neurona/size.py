"""``Size``: the type of ``Tensor.shape`` and ``Tensor.size()``, a tuple of ints as PyTorch's ``torch.Size``."""
from __future__ import annotations

import math
import operator


class Size(tuple):
    """A tensor's shape: a tuple of ints that prints as ``neurona.Size([2, 3])`` and knows its ``numel()``.

    Everything a tuple does works (indexing, unpacking, ``==`` with a tuple);
    slicing and concatenating give a ``Size`` again, as in PyTorch.

    >>> import neurona
    >>> s = neurona.zeros(2, 3).shape
    >>> s, s.numel(), s[1:], s == (2, 3)
    (neurona.Size([2, 3]), 6, neurona.Size([3]), True)
    """

    __slots__ = ()

    def __new__(cls, sizes=()):
        try:
            return tuple.__new__(cls, [operator.index(n) for n in sizes])
        except TypeError:
            raise TypeError(f"Size: expected a sequence of ints, got {sizes!r}") from None

    def __repr__(self) -> str:
        return f"neurona.Size({list(self)})"

    def __str__(self) -> str:  # the tuple's look inside messages ("got shape (3,)"); repr() names the type
        return tuple.__repr__(self)

    def __getitem__(self, index):
        got = tuple.__getitem__(self, index)
        return tuple.__new__(Size, got) if isinstance(index, slice) else got

    def __add__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return tuple.__new__(Size, tuple.__add__(self, other))

    def __radd__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return tuple.__new__(Size, tuple.__add__(other, self))

    def __mul__(self, n):
        return tuple.__new__(Size, tuple.__mul__(self, n))

    __rmul__ = __mul__

    def numel(self) -> int:
        """The number of elements a tensor of this shape holds (1 for ``Size([])``)."""
        return math.prod(self)

    def __reduce__(self):
        return (Size, (tuple(self),))
