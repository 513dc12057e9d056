"""Module, Parameter and the containers: registration, traversal, state dicts, modes, freezing, repr."""
import copy
from collections import OrderedDict

import numpy as np
import pytest

import neurona
from neurona import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.scale = nn.Parameter(neurona.ones(4))
        self.register_buffer("count", neurona.zeros(1))
        self.register_buffer("scratch", neurona.zeros(2), persistent=False)

    def forward(self, x):
        return self.fc(x) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.bn = nn.BatchNorm1d(4)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.bn(self.block(x)))


# --- Parameter ---------------------------------------------------------------------


def test_parameter_is_a_leaf_tensor_that_requires_grad():
    p = nn.Parameter(neurona.randn(2, 3))
    assert isinstance(p, neurona.Tensor) and p.requires_grad and p.is_leaf and p.dtype == np.float32
    frozen = nn.Parameter(neurona.randn(2), requires_grad=False)
    assert not frozen.requires_grad
    assert "Parameter containing" in repr(p)


def test_parameter_shares_tensor_data_and_keeps_dtype():
    t = neurona.from_numpy(np.arange(6, dtype=np.float64).reshape(2, 3))
    p = nn.Parameter(t)
    assert p.array is t.array and p.dtype == np.float64
    assert nn.Parameter(np.zeros(3)).dtype == np.float32  # arrays follow neurona.tensor's policy


def test_parameter_from_graph_output_is_a_new_leaf():
    x = neurona.randn(3, requires_grad=True)
    p = nn.Parameter(x * 2)
    assert p.is_leaf and p.grad_fn is None


def test_parameter_of_integers_cannot_require_grad():
    with pytest.raises(TypeError, match="floating"):
        nn.Parameter(neurona.tensor([1, 2, 3]))


def test_gradients_reach_parameters():
    w = nn.Parameter(neurona.tensor([[1.0, 2.0], [3.0, 4.0]]))
    x = neurona.tensor([[1.0, 1.0]])
    (x @ w).sum().backward()
    np.testing.assert_allclose(w.grad.array, [[1, 1], [1, 1]])
    assert w.grad.dtype == np.float32


# --- registration ----------------------------------------------------------------


def test_assignment_registers_parameters_buffers_and_modules():
    b = Block()
    assert [n for n, _ in b.named_parameters()] == ["scale", "fc.weight", "fc.bias"]
    assert [n for n, _ in b.named_buffers()] == ["count", "scratch"]
    assert [n for n, _ in b.named_children()] == ["fc"]
    assert b.fc.weight is b._modules["fc"]._parameters["weight"]
    assert [n for n, _ in b.named_parameters(recurse=False)] == ["scale"]


def test_nested_names_and_traversal():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["block.scale", "block.fc.weight", "block.fc.bias", "bn.weight", "bn.bias", "head.weight",
                     "head.bias"]
    assert [n for n, _ in net.named_modules()] == ["", "block", "block.fc", "bn", "head"]
    assert len(list(net.modules())) == 5 and len(list(net.children())) == 3
    assert net.get_submodule("block.fc") is net.block.fc
    with pytest.raises(AttributeError, match="no sub-module 'nope'"):
        net.get_submodule("block.nope")


def test_reassigning_changes_registry():
    b = Block()
    b.scale = None  # a declared parameter may become None
    assert "scale" not in [n for n, _ in b.named_parameters()]
    with pytest.raises(TypeError, match="parameter 'scale'"):
        b.scale = neurona.ones(4)  # a plain tensor is not a parameter
    b.fc = nn.Identity()
    assert [n for n, _ in b.named_parameters()] == []
    b.other = 3
    assert b.other == 3 and "other" not in b._modules
    del b.fc
    assert "fc" not in b._modules
    with pytest.raises(AttributeError, match="'Block' object has no attribute 'missing'"):
        b.missing


def test_register_buffer_checks():
    m = nn.Module()
    with pytest.raises(KeyError, match=r"buffer name can\W+t contain"):
        m.register_buffer("a.b", neurona.zeros(1))
    with pytest.raises(TypeError, match="Tensor or None"):
        m.register_buffer("a", np.zeros(1))
    m.register_buffer("a", None)
    assert list(m.buffers()) == []
    with pytest.raises(TypeError, match="buffer 'a'"):
        m.a = [1, 2]


