"""In-place ops (neurona/inplace.py and the in-place methods of Tensor): PyTorch's semantics and version checks."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import neurona as nr
from neurona import nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "fixtures"))
from inplace_cases import CASES, PERMISSIVE, TWINS  # noqa: E402

REF = np.load(os.path.join(os.path.dirname(__file__), "fixtures", "inplace_reference.npz"), allow_pickle=False)
VERDICTS = dict(zip([str(n) for n in REF["names"]], [str(v) for v in REF["verdicts"]]))


def run_case(setup: str, backward: str) -> tuple[str, dict]:
    ns = {"torch": nr}
    try:
        exec(setup, ns)
    except RuntimeError:
        return "setup", ns
    try:
        exec(backward, ns)
    except RuntimeError:
        return "backward", ns
    return "ok", ns


def assert_matches(ns: dict, prefix: str) -> None:
    keys = [k for k in REF.files if k.startswith(prefix + "/")]
    assert keys, f"nothing recorded under {prefix}"
    for k in keys:
        leaf = k.rsplit("/", 1)[1]
        t = ns[leaf]
        got = t.array if leaf == "out" else (None if t.grad is None else t.grad.array)
        assert got is not None, f"{prefix}: {leaf} has no gradient, PyTorch gives {REF[k]}"
        np.testing.assert_allclose(got, REF[k], rtol=1e-5, atol=1e-6, err_msg=f"{prefix}: {leaf}")
    for leaf in ("a", "b", "c"):  # and no gradient where PyTorch has none
        if leaf in ns and f"{prefix}/{leaf}" not in keys:
            assert ns[leaf].grad is None, f"{prefix}: {leaf} got a gradient, PyTorch gives none"


@pytest.mark.parametrize("name", sorted(CASES))
def test_agrees_with_pytorch(name):
    """PyTorch's verdict (accepted, refused at the op, refused at backward) and, when accepted, its values."""
    assert name in VERDICTS, f"{name} is not in the fixture: run tests/fixtures/record_inplace.py"
    verdict, ns = run_case(*CASES[name])
    if name in PERMISSIVE and verdict == "ok":  # our op keeps less than PyTorch's: accepted, with the twin's gradients
        assert VERDICTS[name] != "ok"
        assert_matches(ns, f"twin/{name}")
        return
    assert verdict == VERDICTS[name], f"neurona: {verdict}, PyTorch: {VERDICTS[name]}"
    if verdict == "ok":
        assert_matches(ns, f"case/{name}")


# --- the hand-written optimizer: in place under no_grad ----------------------------------------------------


def test_hand_written_sgd_really_updates_the_model():
    """`p -= lr * p.grad` under no_grad changes the parameters themselves (it used to rebind a new tensor)."""
    nr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    ids = [id(p) for p in model.parameters()]
    x = nr.randn(32, 2)
    y = (x[:, 0:1] * 0.5 - x[:, 1:2]).detach()
    losses = []
    for _ in range(60):
        loss = ((model(x) - y) ** 2).mean()
        losses.append(loss.item())
        model.zero_grad()
        loss.backward()
        with nr.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
    assert [id(p) for p in model.parameters()] == ids and all(isinstance(p, nn.Parameter) for p in model.parameters())
    assert losses[-1] < 0.2 * losses[0]


def test_named_leaf_update_then_backward_again():
    w = nr.tensor([1.0, -2.0], requires_grad=True)
    (w * w).sum().backward()
    with nr.no_grad():
        w -= 0.25 * w.grad
        w.grad.zero_()
    assert w.is_leaf and w.requires_grad
    np.testing.assert_allclose(w.array, [0.5, -1.0])
    (w * w).sum().backward()
    np.testing.assert_allclose(w.grad.array, [1.0, -2.0])


