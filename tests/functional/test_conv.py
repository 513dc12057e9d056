"""conv2d / conv1d: PyTorch values, the plain reference, finite differences, float32, layouts, errors.

Every check runs on the three implementations of ``conv2d``: the reference op (im2col + product,
``neurona.functional.conv``) and the two fast strategies of ``neurona.kernels`` (batch-last and
channels-last patches).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import neurona
from neurona import kernels, runtime
from neurona.functional import conv as C
from neurona.kernels import conv_batch_last as BL
from neurona.kernels import conv_channels_last as CL
from tests.opcheck import check_op

FIXTURE = Path(__file__).parents[1] / "fixtures" / "conv_reference.npz"
REF = np.load(FIXTURE, allow_pickle=False)
PATHS = ("reference", "conv2d_batch_last", "conv2d_channels_last")


def _use(monkeypatch, path: str) -> None:
    """Run conv2d on ``path``: the reference op, or one fast strategy whatever the shapes."""
    if path == "reference":
        monkeypatch.setattr(runtime._state, "kernels", "reference")
    else:
        monkeypatch.setattr(runtime._state, "kernels", "numba")
        monkeypatch.setattr(kernels, "conv2d_strategy", lambda x, w, groups: path)


def _paths(groups: int) -> list:
    """The paths that compute ``groups`` (the channels-last strategy computes one group only)."""
    return [p for p in PATHS if groups == 1 or p != "conv2d_channels_last"]


def cases(prefix: str) -> list[str]:
    return sorted({k.split(".")[0] for k in REF.files if k.startswith(prefix + "_") and k.endswith(".spec")})


def _kw(spec: dict) -> dict:
    return {k: (tuple(v) if isinstance(v, list) else v) for k, v in spec["kwargs"].items()}


def _run_case(case: str, fn):
    spec = json.loads(str(REF[f"{case}.spec"]))
    ts = {k: neurona.from_numpy(REF[f"{case}.{k}"].copy()).requires_grad_() for k in spec["inputs"]}
    out = fn(**ts, **_kw(spec))
    np.testing.assert_allclose(out.array, REF[f"{case}.out"], rtol=1e-10, atol=1e-10)
    out.backward(REF[f"{case}.r"])
    for k in spec["grads"]:
        np.testing.assert_allclose(ts[k].grad.array, REF[f"{case}.grad_{k}"], rtol=1e-10, atol=1e-10,
                                   err_msg=f"{case}: gradient of {k}")
    return spec


@pytest.mark.parametrize("case, path", [(c, p) for c in cases("conv2d") if not c.startswith("conv2d_mode")
                                        for p in _paths(json.loads(str(REF[f"{c}.spec"]))["kwargs"]["groups"])])
def test_conv2d_matches_pytorch(case, path, monkeypatch):
    _use(monkeypatch, path)
    _run_case(case, lambda x, w, b=None, **kw: C.conv2d(x, w, b, **kw))


@pytest.mark.parametrize("case", cases("conv1d"))
def test_conv1d_matches_pytorch(case):
    _run_case(case, lambda x, w, b=None, **kw: C.conv1d(x, w, b, **kw))


# (x shape, w shape, stride, padding, dilation, groups): kernels, strides, paddings, dilations, groups, odd sizes
GRID = [
    ((2, 3, 5, 5), (2, 3, 3, 3), 1, 1, 1, 1),
    ((1, 2, 7, 6), (3, 2, 5, 5), 1, 2, 1, 1),
    ((2, 2, 7, 5), (2, 2, 3, 2), (2, 1), (1, 0), 1, 1),
    ((1, 4, 7, 7), (4, 2, 3, 3), 2, 2, 2, 2),
    ((2, 3, 5, 6), (3, 1, 3, 3), 1, 1, 1, 3),
    ((1, 3, 5, 4), (2, 3, 1, 1), 1, 0, 1, 1),
    ((2, 2, 6, 5), (3, 2, 1, 1), 2, 1, 1, 1),
    ((1, 2, 6, 5), (2, 2, 4, 3), 1, "same", (1, 2), 1),
    ((1, 17, 4, 4), (2, 17, 3, 3), 1, 1, 1, 1),  # ≥ 16 channels: the channels-last path
    ((1, 16, 5, 3), (3, 16, 2, 2), (2, 1), (0, 1), 1, 1),
]


@pytest.mark.parametrize("xs, ws, stride, padding, dilation, groups, path",
                         [(*g, p) for g in GRID for p in _paths(g[5])])
def test_conv2d_gradcheck_reference_float32(xs, ws, stride, padding, dilation, groups, path, monkeypatch):
    _use(monkeypatch, path)

    def fn(x, w, b):
        return C.conv2d(x, w, b, stride, padding, dilation, groups)

    def ref(x, w, b):
        return C.conv2d_reference(x, w, b, stride, padding, dilation, groups)

    check_op(fn, ref, [xs, ws, (ws[0],)])


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("memory", [(0, 2, 3, 1), (1, 2, 3, 0)])
def test_inputs_in_other_memory_orders(memory, path, rng, monkeypatch):
    """Outputs of an earlier conv are NCHW views of NHWC or CHWN arrays: same values and gradients."""
    _use(monkeypatch, path)
    x = rng.standard_normal((3, 4, 6, 5))
    w, b = rng.standard_normal((5, 4, 3, 3)), rng.standard_normal(5)
    stored = np.ascontiguousarray(x.transpose(memory))
    inverse = tuple(int(i) for i in np.argsort(memory))
    expected = C.conv2d_reference(x, w, b, 1, 1)

    def fn(s, w, b):
        return C.conv2d(s.permute(*inverse), w, b, padding=1)

    out = fn(neurona.from_numpy(stored), neurona.from_numpy(w), neurona.from_numpy(b))
    np.testing.assert_allclose(out.array, expected, rtol=1e-10, atol=1e-12)
    assert neurona.gradcheck(fn, neurona.from_numpy(stored), neurona.from_numpy(w), neurona.from_numpy(b))


def test_large_col2im_goes_one_offset_at_a_time(rng, monkeypatch):
    """The memory-saving col2im (one kernel offset at a time) gives the same gradient as the one-buffer one."""
    x, w = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    grads = []
    _use(monkeypatch, "conv2d_batch_last")
    for limit in (1 << 30, 0):
        monkeypatch.setattr(BL, "COL2IM_BUFFER", limit)
        xt = neurona.from_numpy(x.copy()).requires_grad_()
        y = C.conv2d(xt, neurona.from_numpy(w), padding=(2, 1), stride=(2, 1))  # strided rows: the patch matrix
        y.sum().backward()
        grads.append(xt.grad.array)
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12)


_HOST_STRATEGY = pytest.mark.host_only("the Numba conv strategies and their memory orders are host-only")


@pytest.mark.parametrize("path, memory", [("reference", (0, 1, 2, 3)),
                                          pytest.param("conv2d_batch_last", (1, 2, 3, 0), marks=_HOST_STRATEGY),
                                          pytest.param("conv2d_channels_last", (0, 2, 3, 1), marks=_HOST_STRATEGY)])
def test_conv_output_is_float32_and_its_memory_order_is_the_strategys(rng, monkeypatch, path, memory):
    """The layout contract (CONTRIBUTING.md): NCHW shape, in NCHW, CHWN or NHWC memory by strategy."""
    _use(monkeypatch, path)
    x = neurona.from_numpy(rng.standard_normal((2, 20, 5, 5)).astype(np.float32))
    w = neurona.from_numpy(rng.standard_normal((8, 20, 3, 3)).astype(np.float32))
    y = C.conv2d(x, w, padding=1)
    assert y.dtype == np.float32 and y.shape == (2, 8, 5, 5)
    assert y.array.transpose(memory).flags.c_contiguous


def test_the_strategy_rule():
    """Channels-last from 16 input channels on; batch-last below, and for groups; between them, the input's memory
    order and the output's channel count decide (see neurona.kernels.conv2d_strategy)."""
    rule = kernels.conv2d_strategy
    assert rule(np.zeros((8, 16, 5, 5)), np.zeros((4, 16, 3, 3)), 1) == "conv2d_channels_last"
    assert rule(np.zeros((8, 16, 5, 5)), np.zeros((4, 8, 3, 3)), 2) == "conv2d_batch_last"
    assert rule(np.zeros((8, 1, 5, 5)), np.zeros((6, 1, 3, 3)), 1) == "conv2d_batch_last"
    assert rule(np.zeros((8, 1, 5, 5)), np.zeros((32, 1, 3, 3)), 1) == "conv2d_channels_last"
    batch_last = np.zeros((6, 5, 5, 8)).transpose(3, 0, 1, 2)
    assert rule(batch_last, np.zeros((16, 6, 3, 3)), 1) == "conv2d_batch_last"


