"""Training and evaluating encoder–decoder models on (source ids, target ids) pairs.

The models are those of :mod:`neurona.models.seq2seq`: ``model(src, tgt_in)`` gives the logits of
every target token under teacher forcing, and ``model.start / step / select_state`` drive the
decoders of :mod:`neurona.text.decoding`. Targets are ``<bos> y_1 .. y_T <eos>`` padded with 0;
the loss is the cross-entropy of y_1 .. <eos> given the tokens before, padding ignored.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..engine import no_grad
from .decoding import beam_search, greedy_decode

__all__ = ["train_seq2seq", "translate", "exact_match", "evaluate_loss", "sequence_loss", "warmup_cosine",
           "NUMBER_PRESETS", "TranslationRun", "train_number_translation", "alignment"]


def warmup_cosine(step: int, total: int, warmup: int) -> float:
    """Learning-rate factor: linear warm-up over ``warmup`` steps, then a cosine decay to 0 at ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def _trim(a: np.ndarray) -> np.ndarray:
    """Drop the all-padding columns at the end of a batch."""
    used = np.flatnonzero((a != 0).any(0))
    return a[:, :int(used[-1]) + 1] if used.size else a[:, :1]


def _batches(src: np.ndarray, tgt: np.ndarray, batch_size: int, rng: np.random.Generator | None):
    order = rng.permutation(len(src)) if rng is not None else np.arange(len(src))
    for s in range(0, len(src), batch_size):
        idx = order[s:s + batch_size]
        yield _trim(src[idx]), _trim(tgt[idx])


def sequence_loss(model, src: np.ndarray, tgt: np.ndarray, label_smoothing: float = 0.0):
    """Mean cross-entropy per target token (padding excluded) under teacher forcing."""
    from ..functional.loss import cross_entropy
    from ..creation import from_numpy

    logits = model(src, tgt[:, :-1])
    y = tgt[:, 1:]
    return cross_entropy(logits.reshape(-1, logits.shape[-1]), from_numpy(y.reshape(-1)), ignore_index=0,
                         label_smoothing=label_smoothing)


