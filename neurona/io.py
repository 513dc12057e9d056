"""Safe model files and training checkpoints (``neurona.io``).

>>> neurona.io.save(model, "fashion.npz", dataset="fashion-mnist", test_accuracy=0.89)
>>> model = neurona.io.load("fashion.npz")           # rebuilt from its stored config, in eval mode

**The format.** A file is a zip archive in NumPy's ``.npz`` layout holding
only plain numeric arrays: the weights (``weights/<name>``), any arrays of
the optimizer, preprocessing or RNG state (``state/<n>``), and one JSON
header stored as a uint8 array (``__header__``). The header names the
format and version, the model (its registered name and config: JSON values
that ``neurona.models`` turns back into a model) and every array with its
shape and dtype, plus the metadata, the preprocessing statistics and, in a
checkpoint, the optimizer state, the epoch, the trainer's state and the
random generators' states. The files open with ``numpy.load(path,
allow_pickle=False)`` anywhere.

**No pickle, nothing executed.** Files are read with
``allow_pickle=False``; the header is checked (format, version, keys, every
array's shape and dtype, no unknown entries) before anything is built, and a
model is built only through a builder registered in
``neurona.models.registry``. A file holding pickled objects, a malformed
header, a truncated or corrupted archive, or weights of the wrong shape
raises :class:`ModelFileError` naming the file and the problem.

**Bounded reading.** Before any array is allocated or decompressed, the
archive's declared sizes, each entry's ``.npy`` header and the JSON header
must agree, the arrays may hold at most ``max_bytes`` together (4 GiB by
default, ``NEURONA_MAX_FILE_BYTES`` to change it), and a large entry that
would decompress to more than 200 times its stored size is refused as a
decompression bomb. A path naming a FIFO or a device is refused without
opening it for long. Anything wrong is a :class:`ModelFileError`.

**Atomic writes.** A file is written to a temporary file in the same
folder, flushed and fsync'ed, then renamed over the target
(``os.replace``), so a crash or a kill during a save leaves the previous
file intact. A process killed mid-save leaves its temporary file
(``.<name>.tmp-*``) behind; :func:`stale_temporaries` finds them.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import backend

__all__ = ["save", "load", "read_model_file", "ModelFile", "save_checkpoint", "load_checkpoint", "Checkpoint",
           "ModelFileError", "atomic_write", "stale_temporaries", "capture_rng_state", "restore_rng_state", "FORMAT",
           "VERSION"]

FORMAT = "neurona"
VERSION = 1
HEADER = "__header__"
KINDS = ("model", "checkpoint")
_MAX_HEADER = 64 * 1024 * 1024
_DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "float32",
           "float64", "complex64", "complex128"}
# preprocessing objects that load() may rebuild, by class name (nothing else is ever instantiated)
_PREPROCESSORS = ("Standardizer", "MinMaxScaler")

# called after each array entry is written (tests use it to interrupt a save half-way); name -> None
_on_entry_written = None


class ModelFileError(ValueError):
    """A model or checkpoint file cannot be used; the message names the file and the problem."""

    def __init__(self, path, problem: str):
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


# --- atomic writing -------------------------------------------------------------------


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb", **kwargs):
    """Open a temporary file next to ``path``; on success fsync it and rename it to ``path``.

    >>> with atomic_write("results.csv", "w") as f:
    ...     f.write("a,b\\n")

    If the block raises (or the process dies), ``path`` keeps its previous
    content and the temporary file is removed (or left as ``.<name>.tmp-*``).
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=folder)
    try:
        os.chmod(tmp, _file_mode(path))
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.filename is None:  # a failed write names the file, not the descriptor
            e.filename = os.fspath(path)
        raise
    _fsync_dir(folder)


_TEMPORARY = re.compile(r"^\..+\.tmp-[a-z0-9_]{8}$")  # the names atomic_write's mkstemp gives


def stale_temporaries(folder) -> list[Path]:
    """The temporary files :func:`atomic_write` left in ``folder`` when its process died mid-write.

    Call it where no other process is writing into ``folder`` (a run folder
    being resumed): a write still in progress has a file of the same kind.
    """
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return []
    return sorted(p for p in entries if _TEMPORARY.match(p.name) and p.is_file() and not p.is_symlink())


