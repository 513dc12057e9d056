"""Transfer learning: PyTorch weights by name, head replacement, freezing, parameter groups, safetensors."""
from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

import neurona
from neurona import models, nn, optim

REF = np.load(Path(__file__).parents[1] / "fixtures" / "conv_reference.npz", allow_pickle=False)


def torch_state(name: str) -> dict:
    return {k[len(name) + 4:]: REF[k] for k in REF.files if k.startswith(name + ".sd.")}


BUILDERS = {
    "lenet5": lambda: models.LeNet5(),
    "resnet_tiny": lambda: models.ResNet((1, 1), num_classes=5, in_channels=3, input_size=16, widths=(8, 16)),
    "inception": lambda: models.InceptionBlock(6, 4, 3, 5, 2, 3, 2, branch5_kernel=3),
}


@pytest.mark.parametrize("name", list(BUILDERS))
def test_pytorch_weights_give_pytorch_outputs(name, tmp_path):
    """A PyTorch state_dict saved as .npz loads by name and reproduces PyTorch's eval outputs to 1e-5."""
    path = tmp_path / f"{name}.npz"
    np.savez(path, **torch_state(name))
    model = BUILDERS[name]()
    report = models.load_weights(model, path)
    assert not report.missing and not report.unexpected and not report.skipped
    model.eval()
    with neurona.no_grad():
        y = model(neurona.from_numpy(REF[f"{name}.x"]))
    np.testing.assert_allclose(y.array, REF[f"{name}.y"], rtol=1e-5, atol=1e-5)


def write_safetensors(path: Path, arrays: dict) -> None:
    """A minimal writer of the safetensors layout: u64 header length, JSON header, raw little-endian bytes."""
    codes = {np.dtype(np.float32): "F32", np.dtype(np.float64): "F64", np.dtype(np.int64): "I64"}
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for k, a in arrays.items():
        raw = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes()
        header[k] = {"dtype": codes[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(head)) + head + b"".join(blobs))


def test_safetensors_weights(tmp_path):
    state = torch_state("resnet_tiny")
    path = tmp_path / "w.safetensors"
    write_safetensors(path, state)
    read = models.read_safetensors(path)
    assert list(read) == list(state)
    for k in state:
        np.testing.assert_array_equal(read[k], state[k])
    model = BUILDERS["resnet_tiny"]()
    models.load_weights(model, path)
    model.eval()
    with neurona.no_grad():
        np.testing.assert_allclose(model(neurona.from_numpy(REF["resnet_tiny.x"])).array, REF["resnet_tiny.y"],
                                   rtol=1e-5, atol=1e-5)


def test_safetensors_bfloat16_and_corrupt_files(tmp_path):
    values = np.array([1.0, -2.5, 3.140625], np.float32)
    bf16 = (values.view(np.uint32) >> 16).astype("<u2").tobytes()
    head = json.dumps({"w": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}}).encode()
    (tmp_path / "b.safetensors").write_bytes(struct.pack("<Q", len(head)) + head + bf16)
    np.testing.assert_array_equal(models.read_safetensors(tmp_path / "b.safetensors")["w"], values)
    (tmp_path / "bad.safetensors").write_bytes(struct.pack("<Q", 1000) + b"{}")
    with pytest.raises(ValueError, match="past the end"):
        models.read_safetensors(tmp_path / "bad.safetensors")


def test_load_checks_shapes_and_names():
    state = torch_state("lenet5")
    other = models.LeNet5(num_classes=3)
    with pytest.raises(RuntimeError, match="size mismatch|classifier.4"):
        models.load_weights(other, state)
    before = other.classifier[4].weight.array.copy()
    report = models.load_weights(other, state, skip_mismatched=True)
    assert report.skipped == ["classifier.4.weight", "classifier.4.bias"]
    np.testing.assert_array_equal(other.classifier[4].weight.array, before)  # the new head keeps its init
    np.testing.assert_array_equal(other.features[0].weight.array, state["features.0.weight"])
    with pytest.raises(RuntimeError, match="missing"):
        models.load_weights(models.LeNet5(), {"features.0.weight": state["features.0.weight"]})
    partial = models.load_weights(models.LeNet5(), {"features.0.weight": state["features.0.weight"]}, strict=False)
    assert partial.loaded == ["features.0.weight"] and "classifier.4.bias" in partial.missing
    prefixed = {"module." + k: v for k, v in state.items()}
    assert not models.load_weights(models.LeNet5(), prefixed, prefix="module.").missing


def test_replace_head_freeze_and_param_groups():
    model = models.ResNet18(num_classes=10, in_channels=1, input_size=28)
    head = models.replace_head(model, 4)
    assert model.fc is head and head.out_features == 4 and model.num_classes == 4
    lenet = models.LeNet5()
    assert models.find_head(lenet)[0] == "classifier.4"
    models.replace_head(lenet, 5)
    assert lenet.classifier[4].out_features == 5
    assert lenet(neurona.randn(2, 1, 28, 28)).shape == (2, 5)

    models.freeze(lenet)
    models.unfreeze(lenet.classifier[4])
    trainable = [n for n, p in lenet.named_parameters() if p.requires_grad]
    assert trainable == ["classifier.4.weight", "classifier.4.bias"]
    frozen_before = lenet.features[0].weight.array.copy()
    opt = optim.SGD([p for p in lenet.parameters() if p.requires_grad], lr=0.1)
    loss = nn.CrossEntropyLoss()(lenet(neurona.randn(4, 1, 28, 28)), neurona.from_numpy(np.array([0, 1, 2, 3])))
    loss.backward()
    opt.step()
    np.testing.assert_array_equal(lenet.features[0].weight.array, frozen_before)
    assert lenet.features[0].weight.grad is None

    models.unfreeze(lenet)
    groups = models.param_groups(lenet, lr=1e-3, body_lr=1e-4)
    assert [g["lr"] for g in groups] == [1e-4, 1e-3]
    assert len(groups[1]["params"]) == 2 and len(groups[0]["params"]) == 8
    adam = optim.Adam(groups)
    assert [g["lr"] for g in adam.param_groups] == [1e-4, 1e-3]
    models.freeze(lenet)
    with pytest.raises(ValueError, match="frozen"):
        models.param_groups(lenet, lr=1e-3)


def test_googlenet_head_is_not_an_auxiliary_classifier():
    model = models.GoogLeNet(num_classes=10, in_channels=1, input_size=28, aux_logits=True)
    assert models.find_head(model)[0] == "fc"
