"""Attention and Transformer layers, positional encodings and the second-order recurrent layers:
float64 gradcheck through inputs and parameters, masks and their equivalences, shapes, modes, errors.
PyTorch's values and weights are checked in test_attention_vs_pytorch.py."""
from __future__ import annotations

import doctest

import numpy as np
import pytest

import neurona
from neurona import nn
from neurona.nn import attention as attention_module
from neurona.nn import second_order as second_order_module
from neurona.nn import transformer as transformer_module

F64 = np.float64


def module_gradcheck(module, call, *inputs) -> bool:
    """neurona.gradcheck of ``call(module, *inputs)`` with respect to the float inputs and every parameter."""
    named = list(module.named_parameters())

    def owner(name):
        *path, last = name.split(".")
        return (module.get_submodule(".".join(path)) if path else module), last

    def fn(*ts):
        xs, ps = ts[:len(inputs)], ts[len(inputs):]
        for (name, _), p in zip(named, ps):
            m, last = owner(name)
            m._parameters[last] = p
        try:
            return call(module, *xs)
        finally:
            for name, p in named:
                m, last = owner(name)
                m._parameters[last] = p

    params = [neurona.from_numpy(p.array.copy()).requires_grad_() for _, p in named]
    return neurona.gradcheck(fn, *inputs, *params)


def rand(*shape, seed=0, grad=True):
    return neurona.from_numpy(np.random.default_rng(seed).standard_normal(shape)).requires_grad_(grad)


# --- MultiheadAttention -------------------------------------------------------------------------------------


def test_mha_gradcheck_cross_attention_with_masks():
    neurona.manual_seed(0)
    mha = nn.MultiheadAttention(4, 2, add_bias_kv=True, dtype=F64)
    kpm = np.array([[False, False, True], [False, False, False]])
    am = np.array([[False, True, False], [False, False, False]])
    assert module_gradcheck(mha, lambda m, q, kv: m(q, kv, kv, key_padding_mask=kpm, attn_mask=am)[0],
                            rand(2, 2, 4), rand(3, 2, 4, seed=1))


def test_mha_gradcheck_self_attention_weights_and_kdim():
    neurona.manual_seed(1)
    mha = nn.MultiheadAttention(4, 2, kdim=3, vdim=2, add_zero_attn=True, batch_first=True, dtype=F64)
    assert module_gradcheck(mha, lambda m, q, k, v: m(q, k, v, average_attn_weights=False),
                            rand(2, 3, 4), rand(2, 2, 3, seed=1), rand(2, 2, 2, seed=2))


def test_mha_masks_bool_and_float_agree_and_causal_flag():
    neurona.manual_seed(2)
    mha = nn.MultiheadAttention(8, 2, dtype=F64)
    x = rand(5, 3, 8, grad=False)
    kpm = np.zeros((3, 5), bool)
    kpm[1, 3:] = True
    a = mha(x, x, x, key_padding_mask=kpm)
    b = mha(x, x, x, key_padding_mask=np.where(kpm, -np.inf, 0.0))
    np.testing.assert_allclose(a[0].array, b[0].array)
    assert np.all(a[1].array[1, :, 3:] == 0)
    causal = np.triu(np.ones((5, 5), bool), 1)
    c = mha(x, x, x, attn_mask=causal)
    d = mha(x, x, x, is_causal=True)
    e = mha(x, x, x, attn_mask=nn.Transformer.generate_square_subsequent_mask(5, dtype=F64))
    np.testing.assert_allclose(c[0].array, d[0].array)
    np.testing.assert_allclose(c[0].array, e[0].array)
    assert np.allclose(np.triu(c[1].array[0], 1), 0)