def test_forgetting_super_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Bad()


def test_forward_not_written():
    with pytest.raises(NotImplementedError, match="Module.forward is not written"):
        nn.Module()(neurona.ones(1))


def test_shared_parameters_are_listed_and_counted_once():
    lin = nn.Linear(3, 3)
    seq = nn.Sequential(lin, nn.Identity(), lin)
    assert len(list(seq.parameters())) == 2
    assert seq.num_parameters() == 12
    assert len(seq.state_dict()) == 4  # state_dict keeps every name, as PyTorch


# --- state dict -----------------------------------------------------------------


def test_state_dict_shares_memory_with_parameters_and_persistent_buffers():
    net = Net()
    sd = net.state_dict()
    assert list(sd) == ["block.scale", "block.count", "block.fc.weight", "block.fc.bias", "bn.weight", "bn.bias",
                        "bn.running_mean", "bn.running_var", "bn.num_batches_tracked", "head.weight", "head.bias"]
    # as PyTorch: detached tensors on the parameters' memory, not Parameters, not copies
    assert all(type(v) is neurona.Tensor and not v.requires_grad for v in sd.values())
    sd["head.weight"][...] = 123.0
    assert np.all(net.head.weight.array == 123.0)
    with neurona.no_grad():
        net.bn.running_mean.add_(1.0)
    assert np.array_equal(sd["bn.running_mean"].cpu().numpy(), net.bn.running_mean.cpu().numpy())
    snapshot = {k: v.clone() for k, v in net.state_dict().items()}  # the way to keep values
    sd["head.bias"].fill_(-1.0)
    assert not np.any(snapshot["head.bias"].cpu().numpy() == -1.0)
    assert net.state_dict(keep_vars=True)["head.weight"] is net.head.weight


def test_state_dict_round_trip_reproduces_outputs():
    neurona.manual_seed(0)
    a, b = Net(), Net()
    x = neurona.randn(5, 3)
    a.train()
    a(x)  # moves the BatchNorm running statistics
    a.eval()
    b.eval()
    weight_array = b.head.weight.array
    res = b.load_state_dict(a.state_dict())
    assert res.missing_keys == [] and res.unexpected_keys == []
    np.testing.assert_array_equal(a(x).array, b(x).array)
    assert b.head.weight.array is weight_array  # copied in place: optimizers keep valid references
    assert b.bn.num_batches_tracked.item() == 1


def test_load_state_dict_converts_dtype():
    lin = nn.Linear(2, 2)
    sd = {"weight": np.ones((2, 2), np.float64), "bias": [0.5, 0.5]}
    lin.load_state_dict(sd)
    assert lin.weight.dtype == np.float32 and lin.bias.dtype == np.float32
    np.testing.assert_array_equal(lin.weight.array, np.ones((2, 2)))
    lin.load_state_dict({"weight": neurona.zeros(2, 2), "bias": neurona.zeros(2)})
    assert lin.weight.array.sum() == 0


def _snapshot(m):
    return {k: v.cpu().numpy().copy() for k, v in m.state_dict().items()}


def _assert_unchanged(m, snap):
    now = m.state_dict()
    assert list(now) == list(snap)
    for k in snap:
        np.testing.assert_array_equal(now[k], snap[k])


@pytest.mark.parametrize("edit, message", [
    (lambda sd: sd.pop("head.bias"), 'missing key\\(s\\) in state_dict: "head.bias"'),
    (lambda sd: sd.__setitem__("head.extra", np.zeros(1)), 'unexpected key\\(s\\) in state_dict: "head.extra"'),
    (lambda sd: sd.__setitem__("head.weight", np.zeros((3, 4))),
     'size mismatch for "head.weight": copying a value of shape \\(3, 4\\), the parameter in the current model '
     'has shape \\(2, 4\\)'),
    (lambda sd: sd.__setitem__("bn.running_mean", np.array(["a"] * 4)), '"bn.running_mean" has dtype'),
])
def test_load_state_dict_errors_name_the_key_and_change_nothing(edit, message):
    src, dst = Net(), Net()
    sd = src.state_dict()
    for k in sd:  # every other value would load: the failure must not apply them
        sd[k] = sd[k] + 1
    edit(sd)
    snap = _snapshot(dst)
    with pytest.raises(RuntimeError, match=message):
        dst.load_state_dict(sd)
    _assert_unchanged(dst, snap)


def test_load_state_dict_reports_every_problem():
    dst = Net()
    sd = dst.state_dict()
    sd.pop("bn.bias")
    sd["x"] = np.zeros(1)
    sd["head.bias"] = np.zeros(5)
    with pytest.raises(RuntimeError) as e:
        dst.load_state_dict(sd)
    msg = str(e.value)
    assert '"bn.bias"' in msg and '"x"' in msg and '"head.bias"' in msg and "Net" in msg


def test_load_state_dict_non_strict_returns_the_keys():
    dst = Net()
    sd = Net().state_dict()
    sd.pop("head.bias")
    sd["extra"] = np.zeros(2)
    res = dst.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["head.bias"] and res.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(dst.head.weight.array, sd["head.weight"])
    with pytest.raises(RuntimeError, match="size mismatch"):  # shapes are checked even when not strict
        dst.load_state_dict({"head.weight": np.zeros((1, 1))}, strict=False)


# --- modes, gradients, freezing -------------------------------------------------------


def test_train_eval_propagate():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.train(False)
    assert not net.bn.training


def test_zero_grad():
    net = Net()
    net(neurona.randn(4, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.array.any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_freezing_stops_gradients_and_shows_in_counts_and_repr():
    net = Net()
    net.block.requires_grad_(False)
    net(neurona.randn(4, 3)).sum().backward()
    assert all(p.grad is None for p in net.block.parameters())
    assert all(p.grad is not None for p in net.head.parameters())
    frozen = net.block.num_parameters()
    assert frozen == 4 + 16
    assert net.num_parameters(trainable_only=True) == net.num_parameters() - frozen
    text = repr(net)
    assert f"non-trainable: {frozen}" in text and f"{frozen} frozen" in text
    net.requires_grad_()
    assert net.num_parameters(trainable_only=True) == net.num_parameters()


def test_apply_visits_children_first():
    net = Net()
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "Block", "BatchNorm1d", "Linear", "Net"]


def test_apply_for_custom_initialization():
    net = Net()

    def init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)

    net.apply(init_weights)
    assert not net.head.weight.array.any() and not net.block.fc.weight.array.any()


def test_forward_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    h = lin.register_forward_hook(lambda m, inp, out: calls.append(out.shape) or out * 0)
    pre = lin.register_forward_pre_hook(lambda m, inp: (inp[0] * 2,))
    y = lin(neurona.ones(3, 2))
    assert calls == [(3, 2)] and not y.array.any()
    h.remove()
    pre.remove()
    assert lin(neurona.ones(3, 2)).array.any() and len(calls) == 1


def test_to_dtype_casts_float_parameters_and_buffers_only():
    net = Net()
    net(neurona.randn(4, 3)).sum().backward()
    assert net.double() is net
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in net.parameters())
    assert net.bn.running_mean.dtype == np.float64
    assert net.bn.num_batches_tracked.dtype == np.int64
    y = net(neurona.randn(4, 3, dtype=neurona.float64))
    assert y.dtype == np.float64
    net.to(neurona.float32)
    assert all(p.dtype == np.float32 for p in net.parameters())
    assert net.to("cpu") is net
    with pytest.raises(TypeError, match="floating dtype"):
        net.to(np.int32)


def test_deepcopy_is_independent():
    net = Net()
    twin = copy.deepcopy(net)
    assert type(twin.head.weight) is nn.Parameter
    twin.head.weight.array[...] = 0
    assert net.head.weight.array.any()
    x = neurona.randn(4, 3)
    net.eval()
    twin.eval()
    twin.load_state_dict(net.state_dict())
    np.testing.assert_array_equal(net(x).array, twin(x).array)


# --- repr ------------------------------------------------------------------------


