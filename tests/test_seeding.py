"""Seeding (neurona/creation.py): manual_seed reaches everything neurona draws; Generator; states."""
from __future__ import annotations

import numpy as np
import pytest

import neurona as nr
from neurona import nn


def _draw_everything():
    """Initialization, dropout, noise, shuffling and the random factories: all from the global generator."""
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))
    out = model(nr.ones(3, 4))
    w = nn.init.kaiming_uniform_(nr.empty(3, 3))
    batches = [xb.array.copy() for xb, _ in nr.data.DataLoader((np.arange(10.0)[:, None], np.arange(10)),
                                                              batch_size=4, shuffle=True)]
    return [p.array.copy() for p in model.parameters()] + [out.array, w.array, nr.randn(2).array,
                                                          nr.randperm(5).array, nr.randint(9, size=(3,)).array,
                                                          nr.empty(2).uniform_().array] + batches


def test_manual_seed_reaches_init_dropout_shuffling_and_factories():
    nr.manual_seed(42)
    a = _draw_everything()
    nr.manual_seed(42)
    b = _draw_everything()
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    nr.manual_seed(43)
    assert any(not np.array_equal(x, y) for x, y in zip(a, _draw_everything()))


def test_seed_and_initial_seed():
    nr.manual_seed(7)
    assert nr.initial_seed() == 7
    s = nr.seed()
    assert isinstance(s, int) and nr.initial_seed() == s
    a = nr.randn(3)
    nr.manual_seed(s)
    np.testing.assert_array_equal(nr.randn(3).array, a.array)
    nr.manual_seed(-1)  # negative seeds are taken as their 64-bit two's complement, as in PyTorch
    assert nr.initial_seed() == 2 ** 64 - 1
    with pytest.raises(TypeError, match="manual_seed: the seed must be an integer, got float"):
        nr.manual_seed(1.5)


def test_rng_state_round_trip_and_checks():
    nr.manual_seed(1)
    state = nr.get_rng_state()
    a = nr.rand(4)
    nr.set_rng_state(state)
    np.testing.assert_array_equal(nr.rand(4).array, a.array)
    with pytest.raises(ValueError, match="set_rng_state: expected a state returned by get_rng_state"):
        nr.set_rng_state({"bit_generator": "MT19937"})
    buffer = __import__("io").BytesIO()
    nr.save(state, buffer)  # a state is plain data: it goes through neurona.save
    buffer.seek(0)
    nr.set_rng_state(nr.load(buffer))
    np.testing.assert_array_equal(nr.rand(4).array, a.array)


def test_generator():
    g = nr.Generator()
    assert g.device == "cpu" and repr(g) == "<neurona.Generator on cpu>"
    assert g.manual_seed(3) is g and g.initial_seed() == 3
    a = nr.randn(4, generator=g)
    np.testing.assert_array_equal(a.array, np.random.default_rng(3).standard_normal(4).astype(np.float32))
    state = g.get_state()
    b = nr.rand(3, generator=g)
    g.set_state(state)
    np.testing.assert_array_equal(nr.rand(3, generator=g).array, b.array)
    s = g.seed()
    assert g.initial_seed() == s
    global_state = nr.get_rng_state()
    for draw in (lambda: nr.randn(2, generator=g), lambda: nr.rand(2, generator=g),
                 lambda: nr.randint(0, 5, (2,), generator=g), lambda: nr.randperm(4, generator=g),
                 lambda: nr.empty(2).normal_(generator=g), lambda: nr.rand_like(nr.ones(2), generator=g),
                 lambda: nn.init.normal_(nr.empty(2), generator=g),
                 lambda: nn.functional.dropout(nr.ones(4), 0.5, generator=g)):
        draw()
    assert nr.get_rng_state() == global_state  # the global generator was not touched
    if not nr.cuda.is_available():
        with pytest.raises(RuntimeError, match="device 'cuda' is not available"):
            nr.Generator(device="cuda")


def test_data_loader_takes_a_generator():
    data = (np.arange(8.0)[:, None], np.arange(8))
    order = lambda g: [int(y) for _, yb in nr.data.DataLoader(data, batch_size=8, shuffle=True, generator=g)  # noqa
                       for y in yb.array]
    assert order(nr.Generator().manual_seed(5)) == order(nr.Generator().manual_seed(5))
    assert sorted(order(nr.Generator().manual_seed(5))) == list(range(8))