def _file_mode(path: Path) -> int:
    """The permissions a new file would get (mkstemp's are private): the old file's, else 0o666 minus umask."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        pass
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _fsync_dir(folder: Path) -> None:
    # make the rename itself durable; not possible on every platform
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- encoding nested state into JSON + arrays ------------------------------------------


def _contiguous(a: np.ndarray) -> np.ndarray:
    # np.ascontiguousarray would turn a 0-d array into shape (1,)
    return a if a.flags.c_contiguous else np.array(a, order="C")


class _Encoder:
    """Turn nested dicts/lists/tuples of numbers, strings and arrays into JSON plus named arrays."""

    def __init__(self, prefix: str = "state/"):
        self.prefix = prefix
        self.arrays: dict[str, np.ndarray] = {}

    def array(self, a, where: str) -> dict:
        from .engine import Tensor

        a = a.array if isinstance(a, Tensor) else a
        a = backend.to_numpy(a) if backend.is_array(a) else np.asarray(a)  # files hold host arrays: any device
        if a.dtype.name not in _DTYPES:
            raise TypeError(f"cannot store {where}: arrays must be numeric, this one has dtype {a.dtype}")
        key = f"{self.prefix}{len(self.arrays)}"
        self.arrays[key] = _contiguous(a)
        return {"__array__": key}

    def encode(self, obj, where: str = "value") -> Any:
        from .engine import Tensor

        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, np.bool_):
            return bool(obj)
        if isinstance(obj, (int, np.integer)):
            return int(obj)
        if isinstance(obj, (float, np.floating)):
            v = float(obj)
            return v if math.isfinite(v) else {"__float__": repr(v)}
        if isinstance(obj, Tensor) or backend.is_array(obj):
            return self.array(obj, where)
        if isinstance(obj, tuple):
            return {"__tuple__": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]}
        if isinstance(obj, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        if isinstance(obj, dict):
            if all(isinstance(k, str) and not k.startswith("__") for k in obj):
                return {k: self.encode(v, f"{where}.{k}") for k, v in obj.items()}
            items = []
            for k, v in obj.items():
                if isinstance(k, np.integer):
                    k = int(k)
                if not isinstance(k, (str, int)) or isinstance(k, bool):
                    raise TypeError(f"cannot store {where}: dict keys must be strings or integers, got {k!r}")
                items.append([k, self.encode(v, f"{where}.{k}")])
            return {"__items__": items}
        raise TypeError(f"cannot store {where}: a {type(obj).__name__} (only numbers, strings, lists, tuples, dicts "
                        f"and numeric arrays are stored; nothing is pickled)")


def _decode(obj, arrays: dict, path, where: str = "header") -> Any:
    if isinstance(obj, list):
        return [_decode(v, arrays, path, f"{where}[{i}]") for i, v in enumerate(obj)]
    if not isinstance(obj, dict):
        return obj
    if len(obj) == 1:
        (k, v), = obj.items()
        if k == "__array__":
            if not isinstance(v, str) or v not in arrays:
                raise ModelFileError(path, f"malformed header: {where} refers to array {v!r}, which is not in the file")
            return arrays[v]
        if k == "__float__":
            if v not in ("nan", "inf", "-inf"):
                raise ModelFileError(path, f"malformed header: {where} holds the float {v!r}")
            return float(v)
        if k == "__tuple__":
            if not isinstance(v, list):
                raise ModelFileError(path, f"malformed header: {where} is a tuple that is not a list")
            return tuple(_decode(x, arrays, path, f"{where}[{i}]") for i, x in enumerate(v))
        if k == "__items__":
            if not isinstance(v, list) or not all(isinstance(p, list) and len(p) == 2 for p in v):
                raise ModelFileError(path, f"malformed header: {where} is a dict whose items are not "
                                           f"[key, value] pairs")
            return {p[0]: _decode(p[1], arrays, path, f"{where}.{p[0]}") for p in v}
    return {k: _decode(v, arrays, path, f"{where}.{k}") for k, v in obj.items()}


# --- writing ------------------------------------------------------------------------


def _write(path, header: dict, arrays: dict[str, np.ndarray]) -> None:
    header = dict(header)
    header["arrays"] = {k: {"shape": list(a.shape), "dtype": a.dtype.name} for k, a in arrays.items()}
    blob = np.frombuffer(json.dumps(header, allow_nan=False, separators=(",", ":")).encode("utf-8"), dtype=np.uint8)
    with atomic_write(path, "wb") as f:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            _write_entry(zf, HEADER, blob)
            for key, a in arrays.items():
                _write_entry(zf, key, a)
                if _on_entry_written is not None:
                    _on_entry_written(key)


def _write_entry(zf: zipfile.ZipFile, key: str, a: np.ndarray) -> None:
    with zf.open(key + ".npy", "w", force_zip64=True) as m:
        np.lib.format.write_array(m, _contiguous(a), allow_pickle=False)


def _base_header(kind: str) -> dict:
    from . import __version__

    return {"format": FORMAT, "version": VERSION, "kind": kind, "neurona_version": __version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}


def _model_entries(model, enc: _Encoder) -> tuple[dict | None, list[str], dict[str, np.ndarray]]:
    from .models.registry import model_config

    if not hasattr(model, "state_dict"):
        raise TypeError(f"save: expected a neurona.nn.Module, got {type(model).__name__}")
    found = model_config(model)
    spec = None
    if found is not None:
        name, config = found
        cfg_enc = _Encoder("config/")
        config_json = cfg_enc.encode(config, "the model config")
        if cfg_enc.arrays:
            raise TypeError(f"save: the config of model {name!r} holds arrays; a config holds plain values only")
        spec = {"name": name, "config": config_json, "class": type(model).__name__}
    weights = {}
    names = []
    for k, v in model.state_dict().items():
        a = backend.to_numpy(v.array)  # files hold host arrays: any device
        if a.dtype.name not in _DTYPES:
            raise TypeError(f"save: weight {k!r} has dtype {a.dtype}, which cannot be stored")
        weights["weights/" + k] = _contiguous(a)
        names.append(k)
    return spec, names, weights


def _preprocessing_entry(pre, enc: _Encoder):
    if pre is None:
        return None
    if isinstance(pre, dict):
        return {"type": "dict", "state": enc.encode(pre, "preprocessing")}
    if hasattr(pre, "state_dict"):
        return {"type": type(pre).__name__, "state": enc.encode(pre.state_dict(), "preprocessing")}
    raise TypeError(f"save: preprocessing must be a dict or an object with state_dict() "
                    f"(e.g. neurona.data.Standardizer), got {type(pre).__name__}")


def save(model, path, *, preprocessing=None, format: str = "npz", **metadata) -> Path:
    """Write ``model`` to ``path`` as a safe model file; return the path.

    ``format="safetensors"`` writes the ``state_dict`` as a ``.safetensors``
    file instead, with the model's name and config (and ``metadata``, JSON
    values only) in its header: see :mod:`neurona.safetensors`.

    ``preprocessing``: the fitted input scaling (e.g. a
    ``neurona.data.Standardizer``) the model expects, stored with it.
    ``metadata``: any JSON-like values (numbers, strings, lists, dicts,
    arrays) — dataset, class names, input shape, test accuracy... A model
    built from ``neurona.models`` (or registered there) stores its config and
    is rebuilt by ``load(path)``; any other Module stores its weights only and
    is loaded with ``load(path, model=an_instance)``.
    """
    if format == "safetensors":
        if preprocessing is not None:
            raise TypeError("save(format='safetensors'): preprocessing statistics are stored in the npz format only")
        from .safetensors import save_model

        return save_model(model, path, **metadata)
    if format != "npz":
        raise ValueError(f"save: format must be 'npz' or 'safetensors', got {format!r}")
    enc = _Encoder()
    spec, names, weights = _model_entries(model, enc)
    header = _base_header("model")
    header["model"] = spec
    header["weights"] = names
    header["preprocessing"] = _preprocessing_entry(preprocessing, enc)
    header["metadata"] = enc.encode(metadata, "metadata")
    _write(path, header, {**weights, **enc.arrays})
    return Path(path)


# --- reading ----------------------------------------------------------------------------


def _fail(path, problem: str):
    raise ModelFileError(path, problem)


def _open(path, max_bytes: int | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    """Read and validate a file: (header, arrays). Nothing is built; pickled data is refused.

    Sizes come first (see ``neurona._bounded``): the archive's entries and
    each array's declared shape and dtype are checked against the header
    before the array is allocated or decompressed.
    """
    from ._bounded import BoundedNpz

    p = Path(path)
    if not p.exists() and not p.is_symlink():
        raise FileNotFoundError(f"{p}: no such model file")
    if p.is_dir():
        _fail(p, "is a folder, not a model file (for a run folder pass runs/<name>/model.npz)")
    with BoundedNpz(p, ModelFileError, max_bytes, what="a neurona model file") as z:
        files = z.names
        if HEADER not in files:
            _fail(p, f"not a neurona model file: no {HEADER!r} entry (entries: {', '.join(files[:8]) or 'none'})")
        head = z.member(HEADER)
        if head.dtype != np.uint8 or len(head.shape) != 1 or head.nbytes > _MAX_HEADER:
            _fail(p, f"malformed header: expected a 1-D uint8 array of at most {_MAX_HEADER} bytes, got "
                     f"{head.dtype} of shape {head.shape}")
        raw = z.read(HEADER)
        try:
            header = json.loads(raw.tobytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
            _fail(p, f"malformed header: not valid JSON ({type(e).__name__}: {e})")
        _check_header(header, p)
        declared = header["arrays"]
        extra = sorted(set(files) - set(declared) - {HEADER})
        missing = sorted(set(declared) - set(files))
        if extra:
            _fail(p, f"entries not declared in the header: {', '.join(extra[:5])}")
        if missing:
            _fail(p, f"truncated or incomplete: arrays declared in the header are missing: {', '.join(missing[:5])}")
        for key, spec in declared.items():  # every array as the header says, before any is read
            m = z.member(key)
            if m.dtype.name != spec["dtype"] or list(m.shape) != spec["shape"]:
                _fail(p, f"array {key!r} has dtype {m.dtype.name} and shape {tuple(m.shape)}, the header says "
                         f"{spec['dtype']} {tuple(spec['shape'])}")
        arrays = {key: z.read(key) for key in declared}
    return header, arrays


def _read_array(z, key: str, p) -> np.ndarray:
    """One array of an open ``np.load`` archive, as a ModelFileError naming ``p`` when it cannot be read."""
    try:
        return z[key]
    except ValueError as e:
        if "pickle" in str(e) or "Object arrays" in str(e):
            _fail(p, f"entry {key!r} holds pickled Python objects; neurona never loads pickle (it can run arbitrary "
                     f"code)")
        _fail(p, f"entry {key!r} is not a valid array ({e})")
    except (zipfile.BadZipFile, EOFError, OSError, KeyError) as e:
        _fail(p, f"truncated or corrupted file: cannot read entry {key!r} ({type(e).__name__}: {e})")


def _check_header(h, p: Path) -> None:
    if not isinstance(h, dict):
        _fail(p, f"malformed header: expected a JSON object, got {type(h).__name__}")
    if h.get("format") != FORMAT:
        _fail(p, f"not a neurona model file: header format is {h.get('format')!r}, expected {FORMAT!r}")
    v = h.get("version")
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        _fail(p, f"malformed header: version {v!r}")
    if v > VERSION:
        _fail(p, f"written by a newer neurona (format version {v}); this version reads up to {VERSION}. "
                 f"Upgrade neurona to load it")
    if h.get("kind") not in KINDS:
        _fail(p, f"malformed header: kind {h.get('kind')!r}, expected one of {KINDS}")
    arrays = h.get("arrays")
    if not isinstance(arrays, dict):
        _fail(p, "malformed header: 'arrays' is missing or not an object")
    for key, spec in arrays.items():
        if not isinstance(key, str) or key == HEADER or not isinstance(spec, dict):
            _fail(p, f"malformed header: bad array entry {key!r}")
        shape, dtype = spec.get("shape"), spec.get("dtype")
        if not isinstance(shape, list) or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                                                  for s in shape):
            _fail(p, f"malformed header: array {key!r} has shape {shape!r}")
        if dtype not in _DTYPES:
            _fail(p, f"array {key!r} has dtype {dtype!r}; only numeric dtypes are allowed")
    names = h.get("weights")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        _fail(p, "malformed header: 'weights' must be a list of names")
    for n in names:
        if "weights/" + n not in arrays:
            _fail(p, f"malformed header: weight {n!r} has no array")
    model = h.get("model")
    if model is not None:
        if not isinstance(model, dict) or not isinstance(model.get("name"), str) \
                or not isinstance(model.get("config"), dict):
            _fail(p, "malformed header: 'model' must be an object with a string 'name' and an object 'config'")
    for key in ("metadata", "preprocessing"):
        if key in h and h[key] is not None and not isinstance(h[key], dict):
            _fail(p, f"malformed header: {key!r} must be an object")


@dataclass
class ModelFile:
    """A validated model or checkpoint file, not yet turned into a model.

    ``weights`` maps names to arrays; ``model_name``/``config`` say how to
    rebuild it (None for a weights-only file); ``metadata`` and
    ``preprocessing`` are decoded; ``header`` is the raw JSON header.
    """

    path: Path
    kind: str
    header: dict
    weights: dict[str, np.ndarray]
    model_name: str | None
    config: dict | None
    metadata: dict
    preprocessing: Any
    arrays: dict[str, np.ndarray] = field(repr=False, default_factory=dict)

    def decode(self, key: str) -> Any:
        """A header entry with its array references resolved (e.g. ``'optimizer'``, ``'rng'``)."""
        return _decode(self.header.get(key), self.arrays, self.path, key)

    def build(self, model=None):
        """The model with these weights (built from the config unless ``model`` is given), in eval mode."""
        model = self.checked_model(model)
        model.load_state_dict(self.weights)
        if hasattr(model, "eval"):
            model.eval()
        return model

    def checked_model(self, model=None):
        """``model`` (or one built from the config) once its names and shapes match the file; weights not loaded."""
        if model is None:
            if self.model_name is None:
                _fail(self.path, "stores weights only (the model was not built from neurona.models); "
                                 "pass the model to load the weights into: load(path, model=MyModel(...))")
            from .models.registry import UnknownModelError, build_model

            try:
                model = build_model(self.model_name, **self.config)
            except UnknownModelError as e:
                _fail(self.path, f"{e}")
            except (TypeError, ValueError) as e:
                _fail(self.path, f"cannot build model {self.model_name!r} from its config {self.config}: {e}")
            except MemoryError:
                _fail(self.path, f"its config describes a model {self.model_name!r} too large to build in memory "
                                 f"({self.config})")
        check_architecture(model, self.weights, self.path)
        return model


def check_architecture(model, weights: dict, path) -> None:
    """Raise ModelFileError unless ``weights`` has exactly the model's names and shapes."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in weights.items()}
    problems = []
    missing = [k for k in expected if k not in got]
    unexpected = [k for k in got if k not in expected]
    if missing:
        problems.append("missing " + ", ".join(missing[:6]) + (" ..." if len(missing) > 6 else ""))
    if unexpected:
        problems.append("unexpected " + ", ".join(unexpected[:6]) + (" ..." if len(unexpected) > 6 else ""))
    for k in expected:
        if k in got and expected[k] != got[k]:
            problems.append(f"{k}: the file has shape {got[k]}, the model expects {expected[k]}")
    if problems:
        _fail(path, f"holds weights for a different architecture than {type(model).__name__}: " + "; ".join(problems))


