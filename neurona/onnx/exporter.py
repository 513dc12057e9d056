"""``neurona.onnx.export``: write a model as an ONNX file that ONNX Runtime (or any ONNX backend) runs."""
from __future__ import annotations

import json
import os
from typing import Any, Sequence

import numpy as np
import onnx
from onnx import helper

from ..creation import from_numpy
from ..engine import Tensor, no_grad
from ..nn.module import Module
from . import layers as _layers  # noqa: F401  (registers the layer converters)
from . import models as _models  # noqa: F401  (registers the model converters)
from . import attention as _attention  # noqa: F401  (attention, Transformer and their models)
from ._graph import ExportError, GraphBuilder, Value, register_converter, value_info

__all__ = ["export", "MIN_OPSET", "max_opset"]

MIN_OPSET = 13  # per-axis DequantizeLinear, Squeeze/Unsqueeze/Split with axes as inputs, Softmax over one axis
_TWO_GB = 2 ** 31


def max_opset() -> int:
    """The newest opset the installed ``onnx`` package knows."""
    return onnx.defs.onnx_opset_version()


def _as_example(x, where: str):
    if x is None:
        return None
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (tuple, list)):
        return tuple(_as_example(v, f"{where}[{i}]") for i, v in enumerate(x))
    a = np.asarray(x)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"neurona.onnx.export: {where} must be a Tensor or a numeric array, got {type(x).__name__}")
    if a.dtype == np.float64 and not isinstance(x, np.ndarray):
        a = a.astype(np.float32)  # Python floats: neurona's default float32
    return from_numpy(a)


def _leaves(obj) -> list:
    if obj is None:
        return []
    if isinstance(obj, (tuple, list)):
        return [t for o in obj for t in _leaves(o)]
    return [obj]


def _rebuild(obj, it):
    """``obj``'s structure with each leaf replaced by the next item of ``it``."""
    if obj is None:
        return None
    if isinstance(obj, (tuple, list)):
        return tuple(_rebuild(o, it) for o in obj)
    return next(it)


def _names(given, count: int, base: str, what: str) -> list[str]:
    if given is None:
        return [base] if count == 1 else [f"{base}_{i}" for i in range(count)]
    given = list(given)
    if len(given) != count or len(set(given)) != count or not all(isinstance(n, str) and n for n in given):
        raise ValueError(f"neurona.onnx.export: {what} must be {count} distinct non-empty names, got {given}")
    return given


def _default_batch_axis(model: Module, position: int, t: Tensor) -> int | None:
    """Where the batch is in input ``position``: axis 1 for time-major sequences and recurrent states, else 0."""
    from ..models.recurrent import CharLM
    from ..nn.recurrent import RNNBase

    if t.ndim == 0:
        return None
    if isinstance(model, RNNBase):
        if position == 0:
            if t.ndim == 2:
                return None  # an unbatched sequence (T, I)
            return 0 if model.batch_first else 1
        if t.ndim == 3:
            return 1  # initial states (layers·directions, B, H)
    if isinstance(model, CharLM) and position > 0 and t.ndim == 3:
        return 1  # the carried state (layers, B, H)
    return 0


def _resize_batch(a: np.ndarray, axis: int, batch: int) -> np.ndarray:
    """The first sample alone, or (for a batch of one) the sample twice."""
    first = np.take(a, [0], axis=axis)
    return first if batch > 1 else np.concatenate([first, first], axis=axis)


def _dynamic_axes(model, inputs, flat_in, in_names, flat_out, out_names, given) -> tuple[dict, dict]:
    """Symbolic dimensions of each input and output: ``given`` (PyTorch's dynamic_axes), or the batch axis."""
    names = set(in_names) | set(out_names)
    if given is not None:
        spec = {}
        for name, axes in dict(given).items():
            if name not in names:
                raise ValueError(f"neurona.onnx.export: dynamic_axes names {name!r}, which is neither an input "
                                 f"({', '.join(in_names)}) nor an output ({', '.join(out_names)})")
            if isinstance(axes, dict):
                spec[name] = {int(a): str(n) for a, n in axes.items()}
            else:
                spec[name] = {int(a): f"{name}_dim{int(a)}" for a in axes}
        return ({n: spec.get(n, {}) for n in in_names}, {n: spec.get(n, {}) for n in out_names})
    axes = [_default_batch_axis(model, i, t) for i, t in enumerate(flat_in)]
    dyn_in = {n: ({} if a is None else {a: "batch"}) for n, a in zip(in_names, axes)}
    if all(a is None for a in axes):
        return dyn_in, {n: {} for n in out_names}
    # the outputs' batch axes: run the model on a batch of another size (one sample, or two when the example
    # has one) and see which output dimensions follow it
    batch = next(t.shape[a] for t, a in zip(flat_in, axes) if a is not None)
    other = [t if a is None else from_numpy(_resize_batch(t.array, a, batch)) for t, a in zip(flat_in, axes)]
    dyn_out = {n: {} for n in out_names}
    try:
        with no_grad():
            outs = _leaves(model(*_rebuild(inputs, iter(other))))
    except Exception:  # the model refuses another batch size: fall back to the leading axis
        outs = None
    for i, (n, v) in enumerate(zip(out_names, flat_out)):
        if outs is not None and len(outs) == len(flat_out):
            for axis, (d1, d2) in enumerate(zip(v.shape, outs[i].shape)):
                if d1 == batch and d2 != d1:
                    dyn_out[n] = {axis: "batch"}
                    break
        elif v.ndim and v.shape[0] == batch:
            dyn_out[n] = {0: "batch"}
    return dyn_in, dyn_out


