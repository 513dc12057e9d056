"""The process group: which process this is, how many there are, and the collectives between them.

neurona's distributed training runs on MPI through ``mpi4py`` (the optional
extra ``neurona[mpi]``). Start N processes with ``mpiexec -n N python
train.py``; each calls :func:`init_process_group` (or uses ``fit(...,
distributed=True)``, which calls it) and learns its rank and the world size
from the MPI environment. Started without an MPI launcher (a plain
``python train.py``) the group is a world of one: rank 0 of 1, and every
collective returns its input unchanged, so the same script runs anywhere.

The collectives follow ``torch.distributed``: they act in place on a Tensor
or an ndarray (and also return it), and ``op`` is ``"sum"``, ``"mean"``,
``"max"``, ``"min"``, ``"product"`` or a :class:`ReduceOp`.
"""
from __future__ import annotations

import os
import sys
import traceback

import numpy as np

from .. import backend
from ..engine import Tensor

__all__ = ["ReduceOp", "init_process_group", "init", "is_available", "is_initialized", "destroy_process_group",
           "get_rank", "get_world_size", "get_local_rank", "is_main_process", "barrier", "broadcast", "all_reduce",
           "all_gather", "all_gather_object", "broadcast_object", "Work"]


class ReduceOp:
    """Reduction names, as ``torch.distributed.ReduceOp``: ``ReduceOp.SUM`` is ``"sum"``."""

    SUM = "sum"
    AVG = "mean"
    MEAN = "mean"
    MAX = "max"
    MIN = "min"
    PRODUCT = "product"


_OPS = ("sum", "mean", "max", "min", "product")


class _World:
    """The communicator and its MPI module, or neither for a world of one."""

    def __init__(self, comm=None, mpi=None):
        self.comm, self.mpi = comm, mpi
        self.rank = 0 if comm is None else comm.Get_rank()
        self.size = 1 if comm is None else comm.Get_size()


_world: _World | None = None


def _mpi_launched() -> bool:
    """Whether an MPI launcher (Open MPI, MPICH, Intel MPI, Slurm's PMI) started this process."""
    keys = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS", "SLURM_NTASKS")
    return any(k in os.environ for k in keys)


def is_available() -> bool:
    """Whether ``mpi4py`` can be imported (the ``neurona[mpi]`` extra)."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def init_process_group(backend: str = "mpi", *, abort_on_error: bool = True, **_ignored) -> None:
    """Join the group of processes started by ``mpiexec``; a world of one without MPI.

    ``backend`` is accepted for PyTorch compatibility and must be ``"mpi"``
    (or ``"gloo"``/``"nccl"``, which are taken to mean MPI here).
    ``abort_on_error`` (default) makes an uncaught exception in any process
    abort the whole job (``MPI_Abort``) instead of leaving the other ranks
    waiting forever in their next collective. Calling it again is a no-op.
    ``init()`` is the same function.
    """
    global _world
    if _world is not None:
        return
    if backend not in ("mpi", "gloo", "nccl", None):
        raise ValueError(f"init_process_group: backend must be 'mpi', got {backend!r}")
    if not _mpi_launched():  # a plain `python script.py`: a world of one, without starting MPI at all
        _world = _World()
        return
    try:
        from mpi4py import MPI
    except ImportError:
        raise RuntimeError("init_process_group: this process was started by an MPI launcher but mpi4py is not "
                           "installed; install it with pip install 'neurona[mpi]'") from None
    _world = _World(MPI.COMM_WORLD, MPI)
    if abort_on_error and _world.size > 1:
        _install_abort_hook()


init = init_process_group


def _install_abort_hook() -> None:
    previous = sys.excepthook

    def hook(kind, value, tb):
        try:
            rank = get_rank()
            sys.stderr.write(f"neurona.distributed: rank {rank} of {get_world_size()} failed; aborting every "
                             f"rank\n")
            if previous is not sys.__excepthook__:
                previous(kind, value, tb)
            else:
                traceback.print_exception(kind, value, tb)
            sys.stderr.flush()
            sys.stdout.flush()
        finally:
            _world.comm.Abort(1)

    sys.excepthook = hook


def abort(code: int = 1) -> None:
    """End every process of the job now (``MPI_Abort``); in a world of one, exit this process."""
    w = _get()
    if w.comm is None:
        raise SystemExit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    w.comm.Abort(int(code))


def is_initialized() -> bool:
    return _world is not None


def destroy_process_group() -> None:
    """Forget the group (MPI itself is finalized when the process exits)."""
    global _world
    _world = None


def _get() -> _World:
    if _world is None:
        init_process_group()
    return _world


def get_rank() -> int:
    """This process's number, 0 … world size − 1 (0 without MPI)."""
    return _get().rank


