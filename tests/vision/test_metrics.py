"""Segmentation IoU / mIoU (hand-checked, scikit-learn) and mAP (pycocotools' values, recorded and, if installed, live)."""
from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

import neurona
from neurona.vision import (MeanAveragePrecision, SegmentationScores, average_precision, confusion_matrix,
                            iou_from_confusion, mean_average_precision, mean_iou)
from tests.vision.conftest import FIXTURE

REF = np.load(FIXTURE, allow_pickle=False)


def test_confusion_and_iou_hand_checked():
    truth = np.array([[0, 0, 1, 1], [2, 2, 2, 255]])
    pred = np.array([[0, 1, 1, 1], [2, 2, 0, 1]])
    cm = confusion_matrix(pred, truth, 3, ignore_index=255)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 2, 0], [1, 0, 2]])
    # IoU: class 0 1/(2+2-1) = 1/3, class 1 2/(2+3-2) = 2/3, class 2 2/(3+2-2) = 2/3
    np.testing.assert_allclose(iou_from_confusion(cm), [1 / 3, 2 / 3, 2 / 3])
    assert mean_iou(pred, truth, 3, ignore_index=255) == pytest.approx(5 / 9)


def test_absent_classes_are_left_out_of_the_mean():
    truth, pred = np.array([[0, 0, 1]]), np.array([[0, 0, 1]])
    iou = iou_from_confusion(confusion_matrix(pred, truth, 4))
    assert np.isnan(iou[2]) and np.isnan(iou[3])
    assert mean_iou(pred, truth, 4) == 1.0


def test_scores_from_logits_accumulate_over_batches():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 5, (6, 7, 8))
    logits = rng.standard_normal((6, 5, 7, 8))
    scores = SegmentationScores(5)
    for s in (slice(0, 2), slice(2, 6)):
        scores.update(neurona.from_numpy(logits[s]), truth[s])
    whole = confusion_matrix(logits.argmax(1), truth, 5)
    np.testing.assert_array_equal(scores.cm, whole)
    result = scores.compute()
    assert result["pixel_accuracy"] == pytest.approx(np.trace(whole) / whole.sum())
    assert result["miou"] == pytest.approx(np.nanmean(iou_from_confusion(whole)))
    scores.reset()
    assert scores.cm.sum() == 0


def test_iou_agrees_with_scikit_learn():
    sklearn = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    truth, pred = rng.integers(0, 6, 500), rng.integers(0, 6, 500)
    np.testing.assert_allclose(iou_from_confusion(confusion_matrix(pred, truth, 6)),
                               sklearn.jaccard_score(truth, pred, average=None))


def test_segmentation_errors():
    with pytest.raises(ValueError, match="target labels must be in"):
        confusion_matrix(np.zeros((1, 2), int), np.array([[0, 7]]), 3)
    with pytest.raises(ValueError, match="match neither"):
        confusion_matrix(np.zeros((1, 3, 3, 3)), np.zeros((1, 2, 2), int), 3)


def _case(k):
    n = int(REF[f"map_{k}.images"])
    dets, gts = [], []
    for i in range(n):
        d, g = REF[f"map_{k}.det_image"] == i, REF[f"map_{k}.gt_image"] == i
        dets.append({"boxes": REF[f"map_{k}.det_boxes"][d], "scores": REF[f"map_{k}.det_scores"][d],
                     "labels": REF[f"map_{k}.det_labels"][d]})
        gts.append({"boxes": REF[f"map_{k}.gt_boxes"][g], "labels": REF[f"map_{k}.gt_labels"][g]})
    return dets, gts


MAP_CASES = sorted({int(k.split(".")[0][4:]) for k in REF.files if k.startswith("map_")})


@pytest.mark.parametrize("k", MAP_CASES)
def test_map50_equals_pycocotools_recorded(k):
    dets, gts = _case(k)
    assert mean_average_precision(dets, gts, 0.5)["map"] == pytest.approx(float(REF[f"map_{k}.ap50"]), abs=1e-12)


