"""Loss layers (neurona/nn/loss.py): each module equals its function; options, buffers, errors, the notes' objective."""
from __future__ import annotations

import numpy as np
import pytest

import neurona as nr
from neurona import nn
from neurona.functional import activation as A
from neurona.functional import loss as L

W = np.array([0.5, 1.0, 2.0, 1.5])


def _logits(rng):
    return rng.standard_normal((6, 4)) * 2


def _labels(rng):
    y = rng.integers(0, 4, 6)
    y[2] = 3
    y[4] = -1  # a custom ignore_index in some cases
    return y


def _probs(rng):
    return rng.dirichlet(np.ones(4), 6)


# module, the equivalent function call, how to make (input, target)
CASES = [
    ("mse", nn.MSELoss(), L.mse_loss, lambda r: (r.standard_normal((6, 4)), r.standard_normal((6, 4)))),
    ("mse_sum", nn.MSELoss(reduction="sum"), lambda x, t: L.mse_loss(x, t, reduction="sum"),
     lambda r: (r.standard_normal(5), r.standard_normal(5))),
    ("l1_none", nn.L1Loss(reduction="none"), lambda x, t: L.l1_loss(x, t, reduction="none"),
     lambda r: (r.standard_normal((3, 2)), r.standard_normal((3, 2)))),
    ("huber", nn.HuberLoss(delta=0.5), lambda x, t: L.huber_loss(x, t, delta=0.5),
     lambda r: (r.standard_normal((6, 4)), r.standard_normal((6, 4)))),
    ("smooth_l1", nn.SmoothL1Loss(beta=0.3), lambda x, t: L.smooth_l1_loss(x, t, beta=0.3),
     lambda r: (r.standard_normal((6, 4)), r.standard_normal((6, 4)))),
    ("ce", nn.CrossEntropyLoss(), L.cross_entropy, lambda r: (_logits(r), r.integers(0, 4, 6))),
    ("ce_all", nn.CrossEntropyLoss(W, ignore_index=-1, label_smoothing=0.1, reduction="sum"),
     lambda x, t: L.cross_entropy(x, t, W, ignore_index=-1, reduction="sum", label_smoothing=0.1),
     lambda r: (_logits(r), _labels(r))),
    ("ce_probs", nn.CrossEntropyLoss(label_smoothing=0.2), lambda x, t: L.cross_entropy(x, t, label_smoothing=0.2),
     lambda r: (_logits(r), _probs(r))),
    ("nll", nn.NLLLoss(W, ignore_index=-1), lambda x, t: L.nll_loss(x, t, W, ignore_index=-1),
     lambda r: (np.log(_probs(r)), _labels(r))),
    ("bce", nn.BCELoss(), L.binary_cross_entropy, lambda r: (r.uniform(0.05, 0.95, (6, 4)), r.uniform(0, 1, (6, 4)))),
    ("bce_weight", nn.BCELoss(weight=W), lambda x, t: L.binary_cross_entropy(x, t, W),
     lambda r: (r.uniform(0.05, 0.95, (6, 4)), r.uniform(0, 1, (6, 4)))),
    ("bce_logits", nn.BCEWithLogitsLoss(pos_weight=W, reduction="none"),
     lambda x, t: L.binary_cross_entropy_with_logits(x, t, reduction="none", pos_weight=W),
     lambda r: (_logits(r), r.uniform(0, 1, (6, 4)))),
    ("kl", nn.KLDivLoss(reduction="batchmean"), lambda x, t: L.kl_div(x, t, reduction="batchmean"),
     lambda r: (np.log(_probs(r)), _probs(r))),
    ("kl_log_target", nn.KLDivLoss(log_target=True), lambda x, t: L.kl_div(x, t, log_target=True),
     lambda r: (np.log(_probs(r)), np.log(_probs(r)))),
]


@pytest.mark.parametrize("name,module,fn,make", CASES, ids=[c[0] for c in CASES])
def test_module_equals_function(name, module, fn, make, rng):
    x, t = make(rng)
    x1 = nr.from_numpy(x.astype(np.float32)).requires_grad_()
    x2 = nr.from_numpy(x.astype(np.float32)).requires_grad_()
    tt = t.astype(np.float32) if t.dtype.kind == "f" else t
    y1, y2 = module(x1, tt), fn(x2, tt)
    assert y1.dtype == np.float32
    np.testing.assert_array_equal(y1.array, y2.array)
    y1.sum().backward()
    y2.sum().backward()
    np.testing.assert_array_equal(x1.grad.array, x2.grad.array)


def test_defaults_follow_pytorch():
    ce = nn.CrossEntropyLoss()
    assert (ce.weight, ce.ignore_index, ce.reduction, ce.label_smoothing) == (None, -100, "mean", 0.0)
    assert nn.HuberLoss().delta == 1.0 and nn.SmoothL1Loss().beta == 1.0
    assert nn.KLDivLoss().reduction == "mean" and nn.KLDivLoss().log_target is False
    bce = nn.BCEWithLogitsLoss()
    assert bce.weight is None and bce.pos_weight is None and bce.reduction == "mean"


