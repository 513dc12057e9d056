"""Learning-rate schedules replay PyTorch 2.13's recorded sequences and resume from their state dicts."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import neurona
import neurona.optim as optim
from neurona.optim import lr_scheduler
from neurona.nn import Parameter

from .common import load_fixture

FX = load_fixture()
SCHEDULES = {k[len("sched/"): -len("/config")]: json.loads(str(FX[k])) for k in sorted(FX)
             if k.startswith("sched/") and k.endswith("/config")}


def make_optimizer(lrs):
    return optim.SGD([{"params": [Parameter(neurona.from_numpy(np.zeros(1)))], "lr": lr} for lr in lrs])


def build(cfg, opt):
    return getattr(lr_scheduler, cfg["sched"])(opt, **cfg["kwargs"])


def advance(sched, opt, cfg, start, stop):
    out = []
    for i in range(start, stop):
        opt.step()
        if cfg["sched"] == "ReduceLROnPlateau":
            sched.step(cfg["metrics"][i])
        else:
            sched.step()
        out.append(sched.get_last_lr())
    return out


def test_fixture_covers_every_scheduler():
    assert {c["sched"] for c in SCHEDULES.values()} == {"StepLR", "ExponentialLR", "CosineAnnealingLR",
                                                         "ReduceLROnPlateau"}


@pytest.mark.parametrize("key", sorted(SCHEDULES))
def test_sequence_matches_pytorch(key):
    cfg = SCHEDULES[key]
    expected = FX[f"sched/{key}/lrs"]
    opt = make_optimizer(cfg["lrs"])
    sched = build(cfg, opt)
    lrs = [sched.get_last_lr()] + advance(sched, opt, cfg, 0, len(expected) - 1)
    np.testing.assert_allclose(np.array(lrs), expected, rtol=1e-12, atol=1e-15)
    assert [g["lr"] for g in opt.param_groups] == lrs[-1]


@pytest.mark.parametrize("key", sorted(SCHEDULES))
def test_resume_from_state_dict(key):
    cfg = SCHEDULES[key]
    n = len(FX[f"sched/{key}/lrs"]) - 1
    opt = make_optimizer(cfg["lrs"])
    sched = build(cfg, opt)
    advance(sched, opt, cfg, 0, n // 2)
    saved_opt = opt.state_dict()
    saved = json.loads(json.dumps(sched.state_dict()))  # plain JSON: numbers, strings, lists
    expected = advance(sched, opt, cfg, n // 2, n)

    opt2 = make_optimizer(cfg["lrs"])
    sched2 = build(cfg, opt2)  # the scheduler first, then the states (as PyTorch advises)
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved)
    np.testing.assert_allclose(advance(sched2, opt2, cfg, n // 2, n), expected, rtol=1e-12)


def test_initial_lr_and_base_lrs():
    opt = make_optimizer([0.1, 0.02])
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    assert sched.base_lrs == [0.1, 0.02]
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.02]
    assert sched.last_epoch == 0 and sched.get_last_lr() == [0.1, 0.02]
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(make_optimizer([0.1]), step_size=2, last_epoch=3)


def test_scheduler_drives_the_optimizer_step():
    p = Parameter(neurona.from_numpy(np.array([0.0])))
    opt = optim.SGD([p], lr=1.0)
    sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        p.grad = neurona.from_numpy(np.array([-1.0]))
        opt.step()
        sched.step()
    np.testing.assert_allclose(p.array, [1.0 + 0.5 + 0.25])


def test_warns_when_stepped_before_the_optimizer():
    sched = lr_scheduler.StepLR(make_optimizer([0.1]), step_size=2)
    with pytest.warns(UserWarning, match="before optimizer.step"):
        sched.step()
    opt = make_optimizer([0.1])
    sched = lr_scheduler.StepLR(opt, step_size=2)
    opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched.step()


def test_plateau_min_lr_per_group_and_errors():
    opt = make_optimizer([0.1, 0.02])
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5, min_lr=[0.03, 0.0])
    sched.step(1.0)
    sched.step(1.0)
    assert sched.get_last_lr() == [0.05, 0.01]
    sched.step(1.0)
    assert sched.get_last_lr() == [0.03, 0.005]
    sched.step(np.float64(2.0))  # NumPy scalars (and 0-d arrays) are accepted as metrics
    with pytest.raises(ValueError, match="factor"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode"):
        lr_scheduler.ReduceLROnPlateau(opt, mode="up")
    with pytest.raises(ValueError, match="threshold_mode"):
        lr_scheduler.ReduceLROnPlateau(opt, threshold_mode="pct")
    with pytest.raises(ValueError, match="expected 2 min_lrs"):
        lr_scheduler.ReduceLROnPlateau(opt, min_lr=[0.1])


def test_scheduler_errors():
    with pytest.raises(TypeError, match="expected an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=3)
    with pytest.raises(ValueError, match="step_size"):
        lr_scheduler.StepLR(make_optimizer([0.1]), step_size=0)
    with pytest.raises(ValueError, match="T_max"):
        lr_scheduler.CosineAnnealingLR(make_optimizer([0.1]), T_max=0)
