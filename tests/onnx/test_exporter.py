"""neurona.onnx.export: every layer and every model of neurona.models, checked by ONNX Runtime.

Each case exports a model for one batch size, checks the file with
``onnx.checker.check_model(full_check=True)``, and runs it in ONNX Runtime
on the example and on a batch of another size: the outputs must match
neurona's own (eval mode) to 1e-4 in float32.
"""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import neurona  # noqa: E402
import neurona.onnx as nx  # noqa: E402
from neurona import models, nn  # noqa: E402

ATOL = 1e-4


def leaves(o) -> list:
    if o is None:
        return []
    if isinstance(o, (tuple, list)):
        return [t for v in o for t in leaves(v)]
    return [o]


def session(proto):
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def run(sess, inputs) -> list[np.ndarray]:
    arrays = [np.asarray(t.array if isinstance(t, neurona.Tensor) else t) for t in leaves(inputs)]
    return sess.run(None, {i.name: a for i, a in zip(sess.get_inputs(), arrays)})


def reference(model, inputs) -> list[np.ndarray]:
    with neurona.no_grad():
        out = model(*(inputs if isinstance(inputs, tuple) else (inputs,)))
    return [t.array for t in leaves(out)]


def assert_exports(model, example, *others, atol=ATOL, **kw) -> float:
    """Export on ``example``; ONNX Runtime must agree with neurona on it and on each of ``others``."""
    model.eval()
    proto = nx.export(model, example, **kw)
    onnx.checker.check_model(proto, full_check=True)
    sess = session(proto)
    worst = 0.0
    for inputs in (example,) + others:
        want, got = reference(model, inputs), run(sess, inputs)
        assert len(want) == len(got)
        for w, g in zip(want, got):
            assert w.shape == g.shape, f"{type(model).__name__}: ONNX gives {g.shape}, neurona {w.shape}"
            assert g.dtype == w.dtype
            worst = max(worst, float(np.max(np.abs(w - g))) if w.size else 0.0)
    assert worst <= atol, f"{type(model).__name__}: max difference {worst}"
    return worst


def randn(rng, *shape, scale=1.0):
    return neurona.from_numpy((rng.standard_normal(shape) * scale).astype(np.float32))


def ids(rng, b, t=7, vocab=20, pad=2):
    """Token ids with padding (0) at the end of each row."""
    a = rng.integers(1, vocab, (b, t))
    a[:, t - pad:] = 0
    return neurona.from_numpy(a.astype(np.int64))


def bn_stats(model, rng):
    """Batch norms with running statistics other than (0, 1), so that exporting them is tested."""
    for m in model.modules():
        if isinstance(m, neurona.nn.normalization._BatchNorm) and m.running_mean is not None:
            m.running_mean.array[...] = rng.uniform(-0.5, 0.5, m.num_features)
            m.running_var.array[...] = rng.uniform(0.5, 2.0, m.num_features)
            if m.affine:
                m.weight.array[...] = rng.uniform(0.5, 1.5, m.num_features)
                m.bias.array[...] = rng.uniform(-0.3, 0.3, m.num_features)
    return model


# --- layers --------------------------------------------------------------------------------------

ACTIVATIONS = [
    nn.ReLU(), nn.ReLU6(), nn.LeakyReLU(0.1), nn.PReLU(), nn.PReLU(8), nn.ELU(0.7), nn.SELU(), nn.CELU(0.5),
    nn.Softsign(), nn.Softplus(), nn.Softplus(2.0, 3.0), nn.GELU(), nn.GELU("tanh"), nn.SiLU(), nn.Hardtanh(-0.5, 2.0),
    nn.Sigmoid(), nn.Tanh(), nn.LogSigmoid(), nn.Softmax(1), nn.LogSoftmax(-1), nn.Sign(), nn.Step(0.5, 0.25),
    nn.Identity(), nn.Dropout(0.4),
]


@pytest.mark.parametrize("opset", [13, 17, 20])
@pytest.mark.parametrize("act", ACTIVATIONS, ids=lambda m: repr(m))
def test_activations(act, opset, rng):
    x = randn(rng, 4, 8, scale=3.0)
    x.array[0, :3] = [0.5, 0.0, -40.0]  # Step's threshold, 0, a far negative value (LogSigmoid, Softplus)
    assert_exports(act, x, randn(rng, 7, 8, scale=3.0), opset_version=opset)


