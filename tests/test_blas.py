"""neurona._blas and neurona._threads: how many threads BLAS and our own loops use."""
import numpy as np
import pytest

from neurona import _blas


def _count():
    return _blas._FUNCS[0]() if _blas.available() else None


def test_single_threaded_restores_the_count_even_on_error():
    before = _count()
    a = np.ones((64, 64), np.float32)
    with _blas.single_threaded():
        if before is not None and before > 1:
            assert _count() == 1
        np.testing.assert_array_equal(a @ a, np.full((64, 64), 64, np.float32))
        with _blas.single_threaded():  # nested: still one thread, and the outer block's count comes back
            assert _count() in (None, 1) or before == 1
        if before is not None and before > 1:
            assert _count() == 1
    assert _count() == before
    with pytest.raises(RuntimeError):
        with _blas.single_threaded():
            raise RuntimeError("inside")
    assert _count() == before


def test_without_openblas_it_does_nothing(monkeypatch):
    monkeypatch.setattr(_blas, "_FUNCS", None)
    assert not _blas.available()
    with _blas.single_threaded():
        assert (np.eye(3) @ np.eye(3) == np.eye(3)).all()


@pytest.mark.parametrize("value, expected", [(None, 1), ("2", 2), ("16", 4), ("0", 1), ("many", 1)])
def test_worker_thread_count_comes_from_its_variable_only(monkeypatch, value, expected):
    """Our memory-bound loops use one thread unless NEURONA_NUM_THREADS asks for more (BLAS's settings
    are BLAS's own)."""
    from neurona import _threads
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    if value is None:
        monkeypatch.delenv("NEURONA_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("NEURONA_NUM_THREADS", value)
    assert _threads.thread_count() == expected