def test_repr_shows_structure_and_counts():
    model = nn.Sequential(nn.Linear(784, 128), nn.Dropout(0.2), nn.Linear(128, 10))
    text = repr(model)
    assert "(0): Linear(in_features=784, out_features=128, bias=True)  [100,480 params]" in text
    assert "(1): Dropout(p=0.2)\n" in text
    assert "[1,290 params]" in text
    assert text.splitlines()[-1] == "Total parameters: 101,770 (trainable: 101,770, non-trainable: 0)"
    assert repr(nn.Linear(3, 2)) == "Linear(in_features=3, out_features=2, bias=True)  [8 params]"
    assert model.num_parameters() == 101770


def test_nested_repr_indents():
    net = Net()
    lines = repr(net).splitlines()
    assert lines[0] == "Net("
    assert lines[1] == "  (block): Block(  [20 params]"
    assert lines[2].startswith("    (fc): Linear(in_features=3, out_features=4")


# --- containers ------------------------------------------------------------------------


def test_sequential_indexing_slicing_and_editing():
    a, b, c = nn.Linear(2, 3), nn.Identity(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and seq[0] is a and seq[-1] is c and list(seq) == [a, b, c]
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and list(head) == [a, b]
    assert seq[1:]._modules.keys() == {"1", "2"}
    x = neurona.randn(4, 2)
    np.testing.assert_allclose(seq(x).array, c(a(x)).array)
    seq.append(nn.Identity())
    assert len(seq) == 4
    seq.insert(1, nn.Identity())
    assert len(seq) == 5 and isinstance(seq[1], nn.Identity) and seq[0] is a
    del seq[1]
    assert len(seq) == 4
    seq[3] = nn.Linear(1, 1)
    assert isinstance(seq[3], nn.Linear)
    with pytest.raises(IndexError, match="out of range"):
        seq[10]
    with pytest.raises(TypeError, match="not a Module"):
        nn.Sequential(nn.Identity(), "relu")
    assert len(seq + nn.Sequential(nn.Identity())) == 5


def test_sequential_from_ordered_dict():
    seq = nn.Sequential(OrderedDict([("hidden", nn.Linear(2, 3)), ("out", nn.Linear(3, 1))]))
    assert [n for n, _ in seq.named_parameters()] == ["hidden.weight", "hidden.bias", "out.weight", "out.bias"]
    assert seq.hidden is seq[0]
    assert seq(neurona.randn(5, 2)).shape == (5, 1)


def test_module_list():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    layers.append(nn.Linear(2, 2))
    layers += [nn.Identity()]
    assert len(layers) == 5
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    first = layers[0]
    del layers[0]
    assert layers[0] is not first and [n for n, _ in layers.named_children()] == ["0", "1", "2", "3"]
    layers.insert(0, first)
    assert layers[0] is first
    x = neurona.ones(1, 2)
    for layer in layers:
        x = layer(x)
    assert x.shape == (1, 2)
    with pytest.raises(NotImplementedError, match="iterate"):
        layers(x)


def test_module_dict():
    heads = nn.ModuleDict({"a": nn.Linear(2, 1), "b": nn.Linear(2, 3)})
    assert list(heads) == ["a", "b"] and "a" in heads and len(heads) == 2
    assert [n for n, _ in heads.named_parameters()][:2] == ["a.weight", "a.bias"]
    heads["c"] = nn.Identity()
    assert list(heads.keys()) == ["a", "b", "c"]
    assert heads.pop("c").__class__ is nn.Identity
    with pytest.raises(KeyError, match="keys are"):
        heads["zzz"]
    heads.update([("d", nn.Identity())])
    assert len(heads) == 3


def test_identity_flatten_unflatten():
    x = neurona.randn(2, 3, 4, 5, requires_grad=True)
    assert nn.Identity(54, unused=1)(x) is x
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert nn.Flatten(2)(x).shape == (2, 3, 20)
    y = nn.Unflatten(1, (1, 28, 28))(neurona.randn(4, 784))
    assert y.shape == (4, 1, 28, 28)
    assert nn.Unflatten(-1, (2, -1))(neurona.randn(3, 8)).shape == (3, 2, 4)
    with pytest.raises(ValueError, match="cannot split dimension 1 of size 10"):
        nn.Unflatten(1, (3, 3))(neurona.randn(2, 10))
    nn.Flatten()(x).sum().backward()
    assert x.grad.shape == x.shape
    assert "start_dim=1, end_dim=-1" in repr(nn.Flatten())
