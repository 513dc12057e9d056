"""The task tests train small recurrent models: many small matrix products, for which a multithreaded
BLAS on a busy machine spends more time waiting for its threads than computing (measured: 17x slower
at load 7 on 2 cores). One BLAS thread during these tests, when threadpoolctl is installed."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield
