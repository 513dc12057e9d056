"""The Numba half of ``neurona.kernels.gemm``: the micro-kernel and the loops around it.

- ``_tile_of(mr)``: the micro-kernel for mr × 32 tiles (mr = 12 for products,
  14 for convolution rows of 14 or 28 pixels), an LLVM-IR intrinsic;
- ``_gemm``: C = A B over the tiles, B packed by ``gemm.pack_b``;
- ``_conv_rows``, ``_conv_rows_whole``, ``_conv_weights``: stride-1
  convolutions read from their padded input in place (forward and ∂L/∂x;
  ∂L/∂W), used by ``conv_channels_last``.

Imported by ``gemm`` on the first product it runs, so that importing the
convolution strategies (which only call ``gemm.matmul``) never imports Numba.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from ._jit import kernel

MR, NR, KC = 12, 32, 256
_W = 16  # float32 lanes of a 512-bit vector
MC = 10 * MR  # rows of A per block: the packed part of a block fits the L2 cache


def _tile_of(mr: int, segments: bool = True):
    """The micro-kernel for tiles of mr rows (2·mr vector registers hold the tile); ``segments=False``: one
    segment only (nseg and segoff are not read), a single loop, which the plain products run faster."""

    def tile(typingctx, nseg, segoff, kseg, a, aoff, rsa, csa, b, boff, ldb, c, coff, ldc, accumulate):
        """C[i, j] (+)= Σ_p A(i, p) B(p, j) for one mr × NR tile, p over nseg·kseg values in segments of kseg.

        A(i, p) is a[aoff + segoff[p // kseg] + i·rsa + (p % kseg)·csa] (element
        offsets from a's data),
        B(p, j) is b[boff + p·ldb + j] (ldb = NR: a packed sliver), C(i, j) is
        c[coff + i·ldc + j]. One segment is a plain product; several are a
        convolution read from its input in place, one segment per kernel offset.
        """
        sig = types.void(types.intp, segoff, types.intp, a, types.intp, types.intp, types.intp, b, types.intp,
                         types.intp, c, types.intp, types.intp, types.boolean)

        def codegen(context, builder, signature, args):
            nseg, segoff, kseg, a, aoff, rsa, csa, b, boff, ldb, c, coff, ldc, accumulate = args
            f32 = ir.FloatType()
            i64 = ir.IntType(64)
            vec = ir.VectorType(f32, _W)
            vptr = vec.as_pointer()
            seg_ptr = context.make_array(signature.args[1])(context, builder, segoff).data
            a_base = builder.gep(context.make_array(signature.args[3])(context, builder, a).data, [aoff])
            b_ptr = builder.gep(context.make_array(signature.args[7])(context, builder, b).data, [boff])
            c_ptr = builder.gep(context.make_array(signature.args[10])(context, builder, c).data, [coff])
            module = builder.module
            name = f"llvm.fma.v{_W}f32"
            fma = module.globals.get(name) or ir.Function(module, ir.FunctionType(vec, [vec, vec, vec]), name=name)
            zero = ir.Constant(vec, [0.0] * _W)
            undef = ir.Constant(vec, ir.Undefined)
            splat = ir.Constant(ir.VectorType(ir.IntType(32), _W), [0] * _W)
            one, nought = ir.Constant(i64, 1), ir.Constant(i64, 0)
            total_k = builder.mul(nseg, kseg)

            entry = builder.block
            done = builder.function.append_basic_block("tile.done")
            if segments:
                head = builder.function.append_basic_block("tile.segment")
                loop = builder.function.append_basic_block("tile.loop")
                latch = builder.function.append_basic_block("tile.next_segment")
                builder.cbranch(builder.icmp_signed(">", total_k, nought), head, done)
                builder.position_at_end(head)  # one segment: its start in A and in B
                s = builder.phi(i64)
                acc_in = [builder.phi(vec) for _ in range(2 * mr)]
                a_seg = builder.gep(a_base, [builder.load(builder.gep(seg_ptr, [s]))])
                b_seg = builder.gep(b_ptr, [builder.mul(builder.mul(s, kseg), ldb)])
                builder.branch(loop)
                start_block = head
            else:
                loop = builder.function.append_basic_block("tile.loop")
                latch = loop
                builder.cbranch(builder.icmp_signed(">", kseg, nought), loop, done)
                acc_in = [zero] * (2 * mr)
                a_seg, b_seg, start_block = a_base, b_ptr, entry

            builder.position_at_end(loop)
            p = builder.phi(i64)  # p within the segment
            ap = builder.phi(a_base.type)  # A(0, p)
            acc = [builder.phi(vec) for _ in range(2 * mr)]
            bp = builder.gep(b_seg, [builder.mul(p, ldb)])  # B(p, 0)
            b0 = builder.load(builder.bitcast(bp, vptr), align=4)
            b1 = builder.load(builder.bitcast(builder.gep(bp, [ir.Constant(i64, _W)]), vptr), align=4)
            # the rows in groups of four from one base each (rsa, 2·rsa, 3·rsa apart): few registers
            r1, r2, r3, r4 = (builder.mul(ir.Constant(i64, k), rsa) for k in (1, 2, 3, 4))
            rows, g = [], ap
            for _ in range(-(-mr // 4)):
                rows += [g, builder.gep(g, [r1]), builder.gep(g, [r2]), builder.gep(g, [r3])]
                g = builder.gep(g, [r4])
            new = []
            for i in range(mr):
                x = builder.load(rows[i], align=4)
                va = builder.shuffle_vector(builder.insert_element(undef, x, ir.Constant(ir.IntType(32), 0)), undef, splat)
                new += [builder.call(fma, [va, b0, acc[2 * i]]), builder.call(fma, [va, b1, acc[2 * i + 1]])]
            p_next = builder.add(p, one)
            for phi, start, step in ((p, nought, p_next), (ap, a_seg, builder.gep(ap, [csa]))):
                phi.add_incoming(start, start_block)
                phi.add_incoming(step, loop)
            for ph, start, v in zip(acc, acc_in, new):
                ph.add_incoming(start, start_block)
                ph.add_incoming(v, loop)
            if segments:
                builder.cbranch(builder.icmp_signed("<", p_next, kseg), loop, latch)
                builder.position_at_end(latch)
                s_next = builder.add(s, one)
                s.add_incoming(nought, entry)
                s.add_incoming(s_next, latch)
                for ph, v in zip(acc_in, new):
                    ph.add_incoming(zero, entry)
                    ph.add_incoming(v, latch)
                builder.cbranch(builder.icmp_signed("<", s_next, nseg), head, done)
            else:
                builder.cbranch(builder.icmp_signed("<", p_next, kseg), loop, done)

            builder.position_at_end(done)
            totals = []
            for v in new:
                total = builder.phi(vec)
                total.add_incoming(zero, entry)
                total.add_incoming(v, latch)
                totals.append(total)
            for i in range(mr):
                row = builder.gep(c_ptr, [builder.mul(ir.Constant(i64, i), ldc)])
                for h in range(2):
                    total = totals[2 * i + h]
                    ptr = builder.bitcast(builder.gep(row, [ir.Constant(i64, h * _W)]), vptr)
                    old = builder.select(accumulate, builder.load(ptr, align=4), zero)
                    builder.store(builder.fadd(old, total), ptr, align=4)
            return context.get_dummy_value()
        return sig, codegen
    return intrinsic(tile)


_tile = _tile_of(MR)
_tile_mm = _tile_of(MR, segments=False)  # the plain products' (one segment)
_tile14 = _tile_of(14)  # a row of 14 (or 28, ...) output pixels with no padding pixel computed


@kernel
def _gemm(a, b1, ldb, bp, n, c):
    """C (m × n, rows contiguous) = A B.

    A sliver is read in place when A has a unit stride (rows or columns
    contiguous); the last, partial sliver and A of other strides are packed.
    B's 32-column slivers are read in place from b1 (B's first element, rows
    ldb apart) when ldb > 0, except a last, partial sliver, which bp holds
    packed; with ldb = 0, bp holds all of B packed by ``gemm.pack_b``.
    """
    m, k = a.shape
    nsl = (n + NR - 1) // NR
    npad = nsl * NR
    whole = n // NR if ldb > 0 else 0  # slivers of B read in place
    ldc = c.strides[0] // 4
    s0, s1 = a.strides[0] // 4, a.strides[1] // 4
    unit = a.strides[0] == 4 or a.strides[1] == 4
    abuf = np.empty(MC * KC, np.float32)
    tile = np.empty(MR * NR, np.float32)
    one = np.zeros(2, np.int64)  # one segment, from offset 0
    for pc in range(0, k, KC):
        kb = min(KC, k - pc)
        acc = pc > 0  # later blocks of k add to what the first wrote
        for ic in range(0, m, MC):
            mb = min(MC, m - ic)
            msl = (mb + MR - 1) // MR
            for s in range(msl):  # what is not read in place: sliver s holds A(ic + s·MR + i, pc + p) at s·MR·kb + p·MR + i
                rows = min(MR, mb - s * MR)
                if unit and rows == MR:
                    continue
                base = s * MR * kb
                abuf[base:base + MR * kb] = 0.0
                for p in range(kb):
                    for i in range(rows):
                        abuf[base + p * MR + i] = a[ic + s * MR + i, pc + p]
            for t in range(nsl):
                c0 = t * NR
                if t < whole:
                    bsrc, boff, step = b1, pc * ldb + c0, ldb
                elif ldb > 0:  # the partial sliver, packed alone
                    bsrc, boff, step = bp, pc * NR, NR
                else:
                    bsrc, boff, step = bp, pc * npad + t * kb * NR, NR
                cols = min(NR, n - c0)
                for s in range(msl):
                    r0 = ic + s * MR
                    rows = min(MR, m - r0)
                    full = rows == MR and cols == NR
                    if unit and rows == MR:
                        if full:
                            _tile_mm(1, one, kb, a, r0 * s0 + pc * s1, s0, s1, bsrc, boff, step, c, r0 * ldc + c0, ldc,
                                  acc)
                        else:
                            _tile_mm(1, one, kb, a, r0 * s0 + pc * s1, s0, s1, bsrc, boff, step, tile, 0, NR, False)
                    elif full:
                        _tile_mm(1, one, kb, abuf, s * MR * kb, 1, MR, bsrc, boff, step, c, r0 * ldc + c0, ldc, acc)
                    else:
                        _tile_mm(1, one, kb, abuf, s * MR * kb, 1, MR, bsrc, boff, step, tile, 0, NR, False)
                    if not full:
                        for i in range(rows):
                            for j in range(cols):
                                if acc:
                                    c[r0 + i, c0 + j] += tile[i * NR + j]
                                else:
                                    c[r0 + i, c0 + j] = tile[i * NR + j]


# --- convolution read in place (stride 1): one segment of A per kernel offset ----------------------------

@kernel
def _conv_rows(x, segoff, width, group, bp, o, y, n_img, img_stride, cin, wg, y0, ny, x0, nx):
    """y (n_img·ny·nx, o) = Σ_s X_s W_s: the rows of a stride-1 convolution, read from its padded input in place.

    x is the flat padded NHWC input (images img_stride apart, rows wg pixels
    wide, cin values per pixel) with slack after its end. The output pixel on
    grid row q reads, for segment s, ``width`` values from x[q·cin + segoff[s]];
    W is packed by ``pack_b`` in blocks of ``group`` segments. Grid rows
    y0…y0+ny of each image are computed whole, wg pixels each, and the
    pixels x0…x0+nx of each row are written: the others are the padding's.
    """
    nseg = segoff.shape[0]
    nsl = (o + NR - 1) // NR
    npad = nsl * NR
    tile = np.empty(MR * NR, np.float32)
    rows = ny * wg
    for s0 in range(0, nseg, group):
        cnt = min(group, nseg - s0)
        kb = cnt * width
        seg = segoff[s0:s0 + cnt]
        for b in range(n_img):
            base = b * img_stride + y0 * wg * cin
            for t in range(nsl):
                c0 = t * NR
                cols = min(NR, o - c0)
                boff = s0 * width * npad + t * kb * NR
                yy, xx = 0, -x0  # the grid row and the column within the output of row r0
                for r0 in range(0, rows, MR):
                    _tile(cnt, seg, width, x, base + r0 * cin, cin, 1, bp, boff, NR, tile, 0, NR, False)
                    for i in range(min(MR, rows - r0)):
                        if 0 <= xx < nx:
                            dst = (b * ny + yy) * nx + xx
                            src = tile[i * NR:i * NR + cols]
                            if s0 > 0:
                                y[dst, c0:c0 + cols] += src
                            else:
                                y[dst, c0:c0 + cols] = src
                        xx += 1
                        if xx == wg - x0:
                            yy += 1
                            xx = -x0


ROW_TILE = 14


@kernel
def _conv_rows_whole(x, segoff, width, group, bp, o, y, n_img, img_stride, cin, wg, y0, ny, x0, nx):
    """``_conv_rows`` for rows of a multiple of 14 output pixels: tiles of 14 pixels of one row, so nothing is
    computed for the padding's pixels, and tiles 32 channels wide are stored straight into y."""
    nseg = segoff.shape[0]
    nsl = (o + NR - 1) // NR
    npad = nsl * NR
    tile = np.empty(ROW_TILE * NR, np.float32)
    for s0 in range(0, nseg, group):
        cnt = min(group, nseg - s0)
        kb = cnt * width
        seg = segoff[s0:s0 + cnt]
        acc = s0 > 0
        for b in range(n_img):
            for t in range(nsl):
                c0 = t * NR
                cols = min(NR, o - c0)
                boff = s0 * width * npad + t * kb * NR
                for yy in range(ny):
                    base = b * img_stride + ((y0 + yy) * wg + x0) * cin
                    for xx in range(0, nx, ROW_TILE):
                        dst = (b * ny + yy) * nx + xx
                        if cols == NR:
                            _tile14(cnt, seg, width, x, base + xx * cin, cin, 1, bp, boff, NR, y, dst * o + c0, o,
                                    acc)
                        else:
                            _tile14(cnt, seg, width, x, base + xx * cin, cin, 1, bp, boff, NR, tile, 0, NR, False)
                            for i in range(ROW_TILE):
                                if acc:
                                    y[dst + i, c0:c0 + cols] += tile[i * NR:i * NR + cols]
                                else:
                                    y[dst + i, c0:c0 + cols] = tile[i * NR:i * NR + cols]


@kernel
def _conv_weights(x, segoff, cin, g, o, dw, n_img, img_stride, wg, oh, ow):
    """dw (nseg·cin, o) = Σ_q X_s(q)ᵀ G(q) for every segment s: a stride-1 convolution's weight gradient.

    X_s(q) is x[q·cin + segoff[s] : … + cin], the input read in place as in
    ``_conv_rows`` (images img_stride apart, rows wg pixels wide), and G is
    the output gradient, (n_img·oh·ow, o) with slack after its end, also read
    in place: the sum over q runs one output row (ow pixels) per segment of
    the micro-kernel, so that the padding's pixels are never visited.
    """
    nseg = segoff.shape[0]
    nsl = (o + NR - 1) // NR
    tile = np.empty(MR * NR, np.float32)
    rows_per_block = max(1, KC // ow)
    rowoff = np.arange(oh) * (wg * cin)
    dw[...] = 0.0
    for b in range(n_img):
        for y0 in range(0, oh, rows_per_block):
            cnt = min(rows_per_block, oh - y0)
            rows = rowoff[y0:y0 + cnt]  # where each output row starts
            base = b * img_stride
            for s in range(nseg):
                for t in range(nsl):
                    c0 = t * NR
                    cols = min(NR, o - c0)
                    goff = (b * oh + y0) * ow * o + c0
                    for r0 in range(0, cin, MR):  # rows past cin read the next pixel's values, and are dropped
                        _tile(cnt, rows, ow, x, base + segoff[s] + r0, 1, cin, g, goff, o, tile, 0, NR, False)
                        for i in range(min(MR, cin - r0)):
                            dw[s * cin + r0 + i, c0:c0 + cols] += tile[i * NR:i * NR + cols]
