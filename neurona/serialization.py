"""``neurona.save`` and ``neurona.load``: PyTorch's ``torch.save`` / ``torch.load``, without pickle.

>>> neurona.save(model.state_dict(), "weights.pt")
>>> model.load_state_dict(neurona.load("weights.pt"))

They store state dicts, tensors (dtype and ``requires_grad`` kept;
``nn.Parameter`` stays a Parameter), ndarrays, NumPy scalars, and nested
dicts, lists and tuples of them with numbers, strings, bools and ``None``
(dict keys may be strings, numbers, bools, ``None`` or tuples of those):
what model and optimizer state dicts hold. A tensor referred to twice comes
back as one tensor.

**The format** is the one of neurona's model files: a zip archive in
NumPy's ``.npz`` layout that holds one JSON header (``__header__``, stored
as a uint8 array) describing the object's structure, and one plain numeric
array per tensor or ndarray. It opens with ``numpy.load(path,
allow_pickle=False)`` anywhere.

**Loading never runs code from the file**: nothing is unpickled, the header
is checked (format, version, every array's shape and dtype, every entry) and
only the types above are rebuilt. A pickle file — what ``torch.save`` and
``pickle.dump`` write — is refused with a message saying so. Writing to a
path is atomic (a crash leaves the previous file intact), and an object
that cannot be stored raises before the file is touched.
"""
from __future__ import annotations

import math
import os
from collections import OrderedDict
from typing import Any

import numpy as np

from . import backend
from .engine import Tensor, _wrap

# json, zipfile, pathlib and neurona.io (its safe writing and reading) load on first use: importing neurona stays
# quick

__all__ = ["save", "load", "FORMAT", "VERSION"]

FORMAT = "neurona.save"
VERSION = 1
_MAX_HEADER = 256 * 1024 * 1024
_DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "float32",
           "float64", "complex64", "complex128"}
_PICKLE_REFUSED = ("holds pickled Python objects (what torch.save and pickle write), which neurona never loads: "
                   "unpickling can run arbitrary code. Save the object with neurona.save; to bring PyTorch weights "
                   "over, write them from PyTorch as .npz or .safetensors (numpy.savez(path, **{k: v.numpy() for k, "
                   "v in model.state_dict().items()})) and load them with neurona.models.load_weights")


# --- writing -----------------------------------------------------------------------------------------------------


