"""Decoding: greedy, temperature sampling and beam search on a known Markov chain, state reordering."""
from __future__ import annotations

import numpy as np
import pytest

import neurona
from neurona.text.decoding import beam_search, greedy_decode, log_softmax_np, sample_decode, select_state

# next-token probabilities of a 5-token chain; from 0 greedy takes 1 (0.6), but the best pair is 2 → 3
P = np.array([
    [0.0, 0.6, 0.4, 0.0, 0.0],
    [0.0, 0.0, 0.3, 0.35, 0.35],
    [0.0, 0.0, 0.0, 0.95, 0.05],
    [0.1, 0.1, 0.1, 0.1, 0.6],
    [0.6, 0.1, 0.1, 0.1, 0.1],
])
LOGP = np.log(np.maximum(P, 1e-12))


def chain_step(tokens, state):
    """Logits = log P(next | last); the state records every token seen (to test reordering)."""
    tokens = np.asarray(tokens)
    hist = tokens[:, None] if state is None else np.concatenate([state, tokens[:, None]], axis=1)
    return LOGP[tokens], hist


def seq_logp(seq, start=0):
    prev, total = start, 0.0
    for t in seq:
        total += LOGP[prev, t]
        prev = t
    return total


def test_greedy_takes_the_argmax_each_step():
    out = greedy_decode(chain_step, [0], 3)
    np.testing.assert_array_equal(out, [[1, 3, 4]])
    batch = greedy_decode(chain_step, [[0], [2]], 2)
    np.testing.assert_array_equal(batch, [[1, 3], [3, 4]])


def test_greedy_stops_at_eos():
    out = greedy_decode(chain_step, [3], 10, eos=0)
    np.testing.assert_array_equal(out, [[4, 0]])


def test_beam_search_finds_the_more_probable_sequence():
    best, score = beam_search(chain_step, [0], 2, beam_width=2)[0]
    assert best == [2, 3]
    assert score == pytest.approx(seq_logp([2, 3]))
    assert seq_logp([2, 3]) > seq_logp(greedy_decode(chain_step, [0], 2)[0])
    # width 1 is greedy
    assert beam_search(chain_step, [0], 2, beam_width=1)[0][0] == [1, 3]
    # all results sorted best first, exact log-probabilities
    res = beam_search(chain_step, [0], 3, beam_width=4)
    scores = [s for _, s in res]
    assert scores == sorted(scores, reverse=True)
    for seq, s in res:
        assert s == pytest.approx(seq_logp(seq))


def test_beam_search_exhaustive_when_wide_enough():
    res = beam_search(chain_step, [0], 3, beam_width=125)
    import itertools
    brute = max(itertools.product(range(5), repeat=3), key=lambda s: seq_logp(s))
    assert tuple(res[0][0]) == brute


def test_beam_search_reorders_state():
    seen = []

    def step(tokens, state):
        logits, hist = chain_step(tokens, state)
        seen.append(hist.copy())
        return logits, hist

    beam_search(step, [0], 3, beam_width=3)
    # the state handed to each step must be the history of the prefix that step extends
    last = seen[-1]
    for row in last:
        assert row[0] == 0 and all(P[a, b] > 0 for a, b in zip(row[:-1], row[1:]))


def test_beam_search_eos_and_length_penalty():
    res = beam_search(chain_step, [3], 6, beam_width=3, eos=0)
    assert res[0][0][-1] == 0                         # 3 → 4 → 0 ends early and is the most probable
    assert res[0][0] == [4, 0]
    res_pen = beam_search(chain_step, [3], 6, beam_width=3, eos=0, length_penalty=1.0)
    assert all(isinstance(s, float) for _, s in res_pen)


def test_sampling_frequencies_follow_softmax_over_temperature():
    def step(tokens, state):
        return np.tile(np.log([0.5, 0.3, 0.2]), (len(tokens), 1)), state

    prompts = np.zeros((20000, 1), np.int64)
    draws = sample_decode(step, prompts, 1, temperature=1.0, generator=0)[:, 0]
    np.testing.assert_allclose(np.bincount(draws, minlength=3) / len(draws), [0.5, 0.3, 0.2], atol=0.015)
    hot = sample_decode(step, prompts, 1, temperature=2.0, generator=1)[:, 0]
    p = np.exp(log_softmax_np(np.log([0.5, 0.3, 0.2]) / 2.0))
    np.testing.assert_allclose(np.bincount(hot, minlength=3) / len(hot), p, atol=0.015)
    cold = sample_decode(step, prompts[:500], 1, temperature=0.01, generator=2)
    assert np.all(cold == 0)                          # T → 0 is greedy
    top1 = sample_decode(step, prompts[:500], 1, top_k=1, generator=3)
    assert np.all(top1 == 0)
    a = sample_decode(chain_step, [0], 8, generator=5)
    b = sample_decode(chain_step, [0], 8, generator=5)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="temperature must be positive"):
        sample_decode(step, [0], 1, temperature=0)


def test_select_state_axes():
    h = neurona.from_numpy(np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4))
    c = np.arange(6).reshape(3, 2)
    sh, sc = select_state((h, c), np.array([2, 2, 0]))
    assert isinstance(sh, neurona.Tensor) and sh.shape == (2, 3, 4)
    np.testing.assert_array_equal(sh.array[:, 0], h.array[:, 2])
    np.testing.assert_array_equal(sc, c[[2, 2, 0]])
    assert select_state(None, np.array([0])) is None


def test_decoding_with_a_real_language_model():
    from neurona.models import CharLM
    neurona.manual_seed(0)
    lm = CharLM(12, 6, 10, num_layers=2)
    g = lm.generate([1, 2, 3], 5)
    assert len(g) == 5 and all(0 <= t < 12 for t in g)
    # greedy through the model equals beam search of width 1
    assert lm.generate([1, 2, 3], 5, method="beam", beam_width=1) == g
    s = lm.generate([1], 6, method="sample", temperature=0.8, seed=0)
    assert s == lm.generate([1], 6, method="sample", temperature=0.8, seed=0)
