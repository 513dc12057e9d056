"""neurona.rewrites: fused layer pairs in nn.Sequential compute what the layers compute, unobservably."""
import numpy as np
import pytest

import neurona
from neurona import nn, rewrites, runtime

pytest.importorskip("numba")

pytestmark = pytest.mark.usefixtures("fast_kernels")  # they check the fast path


def _net():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 8), nn.Sigmoid(), nn.Linear(8, 6), nn.LeakyReLU(0.1),
        nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))


def _step(model, x, path):
    with runtime.use_kernels(path):
        model.zero_grad()
        y = model(neurona.from_numpy(x))
        (y * neurona.from_numpy(np.cos(np.arange(y.array.size)).reshape(y.shape).astype(x.dtype))).sum().backward()
    return [y.array.copy()] + [p.grad.array.copy() for p in model.parameters()] + \
        [b.array.copy() for b in model.buffers()]


def test_the_plan_fuses_the_named_pairs():
    names = [type(s).__name__ for s in rewrites.plan(_net())]
    assert names == ["Conv2d", "_BatchNormReLU", "MaxPool2d", "Conv2d", "_ReLUMaxPool", "Flatten",
                     "_LinearActivation", "_LinearActivation", "_LinearActivation", "_LinearActivation", "Linear"]
    assert set(rewrites.REWRITES) == {"linear+activation", "batch_norm+relu", "relu+max_pool"}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_and_unfused_give_the_same_values_gradients_and_statistics(dtype):
    neurona.manual_seed(0)
    model = _net().to(dtype)
    x = np.random.default_rng(0).standard_normal((5, 1, 10, 10)).astype(dtype)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    ref = _step(model, x, "reference")
    model.load_state_dict(state)
    fast = _step(model, x, "numba")
    tol = dict(rtol=1e-11, atol=1e-13) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-6)
    for a, b in zip(ref, fast):
        np.testing.assert_allclose(b, a, **tol)
    model.eval()  # evaluation: batch norm runs on its running statistics, unfused
    with neurona.no_grad():
        with runtime.use_kernels("reference"):
            a = model(neurona.from_numpy(x)).array
        b = model(neurona.from_numpy(x)).array
    np.testing.assert_allclose(b, a, **tol)


def test_a_hook_sees_the_layers_as_written():
    model = _net()
    seen = []
    model[5].register_forward_hook(lambda m, i, o: seen.append(type(m).__name__))
    names = [type(s).__name__ for s in rewrites.plan(model)]
    assert names[3:6] == ["Conv2d", "ReLU", "MaxPool2d"]  # the hooked ReLU runs alone, and so does its pool
    model(neurona.randn(2, 1, 10, 10))
    assert seen == ["ReLU"]


def test_rewrites_follow_the_settings_and_exact_classes():
    model = _net()
    with runtime.use_kernels("reference"):
        assert list(rewrites.plan(model)) == list(model)
    runtime.set_rewrites(False)
    try:
        assert list(rewrites.plan(model)) == list(model)
    finally:
        runtime.set_rewrites(True)

    class MyLinear(nn.Linear):  # a subclass may compute something else: never fused
        pass

    seq = nn.Sequential(MyLinear(3, 2), nn.ReLU(), nn.Linear(2, 2, bias=False), nn.ReLU())
    assert list(rewrites.plan(seq)) == list(seq)


def test_the_plan_follows_changes_to_the_sequence():
    seq = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    assert type(rewrites.plan(seq)[0]).__name__ == "_LinearActivation"
    seq[1] = nn.Identity()
    assert [type(s).__name__ for s in rewrites.plan(seq)] == ["Linear", "Identity"]
    x = neurona.randn(4, 3)
    np.testing.assert_array_equal(seq(x).array, seq[0](x).array)  # no ReLU any more


def test_fused_steps_fall_back_on_inputs_they_do_not_take():
    seq = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    with pytest.raises(ValueError, match="linear: expected input with 3 features"):
        seq(neurona.randn(4, 5))  # the unfused layers raise their own error
    y = seq(neurona.randn(4, 3, dtype=neurona.float64).float())
    assert y.dtype == np.float32
