"""scikit-learn estimators around neurona models: ``NeuralNetClassifier`` and ``NeuralNetRegressor``.

They follow scikit-learn's conventions (``fit``/``predict``/``score``,
``get_params``/``set_params``/``clone``, fitted attributes ending in ``_``),
so a neurona network drops into a ``Pipeline``, a ``GridSearchCV`` or
``cross_val_score`` like any scikit-learn model:

>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> from sklearn.model_selection import GridSearchCV
>>> from neurona.sklearn import NeuralNetClassifier
>>> pipe = make_pipeline(StandardScaler(), NeuralNetClassifier(hidden=(64,), max_epochs=30, random_state=0))
>>> search = GridSearchCV(pipe, {"neuralnetclassifier__lr": [1e-3, 3e-3],
...                              "neuralnetclassifier__hidden": [(32,), (64, 32)]}, cv=3).fit(X, y)

**The network.** ``module=None`` builds the notes' multilayer perceptron
(:class:`neurona.models.MLP`) from ``hidden``, ``activation`` and
``dropout``, sized from the data (inputs = features, outputs = classes or
targets). ``module`` may also be a Module class, built with the
``module__*`` parameters (``module=MyNet, module__width=64``), or a Module
instance, which each ``fit`` copies (its current weights are the starting
point); for a registered model (``neurona.models``) its config is exposed as
``module__*`` parameters, so a grid search can vary them. ``optimizer`` is a
name ('adam', 'sgd', 'adamw', 'rmsprop', ...) or an optimizer class, with
``lr`` and ``optimizer__*`` options (``optimizer__momentum=0.9``).

**Training.** ``fit`` trains from scratch for ``max_epochs`` epochs of
shuffled mini-batches of ``batch_size`` (with ``early_stopping``, on all
but a ``validation_fraction`` held out, stratified for classifiers, stopping
after ``n_iter_no_change`` epochs without a validation loss ``tol`` better,
and keeping the best weights); ``partial_fit`` runs one more epoch on the
data it is given. Each epoch appends ``{"epoch", "train_loss"[, "val_loss",
"val_score"]}`` to ``history_``. ``random_state`` makes the initialization,
the shuffling and dropout reproducible without touching neurona's global
generator.

**Saving.** ``est.save(path)`` writes a neurona model file (npz + JSON, no
pickle) holding the network's weights and config, the optimizer state, the
estimator's parameters and fitted attributes; ``NeuralNetClassifier.load(path)``
rebuilds it (pass ``module=`` for a network that is not a registered model).
The estimators also pickle, as scikit-learn expects (``joblib.dump``), for
those who choose to: pickle files run code when loaded, so load only your own.
"""
from __future__ import annotations

import copy
import inspect
import math
import sys

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError:  # pragma: no cover - depends on the environment
    raise ImportError("neurona.sklearn needs scikit-learn >= 1.6: pip install 'neurona[sklearn]'") from None

from . import nn, optim
from .creation import from_numpy, get_rng_state, manual_seed, set_rng_state
from .engine import no_grad

__all__ = ["NeuralNetClassifier", "NeuralNetRegressor"]

_PREFIXES = ("module__", "optimizer__")
_OPTIMIZERS = {name.lower(): getattr(optim, name) for name in optim.__all__
               if isinstance(getattr(optim, name), type) and name != "Optimizer"}


