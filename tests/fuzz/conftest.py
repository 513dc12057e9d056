"""Hypothesis profiles for the reader fuzz tests.

``ci`` (the default): a few hundred examples per reader, a few thousand in
all, under a minute. The long run, by hand::

    NEURONA_FUZZ=long python -m pytest tests/fuzz -p no:cacheprovider

(``long``: 20,000 examples per test; ``NEURONA_FUZZ_EXAMPLES=N`` sets any
other number). No example database is kept, so nothing is written outside
the temporary folders.
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_common = dict(deadline=None, database=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("ci", max_examples=int(os.environ.get("NEURONA_FUZZ_EXAMPLES", 400)), **_common)
settings.register_profile("long", max_examples=int(os.environ.get("NEURONA_FUZZ_EXAMPLES", 20_000)), **_common)
settings.load_profile(os.environ.get("NEURONA_FUZZ", "ci"))
