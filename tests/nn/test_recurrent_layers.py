"""Recurrent layers and cells: PyTorch parity (values and gradients from rnn_reference.npz),
fused vs composed, float32, shapes, states, lengths, dropout, errors, truncated BPTT."""
from __future__ import annotations

import os

import numpy as np
import pytest

import neurona
from neurona import nn

REF = np.load(os.path.join(os.path.dirname(__file__), "..", "fixtures", "rnn_reference.npz"), allow_pickle=False)

KINDS = ("rnn_tanh", "rnn_relu", "lstm", "gru")
# the configurations record_rnn.py used, by tag suffix
CASES = {
    "one": {},
    "deep": {"num_layers": 2, "bidirectional": True},
    "bf": {"batch_first": True},
    "len": {"bidirectional": True},
    "len2": {"num_layers": 2, "batch_first": True},
}


def make_layer(kind, dtype=np.float64, **kw):
    I, H = 4, 3
    if kind.startswith("rnn"):
        return nn.RNN(I, H, nonlinearity=kind[4:], dtype=dtype, **kw)
    return (nn.LSTM if kind == "lstm" else nn.GRU)(I, H, dtype=dtype, **kw)


def load_params(module, tag, dtype=np.float64):
    names = [k[len(tag) + 3:] for k in REF.files if k.startswith(f"{tag}_p_")]
    assert sorted(names) == sorted(n for n, _ in module.named_parameters())
    for name, p in module.named_parameters():
        p.array[...] = REF[f"{tag}_p_{name}"].astype(dtype)


def run_layer(kind, case, dtype=np.float64, fused=True):
    tag = f"{kind}_{case}"
    layer = make_layer(kind, dtype, fused=fused, **CASES[case])
    load_params(layer, tag, dtype)
    x = neurona.from_numpy(REF[f"{tag}_x"].astype(dtype)).requires_grad_()
    states = [neurona.from_numpy(REF[f"{tag}_{s}"].astype(dtype)).requires_grad_()
              for s in ("h0", "c0") if f"{tag}_{s}" in REF.files]
    hx = None if not states else (tuple(states) if kind == "lstm" else states[0])
    lengths = REF[f"{tag}_lengths"] if f"{tag}_lengths" in REF.files else None
    out, hn = layer(x, hx, lengths=lengths)
    finals = list(hn) if kind == "lstm" else [hn]
    loss = (out * neurona.from_numpy(REF[f"{tag}_gout"].astype(dtype))).sum()
    for f, g in zip(finals, ("gh", "gc")):
        loss = loss + (f * neurona.from_numpy(REF[f"{tag}_{g}"].astype(dtype))).sum()
    loss.backward()
    return layer, x, states, out, finals


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", list(CASES))
def test_layer_matches_pytorch(kind, case):
    tag = f"{kind}_{case}"
    layer, x, states, out, finals = run_layer(kind, case)
    np.testing.assert_allclose(out.array, REF[f"{tag}_out"], rtol=1e-9, atol=1e-12)
    for f, name in zip(finals, ("hn", "cn")):
        np.testing.assert_allclose(f.array, REF[f"{tag}_{name}"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(x.grad.array, REF[f"{tag}_dx"], rtol=1e-9, atol=1e-12)
    for s, name in zip(states, ("dh0", "dc0")):
        np.testing.assert_allclose(s.grad.array, REF[f"{tag}_{name}"], rtol=1e-9, atol=1e-12)
    for name, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad.array, REF[f"{tag}_d_{name}"], rtol=1e-9, atol=1e-11, err_msg=name)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", ["deep", "len"])
def test_layer_float32_matches_pytorch(kind, case):
    tag = f"{kind}_{case}"
    layer, x, states, out, finals = run_layer(kind, case, np.float32)
    assert out.dtype == np.float32 and all(f.dtype == np.float32 for f in finals)
    np.testing.assert_allclose(out.array, REF[f"{tag}_out"], rtol=1e-5, atol=1e-5)
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.array, REF[f"{tag}_dx"], rtol=1e-5, atol=1e-5)
    for name, p in layer.named_parameters():
        assert p.grad.dtype == np.float32
        np.testing.assert_allclose(p.grad.array, REF[f"{tag}_d_{name}"], rtol=1e-5, atol=2e-5, err_msg=name)


