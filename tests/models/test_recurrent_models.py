"""Recurrent models: input forms, registry presets and command-line configs, save/load round trips."""
from __future__ import annotations

import numpy as np
import pytest

import neurona
from neurona import io, models
from neurona.models import CharLM, EmbeddingBagClassifier, SequenceClassifier


def test_sequence_classifier_input_forms_agree():
    neurona.manual_seed(0)
    m = SequenceClassifier(28, 16, 10, cell="gru")
    m.eval()
    x = np.random.default_rng(0).standard_normal((3, 28, 28)).astype(np.float32)
    ref = m(x).array
    np.testing.assert_allclose(m(x[:, None]).array, ref, rtol=1e-6)              # (B, 1, H, W)
    np.testing.assert_allclose(m(x.reshape(3, -1)).array, ref, rtol=1e-6)        # flattened
    with pytest.raises(ValueError, match="SequenceClassifier: expected sequences"):
        m(np.zeros((3, 5, 27), np.float32))


def test_sequence_classifier_bidirectional_stack_and_lengths():
    neurona.manual_seed(0)
    m = SequenceClassifier(4, 8, 3, cell="lstm", num_layers=2, bidirectional=True, dropout=0.2)
    assert m.fc.weight.shape == (3, 16)
    x = neurona.randn(5, 7, 4)
    out = m(x, lengths=[7, 3, 5, 1, 2])
    assert out.shape == (5, 3)
    out.sum().backward()
    assert all(p.grad is not None for p in m.parameters())


@pytest.mark.parametrize("name", ["lstm", "gru", "rnn"])
def test_presets_from_command_line_options(name):
    spec = models.get_model_spec(name)
    info = {"input_shape": (1, 28, 28), "n_outputs": 10, "task": "classification"}
    cfg = spec.from_cli(info, {"hidden": [300, 100], "dropout": 0.0})         # the command's MLP default
    assert cfg["hidden_size"] == 128 and cfg["num_layers"] == 1 and cfg["input_size"] == 28
    cfg2 = spec.from_cli(info, {"hidden": [64, 64]})
    assert cfg2["hidden_size"] == 64 and cfg2["num_layers"] == 2
    flat = spec.from_cli({"input_shape": (784,), "n_outputs": 10, "task": "classification"}, {})
    assert flat["input_size"] == 28 and flat["seq_len"] == 28
    table = spec.from_cli({"input_shape": (4,), "n_outputs": 3, "task": "classification"}, {})
    assert table["input_size"] == 1 and table["seq_len"] == 4
    with pytest.raises(ValueError, match="one hidden size"):
        spec.from_cli(info, {"hidden": [64, 32]})
    with pytest.raises(ValueError, match="regression"):
        spec.from_cli({"input_shape": (4,), "n_outputs": 1, "task": "regression"}, {})
    model = models.build_model(name, **cfg)
    assert model(neurona.randn(2, 1, 28, 28)).shape == (2, 10)
    assert model.rnn.mode.lower().startswith(name)


def test_save_and_load_round_trip(tmp_path):
    neurona.manual_seed(0)
    m = SequenceClassifier(5, 6, 3, cell="gru", vocab_size=11, embedding_dim=4, bidirectional=True)
    ids = np.array([[1, 2, 3, 0], [4, 5, 0, 0]])
    m.eval()
    ref = m(ids).array
    io.save(m, tmp_path / "m.npz")
    back = io.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(back(ids).array, ref)
    lm = CharLM(9, 4, 6, num_layers=2)
    io.save(lm, tmp_path / "lm.npz")
    lm2 = io.load(tmp_path / "lm.npz")
    np.testing.assert_array_equal(lm2(ids % 9)[0].array, lm.eval()(ids % 9)[0].array)
    g = models.build_model("lstm", hidden_size=8)
    io.save(g, tmp_path / "g.npz")
    assert io.load(tmp_path / "g.npz").rnn.hidden_size == 8


def test_char_lm_shapes_state_and_step():
    neurona.manual_seed(0)
    lm = CharLM(12, 5, 7, num_layers=2, cell="gru")
    lm.eval()
    x = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    logits, state = lm(x)
    assert logits.shape == (2, 4, 12) and state.shape == (2, 2, 7)
    # running step by step gives the same logits as the whole sequence
    s = None
    for t in range(4):
        lt, s = lm.step(x[:, t], s)
        np.testing.assert_allclose(lt.array, logits.array[:, t], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="method must be"):
        lm.generate([1], 3, method="nucleus")


def test_embedding_bag_classifier_offsets_and_padded_rows_agree():
    neurona.manual_seed(0)
    m = EmbeddingBagClassifier(20, 6, 4, padding_idx=0)
    flat = m(np.array([3, 4, 5, 7]), np.array([0, 3])).array
    padded = m(np.array([[3, 4, 5], [7, 0, 0]])).array
    np.testing.assert_allclose(flat, padded, rtol=1e-6)
    assert models.model_config(m)[0] == "embedding-bag-classifier"
