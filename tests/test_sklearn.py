"""neurona.sklearn: NeuralNetClassifier / NeuralNetRegressor as scikit-learn estimators.

scikit-learn's own ``check_estimator`` suite runs on both (each check a test); then the estimators
work in Pipeline, GridSearchCV (nested ``module__*`` parameters included) and cross_val_score, train
incrementally with partial_fit, stop early, keep a history, and save/load without pickle.
"""
from __future__ import annotations

import pickle

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_iris, make_regression  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import neurona  # noqa: E402
from neurona import models, nn, optim  # noqa: E402
from neurona.sklearn import NeuralNetClassifier, NeuralNetRegressor  # noqa: E402


@parametrize_with_checks([NeuralNetClassifier(), NeuralNetRegressor()])
def test_scikit_learn_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X).astype(np.float32), y


def test_classifier_learns_iris(iris):
    X, y = iris
    clf = NeuralNetClassifier(hidden=(16,), max_epochs=60, lr=0.01, random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.95
    assert clf.classes_.tolist() == [0, 1, 2] and clf.n_features_in_ == 4
    p = clf.predict_proba(X[:5])
    assert p.shape == (5, 3) and p.dtype == np.float64
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert isinstance(clf.module_, models.MLP) and clf.module_.hidden == [16]
    assert len(clf.history_) == clf.n_iter_ == 60
    assert clf.history_[-1]["train_loss"] < clf.history_[0]["train_loss"]


def test_string_labels(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = NeuralNetClassifier(hidden=(8,), max_epochs=30, lr=0.01, random_state=1).fit(X, names)
    assert set(clf.predict(X)) <= set(names) and clf.score(X, names) > 0.8


def test_pipeline_grid_search_and_cross_validation(iris):
    X, y = iris
    pipe = make_pipeline(StandardScaler(), NeuralNetClassifier(max_epochs=25, lr=0.01, random_state=0))
    grid = GridSearchCV(pipe, {"neuralnetclassifier__hidden": [(4,), (16,)],
                               "neuralnetclassifier__dropout": [0.0, 0.2]}, cv=3)
    grid.fit(X, y)
    assert grid.best_score_ > 0.8 and len(grid.cv_results_["params"]) == 4
    scores = cross_val_score(NeuralNetClassifier(hidden=(8,), max_epochs=25, lr=0.01, random_state=0), X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.8


def test_nested_module_parameters_of_an_instance(iris):
    """A registered model passed as an instance exposes its config as module__* parameters."""
    X, y = iris
    clf = NeuralNetClassifier(module=models.MLP(4, (8,), 3), max_epochs=20, lr=0.01, random_state=0)
    params = clf.get_params()
    assert params["module__hidden"] == [8] and params["module__activation"] == "relu"
    grid = GridSearchCV(clf, {"module__hidden": [[4], [12]], "module__activation": ["tanh"]}, cv=2).fit(X, y)
    assert grid.best_estimator_.module_.activation == "tanh"
    assert grid.best_estimator_.module_.hidden in ([4], [12])
    assert clf.module.hidden == [8]  # the instance given is never trained nor changed
    fitted = clone(clf).set_params(module__hidden=[6]).fit(X, y)
    assert fitted.module_.hidden == [6]


class SmallCNN(nn.Module):
    def __init__(self, channels: int = 4, num_classes: int = 2):
        super().__init__()
        self.conv = nn.Conv2d(1, channels, 3, padding=1)
        self.head = nn.Linear(channels * 4 * 4, num_classes)

    def forward(self, x):
        return self.head(nn.functional.relu(self.conv(x)).flatten(1))


def test_module_class_with_module_parameters_on_images(rng):
    X = rng.standard_normal((60, 1, 4, 4)).astype(np.float32)
    y = (X[:, 0, :2].sum(axis=(1, 2)) > X[:, 0, 2:].sum(axis=(1, 2))).astype(int)
    clf = NeuralNetClassifier(SmallCNN, module__channels=3, module__num_classes=2, optimizer="sgd",
                              optimizer__momentum=0.9, lr=0.05, max_epochs=40, random_state=0)
    assert clf.get_params()["module__channels"] == 3
    clf.fit(X, y)
    assert clf.module_.conv.out_channels == 3 and isinstance(clf.optimizer_, optim.SGD)
    assert clf.optimizer_.param_groups[0]["momentum"] == 0.9
    assert clf.score(X, y) > 0.8
    again = clone(clf)
    assert again.get_params()["module__channels"] == 3 and again.module is SmallCNN


def test_partial_fit_continues_training(iris):
    X, y = iris
    clf = NeuralNetClassifier(hidden=(8,), lr=0.01, random_state=0)
    clf.partial_fit(X[:50], y[:50], classes=[0, 1, 2])
    first = clf.module_.layers[0].weight.array.copy()
    for _ in range(30):
        clf.partial_fit(X, y)
    assert len(clf.history_) == 31 and clf.n_iter_ == 31
    assert not np.array_equal(first, clf.module_.layers[0].weight.array)
    assert clf.score(X, y) > 0.85
    with pytest.raises(ValueError, match="differ from those of the first call"):
        clf.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:, :3], y)


def test_early_stopping_keeps_the_best_epoch(iris):
    X, y = iris
    clf = NeuralNetClassifier(hidden=(32,), lr=0.05, max_epochs=300, early_stopping=True,
                              validation_fraction=0.2, n_iter_no_change=5, random_state=0).fit(X, y)
    assert clf.n_iter_ < 300
    h = clf.history_
    assert {"epoch", "train_loss", "val_loss", "val_score"} <= set(h[0])
    best = min(r["val_loss"] for r in h)
    assert h[clf.best_epoch_ - 1]["val_loss"] == best
    assert all(r["val_loss"] > best - clf.tol for r in h[clf.best_epoch_:])


def test_random_state_reproduces_and_leaves_the_global_generator_alone(iris):
    X, y = iris
    neurona.manual_seed(123)
    state = neurona.creation.get_rng_state()
    a = NeuralNetClassifier(hidden=(8,), dropout=0.3, max_epochs=5, random_state=7).fit(X, y)
    b = NeuralNetClassifier(hidden=(8,), dropout=0.3, max_epochs=5, random_state=7).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert neurona.creation.get_rng_state() == state
    c = NeuralNetClassifier(hidden=(8,), dropout=0.3, max_epochs=5, random_state=8).fit(X, y)
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))


