"""Shared fixtures: every test starts from neurona's defaults and leaves them as it found them."""
from __future__ import annotations

import importlib
import numpy as np
import pytest

import neurona
import neurona.backend

_engine = importlib.import_module("neurona.engine")  # the module (neurona.tensor is also a function)


@pytest.fixture(autouse=True)
def _restore_global_state():
    """Undo a test's changes to the default dtype and the grad mode, even when it fails halfway."""
    dtype = neurona.get_default_dtype()
    mode = _engine._mode.enabled
    yield
    neurona.set_default_dtype(dtype)
    _engine._mode.enabled = mode


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded NumPy generator, so that every run draws the same numbers."""
    return np.random.default_rng(0)


# --- the strict stand-in device (NEURONA_STRICT_DEVICE=1) ----------------------------------------------------

def pytest_addoption(parser):
    parser.addoption("--device", default="strict",
                     help="the device tests/test_device_ops.py compares with the CPU: strict (the stand-in, default), "
                          "cuda, cuda:N")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "host_only(reason): a test of host-only behaviour (files, plots, the command line, NumPy "
                   "memory sharing); skipped, with its reason, when the suite runs on the strict stand-in device")


def _device_neutral_doctests() -> None:
    """Docstrings show what a CPU session prints; run on the stand-in device, the same examples also print
    ``device='strict'``, which the comparison leaves out (the examples still run on the device)."""
    import doctest

    check = doctest.OutputChecker.check_output

    def check_output(self, want, got, optionflags):
        return check(self, want, got.replace(", device='strict'", ""), optionflags)

    doctest.OutputChecker.check_output = check_output


def pytest_collection_modifyitems(config, items):
    if not neurona.backend.strict_mode():
        return
    _device_neutral_doctests()
    for item in items:
        m = item.get_closest_marker("host_only")
        if m is not None:
            reason = m.kwargs.get("reason") or (m.args[0] if m.args else "host-only behaviour")
            item.add_marker(pytest.mark.skip(reason=f"host only on the strict device: {reason}"))


@pytest.fixture
def fast_kernels(monkeypatch):
    """The fast kernels in force, even in a run with NEURONA_KERNELS=reference: for the tests of the kernels."""
    from neurona import runtime

    monkeypatch.delenv("NEURONA_KERNELS", raising=False)  # subprocesses of the test read the default too
    monkeypatch.setattr(runtime._state, "kernels", "numba")