def test_notes_softsign_and_maxout(rng):
    """The notes' RÁPIDA g_F(z) = z/(1 + |z|) and maxout max(w₁ᵀz + b₁, w₂ᵀz + b₂), in a network."""
    model = nn.Sequential(nn.Linear(6, 8), nn.Softsign(), nn.Maxout(8, 5, pool_size=3), nn.Linear(5, 2))
    assert_exports(model, randn(rng, 4, 6), randn(rng, 9, 6))
    assert_exports(nn.Maxout(6, 4, 2, bias=False), randn(rng, 2, 3, 6), randn(rng, 5, 3, 6))
    proto = nx.export(model, randn(rng, 1, 6))
    assert "Softsign" in {n.op_type for n in proto.graph.node}


LAYERS = [
    ("linear", lambda: nn.Linear(8, 5), (8,)),
    ("linear_3d", lambda: nn.Linear(8, 5, bias=False), (3, 8)),
    ("flatten", lambda: nn.Sequential(nn.Flatten(), nn.Linear(48, 4)), (3, 4, 4)),
    ("flatten_inner", lambda: nn.Flatten(1, 2), (3, 4, 4)),
    ("flatten_tail", lambda: nn.Flatten(2), (3, 4, 4)),
    ("unflatten", lambda: nn.Unflatten(1, (3, 4)), (12,)),
    ("layer_norm", lambda: nn.LayerNorm(8), (5, 8)),
    ("layer_norm_2d_plain", lambda: nn.LayerNorm((5, 8), elementwise_affine=False), (5, 8)),
    ("batch_norm_1d", lambda: nn.BatchNorm1d(6), (6,)),
    ("batch_norm_1d_seq", lambda: nn.BatchNorm1d(6, affine=False), (6, 5)),
    ("batch_norm_2d", lambda: nn.BatchNorm2d(3), (3, 5, 5)),
    ("batch_norm_batch_stats", lambda: nn.BatchNorm2d(3, track_running_stats=False), (3, 5, 5)),
    ("conv2d_stride_pad", lambda: nn.Conv2d(3, 6, 3, stride=2, padding=1), (3, 9, 8)),
    ("conv2d_same_dilation", lambda: nn.Conv2d(3, 6, 3, padding="same", dilation=2), (3, 9, 8)),
    ("conv2d_groups", lambda: nn.Conv2d(4, 6, (3, 2), groups=2, stride=(2, 1)), (4, 9, 8)),
    ("conv2d_depthwise", lambda: nn.Conv2d(4, 4, 3, groups=4, bias=False), (4, 9, 8)),
    ("conv_transpose2d", lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
     (4, 5, 6)),
    ("conv_transpose2d_dilation", lambda: nn.ConvTranspose2d(3, 2, (2, 3), stride=(1, 2), dilation=2, bias=False),
     (3, 4, 5)),
    ("conv_transpose1d", lambda: nn.ConvTranspose1d(3, 4, 4, stride=2, padding=1), (3, 7)),
    ("conv2d_reflect", lambda: nn.Conv2d(3, 6, 3, padding=2, padding_mode="reflect"), (3, 9, 8)),
    ("conv2d_replicate", lambda: nn.Conv2d(3, 6, 3, padding=(1, 2), padding_mode="replicate"), (3, 9, 8)),
    ("conv2d_circular", lambda: nn.Conv2d(3, 6, 3, padding=1, padding_mode="circular"), (3, 9, 8)),
    ("conv1d", lambda: nn.Conv1d(3, 6, 3, stride=2, padding=1, dilation=2), (3, 11)),
    ("conv1d_same_circular", lambda: nn.Conv1d(3, 6, 4, padding="same", padding_mode="circular"), (3, 11)),
    ("max_pool", lambda: nn.MaxPool2d(2), (3, 9, 8)),
    ("max_pool_pad", lambda: nn.MaxPool2d(3, 2, padding=1), (3, 9, 8)),
    ("max_pool_ceil", lambda: nn.MaxPool2d(3, 2, ceil_mode=True), (3, 9, 8)),
    ("max_pool_dilation", lambda: nn.MaxPool2d(3, 1, padding=1, dilation=2), (3, 9, 8)),
    ("max_pool_1d", lambda: nn.MaxPool1d(3, 2, ceil_mode=True), (3, 10)),
    ("avg_pool", lambda: nn.AvgPool2d(2), (3, 9, 8)),
    ("avg_pool_pad", lambda: nn.AvgPool2d(3, 2, padding=1), (3, 9, 8)),
    ("avg_pool_pad_excluded", lambda: nn.AvgPool2d(3, 2, padding=1, count_include_pad=False), (3, 9, 8)),
    ("avg_pool_ceil", lambda: nn.AvgPool2d(3, 2, padding=1, ceil_mode=True), (3, 9, 8)),
    ("avg_pool_divisor", lambda: nn.AvgPool2d(3, divisor_override=5), (3, 9, 8)),
    ("avg_pool_1d", lambda: nn.AvgPool1d(3, 2, padding=1), (3, 10)),
    ("adaptive_avg_global", lambda: nn.AdaptiveAvgPool2d(1), (3, 9, 8)),
    ("adaptive_avg_even", lambda: nn.AdaptiveAvgPool2d((3, 4)), (3, 9, 8)),
    ("adaptive_avg_overlap", lambda: nn.AdaptiveAvgPool2d((4, None)), (3, 9, 8)),
    ("adaptive_max_overlap", lambda: nn.AdaptiveMaxPool2d((2, 3)), (3, 9, 7)),
    ("adaptive_max_global", lambda: nn.AdaptiveMaxPool2d(1), (3, 9, 7)),
    ("global_avg", lambda: nn.GlobalAvgPool2d(), (3, 9, 8)),
    ("upsample_nearest", lambda: nn.Upsample(scale_factor=2), (3, 5, 4)),
    ("upsample_size", lambda: nn.Upsample(size=(7, 9)), (3, 5, 4)),
    ("upsample_bilinear", lambda: nn.Upsample(scale_factor=1.5, mode="bilinear"), (3, 5, 4)),
    ("upsample_corners", lambda: nn.Upsample(size=(8, 6), mode="bilinear", align_corners=True), (3, 5, 4)),
    ("residual", lambda: nn.Residual(nn.Sequential(nn.Linear(6, 6), nn.Tanh())), (6,)),
    ("residual_projection", lambda: nn.Residual(nn.Linear(6, 4), shortcut=nn.Linear(6, 4)), (6,)),
    ("dropout2d", lambda: nn.Sequential(nn.Conv2d(3, 4, 1), nn.Dropout2d(0.5), nn.GaussianNoise(0.3)), (3, 4, 4)),
]