def test_mha_shapes_modes_and_dropout():
    neurona.manual_seed(3)
    mha = nn.MultiheadAttention(8, 4, dropout=0.5, batch_first=True)
    x = neurona.randn(2, 5, 8)
    out, w = mha(x, x, x, average_attn_weights=False)
    assert out.shape == (2, 5, 8) and w.shape == (2, 4, 5, 5) and out.dtype == np.float32
    out, w = mha(x, x, x, need_weights=False)
    assert w is None
    single, w1 = mha.eval()(x[0], x[0], x[0])
    assert single.shape == (5, 8) and w1.shape == (5, 5)
    np.testing.assert_allclose(single.array, mha(x, x, x)[0].array[0], rtol=1e-5, atol=1e-6)
    ev = mha(x, x, x)[0].array
    assert np.array_equal(ev, mha(x, x, x)[0].array)            # eval: no dropout
    mha.train()
    assert not np.allclose(mha(x, x, x)[0].array, ev)           # training: attention weights dropped
    n = 8 * 8 * 3 + 8 * 3 + 8 * 8 + 8
    assert mha.num_parameters() == n


def test_mha_errors_name_the_problem():
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(10, 3)
    mha = nn.MultiheadAttention(8, 2)
    x = neurona.randn(5, 2, 8)
    with pytest.raises(ValueError, match="8 features"):
        mha(neurona.randn(5, 2, 6), x, x)
    with pytest.raises(ValueError, match=r"\(L, S\) = \(5, 5\)"):
        mha(x, x, x, attn_mask=np.zeros((4, 5), bool))
    with pytest.raises(ValueError, match=r"\(N·num_heads, L, S\)"):
        mha(x, x, x, attn_mask=np.zeros((3, 5, 5), bool))
    with pytest.raises(ValueError, match="key_padding_mask"):
        mha(x, x, x, key_padding_mask=np.zeros((5, 2), bool))
    with pytest.raises(TypeError, match="dtype"):
        mha(x.double(), x.double(), x.double())


# --- Transformer layers -------------------------------------------------------------------------------------


def test_encoder_layer_gradcheck_post_and_pre_norm():
    for norm_first, act in ((False, "relu"), (True, "gelu")):
        neurona.manual_seed(4)
        layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0, activation=act,
                                           norm_first=norm_first, dtype=F64)
        kpm = np.array([[False, False, True], [False, False, False]])
        assert module_gradcheck(layer, lambda m, x: m(x, src_key_padding_mask=kpm, is_causal=True), rand(3, 2, 4))


def test_decoder_layer_gradcheck():
    neurona.manual_seed(5)
    layer = nn.TransformerDecoderLayer(4, 2, dim_feedforward=6, dropout=0.0, batch_first=True, dtype=F64)
    assert module_gradcheck(layer, lambda m, t, mem: m(t, mem, tgt_is_causal=True), rand(2, 3, 4),
                            rand(2, 2, 4, seed=1))


def test_transformer_shapes_masks_and_parameters():
    neurona.manual_seed(6)
    model = nn.Transformer(d_model=16, nhead=4, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=32,
                           dropout=0.0, batch_first=True).eval()
    src, tgt = neurona.randn(3, 7, 16), neurona.randn(3, 5, 16)
    a = model(src, tgt, tgt_mask=nn.Transformer.generate_square_subsequent_mask(5))
    b = model(src, tgt, tgt_is_causal=True)
    assert a.shape == (3, 5, 16) and a.dtype == np.float32
    np.testing.assert_allclose(a.array, b.array, rtol=1e-6)
    # causal: changing the last target token changes only the last output
    tgt2 = neurona.from_numpy(tgt.array.copy())
    tgt2.array[:, -1] += 1.0
    c = model(src, tgt2, tgt_is_causal=True)
    np.testing.assert_allclose(c.array[:, :-1], b.array[:, :-1], rtol=1e-5, atol=1e-6)
    assert not np.allclose(c.array[:, -1], b.array[:, -1])
    # PyTorch's count for these sizes: 2·encoder layer + encoder norm + 1·decoder layer + decoder norm
    enc = 4 * 16 * 16 + 4 * 16 + 2 * 16 * 32 + 32 + 16 + 4 * 16
    dec = 2 * (4 * 16 * 16 + 4 * 16) + 2 * 16 * 32 + 32 + 16 + 6 * 16
    assert model.num_parameters() == 2 * enc + 32 + dec + 32
    # every weight matrix starts Xavier-uniform, the stacked layers differently
    w0 = model.encoder.layers[0].linear1.weight.array
    assert not np.array_equal(w0, model.encoder.layers[1].linear1.weight.array)
    assert np.abs(w0).max() <= np.sqrt(6 / (16 + 32)) + 1e-6


