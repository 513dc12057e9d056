"""ONNX converters for the attention layers and the models built on them: MultiheadAttention, the
Transformer family, positional encodings, the second-order recurrent layer, and the models of
``neurona.models`` that use them (encoder–decoders, the Transformer language model, the Vision
Transformer, the Elman and second-order networks).

Attention is written with plain operators: MatMul, Softmax, Transpose, Reshape. A query whose keys
are all masked gets zero weights, as in neurona (ONNX's Softmax gives NaN there: a Where on the rows
whose largest score is −∞ sets them to 0). Sizes other than the batch are fixed at export; masks given as arrays become constants,
and a key padding mask computed from the input ids (the encoder–decoders') stays in the graph.
"""
from __future__ import annotations

import math
from functools import partial

import numpy as np

from .. import models as M
from .. import nn
from ..creation import from_numpy
from ..engine import Tensor, no_grad
from ..functional.activation import gelu, relu
from ..functional.attention import additive_mask, causal_mask
from ..functional.shape import broadcast_to, cat
from ..nn.second_order import second_order_start_state
from ..nn.transformer import _causal_if
from ._graph import ExportError, GraphBuilder, Value, register_converter
from .layers import _gelu
from .models import _lengths_from_padding

G = GraphBuilder


def _arr(x):
    return x.array if isinstance(x, Tensor) else x


def _eager(fn, *values):
    """``fn`` on the example tensors of ``values`` (no graph): the value a node's output holds."""
    with no_grad():
        return fn(*[v.tensor if isinstance(v, Value) else v for v in values])


def _add(g: G, a: Value, b: Value) -> Value:
    return g.op("Add", [a, b], _eager(lambda x, y: x + y, a, b))


def _additive(g: G, mask, dtype, true_means: str) -> Value | None:
    """A mask as an additive float (0 / −∞, or the floats given): a constant, or ops on a graph Value."""
    if mask is None:
        return None
    if isinstance(mask, Value):
        if mask.tensor.dtype == np.bool_:
            keep = mask if true_means == "keep" else g.op("Not", [mask])
            return g.op("Where", [keep, g.const(np.asarray(0, dtype)), g.const(np.asarray(-np.inf, dtype))])
        return mask
    m = additive_mask(mask, dtype, "MultiheadAttention", true_means)
    return g.const(np.asarray(_arr(m), dtype), f"{g.scope_name()}.mask")


# --- attention ---------------------------------------------------------------------------------------


def _masked_softmax(g: G, scores: Value, dt, masked: bool) -> Value:
    """Softmax over the last axis; with masks, a row that is −∞ everywhere gives zeros (neurona's
    masked_softmax), where ONNX's Softmax would give NaN."""
    attn = g.op("Softmax", [scores], axis=-1)
    if not masked:
        return attn
    empty = g.op("Equal", [g.reduce("ReduceMax", scores, [-1]), g.const(np.asarray(-np.inf, dt))])
    return g.op("Where", [empty, g.const(np.asarray(0, dt)), attn])


