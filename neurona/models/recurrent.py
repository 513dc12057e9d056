"""Recurrent models: sequence classifiers (many-to-one), a character language model (many-to-many,
generative) and a bag-of-embeddings text classifier.

Registered names (``neurona.models.build_model`` and ``neurona train --model ...``):

- ``lstm``, ``gru``, ``rnn``: a :class:`SequenceClassifier` that reads each input row by row, e.g.
  Fashion-MNIST as 28 steps of 28 pixels (hidden 128 by default; ``--hidden 128,128`` stacks two
  layers);
- ``seq-classifier``: the same class with every option (token inputs through an embedding, a
  bidirectional stack, ...);
- ``char-lm``: :class:`CharLM`; ``embedding-bag-classifier``: :class:`EmbeddingBagClassifier`.
"""
from __future__ import annotations

import math

import numpy as np

from .. import nn
from ..creation import from_numpy
from ..functional.shape import cat
from ..engine import Tensor
from .registry import register_model

__all__ = ["SequenceClassifier", "CharLM", "EmbeddingBagClassifier", "lstm_classifier", "gru_classifier",
           "rnn_classifier"]

_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


def _cell(name: str):
    if name not in _CELLS:
        raise ValueError(f"unknown recurrent cell {name!r}; expected one of {sorted(_CELLS)}")
    return _CELLS[name]