def test_weights_are_buffers():
    ce = nn.CrossEntropyLoss(weight=[1.0, 2.0, 3.0])
    assert [n for n, _ in ce.named_buffers()] == ["weight"]
    assert ce.weight.dtype == np.float32
    assert list(ce.state_dict()) == ["weight"]
    assert list(ce.parameters()) == []
    ce.double()
    assert ce.weight.dtype == np.float64
    bce = nn.BCEWithLogitsLoss(pos_weight=nr.tensor([3.0]))
    assert [n for n, _ in bce.named_buffers()] == ["pos_weight"]


def test_reprs():
    assert repr(nn.MSELoss()) == "MSELoss()"
    assert repr(nn.MSELoss(reduction="sum")) == "MSELoss(reduction='sum')"
    assert repr(nn.CrossEntropyLoss(label_smoothing=0.1)) == "CrossEntropyLoss(label_smoothing=0.1)"
    assert repr(nn.HuberLoss(delta=2.0)) == "HuberLoss(delta=2.0)"


def test_bad_options_fail_at_construction():
    with pytest.raises(ValueError, match="MSELoss: reduction must be one of 'mean', 'sum', 'none', got 'avg'"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="batchmean"):
        nn.CrossEntropyLoss(reduction="batchmean")
    nn.KLDivLoss(reduction="batchmean")  # valid only there
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        nn.CrossEntropyLoss(label_smoothing=-0.1)
    with pytest.raises(ValueError, match="HuberLoss: delta must be positive"):
        nn.HuberLoss(delta=0.0)
    with pytest.raises(TypeError):
        nn.MSELoss("sum")  # options are keyword-only: PyTorch's first positional is the deprecated size_average
    # HuberLoss has no deprecated slots in PyTorch: (reduction, delta) positionally, there and here
    huber = nn.HuberLoss("sum", 0.5)
    assert (huber.reduction, huber.delta) == ("sum", 0.5)
    x, t = nr.tensor([0.0, 2.0]), nr.tensor([0.1, 0.0])
    np.testing.assert_allclose(huber(x, t).item(), 0.5 * 0.1 ** 2 + 0.5 * (2 - 0.5 / 2), rtol=1e-6)  # ½d², δ(|d| - ½δ)
    assert L.huber_loss(x, t, "sum", 0.5).item() == huber(x, t).item()
    with pytest.raises(TypeError):
        L.cross_entropy(nr.randn(2, 3), [0, 1], None, None, -100)  # PyTorch's (weight, size_average, ignore_index)


def test_bad_targets_are_named():
    with pytest.raises(ValueError, match="target class index 9 is out of range for 4 classes"):
        nn.CrossEntropyLoss()(nr.randn(3, 4), [0, 9, 1])
    with pytest.raises(ValueError, match=r"input has shape \(3, 1\) but target has shape \(3,\)"):
        nn.MSELoss()(nr.randn(3, 1), nr.randn(3))


def test_notes_regularized_loss_in_one_line():
    # Loss = 1/(2N) Σ (y_i - h_i)² + λ/(2N) Σ W_j²  (the notes' regularized squared error)
    nr.manual_seed(0)
    model = nn.Linear(3, 2).double()
    x, t = nr.randn(8, 3, dtype=nr.float64), nr.randn(8, 2, dtype=nr.float64)
    n, lam = 8, 0.3
    loss = nn.MSELoss(reduction="sum")(model(x), t) / (2 * n) + lam / (2 * n) * nn.utils.l2_penalty(
        model.parameters())
    h = x.array @ model.weight.array.T + model.bias.array
    expected = ((t.array - h) ** 2).sum() / (2 * n) + lam / (2 * n) * sum((p.array ** 2).sum()
                                                                        for p in model.parameters())
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-13)
    loss.backward()
    g_reg = model.weight.grad.array.copy()
    model.zero_grad()
    (nn.MSELoss(reduction="sum")(model(x), t) / (2 * n)).backward()
    # the penalty adds (λ/N) W to the gradient: weight decay
    np.testing.assert_allclose(g_reg - model.weight.grad.array, lam / n * model.weight.array, rtol=1e-12)


def test_cross_entropy_trains_a_softmax_classifier():
    # three Gaussian blobs; plain gradient descent on CrossEntropyLoss separates them
    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])
    y = np.repeat(np.arange(3), 30)
    x = nr.from_numpy((centers[y] + rng.standard_normal((90, 2))).astype(np.float32))
    nr.manual_seed(0)
    model = nn.Linear(2, 3)
    criterion = nn.CrossEntropyLoss(label_smoothing=0.05)
    first = None
    for _ in range(100):
        model.zero_grad()
        loss = criterion(model(x), y)
        first = loss.item() if first is None else first
        loss.backward()
        for p in model.parameters():
            p.array -= 0.5 * p.grad.array
    assert loss.item() < first / 3
    accuracy = (model(x).array.argmax(axis=1) == y).mean()
    assert accuracy > 0.95
    np.testing.assert_allclose(A.softmax(model(x), 1).array.sum(axis=1), 1.0, rtol=1e-5)