def test_transformer_stack_clones_and_callable_activation():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, activation=neurona.tanh, dropout=0.0)
    enc = nn.TransformerEncoder(layer, 3, norm=nn.LayerNorm(8))
    assert len(enc.layers) == 3 and enc.layers[0] is not layer
    np.testing.assert_array_equal(enc.layers[0].linear1.weight.array, enc.layers[2].linear1.weight.array)
    assert "layers.2.self_attn.in_proj_weight" in enc.state_dict()
    x = neurona.randn(4, 2, 8)
    h = layer.linear1(x)
    np.testing.assert_allclose(layer._ff_block(x).array, layer.linear2(neurona.tanh(h)).array, rtol=1e-6)
    with pytest.raises(ValueError, match="'relu' or 'gelu'"):
        nn.TransformerEncoderLayer(8, 2, activation="swish")
    with pytest.raises(ValueError, match="batch number"):
        nn.Transformer(8, 2, 1, 1, 16)(neurona.randn(4, 2, 8), neurona.randn(3, 3, 8))
    with pytest.raises(ValueError, match="d_model"):
        nn.Transformer(8, 2, 1, 1, 16)(neurona.randn(4, 2, 6), neurona.randn(3, 2, 6))


def test_square_subsequent_mask():
    m = nn.Transformer.generate_square_subsequent_mask(4)
    assert m.dtype == np.float32 and m.shape == (4, 4)
    assert np.all(np.triu(m.array, 1)[np.triu_indices(4, 1)] == -np.inf) and np.all(np.tril(m.array) == 0)


# --- positional encodings ------------------------------------------------------------------------------------


def test_sinusoidal_encoding_values_and_offsets():
    pe = nn.PositionalEncoding(6, max_len=40, batch_first=True)
    x = neurona.zeros(2, 5, 6)
    y = pe(x)
    pos, i = 3, 1
    assert y.array[0, pos, 2 * i] == pytest.approx(np.sin(pos / 10000 ** (2 * i / 6)), rel=1e-6)
    assert y.array[1, pos, 2 * i + 1] == pytest.approx(np.cos(pos / 10000 ** (2 * i / 6)), rel=1e-6)
    np.testing.assert_allclose(pe(x[:, :2], start=3).array, y.array[:, 3:5])
    assert pe.num_parameters() == 0 and "pe" not in pe.state_dict()
    odd = nn.PositionalEncoding(7, max_len=10)
    assert odd(neurona.zeros(3, 1, 7)).shape == (3, 1, 7)
    with pytest.raises(ValueError, match="max_len"):
        pe(neurona.zeros(1, 41, 6))


def test_positional_encodings_gradcheck():
    assert module_gradcheck(nn.PositionalEncoding(4, max_len=8, dtype=F64), lambda m, x: m(x, start=2), rand(3, 2, 4))
    assert module_gradcheck(nn.LearnedPositionalEncoding(6, 4, batch_first=True, dtype=F64), lambda m, x: m(x),
                            rand(2, 3, 4))


def test_elman_network_gradcheck():
    from neurona.models import ElmanNetwork, SecondOrderNetwork

    for cls in (ElmanNetwork, SecondOrderNetwork):
        neurona.manual_seed(10)
        net = cls(2, 3, 2).double()
        assert module_gradcheck(net, lambda m, x: m(x), rand(2, 3, 2))


def test_learned_positional_encoding_learns():
    pe = nn.LearnedPositionalEncoding(10, 4)
    x = neurona.randn(3, 2, 4)
    y = pe(x, start=2)
    np.testing.assert_allclose(y.array - x.array, np.broadcast_to(pe.weight.array[2:5, None], (3, 2, 4)), atol=1e-6)
    y.sum().backward()
    g = pe.weight.grad.array
    assert np.all(g[2:5] == 2) and np.all(g[:2] == 0) and np.all(g[5:] == 0)


