"""``neurona.autograd``: PyTorch's ``torch.autograd`` on neurona's engine.

- :class:`Function` — differentiable functions written on Tensors (``forward(ctx, ...)``, ``backward(ctx, ...)``,
  ``.apply``);
- :func:`grad` — gradients of outputs with respect to inputs, returned rather than stored in ``.grad``;
- :func:`backward` — backward from several tensors at once;
- ``no_grad``, ``enable_grad``, ``set_grad_enabled``, ``inference_mode``, ``set_detect_anomaly``,
  ``detect_anomaly``, :func:`gradcheck`, and :mod:`neurona.autograd.functional` (``jacobian``, ``vjp``, ``jvp``).

neurona's backward computes gradients on arrays, not as a new graph of tensors, so ``create_graph=True``
(higher-order gradients: Hessians, gradient penalties) is refused with an error that says so.
"""
from __future__ import annotations

from .. import engine, inplace
from ..engine import (Tensor, _check_create_graph, _seed_gradient, _Sink, _tensors, enable_grad, inference_mode,
                      is_grad_enabled, no_grad, set_grad_enabled)
from . import functional
from .function import Function, FunctionCtx, once_differentiable

__all__ = ["Function", "FunctionCtx", "once_differentiable", "grad", "backward", "Variable", "no_grad", "enable_grad",
           "set_grad_enabled", "inference_mode", "is_grad_enabled", "set_detect_anomaly", "detect_anomaly",
           "is_anomaly_enabled", "gradcheck", "gradgradcheck", "functional"]


def _list(x) -> list:
    return [x] if isinstance(x, Tensor) or x is None else list(x)


def _seeds(outputs: list, grad_outputs, where: str) -> list:
    gos = [None] * len(outputs) if grad_outputs is None else _list(grad_outputs)
    if len(gos) != len(outputs):
        raise RuntimeError(f"{where}: {len(outputs)} output(s) but {len(gos)} gradient(s) for them")
    seeds = []
    for i, (o, g) in enumerate(zip(outputs, gos)):
        if not isinstance(o, Tensor):
            raise TypeError(f"{where}: output {i} is a {type(o).__name__}, not a tensor")
        if not o.requires_grad:
            raise RuntimeError(f"{where}: element {i} of the outputs does not require grad and has no graph")
        seeds.append(_seed_gradient(o, g, where))
    return seeds


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None, create_graph: bool = False,
         only_inputs: bool = True, allow_unused: bool | None = None, is_grads_batched: bool = False,
         materialize_grads: bool = False) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs``, as a tuple (the ``.grad`` of leaves is untouched).

    >>> import neurona
    >>> x = neurona.tensor([1.0, 2.0], requires_grad=True)
    >>> grad((x * x).sum(), x)
    (tensor([2., 4.]),)

    ``grad_outputs``: ∂L/∂output for each output (needed for outputs of more
    than one element). An input that the outputs do not depend on raises,
    unless ``allow_unused=True`` (its gradient is then None) or
    ``materialize_grads=True`` (zeros).
    """
    _check_create_graph(create_graph, "autograd.grad")
    if is_grads_batched:
        raise NotImplementedError("autograd.grad: is_grads_batched=True is not supported; loop over the batch")
    outs = _list(outputs)
    ins = _tensors(inputs, "autograd.grad")
    seeds = _seeds(outs, grad_outputs, "autograd.grad")
    got: dict[int, object] = {}

    def receive(t, g, handed):
        prev = got.get(id(t))
        got[id(t)] = g if prev is None else prev + g

    sink = _Sink(ins, receive)
    try:
        engine.run_backward(outs, seeds, bool(retain_graph), sink)
    finally:
        sink.close()
    result = []
    for i, t in enumerate(ins):
        g = got.get(id(t))
        if g is None:
            if not (allow_unused or materialize_grads):
                raise RuntimeError(f"autograd.grad: the differentiated tensor at index {i} appears to not have been "
                                   f"used in the graph; set allow_unused=True if this is the desired behavior")
            from ..creation import zeros_like
            result.append(zeros_like(t) if materialize_grads else None)
            continue
        xp = inplace.backend.get_array_module(t.array)
        a = xp.array(g, dtype=t.array.dtype)  # a copy: the gradient may also be an array the graph holds
        if a.shape != t.array.shape:
            a = xp.broadcast_to(a, t.array.shape).copy()
        result.append(engine._wrap(a))
    return tuple(result)


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None, create_graph: bool = False,
             grad_variables=None, inputs=None) -> None:
    """Accumulate into the leaves' ``.grad`` the gradient of Σ ⟨tensors[i], grad_tensors[i]⟩ (several roots at once).

    >>> import neurona
    >>> x = neurona.tensor([1.0, 2.0], requires_grad=True)
    >>> backward([(x * x).sum(), (3 * x).sum()])
    >>> x.grad
    tensor([5., 7.])
    """
    _check_create_graph(create_graph, "autograd.backward")
    if grad_variables is not None:
        grad_tensors = grad_variables
    outs = _list(tensors)
    seeds = _seeds(outs, grad_tensors, "autograd.backward")
    if inputs is None:
        engine.run_backward(outs, seeds, bool(retain_graph))
        return
    sink = _Sink(_tensors(inputs, "autograd.backward: inputs"), engine._accumulate_leaf)
    try:
        engine.run_backward(outs, seeds, bool(retain_graph), sink)
    finally:
        sink.close()


def Variable(data, requires_grad: bool = False, volatile: bool = False) -> Tensor:  # noqa: N802  (PyTorch's name)
    """Old PyTorch's ``Variable(tensor, requires_grad=...)``: tensors do this themselves now; returns a tensor."""
    t = data if isinstance(data, Tensor) else Tensor(data)
    if requires_grad:
        t.requires_grad_(True)
    return t


def is_anomaly_enabled() -> bool:
    return inplace.anomaly


class set_detect_anomaly:
    """Turn anomaly detection on or off (as a call, or as a context manager for a block).

    In anomaly mode every backward node runs with the checks that otherwise
    only nodes older than an in-place change get, and a node whose gradient
    holds a NaN or an infinity raises an error naming it.
    """

    def __init__(self, mode: bool, check_nan: bool = True):
        self.prev = inplace.anomaly
        inplace.anomaly = bool(mode) and bool(check_nan)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        inplace.anomaly = self.prev
        return False


class detect_anomaly(set_detect_anomaly):
    """Context manager (or decorator) running a block in anomaly detection mode."""

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan
        self.prev = None

    def __enter__(self):
        self.prev = inplace.anomaly
        inplace.anomaly = bool(self.check_nan)
        return self

    def __call__(self, fn):
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return fn(*args, **kwargs)
        wrapper.__name__, wrapper.__doc__, wrapper.__wrapped__ = fn.__name__, fn.__doc__, fn
        return wrapper


def gradcheck(func, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, **ignored) -> bool:
    """PyTorch's ``gradcheck(func, inputs)``: :func:`neurona.gradcheck` with the inputs as one tuple (float64 central
    differences against backward)."""
    from ..gradcheck import GradcheckError
    from ..gradcheck import gradcheck as _gradcheck

    ins = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    try:
        return _gradcheck(func, *ins, eps=eps, atol=atol, rtol=rtol)
    except GradcheckError:
        if raise_exception:
            raise
        return False


def gradgradcheck(*args, **kwargs):
    raise NotImplementedError("gradgradcheck: second derivatives are not supported (neurona's backward computes on "
                              "arrays, so gradients cannot be differentiated again)")
