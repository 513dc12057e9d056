"""The attention-based models (encoder–decoders, Transformer language model, Vision Transformer) and
the notes' Elman and second-order networks: decoding consistency, shapes, registry, files, summary."""
from __future__ import annotations

import doctest

import numpy as np
import pytest

import neurona
from neurona import io, models
from neurona.models import seq2seq as seq2seq_module
from neurona.models import elman as elman_module
from neurona.models import transformer_lm as transformer_lm_module
from neurona.models import vit as vit_module
from neurona.text.decoding import beam_search, greedy_decode


@pytest.fixture(autouse=True)
def _one_blas_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield


SRC = np.array([[5, 6, 7, 8, 0, 0], [9, 5, 4, 6, 7, 3]])
TGT_IN = np.array([[2, 4, 5, 6], [2, 7, 8, 9]])


def seq2seq_models():
    neurona.manual_seed(0)
    return [models.RecurrentSeq2Seq(12, 11, 8, 16, attention="general"),
            models.RecurrentSeq2Seq(12, 11, 8, 16, attention="additive"),
            models.RecurrentSeq2Seq(12, 11, 8, 16, attention="concat", num_layers=2),
            models.TransformerSeq2Seq(12, 11, d_model=16, nhead=2, num_encoder_layers=1, num_decoder_layers=2,
                                      dim_feedforward=24)]


@pytest.mark.parametrize("index", range(4))
def test_seq2seq_step_by_step_equals_teacher_forcing(index):
    """Decoding one token at a time from start() gives the logits of the parallel forward pass."""
    model = seq2seq_models()[index].eval()
    full = model(SRC, TGT_IN)
    assert full.shape == (2, 4, 11) and full.dtype == np.float32
    state = model.start(SRC)
    for t in range(TGT_IN.shape[1]):
        logits, state = model.step(TGT_IN[:, t], state)
        np.testing.assert_allclose(logits.array, full.array[:, t], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("index", range(4))
def test_seq2seq_beam_of_one_is_greedy_and_weights_are_distributions(index):
    model = seq2seq_models()[index].eval()
    greedy = greedy_decode(model.step, [[2]], 5, state=model.start(SRC[:1]))[0].tolist()
    beam = beam_search(model.step, [2], 5, beam_width=1, state=model.start(SRC[:1]),
                       select_state=model.select_state)[0][0]
    assert beam == greedy
    wide = beam_search(model.step, [2], 5, beam_width=3, state=model.start(SRC[:1]), select_state=model.select_state)
    assert len(wide) == 3 and wide[0][1] >= wide[-1][1]
    w = model.attention_weights(SRC, TGT_IN)
    assert w.shape == (2, 4, 6)
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-5)
    assert np.all(w[0, :, 4:] == 0)                          # padded source tokens get no attention


def test_seq2seq_gradients_reach_every_parameter():
    for model in seq2seq_models():
        logits = model(SRC, TGT_IN)
        logits.sum().backward()
        missing = [n for n, p in model.named_parameters() if p.grad is None]
        assert missing == [], (type(model).__name__, missing)


def test_transformer_lm_state_is_the_context():
    neurona.manual_seed(1)
    lm = models.TransformerLM(20, d_model=16, nhead=2, num_layers=2, dim_feedforward=32, dropout=0.0, max_len=12).eval()
    ids = np.random.default_rng(0).integers(0, 20, (2, 10))
    whole, state = lm(ids)
    assert whole.shape == (2, 10, 20) and state.shape == (2, 10)
    first, st = lm(ids[:, :6])
    second, st = lm(ids[:, 6:], st)
    np.testing.assert_allclose(second.array, whole.array[:, 6:], rtol=1e-4, atol=1e-5)
    s = None
    for t in range(10):
        logits, s = lm.step(ids[:, t], s)
    np.testing.assert_allclose(logits.array, whole.array[:, -1], rtol=1e-4, atol=1e-5)
    _, long_state = lm(np.zeros((2, 9), np.int64), s)              # the context keeps the last max_len ids
    assert long_state.shape == (2, 12)
    out = lm.generate([3, 4], 5, method="beam", beam_width=2)
    assert len(out) == 5
    with pytest.raises(ValueError, match="max_len"):
        lm(np.zeros((1, 13), np.int64))