def get_world_size() -> int:
    """How many processes train together (1 without MPI)."""
    return _get().size


def get_local_rank() -> int:
    """This process's number among those on the same machine (from the launcher's environment)."""
    for key in ("OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID", "LOCAL_RANK"):
        if key in os.environ:
            return int(os.environ[key])
    return 0 if get_world_size() == 1 else get_rank()


def is_main_process() -> bool:
    """Rank 0: the process that prints, plots and writes files."""
    return get_rank() == 0


def barrier() -> None:
    """Wait until every process has reached this call."""
    w = _get()
    if w.comm is not None:
        w.comm.Barrier()


# --- collectives on arrays -----------------------------------------------------------------


def _buffer(x, what: str):
    """(the host array a collective reads and writes in place, a function that copies it back or None).

    A device array (CuPy's, or the strict stand-in's) is staged through host
    memory: MPI here moves host buffers only, so the collective runs on a host
    copy that is written back into the device array when it completes.
    """
    a = x.array if isinstance(x, Tensor) else x
    if isinstance(a, np.ndarray):
        if not a.flags.c_contiguous:
            raise ValueError(f"{what}: the array must be C-contiguous to be sent in place, got strides {a.strides} "
                             f"for shape {a.shape}; pass x.contiguous() or np.ascontiguousarray(x)")
        return a, None
    if not backend.is_array(a):
        raise TypeError(f"{what}: expected a neurona Tensor or an array, got {type(x).__name__}")
    host = np.ascontiguousarray(backend.to_numpy(a))

    def back():
        a[...] = backend.to_device(host, backend.device_of(a))

    return host, back


def _chain(first, second):
    """Run ``first`` then ``second`` (either may be None)."""
    if first is None or second is None:
        return first or second

    def both():
        first()
        second()

    return both


def _op(op: str):
    name = op.lower() if isinstance(op, str) else op
    if name == "avg":
        name = "mean"
    if name not in _OPS:
        raise ValueError(f"all_reduce: op must be one of {', '.join(_OPS)}, got {op!r}")
    return name


def _mpi_op(w: _World, name: str):
    MPI = w.mpi
    return {"sum": MPI.SUM, "mean": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN, "product": MPI.PROD}[name]


class Work:
    """A collective started with ``async_op=True``; ``wait()`` finishes it."""

    def __init__(self, request=None, then=None):
        self._request, self._then = request, then

    def is_completed(self) -> bool:
        return self._request is None or self._request.Test()

    def wait(self) -> bool:
        if self._request is not None:
            self._request.Wait()
            self._request = None
        if self._then is not None:
            then, self._then = self._then, None
            then()
        return True


def all_reduce(x, op: str = "sum", group=None, async_op: bool = False):
    """Reduce ``x`` over all processes, in place: afterwards every process holds the result.

    ``op="mean"`` divides the sum by the world size. Returns ``x`` (or a
    :class:`Work` with ``async_op=True``, whose ``wait()`` completes it).

    >>> g = neurona.tensor([float(get_rank())]); all_reduce(g, "sum")   # every rank: 0 + 1 + … + (N − 1)
    """
    name = _op(op)
    a, back = _buffer(x, "all_reduce")
    w = _get()
    if w.comm is None:
        return Work() if async_op else x
    then = None
    if name == "mean":
        def then():
            np.divide(a, w.size, out=a, casting="unsafe")
    then = _chain(then, back)
    if async_op:
        return Work(w.comm.Iallreduce(w.mpi.IN_PLACE, a, op=_mpi_op(w, name)), then)
    w.comm.Allreduce(w.mpi.IN_PLACE, a, op=_mpi_op(w, name))
    if then is not None:
        then()
    return x