@pytest.mark.parametrize("name,build,shape", LAYERS, ids=[c[0] for c in LAYERS])
def test_layers(name, build, shape, rng):
    assert_exports(bn_stats(build(), rng), randn(rng, 2, *shape), randn(rng, 5, *shape))


def test_unbatched_convolution_and_pooling(rng):
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.MaxPool2d(2))
    assert_exports(model, randn(rng, 3, 8, 8), dynamic_axes={})


def test_embeddings(rng):
    emb = nn.Embedding(20, 4, padding_idx=0)
    assert_exports(emb, ids(rng, 3), ids(rng, 5))
    big = nn.Embedding(20, 4, max_norm=1.0)  # rows longer than 1 are rescaled when looked up
    assert_exports(big, ids(rng, 3), ids(rng, 5))
    for mode in ("mean", "sum", "max"):
        assert_exports(nn.EmbeddingBag(20, 4, mode=mode, padding_idx=0), ids(rng, 3), ids(rng, 4, pad=7))
        assert_exports(nn.EmbeddingBag(20, 4, mode=mode), ids(rng, 3), ids(rng, 4))


# --- recurrent layers: ONNX's own LSTM / GRU / RNN operators -----------------------------------------

RECURRENT = [
    ("lstm", lambda: nn.LSTM(6, 5)),
    ("lstm_2_layers_bidirectional", lambda: nn.LSTM(6, 5, num_layers=2, bidirectional=True)),
    ("lstm_batch_first_no_bias", lambda: nn.LSTM(6, 5, batch_first=True, bias=False)),
    ("gru", lambda: nn.GRU(6, 5)),
    ("gru_2_layers_bidirectional_batch_first", lambda: nn.GRU(6, 5, 2, batch_first=True, bidirectional=True)),
    ("rnn_tanh", lambda: nn.RNN(6, 5, num_layers=2)),
    ("rnn_relu_bidirectional", lambda: nn.RNN(6, 5, nonlinearity="relu", bidirectional=True)),
]