@register_converter(nn.MultiheadAttention)
def _multihead_attention(g: G, m: nn.MultiheadAttention, query: Value, key: Value, value: Value,
                         key_padding_mask=None, need_weights: bool = True, attn_mask=None,
                         average_attn_weights: bool = True, is_causal: bool = False):
    if m.bias_k is not None or m.add_zero_attn:
        raise ExportError("neurona.onnx.export: MultiheadAttention with add_bias_kv or add_zero_attn is not exported")
    if query.ndim != 3:
        raise ExportError("neurona.onnx.export: MultiheadAttention exports batched (3-D) inputs only")
    E, H, hd = m.embed_dim, m.num_heads, m.head_dim
    dt = query.tensor.dtype
    t_axis = 1 if m.batch_first else 0
    L, S = query.shape[t_axis], key.shape[t_axis]
    if not m.batch_first:  # one layout inside: (N, L, E)
        query, key, value = (g.op("Transpose", [t], perm=[1, 0, 2]) for t in (query, key, value))
    b = None if m.in_proj_bias is None else g.param(m.in_proj_bias)
    if m._qkv_same_embed_dim:
        w = g.param(m.in_proj_weight)
        weights = [g.slice(w, [k * E], [(k + 1) * E], [0]) for k in range(3)]
    else:
        weights = [g.param(m.q_proj_weight), g.param(m.k_proj_weight), g.param(m.v_proj_weight)]
    heads = []
    for k, (x, wk) in enumerate(zip((query, key, value), weights)):
        bk = None if b is None else g.slice(b, [k * E], [(k + 1) * E], [0])   # before the MatMul: an importer
        y = g.op("MatMul", [x, g.op("Transpose", [wk], perm=[1, 0])])          # folds it first and reads
        if bk is not None:                                                    # x W_kᵀ + b_k as one Linear
            y = g.op("Add", [y, bk])
        heads.append(g.op("Transpose", [g.reshape(y, [0, 0, H, hd])], perm=[0, 2, 1, 3]))   # (N, H, len, hd)
    q, k_, v = heads
    scores = g.op("MatMul", [q, g.op("Transpose", [k_], perm=[0, 1, 3, 2])])                # (N, H, L, S)
    scores = g.op("Mul", [scores, g.const(np.asarray(1.0 / math.sqrt(hd), dt))])
    if attn_mask is None and is_causal:
        mask = _additive(g, causal_mask(L, S), dt, "keep")
    else:
        mask = _additive(g, attn_mask, dt, "mask")
        if mask is not None and np.ndim(_arr(attn_mask)) == 3:
            mask = g.reshape(mask, [-1, H, L, S])                                          # (N·H, L, S) → (N, H, L, S)
    if mask is not None:
        scores = g.op("Add", [scores, mask])
    kpm = _additive(g, key_padding_mask, dt, "mask")
    if kpm is not None:
        scores = g.op("Add", [scores, g.unsqueeze(kpm, [1, 2])])                          # (N, 1, 1, S)
    attn = _masked_softmax(g, scores, dt, mask is not None or kpm is not None)
    out = g.op("MatMul", [attn, v])                                                         # (N, H, L, hd)
    out = g.reshape(g.op("Transpose", [out], perm=[0, 2, 1, 3]), [0, 0, E])                 # (N, L, E)
    out = g.op("MatMul", [out, g.op("Transpose", [g.param(m.out_proj.weight)], perm=[1, 0])])
    if m.out_proj.bias is not None:
        out = g.op("Add", [out, g.param(m.out_proj.bias)])
    if not m.batch_first:
        out = g.op("Transpose", [out], perm=[1, 0, 2])
    if not need_weights:
        return out, None
    return out, (g.reduce("ReduceMean", attn, [1], keepdims=False) if average_attn_weights else attn)


# --- the Transformer -----------------------------------------------------------------------------------


def _activation(g: G, fn, x: Value) -> Value:
    value = _eager(fn, x)
    if isinstance(fn, nn.Module):
        return g.call(fn, x)
    if fn is relu:
        return g.op("Relu", [x], value)
    if fn is gelu or (isinstance(fn, partial) and fn.func is gelu):
        approximate = fn.keywords.get("approximate", "none") if isinstance(fn, partial) else "none"
        out = _gelu(g, type("GELU", (), {"approximate": approximate})(), x)
        out.tensor = value
        return out
    raise ExportError(f"neurona.onnx.export: the Transformer activation {fn!r} has no ONNX form; use 'relu', "
                      f"'gelu', gelu with approximate='tanh', or an nn activation module")


def _feed_forward(g: G, m, x: Value) -> Value:
    return g.call(m.linear2, _activation(g, m.activation, g.call(m.linear1, x)))


def _self_attention(g: G, mha, x: Value, mask, kpm) -> Value:
    return g.call(mha, x, x, x, attn_mask=mask, key_padding_mask=kpm, need_weights=False)[0]


