"""neurona.gradcheck: it passes correct ops and catches wrong ones, with a useful message."""
from __future__ import annotations

import numpy as np
import pytest

import neurona as nr
from neurona import Function, GradcheckError


class SquareForgetsTheTwo(Function):
    """x² with a deliberately wrong backward: d(x²)/dx = 2x, but it returns x."""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, gy):
        return gy * self.x


class ScaleSecondInputWrong(Function):
    """a * b whose gradient for b is wrong at one element only."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, gy):
        gb = gy * self.a
        gb = gb.copy()
        gb.reshape(-1)[3] += 0.5
        return gy * self.b, gb


def _f64(*shape, seed=0):
    return nr.from_numpy(np.random.default_rng(seed).standard_normal(shape)).requires_grad_()


CORRECT = [
    ("polynomial", lambda x: x * x * x - 2 * x, [(3, 4)]),
    ("broadcast_matmul", lambda a, b: nr.tanh(a @ b).sum(axis=0), [(2, 3, 4), (4, 2)]),
    ("reduction_to_0d", lambda x: (nr.exp(x) / nr.exp(x).sum()).max(), [(5,)]),
    ("several_outputs", lambda x: x.split(2, dim=1), [(2, 5)]),
    ("noncontiguous_inside", lambda x: (x.T[::2] * 3).sum(axis=1), [(4, 6)]),
]


@pytest.mark.parametrize("name,fn,shapes", CORRECT, ids=[c[0] for c in CORRECT])
def test_returns_true_for_correct_ops(name, fn, shapes):
    inputs = [_f64(*s, seed=i) for i, s in enumerate(shapes)]
    assert nr.gradcheck(fn, *inputs) is True


def test_wrong_backward_raises_with_input_element_and_both_values():
    x = nr.from_numpy(np.array([[1.0, -2.0], [0.5, 3.0]])).requires_grad_()
    with pytest.raises(GradcheckError) as info:
        nr.gradcheck(lambda t: SquareForgetsTheTwo()(t), x)
    message = str(info.value)
    assert "input 0" in message and "shape (2, 2)" in message
    assert "element (" in message and "analytic" in message and "numerical" in message
    assert "4 of 4 elements disagree" in message
    # gradcheck differentiates Σ r ⊙ f(x) for a random r drawn with its seed (0): the analytic gradient
    # is r ⊙ x, the true one r ⊙ 2x; the element reported is the one furthest beyond the tolerance
    r = np.random.default_rng(0).standard_normal((2, 2))
    analytic, numerical = r * x.array, 2 * r * x.array
    i, j = np.unravel_index(np.argmax(np.abs(analytic - numerical) - 1e-3 * np.abs(numerical)), (2, 2))
    assert f"element ({i}, {j}): analytic {analytic[i, j]:.8g} vs numerical" in message
    reported = float(message.split("vs numerical ")[1].split(" ")[0])
    assert reported == pytest.approx(numerical[i, j], rel=1e-6)


def test_names_the_wrong_input_and_element():
    a, b = _f64(2, 3, seed=1), _f64(2, 3, seed=2)
    with pytest.raises(GradcheckError, match=r"input 1 \(shape \(2, 3\)\).*element \(1, 0\).*1 of 6 elements"):
        nr.gradcheck(lambda p, q: ScaleSecondInputWrong()(p, q), a, b)
    a.requires_grad_(True)
    b.requires_grad_(False)  # only a is checked now, and a's gradient is right
    assert nr.gradcheck(lambda p, q: ScaleSecondInputWrong()(p, q), a, b)


def test_gradcheck_error_is_an_assertion_error():
    assert issubclass(GradcheckError, AssertionError)


def test_inputs_are_copied_to_float64():
    seen = []

    def fn(x):
        seen.append(x.dtype)
        return x * x

    x = nr.tensor([1.0, 2.0], requires_grad=True)  # float32
    assert nr.gradcheck(fn, x)
    assert set(seen) == {np.dtype(np.float64)}
    assert x.grad is None and x.dtype == np.float32  # the caller's tensor is untouched


def test_plain_arrays_and_integer_inputs():
    w = np.random.default_rng(0).standard_normal((3, 4))
    idx = nr.tensor([2, 0, 2])  # integers pass through unchanged and are not checked
    assert nr.gradcheck(lambda a, i: a[i] * 2, w, idx)


def test_all_float_inputs_checked_when_none_requires_grad():
    a = nr.from_numpy(np.ones((2, 3)))
    b = nr.from_numpy(np.arange(6.0).reshape(2, 3))
    with pytest.raises(GradcheckError, match="input 1"):
        nr.gradcheck(lambda p, q: ScaleSecondInputWrong()(p, q), a, b)


def test_no_float_input_refused():
    with pytest.raises(ValueError, match="gradcheck: no floating-point input to check"):
        nr.gradcheck(lambda i: i * 2, nr.tensor([1, 2]))


def test_output_independent_of_the_inputs_refused():
    with pytest.raises(GradcheckError, match="does not depend on any input"):
        nr.gradcheck(lambda x: nr.ones(3), nr.from_numpy(np.ones(3)))


def test_nan_gradient_is_reported():
    class NanGrad(Function):
        def forward(self, x):
            return x * 1.0

        def backward(self, gy):
            return gy * np.nan

    with pytest.raises(GradcheckError):
        nr.gradcheck(lambda t: NanGrad()(t), nr.from_numpy(np.ones(2)))


def test_tolerances_are_adjustable():
    class SlightlyOff(Function):
        def forward(self, x):
            return x * 1.0

        def backward(self, gy):
            return gy * 1.0005  # 5e-4 relative error

    x = nr.from_numpy(np.ones(3))
    with pytest.raises(GradcheckError):
        nr.gradcheck(lambda t: SlightlyOff()(t), x, rtol=1e-4, atol=0)
    assert nr.gradcheck(lambda t: SlightlyOff()(t), x, rtol=1e-2)
