"""Metrics against hand-computed values and plain-NumPy definitions."""
import numpy as np
import pytest

import neurona
from neurona.train import metrics as M


def test_accuracy_from_scores_labels_onehot_and_tensors():
    scores = np.array([[2.0, 0.1, 0.3], [0.2, 1.5, 0.0], [0.0, 3.0, 0.1], [0.1, 0.2, 0.9]])
    y = np.array([0, 1, 2, 2])
    assert M.accuracy(y, scores) == 0.75
    assert M.accuracy(np.eye(3)[y], scores) == 0.75                       # one-hot targets
    assert M.accuracy(y, scores.argmax(1)) == 0.75                        # class indices
    assert M.accuracy(neurona.tensor(y), neurona.tensor(scores)) == 0.75  # Tensors
    assert M.accuracy([1, 0, 1], [0.9, 0.2, 0.4]) == pytest.approx(2 / 3)  # one probability column
    assert M.accuracy([1, 0], [[0.7], [0.66]], threshold=0.65) == 0.5


def test_accuracy_rejects_mismatch_and_continuous_targets():
    with pytest.raises(ValueError, match="3 samples but y_pred has 2"):
        M.accuracy([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="non-integer"):
        M.accuracy([0.5, 1.2], [[1, 0], [0, 1]])


def test_top_k_accuracy_matches_sorting_definition(rng):
    s = rng.normal(size=(200, 7))
    y = rng.integers(0, 7, 200)
    for k in (1, 2, 3, 7):
        topk = np.argsort(-s, axis=1)[:, :k]
        expected = np.mean([y[i] in topk[i] for i in range(200)])
        assert M.top_k_accuracy(y, s, k) == pytest.approx(expected)
    assert M.top_k_accuracy(y, s, 1) == M.accuracy(y, s)


def test_confusion_matrix_counts():
    y = [0, 0, 1, 2, 2, 2]
    p = [0, 1, 1, 2, 0, 2]
    cm = M.confusion_matrix(y, p)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert cm.dtype == np.int64
    assert M.confusion_matrix(y, p, num_classes=4).shape == (4, 4)
    with pytest.raises(ValueError, match="outside 0..1"):
        M.confusion_matrix([0, 2], [0, 1], num_classes=2)


def test_precision_recall_f1_per_class_and_macro():
    y = np.array([0, 0, 1, 2, 2, 2])
    p = np.array([0, 1, 1, 2, 0, 2])
    r = M.precision_recall_f1(y, p)
    # class 0: TP 1, FP 1, FN 1; class 1: TP 1, FP 1, FN 0; class 2: TP 2, FP 0, FN 1
    np.testing.assert_allclose(r["precision"], [1 / 2, 1 / 2, 1.0])
    np.testing.assert_allclose(r["recall"], [1 / 2, 1.0, 2 / 3])
    f1 = [2 * pr * rc / (pr + rc) for pr, rc in zip(r["precision"], r["recall"])]
    np.testing.assert_allclose(r["f1"], f1)
    np.testing.assert_array_equal(r["support"], [2, 1, 3])
    assert r["macro_f1"] == pytest.approx(np.mean(f1))
    assert r["accuracy"] == pytest.approx(4 / 6)
    assert M.f1_score(y, p) == pytest.approx(np.mean(f1))
    # a class never predicted gets precision 0 instead of a division by zero
    r2 = M.precision_recall_f1([0, 1], [0, 0], num_classes=2)
    assert r2["precision"][1] == 0.0 and r2["recall"][1] == 0.0 and r2["f1"][1] == 0.0


def test_against_scikit_learn_when_available(rng):
    skm = pytest.importorskip("sklearn.metrics")
    y = rng.integers(0, 5, 300)
    p = np.where(rng.random(300) < 0.6, y, rng.integers(0, 5, 300))
    r = M.precision_recall_f1(y, p)
    np.testing.assert_allclose(r["f1"], skm.f1_score(y, p, average=None))
    assert r["macro_f1"] == pytest.approx(skm.f1_score(y, p, average="macro"))
    np.testing.assert_array_equal(M.confusion_matrix(y, p), skm.confusion_matrix(y, p))
    t, q = rng.normal(size=(50, 2)), rng.normal(size=(50, 2))
    assert M.r2(t, q) == pytest.approx(skm.r2_score(t, q))


def test_classification_report_lists_every_class():
    text = M.classification_report([0, 1, 1], [0, 1, 0], ["cat", "dog"])
    assert "cat" in text and "dog" in text and "macro avg" in text and "accuracy" in text


def test_regression_metrics():
    t = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([1.5, 2.0, 2.0, 4.0])
    assert M.mse(t, p) == pytest.approx((0.25 + 0 + 1 + 0) / 4)
    assert M.mae(t, p) == pytest.approx((0.5 + 0 + 1 + 0) / 4)
    assert M.rmse(t, p) == pytest.approx(np.sqrt(1.25 / 4))
    ss_res, ss_tot = 1.25, ((t - t.mean()) ** 2).sum()
    assert M.r2(t, p) == pytest.approx(1 - ss_res / ss_tot)
    assert M.r2(t, t) == 1.0
    assert M.r2(t, np.full(4, t.mean())) == pytest.approx(0.0)
    assert M.mse(t[:, None], p) == M.mse(t, p)  # (N, 1) against (N,)
    with pytest.raises(ValueError, match="shape"):
        M.mse(np.zeros(3), np.zeros(4))


def test_get_metric_names_and_errors():
    assert M.get_metric("acc")[0] == "accuracy"
    assert M.get_metric("top5")[0] == "top_5_accuracy"
    name, fn = M.get_metric(lambda t, p: 0.0)
    assert name == "<lambda>"
    with pytest.raises(ValueError, match="unknown metric 'acuracy'"):
        M.get_metric("acuracy")
    assert M.greater_is_better("val_accuracy") and not M.greater_is_better("val_loss")
    assert not M.greater_is_better("mae") and M.greater_is_better("r2")