class SequenceClassifier(nn.Module):
    """Many-to-one: a recurrent stack reads the sequence; its final state (both directions'
    when bidirectional) goes through dropout into a Linear layer giving the class scores.

    Inputs:
    - float sequences (B, T, input_size), batch first; images (B, 1, H, W) or (B, H, W) are read
      row by row (T = H), and flattened rows (B, seq_len·input_size) are reshaped;
    - with ``vocab_size``: token ids (B, T), looked up in an ``Embedding`` (``padding_idx`` 0 by
      default); the lengths, unless given, are counted as the non-padding tokens (padding at the end).

    ``forward(x, lengths=None)``: with lengths, each sequence's final state is taken at its true length.

    >>> import neurona
    >>> model = SequenceClassifier(28, 128, 10, cell="gru")
    >>> model(neurona.randn(4, 28, 28)).shape
    (4, 10)
    """

    def __init__(self, input_size: int = 28, hidden_size: int = 128, num_classes: int = 10, cell: str = "lstm",
                 num_layers: int = 1, bidirectional: bool = False, dropout: float = 0.0, seq_len: int | None = None,
                 vocab_size: int | None = None, embedding_dim: int | None = None, padding_idx: int | None = 0):
        super().__init__()
        self.config = dict(input_size=int(input_size), hidden_size=int(hidden_size), num_classes=int(num_classes),
                           cell=cell, num_layers=int(num_layers), bidirectional=bool(bidirectional),
                           dropout=float(dropout), seq_len=None if seq_len is None else int(seq_len),
                           vocab_size=None if vocab_size is None else int(vocab_size),
                           embedding_dim=None if embedding_dim is None else int(embedding_dim),
                           padding_idx=padding_idx)
        rnn_cls = _cell(cell)
        if vocab_size is not None:
            dim = int(embedding_dim or input_size)
            self.embedding = nn.Embedding(int(vocab_size), dim, padding_idx=padding_idx)
            rnn_in = dim
        else:
            self.embedding = None
            rnn_in = int(input_size)
        self.rnn = rnn_cls(rnn_in, hidden_size, num_layers=num_layers, batch_first=True,
                           dropout=dropout if num_layers > 1 else 0.0, bidirectional=bidirectional)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden_size * (2 if bidirectional else 1), num_classes)

    def get_config(self) -> dict:
        return dict(self.config)

    def _as_sequence(self, x) -> Tensor:
        if not isinstance(x, Tensor):
            x = from_numpy(np.asarray(x))
        I = self.config["input_size"]
        if x.ndim == 4 and x.shape[1] * x.shape[3] == I:           # images (B, C, H, W): rows of C·W values
            B, C, H, W = x.shape
            x = x.transpose(1, 2).reshape(B, H, C * W) if C > 1 else x.reshape(B, H, W)
        elif x.ndim == 2 and x.shape[1] % I == 0:                   # flattened rows
            x = x.reshape(x.shape[0], x.shape[1] // I, I)
        if x.ndim != 3 or x.shape[2] != I:
            raise ValueError(f"SequenceClassifier: expected sequences (batch, steps, {I}), images whose rows have "
                             f"{I} values, or flattened rows, got shape {tuple(x.shape)}")
        return x

    def features(self, x, lengths=None) -> Tensor:
        """The final hidden state of the top layer (both directions concatenated): (B, H·directions)."""
        if self.embedding is not None:
            ids = x.array if isinstance(x, Tensor) else np.asarray(x)
            if lengths is None and self.embedding.padding_idx is not None:
                lengths = np.maximum((ids != self.embedding.padding_idx).sum(axis=1), 1)
            seq = self.embedding(ids)
        else:
            seq = self._as_sequence(x)
        _, h = self.rnn(seq, lengths=lengths)
        h = h[0] if isinstance(h, tuple) else h
        if self.rnn.bidirectional:
            return cat([h[-2], h[-1]], axis=1)
        return h[-1]

    def forward(self, x, lengths=None) -> Tensor:
        return self.fc(self.dropout(self.features(x, lengths)))

    @staticmethod
    def from_cli(data_info: dict, options: dict) -> dict:
        return _from_cli(data_info, options, "lstm")


def _from_cli(data_info: dict, options: dict, cell: str) -> dict:
    """Rows of each sample are the time steps: (C, H, W) → H steps of C·W; (H, W) → H steps of W;
    a flat square image → its rows; other flat vectors → one value per step."""
    shape = tuple(int(s) for s in data_info["input_shape"])
    if data_info.get("task", "classification") != "classification":
        raise ValueError(f"the {cell} classifier is for classification; this data set is for regression")
    if len(shape) == 3:
        steps, size = shape[1], shape[0] * shape[2]
    elif len(shape) == 2:
        steps, size = shape
    elif len(shape) == 1 and math.isqrt(shape[0]) ** 2 == shape[0] and shape[0] >= 16:
        steps = size = math.isqrt(shape[0])
    elif len(shape) == 1:
        steps, size = shape[0], 1
    else:
        raise ValueError(f"recurrent classifiers need sequences or images, got samples of shape {shape}")
    hidden = list(options.get("hidden") or [128])
    if hidden == [300, 100]:  # the command's default hidden sizes are the MLP's: use this model's own
        hidden = [128]
    if len(set(hidden)) > 1:
        raise ValueError(f"a recurrent stack has one hidden size for all layers, got --hidden {hidden}")
    return {"input_size": size, "seq_len": steps, "hidden_size": int(hidden[0]), "num_layers": len(hidden),
            "num_classes": int(data_info["n_outputs"]), "cell": cell, "dropout": float(options.get("dropout", 0.0))}


def lstm_classifier(input_size: int = 28, hidden_size: int = 128, num_classes: int = 10, **kw) -> SequenceClassifier:
    """Row-by-row LSTM classifier (Fashion-MNIST: 28 steps of 28 pixels, hidden 128)."""
    return SequenceClassifier(input_size, hidden_size, num_classes, cell="lstm", **kw)


def gru_classifier(input_size: int = 28, hidden_size: int = 128, num_classes: int = 10, **kw) -> SequenceClassifier:
    """Row-by-row GRU classifier (Fashion-MNIST: 28 steps of 28 pixels, hidden 128)."""
    return SequenceClassifier(input_size, hidden_size, num_classes, cell="gru", **kw)


def rnn_classifier(input_size: int = 28, hidden_size: int = 128, num_classes: int = 10, **kw) -> SequenceClassifier:
    """Row-by-row Elman (tanh) RNN classifier."""
    return SequenceClassifier(input_size, hidden_size, num_classes, cell="rnn", **kw)


def _preset(builder, cell):
    def build(**config):
        config.pop("cell", None)
        return builder(**config)
    build.__name__ = builder.__name__
    build.__doc__ = builder.__doc__
    return build, (lambda info, opts: _from_cli(info, opts, cell))


class CharLM(nn.Module):
    """Character (or token) language model: Embedding → recurrent stack → Linear over the vocabulary.

    ``forward(x, state=None)`` with ids (B, T) returns (logits (B, T, V), state): the scores of the
    next token after every prefix, and the final state, to carry into the next chunk (truncated BPTT)
    or the next generation step. ``step(tokens, state)`` is the one-step version used by the decoders
    in :mod:`neurona.text.decoding`; :meth:`generate` wraps them.
    """

    def __init__(self, vocab_size: int, embedding_dim: int = 64, hidden_size: int = 256, num_layers: int = 1,
                 cell: str = "lstm", dropout: float = 0.0):
        super().__init__()
        self.config = dict(vocab_size=int(vocab_size), embedding_dim=int(embedding_dim), hidden_size=int(hidden_size),
                           num_layers=int(num_layers), cell=cell, dropout=float(dropout))
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.rnn = _cell(cell)(embedding_dim, hidden_size, num_layers=num_layers, batch_first=True,
                               dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def get_config(self) -> dict:
        return dict(self.config)

    def forward(self, x, state=None):
        ids = x.array if isinstance(x, Tensor) else np.asarray(x)
        out, state = self.rnn(self.embedding(ids), state)
        return self.head(self.dropout(out)), state

    def step(self, tokens, state=None):
        """Logits (N, V) of the token after ``tokens`` (N,), and the new state."""
        ids = np.asarray(tokens.array if isinstance(tokens, Tensor) else tokens, dtype=np.int64).reshape(-1, 1)
        logits, state = self.forward(ids, state)
        return logits[:, 0], state

    def generate(self, prompt, max_new_tokens: int, method: str = "greedy", temperature: float = 1.0,
                 top_k: int | None = None, beam_width: int = 5, eos: int | None = None, seed=None) -> list[int]:
        """New token ids after ``prompt`` (ids): ``method`` 'greedy', 'sample' or 'beam'. Runs in eval mode."""
        from ..text import decoding

        was = self.training
        self.eval()
        try:
            if method == "greedy":
                return decoding.greedy_decode(self.step, prompt, max_new_tokens, eos=eos)[0].tolist()
            if method == "sample":
                return decoding.sample_decode(self.step, prompt, max_new_tokens, temperature, top_k, eos=eos,
                                              generator=seed)[0].tolist()
            if method == "beam":
                return decoding.beam_search(self.step, prompt, max_new_tokens, beam_width, eos=eos)[0][0]
            raise ValueError(f"CharLM.generate: method must be 'greedy', 'sample' or 'beam', got {method!r}")
        finally:
            self.train(was)


class EmbeddingBagClassifier(nn.Module):
    """Text classifier on a bag of words: EmbeddingBag (mean of the word vectors) → Linear.

    ``forward(text, offsets=None)``: all documents' word ids concatenated (N,) with ``offsets`` (B,)
    where each document starts, or a padded (B, L) array (``padding_idx`` left out of the mean).
    """

    def __init__(self, vocab_size: int, embedding_dim: int = 64, num_classes: int = 2, mode: str = "mean",
                 padding_idx: int | None = 0):
        super().__init__()
        self.config = dict(vocab_size=int(vocab_size), embedding_dim=int(embedding_dim),
                           num_classes=int(num_classes), mode=mode, padding_idx=padding_idx)
        self.embedding = nn.EmbeddingBag(vocab_size, embedding_dim, mode=mode, padding_idx=padding_idx)
        k = 0.5
        nn.init.uniform_(self.embedding.weight, -k, k)  # smaller than N(0, 1): means of many words stay in range
        if padding_idx is not None:
            self.embedding.weight.array[padding_idx] = 0
        self.fc = nn.Linear(embedding_dim, num_classes)

    def get_config(self) -> dict:
        return dict(self.config)

    def forward(self, text, offsets=None) -> Tensor:
        return self.fc(self.embedding(text, offsets))


register_model("seq-classifier", SequenceClassifier, from_cli=SequenceClassifier.from_cli,
               description="recurrent sequence classifier (LSTM/GRU/RNN, optional embedding, bidirectional)")
for _name, _builder in (("lstm", lstm_classifier), ("gru", gru_classifier), ("rnn", rnn_classifier)):
    _build, _cli = _preset(_builder, _name)
    register_model(_name, _build, from_cli=_cli,
                   description=f"{_name.upper()} classifier reading each sample row by row (hidden 128)")
register_model("char-lm", CharLM, description="character-level language model: embedding, LSTM/GRU, softmax head")
register_model("embedding-bag-classifier", EmbeddingBagClassifier,
               description="text classifier: mean of word embeddings (EmbeddingBag) and a Linear layer")
