"""Worker threads for the loops NumPy runs without holding the GIL.

NumPy releases the GIL inside its ufunc loops, copies and reductions, so two
Python threads each running NumPy calls on their own part of an array work in
parallel. neurona uses that for the memory-bound work of convolutions that
BLAS does not thread: the patch copies and the col2im adds. Everything else
stays on the calling thread (BLAS threads its matrix products itself).

The number of threads is ``NEURONA_NUM_THREADS`` (at most 4), and 1 when it
is not set: inside a training step the loops run between BLAS products, and
OpenBLAS keeps its worker threads spinning on the other cores for a while
after each product, so a second thread of ours only competes with them. On
LeNet-5, whose second convolution is the one that uses these loops, a
training step was 4-5 % faster with our threads off (paired in-process
comparisons, six runs, on the benchmark machine of the README). Where the
loops run away from BLAS work, ``NEURONA_NUM_THREADS=2`` (or more) splits
them.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

__all__ = ["thread_count", "run_all", "split_range"]


def thread_count() -> int:
    """Threads for the memory-bound loops (see the module docstring)."""
    v = os.environ.get("NEURONA_NUM_THREADS", "").strip()
    if v.isdigit() and int(v) > 0:
        return min(4, int(v))
    return 1


THREADS = thread_count()
#: below this many bytes of work a thread hand-off costs more than it saves
MIN_BYTES = 1 << 20
_pool: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=max(1, THREADS - 1), thread_name_prefix="neurona")
    return _pool


def run_all(tasks: list[Callable[[], None]]) -> None:
    """Run the callables concurrently (the first on the calling thread) and wait for all of them.

    An exception raised by any task is raised here, after every task has ended.
    """
    if len(tasks) < 2:
        for t in tasks:
            t()
        return
    futures = [_executor().submit(t) for t in tasks[1:]]
    try:
        tasks[0]()
    finally:
        errors = [f.exception() for f in futures]
    for e in errors:
        if e is not None:
            raise e


def split_range(fn: Callable[[int, int], None], n: int, nbytes: int, threads: int | None = None) -> None:
    """Run ``fn(lo, hi)`` over [0, n) in up to ``threads`` contiguous chunks, in parallel when worth it.

    ``nbytes`` is the size of the work; below ``MIN_BYTES`` it runs in one call.
    """
    workers = min(THREADS if threads is None else threads, n)
    if workers < 2 or nbytes < MIN_BYTES:
        fn(0, n)
        return
    bounds = [n * k // workers for k in range(workers + 1)]
    run_all([(lambda lo=bounds[k], hi=bounds[k + 1]: fn(lo, hi)) for k in range(workers)])
