"""Whole architectures against PyTorch: AlexNet, VGG, ResNet-18, GoogLeNet (with its auxiliary classifiers)
and the naive Inception block, with both stems (small inputs and the ImageNet one at 64x64).

``tests/fixtures/record_models.py`` built each architecture in PyTorch with torchvision's parameter
names, drew its weights from a seed and recorded its outputs and gradients. Here the neurona model
draws the same weights, receives them by name from an .npz file (the path of pretrained PyTorch
weights), and must give the same eval outputs, training outputs (batch statistics, GoogLeNet's
(logits, aux2, aux1)) and gradients.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import neurona
from neurona import models

FIXTURES = Path(__file__).parents[1] / "fixtures"
sys.path.insert(0, str(FIXTURES))
from seeded_weights import seeded_input, seeded_state  # noqa: E402

REF = np.load(FIXTURES / "models_reference.npz", allow_pickle=False)

BUILDERS = {
    "alexnet_small": lambda: models.AlexNet(10, 1, 28, dropout=0.0, hidden=64),
    "alexnet_64": lambda: models.AlexNet(5, 3, 64, dropout=0.0, hidden=32),
    "vgg11_bn_small": lambda: models.vgg(11, 10, 1, 28, batch_norm=True, dropout=0.0, hidden=32),
    "vgg_narrow_64": lambda: models.vgg(cfg=[16, "M", 32, "M", 32, 32, "M", 64, "M", 64, "M"], num_classes=5,
                                        in_channels=3, input_size=64, dropout=0.0, hidden=32),
    "resnet18_64": lambda: models.ResNet18(6, 3, 64),
    "googlenet_small": lambda: models.GoogLeNet(10, 1, 28, aux_logits=True, dropout=0.0, aux_dropout=0.0),
    "googlenet_64": lambda: models.GoogLeNet(7, 3, 64, dropout=0.0),
    "inception_naive": lambda: models.InceptionBlock(6, 4, 3, 5, 2, 3, 2, reduce=False),
}


def _spec(name: str) -> dict:
    return json.loads(str(REF[f"{name}.spec"]))


_STATES: dict = {}


def _state(name: str) -> dict:
    """The seeded weights, as the torch state_dict the recording script loaded (drawn once per session)."""
    if name not in _STATES:
        spec = _spec(name)
        _STATES[name] = seeded_state(spec["names_shapes"], spec["seed"])
    return _STATES[name]


def _loaded(name: str, dtype):
    """The neurona model of ``dtype`` with the seeded weights loaded by name, and the seeded input."""
    spec = _spec(name)
    neurona.set_default_dtype(dtype)  # conftest restores the default
    with models.skip_init():
        model = BUILDERS[name]()
    report = models.load_weights(model, _state(name))
    assert not report.missing and not report.unexpected and not report.skipped
    assert [k for k, _ in spec["names_shapes"]] == list(model.state_dict())  # same names, same order
    return model, seeded_input(spec["x_shape"], spec["seed"]).astype(dtype)


def test_weights_load_from_an_npz_file_as_torch_saves_them(tmp_path):
    path = tmp_path / "alexnet.npz"
    np.savez(path, **_state("alexnet_small"))
    with models.skip_init():
        model = BUILDERS["alexnet_small"]()
    report = models.load_weights(model, path)
    assert len(report.loaded) == len(_spec("alexnet_small")["names_shapes"]) and not report.missing
    np.testing.assert_array_equal(model.features[0].weight.array,
                                  _state("alexnet_small")["features.0.weight"].astype(np.float32))


@pytest.mark.parametrize("name", list(BUILDERS))
def test_float64_outputs_and_gradients_match_pytorch(name):
    model, x = _loaded(name, np.float64)
    spec = _spec(name)
    model.eval()
    with neurona.no_grad():
        np.testing.assert_allclose(model(neurona.from_numpy(x)).array, REF[f"{name}.eval"], rtol=1e-9, atol=1e-10)
    model.train()
    xt = neurona.from_numpy(x.copy()).requires_grad_()
    outs = model(xt)
    outs = outs if isinstance(outs, tuple) else (outs,)
    assert len(outs) == spec["outputs"]
    loss = None
    for k, o in enumerate(outs):
        np.testing.assert_allclose(o.array, REF[f"{name}.train.{k}"], rtol=1e-9, atol=1e-10, err_msg=f"output {k}")
        term = (o * neurona.from_numpy(REF[f"{name}.r.{k}"])).sum()
        loss = term if loss is None else loss + term
    loss.backward()
    np.testing.assert_allclose(xt.grad.array, REF[f"{name}.grad.x"], rtol=1e-8, atol=1e-10)
    params = dict(model.named_parameters())
    for p in spec["grads"]:
        np.testing.assert_allclose(params[p].grad.array, REF[f"{name}.grad.{p}"], rtol=1e-8, atol=1e-10, err_msg=p)


@pytest.mark.parametrize("name", ["alexnet_small", "vgg11_bn_small", "googlenet_small", "googlenet_64"])
def test_float32_model_reproduces_pytorch_to_1e5(name):
    """The float32 model (the usual one) with the same weights: eval outputs within 1e-5 of PyTorch's."""
    model, x = _loaded(name, np.float32)
    model.eval()
    with neurona.no_grad():
        y = model(neurona.from_numpy(x))
    assert y.dtype == np.float32
    ref = REF[f"{name}.eval"]
    np.testing.assert_allclose(y.array, ref, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(ref).max())))
