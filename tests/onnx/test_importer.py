"""neurona.onnx.load: ONNX graphs become trainable neurona modules.

- files exported by PyTorch (both of its exporters; recorded by tests/fixtures/record_onnx.py) give
  PyTorch's outputs and PyTorch's gradients, and fine-tune;
- every model of neurona.models comes back from its own export with the same outputs and the same
  state_dict names;
- each supported operator, in a one-node graph, agrees with ONNX Runtime;
- an unsupported operator is named, with its node, before anything is built.
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import neurona  # noqa: E402
import neurona.onnx as nx  # noqa: E402
from neurona import models, nn, optim  # noqa: E402
from tests.onnx.test_exporter import IMG, MODELS, bn_stats, leaves, randn  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REF = FIXTURES / "onnx_reference.npz"
TORCH_MODELS = ["mlp", "mlp_ln", "cnn", "lstm", "gru"]
EXPORTERS = ["", "_dynamo"]


def torch_file(name, exporter):
    path = FIXTURES / "onnx" / f"torch_{name}{exporter}.onnx"
    assert path.exists(), (f"{path.name} is missing: record it with tests/fixtures/record_onnx.py "
                           f"(the dynamo files need onnxscript)")
    return path


def outputs(out) -> list:
    return list(out) if isinstance(out, tuple) else [out]


# --- files exported by PyTorch --------------------------------------------------------------------------


@pytest.mark.parametrize("exporter", EXPORTERS, ids=["torchscript", "dynamo"])
@pytest.mark.parametrize("name", TORCH_MODELS)
def test_pytorch_exports_give_pytorchs_outputs_and_gradients(name, exporter):
    path = torch_file(name, exporter)
    ref = np.load(REF, allow_pickle=False)
    model = nx.load(path)
    assert not model.training
    x = neurona.from_numpy(ref[f"{name}/x"].copy()).requires_grad_(True)
    outs = outputs(model(x))
    for k, o in enumerate(outs):
        sfx = "" if k == 0 else str(k)
        assert o.dtype == np.float32
        np.testing.assert_allclose(o.array, ref[f"{name}/y{sfx}"], atol=1e-5, rtol=1e-5)
    batch_free = any(d.dim_param for d in onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim)
    if batch_free:  # another batch size, where the exporter left it free
        for k, o in enumerate(outputs(model(ref[f"{name}/x2"]))):
            np.testing.assert_allclose(o.array, ref[f"{name}/y2{'' if k == 0 else k}"], atol=1e-5, rtol=1e-5)
    # gradients: L = Σ y·c, through the imported layers
    loss = sum((o * neurona.from_numpy(ref[f"{name}/c{'' if k == 0 else k}"])).sum() for k, o in enumerate(outs))
    loss.backward()
    np.testing.assert_allclose(x.grad.array, ref[f"{name}/grad_x"], atol=1e-5, rtol=1e-4)
    compared = 0
    for pname, p in model.named_parameters():
        key = f"{name}/param/{pname}"
        if key in ref.files and np.array_equal(p.array, ref[key]):  # PyTorch's parameter, under PyTorch's name
            np.testing.assert_allclose(p.grad.array, ref[f"{name}/grad/{pname}"], atol=1e-5, rtol=1e-4,
                                       err_msg=f"{name}{exporter}: gradient of {pname}")
            compared += 1
    if name in ("mlp", "mlp_ln") or (name == "cnn" and not exporter):
        assert compared == len(list(model.parameters()))  # every parameter kept PyTorch's name and value
    else:
        assert compared >= 2  # at least the head keeps its name (LSTM weights are renamed by the exporters)


def test_pytorch_cnn_keeps_pytorchs_layers_and_names():
    model = nx.load(torch_file("cnn", ""))
    assert isinstance(model.conv1, nn.Conv2d) and isinstance(model.bn1, nn.BatchNorm2d)
    assert isinstance(model.conv2, nn.Conv2d) and model.conv2.groups == 2 and model.conv2.stride == (2, 2)
    assert isinstance(model.fc, nn.Linear)
    ref = np.load(REF, allow_pickle=False)
    assert {k[len("cnn/param/"):] for k in ref.files if k.startswith("cnn/param/")} == \
        {n for n, _ in model.named_parameters()}


def test_pytorch_lstm_becomes_recurrent_layers():
    model = nx.load(torch_file("lstm", ""))
    layers = [m for m in model.modules() if isinstance(m, nn.LSTM)]
    assert len(layers) == 2 and all(m.hidden_size == 8 for m in layers)
    gru = nx.load(torch_file("gru", ""))
    assert any(isinstance(m, nn.GRU) and m.bidirectional for m in gru.modules())


def test_fine_tune_a_pytorch_cnn_with_a_new_head(rng):
    """Freeze the imported body, put a new head for 2 classes, train it: the loss falls, the body stays."""
    model = nx.load(torch_file("cnn", ""))
    x = rng.standard_normal((64, 1, 12, 12)).astype(np.float32)
    y = model(x).array[:, :2].argmax(axis=1)  # classes a head on the imported features can learn
    models.freeze(model)
    head = models.replace_head(model, 2)
    assert head is model.fc and head.weight.requires_grad
    body = {n: p.array.copy() for n, p in model.named_parameters() if not n.startswith("fc.")}
    opt = optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.05)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = loss_fn(model(neurona.from_numpy(x)), neurona.from_numpy(y))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    for n, p in model.named_parameters():
        if n in body:
            np.testing.assert_array_equal(p.array, body[n])
    assert model(neurona.from_numpy(x)).shape == (64, 2)


def test_train_mode_runs_batch_norm_and_dropout_as_layers(rng):
    model = nx.load(torch_file("cnn", ""))
    model.train()
    before = model.bn1.running_mean.array.copy()
    model(rng.standard_normal((4, 1, 12, 12)).astype(np.float32))
    assert model.bn1.num_batches_tracked.item() == 1 and not np.array_equal(before, model.bn1.running_mean.array)
    model.eval()
    x = rng.standard_normal((4, 1, 12, 12)).astype(np.float32)
    np.testing.assert_array_equal(model(x).array, model(x).array)
    # a Dropout node becomes a Dropout layer: the identity in eval mode, random in train mode
    node = helper.make_node("Dropout", ["x", "r"], ["y"], name="/drop/Dropout")
    drop = nx.load(_model([node], [_vi("x", [64, 10])], [_vi("y", [64, 10])],
                          [numpy_helper.from_array(np.float32(0.3), "r")]))
    assert isinstance(drop.drop, nn.Dropout) and drop.drop.p == pytest.approx(0.3)
    x = rng.standard_normal((64, 10)).astype(np.float32)
    np.testing.assert_array_equal(drop(x).array, x)
    drop.train()
    assert not np.allclose(drop(x).array, x)


# --- neurona's own models, out and back -------------------------------------------------------------------


# models whose file holds some weights in a form the importer reads back as constants or copies (the
# outputs still agree): the class token and the position table enter through Expand and Add; an unrolled
# loop gives each step's MatMul its own Linear
_NOT_ALL_TRAINABLE = {"vit", "second-order-rnn"}


@pytest.mark.parametrize("name", sorted(set(MODELS) - {"vgg16", "resnet18", "googlenet"}))
def test_round_trip_of_every_model(name, rng):
    config, make = MODELS[name]
    model = bn_stats(models.build_model(name, **config), rng).eval()
    back = nx.load(nx.export(model, make(rng, 2)))
    for b in (2, 5):
        x = make(rng, b)
        with neurona.no_grad():
            want = leaves(model(*x) if isinstance(x, tuple) else model(x))
            got = leaves(back(*leaves(x)))
        for w, g in zip(want, got):
            np.testing.assert_allclose(g.array, w.array, atol=1e-5)
    if name not in _NOT_ALL_TRAINABLE:
        assert back.num_parameters() == model.num_parameters()


@pytest.mark.parametrize("name", ["mlp", "lenet5", "cnn-small", "alexnet", "vgg", "resnet"])
def test_round_trip_keeps_state_dict_names(name, rng):
    """Layers are named after their weights, so the imported weights load back into the architecture by name."""
    config, make = MODELS[name]
    model = bn_stats(models.build_model(name, **config), rng).eval()
    back = nx.load(nx.export(model, make(rng, 1)))
    fresh = models.build_model(name, **config).eval()
    report = models.load_weights(fresh, back.state_dict())
    assert not report.missing and not report.unexpected
    x = make(rng, 3)
    np.testing.assert_allclose(fresh(x).array, model(x).array, atol=1e-6)


def test_round_trip_of_a_quantized_model(rng):
    from neurona.compress import quantize

    neurona.manual_seed(0)
    config, make = MODELS["lenet5"]
    q = quantize(models.build_model("lenet5", **config), make(rng, 64).array, num_batches=2, batch_size=32)
    back = nx.load(nx.export(q, make(rng, 1)))
    x = make(rng, 64)
    # float sums of dequantized values instead of exact integer sums: a few values round the other way
    d = np.abs(back(x).array - q(x).array)
    assert d.max() < 2e-3 and (d > 1e-5).mean() < 0.1
    assert any(isinstance(m, nn.Conv2d) for m in back.modules())  # int8 weights come back dequantized, trainable


def test_imported_model_is_an_ordinary_module(tmp_path, rng):
    model = nx.load(nx.export(models.LeNet5(), randn(rng, 1, *IMG)))
    clone = copy.deepcopy(model)
    clone.features[0].weight.array[...] = 0
    x = randn(rng, 2, *IMG)
    assert not np.allclose(clone(x).array, model(x).array)
    neurona.io.save(model, tmp_path / "w.npz")  # weights-only file: load it into the same graph
    again = neurona.io.load(tmp_path / "w.npz", model=nx.load(nx.export(models.LeNet5(), randn(rng, 1, *IMG))))
    np.testing.assert_array_equal(again(x).array, model(x).array)
    assert model(input=x).shape == (2, 10)
    with pytest.raises(TypeError, match="missing input"):
        model()
    assert "Conv2d" in repr(model) and "opset=17" in repr(model)


def test_load_accepts_paths_bytes_and_protos(tmp_path, rng):
    proto = nx.export(nn.Linear(3, 2), randn(rng, 1, 3), tmp_path / "lin.onnx")
    x = randn(rng, 2, 3)
    want = nx.load(proto)(x).array
    for source in (tmp_path / "lin.onnx", str(tmp_path / "lin.onnx"), proto.SerializeToString()):
        np.testing.assert_array_equal(nx.load(source)(x).array, want)
    with pytest.raises(FileNotFoundError):
        nx.load(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"\x00\x01not a model" * 10)
    with pytest.raises(ValueError, match="junk.onnx"):
        nx.load(tmp_path / "junk.onnx")


# --- unsupported operators ------------------------------------------------------------------------------


def _model(nodes, inputs, outputs, initializers=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def test_unsupported_operator_names_the_node():
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="first"),
             helper.make_node("Det", ["a"], ["b"], name="/head/Det"),
             helper.make_node("MyOp", ["b"], ["y"], name="custom", domain="com.example")]
    proto = _model(nodes, [_vi("x", [2, 2])], [_vi("y", [])])
    with pytest.raises(nx.UnsupportedOperatorError) as e:
        nx.load(proto)
    msg = str(e.value)
    assert "Det at node '/head/Det'" in msg and "MyOp (domain com.example) at node 'custom'" in msg
    assert "2 node(s)" in msg and "Relu at" not in msg


def test_unsupported_attributes_name_the_node(rng):
    H, I = 3, 2
    W = numpy_helper.from_array(rng.standard_normal((1, 3 * H, I)).astype(np.float32), "W")
    R = numpy_helper.from_array(rng.standard_normal((1, 3 * H, H)).astype(np.float32), "R")
    node = helper.make_node("GRU", ["x", "W", "R"], ["y"], name="/enc/GRU", hidden_size=H, linear_before_reset=0)
    proto = _model([node], [_vi("x", [4, 1, I])], [_vi("y", [4, 1, 1, H])], [W, R])
    with pytest.raises(nx.UnsupportedOperatorError, match="'/enc/GRU'.*linear_before_reset=0"):
        nx.load(proto)


# --- each operator against ONNX Runtime -----------------------------------------------------------------

F = TensorProto.FLOAT


def _init(rng, name, shape, dtype=np.float32, scale=1.0):
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(dtype), name)


def _ints(name, values):
    return numpy_helper.from_array(np.asarray(values, np.int64), name)


def op_cases(rng):
    """(id, node(s), input shapes, initializers, opset): one-node graphs with a float input "x"."""
    n = helper.make_node
    cases = []

    def add(id_, nodes, shape, inits=(), opset=17, out_type=F, extra_inputs=()):
        cases.append((id_, nodes if isinstance(nodes, list) else [nodes], shape, list(inits), opset, out_type,
                      list(extra_inputs)))

    for op in ["Relu", "Sigmoid", "Tanh", "Softsign", "Softplus", "Exp", "Neg", "Abs", "Erf", "Sign", "Floor",
               "Identity", "HardSwish"]:
        add(op, n(op, ["x"], ["y"]), [3, 4])
    add("Sqrt", [n("Abs", ["x"], ["a"]), n("Sqrt", ["a"], ["y"])], [3, 4])
    add("Log", [n("Abs", ["x"], ["a"]), n("Log", ["a"], ["y"])], [3, 4])
    add("Reciprocal", n("Reciprocal", ["x"], ["y"]), [3, 4])
    add("LeakyRelu", n("LeakyRelu", ["x"], ["y"], alpha=0.2), [3, 4])
    add("Elu", n("Elu", ["x"], ["y"], alpha=0.5), [3, 4])
    add("Selu", n("Selu", ["x"], ["y"]), [3, 4])
    add("Celu", n("Celu", ["x"], ["y"], alpha=2.0), [3, 4])
    add("HardSigmoid", n("HardSigmoid", ["x"], ["y"], alpha=0.3, beta=0.4), [3, 4])
    add("Gelu_tanh", n("Gelu", ["x"], ["y"], approximate="tanh"), [3, 4], opset=20)
    add("PRelu_channels", n("PRelu", ["x", "s"], ["y"]), [2, 3, 4, 4], [_init(rng, "s", (3, 1, 1))])
    add("PRelu_broadcast", n("PRelu", ["x", "s"], ["y"]), [2, 3, 4], [_init(rng, "s", (4,))])
    add("Clip", n("Clip", ["x", "lo", "hi"], ["y"]), [3, 4],
        [numpy_helper.from_array(np.float32(-0.5), "lo"), numpy_helper.from_array(np.float32(0.7), "hi")])
    add("Clip_opset6", n("Clip", ["x"], ["y"], min=-0.3, max=0.2), [3, 4], opset=6)
    for opset in (11, 13):
        add(f"Softmax_{opset}", n("Softmax", ["x"], ["y"], axis=1), [2, 3, 4], opset=opset)
        add(f"LogSoftmax_{opset}", n("LogSoftmax", ["x"], ["y"]), [2, 3, 4], opset=opset)
    for op in ["Add", "Sub", "Mul", "Div", "Max", "Min"]:
        add(op, n(op, ["x", "c"], ["y"]), [2, 3, 4], [_init(rng, "c", (3, 1))])
    add("Pow", [n("Abs", ["x"], ["a"]), n("Pow", ["a", "c"], ["y"])], [3, 4],
        [numpy_helper.from_array(np.float32(1.7), "c")])
    add("Sum_Mean", [n("Sum", ["x", "c", "x"], ["s"]), n("Mean", ["s", "c"], ["y"])], [3, 4], [_init(rng, "c", (4,))])
    add("Where", [n("Greater", ["x", "c"], ["m"]), n("Where", ["m", "x", "c"], ["y"])], [3, 4],
        [_init(rng, "c", (3, 4))])
    add("compare_cast", [n("LessOrEqual", ["x", "c"], ["m"]), n("Not", ["m"], ["k"]), n("Cast", ["k"], ["y"], to=F)],
        [3, 4], [_init(rng, "c", (4,))])
    add("MatMul_batched", n("MatMul", ["x", "w"], ["y"]), [2, 3, 4], [_init(rng, "w", (2, 4, 5))])
    add("MatMul_Add", [n("MatMul", ["x", "w"], ["m"]), n("Add", ["m", "b"], ["y"])], [2, 3, 4],
        [_init(rng, "w", (4, 5)), _init(rng, "b", (5,))])
    add("Gemm_trans_alpha_beta", n("Gemm", ["x", "w", "b"], ["y"], transB=1, alpha=0.5, beta=2.0), [3, 4],
        [_init(rng, "w", (5, 4)), _init(rng, "b", (1, 5))])
    add("Gemm_plain", n("Gemm", ["x", "w"], ["y"]), [3, 4], [_init(rng, "w", (4, 5))])
    add("Gemm_transA", n("Gemm", ["x", "w", "b"], ["y"], transA=1), [4, 3],
        [_init(rng, "w", (4, 5)), _init(rng, "b", (3, 5))])
    add("shape_arithmetic", [n("Shape", ["x"], ["s"]), n("Gather", ["s", "i"], ["b"], axis=0),
                             n("Unsqueeze", ["b", "ax"], ["bb"]), n("Concat", ["bb", "m1"], ["shape"], axis=0),
                             n("Reshape", ["x", "shape"], ["y"])], [2, 3, 4],
        [_ints("i", 0), _ints("ax", [0]), _ints("m1", [-1])])
    add("Reshape_zero", n("Reshape", ["x", "s"], ["y"]), [2, 3, 4], [_ints("s", [0, -1])])
    add("Flatten", n("Flatten", ["x"], ["y"], axis=2), [2, 3, 4])
    add("Transpose", n("Transpose", ["x"], ["y"], perm=[2, 0, 1]), [2, 3, 4])
    add("Squeeze_Unsqueeze", [n("Unsqueeze", ["x", "a"], ["u"]), n("Squeeze", ["u", "b"], ["y"])], [2, 3, 4],
        [_ints("a", [1, -1]), _ints("b", [1])])
    add("Squeeze_opset11", [n("Unsqueeze", ["x"], ["u"], axes=[0]), n("Squeeze", ["u"], ["y"], axes=[0])],
        [2, 3], opset=11)
    add("Concat", n("Concat", ["x", "c"], ["y"], axis=-1), [2, 3], [_init(rng, "c", (2, 2))])
    add("Split", [n("Split", ["x", "sp"], ["a", "b"], axis=1), n("Mul", ["a", "b"], ["y"])], [2, 4],
        [_ints("sp", [2, 2])])
    add("Split_even_18", [n("Split", ["x"], ["a", "b", "c"], axis=1, num_outputs=3), n("Sub", ["a", "c"], ["y"])],
        [2, 6], opset=18)
    add("Slice_steps", n("Slice", ["x", "st", "en", "ax", "sp"], ["y"]), [5, 6],
        [_ints("st", [-1, 1]), _ints("en", [-100, 1000]), _ints("ax", [0, 1]), _ints("sp", [-2, 2])])
    add("Gather_axis1", n("Gather", ["x", "i"], ["y"], axis=1), [2, 5, 3], [_ints("i", [[0, 4], [-1, 2]])])
    add("Embedding", n("Gather", ["t", "ids"], ["y"]), None, [_init(rng, "t", (10, 3))],
        extra_inputs=[("ids", [2, 4], TensorProto.INT64)])
    add("Expand_Tile", [n("Expand", ["x", "s"], ["e"]), n("Tile", ["e", "r"], ["y"])], [3, 1],
        [_ints("s", [2, 3, 4]), _ints("r", [1, 2, 1])])
    fill = numpy_helper.from_array(np.array([2.5], np.float32))
    add("ConstantOfShape", [n("Shape", ["x"], ["s"]), n("ConstantOfShape", ["s"], ["z"], value=fill),
                            n("Add", ["x", "z"], ["y"])], [2, 3])
    add("Constant", [n("Constant", [], ["c"], value_floats=[1.0, 2.0, 3.0]), n("Mul", ["x", "c"], ["y"])], [2, 3])
    for opset in (13, 18):
        for op in ["ReduceMean", "ReduceMax", "ReduceMin", "ReduceL2"]:
            if opset >= 18:
                add(f"{op}_{opset}", n(op, ["x", "ax"], ["y"], keepdims=0), [2, 3, 4], [_ints("ax", [-1, 1])],
                    opset=opset)
            else:
                add(f"{op}_{opset}", n(op, ["x"], ["y"], axes=[-1, 1], keepdims=0), [2, 3, 4], opset=opset)
    add("ReduceSum_all", n("ReduceSum", ["x"], ["y"]), [2, 3, 4], opset=13)
    add("ArgMax", [n("ArgMax", ["x"], ["a"], axis=1, keepdims=0), n("Cast", ["a"], ["y"], to=F)], [3, 5])
    add("ArgMin_CastLike", [n("ArgMin", ["x"], ["a"], axis=0), n("CastLike", ["a", "x"], ["y"])], [3, 5])
    add("Ceil_Round", [n("Ceil", ["x"], ["a"]), n("Round", ["x"], ["b"]), n("Add", ["a", "b"], ["y"])], [3, 4])
    add("ReduceProd", n("ReduceProd", ["x"], ["y"], axes=[1]), [3, 4], opset=13)
    add("Size_Range", [n("Shape", ["x"], ["s"]), n("Gather", ["s", "one"], ["w"]), n("Size", ["x"], ["z"]),
                       n("Range", ["zero", "w", "step"], ["r"]), n("Cast", ["r"], ["rf"], to=F),
                       n("Cast", ["z"], ["zf"], to=F), n("Add", ["x", "rf"], ["a"]), n("Mul", ["a", "zf"], ["y"])],
        [3, 4], [_ints("one", 1), _ints("zero", 0), _ints("step", 1)])
    add("And_Or_Xor", [n("Greater", ["x", "c"], ["g"]), n("Less", ["x", "c"], ["l"]), n("And", ["g", "l"], ["a"]),
                       n("Or", ["g", "l"], ["o"]), n("Xor", ["a", "o"], ["b"]), n("Cast", ["b"], ["y"], to=F)],
        [3, 4], [_init(rng, "c", (4,))])
    for k, attrs in enumerate([dict(pads=[1, 0, 2, 1], strides=[2, 1]), dict(auto_pad="SAME_UPPER", strides=[2, 2]),
                               dict(dilations=[2, 1], group=2), dict(auto_pad="SAME_LOWER")]):
        g = attrs.get("group", 1)
        add(f"Conv_{k}", n("Conv", ["x", "w", "b"], ["y"], **attrs), [2, 4, 7, 6],
            [_init(rng, "w", (6, 4 // g, 3, 3)), _init(rng, "b", (6,))])
    add("Conv1d", n("Conv", ["x", "w"], ["y"], pads=[2, 1], strides=[2]), [2, 3, 9], [_init(rng, "w", (4, 3, 3))])
    add("Conv_weight_input", n("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1]), None,
        extra_inputs=[("x", [2, 3, 5, 5], F), ("w", [4, 3, 3, 3], F)])
    for k, attrs in enumerate([dict(pads=[1, 1, 1, 1], strides=[2, 2], output_padding=[1, 0]),
                               dict(pads=[1, 0, 2, 1], strides=[2, 1], dilations=[1, 2], group=2)]):
        g = attrs.get("group", 1)
        add(f"ConvTranspose_{k}", n("ConvTranspose", ["x", "w", "b"], ["y"], **attrs), [2, 4, 5, 6],
            [_init(rng, "w", (4, 6 // g, 3, 3)), _init(rng, "b", (6,))])
    add("ConvTranspose1d", n("ConvTranspose", ["x", "w"], ["y"], strides=[2], pads=[1, 1]), [2, 3, 7],
        [_init(rng, "w", (3, 4, 4))])
    add("ConvTranspose_weight_input", n("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2]), None,
        extra_inputs=[("x", [2, 3, 4, 4], F), ("w", [3, 2, 2, 2], F)])
    for k, attrs in enumerate([dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
                               dict(kernel_shape=[3, 2], pads=[1, 0, 0, 1], dilations=[2, 1]),
                               dict(kernel_shape=[2, 2], auto_pad="SAME_UPPER", strides=[2, 2])]):
        add(f"MaxPool_{k}", n("MaxPool", ["x"], ["y"], **attrs), [2, 3, 9, 8])
    for k, attrs in enumerate([dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1,
                                    count_include_pad=1),
                               dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1),
                               dict(kernel_shape=[3, 2], pads=[1, 0, 0, 1]),
                               dict(kernel_shape=[3, 2], pads=[1, 0, 0, 1], count_include_pad=1),
                               dict(kernel_shape=[2, 3], strides=[2, 2], auto_pad="SAME_LOWER")]):
        add(f"AveragePool_{k}", n("AveragePool", ["x"], ["y"], **attrs), [2, 3, 9, 8])
    add("MaxPool1d", n("MaxPool", ["x"], ["y"], kernel_shape=[3], strides=[2], pads=[1, 1]), [2, 3, 9])
    add("AveragePool1d", n("AveragePool", ["x"], ["y"], kernel_shape=[3], strides=[2], ceil_mode=1), [2, 3, 10])
    add("GlobalPools", [n("GlobalAveragePool", ["x"], ["a"]), n("GlobalMaxPool", ["x"], ["b"]),
                        n("Add", ["a", "b"], ["y"])], [2, 3, 5, 4])
    add("BatchNormalization", n("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], epsilon=1e-3),
        [2, 3, 4, 4], [_init(rng, "s", (3,)), _init(rng, "b", (3,)), _init(rng, "m", (3,)),
                       numpy_helper.from_array(np.array([0.5, 1.0, 2.0], np.float32), "v")])
    add("LayerNormalization", n("LayerNormalization", ["x", "s", "b"], ["y"], axis=-2), [2, 3, 4],
        [_init(rng, "s", (3, 4)), _init(rng, "b", (3, 4))])
    add("InstanceNormalization", n("InstanceNormalization", ["x", "s", "b"], ["y"]), [2, 3, 4, 5],
        [_init(rng, "s", (3,)), _init(rng, "b", (3,))])
    for mode in ("constant", "reflect", "edge"):
        add(f"Pad_{mode}", n("Pad", ["x", "p"], ["y"], mode=mode), [2, 3, 5, 4], [_ints("p", [0, 0, 1, 2, 0, 0, 2, 1])])
    add("Pad_constant_value", n("Pad", ["x", "p", "v"], ["y"]), [2, 3], [_ints("p", [1, 0, 0, 2]),
                                                                        numpy_helper.from_array(np.float32(4), "v")])
    add("Resize_nearest", n("Resize", ["x", "", "s"], ["y"], mode="nearest",
                            coordinate_transformation_mode="asymmetric", nearest_mode="floor"), [1, 2, 3, 4],
        [numpy_helper.from_array(np.array([1, 1, 2, 3], np.float32), "s")])
    add("Resize_linear", n("Resize", ["x", "", "", "sz"], ["y"], mode="linear",
                           coordinate_transformation_mode="pytorch_half_pixel"), [1, 2, 3, 4],
        [_ints("sz", [1, 2, 5, 7])])
    add("Resize_align", n("Resize", ["x", "", "", "sz"], ["y"], mode="linear",
                          coordinate_transformation_mode="align_corners"), [1, 2, 3, 4], [_ints("sz", [1, 2, 6, 5])])
    add("QDQ", [n("QuantizeLinear", ["x", "s", "z"], ["q"]), n("DequantizeLinear", ["q", "s", "z"], ["y"])], [3, 4],
        [numpy_helper.from_array(np.float32(0.02), "s"), numpy_helper.from_array(np.int8(3), "z")])
    add("QDQ_uint8", [n("QuantizeLinear", ["x", "s"], ["q"]), n("DequantizeLinear", ["q", "s"], ["y"])], [3, 4],
        [numpy_helper.from_array(np.float32(0.01), "s")])
    wq = numpy_helper.from_array(rng.integers(-127, 128, (5, 4)).astype(np.int8), "wq")
    add("int8_weights", [n("DequantizeLinear", ["wq", "ws"], ["w"], axis=0),
                         n("Gemm", ["x", "w"], ["y"], transB=1)], [3, 4],
        [wq, numpy_helper.from_array(np.linspace(0.01, 0.05, 5).astype(np.float32), "ws")])
    H = 3
    for kind, G in (("LSTM", 4), ("GRU", 3), ("RNN", 1)):
        extra = {"linear_before_reset": 1} if kind == "GRU" else {}
        outs = ["Y", "Yh", "Yc"] if kind == "LSTM" else ["Y", "Yh"]
        for direction, D in (("forward", 1), ("reverse", 1), ("bidirectional", 2)):
            inits = [_init(rng, "W", (D, G * H, 4), scale=0.5), _init(rng, "R", (D, G * H, H), scale=0.5),
                     _init(rng, "B", (D, 2 * G * H), scale=0.5)]
            nodes = [n(kind, ["x", "W", "R", "B", "lens"], outs, hidden_size=H, direction=direction, **extra),
                     n("Flatten", ["Y"], ["y"], axis=0)]
            add(f"{kind}_{direction}", nodes, [5, 3, 4], inits + [numpy_helper.from_array(
                np.array([5, 2, 4], np.int32), "lens")])
        inits = [_init(rng, "W", (1, G * H, 4), scale=0.5), _init(rng, "R", (1, G * H, H), scale=0.5)]
        states = ["h0"] + (["c0"] if kind == "LSTM" else [])
        nodes = [n(kind, ["x", "W", "R", "", "", *states], ["Y", "Yh"], hidden_size=H, **extra),
                 n("Flatten", ["Yh"], ["y"], axis=0)]
        add(f"{kind}_states", nodes, [5, 3, 4], inits, extra_inputs=[(s, [1, 3, H], F) for s in states])
    add("RNN_relu", [n("RNN", ["x", "W", "R"], ["Y"], hidden_size=H, activations=["Relu"]),
                     n("Flatten", ["Y"], ["y"], axis=0)], [5, 2, 4],
        [_init(rng, "W", (1, H, 4)), _init(rng, "R", (1, H, H))])
    add("Dropout", n("Dropout", ["x", "r"], ["y"]), [3, 4], [numpy_helper.from_array(np.float32(0.5), "r")])
    return cases


_CASES = op_cases(np.random.default_rng(5))


@pytest.mark.parametrize("case", _CASES, ids=[c[0] for c in _CASES])
def test_operator_matches_onnxruntime(case, rng):
    id_, nodes, shape, inits, opset, out_type, extra = case
    inputs = ([] if shape is None else [("x", shape, F)]) + extra
    proto = _model(nodes, [_vi(nm, s, t) for nm, s, t in inputs], [_vi("y", None, out_type)], inits, opset)
    feeds = {}
    for nm, s, t in inputs:
        feeds[nm] = rng.integers(0, 10, s).astype(np.int64) if t == TensorProto.INT64 else \
            (rng.standard_normal(s) * 1.5).astype(np.float32)
    want = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    model = nx.load(proto)
    got = model(*[feeds[nm] for nm, _, _ in inputs])
    assert got.shape == want.shape, f"{id_}: {got.shape} vs ONNX Runtime's {want.shape}"
    np.testing.assert_allclose(got.array, want, atol=2e-5, rtol=1e-5, err_msg=id_)
    if any(t == F for _, _, t in inputs) and got.dtype.kind == "f":  # and it differentiates
        xs = [neurona.from_numpy(feeds[nm]).requires_grad_(t == F) for nm, _, t in inputs]
        out = model(*xs)
        if out.requires_grad:
            out.sum().backward()
            assert all(x.grad is None or np.all(np.isfinite(x.grad.array)) for x in xs)


def _load_case(id_):
    _, nodes, shape, inits, opset, out_type, extra = next(c for c in _CASES if c[0] == id_)
    ins = ([] if shape is None else [("x", shape, F)]) + extra
    return nx.load(_model(nodes, [_vi(nm, s, t) for nm, s, t in ins], [_vi("y", None, out_type)], inits, opset))


def _layers(model) -> list:
    return [type(m).__name__ for n, m in model.named_modules() if n]


def test_layers_are_built_from_constant_weights():
    assert _layers(_load_case("MatMul_Add")) == ["Linear"] and _load_case("MatMul_Add").matmul.bias is not None
    assert _layers(_load_case("Gemm_plain")) == ["Linear"]
    assert _layers(_load_case("Gemm_transA")) == []  # a product that is not a layer's stays an op
    assert _layers(_load_case("Conv_0")) == ["Conv2d"] and _layers(_load_case("Conv1d")) == ["Conv1d"]
    assert _layers(_load_case("Conv_weight_input")) == []
    assert _layers(_load_case("ConvTranspose_0")) == ["ConvTranspose2d"]
    assert _layers(_load_case("ConvTranspose_1")) == []  # uneven pads: a crop after the op
    assert _layers(_load_case("ConvTranspose1d")) == ["ConvTranspose1d"]
    assert _layers(_load_case("Embedding")) == ["Embedding"]
    assert _layers(_load_case("PRelu_channels")) == ["PReLU"] and _layers(_load_case("PRelu_broadcast")) == []
    assert _layers(_load_case("LayerNormalization")) == ["LayerNorm"]
    assert _layers(_load_case("BatchNormalization")) == ["BatchNorm2d"]
    assert _layers(_load_case("int8_weights")) == ["Linear"]  # dequantized at load time: float, trainable
    lstm = _load_case("LSTM_bidirectional").lstm
    assert isinstance(lstm, nn.LSTM) and lstm.bidirectional


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_batch_major_recurrent_layout(kind, rng):
    """layout=1 ((B, T, I) inputs, (B, D, H) states; ONNX Runtime's CPU kernels lack it) equals layout 0 transposed."""
    H, G = 3, {"LSTM": 4, "GRU": 3, "RNN": 1}[kind]
    extra = {"linear_before_reset": 1} if kind == "GRU" else {}
    inits = [_init(rng, "W", (2, G * H, 4)), _init(rng, "R", (2, G * H, H)), _init(rng, "B", (2, 2 * G * H))]
    outs = ["Y", "Yh"] + (["Yc"] if kind == "LSTM" else [])
    node = helper.make_node(kind, ["x", "W", "R", "B", "", "h0"], outs, hidden_size=H, direction="bidirectional",
                            layout=1, **extra)
    batch_major = nx.load(_model([node], [_vi("x", [3, 5, 4]), _vi("h0", [3, 2, H])],
                                 [_vi(o, None) for o in outs], inits))
    node0 = helper.make_node(kind, ["x", "W", "R", "B", "", "h0"], outs, hidden_size=H, direction="bidirectional",
                             **extra)
    time_major = nx.load(_model([node0], [_vi("x", [5, 3, 4]), _vi("h0", [2, 3, H])],
                                [_vi(o, None) for o in outs], inits))
    x, h0 = rng.standard_normal((3, 5, 4)).astype(np.float32), rng.standard_normal((3, 2, H)).astype(np.float32)
    a = batch_major(x, h0)
    b = time_major(x.transpose(1, 0, 2), h0.transpose(1, 0, 2))
    np.testing.assert_allclose(a[0].array, b[0].array.transpose(2, 0, 1, 3), atol=1e-6)   # Y: (B, T, D, H)
    np.testing.assert_allclose(a[1].array, b[1].array.transpose(1, 0, 2), atol=1e-6)      # Y_h: (B, D, H)
