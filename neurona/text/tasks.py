"""The sequence tasks, each one call from data to a trained model and its report: language identification,
a character language model, word2vec and a bag-of-embeddings text classifier.

>>> result = run_task("language-id", task_options("language-id", {"data": "words-sample", "epochs": 2}))
>>> result.metrics["test_accuracy"], result.report        # the figures and the task's text report

They are also ``neurona train`` presets:

    neurona train --model language-id              # which language is a word? (Debian word lists)
    neurona train --model char-lm                  # character language model on the fortunes, then generation
    neurona train --model word2vec                 # skip-gram embeddings of the fortunes (word2vec-cbow: CBOW)
    neurona train --model text-classifier --augment  # fortune categories from the mean word embedding
    neurona train --model seq2seq-rnn              # Spanish number words → digits, LSTM with attention
    neurona train --model seq2seq-transformer --data digits2words   # digits → words, a Transformer
    neurona train --model transformer-lm           # Transformer language model on the fortunes, then generation

``--data`` picks the corpus: ``words`` (the system word lists; the default of
language-id) or ``words-sample`` (the sample shipped with neurona);
``fortunes`` (the installed fortunes; the default of the others) or
``fortunes-sample``; ``words2digits`` (the default) or ``digits2words``, the
direction of the number translation. A missing corpus falls back to its sample, loudly. The
usual flags apply where they mean something: ``--hidden`` (the recurrent
hidden size, ``128,128`` for two layers; the embedding dimension of
word2vec and of the classifier), ``--epochs``, ``--lr``, ``--batch-size``
(for the language model: the number of parallel text streams),
``--dropout``, ``--optimizer``, ``--patience``, ``--val-split``, ``--seed``,
``--clip-grad``, ``--out``, ``--name``, ``--quiet``; ``--augment`` adds two
augmented variants of every training fortune of the text classifier
(random deletion of 20 % of the words and a few random insertions; swaps
would not change a bag of words). Each run writes ``runs/<name>/`` with
``model.npz`` (the vocabulary in its metadata), ``config.json``,
``metrics.json``, ``history.csv`` and a task report (``confusion_matrix.txt``,
``samples.txt`` or ``neighbours.txt``).

``run_task`` trains and returns a :class:`TaskResult` (the model, its
metrics, the metadata to save with it, the history and the report); the
command writes the run folder from it. The same tasks, with more to see, are
the example scripts
``examples/language_id.py``, ``char_lm.py`` and ``word2vec.py``.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .language_model import perplexity

__all__ = ["TASKS", "is_task", "task_options", "run_task", "TaskResult", "SampleCorpusWarning", "perplexity"]

#: preset name → (corpus kind, defaults for the flags the user did not give)
TASKS = {
    "language-id": ("words", {"hidden": [128], "epochs": 10, "lr": 3e-3, "batch_size": 128, "dropout": 0.1,
                              "patience": 3, "val_split": 0.1, "clip_grad": 5.0}),
    "char-lm": ("fortunes", {"hidden": [256], "epochs": 3, "lr": 3e-3, "batch_size": 64, "dropout": 0.0,
                             "clip_grad": 1.0}),
    "word2vec": ("fortunes", {"hidden": [64], "epochs": 5, "lr": 5e-3, "batch_size": 1024}),
    "word2vec-cbow": ("fortunes", {"hidden": [64], "epochs": 5, "lr": 5e-3, "batch_size": 256}),
    "text-classifier": ("fortunes", {"hidden": [64], "epochs": 10, "lr": 5e-3, "batch_size": 64, "patience": 3,
                                     "val_split": 0.1}),
    "seq2seq-rnn": ("numbers", {"hidden": [128], "epochs": 10, "lr": 3e-3, "batch_size": 64, "dropout": 0.0}),
    "seq2seq-transformer": ("numbers", {"hidden": [64], "epochs": 10, "lr": 1e-3, "batch_size": 64,
                                        "dropout": 0.1}),
    "transformer-lm": ("fortunes", {"hidden": [128, 128], "epochs": 1, "lr": 1e-3, "batch_size": 32,
                                    "dropout": 0.0, "clip_grad": 1.0}),
}
_COMMON = {"dropout": 0.0, "optimizer": "adam", "patience": 0, "val_split": 0.1, "seed": 0, "clip_grad": None,
           "augment": False}
#: fortune files used as classes by the text classifier (those installed)
CATEGORIES = ["computers", "food", "law", "love", "medicine", "politics", "science", "sports", "religion", "pets",
              "education", "kids"]
QUERIES = ["computer", "love", "money", "god", "war", "woman", "eat", "science", "law", "happy"]
WORDS_PER_LANGUAGE = 20000
MAX_WORD_LENGTH = 24
MAX_DOCUMENT_WORDS = 200
BPTT = 100
#: the sizes of the number ↔ words data of the seq2seq presets
NUMBERS = {"train": 20000, "val": 1000, "test": 2000}


def is_task(name) -> bool:
    return name in TASKS


class SampleCorpusWarning(UserWarning):
    """The installed corpus was not found: a task trains on the small sample shipped with neurona instead."""


_OPTION_NAMES = ("data", "hidden", "dropout", "epochs", "lr", "batch_size", "seed", "patience", "val_split",
                 "optimizer", "clip_grad", "augment")


def task_options(name: str, given: dict) -> dict:
    """The options of task ``name``: the values of ``given`` that are not None over the task's defaults.

    ``hidden`` is a list of sizes (one per recurrent layer, all equal; the
    embedding size for word2vec and the classifier). Raises ValueError for a
    combination the task cannot run, naming the option.
    """
    if name not in TASKS:
        raise ValueError(f"task_options: unknown task {name!r}; tasks are {', '.join(TASKS)}")
    kind, defaults = TASKS[name]
    o = {**_COMMON, **defaults, "model": name}
    for k in _OPTION_NAMES:
        v = given.get(k)
        if v is not None:
            o[k] = v
    samples = {"words": ("words", "words-sample"), "fortunes": ("fortunes", "fortunes-sample"),
               "numbers": ("words2digits", "digits2words")}[kind]
    o.setdefault("data", samples[0])
    o["hidden"] = [int(h) for h in o["hidden"]]
    if not o["hidden"]:
        raise ValueError(f"hidden: {name} needs a size, e.g. 64")
    if name in ("language-id", "char-lm", "transformer-lm") and len(set(o["hidden"])) > 1:
        raise ValueError(f"hidden: a stack has one size for all its layers, got {o['hidden']}")
    if o["data"] not in samples:
        raise ValueError(f"data {o['data']!r}: the {name} preset trains on {' or '.join(samples)}")
    if o["augment"] and name != "text-classifier":
        raise ValueError(f"augment: text augmentation applies to text-classifier, not {name}")
    if o["epochs"] < 0 or o["patience"] < 0:
        raise ValueError("epochs and patience must be >= 0")
    return o


@dataclass
class TaskResult:
    """What a task run produced: the trained model, its figures and what to save with it.

    ``metrics``: JSON-like figures (test accuracy, perplexity, ...);
    ``meta``: the metadata for the model file (vocabulary, class names,
    input shape); ``history``: a ``History`` or one dict per epoch;
    ``report_name``/``report``: the task's text report (a confusion matrix,
    generated samples or nearest neighbours); ``summary``: its one-line result.
    """

    model: Any
    options: dict
    metrics: dict
    meta: dict
    history: Any
    report_name: str
    report: str
    summary: str


# --- corpora -------------------------------------------------------------------------------------


def _fallback(problem: Exception, what: str) -> None:
    warnings.warn(f"{problem}\nTraining on the SMALL SAMPLE of {what} shipped with neurona instead: figures will be "
                  f"well below the full corpus's.", SampleCorpusWarning, stacklevel=3)


def _words(spec: str, seed: int):
    from ..data import DatasetNotFoundError
    from .datasets import load_word_lists, words_sample

    if spec == "words":
        try:
            return load_word_lists(per_language=WORDS_PER_LANGUAGE, seed=seed), False
        except DatasetNotFoundError as e:
            _fallback(e, "words")
    return words_sample(), True


def _fortunes(spec: str, categories=None):
    from ..data import DatasetNotFoundError
    from .datasets import fortune_categories, fortunes_sample, load_fortunes

    if spec == "fortunes":
        try:
            if categories is None:
                return load_fortunes(), False
            installed = set(fortune_categories())
            return load_fortunes([c for c in categories if c in installed] or None), False
        except DatasetNotFoundError as e:
            _fallback(e, "fortunes")
    return fortunes_sample(), True


# --- shared steps ----------------------------------------------------------------------------------


def _optimizer(o: dict, params):
    from ..optim import create_optimizer

    return create_optimizer(o["optimizer"], params, o["lr"])


def _classifier_callbacks(o: dict, has_val: bool) -> list:
    from ..train import EarlyStopping, TerminateOnNaN

    cbs = [TerminateOnNaN()]
    if o["patience"] and has_val:
        cbs.append(EarlyStopping(monitor="val_accuracy", patience=o["patience"], restore_best_weights=True,
                                 verbose=0))
    return cbs


def _split(labels: np.ndarray, o: dict):
    """(train, validation, test) indices: 20 % held out for testing, ``val_split`` of the rest for validation."""
    from .datasets import stratified_split

    train, test = stratified_split(labels, 0.2, seed=o["seed"])
    val = np.zeros(0, np.int64)
    if o["val_split"] > 0:
        sub_tr, sub_val = stratified_split(labels[train], o["val_split"], seed=o["seed"] + 1)
        train, val = train[sub_tr], train[sub_val]
    return train, val, test


def _confusion_text(cm: np.ndarray, names: list[str]) -> str:
    w = max(len(n) for n in names)
    lines = [f"rows: true class, columns: predicted\n{'':>{w}s} " + " ".join(f"{n[:6]:>6s}" for n in names)
             + "  accuracy"]
    for k, (n, row) in enumerate(zip(names, cm)):
        lines.append(f"{n:>{w}s} " + " ".join(f"{v:6d}" for v in row) + f"  {row[k] / max(row.sum(), 1):.3f}")
    return "\n".join(lines) + "\n"


def _say(log: Callable[[str], None] | None, message: str) -> None:
    if log is not None:
        log(message)


# --- 1. language identification (many-to-one, characters) ------------------------------------------


def _fit_classifier(model, o: dict, train: tuple, val: tuple, test: tuple, num_classes: int, verbose: int):
    """Train a sequence classifier on length-bucketed batches; (history, seconds, test accuracy, confusion)."""
    from .. import nn
    from ..train import fit, predict
    from ..train import metrics as M
    from .vocab import BucketLoader

    x_tr, y_tr, len_tr = train
    x_val, y_val, len_val = val
    loader = BucketLoader(x_tr, y_tr, len_tr, batch_size=o["batch_size"], seed=o["seed"])
    valid = BucketLoader(x_val, y_val, len_val, batch_size=512, shuffle=False) if len(y_val) else None
    start = time.perf_counter()
    history = fit(model, nn.CrossEntropyLoss(), _optimizer(o, model.parameters()), loader, val=valid,
                  epochs=o["epochs"], verbose=verbose, clip_grad_norm=o["clip_grad"],
                  callbacks=_classifier_callbacks(o, valid is not None))
    seconds = time.perf_counter() - start
    out = predict(model, test[0], batch_size=512)
    return (history, seconds, M.accuracy(test[1], out),
            M.confusion_matrix(test[1], out, num_classes=num_classes))


def _language_id(o: dict, log, verbose: int) -> TaskResult:
    from .. import manual_seed
    from ..models import SequenceClassifier
    from .vocab import Vocab, pad_sequences

    (words, labels, names), sample = _words(o["data"], o["seed"])
    tr, val, te = _split(labels, o)
    vocab = Vocab.build([words[i] for i in tr])  # characters seen in training; the others become <unk>

    def encode(idx):
        return pad_sequences([vocab.encode(words[i]) for i in idx], vocab.pad_index, max_len=MAX_WORD_LENGTH)

    (x_tr, len_tr), (x_val, len_val), (x_te, _) = encode(tr), encode(val), encode(te)
    hidden = o["hidden"]
    manual_seed(o["seed"])
    model = SequenceClassifier(hidden_size=hidden[0], num_classes=len(names), cell="gru", num_layers=len(hidden),
                               bidirectional=True, vocab_size=len(vocab), embedding_dim=32,
                               padding_idx=vocab.pad_index, dropout=o["dropout"])
    _say(log, f"data: {len(words):,} words in {len(names)} languages{' (shipped sample)' if sample else ''}, "
              f"shared words removed; {len(tr):,} training, {len(val):,} validation, {len(te):,} test words; "
              f"{len(vocab)} characters\nmodel: character embedding 32 → bidirectional {len(hidden)}x GRU "
              f"{hidden[0]} → Linear, {model.num_parameters():,} parameters")
    history, seconds, acc, cm = _fit_classifier(model, o, (x_tr, labels[tr], len_tr), (x_val, labels[val], len_val),
                                                (x_te, labels[te]), len(names), verbose)
    metrics = {"task": "language identification", "dataset": o["data"], "shipped_sample": sample,
               "test_words": int(len(te)), "test_accuracy": acc, "chance": 1.0 / len(names), "languages": names,
               "confusion_matrix": cm, "epochs_trained": len(history), "train_seconds": round(seconds, 2)}
    meta = {"dataset": o["data"], "task": "classification", "class_names": names, "vocab": vocab.itos,
            "input_shape": [MAX_WORD_LENGTH], "input_dtype": "int64", "epochs_trained": len(history)}
    return TaskResult(model, o, metrics, meta, history, "confusion_matrix.txt", _confusion_text(cm, names),
                      f"test accuracy: {acc:.4f} on {len(te):,} held-out words (chance {1 / len(names):.3f})")


# --- 3. character language model (many-to-many, generation) ---------------------------------------


def _char_lm(o: dict, log, verbose: int) -> TaskResult:
    from .. import manual_seed, nn
    from ..models import CharLM
    from .decoding import beam_search, greedy_decode, sample_decode
    from .vocab import Vocab, batchify

    (texts, _, _), sample = _fortunes(o["data"])
    rng = np.random.default_rng(o["seed"])
    order = rng.permutation(len(texts))
    n_val = max(len(texts) // 20, 1)
    val_text = "\n\n".join(texts[i] for i in order[:n_val]) + "\n\n"
    train_text = "\n\n".join(texts[i] for i in order[n_val:]) + "\n\n"
    vocab = Vocab.build([train_text], min_freq=1 if sample else 20)  # rare characters become <unk>
    streams = int(o["batch_size"])
    k = BPTT if not sample else 40
    train = batchify(vocab.encode(train_text), streams)
    val = batchify(vocab.encode(val_text), max(1, min(streams, len(val_text) // (4 * k))))
    hidden = o["hidden"]
    manual_seed(o["seed"])
    model = CharLM(len(vocab), 48, hidden[0], len(hidden), "lstm", dropout=o["dropout"])
    _say(log, f"data: {len(texts):,} fortunes{' (shipped sample)' if sample else ''}, {len(train_text):,} training "
              f"and {len(val_text):,} validation characters, {len(vocab)} symbols; {streams} streams, truncated "
              f"BPTT every {k} steps\nmodel: embedding 48 → {len(hidden)}x LSTM {hidden[0]} → Linear "
              f"{len(vocab)}, {model.num_parameters():,} parameters")
    opt = _optimizer(o, model.parameters())
    ce = nn.CrossEntropyLoss()

    def loss_fn(logits, y):
        return ce(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))

    rows, start = [], time.perf_counter()
    for epoch in range(o["epochs"]):
        t0 = time.perf_counter()
        for g in opt.param_groups:  # halve the rate after the first epochs
            g["lr"] = o["lr"] * (0.5 ** max(0, epoch - 1))
        loss, _ = nn.truncated_bptt(model, loss_fn, opt, train[:, :-1], train[:, 1:], k, clip_grad_norm=o["clip_grad"])
        ppl = perplexity(model, val, k)
        rows.append({"epoch": epoch + 1, "loss": loss, "perplexity": math.exp(loss), "val_perplexity": ppl})
        if verbose:
            _say(log, f"epoch {epoch + 1}/{o['epochs']}: train cross-entropy {loss:.3f} (perplexity "
                      f"{math.exp(loss):.2f}), validation perplexity {ppl:.2f}  [{time.perf_counter() - t0:.0f}s]")
    seconds = time.perf_counter() - start
    val_ppl = rows[-1]["val_perplexity"] if rows else perplexity(model, val, k)
    prompt_text = "The "
    prompt = vocab.encode(prompt_text)
    model.eval()
    texts_out = {"greedy": greedy_decode(model.step, prompt, 120)[0],
                 "temperature 0.7": sample_decode(model.step, prompt, 120, temperature=0.7, generator=o["seed"])[0]}
    best, score = beam_search(model.step, prompt, 60, beam_width=5)[0]
    texts_out["beam search, width 5"] = best
    samples = "".join(f"--- {how}:\n{prompt_text}{''.join(vocab.decode(ids))}\n" for how, ids in texts_out.items())
    metrics = {"task": "character language model", "dataset": o["data"], "shipped_sample": sample,
               "val_perplexity": val_ppl, "vocab_size": len(vocab), "history": rows, "train_seconds": round(seconds, 2),
               "samples": {how: "".join(vocab.decode(ids)) for how, ids in texts_out.items()}}
    meta = {"dataset": o["data"], "task": "language model", "vocab": vocab.itos, "input_shape": [k],
            "input_dtype": "int64", "epochs_trained": len(rows)}
    return TaskResult(model, o, metrics, meta, rows, "samples.txt", samples,
                      f"validation perplexity: {val_ppl:.2f} per character (vocabulary {len(vocab)})")


# --- 4. word embeddings and a text classifier on them ---------------------------------------------


def _word2vec(o: dict, log, verbose: int) -> TaskResult:
    from .vocab import word_tokenize
    from .word2vec import Word2Vec

    mode = "cbow" if o["model"].endswith("cbow") else "skipgram"
    (texts, _, _), sample = _fortunes(o["data"])
    sentences = [word_tokenize(t) for t in texts]
    w2v = Word2Vec(mode=mode, embedding_dim=o["hidden"][0], window=4, negative=5, min_count=2 if sample else 5,
                   seed=o["seed"])
    _say(log, f"data: {len(sentences):,} fortunes{' (shipped sample)' if sample else ''}, "
              f"{sum(map(len, sentences)):,} words; word2vec {mode}, {o['hidden'][0]} dimensions")
    start = time.perf_counter()
    losses = w2v.fit(sentences, epochs=o["epochs"], batch_size=o["batch_size"], lr=o["lr"], verbose=bool(verbose))
    seconds = time.perf_counter() - start
    queries = [q for q in QUERIES if q in w2v.vocab] or [w2v.vocab.itos[i] for i in range(1, min(6, len(w2v.vocab)))]
    neighbours = {q: w2v.most_similar(q, 6) for q in queries}
    report = "".join(f"{q:>12s}: " + ", ".join(f"{w} {s:.2f}" for w, s in nb) + "\n" for q, nb in neighbours.items())
    metrics = {"task": f"word2vec {mode}", "dataset": o["data"], "shipped_sample": sample, "vocab_size": len(w2v.vocab),
               "loss": losses, "neighbours": {q: [[w, s] for w, s in nb] for q, nb in neighbours.items()},
               "train_seconds": round(seconds, 2)}
    meta = {"dataset": o["data"], "task": "word embeddings", "vocab": w2v.vocab.itos, "epochs_trained": len(losses)}
    rows = [{"epoch": i + 1, "loss": v} for i, v in enumerate(losses)]
    summary = (f"{len(w2v.vocab):,} words; loss {losses[0]:.3f} → {losses[-1]:.3f}" if losses else
               f"{len(w2v.vocab):,} words; not trained (0 epochs)")
    return TaskResult(w2v.model, o, metrics, meta, rows, "neighbours.txt", report, summary)


def _text_classifier(o: dict, log, verbose: int) -> TaskResult:
    from .. import manual_seed
    from ..models import EmbeddingBagClassifier
    from .augment import TextAugmenter
    from .vocab import Vocab, pad_sequences, word_tokenize

    (texts, labels, names), sample = _fortunes(o["data"], CATEGORIES)
    tr, val, te = _split(labels, o)
    docs = [word_tokenize(t) for t in texts]
    train_docs, y_tr = [docs[i] for i in tr], labels[tr]
    vocab = Vocab.build(train_docs, min_freq=1 if sample else 2)
    n_train = len(train_docs)
    if o["augment"]:  # new variants of the training fortunes only; validation and test stay as they are
        # a bag of words ignores order, so swaps would change nothing: random deletion and a few insertions
        aug = TextAugmenter(p_replace=0.0, p_insert=0.05, p_swap=0.0, p_delete=0.2, vocabulary=vocab.itos[2:],
                            seed=o["seed"])
        train_docs, y_tr = aug.augment(train_docs, y_tr, n_aug=2)

    def encode(ds):
        return pad_sequences([vocab.encode(d, skip_unknown=True) for d in ds], vocab.pad_index,
                             max_len=MAX_DOCUMENT_WORDS)

    (x_tr, len_tr), (x_val, len_val), (x_te, _) = encode(train_docs), encode([docs[i] for i in val]), \
        encode([docs[i] for i in te])
    manual_seed(o["seed"])
    model = EmbeddingBagClassifier(len(vocab), o["hidden"][0], len(names), padding_idx=vocab.pad_index)
    _say(log, f"data: {len(texts):,} fortunes in {len(names)} categories{' (shipped sample)' if sample else ''}; "
              f"{n_train:,} training{f' (+{len(train_docs) - n_train:,} augmented)' if o['augment'] else ''}, "
              f"{len(val):,} validation, {len(te):,} test; {len(vocab):,} words\nmodel: EmbeddingBag (mean of "
              f"{o['hidden'][0]}-d word vectors) → Linear, {model.num_parameters():,} parameters")
    history, seconds, acc, cm = _fit_classifier(model, o, (x_tr, y_tr, len_tr), (x_val, labels[val], len_val),
                                                (x_te, labels[te]), len(names), verbose)
    majority = float(np.bincount(labels[te], minlength=len(names)).max() / max(len(te), 1))
    metrics = {"task": "text classification", "dataset": o["data"], "shipped_sample": sample, "categories": names,
               "augmented": bool(o["augment"]), "train_texts": len(train_docs), "test_texts": int(len(te)),
               "test_accuracy": acc, "majority_class": majority, "confusion_matrix": cm,
               "epochs_trained": len(history), "train_seconds": round(seconds, 2)}
    meta = {"dataset": o["data"], "task": "classification", "class_names": names, "vocab": vocab.itos,
            "input_shape": [MAX_DOCUMENT_WORDS], "input_dtype": "int64", "epochs_trained": len(history)}
    return TaskResult(model, o, metrics, meta, history, "confusion_matrix.txt", _confusion_text(cm, names),
                      f"test accuracy: {acc:.4f} on {len(te):,} fortunes (majority class {majority:.3f})")


# --- 5. attention: number words ↔ digits, a Transformer language model ------------------------------


def _number_words(o: dict, log, verbose: int) -> TaskResult:
    from .seq2seq import train_number_translation

    size = o["hidden"][0]
    shape = ({"hidden_size": size} if o["model"] == "seq2seq-rnn" else {"d_model": size, "dim_feedforward": 2 * size})
    _say(log, f"data: Spanish number words ↔ digits ({o['data']}), {NUMBERS['train']:,} training numbers below a "
              f"million, {NUMBERS['test']:,} held out")
    run = train_number_translation(o["model"], o["data"], NUMBERS["train"], NUMBERS["val"], NUMBERS["test"],
                                   epochs=o["epochs"], lr=o["lr"], batch_size=o["batch_size"], seed=o["seed"],
                                   verbose=bool(verbose), dropout=o["dropout"], **shape)
    data = run.data
    lines = [f"exact match on {len(data.numbers['test']):,} held-out numbers: greedy {run.greedy_accuracy:.4f}, "
             f"beam search (width {run.beam_width}) {run.beam_accuracy:.4f}", "", "greedy mistakes (source: expected, got):"]
    lines += [f"  {a!r}: {b!r}, {c!r}" for a, b, c in run.greedy_mistakes] or ["  none"]
    metrics = {"task": "number words translation", **run.summary(), "history": run.history,
               "test_exact_match": run.greedy_accuracy, "test_exact_match_beam": run.beam_accuracy}
    meta = {"dataset": f"numbers-{o['data']}", "task": "translation", "direction": data.direction,
            "src_vocab": data.src_vocab.itos, "tgt_vocab": data.tgt_vocab.itos,
            "input_shape": [[int(data.src["test"].shape[1])], [int(data.tgt["test"].shape[1] - 1)]],
            "input_dtype": "int64", "epochs_trained": len(run.history)}
    return TaskResult(run.model, o, metrics, meta, run.history, "translations.txt", "\n".join(lines) + "\n",
                      lines[0])


def _transformer_lm(o: dict, log, verbose: int) -> TaskResult:
    from .. import manual_seed
    from ..data import DatasetNotFoundError
    from ..models import TransformerLM
    from .decoding import beam_search, greedy_decode, sample_decode
    from .language_model import fortune_corpus, train_language_model

    sample = o["data"] == "fortunes-sample"
    try:
        corpus = fortune_corpus(sample=sample, seed=o["seed"])
    except DatasetNotFoundError as e:
        _fallback(e, "fortunes")
        corpus, sample = fortune_corpus(sample=True, seed=o["seed"]), True
    d, layers = o["hidden"][0], len(o["hidden"])
    manual_seed(o["seed"])
    window = 128 if not sample else 64
    model = TransformerLM(len(corpus.vocab), d_model=d, nhead=4 if d % 4 == 0 else 1, num_layers=layers,
                          dim_feedforward=3 * d, dropout=o["dropout"], max_len=window)
    _say(log, f"data: {corpus}\nmodel: {layers} causal Transformer layers, d_model {d}, 4 heads, "
              f"{model.num_parameters():,} parameters; windows of {window} characters, batches of {o['batch_size']}")
    run = train_language_model(model, corpus, epochs=o["epochs"], lr=o["lr"], batch_size=o["batch_size"],
                               window=window, clip_grad_norm=o["clip_grad"] or 1.0, seed=o["seed"],
                               verbose=bool(verbose))
    prompt_text = "The "
    prompt = corpus.vocab.encode(prompt_text)
    texts_out = {"greedy": greedy_decode(model.step, prompt, 120)[0],
                 "temperature 0.7": sample_decode(model.step, prompt, 120, temperature=0.7, generator=o["seed"])[0]}
    texts_out["beam search, width 5"] = beam_search(model.step, prompt, 60, beam_width=5)[0][0]
    samples = "".join(f"--- {how}:\n{prompt_text}{''.join(corpus.vocab.decode(ids))}\n"
                      for how, ids in texts_out.items())
    metrics = {"task": "character language model (Transformer)", "dataset": o["data"], "shipped_sample": sample,
               "val_perplexity": run.val_perplexity, "vocab_size": len(corpus.vocab), "history": run.history,
               "steps": run.steps, "train_seconds": round(run.seconds, 2),
               "samples": {how: "".join(corpus.vocab.decode(ids)) for how, ids in texts_out.items()}}
    meta = {"dataset": o["data"], "task": "language model", "vocab": corpus.vocab.itos, "input_shape": [window],
            "input_dtype": "int64", "epochs_trained": o["epochs"]}
    return TaskResult(model, o, metrics, meta, run.history, "samples.txt", samples,
                      f"validation perplexity: {run.val_perplexity:.2f} per character (vocabulary {len(corpus.vocab)})")


_RUNNERS = {"language-id": _language_id, "char-lm": _char_lm, "word2vec": _word2vec, "word2vec-cbow": _word2vec,
            "text-classifier": _text_classifier, "seq2seq-rnn": _number_words, "seq2seq-transformer": _number_words,
            "transformer-lm": _transformer_lm}


def run_task(name: str, options: dict | None = None, *, verbose: int = 2,
             log: Callable[[str], None] | None = print) -> TaskResult:
    """Train task ``name`` with ``options`` (from :func:`task_options`; its defaults when None).

    ``log`` receives the description of the data and the model (and, for
    the language model, one line per epoch); ``verbose`` is ``fit``'s
    (0 silent, 2 one line per epoch). A missing corpus falls back to the
    shipped sample with a :class:`SampleCorpusWarning`.
    """
    o = task_options(name, {}) if options is None else options
    return _RUNNERS[name](o, log if verbose else None, int(verbose))
