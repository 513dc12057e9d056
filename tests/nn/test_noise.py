"""Weight noise: perturbed weights in training forward passes only, gradients at the noisy point, clean updates."""
import numpy as np
import pytest

import neurona
from neurona import models, nn, optim
from neurona.nn.noise import WeightNoise, add_weight_noise
from neurona.train import fit


def _model(seed=0):
    neurona.manual_seed(seed)
    return models.MLP(3, [5], 2)


def test_training_forward_uses_noisy_weights_and_restores_them(rng):
    m = _model()
    x = neurona.tensor(rng.normal(size=(4, 3)))
    clean = {n: p.array.copy() for n, p in m.named_parameters()}
    with neurona.no_grad():
        ref = m(x).array
    noise = add_weight_noise(m, std=0.5, generator=np.random.default_rng(1))
    m.train()
    with neurona.no_grad():
        out = m(x).array
    assert not np.allclose(out, ref)
    for n, p in m.named_parameters():  # after the pass the clean values are back, the very same arrays
        np.testing.assert_array_equal(p.array, clean[n])
    # the perturbation is exactly θ + N(0, σ²) with the generator's draws, on weights only (not biases)
    g = np.random.default_rng(1)
    eps = [g.standard_normal(p.shape).astype(np.float32) * np.float32(0.5) for _, p in noise.params]
    assert [n for n, _ in noise.params] == ["layers.0.weight", "layers.2.weight"]
    w0 = m.layers[0].weight.array + eps[0]
    w2 = m.layers[2].weight.array + eps[1]
    h = np.maximum(x.array @ w0.T + m.layers[0].bias.array, 0)
    np.testing.assert_allclose(out, h @ w2.T + m.layers[2].bias.array, rtol=1e-5, atol=1e-6)
    # evaluation mode: no noise at all
    m.eval()
    with neurona.no_grad():
        np.testing.assert_array_equal(m(x).array, ref)


def test_gradient_is_taken_at_the_noisy_weights_and_applied_to_the_clean_ones(rng):
    m = _model()
    x = neurona.tensor(rng.normal(size=(6, 3)))
    y = neurona.tensor(rng.integers(0, 2, 6))
    w_clean = m.layers[0].weight.array.copy()
    add_weight_noise(m, std=0.3, generator=np.random.default_rng(7))
    m.train()
    loss = nn.CrossEntropyLoss()(m(x), y)
    loss.backward()
    g_noisy = m.layers[0].weight.grad.array.copy()
    # the same gradient, recomputed by hand at θ̃ with the noise removed from the model
    g = np.random.default_rng(7)
    e0 = g.standard_normal((5, 3)).astype(np.float32) * np.float32(0.3)
    e2 = g.standard_normal((2, 5)).astype(np.float32) * np.float32(0.3)
    ref = _model()
    ref.layers[0].weight.array = w_clean + e0
    ref.layers[2].weight.array = ref.layers[2].weight.array + e2
    nn.CrossEntropyLoss()(ref(x), y).backward()
    np.testing.assert_allclose(g_noisy, ref.layers[0].weight.grad.array, rtol=1e-5, atol=1e-7)
    # an SGD step moves the clean weights by −lr·g(θ̃)
    opt = optim.SGD(m.parameters(), lr=0.1)
    opt.step()
    np.testing.assert_allclose(m.layers[0].weight.array, w_clean - 0.1 * g_noisy, rtol=1e-6, atol=1e-7)


def test_relative_noise_chosen_parameters_and_remove(rng):
    m = _model()
    x = neurona.tensor(rng.normal(size=(4, 3)))
    m.layers[0].weight.array[0] = 0.0
    noise = WeightNoise(m, std=0.2, parameters=["layers.0.weight", "layers.0.bias"], relative=True)
    seen = []
    h = m.layers[0].register_forward_hook(lambda mod, inp, out: seen.append(mod.weight.array.copy()))
    m.train()
    m(x)
    h.remove()
    assert np.all(seen[0][0] == 0)  # relative noise: zero weights stay zero
    assert not np.array_equal(seen[0][1:], m.layers[0].weight.array[1:])
    assert "relative" in repr(noise)
    noise.remove()
    with neurona.no_grad():
        a, b = m(x).array, m(x).array
    np.testing.assert_array_equal(a, b)
    only_bias = add_weight_noise(m, 0.1, parameters=lambda n, p: n.endswith("bias"))
    assert [n for n, _ in only_bias.params] == ["layers.0.bias", "layers.2.bias"]
    only_bias.remove()


def test_annealing_std_and_errors():
    m = _model()
    noise = add_weight_noise(m, std=0.1)
    noise.std = 0.0
    x = neurona.randn(2, 3)
    m.train()
    with neurona.no_grad():
        a, b = m(x).array, m(x).array
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="std"):
        noise.std = -1
    with pytest.raises(KeyError, match="no parameter"):
        add_weight_noise(m, 0.1, parameters=["nope"])
    with pytest.raises(ValueError, match="no parameters"):
        add_weight_noise(m, 0.1, parameters=[])
    with pytest.raises(TypeError, match="Module"):
        WeightNoise(object())


def test_a_failed_forward_does_not_leave_noise_behind():
    m = _model()
    clean = m.layers[0].weight.array.copy()
    add_weight_noise(m, std=1.0)
    m.train()
    with pytest.raises(ValueError):
        m(neurona.randn(2, 4))  # wrong number of features
    # the next forward restores the clean weights before drawing new noise
    m(neurona.randn(2, 3))
    np.testing.assert_array_equal(m.layers[0].weight.array, clean)


def test_fit_with_weight_noise_trains(rng):
    X = rng.normal(size=(200, 3)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    m = _model()
    add_weight_noise(m, std=0.02)
    h = fit(m, nn.CrossEntropyLoss(), optim.Adam(m.parameters(), 2e-2), (X, y), epochs=15, verbose=0, seed=0)
    assert h["accuracy"][-1] > 0.9
