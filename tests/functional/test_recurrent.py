"""The recurrent ops: cells and fused whole-sequence ops against a plain NumPy loop, float64
gradcheck over several steps (both directions, with lengths, without biases), float32
preservation, and fused vs composed agreement in values and gradients."""
from __future__ import annotations

import numpy as np
import pytest

import neurona
from neurona.functional import recurrent as R
from tests.opcheck import check_op

GATES = {"lstm": 4, "gru": 3, "tanh": 1, "relu": 1}


def _sig(a):
    return 1 / (1 + np.exp(-a))


def np_step(kind, x, h, c, wi, wh, bi, bh):
    """One step of each cell in plain NumPy (PyTorch's equations and gate order)."""
    H = h.shape[1]
    ax = x @ wi.T + (0 if bi is None else bi)
    ah = h @ wh.T + (0 if bh is None else bh)
    if kind == "tanh":
        return np.tanh(ax + ah), None
    if kind == "relu":
        return np.maximum(ax + ah, 0), None
    if kind == "lstm":
        a = ax + ah
        i, f, g, o = _sig(a[:, :H]), _sig(a[:, H:2 * H]), np.tanh(a[:, 2 * H:3 * H]), _sig(a[:, 3 * H:])
        c2 = f * c + i * g
        return o * np.tanh(c2), c2
    r = _sig(ax[:, :H] + ah[:, :H])
    z = _sig(ax[:, H:2 * H] + ah[:, H:2 * H])
    n = np.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])
    return (1 - z) * n + z * h, None


def np_sequence(kind, x, h0, c0, wi, wh, bi=None, bh=None, lengths=None, reverse=False):
    T, B, _ = x.shape
    h, c = h0, c0
    outs = np.zeros((T, B, h0.shape[1]))
    order = range(T - 1, -1, -1) if reverse else range(T)
    for t in order:
        h2, c2 = np_step(kind, x[t], h, c, wi, wh, bi, bh)
        valid = np.ones(B, bool) if lengths is None else t < np.asarray(lengths)
        m = valid[:, None]
        h = np.where(m, h2, h)
        if c is not None:
            c = np.where(m, c2, c)
        outs[t] = np.where(m, h2, 0)
    return [outs, h] + ([c] if c is not None else [])


def seq_fn(kind, lengths=None, reverse=False, fused=True, bias=True):
    """A function of tensors (x, h0, [c0], w_ih, w_hh, [b_ih, b_hh]) for check_op / gradcheck."""
    def fn(*ts):
        if kind == "lstm":
            x, h0, c0, *w = ts
            return list(R.lstm_sequence(x, h0, c0, *w, lengths=lengths, reverse=reverse, fused=fused))
        x, h0, *w = ts
        if kind == "gru":
            return list(R.gru_sequence(x, h0, *w, lengths=lengths, reverse=reverse, fused=fused))
        return list(R.rnn_sequence(x, h0, *w, nonlinearity=kind, lengths=lengths, reverse=reverse, fused=fused))
    return fn


def ref_fn(kind, lengths=None, reverse=False):
    def ref(*arrs):
        if kind == "lstm":
            x, h0, c0, *w = arrs
        else:
            (x, h0, *w), c0 = arrs, None
        return np_sequence(kind, x, h0, c0, *w, lengths=lengths, reverse=reverse)
    return ref


def shapes(kind, T, B, I, H, bias=True):
    G = GATES[kind]
    s = [(T, B, I), (B, H)] + ([(B, H)] if kind == "lstm" else []) + [(G * H, I), (G * H, H)]
    return s + ([(G * H,), (G * H,)] if bias else [])


@pytest.mark.parametrize("kind", list(GATES))
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("lengths", [None, [4, 1, 3]])
def test_fused_sequence_op(kind, reverse, lengths):
    # forward vs NumPy, float64 gradcheck over 4 steps, float32 in → float32 out (values and grads)
    check_op(seq_fn(kind, lengths, reverse), ref_fn(kind, lengths, reverse), shapes(kind, 4, 3, 2, 3),
             rtol32=1e-4, atol32=1e-5)


@pytest.mark.parametrize("kind", list(GATES))
def test_fused_sequence_without_bias_and_one_step(kind):
    check_op(seq_fn(kind), ref_fn(kind), shapes(kind, 3, 2, 2, 2, bias=False))
    check_op(seq_fn(kind, reverse=True), ref_fn(kind, reverse=True), shapes(kind, 1, 2, 3, 2))


@pytest.mark.parametrize("kind", list(GATES))
def test_composed_sequence_op(kind):
    check_op(seq_fn(kind, [3, 0, 2], fused=False), ref_fn(kind, [3, 0, 2]), shapes(kind, 3, 3, 2, 2))


