"""``neurona.autograd.functional``: Jacobians and vector–Jacobian products of functions of tensors.

Each is computed with reverse mode, one backward per output element for
``jacobian`` and ``jvp``; second-order ones (``hessian``, ``hvp``, ``vhp``)
need gradients of gradients, which neurona's backward cannot give.
"""
from __future__ import annotations

from ..engine import Tensor, _wrap, no_grad
from ..backend import get_array_module

__all__ = ["vjp", "jacobian", "jvp", "hessian", "hvp", "vhp"]


def _prepare(inputs) -> tuple[bool, tuple]:
    single = isinstance(inputs, Tensor)
    ins = (inputs,) if single else tuple(inputs)
    return single, tuple(_wrap(x.array).requires_grad_(x.array.dtype.kind == "f") for x in ins)


def vjp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), vᵀ·J)``: the outputs and the vector–Jacobian product (the gradient of ⟨func(x), v⟩)."""
    from . import grad
    single, xs = _prepare(inputs)
    out = func(*xs)
    outs = (out,) if isinstance(out, Tensor) else tuple(out)
    gs = grad(outs, xs, grad_outputs=v, create_graph=create_graph, allow_unused=True, materialize_grads=True)
    detached = tuple(_wrap(o.array) for o in outs)
    return (detached[0] if isinstance(out, Tensor) else detached), (gs[0] if single else gs)


def jacobian(func, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
             strategy: str = "reverse-mode"):
    """∂func(x)/∂x: for one input and one output, a tensor of shape ``output.shape + input.shape``.

    With several inputs (a tuple) the result is a tuple per input; with
    several outputs, a tuple per output (of tuples per input).

    >>> import neurona
    >>> jacobian(lambda x: x * x, neurona.tensor([1.0, 2.0]))
    tensor([[2., 0.],
            [0., 4.]])
    """
    from . import grad
    single_in, xs = _prepare(inputs)
    out = func(*xs)
    single_out = isinstance(out, Tensor)
    outs = (out,) if single_out else tuple(out)
    table = []
    for o in outs:
        xp = get_array_module(o.array)
        blocks = [xp.zeros(o.shape + x.shape, x.dtype) for x in xs]
        if o.requires_grad:
            flat = o.reshape(-1)
            for k in range(flat.shape[0]):
                gs = grad(flat[k], xs, retain_graph=True, allow_unused=True)
                for b, g in zip(blocks, gs):
                    if g is not None:
                        b.reshape((-1,) + b.shape[o.ndim:])[k] = g.array
        row = tuple(_wrap(b) for b in blocks)
        table.append(row[0] if single_in else row)
    return table[0] if single_out else tuple(table)


def jvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), J·v)``: the outputs and the Jacobian–vector product (from the full Jacobian)."""
    single_in, xs = _prepare(inputs)
    vs = (v,) if isinstance(v, Tensor) or v is None else tuple(v)
    if v is None:
        if any(x.numel() != 1 for x in xs):
            raise RuntimeError("jvp: v may be omitted only when every input has one element")
        vs = tuple(_wrap(get_array_module(x.array).ones_like(x.array)) for x in xs)
    jac = jacobian(func, xs if not single_in else xs[0])
    with no_grad():
        out = func(*xs)
    single_out = isinstance(out, Tensor)
    outs = (out,) if single_out else tuple(out)
    rows = (jac,) if single_out else jac
    results = []
    for o, row in zip(outs, rows):
        row = (row,) if single_in else row
        total = None
        for j, x, vv in zip(row, xs, vs):
            a = j.array.reshape(o.numel(), x.numel()) @ vv.array.reshape(-1).astype(j.array.dtype)
            total = a if total is None else total + a
        results.append(_wrap(total.reshape(o.shape)))
    detached = tuple(_wrap(o.array) for o in outs)
    return (detached[0], results[0]) if single_out else (detached, tuple(results))


def _second_order(name: str):
    def refuse(*args, **kwargs):
        raise NotImplementedError(f"{name}: second derivatives are not supported (neurona's backward computes on "
                                  f"arrays, so gradients cannot be differentiated again)")
    refuse.__name__ = name
    return refuse


hessian = _second_order("hessian")
hvp = _second_order("hvp")
vhp = _second_order("vhp")