@pytest.mark.host_only("the workspace keeps host scratch arrays; a device's memory pool keeps its own")
@pytest.mark.parametrize("path", PATHS)
def test_workspace_buffers_are_not_shared_between_live_graphs(rng, monkeypatch, path):
    """Two graphs of the same shapes alive at once must each keep their own patch matrix."""
    _use(monkeypatch, path)
    w = neurona.from_numpy(rng.standard_normal((3, 2, 3, 3))).requires_grad_()
    xs = [rng.standard_normal((2, 2, 5, 5)) for _ in range(2)]
    outs = [C.conv2d(neurona.from_numpy(x), w, padding=1) for x in xs]
    g = rng.standard_normal(outs[0].shape)
    for o in outs:
        o.backward(g)
    total = np.zeros(w.shape)
    for x in xs:
        wt = neurona.from_numpy(w.array.copy()).requires_grad_()
        C.conv2d(neurona.from_numpy(x), wt, padding=1).backward(g)
        total += wt.grad.array
    np.testing.assert_allclose(w.grad.array, total, rtol=1e-12)
    for _ in range(3):  # buffers come back after backward and are reused: values stay right
        x = neurona.from_numpy(xs[0])
        np.testing.assert_allclose(C.conv2d(x, w, padding=1).array, C.conv2d_reference(xs[0], w.array, None, 1, 1),
                                   rtol=1e-12, atol=1e-12)


