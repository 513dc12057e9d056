"""Attention layers: ``MultiheadAttention`` (PyTorch's), and the additive (Bahdanau) and multiplicative
(Luong) attention of recurrent encoder–decoders.

In the notes' "arquitectura codificador-decodificador" the encoder reads the
source into a sequence of states h_1..h_S and the decoder writes the target
one token at a time. Attention lets the decoder, at each step, look back at
all the encoder states: it scores each one against its own state s, turns
the scores into weights α = softmax(score) and reads the context
c = Σ_j α_j h_j. The three modules differ in the score:

- Bahdanau (additive):       score(s, h_j) = vᵀ tanh(W_q s + W_k h_j + b)
- Luong (multiplicative):    dot: sᵀ h_j,   general: sᵀ W h_j,   concat: vᵀ tanh(W [s; h_j])
- Transformer (scaled dot product, several heads): (W_q s)ᵀ (W_k h_j) / √d per head
"""
from __future__ import annotations

import math

import numpy as np

from ..backend import get_array_module, get_default_dtype
from ..creation import from_numpy, zeros as _zeros
from ..engine import Tensor
from ..functional.activation import tanh
from ..functional.attention import additive_mask, causal_mask, masked_softmax, scaled_dot_product_attention_weights
from ..functional.linear import linear
from ..functional.math import matmul
from ..functional.shape import broadcast_to, cat, permute, reshape, split, squeeze, transpose, unsqueeze
from . import init
from .linear import Linear
from .module import Module
from .parameter import Parameter

__all__ = ["MultiheadAttention", "BahdanauAttention", "LuongAttention", "AdditiveAttention",
           "MultiplicativeAttention"]


def _dtype(dtype, op: str) -> np.dtype:
    d = np.dtype(dtype) if dtype is not None else get_default_dtype()
    if d.kind != "f":
        raise TypeError(f"{op}: dtype must be a floating dtype, got {d}")
    return d