def export(model: Module, example_input, path=None, opset_version: int = 17, input_names: Sequence[str] | None = None,
           output_names: Sequence[str] | None = None, dynamic_axes: dict | None = None, *,
           preprocessing=None, check: bool = True) -> onnx.ModelProto:
    """Write ``model`` as an ONNX model (to ``path`` when given) and return the ``onnx.ModelProto``.

    ``example_input``: one input (a Tensor or array) or a tuple of them, as
    ``model(*example_input)`` takes; the model runs on it once, in eval mode
    (Dropout off, batch norm on its running statistics), while each module
    writes its nodes. Weights become initializers named by their
    ``state_dict`` keys. ``dynamic_axes`` follows ``torch.onnx.export``
    (``{"input": {0: "batch"}}``); by default the batch axis of every input
    and output is variable and every other size is fixed. ``check`` runs
    ``onnx.checker.check_model(full_check=True)``. ``preprocessing``: a
    fitted ``neurona.data.Standardizer`` or ``MinMaxScaler`` that the graph
    applies to its (single) input first, so that the file takes raw inputs;
    ``example_input`` is then raw too.

    Every layer of ``neurona.nn`` used by the MLP, CNN and recurrent families
    and every model of ``neurona.models`` has a converter; other modules get
    one with :func:`neurona.onnx.register_converter`.

    >>> import numpy as np, neurona, neurona.onnx
    >>> model = neurona.models.LeNet5()
    >>> proto = neurona.onnx.export(model, neurona.randn(1, 1, 28, 28), "lenet.onnx")
    >>> import onnxruntime as ort                                  # served without neurona
    >>> sess = ort.InferenceSession("lenet.onnx")
    >>> sess.run(None, {"input": np.zeros((8, 1, 28, 28), np.float32)})[0].shape
    (8, 10)
    """
    if not isinstance(model, Module):
        raise TypeError(f"neurona.onnx.export: expected a neurona.nn.Module, got {type(model).__name__}")
    if preprocessing is not None:
        model = Preprocessed(preprocessing, model)
    opset = int(opset_version)
    if not MIN_OPSET <= opset <= max_opset():
        raise ValueError(f"neurona.onnx.export: opset_version must be between {MIN_OPSET} and {max_opset()} (the "
                         f"newest the installed onnx package knows), got {opset_version}")
    inputs = example_input if isinstance(example_input, tuple) else (example_input,)
    inputs = _as_example(inputs, "example_input")
    flat_in = _leaves(inputs)
    if not flat_in:
        raise ValueError("neurona.onnx.export: example_input holds no tensor")
    in_names = _names(input_names, len(flat_in), "input", "input_names")
    was_training = model.training
    model.eval()
    try:
        named = model.model if isinstance(model, Preprocessed) else model  # weights keep the model's own names
        g = GraphBuilder(named, opset)
        for n in in_names:
            g._names.add(n)
        in_values = [Value(n, t) for n, t in zip(in_names, flat_in)]
        out = g.call(model, *_rebuild(inputs, iter(in_values)))
        flat_out = _leaves(out)
        out_names = _names(output_names, len(flat_out), "output", "output_names")
        _name_outputs(g, flat_out, out_names, set(in_names))
        dyn_in, dyn_out = _dynamic_axes(model, inputs, flat_in, in_names, flat_out, out_names, dynamic_axes)
    finally:
        model.train(was_training)
    graph = helper.make_graph(
        g.nodes, type(model).__name__,
        [value_info(n, t, dyn_in[n]) for n, t in zip(in_names, flat_in)],
        [value_info(n, v.tensor, dyn_out[n]) for n, v in zip(out_names, flat_out)],
        initializer=g.initializers)
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="neurona",
                              producer_version=_version(), ir_version=helper.find_min_ir_version_for(opsets))
    _add_metadata(proto, model)
    if proto.ByteSize() >= _TWO_GB:
        raise ExportError(f"neurona.onnx.export: the model is {proto.ByteSize() / 2 ** 30:.1f} GiB, beyond the 2 GiB "
                          f"a single ONNX protobuf can hold")
    if check:
        onnx.checker.check_model(proto, full_check=True)
    if path is not None:
        folder = os.path.dirname(os.fspath(path))
        if folder:
            os.makedirs(folder, exist_ok=True)
        from ..io import atomic_write

        with atomic_write(path, "wb") as f:
            f.write(proto.SerializeToString())
    return proto