@pytest.mark.parametrize("name,build", RECURRENT, ids=[c[0] for c in RECURRENT])
def test_recurrent_layers(name, build, rng):
    layer = build()
    seq = (lambda b: randn(rng, b, 4, 6)) if layer.batch_first else (lambda b: randn(rng, 4, b, 6))
    assert_exports(layer, seq(3), seq(5))
    proto = nx.export(layer, seq(2))
    ops = {n.op_type for n in proto.graph.node}
    assert {"LSTM": "LSTM", "GRU": "GRU"}.get(layer.mode, "RNN") in ops  # ONNX's own recurrent operator
    # with initial states, and with the lengths of padded sequences
    L, D = layer.num_layers, layer.num_directions
    state = (lambda b: (randn(rng, L * D, b, 5), randn(rng, L * D, b, 5))) if layer.mode == "LSTM" else \
        (lambda b: randn(rng, L * D, b, 5))
    assert_exports(layer, (seq(3), state(3)), (seq(2), state(2)))
    lengths = neurona.from_numpy(np.array([4, 2, 3], np.int64))
    assert_exports(layer, (seq(3), None, lengths))


def test_gate_orders_and_linear_before_reset(rng):
    """ONNX stacks LSTM gates as i, o, f, c and GRU gates as z, r, h; PyTorch's GRU is linear_before_reset."""
    lstm, gru = nn.LSTM(3, 2), nn.GRU(3, 2)
    x = randn(rng, 4, 1, 3)
    for layer in (lstm, gru):
        proto = nx.export(layer, x)
        node = next(n for n in proto.graph.node if n.op_type in ("LSTM", "GRU"))
        W = onnx.numpy_helper.to_array(next(i for i in proto.graph.initializer if i.name == node.input[1]))[0]
        w = layer.weight_ih_l0.array
        blocks = [w[k * 2:(k + 1) * 2] for k in range(len(w) // 2)]
        want = [blocks[k] for k in ((0, 3, 1, 2) if node.op_type == "LSTM" else (1, 0, 2))]
        np.testing.assert_array_equal(W, np.concatenate(want))
        if node.op_type == "GRU":
            assert onnx.helper.get_attribute_value(next(a for a in node.attribute
                                                         if a.name == "linear_before_reset")) == 1


@pytest.mark.parametrize("cell", [nn.LSTMCell(6, 5), nn.GRUCell(6, 5), nn.RNNCell(6, 5, nonlinearity="relu")],
                         ids=lambda c: type(c).__name__)
def test_cells(cell, rng):
    state = (lambda b: (randn(rng, b, 5), randn(rng, b, 5))) if isinstance(cell, nn.LSTMCell) else \
        (lambda b: randn(rng, b, 5))
    assert_exports(cell, (randn(rng, 3, 6), state(3)), (randn(rng, 6, 6), state(6)))
    assert_exports(cell, randn(rng, 3, 6), randn(rng, 2, 6))


# --- every model of neurona.models ---------------------------------------------------------------------

IMG = (1, 28, 28)

# small configurations of every registered model: (config, example input of batch b)
MODELS = {
    "mlp": (dict(in_features=784, hidden=[32, 16], out_features=10, batch_norm=True, dropout=0.2),
            lambda r, b: randn(r, b, *IMG)),
    "lenet5": (dict(), lambda r, b: randn(r, b, *IMG)),
    "cnn-small": (dict(), lambda r, b: randn(r, b, 28, 28)),
    "alexnet": (dict(num_classes=10, in_channels=1, input_size=28, hidden=32), lambda r, b: randn(r, b, *IMG)),
    "vgg": (dict(cfg=[8, "M", 16, 16, "M", 16, "M", "M", "M", "M"], num_classes=10, in_channels=1, input_size=28,
                 batch_norm=True, hidden=16), lambda r, b: randn(r, b, *IMG)),
    "vgg16": (dict(num_classes=10, in_channels=1, input_size=28, hidden=16), lambda r, b: randn(r, b, *IMG)),
    "resnet": (dict(layers=[1, 1], widths=[8, 16], num_classes=10, in_channels=3, input_size=64),
               lambda r, b: randn(r, b, 3, 64, 64)),
    "resnet18": (dict(num_classes=10, in_channels=1, input_size=28), lambda r, b: randn(r, b, *IMG)),
    "googlenet": (dict(num_classes=10, in_channels=1, input_size=28), lambda r, b: randn(r, b, *IMG)),
    "seq-classifier": (dict(input_size=6, hidden_size=8, num_classes=3, cell="gru", num_layers=2,
                            bidirectional=True, vocab_size=20, embedding_dim=6), lambda r, b: ids(r, b)),
    "lstm": (dict(input_size=28, hidden_size=8, num_classes=10, num_layers=2), lambda r, b: randn(r, b, *IMG)),
    "gru": (dict(input_size=7, hidden_size=8, num_classes=10), lambda r, b: randn(r, b, 4 * 7)),
    "rnn": (dict(input_size=6, hidden_size=8, num_classes=10, bidirectional=True), lambda r, b: randn(r, b, 5, 6)),
    "char-lm": (dict(vocab_size=20, embedding_dim=6, hidden_size=8, num_layers=2), lambda r, b: ids(r, b)),
    "embedding-bag-classifier": (dict(vocab_size=20, embedding_dim=6, num_classes=3), lambda r, b: ids(r, b)),
    "elman": (dict(input_size=6, hidden_size=8, output_size=3), lambda r, b: randn(r, b, 5, 6)),
    "second-order-rnn": (dict(input_size=6, hidden_size=8, output_size=3, num_layers=2, return_sequences=False),
                         lambda r, b: randn(r, b, 5, 6)),
    "vit": (dict(image_size=28, patch_size=7, d_model=16, nhead=2, num_layers=2, dim_feedforward=16),
            lambda r, b: randn(r, b, *IMG)),
    "transformer-lm": (dict(vocab_size=20, d_model=16, nhead=2, num_layers=2, dim_feedforward=16, max_len=16),
                       lambda r, b: ids(r, b)),
    "seq2seq-rnn": (dict(src_vocab=20, tgt_vocab=20, embedding_dim=8, hidden_size=16, attention="concat"),
                    lambda r, b: (ids(r, b), ids(r, b, t=5, pad=0))),
    "seq2seq-transformer": (dict(src_vocab=20, tgt_vocab=20, d_model=16, nhead=2, num_encoder_layers=1,
                                 num_decoder_layers=2, dim_feedforward=16), lambda r, b: (ids(r, b), ids(r, b, t=5))),
    "unet": (dict(num_classes=5, base_channels=4, depth=2), lambda r, b: randn(r, b, 1, 19, 14)),
    "grid-detector": (dict(num_classes=4, image_size=32, width=4), lambda r, b: randn(r, b, 1, 32, 32)),
    "conv-autoencoder": (dict(latent_dim=6, width=4), lambda r, b: randn(r, b, *IMG)),
    "vae": (dict(latent_dim=2, hidden=[16]), lambda r, b: randn(r, b, *IMG)),
    "dcgan-generator": (dict(latent_dim=8, width=4), lambda r, b: randn(r, b, 8)),
    "dcgan-discriminator": (dict(width=4), lambda r, b: randn(r, b, *IMG)),
}
SLOW_MODELS = {"vgg16", "resnet18", "googlenet"}  # their full widths take a few seconds each on 2 cores


def test_every_registered_model_has_a_case():
    """Every model of neurona.models (other tests register toy models of their own)."""
    registered = {n for n in models.list_models() if n != "quantized"
                  and getattr(models.get_model_spec(n).build, "__module__", "").startswith("neurona.models.")}
    assert registered <= set(MODELS), f"models without an ONNX export test: {sorted(registered - set(MODELS))}"


def _model_case(name, rng):
    config, make = MODELS[name]
    model = bn_stats(models.build_model(name, **config), rng)
    return assert_exports(model, make(rng, 2), make(rng, 5))


@pytest.mark.parametrize("name", sorted(set(MODELS) - SLOW_MODELS))
def test_models(name, rng):
    _model_case(name, rng)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SLOW_MODELS))
