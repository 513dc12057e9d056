"""``neurona train --model language-id | char-lm | word2vec | word2vec-cbow | text-classifier | seq2seq-rnn |
seq2seq-transformer | transformer-lm`` on the shipped samples (or small number data), a few epochs each: the run
folder, the saved model and vocabulary, and the figures of each task."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from neurona import cli, io, models
from neurona.text import Vocab, pad_sequences
from neurona.text.word2vec import SkipGram


def _train(tmp_path, model, *extra):
    argv = ["train", "--model", model, "--out", str(tmp_path), "--name", "run", "--quiet", *extra]
    assert cli.main(argv) == 0
    run = tmp_path / "run"
    return run, json.loads((run / "metrics.json").read_text())


def _history(run):
    return list(csv.DictReader(open(run / "history.csv")))


def test_language_id_preset(tmp_path):
    run, m = _train(tmp_path, "language-id", "--data", "words-sample", "--epochs", "2", "--hidden", "32,32")
    assert m["shipped_sample"] and m["test_words"] == 420 and m["test_accuracy"] > 2 * m["chance"]
    cm = np.array(m["confusion_matrix"])
    assert cm.shape == (7, 7) and cm.sum() == 420 and np.trace(cm) == round(m["test_accuracy"] * 420)
    assert "rows: true class" in (run / "confusion_matrix.txt").read_text()
    assert len(_history(run)) == 2
    f = io.read_model_file(run / "model.npz")
    model = f.build()
    assert isinstance(model, models.SequenceClassifier) and model.rnn.num_layers == 2 and model.rnn.bidirectional
    vocab = Vocab(f.metadata["vocab"])
    ids, _ = pad_sequences([vocab.encode("bonjour")], vocab.pad_index)
    assert model.eval()(ids).shape == (1, 7)
    assert f.metadata["class_names"][1] == "spanish" and f.metadata["input_dtype"] == "int64"


def test_char_lm_preset_generates_text(tmp_path):
    run, m = _train(tmp_path, "char-lm", "--data", "fortunes-sample", "--epochs", "2", "--hidden", "32",
                    "--batch-size", "8")
    rows = _history(run)
    assert [r["epoch"] for r in rows] == ["1", "2"] and float(rows[1]["loss"]) < float(rows[0]["loss"])
    assert 1.0 < m["val_perplexity"] < 0.5 * m["vocab_size"]
    assert set(m["samples"]) == {"greedy", "temperature 0.7", "beam search, width 5"}
    assert all(len(t) > 0 for t in m["samples"].values())
    assert (run / "samples.txt").read_text().count("--- ") == 3
    lm = io.load(run / "model.npz")
    assert isinstance(lm, models.CharLM) and lm.rnn.hidden_size == 32


@pytest.mark.parametrize("preset, mode", [("word2vec", "skipgram"), ("word2vec-cbow", "cbow")])
def test_word2vec_presets(tmp_path, preset, mode):
    run, m = _train(tmp_path, preset, "--data", "fortunes-sample", "--epochs", "2", "--hidden", "16")
    assert m["task"] == f"word2vec {mode}" and len(m["loss"]) == 2
    assert "love" in m["neighbours"] and len(m["neighbours"]["love"]) == 6
    assert "love:" in (run / "neighbours.txt").read_text()
    f = io.read_model_file(run / "model.npz")
    tables = f.build()
    assert f.model_name == mode and tables.in_embed.weight.shape == (m["vocab_size"], 16)
    assert f.metadata["vocab"][0] == "<pad>" and len(f.metadata["vocab"]) == m["vocab_size"]
    if mode == "skipgram":
        assert isinstance(tables, SkipGram)


@pytest.mark.parametrize("augment", [False, True])
def test_text_classifier_preset(tmp_path, augment):
    extra = ["--augment"] if augment else []
    run, m = _train(tmp_path, "text-classifier", "--data", "fortunes-sample", "--epochs", "3", "--hidden", "16",
                    "--patience", "0", *extra)
    assert m["augmented"] is augment and m["test_texts"] == 48 and 0.0 <= m["test_accuracy"] <= 1.0
    assert m["train_texts"] == (3 * 174 if augment else 174)       # originals + 2 variants each, training only
    model = io.load(run / "model.npz")
    assert isinstance(model, models.EmbeddingBagClassifier) and model.fc.out_features == len(m["categories"])


@pytest.mark.parametrize("argv, message", [
    (["--model", "char-lm", "--data", "fashion-mnist"], "trains on fortunes or fortunes-sample"),
    (["--model", "language-id", "--data", "words-sample", "--augment"], "applies to text-classifier"),
    (["--model", "language-id", "--data", "words-sample", "--hidden", "32,16"], "one size"),
])
def test_preset_errors(tmp_path, capsys, argv, message):
    assert cli.main(["train", *argv, "--out", str(tmp_path), "--quiet"]) == 1
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("preset, direction", [("seq2seq-rnn", "words2digits"), ("seq2seq-transformer", "digits2words")])
def test_number_words_presets(tmp_path, monkeypatch, preset, direction):
    from neurona.text import tasks

    monkeypatch.setattr(tasks, "NUMBERS", {"train": 200, "val": 20, "test": 10})
    run, m = _train(tmp_path, preset, "--data", direction, "--epochs", "1", "--hidden", "32")
    assert m["direction"] == direction and m["sizes"] == {"train": 200, "val": 20, "test": 10}
    assert 0.0 <= m["test_exact_match"] <= 1.0 and 0.0 <= m["test_exact_match_beam"] <= 1.0
    assert "exact match on 10 held-out numbers" in (run / "translations.txt").read_text()
    f = io.read_model_file(run / "model.npz")
    model = f.build()
    assert f.model_name == preset and f.metadata["direction"] == direction
    assert len(f.metadata["src_vocab"]) == model.config["src_vocab"] and len(_history(run)) == 1
    assert cli.main(["info", str(run / "model.npz")]) == 0


def test_transformer_lm_preset(tmp_path):
    run, m = _train(tmp_path, "transformer-lm", "--data", "fortunes-sample", "--epochs", "1", "--hidden", "16",
                    "--batch-size", "8")
    assert 1.0 < m["val_perplexity"] < 2 * m["vocab_size"] and m["steps"] >= 1
    assert (run / "samples.txt").read_text().count("--- ") == 3
    lm = io.load(run / "model.npz")
    assert isinstance(lm, models.TransformerLM) and lm.config["d_model"] == 16 and lm.config["num_layers"] == 1


@pytest.mark.slow
def test_vit_trains_through_the_generic_command(tmp_path):
    argv = ["train", "--model", "vit", "--data", "fashion-mnist-small", "--epochs", "1", "--hidden", "16",
            "--out", str(tmp_path), "--name", "vit", "--quiet"]
    assert cli.main(argv) == 0
    model = io.load(tmp_path / "vit" / "model.npz")
    assert isinstance(model, models.VisionTransformer) and model.config["patch_size"] == 7
