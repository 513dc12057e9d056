"""Post-training int8 quantization: the affine maps, integer GEMMs, quantized layers, model files."""
import warnings

import numpy as np
import pytest

import neurona
from neurona import compress, models, nn, optim
from neurona.compress import quantization as Q
from neurona.data import fashion_mnist_small
from neurona.train import fit, predict


def _reference_linear(x, layer):
    """An independent int8 reference: quantize x and W by the formulas, dequantize, multiply in float64."""
    s, z = float(layer.input_scale.array), int(layer.input_zero_point.array)
    xq = np.clip(np.round(x.astype(np.float64) / s) + z, -128, 127)
    xr = s * (xq - z)
    w = layer.weight_int8.array.astype(np.float64) * layer.weight_scale.array.astype(np.float64)[:, None]
    return xr @ w.T + layer.bias.array


# --- the maps -----------------------------------------------------------------------------------


def test_affine_qparams_represent_zero_exactly_and_cover_the_range():
    for lo, hi in [(-1.0, 3.0), (0.0, 6.0), (-2.0, -0.5), (0.2, 0.9), (-5.0, 5.0)]:
        s, z = Q.affine_qparams(lo, hi)
        assert -128 <= z <= 127
        assert Q.dequantize(Q.quantize_affine(np.float32([0.0]), s, z), s, z)[0] == 0.0
        lo2, hi2 = min(lo, 0.0), max(hi, 0.0)
        q = Q.quantize_affine(np.float32([lo2, hi2]), s, z)
        np.testing.assert_allclose(Q.dequantize(q, s, z), [lo2, hi2], atol=s / 2 + 1e-6)
    assert Q.affine_qparams(0.0, 0.0) == (1.0, 0)
    with pytest.raises(ValueError, match="not finite"):
        Q.affine_qparams(-np.inf, 1.0)


def test_quantize_per_channel_error_is_at_most_half_a_step(rng):
    w = rng.normal(0, 1, (6, 5, 3, 3)).astype(np.float32)
    w[2] = 0.0
    q, s = Q.quantize_per_channel(w, axis=0)
    assert q.dtype == np.int8 and s.dtype == np.float32 and s.shape == (6,)
    assert np.abs(q).max() <= 127
    np.testing.assert_allclose(s[[0, 1]], np.abs(w[[0, 1]]).reshape(2, -1).max(axis=1) / 127, rtol=1e-6)
    assert s[2] == 1.0 and np.all(q[2] == 0)
    err = np.abs(q * s[:, None, None, None] - w)
    assert np.all(err <= s[:, None, None, None] / 2 + 1e-6)


@pytest.mark.parametrize("k", [7, 784, 1100])
def test_int_matmul_equals_exact_integer_sums(rng, k):
    xq = rng.integers(-128, 128, (9, k)).astype(np.int8)
    wq = rng.integers(-127, 128, (5, k)).astype(np.int8)
    z = -37
    exact = (xq.astype(np.int64) - z) @ wq.astype(np.int64).T
    a = Q.int_matmul(xq, z, wq, "int32")
    b = Q.int_matmul(xq, z, wq, "blas")
    assert a.dtype == np.int32 and b.dtype == np.int32
    np.testing.assert_array_equal(a, exact)
    np.testing.assert_array_equal(b, exact)
    with pytest.raises(ValueError, match="gemm"):
        Q.int_matmul(xq, z, wq, "fp8")


# --- layers ----------------------------------------------------------------------------------------


def test_quantized_linear_matches_reference_and_float(rng):
    neurona.manual_seed(0)
    lin = nn.Linear(20, 7)
    x = rng.normal(0, 1, (16, 20)).astype(np.float32)
    qp = Q.affine_qparams(x.min(), x.max())
    ql = compress.QuantizedLinear.from_float(lin, qp)
    out = ql(neurona.tensor(x))
    assert out.dtype == np.float32 and out.shape == (16, 7) and not out.requires_grad
    np.testing.assert_allclose(out.array, _reference_linear(x, ql), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out.array, lin(neurona.tensor(x)).array, atol=0.05)
    x3 = x.reshape(4, 4, 20)  # leading batch dimensions
    np.testing.assert_allclose(ql(neurona.tensor(x3)).array.reshape(16, 7), out.array, rtol=1e-6)
    with pytest.raises(ValueError, match="20 features"):
        ql(neurona.randn(3, 19))


@pytest.mark.parametrize("kw", [dict(kernel_size=3), dict(kernel_size=3, padding=1, stride=2),
                                dict(kernel_size=(3, 2), padding="same", dilation=2),
                                dict(kernel_size=3, groups=2, padding=1), dict(kernel_size=3, padding=1,
                                                                               padding_mode="reflect")])
