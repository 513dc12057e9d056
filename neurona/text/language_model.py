"""Character language models on the fortunes: the corpus, a training loop shared by recurrent and
Transformer models, and their comparison at equal training time.

A recurrent model (:class:`neurona.models.CharLM`) reads ``batch_size`` parallel streams of the text
in consecutive windows, carrying its hidden state from one window to the next (truncated BPTT). A
Transformer (:class:`neurona.models.TransformerLM`) learns from windows cut at random places, each
read from its start (the causal mask makes every position a training example). Both are scored by
validation perplexity, exp(mean cross-entropy per character), reading the held-out text in order
with their state carried (:func:`perplexity`): the recurrent state, or the
preceding characters for the Transformer.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .vocab import Vocab, batchify

__all__ = ["CharCorpus", "fortune_corpus", "LanguageModelTrainer", "train_language_model", "LMRun", "LM_PRESETS",
           "perplexity"]


@dataclass
class CharCorpus:
    """A character corpus: the vocabulary and the training and validation texts as id arrays."""

    vocab: Vocab
    train: np.ndarray
    val: np.ndarray
    documents: int
    sample: bool = False

    def __repr__(self) -> str:
        return (f"CharCorpus({self.documents:,} documents{' (shipped sample)' if self.sample else ''}: "
                f"{len(self.train):,} training and {len(self.val):,} validation characters, {len(self.vocab)} "
                f"symbols)")


def fortune_corpus(sample: bool = False, seed: int = 0, min_freq: int | None = None) -> CharCorpus:
    """The fortunes (or, with ``sample``, the sample shipped with neurona): 1 in 20 fortunes, drawn with
    ``seed``, held out for validation; characters seen fewer than ``min_freq`` times in training
    (default 20, 1 for the sample) become <unk>. The split of ``examples/char_lm.py``."""
    from .datasets import fortunes_sample, load_fortunes

    texts = fortunes_sample()[0] if sample else load_fortunes()[0]
    order = np.random.default_rng(seed).permutation(len(texts))
    n_val = max(len(texts) // 20, 1)
    val_text = "\n\n".join(texts[i] for i in order[:n_val]) + "\n\n"
    train_text = "\n\n".join(texts[i] for i in order[n_val:]) + "\n\n"
    vocab = Vocab.build([train_text], min_freq=min_freq if min_freq is not None else (1 if sample else 20))
    return CharCorpus(vocab, np.asarray(vocab.encode(train_text), np.int64),
                      np.asarray(vocab.encode(val_text), np.int64), len(texts), sample)


#: the settings each model kind trains with (``train_language_model``'s keyword arguments override them)
LM_PRESETS = {
    "lstm": {"lr": 3e-3, "batch_size": 64, "window": 100, "warmup": 50},
    "transformer": {"lr": 1e-3, "batch_size": 32, "window": 128, "warmup": 200},
}


@dataclass
class LMRun:
    """What :func:`train_language_model` returns: the evaluations (``history``), the number of steps,
    the training time in seconds (evaluations left out), the characters read and the final
    validation perplexity."""

    history: list = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    tokens: int = 0
    val_perplexity: float = float("nan")
    eval_window: int = 100


def _kind(model) -> str:
    return "transformer" if type(model).__name__ == "TransformerLM" else "lstm"


class LanguageModelTrainer:
    """Trains a CharLM or a TransformerLM on a :class:`CharCorpus`, for a number of steps or of seconds,
    in as many calls to :meth:`train_for` as wanted (two models can take turns on a busy machine, so
    that both see the same conditions).

    Adam, gradient clipping, and a learning rate that warms up linearly over ``warmup`` steps and then
    follows a cosine to 0 at the end of the budget: ``steps`` batches, or ``seconds`` of training
    (the time spent in :meth:`train_for` steps, evaluations left out; the cosine then follows the
    fraction of that time used). A recurrent model reads ``batch_size`` parallel streams in
    consecutive windows of ``window`` characters with its state carried; a Transformer reads
    ``batch_size`` windows of ``window`` characters cut at random places. Defaults: :data:`LM_PRESETS`.
    """

    def __init__(self, model, corpus: CharCorpus, steps: int | None = None, seconds: float | None = None,
                 lr: float | None = None, batch_size: int | None = None, window: int | None = None,
                 warmup: int | None = None, clip_grad_norm: float = 1.0, eval_window: int | None = None,
                 seed: int = 0):
        from .. import optim

        if (steps is None) == (seconds is None):
            raise ValueError("LanguageModelTrainer: give the budget as steps or as seconds (one of them)")
        self.model, self.corpus = model, corpus
        self.kind = _kind(model)
        preset = LM_PRESETS[self.kind]
        self.lr = preset["lr"] if lr is None else float(lr)
        self.batch_size = int(batch_size or preset["batch_size"])
        self.window = int(window or preset["window"])
        self.warmup = preset["warmup"] if warmup is None else int(warmup)
        self.clip = clip_grad_norm
        self.steps_budget = None if steps is None else int(steps)
        self.seconds_budget = None if seconds is None else float(seconds)
        if self.steps_budget is not None:
            self.warmup = min(self.warmup, max(1, self.steps_budget // 4))
        self.eval_window = int(eval_window or (self.window // 2 if self.kind == "transformer" else self.window))
        self.val = batchify(corpus.val, max(1, min(64, len(corpus.val) // (4 * self.eval_window))))
        self.opt = optim.Adam(model.parameters(), lr=self.lr)
        self.rng = np.random.default_rng(seed)
        text = corpus.train
        if self.kind == "lstm":
            self.streams = batchify(text, self.batch_size)
            self.windows_per_epoch = (self.streams.shape[1] - 1 + self.window - 1) // self.window
        else:
            self.streams = None
            self.windows_per_epoch = max(1, (len(text) - 1) // (self.batch_size * self.window))
        self.state, self.pos = None, 0
        self.step_count, self.seconds = 0, 0.0
        self.losses: list[float] = []
        self.history: list[dict] = []

    @property
    def done(self) -> bool:
        if self.steps_budget is not None:
            return self.step_count >= self.steps_budget
        return self.seconds >= self.seconds_budget

    def _progress(self) -> float:
        if self.steps_budget is not None:
            return self.step_count / self.steps_budget
        return min(1.0, self.seconds / self.seconds_budget)

    def _factor(self) -> float:
        if self.step_count < self.warmup:
            return (self.step_count + 1) / self.warmup
        if self.steps_budget is not None:
            p = (self.step_count - self.warmup) / max(1, self.steps_budget - self.warmup)
        else:
            p = self._progress()
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, p)))

    def _batch(self):
        """The next (x, y) windows, and the state to read them with."""
        k, text = self.window, self.corpus.train
        if self.kind == "lstm":
            s = self.pos
            if s >= self.streams.shape[1] - 1:          # a new pass over the text starts from a fresh state
                s, self.state = 0, None
            e = min(s + k, self.streams.shape[1] - 1)
            self.pos = e
            return self.streams[:, s:e], self.streams[:, s + 1:e + 1], self.state
        starts = self.rng.integers(0, len(text) - k - 1, size=self.batch_size)
        w = text[starts[:, None] + np.arange(k + 1)[None, :]]
        return w[:, :-1], w[:, 1:], None

    def step(self) -> float:
        """One batch: forward, cross-entropy, backward, clipping, Adam; returns the loss."""
        from .. import nn
        from ..creation import from_numpy
        from ..functional.loss import cross_entropy
        from ..nn.utils import clip_grad_norm_

        t0 = time.perf_counter()
        model = self.model
        model.train()
        for g in self.opt.param_groups:
            g["lr"] = self.lr * self._factor()
        x, y, state = self._batch()
        self.opt.zero_grad()
        logits, state = model(x, state)
        loss = cross_entropy(logits.reshape(-1, logits.shape[-1]), from_numpy(y.reshape(-1)))
        loss.backward()
        clip_grad_norm_(model.parameters(), self.clip)
        self.opt.step()
        if self.kind == "lstm":
            self.state = nn.detach_state(state)
        self.step_count += 1
        self.seconds += time.perf_counter() - t0
        value = float(loss.item())
        self.losses.append(value)
        return value

    def train_for(self, seconds: float | None = None, steps: int | None = None) -> None:
        """Train for about ``seconds`` more (or ``steps`` more steps), never past the budget."""
        end_time = None if seconds is None else self.seconds + float(seconds)
        end_step = None if steps is None else self.step_count + int(steps)
        while not self.done:
            if end_time is not None and self.seconds >= end_time:
                break
            if end_step is not None and self.step_count >= end_step:
                break
            self.step()

    def evaluate(self) -> dict:
        """Validation perplexity now (eval mode, no graph); appends a row to ``history`` and returns it."""

        row = {"step": self.step_count, "epoch": self.step_count / self.windows_per_epoch,
               "loss": float(np.mean(self.losses)) if self.losses else float("nan"), "seconds": self.seconds,
               "val_perplexity": perplexity(self.model, self.val, self.eval_window)}
        self.losses = []
        self.history.append(row)
        self.model.eval()
        return row

    def result(self) -> LMRun:
        if not self.history or self.history[-1]["step"] != self.step_count:
            self.evaluate()
        return LMRun(list(self.history), self.step_count, self.seconds,
                     self.step_count * self.batch_size * self.window, self.history[-1]["val_perplexity"],
                     self.eval_window)


def train_language_model(model, corpus: CharCorpus, steps: int | None = None, seconds: float | None = None,
                         epochs: float | None = None, lr: float | None = None, batch_size: int | None = None,
                         window: int | None = None, warmup: int | None = None, clip_grad_norm: float = 1.0,
                         eval_every: int | None = None, eval_window: int | None = None, seed: int = 0,
                         verbose: bool = True) -> LMRun:
    """Train ``model`` (a CharLM or a TransformerLM) on ``corpus`` with a :class:`LanguageModelTrainer`
    for ``steps`` batches, ``epochs`` passes over the training text (default 1), or ``seconds`` of
    training. Validation perplexity is measured every ``eval_every`` steps and at the end, reading the
    validation text in windows of ``eval_window`` characters (default: the training window, half of
    it for a Transformer so that every character has context).
    """
    if steps is None and seconds is None:
        probe = LanguageModelTrainer(model, corpus, steps=1, batch_size=batch_size, window=window)
        steps = max(1, int(round((1.0 if epochs is None else epochs) * probe.windows_per_epoch)))
    trainer = LanguageModelTrainer(model, corpus, steps=steps, seconds=seconds, lr=lr, batch_size=batch_size,
                                   window=window, warmup=warmup, clip_grad_norm=clip_grad_norm,
                                   eval_window=eval_window, seed=seed)
    t_last = time.perf_counter()
    while not trainer.done:
        trainer.train_for(steps=eval_every or 10 ** 9)
        row = trainer.evaluate()
        if verbose:
            print(f"step {row['step']} ({row['epoch']:.2f} epochs, {row['seconds']:.0f} s of training): train "
                  f"cross-entropy {row['loss']:.3f} (perplexity {math.exp(row['loss']):.2f}), validation "
                  f"perplexity {row['val_perplexity']:.2f}  [{time.perf_counter() - t_last:.0f}s]", flush=True)
        t_last = time.perf_counter()
    return trainer.result()


def perplexity(model, streams: np.ndarray, k: int) -> float:
    """exp(mean cross-entropy per token) of a language model over (B, L) id streams, the state carried
    across windows of ``k`` steps (eval mode, no graph). The vocabulary size for a model that knows
    nothing, 1 for one that is always sure and right."""
    from .. import nn, no_grad, tensor

    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    total, n, state = 0.0, 0, None
    was = model.training
    model.eval()
    try:
        with no_grad():
            for s in range(0, streams.shape[1] - 1, k):
                x = streams[:, s:min(s + k, streams.shape[1] - 1)]
                y = streams[:, s + 1:s + 1 + x.shape[1]]
                logits, state = model(x, state)
                total += float(loss_fn(logits.reshape(-1, logits.shape[-1]), tensor(y.reshape(-1))).item())
                n += y.size
    finally:
        model.train(was)
    return math.exp(total / max(n, 1))