def _rebuild_preprocessing(entry, arrays, path):
    if entry is None:
        return None
    if not isinstance(entry, dict) or "type" not in entry or "state" not in entry:
        _fail(path, "malformed header: 'preprocessing' needs 'type' and 'state'")
    state = _decode(entry["state"], arrays, path, "preprocessing")
    kind = entry["type"]
    if kind == "dict":
        return state
    if kind in _PREPROCESSORS:
        from . import data

        obj = getattr(data, kind)()
        try:
            obj.load_state_dict(state)
        except (KeyError, ValueError, TypeError) as e:
            _fail(path, f"preprocessing {kind} cannot be restored: {e}")
        return obj
    return {"type": kind, "state": state}  # unknown kind: handed back as data, never instantiated


def read_model_file(path, *, max_bytes: int | None = None) -> ModelFile:
    """Open and validate a model or checkpoint file without building the model.

    ``max_bytes``: the most array content read (default 4 GiB, or
    ``NEURONA_MAX_FILE_BYTES``); a larger file is refused before it is read.
    """
    header, arrays = _open(path, max_bytes)
    p = Path(path)
    weights = {n: arrays["weights/" + n] for n in header["weights"]}
    model = header.get("model")
    metadata = _decode(header.get("metadata") or {}, arrays, p, "metadata")
    config = None
    if model is not None:
        config = _decode(model["config"], arrays, p, "model.config")
    pre = _rebuild_preprocessing(header.get("preprocessing"), arrays, p)
    return ModelFile(p, header["kind"], header, weights, None if model is None else model["name"], config,
                     metadata, pre, arrays)


