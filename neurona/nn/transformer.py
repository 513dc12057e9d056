"""The Transformer (Vaswani et al. 2017) with PyTorch's classes, arguments and parameter names, and
positional encodings.

The notes' "arquitectura totalmente con modelos de atención": an encoder of N
identical layers (self-attention, then a position-wise feed-forward network,
each wrapped in a residual connection and a layer normalization) and a
decoder of N layers (masked self-attention, attention over the encoder's
output, feed-forward). Post-norm (``norm_first=False``, the paper and
PyTorch's default)::

    x = LayerNorm(x + Dropout(SelfAttention(x)))
    x = LayerNorm(x + Dropout(W_2 Dropout(f(W_1 x + b_1)) + b_2))

pre-norm (``norm_first=True``) normalizes the input of each block instead,
x = x + Block(LayerNorm(x)), which trains deep stacks more easily.

Attention does not see the order of its inputs, so the positions are added to
the token embeddings: :class:`PositionalEncoding` (the paper's sines and
cosines) or :class:`LearnedPositionalEncoding` (one learned vector per
position, as in BERT and the Vision Transformer).
"""
from __future__ import annotations

import copy
import math
from typing import Callable

import numpy as np

from ..backend import get_default_dtype
from ..creation import from_numpy
from ..engine import Tensor
from ..functional.activation import gelu, relu
from ..functional.attention import causal_mask
from ..functional.dropout import _check_p
from ..functional.dropout import dropout as _dropout
from . import init
from .attention import MultiheadAttention, _as_tensor
from .containers import ModuleList
from .dropout import Dropout
from .linear import Linear
from .module import Module
from .normalization import LayerNorm
from .parameter import Parameter

__all__ = ["TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer", "TransformerDecoder",
           "Transformer", "PositionalEncoding", "LearnedPositionalEncoding"]

_ACTIVATIONS = {"relu": relu, "gelu": gelu}


def _activation(activation, op: str):
    if isinstance(activation, str):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"{op}: activation should be 'relu' or 'gelu' (or a callable), got {activation!r}")
        return _ACTIVATIONS[activation]
    if not callable(activation):
        raise TypeError(f"{op}: activation must be 'relu', 'gelu' or a callable, got {type(activation).__name__}")
    return activation


def _clones(module: Module, n: int) -> ModuleList:
    """``n`` deep copies of ``module`` (identical starting weights, as PyTorch's stacks)."""
    return ModuleList([copy.deepcopy(module) for _ in range(int(n))])


def _causal_if(is_causal, mask, length: int):
    """The mask a layer gets: the given one, or the causal one when asked for and none was given."""
    if mask is None and is_causal:
        return ~causal_mask(length)          # MultiheadAttention's boolean masks: True = may not attend
    return mask


