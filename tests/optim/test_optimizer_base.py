"""The Optimizer contract: groups, skipped parameters, in-place updates, dtypes, checkpoints, errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

import neurona
import neurona.optim as optim
from neurona.nn import Parameter

from .common import NAMES, configs, load_fixture, make_optimizer, make_params, set_grads, train

FX = load_fixture()
CONFIGS = configs(FX)
ALL = ["SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "Adamax", "NAdam"]
# one configuration per optimizer that exercises its optional state (momentum buffers, amsgrad, centered...)
RICH = {
    "SGD": {"lr": 0.05, "momentum": 0.9, "nesterov": True},
    "Adagrad": {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1},
    "RMSprop": {"lr": 0.01, "momentum": 0.5, "centered": True},
    "Adadelta": {"lr": 1.0, "weight_decay": 0.01},
    "Adam": {"lr": 0.01, "amsgrad": True, "weight_decay": 0.01},
    "AdamW": {"lr": 0.01},
    "Adamax": {"lr": 0.01},
    "NAdam": {"lr": 0.01, "weight_decay": 0.01},
}


def param(values, dtype=np.float64) -> Parameter:
    return Parameter(neurona.from_numpy(np.asarray(values, dtype=dtype)))


def grad_of(values, dtype=np.float64):
    return neurona.from_numpy(np.asarray(values, dtype=dtype))


def rich_optimizer(name, params):
    return getattr(optim, name)([params[k] for k in NAMES], **RICH[name])


def test_exports():
    for name in ALL + ["Optimizer"]:
        assert name in optim.__all__ and hasattr(optim, name)
    for name in ("LRScheduler", "StepLR", "ExponentialLR", "CosineAnnealingLR", "ReduceLROnPlateau"):
        assert hasattr(optim.lr_scheduler, name)


@pytest.mark.parametrize("name", ALL)
def test_default_hyperparameters_match_pytorch(name):
    expected = {
        "SGD": {"lr": 1e-3, "momentum": 0, "dampening": 0, "weight_decay": 0, "nesterov": False},
        "Adagrad": {"lr": 1e-2, "lr_decay": 0, "weight_decay": 0, "initial_accumulator_value": 0, "eps": 1e-10},
        "RMSprop": {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0, "momentum": 0, "centered": False},
        "Adadelta": {"lr": 1.0, "rho": 0.9, "eps": 1e-6, "weight_decay": 0},
        "Adam": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0, "amsgrad": False},
        "AdamW": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2, "amsgrad": False},
        "Adamax": {"lr": 2e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0},
        "NAdam": {"lr": 2e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0, "momentum_decay": 4e-3,
                  "decoupled_weight_decay": False},
    }[name]
    opt = getattr(optim, name)([param([1.0])])
    for k, v in expected.items():
        assert opt.defaults[k] == v and opt.param_groups[0][k] == v, k
    assert opt.defaults["maximize"] is False


@pytest.mark.parametrize("name", ALL)
def test_parameter_without_grad_is_untouched(name):
    params = make_params(FX)
    opt = rich_optimizer(name, params)
    before = {k: p.array.copy() for k, p in params.items()}
    for _ in range(3):
        opt.zero_grad()
        set_grads(params, FX["x"], FX["y"])
        params["b2"].grad = None
        opt.step()
    np.testing.assert_array_equal(params["b2"].array, before["b2"])
    assert not np.array_equal(params["w1"].array, before["w1"])
    if name != "Adagrad":  # Adagrad creates its state up front, as PyTorch does
        assert params["b2"] not in opt.state


@pytest.mark.parametrize("name", ALL)
def test_updates_in_place_and_never_write_the_gradient(name):
    params = make_params(FX)
    arrays = {k: p.array for k, p in params.items()}
    opt = rich_optimizer(name, params)
    for _ in range(3):
        set_grads(params, FX["x"], FX["y"])
        grads = {k: p.grad.array for k, p in params.items()}
        copies = {k: g.copy() for k, g in grads.items()}
        for g in grads.values():
            g.flags.writeable = False  # any write into a gradient raises
        opt.step()
        for k, p in params.items():
            assert p.array is arrays[k]
            assert p.grad.array is grads[k]
            np.testing.assert_array_equal(grads[k], copies[k])


@pytest.mark.parametrize("name", ALL)
def test_float32_stays_float32(name):
    p32, p64 = make_params(FX, np.float32), make_params(FX)
    opt32, opt64 = rich_optimizer(name, p32), rich_optimizer(name, p64)
    train(opt32, p32, FX, 10)
    train(opt64, p64, FX, 10)
    for k in NAMES:
        assert p32[k].array.dtype == np.float32
        np.testing.assert_allclose(p32[k].array, p64[k].array, rtol=1e-3, atol=1e-4)
    for s in opt32.state.values():
        for key, v in s.items():
            if isinstance(v, np.ndarray):
                assert v.dtype == np.float32, key
            else:
                assert isinstance(v, (int, float)), key


def _json_npz_round_trip(state_dict, path):
    """Save a state dict as JSON + arrays in an .npz, without pickle, and read it back."""
    arrays = {}

    def encode(v):
        if isinstance(v, np.ndarray):
            arrays[f"a{len(arrays)}"] = v
            return {"__array__": f"a{len(arrays) - 1}"}
        if isinstance(v, dict):
            return {str(k): encode(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [encode(x) for x in v]
        assert v is None or isinstance(v, (bool, int, float, str)), type(v)
        return v

    meta = json.dumps(encode(state_dict))
    np.savez(path, __meta__=np.array(meta), **arrays)
    with np.load(path, allow_pickle=False) as f:
        loaded = {k: f[k] for k in f.files}

    def decode(v):
        if isinstance(v, dict):
            return loaded[v["__array__"]] if "__array__" in v else {k: decode(x) for k, x in v.items()}
        if isinstance(v, list):
            return [decode(x) for x in v]
        return v

    return decode(json.loads(str(loaded["__meta__"])))


@pytest.mark.parametrize("key", sorted(CONFIGS))
def test_resume_from_state_dict_equals_uninterrupted_run(key, tmp_path):
    cfg = CONFIGS[key]
    straight = make_params(FX)
    train(make_optimizer(cfg, straight), straight, FX, 12)

    first = make_params(FX)
    opt = make_optimizer(cfg, first)
    train(opt, first, FX, 5)
    saved = _json_npz_round_trip(opt.state_dict(), tmp_path / "opt.npz")
    weights = {k: p.array.copy() for k, p in first.items()}
    train(opt, first, FX, 3)  # training on after the snapshot must not change what was saved

    resumed = {k: param(w) for k, w in weights.items()}
    opt2 = make_optimizer(cfg, resumed)
    opt2.load_state_dict(saved)
    train(opt2, resumed, FX, 7)
    for k in NAMES:
        np.testing.assert_array_equal(resumed[k].array, straight[k].array, err_msg=f"{key}: {k}")


def test_state_dict_layout_follows_pytorch():
    params = make_params(FX)
    opt = optim.Adam([{"params": [params["w1"], params["b1"]]},
                      {"params": [params["w2"], params["b2"]], "lr": 0.1}], betas=(0.8, 0.9))
    train(opt, params, FX, 2)
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2, 3]]
    assert sd["param_groups"][1]["lr"] == 0.1 and sd["param_groups"][0]["betas"] == (0.8, 0.9)
    assert set(sd["state"]) == {0, 1, 2, 3}
    assert set(sd["state"][2]) == {"step", "exp_avg", "exp_avg_sq"}
    assert sd["state"][2]["step"] == 2
    assert sd["state"][2]["exp_avg"].shape == (3, 5)
    assert sd["state"][2]["exp_avg"] is not opt.state[params["w2"]]["exp_avg"]


def test_load_state_dict_restores_hyperparameters_and_casts_dtype():
    p64 = make_params(FX)
    opt = optim.SGD([p64[k] for k in NAMES], lr=0.3, momentum=0.9)
    train(opt, p64, FX, 2)
    p32 = make_params(FX, np.float32)
    opt32 = optim.SGD([p32[k] for k in NAMES], lr=0.01)
    opt32.load_state_dict(opt.state_dict())
    assert opt32.param_groups[0]["lr"] == 0.3 and opt32.param_groups[0]["momentum"] == 0.9
    assert opt32.param_groups[0]["params"][0] is p32["w1"]
    assert opt32.state[p32["w1"]]["momentum_buffer"].dtype == np.float32


def test_load_state_dict_errors():
    params = make_params(FX)
    opt = optim.Adam([params[k] for k in NAMES])
    train(opt, params, FX, 1)
    sd = opt.state_dict()
    other = optim.Adam([params["w1"], params["b1"]])
    with pytest.raises(ValueError, match="parameter group 0 has 2 parameters"):
        other.load_state_dict(sd)
    with pytest.raises(ValueError, match="parameter groups"):
        optim.Adam([{"params": [params["w1"]]}, {"params": [params["b1"]]}]).load_state_dict(sd)
    swapped = optim.Adam([params["b1"], params["w1"], params["w2"], params["b2"]])
    with pytest.raises(ValueError, match=r"shape \(5, 4\), the parameter has shape \(5,\)"):
        swapped.load_state_dict(sd)
    with pytest.raises(ValueError, match="state_dict"):
        opt.load_state_dict({"state": {}})


def test_param_groups_and_add_param_group():
    a, b, c = param([1.0, 2.0]), param([3.0]), param([4.0, 5.0, 6.0])
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert all(g["momentum"] == 0.9 for g in opt.param_groups)
    opt.add_param_group({"params": [c], "lr": 0.01, "momentum": 0.0})
    for p in (a, b, c):
        p.grad = grad_of(np.ones_like(p.array))
    opt.step()
    np.testing.assert_allclose(a.array, [0.9, 1.9])
    np.testing.assert_allclose(b.array, [2.5])
    np.testing.assert_allclose(c.array, [3.99, 4.99, 5.99])
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match="invalid lr"):
        opt.add_param_group({"params": [param([0.0])], "lr": -1.0})


def test_named_parameters_are_accepted():
    a, b = param([1.0]), param([2.0])
    opt = optim.Adam([("a", a), ("b", b)])
    assert opt.param_groups[0]["params"] == [a, b]
    assert opt.param_groups[0]["param_names"] == ["a", "b"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["a", "b"]


def test_zero_grad():
    a, b = param([1.0, 2.0]), param([3.0])
    opt = optim.SGD([a, b], lr=0.1)
    a.grad = grad_of([1.0, 1.0])
    shared = a.grad.array
    opt.zero_grad(set_to_none=False)
    assert b.grad is None
    np.testing.assert_array_equal(a.grad.array, [0.0, 0.0])
    np.testing.assert_array_equal(shared, [1.0, 1.0])  # a fresh array: one the engine may share is left alone
    opt.zero_grad()
    assert a.grad is None


def test_closure_and_maximize():
    a = param([1.0, -2.0])
    opt = optim.SGD([a], lr=0.1, momentum=0.5, maximize=True)

    def closure():
        a.grad = grad_of(2 * a.array)  # ∇(a·a): maximize climbs it
        return float(a.array @ a.array)

    assert opt.step(closure) == 5.0
    np.testing.assert_allclose(a.array, [1.2, -2.4])


def test_engine_gradients_drive_the_update():
    w = param([1.0, -2.0])
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    (w * w).sum().backward()
    opt.step()
    opt.zero_grad()
    np.testing.assert_allclose(w.array, [0.8, -1.6])
    assert w.grad is None


def test_reference_updates_reuse_workspace_scratch():
    """The reference update_one takes its work arrays from the workspace and hands them back."""
    from neurona import runtime, workspace
    w = param(np.ones((200, 100)), np.float32)  # 80 kB: large enough for the workspace to keep
    opt = optim.Adam([w])
    with runtime.use_kernels("reference"):
        workspace.clear()
        for _ in range(3):
            w.grad = neurona.from_numpy(np.full((200, 100), 0.5, np.float32))
            opt.step()
            assert workspace.nbytes() == 2 * w.array.nbytes  # both scratch arrays came back, no more
        kept = [a for stack in workspace._store.free.values() for a in stack]
        w.grad = neurona.from_numpy(np.full((200, 100), 0.5, np.float32))
        opt.step()
        assert sorted(map(id, kept)) == sorted(id(a) for stack in workspace._store.free.values() for a in stack)


def test_repr_lists_the_groups():
    text = repr(optim.Adam([param([1.0])], lr=0.5))
    assert text.startswith("Adam (") and "Parameter Group 0" in text and "lr: 0.5" in text


def test_bad_params_raise_clear_errors():
    a = param([1.0])
    with pytest.raises(TypeError, match="wrap it in a list"):
        optim.SGD(a)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([])
    with pytest.raises(TypeError, match="set"):
        optim.SGD({a})
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([a, a])
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [a]}, {"params": [a]}])
    with pytest.raises(TypeError, match="floating-point"):
        optim.SGD([Parameter(neurona.from_numpy(np.array([1.0]))), neurona.tensor([1, 2])])
    with pytest.raises(TypeError, match="can only optimize parameters"):
        optim.SGD([np.zeros(3)])
    with pytest.raises(TypeError, match="model.parameters"):
        optim.SGD(3)
    with pytest.raises(ValueError, match="'params'"):
        optim.SGD([{"lr": 0.1}])
    x = param([1.0])
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([x * 2])
    with pytest.raises(RuntimeError, match=r"assign a gradient of shape \(2,\) to a tensor of shape \(1,\)"):
        a.grad = grad_of([1.0, 2.0])  # refused where it is assigned, as in PyTorch
    a.grad = grad_of([1.0])
    a.grad.array = np.ones(2)  # a gradient array replaced behind the tensor's back is still caught by step()
    with pytest.raises(ValueError, match=r"gradient of shape \(2,\) for a parameter of shape \(1,\)"):
        optim.SGD([a]).step()


@pytest.mark.parametrize("name, kwargs, match", [
    ("SGD", {"lr": -0.1}, "invalid lr"),
    ("SGD", {"momentum": -0.5}, "invalid momentum"),
    ("SGD", {"weight_decay": -1e-4}, "invalid weight_decay"),
    ("SGD", {"nesterov": True}, "Nesterov momentum requires"),
    ("SGD", {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "Nesterov momentum requires"),
    ("Adam", {"betas": (1.0, 0.999)}, "beta parameter at index 0"),
    ("Adam", {"betas": (0.9, -0.1)}, "beta parameter at index 1"),
    ("Adam", {"betas": (0.9,)}, "pair"),
    ("Adam", {"eps": -1e-8}, "invalid eps"),
    ("Adam", {"lr": float("nan")}, "invalid lr"),
    ("AdamW", {"weight_decay": -0.01}, "invalid weight_decay"),
    ("Adamax", {"betas": (0.9, 1.5)}, "beta parameter at index 1"),
    ("NAdam", {"momentum_decay": -1.0}, "invalid momentum_decay"),
    ("RMSprop", {"alpha": -0.9}, "invalid alpha"),
    ("RMSprop", {"momentum": -0.9}, "invalid momentum"),
    ("Adagrad", {"lr_decay": -0.1}, "invalid lr_decay"),
    ("Adagrad", {"initial_accumulator_value": -1.0}, "invalid initial_accumulator_value"),
    ("Adadelta", {"rho": 1.5}, "invalid rho"),
])
def test_bad_hyperparameters_raise(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        getattr(optim, name)([param([1.0])], **kwargs)