def test_vit_patches_and_forward():
    neurona.manual_seed(2)
    vit = models.VisionTransformer(8, patch_size=4, in_channels=2, num_classes=3, d_model=16, nhead=2, num_layers=1,
                                   dim_feedforward=16)
    x = np.random.default_rng(0).standard_normal((2, 2, 8, 8)).astype(np.float32)
    p = vit.patches(x).array
    assert p.shape == (2, 4, 32)
    np.testing.assert_array_equal(p[1, 2], x[1, :, 4:8, 0:4].reshape(-1))      # patch (row 1, col 0), channel first
    out = vit(x)
    assert out.shape == (2, 3)
    out.sum().backward()
    assert vit.cls_token.grad is not None and vit.positions.weight.grad is not None
    vit.eval()
    np.testing.assert_allclose(vit(x.reshape(2, -1)).array, vit(x).array, rtol=1e-6)
    cfg = models.VisionTransformer.from_cli({"input_shape": (1, 28, 28), "n_outputs": 10}, {"hidden": [300, 100]})
    assert cfg["patch_size"] == 7 and cfg["image_size"] == 28 and cfg["d_model"] == 64
    with pytest.raises(ValueError, match="multiple"):
        models.VisionTransformer(28, patch_size=5)


def test_elman_and_second_order_networks():
    for cls in (models.ElmanNetwork, models.SecondOrderNetwork):
        net = cls(3, 6, 2)
        x = neurona.randn(4, 5, 3)
        y, h = net.run(x)
        assert y.shape == (4, 5, 2) and h.shape == (1, 4, 6)
        last = cls(3, 6, 2, return_sequences=False, output_activation="softmax")
        last.load_state_dict(net.state_dict())
        p = last(x, lengths=[5, 3, 2, 5])
        assert p.shape == (4, 2)
        np.testing.assert_allclose(p.array.sum(-1), 1.0, rtol=1e-6)
        np.testing.assert_allclose(p.array[0], neurona.softmax(y[0, -1]).array, rtol=1e-5)
        cfg = cls.from_cli({"input_shape": (1, 28, 28), "n_outputs": 10}, {"hidden": [32]})
        assert cfg["input_size"] == 28 and cfg["return_sequences"] is False
        assert cls(**cfg)(neurona.randn(2, 1, 28, 28)).shape == (2, 10)


MODEL_CASES = [
    ("seq2seq-rnn", {"src_vocab": 12, "tgt_vocab": 11, "embedding_dim": 8, "hidden_size": 16}, [[6], [4]], "int64"),
    ("seq2seq-transformer", {"src_vocab": 12, "tgt_vocab": 11, "d_model": 16, "nhead": 2, "num_encoder_layers": 1,
                             "num_decoder_layers": 1, "dim_feedforward": 16}, [[6], [4]], "int64"),
    ("transformer-lm", {"vocab_size": 20, "d_model": 16, "nhead": 2, "num_layers": 1, "dim_feedforward": 16,
                        "max_len": 16}, [8], "int64"),
    ("vit", {"image_size": 28, "patch_size": 7, "d_model": 16, "nhead": 2, "num_layers": 1, "dim_feedforward": 16},
     [1, 28, 28], None),
    ("elman", {"input_size": 3, "hidden_size": 5, "output_size": 2}, [7, 3], None),
    ("second-order-rnn", {"input_size": 3, "hidden_size": 5, "output_size": 2}, [7, 3], None),
]


@pytest.mark.parametrize("name,config,shape,dtype", MODEL_CASES)
def test_saved_models_rebuild_and_neurona_info_describes_them(name, config, shape, dtype, tmp_path, capsys):
    model = models.build_model(name, **config)
    path = tmp_path / "model.npz"
    io.save(model, path, input_shape=shape, input_dtype=dtype)
    again = io.load(path)
    assert type(again) is type(model)
    for (k, a), (k2, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert k == k2 and np.array_equal(a, b)
    rows = models.summary(again, tuple(shape), dtype=dtype)
    assert rows[-1].name == "(output)" and sum(r.parameters for r in rows) == model.num_parameters()
    from neurona.cli import main

    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"model: {name}" in out and "per-layer output shapes" in out
    assert f"{model.num_parameters():,}" in out


def test_docstring_examples_run():
    for mod in (seq2seq_module, transformer_lm_module, vit_module, elman_module):
        assert doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0
