"""The Numba half of ``neurona.kernels.gemm``: the 12 × 32 micro-kernel and the loops around it.

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


@intrinsic
def _tile(typingctx, kc, a, aoff, rsa, csa, b, boff, c, coff, ldc, accumulate):
    """C[i, j] (+)= Σ_p A(i, p) B(p, j) for one MR × NR tile.

    A(i, p) is a[aoff + i·rsa + p·csa] (element offsets from a's data), B(p, j)
    is b[boff + p·NR + j] (a packed sliver), C(i, j) is c[coff + i·ldc + j].
    """
    sig = types.void(types.intp, a, types.intp, types.intp, types.intp, b, types.intp, c, types.intp, types.intp,
                     types.boolean)

    def codegen(context, builder, signature, args):
        kc, a, aoff, rsa, csa, b, boff, c, coff, ldc, accumulate = args
        f32 = ir.FloatType()
        i64 = ir.IntType(64)
        vec = ir.VectorType(f32, _W)
        vptr = vec.as_pointer()
        a_ptr = builder.gep(context.make_array(signature.args[1])(context, builder, a).data, [aoff])
        b_ptr = builder.gep(context.make_array(signature.args[5])(context, builder, b).data, [boff])
        c_ptr = builder.gep(context.make_array(signature.args[7])(context, builder, c).data, [coff])
        module = builder.module
        name = f"llvm.fma.v{_W}f32"
        fma = module.globals.get(name) or ir.Function(module, ir.FunctionType(vec, [vec, vec, vec]), name=name)
        zero = ir.Constant(vec, [0.0] * _W)
        undef = ir.Constant(vec, ir.Undefined)
        splat = ir.Constant(ir.VectorType(ir.IntType(32), _W), [0] * _W)

        entry = builder.block
        loop = builder.function.append_basic_block("tile.loop")
        done = builder.function.append_basic_block("tile.done")
        builder.cbranch(builder.icmp_signed(">", kc, ir.Constant(i64, 0)), loop, done)

        builder.position_at_end(loop)
        p = builder.phi(i64)
        ap = builder.phi(a_ptr.type)  # A(0, p)
        acc = [builder.phi(vec) for _ in range(2 * MR)]
        bp = builder.gep(b_ptr, [builder.mul(p, ir.Constant(i64, NR))])
        b0 = builder.load(builder.bitcast(bp, vptr), align=4)
        b1 = builder.load(builder.bitcast(builder.gep(bp, [ir.Constant(i64, _W)]), vptr), align=4)
        # the twelve rows as three groups of four from one base each (rsa, 2·rsa, 3·rsa apart): few registers
        r1, r2, r3, r4 = (builder.mul(ir.Constant(i64, q), rsa) for q in (1, 2, 3, 4))
        rows, g = [], ap
        for _ in range(MR // 4):
            rows += [g, builder.gep(g, [r1]), builder.gep(g, [r2]), builder.gep(g, [r3])]
            g = builder.gep(g, [r4])
        new = []
        for i in range(MR):
            x = builder.load(rows[i], align=4)
            va = builder.shuffle_vector(builder.insert_element(undef, x, ir.Constant(ir.IntType(32), 0)), undef, splat)
            new += [builder.call(fma, [va, b0, acc[2 * i]]), builder.call(fma, [va, b1, acc[2 * i + 1]])]
        p_next = builder.add(p, ir.Constant(i64, 1))
        p.add_incoming(ir.Constant(i64, 0), entry)
        p.add_incoming(p_next, loop)
        ap.add_incoming(a_ptr, entry)
        ap.add_incoming(builder.gep(ap, [csa]), loop)
        for ph, v in zip(acc, new):
            ph.add_incoming(zero, entry)
            ph.add_incoming(v, loop)
        builder.cbranch(builder.icmp_signed("<", p_next, kc), loop, done)

        builder.position_at_end(done)
        totals = []
        for v in new:
            total = builder.phi(vec)
            total.add_incoming(zero, entry)
            total.add_incoming(v, loop)
            totals.append(total)
        for i in range(MR):
            row = builder.gep(c_ptr, [builder.mul(ir.Constant(i64, i), ldc)])
            for h in range(2):
                total = totals[2 * i + h]
                ptr = builder.bitcast(builder.gep(row, [ir.Constant(i64, h * _W)]), vptr)
                old = builder.select(accumulate, builder.load(ptr, align=4), zero)
                builder.store(builder.fadd(old, total), ptr, align=4)
        return context.get_dummy_value()
    return sig, codegen


@kernel
def _gemm(a, bp, n, c, accumulate):
    """C (m × n, rows contiguous) (+)= A B, with B packed by ``_pack_b``.

    A sliver is read in place when A has a unit stride (rows or columns
    contiguous); the last, partial sliver and A of other strides are packed.
    """
    m, k = a.shape
    nsl = (n + NR - 1) // NR
    npad = nsl * NR
    ldc = c.strides[0] // 4
    s0, s1 = a.strides[0] // 4, a.strides[1] // 4
    unit = a.strides[0] == 4 or a.strides[1] == 4
    abuf = np.empty(MC * KC, np.float32)
    tile = np.empty(MR * NR, np.float32)
    for pc in range(0, k, KC):
        kb = min(KC, k - pc)
        acc = accumulate or pc > 0
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
                boff = pc * npad + t * kb * NR
                cols = min(NR, n - c0)
                for s in range(msl):
                    r0 = ic + s * MR
                    rows = min(MR, m - r0)
                    full = rows == MR and cols == NR
                    if unit and rows == MR:
                        if full:
                            _tile(kb, a, r0 * s0 + pc * s1, s0, s1, bp, boff, c, r0 * ldc + c0, ldc, acc)
                        else:
                            _tile(kb, a, r0 * s0 + pc * s1, s0, s1, bp, boff, tile, 0, NR, False)
                    elif full:
                        _tile(kb, abuf, s * MR * kb, 1, MR, bp, boff, c, r0 * ldc + c0, ldc, acc)
                    else:
                        _tile(kb, abuf, s * MR * kb, 1, MR, bp, boff, tile, 0, NR, False)
                    if not full:
                        for i in range(rows):
                            for j in range(cols):
                                if acc:
                                    c[r0 + i, c0 + j] += tile[i * NR + j]
                                else:
                                    c[r0 + i, c0 + j] = tile[i * NR + j]
