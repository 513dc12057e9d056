"""Numerical gradient checking: central finite differences against backward.

For inputs x and a function f, draw a fixed random cotangent r of f's output
shape and compare, for every element x_k,

    analytic:   ∂(Σ r ⊙ f(x))/∂x_k   from backward
    numerical:  (Σ r ⊙ f(x + ε e_k) − Σ r ⊙ f(x − ε e_k)) / 2ε

in float64. Agreement within ``atol + rtol·|numerical|`` for every element
of every input is a strong check that backward is the derivative of forward.
"""
from __future__ import annotations

import numpy as np

from . import backend
from .engine import Tensor, _wrap, no_grad


class GradcheckError(AssertionError):
    """Raised when backward disagrees with finite differences."""


def _outputs(out) -> list:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def gradcheck(fn, *inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0) -> bool:
    """Check ``fn``'s backward against central finite differences in float64.

    ``inputs`` are Tensors (or arrays); those with ``requires_grad=True`` are
    checked, or all floating ones if none requires grad. They are copied to
    float64 first. Returns True, or raises :class:`GradcheckError` naming the
    input, the worst element and both values.

    >>> import neurona
    >>> x = neurona.randn(3, 4, dtype=neurona.float64, requires_grad=True)
    >>> neurona.gradcheck(lambda t: (t * t).sum(axis=1), x)
    True
    """
    xs = []
    for t in inputs:
        if isinstance(t, Tensor):
            data, rg = t.array, t.requires_grad
        else:
            data, rg = np.asarray(t), None
        xp = backend.get_array_module(data)
        if data.dtype.kind == "f":
            c = _wrap(xp.array(data, dtype=np.float64))
            c.requires_grad = bool(rg) if rg is not None else True
        else:
            c = _wrap(xp.array(data))
        xs.append(c)
    wrt = [i for i, t in enumerate(xs) if t.requires_grad]
    if not wrt:
        wrt = [i for i, t in enumerate(xs) if t.array.dtype.kind == "f"]
        for i in wrt:
            xs[i].requires_grad = True
    if not wrt:
        raise ValueError("gradcheck: no floating-point input to check")

    outs = _outputs(fn(*xs))
    rng = np.random.default_rng(seed)
    # the cotangents are drawn on the host (the same on every device) and copied to each output's device
    cots = [backend.to_device(rng.standard_normal(o.shape), o.device) if isinstance(o, Tensor)
            else rng.standard_normal(np.shape(o)) for o in outs]
    total = None
    for o, r in zip(outs, cots):
        if not isinstance(o, Tensor) or not o.requires_grad:
            continue
        term = (o * _wrap(r.astype(o.dtype))).sum()
        total = term if total is None else total + term
    if total is None:
        raise GradcheckError("gradcheck: the function's output does not depend on any input that requires grad")
    total.backward()

    def objective() -> float:
        with no_grad():
            vals = _outputs(fn(*xs))
        return sum(float((v.array.astype(np.float64) * r).sum()) for v, r in zip(vals, cots))

    for i in wrt:
        x = xs[i]
        analytic = np.zeros(x.shape) if x.grad is None else backend.to_numpy(x.grad.array).astype(np.float64)
        numerical = np.zeros(x.shape)
        flat = x.array.reshape(-1)  # a view: perturb in place
        if not backend.get_array_module(flat).shares_memory(flat, x.array):
            raise RuntimeError("gradcheck: internal error, input is not contiguous")
        for k in range(flat.size):
            old = flat[k]
            flat[k] = old + eps
            fp = objective()
            flat[k] = old - eps
            fm = objective()
            flat[k] = old
            numerical.reshape(-1)[k] = (fp - fm) / (2 * eps)
        err = np.abs(analytic - numerical)
        tol = atol + rtol * np.abs(numerical)
        bad = err > tol
        if bad.any() or not np.all(np.isfinite(analytic)):
            k = int(np.argmax(np.where(np.isfinite(err), err - tol, np.inf)))
            idx = np.unravel_index(k, x.shape) if x.ndim else ()
            raise GradcheckError(
                f"gradcheck: input {i} (shape {x.shape}): gradients disagree at element {tuple(int(j) for j in idx)}: "
                f"analytic {analytic.reshape(-1)[k]:.8g} vs numerical {numerical.reshape(-1)[k]:.8g} "
                f"(|difference| {err.reshape(-1)[k]:.3g} > atol + rtol*|numerical| = {tol.reshape(-1)[k]:.3g}); "
                f"{int(bad.sum())} of {bad.size} elements disagree"
            )
    return True
