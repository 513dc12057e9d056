"""neurona.kernels.gemm: the float32 products on neurona's own micro-kernel mean exactly ``np.matmul``.

The products are checked against float64 ones on every path of ``gemm.matmul`` (whole and edge tiles, k
below and above a packed block, operands read in place or packed, the product computed transposed, a
packed right operand, ``out`` in every layout), the switch that says when the kernel runs
(``NEURONA_GEMM``, ``in_force``) is checked against its documented rule, and the layers whose fast kernels
call it (linear, linear + activation, LSTM, GRU, channels-last convolutions, those read in place included)
agree with the reference ops when it is forced on.

The paths are reached two ways: through the cost model with shapes chosen for it, and by routing a
product to one path whatever its shape (``_routed``), so that the edge cases (a row or column of one)
run on the kernel too.
"""
import itertools
import re
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neurona
from neurona import nn, runtime
from neurona.kernels import gemm
from tests.kernels.common import run_both

pytest.importorskip("numba")

EPS32 = float(np.finfo(np.float32).eps)


@pytest.fixture(autouse=True)
def forced(monkeypatch):
    """NEURONA_GEMM=neurona for the test; the choice in force before comes back after it."""
    monkeypatch.setattr(runtime._state, "gemm", runtime._state.gemm)
    runtime.set_gemm("neurona")


class _Calls(list):
    """The calls of the product kernel, as (a, c): its left operand and the array it writes; ``names`` holds
    the name of every compiled function of ``_gemm_tile`` called (the convolution's in-place kernels too)."""
    names: list


@pytest.fixture
def calls(monkeypatch):
    """Every call of the compiled kernels of ``gemm._tiles()``, recorded (see ``_Calls``)."""
    seen = _Calls()
    seen.names = []
    tiles = gemm._tiles()

    def spy(name, fn):
        def call(*args):
            seen.names.append(name)
            if name == "_gemm":
                seen.append((args[0], args[5]))  # _gemm(a, b1, ldb, bp, n, c)
            return fn(*args)
        return call

    spied = {name: spy(name, v) if hasattr(v, "py_func") else v for name, v in vars(tiles).items()}
    monkeypatch.setattr(gemm, "_tiles", lambda: SimpleNamespace(**spied))
    return seen


def _routed(monkeypatch, route: str) -> None:
    """Send every 2-D float32 product of nonzero size to one path of the kernel: 'kernel' (C = A B) or
    'transposed' (Cᵀ = Bᵀ Aᵀ); 'natural' leaves the choice to the cost model.

    The BLAS is made to look infinitely slow, the shortcut for products of very few rows or columns is
    turned off, and the cost model made to prefer the route asked for; a product
    that cannot take it (transposed needs A and B with a unit stride, and no packed B) takes the other.
    """
    if route == "natural":
        return
    monkeypatch.setattr(gemm, "_BLAS_RATE", 1e-30)
    monkeypatch.setattr(gemm, "_FEW", 0)  # products of a row or a column too
    monkeypatch.setattr(gemm, "_cost", lambda m, k, n, packed, transposed:
                        0.0 if transposed == (route == "transposed") else 1e30)


def _path(seen: list, a, result) -> str:
    """The path of the one product that ``seen`` recorded: 'numpy', 'transposed', 'direct' (into its result) or
    'scratch' (computed aside, then copied)."""
    if not seen:
        return "numpy"
    left, c = seen[-1]
    if left is not a:
        return "transposed"
    return "direct" if c is result else "scratch"


