"""Every optimizer and option follows PyTorch 2.13's trajectory for 20 steps on a small MLP."""
from __future__ import annotations

import numpy as np
import pytest

from .common import NAMES, STEPS, configs, load_fixture, make_optimizer, make_params, mlp_grads, train

FX = load_fixture()
CONFIGS = configs(FX)


def test_fixture_covers_every_optimizer():
    recorded = {cfg["optim"] for cfg in CONFIGS.values()}
    assert recorded == {"SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "Adamax", "NAdam"}
    assert any(cfg["groups"] for cfg in CONFIGS.values())


def test_manual_gradients_match_finite_differences():
    p = {k: FX[f"init/{k}"].copy() for k in NAMES}
    g = mlp_grads(p, FX["x"], FX["y"])

    def loss(q):
        h = np.tanh(FX["x"] @ q["w1"].T + q["b1"])
        return np.mean((h @ q["w2"].T + q["b2"] - FX["y"]) ** 2)

    for k in NAMES:
        flat = p[k].reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + 1e-6
            up = loss(p)
            flat[i] = old - 1e-6
            down = loss(p)
            flat[i] = old
            assert abs((up - down) / 2e-6 - g[k].reshape(-1)[i]) < 1e-8


@pytest.mark.parametrize("key", sorted(CONFIGS))
def test_trajectory_matches_pytorch(key):
    params = make_params(FX)
    opt = make_optimizer(CONFIGS[key], params)
    for t in range(1, STEPS + 1):
        train(opt, params, FX, 1)
        for k in NAMES:
            np.testing.assert_allclose(params[k].array, FX[f"{key}/step{t:02d}/{k}"], rtol=1e-5, atol=1e-9,
                                       err_msg=f"{key}: {k} after step {t}")


@pytest.mark.parametrize("key", sorted(CONFIGS))
def test_parameters_really_move(key):
    # guards the fixture itself: a trajectory that does not move would test nothing
    for k in NAMES:
        assert not np.allclose(FX[f"{key}/step{STEPS:02d}/{k}"], FX[f"init/{k}"], rtol=0, atol=1e-4)
