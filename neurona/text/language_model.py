"""Character language models on the fortunes: the corpus, a training loop shared by recurrent and
Transformer models, and their comparison at equal training time.

A recurrent model (:class:`neurona.models.CharLM`) reads ``batch_size`` parallel streams of the text
in consecutive windows, carrying its hidden state from one window to the next (truncated BPTT). A
Transformer (:class:`neurona.models.TransformerLM`) learns from windows cut at random places, each
read from its start (the causal mask makes every position a training example). Both are scored by
validation perplexity, exp(mean cross-entropy per character), reading the held-out text in order
with their state carried (:func:`neurona.text.tasks.perplexity`): the recurrent state, or the
preceding characters for the Transformer.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .vocab import Vocab, batchify

__all__ = ["CharCorpus", "fortune_corpus", "train_language_model", "LMRun", "LM_PRESETS"]


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


def train_language_model(model, corpus: CharCorpus, steps: int | None = None, seconds: float | None = None,
                         epochs: float | None = None, lr: float | None = None, batch_size: int | None = None,
                         window: int | None = None, warmup: int | None = None, clip_grad_norm: float = 1.0,
                         eval_every: int | None = None, eval_window: int | None = None, seed: int = 0,
                         verbose: bool = True) -> LMRun:
    """Train ``model`` (a CharLM or a TransformerLM) on ``corpus`` with Adam, a linear warm-up and a
    cosine decay of the learning rate to 0 at the last step, and gradient clipping.

    How long: ``steps`` batches; or ``epochs`` passes over the training text; or ``seconds``: the
    speed of the first steps fixes the number of steps that fit (reported in ``LMRun.steps``, so the
    run can be repeated with ``steps=``). The learning rate, batch size (streams for a recurrent
    model, random windows for a Transformer) and window length default to :data:`LM_PRESETS`.
    Validation perplexity is measured every ``eval_every`` steps and at the end, reading the
    validation text in windows of ``eval_window`` characters (default: the training window, half of
    it for a Transformer so that every character has context).
    """
    from .. import nn, optim
    from ..creation import from_numpy
    from ..functional.loss import cross_entropy
    from ..nn.utils import clip_grad_norm_
    from .seq2seq import warmup_cosine
    from .tasks import perplexity

    kind = _kind(model)
    preset = LM_PRESETS[kind]
    lr = preset["lr"] if lr is None else lr
    B = int(batch_size or preset["batch_size"])
    k = int(window or preset["window"])
    warmup = preset["warmup"] if warmup is None else warmup
    if eval_window is None:
        eval_window = k // 2 if kind == "transformer" else k
    val = batchify(corpus.val, max(1, min(64, len(corpus.val) // (4 * eval_window))))
    opt = optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    text = corpus.train

    if kind == "lstm":
        streams = batchify(text, B)
        n_windows = (streams.shape[1] - 1 + k - 1) // k
    else:
        streams, n_windows = None, max(1, (len(text) - 1) // (B * k))
    carried = {"state": None, "pos": 0}

    def batch():
        """The next (x, y) windows, and the state to read them with."""
        if kind == "lstm":
            s = carried["pos"]
            if s >= streams.shape[1] - 1:          # a new pass over the text starts from a fresh state
                s, carried["state"] = 0, None
            e = min(s + k, streams.shape[1] - 1)
            carried["pos"] = e
            return streams[:, s:e], streams[:, s + 1:e + 1], carried["state"]
        starts = rng.integers(0, len(text) - k - 1, size=B)
        idx = starts[:, None] + np.arange(k + 1)[None, :]
        w = text[idx]
        return w[:, :-1], w[:, 1:], None

    def one_step(step: int, factor: float) -> float:
        model.train()
        for g in opt.param_groups:
            g["lr"] = lr * factor
        x, y, state = batch()
        opt.zero_grad()
        logits, state = model(x, state)
        loss = cross_entropy(logits.reshape(-1, logits.shape[-1]), from_numpy(y.reshape(-1)))
        loss.backward()
        clip_grad_norm_(model.parameters(), clip_grad_norm)
        opt.step()
        if kind == "lstm":
            carried["state"] = nn.detach_state(state)
        return float(loss.item())

    start = time.perf_counter()
    done, probe_losses = 0, []
    if steps is None:
        if seconds is not None:
            probe_start = time.perf_counter()
            for _ in range(8):
                probe_losses.append(one_step(done, (done + 1) / max(warmup, 1)))
                done += 1
            per = (time.perf_counter() - probe_start) / 8
            steps = max(done + 1, int(seconds / per))
        else:
            steps = max(1, int(round((epochs if epochs is not None else 1.0) * n_windows)))
    run = LMRun(steps=int(steps), eval_window=int(eval_window))
    losses = list(probe_losses)
    t_last = time.perf_counter()
    eval_seconds = 0.0
    for step in range(done, int(steps)):
        losses.append(one_step(step, warmup_cosine(step, int(steps), min(warmup, max(1, int(steps) // 4)))))
        last = step + 1 == int(steps)
        if last or (eval_every and (step + 1) % eval_every == 0):
            row = {"step": step + 1, "epoch": (step + 1) / n_windows, "loss": float(np.mean(losses)),
                   "seconds": time.perf_counter() - start - eval_seconds}
            t_eval = time.perf_counter()
            row["val_perplexity"] = perplexity(model, val, int(eval_window))
            eval_seconds += time.perf_counter() - t_eval
            run.history.append(row)
            losses = []
            if verbose:
                print(f"step {step + 1}/{steps} ({row['epoch']:.2f} epochs): train cross-entropy {row['loss']:.3f} "
                      f"(perplexity {math.exp(row['loss']):.2f}), validation perplexity {row['val_perplexity']:.2f}  "
                      f"[{time.perf_counter() - t_last:.0f}s]", flush=True)
            t_last = time.perf_counter()
    model.eval()
    run.seconds = time.perf_counter() - start - eval_seconds
    run.val_perplexity = run.history[-1]["val_perplexity"]
    run.tokens = int(steps) * B * k
    return run
