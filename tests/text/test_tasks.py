"""The four sequence tasks on small slices (shipped samples, 1-3 epochs): the models learn, and the
example scripts run end to end in their --quick mode."""
from __future__ import annotations

import importlib.util
import math
import os
import warnings

import numpy as np
import pytest

import neurona
from neurona import nn, optim
from neurona.models import CharLM, EmbeddingBagClassifier, SequenceClassifier
from neurona.text import (BucketLoader, Vocab, batchify, fortunes_sample, pad_sequences, stratified_split,
                          word_tokenize, words_sample)
from neurona.train import fit, predict

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def run_example(name: str, argv):
    spec = importlib.util.spec_from_file_location(f"example_{name}", os.path.join(EXAMPLES, f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main(argv)


def test_language_id_learns_on_the_sample():
    neurona.manual_seed(0)
    words, labels, names = words_sample()
    tr, te = stratified_split(labels, 0.2, seed=0)
    vocab = Vocab.build([words[i] for i in tr])
    x, lengths = pad_sequences([vocab.encode(w) for w in words], vocab.pad_index)
    model = SequenceClassifier(hidden_size=48, num_classes=len(names), cell="gru", vocab_size=len(vocab),
                               embedding_dim=16, padding_idx=vocab.pad_index)
    hist = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-2),
               BucketLoader(x[tr], labels[tr], lengths[tr], batch_size=64, seed=0), epochs=3, verbose=0)
    pred = predict(model, x[te]).argmax(axis=1)
    assert hist["loss"][-1] < hist["loss"][0]
    assert (pred == labels[te]).mean() > 0.35                        # chance is 1/7


def test_language_id_final_state_ignores_padding():
    neurona.manual_seed(0)
    model = SequenceClassifier(hidden_size=8, num_classes=3, cell="lstm", vocab_size=10, embedding_dim=4,
                               bidirectional=True)
    model.eval()
    a = model(np.array([[3, 4, 5, 0, 0, 0]]))
    b = model(np.array([[3, 4, 5]]))
    np.testing.assert_allclose(a.array, b.array, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_fashion_rows_learn_on_a_slice(cell):
    from neurona.data import fashion_mnist_small
    neurona.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x, y = fashion_mnist_small("train", as_float=True, layout="NHW")
    x = ((x - x.mean()) / x.std()).astype(np.float32)[:1024]
    y = y[:1024]
    model = SequenceClassifier(28, 64, 10, cell=cell)
    hist = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=3e-3), (x, y), epochs=1,
               batch_size=64, seed=0, verbose=0)
    assert hist["accuracy"][-1] > 0.3
    acc = (predict(model, x).argmax(1) == y).mean()
    assert acc > 0.4


def test_char_lm_perplexity_drops_with_truncated_bptt():
    neurona.manual_seed(0)
    texts, _, _ = fortunes_sample()
    text = "\n\n".join(texts)
    vocab = Vocab.build([text])
    streams = batchify(vocab.encode(text), 16)[:, :801]
    model = CharLM(len(vocab), 16, 48)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    ce = nn.CrossEntropyLoss()

    def loss_fn(logits, y):
        return ce(logits.reshape(-1, len(vocab)), y.reshape(-1))

    first, state = nn.truncated_bptt(model, loss_fn, opt, streams[:, :-1], streams[:, 1:], k=40)
    last, state = nn.truncated_bptt(model, loss_fn, opt, streams[:, :-1], streams[:, 1:], k=40, state=state)
    assert math.exp(last) < math.exp(first) and math.exp(last) < 0.35 * len(vocab)
    assert isinstance(state, tuple) and state[0].shape == (1, 16, 48)
    out = model.generate(vocab.encode("The "), 20, method="sample", temperature=0.7, seed=0)
    assert len(out) == 20


def test_embedding_bag_classifier_on_fortune_categories():
    neurona.manual_seed(0)
    texts, labels, names = fortunes_sample()
    docs = [word_tokenize(t) for t in texts]
    vocab = Vocab.build(docs, min_freq=1)
    x, lengths = pad_sequences([vocab.encode(d) for d in docs], vocab.pad_index)
    model = EmbeddingBagClassifier(len(vocab), 16, len(names), padding_idx=vocab.pad_index)
    hist = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=2e-2),
               BucketLoader(x, labels, lengths, batch_size=32, seed=0), epochs=5, verbose=0)
    assert hist["loss"][-1] < 0.6 * hist["loss"][0]
    assert (predict(model, x).argmax(1) == labels).mean() > 0.7      # fits its training set


@pytest.mark.parametrize("name, argv", [
    ("language_id", ["--quick", "--predict", "hola"]),
    ("char_lm", ["--quick"]),
    ("word2vec", ["--quick", "--query", "love"]),
    ("fashion_rows_rnn", ["--quick", "--cell", "gru"]),
])
def test_examples_run_quick(name, argv, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run_example(name, argv)
    assert isinstance(result, dict)
    out = capsys.readouterr().out
    assert "accuracy" in out or "perplexity" in out
    if name == "word2vec":  # the classifier trained on augmented fortunes is measured beside the others
        assert 0.0 <= result["acc_augmented"] <= 1.0 and "2 augmented copies" in out
