"""Conv2d, Conv1d, BatchNorm2d, Dropout2d and the pooling / upsampling layers."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import neurona
from neurona import nn
from neurona.functional.conv import conv2d_reference
from tests.opcheck import check_op

REF = np.load(Path(__file__).parents[1] / "fixtures" / "conv_reference.npz", allow_pickle=False)


def test_conv2d_shapes_init_and_repr():
    neurona.manual_seed(0)
    conv = nn.Conv2d(4, 8, (3, 5), stride=(2, 1), padding=(1, 2), groups=2)
    assert conv.weight.shape == (8, 2, 3, 5) and conv.bias.shape == (8,)
    bound = 1 / math.sqrt(2 * 3 * 5)  # PyTorch's default: U(±1/√fan_in) for weight (kaiming a=√5) and bias
    assert np.abs(conv.weight.array).max() <= bound and np.abs(conv.weight.array).max() > 0.8 * bound
    assert np.abs(conv.bias.array).max() <= bound
    assert conv.weight.dtype == np.float32
    y = conv(neurona.randn(2, 4, 9, 10))
    assert y.shape == (2, 8, 5, 10) == conv.output_shape((2, 4, 9, 10))
    assert "kernel_size=(3, 5)" in repr(conv) and "groups=2" in repr(conv)
    assert conv.num_parameters() == 8 * 2 * 15 + 8
    assert nn.Conv2d(3, 6, 5, bias=False).bias is None


def test_conv2d_layer_matches_reference_and_trains(rng):
    conv = nn.Conv2d(3, 5, 3, padding="same", dtype=np.float64)
    x = rng.standard_normal((2, 3, 7, 6))
    y = conv(neurona.from_numpy(x))
    w, b = neurona.backend.to_numpy(conv.weight.array), neurona.backend.to_numpy(conv.bias.array)
    np.testing.assert_allclose(y.array, conv2d_reference(x, w, b, 1, "same"),
                               rtol=1e-10, atol=1e-12)
    y.sum().backward()
    assert conv.weight.grad.shape == conv.weight.shape and conv.bias.grad.shape == (5,)
    assert conv(neurona.from_numpy(x[0])).shape == (5, 7, 6)  # unbatched (C, H, W)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_padding_modes_match_pytorch(mode):
    case = f"conv2d_mode_{mode}"
    conv = nn.Conv2d(3, 4, 3, padding=(1, 2), padding_mode=mode, dtype=np.float64)
    conv.load_state_dict({"weight": REF[f"{case}.w"], "bias": REF[f"{case}.b"]})
    x = neurona.from_numpy(REF[f"{case}.x"].copy()).requires_grad_()
    y = conv(x)
    np.testing.assert_allclose(y.array, REF[f"{case}.out"], rtol=1e-10, atol=1e-10)
    y.backward(REF[f"{case}.r"])
    np.testing.assert_allclose(x.grad.array, REF[f"{case}.grad_x"], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(conv.weight.grad.array, REF[f"{case}.grad_w"], rtol=1e-10, atol=1e-10)
    assert f"padding_mode='{mode}'" in repr(conv)


def test_conv1d_layer(rng):
    conv = nn.Conv1d(3, 4, 3, stride=2, padding=1, dtype=np.float64)
    x = rng.standard_normal((2, 3, 9))
    y = conv(neurona.from_numpy(x))
    w, b = neurona.backend.to_numpy(conv.weight.array), neurona.backend.to_numpy(conv.bias.array)
    ref = conv2d_reference(x[:, :, None], w[:, :, None], b, (1, 2), (0, 1))[:, :, 0]
    np.testing.assert_allclose(y.array, ref, rtol=1e-10, atol=1e-12)
    assert conv(neurona.from_numpy(x[0])).shape == (4, 5)
    same = nn.Conv1d(2, 2, 4, padding="same", padding_mode="circular")
    assert same(neurona.randn(1, 2, 7)).shape == (1, 2, 7)
    assert "kernel_size=3" in repr(conv)


# layer, its arguments, input shape: the layers' own paths (padding modes, 'same' with even kernels, groups,
# dilation, Conv1d through Conv2d) over odd sizes; check_op gradchecks input, weight and bias, compares with
# the plain reference on an explicitly padded input, and checks float32 in, float32 out
LAYER_GRID = [
    (nn.Conv2d, dict(in_channels=2, out_channels=4, kernel_size=3, padding=1, padding_mode="reflect"), (2, 2, 5, 6)),
    (nn.Conv2d, dict(in_channels=4, out_channels=2, kernel_size=(3, 2), stride=(2, 1), padding=(1, 2),
                     padding_mode="replicate", groups=2), (1, 4, 7, 5)),
    (nn.Conv2d, dict(in_channels=3, out_channels=3, kernel_size=3, padding="same", dilation=2,
                     padding_mode="circular", groups=3), (2, 3, 7, 7)),
    (nn.Conv2d, dict(in_channels=2, out_channels=3, kernel_size=4, padding="same", bias=False), (1, 2, 5, 6)),
    (nn.Conv2d, dict(in_channels=3, out_channels=2, kernel_size=(1, 5), stride=(3, 2), padding="valid"), (1, 3, 7, 9)),
    (nn.Conv1d, dict(in_channels=2, out_channels=4, kernel_size=3, stride=2, padding=1), (2, 2, 9)),
    (nn.Conv1d, dict(in_channels=4, out_channels=6, kernel_size=5, dilation=2, groups=2, padding=3), (1, 4, 13)),
    (nn.Conv1d, dict(in_channels=3, out_channels=3, kernel_size=4, padding="same", groups=3, padding_mode="reflect"),
     (2, 3, 7)),
    (nn.Conv1d, dict(in_channels=2, out_channels=2, kernel_size=2, padding="same", padding_mode="circular"), (1, 2, 5)),
    (nn.Conv1d, dict(in_channels=2, out_channels=3, kernel_size=1, bias=False), (2, 2, 6)),
]
_NP_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


@pytest.mark.parametrize("cls, kwargs, xs", LAYER_GRID)
def test_conv_layer_grid_gradcheck_reference_float32(cls, kwargs, xs):
    layer = cls(dtype=np.float64, **kwargs)
    params = dict(layer._parameters)
    one_d = cls is nn.Conv1d
    top, bottom, left, right = layer._explicit_pads()

    def fn(x, w, b=None):
        layer._parameters.update(weight=w, bias=b)  # gradcheck's inputs stand in for the parameters
        try:
            return layer(x)
        finally:
            layer._parameters.update(params)

    def ref(x, w, b=None):
        x4, w4 = (x[:, :, None], w[:, :, None]) if one_d else (x, w)
        pads = ((0, 0), (0, 0), (top, bottom), (left, right))
        xp = np.pad(x4, pads, mode=_NP_MODES[layer.padding_mode])
        stride = (1,) + layer.stride if one_d else layer.stride
        dilation = (1,) + layer.dilation if one_d else layer.dilation
        y = conv2d_reference(xp, w4, b, stride, 0, dilation, layer.groups)
        return y[:, :, 0] if one_d else y

    shapes = [xs, layer.weight.shape] + ([layer.bias.shape] if layer.bias is not None else [])
    check_op(fn, ref, shapes)


@pytest.mark.parametrize("kwargs, message", [
    (dict(in_channels=3, out_channels=4, kernel_size=3, groups=2), "divisible by groups"),
    (dict(in_channels=3, out_channels=4, kernel_size=3, padding_mode="mirror"), "padding_mode"),
    (dict(in_channels=3, out_channels=4, kernel_size=3, padding="same", stride=2), "strided"),
    (dict(in_channels=0, out_channels=4, kernel_size=3), "positive"),
])
def test_conv2d_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nn.Conv2d(**kwargs)


def test_conv2d_input_errors():
    conv = nn.Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match=r"expected input \(N, 3, H, W\)"):
        conv(neurona.zeros(2, 2, 8, 8))


def test_batchnorm2d_matches_pytorch():
    bn = nn.BatchNorm2d(3, momentum=0.2, dtype=np.float64)
    bn.weight.array[...] = REF["bn2d.weight"]
    bn.bias.array[...] = REF["bn2d.bias"]
    x1 = neurona.from_numpy(REF["bn2d.x1"].copy()).requires_grad_()
    y1 = bn(x1)
    np.testing.assert_allclose(y1.array, REF["bn2d.y1"], rtol=1e-10, atol=1e-10)
    y1.backward(REF["bn2d.r1"])
    np.testing.assert_allclose(x1.grad.array, REF["bn2d.grad_x1"], rtol=1e-8, atol=1e-10)
    bn(neurona.from_numpy(REF["bn2d.x2"]))
    np.testing.assert_allclose(bn.running_mean.array, REF["bn2d.running_mean"], rtol=1e-10)
    np.testing.assert_allclose(bn.running_var.array, REF["bn2d.running_var"], rtol=1e-10)
    bn.eval()
    np.testing.assert_allclose(bn(neurona.from_numpy(REF["bn2d.x2"])).array, REF["bn2d.y_eval"], rtol=1e-10, atol=1e-10)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        bn(neurona.zeros(4, 3))


def test_dropout2d_layer():
    neurona.manual_seed(1)
    layer = nn.Dropout2d(0.5)
    x = neurona.ones(8, 16, 4, 4)
    y = layer(x)
    kept = y.array.reshape(8, 16, -1)
    assert np.all((kept == 0).all(-1) | (kept == 2).all(-1))
    layer.eval()
    assert layer(x) is x
    assert repr(layer) == "Dropout2d(p=0.5)"


def test_pooling_layers():
    x = neurona.randn(2, 3, 9, 8)
    assert nn.MaxPool2d(2)(x).shape == (2, 3, 4, 4)
    assert nn.MaxPool2d(3, 2, 1, ceil_mode=True)(x).shape == (2, 3, 5, 5)
    y, idx = nn.MaxPool2d(2, return_indices=True)(x)
    assert idx.shape == y.shape and idx.dtype == np.int64
    assert nn.AvgPool2d(3, 1, 1)(x).shape == (2, 3, 9, 8)
    assert nn.AdaptiveAvgPool2d((2, 3))(x).shape == (2, 3, 2, 3)
    assert nn.AdaptiveAvgPool2d(1)(x).shape == (2, 3, 1, 1)
    assert nn.AdaptiveMaxPool2d(2)(x).shape == (2, 3, 2, 2)
    np.testing.assert_allclose(nn.GlobalAvgPool2d()(x).array, x.array.mean(axis=(2, 3)), rtol=1e-6)
    assert nn.MaxPool1d(2)(neurona.randn(2, 3, 9)).shape == (2, 3, 4)
    assert nn.AvgPool1d(3, 2)(neurona.randn(2, 3, 9)).shape == (2, 3, 4)
    up = nn.Upsample(scale_factor=2)
    np.testing.assert_array_equal(up(x).array, x.array.repeat(2, axis=2).repeat(2, axis=3))
    assert nn.Upsample(size=(5, 7), mode="bilinear")(x).shape == (2, 3, 5, 7)
    assert "kernel_size=2" in repr(nn.MaxPool2d(2)) and "scale_factor=2" in repr(up)


def _pool1d_reference(x, k, s, p, op, count_include_pad=True):
    """1-D pooling from the definition, padding −∞ (max) or 0 (mean), one window at a time."""
    fill = -np.inf if op == "max" else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (p, p)), constant_values=fill)
    n_out = (x.shape[2] + 2 * p - k) // s + 1
    cols = []
    for i in range(n_out):
        win = xp[:, :, i * s:i * s + k]
        if op == "max":
            cols.append(win.max(axis=2))
        else:
            real = min(i * s + k, p + x.shape[2]) - max(i * s, p)
            cols.append(win.sum(axis=2) / (k if count_include_pad else real))
    return np.stack(cols, axis=2)


@pytest.mark.parametrize("k, s, p", [(2, 2, 0), (3, 2, 1), (3, 1, 1), (4, 3, 2)])
def test_pool1d_layers_gradcheck_reference_float32(k, s, p):
    check_op(nn.MaxPool1d(k, s, p), lambda x: _pool1d_reference(x, k, s, p, "max"), [(2, 3, 11)], "distinct")
    check_op(nn.AvgPool1d(k, s, p), lambda x: _pool1d_reference(x, k, s, p, "avg"), [(2, 3, 11)])
    check_op(nn.AvgPool1d(k, s, p, count_include_pad=False),
             lambda x: _pool1d_reference(x, k, s, p, "avg", count_include_pad=False), [(1, 2, 9)])


def test_small_cnn_trains_and_keeps_float32(rng):
    """A conv-bn-relu-pool network learns a toy task end to end in float32."""
    neurona.manual_seed(0)
    x = rng.standard_normal((64, 1, 8, 8)).astype(np.float32)
    y = (x[:, 0, :4].mean(axis=(1, 2)) > x[:, 0, 4:].mean(axis=(1, 2))).astype(np.int64)  # top half brighter?
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                          nn.Linear(32, 2))
    opt = neurona.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    xt, yt = neurona.from_numpy(x), neurona.from_numpy(y)
    first = None
    for _ in range(60):
        opt.zero_grad()
        loss = loss_fn(model(xt), yt)
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    assert loss.item() < 0.3 * first
    assert all(p.grad.dtype == np.float32 for p in model.parameters())
