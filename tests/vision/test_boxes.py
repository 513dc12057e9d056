"""Box formats, IoU, GIoU and NMS: torchvision's semantics (recorded from plain-torch versions) and hand-checked cases."""
from __future__ import annotations

import json

import numpy as np
import pytest

import neurona
from neurona.vision import (batched_nms, box_area, box_convert, box_iou, clip_boxes_to_image, generalized_box_iou,
                            nms, remove_small_boxes)
from tests.opcheck import check_op
from tests.vision.conftest import FIXTURE

REF = np.load(FIXTURE, allow_pickle=False)


def test_hand_checked_iou():
    a = np.array([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 4.0, 4.0]])
    b = np.array([[1.0, 0.0, 3.0, 2.0], [0.0, 0.0, 2.0, 2.0], [5.0, 5.0, 6.0, 6.0], [2.0, 2.0, 3.0, 3.0]])
    expected = np.array([[2 / 6, 1.0, 0.0, 0.0],            # touching at a corner: no overlap
                         [4 / 16, 4 / 16, 0.0, 1 / 16]])
    np.testing.assert_allclose(box_iou(a, b), expected)
    np.testing.assert_allclose(box_area(a), [4.0, 16.0])
    # GIoU of disjoint boxes: −(hull − union)/hull
    g = generalized_box_iou(np.array([[0.0, 0.0, 1.0, 1.0]]), np.array([[2.0, 0.0, 3.0, 1.0]]))
    np.testing.assert_allclose(g, [[-(3 - 2) / 3]])


@pytest.mark.parametrize("name, fn", [("box_iou", box_iou), ("generalized_box_iou", generalized_box_iou)])
def test_iou_values_and_gradients_match_torch(name, fn):
    a = neurona.from_numpy(REF[f"{name}.a"].copy()).requires_grad_()
    b = neurona.from_numpy(REF[f"{name}.b"].copy()).requires_grad_()
    out = fn(a, b)
    assert isinstance(out, neurona.Tensor)
    np.testing.assert_allclose(out.array, REF[f"{name}.out"], rtol=1e-12, atol=1e-12)
    out.backward(REF[f"{name}.r"])
    np.testing.assert_allclose(a.grad.array, REF[f"{name}.grad_a"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b.grad.array, REF[f"{name}.grad_b"], rtol=1e-10, atol=1e-12)


def _from_params(p):
    """Valid xyxy boxes from free parameters: corner (p0, p1)/2, size (1 + e^p2, 1 + e^p3); most pairs overlap."""
    xy = p[:, :2] * 0.5
    if isinstance(p, neurona.Tensor):
        return neurona.cat([xy, xy + p[:, 2:].exp() + 1.0], 1)
    return np.concatenate([xy, xy + np.exp(p[:, 2:]) + 1.0], 1)


@pytest.mark.parametrize("fn, ref", [(box_iou, "_np_iou"), (generalized_box_iou, "_np_giou")])
def test_iou_gradcheck_and_float32(fn, ref):
    ref = globals()[ref]
    check_op(lambda p, q: fn(_from_params(p), _from_params(q)),
             lambda p, q: ref(_from_params(p), _from_params(q)), [(4, 4), (5, 4)], seed=3)


def _np_iou(a, b):
    inter = np.prod(np.clip(np.minimum(a[:, None, 2:], b[None, :, 2:]) - np.maximum(a[:, None, :2], b[None, :, :2]),
                            0, None), axis=-1)
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None] - inter)


def _np_giou(a, b):
    inter = np.prod(np.clip(np.minimum(a[:, None, 2:], b[None, :, 2:]) - np.maximum(a[:, None, :2], b[None, :, :2]),
                            0, None), axis=-1)
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    union = area(a)[:, None] + area(b)[None] - inter
    hull = np.prod(np.maximum(a[:, None, 2:], b[None, :, 2:]) - np.minimum(a[:, None, :2], b[None, :, :2]), axis=-1)
    return inter / union - (hull - union) / hull


