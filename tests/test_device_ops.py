"""Ops, layers, losses, optimizers and models on a device against the CPU: values and gradients.

Every case builds the same inputs on the CPU and on the device under test, runs forward and backward on
both and compares outputs and input/parameter gradients, read back with ``backend.to_numpy`` (never through
NumPy's implicit conversion, which CuPy refuses). By default the device is the strict stand-in
(``neurona.strict``), so CI runs these tests without a GPU; on a GPU machine

    PYTHONPATH=. python -m pytest -q tests/test_device_ops.py --device=cuda

runs the same cases on the card (``bench/gpu_check.sh`` does). float64 cases compare tightly; float32 within
what a different summation order (cuBLAS, cuDNN-free reductions) can move.
"""
from __future__ import annotations

import numpy as np
import pytest

import neurona as nr
from neurona import backend, nn, optim
from neurona import nn as _nn

F = _nn.functional
TOL = {np.float64: dict(rtol=1e-9, atol=1e-10), np.float32: dict(rtol=2e-4, atol=2e-5)}


@pytest.fixture(scope="module")
def dev(request):
    name = request.config.getoption("--device")
    try:
        return backend.resolve_device(name)
    except (RuntimeError, TypeError, ValueError) as e:
        pytest.fail(f"--device={name}: {e}")


def _inputs(shapes, dtype, seed=0, positive=False):
    rng = np.random.default_rng(seed)
    out = []
    for s in shapes:
        a = rng.standard_normal(s).astype(dtype)
        out.append(np.abs(a) + 0.5 if positive else a)
    return out


def _run(fn, arrays, where, grad=True):
    ts = [nr.tensor(a, dtype=a.dtype).to(where).requires_grad_(grad) for a in arrays]
    y = fn(*ts)
    ys = y if isinstance(y, tuple) else (y,)
    if grad:
        total = None
        for i, o in enumerate(ys):
            if o.dtype.kind != "f":
                continue
            w = nr.tensor(np.linspace(-1, 1, o.numel()).reshape(o.shape).astype(o.dtype)).to(where)
            term = (o * w).sum()
            total = term if total is None else total + term
        total.backward()
    outs = [backend.to_numpy(o.array) for o in ys]
    grads = [None if t.grad is None else backend.to_numpy(t.grad.array) for t in ts]
    return outs, grads, [o.device for o in ys]


OPS = {
    "add_broadcast": ([(3, 4), (4,)], lambda a, b: a + b),
    "mul_div": ([(3, 4), (3, 4)], lambda a, b: a * b / (b * b + 1)),
    "exp_log": ([(3, 4)], lambda a: nr.log(nr.exp(a) + 1)),
    "tanh_sigmoid": ([(3, 4)], lambda a: nr.tanh(a) * nr.sigmoid(a)),
    "relu_gelu_silu": ([(3, 4)], lambda a: F.relu(a) + F.gelu(a) + F.silu(a)),
    "leaky_elu": ([(3, 4)], lambda a: F.leaky_relu(a, 0.1) + F.elu(a)),
    "softmax_logsoftmax": ([(3, 5)], lambda a: F.softmax(a, dim=1) + F.log_softmax(a, dim=0)),
    "sum_mean_var": ([(3, 4, 2)], lambda a: a.sum(1) + a.mean((0, 2)).sum() + a.var(0, keepdim=True).sum()),
    "max_min": ([(4, 5)], lambda a: a.max(1)[0] + a.min(0)[0].sum()),
    "matmul_batched": ([(2, 3, 4), (4, 5)], lambda a, b: a @ b),
    "linear": ([(6, 4), (3, 4), (3,)], lambda x, w, b: F.linear(x, w, b)),
    "reshape_transpose_cat": ([(2, 6), (2, 6)], lambda a, b: nr.cat([a.reshape(3, 4), b.t().reshape(3, 4)], 0)),
    "getitem_where": ([(4, 5)], lambda a: nr.where(a > 0, a[:, 1:].sum() * a, -a)),
    "pad_and_slice": ([(2, 3, 4)], lambda a: F.pad(a, (1, 2))[..., 1:-1]),
    "conv2d": ([(2, 3, 7, 6), (4, 3, 3, 3), (4,)], lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1)),
    "conv2d_groups_dilation": ([(2, 4, 8, 8), (4, 2, 3, 3)], lambda x, w: F.conv2d(x, w, groups=2, dilation=2)),
    "conv1d": ([(2, 3, 9), (5, 3, 3)], lambda x, w: F.conv1d(x, w, padding=1)),
    "conv_transpose2d": ([(2, 3, 4, 4), (3, 2, 3, 3)], lambda x, w: F.conv_transpose2d(x, w, stride=2)),
    "max_avg_pool": ([(2, 3, 6, 6)], lambda x: F.max_pool2d(x, 2) + F.avg_pool2d(x, 2)),
    "adaptive_avg_pool": ([(2, 3, 7, 5)], lambda x: F.adaptive_avg_pool2d(x, 1)),
    "layer_norm": ([(4, 6), (6,), (6,)], lambda x, g, b: F.layer_norm(x, (6,), g, b)),
    "batch_norm_train": ([(5, 3, 2, 2), (3,), (3,)], lambda x, g, b: F.batch_norm(x, None, None, g, b, training=True)),
    "mse_l1_huber": ([(4, 3), (4, 3)], lambda a, b: F.mse_loss(a, b) + F.l1_loss(a, b) + F.huber_loss(a, b)),
    "bce_with_logits": ([(4, 3), (4, 3)], lambda a, b: F.binary_cross_entropy_with_logits(a, nr.sigmoid(b))),
    "attention": ([(2, 2, 5, 4), (2, 2, 5, 4), (2, 2, 5, 4)],
                  lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True)),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", list(OPS))