def _coco_map(dets, gts, iou):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    anns = [{"id": j + 1, "image_id": i + 1, "category_id": int(c) + 1, "iscrowd": 0,
             "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])],
             "area": float((b[2] - b[0]) * (b[3] - b[1]))}
            for j, (i, b, c) in enumerate((i, b, c) for i, g in enumerate(gts) for b, c in zip(g["boxes"], g["labels"]))]
    res = [{"image_id": i + 1, "category_id": int(c) + 1, "score": float(s),
            "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]}
           for i, d in enumerate(dets) for b, s, c in zip(d["boxes"], d["scores"], d["labels"])]
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {"images": [{"id": i + 1} for i in range(len(gts))], "annotations": anns,
                      "categories": [{"id": c + 1} for c in range(5)]}
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(res), "bbox")
        ev.params.iouThrs = np.array([iou])
        ev.evaluate()
        ev.accumulate()
    p = ev.eval["precision"][0, :, :, 0, -1]  # (recall points, classes) at area 'all', 100 detections
    valid = p[0] > -1
    return float(np.mean(p[:, valid])) if valid.any() else float("nan")


@pytest.mark.parametrize("seed, iou", [(0, 0.5), (1, 0.5), (2, 0.75), (3, 0.3)])
def test_map_equals_pycocotools_live(seed, iou):
    pytest.importorskip("pycocotools")
    rng = np.random.default_rng(seed)
    dets, gts = [], []
    for _ in range(12):
        m = int(rng.integers(0, 6))
        xy = rng.uniform(0, 40, (m, 2))
        g = np.concatenate([xy, xy + rng.uniform(4, 20, (m, 2))], 1)
        gl = rng.integers(0, 5, m)
        d = g + rng.normal(0, 2.5, g.shape)
        d[:, 2:] = np.maximum(d[:, 2:], d[:, :2] + 0.5)
        dl = np.where(rng.random(m) < 0.75, gl, rng.integers(0, 5, m))
        dets.append({"boxes": d, "scores": np.round(rng.random(m), 2), "labels": dl})
        gts.append({"boxes": g, "labels": gl})
    assert mean_average_precision(dets, gts, iou)["map"] == pytest.approx(_coco_map(dets, gts, iou), abs=1e-12)


def test_average_precision_hand_checked():
    # scores sorted: TP, FP, TP with 2 true boxes → precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1
    ap = average_precision(np.array([0.9, 0.8, 0.7]), np.array([True, False, True]), 2, "continuous")
    assert ap == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    coco = average_precision(np.array([0.9, 0.8, 0.7]), np.array([True, False, True]), 2, "coco")
    assert coco == pytest.approx((51 * 1 + 50 * 2 / 3) / 101)  # recalls 0..0.5 → 1, 0.51..1 → 2/3
    assert average_precision(np.array([0.5]), np.array([True]), 4, "coco") == pytest.approx(26 / 101)
    assert np.isnan(average_precision(np.zeros(0), np.zeros(0, bool), 0))


def test_map_details():
    box = np.array([[0.0, 0.0, 10.0, 10.0]])
    gt = [{"boxes": box, "labels": np.array([0])}, {"boxes": np.zeros((0, 4)), "labels": np.zeros(0, int)}]
    # a duplicate detection is a false positive; one with the wrong class counts for nothing in class 0
    dets = [{"boxes": np.concatenate([box, box + 1, box]), "scores": np.array([0.9, 0.8, 0.95]),
             "labels": np.array([0, 0, 1])}, {"boxes": np.zeros((0, 4)), "scores": np.zeros(0), "labels": np.zeros(0)}]
    result = mean_average_precision(dets, gt)
    assert result["ap_per_class"] == {0: pytest.approx(1.0)}  # class 1 has no true box: left out
    acc = MeanAveragePrecision()
    acc.update(dets[:1], gt[:1])
    acc.update(dets[1:], gt[1:])
    assert acc.compute()["map"] == pytest.approx(result["map"])
    with pytest.raises(ValueError, match="2 detection entries for 1 images"):
        mean_average_precision(dets, gt[:1])
    with pytest.raises(ValueError, match="'boxes', 'scores' and 'labels'"):
        mean_average_precision([{"boxes": box}], gt[:1])
