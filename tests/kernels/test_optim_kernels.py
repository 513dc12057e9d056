"""The fused optimizer updates against each optimizer's reference update_one."""
import numpy as np
import pytest

import neurona
from neurona import optim, runtime
from neurona.nn import Parameter

pytest.importorskip("numba")

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, maximize=True, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.01)),
    ("Adamax", dict(lr=0.01, weight_decay=0.05)),
    ("NAdam", dict(lr=0.01, weight_decay=0.05)),
    ("NAdam", dict(lr=0.01, weight_decay=0.05, decoupled_weight_decay=True, maximize=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.01)),
    ("Adadelta", dict(lr=1.0, weight_decay=0.01)),
]


def _trajectory(name, kw, dtype, path, steps=6):
    rng = np.random.default_rng(0)
    params = [Parameter(neurona.from_numpy(rng.standard_normal(s).astype(dtype))) for s in ((5, 4), (4,), (3, 2, 2))]
    opt = getattr(optim, name)(params, **kw)
    with runtime.use_kernels(path):
        for _ in range(steps):
            for p in params:
                p.grad = neurona.from_numpy(rng.standard_normal(p.shape).astype(dtype))
            opt.step()
    return [p.array.copy() for p in params], opt.state_dict()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, kw", CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_fused_update_follows_the_reference(name, kw, dtype):
    ref, ref_state = _trajectory(name, kw, dtype, "reference")
    fast, fast_state = _trajectory(name, kw, dtype, "numba")
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    for a, b in zip(ref, fast):
        assert b.dtype == dtype
        np.testing.assert_allclose(b, a, **tol)
    for k, s in ref_state["state"].items():  # the same state entries, the same values
        assert set(s) == set(fast_state["state"][k])
        for key, v in s.items():
            np.testing.assert_allclose(fast_state["state"][k][key], v, **tol)


def test_a_subclass_with_its_own_update_runs_it():
    calls = []

    class MySGD(optim.SGD):
        def update_one(self, p, grad, state, group):
            calls.append(p)
            super().update_one(p, grad, state, group)

    p = Parameter(neurona.ones(3))
    opt = MySGD([p], lr=0.1)
    p.grad = neurona.ones(3)
    opt.step()
    assert calls == [p] and opt._fast_update() is None
    assert optim.AdamW([Parameter(neurona.ones(1))])._fast_update() is not None  # AdamW is Adam's kernel


def test_non_contiguous_parameters_and_gradients():
    """A parameter stored transposed runs the reference; a strided gradient is copied for the kernel."""
    rng = np.random.default_rng(1)
    w = rng.standard_normal((4, 6)).astype(np.float32)
    results = []
    for path in ("reference", "numba"):
        pt = Parameter(neurona.from_numpy(np.asfortranarray(w)))  # F-ordered: the reference update
        pc = Parameter(neurona.from_numpy(w.copy()))
        opt = optim.Adam([pt, pc], lr=0.1)
        with runtime.use_kernels(path):
            for _ in range(3):
                g = rng.standard_normal((6, 4)).astype(np.float32)
                pt.grad = neurona.from_numpy(g.T)
                pc.grad = neurona.from_numpy(g.T)  # a transposed view: not C-contiguous
                opt.step()
        results.append((pt.array.copy(), pc.array.copy()))
        rng = np.random.default_rng(1)
        rng.standard_normal((4, 6))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-5, atol=1e-6)
