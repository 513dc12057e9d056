"""The three checks every differentiable op gets, in one call.

``check_op(fn, ref, shapes)`` draws inputs of the given shapes and checks

1. forward: ``fn`` on float64 tensors equals ``ref`` (plain NumPy) on the same arrays;
2. backward: :func:`neurona.gradcheck` (float64 central differences) passes;
3. float32: on float32 inputs, every output and every input gradient is float32
   (a ``numpy.ndarray``, never a NumPy scalar), the values match the float64
   reference, and the gradients match the float64 gradients.

``fn`` receives Tensors and returns a Tensor or a list/tuple of them; ``ref``
receives ndarrays and returns an array or a list of them. ``domains`` says
where each input is drawn from, so that the op is smooth there (see ``sample``).
"""
from __future__ import annotations

import importlib
import numpy as np

import neurona

engine = importlib.import_module("neurona.engine")  # the module (neurona.tensor is also a function)


def sample(shape, rng: np.random.Generator, domain: str = "any") -> np.ndarray:
    """Random float64 values of ``shape`` from a domain where an op is differentiable.

    any: standard normal · pos: [0.5, 2] · unit: [-0.9, 0.9] · away0: |x| in [0.3, 2] with random sign ·
    distinct: all values at least 0.4 apart (no ties for max/min/sort-like ops).
    """
    shape = tuple(shape)
    if domain == "any":
        return rng.standard_normal(shape)
    if domain == "pos":
        return rng.uniform(0.5, 2.0, shape)
    if domain == "unit":
        return rng.uniform(-0.9, 0.9, shape)
    if domain == "away0":
        return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.3, 2.0, shape)
    if domain == "distinct":
        n = int(np.prod(shape, dtype=np.int64))
        return (rng.permutation(n) * 0.5 - 0.25 * n + rng.uniform(-0.05, 0.05, n)).reshape(shape)
    raise ValueError(f"sample: unknown domain {domain!r}")


def _as_list(out) -> list:
    return list(out) if isinstance(out, (list, tuple)) else [out]


def _run(fn, arrays, dtype, cots=None):
    """Forward (and backward against ``cots`` if given) on fresh tensors of ``dtype``.

    Returns the inputs, the outputs and the dtypes of the gradients as they reached the
    inputs, before the engine stores them (it casts to the input's dtype there, which
    would hide a float64 gradient computed inside an op's backward).
    """
    xs = [neurona.from_numpy(a.astype(dtype)).requires_grad_(cots is not None) for a in arrays]
    outs = _as_list(fn(*xs))
    arrived = []
    if cots is not None:
        loss = None
        for o, c in zip(outs, cots):
            term = (o * neurona.from_numpy(c.astype(dtype))).sum()
            loss = term if loss is None else loss + term
        store = engine._accumulate_leaf

        def spy(t, gx, handed):
            arrived.append(np.asarray(gx).dtype)
            return store(t, gx, handed)

        engine._accumulate_leaf = spy
        try:
            loss.backward()
        finally:
            engine._accumulate_leaf = store
    return xs, outs, arrived


def check_op(fn, ref, shapes, domains="any", *, grad: bool = True, seed: int = 0,
             rtol32: float = 2e-4, atol32: float = 2e-5, gradcheck_kwargs: dict | None = None) -> None:
    """Forward vs NumPy, float64 gradcheck and float32 preservation of ``fn`` on inputs of ``shapes``."""
    rng = np.random.default_rng(seed)
    if isinstance(domains, str):
        domains = [domains] * len(shapes)
    arrays = [sample(s, rng, d) for s, d in zip(shapes, domains)]
    expected = [np.asarray(e) for e in _as_list(ref(*[a.copy() for a in arrays]))]

    # 1. forward in float64 against NumPy
    _, outs, _ = _run(fn, arrays, np.float64)
    assert len(outs) == len(expected), f"{len(outs)} outputs, NumPy gives {len(expected)}"
    for o, e in zip(outs, expected):
        assert isinstance(o, neurona.Tensor), f"expected a Tensor, got {type(o).__name__}"
        assert o.shape == e.shape, f"shape {o.shape}, NumPy gives {e.shape}"
        assert o.dtype == np.float64, f"float64 inputs gave {o.dtype}"
        np.testing.assert_allclose(o.array, e, rtol=1e-10, atol=1e-12)

    if not grad:
        return
    # 2. float64 finite differences
    inputs = [neurona.from_numpy(a.copy()).requires_grad_() for a in arrays]
    assert neurona.gradcheck(fn, *inputs, **(gradcheck_kwargs or {})) is True

    # 3. float32 in, float32 out: values and gradients
    cots = [rng.standard_normal(e.shape) for e in expected]
    x64, _, _ = _run(fn, arrays, np.float64, cots)
    x32, outs32, arrived = _run(fn, arrays, np.float32, cots)
    assert all(d == np.float32 for d in arrived), f"gradients reached the float32 inputs as {arrived}"
    for o, e in zip(outs32, expected):
        assert o.dtype == np.float32, f"float32 inputs gave a {o.dtype} output"
        assert type(o.array) in neurona.backend.array_types(), f".array is a {type(o.array).__name__}, not an array"
        np.testing.assert_allclose(o.array, e, rtol=rtol32, atol=atol32)
    for i, (a, b) in enumerate(zip(x32, x64)):
        assert a.grad is not None, f"input {i} got no gradient"
        assert a.grad.dtype == np.float32, f"input {i}: float32 input got a {a.grad.dtype} gradient"
        assert type(a.grad.array) in neurona.backend.array_types() and a.grad.shape == a.shape
        np.testing.assert_allclose(a.grad.array, b.grad.array, rtol=10 * rtol32, atol=10 * atol32)
