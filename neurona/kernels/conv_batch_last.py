"""Convolution, fast strategy "batch_last": im2col with the batch as the innermost axis, for few channels.

With few input channels (a first layer, LeNet-5's second) channels-last patch
rows are too short to copy well. Batch-last (C, H, W, N) memory makes every
patch copy and every col2im add move runs of OW·N contiguous values even with
one input channel; the layer is one product per group,

    Y = W · cols,   W: (O/g, C/g·kh·kw),  cols: (C/g·kh·kw, OH·OW·N).

Three ways to lay that product out, by what backward will need:

- a first layer (the input needs no gradient): the patches are copied and
  multiplied in blocks of output rows of about ``ROW_BLOCK_BYTES`` while in
  cache, and backward copies them again for ∂L/∂W instead of keeping them;
- an input that needs a gradient, stride 1 and no dilation along the height,
  one group: *row bands*. U holds the patches with only the kernel columns
  unrolled (kw times the input, not kh·kw), ordered so that the patches of
  each output row are a band of consecutive rows of U, read in place. Forward
  and both gradients are one product per output (or input) row, and col2im
  adds kw slabs instead of kh·kw;
- otherwise the whole patch matrix, kept for backward.

The output is the NCHW view of a CHWN array, and a gradient that arrives
batch-last in memory is read without a copy (see "Memory layout" in
CONTRIBUTING.md). The same op as the reference
``neurona.functional.conv.Conv2d`` (the tests check they agree).
"""
from __future__ import annotations

from .. import workspace
from ..backend import get_array_module
from ..engine import is_grad_enabled
from ..functional.conv import Conv2d as _Conv2d
from ._patches import _strided, _take, _zero_border

__all__ = ["Conv2d"]

# above this many elements, col2im computes the patch gradients one kernel offset at a time
COL2IM_BUFFER = 1 << 23
# a first layer's patches go in blocks of output rows of about this many bytes
ROW_BLOCK_BYTES = 1 << 20


