"""Run folders: where a command writes (``runs/<name>/``), the JSON files in them, and finding a model in one.

A command that writes a run folder checks early that it can (the nearest
existing folder is a writable folder), holds a lock on it while it writes
(two processes never write one run), removes the temporary files that a
killed process left there, and, if it fails before anything worth keeping
was written, removes what it wrote.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import os
import re
import shutil
from pathlib import Path

import numpy as np

from .output import CLIError

__all__ = ["new_run_dir", "write_json", "write_rows", "jsonable", "model_path", "timestamp", "check_writable", "RunFolder",
           "strip_stamp"]

_STAMP = re.compile(r"-\d{8}-\d{6}(-\d+)?$")


def timestamp() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


def strip_stamp(name: str) -> str:
    """A run name without the date and time that :func:`new_run_dir` appends (``mlp-xor-20260101-120000``)."""
    return _STAMP.sub("", name) or name


def check_writable(folder: Path) -> None:
    """Refuse early, before any work, a ``folder`` that cannot be created or written to."""
    p = Path(folder).absolute()
    while not p.exists():
        if p.is_symlink():  # a dangling link
            raise CLIError(f"{folder}: {p} is a broken symbolic link")
        p = p.parent
    if not p.is_dir():
        raise CLIError(f"{folder}: {p} is a file, not a folder; choose another --out")
    if not os.access(p, os.W_OK | os.X_OK):
        ro = ""
        with contextlib.suppress(OSError):
            if os.statvfs(p).f_flag & getattr(os, "ST_RDONLY", 1):
                ro = " (a read-only file system)"
        raise CLIError(f"{folder}: cannot write in {p}{ro}; choose another --out")


def new_run_dir(out: str, name: str | None, slug: str) -> Path:
    """The folder of a new run: ``out/name``, or ``out/<slug>-<date>-<time>`` (not created yet)."""
    base = Path(out)
    check_writable(base)
    if name:
        if "/" in name or os.sep in name or name in (".", ".."):
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


class RunFolder:
    """A run folder while a command writes it: created (or reopened), locked, cleaned of leftovers.

    >>> with RunFolder(run) as folder:
    ...     folder.write_json("config.json", {...})
    ...     ...                               # on an error, what this command wrote alone is removed
    ...     folder.keep()                     # the run is worth keeping from here on
    """

    def __init__(self, path: Path, *, existing: bool = False):
        self.path = Path(path)
        self.existing = existing
        self.created_folder = False
        self.written: list[Path] = []
        self.kept = existing
        self.saved_epoch = 0  # the epoch of the checkpoint in the folder, for the commands that train
        self.removed_leftovers: list[Path] = []
        self._lock = None

    def __enter__(self) -> "RunFolder":
        from ..io import stale_temporaries

        if not self.path.exists():
            self.path.mkdir(parents=True)
            self.created_folder = True
        self._acquire()
        for tmp in stale_temporaries(self.path):  # left by a process killed while saving
            with contextlib.suppress(OSError):
                tmp.unlink()
                self.removed_leftovers.append(tmp)
        return self

    def _acquire(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not on POSIX: no lock
            return
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise CLIError(f"{self.path} is being written by another neurona process; wait for it to finish "
                           f"(or stop it) before writing there") from None
        self._lock = fd

    def file(self, name: str) -> Path:
        """The path of ``name`` in the folder, remembered as written by this command."""
        p = self.path / name
        if not p.exists():
            self.written.append(p)
        return p

    def write_json(self, name: str, obj) -> Path:
        p = self.file(name)
        write_json(p, obj)
        return p

    def keep(self) -> None:
        """From now on an error leaves the folder as it is (it holds something to resume or use)."""
        self.kept = True

    def discard(self) -> bool:
        """Remove what this command wrote: the folder if it made it (holding the lock, nobody else wrote
        there), else the files it wrote."""
        if self.created_folder:
            shutil.rmtree(self.path, ignore_errors=True)
            return not self.path.exists()
        for p in self.written:
            with contextlib.suppress(OSError):
                p.unlink()
        return True

    def __exit__(self, kind, exc, tb):
        if exc is not None and not self.kept:
            self.discard()
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None
        return False


def write_rows(path: Path, rows: list[dict]) -> None:
    """history.csv for the tasks trained outside ``fit``: one row per epoch, atomically."""
    import csv

    from ..io import atomic_write

    with atomic_write(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["epoch"])
        w.writeheader()
        w.writerows(rows)


def write_json(path: Path, obj) -> None:
    """Write ``obj`` as indented JSON, atomically; NaN and infinities become null."""
    from ..io import atomic_write

    with atomic_write(path, "w", encoding="utf-8") as f:
        json.dump(jsonable(obj), f, indent=2, allow_nan=False)
        f.write("\n")


def jsonable(obj):
    """``obj`` with arrays as lists, NumPy scalars as Python numbers and non-finite floats as None."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
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
        hint = ""
        if (path / "metrics.json").exists():
            with contextlib.suppress(OSError, ValueError):
                if json.loads((path / "metrics.json").read_text(encoding="utf-8")).get("diverged"):
                    hint = " (its training diverged before the first epoch finished; see its metrics.json)"
        raise CLIError(f"{path} is a folder without model.npz{hint}; pass a model file or a run folder")
    if not path.exists():
        raise CLIError(f"{path}: no such model file")
    return path
