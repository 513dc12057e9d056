"""A Transformer language model (decoder-only, as GPT): each token attends to the tokens before it.

    embedding · √d + positional encoding → N causal Transformer layers → LayerNorm → Linear → softmax

It has :class:`neurona.models.CharLM`'s interface, so the same perplexity, training and decoding
code drives both: ``forward(ids, state=None)`` → (logits, state), ``step(tokens, state)`` and
``generate``. The state is the text read so far (its last ``max_len`` token ids, an array (B, ≤
max_len)): a window of text is read after that context, as a recurrent network reads it after its
carried hidden state (a Tensor of ids, as CharLM's state is a Tensor). Registered name: ``transformer-lm``.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend, nn
from ..creation import from_numpy
from ..engine import Tensor
from .registry import register_model

__all__ = ["TransformerLM"]


def _host_ids(x) -> np.ndarray:
    """Token ids as an int64 host array: they are few, and index the embedding on any device."""
    return np.asarray(backend.to_numpy(x.array if isinstance(x, Tensor) else x), dtype=np.int64)


class TransformerLM(nn.Module):
    """Decoder-only Transformer over token ids (pre-norm layers, a final LayerNorm, a Linear head).

    ``positional``: 'sinusoidal' (:class:`neurona.nn.PositionalEncoding`) or 'learned'
    (:class:`neurona.nn.LearnedPositionalEncoding`). ``max_len``: the longest text it attends over
    (the context and the window together).

    >>> import neurona
    >>> lm = TransformerLM(50, d_model=32, nhead=4, num_layers=2, dim_feedforward=64, max_len=16)
    >>> logits, state = lm(neurona.tensor([[3, 4, 5]]))
    >>> logits.shape, state.shape
    (neurona.Size([1, 3, 50]), neurona.Size([1, 3]))
    """

    def __init__(self, vocab_size: int, d_model: int = 128, nhead: int = 4, num_layers: int = 2,
                 dim_feedforward: int = 512, dropout: float = 0.1, max_len: int = 256, positional: str = "sinusoidal",
                 activation: str = "relu"):
        super().__init__()
        if positional not in ("sinusoidal", "learned"):
            raise ValueError(f"TransformerLM: positional must be 'sinusoidal' or 'learned', got {positional!r}")
        self.config = dict(vocab_size=int(vocab_size), d_model=int(d_model), nhead=int(nhead),
                           num_layers=int(num_layers), dim_feedforward=int(dim_feedforward), dropout=float(dropout),
                           max_len=int(max_len), positional=positional, activation=activation)
        self.max_len = int(max_len)
        self.embedding = nn.Embedding(vocab_size, d_model)
        nn.init.normal_(self.embedding.weight, 0.0, d_model ** -0.5)   # unit size after the √d scaling
        if positional == "sinusoidal":
            self.positions = nn.PositionalEncoding(d_model, dropout, self.max_len, batch_first=True)
        else:
            self.positions = nn.LearnedPositionalEncoding(self.max_len, d_model, dropout, batch_first=True)
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, activation=activation,
                                           batch_first=True, norm_first=True)
        self.layers = nn.TransformerEncoder(layer, num_layers, norm=nn.LayerNorm(d_model))
        for p in self.layers.parameters():         # different starting weights in each layer
            if p.ndim > 1:
                nn.init.xavier_uniform_(p)
        self.head = nn.Linear(d_model, vocab_size)
        self.scale = math.sqrt(d_model)

    def get_config(self) -> dict:
        return dict(self.config)

    def forward(self, x, state=None):
        """Logits (B, T, V) of the token after every prefix of ``x`` (B, T) read after the context
        ``state`` (B, C) (None: no context), and the new state: the last ``max_len`` ids read (int64 Tensor)."""
        ids = _host_ids(x)
        if ids.ndim != 2:
            raise ValueError(f"TransformerLM: expected ids of shape (batch, length), got {ids.shape}")
        T = ids.shape[1]
        if T > self.max_len:
            raise ValueError(f"TransformerLM: a window of {T} tokens is longer than max_len={self.max_len}")
        if state is not None:
            ctx = _host_ids(state)
            if ctx.shape[0] != ids.shape[0]:
                raise ValueError(f"TransformerLM: the state holds {ctx.shape[0]} texts, the input {ids.shape[0]}")
            ids = np.concatenate([ctx, ids], axis=1)[:, -self.max_len:]
        h = self.positions(self.embedding(ids) * self.scale)
        h = self.layers(h, is_causal=True)
        logits = self.head(h[:, -T:] if h.shape[1] != T else h)
        return logits, from_numpy(ids)

    def step(self, tokens, state=None):
        """Logits (N, V) of the token after ``tokens`` (N,), and the new state (the decoders' interface)."""
        ids = _host_ids(tokens).reshape(-1, 1)
        logits, state = self.forward(ids, state)
        return logits[:, 0], state

    def generate(self, prompt, max_new_tokens: int, method: str = "greedy", temperature: float = 1.0,
                 top_k: int | None = None, beam_width: int = 5, eos: int | None = None, seed=None) -> list[int]:
        """New token ids after ``prompt``: ``method`` 'greedy', 'sample' or 'beam' (as CharLM.generate)."""
        from .recurrent import CharLM

        return CharLM.generate(self, prompt, max_new_tokens, method, temperature, top_k, beam_width, eos, seed)


register_model("transformer-lm", TransformerLM,
               description="decoder-only Transformer language model (causal self-attention over token ids)")