class TransformerEncoderLayer(Module):
    """One encoder layer: self-attention and a feed-forward network, each with a residual connection,
    dropout and a layer normalization (PyTorch's ``nn.TransformerEncoderLayer``).

    Sub-modules (their names are the state_dict's): ``self_attn`` (MultiheadAttention), ``linear1``
    (d_model → dim_feedforward), ``dropout``, ``linear2`` (dim_feedforward → d_model), ``norm1``,
    ``norm2``, ``dropout1``, ``dropout2``. ``activation``: 'relu', 'gelu' or a callable.

    ``forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False)``: src (S, N, E) or
    (N, S, E) with ``batch_first``; the masks as in :class:`MultiheadAttention` (``src_mask`` its
    attn_mask); ``is_causal=True`` without a mask applies the causal mask.

    >>> import neurona
    >>> layer = TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64, batch_first=True)
    >>> layer(neurona.randn(2, 10, 32)).shape
    neurona.Size([2, 10, 32])
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable = "relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device=None, dtype=None):
        super().__init__()
        _check_p(dropout, "TransformerEncoderLayer")
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation, "TransformerEncoderLayer")
        self.batch_first = bool(batch_first)

    def extra_repr(self) -> str:
        act = getattr(self.activation, "__name__", type(self.activation).__name__)
        return f"activation={act}" + (", norm_first=True" if self.norm_first else "")

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal: bool = False) -> Tensor:
        x = _as_tensor(src)
        if x.ndim not in (2, 3):
            raise ValueError(f"TransformerEncoderLayer: expected src of shape (S, N, E), (N, S, E) with batch_first, "
                             f"or (S, E), got {x.shape}")
        src_mask = _causal_if(is_causal, src_mask, x.shape[1 if self.batch_first and x.ndim == 3 else 0])
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x: Tensor, attn_mask, key_padding_mask) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False)[0]
        return self.dropout1(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerDecoderLayer(Module):
    """One decoder layer: masked self-attention, attention over the encoder's output (``memory``) and a
    feed-forward network, each with a residual connection, dropout and a layer normalization
    (PyTorch's ``nn.TransformerDecoderLayer``).

    Sub-modules: ``self_attn``, ``multihead_attn``, ``linear1``, ``dropout``, ``linear2``, ``norm1``,
    ``norm2``, ``norm3``, ``dropout1``, ``dropout2``, ``dropout3``.

    ``forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False)``.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable = "relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device=None, dtype=None):
        super().__init__()
        _check_p(dropout, "TransformerDecoderLayer")
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            dtype=dtype)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _activation(activation, "TransformerDecoderLayer")
        self.batch_first = bool(batch_first)

    def extra_repr(self) -> str:
        act = getattr(self.activation, "__name__", type(self.activation).__name__)
        return f"activation={act}" + (", norm_first=True" if self.norm_first else "")

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal: bool = False, memory_is_causal: bool = False) -> Tensor:
        x, memory = _as_tensor(tgt), _as_tensor(memory)
        if x.ndim not in (2, 3) or memory.ndim != x.ndim:
            raise ValueError(f"TransformerDecoderLayer: expected tgt and memory both batched (3-D) or both "
                             f"unbatched (2-D), got {x.shape} and {memory.shape}")
        t_axis = 1 if self.batch_first and x.ndim == 3 else 0
        tgt_mask = _causal_if(tgt_is_causal, tgt_mask, x.shape[t_axis])
        if memory_mask is None and memory_is_causal:
            memory_mask = ~causal_mask(x.shape[t_axis], memory.shape[t_axis])
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask))
            x = self.norm3(x + self._ff_block(x))
        return x

    def _sa_block(self, x: Tensor, attn_mask, key_padding_mask) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False)[0]
        return self.dropout1(x)

    def _mha_block(self, x: Tensor, mem: Tensor, attn_mask, key_padding_mask) -> Tensor:
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                need_weights=False)[0]
        return self.dropout2(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoder(Module):
    """A stack of ``num_layers`` copies of ``encoder_layer`` (``layers.0``, ``layers.1``, ...) and an
    optional final ``norm`` (PyTorch's ``nn.TransformerEncoder``; the copies start from the same weights).

    ``forward(src, mask=None, src_key_padding_mask=None, is_causal=None)``.
    """

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True):
        super().__init__()
        if int(num_layers) < 1:
            raise ValueError(f"TransformerEncoder: num_layers must be at least 1, got {num_layers}")
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers = int(num_layers)
        self.norm = norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal: bool | None = None) -> Tensor:
        x = _as_tensor(src)
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal))
        if self.norm is not None:
            x = self.norm(x)
        return x


class TransformerDecoder(Module):
    """A stack of ``num_layers`` copies of ``decoder_layer`` and an optional final ``norm``
    (PyTorch's ``nn.TransformerDecoder``).

    ``forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False)``.
    """

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm: Module | None = None):
        super().__init__()
        if int(num_layers) < 1:
            raise ValueError(f"TransformerDecoder: num_layers must be at least 1, got {num_layers}")
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers = int(num_layers)
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        x = _as_tensor(tgt)
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask, tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=bool(tgt_is_causal),
                      memory_is_causal=memory_is_causal)
        if self.norm is not None:
            x = self.norm(x)
        return x


