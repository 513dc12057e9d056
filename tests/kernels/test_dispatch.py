"""neurona.kernels.lookup: the one place that picks a fast kernel or the reference."""
import importlib

import numpy as np
import pytest

import neurona
from neurona import kernels, runtime

pytest.importorskip("numba")


def test_every_registered_kernel_exists_and_extends_its_reference():
    from neurona.engine import Function
    for name, where in kernels.KERNELS.items():
        module, attr = where.split(":")
        k = getattr(importlib.import_module(f"neurona.kernels.{module}"), attr)
        assert kernels.lookup(name, np.zeros(2, np.float32)) is k
        if isinstance(k, type):  # an op: a subclass of its reference op, whose constructor it keeps
            assert issubclass(k, Function)
            assert any(b.__module__.startswith("neurona.functional.") for b in k.__mro__[1:]), name
        else:  # an optimizer update: update_one for all the parameters of a group
            assert list(k.__code__.co_varnames[:4]) == ["thetas", "grads", "states", "group"], name


def test_no_kernel_for_the_reference_or_for_other_arrays():
    a = np.zeros(3, np.float32)
    with runtime.use_kernels("reference"):
        assert kernels.lookup("relu", a) is None
    assert kernels.lookup("relu", a) is not None
    assert kernels.lookup("relu", np.zeros(3, np.float16)) is None
    assert kernels.lookup("relu", np.zeros(3, np.int64)) is None
    assert kernels.lookup("relu", a, np.zeros(3, np.float16)) is None
    with pytest.raises(KeyError, match="no kernel is registered"):
        kernels.lookup("no-such-kernel", a)


def test_ops_take_the_kernel_or_the_reference():
    x = neurona.tensor([-1.0, 2.0], requires_grad=True)
    y = neurona.relu(x)
    assert type(y.grad_fn).__module__ == "neurona.kernels.activation"
    with runtime.use_kernels("reference"):
        y = neurona.relu(x)
    assert type(y.grad_fn).__module__ == "neurona.functional.activation"
    assert type(y.grad_fn).__name__ == "ReLU"


def test_use_kernels_restores_the_choice_and_checks_it():
    before = runtime.kernels()
    with pytest.raises(ValueError, match="numba' or 'reference"):
        runtime.set_kernels("fast")
    with runtime.use_kernels("reference"):
        assert runtime.kernels() == "reference" and not kernels.available()
    assert runtime.kernels() == before
