"""pytorch/examples' MNIST network: two convolutions, max pooling, Dropout, log_softmax + nll_loss, Adadelta
with StepLR, argmax(keepdim) and eq(view_as) for the accuracy (on the embedded Fashion-MNIST subset)."""
import argparse
import warnings

import neurona as torch
import neurona.nn as nn
import neurona.nn.functional as F
import neurona.optim as optim
from neurona.optim.lr_scheduler import StepLR
from neurona.utils.data import DataLoader, TensorDataset


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, 1)
        self.conv2 = nn.Conv2d(8, 16, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(2304, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        output = F.log_softmax(x, dim=1)
        return output


def train(args, model, device, train_loader, optimizer, epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        if batch_idx % args.log_interval == 0:
            print("Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}".format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                100. * batch_idx / len(train_loader), loss.item()))


def test(model, device, test_loader):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
    test_loss /= len(test_loader.dataset)
    print("\nTest set: Average loss: {:.4f}, Accuracy: {}/{} ({:.0f}%)\n".format(
        test_loss, correct, len(test_loader.dataset), 100. * correct / len(test_loader.dataset)))
    return correct / len(test_loader.dataset)


def main():
    parser = argparse.ArgumentParser(description="MNIST-style example")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--gamma", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=10)
    args = parser.parse_args([])
    torch.manual_seed(args.seed)
    device = torch.device("cpu")

    from neurona.data import fashion_mnist
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xtr, ytr = fashion_mnist("train", subset=True)
        xte, yte = fashion_mnist("test", subset=True)
    mean, std = 0.2860, 0.3530
    to_input = lambda a: (torch.tensor(a, dtype=torch.float32).unsqueeze(1) / 255 - mean) / std
    train_loader = DataLoader(TensorDataset(to_input(xtr), torch.tensor(ytr)), batch_size=args.batch_size,
                              shuffle=True)
    test_loader = DataLoader(TensorDataset(to_input(xte), torch.tensor(yte)), batch_size=1000)

    model = Net().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)
    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    for epoch in range(1, args.epochs + 1):
        train(args, model, device, train_loader, optimizer, epoch)
        accuracy = test(model, device, test_loader)
        scheduler.step()
    assert abs(optimizer.param_groups[0]["lr"] - args.lr * args.gamma ** args.epochs) < 1e-12
    assert accuracy > 0.6, accuracy


if __name__ == "__main__":
    main()
