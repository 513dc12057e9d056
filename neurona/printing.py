"""How tensors print: ``set_printoptions`` (PyTorch's names and profiles).

>>> import neurona
>>> neurona.set_printoptions(precision=2)
>>> neurona.tensor([1 / 3, 2 / 3])
tensor([0.33, 0.67])
>>> neurona.set_printoptions(profile="default")
"""
from __future__ import annotations

import math
import sys

__all__ = ["set_printoptions", "get_printoptions"]

_PROFILES = {
    "default": {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80},
    "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
    "full": {"precision": 4, "threshold": math.inf, "edgeitems": 3, "linewidth": 80},
}

OPTIONS = dict(_PROFILES["default"], sci_mode=None)


def set_printoptions(precision: int | None = None, threshold: float | None = None, edgeitems: int | None = None,
                     linewidth: int | None = None, profile: str | None = None, sci_mode: bool | None = None) -> None:
    """Digits after the point (``precision``), the element count above which a tensor prints summarised
    (``threshold``) with ``edgeitems`` at each end, the line width, and ``sci_mode`` (True: always scientific
    notation, False: never, None: NumPy's choice). ``profile`` ("default", "short", "full") sets all at once;
    the other arguments then adjust it."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: profile must be one of {sorted(_PROFILES)}, got {profile!r}")
        OPTIONS.update(_PROFILES[profile])
    for key, value in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
                       ("linewidth", linewidth)):
        if value is not None:
            OPTIONS[key] = value
    OPTIONS["sci_mode"] = sci_mode


def get_printoptions() -> dict:
    """The current print options, as ``set_printoptions`` takes them."""
    return dict(OPTIONS)


def array_string(a, prefix: str) -> str:
    """The body of a tensor's repr: ``a`` (a NumPy array) with the current options."""
    import numpy as np

    o = OPTIONS
    threshold = o["threshold"]
    kw = {}
    if a.dtype.kind == "f" and o["sci_mode"] is not None:
        p = o["precision"]
        kw["formatter"] = {"float_kind": (lambda x: f"{x:.{p}e}") if o["sci_mode"] else (lambda x: f"{x:.{p}f}")}
    return np.array2string(a, separator=", ", prefix=prefix, precision=o["precision"],
                           threshold=sys.maxsize if threshold == math.inf else int(threshold),
                           edgeitems=o["edgeitems"], max_line_width=o["linewidth"], **kw)

