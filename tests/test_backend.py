"""The array-module seam (neurona/backend.py): one place chooses the array library.

Two properties keep a CuPy backend a change to ``backend.py`` alone: no other
module imports an array library besides NumPy, and the ops never build an
array from a shape with NumPy itself (``np.zeros(shape)``, ``np.arange(n)``,
``np.asarray(data)`` make host arrays whatever library the inputs use); they
ask ``get_array_module`` for ``xp`` instead. Functions that receive arrays
(``np.exp(x)``, ``np.where(c, a, b)``) dispatch to the inputs' library and are
fine. Both properties are checked on the source, so a new op that breaks them
fails here.
"""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import numpy as np
import pytest

import neurona as nr
from neurona import backend
from neurona.functional import activation as A
from neurona.functional import loss as L
from neurona.functional import math as M
from neurona.functional import reduce as R
from neurona.functional import shape as S

D = importlib.import_module("neurona.functional.dropout")  # the module (neurona.functional.dropout is the function)

PACKAGE = Path(nr.__file__).resolve().parent
OTHER_ARRAY_LIBRARIES = {"cupy", "torch", "jax", "jaxlib", "tensorflow", "mlx", "dask", "cupyx"}
# the engine's ops: forward and backward of every differentiable primitive live in these files
OP_MODULES = ["functional/math.py", "functional/reduce.py", "functional/shape.py",
              "functional/activation.py", "functional/loss.py", "functional/linear.py", "functional/dropout.py",
              "functional/normalization.py", "functional/pointwise.py", "functional/compare.py",
              "functional/indexing.py", "functional/layout.py", "functional/linalg.py", "functional/resample.py"]
# NumPy functions that make a new array from a shape or from Python data, on the host
HOST_CREATORS = {"zeros", "ones", "empty", "full", "arange", "eye", "identity", "linspace", "array", "asarray",
                 "asanyarray", "ascontiguousarray", "frombuffer", "fromiter"}


def _imported_roots(tree: ast.AST) -> set[str]:
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_only_the_backend_imports_another_array_library():
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        found = _imported_roots(ast.parse(path.read_text(encoding="utf-8"))) & OTHER_ARRAY_LIBRARIES
        if rel == "backend.py":
            assert found <= {"cupy"}, f"backend.py imports {found}"
        elif found:
            offenders[rel] = sorted(found)
    assert not offenders, f"only neurona/backend.py may import an array library other than NumPy: {offenders}"


def _host_creations(source: str) -> list[str]:
    """Calls ``np.<creator>(...)`` in ``source``, as 'line: np.name'."""
    calls = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in HOST_CREATORS
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "np"):
            calls.append(f"{node.lineno}: np.{node.func.attr}")
    return calls


@pytest.mark.parametrize("module", OP_MODULES)
def test_ops_create_arrays_through_the_array_module(module):
    calls = _host_creations((PACKAGE / module).read_text(encoding="utf-8"))
    assert not calls, (f"neurona/{module} builds host arrays with NumPy directly at {calls}; write "
                       f"xp = get_array_module(x) (neurona.backend) and xp.zeros(...), xp.asarray(...) instead")


def test_the_scan_catches_a_host_creation():
    bad = "import numpy as np\ndef backward(gy):\n    return np.zeros(gy.shape)\n"
    good = ("import numpy as np\ndef backward(gy):\n    xp = get_array_module(gy)\n"
            "    return xp.zeros(gy.shape) + np.exp(gy)\n")
    assert _host_creations(bad) == ["3: np.zeros"]
    assert _host_creations(good) == []


def test_get_array_module_is_numpy_for_numpy_data():
    a = np.ones(3)
    assert backend.get_array_module(a) is np
    assert backend.get_array_module(a, np.float32(1.0), [1, 2], 3.0) is np
    assert backend.get_array_module() is np


def test_enable_cupy_reports_whether_cupy_is_usable(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_cupy(name, *args, **kwargs):
        if name == "cupy":
            raise ImportError("no cupy here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_cupy)
    monkeypatch.setattr(backend, "_cupy", None)
    assert backend.enable_cupy() is False
    assert backend._cupy is None and backend.get_array_module(np.ones(2)) is np


class _FakeDeviceArray(np.ndarray):
    """Stands in for a second library's array type: an ndarray subclass that the fake module claims."""


class _FakeModule:
    """A stand-in array module: records which functions the ops ask it for, then defers to NumPy."""

    ndarray = _FakeDeviceArray

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        self.calls.append(name)
        return getattr(np, name)


def _device(a) -> _FakeDeviceArray:
    return np.asarray(a).view(_FakeDeviceArray)


def _device_tensor(a) -> nr.Tensor:
    t = nr.Tensor.__new__(nr.Tensor)
    t.array, t.grad, t._ctx, t.name, t.requires_grad = _device(a), None, None, None, False
    return t


def _run(fn, *arrays, needs=None):
    """Forward then backward of one Function on 'device' arrays, as the engine would call them."""
    fn.needs = needs or (True,) * len(arrays)
    y = fn.forward(*[_device(a) for a in arrays])
    return fn.backward(_device(np.ones(np.shape(y), np.float32)))


X = np.array([[0.5, -1.0, 2.0], [-0.3, 1.5, 0.0]], np.float32)
Y = np.array([0, 2])
CASES = [
    ("sign", lambda: _run(M.Sign(), X), {"zeros"}),
    ("zeroth_power", lambda: _run(M.PowConst(0), X), {"zeros_like"}),
    ("heaviside", lambda: _run(A.Heaviside(0.0, 0.0), X), {"zeros"}),
    ("maxout", lambda: _run(A.Maxout(), X, np.ones((4, 2, 3), np.float32)), {"zeros"}),
    ("getitem_repeated", lambda: _run(S.GetItem((np.array([0, 0, 1]), slice(1, None))), X), {"zeros", "add"}),
    ("getitem_slice", lambda: _run(S.GetItem((slice(None), 1)), X), {"zeros"}),
    ("cross_entropy", lambda: _run(L.CrossEntropy(_device(Y), None, -100, "mean", 0.0), X), {"arange"}),
    ("nll_loss", lambda: _run(L.NLLLoss(_device(Y), None, -100, "sum"), X), {"arange", "ones", "zeros"}),
    ("mse_sum", lambda: _run(L.MSE("sum"), X, X * 2), {"asarray"}),
    ("dropout", lambda: D.dropout(_device_tensor(X), 0.5), {"random"}),  # the mask is drawn on the device
    ("dropout_all", lambda: D.dropout(_device_tensor(X), 1.0), {"zeros"}),
    ("argmax_all", lambda: R.argmax(_device_tensor(X)), {"asarray"}),
    ("as_tensor", lambda: M.as_tensor(_device(Y), like=nr.ones(1)), {"asarray"}),
]


@pytest.mark.parametrize("name,call,expected", CASES, ids=[c[0] for c in CASES])
def test_ops_ask_the_backend_for_the_array_module(name, call, expected, monkeypatch):
    """With a second module registered, ops on its arrays get their array functions from that module."""
    fake = _FakeModule()
    monkeypatch.setattr(backend, "_modules", {_FakeDeviceArray: fake})  # as enable_cupy registers cupy.ndarray
    call()
    assert expected <= set(fake.calls), f"{name}: asked the backend's module for {fake.calls}, expected {expected}"