def test_large_models(name, rng):
    _model_case(name, rng)


def test_model_families_at_small_width(rng):
    """The classes of the slow cases above, at widths that run in a moment: GoogLeNet's Inception blocks,
    ResNet-18's four stages with projection shortcuts."""
    block = models.InceptionBlock(8, 4, 4, 6, 2, 3, 3)
    assert_exports(bn_stats(block, rng), randn(rng, 2, 8, 7, 7), randn(rng, 3, 8, 7, 7))
    naive = models.InceptionBlock(8, 4, 4, 6, 2, 3, 3, reduce=False, batch_norm=False)
    assert_exports(naive, randn(rng, 2, 8, 7, 7))
    resnet = bn_stats(models.ResNet((2, 2, 2, 2), 10, 1, 28, widths=(4, 8, 8, 8)), rng)
    assert_exports(resnet, randn(rng, 2, *IMG), randn(rng, 3, *IMG))


def test_sequence_classifier_inputs(rng):
    """Images read row by row, flattened rows, and token ids with the lengths counted from the padding."""
    for cell in ("lstm", "gru", "rnn"):
        m = models.SequenceClassifier(6, 5, 3, cell=cell)
        assert_exports(m, randn(rng, 2, 1, 4, 6), randn(rng, 3, 1, 4, 6))
        assert_exports(models.SequenceClassifier(6, 5, 3, cell=cell), randn(rng, 2, 24), randn(rng, 3, 24))
        m = models.SequenceClassifier(6, 5, 3, cell=cell, vocab_size=20, bidirectional=True)
        assert_exports(m, ids(rng, 3), ids(rng, 4, pad=6))
    m = models.SequenceClassifier(6, 5, 3, cell="lstm")
    assert_exports(m, randn(rng, 2, 2, 4, 3))  # two channels: each step is a row of both


