"""One workspace for the large scratch arrays of ops, reused from one training step to the next.

A training step needs the same multi-megabyte scratch arrays every batch:
patch matrices of convolutions, the gate buffers of recurrent layers, the
work arrays of an optimizer. A fresh array of that size comes from the system
as untouched pages, and the first write to each page costs a page fault; an
array handed back here is reused by the next step instead.

The lifetime rule, the only one: **an array taken with** :func:`take`
**belongs to the code that took it until that code hands it back with**
:func:`give`; **after** ``give`` **nobody reads or writes it.** So an op gives
back what it used only inside its forward or backward before returning, and
what it kept for backward in its ``release()``, which the engine calls once
backward has run (and which an op calls itself when no graph is recorded).
Arrays that leave an op — outputs and gradients — never come from here. An
array that is never given back is simply freed by the garbage collector.

The workspace is per thread. It keeps at most ``MAX_PER_SHAPE`` arrays of one
shape and dtype and ``MAX_BYTES`` in all; small arrays (under ``MIN_BYTES``)
are not worth keeping and are left to NumPy.
"""
from __future__ import annotations

import threading

import numpy as np

__all__ = ["take", "give", "clear", "nbytes"]

MAX_BYTES = 512 << 20
MAX_PER_SHAPE = 4
MIN_BYTES = 1 << 16


class _Store(threading.local):
    def __init__(self):
        self.free: dict = {}
        self.bytes = 0


_store = _Store()


def take(shape, dtype, xp=np):
    """An uninitialized array of ``shape`` and ``dtype`` (one given back earlier, when there is one)."""
    if xp is np:
        stack = _store.free.get((tuple(shape), np.dtype(dtype)))
        if stack:
            a = stack.pop()
            _store.bytes -= a.nbytes
            return a
    return xp.empty(shape, dtype)


def give(*arrays) -> None:
    """Hand arrays back for reuse (None and views are ignored); the caller must not touch them afterwards."""
    s = _store
    for a in arrays:
        if type(a) is not np.ndarray or a.base is not None or a.nbytes < MIN_BYTES:
            continue
        if s.bytes + a.nbytes > MAX_BYTES:
            continue
        stack = s.free.setdefault((a.shape, a.dtype), [])
        if len(stack) < MAX_PER_SHAPE and not any(b is a for b in stack):
            stack.append(a)
            s.bytes += a.nbytes


def clear() -> None:
    """Drop every kept array of this thread (their memory goes back to the system)."""
    _store.free.clear()
    _store.bytes = 0


def nbytes() -> int:
    """Bytes kept for reuse by this thread."""
    return _store.bytes
