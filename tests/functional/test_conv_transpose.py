"""conv_transpose2d / conv_transpose1d: PyTorch values, the plain reference, finite differences, float32, errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import neurona
from neurona.functional import conv as C
from neurona.functional import conv_transpose as T
from tests.opcheck import check_op

REF = np.load(Path(__file__).parents[1] / "fixtures" / "vision_reference.npz", allow_pickle=False)


def cases(prefix: str) -> list[str]:
    return sorted({k.split(".")[0] for k in REF.files if k.startswith(prefix + "_") and k.endswith(".spec")})


def _run_case(case: str, fn) -> None:
    spec = json.loads(str(REF[f"{case}.spec"]))
    kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in spec["kwargs"].items()}
    ts = {k: neurona.from_numpy(REF[f"{case}.{k}"].copy()).requires_grad_() for k in spec["inputs"]}
    out = fn(**ts, **kw)
    np.testing.assert_allclose(out.array, REF[f"{case}.out"], rtol=1e-10, atol=1e-10)
    out.backward(REF[f"{case}.r"])
    for k in spec["grads"]:
        np.testing.assert_allclose(ts[k].grad.array, REF[f"{case}.grad_{k}"], rtol=1e-10, atol=1e-10,
                                   err_msg=f"{case}: gradient of {k}")


@pytest.mark.parametrize("case", cases("conv_transpose2d"))
def test_conv_transpose2d_matches_pytorch(case):
    _run_case(case, lambda x, w, b=None, **kw: T.conv_transpose2d(x, w, b, **kw))


@pytest.mark.parametrize("case", cases("conv_transpose1d"))
def test_conv_transpose1d_matches_pytorch(case):
    _run_case(case, lambda x, w, b=None, **kw: T.conv_transpose1d(x, w, b, **kw))


def test_every_recorded_case_is_run():
    assert len(cases("conv_transpose2d")) >= 12 and len(cases("conv_transpose1d")) >= 3


# (x shape, w shape, stride, padding, output_padding, dilation, groups)
GRID = [
    ((2, 3, 3, 4), (3, 2, 3, 3), 1, 0, 0, 1, 1),
    ((1, 2, 3, 3), (2, 3, 2, 2), 2, 0, 0, 1, 1),
    ((2, 2, 3, 2), (2, 2, 3, 3), 2, 1, 1, 1, 1),
    ((1, 4, 2, 3), (4, 1, 3, 2), (2, 3), (1, 0), (1, 2), 1, 2),
    ((1, 2, 3, 3), (2, 2, 3, 3), 1, 2, 0, 2, 1),
    ((1, 3, 2, 2), (3, 1, 2, 3), 3, 1, 2, (2, 1), 3),
]


@pytest.mark.parametrize("xs, ws, stride, padding, output_padding, dilation, groups", GRID)
def test_conv_transpose2d_gradcheck_reference_float32(xs, ws, stride, padding, output_padding, dilation, groups):
    o = ws[1] * groups

    def fn(x, w, b):
        return T.conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation)

    def ref(x, w, b):
        return T.conv_transpose2d_reference(x, w, b, stride, padding, output_padding, groups, dilation)

    check_op(fn, ref, [xs, ws, (o,)])


def test_conv_transpose1d_gradcheck_float32():
    def fn(x, w):
        return T.conv_transpose1d(x, w, stride=2, padding=1, output_padding=1)

    def ref(x, w):
        return T.conv_transpose2d_reference(x[:, :, None], w[:, :, None], None, (1, 2), (0, 1), (0, 1))[:, :, 0]

    check_op(fn, ref, [(2, 3, 4), (3, 2, 3)])


@pytest.mark.parametrize("stride, padding, dilation, groups", [(1, 0, 1, 1), (2, 1, 1, 1), (2, 1, 2, 2), (3, 2, 1, 1)])
def test_transpose_is_the_adjoint_of_convolution(stride, padding, dilation, groups):
    """⟨conv_transpose2d(y, W), x⟩ = ⟨y, conv2d(x, W)⟩: the transposed convolution is the convolution's adjoint
    (its input-gradient), with the same weight tensor."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 9, 8))
    w = rng.standard_normal((6, 4 // groups, 3, 3))
    y = C.conv2d_reference(x, w, None, stride, padding, dilation, groups)
    g = rng.standard_normal(y.shape)
    # the output_padding that brings the transpose back to x's size
    op = [x.shape[2 + a] - T.conv_transpose_output_size(y.shape[2 + a], 3, stride, padding, 0, dilation)
          for a in range(2)]
    back = T.conv_transpose2d(neurona.from_numpy(g), neurona.from_numpy(w), None, stride, padding, tuple(op), groups,
                              dilation).array
    assert back.shape == x.shape
    np.testing.assert_allclose(np.sum(back * x), np.sum(g * y), rtol=1e-10)


def test_float32_no_bias_and_no_input_gradient():
    x = neurona.randn(2, 3, 4, 4)
    w = neurona.randn(3, 2, 3, 3, requires_grad=True)
    y = T.conv_transpose2d(x, w, stride=2)
    assert y.dtype == np.float32 and y.shape == (2, 2, 9, 9)
    y.sum().backward()
    assert w.grad.dtype == np.float32 and x.grad is None


@pytest.mark.parametrize("call, message", [
    (lambda: T.conv_transpose2d(neurona.zeros(1, 3, 4, 4), neurona.zeros(2, 2, 3, 3)), "3 channels"),
    (lambda: T.conv_transpose2d(neurona.zeros(3, 4, 4), neurona.zeros(3, 2, 3, 3)), "4-D input"),
    (lambda: T.conv_transpose2d(neurona.zeros(1, 3, 4, 4), neurona.zeros(3, 2, 3, 3), stride=2, output_padding=2),
     "output_padding"),
    (lambda: T.conv_transpose2d(neurona.zeros(1, 3, 4, 4), neurona.zeros(3, 2, 3, 3), neurona.zeros(3)), "bias"),
    (lambda: T.conv_transpose2d(neurona.zeros(1, 3, 4, 4), neurona.zeros(3, 2, 3, 3), groups=2), "divisible"),
    (lambda: T.conv_transpose2d(neurona.zeros(1, 3, 2, 2), neurona.zeros(3, 2, 1, 1), padding=1), "empty output"),
    (lambda: T.conv_transpose2d(neurona.zeros(1, 3, 2, 2), neurona.zeros(3, 2, 1, 1), stride=0), "positive"),
    (lambda: T.conv_transpose1d(neurona.zeros(1, 3, 4), neurona.zeros(3, 2, 3), stride=(1, 2)), "1-tuple"),
])
def test_errors_name_the_op_and_the_problem(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_mixed_dtypes_are_refused():
    with pytest.raises(TypeError, match="same dtype"):
        T.conv_transpose2d(neurona.zeros(1, 3, 4, 4), neurona.zeros(3, 2, 3, 3, dtype=np.float64))
