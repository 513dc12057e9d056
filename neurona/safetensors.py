"""safetensors files: state dicts (and neurona models) in the format the Hugging Face ecosystem shares.

A ``.safetensors`` file is an 8-byte little-endian header length, a JSON
header naming each tensor's dtype, shape and byte range (plus an optional
``__metadata__`` of strings), and the raw little-endian data. Nothing in it
can run code. When the ``safetensors`` package is installed (``pip install
"neurona[safetensors]"``), its NumPy API reads and writes the data; otherwise
neurona's own reader and writer below do, with the same checks.

>>> neurona.io.save(model, "lenet.safetensors", format="safetensors")   # weights + neurona's config
>>> model = neurona.io.load("lenet.safetensors")                        # rebuilt, names and shapes checked
>>> weights = neurona.safetensors.load_file("pytorch_model.safetensors")  # any state dict, as arrays
"""
from __future__ import annotations

import json
import os
import struct
from collections import OrderedDict
from pathlib import Path

import numpy as np

__all__ = ["load_file", "save_file", "read_metadata", "save_model", "load_model", "SafetensorsError",
           "HAVE_SAFETENSORS"]

try:  # the reference implementation, when installed
    import safetensors.numpy as _st
except ImportError:  # pragma: no cover - depends on the environment
    _st = None

HAVE_SAFETENSORS = _st is not None

_CODES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
          "I16": np.int16, "I8": np.int8, "U64": np.uint64, "U32": np.uint32, "U16": np.uint16, "U8": np.uint8,
          "BOOL": np.bool_}
_NAMES = {np.dtype(v): k for k, v in _CODES.items()}
_MAX_HEADER = 100 * 1024 * 1024  # the reference implementation's limit too
_FORMAT_KEY, _NEURONA_KEY = "format", "neurona"


class SafetensorsError(ValueError):
    """A file that is not a valid safetensors file; the message names the file and the problem."""

    def __init__(self, path, problem: str):
        super().__init__(f"{os.fspath(path)}: {problem}")


# --- reading ----------------------------------------------------------------------------------------------