class Preprocessed(Module):
    """A fitted input scaler followed by the model: what ``export(..., preprocessing=...)`` writes."""

    def __init__(self, scaler, model: Module):
        super().__init__()
        kind = type(scaler).__name__
        if kind == "Standardizer" and getattr(scaler, "mean", None) is not None:
            # x̂ = (x − μ)/sqrt(σ² + ε), as Standardizer.transform computes it
            self.offset, self.divisor = scaler.mean, np.sqrt(scaler.var + scaler.eps)
            self.factor = self.shift = None
        elif kind == "MinMaxScaler" and getattr(scaler, "min", None) is not None:
            # x' = (x − min)·(b − a)/(max − min) + a
            self.offset, self.divisor = scaler.min, None
            self.factor, self.shift = scaler._scale(), scaler.feature_range[0]
        else:
            raise TypeError(f"neurona.onnx.export: preprocessing must be a fitted neurona.data.Standardizer or "
                            f"MinMaxScaler, got {kind}")
        self.scaler, self.model = scaler, model

    def forward(self, x):
        return self.model(from_numpy(np.asarray(self.scaler.transform(x.array), dtype=x.array.dtype)))


@register_converter(Preprocessed)
def _preprocessed(g: GraphBuilder, m: Preprocessed, x: Value):
    dt = x.tensor.dtype
    if dt.kind != "f":
        raise ExportError(f"neurona.onnx.export: input scaling needs a floating input, got {dt}")
    y = g.op("Sub", [x, g.const(np.asarray(m.offset, dt), "preprocessing.offset")])
    if m.divisor is not None:
        y = g.op("Div", [y, g.const(np.asarray(m.divisor, dt), "preprocessing.divisor")])
    else:
        y = g.op("Add", [g.op("Mul", [y, g.const(np.asarray(m.factor, dt), "preprocessing.factor")]),
                         g.const(np.asarray(m.shift, dt), "preprocessing.shift")])
    scaled = from_numpy(np.asarray(m.scaler.transform(x.tensor.array), dtype=dt))
    return g.call(m.model, Value(y.name, scaled))


def _name_outputs(g: GraphBuilder, values: list[Value], names: list[str], graph_inputs: set[str]) -> None:
    """Give the graph's outputs their public names: rename the producing node's output, or add an Identity."""
    producers = {o: node for node in g.nodes for o in node.output}
    used = set()
    for v, name in zip(values, names):
        node = producers.get(v.name)
        if node is None or v.name in used or v.name in graph_inputs:
            g.nodes.append(helper.make_node("Identity", [v.name], [name], name=f"/{name}/Identity"))
            continue
        old = v.name
        for n in g.nodes:
            for i, x in enumerate(n.input):
                if x == old:
                    n.input[i] = name
            for i, x in enumerate(n.output):
                if x == old:
                    n.output[i] = name
        for other in values:  # the same value listed again: later uses read the new name
            if other.name == old:
                other.name = name
        used.add(name)


def _version() -> str:
    from .. import __version__

    return __version__


def _add_metadata(proto: onnx.ModelProto, model: Module) -> None:
    """The neurona model name and config, when the model is a registered one (informational)."""
    from ..models.registry import model_config

    if isinstance(model, Preprocessed):
        _add_props(proto, {"neurona.preprocessing": type(model.scaler).__name__})
        _add_metadata(proto, model.model)
        return

    try:
        found = model_config(model)
    except Exception:
        found = None
    if found is None:
        return
    name, config = found
    try:
        text = json.dumps(config, default=_plain)
    except (TypeError, ValueError):
        return
    _add_props(proto, {"neurona.model": name, "neurona.config": text})


def _add_props(proto: onnx.ModelProto, props: dict[str, str]) -> None:
    for k, v in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v


def _plain(o: Any):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    raise TypeError(type(o).__name__)
