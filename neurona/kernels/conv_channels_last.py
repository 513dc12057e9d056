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

The output is the NCHW view of an NHWC array, and a gradient that arrives
NHWC in memory is read without a copy (see "Memory layout" in
CONTRIBUTING.md). For one group; the same op as the reference
``neurona.functional.conv.Conv2d`` (the tests check they agree).
"""
from __future__ import annotations

from .. import workspace
from ..backend import get_array_module
from ..engine import is_grad_enabled
from ..functional.conv import Conv2d as _Conv2d
from ._patches import _strided, _take, _zero_border
from .gemm import matmul

__all__ = ["Conv2d"]

BLOCK_BYTES = 4 << 20  # patches per block: copied and multiplied while they are in cache


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
        # a contiguous NHWC copy first: copying windows out of a transposed view is ~3x slower
        t, bt, l, r = self.pads
        padded = bool(t or bt or l or r)
        if padded:
            xl = _take(xp, (n, h + t + bt, wd + l + r, c), x.dtype)
            _zero_border(xl, (1, 2), self.pads)
            xl[:, t:t + h, l:l + wd, :] = x.transpose(0, 2, 3, 1)
        else:
            xl = xp.ascontiguousarray(x.transpose(0, 2, 3, 1))
        self.w, self.cols, self.xl, self.scratch = w, None, None, None
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
                matmul(blk.reshape(-1, k).T, g, out=part)  # ∂L/∂W += colsᵀ ∂L/∂Y over the block
                gwm += part
            if self.needs[0]:
                gp = gpad[s0:s1]
                for i in range(kh):
                    for j in range(kw):
                        # the patches' entries for kernel offset (i, j), added back where they were read
                        gp[:, i * dh:i * dh + hi:sh, j * dw:j * dw + wi:sw, :] += \
                            matmul(g, wk[i, j]).reshape(s1 - s0, oh, ow, c)
        if self.needs[1]:
            workspace.give(buf)
            gw = gwm.reshape(kh, kw, c, o).transpose(3, 2, 0, 1).copy()  # back to PyTorch's (O, C, kh, kw)
        if self.needs[0]:
            gx = gpad[:, t:t + h, l:l + wd, :].transpose(0, 3, 1, 2)
        return (gx, gw, gb) if len(self.needs) > 2 else (gx, gw)

    def release(self) -> None:
        """Drop what forward kept, handing its workspace buffer back."""
        buf = self.__dict__.get("scratch")
        super().release()
        workspace.give(buf)