@register_converter(nn.TransformerEncoderLayer)
def _encoder_layer(g: G, m: nn.TransformerEncoderLayer, src: Value, src_mask=None, src_key_padding_mask=None,
                   is_causal: bool = False):
    t_axis = 1 if m.batch_first and src.ndim == 3 else 0
    mask = _causal_if(is_causal, src_mask, src.shape[t_axis])
    x = src
    if m.norm_first:
        x = _add(g, x, _self_attention(g, m.self_attn, g.call(m.norm1, x), mask, src_key_padding_mask))
        return _add(g, x, _feed_forward(g, m, g.call(m.norm2, x)))
    x = g.call(m.norm1, _add(g, x, _self_attention(g, m.self_attn, x, mask, src_key_padding_mask)))
    return g.call(m.norm2, _add(g, x, _feed_forward(g, m, x)))


@register_converter(nn.TransformerDecoderLayer)
def _decoder_layer(g: G, m: nn.TransformerDecoderLayer, tgt: Value, memory: Value, tgt_mask=None, memory_mask=None,
                   tgt_key_padding_mask=None, memory_key_padding_mask=None, tgt_is_causal: bool = False,
                   memory_is_causal: bool = False):
    t_axis = 1 if m.batch_first and tgt.ndim == 3 else 0
    tgt_mask = _causal_if(tgt_is_causal, tgt_mask, tgt.shape[t_axis])
    if memory_mask is None and memory_is_causal:
        memory_mask = ~causal_mask(tgt.shape[t_axis], memory.shape[t_axis])

    def cross(x):
        return g.call(m.multihead_attn, x, memory, memory, attn_mask=memory_mask,
                      key_padding_mask=memory_key_padding_mask, need_weights=False)[0]

    x = tgt
    if m.norm_first:
        x = _add(g, x, _self_attention(g, m.self_attn, g.call(m.norm1, x), tgt_mask, tgt_key_padding_mask))
        x = _add(g, x, cross(g.call(m.norm2, x)))
        return _add(g, x, _feed_forward(g, m, g.call(m.norm3, x)))
    x = g.call(m.norm1, _add(g, x, _self_attention(g, m.self_attn, x, tgt_mask, tgt_key_padding_mask)))
    x = g.call(m.norm2, _add(g, x, cross(x)))
    return g.call(m.norm3, _add(g, x, _feed_forward(g, m, x)))


@register_converter(nn.TransformerEncoder)
def _encoder(g: G, m: nn.TransformerEncoder, src: Value, mask=None, src_key_padding_mask=None, is_causal=None):
    x = src
    for layer in m.layers:
        x = g.call(layer, x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal))
    return x if m.norm is None else g.call(m.norm, x)


