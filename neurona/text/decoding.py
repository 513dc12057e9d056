"""Decoding a generative sequence model: greedy, sampling with temperature, and beam search.

The notes: "Inferencia con redes dinámicas: voraz o búsqueda en árbol (con
poda)". A language model gives, after each prefix y_1..y_t, a distribution
P(y_{t+1} | y_1..y_t) over the vocabulary. Generating a continuation means
choosing tokens one after another:

- greedy ("voraz"): take the most probable token at each step;
- sampling: draw the token from softmax(logits / T); the temperature T < 1
  sharpens the distribution (T → 0 is greedy), T > 1 flattens it;
  ``top_k`` restricts the draw to the k most probable tokens;
- beam search ("búsqueda en árbol con poda"): the tree of all continuations
  is explored breadth-first, and after each step it is pruned to the k
  prefixes (the beam) with the highest log-probability Σ log P(y_t | y_<t).
  k = 1 is greedy; a larger k finds more probable sequences.

All three drive the model through one function, ``step_fn(tokens, state) ->
(logits, state)``: ``tokens`` (N,) int64, the last token of each of N
prefixes; ``logits`` (N, V), the scores of the next token; ``state`` whatever
the model carries (``None`` at first). ``CharLM.step`` is such a function.
Beam search reorders the state when it keeps some prefixes and drops
others: by default every Tensor or array in the (nested tuple) state is
indexed along its batch axis, axis 1 for 3-D states like an RNN's
(num_layers, N, H) and axis 0 otherwise; pass ``select_state`` for other layouts.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .. import backend
from ..creation import from_numpy
from ..engine import Tensor, no_grad

__all__ = ["greedy_decode", "sample_decode", "beam_search", "select_state", "log_softmax_np"]

StepFn = Callable[[np.ndarray, object], tuple]


def log_softmax_np(logits: np.ndarray) -> np.ndarray:
    """log softmax over the last axis, in float64 (stable: max subtracted first)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def select_state(state, index: np.ndarray):
    """Rows ``index`` of every tensor in ``state`` (axis 1 of 3-D tensors, axis 0 of the others)."""
    if state is None:
        return None
    if isinstance(state, (tuple, list)):
        return type(state)(select_state(s, index) for s in state)
    data = state.array if isinstance(state, Tensor) else state
    xp = backend.get_array_module(data)
    data = xp.asarray(data)
    out = data[:, index] if data.ndim == 3 else data[index]
    return from_numpy(xp.ascontiguousarray(out)) if isinstance(state, Tensor) else out


def _logits(x) -> np.ndarray:
    # tokens are chosen on the host: one read of the (N, V) logits per step, wherever the model runs
    return backend.to_numpy(x.array if isinstance(x, Tensor) else x)


def _prompts(prompt) -> np.ndarray:
    p = np.asarray(prompt, dtype=np.int64)
    if p.ndim == 1:
        p = p[None, :]
    if p.ndim != 2 or p.shape[1] == 0:
        raise ValueError(f"decoding: the prompt must be a non-empty id sequence (L,) or a batch (B, L), "
                         f"got shape {np.shape(prompt)}")
    return p


def _prime(step_fn: StepFn, prompts: np.ndarray, state):
    """Feed the prompt tokens one step at a time; return the logits after the last one and the state."""
    logits = None
    for t in range(prompts.shape[1]):
        logits, state = step_fn(prompts[:, t], state)
    return _logits(logits), state


def _run(step_fn, prompt, max_new_tokens, state, eos, choose) -> np.ndarray:
    prompts = _prompts(prompt)
    B = prompts.shape[0]
    with no_grad():
        logits, state = _prime(step_fn, prompts, state)
        out = np.zeros((B, int(max_new_tokens)), np.int64)
        done = np.zeros(B, bool)
        for t in range(int(max_new_tokens)):
            tok = choose(logits)
            if eos is not None:
                tok = np.where(done, eos, tok)
                done |= tok == eos
            out[:, t] = tok
            if eos is not None and done.all():
                return out[:, :t + 1]
            if t + 1 < max_new_tokens:
                logits, state = step_fn(tok, state)
                logits = _logits(logits)
    return out


def greedy_decode(step_fn: StepFn, prompt, max_new_tokens: int, state=None, eos: int | None = None) -> np.ndarray:
    """Continue ``prompt`` ((L,) or (B, L) ids) by taking the most probable token at each step.

    Returns the new tokens, (B, max_new_tokens) (fewer columns if every row reached ``eos``; rows that
    ended earlier are filled with ``eos``).
    """
    return _run(step_fn, prompt, max_new_tokens, state, eos, lambda lg: lg.argmax(axis=-1).astype(np.int64))