def test_backward_twice_with_retain_graph(rng):
    x = neurona.from_numpy(rng.standard_normal((1, 2, 5, 5))).requires_grad_()
    w = neurona.from_numpy(rng.standard_normal((2, 2, 3, 3))).requires_grad_()
    y = C.conv2d(x, w, padding=1)
    y.sum().backward(retain_graph=True)
    g1 = x.grad.array.copy()
    y.sum().backward()
    np.testing.assert_allclose(x.grad.array, 2 * g1)


def test_no_grad_forward_matches(rng):
    x, w = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    with neurona.no_grad():
        y = C.conv2d(neurona.from_numpy(x), neurona.from_numpy(w), stride=2, padding=1)
    np.testing.assert_allclose(y.array, C.conv2d_reference(x, w, None, 2, 1), rtol=1e-12, atol=1e-12)


def test_pad_modes_gradcheck_and_values(rng):
    x = rng.standard_normal((1, 2, 4, 5))
    for mode, np_mode in (("reflect", "reflect"), ("replicate", "edge"), ("circular", "wrap")):
        y = C.pad_mode(neurona.from_numpy(x), (1, 2, 2, 1), mode)
        np.testing.assert_array_equal(y.array, np.pad(x, ((0, 0), (0, 0), (1, 2), (2, 1)), mode=np_mode))
        assert neurona.gradcheck(lambda t, mode=mode: C.pad_mode(t, (1, 2, 2, 1), mode), neurona.from_numpy(x))


@pytest.mark.parametrize("args, message", [
    (((2, 3, 5, 5), (4, 2, 3, 3)), "input has 3 channels"),
    (((2, 3, 5), (4, 3, 3, 3)), "4-D input"),
    (((2, 3, 2, 2), (4, 3, 3, 3)), "smaller than"),
    (((2, 4, 5, 5), (3, 2, 3, 3), {"groups": 2}), "not divisible by groups"),
    (((2, 3, 5, 5), (4, 3, 3, 3), {"padding": "same", "stride": 2}), "stride 1"),
    (((2, 3, 5, 5), (4, 3, 3, 3), {"padding": "full"}), "padding must be"),
    (((2, 3, 5, 5), (4, 3, 3, 3), {"stride": 0}), "positive"),
])
def test_errors_name_the_problem(args, message):
    xs, ws = args[0], args[1]
    kw = args[2] if len(args) > 2 else {}
    with pytest.raises(ValueError, match=message):
        C.conv2d(neurona.zeros(*xs), neurona.zeros(*ws), **kw)


