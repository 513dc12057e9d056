"""Loss functions (neurona/functional/loss.py).

Every loss, every reduction, class weights, ignore_index, label smoothing and
probability targets: forward against an independent NumPy implementation,
float64 gradcheck and float32 preservation (``check_op``); PyTorch's recorded
values; fused vs composed cross-entropy; extreme logits; error messages.
"""
from __future__ import annotations

import numpy as np
import pytest

import neurona as nr
from neurona.functional import activation as A
from neurona.functional import loss as L
from tests.functional.test_activation import reference_cases, run_reference_case
from tests.opcheck import check_op

REDUCTIONS = ["mean", "sum", "none"]


def np_reduce(loss, reduction, denom=None):
    if reduction == "none":
        return loss
    total = loss.sum()
    return total if reduction == "sum" else total / (loss.size if denom is None else denom)


def np_log_softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def np_cross_entropy(x, y, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """PyTorch's definition, one sample at a time: ℓ_n = -Σ_c w_c q_c log p_c with q = (1-ε) onehot + ε/C."""
    cdim = 1 if x.ndim > 1 else 0
    c = x.shape[cdim]
    logp = np.moveaxis(np_log_softmax(x, cdim), cdim, -1).reshape(-1, c)
    w = np.ones(c) if weight is None else weight
    losses, denom = [], 0.0
    for lp, yn in zip(logp, np.reshape(y, -1)):
        if yn == ignore_index:
            losses.append(0.0)
            continue
        q = np.full(c, label_smoothing / c)
        q[yn] += 1 - label_smoothing
        losses.append(-(q * w * lp).sum())
        denom += w[yn]
    return np_reduce(np.array(losses).reshape(np.shape(y)), reduction, denom)


def np_cross_entropy_probs(x, t, weight=None, reduction="mean", label_smoothing=0.0):
    cdim = 1 if x.ndim > 1 else 0
    c = x.shape[cdim]
    q = t * (1 - label_smoothing) + label_smoothing / c
    w = np.ones(c) if weight is None else weight
    wb = w.reshape((1, c) + (1,) * (x.ndim - 2)) if x.ndim > 1 else w
    loss = -(q * wb * np_log_softmax(x, cdim)).sum(axis=cdim)
    return np_reduce(loss, reduction, x.size // c)


def np_nll(x, y, weight=None, ignore_index=-100, reduction="mean"):
    cdim = 1 if x.ndim > 1 else 0
    c = x.shape[cdim]
    rows = np.moveaxis(x, cdim, -1).reshape(-1, c)
    w = np.ones(c) if weight is None else weight
    losses, denom = [], 0.0
    for r, yn in zip(rows, np.reshape(y, -1)):
        if yn == ignore_index:
            losses.append(0.0)
        else:
            losses.append(-w[yn] * r[yn])
            denom += w[yn]
    return np_reduce(np.array(losses).reshape(np.shape(y)), reduction, denom)


# --- regression losses ---------------------------------------------------------------------------


def np_huber(d, delta):
    return np.where(np.abs(d) < delta, 0.5 * d * d, delta * (np.abs(d) - 0.5 * delta))


POINTWISE = [
    ("mse", L.mse_loss, {}, lambda d: d * d),
    ("l1", L.l1_loss, {}, np.abs),
    ("huber", L.huber_loss, {}, lambda d: np_huber(d, 1.0)),
    ("huber_delta", L.huber_loss, {"delta": 0.4}, lambda d: np_huber(d, 0.4)),
    ("smooth_l1", L.smooth_l1_loss, {}, lambda d: np_huber(d, 1.0)),
    ("smooth_l1_beta", L.smooth_l1_loss, {"beta": 0.5}, lambda d: np_huber(d, 0.5) / 0.5),
    ("smooth_l1_beta0", L.smooth_l1_loss, {"beta": 0.0}, np.abs),
]


@pytest.mark.parametrize("name,fn,kw,ref", POINTWISE, ids=[p[0] for p in POINTWISE])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 3, 2)], ids=str)
def test_pointwise_losses(name, fn, kw, ref, reduction, shape):
    check_op(lambda x, t: fn(x, t, reduction=reduction, **kw), lambda x, t: np_reduce(ref(x - t), reduction),
             [shape, shape])


