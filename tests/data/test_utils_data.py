"""``neurona.utils.data`` behaves as ``torch.utils.data``: loaders, samplers, collation, datasets."""
from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest

import neurona as nr
import neurona.data
from neurona.utils import data as ud
from neurona.utils.data import (BatchSampler, ConcatDataset, DataLoader, Dataset, IterableDataset, RandomSampler,
                                SequentialSampler, Subset, SubsetRandomSampler, TensorDataset, WeightedRandomSampler,
                                default_collate, random_split)


class Squares(Dataset):
    def __len__(self):
        return 10

    def __getitem__(self, i):
        return np.full(2, float(i)), i * i


class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        for i in range(self.n):
            yield {"x": np.array([i, i], np.float32), "label": i % 2}


def test_one_implementation_under_both_names():
    for name in ud.__all__:
        home = nr.distributed if name == "DistributedSampler" else neurona.data
        assert getattr(ud, name) is getattr(home, name)
    assert nr.utils.data.DataLoader is DataLoader


def test_tensor_dataset_as_pytorch():
    x, y = nr.randn(6, 3), nr.arange(6)
    ds = TensorDataset(x, y)
    xi, yi = ds[2]
    assert isinstance(xi, nr.Tensor) and xi.shape == (3,) and yi.item() == 2
    assert ds.tensors[0] is x and len(ds) == 6
    batches = list(DataLoader(ds, batch_size=4))
    assert type(batches[0]) is list and [b[0].shape for b in batches] == [(4, 3), (2, 3)]  # a list, as PyTorch
    np.testing.assert_array_equal(batches[1][1].array, [4, 5])
    with pytest.raises(ValueError, match="size mismatch"):
        TensorDataset(nr.ones(3), nr.ones(4))


def test_default_collate_rules():
    P = namedtuple("P", "a b")
    xb, yb, names, w, flags = default_collate([(np.zeros(2), 1, "a", 2.5, True), (np.ones(2), 2, "b", 1.5, False)])
    assert xb.shape == (2, 2) and xb.dtype == np.float32  # neurona's default float dtype
    assert yb.dtype == np.int64 and yb.tolist() == [1, 2]
    assert list(names) == ["a", "b"] and w.dtype == np.float32 and flags.dtype == np.bool_
    d = default_collate([{"x": 1, "y": [1, 2]}, {"x": 2, "y": [3, 4]}])
    assert d["x"].tolist() == [1, 2] and [t.tolist() for t in d["y"]] == [[1, 3], [2, 4]]
    p = default_collate([P(1, 2.0), P(3, 4.0)])
    assert isinstance(p, P) and p.a.tolist() == [1, 3]
    t = default_collate([nr.ones(2, dtype=nr.float64), nr.zeros(2, dtype=nr.float64)])
    assert t.dtype == np.float64 and t.shape == (2, 2)
    assert default_collate([np.int32(1), np.int32(2)]).dtype == np.int32
    with pytest.raises(RuntimeError, match="different shapes"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [1]])


def test_generic_dataset_batches_and_unbatched_mode():
    xb, yb = next(iter(DataLoader(Squares(), batch_size=3)))
    assert xb.shape == (3, 2) and yb.tolist() == [0, 1, 4]
    samples = list(DataLoader(Squares(), batch_size=None))  # no automatic batching: samples converted one by one
    assert len(samples) == 10 and type(samples[3]) is list and samples[3][0].shape == (2,) and samples[3][1] == 9
    assert len(DataLoader(Squares(), batch_size=None)) == 10


def test_samplers_and_batch_sampler():
    ds = Squares()
    assert list(SequentialSampler(ds)) == list(range(10))
    g = np.random.default_rng(0)
    perm = list(RandomSampler(ds, generator=g))
    assert sorted(perm) == list(range(10)) and perm != list(range(10))
    draws = list(RandomSampler(ds, replacement=True, num_samples=25, generator=g))
    assert len(draws) == 25 and all(0 <= i < 10 for i in draws)
    assert len(list(RandomSampler(ds, num_samples=13, generator=g))) == 13
    assert sorted(SubsetRandomSampler([7, 2, 5], generator=g)) == [2, 5, 7]
    assert list(BatchSampler(SequentialSampler(range(5)), 2, False)) == [[0, 1], [2, 3], [4]]
    assert len(BatchSampler(range(5), 2, True)) == 2
    loader = DataLoader(ds, batch_sampler=BatchSampler(SequentialSampler(ds), 4, drop_last=True))
    assert len(loader) == 2 and [b[1].tolist() for b in loader] == [[0, 1, 4, 9], [16, 25, 36, 49]]
    yb = next(iter(DataLoader(ds, batch_size=5, sampler=[9, 8, 7, 6, 5])))[1]
    assert yb.tolist() == [81, 64, 49, 36, 25]
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(ds, batch_size=2, batch_sampler=BatchSampler(range(3), 1, False))
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(ds, sampler=[0, 1], shuffle=True)