def test_bias_shape_and_dtype_errors():
    with pytest.raises(ValueError, match=r"bias of shape \(4,\)"):
        C.conv2d(neurona.zeros(1, 3, 5, 5), neurona.zeros(4, 3, 3, 3), neurona.zeros(3))
    with pytest.raises(TypeError, match="same dtype"):
        C.conv2d(neurona.zeros(1, 3, 5, 5), neurona.zeros(4, 3, 3, 3, dtype=neurona.float64))


def test_conv1d_gradcheck_and_reference(rng):
    def fn(x, w, b):
        return C.conv1d(x, w, b, stride=2, padding=1, dilation=2)

    def ref(x, w, b):
        return C.conv2d_reference(x[:, :, None], w[:, :, None], b, (1, 2), (0, 1), (1, 2))[:, :, 0]

    check_op(fn, ref, [(2, 3, 9), (4, 3, 3), (4,)])
    with pytest.raises(ValueError, match="3-D input"):
        C.conv1d(neurona.zeros(2, 3, 4, 4), neurona.zeros(2, 3, 3))


def test_output_size_formula():
    assert C.conv_output_size(28, 5, 1, 2, 2) == 28
    assert C.conv_output_size(224, 11, 4, 2, 2) == 55
    assert C.conv_output_size(7, 3, 2, 1, 1, dilation=2) == 3