def test_notes_squared_error_is_one_line():
    s, t = nr.randn(6, 3, dtype=nr.float64), nr.randn(6, 3, dtype=nr.float64)
    expected = 0.5 * np.sum((t.array - s.array) ** 2)  # the notes' q_n = ½ Σ_i (t_ni - s_i)², summed over n
    np.testing.assert_allclose((0.5 * ((s - t) ** 2).sum()).item(), expected, rtol=1e-14)
    np.testing.assert_allclose((0.5 * L.mse_loss(s, t, reduction="sum")).item(), expected, rtol=1e-14)
    np.testing.assert_allclose(L.mse_loss(s, t).item(), 2 * expected / s.array.size, rtol=1e-14)


# --- cross-entropy with class indices ---------------------------------------------------------

# input shape, target shape, classes
CE_SHAPES = [((6, 5), (6,), 5), ((2, 4, 3), (2, 3), 4), ((5,), (), 5), ((2, 3, 2, 2), (2, 2, 2), 3)]
CE_CONFIGS = {
    "plain": {},
    "weight": {"weight": "w"},
    "ignore": {"ignore": True},
    "ignore_custom": {"ignore": True, "ignore_index": 1},
    "smooth": {"label_smoothing": 0.15},
    "all": {"weight": "w", "ignore": True, "label_smoothing": 0.3},
}


def make_targets(tshape, c, config, rng):
    y = rng.integers(0, c, tshape)
    ignore_index = config.get("ignore_index", -100)
    if config.get("ignore") and y.size > 1:
        y.reshape(-1)[::3] = ignore_index
    kw = {"ignore_index": ignore_index} if "ignore_index" in config else {}
    if "weight" in config:
        kw["weight"] = rng.uniform(0.3, 2.0, c)
    if "label_smoothing" in config:
        kw["label_smoothing"] = config["label_smoothing"]
    return y, kw


@pytest.mark.parametrize("config", sorted(CE_CONFIGS))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("xshape,tshape,c", CE_SHAPES, ids=lambda v: str(v))
def test_cross_entropy_index_targets(config, reduction, xshape, tshape, c, rng):
    y, kw = make_targets(tshape, c, CE_CONFIGS[config], rng)
    check_op(lambda x: L.cross_entropy(x, y, reduction=reduction, **kw),
             lambda x: np_cross_entropy(x, y, reduction=reduction, **kw), [xshape])
    if "label_smoothing" not in kw:
        check_op(lambda x: L.nll_loss(x, y, reduction=reduction, **kw),
                 lambda x: np_nll(x, y, reduction=reduction, **kw), [xshape])


@pytest.mark.parametrize("smoothing,weighted", [(0.0, False), (0.2, True)], ids=["plain", "weight_smooth"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6, 5), (2, 4, 3), (5,)], ids=str)
def test_cross_entropy_probability_targets(smoothing, weighted, reduction, shape, rng):
    c = shape[1] if len(shape) > 1 else shape[0]
    kw = {"label_smoothing": smoothing, "weight": rng.uniform(0.3, 2.0, c) if weighted else None}
    check_op(lambda x, t: L.cross_entropy(x, t, reduction=reduction, **kw),
             lambda x, t: np_cross_entropy_probs(x, t, reduction=reduction, **kw), [shape, shape], ["any", "pos"])


def test_losses_on_noncontiguous_inputs(rng):
    """Transposed, strided and reversed inputs and targets give the same losses and gradients as contiguous ones."""
    y = rng.integers(0, 4, 5)
    w = rng.uniform(0.5, 2.0, 4)
    check_op(lambda x: L.cross_entropy(x.T, y, w, label_smoothing=0.1),
             lambda x: np_cross_entropy(x.T, y, w, label_smoothing=0.1), [(4, 5)])
    check_op(lambda x: L.nll_loss(x[::-1, ::2], y), lambda x: np_nll(x[::-1, ::2], y), [(5, 8)])
    check_op(lambda x, t: L.cross_entropy(x.permute(1, 0, 2), t.permute(2, 1, 0)[:, :, ::-1]),
             lambda x, t: np_cross_entropy_probs(x.transpose(1, 0, 2), t.transpose(2, 1, 0)[:, :, ::-1]),
             [(4, 2, 3), (3, 4, 2)], ["any", "pos"])
    check_op(lambda x, t: L.mse_loss(x.T, t[::2]), lambda x, t: np.mean((x.T - t[::2]) ** 2), [(3, 4), (8, 3)])
    check_op(lambda x, t: L.huber_loss(x[:, ::-1], t.T, delta=0.5),
             lambda x, t: np.mean(np_huber(x[:, ::-1] - t.T, 0.5)), [(3, 4), (4, 3)])
    check_op(lambda x, t: L.binary_cross_entropy_with_logits(x.T, to_prob(t[::2])),
             lambda x, t: np.mean(to_prob(t[::2]) * np.logaddexp(0, -x.T)
                                  + (1 - to_prob(t[::2])) * np.logaddexp(0, x.T)),
             [(3, 4), (8, 3)], ["any", "unit"])