def train_seq2seq(model, train: tuple, val: tuple | None = None, epochs: int = 10, batch_size: int = 64,
                  lr: float = 1e-3, warmup: int = 200, clip_grad_norm: float | None = 1.0,
                  label_smoothing: float = 0.0, weight_decay: float = 0.0, seed: int = 0, verbose: bool = True,
                  on_epoch_end: Callable | None = None) -> list[dict]:
    """Train ``model`` on ``train`` = (src ids (N, S), tgt ids (N, T)) with Adam (AdamW with a
    ``weight_decay``), a warm-up-then-cosine learning rate over all the steps, and gradient clipping.

    After each epoch the validation loss (and ``on_epoch_end(epoch, logs)`` if given) is computed.
    Returns one dict per epoch: ``epoch``, ``loss``, ``val_loss``, ``lr``, ``seconds``.
    """
    from .. import optim
    from ..nn.utils import clip_grad_norm_

    src, tgt = train
    opt = (optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay) if weight_decay
           else optim.Adam(model.parameters(), lr=lr))
    rng = np.random.default_rng(seed)
    steps_per_epoch = math.ceil(len(src) / batch_size)
    total = steps_per_epoch * int(epochs)
    step = 0
    history = []
    for epoch in range(int(epochs)):
        model.train()
        t0 = time.perf_counter()
        loss_sum, n = 0.0, 0
        for xs, ys in _batches(src, tgt, batch_size, rng):
            f = warmup_cosine(step, total, min(warmup, total // 2 or 1))
            for g in opt.param_groups:
                g["lr"] = lr * f
            opt.zero_grad()
            loss = sequence_loss(model, xs, ys, label_smoothing)
            loss.backward()
            if clip_grad_norm is not None:
                clip_grad_norm_(model.parameters(), clip_grad_norm)
            opt.step()
            step += 1
            loss_sum += float(loss.item()) * len(xs)
            n += len(xs)
        logs = {"epoch": epoch + 1, "loss": loss_sum / max(n, 1), "lr": lr * f,
                "seconds": time.perf_counter() - t0}
        if val is not None and len(val[0]):
            logs["val_loss"] = evaluate_loss(model, *val, batch_size=max(batch_size, 256))
        if on_epoch_end is not None:
            on_epoch_end(epoch, logs)
        history.append(logs)
        if verbose:
            extra = f", validation loss {logs['val_loss']:.4f}" if "val_loss" in logs else ""
            print(f"epoch {epoch + 1}/{epochs}: loss {logs['loss']:.4f}{extra}  [{logs['seconds']:.1f}s]", flush=True)
    model.eval()
    return history


def evaluate_loss(model, src: np.ndarray, tgt: np.ndarray, batch_size: int = 256) -> float:
    """Mean cross-entropy per target token over a data set (eval mode, no graph)."""
    from ..functional.loss import cross_entropy
    from ..creation import from_numpy

    was = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        with no_grad():
            for xs, ys in _batches(src, tgt, batch_size, None):
                logits = model(xs, ys[:, :-1])
                y = ys[:, 1:].reshape(-1)
                total += float(cross_entropy(logits.reshape(-1, logits.shape[-1]), from_numpy(y), ignore_index=0,
                                             reduction="sum").item())
                count += int((y != 0).sum())
    finally:
        model.train(was)
    return total / max(count, 1)


def translate(model, src: np.ndarray, bos: int, eos: int, max_len: int, method: str = "greedy",
              beam_width: int = 5, batch_size: int = 256) -> list[list[int]]:
    """Decode every source row: greedy (batched) or beam search (one source at a time). Returns the
    target ids of each, without <bos> and <eos>."""
    if method not in ("greedy", "beam"):
        raise ValueError(f"translate: method must be 'greedy' or 'beam', got {method!r}")
    was = model.training
    model.eval()
    out: list[list[int]] = []
    try:
        with no_grad():
            if method == "greedy":
                for s in range(0, len(src), batch_size):
                    xs = _trim(src[s:s + batch_size])
                    prompt = np.full((len(xs), 1), bos, np.int64)
                    ids = greedy_decode(model.step, prompt, max_len, state=model.start(xs), eos=eos)
                    for row in ids:
                        row = row.tolist()
                        out.append(row[:row.index(eos)] if eos in row else row)
            else:
                for s in range(len(src)):
                    xs = _trim(src[s:s + 1])
                    best = beam_search(model.step, [bos], max_len, beam_width, state=model.start(xs), eos=eos,
                                       select_state=model.select_state)[0][0]
                    out.append([t for t in best if t != eos])
    finally:
        model.train(was)
    return out


def exact_match(model, data, split: str = "test", method: str = "greedy", beam_width: int = 5,
                limit: int | None = None) -> tuple[float, list[tuple[str, str, str]]]:
    """Fraction of ``data``'s ``split`` (a :class:`neurona.text.numbers.NumberTranslation`) translated
    exactly right, and the (source, expected, predicted) texts of the mistakes."""
    src, nums = data.src[split], data.numbers[split]
    if limit is not None:
        src, nums = src[:limit], nums[:limit]
    max_len = data.tgt[split].shape[1] + 2
    preds = translate(model, src, data.bos, data.eos, max_len, method, beam_width)
    wrong = []
    right = 0
    for n, p in zip(nums, preds):
        got, want = data.decode(p), data.target_text(int(n))
        if got == want:
            right += 1
        else:
            wrong.append((data.source_text(int(n)), want, got))
    return right / max(len(nums), 1), wrong


# --- the number ↔ words task ------------------------------------------------------------------------------

#: the settings each model trains with on the number ↔ words task (the keyword arguments override them)
NUMBER_PRESETS = {
    "seq2seq-rnn": {"model": {"embedding_dim": 64, "hidden_size": 128, "attention": "general"},
                    "lr": 3e-3, "epochs": 10, "batch_size": 64, "warmup": 100},
    "seq2seq-transformer": {"model": {"d_model": 64, "nhead": 4, "num_encoder_layers": 2, "num_decoder_layers": 2,
                                      "dim_feedforward": 128, "dropout": 0.1},
                            "lr": 1e-3, "epochs": 10, "batch_size": 64, "warmup": 200},
}


@dataclass
class TranslationRun:
    """What :func:`train_number_translation` returns: the trained model, its data, the per-epoch history,
    the training time, the exact-match accuracies on the test split and the mistakes."""

    model: object
    data: object
    history: list
    train_seconds: float
    greedy_accuracy: float
    beam_accuracy: float | None
    greedy_mistakes: list = field(default_factory=list)
    beam_mistakes: list = field(default_factory=list)
    beam_width: int = 5

    def summary(self) -> dict:
        """Plain JSON values: the task, the model, the data sizes and the figures."""
        return {"direction": self.data.direction, "model": getattr(self.model, "config", {}),
                "parameters": self.model.num_parameters(),
                "sizes": {k: int(len(v)) for k, v in self.data.numbers.items()}, "epochs": len(self.history),
                "train_seconds": round(self.train_seconds, 1),
                "final_loss": self.history[-1]["loss"] if self.history else None,
                "val_loss": self.history[-1].get("val_loss") if self.history else None,
                "greedy_exact_match": self.greedy_accuracy,
                "beam_exact_match": self.beam_accuracy, "beam_width": self.beam_width}


def train_number_translation(model: str = "seq2seq-rnn", direction: str = "words2digits", n_train: int = 20000,
                             n_val: int = 1000, n_test: int = 2000, max_digits: int = 6, epochs: int | None = None,
                             lr: float | None = None, batch_size: int | None = None, beam_width: int = 5,
                             beam: bool = True, seed: int = 0, verbose: bool = True, data=None,
                             **model_config) -> TranslationRun:
    """Spanish number words ↔ digits: draw the data (:func:`neurona.text.numbers.number_translation_data`),
    build ``model`` ('seq2seq-rnn' or 'seq2seq-transformer', with :data:`NUMBER_PRESETS` and
    ``model_config`` over them), train it, and score exact matches on the held-out test numbers with
    greedy decoding and beam search.

    >>> run = train_number_translation("seq2seq-rnn", n_train=300, n_val=20, n_test=20, epochs=1,
    ...                                verbose=False)                                   # doctest: +SKIP
    >>> run.greedy_accuracy                                                              # doctest: +SKIP
    """
    from .. import manual_seed
    from ..models import build_model
    from .numbers import number_translation_data

    if model not in NUMBER_PRESETS:
        raise ValueError(f"train_number_translation: model must be one of {sorted(NUMBER_PRESETS)}, got {model!r}")
    preset = NUMBER_PRESETS[model]
    if data is None:
        data = number_translation_data(direction, n_train, n_val, n_test, max_digits, seed)
    manual_seed(seed)
    config = {**preset["model"], **model_config, "src_vocab": len(data.src_vocab), "tgt_vocab": len(data.tgt_vocab)}
    net = build_model(model, **config)
    if verbose:
        print(f"{model}, {data.direction}: {net.num_parameters():,} parameters; {data}", flush=True)
    start = time.perf_counter()
    history = train_seq2seq(net, (data.src["train"], data.tgt["train"]), (data.src["val"], data.tgt["val"]),
                            epochs=preset["epochs"] if epochs is None else epochs,
                            batch_size=batch_size or preset["batch_size"], lr=lr or preset["lr"],
                            warmup=preset["warmup"], seed=seed, verbose=verbose)
    seconds = time.perf_counter() - start
    greedy, wrong = exact_match(net, data, "test", "greedy")
    beam_acc, beam_wrong = (exact_match(net, data, "test", "beam", beam_width) if beam else (None, []))
    if verbose:
        b = f", beam search (width {beam_width}) {beam_acc:.4f}" if beam else ""
        print(f"exact match on {len(data.numbers['test']):,} held-out numbers: greedy {greedy:.4f}{b}", flush=True)
    return TranslationRun(net, data, history, seconds, greedy, beam_acc, wrong, beam_wrong, beam_width)


def alignment(run: TranslationRun, number: int) -> tuple[np.ndarray, list[str], list[str]]:
    """The attention weights (T, S) of ``run``'s model translating ``number``, with the source tokens and
    the output tokens (the model's own greedy output, ending with <eos>)."""
    data, model = run.data, run.model
    src, _ = data.encode_source([data.source_text(int(number))])
    out = translate(model, src, data.bos, data.eos, data.tgt["test"].shape[1] + 2)[0]
    tgt_in = np.asarray([[data.bos] + out], np.int64)
    weights = model.attention_weights(src, tgt_in)[0]
    source = data.src_vocab.decode(src[0])
    target = data.tgt_vocab.decode(out) + ["<eos>"]
    return weights, source, target