def _data(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _expected(a, b):
    """The float64 product A B and, entry by entry, how far a float32 product may be from it.

    Rounding errors of a k-term sum grow as √k times the size of its terms (checked on NumPy's own products).
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    tol = 3 * EPS32 * np.sqrt(a.shape[1]) * np.sqrt(np.square(a) @ np.square(b))
    return a @ b, tol


def _assert_product(c, a, b, what="", expected=None):
    """c is the float32 product A B (``expected``: ``_expected(a, b)``, when already computed)."""
    ref, tol = expected if expected is not None else _expected(a, b)
    assert c.dtype == np.float32, what
    assert c.shape == ref.shape, (what, c.shape, ref.shape)
    bad = ~(np.abs(c - ref) <= tol)
    if bad.any():
        i = tuple(int(x[0]) for x in np.nonzero(bad))
        raise AssertionError(f"{what}: {int(bad.sum())} of {c.size} entries off, e.g. C{i} = {c[i]!r}, "
                             f"float64 product {ref[i]!r}, tolerance {tol[i]:.3g}")


# layouts of an operand with logical shape (r, s): each returns a float32 view holding the same values
LAYOUTS = {
    "rows": lambda x: np.ascontiguousarray(x),                                  # row-major
    "columns": lambda x: np.ascontiguousarray(x.T).T,                           # column-major: a transposed view
    "every_other_column": lambda x: _spaced(x, 1),                              # no unit stride: packed
    "every_other_row": lambda x: _spaced(x, 0),                                 # rows 2·s apart
    "both_spaced": lambda x: _spaced(_spaced(x, 0), 1),
    "reversed_rows": lambda x: np.ascontiguousarray(x[::-1])[::-1],             # negative row stride
    "reversed_columns": lambda x: np.ascontiguousarray(x[:, ::-1])[:, ::-1],    # negative unit stride: packed
}


def _spaced(x, axis):
    """x as every other row (axis 0) or column (axis 1) of a bigger array, the others filled with NaN."""
    shape = list(x.shape)
    shape[axis] *= 2
    big = np.full(shape, np.nan, np.float32)
    view = big[::2] if axis == 0 else big[:, ::2]
    view[...] = x
    return view


# (m, k, n): whole tiles, partial rows (m % 12), partial columns (n % 32), k around KC = 256, a row or a
# column of one, tiny products (NumPy's), B much larger than A (transposed), large ones
SHAPES = [
    (48, 64, 64), (60, 96, 128),
    (50, 64, 64), (61, 40, 96),
    (48, 64, 70), (36, 50, 33),
    (53, 37, 77),
    (48, 255, 64), (48, 256, 64), (48, 257, 64), (36, 512, 32), (40, 600, 70),
    (1, 300, 256), (256, 300, 1), (1, 1, 1), (12, 1, 32),
    (3, 4, 5), (2, 20, 9),
    (20, 200, 640),
    (131, 530, 197),
]


@pytest.mark.parametrize("route", ["natural", "kernel", "transposed"])
@pytest.mark.parametrize("m, k, n", SHAPES)
def test_products_in_every_layout_match_the_float64_product(m, k, n, route, monkeypatch, calls):
    _routed(monkeypatch, route)
    a0, b0 = _data((m, k), 1), _data((k, n), 2)
    expected = _expected(a0, b0)
    paths = set()
    for (la, fa), (lb, fb) in itertools.product(LAYOUTS.items(), LAYOUTS.items()):
        if la != "rows" and lb not in ("rows", la):  # each layout of A with B row-major or in the same layout
            continue
        a, b = fa(a0), fb(b0)
        calls.clear()
        c = gemm.matmul(a, b)
        _assert_product(c, a0, b0, f"A {la}, B {lb}", expected)
        assert c.flags.c_contiguous, (la, lb)
        paths.add(_path(calls, a, c))
    if route != "natural":
        assert "numpy" not in paths, paths
    if route == "transposed":
        assert "transposed" in paths, paths


def test_the_shapes_reach_every_path_of_the_cost_model(calls):
    paths = {}
    for (m, k, n), (la, fa), transposed_out in itertools.product(SHAPES, LAYOUTS.items(), (False, True)):
        a = fa(_data((m, k)))
        out = np.empty((n, m), np.float32).T if transposed_out else None
        calls.clear()
        c = gemm.matmul(a, _data((k, n)), out=out)
        paths.setdefault(_path(calls, a, c), (m, k, n, la, transposed_out))
    assert set(paths) == {"numpy", "transposed", "direct", "scratch"}, paths


def test_tiny_products_and_a_row_of_one_go_to_numpy(calls):
    for m, k, n in [(3, 4, 5), (2, 20, 9), (1, 300, 256), (256, 300, 1)]:
        a, b = _data((m, k)), _data((k, n))
        np.testing.assert_array_equal(gemm.matmul(a, b), np.matmul(a, b))
    assert calls == []


def test_b_much_larger_than_a_is_computed_transposed(calls):
    a, b = _data((20, 200)), _data((200, 640), 1)
    c = gemm.matmul(a, b)
    assert _path(calls, a, c) == "transposed"
    _assert_product(c, a, b)


def test_a_large_product_runs_on_the_kernel_into_its_result(calls):
    a, b = _data((131, 530)), _data((530, 197), 1)
    c = gemm.matmul(a, b)
    assert _path(calls, a, c) == "direct"
    _assert_product(c, a, b)


# --- out= -----------------------------------------------------------------------------------------------

def _outs(m, n):
    """(name, out, the array it lives in) for every layout of ``out``; the memory around it is NaN."""
    fresh = np.full((m, n), np.nan, np.float32)
    t = np.full((n, m), np.nan, np.float32)
    wide = np.full((m, n + 7), np.nan, np.float32)
    tall = np.full((2 * m, n), np.nan, np.float32)
    rev = np.full((m, n), np.nan, np.float32)
    return [("contiguous", fresh, fresh), ("transposed", t.T, t), ("slice_of_wider", wide[:, 3:3 + n], wide),
            ("every_other_row", tall[::2], tall), ("reversed_rows", rev[::-1], rev)]


@pytest.mark.parametrize("route", ["natural", "kernel", "transposed"])
@pytest.mark.parametrize("m, k, n", [(48, 64, 64), (50, 300, 70), (13, 5, 40), (1, 9, 33), (20, 200, 640)])
def test_out_in_every_layout_gets_the_product_and_nothing_around_it_changes(m, k, n, route, monkeypatch, calls):
    _routed(monkeypatch, route)
    a, b = _data((m, k), 1), _data((k, n), 2)
    for name, out, home in _outs(m, n):
        out[...] = 0.0  # marks where out lives in the array it belongs to
        inside = ~np.isnan(home)
        out[...] = np.nan
        calls.clear()
        r = gemm.matmul(a, b, out=out)
        assert r is out, name
        _assert_product(out, a, b, f"out {name}")
        assert np.isnan(home[~inside]).all(), f"out {name}: memory beside it was written"
        if route == "kernel":  # written in place where its rows are contiguous
            assert _path(calls, a, r) == ("scratch" if name in ("transposed", "reversed_rows") else "direct"), name
        elif route == "transposed":
            assert _path(calls, a, r) == "transposed", name


@pytest.mark.parametrize("route", ["natural", "kernel", "transposed"])
def test_out_aliasing_an_operand_still_gets_the_product(route, monkeypatch):
    _routed(monkeypatch, route)
    n = 48
    for which in ("a", "b", "a_transposed_view", "overlapping_rows"):
        buf = _data((n + 1, n), 3)
        a, b = buf[:n].copy(), _data((n, n), 4)
        if which == "overlapping_rows":  # out is A moved down one row: it overlaps A without being it
            a = buf[:n]
        a0, b0 = a.copy(), b.copy()
        out = {"a": a, "b": b, "a_transposed_view": a.T, "overlapping_rows": buf[1:]}[which]
        assert gemm.matmul(a, b, out=out) is out
        _assert_product(out, a0, b0, which)


def test_k_above_kc_accumulates_over_the_blocks_into_out_without_reading_it(monkeypatch):
    _routed(monkeypatch, "kernel")
    a, b = _data((50, 3 * gemm.KC + 5), 1), _data((3 * gemm.KC + 5, 70), 2)
    for fill in (np.nan, 1e30):
        out = np.full((50, 70), fill, np.float32)
        gemm.matmul(a, b, out=out)
        _assert_product(out, a, b, f"out filled with {fill}")


def test_a_read_only_out_is_refused_as_numpy_refuses_it(monkeypatch):
    _routed(monkeypatch, "kernel")
    a, b = _data((48, 64)), _data((64, 64))
    out = np.zeros((48, 64), np.float32)
    out.setflags(write=False)
    with pytest.raises(ValueError, match="read-only"):
        np.matmul(a, b, out=out)
    with pytest.raises(ValueError, match="read-only"):
        gemm.matmul(a, b, out=out)
    assert not out.any()


def _with_a_byte_after_each_row(x):
    """x as a float32 field of a structured array: its rows are 4·cols + 1 bytes apart (not whole floats)."""
    r, cols = x.shape
    s = np.zeros(r, dtype=[("x", "<f4", (cols,)), ("flag", "u1")])
    s["x"] = x
    s["flag"] = 7
    return s["x"], s


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("operand, route", [("a", "kernel"), ("out", "kernel"), ("b", "transposed")])
def test_views_whose_rows_are_not_whole_floats_apart(operand, route, monkeypatch):
    # NumPy calls such arrays unaligned; they are float32 arrays all the same, and np.matmul takes them
    _routed(monkeypatch, route)
    a, b = _data((48, 64), 1), _data((64, 64), 2)
    out, home = None, None
    if operand == "a":
        a, home = _with_a_byte_after_each_row(a)
    elif operand == "b":
        b, home = _with_a_byte_after_each_row(b)
    else:
        out, home = _with_a_byte_after_each_row(np.zeros((48, 64), np.float32))
    assert a.dtype == b.dtype == np.float32
    c = gemm.matmul(a, b, out=out)
    _assert_product(c, a, b, f"{operand} {route}")
    assert (home["flag"] == 7).all(), "bytes beside the array were written"


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("route", ["natural", "kernel", "transposed"])
def test_nan_and_infinity_spread_as_in_numpy(route, monkeypatch):
    _routed(monkeypatch, route)
    a, b = _data((50, 70), 1), _data((70, 45), 2)
    a[3, 5], a[49, 0], b[7, 44], b[69, 2] = np.nan, np.inf, -np.inf, np.nan
    b[0, 3] = 0.0  # inf · 0 = nan
    c = gemm.matmul(a, b)
    ref = np.matmul(a.astype(np.float64), b.astype(np.float64))
    np.testing.assert_array_equal(np.isnan(c), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(c), np.isinf(ref))
    np.testing.assert_array_equal(np.sign(c[np.isinf(c)]), np.sign(ref[np.isinf(ref)]))
    fin = np.isfinite(ref)
    np.testing.assert_allclose(c[fin], ref[fin], rtol=1e-4, atol=1e-4)


# --- a packed right operand -----------------------------------------------------------------------------

@pytest.mark.parametrize("route", ["natural", "kernel"])
@pytest.mark.parametrize("k, n", [(64, 64), (37, 77), (300, 33), (600, 128), (5, 1)])
def test_a_packed_b_serves_many_products(k, n, route, monkeypatch, calls):
    _routed(monkeypatch, route)
    b0 = _data((k, n), 2)
    packs = {}
    for name, f in LAYOUTS.items():
        b = f(b0)
        pb = packs[name] = gemm.pack(b)
        assert isinstance(pb, gemm.PackedB) and pb.shape == (k, n) and pb.array is b, name
    for m in (48, 13, 1, 120):
        a = _data((m, k), m)
        expected = _expected(a, b0)
        for name, pb in packs.items():
            _assert_product(gemm.matmul(a, pb), a, b0, f"B {name}, m {m}", expected)
            out = np.full((m, n + 3), np.nan, np.float32)
            r = gemm.matmul(np.asfortranarray(a), pb, out=out[:, :n])
            _assert_product(r, a, b0, f"B {name}, m {m}, A column-major, out a slice", expected)
            assert np.isnan(out[:, n:]).all()
    if route == "kernel" or (k, n) == (64, 64):
        assert calls, "no product ran on the kernel"


def test_pack_is_the_array_itself_where_the_kernel_is_not_in_force():
    b = _data((64, 64))
    b64 = b.astype(np.float64)
    assert gemm.pack(b64) is b64
    b3 = b[None]
    assert gemm.pack(b3) is b3
    runtime.set_gemm("blas")
    assert gemm.pack(b) is b
    np.testing.assert_array_equal(gemm.matmul(_data((48, 64)), gemm.pack(b)), _data((48, 64)) @ b)
    with runtime.use_kernels("reference"):
        runtime.set_gemm("neurona")
        assert gemm.pack(b) is b


def test_a_packed_b_made_while_in_force_still_works_when_it_is_not():
    b = _data((64, 64))
    pb = gemm.pack(b)
    assert isinstance(pb, gemm.PackedB)
    runtime.set_gemm("blas")
    a = _data((48, 64), 1)
    np.testing.assert_array_equal(gemm.matmul(a, pb), a @ b)


# --- empty products, errors and what is left to NumPy ---------------------------------------------------

@pytest.mark.parametrize("route", ["natural", "kernel", "transposed"])
@pytest.mark.parametrize("m, k, n", [(48, 0, 64), (0, 64, 64), (48, 64, 0), (0, 0, 0)])
def test_empty_products(m, k, n, route, monkeypatch):
    _routed(monkeypatch, route)
    a, b = _data((m, k)), _data((k, n))
    c = gemm.matmul(a, b)
    assert c.shape == (m, n) and c.dtype == np.float32 and not c.any()
    out = np.full((m, n), np.nan, np.float32)
    assert gemm.matmul(a, b, out=out) is out and not out.any()
    if m and n:
        assert not gemm.matmul(a, gemm.pack(b)).any()


@pytest.mark.parametrize("route", ["natural", "kernel"])
def test_shape_mismatch_names_both_shapes(route, monkeypatch):
    _routed(monkeypatch, route)
    a, b = _data((48, 64)), _data((65, 32))
    for right in (b, gemm.pack(b)):
        with pytest.raises(ValueError, match=re.escape("(48, 64)") + ".*" + re.escape("(65, 32)")):
            gemm.matmul(a, right)
    with pytest.raises(ValueError, match=re.escape("(32, 48)") + ".*" + re.escape("(48, 32)")):
        gemm.matmul(_data((48, 65)), b, out=np.empty((32, 48), np.float32))
    with pytest.raises(ValueError, match=re.escape("(0, 64)") + ".*" + re.escape("(65, 32)")):
        gemm.matmul(_data((0, 64)), b)


class _Sub(np.ndarray):
    pass


@pytest.mark.parametrize("route", ["natural", "kernel"])
def test_other_operands_are_numpys_products_unchanged(route, monkeypatch, calls):
    _routed(monkeypatch, route)
    a32, b32 = _data((48, 64)), _data((64, 64), 1)
    cases = {
        "float64": (a32.astype(np.float64), b32.astype(np.float64), None),
        "float32 @ float64": (a32, b32.astype(np.float64), None),
        "int": (np.arange(48 * 64).reshape(48, 64) % 7, np.arange(64 * 64).reshape(64, 64) % 5, None),
        "float16": (a32.astype(np.float16), b32.astype(np.float16), None),
        "big-endian float32": (a32.astype(">f4"), b32, None),
        "3-D": (np.stack([a32, a32 + 1]), b32, None),
        "3-D @ 3-D": (np.stack([a32, a32 + 1]), np.stack([b32, b32 * 2]), None),
        "1-D @ 2-D": (a32[0], b32, None),
        "2-D @ 1-D": (a32, b32[:, 0], None),
        "lists": (a32[:13].tolist(), b32[:, :40].tolist(), None),
        "subclass": (a32.view(_Sub), b32, None),
        "float64 out": (a32, b32, np.empty((48, 64), np.float64)),
    }
    for name, (a, b, out) in cases.items():
        expected = np.matmul(a, b, out=None if out is None else out.copy())
        got = gemm.matmul(a, b, out=out)
        assert type(got) is type(expected), name
        assert got.dtype == expected.dtype and got.shape == expected.shape, name
        np.testing.assert_array_equal(got, expected, err_msg=name)
        if out is not None:
            assert got is out, name
    assert calls == [], "a product other than 2-D float32 NumPy arrays ran on the kernel"


@pytest.mark.parametrize("m, k, n", [(48, 64, 64), (13, 5, 40)])
def test_float32_in_float32_out(m, k, n):
    c = gemm.matmul(_data((m, k)), _data((k, n)))
    assert type(c) is np.ndarray and c.dtype == np.float32 and c.shape == (m, n)


# --- a property: any small shape, any layout, any route -------------------------------------------------

_layout = st.sampled_from(sorted(LAYOUTS))


@settings(max_examples=150, deadline=None, database=None, print_blob=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(m=st.integers(1, 40), k=st.integers(1, 300), n=st.integers(1, 70), la=_layout, lb=_layout,
       out=st.sampled_from(["none", "contiguous", "slice_of_wider", "transposed"]),
       route=st.sampled_from(["natural", "kernel", "transposed"]), packed=st.booleans(), seed=st.integers(0, 2**16))
def test_property_small_integers_give_the_exact_product(m, k, n, la, lb, out, route, packed, seed, monkeypatch):
    # integers of at most 4 in size: every partial sum is exact in float32, so any order of sums gives
    # the float64 product exactly
    with monkeypatch.context() as mp:
        _routed(mp, route)
        rng = np.random.default_rng(seed)
        a0 = rng.integers(-4, 5, (m, k)).astype(np.float32)
        b0 = rng.integers(-4, 5, (k, n)).astype(np.float32)
        a, b = LAYOUTS[la](a0), LAYOUTS[lb](b0)
        right = gemm.pack(b) if packed else b
        o = {"none": None, "contiguous": np.full((m, n), np.nan, np.float32),
             "slice_of_wider": np.full((m, n + 5), np.nan, np.float32)[:, 2:2 + n],
             "transposed": np.full((n, m), np.nan, np.float32).T}[out]
        c = gemm.matmul(a, right, out=o)
        if o is not None:
            assert c is o
        assert c.dtype == np.float32 and c.shape == (m, n)
        np.testing.assert_array_equal(c, a0.astype(np.float64) @ b0.astype(np.float64))


# --- when the kernel runs -------------------------------------------------------------------------------

def _arrays():
    return _data((48, 64)), _data((64, 64))


def test_blas_never_runs_the_kernel(calls):
    runtime.set_gemm("blas")
    a, b = _arrays()
    assert not gemm.in_force(a, b) and not gemm._active()
    np.testing.assert_array_equal(gemm.matmul(a, b), a @ b)
    assert calls == []


def test_the_reference_ops_never_run_the_kernel(calls):
    a, b = _arrays()
    assert gemm.in_force(a, b)
    with runtime.use_kernels("reference"):
        assert not gemm.in_force(a, b) and not gemm._active()
        np.testing.assert_array_equal(gemm.matmul(a, b), a @ b)
    assert calls == []
    assert gemm.in_force(a, b)


def test_in_force_only_for_float32_numpy_arrays():
    a, b = _arrays()
    assert gemm.in_force(a, b) and gemm.in_force(a) and gemm.in_force()
    assert not gemm.in_force(a, b.astype(np.float64))
    assert not gemm.in_force(a.tolist())
    assert not gemm.in_force(a.view(_Sub))
    assert not gemm.in_force(neurona.from_numpy(a))


class _Lib:
    def __init__(self, architecture, num_threads=1):
        self.architecture, self.num_threads = architecture, num_threads


@pytest.mark.parametrize("threads, expected", [(None, False), (1, True), (2, False), (16, False)])
def test_auto_runs_the_kernel_only_for_a_narrow_openblas_on_one_thread(threads, expected, monkeypatch, calls):
    runtime.set_gemm("auto")
    monkeypatch.setattr(gemm, "_blas", lambda: None if threads is None else (lambda: threads))
    a, b = _arrays()
    assert gemm.in_force(a, b) is expected and gemm._active() is expected
    _assert_product(gemm.matmul(a, b), a, b)
    assert bool(calls) is expected


class _Controller:
    """threadpoolctl's ThreadpoolController with the OpenBLAS libraries given."""
    libs: list = []

    def select(self, internal_api):
        assert internal_api == "openblas"
        return SimpleNamespace(lib_controllers=list(self.libs))


@pytest.mark.parametrize("flags, archs, found", [
    ({"avx2", "avx512f"}, ["Haswell"], 0), ({"avx2", "avx512f"}, ["SkylakeX"], None),
    ({"avx2", "avx512f"}, ["Zen"], 0), ({"avx2", "avx512f"}, ["Cooperlake"], None),
    ({"avx2"}, ["Haswell"], None), ({"avx2", "avx512f"}, [], None),
    ({"avx2", "avx512f"}, ["SkylakeX", "Haswell"], 1)])
def test_blas_is_an_openblas_with_narrower_kernels_than_an_avx512_cpu(flags, archs, found, monkeypatch):
    import threadpoolctl

    libs = [_Lib(x, num_threads=i + 1) for i, x in enumerate(archs)]  # told apart by their thread counts
    monkeypatch.setattr(_Controller, "libs", libs)
    monkeypatch.setattr(threadpoolctl, "ThreadpoolController", _Controller)
    monkeypatch.setattr(runtime, "_cpu_flags", lambda: set(flags))
    monkeypatch.setattr(gemm, "_controller", [])
    got = gemm._blas()
    assert (got is None) if found is None else got() == found + 1
    assert gemm._blas() is got  # looked up once


def test_auto_on_this_machine_follows_the_rule():
    from threadpoolctl import threadpool_info, threadpool_limits

    runtime.set_gemm("auto")
    threads = gemm._blas()
    expected = threads is not None and threads() == 1
    assert gemm._active() is expected
    if threads is not None:
        assert "avx512f" in runtime._cpu_flags()
        narrow = [i for i in threadpool_info() if i["internal_api"] == "openblas" and i["architecture"] in runtime.NARROW_OPENBLAS]
        assert narrow and threads() == narrow[0]["num_threads"]
        with threadpool_limits(1, user_api="blas"):  # the count is read again for every product
            assert threads() == 1 and gemm._active()


# --- NEURONA_GEMM ---------------------------------------------------------------------------------------

def test_neurona_gemm_is_read_from_the_environment_and_checked(monkeypatch):
    for value, expected in [("blas", "blas"), ("NEURONA", "neurona"), (" auto ", "auto"), ("", "auto")]:
        monkeypatch.setenv("NEURONA_GEMM", value)
        monkeypatch.setattr(runtime._state, "gemm", None)
        assert runtime.gemm() == expected
        assert runtime.settings()["NEURONA_GEMM"] == expected
    monkeypatch.setenv("NEURONA_GEMM", "fast")
    monkeypatch.setattr(runtime._state, "gemm", None)
    with pytest.raises(ValueError, match="NEURONA_GEMM='fast': expected one of auto, neurona, blas"):
        runtime.gemm()
    with pytest.raises(ValueError, match="NEURONA_GEMM"):
        gemm.matmul(*_arrays())
    monkeypatch.delenv("NEURONA_GEMM")
    assert runtime.gemm() == "auto"
    assert "NEURONA_GEMM" in runtime.settings() and "NEURONA_GEMM" in runtime.__doc__


def test_set_gemm_checks_its_argument():
    with pytest.raises(ValueError, match="set_gemm: expected 'auto', 'neurona' or 'blas', got 'fast'"):
        runtime.set_gemm("fast")
    assert runtime.gemm() == "neurona"
    runtime.set_gemm("blas")
    assert runtime.gemm() == "blas" and runtime.settings()["NEURONA_GEMM"] == "blas"


# --- the layers whose kernels use it --------------------------------------------------------------------
#
# Each layer runs on the reference ops and on the fast kernels with the kernel forced on; 'natural' lets the
# cost model choose (the first shapes are ones it gives the kernel), 'kernel' sends every product to it.

# float32 products of up to a few hundred terms, summed in another order than the BLAS's
TOL32 = dict(rtol=1e-4, atol=1e-5)


def _module_both(make, x, seed=0, outputs=lambda y: [y]):
    """One model's outputs and gradients (of x and of every parameter) on the reference ops and on the kernels."""
    res = {}
    for path in ("reference", "numba"):
        with runtime.use_kernels(path):
            neurona.manual_seed(seed)
            model = make()
            t = neurona.from_numpy(x.copy()).requires_grad_()
            ys = outputs(model(t))
            loss = None
            for y in ys:
                c = np.cos(np.arange(y.array.size)).reshape(y.shape).astype(y.dtype)
                term = (y * neurona.from_numpy(c)).sum()
                loss = term if loss is None else loss + term
            loss.backward()
            res[path] = [y.array.copy() for y in ys] + [t.grad.array.copy()] + \
                        [p.grad.array.copy() for p in model.parameters()]
    return res


def _agree(res, what=""):
    """float32 results of the kernels within float32 rounding of the reference's (relative to each array's size)."""
    ref, fast = res["reference"], res["numba"]
    assert len(ref) == len(fast)
    for i, (r, f) in enumerate(zip(ref, fast)):
        assert f.dtype == r.dtype == np.float32, (what, i, f.dtype, r.dtype)
        assert f.shape == r.shape, (what, i)
        scale = max(float(np.abs(r).max()) if r.size else 1.0, 1.0)
        np.testing.assert_allclose(f, r, rtol=TOL32["rtol"], atol=TOL32["atol"] * scale, err_msg=f"{what} item {i}")


def _ran(calls, route, natural_hits):
    if route == "kernel" or natural_hits:
        assert calls, "no product of the layer ran on the kernel"


ROUTES = ["natural", "kernel"]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("fin, fout, lead", [(64, 96, (2, 48)), (50, 70, (100,)), (40, 33, (7, 13)), (3, 2, (4,))])
def test_linear_on_the_kernel_agrees_with_the_reference(fin, fout, lead, route, monkeypatch, calls):
    _routed(monkeypatch, route)
    x = _data(lead + (fin,), 1)
    for bias in (True, False):
        calls.clear()
        _agree(_module_both(lambda: nn.Linear(fin, fout, bias=bias), x), f"linear, bias={bias}")
        _ran(calls, route, fin == 64)


@pytest.mark.parametrize("route", ROUTES)
def test_the_functional_linear_op_on_the_kernel_agrees_with_the_reference(route, monkeypatch, calls):
    from neurona.nn import functional as F
    _routed(monkeypatch, route)
    x, w, b = _data((96, 64), 1), _data((96, 64), 2), _data((96,), 3)
    _agree(run_both(F.linear, [x, w, b]), "F.linear")
    _agree(run_both(F.linear, [x[::2, ::2], w[:, ::2]]), "F.linear of strided views")
    _ran(calls, route, True)


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("act", [nn.ReLU, nn.Tanh, nn.Sigmoid, nn.LeakyReLU])
@pytest.mark.parametrize("fin, fout, batch", [(64, 96, 96), (50, 70, 37)])
def test_fused_linear_activation_on_the_kernel_agrees_with_the_reference(act, fin, fout, batch, route, monkeypatch,
                                                                          calls):
    from neurona import rewrites
    _routed(monkeypatch, route)

    def make():
        return nn.Sequential(nn.Linear(fin, fout), act(), nn.Linear(fout, 32))

    assert type(rewrites.plan(make())[0]).__name__ == "_LinearActivation"
    _agree(_module_both(make, _data((batch, fin), 1)), f"linear+{act.__name__}")
    _ran(calls, route, fin == 64)


def _recurrent_outputs(res):
    y, state = res
    return [y] + (list(state) if isinstance(state, tuple) else [state])


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
@pytest.mark.parametrize("bias, bidirectional", [(True, False), (False, False), (True, True)])
@pytest.mark.parametrize("batch, hidden", [(24, 32), (13, 20)])
def test_recurrent_layers_on_the_kernel_agree_with_the_reference(cell, bias, bidirectional, batch, hidden, route,
                                                                 monkeypatch, calls):
    _routed(monkeypatch, route)
    T, I = 5, 40

    def make():
        return getattr(nn, cell)(I, hidden, bias=bias, batch_first=True, bidirectional=bidirectional)

    _agree(_module_both(make, _data((batch, T, I), 1), outputs=_recurrent_outputs),
           f"{cell} bias={bias} bidirectional={bidirectional}")
    _ran(calls, route, batch == 24)


@pytest.mark.parametrize("route", ROUTES)
def test_the_recurrent_ops_in_reverse_on_the_kernel_agree_with_the_reference(route, monkeypatch, calls):
    from neurona.functional import recurrent as R
    _routed(monkeypatch, route)
    T, B, I, H = 6, 24, 40, 32
    for cell, g in (("lstm", 4), ("gru", 3)):
        arrays = [_data((T, B, I)), _data((B, H), 1), _data((B, H), 2),
                  _data((g * H, I), 3) * 0.2, _data((g * H, H), 4) * 0.2, _data((g * H,), 5), _data((g * H,), 6)]
        if cell == "gru":
            del arrays[2]
        fn = R.lstm_sequence if cell == "lstm" else R.gru_sequence
        for reverse in (False, True):
            _agree(run_both(lambda *ts: fn(*ts, reverse=reverse), arrays), f"{cell} reverse={reverse}")
    _ran(calls, route, True)


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("cin, cout, k, stride, padding", [(16, 32, 3, 1, 1), (24, 20, 3, 2, 0), (16, 48, 1, 1, 0),
                                                           (32, 16, 1, 2, 0), (17, 5, 2, 1, 1)])
def test_channels_last_convolutions_on_the_kernel_agree_with_the_reference(cin, cout, k, stride, padding, route,
                                                                            monkeypatch, calls):
    from neurona import kernels
    _routed(monkeypatch, route)
    x = _data((4, cin, 10, 10), 1)
    assert kernels.conv2d_strategy(x, _data((cout, cin, k, k)), 1) == "conv2d_channels_last"
    for bias in (True, False):
        calls.clear()
        _agree(_module_both(lambda: nn.Conv2d(cin, cout, k, stride=stride, padding=padding, bias=bias), x),
               f"conv {cin}->{cout} {k}x{k} stride {stride} padding {padding} bias {bias}")
        _ran(calls, route, (cin, cout) in ((16, 32), (16, 48)))


@pytest.mark.parametrize("cin, cout, hw, k, padding, dilation", [
    (24, 32, (14, 14), 3, 1, 1),      # rows of a multiple of 14 pixels, 32 output channels: whole tiles
    (24, 40, (9, 11), 3, 1, 1),       # other widths, an edge tile of output channels
    (32, 24, (10, 10), 3, 0, 1),      # no padding
    (24, 33, (8, 12), (2, 3), (1, 2), 1),
    (25, 24, (11, 9), 3, 2, 2),       # dilated
    (24, 32, (7, 7), 3, 3, 1),        # padding wider than the kernel's reach
])
def test_stride_one_convolutions_read_in_place_agree_with_the_reference(cin, cout, hw, k, padding, dilation, calls):
    x = _data((3, cin) + hw, 1)
    for bias in (True, False):
        calls.names.clear()
        _agree(_module_both(lambda: nn.Conv2d(cin, cout, k, padding=padding, dilation=dilation, bias=bias), x),
               f"conv {cin}->{cout} {k} padding {padding} dilation {dilation} bias {bias}")
        assert any(name.startswith("_conv") for name in calls.names), f"not read in place: {set(calls.names)}"


def test_a_channels_last_input_with_few_channels_takes_the_same_path(monkeypatch, calls):
    # fewer than 16 channels but 16 or more outputs: channels-last too
    from neurona import kernels
    _routed(monkeypatch, "kernel")
    x = _data((4, 3, 12, 12), 1)
    assert kernels.conv2d_strategy(x, _data((32, 3, 3, 3)), 1) == "conv2d_channels_last"
    _agree(_module_both(lambda: nn.Conv2d(3, 32, 3, padding=1), x), "conv 3->32")
    assert calls
