"""Convolution, fast strategy "channels_last": im2col on NHWC patches, a block of images at a time.

For inputs with many channels (16 or more) the patches are best copied
channels-last: each patch row holds kh·kw·C values in runs of kw·C contiguous
ones. The layer is one product per block of images,

    Y_block = cols_block · W,   cols: (images·OH·OW, kh·kw·C),  W: (kh·kw·C, O),

with the block's patches (about ``BLOCK_BYTES``) copied and multiplied while
they are in cache; backward copies them again (rather than keeping kh·kw
times the input) for ∂L/∂W += colsᵀ ∂L/∂Y, and adds ∂L/∂cols = ∂L/∂Y Wᵀ back
into ∂L/∂x one kernel offset at a time (col2im). A 1x1 convolution is one
product of the (strided) pixels themselves.

Where neurona's product kernel runs (``kernels.gemm``: float32, stride 1,
24 channels or more in and out) no patches are made. The input is copied
once into a zero-padded NHWC grid, and the kernel sums over the kernel
offsets, one segment each, reading the values of offset (i, j) for output
pixel q at q·C + (i·W_pad + j)·C, where they are:

    Y(q) = Σ_(i,j) X_pad(q + i·W_pad + j) · W_(i,j),   W_(i,j): (C, O).

Rows of a multiple of 14 pixels go in tiles of 14 pixels of one row;
others in tiles of 12 consecutive grid pixels, whose padding pixels are
computed and dropped. ∂L/∂x is the same sum over ∂L/∂Y, padded by the
kernel's reach, with the kernel flipped; ∂L/∂W_(i,j) = Σ_q X_pad(q + …)ᵀ
∂L/∂Y(q) runs over the output's pixels, one output row per segment.

The output is the NCHW view of an NHWC array, and a gradient that arrives
NHWC in memory is read without a copy (see "Memory layout" in
CONTRIBUTING.md). For one group; the same op as the reference
``neurona.functional.conv.Conv2d`` (the tests check they agree).
"""
from __future__ import annotations

import numpy as np

from .. import workspace
from ..backend import get_array_module
from ..engine import is_grad_enabled
from ..functional.conv import Conv2d as _Conv2d
from . import gemm
from ._patches import _strided, _take, _zero_border
from .gemm import matmul

__all__ = ["Conv2d"]

BLOCK_BYTES = 4 << 20  # patches per block: copied and multiplied while they are in cache
_BLOCK_ROWS = 1024  # read in place: rows of packed W per block (more blocks cost more passes over Y)
_MIN_WIDTH = 24     # read in place: output channels at least (tiles are 32 wide), and input channels



def _rows(width: int):
    """The in-place product for output rows of ``width`` pixels: whole rows in tiles of 14 pixels when they
    divide it, else tiles of 12 over the padded grid (its padding's pixels computed and dropped)."""
    t = gemm._tiles()
    return t._conv_rows_whole if width % t.ROW_TILE == 0 else t._conv_rows