def _header(path) -> tuple[dict, int, int]:
    """(header, data start, data length) of a file, checked: sizes, dtypes, shapes and byte ranges."""
    p = Path(path)
    size = p.stat().st_size
    with open(p, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise SafetensorsError(p, "too short to be a safetensors file")
        (n,) = struct.unpack("<Q", head)
        if n > _MAX_HEADER or 8 + n > size:
            raise SafetensorsError(p, f"a header of {n} bytes runs past the end of the file ({size} bytes)")
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(p, f"the header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise SafetensorsError(p, "the header is not a JSON object")
    data_len = size - 8 - n
    meta = header.get("__metadata__")
    if meta is not None and (not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values())):
        raise SafetensorsError(p, "__metadata__ must map names to strings")
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= set(info):
            raise SafetensorsError(p, f"tensor {name!r} lacks dtype, shape or data_offsets")
        shape, (start, end) = info["shape"], info["data_offsets"]
        if not all(isinstance(d, int) and d >= 0 for d in shape) or not (0 <= start <= end):
            raise SafetensorsError(p, f"tensor {name!r} has shape {shape} and byte range {[start, end]}")
        if end > data_len:
            raise SafetensorsError(p, f"tensor {name!r} points past the end of the file")
        dt = info["dtype"]
        width = 2 if dt == "BF16" else (np.dtype(_CODES[dt]).itemsize if dt in _CODES else None)
        if width is None:
            raise SafetensorsError(p, f"tensor {name!r} has unsupported dtype {dt}")
        if end - start != width * int(np.prod(shape, dtype=np.int64)):
            raise SafetensorsError(p, f"tensor {name!r} has {end - start} bytes for shape {tuple(shape)} of {dt}")
    return header, 8 + n, data_len


def read_metadata(path) -> dict[str, str]:
    """The file's ``__metadata__`` (strings), without reading the tensors."""
    return dict(_header(path)[0].get("__metadata__") or {})


def load_file(path) -> "OrderedDict[str, np.ndarray]":
    """Every tensor of a safetensors file, as NumPy arrays, in the file's order (bfloat16 becomes float32).

    Read by the ``safetensors`` package when it is installed, else by neurona's
    own reader; the header is checked first either way.
    """
    header, start, _ = _header(path)
    entries = sorted(((k, v) for k, v in header.items() if k != "__metadata__"), key=lambda kv: kv[1]["data_offsets"])
    if _st is not None and all(v["dtype"] in _CODES for _, v in entries):
        arrays = _st.load_file(os.fspath(path))
        return OrderedDict((k, arrays[k]) for k, _ in entries)
    return _read_own(path, entries, start)


def _read_own(path, entries, start: int) -> "OrderedDict[str, np.ndarray]":
    out = OrderedDict()
    with open(path, "rb") as f:
        for name, info in entries:
            a, b = info["data_offsets"]
            f.seek(start + a)
            chunk = f.read(b - a)
            dt, shape = info["dtype"], tuple(info["shape"])
            if dt == "BF16":  # the upper half of a float32
                arr = (np.frombuffer(chunk, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
            else:
                arr = np.frombuffer(chunk, dtype=np.dtype(_CODES[dt]).newbyteorder("<")).astype(_CODES[dt])
            out[name] = arr.reshape(shape)
    return out


# --- writing ------------------------------------------------------------------------------------------------


def _as_arrays(tensors: dict) -> "OrderedDict[str, np.ndarray]":
    out = OrderedDict()
    for k, v in tensors.items():
        a = np.asarray(getattr(v, "array", v))
        if a.dtype not in _NAMES:
            raise TypeError(f"save_file: tensor {k!r} has dtype {a.dtype}, which safetensors does not store")
        if not isinstance(k, str) or k == "__metadata__":
            raise ValueError(f"save_file: tensor names must be strings other than '__metadata__', got {k!r}")
        out[k] = np.ascontiguousarray(a) if a.ndim else a.reshape(())
    return out


def _serialize_own(arrays: dict, metadata: dict | None) -> bytes:
    header: dict = {"__metadata__": dict(metadata)} if metadata else {}
    blobs, offset = [], 0
    for k, a in arrays.items():
        raw = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[k] = {"dtype": _NAMES[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)  # the data starts 8-byte aligned, as the reference writer does
    return struct.pack("<Q", len(head)) + head + b"".join(blobs)


def save_file(tensors: dict, path, metadata: dict[str, str] | None = None) -> Path:
    """Write ``tensors`` (name → array or Tensor) to ``path``; ``metadata``: strings stored in the header.

    The file is written to a temporary file and renamed into place, so an
    interrupted save leaves the previous file intact.
    """
    from .io import atomic_write

    arrays = _as_arrays(tensors)
    if metadata is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise TypeError("save_file: metadata must map strings to strings")
    blob = _st.save(dict(arrays), metadata=metadata) if _st is not None else _serialize_own(arrays, metadata)
    with atomic_write(path, "wb") as f:
        f.write(blob)
    return Path(path)


# --- neurona models ------------------------------------------------------------------------------------------


def save_model(model, path, **metadata) -> Path:
    """A model's ``state_dict`` as a safetensors file, with neurona's model name and config in the metadata.

    ``metadata``: JSON values (numbers, strings, lists, dicts). Any tool reads
    the tensors by their ``state_dict`` names; :func:`load_model` (and
    ``neurona.io.load``) rebuilds a registered model from the config.
    """
    from .io import FORMAT, VERSION, _base_header
    from .models.registry import model_config

    if not hasattr(model, "state_dict"):
        raise TypeError(f"save: expected a neurona.nn.Module, got {type(model).__name__}")
    found = model_config(model)
    spec = None if found is None else {"name": found[0], "config": found[1], "class": type(model).__name__}
    info = _base_header("model")
    info.update(model=spec, metadata=metadata)
    try:
        text = json.dumps(info, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise TypeError(f"save(format='safetensors'): the model config and metadata must be JSON values "
                        f"(numbers, strings, lists, dicts), {e}; arrays go in the npz format") from None
    meta = {_FORMAT_KEY: "np", _NEURONA_KEY: text, "neurona_format": f"{FORMAT}/{VERSION}"}
    return save_file(model.state_dict(), path, meta)


def load_model(path, model=None):
    """A model from a safetensors file: rebuilt from neurona's config (or ``model`` given), names and shapes
    checked against the file, in eval mode."""
    from .io import ModelFileError, check_architecture
    from .models.registry import UnknownModelError, build_model

    try:
        meta = read_metadata(path)
    except SafetensorsError as e:
        raise ModelFileError(path, str(e).split(": ", 1)[-1]) from None
    if model is None:
        info = None
        if _NEURONA_KEY in meta:
            try:
                info = json.loads(meta[_NEURONA_KEY])
            except json.JSONDecodeError:
                info = None
        spec = info.get("model") if isinstance(info, dict) else None
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise ModelFileError(path, "holds weights only (no neurona model config); pass the model to load them "
                                       "into: load(path, model=MyModel(...))")
        try:
            model = build_model(spec["name"], **dict(spec.get("config") or {}))
        except UnknownModelError as e:
            raise ModelFileError(path, str(e)) from None
        except (TypeError, ValueError) as e:
            raise ModelFileError(path, f"cannot build model {spec['name']!r} from its config: {e}") from None
    try:
        weights = load_file(path)
    except SafetensorsError as e:
        raise ModelFileError(path, str(e).split(": ", 1)[-1]) from None
    check_architecture(model, weights, path)
    model.load_state_dict(weights)
    if hasattr(model, "eval"):
        model.eval()
    return model
