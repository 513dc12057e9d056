"""Pruning: relevance (magnitude) and penalty pruning, masks through fine-tuning, saving, shrinking."""
import copy

import numpy as np
import pytest

import neurona
from neurona import compress, models, nn, optim
from neurona.compress.pruning import _prune_smallest
from neurona.train import evaluate, fit


def _mlp(seed=0, hidden=(16, 8), n_in=4, n_out=3):
    neurona.manual_seed(seed)
    return models.MLP(n_in, list(hidden), n_out)


def _toy(n=240, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (k, d))
    y = rng.integers(0, k, n)
    X = (centers[y] + rng.normal(0, 1, (n, d))).astype(np.float32)
    return X, y.astype(np.int64)


# --- magnitude pruning ---------------------------------------------------------------------


def test_layer_scope_prunes_exactly_the_smallest_weights_per_layer():
    m = _mlp()
    before = {n: p.array.copy() for n, p in m.named_parameters()}
    masks = compress.magnitude_prune(m, 0.5, scope="layer")
    assert set(masks) == {"layers.0.weight", "layers.2.weight", "layers.4.weight"}
    for name in masks:
        w0 = before[name]
        k = int(round(0.5 * w0.size))
        threshold = np.sort(np.abs(w0).ravel())[k - 1]
        w = dict(m.named_parameters())[name].array
        assert np.count_nonzero(w) == w0.size - k
        # every removed weight is no larger than every kept one (relevance = |w|)
        assert np.abs(w0[w == 0]).max() <= np.abs(w0[w != 0]).min()
        assert np.abs(w0[w == 0]).max() <= threshold
        np.testing.assert_array_equal(w[w != 0], w0[w != 0])  # kept weights unchanged
    # biases are untouched by unstructured pruning
    np.testing.assert_array_equal(m.layers[0].bias.array, before["layers.0.bias"])


def test_global_scope_uses_one_threshold_across_layers():
    m = _mlp()
    m.layers[2].weight.array *= 10  # this layer's weights are all large: global pruning spares it
    before = {n: p.array.copy() for n, p in m.named_parameters()}
    masks = compress.magnitude_prune(m, 0.6, scope="global")
    allw = np.concatenate([np.abs(before[n]).ravel() for n in masks])
    k = int(round(0.6 * allw.size))
    t = np.sort(allw)[k - 1]
    total_zero = sum(int((dict(m.named_parameters())[n].array == 0).sum()) for n in masks)
    assert total_zero == k
    for n in masks:
        w, w0 = dict(m.named_parameters())[n].array, before[n]
        assert np.all(np.abs(w0[w == 0]) <= t) and np.all(np.abs(w0[w != 0]) >= t)
    rep = compress.sparsity_report(m)
    by = {r["name"]: r["sparsity"] for r in rep.rows}
    assert by["layers.2.weight"] < by["layers.0.weight"]
    assert rep.sparsity == pytest.approx(0.6, abs=5e-3)


def test_pruning_is_cumulative_and_keeps_earlier_zeros():
    m = _mlp()
    m1 = compress.magnitude_prune(m, 0.3)
    first = {n: m1[n].copy() for n in m1}
    m2 = compress.magnitude_prune(m, 0.7)
    assert m2 is m1 is compress.get_masks(m)
    for n in first:
        assert not np.any(m2[n] & ~first[n])  # nothing pruned comes back
        assert 1 - m2[n].mean() == pytest.approx(0.7, abs=0.02)


def test_structured_pruning_removes_whole_neurons_and_their_biases():
    m = _mlp(hidden=(20, 10))
    masks = compress.magnitude_prune(m, 0.5, structured=True, norm=2)
    w0 = m.layers[0].weight.array
    dead = np.all(w0 == 0, axis=1)
    assert dead.sum() == 10
    np.testing.assert_array_equal(m.layers[0].bias.array[dead], 0)
    assert "layers.0.bias" in masks and "layers.2.bias" in masks
    # the output layer (one neuron per class) is left alone by default
    assert "layers.4.weight" not in masks
    assert np.all(np.any(m.layers[4].weight.array != 0, axis=1))
    # kept rows are the ones with the largest L2 norms
    model0 = _mlp(hidden=(20, 10))
    norms = np.linalg.norm(model0.layers[0].weight.array, axis=1)
    assert norms[dead].max() <= norms[~dead].min()


