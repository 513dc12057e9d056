"""``neurona export MODEL --format onnx|safetensors --output FILE`` on a small model trained on the embedded subset."""
import numpy as np
import pytest

import neurona
from neurona import cli, io

ort = pytest.importorskip("onnxruntime")


def _run(argv):
    """One command's run() itself, so that its errors come out as exceptions."""
    args = cli.build_parser().parse_args([str(a) for a in argv])
    return args.run(args)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    rc = cli.main(["train", "--data", "fashion-mnist-small", "--hidden", "16", "--epochs", "1", "--patience", "0",
                   "--out", str(out), "--name", "base", "--quiet"])
    assert rc == 0
    return out / "base"


def test_onnx_export_takes_raw_inputs(trained, tmp_path, capsys):
    path = tmp_path / "mlp.onnx"
    assert _run(["export", trained, "--format", "onnx", "--output", path, "--verify"]) == 0
    out = capsys.readouterr().out
    assert "input ['batch', 1, 28, 28] (raw: the input scaling is in the graph)" in out
    assert "largest difference" in out and float(out.split("largest difference ")[1].split()[0]) < 1e-4
    f = io.read_model_file(trained / "model.npz")
    x = np.random.default_rng(0).uniform(0, 1, (5, 1, 28, 28)).astype(np.float32)  # raw pixels, as predict takes
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x})[0]
    want = f.build()(neurona.from_numpy(np.asarray(f.preprocessing.transform(x), np.float32))).array
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert _run(["export", trained, "--output", tmp_path / "scaled.onnx", "--no-preprocessing", "--opset", "13",
                 "--quiet"]) == 0
    scaled = ort.InferenceSession(str(tmp_path / "scaled.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(scaled.run(None, {"input": np.asarray(f.preprocessing.transform(x), np.float32)})[0],
                               want, atol=1e-4)


def test_safetensors_export(trained, tmp_path):
    path = tmp_path / "mlp.safetensors"
    assert _run(["export", trained, "--format", "safetensors", "--output", path, "--quiet"]) == 0
    model = io.load(path)
    original = io.load(trained / "model.npz")
    x = neurona.randn(3, 784)
    np.testing.assert_array_equal(model(x).array, original(x).array)


def test_export_errors_name_the_problem(trained, tmp_path, capsys):
    assert cli.main(["export", str(trained), "--output", str(tmp_path / "m.onnx"), "--input-shape", "x,2"]) == 1
    assert "--input-shape must be integers" in capsys.readouterr().err
    assert cli.main(["export", str(trained), "--output", str(tmp_path / "m.onnx"), "--opset", "5"]) == 1
    assert "--opset must be between 13" in capsys.readouterr().err
    assert cli.main(["export", str(tmp_path / "missing.npz"), "--output", str(tmp_path / "m.onnx")]) == 1