class _Encoder:
    """An object as JSON (its structure) plus named arrays (its tensors and ndarrays)."""

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}
        self.seen: dict[int, tuple[Any, dict]] = {}  # id(tensor or ndarray) -> (the object, its JSON), for sharing

    def _array(self, a, where: str) -> str:
        a = backend.to_numpy(a)
        if a.dtype.name not in _DTYPES:
            raise TypeError(f"save: cannot store {where}: an array of dtype {a.dtype} (only numeric arrays)")
        key = f"a/{len(self.arrays)}"
        self.arrays[key] = a if a.flags.c_contiguous else np.array(a, order="C")
        return key

    def encode(self, obj, where: str = "the object") -> Any:
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return obj
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"__float__": repr(obj)}
        if isinstance(obj, (Tensor, np.ndarray)):
            held = self.seen.get(id(obj))
            if held is not None:
                return held[1]
            if isinstance(obj, Tensor):
                from .nn.parameter import Parameter
                enc = {"__tensor__": self._array(obj.array, where), "requires_grad": bool(obj.requires_grad),
                       "parameter": isinstance(obj, Parameter), "device": str(obj.device)}
            else:
                enc = {"__ndarray__": self._array(obj, where)}
            self.seen[id(obj)] = (obj, enc)  # the object is held so that its id is not reused meanwhile
            return enc
        if isinstance(obj, np.generic):
            return {"__scalar__": self._array(np.asarray(obj), where)}
        if isinstance(obj, np.dtype) or (isinstance(obj, type) and issubclass(obj, np.generic)):
            return {"__dtype__": np.dtype(obj).name}
        if isinstance(obj, backend.device):
            return {"__device__": str(obj)}
        if isinstance(obj, tuple):
            return {"__tuple__": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]}
        if isinstance(obj, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        if isinstance(obj, dict):
            items = []
            for k, v in obj.items():
                items.append([self._key(k, where), self.encode(v, f"{where}[{k!r}]")])
            return {"__dict__": items, "ordered": isinstance(obj, OrderedDict)}
        raise TypeError(f"save: cannot store {where}: a {type(obj).__module__}.{type(obj).__qualname__}. neurona.save "
                        f"stores tensors, ndarrays, numbers, strings, bools, None and dicts, lists and tuples of "
                        f"them (nothing is pickled); for a model, save model.state_dict()")

    def _key(self, k, where: str) -> Any:
        if isinstance(k, tuple):
            return {"__tuple__": [self._key(x, where) for x in k]}
        if k is None or isinstance(k, (bool, int, str)):
            return k
        if isinstance(k, float):
            return k if math.isfinite(k) else {"__float__": repr(k)}
        if isinstance(k, np.integer):
            return int(k)
        raise TypeError(f"save: cannot store {where}: a dict key of type {type(k).__name__} ({k!r}); keys may be "
                        f"strings, numbers, bools, None or tuples of those")


def save(obj, f, pickle_module=None, pickle_protocol=None, **kwargs) -> None:
    """Write ``obj`` to ``f`` (a path, or a binary file object opened for writing).

    ``obj``: a state dict, a tensor, an ndarray, or nested dicts, lists and
    tuples of those with numbers, strings, bools and ``None``. Nothing is
    pickled (``pickle_module`` and ``pickle_protocol`` are accepted for
    PyTorch compatibility and unused).

    >>> import io
    >>> buffer = io.BytesIO()
    >>> save({"w": tensor([1.0, 2.0]), "step": 3}, buffer)
    >>> _ = buffer.seek(0)
    >>> load(buffer)["step"]
    3
    """
    import json

    from . import __version__
    from .io import atomic_write

    enc = _Encoder()
    root = enc.encode(obj)  # everything is checked before the file is touched

    header = {"format": FORMAT, "version": VERSION, "neurona_version": __version__, "object": root,
              "arrays": {k: {"shape": list(a.shape), "dtype": a.dtype.name} for k, a in enc.arrays.items()}}
    blob = np.frombuffer(json.dumps(header, allow_nan=False, separators=(",", ":")).encode("utf-8"), dtype=np.uint8)
    if isinstance(f, (str, os.PathLike)):
        with atomic_write(f, "wb") as fh:
            _write_archive(fh, blob, enc.arrays)
    elif hasattr(f, "write"):
        _write_archive(f, blob, enc.arrays)
    else:
        raise TypeError(f"save: f must be a path or a binary file object opened for writing, got {type(f).__name__}")


def _write_archive(fh, blob: np.ndarray, arrays: dict) -> None:
    import zipfile

    from .io import HEADER, _write_entry

    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        _write_entry(zf, HEADER, blob)
        for key, a in arrays.items():
            _write_entry(zf, key, a)


# --- reading -----------------------------------------------------------------------------------------------------


def _fail(name, problem: str):
    from .io import ModelFileError

    raise ModelFileError(name, problem)


def _target_device(map_location, saved: str, name):
    """The device a tensor saved on ``saved`` is loaded to."""
    if map_location is None:
        try:
            return backend.check_device(saved)
        except backend.DeviceUnavailableError as e:
            _fail(name, f"holds tensors saved on '{saved}', which this machine cannot hold ({e}); pass "
                        f"map_location='cpu' to load them on the CPU")
    if isinstance(map_location, dict):
        return backend.check_device(map_location.get(saved, saved))
    return backend.check_device(map_location)


def load(f, map_location=None, pickle_module=None, *, weights_only: bool = True, mmap=None, **kwargs) -> Any:
    """Read an object written by :func:`save` from ``f`` (a path, or a binary file object opened for reading).

    ``map_location``: where tensors go — ``None`` (where they were saved),
    a device or its name (``"cpu"``), or a dict from saved to wanted device
    names. ``weights_only`` is accepted for PyTorch compatibility: neurona's
    files hold data only, so loading never runs code whatever its value.
    A pickle file (e.g. written by ``torch.save``) is refused.
    """
    if callable(map_location) and not isinstance(map_location, (str, backend.device)):
        raise TypeError("load: map_location as a function is not supported; give a device ('cpu'), its name or "
                        "a dict from saved to wanted device names")
    if map_location is not None and not isinstance(map_location, dict):
        backend.check_device(map_location)  # an unknown or missing device fails now, naming what is missing
    if isinstance(f, (str, os.PathLike)):
        from pathlib import Path

        p = Path(f)
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such file")
        if p.is_dir():
            _fail(p, "is a folder, not a file written by neurona.save")
        with open(p, "rb") as fh:
            return _read(fh, p, map_location)
    if hasattr(f, "read") and hasattr(f, "seek"):
        return _read(f, getattr(f, "name", "<file object>"), map_location)
    raise TypeError(f"load: f must be a path or a binary file object opened for reading (with read and seek), "
                    f"got {type(f).__name__}")


def _read(fh, name, map_location) -> Any:
    import json
    import zipfile

    from .io import HEADER, _read_array

    start = fh.tell()
    magic = fh.read(4)
    fh.seek(start)
    if not magic.startswith(b"PK"):
        if magic[:1] == b"\x80" or magic[:1] in (b"(", b"]", b"}"):  # the first opcodes of pickle streams
            _fail(name, _PICKLE_REFUSED)
        _fail(name, "is not a file written by neurona.save (not a zip archive)" + ("; the file is empty" if not magic
                                                                                 else ""))
    try:
        with zipfile.ZipFile(fh) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        _fail(name, f"truncated or corrupted file ({type(e).__name__}: {e})")
    fh.seek(start)
    if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
        _fail(name, "was written by torch.save: it " + _PICKLE_REFUSED)
    try:
        z = np.load(fh, allow_pickle=False)
    except ValueError as e:
        _fail(name, f"is not a file written by neurona.save ({e})")
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        _fail(name, f"truncated or corrupted file ({type(e).__name__}: {e})")
    with z:
        files = set(z.files)
        if HEADER not in files:
            _fail(name, "is not a file written by neurona.save: it has no header")
        raw = _read_array(z, HEADER, name)
        if raw.dtype != np.uint8 or raw.ndim != 1 or raw.size > _MAX_HEADER:
            _fail(name, f"malformed header: expected a 1-D uint8 array, got {raw.dtype} of shape {raw.shape}")
        try:
            header = json.loads(raw.tobytes().decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            _fail(name, f"malformed header: not valid JSON ({e})")
        arrays = _check_header(header, files, name)
        loaded = {k: _read_array(z, k, name) for k in arrays}
    for k, spec in arrays.items():
        a = loaded[k]
        if a.dtype.name != spec["dtype"] or list(a.shape) != spec["shape"]:
            _fail(name, f"array {k!r} has dtype {a.dtype.name} and shape {tuple(a.shape)}, the header says "
                        f"{spec['dtype']} {tuple(spec['shape'])}")
    try:
        return _Decoder(loaded, name, map_location).decode(header["object"], "the object")
    except RecursionError:
        _fail(name, "malformed header: nested too deeply")


def _check_header(h, files: set, name) -> dict:
    from .io import HEADER

    if not isinstance(h, dict):
        _fail(name, f"malformed header: expected a JSON object, got {type(h).__name__}")
    if h.get("format") == "neurona":
        _fail(name, "is a neurona model file (written by neurona.io.save or save_checkpoint), not by neurona.save: "
                    "load it with neurona.io.load(path), or read its weights with "
                    "neurona.io.read_model_file(path).weights")
    if h.get("format") != FORMAT:
        _fail(name, f"is not a file written by neurona.save: header format {h.get('format')!r}")
    v = h.get("version")
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        _fail(name, f"malformed header: version {v!r}")
    if v > VERSION:
        _fail(name, f"was written by a newer neurona (format version {v}); this version reads up to {VERSION}")
    arrays = h.get("arrays")
    if not isinstance(arrays, dict) or "object" not in h:
        _fail(name, "malformed header: 'arrays' or 'object' is missing")
    for key, spec in arrays.items():
        if not isinstance(key, str) or key == HEADER or not isinstance(spec, dict):
            _fail(name, f"malformed header: bad array entry {key!r}")
        shape, dtype = spec.get("shape"), spec.get("dtype")
        if not isinstance(shape, list) or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                                                  for s in shape):
            _fail(name, f"malformed header: array {key!r} has shape {shape!r}")
        if dtype not in _DTYPES:
            _fail(name, f"array {key!r} has dtype {dtype!r}; only numeric dtypes are allowed")
    extra = sorted(files - set(arrays) - {HEADER})
    missing = sorted(set(arrays) - files)
    if extra:
        _fail(name, f"entries not declared in the header: {', '.join(extra[:5])}")
    if missing:
        _fail(name, f"truncated or incomplete: arrays declared in the header are missing: {', '.join(missing[:5])}")
    return arrays


class _Decoder:
    """Rebuild the object from its JSON and arrays: only the types ``save`` writes are ever made."""

    def __init__(self, arrays: dict, name, map_location):
        self.arrays, self.name, self.map_location = arrays, name, map_location
        self.made: dict[str, Any] = {}  # array key -> the tensor or ndarray built from it (shared references)

    def _bad(self, where: str, what: str):
        _fail(self.name, f"malformed header: {where} {what}")

    def _array(self, key, where: str):
        if not isinstance(key, str) or key not in self.arrays:
            self._bad(where, f"refers to array {key!r}, which is not in the file")
        return self.arrays[key]

    def decode(self, obj, where: str) -> Any:
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return obj
        if isinstance(obj, list):
            return [self.decode(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        if not isinstance(obj, dict):
            self._bad(where, f"holds a {type(obj).__name__}")
        if "__tensor__" in obj:
            return self._tensor(obj, where)
        if len(obj) == 1:
            (k, v), = obj.items()
            if k == "__ndarray__":
                if v not in self.made:
                    self.made[v] = self._array(v, where)
                return self.made[v]
            if k == "__scalar__":
                a = self._array(v, where)
                if a.ndim != 0:
                    self._bad(where, "is a NumPy scalar whose array is not 0-d")
                return a[()]
            if k == "__float__":
                if v not in ("nan", "inf", "-inf"):
                    self._bad(where, f"holds the float {v!r}")
                return float(v)
            if k == "__tuple__":
                if not isinstance(v, list):
                    self._bad(where, "is a tuple that is not a list")
                return tuple(self.decode(x, f"{where}[{i}]") for i, x in enumerate(v))
            if k == "__dtype__":
                if v not in _DTYPES:
                    self._bad(where, f"names the dtype {v!r}")
                return np.dtype(v)
            if k == "__device__":
                try:
                    return backend.device(v)
                except (RuntimeError, TypeError):
                    self._bad(where, f"names the device {v!r}")
        if set(obj) == {"__dict__", "ordered"}:
            items = obj["__dict__"]
            if not isinstance(items, list) or not all(isinstance(p, list) and len(p) == 2 for p in items):
                self._bad(where, "is a dict whose items are not [key, value] pairs")
            out = OrderedDict() if obj["ordered"] else {}
            for k, v in items:
                key = self._key(k, where)
                out[key] = self.decode(v, f"{where}[{key!r}]")
            return out
        self._bad(where, f"holds an object with keys {sorted(obj)[:5]}, which neurona.save never writes")

    def _key(self, k, where: str):
        if k is None or isinstance(k, (bool, int, float, str)):
            return k
        if isinstance(k, dict) and len(k) == 1 and "__tuple__" in k and isinstance(k["__tuple__"], list):
            return tuple(self._key(x, where) for x in k["__tuple__"])
        if isinstance(k, dict) and len(k) == 1 and k.get("__float__") in ("nan", "inf", "-inf"):
            return float(k["__float__"])
        self._bad(where, f"has a dict key {k!r} of a kind neurona.save never writes")

    def _tensor(self, obj, where: str) -> Tensor:
        key = obj["__tensor__"]
        if set(obj) != {"__tensor__", "requires_grad", "parameter", "device"}:
            self._bad(where, f"is a tensor with entries {sorted(obj)}")
        if key in self.made:
            return self.made[key]
        a = self._array(key, where)
        if a.dtype.kind not in "fiub":
            self._bad(where, f"is a tensor of dtype {a.dtype}")
        rg, is_param, saved = obj["requires_grad"], obj["parameter"], obj["device"]
        if not isinstance(rg, bool) or not isinstance(is_param, bool) or not isinstance(saved, str):
            self._bad(where, "is a tensor with malformed flags")
        if rg and a.dtype.kind != "f":
            self._bad(where, f"is an integer tensor ({a.dtype}) that requires grad")
        dev = _target_device(self.map_location, saved, self.name)
        a = backend.to_device(a, dev)
        if is_param:
            from .nn.parameter import Parameter
            t = Parameter(_wrap(a), requires_grad=rg)
        else:
            t = _wrap(a)
            if rg:
                t.requires_grad_(True)
        self.made[key] = t
        return t
