"""``DistributedDataParallel``: the same model on every process, gradients averaged after each backward.

The notes' mini-batch gradient is a mean of per-example gradients, so N
processes that each take b examples and average their gradients compute the
gradient of the combined batch of N·b examples (with a loss that is a mean
over its batch):

    ∂q/∂θ over N·b examples = (1/N) Σ_r ∂q_r/∂θ,   q_r the loss of rank r's b examples.

Every process therefore holds the same weights after each ``optimizer.step()``.

How the averaging is done. Sending one message per parameter would pay the
network's latency once per tensor, so gradients are packed into flat
*buckets* of a few megabytes (Horovod's "tensor fusion", PyTorch's
``bucket_cap_mb``), in reverse order of the parameters — roughly the order in
which backward produces them. A parameter's gradient is copied into its
bucket as soon as backward has finished with it (a post-accumulate-grad hook
of the engine); once a bucket is full its sum over the processes starts as a
non-blocking ``MPI_Iallreduce`` while backward goes on with the earlier
layers. At the end of backward the remaining buckets are sent, every
reduction is awaited, divided by N and copied back into ``.grad``. Buckets
are always started in the same order on every process, as MPI requires.
"""
from __future__ import annotations

import contextlib
import time
import weakref

import numpy as np

from .. import backend
from ..engine import queue_callback
from ..nn.module import Module
from . import comm

__all__ = ["DistributedDataParallel"]


class _Bucket:
    """A flat buffer holding the gradients of some parameters of one dtype, reduced as one message."""

    def __init__(self, params: list, dtype):
        self.params = params
        self.offsets = []
        n = 0
        for p in params:
            self.offsets.append(n)
            n += p.array.size
        self.buffer = np.zeros(n, dtype)
        self.index = {id(p): k for k, p in enumerate(params)}
        self.reset()

    def reset(self) -> None:
        self.filled = [False] * len(self.params)
        self.count = 0
        self.request = None

    @property
    def full(self) -> bool:
        return self.count == len(self.params)

    def put(self, k: int, grad) -> None:
        """Copy parameter k's gradient (or zeros for a parameter that got none) into the buffer."""
        p = self.params[k]
        view = self.buffer[self.offsets[k]:self.offsets[k] + p.array.size]
        if grad is None:
            view[...] = 0
        else:  # a device gradient is staged through this host buffer (MPI here moves host memory)
            view[...] = (grad if type(grad) is np.ndarray else backend.to_numpy(grad)).reshape(-1)
        if not self.filled[k]:
            self.filled[k] = True
            self.count += 1

    def give_back(self, scale: float) -> None:
        """Divide the reduced sums by the world size and write them into each parameter's ``.grad``."""
        from ..engine import _wrap

        self.buffer *= self.buffer.dtype.type(scale)
        for p, off in zip(self.params, self.offsets):
            g = self.buffer[off:off + p.array.size].reshape(p.array.shape)
            if type(p.array) is not np.ndarray:  # back to the parameter's device
                g = backend.to_device(g, backend.device_of(p.array))
            if p.grad is None:
                p.grad = _wrap(g.copy())
            else:
                p.grad.array[...] = g