def _agree_under(monkeypatch, module, name: str, settings: tuple, arrays: tuple, args: tuple, r, probe=None) -> None:
    """conv2d with ``module.name`` at each of ``settings``: equal values and gradients of x, w and b (float64),
    and values equal to the reference's. ``probe(setting, y)`` checks which path ran."""
    results = []
    for setting in settings:
        monkeypatch.setattr(module, name, setting)
        ts = [neurona.from_numpy(a.copy()).requires_grad_() for a in arrays]
        y = C.conv2d(*ts, *args)
        assert probe is None or probe(setting, y)
        y.backward(r)
        results.append([y.array] + [t.grad.array for t in ts])
    for first, other in zip(*results):
        np.testing.assert_allclose(other, first, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(results[-1][0], C.conv2d_reference(*arrays, *args), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("stride, padding, dilation, kernel", [(1, 1, 1, 3), (2, 1, 1, 3), (1, 2, 2, 3), (1, 0, 1, 1),
                                                                (2, 1, 1, 1), ((1, 2), (2, 1), 1, (3, 2))])
def test_channels_last_blocks_of_images_agree_with_one_block(rng, monkeypatch, stride, padding, dilation, kernel):
    """The channels-last loops copy and multiply the patches of a few images at a time (and backward copies
    them again): one image per block must give the values and gradients of one block for the whole batch."""
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    x = rng.standard_normal((5, 16, 7, 6))
    w, b = rng.standard_normal((4, 16, kh, kw)), rng.standard_normal(4)
    r = rng.standard_normal(C.conv2d(neurona.from_numpy(x), neurona.from_numpy(w), None, stride, padding,
                                     dilation).shape)
    _use(monkeypatch, "conv2d_channels_last")
    # everything in one block; one image per block
    _agree_under(monkeypatch, CL, "BLOCK_BYTES", (1 << 30, 1), (x, w, b), (stride, padding, dilation), r)


@pytest.mark.host_only("the Numba conv strategies (row blocks, row bands) run on host arrays only")
@pytest.mark.parametrize("stride, padding, dilation, kernel", [(1, 2, 1, 5), (2, 1, 1, 3), (1, 2, 2, 3), (1, 0, 1, 1),
                                                                ((2, 1), (1, 2), (1, 2), (3, 2))])
def test_batch_last_blocks_of_rows_agree_with_one_patch_matrix(rng, monkeypatch, stride, padding, dilation, kernel):
    """A first layer (input without gradient) in blocks of output rows, backward copying each block's patches
    again, gives the values and gradients of one block for all rows, and of the reference convolution."""
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    x = rng.standard_normal((3, 2, 9, 8))
    w, b = rng.standard_normal((4, 2, kh, kw)), rng.standard_normal(4)
    _use(monkeypatch, "conv2d_batch_last")
    results = []
    for block in (1 << 40, 1):  # one block for all rows; one output row per block
        monkeypatch.setattr(BL, "ROW_BLOCK_BYTES", block)
        wt, bt = (neurona.from_numpy(a.copy()).requires_grad_() for a in (w, b))
        y = C.conv2d(neurona.from_numpy(x.copy()), wt, bt, stride, padding, dilation)
        if block == 1:
            assert y.grad_fn.rows == 1 and y.grad_fn.cols is None  # the blocked loop ran
        r = np.random.default_rng(1).standard_normal(y.shape)
        y.backward(r)
        results.append([y.array, wt.grad.array, bt.grad.array])
    for one, many in zip(*results):
        np.testing.assert_allclose(many, one, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(results[1][0], C.conv2d_reference(x, w, b, stride, padding, dilation), rtol=1e-10,
                               atol=1e-10)


@pytest.mark.host_only("the Numba conv strategies (row blocks, row bands) run on host arrays only")
def test_first_layer_takes_row_blocks_and_others_row_bands(rng, monkeypatch):
    """By default a batch-last convolution whose input needs no gradient runs in blocks of rows, one whose input
    needs a gradient on row bands, and one with a stride along the height on the patch matrix."""
    monkeypatch.setattr(runtime._state, "kernels", "numba")  # the fast path's choice, whatever NEURONA_KERNELS says
    x = neurona.from_numpy(rng.standard_normal((64, 1, 28, 28)).astype(np.float32))
    w = neurona.from_numpy(rng.standard_normal((6, 1, 5, 5)).astype(np.float32)).requires_grad_()
    y = C.conv2d(x, w, padding=2)
    assert type(y.grad_fn) is BL.Conv2d and y.grad_fn.cols is None and y.grad_fn.rows < 28
    y2 = C.conv2d(neurona.from_numpy(x.array.copy()).requires_grad_(), w, padding=2)
    assert y2.grad_fn.cols is None and y2.grad_fn.u.shape == (32, 1, 5, 28, 64)
    y3 = C.conv2d(neurona.from_numpy(x.array.copy()).requires_grad_(), w, padding=2, stride=(2, 1))
    assert y3.grad_fn.cols is not None and "banded" not in y3.grad_fn.__dict__
    y.sum().backward()
    g = w.grad.array.copy()
    w.grad = None
    y2.sum().backward()
    np.testing.assert_allclose(w.grad.array, g, rtol=1e-4, atol=1e-3)


# (x shape, w shape, stride, padding, dilation): rectangular kernels, strides and dilations along the width,
# 'same' (uneven) padding, outputs shorter than the kernel, 1x1, one channel, one image
BANDS = [
    ((3, 2, 9, 8), (4, 2, 5, 5), 1, 2, 1),
    ((2, 6, 14, 14), (5, 6, 5, 5), 1, 0, 1),
    ((2, 3, 7, 9), (4, 3, 3, 2), (1, 2), (1, 0), (1, 2)),
    ((2, 2, 6, 5), (3, 2, 4, 3), 1, "same", (1, 2)),
    ((2, 2, 3, 3), (3, 2, 3, 3), 1, 0, 1),
    ((2, 2, 3, 4), (3, 2, 5, 5), 1, 2, 1),
    ((1, 2, 2, 5), (3, 2, 3, 3), 1, 1, 1),
    ((2, 4, 5, 5), (2, 4, 1, 1), 1, 0, 1),
    ((2, 1, 6, 6), (2, 1, 3, 3), (1, 3), (0, 2), (1, 3)),
    ((1, 2, 11, 10), (3, 2, 7, 7), (1, 2), 3, 1),
]


@pytest.mark.host_only("the Numba conv strategies (row blocks, row bands) run on host arrays only")
@pytest.mark.parametrize("xs, ws, stride, padding, dilation", BANDS)
def test_row_bands_agree_with_the_patch_matrix_and_the_reference(rng, monkeypatch, xs, ws, stride, padding,
                                                                 dilation):
    """Row bands (a convolution whose input needs a gradient) give the values and the three gradients of the
    patch matrix and of the reference convolution, and pass a finite-difference check (float64)."""
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    _use(monkeypatch, "conv2d_batch_last")
    r = rng.standard_normal(C.conv2d_reference(x, w, b, stride, padding, dilation).shape)
    bands = BL.Conv2d._bands_apply
    _agree_under(monkeypatch, BL.Conv2d, "_bands_apply", (lambda self: False, bands), (x, w, b),
                 (stride, padding, dilation), r,
                 probe=lambda setting, y: ("banded" in y.grad_fn.__dict__) == (setting is bands))

    def fn(x, w, b):
        return C.conv2d(x, w, b, stride, padding, dilation)

    assert neurona.gradcheck(fn, *(neurona.from_numpy(a) for a in (x, w, b)))


@pytest.mark.host_only("the Numba conv strategies (row blocks, row bands) run on host arrays only")
def test_row_bands_keep_float32_and_read_other_memory_orders(rng, monkeypatch):
    """float32 in, float32 values and gradients out; an NCHW or NHWC input gives what a batch-last one gives."""
    _use(monkeypatch, "conv2d_batch_last")
    x = rng.standard_normal((4, 3, 8, 7)).astype(np.float32)
    w = rng.standard_normal((5, 3, 3, 3)).astype(np.float32)
    outs = []
    for memory in ((0, 1, 2, 3), (0, 2, 3, 1), (1, 2, 3, 0)):
        stored = np.ascontiguousarray(x.transpose(memory))
        xt = neurona.from_numpy(stored).requires_grad_()
        wt = neurona.from_numpy(w.copy()).requires_grad_()
        y = C.conv2d(xt.permute(*(int(i) for i in np.argsort(memory))), wt, padding=1)
        assert y.grad_fn.banded
        (y * y).sum().backward()
        assert y.dtype == xt.grad.dtype == wt.grad.dtype == np.float32
        outs.append((y.array, xt.grad.array.transpose(np.argsort(memory)), wt.grad.array))
    for other in outs[1:]:
        for a, b in zip(outs[0], other):
            np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(outs[0][0], C.conv2d_reference(x.astype(np.float64), w.astype(np.float64), None, 1,
                                                              1), rtol=1e-4, atol=1e-4)


@pytest.mark.host_only("the Numba conv strategies (row blocks, row bands) run on host arrays only")
def test_row_bands_with_a_frozen_weight_keep_nothing_for_it(rng, monkeypatch):
    """With the weight frozen, row bands hand U back at once (it is only read again for ∂L/∂W); ∂L/∂x and ∂L/∂b
    are those of the patch matrix, and the values those of the reference."""
    x, w, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    _use(monkeypatch, "conv2d_batch_last")
    r = rng.standard_normal((2, 4, 7, 6))
    grads = []
    original = BL.Conv2d._bands_apply
    for bands in (True, False):
        monkeypatch.setattr(BL.Conv2d, "_bands_apply", original if bands else (lambda self: False))
        xt, bt = (neurona.from_numpy(a.copy()).requires_grad_() for a in (x, b))
        wt = neurona.from_numpy(w)  # frozen
        y = C.conv2d(xt, wt, bt, padding=1)
        if bands:
            assert y.grad_fn.banded and y.grad_fn.u is None
            np.testing.assert_allclose(y.array, C.conv2d_reference(x, w, b, 1, 1), rtol=1e-10, atol=1e-10)
        y.backward(r)
        assert wt.grad is None
        grads.append((xt.grad.array, bt.grad.array))
    for a, other in zip(*grads):
        np.testing.assert_allclose(a, other, rtol=1e-12, atol=1e-12)