@register_converter(nn.TransformerDecoder)
def _decoder(g: G, m: nn.TransformerDecoder, tgt: Value, memory: Value, tgt_mask=None, memory_mask=None,
             tgt_key_padding_mask=None, memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
    x = tgt
    for layer in m.layers:
        x = g.call(layer, x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                   tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask,
                   tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
    return x if m.norm is None else g.call(m.norm, x)


@register_converter(nn.Transformer)
def _transformer(g: G, m: nn.Transformer, src: Value, tgt: Value, src_mask=None, tgt_mask=None, memory_mask=None,
                 src_key_padding_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None,
                 src_is_causal=None, tgt_is_causal=None, memory_is_causal=False):
    memory = g.call(m.encoder, src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
    return g.call(m.decoder, tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                  tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask,
                  tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)


@register_converter(nn.PositionalEncoding, nn.LearnedPositionalEncoding)
def _positions(g: G, m, x: Value, start: int = 0):
    L = m._positions(x.tensor, int(start), type(m).__name__)
    if isinstance(m, nn.PositionalEncoding):
        table = g.const(m.pe.array[int(start):int(start) + L].astype(x.tensor.dtype), f"{g.scope_name()}.pe")
    else:
        table = g.slice(g.param(m.weight), [int(start)], [int(start) + L], [0])
    if x.ndim == 3:
        table = g.unsqueeze(table, [0] if m.batch_first else [1])
    return g.op("Add", [x, table])


# --- second-order recurrent layer --------------------------------------------------------------------------


@register_converter(nn.SecondOrderRNN)
def _second_order_rnn(g: G, m: nn.SecondOrderRNN, x: Value, hx=None, lengths=None):
    """The loop over time unrolled (the sequence length is fixed at export): per step, the outer products
    x_j h_k of each sample, one MatMul with W reshaped to (H, I·H), the bias and the nonlinearity."""
    if lengths is not None:
        raise ExportError("neurona.onnx.export: SecondOrderRNN exports full-length sequences (no lengths)")
    if x.ndim != 3:
        raise ExportError("neurona.onnx.export: SecondOrderRNN exports batched (3-D) inputs only")
    H, dt = m.hidden_size, x.tensor.dtype
    seq = g.op("Transpose", [x], perm=[1, 0, 2]) if m.batch_first else x                      # (T, B, I)
    T = x.shape[1 if m.batch_first else 0]
    act = {"tanh": "Tanh", "sigmoid": "Sigmoid", "relu": "Relu"}[m.nonlinearity]
    finals = []
    for k in range(m.num_layers):
        w, b = getattr(m, f"weight_l{k}"), getattr(m, f"bias_l{k}")
        n_in = w.shape[1]
        w2t = g.op("Transpose", [g.reshape(g.param(w), [H, n_in * H])], perm=[1, 0])         # (I·H, H)
        if hx is None:   # the start state, broadcast over the batch by the first product
            h = g.const(second_order_start_state(1, H, dt), f"{g.scope_name()}.h0")
        else:
            h = g.op("Gather", [hx, g.const(np.asarray(k, np.int64))], axis=0)
        outs = []
        for t in range(T):
            xt = g.op("Gather", [seq, g.const(np.asarray(t, np.int64))], axis=0)              # (B, I)
            pairs = g.op("Mul", [g.unsqueeze(xt, [2]), g.unsqueeze(h, [1])])                   # (B, I, H)
            z = g.op("MatMul", [g.reshape(pairs, [-1, n_in * H]), w2t])
            if b is not None:
                z = g.op("Add", [z, g.param(b)])
            h = g.op(act, [z])
            outs.append(g.unsqueeze(h, [0]))
        finals.append(g.unsqueeze(h, [0]))
        seq = outs[0] if T == 1 else g.op("Concat", outs, axis=0)                              # (T, B, H)
    out = g.op("Transpose", [seq], perm=[1, 0, 2]) if m.batch_first else seq
    return out, (finals[0] if len(finals) == 1 else g.op("Concat", finals, axis=0))


# --- models ---------------------------------------------------------------------------------------------


def _rows(g: G, x: Value, input_size: int) -> Value:
    """``models.elman._as_sequence``: images read row by row, flat rows cut into steps."""
    from ..models.elman import _as_sequence

    t = _eager(lambda a: _as_sequence(a, input_size, "export"), x)
    if x.ndim == 4:
        B, C, H, W = x.shape
        if C > 1:
            return g.reshape(g.op("Transpose", [x], perm=[0, 2, 1, 3]), [0, 0, -1], t)
        return g.squeeze(x, [1], t)
    if x.ndim == 2 and x.shape[1] != input_size:
        return g.reshape(x, [0, -1, input_size], t)
    return x


@register_converter(M.ElmanNetwork, M.SecondOrderNetwork)
def _recurrent_perceptron(g: G, m, x: Value, hx=None, lengths=None):
    if lengths is not None:
        raise ExportError(f"neurona.onnx.export: {type(m).__name__} exports full-length sequences (no lengths)")
    seq = _rows(g, x, m.config["input_size"])
    h, h_n = g.call(m.rnn, seq, hx)
    if m.config["return_sequences"]:
        z = h
    else:
        z = g.op("Gather", [h_n, g.const(np.asarray(-1, np.int64))], _eager(lambda a: a[-1], h_n), axis=0)
    y = g.call(m.output, z)
    act = m.config["output_activation"]
    if act in (None, "identity"):
        return y
    if act == "softmax":
        return g.op("Softmax", [y], axis=-1)
    return g.op({"sigmoid": "Sigmoid", "tanh": "Tanh"}[act], [y])


@register_converter(M.VisionTransformer)
def _vit(g: G, m: M.VisionTransformer, x: Value):
    S, C, P, grid = m.config["image_size"], m.config["in_channels"], m.config["patch_size"], m.grid
    images = g.reshape(x, [-1, C, S, S])
    patches = g.op("Transpose", [g.reshape(images, [-1, C, grid, P, grid, P])], perm=[0, 2, 4, 1, 3, 5])
    patches = g.reshape(patches, [-1, grid * grid, C * P * P], _eager(m.patches, x))
    tokens = g.call(m.patch_embedding, patches)                                                # (B, N, d)
    d = tokens.shape[2]
    batch = g.slice(g.op("Shape", [tokens]), [0], [1], [0])
    cls = g.op("Expand", [g.param(m.cls_token), g.op("Concat", [batch, g.ints([1, d])], axis=0)])
    h = g.op("Concat", [cls, tokens], _eager(lambda t: cat([broadcast_to(m.cls_token, (t.shape[0], 1, d)), t], 1),
                                             tokens), axis=1)
    h = g.call(m.encoder, g.call(m.positions, h))
    first = g.op("Gather", [h, g.const(np.asarray(0, np.int64))], _eager(lambda a: a[:, 0], h), axis=1)
    return g.call(m.head, first)


@register_converter(M.TransformerLM)
def _transformer_lm(g: G, m: M.TransformerLM, x: Value, state=None):
    if state is not None:
        raise ExportError("neurona.onnx.export: TransformerLM exports one window without a carried context")
    emb = g.call(m.embedding, x)
    scaled = g.op("Mul", [emb, g.const(np.asarray(m.scale, emb.tensor.dtype))], _eager(lambda e: e * m.scale, emb))
    h = g.call(m.layers, g.call(m.positions, scaled), is_causal=True)
    return g.call(m.head, h), g.op("Identity", [x], x.tensor)


@register_converter(M.TransformerSeq2Seq)
def _transformer_seq2seq(g: G, m: M.TransformerSeq2Seq, src: Value, tgt_in: Value):
    pad = g.op("Equal", [src, g.const(np.asarray(0, src.tensor.dtype))], from_numpy(src.tensor.array == 0))

    def embed(emb, ids):
        e = g.call(emb, ids)
        scaled = g.op("Mul", [e, g.const(np.asarray(m.scale, e.tensor.dtype))], _eager(lambda a: a * m.scale, e))
        return g.call(m.positions, scaled)

    memory = g.call(m.transformer.encoder, embed(m.src_embedding, src), src_key_padding_mask=pad)
    y = g.call(m.transformer.decoder, embed(m.tgt_embedding, tgt_in), memory, tgt_is_causal=True,
               memory_key_padding_mask=pad)
    return g.call(m.generator, y)


@register_converter(nn.LuongAttention, nn.BahdanauAttention)
def _recurrent_attention(g: G, m, query: Value, keys: Value, values=None, key_padding_mask=None):
    """Scores, masked softmax over the keys, context; for queries (B, T, q) and keys (B, S, k)."""
    if query.ndim != 3:
        raise ExportError(f"neurona.onnx.export: {type(m).__name__} exports queries of shape (B, T, q)")
    values = keys if values is None else values
    dt = query.tensor.dtype
    if isinstance(m, nn.BahdanauAttention) or m.score_name == "concat":
        if isinstance(m, nn.BahdanauAttention):
            qp, kp = g.call(m.query_proj, query), g.call(m.key_proj, keys)
        else:
            w = g.param(m.proj.weight)
            qp = g.op("MatMul", [query, g.op("Transpose", [g.slice(w, [0], [m.query_size], [1])], perm=[1, 0])])
            kp = g.op("MatMul", [keys, g.op("Transpose", [g.slice(w, [m.query_size], [m.query_size + m.key_size], [1])],
                                               perm=[1, 0])])
        e = g.op("Tanh", [g.op("Add", [g.unsqueeze(qp, [2]), g.unsqueeze(kp, [1])])])           # (B, T, S, A)
        v = m.v.weight
        scores = g.squeeze(g.op("MatMul", [e, g.op("Transpose", [g.param(v)], perm=[1, 0])]), [3])
    else:
        k = g.call(m.weight, keys) if m.score_name == "general" else keys
        scores = g.op("MatMul", [query, g.op("Transpose", [k], perm=[0, 2, 1])])
        if m.scale:
            scores = g.op("Mul", [scores, g.const(np.asarray(1.0 / math.sqrt(m.key_size), dt))])
    kpm = _additive(g, key_padding_mask, dt, "mask")
    if kpm is not None:
        scores = g.op("Add", [scores, g.unsqueeze(kpm, [1])])
    attn = _masked_softmax(g, scores, dt, kpm is not None)
    return g.op("MatMul", [attn, values]), attn


@register_converter(M.RecurrentSeq2Seq)
def _recurrent_seq2seq(g: G, m: M.RecurrentSeq2Seq, src: Value, tgt_in: Value):
    from ..functional.shape import stack

    L, H = m.config["num_layers"], m.config["hidden_size"]
    lengths = _lengths_from_padding(g, src, 0)
    pad = g.op("Equal", [src, g.const(np.asarray(0, src.tensor.dtype))], from_numpy(src.tensor.array == 0))
    memory, (h, c) = g.call(m.encoder, g.call(m.src_embedding, src), lengths=lengths)

    def join(s: Value) -> Value:  # (2L, B, H/2) → (L, B, H): each layer's two directions side by side
        value = _eager(lambda a: stack([cat([a[2 * k], a[2 * k + 1]], 1) for k in range(L)], 0), s)
        return g.reshape(g.op("Transpose", [g.reshape(s, [L, 2, -1, H // 2])], perm=[0, 2, 1, 3]), [L, -1, H], value)

    h, c = join(h), join(c)
    emb = g.call(m.tgt_embedding, tgt_in)
    if m.config["attention"] != "additive":
        s, _ = g.call(m.decoder, emb, (h, c))
        context, _ = g.call(m.attention, s, memory, key_padding_mask=pad)
        return _readout(g, m, context, s)
    h1 = g.squeeze(h, [0], _eager(lambda a: a[0], h))
    c1 = g.squeeze(c, [0], _eager(lambda a: a[0], c))
    logits = []
    for t in range(tgt_in.shape[1]):
        q = g.unsqueeze(h1, [1], _eager(lambda a: a.unsqueeze(1), h1))
        context, _ = g.call(m.attention, q, memory, key_padding_mask=pad)                      # (B, 1, H)
        context = g.squeeze(context, [1], _eager(lambda a: a[:, 0], context))
        e_t = g.op("Gather", [emb, g.const(np.asarray(t, np.int64))], _eager(lambda a: a[:, t], emb), axis=1)
        step_in = g.op("Concat", [e_t, context], _eager(lambda a, b: cat([a, b], 1), e_t, context), axis=1)
        h1, c1 = g.call(m.decoder, step_in, (h1, c1))
        logits.append(g.unsqueeze(_readout(g, m, context, h1), [1]))
    return logits[0] if len(logits) == 1 else g.op("Concat", logits, axis=1)


def _readout(g: G, m: M.RecurrentSeq2Seq, context: Value, s: Value) -> Value:
    """out(tanh(combine([c; s])))."""
    both = g.op("Concat", [context, s], _eager(lambda a, b: cat([a, b], -1), context, s), axis=-1)
    combined = g.call(m.combine, both)
    hidden = g.op("Tanh", [combined], _eager(lambda a: a.tanh(), combined))
    return g.call(m.out, hidden)
