"""Per-layer output shapes and parameter counts of a model, found by running it once on a dummy batch.

>>> from neurona import models
>>> print(models.format_summary(models.summary(models.LeNet5(), (1, 28, 28))))   # doctest: +SKIP
layer            type           output shape      parameters
features.0       Conv2d         (1, 6, 28, 28)           156
...
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..creation import from_numpy
from ..nn.module import Module
from ..engine import Tensor, no_grad

__all__ = ["LayerInfo", "summary", "format_summary"]


@dataclass
class LayerInfo:
    """One row of :func:`summary`: the module's dotted name, class, output shape(s) and own parameters."""

    name: str
    kind: str
    output_shape: object  # a tuple, or a (nested) tuple of tuples for modules returning several tensors
    parameters: int
    depth: int


def _shapes(out):
    if isinstance(out, Tensor):
        return tuple(int(s) for s in out.shape)
    if isinstance(out, np.ndarray):
        return tuple(int(s) for s in out.shape)
    if isinstance(out, (tuple, list)):
        return tuple(_shapes(o) for o in out)
    if isinstance(out, dict):  # e.g. a detector's named heads: their shapes, in order
        return tuple(_shapes(o) for o in out.values())
    return None


def _own_parameters(m: Module) -> int:
    """The values a module holds itself: its parameters, or the int8 weights and biases of a quantized layer."""
    n = sum(int(p.array.size) for p in m.parameters(recurse=False))
    if n == 0 and m._buffers.get("weight_int8") is not None:
        n = sum(int(m._buffers[k].array.size) for k in ("weight_int8", "bias") if m._buffers.get(k) is not None)
    return n


def summary(model: Module, input_shape=None, batch_size: int = 1, dtype=None, example_input=None,
            max_depth: int | None = None) -> list[LayerInfo]:
    """Run ``model`` once (eval mode, no graph) on zeros of shape (batch_size, *input_shape) and record, for
    every sub-module that ran, the shape of its output and the number of parameters it holds itself.

    ``example_input`` replaces the zeros (e.g. token ids for a text model; a tuple is several
    arguments); ``dtype`` is that of the zeros (default: the dtype of the model's first parameter,
    int64 if it has none). A model with several inputs (an encoder–decoder reads a source and a
    target) takes a list of shapes, ``input_shape=[(12,), (8,)]``, and a dtype or a list of dtypes.
    Modules called twice are listed once, with their first output. ``max_depth`` keeps only names with
    at most that many dots + 1 (1: the top-level children); the parameters of the dropped deeper
    modules are counted in their listed ancestor.
    """
    if example_input is None:
        if input_shape is None:
            raise ValueError("summary: give input_shape (one sample's shape) or example_input")
        if dtype is None:
            first = next(iter(model.parameters()), None)
            dtype = first.dtype if first is not None else np.float32
        shapes = list(input_shape)
        if shapes and all(isinstance(s, (tuple, list)) for s in shapes):      # several inputs
            dtypes = list(dtype) if isinstance(dtype, (tuple, list)) else [dtype] * len(shapes)
            example_input = tuple(from_numpy(np.zeros((int(batch_size),) + tuple(int(n) for n in s), d))
                                  for s, d in zip(shapes, dtypes))
        else:
            example_input = from_numpy(np.zeros((int(batch_size),) + tuple(int(s) for s in input_shape), dtype))
    rows: dict[str, LayerInfo] = {}
    names = {id(m): n for n, m in model.named_modules() if n}
    handles = []
    for n, m in model.named_modules():
        if not n:
            continue

        def hook(module, inputs, output, _n=n):
            if _n not in rows:
                rows[_n] = LayerInfo(_n, type(module).__name__, _shapes(output), _own_parameters(module),
                                     _n.count(".") + 1)
        handles.append(m.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            out = model(*example_input) if isinstance(example_input, tuple) else model(example_input)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    order = {n: i for i, n in enumerate(names.values())}
    result = sorted(rows.values(), key=lambda r: order.get(r.name, len(order)))
    if max_depth is not None:
        kept = [r for r in result if r.depth <= max_depth]
        for r in kept:
            if r.depth == max_depth:
                r.parameters = sum(int(p.array.size) for p in model.get_submodule(r.name).parameters())
        result = kept
    own = _own_parameters(model)
    if own:  # parameters the model holds itself, outside any layer (e.g. a Vision Transformer's class token)
        names = ", ".join(n for n, p in model.named_parameters(recurse=False))
        result.insert(0, LayerInfo(f"({names})", type(model).__name__, None, own, 0))
    result.append(LayerInfo("(output)", type(model).__name__, _shapes(out), 0, 0))
    return result


def _fmt_shape(s) -> str:
    if s is None:
        return "-"
    if s and all(isinstance(t, tuple) or t is None for t in s):
        return ", ".join(_fmt_shape(t) for t in s)
    return str(tuple(s))


def format_summary(rows: list[LayerInfo]) -> str:
    """The rows of :func:`summary` as a text table: layer, type, output shape, parameters."""
    wn = max([len("layer")] + [len(r.name) for r in rows])
    wk = max([len("type")] + [len(r.kind) for r in rows])
    shapes = [_fmt_shape(r.output_shape) for r in rows]
    ws = max([len("output shape")] + [len(s) for s in shapes])
    lines = [f"{'layer':<{wn}}  {'type':<{wk}}  {'output shape':<{ws}}  {'parameters':>10}"]
    for r, s in zip(rows, shapes):
        count = f"{r.parameters:>10,}" if r.name != "(output)" else f"{'':>10}"
        lines.append(f"{r.name:<{wn}}  {r.kind:<{wk}}  {s:<{ws}}  {count}")
    return "\n".join(lines)