def test_weighted_sampler_follows_the_weights():
    w = [0.0, 1.0, 3.0]
    draws = np.array(list(WeightedRandomSampler(w, 8000, generator=np.random.default_rng(0))))
    assert (draws != 0).all() and abs((draws == 2).mean() - 0.75) < 0.03
    once = list(WeightedRandomSampler([1.0, 1.0, 1.0], 3, replacement=False, generator=np.random.default_rng(1)))
    assert sorted(once) == [0, 1, 2]
    with pytest.raises(ValueError, match="without replacement"):
        WeightedRandomSampler([1.0, 0.0], 2, replacement=False)


def test_shuffle_generator_and_global_seed():
    ds = TensorDataset(nr.arange(20))

    def order(loader):
        return [int(i) for b in loader for i in b[0].tolist()]

    a = order(DataLoader(ds, batch_size=5, shuffle=True, generator=np.random.default_rng(3)))
    b = order(DataLoader(ds, batch_size=5, shuffle=True, generator=np.random.default_rng(3)))
    assert a == b and sorted(a) == list(range(20)) and a != list(range(20))
    loader = DataLoader(ds, batch_size=20, shuffle=True)
    nr.manual_seed(1)
    first = order(loader)
    nr.manual_seed(1)
    assert order(loader) == first


def test_iterable_dataset_batches_in_order():
    batches = list(DataLoader(Stream(7), batch_size=3))
    assert [b["label"].tolist() for b in batches] == [[0, 1, 0], [1, 0, 1], [0]]
    assert batches[0]["x"].shape == (3, 2)
    assert len(list(DataLoader(Stream(7), batch_size=3, drop_last=True))) == 2
    with pytest.raises(ValueError, match="IterableDataset cannot be shuffled"):
        DataLoader(Stream(3), shuffle=True)
    assert ud.get_worker_info() is None


def test_collate_fn_drop_last_and_worker_arguments():
    def pairs(samples):
        return len(samples), [s[1] for s in samples]

    loader = DataLoader(Squares(), batch_size=4, collate_fn=pairs, drop_last=True, num_workers=2, pin_memory=True,
                        persistent_workers=True, worker_init_fn=lambda i: None, prefetch_factor=2, timeout=5)
    assert list(loader) == [(4, [0, 1, 4, 9]), (4, [16, 25, 36, 49])]
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(Squares(), num_workers=-1)
    with pytest.raises(ValueError, match="persistent_workers"):
        DataLoader(Squares(), persistent_workers=True)
    with pytest.raises(ValueError, match="prefetch_factor"):
        DataLoader(Squares(), prefetch_factor=2)


def test_concat_subset_and_random_split():
    a, b = TensorDataset(nr.arange(3)), TensorDataset(nr.arange(10, 14))
    both = ConcatDataset([a, b])
    assert len(both) == 7 and both.cumulative_sizes == [3, 7]
    assert both[3][0].item() == 10 and both[-1][0].item() == 13 and (a + b)[2][0].item() == 2
    with pytest.raises(IndexError):
        both[7]
    sub = Subset(both, [6, 0])
    assert [s[0].item() for s in sub] == [13, 0]
    train, val = random_split(both, [0.75, 0.25], generator=np.random.default_rng(0))
    assert (len(train), len(val)) == (6, 1)
    again = random_split(both, [5, 2], generator=np.random.default_rng(0))
    assert sorted(np.concatenate([s.indices for s in again]).tolist()) == list(range(7))
    with pytest.warns(UserWarning, match="length of split at index 1 is 0"):
        random_split(TensorDataset(nr.arange(2)), [0.9, 0.1])


def test_loader_feeds_fit():
    nr.manual_seed(0)
    X = nr.randn(64, 2)
    y = (X[:, 0] > 0).long()
    model = nr.nn.Sequential(nr.nn.Linear(2, 8), nr.nn.ReLU(), nr.nn.Linear(8, 2))
    loader = DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True)
    history = nr.train.fit(model, nr.nn.CrossEntropyLoss(), nr.optim.Adam(model.parameters(), 0.05), loader,
                           epochs=15, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] * 0.6
