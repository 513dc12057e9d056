"""The ``neurona prune`` / ``quantize`` / ``distill`` commands on a small model trained on the embedded subset."""
import json

import pytest

import neurona
from neurona import cli, compress


def _run(argv):
    """One command's run() itself, so that its errors come out as exceptions."""
    args = cli.build_parser().parse_args(argv)
    return args.run(args)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    rc = cli.main(["train", "--data", "fashion-mnist-small", "--hidden", "32", "--epochs", "2", "--patience", "0",
                   "--out", str(out), "--name", "base", "--quiet"])
    assert rc == 0
    return out, out / "base"


def _rows(run):
    metrics = json.loads((run / "metrics.json").read_text())
    return metrics, {r["model"]: r for r in metrics["comparison"]}


def test_prune_command(trained, capsys):
    out, base = trained
    assert _run(["prune", str(base), "--sparsity", "0.8", "--finetune-epochs", "1", "--out", str(out),
                 "--name", "pruned", "--quiet"]) == 0
    run = out / "pruned"
    for f in ("model.npz", "metrics.json", "comparison.md", "comparison.csv", "sparsity.txt"):
        assert (run / f).exists(), f
    metrics, rows = _rows(run)
    assert metrics["sparsity"] == pytest.approx(0.8, abs=0.01)
    orig = rows["original"]
    pruned = next(r for k, r in rows.items() if k.startswith("pruned"))
    assert pruned["nonzero"] < 0.3 * orig["nonzero"]
    assert pruned["parameters"] == orig["parameters"]
    assert pruned["zlib_bytes"] < orig["zlib_bytes"]
    assert pruned["accuracy"] > 0.6 and metrics["test_accuracy_before"] == orig["accuracy"]
    table = (run / "comparison.md").read_text()
    assert "| model | parameters | non-zero | file bytes | zipped bytes | accuracy | ms/batch |" in table
    assert "layers.0.weight" in (run / "sparsity.txt").read_text()
    model, masks = compress.load_pruned(run / "model.npz")
    assert masks.sparsity() == pytest.approx(0.8, abs=0.01)
    # the pruned model keeps the metadata the other commands need
    assert cli.main(["evaluate", str(run)]) == 0
    assert "accuracy" in capsys.readouterr().out


def test_prune_structured_writes_a_shrunk_model(trained):
    out, base = trained
    assert _run(["prune", str(base), "--sparsity", "0.5", "--structured", "--out", str(out), "--name", "struct",
                 "--quiet"]) == 0
    run = out / "struct"
    _, rows = _rows(run)
    shrunk = rows["pruned, neurons removed"]
    assert shrunk["parameters"] < rows["original"]["parameters"] * 0.6
    assert shrunk["file_bytes"] < rows["original"]["file_bytes"] * 0.6
    m = neurona.io.load(run / "model_shrunk.npz")
    assert m.hidden == [16]


def test_quantize_command(trained, capsys):
    out, base = trained
    assert _run(["quantize", str(base), "--calibration-batches", "2", "--out", str(out), "--name", "q",
                 "--quiet"]) == 0
    run = out / "q"
    metrics, rows = _rows(run)
    assert metrics["size_ratio"] < 0.35  # int8 weights + the same JSON header and zip entries
    assert abs(metrics["accuracy_change"]) < 0.02 and metrics["prediction_agreement"] > 0.97
    assert set(rows) == {"float32", "int8 (gemm int32)", "int8 (gemm blas)"}
    q = neurona.io.load(run / "model.npz")
    assert isinstance(q, compress.QuantizedModel)
    assert (run / "model.npz").stat().st_size == rows["int8 (gemm int32)"]["file_bytes"]
    capsys.readouterr()
    assert cli.main(["info", str(run)]) == 0  # per-layer shapes and the int8 values each layer stores
    out = capsys.readouterr().out
    layer0 = [line for line in out[out.index("per-layer output shapes"):].splitlines()
              if line.startswith("model.layers.0 ")]
    assert len(layer0) == 1 and "QuantizedLinear" in layer0[0] and "(1, 32)" in layer0[0] and "25,120" in layer0[0]


def test_distill_command(trained):
    out, base = trained
    assert _run(["distill", "--teacher", str(base), "--student", "mlp", "--hidden", "8", "--epochs", "1",
                 "--out", str(out), "--name", "d", "--quiet"]) == 0
    run = out / "d"
    metrics, rows = _rows(run)
    assert list(rows) == ["teacher", "student mlp [8] distilled", "student mlp [8] alone"]
    assert rows["student mlp [8] distilled"]["parameters"] < rows["teacher"]["parameters"]
    assert "gain" in metrics and len(metrics["history"]["loss"]) == 1
    student = neurona.io.load(run / "model.npz")
    assert student.hidden == [8]


def test_command_errors(trained, capsys):
    out, base = trained
    assert cli.main(["prune", str(base), "--sparsity", "1.5", "--out", str(out)]) == 2
    assert "argument --sparsity: expected a number in [0, 1), got '1.5'" in capsys.readouterr().err
    with pytest.raises(cli.CLIError, match="no model named"):
        _run(["distill", "--teacher", str(base), "--student", "nope", "--out", str(out)])


def test_compression_commands_take_flat_rows_for_an_image_model(tmp_path):
    """An .npz of flat 784-value rows for a 1x28x28 model: reshaped to the model's input, then scaled."""
    import numpy as np

    from neurona.data import fashion_mnist

    with pytest.warns(neurona.data.EmbeddedSubsetWarning):
        x, y = fashion_mnist("train", subset=True)
        xt, yt = fashion_mnist("test", subset=True)
    images = tmp_path / "images.npz"
    np.savez(images, x_train=x[:600].astype(np.float32) / 255, y_train=y[:600], x_test=xt[:200].astype(np.float32) / 255,
             y_test=yt[:200])
    flat = tmp_path / "flat.npz"
    np.savez(flat, x_train=x[:600].reshape(600, -1).astype(np.float32) / 255, y_train=y[:600],
             x_test=xt[:200].reshape(200, -1).astype(np.float32) / 255, y_test=yt[:200])
    assert cli.main(["train", "--data", str(images), "--model", "lenet5", "--epochs", "1", "--patience", "0",
                     "--out", str(tmp_path), "--name", "cnn", "--quiet"]) == 0
    accuracies = []
    for data in (images, flat):
        name = f"pruned-{data.stem}"
        _run(["prune", str(tmp_path / "cnn"), "--sparsity", "0.5", "--data", str(data), "--out", str(tmp_path),
              "--name", name, "--quiet"])
        _, rows = _rows(tmp_path / name)
        accuracies.append([r["accuracy"] for r in rows.values()])
    assert accuracies[0] == accuracies[1]  # the same images, whichever shape they come in
