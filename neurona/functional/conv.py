"""Convolution as a fused op: ``conv2d`` and ``conv1d``.

The notes' convolutional layer slides a filter (kernel) of size M x N over the
image with a stride and zero padding. For an input x of shape (N, C, H, W) and
weights w of shape (O, C/groups, kh, kw), output channel o at position (p, q) is

    y[n, o, p, q] = b[o] + Σ_c Σ_i Σ_j  w[o, c, i, j] · x_pad[n, c, p·sh + i·dh, q·sw + j·dw]

(the c sum runs over the input channels of o's group). This is a
cross-correlation, as in PyTorch and every deep-learning library.

How it is computed (im2col + one matrix product). The windows of the padded
input are copied into a matrix of *patches* ("columns") and the whole layer
becomes a GEMM with the weights reshaped to a matrix:

    Y = cols @ W,   cols: (N·OH·OW, kh·kw·C),  W: (kh·kw·C, O)

Two layouts of the patches are used, chosen per shape by measurement
(``_choose_layout``); the API stays NCHW, only the memory order differs:

- channels-last, NHWC (groups=1 and C ≥ 16): each patch row holds kh·kw·C
  contiguous values; one GEMM (N·OH·OW, kh·kw·C) @ (kh·kw·C, O).
- batch-last, CHWN (few channels, or groups > 1): the batch is the innermost
  axis, so every patch copy and every col2im add moves runs of OW·N
  contiguous values even with one input channel; one GEMM per group,
  (O/g, C/g·kh·kw) @ (C/g·kh·kw, OH·OW·N).

A batch-last convolution whose input needs a gradient (stride 1 and no dilation
along the height, one group) skips the full patch matrix and works on *row
bands* (``Conv2d._forward_bands``): U, the patches with only the kernel
columns unrolled (kw times the input instead of kh·kw times), ordered so that
the patches of each output row are a block of consecutive rows of U. Forward
and both gradients are then one product per output (or input) row, read in
place from U or from ∂L/∂Y, and col2im adds kw slabs instead of kh·kw.

The output is an NCHW *view* of an NHWC or CHWN array. Elementwise ops and
pooling keep that memory order, so the next convolution (and, backward, the
gradient coming back) needs no transposing copy.

Backward (the chain rule through Y = cols @ W):

    ∂L/∂W    = colsᵀ @ ∂L/∂Y                      (one GEMM over the batch)
    ∂L/∂b    = Σ_{n,p,q} ∂L/∂Y
    ∂L/∂x    = col2im(∂L/∂Y @ Wᵀ)                 (every patch adds back into the pixels it came from)

col2im loops over the kh·kw kernel offsets and adds one strided slab per
offset (never one pixel at a time). ``conv2d_reference`` is a plain
implementation (a loop over kernel offsets with einsum) kept beside the fast
one; the tests check they agree.
"""
from __future__ import annotations

import contextlib
import threading

import numpy as np

from .. import _blas, _threads
from ..backend import get_array_module
from ..engine import Function, Tensor, is_grad_enabled
from .math import as_tensor

__all__ = ["conv2d", "conv1d", "conv2d_reference", "conv_output_size"]

# channels-last patches pay off from this many channels on; below it, batch-last (measured, see _choose_layout)
_CHANNELS_LAST_MIN_C = 16
# above this many elements, col2im computes the patch gradients one kernel offset at a time
_COL2IM_BUFFER = 1 << 23
# channels-last: patches are copied and multiplied in blocks of images of about this many bytes (measured on
# the 3x3 layers of cnn-small: 4 MiB blocks, kept in cache, run forward and backward about twice as fast as
# one patch matrix for the whole batch, and backward recomputes them instead of keeping kh·kw x the input)
_BLOCK_BYTES = 4 << 20
# batch-last, when the input needs no gradient (a first layer): patches are copied and multiplied in blocks of
# output rows of about this many bytes, and backward copies them again for ∂L/∂W instead of keeping them all
# (LeNet-5's first layer: a 10 MB patch matrix at batch 128; training 2-3 % faster, 8 MB less memory). With an
# input gradient the blocks' col2im is many small strided adds without the channel split between threads,
# measured no faster than one patch matrix, so such layers keep it, unless this switch says otherwise (tests)
_ROW_BLOCK_BYTES = 1 << 20
_ROW_BLOCKS_WITH_INPUT_GRAD = False
# batch-last convolutions whose input needs a gradient run on row bands (Conv2d._forward_bands) where they can:
# LeNet-5's second layer, paired in a training step, forward 0.72x and backward 0.76x the patch-matrix time
# (the whole step 0.89x). First layers measured no faster on bands than on blocks of rows, so they keep those
_ROW_BANDS = True
# layout override for measurements and tests: None (automatic), 'last' or 'batch_last'
_FORCE_LAYOUT = None


def _pair(v, name: str, op: str) -> tuple:
    if isinstance(v, (int, np.integer)):
        return (int(v), int(v))
    if isinstance(v, (tuple, list)) and len(v) == 2 and all(isinstance(a, (int, np.integer)) for a in v):
        return (int(v[0]), int(v[1]))
    raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")


def conv_output_size(size: int, kernel: int, stride: int = 1, pad_before: int = 0, pad_after: int = 0,
                     dilation: int = 1) -> int:
    """Output length along one axis: ⌊(size + pads − dilation·(kernel − 1) − 1) / stride⌋ + 1."""
    return (size + pad_before + pad_after - dilation * (kernel - 1) - 1) // stride + 1