# --- fused vs composed --------------------------------------------------------------------------


@pytest.mark.parametrize("config", sorted(CE_CONFIGS) + ["probs", "probs_all"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("xshape,tshape,c", CE_SHAPES[:2], ids=lambda v: str(v))
def test_fused_and_composed_cross_entropy_agree(config, reduction, xshape, tshape, c, rng):
    if config.startswith("probs"):
        cdim = 1 if len(xshape) > 1 else 0
        y = nr.from_numpy(np.ascontiguousarray(np.moveaxis(rng.dirichlet(np.ones(c), tshape), -1, cdim)))
        kw = {"weight": rng.uniform(0.5, 2, c), "label_smoothing": 0.1} if config == "probs_all" else {}
    else:
        y, kw = make_targets(tshape, c, CE_CONFIGS[config], rng)
    x1 = nr.from_numpy(rng.standard_normal(xshape) * 3).requires_grad_()
    x2 = nr.from_numpy(x1.array.copy()).requires_grad_()
    fused = L.cross_entropy(x1, y, reduction=reduction, **kw)
    composed = L.cross_entropy_composed(x2, y, reduction=reduction, **kw)
    assert fused.shape == composed.shape
    np.testing.assert_allclose(fused.array, composed.array, rtol=1e-12, atol=1e-14)
    r = nr.from_numpy(rng.standard_normal(fused.shape))
    (fused * r).sum().backward()
    (composed * r).sum().backward()
    np.testing.assert_allclose(x1.grad.array, x2.grad.array, rtol=1e-11, atol=1e-14)
    # the fused op is one node of the graph
    assert type(fused.grad_fn).__name__ in ("CrossEntropy", "CrossEntropyProbs")


def test_cross_entropy_gradient_is_softmax_minus_onehot():
    x = nr.randn(4, 3, dtype=nr.float64, requires_grad=True)
    y = np.array([0, 2, 1, 2])
    L.cross_entropy(x, y, reduction="sum").backward()
    np.testing.assert_allclose(x.grad.array, A.softmax(x.detach()).array - np.eye(3)[y], rtol=1e-13, atol=1e-15)


# --- binary cross-entropy ------------------------------------------------------------------------


def to_prob(a):
    return 0.5 + 0.5 * a  # check_op's "unit" domain [-0.9, 0.9] → [0.05, 0.95]


@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weight"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape,wshape", [((5,), (5,)), ((3, 4), (3, 1)), ((2, 3, 2), (2,)), ((), ())], ids=str)
def test_binary_cross_entropy(weighted, reduction, shape, wshape, rng):
    w = rng.uniform(0.5, 2.0, wshape) if weighted else None

    def ref(x, t):
        p, q = to_prob(x), to_prob(t)
        loss = -(q * np.log(p) + (1 - q) * np.log(1 - p))
        return np_reduce(loss * (1 if w is None else w), reduction)

    check_op(lambda x, t: L.binary_cross_entropy(to_prob(x), to_prob(t), weight=w, reduction=reduction), ref,
             [shape, shape], "unit")


@pytest.mark.parametrize("config", ["plain", "weight", "pos_weight", "both"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6,), (4, 3), (2, 2, 3)], ids=str)
def test_binary_cross_entropy_with_logits(config, reduction, shape, rng):
    w = rng.uniform(0.5, 2.0, shape[:1] + (1,) * (len(shape) - 1)) if config in ("weight", "both") else None
    pw = rng.uniform(0.5, 3.0, shape[-1:]) if config in ("pos_weight", "both") else None

    def ref(x, t):
        q = to_prob(t)
        p = 1 if pw is None else pw
        loss = p * q * np.logaddexp(0, -x) + (1 - q) * np.logaddexp(0, x)
        return np_reduce(loss * (1 if w is None else w), reduction)

    check_op(lambda x, t: L.binary_cross_entropy_with_logits(x * 3, to_prob(t), weight=w, reduction=reduction,
                                                             pos_weight=pw),
             lambda x, t: ref(3 * x, t), [shape, shape], ["any", "unit"])