def test_structured_conv_channels():
    neurona.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Conv2d(8, 4, 3))
    masks = compress.magnitude_prune(net, 0.5, structured=True, parameters=["0.weight"])
    w = net[0].weight.array
    dead = np.all(w.reshape(8, -1) == 0, axis=1)
    assert dead.sum() == 4 and np.all(net[0].bias.array[dead] == 0)
    out = net(neurona.randn(2, 1, 8, 8))
    assert out.shape == (2, 4, 4, 4)
    assert masks.sparsity() == pytest.approx(0.5)


def test_structured_global_keeps_a_neuron_in_every_layer():
    m = _mlp(hidden=(8, 8))
    m.layers[2].weight.array *= 1e-3
    compress.magnitude_prune(m, 0.9, structured=True, scope="global")
    for i in (0, 2):
        assert np.any(m.layers[i].weight.array != 0)


def test_structured_global_reaches_the_weight_sparsity_across_layers_of_different_sizes():
    m = _mlp(hidden=(10, 50), n_in=200)           # 10 rows of 200 weights in layers.0, 50 rows of 10 in layers.2
    masks = compress.magnitude_prune(m, 0.6, structured=True, scope="global")
    pruned = ["layers.0.weight", "layers.2.weight"]
    total = sum(masks[n].size for n in pruned)
    zeros = sum(int((~masks[n]).sum()) for n in pruned)
    assert abs(zeros / total - 0.6) <= 200 / total  # within one slice of the target (not 60 % of the rows)
    for n in pruned:                              # whole rows only
        rows = masks[n].reshape(masks[n].shape[0], -1)
        assert np.all(rows.all(axis=1) | (~rows).all(axis=1))


def test_prune_smallest_exact_count():
    s = np.array([3.0, 1.0, 2.0, 1.0, 5.0])
    keep = _prune_smallest(s, 2)
    assert keep.tolist() == [True, False, True, False, True]
    assert _prune_smallest(s, 0).all() and not _prune_smallest(s, 9).any()


def test_errors_are_clear():
    m = _mlp()
    with pytest.raises(ValueError, match="sparsity"):
        compress.magnitude_prune(m, 1.0)
    with pytest.raises(ValueError, match="scope"):
        compress.magnitude_prune(m, 0.5, scope="model")
    with pytest.raises(KeyError, match="no parameter 'fc.weight'"):
        compress.magnitude_prune(m, 0.5, parameters=["fc.weight"])
    with pytest.raises(ValueError, match="no weight matrices"):
        compress.magnitude_prune(nn.ReLU(), 0.5)
    masks = compress.PruningMasks(m)
    with pytest.raises(ValueError, match="shape"):
        masks.set("layers.0.weight", np.ones((2, 2), bool))


# --- masks through fine-tuning ----------------------------------------------------------------


@pytest.mark.parametrize("opt_name", ["SGD-momentum", "Adam", "AdamW"])
def test_masks_hold_through_fit(opt_name):
    X, y = _toy()
    m = _mlp()
    fit(m, nn.CrossEntropyLoss(), optim.Adam(m.parameters(), 1e-2), (X, y), epochs=2, verbose=0, seed=0)
    masks = compress.magnitude_prune(m, 0.7, scope="global")
    zero = {n: ~masks[n] for n in masks}
    if opt_name == "SGD-momentum":
        opt = optim.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    else:
        opt = getattr(optim, opt_name)(m.parameters(), lr=1e-2)
    fit(m, nn.CrossEntropyLoss(), opt, (X, y), epochs=3, verbose=0, seed=1, callbacks=[masks.callback()])
    params = dict(m.named_parameters())
    for n, z in zero.items():
        assert np.all(params[n].array[z] == 0)
        assert np.any(params[n].array[~z] != 0)
    # the optimizer went back to its own step after the run
    assert "step" not in opt.__dict__
    # the momentum/Adam state of pruned weights stayed zero: the gradients were masked before each step
    for n, z in zero.items():
        st = opt.state[params[n]]
        for key in ("momentum_buffer", "exp_avg", "exp_avg_sq"):
            if key in st and st[key] is not None:
                assert np.all(np.asarray(st[key])[z] == 0)