def _padding4(padding, kernel: tuple, stride: tuple, dilation: tuple, op: str) -> tuple:
    """(top, bottom, left, right) from an int, a pair, a 4-tuple, 'valid' or 'same'."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{op}: padding='same' needs stride 1 (as in PyTorch), got stride {stride}")
            out = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                out += [total // 2, total - total // 2]  # an odd total puts the extra row/column after
            return tuple(out)
        raise ValueError(f"{op}: padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        pads = tuple(int(p) for p in padding)
    else:
        ph, pw = _pair(padding, "padding", op)
        pads = (ph, ph, pw, pw)
    if min(pads) < 0:
        raise ValueError(f"{op}: padding must be non-negative, got {padding!r}")
    return pads


def _windows(xp, a, shape, strides):
    return xp.lib.stride_tricks.as_strided(a, shape=shape, strides=strides, writeable=False)


class _Workspace(threading.local):
    """Large scratch arrays (patch matrices, padded inputs) kept for reuse by the next training step.

    A fresh multi-megabyte array costs a page fault per 4 KiB on first touch;
    on LeNet-5 that was a third of a training step. Buffers come back when the
    op's graph node is released after backward (``Conv2d.release``), or at once
    for temporaries. At most two buffers per shape and 256 MiB in all are
    kept, per thread; anything else is left to the garbage collector.
    """

    max_bytes = 256 << 20

    def __init__(self):
        self.free: dict = {}
        self.bytes = 0

    def take(self, xp, shape: tuple, dtype):
        if xp is np:
            stack = self.free.get((shape, np.dtype(dtype)))
            if stack:
                a = stack.pop()
                self.bytes -= a.nbytes
                return a
        return xp.empty(shape, dtype)

    def give(self, a) -> None:
        if type(a) is not np.ndarray or a.base is not None or a.nbytes < (1 << 16):
            return
        if self.bytes + a.nbytes > self.max_bytes:
            return
        stack = self.free.setdefault((a.shape, a.dtype), [])
        if len(stack) < 2:
            stack.append(a)
            self.bytes += a.nbytes

    def clear(self) -> None:
        self.free.clear()
        self.bytes = 0


_workspace = _Workspace()


def _blas_threads(xp):
    """One BLAS thread for the block of code (small per-block products), when ``xp`` is NumPy."""
    return _blas.single_threaded() if xp is np else contextlib.nullcontext()


def _parallel(fn, n: int, nbytes: int) -> None:
    """Run ``fn(lo, hi)`` over [0, n) split between threads when the work is large (see ``neurona._threads``)."""
    _threads.split_range(fn, n, nbytes)


def _memory_is(x, axes) -> bool:
    """Whether ``x`` is stored contiguously in the axis order ``axes`` (e.g. (1, 2, 3, 0): batch last)."""
    return x.transpose(axes).flags.c_contiguous


def _choose_layout(x, o: int, groups: int) -> str:
    """'last' (NHWC patches) or 'batch_last' (CHWN patches) for this input, by the rules measured on LeNet-5,
    small CNNs and ResNet-style shapes: NHWC wins from 16 channels on; with few channels its patch rows are
    too short, and CHWN (runs of OW·N contiguous values) wins. Staying in the memory order the previous
    layer produced avoids a transposing copy of the input and of the gradient."""
    c = x.shape[1]
    if groups > 1:
        return "batch_last"
    if c >= _CHANNELS_LAST_MIN_C:
        return "last"
    if _memory_is(x, (1, 2, 3, 0)) and x.shape[0] > 1:
        return "batch_last"
    if o >= _CHANNELS_LAST_MIN_C or (c > 1 and _memory_is(x, (0, 2, 3, 1))):
        return "last"  # the next layer will have many channels: hand it NHWC
    return "batch_last"


def _zero_border(a, axes: tuple, pads: tuple) -> None:
    """Zero the padding frame of a reused buffer: ``pads`` = (top, bottom, left, right) along ``axes``."""
    t, b, l, r = pads
    ah, aw = axes
    idx = [slice(None)] * a.ndim
    for ax, lo, hi in ((ah, t, b), (aw, l, r)):
        n = a.shape[ax]
        if lo:
            idx[ax] = slice(0, lo)
            a[tuple(idx)] = 0
        if hi:
            idx[ax] = slice(n - hi, n)
            a[tuple(idx)] = 0
        idx[ax] = slice(None)


class Conv2d(Function):
    """Fused 2-D convolution; see the module docstring for the layouts and the backward equations."""

    def __init__(self, stride: tuple, pads: tuple, dilation: tuple, groups: int, input_grad: bool = True,
                 weight_grad: bool = True):
        self.stride, self.pads, self.dilation, self.groups = stride, pads, dilation, groups
        self.input_grad = input_grad  # whether backward will be asked for ∂L/∂x (chooses the batch-last loop)
        self.weight_grad = weight_grad  # and for ∂L/∂W (row bands keep U only then)

    # --- forward ---------------------------------------------------------------------
    def forward(self, x, w, b=None):
        n, c, h, wd = x.shape
        o, cg, kh, kw = w.shape
        (sh, sw), (dh, dw), g = self.stride, self.dilation, self.groups
        t, bt, l, r = self.pads
        oh = conv_output_size(h, kh, sh, t, bt, dh)
        ow = conv_output_size(wd, kw, sw, l, r, dw)
        self.geom = (n, c, h, wd, o, kh, kw, oh, ow)
        self.layout = layout = _FORCE_LAYOUT or _choose_layout(x, o, g)
        if layout == "last" and g > 1:
            raise ValueError(f"conv2d: the channels-last layout computes groups=1 only, got groups={g}")
        if layout == "last":
            y = self._forward_last(x, w)
            if b is not None:
                y += b  # y is (N·OH·OW, O) here
            y = y.reshape(n, oh, ow, o).transpose(0, 3, 1, 2)
        elif layout == "batch_last":
            y = self._forward_batch_last(x, w)
            if b is not None:
                y += b.reshape(o, 1, 1, 1)
            y = y.transpose(3, 0, 1, 2)
        else:
            raise ValueError(f"unknown layout {layout!r}")
        if not is_grad_enabled():  # no graph will keep the patches: hand them back now (inference)
            self.release()
        return y

    def _forward_last(self, x, w):
        n, c, h, wd, o, kh, kw, oh, ow = self.geom
        sh, sw = self.stride
        xp = get_array_module(x)
        # a contiguous NHWC copy first: copying windows out of a transposed view is ~3x slower
        t, bt, l, r = self.pads
        padded = bool(t or bt or l or r)
        if padded:
            xl = _workspace.take(xp, (n, h + t + bt, wd + l + r, c), x.dtype)
            _zero_border(xl, (1, 2), self.pads)
            xl[:, t:t + h, l:l + wd, :] = x.transpose(0, 2, 3, 1)
        else:
            xl = xp.ascontiguousarray(x.transpose(0, 2, 3, 1))
        self.w, self.cols, self.xl, self.scratch = w, None, None, None
        if kh == kw == 1:  # the patches are the (strided) pixels themselves
            cols = xl[:, ::sh, ::sw, :][:, :oh, :ow, :].reshape(n * oh * ow, c)
            if padded:
                cols = cols.copy()
                _workspace.give(xl)
            self.cols = cols
            return cols @ w.reshape(o, c).T
        # blocks of images: each block's patches are copied and multiplied while they are still in cache,
        # and backward copies them again rather than keeping all of them (kh·kw times the input's size)
        self.xl, self.scratch = xl, (xl if padded else None)
        k = kh * kw * c
        wmat = w.transpose(2, 3, 1, 0).reshape(k, o)
        y = xp.empty((n * oh * ow, o), x.dtype)
        m = self._block(x.dtype.itemsize)
        buf = _workspace.take(xp, (m, oh, ow, kh, kw, c), x.dtype)
        rows = oh * ow
        for s0 in range(0, n, m):
            s1 = min(n, s0 + m)
            blk = buf[:s1 - s0]
            xp.copyto(blk, self._patches(xl, s0, s1))  # the im2col copy of this block
            xp.matmul(blk.reshape(-1, k), wmat, out=y[s0 * rows:s1 * rows])
        _workspace.give(buf)
        return y

    def _block(self, itemsize: int) -> int:
        """Images per block of the channels-last loops: patch blocks of about ``_BLOCK_BYTES``."""
        n, c, h, wd, o, kh, kw, oh, ow = self.geom
        return max(1, min(n, _BLOCK_BYTES // max(1, oh * ow * kh * kw * c * itemsize)))

    def _patches(self, xl, s0: int, s1: int):
        """The (s1 − s0, OH, OW, kh, kw, C) windows of images s0..s1 of the padded NHWC input: a view."""
        n, c, h, wd, o, kh, kw, oh, ow = self.geom
        (sh, sw), (dh, dw) = self.stride, self.dilation
        st0, st1, st2, st3 = xl.strides
        return _windows(get_array_module(xl), xl[s0:s1], (s1 - s0, oh, ow, kh, kw, c),
                        (st0, st1 * sh, st2 * sw, st1 * dh, st2 * dw, st3))

    def _forward_batch_last(self, x, w):
        n, c, h, wd, o, kh, kw, oh, ow = self.geom
        g = self.groups
        xp = get_array_module(x)
        cg, og = c // g, o // g
        xt = x.transpose(1, 2, 3, 0)  # (C, H, W, N): the batch is the innermost, contiguous axis
        t, bt, l, r = self.pads
        padded = bool(t or bt or l or r)
        if padded:
            xpad = _workspace.take(xp, (c, h + t + bt, wd + l + r, n), x.dtype)
            _zero_border(xpad, (1, 2), self.pads)
            xpad[:, t:t + h, l:l + wd] = xt
        else:
            xpad = xp.ascontiguousarray(xt)
        if self._bands_apply():
            return self._forward_bands(xp, xpad, padded, w)
        view = self._batch_last_windows(xp, xpad)
        rb = self._row_block(x.dtype.itemsize)
        if rb < oh:
            return self._forward_rows(xp, xpad, padded, view, w, rb)
        buf = _workspace.take(xp, (c, kh, kw, oh, ow, n), x.dtype)
        if c > 1:  # im2col: runs of OW·N contiguous values, split over channels (or kernel rows) between threads
            _parallel(lambda lo, hi: xp.copyto(buf[lo:hi], view[lo:hi]), c, buf.nbytes)
        else:
            _parallel(lambda lo, hi: xp.copyto(buf[:, lo:hi], view[:, lo:hi]), kh, buf.nbytes)
        if padded:
            _workspace.give(xpad)
        cols = buf.reshape(g, cg * kh * kw, oh * ow * n)
        self.cols, self.w, self.scratch = cols, w, buf
        y = xp.matmul(w.reshape(g, og, cg * kh * kw), cols)
        return y.reshape(o, oh, ow, n)

    def _bands_apply(self) -> bool:
        """Whether this batch-last convolution runs on row bands (see ``_forward_bands``): one group, stride 1
        and no dilation along the height, and an input that needs a gradient (first layers keep the blocks of
        rows of ``_forward_rows``, measured faster there)."""
        return (_ROW_BANDS and self.groups == 1 and self.stride[0] == 1 and self.dilation[0] == 1
                and self.input_grad)

    def _band_view(self, xp, a, rows: int, width: int):
        """The (rows, kh·width, L) bands of ``a`` (stored as (rows + kh − 1, width, L) of rows of length L):
        band p is the block of kh·width consecutive rows starting at row p·width, a view (bands overlap)."""
        kh, isz = self.geom[5], a.itemsize
        length = a.shape[-1]
        return _windows(xp, a, (rows, kh * width, length), (width * length * isz, length * isz, isz))

    def _forward_bands(self, xp, xpad, padded, w):
        """Batch-last forward on row bands, without the kh-times-larger patch matrix.

        U[r, c, j] holds, for padded input row r, channel c and kernel column j, the OW·N values
        x_pad[c, r, q·sw + j·dw, n] (q, n running): the patch matrix with its kernel rows folded out, kw
        times the input. With U's rows ordered (r, c, j), the patches of output row p, kernel rows (i, c, j)
        for i = 0..kh−1, are the kh·C·kw consecutive rows starting at (p, 0, 0): a band of U, read in place.
        So Y[:, p] = W_(o, i c j) · band_p, one product per output row (one batched matmul), and U is all
        that is kept for backward (``_backward_bands``)."""
        n, c, h, wd, o, kh, kw, oh, ow = self.geom
        sw, dw = self.stride[1], self.dilation[1]
        length = ow * n
        u = _workspace.take(xp, (h + self.pads[0] + self.pads[1], c, kw, ow, n), xpad.dtype)
        wi = sw * (ow - 1) + 1

        def fill(j0, j1):
            for j in range(j0, j1):
                xp.copyto(u[:, :, j], xpad[:, :, j * dw:j * dw + wi:sw].transpose(1, 0, 2, 3))

        _parallel(fill, kw, u.nbytes)
        if padded:
            _workspace.give(xpad)
        self.cols, self.w, self.banded = None, w, True
        self.u = self.scratch = u if self.weight_grad else None  # U is read again only for ∂L/∂W
        wm = xp.ascontiguousarray(w.transpose(0, 2, 1, 3)).reshape(o, kh * c * kw)
        y = xp.empty((o, oh, length), xpad.dtype)
        xp.matmul(wm, self._band_view(xp, u.reshape(-1, c * kw, length), oh, c * kw), out=y.transpose(1, 0, 2))
        if self.u is None:
            _workspace.give(u)
        return y.reshape(o, oh, ow, n)

    def _batch_last_windows(self, xp, xpad):
        """The (C, kh, kw, OH, OW, N) windows of the padded batch-last input (C, H, W, N): a view."""
        n, c, h, wd, o, kh, kw, oh, ow = self.geom
        (sh, sw), (dh, dw) = self.stride, self.dilation
        s0, s1, s2, s3 = xpad.strides
        return _windows(xp, xpad, (c, kh, kw, oh, ow, n), (s0, s1 * dh, s2 * dw, s1 * sh, s2 * sw, s3))

    def _row_block(self, itemsize: int) -> int:
        """Output rows per block of the batch-last loops (patch blocks of about ``_ROW_BLOCK_BYTES``), or
        ``oh`` (one block, the patch matrix kept for backward): for grouped convolutions and, see
        ``_ROW_BLOCK_BYTES``, for inputs that need a gradient."""
        n, c, h, wd, o, kh, kw, oh, ow = self.geom
        if self.groups > 1 or (self.input_grad and not _ROW_BLOCKS_WITH_INPUT_GRAD):
            return oh
        return max(1, min(oh, _ROW_BLOCK_BYTES // max(1, c * kh * kw * ow * n * itemsize)))

    def _forward_rows(self, xp, xpad, padded, view, w, rb: int):
        """Batch-last forward in blocks of ``rb`` output rows: each block's patches (C·kh·kw, rb·OW·N) are
        copied and multiplied while they are in cache, straight into the block's columns of Y; backward
        copies them again from the padded input it keeps."""
        n, c, h, wd, o, kh, kw, oh, ow = self.geom
        k = c * kh * kw
        self.cols, self.w, self.rows = None, w, rb
        self.xpad, self.scratch = xpad, (xpad if padded else None)
        y = xp.empty((o, oh * ow * n), xpad.dtype)
        flat = _workspace.take(xp, (k * rb * ow * n,), xpad.dtype)
        wmat = w.reshape(o, k)
        with _blas_threads(xp):  # the blocks' products are small: one BLAS thread is faster (see neurona._blas)
            for r0 in range(0, oh, rb):
                r1 = min(oh, r0 + rb)
                blk = self._row_patches(xp, flat, view, r0, r1)
                xp.matmul(wmat, blk, out=y[:, r0 * ow * n:r1 * ow * n])
        _workspace.give(flat)
        return y.reshape(o, oh, ow, n)

    def _row_patches(self, xp, flat, view, r0: int, r1: int):
        """The patches of output rows r0..r1 as a (C·kh·kw, (r1 − r0)·OW·N) matrix in ``flat``'s memory."""
        n, c, h, wd, o, kh, kw, oh, ow = self.geom
        blk = flat[:c * kh * kw * (r1 - r0) * ow * n].reshape(c, kh, kw, r1 - r0, ow, n)
        xp.copyto(blk, view[:, :, :, r0:r1])
        return blk.reshape(c * kh * kw, -1)

    # --- backward ----------------------------------------------------------------------
    def backward(self, gy):
        if self.layout == "batch_last":
            if self.__dict__.get("banded"):
                return self._backward_bands(gy)
            if self.cols is None:
                return self._backward_rows(gy)
            return self._backward_batch_last(gy)
        return self._backward_last(gy)

    def _backward_rows(self, gy):
        """Batch-last backward block by block of output rows, as ``_forward_rows``: the block's patches are
        copied again for ∂L/∂W += ∂L/∂Y_block colsᵀ, and ∂L/∂cols = Wᵀ ∂L/∂Y_block is added back into the
        pixels it came from (col2im) while it is in cache."""
        n, c, h, wd, o, kh, kw, oh, ow = self.geom
        (sh, sw), (dh, dw) = self.stride, self.dilation
        xp = get_array_module(gy)
        w, xpad, rb = self.w, self.xpad, self.rows
        k = c * kh * kw
        gyt = gy.transpose(1, 2, 3, 0).reshape(o, oh * ow * n)  # free when gy is batch-last in memory
        gx = gw = gb = None
        if len(self.needs) > 2 and self.needs[2]:
            gb = gyt.sum(axis=1)
        view = self._batch_last_windows(xp, xpad)
        if self.needs[1]:
            gwm = xp.empty((o, k), gy.dtype)
            part = xp.empty((o, k), gy.dtype)
            flat = _workspace.take(xp, (k * rb * ow * n,), gy.dtype)
        if self.needs[0]:
            t, bt, l, r = self.pads
            gpad = xp.zeros((c, h + t + bt, wd + l + r, n), gy.dtype)
            wt = w.reshape(o, k).T
            gflat = _workspace.take(xp, (k * rb * ow * n,), gy.dtype)
            wi = sw * (ow - 1) + 1
        with _blas_threads(xp):
            for r0 in range(0, oh, rb):
                r1 = min(oh, r0 + rb)
                g = gyt[:, r0 * ow * n:r1 * ow * n]
                if self.needs[1]:
                    blk = self._row_patches(xp, flat, view, r0, r1)
                    if r0 == 0:
                        xp.matmul(g, blk.T, out=gwm)                  # ∂L/∂W = Σ_blocks ∂L/∂Y colsᵀ
                    else:
                        xp.matmul(g, blk.T, out=part)
                        gwm += part
                if self.needs[0]:
                    gcols = gflat[:k * (r1 - r0) * ow * n].reshape(k, -1)
                    xp.matmul(wt, g, out=gcols)                       # ∂L/∂cols = Wᵀ ∂L/∂Y
                    gcols = gcols.reshape(c, kh, kw, r1 - r0, ow, n)
                    hb = sh * (r1 - r0 - 1) + 1
                    for i in range(kh):
                        y0 = i * dh + r0 * sh
                        for j in range(kw):
                            gpad[:, y0:y0 + hb:sh, j * dw:j * dw + wi:sw] += gcols[:, i, j]
        if self.needs[1]:
            _workspace.give(flat)
            gw = gwm.reshape(o, c, kh, kw)
        if self.needs[0]:
            _workspace.give(gflat)
            t, bt, l, r = self.pads
            gx = gpad[:, t:t + h, l:l + wd].transpose(3, 0, 1, 2)
        return (gx, gw, gb) if len(self.needs) > 2 else (gx, gw)

    def _backward_bands(self, gy):
        """Backward of ``_forward_bands``, with ∂L/∂Y as G[p, o] (rows of OW·N values):

            ∂L/∂Wᵀ = Σ_p band_p · G[p]ᵀ                   (one product per output row, summed)
            ∂L/∂U[r] = Σ_i W_iᵀ · G[r − i]                (kernel row i, over the rows r − i that exist)

        The second is a band product too: with the kernel rows reversed, the G rows it reads are
        consecutive, so each input row takes one product of (C·kw, kh·O) by (kh·O, OW·N). Rows near the top
        and the bottom see fewer kernel rows and take a narrower slice of both. Then ∂L/∂x adds each kernel
        column's slab of ∂L/∂U back into the columns it was copied from (kw adds, not kh·kw)."""
        n, c, h, wd, o, kh, kw, oh, ow = self.geom
        xp = get_array_module(gy)
        length = ow * n
        g3 = xp.ascontiguousarray(gy.transpose(2, 1, 3, 0)).reshape(oh, o, length)  # G[p, o, (q, n)]
        gx = gw = gb = None
        if len(self.needs) > 2 and self.needs[2]:
            gb = g3.sum(axis=(0, 2))
        if self.needs[1]:
            bands = self._band_view(xp, self.u.reshape(-1, c * kw, length), oh, c * kw)
            # ∂L/∂Wᵀ, (kh·C·kw, O): its products measured faster than those of (O, kh·C·kw) (0.92x backward)
            gw = xp.matmul(bands, g3.transpose(0, 2, 1)).sum(axis=0)
            gw = xp.ascontiguousarray(gw.reshape(kh, c, kw, o).transpose(3, 1, 0, 2))
        if self.needs[0]:
            gx = self._bands_input_grad(xp, g3)
        return (gx, gw, gb) if len(self.needs) > 2 else (gx, gw)

    def _bands_input_grad(self, xp, g3):
        """∂L/∂x of a row-band convolution from G (see ``_backward_bands``), for the unpadded input rows."""
        n, c, h, wd, o, kh, kw, oh, ow = self.geom
        sw, dw = self.stride[1], self.dilation[1]
        t, bt, l, r = self.pads
        length = ow * n
        # wf[(c, j), (i', o)] = w[o, c, kh − 1 − i', j]: input row r takes G rows r − kh + 1 + i'
        wf = xp.ascontiguousarray(self.w[:, :, ::-1, :].transpose(1, 3, 2, 0)).reshape(c * kw, kh * o)
        gflat = g3.reshape(oh * o, length)
        du = _workspace.take(xp, (h, c * kw, length), g3.dtype)  # ∂L/∂U for the unpadded rows t..t+h only
        lo, hi = max(kh - 1, t), min(oh, t + h)  # rows that see all kh kernel rows
        if hi > lo:
            xp.matmul(wf, self._band_view(xp, gflat[(lo - kh + 1) * o:].reshape(-1, o, length), hi - lo, o),
                      out=du[lo - t:hi - t])
        for row in range(t, t + h):
            if lo <= row < hi:
                continue
            a = kh - 1 - min(kh - 1, row)           # the reversed kernel rows i' = a..b that exist for this row
            b = kh - 1 - max(0, row - oh + 1)
            g0 = (row - kh + 1 + a) * o
            xp.matmul(wf[:, a * o:(b + 1) * o], gflat[g0:g0 + (b - a + 1) * o], out=du[row - t])
        wp = wd + l + r
        wi = sw * (ow - 1) + 1
        du5 = du.reshape(h, c, kw, ow, n)
        gpad = xp.empty((c, h, wp, n), g3.dtype)

        def col2im(c0, c1):  # channels are independent: split them between threads
            if sw == 1:  # kernel column 0 writes columns 0..OW−1, so only the others need zeros first
                gpad[c0:c1, :, wi:] = 0
                xp.copyto(gpad[c0:c1, :, :wi], du5[:, c0:c1, 0].transpose(1, 0, 2, 3))
            else:
                gpad[c0:c1] = 0
                gpad[c0:c1, :, :wi:sw] += du5[:, c0:c1, 0].transpose(1, 0, 2, 3)
            for j in range(1, kw):
                gpad[c0:c1, :, j * dw:j * dw + wi:sw] += du5[:, c0:c1, j].transpose(1, 0, 2, 3)

        _parallel(col2im, c, du.nbytes)
        _workspace.give(du)
        return gpad[:, :, l:l + wd].transpose(3, 0, 1, 2)

    def _backward_batch_last(self, gy):
        n, c, h, wd, o, kh, kw, oh, ow = self.geom
        (sh, sw), (dh, dw), g = self.stride, self.dilation, self.groups
        xp = get_array_module(gy)
        w, cols = self.w, self.cols
        cg, og = c // g, o // g
        gyt = gy.transpose(1, 2, 3, 0).reshape(g, og, oh * ow * n)  # free when gy is batch-last in memory
        gx = gw = gb = None
        if self.needs[1]:
            gw = xp.matmul(gyt, cols.swapaxes(1, 2)).reshape(o, cg, kh, kw)  # ∂L/∂W = ∂L/∂Y colsᵀ
        if len(self.needs) > 2 and self.needs[2]:
            gb = gyt.reshape(o, -1).sum(axis=1)
        if self.needs[0]:
            t, bt, l, r = self.pads
            gpad = xp.zeros((c, h + t + bt, wd + l + r, n), gy.dtype)
            hi, wi = sh * (oh - 1) + 1, sw * (ow - 1) + 1
            wt = w.reshape(g, og, cg, kh, kw)
            big = c * kh * kw * oh * ow * n > _COL2IM_BUFFER
            if not big:
                gbuf = _workspace.take(xp, (g, cg * kh * kw, oh * ow * n), gy.dtype)
                xp.matmul(w.reshape(g, og, cg * kh * kw).swapaxes(1, 2), gyt, out=gbuf)
                gcols = gbuf.reshape(c, kh, kw, oh, ow, n)
            if big:
                for i in range(kh):
                    for j in range(kw):  # one offset at a time: no kh·kw-times-larger buffer
                        gij = xp.matmul(xp.ascontiguousarray(wt[:, :, :, i, j].swapaxes(1, 2)), gyt)
                        gpad[:, i * dh:i * dh + hi:sh, j * dw:j * dw + wi:sw] += gij.reshape(c, oh, ow, n)
            else:
                def col2im(c0, c1):  # channels are independent: split them between threads
                    for i in range(kh):
                        for j in range(kw):
                            gpad[c0:c1, i * dh:i * dh + hi:sh, j * dw:j * dw + wi:sw] += gcols[c0:c1, i, j]

                _parallel(col2im, c, gbuf.nbytes)
                _workspace.give(gbuf)
            gx = gpad[:, t:t + h, l:l + wd].transpose(3, 0, 1, 2)
        return (gx, gw, gb) if len(self.needs) > 2 else (gx, gw)

    def _backward_last(self, gy):
        n, c, h, wd, o, kh, kw, oh, ow = self.geom
        (sh, sw), (dh, dw) = self.stride, self.dilation
        xp = get_array_module(gy)
        w, cols, xl = self.w, self.cols, self.xl
        t, bt, l, r = self.pads
        gyl = gy.transpose(0, 2, 3, 1).reshape(n * oh * ow, o)  # free when gy is already NHWC in memory
        gx = gw = gb = None
        if len(self.needs) > 2 and self.needs[2]:
            gb = gyl.sum(axis=0)
        if cols is not None:  # 1x1: the patches were kept (a view of the input, or its strided copy)
            if self.needs[1]:
                gw = (gyl.T @ cols).reshape(o, c, 1, 1)          # ∂L/∂W = ∂L/∂Yᵀ cols
            if self.needs[0]:
                gxl = (gyl @ w.reshape(o, c)).reshape(n, oh, ow, c)  # ∂L/∂cols = ∂L/∂Y W
                if sh == sw == 1 and not any(self.pads):
                    gx = gxl.transpose(0, 3, 1, 2)
                else:
                    gpad = xp.zeros((n, h + t + bt, wd + l + r, c), gy.dtype)
                    gpad[:, :sh * (oh - 1) + 1:sh, :sw * (ow - 1) + 1:sw, :] = gxl
                    gx = gpad[:, t:t + h, l:l + wd, :].transpose(0, 3, 1, 2)
            return (gx, gw, gb) if len(self.needs) > 2 else (gx, gw)
        k = kh * kw * c
        rows = oh * ow
        m = self._block(gy.dtype.itemsize)
        if self.needs[1]:
            gwm = xp.zeros((k, o), gy.dtype)
            part = xp.empty((k, o), gy.dtype)
            buf = _workspace.take(xp, (m, oh, ow, kh, kw, c), gy.dtype)
        if self.needs[0]:
            gpad = xp.zeros((n, h + t + bt, wd + l + r, c), gy.dtype)
            wk = xp.ascontiguousarray(w.transpose(2, 3, 0, 1))  # (kh, kw, O, C); GEMMs on strided slices copy
            hi, wi = sh * (oh - 1) + 1, sw * (ow - 1) + 1
        for s0 in range(0, n, m):  # block by block, as forward: each block's arrays stay in cache
            s1 = min(n, s0 + m)
            g = gyl[s0 * rows:s1 * rows]
            if self.needs[1]:
                blk = buf[:s1 - s0]
                xp.copyto(blk, self._patches(xl, s0, s1))  # the block's patches, copied again
                xp.matmul(blk.reshape(-1, k).T, g, out=part)  # ∂L/∂W += colsᵀ ∂L/∂Y over the block
                gwm += part
            if self.needs[0]:
                gp = gpad[s0:s1]
                for i in range(kh):
                    for j in range(kw):
                        # the patches' entries for kernel offset (i, j), added back where they were read
                        gp[:, i * dh:i * dh + hi:sh, j * dw:j * dw + wi:sw, :] += \
                            (g @ wk[i, j]).reshape(s1 - s0, oh, ow, c)
        if self.needs[1]:
            _workspace.give(buf)
            gw = gwm.reshape(kh, kw, c, o).transpose(3, 2, 0, 1).copy()  # back to PyTorch's (O, C, kh, kw)
        if self.needs[0]:
            gx = gpad[:, t:t + h, l:l + wd, :].transpose(0, 3, 1, 2)
        return (gx, gw, gb) if len(self.needs) > 2 else (gx, gw)

    def release(self) -> None:
        """Drop what forward kept, handing the patch matrix back to the workspace for the next step."""
        buf = self.__dict__.get("scratch")
        super().release()
        if buf is not None:
            _workspace.give(buf)

    def _describe_failure(self, inputs, err):
        shapes = ", ".join(str(tuple(t.shape)) for t in inputs)
        return f"conv2d: cannot convolve inputs of shapes {shapes}: {err}"