def test_quantized_conv2d_close_to_float(rng, kw):
    neurona.manual_seed(1)
    conv = nn.Conv2d(4, 6, **kw)
    x = rng.normal(0, 1, (3, 4, 9, 8)).astype(np.float32)
    q = compress.QuantizedConv2d.from_float(conv, Q.affine_qparams(x.min(), x.max()))
    ref = conv(neurona.tensor(x)).array
    for gemm in Q.GEMMS:
        q.gemm = gemm
        out = q(neurona.tensor(x)).array
        assert out.shape == ref.shape and out.dtype == np.float32
        # float conv of the dequantized input and weights: the int8 computation must agree to rounding
        s, z = float(q.input_scale.array), int(q.input_zero_point.array)
        xr = Q.dequantize(Q.quantize_affine(x, s, z), s, z)
        c2 = nn.Conv2d(4, 6, **kw)
        c2.weight.array[...] = q.dequantized_weight()
        c2.bias.array[...] = conv.bias.array
        np.testing.assert_allclose(out, c2(neurona.tensor(xr)).array, rtol=1e-4, atol=1e-4)
        assert np.abs(out - ref).max() < 0.1 * np.abs(ref).max()


def test_quantized_conv1d(rng):
    neurona.manual_seed(2)
    conv = nn.Conv1d(3, 5, kernel_size=3, padding=1)
    x = rng.normal(0, 1, (2, 3, 11)).astype(np.float32)
    q = compress.QuantizedConv1d.from_float(conv, Q.affine_qparams(x.min(), x.max()))
    out = q(neurona.tensor(x)).array
    ref = conv(neurona.tensor(x)).array
    assert out.shape == ref.shape == (2, 5, 11)
    assert np.abs(out - ref).max() < 0.05 * np.abs(ref).max()


# --- whole models on the embedded Fashion-MNIST subset -------------------------------------------------


@pytest.fixture(scope="module")
def fashion():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Xtr, ytr = fashion_mnist_small("train", as_float=True, layout="NCHW", warn=False)
        Xte, yte = fashion_mnist_small("test", as_float=True, layout="NCHW", warn=False)
    mu, sd = float(Xtr.mean()), float(Xtr.std())
    return (Xtr - mu) / sd, ytr, (Xte - mu) / sd, yte


@pytest.fixture(scope="module")
def trained_mlp(fashion):
    Xtr, ytr, _, _ = fashion
    neurona.manual_seed(0)
    m = models.MLP(784, [64, 32], 10)
    fit(m, nn.CrossEntropyLoss(), optim.Adam(m.parameters(), 2e-3), (Xtr[:1500], ytr[:1500]), epochs=2,
        batch_size=64, seed=0, verbose=0)
    return m


# The stated tolerance: on the embedded test subset, the int8 model's logits stay within 5 % of the float
# logits' range (max abs difference), at least 97 % of the predictions are unchanged, and the accuracy moves
# by at most 1.5 points.
LOGIT_TOL, AGREE, ACC_TOL = 0.05, 0.97, 0.015


def _check_close(model, qmodel, X, y):
    ref, out = predict(model, X), predict(qmodel, X)
    span = ref.max() - ref.min()
    assert np.abs(out - ref).max() <= LOGIT_TOL * span
    assert np.mean(out.argmax(1) == ref.argmax(1)) >= AGREE
    assert abs(np.mean(out.argmax(1) == y) - np.mean(ref.argmax(1) == y)) <= ACC_TOL


def test_quantized_mlp_stays_within_tolerance_and_file_is_smaller(fashion, trained_mlp, tmp_path):
    Xtr, _, Xte, yte = fashion
    qm = compress.quantize(trained_mlp, Xtr[:512], num_batches=2)
    assert isinstance(qm, compress.QuantizedModel)
    assert set(qm.quantized_layers()) == {"layers.0", "layers.2", "layers.4"}
    _check_close(trained_mlp, qm, Xte, yte)
    # the float model is untouched
    assert isinstance(trained_mlp.layers[0], nn.Linear)
    f_path = neurona.io.save(trained_mlp, tmp_path / "f.npz")
    q_path = neurona.io.save(qm, tmp_path / "q.npz", dataset="fashion-mnist-small")
    fb, qb = f_path.stat().st_size, q_path.stat().st_size
    assert qb < 0.3 * fb, (fb, qb)  # int8 weights: about a quarter of float32, plus a small header
    # the safe loader rebuilds it by name; the weights are int8 arrays, nothing pickled
    with np.load(q_path, allow_pickle=False) as z:
        assert z["weights/model.layers.0.weight_int8"].dtype == np.int8
    back = neurona.io.load(q_path)
    assert isinstance(back, compress.QuantizedModel) and back.base == "mlp"
    np.testing.assert_array_equal(predict(back, Xte[:200]), predict(qm, Xte[:200]))
    # both integer paths give identical outputs
    qm.set_gemm("blas")
    np.testing.assert_array_equal(predict(qm, Xte[:200]), predict(back, Xte[:200]))


