"""Encoder–decoder models for sequence-to-sequence tasks (the notes' "arquitectura
codificador-decodificador"): a recurrent one with attention, and a Transformer.

Both read a source id sequence and write a target one, and share one interface:

- ``forward(src, tgt_in)`` → logits (B, T, target vocabulary): teacher forcing, the decoder reads
  the true previous token ``tgt_in`` = ``<bos> y_1 .. y_{T-1}`` and predicts y_1 .. y_T;
- ``start(src)`` → the decoding state of a batch of sources, ``step(tokens, state)`` → (logits,
  state) one token further, and ``select_state(state, index)``: what the decoders of
  :mod:`neurona.text.decoding` (greedy, sampling, beam search) drive;
- ``attention_weights(src, tgt_in)`` → (B, T, S): how much each target step looked at each source
  token (the heat map of an alignment).

Ids 0 are padding in both vocabularies. Registered names: ``seq2seq-rnn`` and ``seq2seq-transformer``.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend, nn
from ..creation import from_numpy
from ..engine import Tensor, no_grad
from ..functional.activation import tanh
from ..functional.shape import cat, stack
from .registry import register_model

__all__ = ["RecurrentSeq2Seq", "TransformerSeq2Seq"]


def _ids(x) -> np.ndarray:
    a = backend.to_numpy(x.array if isinstance(x, Tensor) else x)  # ids and masks live on the host: they are few
    if a.ndim != 2 or a.dtype.kind not in "iu":
        raise ValueError(f"expected integer ids of shape (batch, length), got {a.dtype} array of shape {a.shape}")
    return a.astype(np.int64, copy=False)


def _index(a, index: np.ndarray, axis: int):
    if isinstance(a, Tensor):
        a = a.array
    xp = backend.get_array_module(a)
    out = xp.ascontiguousarray(xp.take(a, xp.asarray(index), axis=axis))
    return from_numpy(out) if out.dtype.kind == "f" else out


class RecurrentSeq2Seq(nn.Module):
    """LSTM encoder–decoder with attention (Bahdanau et al. 2015; Luong et al. 2015).

    Encoder: embedding → bidirectional LSTM (hidden_size/2 per direction), giving one state per source
    token (the memory) and the decoder's first state (both directions' final states side by side).
    Decoder, with ``attention`` 'dot', 'general' or 'concat' (Luong): an LSTM over the target
    embeddings; at each step its state s_t attends to the memory, c_t = Σ_j α_tj h_j, and
    h̃_t = tanh(W_c [c_t; s_t]) gives the logits W_o h̃_t. With 'additive' (Bahdanau) the context is
    computed from the previous state and fed to the LSTM cell with the embedding:
    c_t = attend(s_{t-1}), s_t = LSTM([y_{t-1}; c_t], s_{t-1}).

    >>> import neurona
    >>> model = RecurrentSeq2Seq(20, 15, embedding_dim=16, hidden_size=32)
    >>> model(neurona.tensor([[4, 5, 6, 0]]), neurona.tensor([[2, 7, 8]])).shape
    neurona.Size([1, 3, 15])
    """

    def __init__(self, src_vocab: int, tgt_vocab: int, embedding_dim: int = 64, hidden_size: int = 128,
                 attention: str = "general", num_layers: int = 1, dropout: float = 0.0):
        super().__init__()
        if attention not in ("dot", "general", "concat", "additive"):
            raise ValueError(f"RecurrentSeq2Seq: attention must be 'dot', 'general', 'concat' or 'additive', got "
                             f"{attention!r}")
        if int(hidden_size) % 2:
            raise ValueError(f"RecurrentSeq2Seq: hidden_size must be even (half per encoder direction), got "
                             f"{hidden_size}")
        if attention == "additive" and int(num_layers) != 1:
            raise ValueError("RecurrentSeq2Seq: additive attention runs a one-layer LSTM cell; use num_layers=1")
        self.config = dict(src_vocab=int(src_vocab), tgt_vocab=int(tgt_vocab), embedding_dim=int(embedding_dim),
                           hidden_size=int(hidden_size), attention=attention, num_layers=int(num_layers),
                           dropout=float(dropout))
        E, H, L = int(embedding_dim), int(hidden_size), int(num_layers)
        self.src_embedding = nn.Embedding(src_vocab, E, padding_idx=0)
        self.tgt_embedding = nn.Embedding(tgt_vocab, E, padding_idx=0)
        self.encoder = nn.LSTM(E, H // 2, num_layers=L, batch_first=True, bidirectional=True,
                               dropout=dropout if L > 1 else 0.0)
        if attention == "additive":
            self.decoder = nn.LSTMCell(E + H, H)
            self.attention = nn.BahdanauAttention(H, H, H)
        else:
            self.decoder = nn.LSTM(E, H, num_layers=L, batch_first=True, dropout=dropout if L > 1 else 0.0)
            self.attention = nn.LuongAttention(H, H, score=attention)
        self.combine = nn.Linear(2 * H, H)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(H, tgt_vocab)

    def get_config(self) -> dict:
        return dict(self.config)

    # --- encoder ---

    def encode(self, src):
        """(memory (B, S, H), source padding mask (B, S) True at padding, decoder's first state (h, c))."""
        ids = _ids(src)
        lengths = np.maximum((ids != 0).sum(1), 1)
        memory, (h, c) = self.encoder(self.src_embedding(ids), lengths=lengths)
        L = self.config["num_layers"]

        def join(s):  # (2L, B, H/2): per layer, forward and backward final states side by side
            return stack([cat([s[2 * k], s[2 * k + 1]], 1) for k in range(L)], 0)

        return memory, ids == 0, (join(h), join(c))

    # --- decoder ---

    def _readout(self, context: Tensor, s: Tensor) -> Tensor:
        return self.out(self.dropout(tanh(self.combine(cat([context, s], -1)))))

    def _decode(self, tgt_in: np.ndarray, memory, pad, state):
        """Logits (B, T, V), attention weights (B, T, S) and the final decoder state, from ``state``."""
        emb = self.dropout(self.tgt_embedding(tgt_in))
        if self.config["attention"] != "additive":
            s, state = self.decoder(emb, state)
            context, weights = self.attention(s, memory, key_padding_mask=pad)
            return self._readout(context, s), weights, state
        h, c = state[0][0], state[1][0]
        logits, weights = [], []
        for t in range(tgt_in.shape[1]):
            context, w = self.attention(h, memory, key_padding_mask=pad)             # from s_{t-1}
            h, c = self.decoder(cat([emb[:, t], context], 1), (h, c))
            logits.append(self._readout(context, h))
            weights.append(w)
        return stack(logits, 1), stack(weights, 1), (h.unsqueeze(0), c.unsqueeze(0))

    def forward(self, src, tgt_in) -> Tensor:
        memory, pad, state = self.encode(src)
        return self._decode(_ids(tgt_in), memory, pad, state)[0]

    def attention_weights(self, src, tgt_in) -> np.ndarray:
        """α (B, T, S) of each target step over the source tokens (eval mode, no graph)."""
        was = self.training
        self.eval()
        try:
            with no_grad():
                memory, pad, state = self.encode(src)
                return self._decode(_ids(tgt_in), memory, pad, state)[1].array
        finally:
            self.train(was)

    def start(self, src):
        """The decoding state of a batch of sources: (h, c, memory, padding mask)."""
        memory, pad, (h, c) = self.encode(src)
        return h, c, memory, pad

    def step(self, tokens, state):
        """Logits (N, V) of the next target token after ``tokens`` (N,), and the new state."""
        h, c, memory, pad = state
        tok = np.asarray(tokens, dtype=np.int64).reshape(-1, 1)
        logits, _, (h, c) = self._decode(tok, memory, pad, (h, c))
        return logits[:, 0], (h, c, memory, pad)

    @staticmethod
    def select_state(state, index: np.ndarray):
        """Keep (and repeat) the decoding states of rows ``index`` (beam search)."""
        h, c, memory, pad = state
        return _index(h, index, 1), _index(c, index, 1), _index(memory, index, 0), _index(pad, index, 0)


class TransformerSeq2Seq(nn.Module):
    """Transformer encoder–decoder (Vaswani et al. 2017): token embeddings scaled by √d_model plus the
    sinusoidal positional encoding, :class:`neurona.nn.Transformer` (batch first; ``norm_first``
    pre-norm by default, which trains small models faster and more reliably), and a Linear layer
    ``generator`` over the target vocabulary. The decoder is causal: step t sees targets < t only.

    >>> import neurona
    >>> model = TransformerSeq2Seq(20, 15, d_model=32, nhead=4, num_encoder_layers=1, num_decoder_layers=1,
    ...                            dim_feedforward=64)
    >>> model(neurona.tensor([[4, 5, 6, 0]]), neurona.tensor([[2, 7, 8]])).shape
    neurona.Size([1, 3, 15])
    """

    def __init__(self, src_vocab: int, tgt_vocab: int, d_model: int = 128, nhead: int = 4,
                 num_encoder_layers: int = 2, num_decoder_layers: int = 2, dim_feedforward: int = 256,
                 dropout: float = 0.1, max_len: int = 256, norm_first: bool = True, activation: str = "relu"):
        super().__init__()
        self.config = dict(src_vocab=int(src_vocab), tgt_vocab=int(tgt_vocab), d_model=int(d_model),
                           nhead=int(nhead), num_encoder_layers=int(num_encoder_layers),
                           num_decoder_layers=int(num_decoder_layers), dim_feedforward=int(dim_feedforward),
                           dropout=float(dropout), max_len=int(max_len), norm_first=bool(norm_first),
                           activation=activation)
        self.src_embedding = nn.Embedding(src_vocab, d_model, padding_idx=0)
        self.tgt_embedding = nn.Embedding(tgt_vocab, d_model, padding_idx=0)
        for emb in (self.src_embedding, self.tgt_embedding):   # N(0, 1/d): the √d scaling brings them to unit size
            nn.init.normal_(emb.weight, 0.0, d_model ** -0.5)
            emb.weight.array[0] = 0
        self.positions = nn.PositionalEncoding(d_model, dropout, max_len, batch_first=True)
        self.transformer = nn.Transformer(d_model, nhead, num_encoder_layers, num_decoder_layers, dim_feedforward,
                                          dropout, activation=activation, batch_first=True, norm_first=norm_first)
        self.generator = nn.Linear(d_model, tgt_vocab)
        self.scale = math.sqrt(d_model)

    def get_config(self) -> dict:
        return dict(self.config)

    def _embed(self, emb: nn.Embedding, ids: np.ndarray, start: int = 0) -> Tensor:
        return self.positions(emb(ids) * self.scale, start=start)

    def encode(self, src):
        """(memory (B, S, d_model), source padding mask (B, S) True at padding)."""
        ids = _ids(src)
        pad = ids == 0
        memory = self.transformer.encoder(self._embed(self.src_embedding, ids), src_key_padding_mask=pad)
        return memory, pad

    def _decode(self, tgt_in: np.ndarray, memory: Tensor, pad: np.ndarray) -> Tensor:
        x = self._embed(self.tgt_embedding, tgt_in)
        y = self.transformer.decoder(x, memory, tgt_is_causal=True, memory_key_padding_mask=pad)
        return self.generator(y)

    def forward(self, src, tgt_in) -> Tensor:
        memory, pad = self.encode(src)
        return self._decode(_ids(tgt_in), memory, pad)

    def attention_weights(self, src, tgt_in) -> np.ndarray:
        """Cross-attention weights (B, T, S) of the last decoder layer, averaged over its heads."""
        captured = {}

        def keep_inputs(module, args, out):  # returns None: the output stays as it is
            captured.setdefault("args", args)

        last = self.transformer.decoder.layers[-1].multihead_attn
        handle = last.register_forward_hook(keep_inputs)
        was = self.training
        self.eval()
        try:
            with no_grad():
                memory, pad = self.encode(src)
                self._decode(_ids(tgt_in), memory, pad)
                q, k, v = captured["args"]
                return last(q, k, v, key_padding_mask=pad, need_weights=True)[1].array
        finally:
            handle.remove()
            self.train(was)

    def start(self, src):
        """The decoding state of a batch of sources: (target prefix ids (N, 0), memory, padding mask)."""
        memory, pad = self.encode(src)
        return np.zeros((memory.shape[0], 0), np.int64), memory, pad

    def step(self, tokens, state):
        """Logits (N, V) of the token after ``tokens`` (N,); the decoder re-reads the whole prefix."""
        prefix, memory, pad = state
        prefix = np.concatenate([prefix, np.asarray(tokens, np.int64).reshape(-1, 1)], 1)
        logits = self._decode(prefix, memory, pad)
        return logits[:, -1], (prefix, memory, pad)

    @staticmethod
    def select_state(state, index: np.ndarray):
        prefix, memory, pad = state
        return _index(prefix, index, 0), _index(memory, index, 0), _index(pad, index, 0)


register_model("seq2seq-rnn", RecurrentSeq2Seq,
               description="LSTM encoder–decoder with attention (Luong dot/general/concat or Bahdanau additive)")
register_model("seq2seq-transformer", TransformerSeq2Seq,
               description="Transformer encoder–decoder with sinusoidal positions (token ids in, token ids out)")