class DistributedDataParallel(Module):
    """Wrap ``module`` so that each ``backward()`` leaves the gradients averaged over all processes.

    >>> dist.init_process_group()
    >>> model = DistributedDataParallel(MyNet())      # rank 0's weights are copied to every rank
    >>> loss_fn(model(xb), yb).backward()               # .grad now holds the mean over the ranks
    >>> opt.step()

    ``bucket_cap_mb``: the size of the flat buffers gradients travel in
    (small models fit in one). ``broadcast_buffers``: copy rank 0's buffers
    (batch norm's running statistics) to every rank at each training forward,
    as PyTorch does; batch statistics stay per rank (use ``SyncBatchNorm``
    to compute them over all ranks). ``no_sync()`` skips the averaging, for
    gradient accumulation over several backward calls. In a world of one the
    wrapper only calls the module. ``device_ids``, ``output_device``,
    ``find_unused_parameters``, ``gradient_as_bucket_view`` and
    ``static_graph`` are accepted for PyTorch compatibility; parameters that
    get no gradient in a backward count as zeros.

    ``stats`` holds figures of the last step: ``bytes`` all-reduced,
    ``buckets``, and ``wait_s``, the time spent waiting for reductions after
    backward.
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0,
                 broadcast_buffers: bool = True, bucket_cap_mb: float = 4.0, find_unused_parameters: bool = False,
                 gradient_as_bucket_view: bool = False, static_graph: bool = False):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected a neurona.nn.Module, got {type(module).__name__}")
        if isinstance(module, DistributedDataParallel):
            raise TypeError("DistributedDataParallel: the module is already wrapped")
        if not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be > 0, got {bucket_cap_mb}")
        comm.init_process_group()
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self.bucket_cap_mb = float(bucket_cap_mb)
        self.world_size = comm.get_world_size()
        self._sync = True
        self._in_backward = False
        self.stats = {"bytes": 0, "buckets": 0, "wait_s": 0.0}
        self._params = _unique([p for p in module.parameters() if p.requires_grad])
        self._sync_module_states()
        self._buckets = self._make_buckets(self._params, int(self.bucket_cap_mb * 2 ** 20))
        self._where = {id(p): (b, b.index[id(p)]) for b in self._buckets for p in b.params}
        self._handles = []
        if self.world_size > 1:
            me = weakref.ref(self)

            def hook(p, me=me):
                ddp = me()
                if ddp is not None:
                    ddp._grad_ready(p)

            self._handles = [p.register_post_accumulate_grad_hook(hook) for p in self._params]
            weakref.finalize(self, _remove_all, list(self._handles))

    # --- setup ---
    @staticmethod
    def _make_buckets(params: list, cap_bytes: int) -> list:
        buckets, current, size, dtype = [], [], 0, None
        for p in reversed(params):  # backward reaches the last layers first
            nbytes = p.array.nbytes
            if current and (p.array.dtype != dtype or size + nbytes > cap_bytes):
                buckets.append(_Bucket(current, dtype))
                current, size = [], 0
            current.append(p)
            dtype = p.array.dtype
            size += nbytes
        if current:
            buckets.append(_Bucket(current, dtype))
        return buckets

    def _sync_module_states(self) -> None:
        """Rank 0's parameters and buffers, copied to every rank (so differently seeded ranks start equal)."""
        if self.world_size == 1:
            return
        for t in list(self.module.parameters()) + [b for b in self.module.buffers() if b is not None]:
            _broadcast_in_place(t)

    # --- the training step ---
    def forward(self, *args, **kwargs):
        if self.broadcast_buffers and self.world_size > 1 and self.training:
            for b in self.module.buffers():
                if b is not None:
                    _broadcast_in_place(b)
        return self.module(*args, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Inside this block backward does not average: gradients accumulate locally until the next
        backward outside it, which averages the accumulated sums."""
        previous, self._sync = self._sync, False
        try:
            yield
        finally:
            self._sync = previous

    def _grad_ready(self, p) -> None:
        if not self._sync:
            return
        if not self._in_backward:
            self._in_backward = True
            for b in self._buckets:
                b.reset()
            self._next = 0
            queue_callback(self._finish_backward)
        bucket, k = self._where[id(p)]
        bucket.put(k, p.grad.array if p.grad is not None else None)
        self._launch_ready()

    def _launch_ready(self) -> None:
        # in bucket order only, so that every rank issues the same sequence of collectives
        while self._next < len(self._buckets) and self._buckets[self._next].full:
            b = self._buckets[self._next]
            b.request = comm.all_reduce(b.buffer, "sum", async_op=True)
            self._next += 1

    def _finish_backward(self) -> None:
        start = time.perf_counter()
        try:
            for b in self._buckets:
                for k, p in enumerate(b.params):
                    if not b.filled[k]:  # no gradient reached this parameter in this backward
                        b.put(k, p.grad.array if p.grad is not None else None)
            self._launch_ready()
            for b in self._buckets:
                b.request.wait()
                b.give_back(1.0 / self.world_size)
        finally:
            self._in_backward = False
        self.stats = {"bytes": int(sum(b.buffer.nbytes for b in self._buckets)), "buckets": len(self._buckets),
                      "wait_s": time.perf_counter() - start}

    def extra_repr(self) -> str:
        return f"world_size={self.world_size}, buckets={len(self._buckets)}, bucket_cap_mb={self.bucket_cap_mb:g}"


def _unique(params: list) -> list:
    seen, out = set(), []
    for p in params:
        if id(p) not in seen:
            seen.add(id(p))
            out.append(p)
    return out


def _broadcast_in_place(t) -> None:
    a = t.array
    if type(a) is not np.ndarray or a.flags.c_contiguous:
        comm.broadcast(a, 0)  # a device array is staged through the host by comm
    else:
        tmp = np.ascontiguousarray(a)
        comm.broadcast(tmp, 0)
        a[...] = tmp


def _remove_all(handles) -> None:
    for h in handles:
        h.remove()