def test_bce_clamps_logs_like_pytorch():
    x = nr.tensor([0.0, 1.0, 0.0, 1.0], dtype=nr.float64, requires_grad=True)
    t = nr.tensor([1.0, 0.0, 0.0, 1.0], dtype=nr.float64, requires_grad=True)
    loss = L.binary_cross_entropy(x, t, reduction="none")
    np.testing.assert_array_equal(loss.array, [100.0, 100.0, 0.0, 0.0])
    loss.sum().backward()
    assert np.all(np.isfinite(x.grad.array)) and np.all(np.isfinite(t.grad.array))


# --- KL divergence -------------------------------------------------------------------------------


@pytest.mark.parametrize("log_target", [False, True], ids=["probs", "log_target"])
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 2), (6,)], ids=str)
def test_kl_div(log_target, reduction, shape):
    def ref(x, t):
        loss = np.exp(t) * (t - x) if log_target else t * (np.log(t) - x)
        if reduction == "batchmean":
            return loss.sum() / x.shape[0]
        return np_reduce(loss, reduction)

    check_op(lambda x, t: L.kl_div(x, t, reduction=reduction, log_target=log_target), ref, [shape, shape],
             ["any", "any" if log_target else "pos"])


def test_kl_div_zero_targets_contribute_zero():
    x = nr.from_numpy(np.log(np.array([[0.2, 0.3, 0.5]]))).requires_grad_()
    t = nr.from_numpy(np.array([[0.0, 0.4, 0.6]]))
    loss = L.kl_div(x, t, reduction="sum")
    np.testing.assert_allclose(loss.item(), 0.4 * np.log(0.4 / 0.3) + 0.6 * np.log(0.6 / 0.5), rtol=1e-14)
    loss.backward()
    np.testing.assert_allclose(x.grad.array, -t.array)


def test_kl_div_is_zero_for_equal_distributions():
    p = A.softmax(nr.randn(3, 4, dtype=nr.float64))
    assert abs(L.kl_div(A.log_softmax(nr.from_numpy(np.log(p.array))), p, reduction="batchmean").item()) < 1e-15


# --- PyTorch reference values ---------------------------------------------------------------------


@pytest.mark.parametrize("case", reference_cases(("loss_", "ce_", "nll_", "bce", "kl_")))
def test_against_pytorch(case):
    run_reference_case(case, rtol=1e-8, atol=1e-11)


# --- extreme logits ------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_extreme_logits_give_finite_losses_and_gradients(dtype):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [-1e4, -1e4, -1e4], [5e3, -5e3, 1e4]], dtype)
    y = np.array([1, 0, 2, 1])
    probs = np.array([[0.2, 0.3, 0.5]] * 4, dtype)
    calls = {
        "ce": lambda z: L.cross_entropy(z, y),
        "ce_all": lambda z: L.cross_entropy(z, y, weight=[1.0, 2.0, 0.5], label_smoothing=0.2),
        "ce_probs": lambda z: L.cross_entropy(z, probs, label_smoothing=0.1),
        "nll_of_log_softmax": lambda z: L.nll_loss(A.log_softmax(z, 1), y),
        "bce_logits": lambda z: L.binary_cross_entropy_with_logits(z, probs, pos_weight=[1.0, 2.0, 3.0]),
        "bce_of_sigmoid": lambda z: L.binary_cross_entropy(A.sigmoid(z), probs),
        "kl": lambda z: L.kl_div(A.log_softmax(z, 1), probs, reduction="batchmean"),
        "mse_of_softmax": lambda z: L.mse_loss(A.softmax(z, 1), probs),
        "mse": lambda z: L.mse_loss(z, probs),
        "l1": lambda z: L.l1_loss(z, -probs, reduction="sum"),
        "huber": lambda z: L.huber_loss(z, probs, delta=2.0),
        "smooth_l1": lambda z: L.smooth_l1_loss(z, probs, beta=0.5),
    }
    for name, fn in calls.items():
        z = nr.from_numpy(x.copy()).requires_grad_()
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            loss = fn(z)
            loss.backward()
        assert loss.dtype == dtype and z.grad.dtype == dtype, name
        assert np.isfinite(loss.item()), (name, loss.item())
        assert np.all(np.isfinite(z.grad.array)), (name, z.grad.array)
    # the values themselves: a confident right answer costs 0, a confident wrong one costs the logit gap
    z = nr.from_numpy(np.array([[1e4, -1e4], [-1e4, 1e4]], dtype))
    np.testing.assert_allclose(L.cross_entropy(z, np.array([0, 0]), reduction="none").array, [0.0, 2e4])


# --- dtype handling ----------------------------------------------------------------------------------