def test_attach_in_a_hand_written_loop():
    X, y = _toy()
    m = _mlp()
    masks = compress.magnitude_prune(m, 0.5)
    opt = optim.SGD(m.parameters(), lr=0.5)
    loss_fn = nn.CrossEntropyLoss()
    with masks.attach(opt):
        for _ in range(5):
            opt.zero_grad()
            loss_fn(m(neurona.tensor(X)), neurona.tensor(y)).backward()
            opt.step()
            assert all(np.all(dict(m.named_parameters())[n].array[~masks[n]] == 0) for n in masks)
    assert "step" not in opt.__dict__
    # without the masks, a step moves pruned weights
    opt.zero_grad()
    loss_fn(m(neurona.tensor(X)), neurona.tensor(y)).backward()
    opt.step()
    assert any(np.any(dict(m.named_parameters())[n].array[~masks[n]] != 0) for n in masks)


# --- penalty pruning and schedules ---------------------------------------------------------------


def test_penalty_prune_l1_makes_more_weights_small_then_removes_them():
    X, y = _toy()
    loss_fn = nn.CrossEntropyLoss()
    plain, pen = _mlp(), _mlp()
    fit(plain, loss_fn, optim.Adam(plain.parameters(), 1e-2), (X, y), epochs=8, verbose=0, seed=0)
    res = compress.penalty_prune(pen, loss_fn, optim.Adam(pen.parameters(), 1e-2), (X, y), l1=3e-3,
                                 threshold=2e-2, epochs=8, finetune_epochs=2, val=(X, y), seed=0)
    small_plain = np.mean(np.abs(plain.layers[0].weight.array) < 2e-2)
    rep = res.report
    assert rep.sparsity > 0.3
    assert rep.sparsity > 2 * small_plain
    steps = [s["step"] for s in res.steps]
    assert steps[0] == "before" and steps[-1] == "fine-tuned"
    assert res.steps[-1]["val_accuracy"] > 0.8
    for n in res.masks:
        assert np.all(dict(pen.named_parameters())[n].array[~res.masks[n]] == 0)


def test_sparsity_schedules():
    for kind in ("linear", "geometric", "cubic"):
        s = compress.sparsity_schedule(0.9, 4, kind)
        assert len(s) == 4 and s[-1] == pytest.approx(0.9) and all(a < b for a, b in zip(s, s[1:]))
    g = compress.sparsity_schedule(0.875, 3, "geometric")
    np.testing.assert_allclose(g, [0.5, 0.75, 0.875])  # each round halves what is left
    with pytest.raises(ValueError, match="kind"):
        compress.sparsity_schedule(0.5, 2, "exp")


def test_iterative_prune_reaches_target_and_keeps_accuracy():
    X, y = _toy(n=400)
    m = _mlp(hidden=(32, 16))
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.Adam(m.parameters(), 1e-2)
    fit(m, loss_fn, opt, (X, y), epochs=5, verbose=0, seed=0)
    one_shot = copy.deepcopy(m)
    compress.magnitude_prune(one_shot, 0.9, scope="global")
    one_shot_acc = evaluate(one_shot, None, (X, y))["accuracy"]
    res = compress.iterative_prune(m, loss_fn, opt, (X, y), 0.9, steps=3, finetune_epochs=1, val=(X, y), seed=0)
    assert [s["step"] for s in res.steps] == [0, 1, 2, 3]
    targets = [s["target"] for s in res.steps[1:]]
    assert targets == pytest.approx(compress.sparsity_schedule(0.9, 3))
    assert res.report.sparsity == pytest.approx(0.9, abs=0.01)
    # pruning a little at a time with fine-tuning in between beats pruning everything at once
    assert res.steps[-1]["val_accuracy"] >= max(one_shot_acc, 0.85)
    assert "pruned_val_accuracy" in res.steps[1]
    assert "layers.0.weight" in str(res)


# --- saving, reports, shrinking ----------------------------------------------------------------------


