"""The user's own data: CSV and NPZ files into (X, y) arrays, and rows of inputs to predict for.

Errors are :class:`DataError` (a ``ValueError``) and point at the spot to
fix: the file, the row (the line of the file, the header being row 1) and
the column. Files are read within limits (``neurona._bounded``): a CSV file
of at most 512 MiB, an NPZ file whose arrays' declared sizes are checked
before anything is allocated or decompressed (4 GiB at most; a large entry
that would decompress to more than 200 times its size is refused), and
never a FIFO or a device.
"""
from __future__ import annotations

import csv
import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .._bounded import BoundedNpz, open_text

MISSING = {"", "na", "n/a", "nan", "null", "none", "?"}
_MAX_LISTED = 10


class DataError(ValueError):
    """Data that cannot be used as given: the message names the file (or data set), the spot and the problem."""


class MissingArrayError(DataError, KeyError):
    """An .npz file lacks an array that was asked for (a KeyError too, as for a dict)."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


def _error(path, problem: str) -> DataError:
    return DataError(f"{path}: {problem}")


@contextmanager
def _csv_rows(path: Path, delimiter: str = ","):
    """csv.reader over a bounded, regular, UTF-8 file; the csv module's complaints become DataErrors."""
    with open_text(path, _error) as f:
        reader = csv.reader(f, delimiter=delimiter)
        try:
            yield reader
        except csv.Error as e:
            raise DataError(f"{path}, row {reader.line_num}: not a well-formed CSV file ({e})") from None
        except UnicodeDecodeError as e:
            raise DataError(f"{path}, row {reader.line_num + 1}: not UTF-8 text ({e.reason} at byte "
                            f"{e.start}); is it a CSV file?") from None


def _cell_problems(cells: list[list[str]], rows: list[int], names: list[str], cols: list[int]):
    """(first non-numeric cell as (row, column, text) or None, [(row, column) of missing cells])."""
    bad, missing = None, []
    for r, line in zip(cells, rows):
        for text, c in zip(r, cols):
            t = text.strip()
            if t.lower() in MISSING:
                missing.append((line, names[c]))
                continue
            try:
                float(t)
            except ValueError:
                if bad is None:
                    bad = (line, names[c], text)
    return bad, missing


def _where(spots: list[tuple[int, str]]) -> str:
    shown = ", ".join(f"row {r} column {c!r}" for r, c in spots[:_MAX_LISTED])
    more = f" and {len(spots) - _MAX_LISTED} more" if len(spots) > _MAX_LISTED else ""
    return shown + more


def _to_float(path, cells, rows, names, cols, what: str) -> np.ndarray:
    try:
        values = np.array(cells, dtype=np.float64).reshape(len(cells), len(cols))
    except ValueError:
        values = None
    if values is not None and not np.isnan(values).any():
        return values
    bad, missing = _cell_problems(cells, rows, names, cols)
    if bad is not None:
        r, c, text = bad
        raise DataError(f"load_csv: {path}, row {r}, column {c!r}: cannot read {text!r} as a number "
                         f"(every {what} column must be numeric)")
    raise DataError(f"load_csv: {path} has {len(missing)} missing values (empty, NA or NaN) at {_where(missing)}; "
                     f"fill or drop them before loading")