def _as_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else from_numpy(get_array_module(x).asarray(x))


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al. 2017), PyTorch's ``nn.MultiheadAttention``.

        MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W_O,   head_i = Attention(Q W_Q^i, K W_K^i, V W_V^i)

    with Attention the scaled dot product softmax(Q Kᵀ / √d + M) V of
    :func:`neurona.nn.functional.scaled_dot_product_attention` and
    d = embed_dim / num_heads. Parameters, with PyTorch's names so a
    ``torch.nn.MultiheadAttention`` state_dict loads as is: ``in_proj_weight``
    (3·E, E) holding W_Q, W_K, W_V one above the other (or ``q_proj_weight``
    (E, E), ``k_proj_weight`` (E, kdim), ``v_proj_weight`` (E, vdim) when the key
    or value size differs from E), ``in_proj_bias`` (3·E,), ``out_proj`` (a Linear
    E → E), and with ``add_bias_kv`` ``bias_k`` and ``bias_v`` (1, 1, E), a learned
    key and value appended to every sequence. ``add_zero_attn`` appends a zero
    key and value. ``dropout`` drops attention weights in training.

    ``forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False)`` → (output, weights):

    - query (L, N, E), key (S, N, kdim), value (S, N, vdim), or batch first (N, L, E) with
      ``batch_first=True``, or unbatched (L, E);
    - ``key_padding_mask`` (N, S): True (or −∞) marks padded keys that no query may attend to;
      float values are added to the scores;
    - ``attn_mask`` (L, S) or (N·num_heads, L, S): True marks pairs that may NOT attend (the
      opposite of scaled_dot_product_attention's boolean mask, as in PyTorch); floats are added;
    - ``is_causal=True`` with no ``attn_mask`` applies the causal mask (query i sees keys j ≤ i);
      with an ``attn_mask`` it is only a hint, as in PyTorch, and the mask given is used;
    - output (L, N, E) (batch first if asked); weights (N, L, S) averaged over the heads, or
      (N, num_heads, L, S) with ``average_attn_weights=False``, or None if not ``need_weights``.

    A query whose keys are all masked gets a zero output (and zero weights).

    >>> import neurona
    >>> mha = MultiheadAttention(16, 4, batch_first=True)
    >>> x = neurona.randn(2, 5, 16)
    >>> out, w = mha(x, x, x)
    >>> out.shape, w.shape
    (neurona.Size([2, 5, 16]), neurona.Size([2, 5, 5]))
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device=None, dtype=None):
        super().__init__()
        if int(embed_dim) <= 0 or int(num_heads) <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be positive, got {embed_dim} and "
                             f"{num_heads}")
        if int(embed_dim) % int(num_heads):
            raise ValueError(f"MultiheadAttention: embed_dim must be divisible by num_heads, got embed_dim="
                             f"{embed_dim} and num_heads={num_heads}")
        if not 0.0 <= float(dropout) <= 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be between 0 and 1, got {dropout}")
        d = _dtype(dtype, "MultiheadAttention")
        E = self.embed_dim = int(embed_dim)
        self.kdim = int(kdim) if kdim is not None else E
        self.vdim = int(vdim) if vdim is not None else E
        self._qkv_same_embed_dim = self.kdim == E and self.vdim == E
        self.num_heads = int(num_heads)
        self.head_dim = E // self.num_heads
        self.dropout = float(dropout)
        self.batch_first = bool(batch_first)
        self.add_zero_attn = bool(add_zero_attn)
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(from_numpy(np.empty((3 * E, E), d)))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.register_parameter("in_proj_weight", None)
            self.q_proj_weight = Parameter(from_numpy(np.empty((E, E), d)))
            self.k_proj_weight = Parameter(from_numpy(np.empty((E, self.kdim), d)))
            self.v_proj_weight = Parameter(from_numpy(np.empty((E, self.vdim), d)))
        if bias:
            self.in_proj_bias = Parameter(from_numpy(np.empty((3 * E,), d)))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(E, E, bias=bias, dtype=d)
        if add_bias_kv:
            self.bias_k = Parameter(from_numpy(np.empty((1, 1, E), d)))
            self.bias_v = Parameter(from_numpy(np.empty((1, 1, E), d)))
        else:
            self.register_parameter("bias_k", None)
            self.register_parameter("bias_v", None)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """PyTorch's initialization: Xavier-uniform projections, zero biases, Xavier-normal bias_k/bias_v."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    reset_parameters = _reset_parameters

    def extra_repr(self) -> str:
        s = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if not self._qkv_same_embed_dim:
            s += f", kdim={self.kdim}, vdim={self.vdim}"
        if self.bias_k is not None:
            s += ", add_bias_kv=True"
        if self.add_zero_attn:
            s += ", add_zero_attn=True"
        if self.batch_first:
            s += ", batch_first=True"
        return s

    # --- forward ---

    def _project(self, query: Tensor, key: Tensor, value: Tensor):
        """q, k, v = query W_Qᵀ + b_Q, key W_Kᵀ + b_K, value W_Vᵀ + b_V."""
        E = self.embed_dim
        b = self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            if query is key and key is value:  # self-attention: one product with the stacked weights
                return tuple(split(linear(query, w, b), E, -1))
            if key is value:
                return linear(query, w[:E], bq), *split(linear(key, w[E:], None if b is None else b[E:]), E, -1)
            return linear(query, w[:E], bq), linear(key, w[E:2 * E], bk), linear(value, w[2 * E:], bv)
        return (linear(query, self.q_proj_weight, bq), linear(key, self.k_proj_weight, bk),
                linear(value, self.v_proj_weight, bv))

    def _check_inputs(self, query: Tensor, key: Tensor, value: Tensor) -> bool:
        name = "MultiheadAttention"
        if query.ndim not in (2, 3):
            raise ValueError(f"{name}: expected query of shape (L, N, E), (N, L, E) with batch_first, or unbatched "
                             f"(L, E), got {query.shape}")
        if key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(f"{name}: query, key and value must all be batched (3-D) or all unbatched (2-D), got "
                             f"{query.shape}, {key.shape} and {value.shape}")
        for what, t, size in (("query", query, self.embed_dim), ("key", key, self.kdim), ("value", value, self.vdim)):
            if t.shape[-1] != size:
                raise ValueError(f"{name}: expected {what} with {size} features (last dim), got shape {t.shape}")
        w = self.out_proj.weight
        for what, t in (("query", query), ("key", key), ("value", value)):
            if t.dtype != w.dtype:
                raise TypeError(f"{name}: {what} dtype {t.dtype} differs from the layer's {w.dtype}; convert one of "
                                f"them (x.float(), layer.to(...))")
        if key.shape[:-1] != value.shape[:-1]:
            raise ValueError(f"{name}: key and value must have the same length and batch, got {key.shape} and "
                             f"{value.shape}")
        return query.ndim == 3

    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True, attn_mask=None,
                average_attn_weights: bool = True, is_causal: bool = False):
        query, key, value = _as_tensor(query), _as_tensor(key), _as_tensor(value)
        batched = self._check_inputs(query, key, value)
        name = "MultiheadAttention"
        if batched and self.batch_first:  # keep one layout below: (L, N, E)
            same_kv = key is value
            same_qk = query is key
            query = transpose(query, 0, 1)
            key = query if same_qk else transpose(key, 0, 1)
            value = key if same_kv else transpose(value, 0, 1)
        if not batched:
            same_qk, same_kv = query is key, key is value
            query = unsqueeze(query, 1)
            key = query if same_qk else unsqueeze(key, 1)
            value = key if same_kv else unsqueeze(value, 1)
            if key_padding_mask is not None:
                key_padding_mask = _unsqueeze_mask(key_padding_mask)
        L, N, E = query.shape
        S = key.shape[0]
        if key.shape[1] != N:
            raise ValueError(f"{name}: query has batch size {N}, key {key.shape[1]}")
        H, hd = self.num_heads, self.head_dim
        dtype = query.dtype

        q, k, v = self._project(query, key, value)                       # (L, N, E), (S, N, E), (S, N, E)

        if is_causal and attn_mask is None:
            attn_mask = causal_mask(L, S)  # True where allowed: converted below with true_means="keep"
            mask = additive_mask(attn_mask, dtype, name, "keep")
        else:
            mask = additive_mask(attn_mask, dtype, name, "mask")
        if mask is not None:
            if mask.ndim == 2:
                if tuple(mask.shape) != (L, S):
                    raise ValueError(f"{name}: a 2-D attn_mask must have shape (L, S) = {(L, S)}, got "
                                     f"{tuple(mask.shape)}")
            elif mask.ndim == 3:
                if tuple(mask.shape) != (N * H, L, S):
                    raise ValueError(f"{name}: a 3-D attn_mask must have shape (N·num_heads, L, S) = "
                                     f"{(N * H, L, S)}, got {tuple(mask.shape)}")
                mask = _reshape_mask(mask, (N, H, L, S))
            else:
                raise ValueError(f"{name}: attn_mask must be 2-D or 3-D, got shape {tuple(mask.shape)}")
        kpm = additive_mask(key_padding_mask, dtype, name, "mask")
        if kpm is not None and tuple(kpm.shape) != (N, S):
            raise ValueError(f"{name}: key_padding_mask must have shape (N, S) = {(N, S)}, got {tuple(kpm.shape)}")

        if self.bias_k is not None:  # one learned key and value more at the end of every sequence
            k = cat([k, broadcast_to(self.bias_k, (1, N, E))], 0)
            v = cat([v, broadcast_to(self.bias_v, (1, N, E))], 0)
            mask, kpm = _pad_last(mask), _pad_last(kpm)

        q = permute(reshape(q, (L, N, H, hd)), 1, 2, 0, 3)                 # (N, H, L, hd)
        k = permute(reshape(k, (k.shape[0], N, H, hd)), 1, 2, 0, 3)        # (N, H, S, hd)
        v = permute(reshape(v, (v.shape[0], N, H, hd)), 1, 2, 0, 3)
        if self.add_zero_attn:  # and one zero key and value
            zeros = _zeros((N, H, 1, hd), dtype=dtype, device=k.device)
            k, v = cat([k, zeros], 2), cat([v, zeros], 2)
            mask, kpm = _pad_last(mask), _pad_last(kpm)

        if kpm is not None:
            kpm = _reshape_mask(kpm, (N, 1, 1, kpm.shape[-1]))
            mask = kpm if mask is None else _add_masks(mask, kpm)
        p = self.dropout if self.training else 0.0
        out, weights = scaled_dot_product_attention_weights(q, k, v, mask, p, op=name)   # (N, H, L, hd)
        out = reshape(permute(out, 2, 0, 1, 3), (L, N, E))
        out = self.out_proj(out)
        if self.batch_first and batched:
            out = transpose(out, 0, 1)
        if not batched:
            out = squeeze(out, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(axis=1)                                # (N, L, S)
        if not batched:
            weights = squeeze(weights, 0)
        return out, weights


def _unsqueeze_mask(m):
    return unsqueeze(m, 0) if isinstance(m, Tensor) else get_array_module(m).asarray(m)[None]


def _reshape_mask(m, shape):
    return reshape(m, shape) if isinstance(m, Tensor) else m.reshape(shape)


def _add_masks(a, b):
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return _as_tensor(a) + _as_tensor(b)
    return a + b


def _pad_last(m):
    """One more key column, open (0) to every query."""
    if m is None:
        return None
    if isinstance(m, Tensor):
        return cat([m, _zeros(m.shape[:-1] + (1,), dtype=m.dtype, device=m.device)], -1)
    xp = get_array_module(m)
    return xp.concatenate([m, xp.zeros(m.shape[:-1] + (1,), m.dtype)], -1)


# --- attention for recurrent encoder–decoders ------------------------------------------------------------


def _query_keys(query, keys, values, key_padding_mask, op: str):
    """Common input handling: (B, Dq) or (B, T, Dq) queries, (B, S, Dk) keys, (B, S, Dv) values."""
    query, keys = _as_tensor(query), _as_tensor(keys)
    values = keys if values is None else _as_tensor(values)
    if keys.ndim != 3 or values.ndim != 3 or keys.shape[:2] != values.shape[:2]:
        raise ValueError(f"{op}: expected keys (batch, S, key_size) and values (batch, S, value_size), got "
                         f"{keys.shape} and {values.shape}")
    if query.ndim not in (2, 3) or query.shape[0] != keys.shape[0]:
        raise ValueError(f"{op}: expected query (batch, query_size) or (batch, T, query_size) with the keys' batch "
                         f"size {keys.shape[0]}, got {query.shape}")
    single = query.ndim == 2
    if single:
        query = unsqueeze(query, 1)
    mask = None
    if key_padding_mask is not None:
        mask = additive_mask(key_padding_mask, keys.dtype, op, "mask")
        if tuple(mask.shape) != tuple(keys.shape[:2]):
            raise ValueError(f"{op}: key_padding_mask must have shape (batch, S) = {tuple(keys.shape[:2])}, got "
                             f"{tuple(mask.shape)}")
        mask = _reshape_mask(mask, (keys.shape[0], 1, keys.shape[1]))
    return query, keys, values, mask, single


def _attend(scores: Tensor, values: Tensor, mask, single: bool):
    """α = softmax over the keys of the (masked) scores, context = α V."""
    if mask is not None:
        scores = scores + mask  # a host mask joins the scores' device
    weights = masked_softmax(scores, -1)                                   # (B, T, S)
    context = matmul(weights, values)                                      # (B, T, Dv)
    if single:
        return squeeze(context, 1), squeeze(weights, 1)
    return context, weights


class BahdanauAttention(Module):
    """Additive attention (Bahdanau, Cho & Bengio 2015): score(s, h_j) = vᵀ tanh(W_q s + W_k h_j + b).

    Parameters: ``query_proj`` (Linear query_size → hidden_size, no bias), ``key_proj``
    (Linear key_size → hidden_size, with the bias b), ``v`` (Linear hidden_size → 1, no bias).

    ``forward(query, keys, values=None, key_padding_mask=None)`` → (context, weights): query
    (B, query_size) for one decoder step or (B, T, query_size) for T steps at once; keys
    (B, S, key_size) the encoder states; values (B, S, value_size), the keys if omitted;
    key_padding_mask (B, S), True at padded source positions. context (B, value_size) (or
    (B, T, value_size)) = Σ_j α_j h_j, weights α (B, S) (or (B, T, S)).

    >>> import neurona
    >>> att = BahdanauAttention(32, 64, 48)
    >>> context, weights = att(neurona.randn(4, 32), neurona.randn(4, 7, 64))
    >>> context.shape, weights.shape
    (neurona.Size([4, 64]), neurona.Size([4, 7]))
    """

    def __init__(self, query_size: int, key_size: int | None = None, hidden_size: int | None = None, dtype=None):
        super().__init__()
        self.query_size = int(query_size)
        self.key_size = int(key_size) if key_size is not None else self.query_size
        self.hidden_size = int(hidden_size) if hidden_size is not None else self.query_size
        d = _dtype(dtype, "BahdanauAttention")
        self.query_proj = Linear(self.query_size, self.hidden_size, bias=False, dtype=d)
        self.key_proj = Linear(self.key_size, self.hidden_size, dtype=d)
        self.v = Linear(self.hidden_size, 1, bias=False, dtype=d)

    def extra_repr(self) -> str:
        return f"query_size={self.query_size}, key_size={self.key_size}, hidden_size={self.hidden_size}"

    def score(self, query: Tensor, keys: Tensor) -> Tensor:
        """Scores (B, T, S) of queries (B, T, query_size) against keys (B, S, key_size)."""
        q = unsqueeze(self.query_proj(query), 2)                          # (B, T, 1, A)
        k = unsqueeze(self.key_proj(keys), 1)                             # (B, 1, S, A)
        return squeeze(self.v(tanh(q + k)), -1)                           # (B, T, S)

    def forward(self, query, keys, values=None, key_padding_mask=None):
        query, keys, values, mask, single = _query_keys(query, keys, values, key_padding_mask, "BahdanauAttention")
        return _attend(self.score(query, keys), values, mask, single)


class LuongAttention(Module):
    """Multiplicative attention (Luong, Pham & Manning 2015) with its three scores:

    - ``'dot'``:     score(s, h_j) = sᵀ h_j             (query_size = key_size, no parameters)
    - ``'general'``: score(s, h_j) = sᵀ W h_j           (``weight``: Linear key_size → query_size, no bias)
    - ``'concat'``:  score(s, h_j) = vᵀ tanh(W [s; h_j]) (``proj``: Linear query_size + key_size →
      hidden_size, no bias; ``v``: Linear hidden_size → 1, no bias)

    ``scale=True`` divides the scores by √key_size (the Transformer's scaled dot product).
    ``forward`` is :class:`BahdanauAttention`'s: (query, keys, values=None, key_padding_mask=None)
    → (context, weights).
    """

    def __init__(self, query_size: int, key_size: int | None = None, score: str = "general",
                 hidden_size: int | None = None, scale: bool = False, dtype=None):
        super().__init__()
        if score not in ("dot", "general", "concat"):
            raise ValueError(f"LuongAttention: score must be 'dot', 'general' or 'concat', got {score!r}")
        self.query_size = int(query_size)
        self.key_size = int(key_size) if key_size is not None else self.query_size
        self.score_name = score
        self.scale = bool(scale)
        d = _dtype(dtype, "LuongAttention")
        if score == "dot" and self.key_size != self.query_size:
            raise ValueError(f"LuongAttention: the 'dot' score needs query_size = key_size, got {self.query_size} and "
                             f"{self.key_size}; use score='general'")
        self.hidden_size = None
        if score == "general":
            self.weight = Linear(self.key_size, self.query_size, bias=False, dtype=d)
        elif score == "concat":
            self.hidden_size = int(hidden_size) if hidden_size is not None else self.query_size
            self.proj = Linear(self.query_size + self.key_size, self.hidden_size, bias=False, dtype=d)
            self.v = Linear(self.hidden_size, 1, bias=False, dtype=d)

    def extra_repr(self) -> str:
        s = f"query_size={self.query_size}, key_size={self.key_size}, score={self.score_name!r}"
        if self.hidden_size is not None:
            s += f", hidden_size={self.hidden_size}"
        return s + (", scale=True" if self.scale else "")

    def score(self, query: Tensor, keys: Tensor) -> Tensor:
        """Scores (B, T, S) of queries (B, T, query_size) against keys (B, S, key_size)."""
        if self.score_name == "concat":
            # W [s; h] = W_s s + W_h h: the two halves of W applied apart, without building every pair [s; h]
            w = self.proj.weight
            q = unsqueeze(linear(query, w[:, :self.query_size]), 2)          # (B, T, 1, A)
            k = unsqueeze(linear(keys, w[:, self.query_size:]), 1)           # (B, 1, S, A)
            s = squeeze(self.v(tanh(q + k)), -1)
        else:
            k = self.weight(keys) if self.score_name == "general" else keys  # (B, S, query_size)
            s = matmul(query, transpose(k, 1, 2))                            # (B, T, S)
        if self.scale:
            s = s * (1.0 / math.sqrt(self.key_size))
        return s

    def forward(self, query, keys, values=None, key_padding_mask=None):
        query, keys, values, mask, single = _query_keys(query, keys, values, key_padding_mask, "LuongAttention")
        return _attend(self.score(query, keys), values, mask, single)


AdditiveAttention = BahdanauAttention
MultiplicativeAttention = LuongAttention