@pytest.mark.parametrize("kind", KINDS)
def test_composed_layer_matches_pytorch_too(kind):
    tag = f"{kind}_len"
    layer, x, states, out, finals = run_layer(kind, "len", fused=False)
    np.testing.assert_allclose(out.array, REF[f"{tag}_out"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(x.grad.array, REF[f"{tag}_dx"], rtol=1e-9, atol=1e-12)
    for name, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad.array, REF[f"{tag}_d_{name}"], rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("kind", KINDS)
def test_cell_matches_pytorch(kind):
    tag = f"{kind}_cell"
    I, H = 4, 5
    if kind.startswith("rnn"):
        cell = nn.RNNCell(I, H, nonlinearity=kind[4:], dtype=np.float64)
    else:
        cell = (nn.LSTMCell if kind == "lstm" else nn.GRUCell)(I, H, dtype=np.float64)
    load_params(cell, tag)
    x = neurona.from_numpy(REF[f"{tag}_x"].copy()).requires_grad_()
    h0 = neurona.from_numpy(REF[f"{tag}_h0"].copy()).requires_grad_()
    c0 = neurona.from_numpy(REF[f"{tag}_c0"].copy()).requires_grad_() if kind == "lstm" else None
    s = (h0, c0) if kind == "lstm" else h0
    hs = []
    for t in range(x.shape[0]):
        s = cell(x[t], s)
        hs.append(s[0] if kind == "lstm" else s)
    out = neurona.stack(hs)
    loss = (out * neurona.from_numpy(REF[f"{tag}_gout"])).sum()
    if kind == "lstm":
        loss = loss + (s[1] * neurona.from_numpy(REF[f"{tag}_gc"])).sum()
        np.testing.assert_allclose(s[1].array, REF[f"{tag}_cn"], rtol=1e-9, atol=1e-12)
    loss.backward()
    np.testing.assert_allclose(out.array, REF[f"{tag}_out"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(x.grad.array, REF[f"{tag}_dx"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(h0.grad.array, REF[f"{tag}_dh0"], rtol=1e-9, atol=1e-12)
    if kind == "lstm":
        np.testing.assert_allclose(c0.grad.array, REF[f"{tag}_dc0"], rtol=1e-9, atol=1e-12)
    for name, p in cell.named_parameters():
        np.testing.assert_allclose(p.grad.array, REF[f"{tag}_d_{name}"], rtol=1e-9, atol=1e-11)


# --- gradcheck of whole layers -------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("kw", [{}, {"num_layers": 2, "bidirectional": True}, {"batch_first": True}])
def test_layer_gradcheck(kind, kw):
    neurona.manual_seed(1)
    layer = make_layer(kind, **kw)
    params = list(layer.parameters())
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 4) if kw.get("batch_first") else (4, 2, 4))
    n_states = 2 if kind == "lstm" else 1
    D = 2 if kw.get("bidirectional") else 1
    h = [rng.standard_normal((kw.get("num_layers", 1) * D, 2, 3)) * 0.5 for _ in range(n_states)]
    lengths = np.array([4, 2])

    names = [n for n, _ in layer.named_parameters()]

    def fn(x, *rest):
        # the weights come in as gradcheck's inputs: put them in the layer for this call
        states, ws = rest[:n_states], rest[n_states:]
        layer._parameters.update(zip(names, ws))
        try:
            out, hn = layer(x, tuple(states) if kind == "lstm" else states[0], lengths=lengths)
        finally:
            layer._parameters.update(zip(names, params))
        return [out] + (list(hn) if kind == "lstm" else [hn])

    inputs = [neurona.from_numpy(x)] + [neurona.from_numpy(a) for a in h] + \
             [neurona.from_numpy(p.array.copy()) for p in params]
    assert neurona.gradcheck(fn, *inputs)


@pytest.mark.parametrize("kind", KINDS)
def test_cell_unrolled_gradcheck(kind):
    """A cell run by hand over 4 steps (the notes' unrolled network): BPTT through the module's loop."""
    I, H, T, B = 3, 4, 4, 2
    if kind.startswith("rnn"):
        cell = nn.RNNCell(I, H, nonlinearity=kind[4:], dtype=np.float64)
    else:
        cell = (nn.LSTMCell if kind == "lstm" else nn.GRUCell)(I, H, dtype=np.float64)
    names = [n for n, _ in cell.named_parameters()]
    params = list(cell.parameters())
    n_states = 2 if kind == "lstm" else 1
    rng = np.random.default_rng(5)

    def fn(x, *rest):
        states, ws = rest[:n_states], rest[n_states:]
        cell._parameters.update(zip(names, ws))
        try:
            s = tuple(states) if kind == "lstm" else states[0]
            hs = []
            for t in range(T):
                s = cell(x[t], s)
                hs.append(s[0] if kind == "lstm" else s)
        finally:
            cell._parameters.update(zip(names, params))
        return [neurona.stack(hs)] + (list(s) if kind == "lstm" else [])

    inputs = [neurona.from_numpy(rng.standard_normal((T, B, I)))]
    inputs += [neurona.from_numpy(rng.standard_normal((B, H)) * 0.5) for _ in range(n_states)]
    inputs += [neurona.from_numpy(p.array.copy()) for p in params]
    assert neurona.gradcheck(fn, *inputs)


def test_fused_and_composed_agree_float32():
    rng = np.random.default_rng(0)
    x = neurona.from_numpy(rng.standard_normal((7, 5, 6)).astype(np.float32))
    for cls in (nn.LSTM, nn.GRU, nn.RNN):
        neurona.manual_seed(0)
        a = cls(6, 8, num_layers=2, bidirectional=True)
        neurona.manual_seed(0)
        b = cls(6, 8, num_layers=2, bidirectional=True, fused=False)
        ya, ha = a(x, lengths=[7, 3, 5, 1, 7])
        yb, hb = b(x, lengths=[7, 3, 5, 1, 7])
        np.testing.assert_allclose(ya.array, yb.array, rtol=1e-5, atol=1e-6)
        (ya.sum() + (ha[0] if isinstance(ha, tuple) else ha).sum()).backward()
        (yb.sum() + (hb[0] if isinstance(hb, tuple) else hb).sum()).backward()
        for (n, p), q in zip(a.named_parameters(), b.parameters()):
            assert p.grad.dtype == np.float32
            np.testing.assert_allclose(p.grad.array, q.grad.array, rtol=1e-4, atol=1e-5, err_msg=n)


# --- shapes, states, options -----------------------------------------------------------------


def test_parameter_names_shapes_and_init_range():
    lstm = nn.LSTM(10, 20, num_layers=2, bidirectional=True)
    shapes = {n: p.shape for n, p in lstm.named_parameters()}
    assert shapes["weight_ih_l0"] == (80, 10) and shapes["weight_hh_l0"] == (80, 20)
    assert shapes["weight_ih_l1"] == (80, 40) and shapes["bias_hh_l1_reverse"] == (80,)
    assert list(shapes)[:5] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l0_reverse"]
    assert len(lstm.all_weights) == 4 and len(lstm.all_weights[0]) == 4
    k = 1 / np.sqrt(20)
    assert all(np.abs(p.array).max() <= k for p in lstm.parameters())
    gru = nn.GRU(3, 5, bias=False)
    assert [n for n, _ in gru.named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]
    assert gru.weight_ih_l0.shape == (15, 3)
    assert "batch_first=True" in repr(nn.GRU(3, 4, batch_first=True))


def test_output_shapes_batch_first_and_unbatched():
    lstm = nn.LSTM(6, 5, num_layers=3, batch_first=True, bidirectional=True)
    out, (h, c) = lstm(neurona.randn(4, 9, 6))
    assert out.shape == (4, 9, 10) and h.shape == (6, 4, 5) and c.shape == (6, 4, 5)
    # the top layer's forward final state is the output's last step; its reverse one the first step
    np.testing.assert_allclose(h.array[-2], out.array[:, -1, :5], rtol=1e-6)
    np.testing.assert_allclose(h.array[-1], out.array[:, 0, 5:], rtol=1e-6)
    rnn = nn.RNN(6, 5, num_layers=2)
    out, h = rnn(neurona.randn(9, 6))
    assert out.shape == (9, 5) and h.shape == (2, 5)
    ob, hb = rnn(neurona.from_numpy(np.zeros((9, 1, 6), np.float32)))
    assert ob.shape == (9, 1, 5)


def test_initial_state_is_used_and_carried():
    neurona.manual_seed(0)
    gru = nn.GRU(3, 4)
    x = neurona.randn(6, 2, 3)
    full, h_full = gru(x)
    first, h1 = gru(x[:4])
    second, h2 = gru(x[4:], h1)
    np.testing.assert_allclose(second.array, full.array[4:], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h2.array, h_full.array, rtol=1e-5, atol=1e-6)
    lstm = nn.LSTM(3, 4)
    _, (h, c) = lstm(x[:3])
    out, _ = lstm(x[3:], (h, c))
    ref, _ = lstm(x)
    np.testing.assert_allclose(out.array, ref.array[3:], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN])
def test_lengths_give_the_state_at_the_true_length(cls):
    neurona.manual_seed(0)
    layer = cls(3, 4, batch_first=True, bidirectional=True)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 6, 3)).astype(np.float32)
    lengths = [6, 2, 4]
    x[1, 2:] = 99.0  # garbage in the padding must not matter
    x[2, 4:] = -99.0
    out, h = layer(neurona.from_numpy(x), lengths=lengths)
    h = h[0] if isinstance(h, tuple) else h
    for b, n in enumerate(lengths):
        alone, hb = layer(neurona.from_numpy(x[b:b + 1, :n].copy()))
        hb = hb[0] if isinstance(hb, tuple) else hb
        np.testing.assert_allclose(out.array[b, :n], alone.array[0], rtol=1e-5, atol=1e-6)
        assert np.all(out.array[b, n:] == 0)
        np.testing.assert_allclose(h.array[:, b], hb.array[:, 0], rtol=1e-5, atol=1e-6)


def test_padded_steps_get_no_gradient():
    lstm = nn.LSTM(3, 4)
    x = neurona.randn(5, 2, 3, requires_grad=True)
    out, (h, c) = lstm(x, lengths=[5, 2])
    (out.sum() + h.sum() + c.sum()).backward()
    assert np.all(x.grad.array[2:, 1] == 0) and np.any(x.grad.array[:2, 1] != 0)


def test_dropout_between_layers_only_in_training():
    neurona.manual_seed(0)
    lstm = nn.LSTM(4, 6, num_layers=2, dropout=0.5)
    x = neurona.randn(5, 3, 4)
    lstm.eval()
    a, _ = lstm(x)
    b, _ = lstm(x)
    np.testing.assert_array_equal(a.array, b.array)
    lstm.train()
    c, _ = lstm(x)
    assert not np.allclose(a.array, c.array)
    with pytest.warns(UserWarning, match="no effect"):
        single = nn.GRU(4, 6, dropout=0.5)  # one layer: nothing between layers, training = eval
    s1, _ = single(x)
    single.eval()
    s2, _ = single(x)
    np.testing.assert_array_equal(s1.array, s2.array)


def test_state_dict_round_trip_and_float64():
    a = nn.GRU(3, 4, num_layers=2)
    b = nn.GRU(3, 4, num_layers=2)
    b.load_state_dict(a.state_dict())
    x = neurona.randn(5, 2, 3)
    np.testing.assert_array_equal(a(x)[0].array, b(x)[0].array)
    d = nn.LSTM(3, 4, dtype=np.float64)
    y, (h, c) = d(neurona.randn(5, 2, 3, dtype=np.float64))
    assert y.dtype == np.float64 and c.dtype == np.float64


def test_errors_name_the_layer_and_shapes():
    lstm = nn.LSTM(4, 3)
    with pytest.raises(ValueError, match=r"LSTM: expected input_size 4.*\(5, 2, 7\)"):
        lstm(neurona.randn(5, 2, 7))
    with pytest.raises(ValueError, match=r"expected the initial state as \(h_0, c_0\)"):
        lstm(neurona.randn(5, 2, 4), neurona.zeros(1, 2, 3))
    with pytest.raises(ValueError, match=r"\(1, 2, 3\), got \(1, 5, 3\)"):
        lstm(neurona.randn(5, 2, 4), (neurona.zeros(1, 5, 3), neurona.zeros(1, 5, 3)))
    with pytest.raises(TypeError, match="dtype"):
        lstm(neurona.randn(5, 2, 4, dtype=np.float64))
    with pytest.raises(ValueError, match=r"lengths must lie in \[0, 5\]"):
        lstm(neurona.randn(5, 2, 4), lengths=[6, 1])
    with pytest.raises(ValueError, match="one length per sequence"):
        lstm(neurona.randn(5, 2, 4), lengths=[5])
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="RNNCell: expected input of shape"):
        nn.RNNCell(3, 4)(neurona.randn(2, 5))