def sample_decode(step_fn: StepFn, prompt, max_new_tokens: int, temperature: float = 1.0,
                  top_k: int | None = None, state=None, eos: int | None = None,
                  generator: np.random.Generator | int | None = None) -> np.ndarray:
    """Continue ``prompt`` by drawing each token from softmax(logits / temperature) (among the ``top_k`` best).

    ``temperature`` must be positive; small values approach greedy decoding. ``generator`` (a NumPy
    Generator or a seed) makes the draws reproducible.
    """
    if not temperature > 0:
        raise ValueError(f"sample_decode: temperature must be positive, got {temperature}")
    rng = generator if isinstance(generator, np.random.Generator) else np.random.default_rng(generator)

    def choose(lg):
        z = np.asarray(lg, dtype=np.float64) / float(temperature)
        if top_k is not None and top_k < z.shape[-1]:
            kth = np.partition(z, -int(top_k), axis=-1)[:, -int(top_k)][:, None]
            z = np.where(z >= kth, z, -np.inf)
        p = np.exp(log_softmax_np(z))
        u = rng.random((p.shape[0], 1))
        tok = (p.cumsum(axis=-1) < u).sum(axis=-1)      # inverse-CDF draw, one per row
        return np.minimum(tok, p.shape[-1] - 1).astype(np.int64)

    return _run(step_fn, prompt, max_new_tokens, state, eos, choose)


def beam_search(step_fn: StepFn, prompt: Sequence[int], max_new_tokens: int, beam_width: int = 5, state=None,
                eos: int | None = None, length_penalty: float = 0.0,
                select_state: Callable | None = None) -> list[tuple[list[int], float]]:
    """The ``beam_width`` most probable continuations of one prompt, best first, as (tokens, score).

    Each step extends every prefix in the beam by every token, scores the extensions by their total
    log-probability, and keeps the best ``beam_width`` (pruning the search tree). A prefix that emits
    ``eos`` is finished and leaves the beam. Scores are Σ log P divided by length^length_penalty
    (0: plain log-probability; about 1 stops favouring short endings).
    """
    k = int(beam_width)
    if k < 1:
        raise ValueError(f"beam_search: beam_width must be at least 1, got {beam_width}")
    prompts = _prompts(prompt)
    if prompts.shape[0] != 1:
        raise ValueError(f"beam_search: one prompt at a time (a 1-D id sequence), got {prompts.shape[0]}")
    select = select_state or globals()["select_state"]

    def norm(score, n):
        return score / (max(n, 1) ** length_penalty) if length_penalty else score

    finished: list[tuple[list[int], float]] = []
    with no_grad():
        logits, state = _prime(step_fn, prompts, state)
        beams: list[list[int]] = [[]]
        scores = np.zeros(1)
        for t in range(int(max_new_tokens)):
            logp = log_softmax_np(logits)                     # (n_beams, V)
            V = logp.shape[1]
            total = (scores[:, None] + logp).ravel()
            n_keep = min(k, total.size)
            best = np.argpartition(-total, n_keep - 1)[:n_keep]
            best = best[np.argsort(-total[best], kind="stable")]
            src, tok = best // V, best % V
            new_beams, new_scores, keep_src, keep_tok = [], [], [], []
            for s, w, sc in zip(src, tok, total[best]):
                seq = beams[s] + [int(w)]
                if eos is not None and w == eos:
                    finished.append((seq, float(norm(sc, len(seq)))))
                else:
                    new_beams.append(seq)
                    new_scores.append(sc)
                    keep_src.append(s)
                    keep_tok.append(w)
            if not new_beams or len(finished) >= k and max(f[1] for f in finished) >= norm(max(new_scores),
                                                                                        len(new_beams[0])):
                beams = new_beams
                scores = np.asarray(new_scores)
                break
            beams, scores = new_beams, np.asarray(new_scores)
            if t + 1 < max_new_tokens:
                state = select(state, np.asarray(keep_src, dtype=np.int64))
                logits, state = step_fn(np.asarray(keep_tok, dtype=np.int64), state)
                logits = _logits(logits)
    results = finished + [(b, float(norm(s, len(b)))) for b, s in zip(beams, scores)]
    results.sort(key=lambda r: -r[1])
    return results[:k]