class _NeuralNet(BaseEstimator):
    """What the classifier and the regressor share: the network, the optimizer, the training loop."""

    def __init__(self, module=None, *, hidden=(100,), activation: str = "relu", dropout: float = 0.0,
                 optimizer="adam", lr: float = 1e-3, batch_size: int = 32, max_epochs: int = 50,
                 early_stopping: bool = False, validation_fraction: float = 0.1, n_iter_no_change: int = 10,
                 tol: float = 1e-4, random_state=None, verbose: int = 0, **kwargs):
        self.module = module
        self.hidden = hidden
        self.activation = activation
        self.dropout = dropout
        self.optimizer = optimizer
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose
        for k, v in kwargs.items():  # module__* and optimizer__*; anything else is refused by fit
            setattr(self, k, v)

    # --- parameters: the signature's, plus module__* and optimizer__* --------------------------------

    def get_params(self, deep: bool = True) -> dict:
        params = super().get_params(deep=False)
        params.update({k: v for k, v in self.__dict__.items() if k.startswith(_PREFIXES)})
        if deep and isinstance(self.module, nn.Module):
            # a registered model's config, as nested parameters (what a grid search varies)
            for k, v in _module_config(self.module).items():
                params.setdefault(f"module__{k}", v)
        return params

    def set_params(self, **params):
        own = {k: v for k, v in params.items() if not k.startswith(_PREFIXES)}
        for k, v in params.items():
            if k.startswith(_PREFIXES):
                setattr(self, k, v)
        return super().set_params(**own) if own else self

    def _prefixed(self, prefix: str) -> dict:
        return {k[len(prefix):]: v for k, v in self.__dict__.items() if k.startswith(prefix)}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags

    # --- building ---------------------------------------------------------------------------------------

    def _build_module(self, n_features: int, n_outputs: int) -> nn.Module:
        kwargs = self._prefixed("module__")
        m = self.module
        if m is None:
            from .models import MLP

            hidden = [self.hidden] if isinstance(self.hidden, (int, np.integer)) else list(self.hidden)
            return MLP(n_features, hidden, n_outputs, activation=self.activation, dropout=self.dropout, **kwargs)
        if isinstance(m, type) and issubclass(m, nn.Module):
            return m(**kwargs)
        if isinstance(m, nn.Module):
            if not kwargs:
                return copy.deepcopy(m)
            config = _module_config(m)
            if not config:
                raise ValueError(f"{type(self).__name__}: module__{next(iter(kwargs))} cannot change an instance "
                                 f"of {type(m).__name__} (it has no get_config); pass the class and its "
                                 f"arguments instead: module={type(m).__name__}, module__...=...")
            return type(m)(**{**config, **kwargs})
        raise TypeError(f"{type(self).__name__}: module must be None, a neurona.nn.Module class or instance, "
                        f"got {type(m).__name__}")

    def _build_optimizer(self, params):
        opt = self.optimizer
        if isinstance(opt, str):
            key = opt.lower()
            if key not in _OPTIMIZERS:
                raise ValueError(f"{type(self).__name__}: unknown optimizer {opt!r}; choose one of "
                                 f"{', '.join(sorted(_OPTIMIZERS))} or pass an optimizer class")
            opt = _OPTIMIZERS[key]
        if not (isinstance(opt, type) and issubclass(opt, optim.Optimizer)):
            raise TypeError(f"{type(self).__name__}: optimizer must be a name or a neurona.optim.Optimizer class, "
                            f"got {opt!r}")
        return opt(params, lr=self.lr, **self._prefixed("optimizer__"))

    def _check_settings(self) -> None:
        name = type(self).__name__
        known = set(self._get_param_names())
        unknown = [k for k in vars(self) if not k.startswith(("_",) + _PREFIXES) and not k.endswith("_")
                   and k not in known]
        if unknown:
            raise TypeError(f"{name}: unexpected parameter(s) {', '.join(map(repr, sorted(unknown)))}; the extra "
                            f"parameters are module__<name> (the network's) and optimizer__<name> (the optimizer's)")
        for key in ("batch_size", "max_epochs", "n_iter_no_change"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name}: {key} must be a positive integer, got {v!r}")
        if not 0.0 < float(self.validation_fraction) < 1.0:
            raise ValueError(f"{name}: validation_fraction must be in (0, 1), got {self.validation_fraction}")
        if not float(self.lr) > 0:
            raise ValueError(f"{name}: lr must be positive, got {self.lr}")

    def _start(self, n_features: int, n_outputs: int) -> None:
        """A fresh network and optimizer, and the private random generator of this fit."""
        self._check_settings()
        seed = int(check_random_state(self.random_state).randint(2 ** 31 - 1))
        self._rng = np.random.default_rng(seed)
        with self._seeded():
            self.module_ = self._build_module(n_features, n_outputs)
        self.module_.float()
        self.optimizer_ = self._build_optimizer([p for p in self.module_.parameters() if p.requires_grad])
        self.history_ = []
        self.n_iter_ = 0

    def _seeded(self):
        return _SeededGlobal(int(self._rng.integers(2 ** 31 - 1)))

    # --- training -----------------------------------------------------------------------------------------

    def _epoch(self, X, y) -> float:
        model, opt, loss_fn = self.module_, self.optimizer_, self._loss()
        model.train()
        order = self._rng.permutation(len(X))
        total = 0.0
        bs = int(self.batch_size)
        with self._seeded():  # dropout draws from neurona's generator: reproducible, then put back
            for start in range(0, len(X), bs):
                idx = order[start:start + bs]
                opt.zero_grad()
                loss = loss_fn(model(from_numpy(X[idx])), from_numpy(y[idx]))
                loss.backward()
                opt.step()
                total += float(loss.item()) * len(idx)
        return total / len(X)

    def _fit_epochs(self, X, y, epochs: int, early_stopping: bool) -> None:
        Xv = yv = None
        if early_stopping:
            stratify = y if self._stratify() else None
            try:
                X, Xv, y, yv = train_test_split(X, y, test_size=self.validation_fraction, stratify=stratify,
                                                random_state=int(self._rng.integers(2 ** 31 - 1)))
            except ValueError:  # too few samples of a class to stratify: split without
                X, Xv, y, yv = train_test_split(X, y, test_size=self.validation_fraction,
                                                random_state=int(self._rng.integers(2 ** 31 - 1)))
        best, best_state, waited = math.inf, None, 0
        for _ in range(int(epochs)):
            record = {"epoch": len(self.history_) + 1, "train_loss": self._epoch(X, y)}
            if Xv is not None:
                out = self._forward(Xv)
                record["val_loss"] = float(self._loss()(from_numpy(out), from_numpy(yv)).item())
                record["val_score"] = self._val_score(out, yv)
            self.history_.append(record)
            self.n_iter_ += 1
            if self.verbose:
                print(" ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in record.items()),
                      file=sys.stderr)
            if Xv is not None:
                if record["val_loss"] < best - float(self.tol):
                    best, waited = record["val_loss"], 0
                    best_state = {k: np.array(getattr(v, "array", v), copy=True)
                                  for k, v in self.module_.state_dict().items()}
                else:
                    waited += 1
                    if waited >= int(self.n_iter_no_change):
                        break
        if best_state is not None:
            self.module_.load_state_dict(best_state)
            self.best_epoch_ = int(np.argmin([r["val_loss"] for r in self.history_]) + 1)

    def _forward(self, X) -> np.ndarray:
        """The network's outputs for X, in eval mode, in batches."""
        model = self.module_
        was = model.training
        model.eval()
        outs = []
        try:
            with no_grad():
                for start in range(0, len(X), 1024):
                    outs.append(model(from_numpy(X[start:start + 1024])).array)
        finally:
            model.train(was)
        return np.concatenate(outs) if outs else np.zeros((0, self._n_outputs()), np.float32)

    def _validate_X(self, X, reset: bool):
        return validate_data(self, X, reset=reset, dtype=np.float32, allow_nd=True)

    # --- saving (no pickle) ---------------------------------------------------------------------------------

    def save(self, path) -> None:
        """Write the fitted estimator to a neurona model file (npz + JSON header; no pickle).

        The network is stored with its config when it is a registered model
        (the default MLP is), else with its weights only. Load it with
        ``type(est).load(path)``.
        """
        from .io import save

        check_is_fitted(self, "module_")
        params = {}
        for k, v in self.get_params(deep=False).items():
            if k == "module":
                continue
            if k == "optimizer" and isinstance(v, type):
                v = v.__name__
            if k == "random_state" and not (v is None or isinstance(v, (int, np.integer))):
                v = None  # a RandomState object: the saved fit is what matters
            params[k] = list(v) if isinstance(v, tuple) else v
        state = {"estimator": type(self).__name__, "params": params, "history": self.history_,
                 "n_iter": int(self.n_iter_), "n_features_in": int(self.n_features_in_),
                 "module_given": self.module is not None,
                 "optimizer_state": self.optimizer_.state_dict(), **self._fitted_state()}
        if hasattr(self, "feature_names_in_"):
            state["feature_names_in"] = [str(n) for n in self.feature_names_in_]
        save(self.module_, path, sklearn=state)

    @classmethod
    def load(cls, path, module=None):
        """An estimator written by :meth:`save`; ``module`` is needed when the network is not a registered model."""
        from .io import ModelFileError, read_model_file

        f = read_model_file(path)
        state = f.metadata.get("sklearn")
        if not isinstance(state, dict) or state.get("estimator") != cls.__name__:
            found = state.get("estimator") if isinstance(state, dict) else "no estimator"
            raise ModelFileError(path, f"holds {found}, not a {cls.__name__}")
        net = f.build(module)
        params = dict(state["params"])
        if isinstance(params.get("hidden"), list):
            params["hidden"] = tuple(params["hidden"])
        if isinstance(params.get("optimizer"), str) and params["optimizer"].lower() not in _OPTIMIZERS:
            params["optimizer"] = "adam"
        est = cls(module=net if state.get("module_given") else None, **params)
        est.module_ = net
        est.module_.train()
        est.optimizer_ = est._build_optimizer([p for p in net.parameters() if p.requires_grad])
        est.optimizer_.load_state_dict(state["optimizer_state"])
        est.history_ = list(state["history"])
        est.n_iter_ = int(state["n_iter"])
        est.n_features_in_ = int(state["n_features_in"])
        if "feature_names_in" in state:
            est.feature_names_in_ = np.asarray(state["feature_names_in"], dtype=object)
        est._restore_fitted(state)
        est._rng = np.random.default_rng(int(check_random_state(est.random_state).randint(2 ** 31 - 1)))
        return est


