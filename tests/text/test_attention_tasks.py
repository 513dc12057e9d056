"""The attention tasks at toy sizes: number ↔ words translation, the character language models, the
Vision Transformer recipe, and their example scripts (the full ``--quick`` runs are marked slow)."""
from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

import neurona
from neurona import models, plot
from neurona.data import fashion_mnist_small
from neurona.text import language_model as LM
from neurona.text import seq2seq as S
from neurona.train.recipes import WarmupCosine, train_classifier

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(name: str, argv: list[str]):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    state = neurona.get_rng_state()
    try:
        return module.main(argv)
    finally:
        neurona.set_rng_state(state)


def test_number_translation_learns_and_is_scored(tmp_path):
    run = S.train_number_translation("seq2seq-rnn", "words2digits", n_train=400, n_val=50, n_test=30, epochs=3,
                                     beam_width=2, verbose=False, hidden_size=64, embedding_dim=32)
    losses = [h["loss"] for h in run.history]
    assert losses[-1] < 0.9 * losses[0]
    assert 0.0 <= run.greedy_accuracy <= 1.0 and 0.0 <= run.beam_accuracy <= 1.0
    assert len(run.greedy_mistakes) == round((1 - run.greedy_accuracy) * 30)
    s = run.summary()
    assert s["sizes"] == {"train": 400, "val": 50, "test": 30} and s["epochs"] == 3
    w, source, target = S.alignment(run, 432107)
    assert source == "cuatrocientos treinta y dos mil ciento siete".split()
    assert w.shape == (len(target), len(source)) and target[-1] == "<eos>"
    if plot.available():
        plot.attention_heatmaps([(w, source, target, "LSTM")], tmp_path / "a.png")
        assert (tmp_path / "a.png").stat().st_size > 1000


def test_translate_strips_markers_and_scores_exactly():
    class Echo:  # a fake model that writes a fixed answer: 3 5 <eos>
        training = False

        def eval(self):
            return self

        def train(self, mode=True):
            return self

        def start(self, src):
            return np.zeros(len(src), np.int64)

        def step(self, tokens, state):
            logits = np.full((len(tokens), 8), -9.0)
            logits[np.arange(len(tokens)), [(3, 5, 1)[min(int(s), 2)] for s in state]] = 0
            return logits, state + 1

        @staticmethod
        def select_state(state, index):
            return state[index]

    src = np.ones((3, 2), np.int64)
    assert S.translate(Echo(), src, bos=2, eos=1, max_len=6) == [[3, 5]] * 3
    assert S.translate(Echo(), src[:1], bos=2, eos=1, max_len=6, method="beam", beam_width=3) == [[3, 5]]
    assert S.warmup_cosine(0, 100, 10) == pytest.approx(0.1) and S.warmup_cosine(100, 100, 10) == pytest.approx(0)


def test_language_models_train_on_the_sample():
    corpus = LM.fortune_corpus(sample=True)
    assert len(corpus.train) > 10 * len(corpus.val) > 0
    neurona.manual_seed(0)
    for model in (models.CharLM(len(corpus.vocab), 8, 16), models.TransformerLM(len(corpus.vocab), d_model=16,
                                                                                nhead=2, num_layers=1,
                                                                                dim_feedforward=16, max_len=32)):
        run = LM.train_language_model(model, corpus, steps=12, batch_size=4, window=16, eval_every=6, verbose=False)
        assert run.steps == 12 and len(run.history) == 2 and run.tokens == 12 * 4 * 16
        assert 1.0 < run.val_perplexity < len(corpus.vocab) * 2 and math.isfinite(run.history[0]["loss"])
    timed = LM.train_language_model(models.CharLM(len(corpus.vocab), 8, 16), corpus, seconds=0.3, batch_size=4,
                                    window=8, verbose=False)
    assert timed.steps >= 2 and timed.seconds >= 0.3


def test_vit_recipe_runs_and_schedules():
    x, y = fashion_mnist_small("train", as_float=True, layout="NCHW", warn=False)
    neurona.manual_seed(0)
    vit = models.VisionTransformer(28, 7, d_model=16, nhead=2, num_layers=1, dim_feedforward=16)
    run = train_classifier(vit, (x[:256], y[:256]), (x[256:384], y[256:384]), epochs=1, batch_size=64, verbose=0)
    assert 0.0 <= run.test_accuracy <= 1.0 and run.epochs == 1 and "val_accuracy" in run.per_epoch[0]
    sched = WarmupCosine(1.0, total=10, warmup=2)
    assert [round(sched.factor(t), 3) for t in (0, 1, 2, 10)] == [0.5, 1.0, 1.0, 0.0]


@pytest.mark.filterwarnings("ignore:using the small embedded subset")
def test_examples_run_at_toy_sizes(tmp_path):
    r = run_example("number_words", ["--direction", "words2digits", "--train", "200", "--val", "20", "--test", "10",
                                     "--epochs", "1", "--beam-width", "2", "--no-plot", "--out", str(tmp_path)])
    assert set(r) == {"words2digits/rnn", "words2digits/transformer"}
    assert all(0.0 <= v["greedy_exact_match"] <= 1.0 for v in r.values())
    r = run_example("transformer_lm", ["--quick", "--steps", "3", "--generate", "8", "--out", str(tmp_path)])
    assert set(r) == {"LSTM", "Transformer"} and all(v["steps"] == 3 for v in r.values())
    r = run_example("vit_fashion", ["--small", "--train", "128", "--test", "64", "--epochs", "1", "--layers", "1",
                                    "--d-model", "16", "--ff", "16", "--out", str(tmp_path)])
    assert 0.0 <= r["test_accuracy"] <= 1.0


@pytest.mark.slow
@pytest.mark.parametrize("name", ["number_words", "transformer_lm", "vit_fashion"])
def test_examples_quick_mode(name, tmp_path):
    r = run_example(name, ["--quick", "--out", str(tmp_path)])
    assert r