def test_regressor_single_and_multiple_targets():
    X, y = make_regression(n_samples=200, n_features=5, n_targets=2, noise=1.0, random_state=0)
    X = StandardScaler().fit_transform(X)
    y = (y - y.mean(0)) / y.std(0)
    reg = NeuralNetRegressor(hidden=(32,), lr=0.01, max_epochs=80, random_state=0).fit(X, y)
    assert reg.predict(X).shape == (200, 2) and reg.score(X, y) > 0.9
    one = NeuralNetRegressor(hidden=(32,), lr=0.01, max_epochs=80, random_state=0).fit(X, y[:, 0])
    pred = one.predict(X)
    assert pred.shape == (200,) and pred.dtype == np.float64 and one.score(X, y[:, 0]) > 0.9


def test_feature_names(iris):
    pd = pytest.importorskip("pandas")
    X, y = iris
    df = pd.DataFrame(X, columns=["sepal_l", "sepal_w", "petal_l", "petal_w"])
    clf = NeuralNetClassifier(hidden=(8,), max_epochs=5, random_state=0).fit(df, y)
    assert clf.feature_names_in_.tolist() == ["sepal_l", "sepal_w", "petal_l", "petal_w"]
    with pytest.warns(UserWarning, match="feature names"):
        clf.predict(X)


def test_save_and_load_without_pickle(tmp_path, iris):
    X, y = iris
    names = np.array(["a", "b", "c"])[y]
    clf = NeuralNetClassifier(hidden=(8,), lr=0.01, max_epochs=10, optimizer__weight_decay=1e-4,
                              random_state=0).fit(X, names)
    path = tmp_path / "clf.npz"
    clf.save(path)
    with np.load(path, allow_pickle=False) as z:  # plain arrays and a JSON header
        assert "__header__" in z.files
    back = NeuralNetClassifier.load(path)
    np.testing.assert_array_equal(back.predict(X), clf.predict(X))
    np.testing.assert_allclose(back.predict_proba(X), clf.predict_proba(X))
    assert back.classes_.tolist() == ["a", "b", "c"] and back.history_ == clf.history_
    assert back.get_params()["optimizer__weight_decay"] == 1e-4
    back.partial_fit(X, names)  # training goes on, with the optimizer's saved state
    assert back.n_iter_ == 11
    with pytest.raises(neurona.io.ModelFileError, match="not a NeuralNetRegressor"):
        NeuralNetRegressor.load(path)
    # a network that is not a registered model: its weights are saved, the module is given back at load
    reg = NeuralNetRegressor(SmallCNN, module__num_classes=1, max_epochs=2, random_state=0)
    Xi = np.random.default_rng(0).standard_normal((20, 1, 4, 4)).astype(np.float32)
    reg.fit(Xi, Xi.sum(axis=(1, 2, 3)))
    reg.save(tmp_path / "reg.npz")
    with pytest.raises(neurona.io.ModelFileError, match="weights only"):
        NeuralNetRegressor.load(tmp_path / "reg.npz")
    again = NeuralNetRegressor.load(tmp_path / "reg.npz", module=SmallCNN(num_classes=1))
    np.testing.assert_allclose(again.predict(Xi), reg.predict(Xi))


def test_pickle_when_asked(iris):
    X, y = iris
    clf = NeuralNetClassifier(hidden=(8,), max_epochs=3, random_state=0).fit(X, y)
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))


def test_bad_settings_are_named_at_fit(iris):
    X, y = iris
    with pytest.raises(TypeError, match="'hiden'"):
        NeuralNetClassifier(hiden=(3,)).fit(X, y)
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'"):
        NeuralNetClassifier(optimizer="adamm", max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        NeuralNetClassifier(batch_size=0).fit(X, y)
    with pytest.raises(ValueError, match="cannot change an instance"):
        NeuralNetClassifier(SmallCNN(), module__channels=2, max_epochs=1).fit(X.reshape(-1, 1, 2, 2), y)