def test_data_changes_the_parameter():
    p = nn.Parameter(nr.zeros(3))
    p.data.add_(nr.ones(3), alpha=-0.5)
    np.testing.assert_array_equal(p.array, [-0.5] * 3)
    p.data.copy_(nr.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(p.array, [1, 2, 3])
    nr.manual_seed(3)
    p.data.normal_(0, 0.02)
    assert abs(p.array).max() < 0.2 and p.array.std() > 0
    p.data.mul_(0).add_(1)  # in-place methods return the tensor itself
    np.testing.assert_array_equal(p.array, [1, 1, 1])
    assert p.is_leaf and p.requires_grad and p._version == 0  # .data changes are not versioned, as in PyTorch


def test_in_place_ops_return_the_same_tensor_and_share_memory_with_views():
    x = nr.zeros(2, 3)
    row = x[1]
    flat = x.view(6)
    assert x.add_(1) is x and x.mul_(2) is x
    row.fill_(5)
    np.testing.assert_array_equal(flat.array, [2, 2, 2, 5, 5, 5])
    flat[0] = -1
    assert x.array[0, 0] == -1
    x += 1
    assert x.array[0, 0] == 0 and flat.array[0] == 0


# --- versions ------------------------------------------------------------------------------------------------


def test_version_counter_is_shared_by_views_and_detach_not_data():
    x = nr.ones(2, 2)
    v, d, data = x[0], x.detach(), x.data
    assert x._version == 0
    x.add_(1)
    assert x._version == v._version == d._version == 1
    v.mul_(2)
    d.zero_()
    assert x._version == 3
    data.fill_(7)  # .data has its own counter
    assert x._version == 3 and data._version == 0
    np.testing.assert_array_equal(x.array, [[7, 7], [7, 7]])


@pytest.mark.parametrize("code, role, op, versions", [
    ("y = a.exp()\ny.add_(1)\nloss = y.sum()", "output 0", "Exp", (1, 0)),
    ("x = a * 1\ny = x * x\nx.mul_(2)\nx.add_(1)\nloss = y.sum()", "an input", "Mul", (2, 0)),
    ("y = (a * 1).exp()\ny[1:].mul_(2)\nloss = y.sum()", "output 0", "Exp", (1, 0)),
], ids=["saved_output", "saved_input", "view"])
def test_version_error_names_the_op_and_versions(code, role, op, versions):
    ns = {"a": nr.tensor([1.0, 2.0, 3.0], requires_grad=True), "nr": nr}
    exec(code, ns)
    n, m = versions
    with pytest.raises(RuntimeError, match=rf"modified by an inplace operation: \[float32 tensor of shape \(\d,\)\], "
                                           rf"which is {role} of {op} .* is at version {n}; expected version {m}"):
        ns["loss"].backward()


def test_version_check_costs_nothing_to_nodes_made_after_the_change():
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    h += 1  # a change; everything below is made after it
    y = (h.exp() * h).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.array, np.exp([2.0, 3.0]) * (1 + np.array([2.0, 3.0])), rtol=1e-6)


def test_retain_graph_and_in_place_change_between_backwards():
    a = nr.tensor([1.0, 2.0], requires_grad=True)
    y = a.exp()
    loss = y.sum()
    loss.backward(retain_graph=True)
    with nr.no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_freed_graph_is_still_reported_as_freed():
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"already freed.*retain_graph=True"):
        y.backward()


# --- errors at the op ------------------------------------------------------------------------------------------


def test_leaf_error_is_pytorchs_and_says_what_to_do():
    w = nr.ones(3, requires_grad=True)
    for change in (lambda: w.add_(1), lambda: w.__isub__(1), lambda: w.zero_(), lambda: w.__setitem__(0, 1.0),
                   lambda: w.uniform_(), lambda: w.copy_(nr.zeros(3)), lambda: w.clamp_(0, 1)):
        with pytest.raises(RuntimeError, match=r"a leaf Variable that requires grad is being used in an in-place "
                                               r"operation\..*no_grad"):
            change()
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        w[1:].mul_(2)
    with nr.no_grad():
        v = w[1:]
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        v.mul_(2)  # a view made under no_grad, changed with grad mode on
    np.testing.assert_array_equal(w.array, [1, 1, 1])  # nothing was changed by the refused ops