def test_quantized_cnn_stays_within_tolerance(fashion):
    Xtr, ytr, Xte, yte = fashion
    neurona.manual_seed(0)
    cnn = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3),
                        nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 6 * 6, 10))
    fit(cnn, nn.CrossEntropyLoss(), optim.Adam(cnn.parameters(), 2e-3), (Xtr[:600], ytr[:600]), epochs=1,
        batch_size=64, seed=0, verbose=0)
    qm = compress.quantize(cnn, (Xtr[:256], ytr[:256]), num_batches=1, gemm="blas")
    assert sorted(qm.quantized_layers()) == ["0", "3", "7"]
    _check_close(cnn, qm, Xte[:500], yte[:500])
    with pytest.raises(ValueError, match="not a registered"):
        qm.get_config()  # a bare Sequential cannot be rebuilt by name


def test_calibration_observers_and_layer_choice(fashion, trained_mlp):
    Xtr, _, Xte, _ = fashion
    qp = compress.calibrate(trained_mlp, Xtr[:300], ["layers.0", "layers.2"], num_batches=3, batch_size=100)
    s0, z0 = qp["layers.0"]
    assert s0 == pytest.approx((Xtr[:300].max() - min(Xtr[:300].min(), 0)) / 255, rel=1e-5)
    s2, z2 = qp["layers.2"]
    assert z2 == -128  # after ReLU the inputs are >= 0: zero maps to the lowest integer
    qpp = compress.calibrate(trained_mlp, Xtr[:300], ["layers.0"], observer="percentile", num_batches=3,
                             batch_size=100)
    assert qpp["layers.0"][0] <= s0
    only = compress.quantize(trained_mlp, Xtr[:256], layers=["layers.4"], observer=99.9)
    assert list(only.quantized_layers()) == ["layers.4"]
    assert isinstance(only.model.layers[0], nn.Linear)
    with pytest.raises(ValueError, match="not a Linear/Conv layer"):
        compress.quantize(trained_mlp, Xtr[:256], layers=["layers.1"])
    with pytest.raises(ValueError, match="observer"):
        compress.quantize(trained_mlp, Xtr[:256], observer="mean")
    with pytest.raises(TypeError, match="already quantized"):
        compress.quantize(only, Xtr[:256])


def test_pruned_then_quantized_keeps_zeros(fashion, trained_mlp):
    import copy

    Xtr, _, _, _ = fashion
    m = copy.deepcopy(trained_mlp)
    compress.magnitude_prune(m, 0.7, scope="global")
    qm = compress.quantize(m, Xtr[:256])
    total, nonzero = compress.count_parameters(qm)
    assert total == m.num_parameters()
    assert nonzero <= total - int(0.7 * sum(p.array.size for _, p in compress.prunable_parameters(m)))


def test_batchnorm_folding_and_rebuilding_a_registered_cnn(fashion, tmp_path):
    """cnn-small: conv (no bias) → BatchNorm2d → ReLU blocks. The batch norms are folded into the int8 convs,
    the model file is rebuilt by name, and the outputs stay close to the float model's."""
    Xtr, _, Xte, _ = fashion
    neurona.manual_seed(0)
    cnn = models.build_model("cnn-small")
    rng = np.random.default_rng(0)
    for m in cnn.modules():  # non-trivial running statistics and affine parameters
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.array[...] = rng.normal(0, 0.1, m.num_features)
            m.running_var.array[...] = rng.uniform(0.5, 2.0, m.num_features)
            m.weight.array[...] = rng.uniform(0.5, 1.5, m.num_features)
            m.bias.array[...] = rng.normal(0, 0.1, m.num_features)
    cnn.eval()
    qm = compress.quantize(cnn, Xtr[:64], num_batches=1, gemm="blas")
    assert len(qm.folded) == 4 and all(isinstance(qm.model.get_submodule(n), nn.Identity) for n in qm.folded)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in qm.modules())
    ref, out = predict(cnn, Xte[:64]), predict(qm, Xte[:64])
    assert np.abs(out - ref).max() <= LOGIT_TOL * (ref.max() - ref.min())
    path = neurona.io.save(qm, tmp_path / "cnn8.npz")
    back = neurona.io.load(path)
    assert back.folded == qm.folded
    np.testing.assert_array_equal(predict(back, Xte[:64]), out)
    # folding itself is exact in float: BN(conv(x)) == conv'(x)
    conv, bn = cnn.features[0][0], cnn.features[0][1]
    import copy
    c2 = copy.deepcopy(conv)
    Q.fold_batchnorm(c2, bn)
    x = neurona.tensor(Xte[:4])
    with neurona.no_grad():
        np.testing.assert_allclose(c2(x).array, bn(conv(x)).array, rtol=1e-4, atol=1e-5)


def test_a_fresh_process_loads_a_quantized_file_with_the_plain_loader(fashion, trained_mlp, tmp_path):
    """``neurona.io.load`` (and so ``neurona evaluate`` / ``info``) must rebuild an int8 file without the user
    importing neurona.compress first: the model name "quantized" is registered with the other models."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    Xtr = fashion[0]
    path = neurona.io.save(compress.quantize(trained_mlp, Xtr[:256]), tmp_path / "q.npz")
    root = Path(neurona.__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    code = f"import neurona; print(type(neurona.io.load({str(path)!r})).__name__)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env,
                         timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "QuantizedModel"