class Conv2d(_Conv2d):
    """The reference's op on batch-last patches (see the module docstring for the three ways)."""

    def forward(self, x, w, b=None):
        n, c, h, wd, o, cg, kh, kw, oh, ow = self._geometry(x, w)
        self.geom = (n, c, h, wd, o, kh, kw, oh, ow)
        y = self._forward_batch_last(x, w)
        if b is not None:
            y += b.reshape(o, 1, 1, 1)
        if not is_grad_enabled():  # no graph will keep the patches: hand them back now
            self.release()
        return y.transpose(3, 0, 1, 2)

    def backward(self, gy):
        if self.__dict__.get("banded"):
            return self._backward_bands(gy)
        if self.cols is None:
            return self._backward_rows(gy)
        return self._backward_batch_last(gy)

    def _forward_batch_last(self, x, w):
        n, c, h, wd, o, kh, kw, oh, ow = self.geom
        g = self.groups
        xp = get_array_module(x)
        cg, og = c // g, o // g
        xt = x.transpose(1, 2, 3, 0)  # (C, H, W, N): the batch is the innermost, contiguous axis
        t, bt, l, r = self.pads
        padded = bool(t or bt or l or r)
        if padded:
            xpad = _take(xp, (c, h + t + bt, wd + l + r, n), x.dtype)
            _zero_border(xpad, (1, 2), self.pads)
            xpad[:, t:t + h, l:l + wd] = xt
        else:
            xpad = xp.ascontiguousarray(xt)
        if self._bands_apply():
            return self._forward_bands(xp, xpad, padded, w)
        view = self._batch_last_strided(xp, xpad)
        rb = self._row_block(x.dtype.itemsize)
        if rb < oh:
            return self._forward_rows(xp, xpad, padded, view, w, rb)
        buf = _take(xp, (c, kh, kw, oh, ow, n), x.dtype)
        xp.copyto(buf, view)  # im2col: runs of OW·N contiguous values
        if padded:
            workspace.give(xpad)
        cols = buf.reshape(g, cg * kh * kw, oh * ow * n)
        self.cols, self.w, self.scratch = cols, w, buf
        y = xp.matmul(w.reshape(g, og, cg * kh * kw), cols)
        return y.reshape(o, oh, ow, n)

    def _bands_apply(self) -> bool:
        """Whether this batch-last convolution runs on row bands (see ``_forward_bands``): one group, stride 1
        and no dilation along the height, and an input that needs a gradient (first layers keep the blocks of
        rows of ``_forward_rows``, measured faster there)."""
        return self.groups == 1 and self.stride[0] == 1 and self.dilation[0] == 1 and self.input_grad

    def _band_view(self, xp, a, rows: int, width: int):
        """The (rows, kh·width, L) bands of ``a`` (stored as (rows + kh − 1, width, L) of rows of length L):
        band p is the block of kh·width consecutive rows starting at row p·width, a view (bands overlap)."""
        kh, isz = self.geom[5], a.itemsize
        length = a.shape[-1]
        return _strided(xp, a, (rows, kh * width, length), (width * length * isz, length * isz, isz))

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
        u = _take(xp, (h + self.pads[0] + self.pads[1], c, kw, ow, n), xpad.dtype)
        wi = sw * (ow - 1) + 1

        for j in range(kw):
            xp.copyto(u[:, :, j], xpad[:, :, j * dw:j * dw + wi:sw].transpose(1, 0, 2, 3))
        if padded:
            workspace.give(xpad)
        self.cols, self.w, self.banded = None, w, True
        self.u = self.scratch = u if self.weight_grad else None  # U is read again only for ∂L/∂W
        wm = xp.ascontiguousarray(w.transpose(0, 2, 1, 3)).reshape(o, kh * c * kw)
        y = xp.empty((o, oh, length), xpad.dtype)
        xp.matmul(wm, self._band_view(xp, u.reshape(-1, c * kw, length), oh, c * kw), out=y.transpose(1, 0, 2))
        if self.u is None:
            workspace.give(u)
        return y.reshape(o, oh, ow, n)

    def _batch_last_strided(self, xp, xpad):
        """The (C, kh, kw, OH, OW, N) windows of the padded batch-last input (C, H, W, N): a view."""
        n, c, h, wd, o, kh, kw, oh, ow = self.geom
        (sh, sw), (dh, dw) = self.stride, self.dilation
        s0, s1, s2, s3 = xpad.strides
        return _strided(xp, xpad, (c, kh, kw, oh, ow, n), (s0, s1 * dh, s2 * dw, s1 * sh, s2 * sw, s3))

    def _row_block(self, itemsize: int) -> int:
        """Output rows per block of the batch-last loops (patch blocks of about ``ROW_BLOCK_BYTES``), or
        ``oh`` (one block, the patch matrix kept for backward): for grouped convolutions and, see
        ``ROW_BLOCK_BYTES``, for inputs that need a gradient."""
        n, c, h, wd, o, kh, kw, oh, ow = self.geom
        if self.groups > 1 or self.input_grad:
            return oh
        return max(1, min(oh, ROW_BLOCK_BYTES // max(1, c * kh * kw * ow * n * itemsize)))

    def _forward_rows(self, xp, xpad, padded, view, w, rb: int):
        """Batch-last forward in blocks of ``rb`` output rows: each block's patches (C·kh·kw, rb·OW·N) are
        copied and multiplied while they are in cache, straight into the block's columns of Y; backward
        copies them again from the padded input it keeps."""
        n, c, h, wd, o, kh, kw, oh, ow = self.geom
        k = c * kh * kw
        self.cols, self.w, self.rows = None, w, rb
        self.xpad, self.scratch = xpad, (xpad if padded else None)
        y = xp.empty((o, oh * ow * n), xpad.dtype)
        flat = _take(xp, (k * rb * ow * n,), xpad.dtype)
        wmat = w.reshape(o, k)
        for r0 in range(0, oh, rb):
            r1 = min(oh, r0 + rb)
            blk = self._row_patches(xp, flat, view, r0, r1)
            xp.matmul(wmat, blk, out=y[:, r0 * ow * n:r1 * ow * n])
        workspace.give(flat)
        return y.reshape(o, oh, ow, n)

    def _row_patches(self, xp, flat, view, r0: int, r1: int):
        """The patches of output rows r0..r1 as a (C·kh·kw, (r1 − r0)·OW·N) matrix in ``flat``'s memory."""
        n, c, h, wd, o, kh, kw, oh, ow = self.geom
        blk = flat[:c * kh * kw * (r1 - r0) * ow * n].reshape(c, kh, kw, r1 - r0, ow, n)
        xp.copyto(blk, view[:, :, :, r0:r1])
        return blk.reshape(c * kh * kw, -1)

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
        view = self._batch_last_strided(xp, xpad)
        if self.needs[1]:
            gwm = xp.empty((o, k), gy.dtype)
            part = xp.empty((o, k), gy.dtype)
            flat = _take(xp, (k * rb * ow * n,), gy.dtype)
        if self.needs[0]:
            t, bt, l, r = self.pads
            gpad = xp.zeros((c, h + t + bt, wd + l + r, n), gy.dtype)
            wt = w.reshape(o, k).T
            gflat = _take(xp, (k * rb * ow * n,), gy.dtype)
            wi = sw * (ow - 1) + 1
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
            workspace.give(flat)
            gw = gwm.reshape(o, c, kh, kw)
        if self.needs[0]:
            workspace.give(gflat)
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
        du = _take(xp, (h, c * kw, length), g3.dtype)  # ∂L/∂U for the unpadded rows t..t+h only
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

        if sw == 1:  # kernel column 0 writes columns 0..OW−1, so only the others need zeros first
            gpad[:, :, wi:] = 0
            xp.copyto(gpad[:, :, :wi], du5[:, :, 0].transpose(1, 0, 2, 3))
        else:
            gpad[...] = 0
            gpad[:, :, :wi:sw] += du5[:, :, 0].transpose(1, 0, 2, 3)
        for j in range(1, kw):  # col2im: kw slabs
            gpad[:, :, j * dw:j * dw + wi:sw] += du5[:, :, j].transpose(1, 0, 2, 3)
        workspace.give(du)
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
            big = c * kh * kw * oh * ow * n > COL2IM_BUFFER
            if not big:
                gbuf = _take(xp, (g, cg * kh * kw, oh * ow * n), gy.dtype)
                xp.matmul(w.reshape(g, og, cg * kh * kw).swapaxes(1, 2), gyt, out=gbuf)
                gcols = gbuf.reshape(c, kh, kw, oh, ow, n)
            if big:
                for i in range(kh):
                    for j in range(kw):  # one offset at a time: no kh·kw-times-larger buffer
                        gij = xp.matmul(xp.ascontiguousarray(wt[:, :, :, i, j].swapaxes(1, 2)), gyt)
                        gpad[:, i * dh:i * dh + hi:sh, j * dw:j * dw + wi:sw] += gij.reshape(c, oh, ow, n)
            else:
                for i in range(kh):  # col2im: one slab per kernel offset
                    for j in range(kw):
                        gpad[:, i * dh:i * dh + hi:sh, j * dw:j * dw + wi:sw] += gcols[:, i, j]
                workspace.give(gbuf)
            gx = gpad[:, t:t + h, l:l + wd].transpose(3, 0, 1, 2)
        return (gx, gw, gb) if len(self.needs) > 2 else (gx, gw)

    def release(self) -> None:
        """Drop what forward kept, handing its workspace buffer back."""
        buf = self.__dict__.get("scratch")
        super().release()
        workspace.give(buf)
