"""The MLP model and the model registry."""
import numpy as np
import pytest

import neurona
from neurona import nn
from neurona.models import MLP, build_model, get_model_spec, list_models, model_config, register_model
from neurona.models import registry


def test_default_is_the_notes_784_300_100_10_relu():
    neurona.manual_seed(0)
    m = MLP()
    linears = [l for l in m if isinstance(l, nn.Linear)]
    assert [(l.in_features, l.out_features) for l in linears] == [(784, 300), (300, 100), (100, 10)]
    assert sum(isinstance(l, nn.ReLU) for l in m) == 2
    assert m.num_parameters() == 784 * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10
    assert m(neurona.randn(4, 28, 28)).shape == (4, 10)       # images are flattened
    assert m(neurona.randn(4, 1, 28, 28)).shape == (4, 10)
    assert m(neurona.randn(4, 784)).dtype == np.float32
    assert "784-300-100-10" in repr(m)


def test_layers_for_dropout_batch_norm_and_activation():
    m = MLP(5, [7], 2, activation="tanh", dropout=0.25, batch_norm=True)
    kinds = [type(l).__name__ for l in m]
    assert kinds == ["Linear", "BatchNorm1d", "Tanh", "Dropout", "Linear"]
    assert m[3].p == 0.25
    m.eval()
    x = neurona.randn(6, 5)
    np.testing.assert_array_equal(m(x).array, m(x).array)  # eval: dropout off, running statistics


def test_gradients_agree_with_finite_differences():
    neurona.manual_seed(0)
    m = MLP(3, [4, 4], 2, activation="tanh").double()
    x = neurona.tensor(np.random.default_rng(0).normal(size=(5, 3)), dtype=neurona.float64, requires_grad=True)
    assert neurona.gradcheck(lambda t: (m(t) ** 2).sum(), x)
    (m(x) ** 2).sum().backward()
    assert all(p.grad is not None for p in m.parameters())


@pytest.mark.parametrize("init, activation, expected_std", [("he", "relu", np.sqrt(2 / 400)),
                                                             ("xavier", "tanh", 5 / 3 * np.sqrt(2 / 600))])
def test_initializations(init, activation, expected_std):
    neurona.manual_seed(0)
    m = MLP(400, [200], 2, activation=activation, init=init)
    w = m[0].weight.array
    assert w.std() == pytest.approx(expected_std, rel=0.05)
    assert np.all(m[0].bias.array == 0)


def test_config_rebuilds_the_same_architecture():
    m = MLP(10, (16, 8), 3, activation="elu", dropout=0.1, batch_norm=True, init="he")
    cfg = m.get_config()
    assert cfg == {"in_features": 10, "hidden": [16, 8], "out_features": 3, "activation": "elu", "dropout": 0.1,
                   "batch_norm": True, "bias": True, "init": "he"}
    again = MLP(**cfg)
    assert {k: v.shape for k, v in again.state_dict().items()} == {k: v.shape for k, v in m.state_dict().items()}
    assert model_config(m) == ("mlp", cfg)


def test_clear_errors():
    with pytest.raises(ValueError, match="unknown activation 'relux'; choose one of relu, tanh"):
        MLP(4, [3], 2, activation="relux")
    with pytest.raises(ValueError, match="dropout must be in"):
        MLP(4, [3], 2, dropout=1.0)
    with pytest.raises(ValueError, match="positive"):
        MLP(4, [0], 2)
    m = MLP(4, [3], 2)
    with pytest.raises(ValueError, match="expected inputs with 4 features per sample, got shape \\(2, 5\\)"):
        m(neurona.randn(2, 5))
    with pytest.raises(ValueError, match="batch of inputs"):
        m(neurona.randn(4))


def test_registry_register_build_and_lookup():
    assert "mlp" in list_models()
    spec = get_model_spec("mlp")
    assert spec.cls is MLP and spec.from_cli is not None
    cfg = spec.from_cli({"input_shape": (1, 28, 28), "n_outputs": 10, "task": "classification"},
                        {"hidden": [32], "activation": "tanh", "dropout": 0.0, "batch_norm": False})
    assert cfg["in_features"] == 784 and cfg["hidden"] == [32] and cfg["out_features"] == 10

    def tiny(width=3):
        return nn.Sequential(nn.Linear(2, width), nn.ReLU(), nn.Linear(width, 1))

    try:
        register_model("tiny_test_model", tiny, description="a test model")
        with pytest.raises(ValueError, match="already registered"):
            register_model("tiny_test_model", lambda: None)
        m = build_model("tiny_test_model", width=5)
        assert model_config(m) == ("tiny_test_model", {"width": 5})  # remembered although it has no get_config
        assert list_models()["tiny_test_model"] == "a test model"
        with pytest.raises(TypeError, match="cannot build it from config"):
            build_model("tiny_test_model", depth=2)
    finally:
        registry._REGISTRY.pop("tiny_test_model", None)
    with pytest.raises(KeyError, match="no model named 'nope' is registered; known models: .*mlp"):
        build_model("nope")
    with pytest.raises(ValueError, match="letters, digits"):
        register_model("bad name", tiny)
    assert model_config(nn.Linear(2, 2)) is None
