"""Train a small CNN in PyTorch on Fashion-MNIST classes 0-4 and export it to ONNX: examples/assets/fashion_cnn_torch.onnx.

Run by hand (needs torch): ``python examples/assets/record_fashion_cnn_torch.py``. The file it writes is
what ``examples/onnx_finetune_pytorch.py`` imports; that example needs neither torch nor this script.

The network: two conv(3x3)-BN-ReLU-maxpool blocks (16 and 32 maps), a third conv block (32 maps, pooled
to 3x3), Linear(288, 64), ReLU, Dropout(0.3), Linear(64, 5). Trained with Adam for 3 epochs on the
30,000 training images of T-shirt, trouser, pullover, dress and coat; exported in eval mode with
PyTorch's TorchScript-based exporter (batch axis free, batch norm folded into the convolutions).
"""
from __future__ import annotations

import os
import warnings

import numpy as np
import torch

from neurona.data import fashion_mnist

OUT = os.path.join(os.path.dirname(__file__), "fashion_cnn_torch.onnx")
TASK_A = [0, 1, 2, 3, 4]


def block(cin, cout):
    return [torch.nn.Conv2d(cin, cout, 3, padding=1), torch.nn.BatchNorm2d(cout), torch.nn.ReLU(), torch.nn.MaxPool2d(2)]


def main():
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    x, y = fashion_mnist("train", as_float=True, layout="NCHW")
    xt, yt = fashion_mnist("test", as_float=True, layout="NCHW")
    keep, keep_t = np.isin(y, TASK_A), np.isin(yt, TASK_A)
    x, y, xt, yt = map(torch.tensor, (x[keep], y[keep], xt[keep_t], yt[keep_t]))
    model = torch.nn.Sequential(*block(1, 16), *block(16, 32), *block(32, 32), torch.nn.Flatten(),
                                torch.nn.Linear(32 * 3 * 3, 64), torch.nn.ReLU(), torch.nn.Dropout(0.3),
                                torch.nn.Linear(64, 5))
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for epoch in range(3):
        model.train()
        order = torch.randperm(len(x))
        for i in range(0, len(x), 128):
            idx = order[i:i + 128]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            acc = (model(xt).argmax(1) == yt).float().mean().item()
        print(f"epoch {epoch + 1}: test accuracy on classes 0-4 {acc:.4f}")
    torch.onnx.export(model, (xt[:1],), OUT, dynamo=False, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17)
    print(f"wrote {OUT} ({os.path.getsize(OUT):,} bytes)")


if __name__ == "__main__":
    main()
