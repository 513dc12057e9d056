"""Plots: what each figure shows, PNG files written whole, and the error when matplotlib is missing.

matplotlib is one of the test dependencies (``pip install 'neurona[test]'``).
"""
import sys

import numpy as np
import pytest

from neurona import plot
from neurona.train import History

PNG = b"\x89PNG\r\n\x1a\n"


def _history(n=3):
    h = History()
    for e in range(n):
        h.on_epoch_end(e, {"loss": 1.0 / (e + 1), "accuracy": 0.5 + 0.1 * e, "val_loss": 1.2 / (e + 1),
                           "val_accuracy": 0.45 + 0.1 * e, "lr": 1e-3, "time": 0.1})
    return h


def _lines(ax):
    return {line.get_label(): line.get_ydata() for line in ax.get_lines() if not line.get_label().startswith("_")}


def test_learning_curves_show_loss_and_accuracy_for_train_and_validation(tmp_path):
    h = _history()
    fig = plot.learning_curves(h, tmp_path / "curves.png", title="run")
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_ylabel() == "loss" and acc_ax.get_ylabel() == "accuracy"
    np.testing.assert_allclose(_lines(loss_ax)["train"], h["loss"])
    np.testing.assert_allclose(_lines(loss_ax)["validation"], h["val_loss"])
    np.testing.assert_allclose(_lines(acc_ax)["validation"], h["val_accuracy"])
    assert (tmp_path / "curves.png").read_bytes()[:8] == PNG
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]  # no temporary file left
    one = plot.learning_curves(_history(1))
    ax = one.axes[0]  # a single epoch is drawn at 1, with no ticks at fractions of an epoch
    assert ax.get_xlim() == (0.5, 1.5)
    assert [t for t in ax.get_xticks() if 0.5 <= t <= 1.5] == [1.0]
    with pytest.raises(KeyError, match="nothing logged for f1"):
        plot.learning_curves(h, metrics=["loss", "f1"])


def test_compare_curves_one_line_per_run():
    runs = {"sgd": _history(4), "adam": _history(2)}
    fig = plot.compare_curves(runs, metrics=("loss", "val_accuracy", "never_logged"))
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "val_accuracy"]
    lines = _lines(fig.axes[1])
    assert set(lines) == {"sgd", "adam"} and len(lines["sgd"]) == 4 and len(lines["adam"]) == 2
    with pytest.raises(KeyError, match="none of"):
        plot.compare_curves(runs, metrics=("f1",))


def test_confusion_matrix_is_row_normalized():
    cm = np.array([[8, 2], [1, 3]])
    fig = plot.confusion_matrix(cm, ["cat", "dog"])
    shown = fig.axes[0].get_images()[0].get_array()
    np.testing.assert_allclose(shown, [[0.8, 0.2], [0.25, 0.75]])
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["cat", "dog"]
    raw = plot.confusion_matrix(cm, normalize=False).axes[0].get_images()[0].get_array()
    np.testing.assert_array_equal(raw, cm)
    with pytest.raises(ValueError, match="3 class names for 2 classes"):
        plot.confusion_matrix(cm, ["a", "b", "c"])
    with pytest.raises(ValueError, match="square"):
        plot.confusion_matrix(np.zeros((2, 3)))


def test_decision_boundary_colours_the_regions_of_the_classifier(tmp_path):
    X = np.array([[-1.0, 0.0], [1.0, 0.5], [-0.5, -1.0], [0.7, 1.0]])
    y = (X[:, 0] > 0).astype(int)
    asked = []

    def predict(P):
        asked.append(P.shape)
        return np.stack([P[:, 0] <= 0, P[:, 0] > 0], axis=1).astype(np.float32)  # scores: class 1 right of x=0

    fig = plot.decision_boundary(predict, X, y, tmp_path / "b.png", resolution=50)
    assert asked == [(2500, 2)]  # the whole grid in one call
    assert (tmp_path / "b.png").read_bytes()[:8] == PNG
    x0, x1 = fig.axes[0].get_xlim()
    assert x0 == pytest.approx(-1.5) and x1 == pytest.approx(1.5)
    with pytest.raises(ValueError, match=r"needs 2-D inputs \(N, 2\), got shape \(4, 3\)"):
        plot.decision_boundary(predict, np.zeros((4, 3)), y)


def test_lr_find_curve_is_on_a_log_axis_with_the_suggestion():
    lrs = np.logspace(-5, 0, 30)
    fig = plot.lr_find_curve(lrs, np.linspace(2.0, 0.5, 30), suggestion=1e-2)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    marks = [line for line in ax.get_lines() if len(line.get_xdata()) == 2]
    assert len(marks) == 1 and np.allclose(marks[0].get_xdata(), 1e-2) and marks[0].get_label() == "suggested lr 0.01"
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), lrs)


def test_every_plot_says_how_to_install_matplotlib(monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")] + ["matplotlib"]:
        monkeypatch.setitem(sys.modules, name, None)
    assert not plot.available()
    calls = [lambda: plot.learning_curves(_history()), lambda: plot.compare_curves({"a": _history()}),
             lambda: plot.confusion_matrix(np.eye(2)), lambda: plot.lr_find_curve([1e-3, 1e-2], [1.0, 0.5]),
             lambda: plot.decision_boundary(lambda P: P[:, 0] > 0, np.zeros((3, 2)), np.zeros(3, int))]
    for call in calls:
        with pytest.raises(plot.PlotUnavailable, match=r"pip install 'neurona\[plot\]'"):
            call()
