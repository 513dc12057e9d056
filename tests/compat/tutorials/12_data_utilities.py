"""torch.utils.data beyond the basics: TensorDataset, random_split with a generator, Subset, ConcatDataset,
a custom collate_fn, samplers, drop_last, and an IterableDataset."""
import neurona as torch
from neurona.utils.data import (ConcatDataset, DataLoader, Dataset, IterableDataset, RandomSampler,
                                SequentialSampler, Subset, TensorDataset, WeightedRandomSampler, default_collate,
                                random_split)

x = torch.arange(20, dtype=torch.float32).view(10, 2)
y = torch.arange(10)
ds = TensorDataset(x, y)
assert len(ds) == 10 and torch.equal(ds[3][0], x[3]) and ds[3][1].item() == 3

train, val = random_split(ds, [0.8, 0.2], generator=torch.Generator().manual_seed(42))
assert len(train) == 8 and len(val) == 2
assert sorted(train.indices + val.indices) == list(range(10))
again, _ = random_split(ds, [8, 2], generator=torch.Generator().manual_seed(42))
assert list(again.indices) == list(train.indices)

both = ConcatDataset([ds, Subset(ds, [0, 1])])
assert len(both) == 12 and both[11][1].item() == 1

batches = list(DataLoader(ds, batch_size=4, drop_last=True))
assert len(batches) == 2 and batches[0][0].shape == (4, 2)
loader = DataLoader(ds, batch_size=3, sampler=SequentialSampler(ds))
assert [b[1].tolist() for b in loader] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
g = torch.Generator()
g.manual_seed(0)
shuffled = torch.cat([b[1] for b in DataLoader(ds, batch_size=5, shuffle=True, generator=g)])
assert sorted(shuffled.tolist()) == list(range(10))
assert len(list(RandomSampler(ds, replacement=True, num_samples=25))) == 25
weighted = list(WeightedRandomSampler([0.0, 0.0, 1.0], num_samples=5, replacement=True))
assert weighted == [2] * 5


def pad_collate(batch):
    seqs = [torch.tensor(s) for s, _ in batch]
    longest = max(len(s) for s in seqs)
    padded = torch.zeros(len(seqs), longest, dtype=torch.long)
    for i, s in enumerate(seqs):
        padded[i, :len(s)] = s
    return padded, torch.tensor([label for _, label in batch])


class Sentences(Dataset):
    def __init__(self):
        self.items = [([1, 2, 3], 0), ([4, 5], 1), ([6], 0), ([7, 8, 9, 10], 1)]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


padded, labels = next(iter(DataLoader(Sentences(), batch_size=4, collate_fn=pad_collate)))
assert padded.shape == (4, 4) and padded[1].tolist() == [4, 5, 0, 0] and labels.tolist() == [0, 1, 0, 1]

collated = default_collate([{"x": torch.ones(2), "n": 1}, {"x": torch.zeros(2), "n": 2}])
assert collated["x"].shape == (2, 2) and collated["n"].tolist() == [1, 2]


class Counter(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))


assert [b.tolist() for b in DataLoader(Counter(7), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6]]
print("data utilities behave as in PyTorch")
