"""PyTorch's everyday tensor API, run as PyTorch code on neurona and compared with PyTorch's own results.

Each case of ``tests/fixtures/tensor_api_cases.py`` is PyTorch code; the
fixture holds what PyTorch 2.13 computed (``record_tensor_api.py``). Here the
same code runs with ``neurona`` in the place of ``torch``: same kinds, dtypes,
shapes and values, same gradients, a float64 gradient check, and float32 in
giving float32 out.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from tests.fixtures.tensor_api_cases import BY_NAME, CASE_NAMES
from tests.opcheck import check_recorded

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "tensor_api_reference.npz")


@pytest.fixture(scope="module")
def recorded():
    with np.load(FIXTURE, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


@pytest.mark.parametrize("name", CASE_NAMES)
def test_same_results_as_pytorch(name, recorded):
    case = BY_NAME[name]
    check_recorded(case.fn, case.inputs, recorded, name + "|", grad=case.grad, gradcheck=case.gradcheck,
                   rtol32=case.rtol32, atol32=case.atol32)


def test_every_case_was_recorded(recorded):
    missing = [n for n in CASE_NAMES if f"{n}|count" not in recorded]
    assert not missing, f"cases without a recording (run tests/fixtures/record_tensor_api.py): {missing}"
