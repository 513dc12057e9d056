"""neurona.runtime: every setting in one table, no side effect at import, tuning only when asked; and the
two ways the library runs without its kernels (forced reference, Numba missing), in fresh processes."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import neurona
from neurona import runtime

pytestmark = pytest.mark.usefixtures("fast_kernels")  # they check the fast path

ROOT = Path(neurona.__file__).resolve().parent.parent
LINUX = sys.platform.startswith("linux")


def _run(code: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    e = {**os.environ, "PYTHONPATH": str(ROOT)}
    e.update(env or {})
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=e,
                          cwd=str(ROOT))


def test_every_neurona_variable_of_the_package_is_in_the_table():
    used = set()
    for path in (ROOT / "neurona").rglob("*.py"):
        used |= set(re.findall(r"(?<![A-Za-z_])NEURONA_[A-Z_]+", path.read_text(encoding="utf-8")))
    listed = {s.name for s in runtime.SETTINGS}
    assert used <= listed, f"not listed in neurona.runtime.SETTINGS: {sorted(used - listed)}"
    assert set(runtime.settings()) == listed
    doc = runtime.__doc__
    assert all(s.name in doc for s in runtime.SETTINGS)


def test_settings_read_the_environment_and_check_it(monkeypatch):
    monkeypatch.setenv("NEURONA_MALLOC", "KEEP")
    assert runtime.setting("NEURONA_MALLOC") == "keep"
    monkeypatch.setenv("NEURONA_MALLOC", "sometimes")
    with pytest.raises(ValueError, match="NEURONA_MALLOC='sometimes': expected one of tune, keep"):
        runtime.setting("NEURONA_MALLOC")
    monkeypatch.delenv("NEURONA_MALLOC")
    assert runtime.setting("NEURONA_MALLOC") == "tune"


_NO_SIDE_EFFECTS = """
import ctypes, ctypes.util, sys, threading
import numpy as np
from threadpoolctl import threadpool_info
blas = {i["filepath"]: i["num_threads"] for i in threadpool_info()}
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                 "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.mallinfo2.restype = Info
import neurona
from neurona import nn
imported = "numba" in sys.modules
y = nn.Sequential(nn.Linear(4, 3), nn.ReLU())(neurona.randn(2, 4))  # a kernel: Numba is imported now, nothing else
after = {i["filepath"]: i["num_threads"] for i in threadpool_info()}
print(imported, threading.active_count(), all(after[k] == v for k, v in blas.items()))
before = libc.mallinfo2().hblks
a = np.ones(6 << 20, np.float32)  # 24 MiB: glibc serves it with mmap by default
print(libc.mallinfo2().hblks - before)
from neurona import runtime
print(runtime.tune(allocator=True))
before = libc.mallinfo2().hblks
b = np.ones(6 << 20, np.float32)
print(libc.mallinfo2().hblks - before)
"""


@pytest.mark.skipif(not LINUX, reason="mallinfo2 is glibc's (Linux)")
def test_import_changes_nothing_and_tune_changes_the_allocator():
    res = _run(_NO_SIDE_EFFECTS, {"NEURONA_BLAS_THREADS": ""})
    assert res.returncode == 0, res.stderr
    lines = res.stdout.split("\n")
    assert lines[0] == "False 1 True"  # Numba not imported, no thread started, BLAS threads untouched
    assert lines[1] == "1"  # glibc's default allocator: the big array is mmapped
    assert "'allocator': True" in lines[2]
    assert lines[3] == "0"  # after tune(): served from the heap, reused step after step


def test_tuning_sets_blas_threads_for_a_block_only():
    from threadpoolctl import threadpool_info
    before = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    with runtime.tuning(blas_threads=1, allocator=False, kernels="reference"):
        assert all(i["num_threads"] == 1 for i in threadpool_info() if i["user_api"] == "blas")
        assert runtime.kernels() == "reference"
    assert [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"] == before
    assert runtime.kernels() == "numba" or os.environ.get("NEURONA_KERNELS") == "reference"
    with pytest.raises(ValueError, match="positive"):
        runtime.tune(blas_threads=0)


# --- the library without its kernels ----------------------------------------------------------------------

# a representative subset of the op, layer and optimizer tests (each family with a fast kernel), run again in a
# fresh process; the slow variants run more of the suite
SUBSET = ["tests/functional/test_activation_core.py", "tests/functional/test_pool.py",
          "tests/functional/test_conv.py::test_conv2d_matches_pytorch", "tests/functional/test_recurrent.py",
          "tests/nn/test_normalization.py", "tests/nn/test_dropout.py", "tests/optim/test_optim_trajectories.py",
          "tests/functional/test_loss.py::test_cross_entropy_index_targets"]
MORE = ["tests/functional", "tests/nn", "tests/optim", "tests/models/test_cnn_models.py",
        "tests/models/test_recurrent_models.py"]


def _suite_on_reference(tests):
    res = subprocess.run([sys.executable, "-m", "pytest", "-x", "-p", "no:cacheprovider", *tests],
                         capture_output=True, text=True, timeout=1800, cwd=str(ROOT),
                         env={**os.environ, "PYTHONPATH": str(ROOT), "NEURONA_KERNELS": "reference"})
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert " passed" in res.stdout


def test_the_suite_subset_passes_on_the_reference_ops():
    _suite_on_reference(SUBSET)


@pytest.mark.slow
def test_more_of_the_suite_passes_on_the_reference_ops():
    _suite_on_reference(MORE)


_WITHOUT_NUMBA = """
import sys, warnings
sys.modules["numba"] = None  # `import numba` raises ImportError, as where it is not installed
import pytest
warnings.simplefilter("always")
sys.exit(pytest.main(["-x", "-p", "no:cacheprovider", "-W", "ignore::RuntimeWarning", *sys.argv[1:]]))
"""

_SAYS_SO_ONCE = """
import sys, warnings
sys.modules["numba"] = None
import numpy as np, neurona
from neurona import nn, optim, runtime
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    opt = optim.Adam(model.parameters())
    for _ in range(3):
        loss = nn.CrossEntropyLoss()(model(neurona.randn(5, 4)), neurona.tensor([0, 1, 2, 0, 1]))
        opt.zero_grad(); loss.backward(); opt.step()
