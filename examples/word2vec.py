"""Word embeddings with word2vec (CBOW and skip-gram, negative sampling) on Debian's fortunes, nearest
neighbours by cosine similarity, and a text classifier built on EmbeddingBag.

    apt-get install fortunes
    python examples/word2vec.py                      # skip-gram and CBOW on all fortunes (10 epochs), then a classifier
    python examples/word2vec.py --dim 100 --epochs 8 --query computer love money war
    python examples/word2vec.py --quick              # the small sample shipped with neurona
    neurona train --model word2vec | word2vec-cbow | text-classifier   # each part as a run folder

Part 1 trains both word2vec variants on the fortunes (each fortune is a
sentence list of lower-cased words) and prints the nearest neighbours of a
few words. Part 2 classifies fortunes by their category (computers, food,
love, ...) with the simplest neural text classifier: the mean of the word
embeddings of a fortune (an EmbeddingBag) followed by a Linear layer; once
from random embeddings, once starting from the skip-gram vectors, and once
more from the skip-gram vectors with the training fortunes augmented
(the notes' "aumento de datos" for text): ``--augment`` variants of each
training fortune, with words replaced by their nearest skip-gram
neighbours, random insertions, swaps and deletions. The test fortunes are
never augmented.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import neurona
from neurona import nn, optim
from neurona.models import EmbeddingBagClassifier
from neurona.text import (BucketLoader, Word2Vec, fortune_categories, fortunes_sample, load_fortunes, pad_sequences,
                          stratified_split, word_tokenize)
from neurona.text.augment import TextAugmenter, embedding_neighbours
from neurona.train import fit, predict

QUERIES = ["computer", "love", "money", "god", "war", "woman", "eat", "science", "law", "happy"]
CATEGORIES = ["computers", "food", "law", "love", "medicine", "politics", "science", "sports", "religion",
              "pets", "education", "kids"]


def classify(train_docs, y_train, test_docs, y_test, vocab, names, dim, epochs, init=None, seed=0, augmenter=None,
             copies=0):
    """Train an EmbeddingBag classifier; return its test accuracy and predictions.

    Each document is its padded word ids (padding left out of the bag's mean), batched by length.
    With an ``augmenter``, the training documents get ``copies`` augmented variants each."""
    neurona.manual_seed(seed)
    if augmenter is not None:
        train_docs, y_train = augmenter.augment(train_docs, y_train, n_aug=copies)
    model = EmbeddingBagClassifier(len(vocab), dim, len(names), padding_idx=vocab.pad_index)
    if init is not None:
        model.embedding.weight.array[...] = init
    x_tr, len_tr = pad_sequences([vocab.encode(d, skip_unknown=True) for d in train_docs], vocab.pad_index, max_len=200)
    x_te, _ = pad_sequences([vocab.encode(d, skip_unknown=True) for d in test_docs], vocab.pad_index, max_len=200)
    train = BucketLoader(x_tr, y_train, len_tr, batch_size=64, seed=seed)
    fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=5e-3), train, epochs=epochs, verbose=0)
    pred = predict(model, x_te).argmax(axis=1)
    return float((pred == y_test).mean()), pred


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--window", type=int, default=4)
    ap.add_argument("--negative", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--min-count", type=int, default=5)
    ap.add_argument("--query", nargs="*", default=QUERIES)
    ap.add_argument("--augment", type=int, default=2, help="augmented variants of each training fortune (0: none)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="the shipped sample, 2 epochs")
    args = ap.parse_args(argv)

    if args.quick:
        texts, labels, names = fortunes_sample()
        args.epochs, args.min_count = 2, 2
        corpus = texts
    else:
        corpus, _, _ = load_fortunes()
        installed = set(fortune_categories())
        texts, labels, names = load_fortunes([c for c in CATEGORIES if c in installed])
    sentences = [word_tokenize(t) for t in corpus]
    print(f"corpus: {len(sentences):,} fortunes, {sum(map(len, sentences)):,} words", flush=True)

    results = {}
    for mode in ("skipgram", "cbow"):
        t0 = time.perf_counter()
        w2v = Word2Vec(mode=mode, embedding_dim=args.dim, window=args.window, negative=args.negative,
                       min_count=args.min_count, seed=args.seed)
        # CBOW makes one example per position, skip-gram one per (position, neighbour): smaller CBOW batches
        history = w2v.fit(sentences, epochs=args.epochs, batch_size=1024 if mode == "skipgram" else 256, lr=5e-3)
        print(f"{mode}: {len(w2v.vocab):,} words, loss {history[0]:.3f} → {history[-1]:.3f}, "
              f"{time.perf_counter() - t0:.0f}s")
        for q in args.query:
            if q in w2v.vocab:
                near = ", ".join(f"{w} {s:.2f}" for w, s in w2v.most_similar(q, 6))
                print(f"  {q:>10s}: {near}")
        results[mode] = w2v
        print(flush=True)

    # --- part 2: EmbeddingBag text classifier on the fortune categories ---
    docs = [word_tokenize(t) for t in texts]
    train_idx, test_idx = stratified_split(labels, 0.2, seed=args.seed)
    vocab = results["skipgram"].vocab                     # <pad> = 0, then the word2vec words
    tr_docs, te_docs = [docs[i] for i in train_idx], [docs[i] for i in test_idx]
    y_tr, y_te = labels[train_idx], labels[test_idx]
    print(f"classifier: {len(names)} categories ({', '.join(names)}); {len(tr_docs):,} training and "
          f"{len(te_docs):,} test fortunes; majority class {np.bincount(y_te).max() / len(y_te):.3f}")
    epochs = 3 if args.quick else 10
    acc_rand, _ = classify(tr_docs, y_tr, te_docs, y_te, vocab, names, args.dim, epochs, seed=args.seed)
    vecs = results["skipgram"].vectors
    init = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-8) * 0.5
    acc_w2v, pred = classify(tr_docs, y_tr, te_docs, y_te, vocab, names, args.dim, epochs, init=init,
                             seed=args.seed)
    acc_aug = None
    if args.augment:
        synonyms = embedding_neighbours(vecs, vocab.itos, k=3, min_similarity=0.6)
        augmenter = TextAugmenter(synonyms, p_replace=0.15, p_insert=0.05, p_swap=0.05, p_delete=0.05,
                                  vocabulary=vocab.itos[1:], seed=args.seed)
        acc_aug, pred = classify(tr_docs, y_tr, te_docs, y_te, vocab, names, args.dim, epochs, init=init,
                                 seed=args.seed, augmenter=augmenter, copies=args.augment)
        print(f"augmentation: {len(synonyms):,} words with skip-gram neighbours as synonyms, e.g. "
              + "; ".join(f"{w} → {', '.join(s)}" for w, s in list(synonyms.items())[:3]))
    print(f"test accuracy: random embeddings {acc_rand:.4f}, skip-gram embeddings {acc_w2v:.4f}"
          + (f", skip-gram + {args.augment} augmented copies {acc_aug:.4f}" if acc_aug is not None else ""))
    m = np.zeros((len(names), len(names)), np.int64)
    np.add.at(m, (y_te, pred), 1)
    w = max(len(n) for n in names)
    print(f"{'':>{w}s} " + " ".join(f"{n[:5]:>5s}" for n in names))
    for n, row in zip(names, m):
        print(f"{n:>{w}s} " + " ".join(f"{v:5d}" for v in row))
    return {"word2vec": results, "acc_random": acc_rand, "acc_word2vec": acc_w2v, "acc_augmented": acc_aug}


if __name__ == "__main__":
    main()
