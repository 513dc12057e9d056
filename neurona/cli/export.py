"""``neurona export MODEL --format onnx --output FILE``: a trained model as an ONNX file (ONNX Runtime serves it
without neurona) or as a safetensors state dict."""
from __future__ import annotations

import json

import numpy as np

from .. import io
from ..creation import from_numpy
from ..engine import no_grad
from .output import CLIError, say
from .trained import input_scaler, open_model

NAME = "export"


def add_parser(sub):
    p = sub.add_parser(
        NAME, help="write a trained model as an ONNX file (served by ONNX Runtime alone) or as safetensors",
        description="Export a model file or run folder. ONNX: the network in eval mode with its batch axis free, "
                    "preceded by the input scaling stored with the model (so the file takes the raw inputs that "
                    "`neurona predict` takes), checked by onnx.checker; needs the extra: pip install "
                    "'neurona[onnx]'. safetensors: the state_dict with the model's config in the header.")
    p.add_argument("model", help="model file or run folder")
    p.add_argument("--format", choices=("onnx", "safetensors"), default="onnx", help="onnx (default) or safetensors")
    p.add_argument("--output", "-o", required=True, help="the file to write")
    p.add_argument("--opset", type=int, default=17, help="ONNX operator set version (default 17)")
    p.add_argument("--input-shape", dest="input_shape",
                   help="shape of one input sample, e.g. 1,28,28 (default: the shape stored with the model)")
    p.add_argument("--no-preprocessing", dest="preprocessing", action="store_false",
                   help="leave the stored input scaling out of the ONNX graph (it then takes scaled inputs)")
    p.add_argument("--verify", action="store_true",
                   help="run the ONNX file in ONNX Runtime on random inputs and report the largest difference "
                        "from neurona")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    return p


def _sample_shape(f, spec: str | None) -> tuple[int, ...]:
    if spec:
        try:
            shape = tuple(int(s) for s in spec.split(","))
        except ValueError:
            raise CLIError(f"--input-shape must be integers separated by commas, got {spec!r}") from None
        if not shape or min(shape) < 1:
            raise CLIError(f"--input-shape must be positive sizes, got {spec!r}")
        return shape
    stored = f.metadata.get("input_shape")
    if stored is None:
        raise CLIError(f"{f.path} does not store the shape of its inputs; pass --input-shape (e.g. 1,28,28)")
    return tuple(int(s) for s in stored)


def _first_layer(model):
    from .. import nn

    for m in model.modules():
        if m is not model and not isinstance(m, (nn.Sequential, nn.ModuleList, nn.ModuleDict)) and \
                next(m.children(), None) is None:
            return m
    return None


def _inputs(model, shape: tuple, batch: int, rng: np.random.Generator) -> np.ndarray:
    """A batch of inputs of the model's kind: token ids for a model that starts with an embedding, else floats."""
    from .. import nn

    first = _first_layer(model)
    if isinstance(first, (nn.Embedding, nn.EmbeddingBag)):
        return rng.integers(1, first.num_embeddings, (batch,) + shape).astype(np.int64)
    return rng.standard_normal((batch,) + shape).astype(np.float32)


def run(args) -> int:
    f, model = open_model(args.model)
    quiet = bool(args.quiet)
    if args.format == "safetensors":
        meta = {k: v for k, v in f.metadata.items() if _is_json(v)}
        io.save(model, args.output, format="safetensors", **meta)
        say(f"wrote {args.output}: {len(model.state_dict())} tensors and the model's config (safetensors)", quiet)
        return 0
    import neurona.onnx as nx

    shape = _sample_shape(f, args.input_shape)
    rng = np.random.default_rng(0)
    scaler = input_scaler(f) if args.preprocessing else None
    example = _inputs(model, shape, 1, rng)
    if scaler is not None and example.dtype.kind == "f":
        example = np.asarray(scaler.inverse_transform(example), np.float32)  # raw inputs of a typical range
    from ..onnx.exporter import MIN_OPSET, max_opset

    if not MIN_OPSET <= args.opset <= max_opset():
        raise CLIError(f"--opset must be between {MIN_OPSET} and {max_opset()} (the newest the installed onnx "
                       f"package knows), got {args.opset}")
    proto = nx.export(model, example, args.output, opset_version=args.opset, preprocessing=scaler)
    dims = [[d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in proto.graph.output]
    say(f"wrote {args.output}: opset {args.opset}, input {['batch', *shape]}"
        f"{' (raw: the input scaling is in the graph)' if scaler is not None else ''}, output(s) {dims}", quiet)
    if args.verify:
        try:
            import onnxruntime as ort
        except ImportError:
            raise CLIError("--verify needs ONNX Runtime: pip install onnxruntime") from None
        x = _inputs(model, shape, 8, rng)
        if scaler is not None and x.dtype.kind == "f":
            x = np.asarray(scaler.inverse_transform(x), np.float32)
        session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
        got = session.run(None, {session.get_inputs()[0].name: x})
        scaled = np.asarray(scaler.transform(x), np.float32) if scaler is not None and x.dtype.kind == "f" else x
        with no_grad():
            out = model.eval()(from_numpy(scaled))
        want = [t.array for t in (out if isinstance(out, tuple) else (out,)) if t is not None]
        worst = max(float(np.abs(w - g).max()) for w, g in zip(want, got))
        say(f"ONNX Runtime agrees with neurona on 8 random inputs: largest difference {worst:.2e}", quiet)
    return 0


def _is_json(v) -> bool:
    try:
        json.dumps(v, allow_nan=False)
        return True
    except (TypeError, ValueError):
        return False