def test_dtype_and_shape_errors():
    i = nr.arange(3)
    with pytest.raises(RuntimeError, match="result type float64 can't be cast to the desired output type int64"):
        i += 0.5
    with pytest.raises(RuntimeError, match="can't be cast"):
        i /= 2
    i *= 2  # integer arithmetic stays integer
    np.testing.assert_array_equal(i.array, [0, 2, 4])
    i.div_(4, rounding_mode="floor")
    np.testing.assert_array_equal(i.array, [0, 0, 1])
    x = nr.zeros(3)
    with pytest.raises(RuntimeError, match=r"output with shape \(3,\) doesn't match the broadcast shape \(2, 3\)"):
        x += nr.ones(2, 3)
    with pytest.raises(RuntimeError, match="do not broadcast"):
        x.add_(nr.ones(4))
    e = nr.ones(1).expand(3)
    with pytest.raises(RuntimeError, match=r"read-only. An expand\(\)ed .* clone\(\) it first"):
        e.mul_(2)
    y = nr.ones(3, requires_grad=True) * 1
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        y.add_(nr.ones(2, 3))


# --- every in-place method agrees with its out-of-place op -----------------------------------------------------


def _pairs():
    rng = np.random.default_rng(0)
    a = rng.uniform(0.5, 2.0, (3, 4)).astype(np.float32)
    b = rng.uniform(0.5, 2.0, (3, 4)).astype(np.float32)
    c = rng.uniform(0.5, 2.0, (4,)).astype(np.float32)
    B, C = nr.tensor(b), nr.tensor(c)
    return a, [
        ("add_", lambda t: t.add_(B, alpha=2), a + 2 * b),
        ("sub_", lambda t: t.sub_(C), a - c),
        ("mul_", lambda t: t.mul_(C), a * c),
        ("div_", lambda t: t.div_(B), a / b),
        ("div_trunc", lambda t: t.div_(-0.3, rounding_mode="trunc"), np.trunc(a / -0.3)),
        ("div_floor", lambda t: t.div_(0.3, rounding_mode="floor"), np.floor(a / 0.3)),
        ("pow_", lambda t: t.pow_(B), a ** b),
        ("iadd", lambda t: t.__iadd__(2.0), a + 2),
        ("isub", lambda t: t.__isub__(B), a - b),
        ("imul", lambda t: t.__imul__(0.5), a * 0.5),
        ("itruediv", lambda t: t.__itruediv__(C), a / c),
        ("ipow", lambda t: t.__ipow__(2), a ** 2),
        ("neg_", lambda t: t.neg_(), -a),
        ("abs_", lambda t: t.sub_(1).abs_(), np.abs(a - 1)),
        ("exp_", lambda t: t.exp_(), np.exp(a)),
        ("log_", lambda t: t.log_(), np.log(a)),
        ("log1p_", lambda t: t.log1p_(), np.log1p(a)),
        ("sqrt_", lambda t: t.sqrt_(), np.sqrt(a)),
        ("sign_", lambda t: t.sub_(1).sign_(), np.sign(a - 1)),
        ("sigmoid_", lambda t: t.sigmoid_(), 1 / (1 + np.exp(-a))),
        ("tanh_", lambda t: t.tanh_(), np.tanh(a)),
        ("relu_", lambda t: t.sub_(1).relu_(), np.maximum(a - 1, 0)),
        ("clamp_", lambda t: t.clamp_(0.8, 1.5), np.clip(a, 0.8, 1.5)),
        ("clip_", lambda t: t.clip_(max=1.0), np.minimum(a, 1.0)),
        ("clamp_tensor", lambda t: t.clamp_(min=B), np.maximum(a, b)),
        ("clamp_min_", lambda t: t.clamp_min_(1.0), np.maximum(a, 1.0)),
        ("clamp_max_", lambda t: t.clamp_max_(1.0), np.minimum(a, 1.0)),
        ("addcmul_", lambda t: t.addcmul_(B, C, value=0.5), a + 0.5 * b * c),
        ("addcdiv_", lambda t: t.addcdiv_(B, C, value=2), a + 2 * b / c),
        ("lerp_", lambda t: t.lerp_(B, 0.25), a + 0.25 * (b - a)),
        ("lerp_tensor", lambda t: t.lerp_(B, C), a + c * (b - a)),
        ("zero_", lambda t: t.zero_(), np.zeros_like(a)),
        ("fill_", lambda t: t.fill_(1.5), np.full_like(a, 1.5)),
        ("fill_tensor", lambda t: t.fill_(nr.tensor(2.5)), np.full_like(a, 2.5)),
        ("copy_", lambda t: t.copy_(C), np.broadcast_to(c, a.shape)),
        ("copy_cast", lambda t: t.copy_(nr.tensor([1, 2, 3, 4])), np.broadcast_to([1, 2, 3, 4], a.shape)),
        ("masked_fill_", lambda t: t.masked_fill_(B > 1, -1.0), np.where(b > 1, -1.0, a)),
        ("index_add_", lambda t: t.index_add_(1, nr.tensor([0, 0, 3]), nr.tensor(b[:, :3]), alpha=2),
         a + 2 * np.stack([b[:, 0] + b[:, 1], 0 * b[:, 0], 0 * b[:, 0], b[:, 2]], 1)),
        ("setitem", lambda t: t.__setitem__((slice(None), 1), C[:3]) or t, np.concatenate([a[:, :1], c[:3, None],
                                                                                        a[:, 2:]], 1)),
    ]


