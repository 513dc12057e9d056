"""neurona._blas: one BLAS thread inside a block, the previous count restored after it."""
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
