"""The learning-rate range test."""
import numpy as np
import pytest

import neurona
from neurona import nn, optim
from neurona.data import DataLoader, make_spiral
from neurona.train import lr_find


def _setup(seed=0):
    X, y = make_spiral(300, noise=0.05, seed=seed)
    neurona.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 2))
    return model, (X, y)


def test_rates_grow_exponentially_and_suggestion_is_inside_the_range():
    model, (X, y) = _setup()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loader = DataLoader((X, y), batch_size=32, shuffle=True, seed=0)
    r = lr_find(model, nn.CrossEntropyLoss(), opt, loader, start_lr=1e-4, end_lr=1000.0, num_iter=60)
    n = len(r.lrs)
    assert 5 < n <= 60 and len(r.losses) == n == len(r.raw_losses)
    np.testing.assert_allclose(r.lrs, 1e-4 * (1e7) ** (np.arange(n) / 59), rtol=1e-9)
    assert r.suggestion is not None and 1e-3 <= r.suggestion <= 1.0
    assert r.diverged and n < 60  # rates in the hundreds blow the loss up before the end
    assert "suggestion=" in repr(r)


def test_model_optimizer_and_generators_are_restored():
    model, (X, y) = _setup()
    opt = optim.Adam(model.parameters(), lr=3e-3)
    loader = DataLoader((X, y), batch_size=16, shuffle=True, seed=1)
    # one real step so that the optimizer has state to restore
    xb, yb = next(iter(loader))
    nn.CrossEntropyLoss()(model(xb), yb).backward()
    opt.step()
    weights = {k: v.cpu().numpy().copy() for k, v in model.state_dict().items()}
    opt_state = opt.state_dict()
    loader_state = loader.generator.bit_generator.state
    global_state = neurona.get_rng_state()
    model.eval()
    lr_find(model, nn.CrossEntropyLoss(), opt, loader, num_iter=30)
    for k, v in weights.items():
        np.testing.assert_array_equal(model.state_dict()[k], v)
    after = opt.state_dict()
    assert after["param_groups"][0]["lr"] == 3e-3
    for i, s in opt_state["state"].items():
        for key, val in s.items():
            np.testing.assert_array_equal(np.asarray(after["state"][i][key]), np.asarray(val))
    assert loader.generator.bit_generator.state == loader_state
    assert neurona.get_rng_state() == global_state
    assert not model.training  # its mode is back too


def test_arrays_are_accepted_and_a_short_loader_is_cycled():
    model, (X, y) = _setup()
    opt = optim.SGD(model.parameters(), lr=0.1)
    r = lr_find(model, nn.CrossEntropyLoss(), opt, (X[:64], y[:64]), start_lr=1e-3, end_lr=1e-1, num_iter=20,
                batch_size=32)
    assert len(r.lrs) == 20 and not r.diverged  # 2 batches per pass, walked 10 times


def test_argument_checks():
    model, data = _setup()
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="start_lr < end_lr"):
        lr_find(model, nn.CrossEntropyLoss(), opt, data, start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match="num_iter"):
        lr_find(model, nn.CrossEntropyLoss(), opt, data, num_iter=1)


def test_plot_is_written(tmp_path):
    pytest.importorskip("matplotlib")
    model, data = _setup()
    r = lr_find(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), data, num_iter=30)
    r.plot(tmp_path / "lr.png")
    assert (tmp_path / "lr.png").stat().st_size > 1000
