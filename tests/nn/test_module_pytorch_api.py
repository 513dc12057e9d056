"""Module API that PyTorch code relies on: parameter containers, buffers, traversal, backward hooks, zero_grad."""
from __future__ import annotations

import numpy as np
import pytest

import neurona as nr
from neurona import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
        self.heads = nn.ModuleDict({"a": nn.Linear(4, 2), "b": nn.Identity()})
        self.scales = nn.ParameterList([nn.Parameter(nr.ones(2)), nr.zeros(2)])  # a plain tensor is wrapped
        self.extra = nn.ParameterDict({"bias": nr.zeros(2)})
        self.register_buffer("steps", nr.zeros(1))
        self.register_buffer("cache", nr.zeros(3), persistent=False)

    def forward(self, x):
        y = self.heads["a"](self.body(x))
        return y * self.scales[0] + self.scales[1] + self.extra["bias"]


def test_parameter_containers_register_and_save():
    m = Net()
    assert isinstance(m.scales[1], nn.Parameter) and m.scales[1].requires_grad
    names = [n for n, _ in m.named_parameters()]
    assert names == ["body.0.weight", "body.0.bias", "heads.a.weight", "heads.a.bias", "scales.0", "scales.1",
                     "extra.bias"]
    sd = m.state_dict()
    assert "steps" in sd and "cache" not in sd  # a non-persistent buffer is not saved
    assert "cache" in dict(m.named_buffers())
    m.scales.append(nr.ones(1))
    m.extra["w"] = nn.Parameter(nr.ones(3))
    assert len(m.scales) == 3 and "w" in m.extra and list(m.extra.keys()) == ["bias", "w"]
    assert isinstance(m.scales[1:], nn.ParameterList) and len(m.scales[1:]) == 2
    opt = nr.optim.SGD(m.parameters(), lr=0.1)
    assert sum(len(g["params"]) for g in opt.param_groups) == 9
    assert m.extra.pop("w").shape == (3,) and len(m.extra) == 1
    with pytest.raises(TypeError, match="ParameterList.append: expected a Parameter or a Tensor"):
        m.scales.append(3.0)


def test_load_state_dict_reports_missing_and_unexpected_keys():
    m = Net()
    sd = m.state_dict()
    sd.pop("extra.bias")
    sd["surplus"] = np.zeros(1)
    result = m.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["extra.bias"] and result.unexpected_keys == ["surplus"]
    missing, unexpected = result
    assert missing == ["extra.bias"]
    with pytest.raises(RuntimeError, match="missing key"):
        m.load_state_dict(sd)
    assert tuple(Net().load_state_dict(Net().state_dict())) == ([], [])


def test_traversal_apply_and_requires_grad():
    m = Net()
    assert [n for n, _ in m.named_modules()] == ["", "body", "body.0", "body.1", "heads", "heads.a", "heads.b",
                                                  "scales", "extra"]
    assert [n for n, _ in m.named_children()] == ["body", "heads", "scales", "extra"]
    assert len(list(m.children())) == 4 and len(list(m.modules())) == 9
    assert [n for n, _ in m.named_parameters(prefix="net", recurse=False)] == []
    assert [n for n, _ in m.heads.a.named_parameters(prefix="a")] == ["a.weight", "a.bias"]
    assert len(list(m.body.parameters(recurse=False))) == 0

    def init(mod):
        if isinstance(mod, nn.Linear):
            nn.init.constant_(mod.weight, 0.5)

    assert m.apply(init) is m and float(m.heads.a.weight.array.mean()) == 0.5
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    assert m.eval() is m and not m.body[1].training and m.train().heads.b.training


def test_zero_grad_sets_to_none_by_default():
    m = Net()
    opt = nr.optim.SGD(m.parameters(), lr=0.1)
    m(nr.randn(2, 3)).sum().backward()
    opt.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m(nr.randn(2, 3)).sum().backward()
    m.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.array.any() for p in m.parameters())
    opt.step()  # zero gradients: nothing moves, nothing fails


def test_flatten_parameters_is_a_no_op():
    lstm = nn.LSTM(3, 4, num_layers=2)
    before = [p.array.copy() for p in lstm.parameters()]
    assert lstm.flatten_parameters() is None
    assert all(np.array_equal(a, p.array) for a, p in zip(before, lstm.parameters()))
    nn.GRU(2, 2).flatten_parameters()


# --- backward hooks --------------------------------------------------------------------------------


def test_full_backward_hook_sees_grad_input_and_grad_output():
    layer = nn.Linear(3, 2)
    seen = []
    handle = layer.register_full_backward_hook(lambda mod, gi, go: seen.append((mod, gi, go)))
    x = nr.randn(4, 3, requires_grad=True)
    y = layer(x)
    gy = nr.randn(4, 2)
    y.backward(gy)
    (mod, gi, go), = seen
    assert mod is layer and len(gi) == 1 and len(go) == 1
    np.testing.assert_allclose(go[0].array, gy.array)
    np.testing.assert_allclose(gi[0].array, x.grad.array)
    np.testing.assert_allclose(gi[0].array, gy.array @ layer.weight.array, rtol=1e-6)
    handle.remove()
    layer(x).sum().backward()
    assert len(seen) == 1


def test_backward_hook_on_an_input_without_grad_and_replacements():
    layer = nn.Linear(3, 2)
    calls = []
    layer.register_full_backward_hook(lambda m, gi, go: calls.append(gi))
    layer(nr.randn(4, 3)).sum().backward()  # the data needs no gradient: the hook still runs, with None
    assert calls == [(None,)]

    doubled = nn.Linear(3, 2)
    doubled.register_full_backward_pre_hook(lambda m, go: (go[0] * 2,))
    plain = nn.Linear(3, 2)
    plain.load_state_dict(doubled.state_dict())
    x1, x2 = nr.randn(4, 3, requires_grad=True), None
    x2 = nr.tensor(x1.array.copy(), requires_grad=True)
    doubled(x1).sum().backward()
    plain(x2).sum().backward()
    np.testing.assert_allclose(x1.grad.array, 2 * x2.grad.array, rtol=1e-6)
    np.testing.assert_allclose(doubled.weight.grad.array, 2 * plain.weight.grad.array, rtol=1e-6)

    zeroing = nn.Tanh()
    zeroing.register_full_backward_hook(lambda m, gi, go: (nr.zeros_like(gi[0]),))
    x = nr.randn(3, requires_grad=True)
    zeroing(x).sum().backward()
    assert not x.grad.array.any()


def test_backward_hook_with_several_outputs():
    lstm = nn.LSTM(3, 4, batch_first=True)
    seen = []
    lstm.register_full_backward_hook(lambda m, gi, go: seen.append((gi, go)))
    x = nr.randn(2, 5, 3, requires_grad=True)
    out, (h, c) = lstm(x)
    out.sum().backward()
    (gi, go), = seen
    assert len(go) == 3 and go[0].shape == (2, 5, 4)
    np.testing.assert_allclose(go[0].array, np.ones((2, 5, 4)))
    assert not go[1].array.any() and not go[2].array.any()  # h and c were not used: zeros (PyTorch: None)
    np.testing.assert_allclose(gi[0].array, x.grad.array)