class Transformer(Module):
    """The encoder–decoder Transformer (PyTorch's ``nn.Transformer``): ``encoder`` (a TransformerEncoder
    with a final LayerNorm) and ``decoder`` (a TransformerDecoder with a final LayerNorm). Every weight
    matrix starts Xavier-uniform, as in PyTorch.

    ``forward(src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
    tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
    memory_is_causal=False)``: src (S, N, E), tgt (T, N, E) (batch first with ``batch_first``) → (T, N, E).
    The embeddings of the tokens, the positional encoding and the output layer are the user's.

    >>> import neurona
    >>> model = Transformer(d_model=32, nhead=4, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=64)
    >>> src, tgt = neurona.randn(10, 3, 32), neurona.randn(7, 3, 32)
    >>> model(src, tgt, tgt_mask=Transformer.generate_square_subsequent_mask(7)).shape
    neurona.Size([7, 3, 32])
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6, num_decoder_layers: int = 6,
                 dim_feedforward: int = 2048, dropout: float = 0.1, activation: str | Callable = "relu",
                 custom_encoder: Module | None = None, custom_decoder: Module | None = None,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        kw = dict(dim_feedforward=dim_feedforward, dropout=dropout, activation=activation,
                  layer_norm_eps=layer_norm_eps, batch_first=batch_first, norm_first=norm_first, bias=bias,
                  dtype=dtype)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(TransformerEncoderLayer(d_model, nhead, **kw), num_encoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(TransformerDecoderLayer(d_model, nhead, **kw), num_decoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        self._reset_parameters()
        self.d_model, self.nhead, self.batch_first = int(d_model), int(nhead), bool(batch_first)

    def _reset_parameters(self) -> None:
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal: bool | None = None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False) -> Tensor:
        src, tgt = _as_tensor(src), _as_tensor(tgt)
        batched = src.ndim == 3
        b = 0 if self.batch_first else 1
        if batched and src.shape[b] != tgt.shape[b]:
            raise ValueError(f"Transformer: the batch number of src and tgt must be equal, got src {src.shape} and "
                             f"tgt {tgt.shape}{' (batch_first)' if self.batch_first else ''}")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ValueError(f"Transformer: the feature number of src and tgt must be equal to d_model "
                             f"({self.d_model}), got src {src.shape} and tgt {tgt.shape}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                            memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device=None, dtype=None) -> Tensor:
        """The causal mask of ``sz`` positions as floats: 0 on and below the diagonal, −∞ above it.

        >>> Transformer.generate_square_subsequent_mask(3)
        tensor([[  0., -inf, -inf],
                [  0.,   0., -inf],
                [  0.,   0.,   0.]])
        """
        d = np.dtype(dtype) if dtype is not None else get_default_dtype()
        return from_numpy(causal_mask(int(sz), dtype=d))


# --- positional encodings ------------------------------------------------------------------------------


def sinusoidal_table(max_len: int, d_model: int, dtype=np.float32) -> np.ndarray:
    """PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d)) (max_len, d_model)."""
    pos = np.arange(int(max_len), dtype=np.float64)[:, None]
    freq = np.exp(np.arange(0, int(d_model), 2, dtype=np.float64) * (-math.log(10000.0) / int(d_model)))
    pe = np.zeros((int(max_len), int(d_model)))
    pe[:, 0::2] = np.sin(pos * freq)
    pe[:, 1::2] = np.cos(pos * freq[: int(d_model) // 2])
    return pe.astype(dtype)


class _PositionBase(Module):
    def _positions(self, x: Tensor, start: int, op: str) -> int:
        if x.ndim not in (2, 3) or x.shape[-1] != self.d_model:
            raise ValueError(f"{op}: expected input (L, N, {self.d_model}), (N, L, {self.d_model}) with batch_first, or "
                             f"(L, {self.d_model}), got {x.shape}")
        L = x.shape[1] if self.batch_first and x.ndim == 3 else x.shape[0]
        if start < 0 or start + L > self.max_len:
            raise ValueError(f"{op}: positions {start}..{start + L - 1} exceed max_len={self.max_len}; build the "
                             f"encoding with a larger max_len")
        return L

    def _add(self, x: Tensor, table: Tensor, L: int) -> Tensor:
        """x + table (L, E) broadcast over the batch axis."""
        if x.ndim == 3:
            table = table.reshape(1, L, self.d_model) if self.batch_first else table.reshape(L, 1, self.d_model)
        return _dropout(x + table, self.p, self.training)


class PositionalEncoding(_PositionBase):
    """Adds the sinusoidal position codes of Vaswani et al. (2017), then dropout:

        PE(pos, 2i) = sin(pos / 10000^(2i/d_model)),   PE(pos, 2i+1) = cos(pos / 10000^(2i/d_model))

    Each dimension is a sinusoid of a different wavelength (2π to 10000·2π), so PE(pos + k) is a
    linear function of PE(pos) and the model can attend by relative position. No parameters: the
    table is a non-persistent buffer ``pe`` (max_len, d_model).

    ``forward(x, start=0)``: x (L, N, d_model), (N, L, d_model) with ``batch_first``, or (L, d_model);
    ``start`` is the position of the first element (for decoding one step at a time).
    """

    def __init__(self, d_model: int, dropout: float = 0.0, max_len: int = 5000, batch_first: bool = False,
                 dtype=None):
        super().__init__()
        self.d_model, self.max_len, self.batch_first = int(d_model), int(max_len), bool(batch_first)
        self.p = _check_p(dropout, "PositionalEncoding")
        d = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self.register_buffer("pe", from_numpy(sinusoidal_table(self.max_len, self.d_model, d)), persistent=False)

    def extra_repr(self) -> str:
        return (f"d_model={self.d_model}, max_len={self.max_len}" + (f", dropout={self.p}" if self.p else "")
                + (", batch_first=True" if self.batch_first else ""))

    def forward(self, x, start: int = 0) -> Tensor:
        x = _as_tensor(x)
        L = self._positions(x, int(start), "PositionalEncoding")
        table = self.pe.array[int(start):int(start) + L]
        if table.dtype != x.dtype:
            table = table.astype(x.dtype)
        return self._add(x, from_numpy(table), L)


class LearnedPositionalEncoding(_PositionBase):
    """Adds a learned vector per position, ``weight`` (max_len, d_model), then dropout (BERT, GPT, ViT).

    ``weight`` starts from N(0, 0.02²). ``forward(x, start=0)`` as :class:`PositionalEncoding`.
    """

    def __init__(self, max_len: int, d_model: int, dropout: float = 0.0, batch_first: bool = False, dtype=None):
        super().__init__()
        self.d_model, self.max_len, self.batch_first = int(d_model), int(max_len), bool(batch_first)
        self.p = _check_p(dropout, "LearnedPositionalEncoding")
        d = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self.weight = Parameter(from_numpy(np.empty((self.max_len, self.d_model), d)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.normal_(self.weight, 0.0, 0.02)

    def extra_repr(self) -> str:
        return (f"max_len={self.max_len}, d_model={self.d_model}" + (f", dropout={self.p}" if self.p else "")
                + (", batch_first=True" if self.batch_first else ""))

    def forward(self, x, start: int = 0) -> Tensor:
        x = _as_tensor(x)
        L = self._positions(x, int(start), "LearnedPositionalEncoding")
        return self._add(x, self.weight[int(start):int(start) + L], L)