def load_csv(path: str | os.PathLike, target: str | int, delimiter: str = ",", header: bool = True,
             return_classes: bool = False):
    """Load a CSV file as (X float32, y), y being the ``target`` column.

    >>> X, y = load_csv("houses.csv", target="price")

    ``target`` is a column name (or an index, required when ``header=False``).
    A numeric target gives int64 when every value is a whole number (class
    labels) and float32 otherwise; a text target (e.g. "setosa") gives int64
    codes of the sorted class names, returned too with ``return_classes=True``.
    Every other column must be numeric with no missing values.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"load_csv: {path} does not exist")
    with _csv_rows(path, delimiter) as reader:
        table = [(reader.line_num, row) for row in reader if row and any(c.strip() for c in row)]
    if not table or (header and len(table) == 1):
        raise DataError(f"load_csv: {path} has no data rows")
    if header:
        names = [c.strip() for c in table[0][1]]
        table = table[1:]
    else:
        names = [f"#{k}" for k in range(len(table[0][1]))]
    width = len(names)
    for line, row in table:
        if len(row) != width:
            raise DataError(f"load_csv: {path}, row {line}: {len(row)} fields, expected {width} "
                             f"(like {'the header' if header else 'the first row'})")
    if isinstance(target, str):
        if not header:
            raise DataError(f"load_csv: {path} is read with header=False, give target as a column index")
        if target not in names:
            raise DataError(f"load_csv: {path} has no column {target!r}; available columns: {', '.join(names)}")
        t = names.index(target)
    else:
        t = int(target)
        if not -width <= t < width:
            raise DataError(f"load_csv: {path} has {width} columns, target index {t} is out of range")
        t %= width
    lines = [line for line, _ in table]
    feature_cols = [c for c in range(width) if c != t]
    if not feature_cols:
        raise DataError(f"load_csv: {path} has only the target column {names[t]!r}, no feature columns")
    X = _to_float(path, [[row[c] for c in feature_cols] for _, row in table], lines, names, feature_cols, "feature")
    y, classes = _target(path, [row[t] for _, row in table], lines, names[t])
    X = _as_float32(path, X, lines, [names[c] for c in feature_cols])
    return (X, y, classes) if return_classes else (X, y)


def _as_float32(path, values: np.ndarray, lines: list[int], names: list[str]) -> np.ndarray:
    """float32 values; one that float32 cannot hold (beyond ±3.4e38) is an error naming its cell."""
    with np.errstate(over="ignore"):
        out = values.astype(np.float32)
    bad = np.argwhere(~np.isfinite(out) & np.isfinite(values))
    if len(bad):
        r, c = bad[0]
        raise DataError(f"{path}, row {lines[r]}, column {names[c]!r}: {values[r, c]:g} is too large for float32 "
                        f"(at most ±3.4e38)")
    return out


def csv_columns(path: str | os.PathLike, delimiter: str = ",") -> list[str]:
    """The column names of a CSV file: its first non-empty row, stripped."""
    with _csv_rows(Path(path), delimiter) as reader:
        for row in reader:
            if row and any(c.strip() for c in row):
                return [c.strip() for c in row]
    return []


def _target(path, texts: list[str], lines: list[int], name: str):
    stripped = [s.strip() for s in texts]
    missing = [(r, name) for r, s in zip(lines, stripped) if s.lower() in MISSING]
    if missing:
        raise DataError(f"load_csv: {path} target column {name!r} has {len(missing)} missing values at "
                         f"{_where(missing)}")
    numeric = []
    for s in stripped:
        try:
            numeric.append(float(s))
        except ValueError:
            numeric.append(None)
    n_text = sum(v is None for v in numeric)
    if n_text == len(numeric):  # class names
        classes = sorted(set(stripped))
        code = {c: k for k, c in enumerate(classes)}
        return np.array([code[s] for s in stripped], dtype=np.int64), classes
    if n_text:
        r, s = next((r, s) for r, s, v in zip(lines, stripped, numeric) if v is None)
        raise DataError(f"load_csv: {path}, row {r}, column {name!r}: {s!r} is not a number, "
                         f"while other values of the target column are")
    y = np.array(numeric, dtype=np.float64)
    if np.all(y == np.round(y)):
        return y.astype(np.int64), None
    return y.astype(np.float32), None


def load_npz(path: str | os.PathLike, x: str = "x", y: str | None = "y", *,
             max_bytes: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Load arrays ``x`` and ``y`` from an ``.npz`` file (never unpickling anything).

    >>> X, y = load_npz("data.npz", x="images", y="labels")

    Float inputs become float32, integer labels int64; ``y=None`` loads
    inputs only and returns (X, None). NaNs in X are reported with their
    position. ``max_bytes`` bounds the arrays' content (default 4 GiB).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"load_npz: {path} does not exist")
    with BoundedNpz(path, _error, max_bytes) as z:
        for key in (x, y):
            if key is not None and key not in z.names:
                available = ", ".join(z.names) or "none"
                raise MissingArrayError(f"load_npz: {path} has no array {key!r}; available arrays: {available}")
        X = z.read(x)
        Y = z.read(y) if y is not None else None
    X = _numeric(path, x, X)
    if X.dtype.kind == "f":
        nan = np.argwhere(np.isnan(X))
        if len(nan):
            spots = ", ".join(str(tuple(int(i) for i in p)) for p in nan[:_MAX_LISTED])
            raise DataError(f"load_npz: {path}: array {x!r} has {len(nan)} NaN values, at index {spots}"
                            f"{' ...' if len(nan) > _MAX_LISTED else ''}")
        X = X.astype(np.float32, copy=False)
    if Y is not None:
        Y = _numeric(path, y, Y)
        if len(Y) != len(X):
            raise DataError(f"load_npz: {path}: {x!r} has {len(X)} samples (shape {X.shape}) but {y!r} has "
                            f"{len(Y)} (shape {Y.shape})")
        Y = Y.astype(np.int64, copy=False) if Y.dtype.kind in "iub" else Y.astype(np.float32, copy=False)
    return X, Y


def _numeric(path, key: str, a: np.ndarray) -> np.ndarray:
    if a.dtype.kind not in "fiub":
        raise DataError(f"load_npz: {path}: array {key!r} has dtype {a.dtype}, expected numbers")
    if a.ndim == 0:
        raise DataError(f"load_npz: {path}: array {key!r} is a scalar, expected one row per sample")
    return a


def npz_names(path: str | os.PathLike) -> list[str]:
    """The names of the arrays in an ``.npz`` file; a damaged, pickled or single-array file is a DataError."""
    with BoundedNpz(path, _error) as z:
        return z.names


def load_npz_array(path: str | os.PathLike, key: str, *, max_bytes: int | None = None) -> np.ndarray:
    """One numeric array of an ``.npz`` file, read within limits and without pickle."""
    path = Path(path)
    with BoundedNpz(path, _error, max_bytes) as z:
        if key not in z.names:
            raise MissingArrayError(f"{path} has no array {key!r}; available arrays: {', '.join(z.names) or 'none'}")
        a = z.read(key)
    if a.dtype.kind not in "fiub":
        raise DataError(f"{path}: array {key!r} has dtype {a.dtype}, expected numbers")
    return a


def read_feature_rows(path: str | os.PathLike, feature_names: list[str] | None = None,
                      target: str | None = None) -> np.ndarray:
    """Rows of numbers from a CSV file (header optional), as float32, for a model to predict on.

    >>> X = read_feature_rows("new.csv", feature_names=["a", "b"])  # columns picked by name, in this order

    With a header and ``feature_names``, those columns are taken in that
    order (others are ignored); else every column but ``target`` is.
    """
    path = Path(path)
    with _csv_rows(path) as reader:
        rows = [(reader.line_num, r) for r in reader if r and any(c.strip() for c in r)]
    if not rows:
        raise DataError(f"{path}: no rows")

    def numeric(cell):
        try:
            float(cell)
            return True
        except ValueError:
            return False

    header = None
    if not all(numeric(c) for c in rows[0][1]):
        header = [c.strip() for c in rows[0][1]]
        rows = rows[1:]
        if not rows:
            raise DataError(f"{path}: a header ({', '.join(header[:8])}{', ...' if len(header) > 8 else ''}) "
                            f"but no data rows")
    cols = None
    if header is not None and feature_names:
        missing = [n for n in feature_names if n not in header]
        if missing:
            raise DataError(f"{path}: missing column(s) {', '.join(missing)}; the model expects "
                            f"{', '.join(feature_names)}")
        cols = [header.index(n) for n in feature_names]
    elif header is not None and target in header:
        cols = [i for i, n in enumerate(header) if n != target]
    out = []
    for line, r in rows:
        cells = [r[c] if c < len(r) else "" for c in cols] if cols is not None else r
        if cols is not None and header:
            names = [header[c] for c in cols]
        else:
            names = header or [f"#{k}" for k in range(len(r))]
        values = []
        for k, cell in enumerate(cells):
            t = cell.strip()
            col = names[k] if k < len(names) else f"#{k}"
            try:
                v = float(t)
            except ValueError:
                raise DataError(f"{path}, row {line}, column {col!r}: {t!r} is not a number") from None
            if not np.isfinite(v):
                raise DataError(f"{path}, row {line}, column {col!r}: {t!r} is missing or not finite")
            values.append(v)
        out.append(values)
    widths = {len(v) for v in out}
    if len(widths) != 1:
        raise DataError(f"{path}: rows have different numbers of values ({sorted(widths)})")
    width = widths.pop()
    names = ([header[c] for c in cols] if cols is not None else header) if header else None
    return _as_float32(path, np.asarray(out, dtype=np.float64), [line for line, _ in rows],
                       names or [f"#{k}" for k in range(width)])
