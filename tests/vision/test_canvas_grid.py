"""Canvases of Fashion-MNIST items (labels agree with the pixels, reproducible) and the grid box coder and loss."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import neurona
from neurona.data.fashion import EmbeddedSubsetWarning
from neurona.vision import (GridBoxCoder, GridDetectionLoss, box_iou, fashion_canvases, make_canvases,
                            mean_average_precision)


@pytest.fixture(scope="module")
def canvases():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmbeddedSubsetWarning)
        return fashion_canvases("train", 40, seed=3, subset=True)


def test_shapes_dtypes_and_counts(canvases):
    assert canvases.images.shape == (40, 1, 64, 64) and canvases.images.dtype == np.float32
    assert canvases.masks.shape == (40, 64, 64) and canvases.masks.dtype == np.int64
    assert 0 <= canvases.images.min() and canvases.images.max() <= 1
    counts = [len(b) for b in canvases.boxes]
    assert min(counts) >= 1 and max(counts) <= 4 and len(set(counts)) > 1
    assert all(b.shape == (len(c), 4) and c.dtype == np.int64 for b, c in zip(canvases.boxes, canvases.labels))
    assert canvases.masks.max() <= 10


def test_labels_agree_with_pixels(canvases):
    for k in range(len(canvases)):
        image, mask, boxes, labels = canvases.images[k, 0], canvases.masks[k], canvases.boxes[k], canvases.labels[k]
        assert (image[mask == 0] <= 0.1).all()  # background pixels are dark (the threshold is 0.1)
        covered = np.zeros(mask.shape, bool)
        for (x1, y1, x2, y2), c in zip(boxes.astype(int), labels):
            assert (mask[y1:y2, x1:x2] == c + 1).any()  # each box holds pixels of its class
            covered[y1:y2, x1:x2] |= True
            ys, xs = np.nonzero(mask == c + 1)
            inside = np.zeros(len(ys), bool)
            for (a1, b1, a2, b2), c2 in zip(boxes.astype(int), labels):
                if c2 == c:
                    inside |= (xs >= a1) & (xs < a2) & (ys >= b1) & (ys < b2)
            assert inside.all()  # every pixel of class c lies in a box of class c
        assert (mask[~covered] == 0).all()
        iou = box_iou(boxes, boxes)
        assert (iou[~np.eye(len(boxes), dtype=bool)] <= 0.1 + 1e-6).all()  # the overlap rule holds


def test_reproducible_and_split_specific():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmbeddedSubsetWarning)
        a = fashion_canvases("test", 5, seed=1, subset=True)
        b = fashion_canvases("test", 5, seed=1, subset=True)
        c = fashion_canvases("test", 5, seed=2, subset=True)
    np.testing.assert_array_equal(a.images, b.images)
    assert all((x == y).all() for x, y in zip(a.boxes, b.boxes))
    assert not np.array_equal(a.images, c.images)
    sub = a[1:3]
    assert len(sub) == 2 and np.array_equal(sub.masks, a.masks[1:3]) and sub.targets()[0]["boxes"] is a.boxes[1]


def test_make_canvases_from_any_images():
    items = np.zeros((3, 8, 8), np.uint8)
    items[:, 2:6, 3:5] = 255
    c = make_canvases(items, np.array([4, 5, 6]), 6, size=16, items=(2, 2), seed=0)
    assert c.images.shape == (6, 1, 16, 16) and all(len(b) == 2 for b in c.boxes)
    b = c.boxes[0][0]
    assert (b[2] - b[0], b[3] - b[1]) == (2, 4)  # the tight box of the bright pixels
    with pytest.raises(ValueError, match="at least as large"):
        make_canvases(items, np.array([0, 1, 2]), 1, size=4)
    with pytest.raises(ValueError, match="fewest"):
        make_canvases(items, np.array([0, 1, 2]), 1, size=16, items=(3, 1))


def test_coder_round_trip(canvases):
    coder = GridBoxCoder(64, 8)
    t = coder.encode_batch(canvases.boxes, canvases.labels)
    assert t.shape == (40, 6, 8, 8) and t.dtype == np.float32
    assert ((t[:, 1] >= 0) == (t[:, 0] == 1)).all()
    # a perfect output (objectness and class logits far apart, box parameters = targets) decodes to the true boxes
    out = np.zeros((40, 15, 8, 8))
    out[:, 0] = np.where(t[:, 0] > 0, 20.0, -20.0)
    out[:, 1:5] = t[:, 2:6]
    cls = np.where(t[:, 1] >= 0, t[:, 1], 0).astype(int)
    out[:, 5:] = 20.0 * (np.arange(10)[None, :, None, None] == cls[:, None])
    dets = coder.decode(out)
    kept = int(t[:, 0].sum())
    assert sum(len(d["boxes"]) for d in dets) == kept
    m = mean_average_precision(dets, canvases.targets(), 0.99)
    lost = sum(len(b) for b in canvases.boxes) - kept  # boxes that shared a cell with a larger one
    assert m["map"] > 0.99 if lost == 0 else m["map"] > 0.8


def test_coder_hand_checked_and_collisions():
    coder = GridBoxCoder((32, 16), stride=8)
    assert coder.grid_size == (4, 2)
    t = coder.encode(np.array([[0.0, 0.0, 8.0, 8.0], [1.0, 1.0, 7.0, 5.0]]), np.array([2, 7]))
    assert t[0].sum() == 1 and t[1, 0, 0] == 2  # one cell, the larger box wins
    np.testing.assert_allclose(t[2:, 0, 0], [0.0, 0.0, 0.0, 0.0])  # centred in the cell, one cell wide
    np.testing.assert_allclose(coder.decode_boxes(t[None, 2:])[0, 0], [0, 0, 8, 8])
    with pytest.raises(ValueError, match="multiple of the stride"):
        GridBoxCoder(30, 8)
    with pytest.raises(ValueError, match="empty"):
        coder.encode(np.array([[3.0, 3.0, 3.0, 5.0]]), np.array([0]))


def test_grid_loss_parts_gradients_and_float32():
    rng = np.random.default_rng(0)
    t = GridBoxCoder(32, 8).encode_batch([np.array([[2.0, 3.0, 12.0, 20.0]]), np.zeros((0, 4))],
                                         [np.array([1]), np.zeros(0, int)])
    out = neurona.from_numpy(rng.standard_normal((2, 8, 4, 4)).astype(np.float32)).requires_grad_()
    parts = GridDetectionLoss().parts(out, t)
    assert all(v.dtype == np.float32 for v in parts.values())
    parts["loss"].backward()
    g = out.grad.array
    assert g.dtype == np.float32
    assert (g[1, 1:] == 0).all()  # the empty image gets only objectness gradients
    assert (g[0, 1:, 0, 0] == 0).all() and (g[0, 1:][:, 1, 0] != 0).all()  # box and class only at the object's cell
    assert neurona.gradcheck(lambda o: GridDetectionLoss()(o, t), neurona.from_numpy(rng.standard_normal((2, 8, 4, 4)))
                             .requires_grad_())
    with pytest.raises(ValueError, match="targets"):
        GridDetectionLoss()(out, t[:, :5])