@pytest.mark.parametrize("recorded", [False, True], ids=["plain", "recorded"])
@pytest.mark.parametrize("i", range(len(_pairs()[1])), ids=[p[0] for p in _pairs()[1]])
def test_in_place_values(i, recorded):
    """The same values whether the change is a plain write or a recorded op; float32 stays float32."""
    a, pairs = _pairs()
    name, change, expected = pairs[i]
    if recorded:
        leaf = nr.tensor(a, requires_grad=True)
        t = leaf * 1
    else:
        t = nr.tensor(a.copy())
    memory = t.array
    out = change(t)
    assert out is t and t.array is memory and t.dtype == np.float32
    np.testing.assert_allclose(t.array, expected, rtol=1e-5, atol=1e-6)
    if recorded:
        assert t.requires_grad and not t.is_leaf
        t.sum().backward()
        assert leaf.grad is not None and leaf.grad.dtype == np.float32


@pytest.mark.parametrize("name", ["sin_", "cos_", "tan_", "atan_", "sinh_", "cosh_", "expm1_", "floor_", "ceil_",
                                  "round_"])
def test_unary_in_place_follow_their_out_of_place_op(name):
    op = name[:-1]
    a = nr.tensor([0.3, -1.2, 2.5, 0.5])
    expected = getattr(a, op)().array
    t = a.clone()
    assert getattr(t, name)() is t
    np.testing.assert_allclose(t.array, expected, rtol=1e-6)
    # recorded on a non-leaf: the same gradient as the out-of-place op
    w1, w2 = nr.tensor(a.array, requires_grad=True), nr.tensor(a.array, requires_grad=True)
    getattr(w1 * 1, name)().sum().backward()
    getattr(w2, op)().sum().backward()
    np.testing.assert_allclose(w1.grad.array, w2.grad.array, rtol=1e-6)


def test_gradients_flow_through_recorded_in_place_ops():
    """gradcheck of functions that change intermediate tensors in place (float64 central differences)."""
    def f(a, b):
        x = a * 1
        x.mul_(b)
        x += a.exp()
        x[1:] = x[1:] + b[:-1] * 2  # (x[1:] * b would keep x[1:], which the assignment changes: refused)
        x.clamp_(-3, 3)
        x.masked_fill_(nr.tensor([False, True, False, False]), 0.0)
        y = x.view(2, 2)
        y.T.add_(b.reshape(2, 2))
        return x.sigmoid_()

    a = nr.tensor([0.3, -0.8, 0.5, 1.1], dtype=nr.float64, requires_grad=True)
    b = nr.tensor([1.2, 0.7, -0.4, 0.9], dtype=nr.float64, requires_grad=True)
    assert nr.gradcheck(f, a, b)


def test_residual_block_with_in_place_add_and_relu():
    nr.manual_seed(0)
    conv, bn = nn.Conv2d(2, 2, 3, padding=1), nn.BatchNorm2d(2)
    x = nr.randn(2, 2, 4, 4, dtype=nr.float64, requires_grad=True)
    conv.double(), bn.double()

    def block(inp):
        out = bn(conv(inp))
        out += inp
        return out.relu_()

    def reference(inp):
        return (bn(conv(inp)) + inp).relu()

    y1, y2 = block(x), reference(x)
    np.testing.assert_allclose(y1.array, y2.array)
    assert nr.gradcheck(block, x)


