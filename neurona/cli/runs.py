"""Run folders: where a command writes (``runs/<name>/``), the JSON files in them, and finding a model in one."""
from __future__ import annotations

import datetime as _dt
import json
import math
from pathlib import Path

import numpy as np

from .output import CLIError

__all__ = ["new_run_dir", "write_json", "jsonable", "model_path", "timestamp"]


def timestamp() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


def new_run_dir(out: str, name: str | None, slug: str) -> Path:
    """The folder of a new run: ``out/name``, or ``out/<slug>-<date>-<time>`` (not created yet)."""
    base = Path(out)
    if name:
        if "/" in name or name in (".", ".."):
            raise CLIError(f"--name must be a plain folder name, got {name!r}")
        run = base / name
        if (run / "checkpoint.npz").exists() or (run / "model.npz").exists():
            raise CLIError(f"{run} already holds a run; choose another --name, or continue it with --resume {run}")
        return run
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run = base / f"{slug}-{stamp}"
    k = 2
    while run.exists():
        run = base / f"{slug}-{stamp}-{k}"
        k += 1
    return run


def write_json(path: Path, obj) -> None:
    """Write ``obj`` as indented JSON, atomically; NaN and infinities become null."""
    from ..io import atomic_write

    with atomic_write(path, "w", encoding="utf-8") as f:
        json.dump(jsonable(obj), f, indent=2, allow_nan=True)
        f.write("\n")


def jsonable(obj):
    """``obj`` with arrays as lists, NumPy scalars as Python numbers and non-finite floats as None."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    return obj


def model_path(p: str) -> Path:
    """The model file named by ``p``: the file itself, or a run folder's ``model.npz`` (else its checkpoint)."""
    path = Path(p)
    if path.is_dir():
        for name in ("model.npz", "checkpoint.npz"):
            if (path / name).exists():
                return path / name
        raise CLIError(f"{path} is a folder without model.npz; pass a model file or a run folder")
    if not path.exists():
        raise CLIError(f"{path}: no such model file")
    return path