def test_zero_area_boxes_give_nan_like_torchvision():
    e = np.array([[1.0, 1.0, 1.0, 3.0]])
    assert np.isnan(box_iou(e, e)[0, 0])
    assert box_iou(e, np.array([[0.0, 0.0, 2.0, 2.0]]))[0, 0] == 0.0


@pytest.mark.parametrize("fmt, expected", [("xywh", [10, 20, 20, 40]), ("cxcywh", [20, 40, 20, 40]),
                                           ("xyxy", [10, 20, 30, 60])])
def test_box_convert(fmt, expected):
    xyxy = np.array([[10.0, 20.0, 30.0, 60.0]])
    np.testing.assert_allclose(box_convert(xyxy, "xyxy", fmt), [expected])
    np.testing.assert_allclose(box_convert(np.array([expected], float), fmt, "xyxy"), xyxy)
    for other in ("xyxy", "xywh", "cxcywh"):  # every path round-trips
        there = box_convert(np.array([expected], float), fmt, other)
        np.testing.assert_allclose(box_convert(there, other, fmt), [expected])


def test_box_convert_is_differentiable_and_keeps_float32():
    b = neurona.tensor([[1.0, 2.0, 5.0, 8.0]], requires_grad=True)
    out = box_convert(b, "xyxy", "cxcywh")
    assert out.dtype == np.float32
    out.sum().backward()  # ∂(cx + cy + w + h)/∂(x1, y1, x2, y2) = (−1/2, −1/2, 3/2, 3/2)
    np.testing.assert_allclose(b.grad.array, [[-0.5, -0.5, 1.5, 1.5]])


def test_clip_and_remove_small():
    b = np.array([[-3.0, 2.0, 70.0, 10.0], [5.0, 5.0, 6.0, 30.0]])
    np.testing.assert_allclose(clip_boxes_to_image(b, (64, 64)), [[0, 2, 64, 10], [5, 5, 6, 30]])
    np.testing.assert_array_equal(remove_small_boxes(b, 2.0), [0])


NMS = sorted({k.split(".")[0] for k in REF.files if k.startswith("nms_")})


@pytest.mark.parametrize("case", NMS)
def test_nms_and_batched_nms_match_torchvisions_algorithm(case):
    b, s, c = REF[f"{case}.boxes"], REF[f"{case}.scores"], REF[f"{case}.idxs"]
    thr = float(REF[f"{case}.threshold"])
    np.testing.assert_array_equal(nms(b, s, thr), REF[f"{case}.keep"])
    np.testing.assert_array_equal(batched_nms(b, s, c, thr), REF[f"{case}.keep_batched"])
    # Tensors in, the same indices out
    np.testing.assert_array_equal(nms(neurona.from_numpy(b), neurona.from_numpy(s), thr), REF[f"{case}.keep"])


def test_nms_hand_checked():
    b = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10]], np.float32)
    s = np.array([0.9, 0.8, 0.7, 0.95])
    # IoU(box 0, box 1) = 81/119 = 0.68: suppressed at 0.5, kept at 0.7; box 3 duplicates box 0 with a higher score
    np.testing.assert_array_equal(nms(b, s, 0.5), [3, 2])
    np.testing.assert_array_equal(nms(b, s, 0.7), [3, 1, 2])
    np.testing.assert_array_equal(nms(b, s, 1.0), [3, 0, 1, 2])  # nothing has IoU > 1
    # different classes never suppress each other
    np.testing.assert_array_equal(batched_nms(b, s, np.array([0, 0, 0, 1]), 0.5), [3, 0, 2])
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).shape == (0,)
    assert batched_nms(np.zeros((0, 4)), np.zeros(0), np.zeros(0, int), 0.5).shape == (0,)


@pytest.mark.parametrize("call, message", [
    (lambda: box_iou(np.zeros((2, 3)), np.zeros((1, 4))), r"boxes1 must have shape \(N, 4\)"),
    (lambda: box_convert(np.zeros((1, 4)), "xyxy", "yxyx"), "out_fmt"),
    (lambda: nms(np.zeros((2, 4)), np.zeros(3), 0.5), "one per box"),
    (lambda: batched_nms(np.zeros((2, 4)), np.zeros(2), np.zeros(3), 0.5), "idxs"),
])
def test_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