def load(path, model=None):
    """Load a model file (or the model of a checkpoint); the model comes back in eval mode.

    Without ``model``, the architecture is rebuilt from the stored name and
    config; with it, the weights are loaded into that instance after checking
    that names and shapes match. ``read_model_file(path)`` gives the
    metadata and preprocessing too. A ``.safetensors`` file is read by
    :func:`neurona.safetensors.load_model`, with the same checks.
    """
    if Path(path).suffix == ".safetensors":
        from .safetensors import load_model

        return load_model(path, model)
    return read_model_file(path).build(model)


# --- checkpoints ------------------------------------------------------------------------


def _bitgen_state(gen) -> dict | None:
    if isinstance(gen, np.random.Generator):
        return gen.bit_generator.state
    return None


def _loader_generators(loader) -> list:
    """The private random generators a DataLoader uses (its own and its transforms'), in a fixed order."""
    gens = []
    if loader is None:
        return gens
    g = getattr(loader, "generator", None)
    gens.append(g if isinstance(g, np.random.Generator) else None)
    transform = getattr(loader, "transform", None)
    stack = [transform]
    while stack:
        t = stack.pop(0)
        if t is None:
            continue
        own = t.__dict__.get("_rng") if hasattr(t, "__dict__") else None
        gens.append(own if isinstance(own, np.random.Generator) else None)
        stack.extend(getattr(t, "transforms", []) or [])
    return gens