def test_char_lm_with_state(rng):
    lm = models.CharLM(20, 6, 8, num_layers=2)
    state = lambda b: (randn(rng, 2, b, 8), randn(rng, 2, b, 8))  # noqa: E731
    assert_exports(lm, (ids(rng, 3), state(3)), (ids(rng, 2), state(2)))


# --- int8 models: QuantizeLinear / DequantizeLinear --------------------------------------------------------


def _quantized_agreement(q, x):
    """(max difference, fraction of outputs off by more than 1e-5, fraction of equal predicted classes), with
    ONNX Runtime running the graph as exported: its graph optimizations turn DequantizeLinear → Conv → Relu
    → QuantizeLinear into integer kernels that requantize the convolution's output, which moves many outputs
    of a conv → ReLU → pool network by a fraction of a step (``assert_exports`` checks that path, to 2e-3)."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(nx.export(q, x).SerializeToString(), options, providers=["CPUExecutionProvider"])
    want, got = reference(q, x)[0], run(sess, x)[0]
    d = np.abs(want - got)
    return float(d.max()), float((d > 1e-5).mean()), float((want.argmax(1) == got.argmax(1)).mean())


@pytest.mark.parametrize("name,gemm", [("mlp", "int32"), ("mlp", "blas"), ("lenet5", "int32"), ("lenet5", "blas"),
                                       ("cnn-small", "blas")])
def test_quantized_models(name, gemm, rng):
    """int8 layers as DequantizeLinear(QuantizeLinear(x)) and DequantizeLinear(int8 weights) around the float op.

    ONNX Runtime then sums the dequantized products in float32 where neurona sums the integers exactly
    (int32): an activation that lands on a rounding boundary of the next layer's quantization may round
    the other way, moving a few outputs by a fraction of a quantization step. Most outputs agree to 1e-5.
    """
    from neurona.compress import quantize

    neurona.manual_seed(0)
    config, make = MODELS[name]
    model = models.build_model(name, **config)
    q = quantize(model, make(rng, 64).array, num_batches=2, batch_size=32, gemm=gemm)
    assert_exports(q, make(rng, 4), make(rng, 3), atol=2e-3)
    worst, off, same_class = _quantized_agreement(q, make(rng, 128))
    assert worst < 2e-3 and off < 0.1 and same_class >= 0.99
    proto = nx.export(q, make(rng, 1))
    ops = [n.op_type for n in proto.graph.node]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    int8 = [i for i in proto.graph.initializer if i.data_type == onnx.TensorProto.INT8]
    assert int8 and all(i.name.endswith("weight_int8") or "zero_point" in i.name for i in int8)


def test_deep_quantized_model_agrees_within_rounding(rng):
    """20 int8 layers (a ResNet): the rounding flips above compound, the predicted classes still agree."""
    from neurona.compress import quantize

    neurona.manual_seed(0)
    model = bn_stats(models.ResNet((2, 2), 10, 1, 28, widths=(8, 16)), rng)
    x = randn(rng, 64, *IMG)
    q = quantize(model, x.array, num_batches=2, batch_size=32)
    worst, off, same_class = _quantized_agreement(q, x)
    assert worst < 0.05 and same_class >= 0.95


# --- the file, its names and its batch axis ----------------------------------------------------------------


def test_file_names_and_metadata(tmp_path, rng):
    model = models.LeNet5()
    path = tmp_path / "sub" / "lenet.onnx"
    proto = nx.export(model, randn(rng, 1, *IMG), path, input_names=["image"], output_names=["logits"])
    assert path.exists() and onnx.load(str(path)) == proto
    graph = proto.graph
    assert [i.name for i in graph.input] == ["image"] and [o.name for o in graph.output] == ["logits"]
    names = {i.name for i in graph.initializer}
    assert {n for n, _ in model.named_parameters()} <= names  # weights keep their state_dict names
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["neurona.model"] == "lenet5"
    assert proto.producer_name == "neurona"
    assert any(n.name == "/features/features.0/Conv" for n in graph.node)
    assert run(session(proto), randn(rng, 6, *IMG))[0].shape == (6, 10)


def _dims(value_info):
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


def test_batch_axis_varies_by_default(rng):
    proto = nx.export(models.MLP(12, (8,), 3), randn(rng, 4, 12))
    assert _dims(proto.graph.input[0]) == ["batch", 12] and _dims(proto.graph.output[0]) == ["batch", 3]
    # a time-major LSTM: the batch is axis 1 of the input, of the output and of the states
    proto = nx.export(nn.LSTM(6, 5, num_layers=2), randn(rng, 7, 3, 6))
    assert _dims(proto.graph.input[0]) == [7, "batch", 6]
    assert [_dims(o) for o in proto.graph.output] == [[7, "batch", 5], [2, "batch", 5], [2, "batch", 5]]
    # a batch of one is exported with its batch axis free too
    proto = nx.export(models.LeNet5(), randn(rng, 1, *IMG))
    assert _dims(proto.graph.output[0]) == ["batch", 10]


def test_dynamic_axes_as_in_pytorch(rng):
    lstm = models.SequenceClassifier(6, 5, 3, cell="lstm")
    proto = nx.export(lstm, randn(rng, 2, 4, 6), dynamic_axes={"input": {0: "n", 1: "steps"}, "output": [0]})
    assert _dims(proto.graph.input[0]) == ["n", "steps", 6]
    assert _dims(proto.graph.output[0]) == ["output_dim0", 3]
    sess = session(proto)
    for shape in [(3, 9, 6), (1, 2, 6)]:  # another batch and another number of steps
        x = randn(rng, *shape)
        np.testing.assert_allclose(run(sess, x)[0], reference(lstm.eval(), x)[0], atol=ATOL)
    static = nx.export(nn.Linear(3, 2), randn(rng, 2, 3), dynamic_axes={})
    assert _dims(static.graph.input[0]) == [2, 3]
    with pytest.raises(ValueError, match="neither an input"):
        nx.export(nn.Linear(3, 2), randn(rng, 2, 3), dynamic_axes={"x": {0: "b"}})


def test_export_runs_in_eval_mode_and_restores_the_mode(rng):
    model = nn.Sequential(nn.Linear(5, 5), nn.Dropout(0.9), nn.BatchNorm1d(5))
    model.train()
    proto = nx.export(model, randn(rng, 4, 5))
    assert model.training and all(m.training for m in model.modules())
    assert model[2].num_batches_tracked.item() == 0  # the export ran in eval mode: no statistics changed
    x = randn(rng, 3, 5)
    np.testing.assert_allclose(run(session(proto), x)[0], reference(model.eval(), x)[0], atol=ATOL)


def test_shared_weights_are_one_initializer(rng):
    lin = nn.Linear(4, 4)
    model = nn.Sequential(lin, nn.Tanh(), lin)
    proto = nx.export(model, randn(rng, 2, 4))
    assert sorted(i.name for i in proto.graph.initializer) == ["0.bias", "0.weight"]
    assert_exports(model, randn(rng, 2, 4))


def test_float64_models_export_float64(rng):
    model = nn.Sequential(nn.Linear(4, 3, dtype=np.float64), nn.Tanh())
    x = neurona.from_numpy(rng.standard_normal((2, 4)))
    proto = nx.export(model, x)
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    np.testing.assert_allclose(run(session(proto), x)[0], reference(model, x)[0], atol=1e-12)


@pytest.mark.parametrize("opset", [13, 17, 21])
def test_opsets(opset, rng):
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.GELU(), nn.MaxPool2d(2, ceil_mode=True),
                          nn.Flatten(), nn.Linear(4 * 3 * 3, 8), nn.LayerNorm(8), nn.Softmax(1))
    assert_exports(bn_stats(model, rng), randn(rng, 2, 1, 5, 5), randn(rng, 3, 1, 5, 5), opset_version=opset)
    proto = nx.export(model, randn(rng, 1, 1, 5, 5), opset_version=opset)
    assert proto.opset_import[0].version == opset


# --- errors and extension -----------------------------------------------------------------------------------


class Doubler(nn.Module):
    def forward(self, x):
        return x * 2


def test_unknown_module_names_itself(rng):
    model = nn.Sequential(nn.Linear(3, 3), Doubler())
    with pytest.raises(nx.ExportError, match=r"module 1 \(Doubler\).*register_converter"):
        nx.export(model, randn(rng, 2, 3))


def test_subclass_with_its_own_forward_needs_its_own_converter(rng):
    class Scaled(nn.Linear):
        def forward(self, x):
            return super().forward(x) * 3

    class Plain(nn.Linear):  # keeps Linear's forward: Linear's converter applies
        pass

    with pytest.raises(nx.ExportError, match="Scaled"):
        nx.export(Scaled(3, 2), randn(rng, 2, 3))
    assert_exports(Plain(3, 2), randn(rng, 2, 3))


def test_register_converter(rng):
    class Triple(nn.Module):
        def forward(self, x):
            return x * 3

    @nx.register_converter(Triple)
    def _triple(g, m, x):
        return g.op("Mul", [x, g.scalar(3.0, x)])

    assert_exports(nn.Sequential(nn.Linear(3, 3), Triple()), randn(rng, 2, 3), randn(rng, 4, 3))


def test_export_refuses_what_it_cannot_write(rng):
    with pytest.raises(nx.ExportError, match="return_indices"):
        nx.export(nn.MaxPool2d(2, return_indices=True), randn(rng, 1, 1, 4, 4))
    with pytest.raises(nx.ExportError, match="offsets"):
        nx.export(nn.EmbeddingBag(10, 3), (neurona.tensor([1, 2, 3]), neurona.tensor([0, 2])))
    with pytest.raises(ValueError, match="opset_version must be between 13"):
        nx.export(nn.Linear(3, 2), randn(rng, 1, 3), opset_version=9)
    with pytest.raises(TypeError, match="neurona.nn.Module"):
        nx.export(lambda x: x, randn(rng, 1, 3))
    with pytest.raises(ValueError, match="input_names must be 1 distinct"):
        nx.export(nn.Linear(3, 2), randn(rng, 1, 3), input_names=["a", "b"])


@pytest.mark.parametrize("kind", ["standardizer_per_channel", "standardizer_per_pixel", "minmax"])
def test_input_scaling_in_the_graph(kind, rng):
    """With ``preprocessing``, the file takes raw inputs: the scaler's transform is its first nodes."""
    from neurona.data import MinMaxScaler, Standardizer

    X = rng.uniform(0, 255, (40, 1, 28, 28)).astype(np.float32)
    scaler = {"standardizer_per_channel": lambda: Standardizer(axis=(0, 2, 3)),
              "standardizer_per_pixel": lambda: Standardizer(), "minmax": lambda: MinMaxScaler()}[kind]().fit(X)
    model = models.LeNet5().eval()
    proto = nx.export(model, X[:1], preprocessing=scaler)
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["neurona.model"] == "lenet5" and props["neurona.preprocessing"] == type(scaler).__name__
    assert {n for n, _ in model.named_parameters()} <= {i.name for i in proto.graph.initializer}
    got = run(session(proto), X[:9])[0]
    want = reference(model, neurona.from_numpy(np.asarray(scaler.transform(X[:9]), np.float32)))[0]
    np.testing.assert_allclose(got, want, atol=ATOL)
    with pytest.raises(TypeError, match="fitted neurona.data.Standardizer"):
        nx.export(model, X[:1], preprocessing=Standardizer())


def test_unet_with_bilinear_upsampling(rng):
    """Resize to the skip connection's size (PyTorch's half-pixel centres), odd sizes included."""
    model = bn_stats(models.UNet(num_classes=3, in_channels=2, base_channels=4, depth=2, upsampling="bilinear"), rng)
    assert_exports(model, randn(rng, 2, 2, 13, 10), randn(rng, 5, 2, 13, 10))