# --- padding modes other than zeros ------------------------------------------------------


class PadMode(Function):
    """Reflect / replicate / circular padding of the last two axes (the ``padding_mode`` of Conv2d).

    Forward is ``numpy.pad``; every padded pixel is a copy of some input pixel,
    so backward adds each output gradient back into the pixel it copied. The
    map from output to input pixel is found by padding an array of indices.
    """

    _NP_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}

    def __init__(self, pads: tuple, mode: str):
        self.pads, self.mode = pads, mode

    def forward(self, x):
        xp = get_array_module(x)
        t, b, l, r = self.pads
        width = ((0, 0),) * (x.ndim - 2) + ((t, b), (l, r))
        self.in_shape = x.shape
        return xp.pad(x, width, mode=self._NP_MODE[self.mode])

    def backward(self, gy):
        xp = get_array_module(gy)
        t, b, l, r = self.pads
        h, w = self.in_shape[-2:]
        src = xp.pad(xp.arange(h * w).reshape(h, w), ((t, b), (l, r)), mode=self._NP_MODE[self.mode]).reshape(-1)
        lead = int(np.prod(self.in_shape[:-2]))
        gx = xp.zeros((lead, h * w), gy.dtype)
        xp.add.at(gx, (slice(None), src), gy.reshape(lead, -1))
        return gx.reshape(self.in_shape)

    def _describe_failure(self, inputs, err):
        return f"pad (mode {self.mode!r}): cannot pad shape {tuple(inputs[0].shape)} by {self.pads}: {err}"


