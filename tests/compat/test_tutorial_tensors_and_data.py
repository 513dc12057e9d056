"""Tutorial-style PyTorch code (written for these tests) run with ``import neurona as torch``, unchanged.

Each function below is PyTorch code as a tutorial or a course notebook writes
it; it must run on neurona and reach a PyTorch-like result.
"""
from __future__ import annotations

import math

import neurona as torch
import neurona.nn.functional as F
from neurona import nn
from neurona.utils.data import DataLoader, Dataset, TensorDataset, random_split


def test_polynomial_fit_with_plain_tensors():
    """Fit y = sin(x) with a cubic, gradients written by hand (the "tensors" step of learning PyTorch)."""
    torch.manual_seed(0)
    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)
    a, b, c, d = torch.randn(()), torch.randn(()), torch.randn(()), torch.randn(())
    learning_rate = 1e-6
    for t in range(2000):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = (y_pred - y).pow(2).sum().item()
        grad_y_pred = 2.0 * (y_pred - y)
        grad_a = grad_y_pred.sum()
        grad_b = (grad_y_pred * x).sum()
        grad_c = (grad_y_pred * x ** 2).sum()
        grad_d = (grad_y_pred * x ** 3).sum()
        a = a - learning_rate * grad_a
        b = b - learning_rate * grad_b
        c = c - learning_rate * grad_c
        d = d - learning_rate * grad_d
    assert loss < 30  # PyTorch's tutorial ends near 9 after 2000 steps from its random start
    assert abs(b.item() - 0.85) < 0.1 and abs(d.item() + 0.09) < 0.02


def test_tensor_tour():
    """The operations of the "tensors" tutorial: creation, indexing, joining, arithmetic, reductions."""
    data = [[1, 2], [3, 4]]
    x_data = torch.tensor(data)
    x_ones = torch.ones_like(x_data)
    x_rand = torch.rand_like(x_data.float())
    assert x_ones.dtype == torch.int64 and x_rand.dtype == torch.float32
    shape = (2, 3,)
    tensor = torch.ones(4, 4)
    assert torch.zeros(shape).shape == (2, 3) and tensor.shape == (4, 4)
    print(f"First row: {tensor[0]}, first column: {tensor[:, 0]}, last column: {tensor[..., -1]}")
    tensor[:, 1] = 0
    t1 = torch.cat([tensor, tensor, tensor], dim=1)
    assert t1.shape == (4, 12)
    y1 = tensor @ tensor.T
    y2 = tensor.matmul(tensor.T)
    y3 = torch.rand_like(y1)
    y3 = torch.matmul(tensor, tensor.T)
    z1 = tensor * tensor
    z2 = tensor.mul(tensor)
    assert torch.equal(y1, y2) and torch.allclose(y1, y3) and torch.equal(z1, z2)
    agg = tensor.sum()
    agg_item = agg.item()
    assert isinstance(agg_item, float) and agg_item == 12.0
    t = torch.arange(12).reshape(3, 4)
    assert t.flatten().tolist() == list(range(12)) and t.T.contiguous().view(-1)[:3].tolist() == [0, 4, 8]
    assert t.max(dim=1).indices.tolist() == [3, 3, 3] and t.float().mean(dim=0).tolist() == [4, 5, 6, 7]
    evens = t[t % 2 == 0]
    assert evens.tolist() == [0, 2, 4, 6, 8, 10] and torch.where(t > 5, t, -1).sum().item() == 51 - 6
    top = torch.topk(t.float(), k=2, dim=1)
    assert top.values.tolist() == [[3, 2], [7, 6], [11, 10]]
    assert t.unsqueeze(0).squeeze().shape == (3, 4) and t.permute(1, 0).shape == (4, 3)
    assert torch.stack([t, t]).shape == (2, 3, 4) and len(t.chunk(3, dim=0)) == 3


class Blobs(Dataset):
    """Three Gaussian blobs in 2-D, one per class (a custom Dataset as the data tutorial writes them)."""

    def __init__(self, n):
        centers = torch.tensor([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])
        self.labels = torch.randint(0, 3, (n,))
        self.points = centers[self.labels] + torch.randn(n, 2)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, idx):
        return self.points[idx], self.labels[idx]


def test_dataset_dataloader_train_loop_and_schedule():
    """Custom Dataset, random_split, DataLoader, a model with nn.Flatten, OneCycleLR, and the evaluation loop."""
    torch.manual_seed(0)
    full = Blobs(600)
    train_data, test_data = random_split(full, [0.8, 0.2])
    train_dataloader = DataLoader(train_data, batch_size=64, shuffle=True)
    test_dataloader = DataLoader(test_data, batch_size=64)
    model = nn.Sequential(nn.Flatten(), nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 3))
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    epochs = 5
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.5, epochs=epochs,
                                                    steps_per_epoch=len(train_dataloader))
    for epoch in range(epochs):
        model.train()
        for batch, (X, y) in enumerate(train_dataloader):
            pred = model(X)
            loss = loss_fn(pred, y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            scheduler.step()
    model.eval()
    size, num_batches, test_loss, correct = len(test_dataloader.dataset), len(test_dataloader), 0, 0
    with torch.no_grad():
        for X, y in test_dataloader:
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).float().sum().item()
    correct /= size
    test_loss /= num_batches
    assert correct > 0.9 and test_loss < 0.4


def test_embeddings_and_similarity():
    """Nearest words by cosine similarity, with an embedding table and topk."""
    torch.manual_seed(0)
    emb = nn.Embedding(10, 4)
    with torch.no_grad():
        weights = F.normalize(emb.weight, dim=1)
    query = weights[torch.tensor(3)]
    sims = F.cosine_similarity(weights, query.unsqueeze(0), dim=1)
    best = sims.topk(3)
    assert best.indices[0].item() == 3 and abs(best.values[0].item() - 1.0) < 1e-5
    ds = TensorDataset(torch.arange(10), sims)
    ids, scores = next(iter(DataLoader(ds, batch_size=10)))
    assert ids.tolist() == list(range(10)) and scores.shape == (10,)
