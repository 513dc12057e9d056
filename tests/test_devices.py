"""Devices (neurona/backend.py, Tensor.to, Module.to, neurona.cuda, neurona.accelerator): CPU today, GPU-shaped."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

import neurona as nr
from neurona import backend, nn

NO_GPU = not nr.cuda.is_available()


def test_device_objects():
    cpu = nr.device("cpu")
    assert cpu.type == "cpu" and cpu.index is None and repr(cpu) == "device(type='cpu')" and str(cpu) == "cpu"
    assert cpu == "cpu" and cpu == nr.device("cpu") and cpu != "cuda" and cpu != 3 and hash(cpu) == hash("cpu")
    g = nr.device("cuda:1")
    assert (g.type, g.index) == ("cuda", 1) and repr(g) == "device(type='cuda', index=1)" and str(g) == "cuda:1"
    assert nr.device("cuda", 0) == "cuda:0" and nr.device(2) == nr.device("cuda:2") and nr.device(cpu) == cpu
    assert nr.device("mps").type == "mps"  # naming a device is fine; using one that is missing is not
    assert pickle.loads(pickle.dumps(g)) == g
    assert {cpu: 1}["cpu"] == 1
    with pytest.raises(RuntimeError, match="expected one of cpu, cuda, .* got 'gpu'"):
        nr.device("gpu")
    with pytest.raises(RuntimeError, match="index after ':' must be a non-negative integer"):
        nr.device("cuda:x")
    with pytest.raises(TypeError, match="already names an index"):
        nr.device("cuda:0", 1)


def test_tensor_device_and_moves_on_the_cpu():
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    assert x.device == nr.device("cpu") and x.device == "cpu" and not x.is_cuda and x.get_device() == -1
    assert x.to("cpu") is x and x.cpu() is x and x.to(nr.device("cpu")) is x and x.to(device="cpu") is x
    c = x.to("cpu", copy=True)
    assert c is not x and not np.shares_memory(c.array, x.array) and c.requires_grad
    y = x.to("cpu", nr.float64)
    assert y.dtype == np.float64 and y.requires_grad
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.array, [2, 4])


@pytest.mark.parametrize("args, kwargs, dtype", [
    ((nr.float64,), {}, np.float64), ((), {"dtype": nr.half}, np.float16), (("cpu", nr.long), {}, np.int64),
    ((), {"device": "cpu", "dtype": nr.double}, np.float64), ((nr.zeros(1, dtype=nr.int32),), {}, np.int32),
    ((nr.float32, False, True), {}, np.float32), ((nr.float64,), {"non_blocking": True}, np.float64),
])
def test_tensor_to_forms(args, kwargs, dtype):
    x = nr.tensor([1.5, -2.0])
    y = x.to(*args, **kwargs)
    assert y.dtype == dtype and y.device == "cpu"


def test_tensor_to_errors():
    x = nr.ones(2)
    with pytest.raises(TypeError, match="the device is given twice"):
        x.to("cpu", "cpu")
    with pytest.raises(TypeError, match="unexpected keyword"):
        x.to(devise="cpu")
    with pytest.raises(TypeError, match="dtype bfloat16 is not supported"):
        x.to(nr.bfloat16)


@pytest.mark.skipif(not NO_GPU, reason="a GPU is available here")
@pytest.mark.parametrize("make", [lambda: nr.ones(2).to("cuda"), lambda: nr.ones(2).cuda(),
                                  lambda: nr.zeros(2, device="cuda"), lambda: nr.randn(2, device="cuda:0"),
                                  lambda: nn.Linear(2, 2).to("cuda"), lambda: nn.Linear(2, 2).cuda(),
                                  lambda: nr.set_default_device("cuda"), lambda: nr.tensor([1], device="cuda")])
def test_missing_cuda_says_what_is_missing(make):
    with pytest.raises(RuntimeError, match="device 'cuda(:0)?' is not available: (CuPy is not installed.*"
                                           "neurona\\[cuda\\]|CuPy is installed but finds no CUDA GPU)"):
        make()
    assert nr.get_default_device() == "cpu"


def test_other_missing_devices():
    with pytest.raises(RuntimeError, match="device 'mps' is not available: .*no mps backend"):
        nr.ones(2).to("mps")
    with pytest.raises(RuntimeError, match="device 'cpu:1' does not exist"):
        nr.zeros(2, device="cpu:1")
    with pytest.raises(ValueError, match="expected a CUDA device"):
        nr.ones(1).cuda("cpu")


def test_cuda_and_accelerator_queries():
    assert isinstance(nr.cuda.is_available(), bool) and isinstance(nr.cuda.device_count(), int)
    assert nr.accelerator.is_available() == nr.cuda.is_available()
    if NO_GPU:
        assert nr.cuda.device_count() == 0 and nr.accelerator.current_accelerator() is None
        with pytest.raises(RuntimeError, match="not available"):
            nr.cuda.current_device()
    else:  # pragma: no cover - on a GPU machine
        assert nr.accelerator.current_accelerator() == "cuda"


FACTORIES = [
    lambda d: nr.tensor([1.0], device=d), lambda d: nr.as_tensor([1.0], device=d), lambda d: nr.zeros(2, device=d),
    lambda d: nr.ones(2, device=d), lambda d: nr.empty(2, device=d), lambda d: nr.full((2,), 3.0, device=d),
    lambda d: nr.eye(2, device=d), lambda d: nr.arange(3, device=d), lambda d: nr.linspace(0, 1, 3, device=d),
    lambda d: nr.rand(2, device=d), lambda d: nr.randn(2, device=d), lambda d: nr.randint(5, size=(2,), device=d),
    lambda d: nr.randperm(3, device=d), lambda d: nr.zeros_like(nr.ones(2), device=d),
    lambda d: nr.ones_like(nr.ones(2), device=d), lambda d: nr.empty_like(nr.ones(2), device=d),
    lambda d: nr.full_like(nr.ones(2), 1.0, device=d), lambda d: nr.rand_like(nr.ones(2), device=d),
    lambda d: nr.randn_like(nr.ones(2), device=d), lambda d: nr.randint_like(nr.ones(2), 3, device=d),
]


@pytest.mark.parametrize("i", range(len(FACTORIES)))
def test_creation_functions_take_device(i):
    for d in (None, "cpu", nr.device("cpu")):
        t = FACTORIES[i](d)
        assert t.device == "cpu" and type(t.array) is np.ndarray
    with pytest.raises(RuntimeError, match="'mps' is not available"):
        FACTORIES[i]("mps")


def test_default_device():
    assert nr.get_default_device() == "cpu"
    nr.set_default_device("cpu")
    assert nr.zeros(1).device == "cpu"
    nr.set_default_device(None)
    assert nr.get_default_device() == nr.device("cpu")


def test_module_to_casts_and_keeps_parameter_identity():
    m = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    params = list(m.parameters())
    m(nr.randn(4, 2)).sum().backward()
    assert m.to(nr.float64) is m
    assert [id(p) for p in m.parameters()] == [id(p) for p in params]
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in m.parameters())
    assert m[1].running_mean.dtype == np.float64 and m[1].num_batches_tracked.dtype == np.int64
    opt = nr.optim.SGD(m.parameters(), lr=0.1)
    m.float().to("cpu").cpu()
    assert all(p.dtype == np.float32 for p in m.parameters())
    opt.step()  # the optimizer still holds the same parameters
    m.to(nr.zeros(1, dtype=nr.float64))
    assert m[0].weight.dtype == np.float64
    m.to(device="cpu", dtype=nr.half)
    assert m[0].weight.dtype == np.float16
    assert m.double()[0].bias.dtype == np.float64
    with pytest.raises(TypeError, match="only be cast to a floating dtype, got int64"):
        m.to(nr.long)


def test_backend_maps_devices_to_array_modules():
    assert backend.array_module_for("cpu") is np and backend.array_module_for(None) is np
    assert backend.device_of(np.zeros(1)) == "cpu"
    a = np.ones(2)
    assert backend.to_device(a, "cpu") is a and backend.to_numpy(a) is a