def _named_parameters_signature():
    """The estimators' signature without ``**kwargs``: the named parameters, as introspection should list them
    (``module__*`` / ``optimizer__*`` pass through ``**kwargs``; they are not a parameter called "kwargs")."""
    sig = inspect.signature(_NeuralNet.__init__)
    return sig.replace(parameters=[p for name, p in sig.parameters.items()
                                   if name != "self" and p.kind is not p.VAR_KEYWORD])


class _SeededGlobal:
    """Seed neurona's global generator for a block, then put its previous state back."""

    def __init__(self, seed: int):
        self.seed = seed

    def __enter__(self):
        self.saved = get_rng_state()
        manual_seed(self.seed)

    def __exit__(self, *exc):
        set_rng_state(self.saved)
        return False


def _module_config(m) -> dict:
    get_config = getattr(m, "get_config", None)
    if not callable(get_config):
        return {}
    try:
        return dict(get_config())
    except Exception:
        return {}


class NeuralNetClassifier(ClassifierMixin, _NeuralNet):
    """A neurona network as a scikit-learn classifier: softmax outputs trained with cross-entropy.

    Fitted attributes: ``classes_``, ``n_features_in_``, ``feature_names_in_``
    (when X has string column names), ``module_`` (the trained network),
    ``optimizer_``, ``history_`` (one dict per epoch), ``n_iter_``.
    ``predict_proba`` gives the softmax of the outputs, ``predict`` the class
    with the highest probability, ``score`` the accuracy.

    >>> clf = NeuralNetClassifier(hidden=(32,), max_epochs=20, random_state=0).fit(X_train, y_train)
    >>> clf.score(X_test, y_test)
    """

    def _loss(self):
        return nn.CrossEntropyLoss()

    def _stratify(self) -> bool:
        return True

    def _n_outputs(self) -> int:
        return len(self.classes_)

    def _val_score(self, out, yv) -> float:
        return float(np.mean(out.argmax(axis=1) == yv))

    def _encode(self, y):
        idx = np.searchsorted(self.classes_, y)
        idx = np.clip(idx, 0, len(self.classes_) - 1)
        if not np.all(self.classes_[idx] == y):
            unknown = sorted(set(np.asarray(y).tolist()) - set(self.classes_.tolist()))
            raise ValueError(f"{type(self).__name__}: labels {unknown[:5]} are not among the classes "
                             f"{self.classes_.tolist()} given to the first fit/partial_fit")
        return idx.astype(np.int64)

    def fit(self, X, y):
        """Train a new network on (X, y) for ``max_epochs`` epochs (fewer with ``early_stopping``)."""
        X, y = validate_data(self, X, y, dtype=np.float32, allow_nd=True)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        self._start(X.shape[1] if X.ndim == 2 else int(np.prod(X.shape[1:])), len(self.classes_))
        self._fit_epochs(X, self._encode(y), self.max_epochs, bool(self.early_stopping))
        return self

    def partial_fit(self, X, y, classes=None):
        """One more epoch on (X, y); the first call builds the network (``classes``: every label to expect)."""
        first = not hasattr(self, "module_")
        X, y = validate_data(self, X, y, dtype=np.float32, allow_nd=True, reset=first)
        check_classification_targets(y)
        if first:
            self.classes_ = np.unique(y if classes is None else np.asarray(classes))
            self._start(X.shape[1] if X.ndim == 2 else int(np.prod(X.shape[1:])), len(self.classes_))
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"{type(self).__name__}.partial_fit: classes {np.unique(classes).tolist()} differ from "
                             f"those of the first call {self.classes_.tolist()}")
        self._fit_epochs(X, self._encode(y), 1, False)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n_samples, n_classes): the softmax of the network's outputs, in float64."""
        check_is_fitted(self, "module_")
        out = self._forward(self._validate_X(X, reset=False)).astype(np.float64)
        out -= out.max(axis=1, keepdims=True)
        e = np.exp(out)
        return e / e.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X) -> np.ndarray:
        return np.log(self.predict_proba(X))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each sample."""
        check_is_fitted(self, "module_")
        out = self._forward(self._validate_X(X, reset=False))
        return self.classes_[out.argmax(axis=1)]

    def _fitted_state(self) -> dict:
        c = self.classes_
        return {"classes": c.tolist(), "classes_kind": c.dtype.kind}

    def _restore_fitted(self, state: dict) -> None:
        kind = state.get("classes_kind", "i")
        self.classes_ = np.asarray(state["classes"], dtype=object if kind == "O" else None)


class NeuralNetRegressor(RegressorMixin, _NeuralNet):
    """A neurona network as a scikit-learn regressor: linear outputs trained with the mean squared error.

    One output per target column (y of shape (n,) or (n, k)); ``predict``
    returns the same shape, in float64; ``score`` is R². Fitted attributes as
    :class:`NeuralNetClassifier`, without ``classes_``.

    >>> reg = NeuralNetRegressor(hidden=(64,), max_epochs=100, random_state=0).fit(X_train, y_train)
    >>> reg.score(X_test, y_test)
    """

    def _loss(self):
        return nn.MSELoss()

    def _stratify(self) -> bool:
        return False

    def _n_outputs(self) -> int:
        return self.n_outputs_

    def _val_score(self, out, yv) -> float:
        ss_res = float(((yv - out) ** 2).sum())
        ss_tot = float(((yv - yv.mean(axis=0)) ** 2).sum())
        return 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _targets(self, y):
        y = np.asarray(y, dtype=np.float32)
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def fit(self, X, y):
        """Train a new network on (X, y) for ``max_epochs`` epochs (fewer with ``early_stopping``)."""
        X, y = validate_data(self, X, y, dtype=np.float32, allow_nd=True, multi_output=True, y_numeric=True)
        self._y_1d = y.ndim == 1
        y2 = self._targets(y)
        self.n_outputs_ = y2.shape[1]
        self._start(X.shape[1] if X.ndim == 2 else int(np.prod(X.shape[1:])), self.n_outputs_)
        self._fit_epochs(X, y2, self.max_epochs, bool(self.early_stopping))
        return self

    def partial_fit(self, X, y):
        """One more epoch on (X, y); the first call builds the network."""
        first = not hasattr(self, "module_")
        X, y = validate_data(self, X, y, dtype=np.float32, allow_nd=True, multi_output=True, y_numeric=True,
                             reset=first)
        y2 = self._targets(y)
        if first:
            self._y_1d = y.ndim == 1
            self.n_outputs_ = y2.shape[1]
            self._start(X.shape[1] if X.ndim == 2 else int(np.prod(X.shape[1:])), self.n_outputs_)
        elif y2.shape[1] != self.n_outputs_:
            raise ValueError(f"{type(self).__name__}.partial_fit: y has {y2.shape[1]} target(s), the network "
                             f"was built for {self.n_outputs_}")
        self._fit_epochs(X, y2, 1, False)
        return self

    def predict(self, X) -> np.ndarray:
        """The network's outputs, shaped like the training targets, in float64."""
        check_is_fitted(self, "module_")
        out = self._forward(self._validate_X(X, reset=False)).astype(np.float64)
        return out[:, 0] if self._y_1d else out

    def _fitted_state(self) -> dict:
        return {"n_outputs": int(self.n_outputs_), "y_1d": bool(self._y_1d)}

    def _restore_fitted(self, state: dict) -> None:
        self.n_outputs_ = int(state["n_outputs"])
        self._y_1d = bool(state["y_1d"])


NeuralNetClassifier.__signature__ = NeuralNetRegressor.__signature__ = _named_parameters_signature()
