"""What the kernel tests share: run the same computation on the reference ops and on the fast kernels."""
from __future__ import annotations

import numpy as np

import neurona
from neurona import runtime

DTYPES = (np.float32, np.float64)
# float32 kernels may round differently (fused multiply-adds, another order of sums, the polynomial exp)
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-11, atol=1e-12)}


def stored(a: np.ndarray, memory) -> np.ndarray:
    """``a`` (logical shape) copied into memory laid out in axis order ``memory``."""
    s = np.ascontiguousarray(a.transpose(memory))
    return s.transpose(tuple(int(i) for i in np.argsort(memory)))


def run_both(fn, arrays, grad: bool = True, seed: int = 0, cot=None):
    """``fn`` on tensors of ``arrays`` under the reference ops and under the kernels: {path: [outputs..., grads...]}.

    Backward runs against a fixed cotangent (``cot``, or cos of the element index) of each output.
    """
    out = {}
    for path in ("reference", "numba"):
        with runtime.use_kernels(path):
            neurona.manual_seed(seed)
            ts = [neurona.from_numpy(a.copy() if a.flags.c_contiguous else a).requires_grad_(grad
                                                                                            and a.dtype.kind == "f")
                  for a in arrays]
            ys = fn(*ts)
            ys = list(ys) if isinstance(ys, (tuple, list)) else [ys]
            res = [y.array.copy() for y in ys]
            if grad:
                loss = None
                for y in ys:
                    c = cot if cot is not None else np.cos(np.arange(y.array.size)).reshape(y.shape)
                    term = (y * neurona.from_numpy(np.asarray(c, dtype=y.dtype))).sum()
                    loss = term if loss is None else loss + term
                loss.backward()
                res += [t.grad.array.copy() for t in ts if t.requires_grad]
            out[path] = res
    return out


def assert_agree(out: dict, dtype) -> None:
    ref, fast = out["reference"], out["numba"]
    assert len(ref) == len(fast)
    for i, (a, b) in enumerate(zip(ref, fast)):
        assert a.shape == b.shape, f"item {i}: shape {b.shape}, reference {a.shape}"
        assert b.dtype == a.dtype, f"item {i}: dtype {b.dtype}, reference {a.dtype}"
        np.testing.assert_allclose(b, a, err_msg=f"item {i}", **TOL[np.dtype(dtype).type])