def test_save_and_load_pruned_model_with_masks(tmp_path):
    X, y = _toy()
    m = _mlp()
    masks = compress.magnitude_prune(m, 0.8, scope="global")
    path = compress.save_pruned(m, tmp_path / "p.npz", dataset="toy")
    # the masks are arrays inside the safe file (bit-packed uint8), nothing pickled
    with np.load(path, allow_pickle=False) as z:
        assert any(z[k].dtype == np.uint8 for k in z.files if k.startswith("state/"))
    plain = neurona.io.load(path)  # the ordinary loader gives the model with its zeros
    np.testing.assert_array_equal(plain.layers[0].weight.array, m.layers[0].weight.array)
    m2, masks2 = compress.load_pruned(path)
    assert compress.get_masks(m2) is masks2
    for n in masks:
        np.testing.assert_array_equal(masks2[n], masks[n])
    opt = optim.Adam(m2.parameters(), 1e-2)
    fit(m2, nn.CrossEntropyLoss(), opt, (X, y), epochs=1, verbose=0, callbacks=[masks2.callback()])
    assert compress.sparsity_report(m2).sparsity == pytest.approx(0.8, abs=1e-3)
    unpruned = tmp_path / "u.npz"
    neurona.io.save(_mlp(), unpruned)
    with pytest.raises(neurona.io.ModelFileError, match="no pruning masks"):
        compress.load_pruned(unpruned)
    with pytest.raises(ValueError, match="no pruning masks"):
        compress.save_pruned(_mlp(), tmp_path / "x.npz")


def test_sparsity_report_table():
    m = _mlp()
    compress.magnitude_prune(m, 0.25)
    rep = compress.sparsity_report(m)
    text = str(rep)
    assert "layers.0.weight" in text and "total" in text and "25.0%" in text
    d = rep.as_dict()
    assert d["layers"]["layers.2.weight"]["size"] == 16 * 8
    full = compress.sparsity_report(m, all_parameters=True)
    assert full.total == m.num_parameters()


def test_remove_pruning_forgets_masks():
    m = _mlp()
    compress.magnitude_prune(m, 0.5)
    assert compress.remove_pruning(m) is not None and compress.get_masks(m) is None


@pytest.mark.parametrize("activation,batch_norm", [("relu", False), ("sigmoid", False), ("tanh", True)])
def test_shrink_removes_dead_neurons_without_changing_outputs(activation, batch_norm):
    X, _ = _toy()
    neurona.manual_seed(0)
    m = models.MLP(4, [20, 12], 3, activation=activation, batch_norm=batch_norm)
    if batch_norm:  # give the running statistics non-trivial values
        m.train()
        m(neurona.tensor(X))
    compress.magnitude_prune(m, 0.5, structured=True)
    m.eval()
    small = compress.shrink(m)
    assert isinstance(small, models.MLP) and small.hidden == [10, 6]
    assert small.num_parameters() < m.num_parameters()
    with neurona.no_grad():
        np.testing.assert_allclose(small(neurona.tensor(X)).array, m(neurona.tensor(X)).array, rtol=1e-4, atol=1e-5)


def test_shrink_saves_as_a_smaller_mlp(tmp_path):
    m = _mlp(hidden=(40, 20))
    compress.magnitude_prune(m, 0.75, structured=True)
    small = compress.shrink(m)
    a = neurona.io.save(m, tmp_path / "a.npz").stat().st_size
    b = neurona.io.save(small, tmp_path / "b.npz").stat().st_size
    assert b < a
    back = neurona.io.load(tmp_path / "b.npz")
    assert back.hidden == [10, 5]


def test_shrink_sequential_and_refusals():
    neurona.manual_seed(0)
    seq = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2))
    compress.magnitude_prune(seq, 0.5, structured=True)
    small = compress.shrink(seq)
    assert isinstance(small, nn.Sequential) and small[0].out_features == 3
    x = neurona.randn(5, 4)
    np.testing.assert_allclose(small(x).array, seq(x).array, rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="Conv2d"):
        compress.shrink(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2, 2)))


def test_shrink_handles_linear_layers_without_bias():
    """A hidden Linear(bias=False): a neuron is dead when its weight row is zero (no bias to keep it alive)."""
    neurona.manual_seed(0)
    seq = nn.Sequential(nn.Linear(4, 6, bias=False), nn.ReLU(), nn.Linear(6, 2))
    with neurona.no_grad():
        seq[0].weight.array[[1, 4]] = 0.0
    small = compress.shrink(seq)
    assert small[0].out_features == 4 and small[0].bias is None and small[2].in_features == 4
    x = neurona.randn(5, 4)
    np.testing.assert_allclose(small(x).array, seq(x).array, rtol=1e-5, atol=1e-6)
