"""Attention, Transformer and the recurrent extensions against PyTorch 2.13 (attention_reference.npz,
written by tests/fixtures/record_attention.py): PyTorch's state_dict loads by name, and the outputs and
the gradients of the inputs (float masks included) and of every parameter match, in float64 and float32."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

import neurona
import neurona.nn.functional as F
from neurona import models, nn

REF = np.load(os.path.join(os.path.dirname(__file__), "..", "fixtures", "attention_reference.npz"), allow_pickle=False)
TAGS = sorted({k[:-len("_meta")] for k in REF.files if k.endswith("_meta")})


def meta(tag):
    return json.loads(str(REF[f"{tag}_meta"]))


def build(kind, ctor, dtype):
    if kind in ("TransformerEncoder", "TransformerDecoder"):
        layer_cls = nn.TransformerEncoderLayer if kind == "TransformerEncoder" else nn.TransformerDecoderLayer
        layer = layer_cls(**ctor["layer"], dtype=dtype)
        norm = nn.LayerNorm(ctor["layer"]["d_model"], dtype=dtype) if ctor.get("norm") else None
        return getattr(nn, kind)(layer, ctor["num_layers"], norm=norm)
    if hasattr(nn, kind):
        return getattr(nn, kind)(**ctor, dtype=dtype)
    return getattr(models, kind)(**ctor).to(dtype)


def run(tag, dtype=np.float64):
    """Replay case ``tag``: returns (module or None, input tensors by name, outputs)."""
    m = meta(tag)
    inputs = {}
    for key in REF.files:
        if key.startswith(f"{tag}_in_"):
            a = REF[key]
            name = key[len(f"{tag}_in_"):]
            if a.dtype.kind == "f":
                inputs[name] = neurona.from_numpy(a.astype(dtype)).requires_grad_(name in m["grads"])
            else:
                inputs[name] = neurona.from_numpy(a)

    def resolve(v):
        if isinstance(v, str) and v.startswith("@"):
            return inputs[v[1:]]
        return v

    args = {k: resolve(v) for k, v in m["call"].items()}
    module = None
    if m["kind"] == "sdpa":
        out = F.scaled_dot_product_attention(**args)
    else:
        module = build(m["kind"], m["ctor"], dtype)
        sd = {k[len(f"{tag}_sd_"):]: REF[k] for k in REF.files if k.startswith(f"{tag}_sd_")}
        module.load_state_dict(sd)                                   # strict: every name must match
        positional = [args.pop(k) for k in m["positional"]]
        out = module(*positional, **args)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    loss = None
    for j, o in enumerate(outs):
        if o is None:
            assert f"{tag}_out{j}" not in REF.files
            continue
        term = (o * neurona.from_numpy(REF[f"{tag}_gout{j}"].astype(dtype))).sum()
        loss = term if loss is None else loss + term
    loss.backward()
    return module, inputs, outs


@pytest.mark.parametrize("tag", TAGS)
def test_matches_pytorch_float64(tag):
    module, inputs, outs = run(tag)
    for j, o in enumerate(outs):
        if o is not None:
            np.testing.assert_allclose(o.array, REF[f"{tag}_out{j}"], rtol=1e-9, atol=1e-11, err_msg=f"output {j}")
    for name in meta(tag)["grads"]:
        np.testing.assert_allclose(inputs[name].grad.array, REF[f"{tag}_din_{name}"], rtol=1e-8, atol=1e-10,
                                   err_msg=f"gradient of input {name}")
    if module is not None:
        for name, p in module.named_parameters():
            np.testing.assert_allclose(p.grad.array, REF[f"{tag}_dsd_{name}"], rtol=1e-8, atol=1e-10,
                                       err_msg=f"gradient of {name}")


@pytest.mark.parametrize("tag", TAGS)
def test_float32_in_float32_out(tag):
    module, inputs, outs = run(tag, np.float32)
    for j, o in enumerate(outs):
        if o is not None:
            assert o.dtype == np.float32, f"output {j} is {o.dtype}"
            np.testing.assert_allclose(o.array, REF[f"{tag}_out{j}"], rtol=1e-4, atol=1e-4)
    for name in meta(tag)["grads"]:
        g = inputs[name].grad
        assert g.dtype == np.float32
        np.testing.assert_allclose(g.array, REF[f"{tag}_din_{name}"], rtol=1e-3, atol=1e-3)
    if module is not None:
        for name, p in module.named_parameters():
            assert p.grad.dtype == np.float32, name
            np.testing.assert_allclose(p.grad.array, REF[f"{tag}_dsd_{name}"], rtol=1e-3, atol=1e-3, err_msg=name)


def test_state_dict_keys_are_pytorchs():
    """A freshly built layer has exactly PyTorch's state_dict names and shapes (the tests above load them)."""
    for tag in TAGS:
        m = meta(tag)
        if m["kind"] == "sdpa":
            continue
        ours = {k: v.shape for k, v in build(m["kind"], m["ctor"], np.float64).state_dict().items()}
        theirs = {k[len(f"{tag}_sd_"):]: REF[k].shape for k in REF.files if k.startswith(f"{tag}_sd_")}
        assert ours == theirs, tag
