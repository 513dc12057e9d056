"""Figures for comparing a model with its compressed versions: size, sparsity, accuracy, speed.

>>> rows = [model_stats("float", model, X_test, y_test), model_stats("int8", qmodel, X_test, y_test)]
>>> print(comparison_table(rows))
"""
from __future__ import annotations

import os
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

from ..creation import from_numpy
from ..engine import no_grad

__all__ = ["count_parameters", "file_size", "inference_time", "model_stats", "comparison_table"]


def count_parameters(model) -> tuple[int, int]:
    """(values the model stores for its layers, how many of them are non-zero).

    Learnable parameters, plus the int8 weights and biases of quantized layers
    (scales and zero points are not counted: a handful per layer).
    """
    from .quantization import _QuantizedLayer

    total = nonzero = 0
    seen = set()
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += int(p.array.size)
            nonzero += int(np.count_nonzero(p.array))
    for m in model.modules():
        if isinstance(m, _QuantizedLayer):
            for t in (m.weight_int8, m.bias):
                if t is not None:
                    total += int(t.array.size)
                    nonzero += int(np.count_nonzero(t.array))
    return total, nonzero


def file_size(model, path=None, **save_kwargs) -> tuple[int, int]:
    """(bytes of the model file, bytes after zlib compression of it — what sparsity buys on disk).

    With ``path`` the existing file is measured; otherwise the model is saved
    to a temporary file with ``neurona.io.save`` (``save_kwargs`` passed on).
    """
    from .. import io

    if path is not None:
        data = Path(path).read_bytes()
    else:
        fd, tmp = tempfile.mkstemp(suffix=".npz")
        os.close(fd)
        try:
            io.save(model, tmp, **save_kwargs)
            data = Path(tmp).read_bytes()
        finally:
            os.unlink(tmp)
    return len(data), len(zlib.compress(data, 6))


def inference_time(model, X, batch_size: int = 256, repeats: int = 5) -> float:
    """Median seconds for one forward pass over a batch of ``batch_size`` inputs (eval mode, no graph)."""
    a = X.array if hasattr(X, "data") and not isinstance(X, np.ndarray) else np.asarray(X)
    xb = from_numpy(np.ascontiguousarray(a[:batch_size]))
    was = getattr(model, "training", False)
    model.eval()
    times = []
    try:
        with no_grad():
            model(xb)  # warm-up
            for _ in range(max(1, int(repeats))):
                t0 = time.perf_counter()
                model(xb)
                times.append(time.perf_counter() - t0)
    finally:
        model.train(was)
    return float(np.median(times))


def _accuracy(model, X, y, batch_size: int = 512) -> float:
    from ..train import predict

    out = predict(model, X, batch_size=batch_size)
    return float(np.mean(out.argmax(axis=1) == np.asarray(y)))


def model_stats(name: str, model, X, y, *, path=None, batch_size: int = 256, repeats: int = 5) -> dict:
    """One row of a comparison table: parameters, non-zero, file bytes (and zlib bytes), accuracy, ms per batch."""
    total, nz = count_parameters(model)
    raw, packed = file_size(model, path)
    return {"model": name, "parameters": total, "nonzero": nz, "file_bytes": raw, "zlib_bytes": packed,
            "accuracy": _accuracy(model, X, y), "ms_per_batch": 1000.0 * inference_time(model, X, batch_size, repeats),
            "batch_size": int(batch_size)}


def comparison_table(rows: list[dict], fmt: str = "markdown") -> str:
    """The rows of :func:`model_stats` as a Markdown table (``fmt="csv"`` for CSV)."""
    cols = [("model", "model"), ("parameters", "parameters"), ("nonzero", "non-zero"),
            ("file_bytes", "file bytes"), ("zlib_bytes", "zipped bytes"), ("accuracy", "accuracy"),
            ("ms_per_batch", "ms/batch")]
    if fmt == "csv":
        lines = [",".join(k for k, _ in cols)]
        for r in rows:
            lines.append(",".join(str(r.get(k, "")) for k, _ in cols))
        return "\n".join(lines) + "\n"

    def cell(k, v):
        if v is None or v == "":
            return ""
        if k == "accuracy":
            return f"{v:.4f}"
        if k == "ms_per_batch":
            return f"{v:.2f}"
        if isinstance(v, (int, np.integer)):
            return f"{int(v):,}"
        return str(v)

    head = "| " + " | ".join(h for _, h in cols) + " |"
    sep = "|" + "|".join("---" if k == "model" else "---:" for k, _ in cols) + "|"
    body = ["| " + " | ".join(cell(k, r.get(k)) for k, _ in cols) + " |" for r in rows]
    return "\n".join([head, sep] + body) + "\n"
