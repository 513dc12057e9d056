"""Dice loss, focal loss and per-pixel cross-entropy: PyTorch values and gradients, finite differences, float32."""
from __future__ import annotations

import json

import numpy as np
import pytest

import neurona
from neurona import nn
from neurona.vision import DiceLoss, dice_loss, sigmoid_focal_loss
from tests.opcheck import check_op
from tests.vision.conftest import FIXTURE

REF = np.load(FIXTURE, allow_pickle=False)


def cases(prefix):
    return sorted({k.split(".")[0] for k in REF.files if k.startswith(prefix) and k.endswith(".spec")})


def _check(case, fn):
    spec = json.loads(str(REF[f"{case}.spec"]))
    x = neurona.from_numpy(REF[f"{case}.x"].copy()).requires_grad_()
    t = REF[f"{case}.t"]
    if "t" in spec["grads"]:
        t = neurona.from_numpy(t.copy()).requires_grad_()
    consts = {k: REF[f"{case}.{k}"] for k in spec["consts"]}
    out = fn(x, t, consts, spec["kwargs"])
    np.testing.assert_allclose(out.array, REF[f"{case}.out"], rtol=1e-10, atol=1e-12)
    out.backward(REF[f"{case}.r"])
    np.testing.assert_allclose(x.grad.array, REF[f"{case}.grad_x"], rtol=1e-9, atol=1e-12)
    if "t" in spec["grads"]:
        np.testing.assert_allclose(t.grad.array, REF[f"{case}.grad_t"], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("case", cases("dice_"))
def test_dice_matches_torch(case):
    _check(case, lambda x, t, c, kw: dice_loss(x, t, c.get("w"), **kw))


@pytest.mark.parametrize("case", cases("focal_"))
def test_focal_matches_torchvisions_formula(case):
    _check(case, lambda x, t, c, kw: sigmoid_focal_loss(x, t, **kw))


@pytest.mark.parametrize("case", cases("ce_pixels_"))
def test_per_pixel_cross_entropy_with_class_weights_matches_pytorch(case):
    """nn.CrossEntropyLoss takes (N, C, H, W) logits with (N, H, W) targets, class weights and ignore_index."""
    def fn(x, t, c, kw):
        return nn.CrossEntropyLoss(weight=neurona.from_numpy(c["w"]), **kw)(x, t)
    _check(case, fn)


def test_dice_gradcheck_and_float32():
    t = np.random.default_rng(0).integers(0, 3, (2, 4, 5))
    t[0, 0, 0] = -1

    def ref(x):
        p = np.exp(x - x.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        valid = (t >= 0)[:, None]
        onehot = (t[:, None] == np.arange(3)[None, :, None, None]) * valid
        p = p * valid
        dice = (2 * (p * onehot).sum((0, 2, 3)) + 1) / (p.sum((0, 2, 3)) + onehot.sum((0, 2, 3)) + 1)
        return 1 - dice.mean()

    check_op(lambda x: dice_loss(x, t, ignore_index=-1), ref, [(2, 3, 4, 5)])


def test_focal_gradcheck_and_float32():
    t = (np.random.default_rng(1).random((3, 4)) < 0.4).astype(np.float64)

    def ref(x):
        p = 1 / (1 + np.exp(-x))
        ce = -(t * np.log(p) + (1 - t) * np.log(1 - p))
        p_t = p * t + (1 - p) * (1 - t)
        return (ce * (1 - p_t) ** 2 * (0.25 * t + 0.75 * (1 - t))).sum()

    check_op(lambda x: sigmoid_focal_loss(x, t.astype(x.dtype), reduction="sum"), ref, [(3, 4)])


def test_dice_perfect_prediction_and_module():
    t = np.array([[[0, 1], [2, 2]]])
    logits = (t[:, None] == np.arange(3)[None, :, None, None]) * 50.0
    assert dice_loss(neurona.from_numpy(logits), t, smooth=0.0).item() == pytest.approx(0.0, abs=1e-12)
    m = DiceLoss(weight=[1.0, 2.0, 0.0], smooth=0.5)
    x = neurona.randn(1, 3, 2, 2)
    assert m(x, t).item() == pytest.approx(dice_loss(x, t, np.array([1.0, 2.0, 0.0]), smooth=0.5).item())
    assert "smooth=0.5" in repr(m)


@pytest.mark.parametrize("call, message", [
    (lambda: dice_loss(neurona.randn(2, 3, 4), np.zeros((2, 5), int)), "does not match"),
    (lambda: dice_loss(neurona.randn(2, 3, 4), np.full((2, 4), 3)), r"in \[0, 3\)"),
    (lambda: dice_loss(neurona.randn(2, 3, 4), np.zeros((2, 4))), "integer class indices"),
    (lambda: dice_loss(neurona.randn(2, 3, 4), np.zeros((2, 4), int), weight=[1.0, 2.0]), "one per class"),
    (lambda: sigmoid_focal_loss(neurona.randn(2, 3), np.zeros((2, 3)), reduction="avg"), "reduction"),
])
def test_loss_errors(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()
