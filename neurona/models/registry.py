"""The model registry: build a model from a name and a config dict.

A saved model file (``neurona.io``) stores the *name* of the model and its
*config* (plain JSON values), never code; loading looks the name up here
and calls the registered builder with the config. Only registered builders
can run, so a model file cannot make neurona execute anything else.

Registering a model::

    from neurona.models.registry import register_model

    @register_model("lenet5", description="LeNet-5 for 1×28×28 images")
    class LeNet5(nn.Module):
        def __init__(self, num_classes=10, activation="tanh"): ...
        def get_config(self):                # the arguments that rebuild it
            return {"num_classes": self.num_classes, "activation": self.activation}

A plain function returning a Module works too (``register_model("name",
build_fn)``); models built through :func:`build_model` remember their name
and config, so they can be saved even without ``get_config``.

``from_cli(data_info, options) -> config`` (optional) lets the ``neurona``
command build the model for a data set: ``data_info`` has ``input_shape``
(one sample's shape, e.g. ``(28, 28)``), ``n_outputs`` and ``task``
(``"classification"`` or ``"regression"``); ``options`` has the command-line
choices ``hidden`` (list of ints), ``activation``, ``dropout`` and
``batch_norm``. Without it the command calls the builder with no arguments.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["register_model", "build_model", "get_model_spec", "list_models", "model_config", "ModelSpec",
           "UnknownModelError"]


class UnknownModelError(KeyError):
    """No model is registered under that name."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


@dataclass
class ModelSpec:
    name: str
    build: Callable[..., Any]
    cls: type | None = None
    from_cli: Callable[[dict, dict], dict] | None = None
    description: str = ""


_REGISTRY: dict[str, ModelSpec] = {}

_CONFIG_ATTR = "_neurona_model_config"


def register_model(name: str, build: Callable | None = None, *, from_cli: Callable | None = None,
                   description: str = "", overwrite: bool = False):
    """Register ``build`` (a Module class or a function returning a Module) under ``name``.

    Use directly, ``register_model("mlp", MLP)``, or as a decorator.
    """
    if not isinstance(name, str) or not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"register_model: name must be letters, digits, '-' or '_', got {name!r}")

    def deco(fn):
        if not callable(fn):
            raise TypeError(f"register_model({name!r}): expected a class or a function, got {type(fn).__name__}")
        old = _REGISTRY.get(name)
        if old is not None and not overwrite and old.build is not fn:
            raise ValueError(f"register_model: a model named {name!r} is already registered "
                             f"({getattr(old.build, '__qualname__', old.build)}); pass overwrite=True to replace it")
        doc = description or ((fn.__doc__ or "").strip().splitlines() or [""])[0]
        _REGISTRY[name] = ModelSpec(name, fn, fn if isinstance(fn, type) else None, from_cli, doc)
        return fn

    return deco if build is None else deco(build)


# Models registered by modules outside neurona.models (which import the models package themselves,
# so they cannot be imported from it): name -> module that registers it on import.
_ELSEWHERE = {"quantized": "neurona.compress.quantization", "skipgram": "neurona.text.word2vec",
              "cbow": "neurona.text.word2vec", "playground": "neurona.playground.model"}


def _ensure_loaded(name: str | None = None) -> None:
    # importing the package runs every model module's register_model calls
    from .. import models  # noqa: F401

    if name is not None and name not in _REGISTRY and name in _ELSEWHERE:
        import importlib

        importlib.import_module(_ELSEWHERE[name])


def get_model_spec(name: str) -> ModelSpec:
    _ensure_loaded(name)
    spec = _REGISTRY.get(name)
    if spec is None:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise UnknownModelError(f"no model named {name!r} is registered; known models: {known}")
    return spec


def list_models() -> dict[str, str]:
    """Registered model names and their one-line descriptions."""
    _ensure_loaded()
    return {n: s.description for n, s in sorted(_REGISTRY.items())}


def build_model(name: str, **config):
    """Build the registered model ``name`` with ``config`` as keyword arguments.

    The model remembers ``(name, config)`` so ``neurona.io.save`` can store them.
    """
    spec = get_model_spec(name)
    try:
        model = spec.build(**config)
    except TypeError as e:
        raise TypeError(f"build_model({name!r}): cannot build it from config {config}: {e}") from None
    try:
        object.__setattr__(model, _CONFIG_ATTR, (name, dict(config)))
    except (AttributeError, TypeError):  # pragma: no cover - objects without a __dict__
        pass
    return model


def model_config(model) -> tuple[str, dict] | None:
    """``(registered name, config)`` that rebuilds ``model``, or None if it cannot be rebuilt by name.

    A model's own ``get_config()`` wins (it reflects the instance); else the
    name and config it was built with by :func:`build_model`.
    """
    _ensure_loaded()
    get_config = getattr(model, "get_config", None)
    if callable(get_config):
        for spec in _REGISTRY.values():
            if spec.cls is not None and type(model) is spec.cls:
                return spec.name, dict(get_config())
    stamped = getattr(model, "__dict__", {}).get(_CONFIG_ATTR)
    if stamped is not None:
        return stamped[0], dict(stamped[1])
    return None