# --- recurrent encoder–decoder attention ---------------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda: nn.BahdanauAttention(3, 4, 5, dtype=F64),
    lambda: nn.LuongAttention(3, 4, "general", dtype=F64),
    lambda: nn.LuongAttention(3, 4, "concat", hidden_size=5, dtype=F64),
    lambda: nn.LuongAttention(4, 4, "dot", scale=True, dtype=F64),
])
def test_recurrent_attention_gradcheck_and_masks(make):
    neurona.manual_seed(7)
    att = make()
    kpm = np.array([[False, False, False, True], [False, False, False, False]])
    q = rand(2, 2, att.query_size)
    assert module_gradcheck(att, lambda m, q, k: m(q, k, key_padding_mask=kpm)[0], q, rand(2, 4, 4, seed=1))
    ctx, w = att(q[:, 0], rand(2, 4, 4, seed=1), key_padding_mask=kpm)
    assert ctx.shape == (2, 4) and w.shape == (2, 4) and w.array[0, 3] == 0
    np.testing.assert_allclose(w.array.sum(-1), 1.0)
    assert nn.AdditiveAttention is nn.BahdanauAttention and nn.MultiplicativeAttention is nn.LuongAttention


def test_luong_errors():
    with pytest.raises(ValueError, match="'dot' score"):
        nn.LuongAttention(3, 4, "dot")
    with pytest.raises(ValueError, match="score must be"):
        nn.LuongAttention(3, 4, "cosine")
    with pytest.raises(ValueError, match="key_padding_mask"):
        nn.LuongAttention(4)(neurona.randn(2, 4), neurona.randn(2, 3, 4), key_padding_mask=np.zeros((2, 4), bool))


# --- second-order recurrent layers ----------------------------------------------------------------------------


def test_second_order_cell_and_layer_gradcheck():
    neurona.manual_seed(8)
    cell = nn.SecondOrderRNNCell(2, 3, dtype=F64)
    assert module_gradcheck(cell, lambda m, x, h: m(x, h), rand(2, 2), rand(2, 3, seed=1))
    layer = nn.SecondOrderRNN(2, 3, num_layers=2, batch_first=True, dtype=F64)
    assert module_gradcheck(layer, lambda m, x: m(x, lengths=[3, 2])[0], rand(2, 3, 2))


def test_second_order_start_state_lets_the_first_input_count():
    neurona.manual_seed(9)
    rnn = nn.SecondOrderRNN(3, 5, batch_first=True)
    x = neurona.randn(1, 4, 3)
    x2 = neurona.from_numpy(x.array.copy())
    x2.array[0, 0] += 1.0
    assert not np.allclose(rnn(x)[0].array[0, 1:], rnn(x2)[0].array[0, 1:])
    h0 = nn.second_order_start_state(2, 5)
    assert h0.tolist() == [[1, 0, 0, 0, 0]] * 2
    cell = nn.SecondOrderRNNCell(3, 5)
    cell.load_state_dict({"weight": rnn.weight_l0.array, "bias": rnn.bias_l0.array})
    np.testing.assert_allclose(cell(x[0, 0]).array, rnn(x[:, :1])[0].array[0, 0], rtol=1e-6)


def test_second_order_layer_modes():
    rnn = nn.SecondOrderRNN(3, 4, num_layers=2)
    out, h = rnn(neurona.randn(5, 2, 3))
    assert out.shape == (5, 2, 4) and h.shape == (2, 2, 4) and out.dtype == np.float32
    out1, h1 = rnn(neurona.randn(5, 3))
    assert out1.shape == (5, 4) and h1.shape == (2, 4)
    out, h = rnn(neurona.randn(5, 2, 3), lengths=[5, 2])
    assert np.all(out.array[2:, 1] == 0) and np.allclose(h.array[1, 1], out.array[1, 1])
    with pytest.raises(ValueError, match="initial state"):
        rnn(neurona.randn(5, 2, 3), neurona.zeros(1, 2, 4))
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.SecondOrderRNN(3, 4, nonlinearity="cube")


def test_docstring_examples_run():
    for mod in (attention_module, transformer_module, second_order_module):
        assert doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0