def pad_mode(x, pads: tuple, mode: str) -> Tensor:
    """Pad the last two axes by (top, bottom, left, right) with 'zeros', 'reflect', 'replicate' or 'circular'."""
    x = as_tensor(x)
    pads = tuple(int(p) for p in pads)
    if not any(pads):
        return x
    if mode == "zeros":
        from .shape import pad
        t, b, l, r = pads
        return pad(x, (l, r, t, b))
    if mode not in PadMode._NP_MODE:
        raise ValueError(f"pad: padding_mode must be 'zeros', 'reflect', 'replicate' or 'circular', got {mode!r}")
    h, w = x.shape[-2:]
    if mode == "reflect" and (max(pads[:2]) >= h or max(pads[2:]) >= w):
        raise ValueError(f"pad: reflect padding {pads} must be smaller than the input size ({h}, {w})")
    if mode == "circular" and (max(pads[:2]) > h or max(pads[2:]) > w):
        raise ValueError(f"pad: circular padding {pads} must not exceed the input size ({h}, {w})")
    return PadMode(pads, mode)(x)


# --- public functions ------------------------------------------------------------------


def _check_conv(x: Tensor, w: Tensor, b, groups: int, op: str, nd: int) -> None:
    if x.ndim != nd + 2:
        layout = "(N, C, H, W)" if nd == 2 else "(N, C, L)"
        raise ValueError(f"{op}: expected a {nd + 2}-D input {layout}, got shape {tuple(x.shape)}")
    if w.ndim != nd + 2:
        raise ValueError(f"{op}: expected a {nd + 2}-D weight (out_channels, in_channels/groups, kernel...), "
                         f"got shape {tuple(w.shape)}")
    if groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups}")
    c, o, cg = x.shape[1], w.shape[0], w.shape[1]
    if c != cg * groups:
        raise ValueError(f"{op}: input has {c} channels but the weight {tuple(w.shape)} with groups={groups} "
                         f"expects {cg * groups}")
    if o % groups:
        raise ValueError(f"{op}: out_channels {o} is not divisible by groups={groups}")
    if b is not None and tuple(b.shape) != (o,):
        raise ValueError(f"{op}: expected a bias of shape ({o},), got {tuple(b.shape)}")
    if x.dtype != w.dtype or (b is not None and b.dtype != x.dtype):
        dts = f"input {x.dtype}, weight {w.dtype}" + (f", bias {b.dtype}" if b is not None else "")
        raise TypeError(f"{op}: input, weight and bias must have the same dtype, got {dts}")


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation) of an (N, C, H, W) input, as ``torch.nn.functional.conv2d``.

    ``weight`` has shape (out_channels, in_channels/groups, kh, kw). ``stride``,
    ``padding`` and ``dilation`` are ints or (h, w) pairs; ``padding`` may also
    be 'valid' (none) or 'same' (output as large as the input, stride 1).
    Output size per axis: ⌊(H + 2p − d(k − 1) − 1)/s⌋ + 1.

    >>> import neurona
    >>> x = neurona.randn(2, 3, 8, 8)
    >>> w = neurona.randn(4, 3, 3, 3)
    >>> conv2d(x, w, padding=1).shape
    (2, 4, 8, 8)
    """
    x, weight = as_tensor(x), as_tensor(weight)
    bias = None if bias is None else as_tensor(bias)
    _check_conv(x, weight, bias, groups, "conv2d", 2)
    stride = _pair(stride, "stride", "conv2d")
    dilation = _pair(dilation, "dilation", "conv2d")
    if min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"conv2d: stride and dilation must be positive, got stride {stride}, dilation {dilation}")
    kernel = tuple(weight.shape[2:])
    pads = _padding4(padding, kernel, stride, dilation, "conv2d")
    h, w = x.shape[2:]
    oh = conv_output_size(h, kernel[0], stride[0], pads[0], pads[1], dilation[0])
    ow = conv_output_size(w, kernel[1], stride[1], pads[2], pads[3], dilation[1])
    if oh < 1 or ow < 1:
        raise ValueError(f"conv2d: input of spatial size ({h}, {w}) with padding {pads} is smaller than the "
                         f"(dilated) kernel {kernel} (dilation {dilation}); the output would be ({oh}, {ow})")
    grad = is_grad_enabled()
    fn = Conv2d(stride, pads, dilation, groups, x.requires_grad and grad, weight.requires_grad and grad)
    return fn(x, weight) if bias is None else fn(x, weight, bias)


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1) -> Tensor:
    """1-D convolution of an (N, C, L) input with weights (out_channels, in_channels/groups, k).

    Computed as a 2-D convolution over a height of 1;
    L_out = ⌊(L + 2p − d(k − 1) − 1)/s⌋ + 1. ``padding`` may be 'same' or 'valid'.
    """
    x, weight = as_tensor(x), as_tensor(weight)
    bias = None if bias is None else as_tensor(bias)
    _check_conv(x, weight, bias, groups, "conv1d", 1)

    def one(v, name):
        if isinstance(v, (tuple, list)):
            if len(v) != 1:
                raise TypeError(f"conv1d: {name} must be an int or a 1-tuple, got {v!r}")
            v = v[0]
        return int(v)

    stride, dilation = one(stride, "stride"), one(dilation, "dilation")
    if isinstance(padding, str):
        pad2 = padding
    else:
        pad2 = (0, one(padding, "padding"))
    k = weight.shape[2]
    n, c, length = x.shape
    if not isinstance(pad2, str) and conv_output_size(length, k, stride, pad2[1], pad2[1], dilation) < 1:
        raise ValueError(f"conv1d: input of length {length} with padding {pad2[1]} is shorter than the "
                         f"(dilated) kernel of size {k} (dilation {dilation})")
    y = conv2d(x.reshape(n, c, 1, length), weight.reshape(weight.shape[0], weight.shape[1], 1, k), bias,
               stride=(1, stride), padding=pad2, dilation=(1, dilation), groups=groups)
    return y.reshape(n, y.shape[1], y.shape[3])


def conv2d_reference(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, stride=1, padding=0,
                     dilation=1, groups: int = 1) -> np.ndarray:
    """Plain NumPy convolution straight from the definition (no autograd, for tests).

    One einsum per group and kernel offset (i, j):
    y[n, o, p, q] += Σ_c w[o, c, i, j] · x_pad[n, c, p·sh + i·dh, q·sw + j·dw].
    """
    stride, dilation = _pair(stride, "stride", "conv2d"), _pair(dilation, "dilation", "conv2d")
    kh, kw = w.shape[2:]
    t, bt, l, r = _padding4(padding, (kh, kw), stride, dilation, "conv2d")
    xp = get_array_module(x)
    xpad = xp.pad(x, ((0, 0), (0, 0), (t, bt), (l, r)))
    n, c = x.shape[:2]
    o, cg = w.shape[:2]
    og = o // groups
    oh = conv_output_size(x.shape[2], kh, stride[0], t, bt, dilation[0])
    ow = conv_output_size(x.shape[3], kw, stride[1], l, r, dilation[1])
    y = xp.zeros((n, o, oh, ow), np.result_type(x.dtype, w.dtype))
    for gi in range(groups):
        xs = xpad[:, gi * cg:(gi + 1) * cg]
        ws = w[gi * og:(gi + 1) * og]
        for i in range(kh):
            for j in range(kw):
                hs, vs = i * dilation[0], j * dilation[1]
                patch = xs[:, :, hs:hs + stride[0] * (oh - 1) + 1:stride[0], vs:vs + stride[1] * (ow - 1) + 1:stride[1]]
                y[:, gi * og:(gi + 1) * og] += xp.einsum("nchw,oc->nohw", patch, ws[:, :, i, j])
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y