def test_cells_unbatched_and_default_state():
    cell = nn.LSTMCell(3, 4)
    h, c = cell(neurona.randn(3))
    assert h.shape == (4,) and c.shape == (4,)
    g = nn.GRUCell(3, 4)
    assert g(neurona.randn(2, 3)).shape == (2, 4)
    r = nn.RNNCell(3, 4, nonlinearity="relu")
    assert np.all(r(neurona.randn(5, 3)).array >= 0)


# --- truncated BPTT ----------------------------------------------------------------------------


class _TinyLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(5, 4)
        self.rnn = nn.GRU(4, 8, batch_first=True)
        self.out = nn.Linear(8, 5)

    def forward(self, x, state=None):
        y, state = self.rnn(self.emb(x), state)
        return self.out(y), state


def test_detach_state_cuts_the_graph_and_keeps_values():
    h = neurona.randn(2, 3, requires_grad=True) * 2
    c = neurona.randn(2, 3, requires_grad=True) * 2
    dh, dc = nn.detach_state((h, c))
    assert not dh.requires_grad and dh.grad_fn is None
    np.testing.assert_array_equal(dc.array, c.array)
    assert nn.detach_state(None) is None


def test_truncated_bptt_learns_a_periodic_stream():
    neurona.manual_seed(0)
    model = _TinyLM()
    opt = neurona.optim.Adam(model.parameters(), lr=0.02)
    stream = np.tile(np.array([0, 1, 2, 3, 4]), 41)
    x = np.stack([stream[:-1], np.roll(stream, 2)[:-1]])          # (2 streams, 204 steps)
    y = np.stack([stream[1:], np.roll(stream, 2)[1:]])
    ce = nn.CrossEntropyLoss()

    def loss_fn(out, t):
        return ce(out.reshape(-1, 5), t.reshape(-1))
    first, state = nn.truncated_bptt(model, loss_fn, opt, neurona.tensor(x), neurona.tensor(y), k=20)
    for _ in range(4):
        last, state = nn.truncated_bptt(model, loss_fn, opt, neurona.tensor(x), neurona.tensor(y), k=20,
                                        state=state, clip_grad_norm=1.0)
    assert state.shape == (1, 2, 8) and not state.requires_grad
    assert last < 0.2 * first
    chunks = list(nn.bptt_chunks(x, y, 50))
    assert [c[0].shape[1] for c in chunks] == [50, 50, 50, 50, 4]
