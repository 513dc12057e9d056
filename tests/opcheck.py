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


# --- ops checked against results recorded from PyTorch -------------------------------------------


def results(out) -> list:
    """The results of a recorded case: the items of a returned tuple, or the one result."""
    return list(out) if type(out) in (tuple, list) else [out]


def _recorded_inputs(specs, arrays, dtype, grad: bool) -> list:
    xs = []
    for spec, a in zip(specs, arrays):
        if spec[0] == "f":
            xs.append(neurona.from_numpy(a.astype(dtype)).requires_grad_(grad))
        else:  # constants: float64 ones follow the dtype under test; others (ints, bools, float32) stay
            xs.append(neurona.from_numpy(a.astype(dtype) if a.dtype == np.float64 else a.copy()))
    return xs


def _float_terms(outs, cots, dtype):
    loss = None
    for k, o in enumerate(outs):
        if k in cots and isinstance(o, neurona.Tensor) and o.requires_grad:
            term = (o * neurona.from_numpy(cots[k].astype(dtype))).sum()
            loss = term if loss is None else loss + term
    return loss


def check_recorded(fn, specs, data, prefix: str, *, grad: bool = True, gradcheck: bool = True,
                   rtol32: float = 2e-4, atol32: float = 2e-5) -> None:
    """Run ``fn(neurona, *inputs)`` on the inputs PyTorch saw and check it the way ``check_op`` does.

    1. float64: every result has PyTorch's kind (Tensor of the same dtype, or Python type), shape and
       values; the gradients of Σ cot·out equal PyTorch's;
    2. float64 finite differences (``neurona.gradcheck``) agree with backward;
    3. float32 inputs give float32 results and gradients, close to PyTorch's float64 ones.
    """
    arrays = [data[f"{prefix}in{k}"] for k in range(len(specs))]
    n = int(data[f"{prefix}count"])
    kinds = [str(data[f"{prefix}kind{k}"]) for k in range(n)]
    expected = [data[f"{prefix}out{k}"] for k in range(n)]
    cots = {k: data[f"{prefix}cot{k}"] for k in range(n) if f"{prefix}cot{k}" in data}

    xs = _recorded_inputs(specs, arrays, np.float64, grad)
    outs = results(fn(neurona, *xs))
    assert len(outs) == n, f"{len(outs)} results, PyTorch gives {n}"
    for k, (o, kind, e) in enumerate(zip(outs, kinds, expected)):
        where = f"result {k}"
        if kind.startswith("tensor:"):
            assert isinstance(o, neurona.Tensor), f"{where}: expected a Tensor, got {type(o).__name__}"
            assert o.dtype == np.dtype(kind[7:]), f"{where}: dtype {o.dtype}, PyTorch gives {kind[7:]}"
            assert o.shape == e.shape, f"{where}: shape {o.shape}, PyTorch gives {e.shape}"
            if e.dtype.kind == "f":
                np.testing.assert_allclose(o.array, e, rtol=1e-9, atol=1e-11, err_msg=where)
            else:
                np.testing.assert_array_equal(o.array, e, err_msg=where)
        else:
            assert type(o).__name__ == kind[3:], f"{where}: a {type(o).__name__}, PyTorch gives a {kind[3:]}"
            np.testing.assert_allclose(np.asarray(o, dtype=np.float64), e.astype(np.float64), rtol=1e-12,
                                       err_msg=where)
    if not grad:
        return
    loss = _float_terms(outs, cots, np.float64)
    assert loss is not None, "no result depends on the inputs"
    loss.backward()
    for k, (spec, x) in enumerate(zip(specs, xs)):
        if spec[0] == "f":
            g = np.zeros(x.shape) if x.grad is None else x.grad.array
            np.testing.assert_allclose(g, data[f"{prefix}grad{k}"], rtol=1e-8, atol=1e-10,
                                       err_msg=f"gradient of input {k}")

    if gradcheck:
        def floats(*ts):
            return [o for o in results(fn(neurona, *ts)) if isinstance(o, neurona.Tensor) and o.dtype.kind == "f"]
        assert neurona.gradcheck(floats, *_recorded_inputs(specs, arrays, np.float64, True)) is True

    # float32 in, float32 out
    x32 = _recorded_inputs(specs, arrays, np.float32, True)
    outs32 = results(fn(neurona, *x32))
    for k, (o, kind, e) in enumerate(zip(outs32, kinds, expected)):
        if kind == "tensor:float64":
            assert o.dtype == np.float32, f"result {k}: float32 inputs gave {o.dtype}"
            assert type(o.array) in neurona.backend.array_types()  # an array of the device, not a NumPy scalar
            np.testing.assert_allclose(o.array, e, rtol=rtol32, atol=atol32, err_msg=f"float32 result {k}")
    arrived = []
    store = engine._accumulate_leaf

    def spy(t, gx, handed):
        arrived.append(np.asarray(gx).dtype)
        return store(t, gx, handed)

    engine._accumulate_leaf = spy
    try:
        _float_terms(outs32, cots, np.float32).backward()
    finally:
        engine._accumulate_leaf = store
    assert all(d == np.float32 for d in arrived), f"gradients reached the float32 inputs as {arrived}"
    for k, (spec, x) in enumerate(zip(specs, x32)):
        if spec[0] == "f" and x.grad is not None:
            assert x.grad.dtype == np.float32
            np.testing.assert_allclose(x.grad.array, data[f"{prefix}grad{k}"], rtol=10 * rtol32, atol=10 * atol32,
                                       err_msg=f"float32 gradient of input {k}")
