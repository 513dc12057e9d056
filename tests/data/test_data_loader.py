import numpy as np
import pytest

import neurona
from neurona.data import DataLoader, Dataset, Subset, TensorDataset, random_split


def _data(n=10):
    return np.arange(n * 3, dtype=np.float64).reshape(n, 3), np.arange(n, dtype=np.int64)


def _epoch(loader):
    return [tuple(t.array.copy() for t in batch) for batch in loader]


class ListDataset(Dataset):
    """No get_batch: the loader must fall back to one sample at a time."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full(2, float(i)), i


def test_minibatch_yields_tensors_in_order_with_dtypes():
    X, y = _data(10)
    loader = DataLoader((X, y), batch_size=4)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [b[0].shape for b in batches] == [(4, 3), (4, 3), (2, 3)]
    assert all(isinstance(t, neurona.Tensor) for b in batches for t in b)
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.int64
    np.testing.assert_array_equal(np.concatenate([b[1].array for b in batches]), y)


def test_drop_last_and_len():
    X, y = _data(10)
    loader = DataLoader((X, y), batch_size=4, drop_last=True)
    assert len(loader) == 2 and [b[0].shape[0] for b in loader] == [4, 4]
    assert len(DataLoader((X, y), batch_size=20, drop_last=True)) == 0
    assert len(DataLoader((X, y), batch_size=20)) == 1


def test_full_batch_and_online_modes():
    X, y = _data(7)
    (xb, yb), = list(DataLoader((X, y), batch_size=None))
    assert xb.shape == (7, 3)
    online = list(DataLoader((X, y), batch_size=1, shuffle=True, seed=0))
    assert len(online) == 7 and online[0][0].shape == (1, 3)
    assert sorted(int(b[1].array[0]) for b in online) == list(range(7))


def test_shuffle_reproducible_and_new_permutation_each_epoch():
    X, y = _data(50)
    a = DataLoader((X, y), batch_size=8, shuffle=True, seed=123)
    b = DataLoader((X, y), batch_size=8, shuffle=True, seed=123)
    e1, e2 = _epoch(a), _epoch(a)
    f1, f2 = _epoch(b), _epoch(b)
    for u, v in zip(e1 + e2, f1 + f2):
        np.testing.assert_array_equal(u[1], v[1])
    order1 = np.concatenate([t[1] for t in e1])
    order2 = np.concatenate([t[1] for t in e2])
    assert not np.array_equal(order1, order2)
    assert sorted(order1.tolist()) == list(range(50))
    # inputs stay paired with their labels
    for xb, yb in e1:
        np.testing.assert_array_equal(xb[:, 0], (yb * 3).astype(np.float32))


def test_shuffle_uses_global_generator_without_seed():
    X, y = _data(30)
    loader = DataLoader((X, y), batch_size=30, shuffle=True)
    neurona.manual_seed(5)
    first = _epoch(loader)[0][1]
    neurona.manual_seed(5)
    np.testing.assert_array_equal(_epoch(loader)[0][1], first)


def test_shared_generator():
    X, y = _data(20)
    g1, g2 = np.random.default_rng(9), np.random.default_rng(9)
    a = _epoch(DataLoader((X, y), batch_size=20, shuffle=True, generator=g1))[0][1]
    b = _epoch(DataLoader((X, y), batch_size=20, shuffle=True, generator=g2))[0][1]
    np.testing.assert_array_equal(a, b)


def test_array_dataset_gathers_one_fancy_index_per_batch():
    X, y = _data(12)

    class Counting(TensorDataset):
        calls = 0

        def __getitem__(self, i):
            raise AssertionError("per-sample access on an array-backed dataset")

        def get_batch(self, idx):
            Counting.calls += 1
            return super().get_batch(idx)

    loader = DataLoader(Counting(X, y), batch_size=5, shuffle=True, seed=0)
    list(loader)
    assert Counting.calls == 3


def test_generic_dataset_and_subset_fallback():
    ds = ListDataset(6)
    batches = list(DataLoader(ds, batch_size=4))
    assert batches[0][0].shape == (4, 2) and batches[0][1].dtype == np.int64
    sub = Subset(ds, [5, 1])
    (xb, yb), = list(DataLoader(sub, batch_size=2))
    np.testing.assert_array_equal(yb.array, [5, 1])


def test_transform_applies_to_inputs_only():
    X, y = _data(6)
    (xb, yb), = list(DataLoader((X, y), batch_size=None, transform=lambda a: a * 0))
    assert np.all(xb.array == 0)
    np.testing.assert_array_equal(yb.array, y)


def test_tensor_dataset_checks_and_tensors():
    with pytest.raises(ValueError, match="same length"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))
    ds = TensorDataset(neurona.tensor(np.ones((4, 2))), np.arange(4))
    x, y = ds[2]
    assert x.shape == (2,) and y == 2 and len(ds) == 4


def test_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(_data(), batch_size=0)


def test_random_split_counts_fractions_and_disjoint():
    ds = TensorDataset(*_data(10))
    a, b = random_split(ds, [7, 3], seed=0)
    assert (len(a), len(b)) == (7, 3)
    assert sorted(np.concatenate([a.indices, b.indices]).tolist()) == list(range(10))
    c, d, e = random_split(ds, [0.5, 0.3, 0.2], seed=0)
    assert (len(c), len(d), len(e)) == (5, 3, 2)
    np.testing.assert_array_equal(random_split(ds, [7, 3], seed=0)[0].indices, a.indices)
    with pytest.raises(ValueError, match="add up"):
        random_split(ds, [5, 3])
    xb, yb = a.get_batch(np.array([0, 1]))
    np.testing.assert_array_equal(yb, a.indices[:2])


def test_subset_index_errors():
    with pytest.raises(IndexError, match="out of range"):
        Subset(TensorDataset(*_data(3)), [0, 3])