def capture_rng_state(loader=None) -> dict:
    """The states of neurona's global generator and of ``loader``'s own generators (shuffling, augmentation)."""
    from .creation import get_rng_state

    return {"global": get_rng_state(), "loader": [_bitgen_state(g) for g in _loader_generators(loader)]}


def restore_rng_state(state: dict, loader=None) -> None:
    """Put back what :func:`capture_rng_state` returned (into ``loader`` when given)."""
    from .creation import set_rng_state

    if state.get("global") is not None:
        set_rng_state(state["global"])
    if loader is not None:
        saved = state.get("loader") or []
        gens = _loader_generators(loader)
        if len(saved) != len(gens):
            raise ValueError(f"restore_rng_state: the checkpoint has {len(saved)} loader generator states, the "
                             f"loader has {len(gens)} (was it built the same way?)")
        for g, s in zip(gens, saved):
            if g is not None and s is not None:
                g.bit_generator.state = s


def save_checkpoint(path, model, optimizer=None, epoch: int = 0, *, trainer=None, loader=None, preprocessing=None,
                    extra: dict | None = None, **metadata) -> Path:
    """Write a training checkpoint: weights, config, optimizer state, epoch, RNG states, trainer state.

    ``trainer`` (a ``neurona.train.Trainer``) adds the history and the
    callbacks' states (early stopping's best value and weights, the
    learning-rate schedule...); ``loader`` adds the states of the training
    DataLoader's own generators, so that a resumed run shuffles and augments
    exactly as an uninterrupted one. ``extra``: anything else to resume
    (JSON-like values and arrays).
    """
    enc = _Encoder()
    spec, names, weights = _model_entries(model, enc)
    header = _base_header("checkpoint")
    header["model"] = spec
    header["weights"] = names
    header["epoch"] = int(epoch)
    if optimizer is not None:
        header["optimizer"] = {"class": type(optimizer).__name__,
                               "state": enc.encode(optimizer.state_dict(), "optimizer state")}
    header["rng"] = enc.encode(capture_rng_state(loader), "rng state")
    if trainer is not None:
        header["trainer"] = enc.encode(trainer.state_dict(), "trainer state")
    header["extra"] = enc.encode(extra or {}, "extra")
    header["preprocessing"] = _preprocessing_entry(preprocessing, enc)
    header["metadata"] = enc.encode(metadata, "metadata")
    _write(path, header, {**weights, **enc.arrays})
    return Path(path)


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` restored: the model, the epoch reached and the rest of the saved state."""

    model: Any
    epoch: int
    metadata: dict
    preprocessing: Any
    extra: dict
    optimizer_state: dict | None
    trainer_state: dict | None
    rng_state: dict | None
    file: ModelFile


def load_checkpoint(path, model=None, optimizer=None, *, trainer=None, loader=None,
                    restore_rng: bool = True) -> Checkpoint:
    """Restore a checkpoint written by :func:`save_checkpoint`.

    The weights go into ``model`` (or a model rebuilt from the config);
    ``optimizer``, ``trainer`` and ``loader`` get their saved states when
    given; with ``restore_rng`` neurona's global generator is reset to its
    saved state. The model is left in training mode. Everything is validated
    before anything changes.
    """
    f = read_model_file(path)
    if f.kind != "checkpoint":
        _fail(f.path, "is a model file, not a training checkpoint (it has no optimizer or RNG state); "
                      "use neurona.io.load for it")
    epoch = f.header.get("epoch")
    if not isinstance(epoch, int) or epoch < 0:
        _fail(f.path, f"malformed header: epoch {epoch!r}")
    opt_entry = f.header.get("optimizer")
    opt_state = None
    if opt_entry is not None:
        if not isinstance(opt_entry, dict) or "state" not in opt_entry:
            _fail(f.path, "malformed header: 'optimizer' needs 'class' and 'state'")
        opt_state = _decode(opt_entry["state"], f.arrays, f.path, "optimizer")
        if optimizer is not None and opt_entry.get("class") != type(optimizer).__name__:
            _fail(f.path, f"holds the state of a {opt_entry.get('class')} optimizer, not of a "
                          f"{type(optimizer).__name__}")
    rng = f.decode("rng")
    trainer_state = f.decode("trainer")
    extra = f.decode("extra") or {}
    if optimizer is not None and opt_state is None:
        _fail(f.path, "holds no optimizer state")
    # whatever can refuse the file does so before the model's weights change: the architecture, the optimizer
    # state (checked and copied before it is committed), the trainer's callbacks
    m = f.checked_model(model)
    if optimizer is not None:
        try:
            optimizer.load_state_dict(opt_state)
        except (ValueError, KeyError, TypeError) as e:
            _fail(f.path, f"the optimizer state does not fit this optimizer: {e}")
    if trainer is not None and trainer_state is not None:
        trainer.load_state_dict(trainer_state)
    m.load_state_dict(f.weights)
    if hasattr(m, "train"):
        m.train()
    if restore_rng and rng is not None:
        restore_rng_state(rng, loader)
    return Checkpoint(m, epoch, f.metadata, f.preprocessing, extra, opt_state, trainer_state, rng, f)
