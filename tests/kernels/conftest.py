"""The kernel tests check the fast kernels, so they run them whatever NEURONA_KERNELS says."""
import pytest


@pytest.fixture(autouse=True)
def _kernels_in_force(fast_kernels):
    yield