# --- random fills --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method, args, check", [
    ("normal_", (2.0, 0.5), lambda v: abs(v.mean() - 2) < 0.05 and abs(v.std() - 0.5) < 0.05),
    ("uniform_", (-1.0, 3.0), lambda v: v.min() >= -1 and v.max() < 3 and abs(v.mean() - 1) < 0.1),
    ("bernoulli_", (0.25,), lambda v: set(np.unique(v)) <= {0, 1} and abs(v.mean() - 0.25) < 0.03),
    ("exponential_", (2.0,), lambda v: v.min() >= 0 and abs(v.mean() - 0.5) < 0.03),
    ("log_normal_", (0.0, 0.25), lambda v: v.min() > 0 and abs(np.log(v).std() - 0.25) < 0.03),
    ("cauchy_", (1.0, 0.1), lambda v: abs(np.median(v) - 1) < 0.02),
    ("geometric_", (0.5,), lambda v: v.min() >= 1 and abs(v.mean() - 2) < 0.1),
    ("random_", (3, 7), lambda v: set(np.unique(v)) == {3, 4, 5, 6}),
    ("random_", (5,), lambda v: set(np.unique(v)) == {0, 1, 2, 3, 4}),
])
def test_random_fills(method, args, check):
    t = nr.empty(4000)
    assert getattr(t, method)(*args) is t
    assert t.dtype == np.float32 and check(t.array.astype(np.float64))
    g1, g2 = nr.Generator().manual_seed(1), nr.Generator().manual_seed(1)
    a = getattr(nr.empty(5), method)(*args, generator=g1)
    b = getattr(nr.empty(5), method)(*args, generator=g2)
    np.testing.assert_array_equal(a.array, b.array)


def test_random_fills_follow_manual_seed_and_dtypes():
    nr.manual_seed(7)
    a = nr.empty(3).normal_()
    nr.manual_seed(7)
    np.testing.assert_array_equal(nr.empty(3).normal_().array, a.array)
    i = nr.zeros(1000, dtype=nr.long).random_(0, 10)
    assert i.dtype == np.int64 and i.array.min() >= 0 and i.array.max() <= 9
    m = nr.zeros(10, dtype=nr.bool).bernoulli_(1.0)
    assert m.dtype == np.bool_ and m.array.all()
    probs = nr.tensor([0.0, 1.0, 0.0])
    np.testing.assert_array_equal(nr.empty(3).bernoulli_(probs).array, [0, 1, 0])
    with pytest.raises(TypeError, match="normal_: expects a floating-point tensor"):
        nr.zeros(3, dtype=nr.long).normal_()
    h = nr.empty(100, dtype=nr.half).uniform_()
    assert h.dtype == np.float16


def test_random_fill_of_a_non_leaf_records_a_zero_gradient():
    a = nr.tensor([1.0, 2.0], requires_grad=True)
    x = a * 3
    x.normal_()
    (x * a).sum().backward()
    np.testing.assert_allclose(a.grad.array, x.array, rtol=1e-6)  # only the direct use of a carries a gradient


# --- anomaly mode ---------------------------------------------------------------------------------------------


def test_detect_anomaly_names_the_op_that_made_a_nan():
    x = nr.tensor([0.0, 1.0], requires_grad=True)
    y = x.sqrt().sum()  # d sqrt(x)/dx is infinite at 0
    with nr.autograd.detect_anomaly(), np.errstate(divide="ignore"):
        assert nr.autograd.is_anomaly_enabled()
        with pytest.raises(RuntimeError, match="Function 'Sqrt' returned nan or infinite values"):
            y.backward()
    assert not nr.autograd.is_anomaly_enabled()
    with np.errstate(divide="ignore"):
        (x.sqrt()).sum().backward()  # outside anomaly mode: inf, no error, as in PyTorch
    assert np.isinf(x.grad.array[0])