@pytest.mark.parametrize("kind", list(GATES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_and_composed_agree(kind, dtype):
    rng = np.random.default_rng(7)
    lengths = [9, 4, 1, 9, 6]
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes(kind, 9, 5, 6, 7)]
    results = []
    for fused in (True, False):
        ts = [neurona.from_numpy(a.copy()).requires_grad_() for a in arrays]
        outs = seq_fn(kind, lengths, reverse=False, fused=fused)(*ts)
        cot = np.random.default_rng(1)
        loss = sum((o * neurona.from_numpy(cot.standard_normal(o.shape).astype(dtype))).sum() for o in outs)
        loss.backward()
        results.append(([o.array for o in outs], [t.grad.array for t in ts]))
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-4, atol=2e-5)
    (o1, g1), (o2, g2) = results
    for a, b in zip(o1 + g1, o2 + g2):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, **tol)


@pytest.mark.parametrize("kind", ["lstm", "gru", "tanh"])
def test_cells_against_numpy(kind):
    def fn(x, h, *rest):
        if kind == "lstm":
            c, *w = rest
            return list(R.lstm_cell(x, (h, c), *w))
        if kind == "gru":
            return R.gru_cell(x, h, *rest)
        return R.rnn_tanh_cell(x, h, *rest)

    def ref(x, h, *rest):
        if kind == "lstm":
            c, *w = rest
            return list(np_step(kind, x, h, c, *w))
        return np_step(kind, x, h, None, *rest)[0]

    G = GATES[kind]
    s = [(3, 4), (3, 5)] + ([(3, 5)] if kind == "lstm" else []) + [(G * 5, 4), (G * 5, 5), (G * 5,), (G * 5,)]
    check_op(fn, ref, s)


def test_saturated_gates_stay_finite():
    # huge pre-activations: e^{-a} overflows to inf, σ must give exactly 0 or 1 and no NaN
    x = neurona.from_numpy(np.full((3, 2, 2), 1e4, np.float32))
    w = neurona.from_numpy(np.ones((16, 2), np.float32))
    wh = neurona.from_numpy(np.ones((16, 4), np.float32))
    h0 = neurona.zeros(2, 4)
    out, h, c = R.lstm_sequence(-x, h0, h0, w, wh)
    assert np.all(np.isfinite(out.array)) and np.all(np.isfinite(c.array))
    out2, h2 = R.gru_sequence(x, h0, w[:12], wh[:12])
    assert np.all(np.isfinite(out2.array))


def test_sequence_mask_and_length_checks():
    np.testing.assert_array_equal(R.sequence_mask([2, 0, 3]), [[1, 0, 1], [1, 0, 1], [0, 0, 1]])
    assert R.sequence_mask([1], max_len=3).shape == (3, 1)
    x, h = neurona.zeros(4, 2, 3), neurona.zeros(2, 5)
    w, wh = neurona.zeros(5, 3), neurona.zeros(5, 5)
    with pytest.raises(ValueError, match=r"rnn: lengths must lie in \[0, 4\]"):
        R.rnn_sequence(x, h, w, wh, lengths=[5, 1])
    with pytest.raises(TypeError, match="lengths must be integers"):
        R.rnn_sequence(x, h, w, wh, lengths=[1.5, 1])
    with pytest.raises(ValueError, match=r"w_ih must have shape \(5, 3\)"):
        R.rnn_sequence(x, h, neurona.zeros(5, 2), wh)
    with pytest.raises(ValueError, match=r"h0 must have shape \(batch, hidden\) = \(2, 5\)"):
        R.rnn_sequence(x, neurona.zeros(3, 5), w, wh)
    with pytest.raises(ValueError, match="time-major"):
        R.gru_sequence(neurona.zeros(4, 3), h, w, wh)
    with pytest.raises(TypeError, match="share one floating dtype"):
        R.rnn_sequence(x.double(), h, w, wh)
    with pytest.raises(ValueError, match="give both biases"):
        R.rnn_sequence(x, h, w, wh, neurona.zeros(5))


@pytest.mark.parametrize("kind", list(GATES))
def test_reused_work_buffers_never_mix_two_graphs(kind):
    # two forwards alive at once, inference calls in between, a retained graph differentiated twice:
    # every gradient must equal the one computed alone
    rng = np.random.default_rng(5)
    ws = [neurona.from_numpy(rng.standard_normal(s).astype(np.float32)).requires_grad_()
          for s in shapes(kind, 6, 4, 3, 5)[-4:]]
    xs = [rng.standard_normal((6, 4, 3)).astype(np.float32) for _ in range(2)]
    h0 = neurona.zeros(4, 5)

    def run(x):
        args = [neurona.from_numpy(x), h0] + ([h0] if kind == "lstm" else []) + ws
        return seq_fn(kind)(*args)[1].sum()

    alone = []
    for x in xs:
        for w in ws:
            w.grad = None
        run(x).backward()
        alone.append([w.grad.array.copy() for w in ws])
    for w in ws:
        w.grad = None
    l1, l2 = run(xs[0]), run(xs[1])
    with neurona.no_grad():
        run(xs[1] * 3)
    l2.backward(retain_graph=True)
    l2.backward()
    l1.backward()
    for w, a, b in zip(ws, alone[0], alone[1]):
        np.testing.assert_allclose(w.grad.array, a + 2 * b, rtol=1e-5, atol=1e-6)