print(len([w for w in caught if "Numba cannot be imported" in str(w.message)]), runtime.kernels(),
      type(loss.grad_fn).__module__)
"""


def test_without_numba_neurona_says_so_once_and_runs_the_reference():
    res = _run(_SAYS_SO_ONCE)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["1", "reference", "neurona.functional.loss"]


def _suite_without_numba(tests):
    res = subprocess.run([sys.executable, "-c", _WITHOUT_NUMBA, *tests], capture_output=True, text=True,
                         timeout=1800, cwd=str(ROOT), env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert " passed" in res.stdout and " failed" not in res.stdout


def test_the_suite_subset_passes_without_numba():
    _suite_without_numba(SUBSET)


@pytest.mark.slow
def test_more_of_the_suite_passes_without_numba():
    _suite_without_numba(MORE)


_COMPILE_ONE = """
import numpy as np, neurona
from neurona import kernels
y = neurona.relu(neurona.tensor([-1.0, 2.0]))
k = kernels.lookup("relu", np.zeros(1, np.float32))
from neurona.kernels.activation import _forward
print(y.tolist(), sum(_forward.stats.cache_hits.values()), sum(_forward.stats.cache_misses.values()))
"""


@pytest.mark.skipif(not LINUX, reason="file modes are POSIX")
def test_kernels_cache_in_the_user_folder_when_the_package_is_read_only(tmp_path):
    pytest.importorskip("numba")
    import shutil
    site = tmp_path / "site"
    shutil.copytree(ROOT / "neurona", site / "neurona", ignore=shutil.ignore_patterns("__pycache__"))
    for p in sorted(site.rglob("*"), reverse=True):
        p.chmod(0o555 if p.is_dir() else 0o444)
    (site / "neurona" / "kernels").chmod(0o755)
    (site / "neurona" / "kernels" / "__pycache__").write_text("")  # a file: no cache folder there, even for root
    (site / "neurona" / "kernels").chmod(0o555)
    home = tmp_path / "home"
    home.mkdir()
    env = {"PYTHONPATH": str(site), "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"),
           "NUMBA_CACHE_DIR": "", "PYTHONDONTWRITEBYTECODE": "1"}
    env = {k: v for k, v in env.items() if v}
    e = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    e.update(env)
    runs = [subprocess.run([sys.executable, "-c", _COMPILE_ONE], capture_output=True, text=True, timeout=300,
                           env=e, cwd=str(tmp_path)) for _ in range(2)]
    try:
        for r in runs:
            assert r.returncode == 0, r.stderr
        first, second = (r.stdout.split("]")[1].split() for r in runs)
        assert first == ["0", "1"] and second == ["1", "0"]  # compiled once, then loaded from the cache
        assert any((home / ".cache" / "numba").rglob("*.nbi")) and not any(site.rglob("*.nbi"))
    finally:
        for p in site.rglob("*"):
            p.chmod(0o755 if p.is_dir() else 0o644)
        site.chmod(0o755)


def test_the_examples_in_the_docstrings_run():
    import doctest

    from neurona import kernels, rewrites, workspace
    for module in (runtime, kernels, workspace, rewrites):
        result = doctest.testmod(module)
        assert result.failed == 0, module.__name__


def test_blas_hints_are_sentences():
    for hint in runtime.blas_hints():
        assert "OPENBLAS_CORETYPE" in hint
    assert "hints" in runtime.tune(allocator=False)
