"""The playground's data sets, CSV uploads and settings."""
from __future__ import annotations

import numpy as np
import pytest

from neurona.playground.config import Config, ConfigError, Limits
from neurona.playground.datasets import (CLASSIFICATION, DATASETS, DataError, make_points, parse_csv, split)


@pytest.mark.parametrize("name", DATASETS)
def test_every_data_set(name):
    pts = make_points(name, n=300, noise=10, classes=3, ratio=60, seed=4)
    assert pts.X.shape == (300, 2) and pts.X.dtype == np.float32
    assert int(pts.train.sum()) == 180
    assert np.abs(pts.X).max() < 9
    if name in CLASSIFICATION:
        assert pts.task == "classification" and pts.y.dtype == np.int64 and pts.classes == 3
        assert set(np.unique(pts.y)) == {0, 1, 2}
    else:
        assert pts.task == "regression" and pts.y.dtype == np.float32
        assert np.abs(pts.y).max() < 2
    again = make_points(name, n=300, noise=10, classes=3, ratio=60, seed=4)
    np.testing.assert_array_equal(pts.X, again.X)
    assert not np.array_equal(pts.X, make_points(name, n=300, noise=10, classes=3, ratio=60, seed=5).X)


def test_the_two_class_sets_are_the_demos():
    xor = make_points("xor", 400, 0, 2, 50, 0)
    assert np.all((xor.X[:, 0] * xor.X[:, 1] > 0) == (xor.y == 0))
    circle = make_points("circle", 400, 0, 2, 50, 0)
    r = np.hypot(circle.X[:, 0], circle.X[:, 1])
    assert r[circle.y == 0].max() < r[circle.y == 1].min()
    gauss = make_points("gauss", 400, 0, 2, 50, 0)
    assert gauss.X[gauss.y == 0].mean(axis=0) @ [1, 1] > 0 > gauss.X[gauss.y == 1].mean(axis=0) @ [1, 1]


def test_classes_up_to_six():
    for name in CLASSIFICATION:
        assert set(np.unique(make_points(name, 600, 0, 6, 50, 1).y)) == set(range(6))
    with pytest.raises(DataError, match="classes"):
        make_points("spiral", 100, 0, 7, 50, 0)


def test_split_is_seeded_and_sized():
    a = split(101, 30, 3)
    assert a.sum() == 30 and np.array_equal(a, split(101, 30, 3))


def test_csv_classification_with_header_and_names():
    pts = parse_csv("x1,x2,label\n1,2,cat\n3,4,dog\n5,6,cat\n7,8,bird\n", ratio=50, seed=0)
    assert pts.task == "classification" and pts.classes == 3 and pts.class_names == ["bird", "cat", "dog"]
    assert pts.y.tolist() == [1, 2, 1, 0]
    view = pts.view
    assert np.abs(view).max() == pytest.approx(5.5)
    np.testing.assert_allclose(pts.to_raw(view), pts.X, rtol=1e-6)


def test_csv_numeric_classes_and_regression():
    pts = parse_csv("0.5,1,0\n1,2,1\n3,1,1\n")
    assert pts.task == "classification" and pts.class_names == ["0", "1"]
    assert parse_csv("0.5,1,0\n1,2,1\n3,1,1\n", problem="regression").task == "regression"
    reg = parse_csv("0,0,0.5\n1,1,1.5\n2,0,2.5\n3,3,10\n")
    assert reg.task == "regression" and reg.classes == 0
    t = reg.targets(np.ones(4, bool))
    assert t.shape == (4, 1) and abs(float(t.mean())) < 1e-6 and float(t.std()) == pytest.approx(1.0, rel=1e-5)


@pytest.mark.parametrize("text, match", [
    ("", "no rows"), ("x1,x2,label\n", "header but no rows"), ("1,2\n", "3"), ("1,2,0\n2,a,1\n", "finite"),
    ("1,2,\n", "empty"), ("1,2,0\n2,3,0\n", "two classes"), ("1,2,nan\n3,4,0\n", "not a finite number"),
    ("\n".join(f"{i},{i},w{i}" for i in range(8)), "at most 6"),
])
def test_csv_refusals_name_the_problem(text, match):
    with pytest.raises(DataError, match=match):
        parse_csv(text)


def test_csv_too_many_rows():
    with pytest.raises(DataError, match="at most 10 points"):
        parse_csv("\n".join(f"{i},{i},{i % 2}" for i in range(11)), max_points=10)


def test_default_config_is_the_demos():
    c = Config()
    assert (c.dataset, c.hidden, c.activation, c.lr, c.batch, c.optimizer) == \
        ("circle", [4, 2], "tanh", 0.03, 10, "sgd")
    assert Config().updated({}).to_dict() == c.to_dict()


@pytest.mark.parametrize("changes, key", [
    ({"hidden": [8] * 11}, "hidden"), ({"hidden": [33]}, "hidden"), ({"hidden": [0]}, "hidden"),
    ({"lr": 0}, "lr"), ({"lr": 11}, "lr"), ({"batch": 1001}, "batch"), ({"points": 5001}, "points"),
    ({"features": []}, "features"), ({"features": ["x9"]}, "features"), ({"activation": "elu"}, "activation"),
    ({"dropout": 0.95}, "dropout"), ({"classes": 7}, "classes"), ({"batch_norm": 1}, "batch_norm"),
    ({"optimizer": "lbfgs"}, "optimizer"), ({"colour": "red"}, "colour"), ({"beta1": 1.0}, "beta1"),
    ({"problem": "regression"}, "problem"), ({"dataset": "plane"}, "problem"),
    ({"dataset": "plane", "problem": "regression"}, "loss"),
])
def test_config_refusals_name_the_setting(changes, key):
    with pytest.raises(ConfigError) as e:
        Config().updated(changes)
    assert e.value.key == key and key in str(e.value)


def test_limits_are_configurable():
    lim = Limits(max_hidden_layers=2, max_neurons=4)
    Config().updated({"hidden": [4, 4]}, lim)
    with pytest.raises(ConfigError, match="at most 2"):
        Config().updated({"hidden": [4, 4, 4]}, lim)


def test_features_keep_the_pages_order():
    assert Config().updated({"features": ["sinx1", "x1"]}).features == ["x1", "sinx1"]
