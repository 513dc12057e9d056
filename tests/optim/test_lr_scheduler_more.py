"""The schedules added for PyTorch code (MultiStepLR, LambdaLR, OneCycleLR, SequentialLR, ...) replay PyTorch 2.13.

The cases in ``tests/fixtures/lr_scheduler_cases.py`` are PyTorch code, run
here with neurona; the fixture holds the sequences PyTorch produced.
"""
from __future__ import annotations

import json
import math
import os
import warnings

import numpy as np
import pytest

import neurona
from neurona.optim import lr_scheduler
from tests.fixtures.lr_scheduler_cases import CASES, momentum_of, run

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "lr_schedulers_reference.npz")


@pytest.fixture(scope="module")
def recorded():
    with np.load(FIXTURE, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


@pytest.mark.parametrize("name", sorted(CASES))
def test_sequence_matches_pytorch(name, recorded):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the optimizer steps first: nothing to warn about
        lrs, moms, sched, opt = run(neurona, name)
    np.testing.assert_allclose(np.array(lrs), recorded[f"{name}|lr"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(np.array(moms), recorded[f"{name}|momentum"], rtol=1e-12, atol=1e-15)
    assert sched.get_last_lr() == [g["lr"] for g in opt.param_groups]


@pytest.mark.parametrize("name", sorted(CASES))
def test_resume_from_a_json_state_dict(name, recorded):
    """Build, load the optimizer's and the scheduler's states halfway, and finish the sequence as PyTorch did."""
    make_opt, build, steps = CASES[name]
    half = steps // 2
    opt = make_opt(neurona)
    sched = build(neurona, opt)
    for _ in range(half):
        opt.step()
        sched.step()
    saved_opt = opt.state_dict()
    saved = json.loads(json.dumps(sched.state_dict()))  # only numbers, strings, lists and dicts

    opt2 = make_opt(neurona)
    sched2 = build(neurona, opt2)
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved)
    lrs = []
    for _ in range(steps - half):
        opt2.step()
        sched2.step()
        lrs.append([g["lr"] for g in opt2.param_groups])
    np.testing.assert_allclose(np.array(lrs), recorded[f"{name}|lr"][half + 1:], rtol=1e-12, atol=1e-15)


def _opt(lr=0.1, **kw):
    return neurona.optim.SGD([neurona.nn.Parameter(neurona.zeros(2))], lr=lr, **kw)


def test_lambda_state_keeps_callable_objects_not_functions():
    class Warmup:
        def __init__(self):
            self.length = 4

        def __call__(self, e):
            return min(1.0, (e + 1) / self.length)

    w = Warmup()
    sched = lr_scheduler.LambdaLR(_opt(), [w])
    state = sched.state_dict()
    assert state["lr_lambdas"] == [{"length": 4}]
    w.length = 10
    sched.load_state_dict(state)
    assert w.length == 4
    assert lr_scheduler.LambdaLR(_opt(), lambda e: 1.0).state_dict()["lr_lambdas"] == [None]


def test_closed_form_step_with_epoch():
    opt = _opt()
    sched = lr_scheduler.MultiStepLR(opt, [2, 4], gamma=0.5)
    opt.step()
    sched.step(5)
    assert math.isclose(opt.param_groups[0]["lr"], 0.1 * 0.25)
    opt = _opt()
    warm = lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=4)
    opt.step()
    warm.step(2.5)  # a fractional epoch anneals within the epoch
    assert math.isclose(warm.get_last_lr()[0], 0.05 * (1 + math.cos(math.pi * 2.5 / 4)))


@pytest.mark.parametrize("make,match", [
    (lambda: lr_scheduler.OneCycleLR(_opt(), max_lr=1.0), "total_steps"),
    (lambda: lr_scheduler.OneCycleLR(_opt(), max_lr=1.0, total_steps=10, pct_start=2.0), "pct_start"),
    (lambda: lr_scheduler.OneCycleLR(neurona.optim.Adagrad([neurona.nn.Parameter(neurona.zeros(1))]), max_lr=1.0,
                                     total_steps=5), "cycle_momentum"),
    (lambda: lr_scheduler.LinearLR(_opt(), start_factor=0.0), "start_factor"),
    (lambda: lr_scheduler.ConstantLR(_opt(), factor=2.0), "factor"),
    (lambda: lr_scheduler.CosineAnnealingWarmRestarts(_opt(), T_0=0), "T_0"),
    (lambda: lr_scheduler.LambdaLR(_opt(), [lambda e: 1.0, lambda e: 1.0]), "one per parameter group"),
    (lambda: lr_scheduler.SequentialLR(_opt(), [lr_scheduler.ConstantLR(_opt())], milestones=[]), "another optimizer"),
])
def test_bad_arguments_are_named(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_one_cycle_refuses_to_step_past_the_end():
    opt = _opt(momentum=0.9)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        opt.step()
        sched.step()
    opt.step()
    with pytest.raises(ValueError, match="total_steps is 3"):
        sched.step()
    assert momentum_of(opt.param_groups[0]) > 0
