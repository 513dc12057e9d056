"""Curriculum learning: easy-to-hard samplers, pacing functions, the loader and the fit callback."""
import math

import numpy as np
import pytest

import neurona
from neurona import models, nn, optim
from neurona.data import DataLoader, TensorDataset
from neurona.train import fit
from neurona.train.curriculum import (CurriculumCallback, CurriculumLoader, CurriculumSampler, loss_difficulty)


def test_subset_mode_takes_the_easiest_fraction_and_widens_to_all():
    d = np.array([5.0, 0.1, 3.0, 0.5, 9.0, 1.0, 2.0, 7.0, 4.0, 6.0])  # sample 1 easiest, 4 hardest
    s = CurriculumSampler(d, start_fraction=0.3, full_epoch=3, seed=0)
    easy_to_hard = list(np.argsort(d))
    seen = []
    for epoch in range(5):
        assert len(s) == math.ceil(s.fraction(epoch) * 10)
        idx = list(s)
        seen.append(idx)
        assert sorted(idx) == sorted(easy_to_hard[:len(idx)])  # exactly the easiest ones
        assert len(set(idx)) == len(idx)
    assert [len(i) for i in seen] == [3, 6, 8, 10, 10]  # λ = 0.3, 0.533, 0.767, 1, 1
    assert s.epoch == 5
    assert [s.fraction(e) for e in range(4)] == pytest.approx([0.3, 0.3 + 0.7 / 3, 0.3 + 1.4 / 3, 1.0])


def test_pacing_functions():
    d = np.arange(100.0)
    root = CurriculumSampler(d, pacing="root", start_fraction=0.2, full_epoch=4)
    assert root.fraction(2) == pytest.approx(math.sqrt(0.04 + 0.96 * 0.5))
    step = CurriculumSampler(d, pacing="step", start_fraction=0.2, full_epoch=10)
    assert [step.fraction(e) for e in range(4)] == pytest.approx([0.2, 0.4, 0.8, 1.0])
    custom = CurriculumSampler(d, pacing=lambda e: min(1.0, 0.1 * (e + 1)))
    assert len(list(custom)) == 10 and len(list(custom)) == 20
    assert CurriculumSampler(d, full_epoch=0).fraction(0) == 1.0
    bad = CurriculumSampler(d, pacing=lambda e: 0.0)
    with pytest.raises(ValueError, match="pacing function gave 0.0"):
        list(bad)


def test_order_without_shuffle_is_easy_to_hard_and_seeding_is_reproducible():
    d = np.random.default_rng(3).random(50)
    s = CurriculumSampler(d, start_fraction=1.0, shuffle=False)
    assert list(s) == list(np.argsort(d, kind="stable"))
    a = list(CurriculumSampler(d, seed=4))
    b = list(CurriculumSampler(d, seed=4))
    assert a == b
    s1 = CurriculumSampler(d, seed=1)
    list(s1)
    state = s1.state_dict()
    nxt = list(s1)
    s2 = CurriculumSampler(d, seed=99)
    s2.load_state_dict(state)
    assert list(s2) == nxt


def test_weighted_mode_prefers_easy_samples_then_becomes_uniform():
    n = 2000
    d = np.arange(n, dtype=float)
    s = CurriculumSampler(d, mode="weighted", beta=5.0, full_epoch=4, seed=0)
    w0, w2, w4 = s.weights(0), s.weights(2), s.weights(4)
    assert w0.sum() == pytest.approx(1.0) and w0[0] / w0[-1] == pytest.approx(math.exp(5.0))
    assert w2[0] / w2[-1] == pytest.approx(math.exp(2.5))
    np.testing.assert_allclose(w4, 1.0 / n)
    first = np.asarray(list(s))
    assert len(first) == n and np.mean(first < n // 2) > 0.85
    s.set_epoch(10)
    late = np.asarray(list(s))
    assert 0.45 < np.mean(late < n // 2) < 0.55


def test_loader_batches_the_sampler_order_and_fit_follows_the_schedule():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    d = np.abs(X[:, 0])[::-1].copy()  # any fixed score
    s = CurriculumSampler(d, start_fraction=0.25, full_epoch=2, seed=0)
    loader = CurriculumLoader((X, y), s, batch_size=16)
    assert len(loader) == 8  # the widest epoch: 120 samples in batches of 16
    xb, yb = next(iter(loader))
    assert xb.shape == (16, 2) and yb.dtype == np.int64
    s.set_epoch(0)
    got = np.concatenate([b[0].cpu().numpy() for b in loader])
    assert len(got) == 30
    easiest = set(np.argsort(d, kind="stable")[:30].tolist())
    rows = {tuple(r) for r in X[sorted(easiest)]}
    assert all(tuple(r) in rows for r in got)

    neurona.manual_seed(0)
    m = models.MLP(2, [8], 2)
    sizes = []

    class Count(neurona.train.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            sizes.append(0)

        def on_batch_begin(self, batch, logs=None):
            sizes[-1] += logs["size"]

    h = fit(m, nn.CrossEntropyLoss(), optim.Adam(m.parameters(), 1e-2), loader, epochs=4, verbose=0,
            callbacks=[CurriculumCallback(s), Count()])
    assert sizes == [30, 75, 120, 120]
    assert h["curriculum_fraction"] == pytest.approx([0.25, 0.625, 1.0, 1.0])


def test_loss_difficulty_from_a_reference_model():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    neurona.manual_seed(0)
    ref = models.MLP(2, [8], 2)
    fit(ref, nn.CrossEntropyLoss(), optim.Adam(ref.parameters(), 2e-2), (X, y), epochs=10, verbose=0, seed=0)
    d = loss_difficulty(ref, X, y, batch_size=64)
    assert d.shape == (300,) and np.all(d >= 0)
    with neurona.no_grad():
        out = ref(neurona.tensor(X))
        expected = nn.CrossEntropyLoss(reduction="none")(out, neurona.tensor(y)).array
    np.testing.assert_allclose(d, expected, rtol=1e-5)
    # samples far from the boundary x0 = 0 are easy, near it hard
    far, near = np.abs(X[:, 0]) > 1.0, np.abs(X[:, 0]) < 0.1
    assert d[far].mean() < d[near].mean()
    mse = loss_difficulty(ref, X, np.eye(2, dtype=np.float32)[y], loss="mse")
    assert mse.shape == (300,)
    with pytest.raises(ValueError, match="samples"):
        loss_difficulty(ref, X, y[:10])


def test_errors():
    with pytest.raises(ValueError, match="1-D"):
        CurriculumSampler(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="NaN"):
        CurriculumSampler([0.0, np.nan])
    with pytest.raises(ValueError, match="mode"):
        CurriculumSampler([1.0, 2.0], mode="sorted")
    with pytest.raises(ValueError, match="start_fraction"):
        CurriculumSampler([1.0, 2.0], start_fraction=0.0)
    with pytest.raises(ValueError, match="pacing"):
        CurriculumSampler([1.0, 2.0], pacing="exp")
    with pytest.raises(ValueError, match="scores 2 samples"):
        CurriculumLoader(TensorDataset(np.zeros((3, 1))), CurriculumSampler([1.0, 2.0]))
    assert isinstance(CurriculumLoader((np.zeros((2, 1)),), CurriculumSampler([1.0, 2.0])), DataLoader)