class Conv2d(_Conv2d):
    """The reference's op on channels-last patches in blocks of images; keeps the padded NHWC input and W."""

    def forward(self, x, w, b=None):
        n, c, h, wd, o, cg, kh, kw, oh, ow = self._geometry(x, w)
        self.geom = (n, c, h, wd, o, kh, kw, oh, ow)
        y = self._forward_last(x, w)
        if b is not None:
            y += b  # y is (N·OH·OW, O) here
        if not is_grad_enabled():  # no graph will keep the input: hand it back now
            self.release()
        return y.reshape(n, oh, ow, o).transpose(0, 3, 1, 2)

    def _forward_last(self, x, w):
        n, c, h, wd, o, kh, kw, oh, ow = self.geom
        sh, sw = self.stride
        xp = get_array_module(x)
        self.w, self.cols, self.xl, self.scratch, self.implicit = w, None, None, None, None
        if kh * kw > 1 and (sh, sw) == (1, 1) and min(c, o) >= _MIN_WIDTH and gemm.in_force(x, w):
            return self._forward_in_place(x, w)  # makes its own padded copy, with slack
        # a contiguous NHWC copy first: copying windows out of a transposed view is ~3x slower
        t, bt, l, r = self.pads
        padded = bool(t or bt or l or r)
        if padded:
            xl = _take(xp, (n, h + t + bt, wd + l + r, c), x.dtype)
            _zero_border(xl, (1, 2), self.pads)
            xl[:, t:t + h, l:l + wd, :] = x.transpose(0, 2, 3, 1)
        else:
            xl = xp.ascontiguousarray(x.transpose(0, 2, 3, 1))
        if kh == kw == 1:  # the patches are the (strided) pixels themselves
            cols = xl[:, ::sh, ::sw, :][:, :oh, :ow, :].reshape(n * oh * ow, c)
            if padded:
                cols = cols.copy()
                workspace.give(xl)
            self.cols = cols
            return matmul(cols, w.reshape(o, c).T)
        # blocks of images: each block's patches are copied and multiplied while they are still in cache,
        # and backward copies them again rather than keeping all of them (kh·kw times the input's size)
        self.xl, self.scratch = xl, (xl if padded else None)
        k = kh * kw * c
        wmat = w.transpose(2, 3, 1, 0).reshape(k, o)
        y = xp.empty((n * oh * ow, o), x.dtype)
        m = self._block(x.dtype.itemsize)
        buf = _take(xp, (m, oh, ow, kh, kw, c), x.dtype)
        rows = oh * ow
        for s0 in range(0, n, m):
            s1 = min(n, s0 + m)
            blk = buf[:s1 - s0]
            xp.copyto(blk, self._patches(xl, s0, s1))  # the im2col copy of this block
            matmul(blk.reshape(-1, k), wmat, out=y[s0 * rows:s1 * rows])
        workspace.give(buf)
        return y

    def _block(self, itemsize: int) -> int:
        """Images per block of the channels-last loops: patch blocks of about ``BLOCK_BYTES``."""
        n, c, h, wd, o, kh, kw, oh, ow = self.geom
        return max(1, min(n, BLOCK_BYTES // max(1, oh * ow * kh * kw * c * itemsize)))

    def _patches(self, xl, s0: int, s1: int):
        """The (s1 − s0, OH, OW, kh, kw, C) windows of images s0..s1 of the padded NHWC input: a view."""
        n, c, h, wd, o, kh, kw, oh, ow = self.geom
        (sh, sw), (dh, dw) = self.stride, self.dilation
        st0, st1, st2, st3 = xl.strides
        return _strided(get_array_module(xl), xl[s0:s1], (s1 - s0, oh, ow, kh, kw, c),
                        (st0, st1 * sh, st2 * sw, st1 * dh, st2 * dw, st3))

    def backward(self, gy):
        n, c, h, wd, o, kh, kw, oh, ow = self.geom
        sh, sw = self.stride
        xp = get_array_module(gy)
        w, cols, xl = self.w, self.cols, self.xl
        t, bt, l, r = self.pads
        gyl = gy.transpose(0, 2, 3, 1).reshape(n * oh * ow, o)  # free when gy is already NHWC in memory
        gx = gw = gb = None
        if len(self.needs) > 2 and self.needs[2]:
            gb = gyl.sum(axis=0)
        if self.implicit is not None:
            gx, gw = self._backward_in_place(gy, gyl)
            return (gx, gw, gb) if len(self.needs) > 2 else (gx, gw)
        if cols is not None:  # 1x1: the patches were kept (a view of the input, or its strided copy)
            if self.needs[1]:
                gw = matmul(gyl.T, cols).reshape(o, c, 1, 1)          # ∂L/∂W = ∂L/∂Yᵀ cols
            if self.needs[0]:
                gxl = matmul(gyl, w.reshape(o, c)).reshape(n, oh, ow, c)  # ∂L/∂cols = ∂L/∂Y W
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
            buf = _take(xp, (m, oh, ow, kh, kw, c), gy.dtype)
            for s0 in range(0, n, m):  # block by block, as forward: each block's patches stay in cache
                s1 = min(n, s0 + m)
                blk = buf[:s1 - s0]
                xp.copyto(blk, self._patches(xl, s0, s1))  # the block's patches, copied again
                matmul(blk.reshape(-1, k).T, gyl[s0 * rows:s1 * rows], out=part)  # ∂L/∂W += colsᵀ ∂L/∂Y
                gwm += part
            workspace.give(buf)
            gw = gwm.reshape(kh, kw, c, o).transpose(3, 2, 0, 1).copy()  # back to PyTorch's (O, C, kh, kw)
        if self.needs[0]:
            gx = self._grad_input_by_offsets(gyl, w, m)
        return (gx, gw, gb) if len(self.needs) > 2 else (gx, gw)

    # --- read in place: stride 1, with neurona's product kernel (kernels/gemm.py) ---------------------------

    def _padded_flat(self, src_nhwc, pads, dtype):
        """src (N, H, W, C) zero-padded by pads = (top, bottom, left, right), flat, with the slack that the
        product kernel reads past the end (tiles of 12 rows, kernel offsets): (flat, grid height, grid width)."""
        n, h, wd, c = src_nhwc.shape
        t, bt, l, r = pads
        hp, wp = h + t + bt, wd + l + r
        (dh, dw), (kh, kw) = self.dilation, self.geom[5:7]
        size = n * hp * wp * c
        slack = ((kh - 1) * dh * wp + (kw - 1) * dw + gemm.MR + 1) * c + gemm.MR
        flat = _take(np, (size + slack,), dtype)
        flat[size:] = 0
        grid = flat[:size].reshape(n, hp, wp, c)
        _zero_border(grid, (1, 2), pads)
        grid[:, t:t + h, l:l + wd, :] = src_nhwc
        return flat, hp, wp

    def _offsets(self, wp: int, c: int) -> np.ndarray:
        """Where kernel offset (i, j) reads, relative to the output pixel's own position: one segment each."""
        (dh, dw), (kh, kw) = self.dilation, self.geom[5:7]
        return np.array([(i * dh * wp + j * dw) * c for i in range(kh) for j in range(kw)], np.int64)

    @staticmethod
    def _packed_weights(wmat, width: int, nseg: int):
        """(kh·kw·width, out) weights packed in blocks of whole segments, about KC rows each."""
        blocks = -(-nseg * width // _BLOCK_ROWS)
        group = -(-nseg // blocks)
        bp = np.empty(wmat.shape[0] * (-(-wmat.shape[1] // gemm.NR) * gemm.NR), np.float32)
        gemm.pack_b(wmat, bp, kc=group * width)
        return bp, group

    def _forward_in_place(self, x, w):
        """Y = Σ_(i,j) X_(i,j) W_(i,j), each X_(i,j) read from the padded NHWC input where it is: no patches."""
        n, c, h, wd, o, kh, kw, oh, ow = self.geom
        flat, hp, wp = self._padded_flat(x.transpose(0, 2, 3, 1), self.pads, x.dtype)
        seg = self._offsets(wp, c)
        bp, group = self._packed_weights(w.transpose(2, 3, 1, 0).reshape(kh * kw * c, o), c, len(seg))
        y = np.empty((n * oh * ow, o), x.dtype)
        _rows(ow)(flat, seg, c, group, bp, o, y, n, hp * wp * c, c, wp, 0, oh, 0, ow)
        self.implicit, self.scratch = (flat, hp, wp, seg), flat
        return y

    def _backward_in_place(self, gy, gyl):
        n, c, h, wd, o, kh, kw, oh, ow = self.geom
        (dh, dw), w = self.dilation, self.w
        flat, hp, wp, seg = self.implicit
        gx = gw = None
        if self.needs[1]:  # ∂L/∂W_(i,j) = Σ_q X_(i,j)(q)ᵀ ∂L/∂Y(q), over the output's pixels q
            g = gyl
            if o % gemm.NR or not g.flags.c_contiguous:  # the last tile's columns past o read past the end
                g = np.empty(gyl.size + gemm.NR, gy.dtype)
                g[gyl.size:] = 0
                g[:gyl.size].reshape(gyl.shape)[...] = gyl
            gwm = np.empty((kh * kw * c, o), gy.dtype)
            gemm._tiles()._conv_weights(flat, seg, c, g.reshape(-1), o, gwm, n, hp * wp * c, wp, oh, ow)
            gw = gwm.reshape(kh, kw, c, o).transpose(3, 2, 0, 1).copy()  # back to PyTorch's (O, C, kh, kw)
        if self.needs[0]:
            # ∂L/∂x: the convolution of ∂L/∂Y with the flipped kernel, ∂L/∂Y padded by the kernel's reach less
            # the input's padding (so that the result is the unpadded input's gradient)
            t, bt, l, r = self.pads
            ph, pw = (kh - 1) * dh, (kw - 1) * dw
            pads = (ph - t, ph - bt, pw - l, pw - r)
            y0 = x0 = 0
            if min(pads) < 0:  # a padding wider than the kernel's reach: pad fully and crop the window
                pads, y0, x0 = (ph, ph, pw, pw), t, l
            gflat, hg, wg = self._padded_flat(gyl.reshape(n, oh, ow, o), pads, gy.dtype)
            gseg = self._offsets(wg, o)
            wf = w[:, :, ::-1, ::-1].transpose(2, 3, 0, 1).reshape(kh * kw * o, c)
            bp, group = self._packed_weights(wf, o, len(gseg))
            gxl = np.empty((n * h * wd, c), gy.dtype)
            _rows(wd)(gflat, gseg, o, group, bp, c, gxl, n, hg * wg * o, o, wg, y0, h, x0, wd)
            workspace.give(gflat)
            gx = gxl.reshape(n, h, wd, c).transpose(0, 3, 1, 2)
        return gx, gw

    def _grad_input_by_offsets(self, gyl, w, m):
        """∂L/∂x by col2im, one product per kernel offset and block of m images (each block's arrays in cache)."""
        n, c, h, wd, o, kh, kw, oh, ow = self.geom
        xp = get_array_module(gyl)
        (sh, sw), (dh, dw) = self.stride, self.dilation
        t, bt, l, r = self.pads
        rows = oh * ow
        gpad = xp.zeros((n, h + t + bt, wd + l + r, c), gyl.dtype)
        wk = xp.ascontiguousarray(w.transpose(2, 3, 0, 1))  # (kh, kw, O, C); GEMMs on strided slices copy
        hi, wi = sh * (oh - 1) + 1, sw * (ow - 1) + 1
        for s0 in range(0, n, m):
            s1 = min(n, s0 + m)
            g = gyl[s0 * rows:s1 * rows]
            gp = gpad[s0:s1]
            for i in range(kh):
                for j in range(kw):
                    # the patches' entries for kernel offset (i, j), added back where they were read
                    gp[:, i * dh:i * dh + hi:sh, j * dw:j * dw + wi:sw, :] += \
                        matmul(g, wk[i, j]).reshape(s1 - s0, oh, ow, c)
        return gpad[:, t:t + h, l:l + wd, :].transpose(0, 3, 1, 2)

    def release(self) -> None:
        """Drop what forward kept, handing its workspace buffer back."""
        buf = self.__dict__.get("scratch")
        super().release()
        workspace.give(buf)