def test_float32_input_with_float64_or_integer_targets_stays_float32():
    x = nr.randn(4, 3, requires_grad=True)
    for loss in (L.mse_loss(x, np.zeros((4, 3))), L.cross_entropy(x, np.full((4, 3), 1 / 3)),
                 L.binary_cross_entropy_with_logits(x, np.ones((4, 3), np.int64)),
                 L.binary_cross_entropy(A.sigmoid(x), nr.ones(4, 3, dtype=nr.float64)),
                 L.cross_entropy(x, [0, 1, 2, 0], weight=np.array([1.0, 2.0, 3.0]))):
        assert loss.dtype == np.float32
        x.grad = None
        loss.backward()
        assert x.grad.dtype == np.float32


def test_target_gradients_flow_when_asked():
    x = nr.randn(3, 4, dtype=nr.float64, requires_grad=True)
    t = nr.rand(3, 4, dtype=nr.float64, requires_grad=True)
    L.mse_loss(x, t).backward()
    np.testing.assert_allclose(t.grad.array, -x.grad.array)


# --- reductions on empty selections --------------------------------------------------------------


def test_all_ignored_targets_give_nan_mean_and_zero_sum_like_pytorch():
    x = nr.randn(3, 4, dtype=nr.float64, requires_grad=True)
    y = np.full(3, -100)
    with np.errstate(all="raise"):
        assert np.isnan(L.cross_entropy(x, y).item())
        assert np.isnan(L.nll_loss(x, y).item())
        assert L.cross_entropy(x, y, reduction="sum").item() == 0.0
        L.cross_entropy(x, y, reduction="sum").backward()
    np.testing.assert_array_equal(x.grad.array, np.zeros((3, 4)))


# --- errors -------------------------------------------------------------------------------------------


def test_class_index_out_of_range_names_index_and_classes():
    x = nr.randn(4, 5)
    with pytest.raises(ValueError, match=r"cross_entropy: target class index 7 is out of range for 5 classes"):
        L.cross_entropy(x, [0, 7, 1, 2])
    with pytest.raises(ValueError, match=r"nll_loss: target class index -1 is out of range for 5 classes"):
        L.nll_loss(x, [0, -1, 1, 2])
    with pytest.raises(ValueError, match=r"target class index 5 is out of range for 5 classes"):
        L.cross_entropy(nr.randn(2, 5, 3), np.array([[0, 1, 5], [1, 2, 3]]))
    # ignore_index itself is fine
    assert np.isfinite(L.cross_entropy(x, [0, -100, 1, 2]).item())


def test_shape_mismatches_name_both_shapes():
    with pytest.raises(ValueError, match=r"mse_loss: input has shape \(4, 1\) but target has shape \(4,\)"):
        L.mse_loss(nr.randn(4, 1), nr.randn(4))
    with pytest.raises(ValueError, match=r"cross_entropy: for input of shape \(4, 5\).*shape \(4,\), got shape \(3,\)"):
        L.cross_entropy(nr.randn(4, 5), [0, 1, 2])
    with pytest.raises(ValueError, match=r"probability targets.*\(4, 5\), got shape \(4, 3\)"):
        L.cross_entropy(nr.randn(4, 5), nr.rand(4, 3))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: input has shape \(3,\) but target"):
        L.binary_cross_entropy_with_logits(nr.randn(3), nr.rand(3, 1))
    with pytest.raises(ValueError, match=r"weight must have one value per class, shape \(5,\), got shape \(4,\)"):
        L.cross_entropy(nr.randn(4, 5), [0, 1, 2, 3], weight=np.ones(4))
    with pytest.raises(ValueError, match=r"pos_weight of shape \(4,\) does not broadcast"):
        L.binary_cross_entropy_with_logits(nr.randn(2, 3), nr.rand(2, 3), pos_weight=np.ones(4))


def test_other_bad_arguments():
    x = nr.randn(4, 3)
    with pytest.raises(ValueError, match="reduction must be one of 'mean', 'sum', 'none', got 'avg'"):
        L.mse_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        L.cross_entropy(x, [0, 1, 2, 0], label_smoothing=1.5)
    with pytest.raises(TypeError, match="class-index targets must be integers"):
        L.nll_loss(x, np.array([0.0, 1.0, 2.0, 0.0]))
    with pytest.raises(ValueError, match=r"input values must be probabilities in \[0, 1\]"):
        L.binary_cross_entropy(x, nr.rand(4, 3))
    with pytest.raises(ValueError, match="needs a class dimension|must have a class dimension"):
        L.cross_entropy(nr.tensor(1.0), 0)
    with pytest.raises(ValueError, match="batchmean"):
        L.mse_loss(x, x, reduction="batchmean")