def broadcast(x, src: int = 0, group=None, async_op: bool = False):
    """Overwrite ``x`` on every process with process ``src``'s ``x``, in place; returns ``x``."""
    a, back = _buffer(x, "broadcast")
    w = _get()
    if not 0 <= int(src) < w.size:
        raise ValueError(f"broadcast: src must be a rank in 0..{w.size - 1}, got {src}")
    if w.comm is None:
        return Work() if async_op else x
    if async_op:
        return Work(w.comm.Ibcast(a, root=int(src)), back)
    w.comm.Bcast(a, root=int(src))
    if back is not None:
        back()
    return x


def all_gather(tensor_list_or_x, x=None, group=None, async_op: bool = False):
    """Every process's ``x``, in rank order, on every process.

    Two forms: ``all_gather(x)`` returns a list of arrays (or Tensors when
    ``x`` is a Tensor); PyTorch's ``all_gather(tensor_list, x)`` fills the
    given list in place. Every process must pass the same shape and dtype.
    """
    if x is None:
        out_list, src = None, tensor_list_or_x
    else:
        out_list, src = tensor_list_or_x, x
    raw = src.array if isinstance(src, Tensor) else src
    dev = backend.device_of(raw) if backend.is_array(raw) else backend.CPU
    a = np.ascontiguousarray(backend.to_numpy(raw) if backend.is_array(raw) else np.asarray(raw))
    w = _get()
    if w.comm is None:
        parts = [a.copy()]
    else:
        shapes = w.comm.allgather((a.shape, a.dtype.str))
        if any(s != shapes[0] for s in shapes):
            raise ValueError(f"all_gather: every rank must pass the same shape and dtype, got "
                             f"{', '.join(f'rank {r}: {s[0]} {s[1]}' for r, s in enumerate(shapes))}")
        recv = np.empty((w.size,) + a.shape, a.dtype)
        w.comm.Allgather(a, recv)
        parts = list(recv)
    if out_list is not None:
        if len(out_list) != w.size:
            raise ValueError(f"all_gather: tensor_list has {len(out_list)} entries, expected world size {w.size}")
        for dst, part in zip(out_list, parts):
            d = dst.array if isinstance(dst, Tensor) else dst
            d[...] = backend.to_device(part, backend.device_of(d))
        return Work() if async_op else None
    if dev != backend.CPU:  # the parts go back to the device the input came from
        parts = [backend.to_device(p, dev) for p in parts]
    if isinstance(src, Tensor):
        from ..engine import _wrap
        return [_wrap(p) for p in parts]
    return parts


def _encode(obj) -> bytes:
    import json
    try:
        return json.dumps(obj).encode()
    except (TypeError, ValueError) as e:
        raise TypeError(f"object collectives carry JSON values (numbers, strings, lists, dicts), got {e}") from None


def all_gather_object(obj) -> list:
    """Every process's ``obj`` (a JSON value: numbers, strings, lists, dicts), in rank order.

    For small metadata only; values travel as JSON text, never as pickles.
    """
    import json
    w = _get()
    data = _encode(obj)
    if w.comm is None:
        return [json.loads(data)]
    return [json.loads(b) for b in w.comm.allgather(data)]


def broadcast_object(obj, src: int = 0):
    """Process ``src``'s ``obj`` (a JSON value) on every process: a run name, a config dict."""
    import json
    w = _get()
    data = _encode(obj) if w.rank == int(src) else None
    if w.comm is None:
        return json.loads(data)
    return json.loads(w.comm.bcast(data, root=int(src)))
