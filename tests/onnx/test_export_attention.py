"""neurona.onnx.export of the attention layers (neurona/onnx/attention.py), checked by ONNX Runtime:
MultiheadAttention with every kind of mask, the Transformer family, positional encodings, Bahdanau and
Luong attention, the second-order recurrent layer. The models built on them are in test_exporter.py."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import neurona  # noqa: E402
import neurona.onnx as nx  # noqa: E402
from neurona import nn  # noqa: E402
from tests.onnx.test_exporter import assert_exports, ids, randn  # noqa: E402


class Attend(nn.Module):
    """MultiheadAttention called with fixed masks (constants of the exported graph)."""

    def __init__(self, mha, **kw):
        super().__init__()
        self.mha, self.kw = mha, kw

    def forward(self, q, k, v, kpm=None):
        return self.mha(q, k, v, key_padding_mask=kpm, **self.kw)


@nx.register_converter(Attend)
def _attend(g, m, q, k, v, kpm=None):
    return g.call(m.mha, q, k, v, key_padding_mask=kpm, **m.kw)


CASES = [
    ("self", lambda: Attend(nn.MultiheadAttention(8, 2, batch_first=True)), True),
    ("causal_heads", lambda: Attend(nn.MultiheadAttention(8, 4, batch_first=True), is_causal=True,
                                    average_attn_weights=False), True),
    ("bool_mask", lambda: Attend(nn.MultiheadAttention(8, 2, batch_first=True),
                                 attn_mask=np.triu(np.ones((4, 6), bool), 2)), False),
    ("float_mask_no_weights", lambda: Attend(nn.MultiheadAttention(8, 2, batch_first=True, bias=False),
                                             attn_mask=np.random.default_rng(0).standard_normal((4, 6)),
                                             need_weights=False), False),
    ("kdim_vdim", lambda: Attend(nn.MultiheadAttention(8, 2, kdim=5, vdim=3, batch_first=True)), False),
]


@pytest.mark.parametrize("name,build,square", CASES, ids=[c[0] for c in CASES])
def test_multihead_attention(name, build, square, rng):
    model = build()
    kd, vd = model.mha.kdim, model.mha.vdim
    S = 4 if square else 6

    def inputs(b):
        q = randn(rng, b, 4, 8)
        return q, randn(rng, b, S, kd), randn(rng, b, S, vd)

    assert_exports(model, inputs(3), inputs(5))


def test_multihead_attention_padding_mask_and_time_major(rng):
    model = Attend(nn.MultiheadAttention(8, 2))                                    # (L, N, E) layout
    pad = neurona.from_numpy(np.array([[False, False, True, True, False, True], [False] * 6, [True] * 6]))
    q, kv = randn(rng, 4, 3, 8), randn(rng, 6, 3, 8)
    dyn = {"input_0": {1: "b"}, "input_1": {1: "b"}, "input_2": {1: "b"}, "input_3": {0: "b"},
           "output_0": {1: "b"}, "output_1": {0: "b"}}
    worst = assert_exports(model, (q, kv, kv, pad), dynamic_axes=dyn)
    assert worst < 1e-5
    out = model(q, kv, kv, pad)[0]
    assert np.allclose(out.array[:, 2], model.mha.out_proj.bias.array, atol=1e-6)   # no key left: zero attention


@pytest.mark.parametrize("norm_first,activation", [(False, "relu"), (True, "gelu")])
def test_transformer(norm_first, activation, rng):
    model = nn.Transformer(16, 4, 2, 1, 24, dropout=0.1, activation=activation, batch_first=True,
                           norm_first=norm_first)
    assert_exports(model, (randn(rng, 2, 5, 16), randn(rng, 2, 3, 16)), (randn(rng, 4, 5, 16), randn(rng, 4, 3, 16)))
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2, 24, activation=neurona.nn.GELU("tanh"),
                                                           batch_first=True), 2, norm=nn.LayerNorm(16))
    assert_exports(enc, randn(rng, 2, 5, 16), randn(rng, 3, 5, 16))


def test_positional_encodings(rng):
    seq = nn.Sequential(nn.Linear(6, 6), nn.PositionalEncoding(6, max_len=20, batch_first=True),
                        nn.LearnedPositionalEncoding(20, 6, batch_first=True))
    assert_exports(seq, randn(rng, 2, 5, 6), randn(rng, 4, 5, 6))


class Decode(nn.Module):
    def __init__(self, att):
        super().__init__()
        self.att = att

    def forward(self, q, k, pad):
        return self.att(q, k, key_padding_mask=pad)


@nx.register_converter(Decode)
def _decode(g, m, q, k, pad):
    return g.call(m.att, q, k, key_padding_mask=pad)


@pytest.mark.parametrize("att", [nn.BahdanauAttention(4, 6, 5), nn.LuongAttention(4, 6, "general"),
                                 nn.LuongAttention(4, 6, "concat", 5), nn.LuongAttention(6, score="dot", scale=True)],
                         ids=lambda a: a.extra_repr())
def test_recurrent_attention(att, rng):
    def inputs(b):
        pad = neurona.from_numpy(ids(rng, b, t=5, pad=2).array == 0)
        return randn(rng, b, 3, att.query_size), randn(rng, b, 5, att.key_size), pad

    assert_exports(Decode(att), inputs(2), inputs(4))


def test_second_order_layer(rng):
    layer = nn.SecondOrderRNN(4, 5, num_layers=2, batch_first=True)
    assert_exports(layer, randn(rng, 2, 6, 4), randn(rng, 3, 6, 4))
    state = lambda b: randn(rng, 2, b, 5, scale=0.5)  # noqa: E731
    assert_exports(layer, (randn(rng, 2, 6, 4), state(2)),
                   dynamic_axes={"input_0": {0: "b"}, "input_1": {1: "b"}, "output_0": {0: "b"}, "output_1": {1: "b"}})


def test_recurrent_encoder_decoder_with_additive_attention(rng):
    """Bahdanau's decoder is a loop of LSTM cells, unrolled over the target length."""
    from neurona import models

    model = models.RecurrentSeq2Seq(20, 20, 8, 16, attention="additive")
    assert_exports(model, (ids(rng, 2), ids(rng, 2, t=4, pad=0)), (ids(rng, 5), ids(rng, 5, t=4, pad=0)))


def test_refusals_name_the_problem(rng):
    with pytest.raises(nx.ExportError, match="add_bias_kv"):
        nx.export(Attend(nn.MultiheadAttention(8, 2, add_bias_kv=True, batch_first=True)),
                  (randn(rng, 2, 4, 8), randn(rng, 2, 4, 8), randn(rng, 2, 4, 8)))