def test_op_on_the_device_equals_the_cpu(dev, name, dtype):
    shapes, fn = OPS[name]
    arrays = _inputs(shapes, dtype)
    want, want_g, _ = _run(fn, arrays, "cpu")
    got, got_g, where = _run(fn, arrays, dev)
    assert all(d == dev for d in where), f"{name}: output on {where}, expected {dev}"
    for w, g in zip(want, got):
        assert g.dtype == w.dtype, f"{name}: dtype {g.dtype} on {dev}, {w.dtype} on the CPU"
        np.testing.assert_allclose(g, w, **TOL[dtype], err_msg=f"{name}: values")
    for i, (w, g) in enumerate(zip(want_g, got_g)):
        assert (w is None) == (g is None), f"{name}: gradient of input {i} on one device only"
        if w is not None:
            np.testing.assert_allclose(g, w, **TOL[dtype], err_msg=f"{name}: gradient of input {i}")


def test_cross_entropy_and_embedding_with_integer_inputs(dev):
    rng = np.random.default_rng(1)
    logits, table = rng.standard_normal((6, 5)), rng.standard_normal((10, 3))
    target, ids = rng.integers(0, 5, 6), rng.integers(0, 10, (2, 4))
    results = []
    for where in ("cpu", dev):
        x = nr.tensor(logits).to(where).requires_grad_()
        e = nr.tensor(table).to(where).requires_grad_()
        loss = F.cross_entropy(x, nr.tensor(target).to(where), label_smoothing=0.1)
        loss = loss + F.embedding(nr.tensor(ids).to(where), e).pow(2).sum()
        loss.backward()
        results.append([backend.to_numpy(a.array) for a in (loss, x.grad, e.grad)])
    for w, g in zip(*results):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12)


def _model(name):
    nr.manual_seed(0)
    if name == "mlp":
        return nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 3)), (8, 12)
    if name == "cnn":
        return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(4 * 4 * 4, 3)), (8, 1, 8, 8)
    if name == "lstm":
        class Rows(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn, self.head = nn.LSTM(6, 8, batch_first=True), nn.Linear(8, 3)

            def forward(self, x):
                return self.head(self.rnn(x)[0][:, -1])
        return Rows(), (8, 5, 6)
    if name == "gru":
        class Rows(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn, self.head = nn.GRU(6, 8, batch_first=True, bidirectional=True), nn.Linear(16, 3)

            def forward(self, x):
                return self.head(self.rnn(x)[0][:, -1])
        return Rows(), (8, 5, 6)
    if name == "transformer":
        class Enc(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
                self.head = nn.Linear(8, 3)

            def forward(self, x):
                return self.head(self.enc(x).mean(1))
        return Enc(), (8, 5, 8)
    raise ValueError(name)


def _train(name, opt_name, where, steps=3):
    """Three steps in float64. Parameters whose true gradient is zero (a key projection's bias, a bias before batch
    norm) are left out of the models: Adam turns rounding noise in such a gradient into a full step."""
    model, shape = _model(name)
    model = model.to(where, nr.float64)
    params = list(model.parameters())
    opt = {"sgd": lambda: optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True),
           "adam": lambda: optim.Adam(params, lr=1e-2),
           "rmsprop": lambda: optim.RMSprop(params, lr=1e-2)}[opt_name]()
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal(shape), rng.integers(0, 3, shape[0])
    xt, yt = nr.tensor(x, dtype=nr.float64).to(where), nr.tensor(y).to(where)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    return losses, {k: backend.to_numpy(v.array) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name,opt_name", [("mlp", "sgd"), ("mlp", "adam"), ("cnn", "adam"), ("lstm", "rmsprop"),
                                           ("gru", "adam"), ("transformer", "sgd")])
def test_training_steps_on_the_device_equal_the_cpu(dev, name, opt_name):
    want_loss, want = _train(name, opt_name, "cpu")
    got_loss, got = _train(name, opt_name, dev)
    np.testing.assert_allclose(got_loss, want_loss, rtol=1e-9)
    assert got.keys() == want.keys()
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-7, atol=1e-9, err_msg=f"{name}/{opt_name}: {k}")


def test_a_model_file_written_on_the_device_loads_on_the_cpu(dev, tmp_path):
    model, shape = _model("cnn")
    model = model.to(dev).eval()
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    want = backend.to_numpy(model(nr.tensor(x).to(dev)).array)
    nr.save(model.state_dict(), tmp_path / "cnn.npz")
    back, _ = _model("cnn")
    back.load_state_dict(nr.load(tmp_path / "cnn.npz"))
    back.eval()
    assert all(p.device == backend.CPU for p in back.parameters())
    np.testing.assert_allclose(back(nr.tensor(x)).detach().numpy(), want, rtol=1e-5, atol=1e-6)
