"""Which language is this word? A character-level recurrent classifier (many-to-one) on Debian's word lists.

    apt-get install wamerican wspanish wfrench witalian wngerman wportuguese wdutch
    python examples/language_id.py                      # 20,000 words per language, bidirectional GRU
    python examples/language_id.py --cell lstm --per-language 40000 --epochs 12
    python examples/language_id.py --quick              # the 2,100-word sample shipped with neurona
    python examples/language_id.py --predict hola hello bonjour ciao hallo olá hallo
    neurona train --model language-id                  # the same task as a run folder (runs/<name>/)

A word is a sequence of characters; an embedding turns each character into a
vector, a GRU (or LSTM) reads them in both directions, and its final states
— taken at each word's true length, padding ignored — are classified into 7
languages. Words found in several lists ("radio", "taxi") are removed, so each
word has one answer; the test words are held out (never seen in training).
Prints the test accuracy, the per-language accuracy and the confusion matrix.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import neurona
from neurona import nn, optim
from neurona.models import SequenceClassifier
from neurona.text import BucketLoader, Vocab, load_word_lists, pad_sequences, stratified_split, words_sample
from neurona.train import LearningRateScheduler, fit, predict


def encode(words, vocab: Vocab, max_len: int):
    return pad_sequences([vocab.encode(w) for w in words], vocab.pad_index, max_len=max_len)


def confusion_matrix(y, p, n):
    m = np.zeros((n, n), np.int64)
    np.add.at(m, (y, p), 1)
    return m


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cell", choices=["gru", "lstm", "rnn"], default="gru")
    ap.add_argument("--per-language", type=int, default=20000)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--embedding-dim", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--max-len", type=int, default=24, help="longer words are cut to this many characters")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="the shipped sample, 3 epochs")
    ap.add_argument("--predict", nargs="*", default=[], help="words to classify after training")
    args = ap.parse_args(argv)

    neurona.manual_seed(args.seed)
    if args.quick:
        words, labels, names = words_sample()
        epochs = 3
    else:
        words, labels, names = load_word_lists(per_language=args.per_language, seed=args.seed)
        epochs = args.epochs
    train_idx, test_idx = stratified_split(labels, 0.2, seed=args.seed)
    train_words = [words[i] for i in train_idx]
    vocab = Vocab.build(train_words)                      # characters seen in training; others → <unk>
    x_train, len_train = encode(train_words, vocab, args.max_len)
    x_test, len_test = encode([words[i] for i in test_idx], vocab, args.max_len)
    y_train, y_test = labels[train_idx], labels[test_idx]
    print(f"{len(words):,} words in {len(names)} languages ({', '.join(names)}), shared words removed; "
          f"{len(train_idx):,} for training, {len(test_idx):,} held out; {len(vocab)} characters", flush=True)

    model = SequenceClassifier(hidden_size=args.hidden, num_classes=len(names), cell=args.cell,
                               bidirectional=True, vocab_size=len(vocab), embedding_dim=args.embedding_dim,
                               padding_idx=vocab.pad_index, dropout=0.1)
    print(f"model: character embedding {args.embedding_dim} → bidirectional {args.cell.upper()} {args.hidden} → "
          f"Linear: {model.num_parameters():,} parameters", flush=True)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    schedule = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    train = BucketLoader(x_train, y_train, len_train, batch_size=args.batch_size, seed=args.seed)
    test = BucketLoader(x_test, y_test, len_test, batch_size=512, shuffle=False)
    start = time.perf_counter()
    fit(model, nn.CrossEntropyLoss(), optimizer, train, val=test, epochs=epochs, verbose=2, clip_grad_norm=5.0,
        callbacks=[LearningRateScheduler(schedule)])
    wall = time.perf_counter() - start

    pred = predict(model, x_test, batch_size=512).argmax(axis=1)
    acc = float((pred == y_test).mean())
    m = confusion_matrix(y_test, pred, len(names))
    w = max(len(n) for n in names)
    print(f"\nconfusion matrix (rows: true language, columns: predicted)\n{'':>{w}s} "
          + " ".join(f"{n[:5]:>6s}" for n in names))
    for n, row in zip(names, m):
        print(f"{n:>{w}s} " + " ".join(f"{v:6d}" for v in row) + f"   {row[names.index(n)] / row.sum():.3f}")
    print(f"\ntest accuracy {acc:.4f} on {len(y_test):,} held-out words (chance {1 / len(names):.3f}); "
          f"training {wall / 60:.1f} min", flush=True)
    if args.predict:
        xp, _ = encode([w.lower() for w in args.predict], vocab, args.max_len)
        probs = neurona.softmax(neurona.tensor(predict(model, xp)), dim=1).array
        for word, p in zip(args.predict, probs):
            top = np.argsort(-p)[:3]
            print(f"{word:>16s}: " + ", ".join(f"{names[k]} {p[k]:.2f}" for k in top))
    return {"test_accuracy": acc, "confusion": m, "languages": names, "wall_s": wall}


if __name__ == "__main__":
    main()
