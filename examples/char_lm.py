"""A character-level language model on Debian's fortunes (many-to-many), and text generated from it
with greedy decoding, temperature sampling and beam search.

    apt-get install fortunes
    python examples/char_lm.py                         # all fortunes (~2.7 M characters), LSTM 256, 3 epochs
    python examples/char_lm.py --epochs 5 --layers 2 --prompt "The computer"
    python examples/char_lm.py --quick                 # the small sample shipped with neurona, 2 epochs
    neurona train --model char-lm                      # the same task as a run folder (runs/<name>/)

The model reads a character and predicts the next one: embedding → LSTM →
softmax over the characters. The text is cut into 64 parallel streams, and
the network is trained on windows of 100 characters with truncated
backpropagation through time: the state is carried from one window to the
next (so it remembers beyond 100 characters) but the gradient stops at the
window boundary. Validation perplexity, exp(mean cross-entropy per
character), is measured on held-out fortunes; a model that knew nothing
would score the vocabulary size, a perfect one 1.
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np

import neurona
from neurona import nn, optim
from neurona.models import CharLM
from neurona.text import (Vocab, batchify, beam_search, fortunes_sample, greedy_decode, load_fortunes, perplexity,
                          sample_decode)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cell", choices=["lstm", "gru"], default="lstm")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--embedding-dim", type=int, default=48)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--streams", type=int, default=64, help="parallel text streams (the batch size)")
    ap.add_argument("--bptt", type=int, default=100, help="window length k of truncated BPTT")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--prompt", default="The ")
    ap.add_argument("--quick", action="store_true", help="the shipped sample, 2 epochs, a small model")
    args = ap.parse_args(argv)

    neurona.manual_seed(args.seed)
    if args.quick:
        texts, _, _ = fortunes_sample()
        args.hidden, args.epochs, args.streams, args.bptt = 64, 2, 8, 40
    else:
        texts, _, _ = load_fortunes()
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(texts))
    n_val = max(len(texts) // 20, 1)
    val_text = "\n\n".join(texts[i] for i in order[:n_val]) + "\n\n"
    train_text = "\n\n".join(texts[i] for i in order[n_val:]) + "\n\n"
    vocab = Vocab.build([train_text], min_freq=1 if args.quick else 20)   # rare characters → <unk>
    train = batchify(vocab.encode(train_text), args.streams)
    val = batchify(vocab.encode(val_text), max(1, min(args.streams, len(val_text) // (4 * args.bptt))))
    print(f"{len(texts):,} fortunes: {len(train_text):,} training and {len(val_text):,} validation characters; "
          f"{len(vocab)} symbols; {args.streams} streams of {train.shape[1]:,}", flush=True)

    model = CharLM(len(vocab), args.embedding_dim, args.hidden, args.layers, args.cell,
                   dropout=0.1 if args.layers > 1 else 0.0)
    print(f"model: embedding {args.embedding_dim} → {args.layers}x{args.cell.upper()} {args.hidden} → Linear "
          f"{len(vocab)}: {model.num_parameters():,} parameters", flush=True)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    ce = nn.CrossEntropyLoss()

    def loss_fn(logits, y):
        return ce(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))

    x_all, y_all = train[:, :-1], train[:, 1:]
    start = time.perf_counter()
    history = []
    state = None
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        for g in opt.param_groups:  # halve the rate after the first epochs
            g["lr"] = args.lr * (0.5 ** max(0, epoch - 1))
        train_loss, state = nn.truncated_bptt(model, loss_fn, opt, x_all, y_all, args.bptt, state=None,
                                              clip_grad_norm=1.0)
        ppl = perplexity(model, val, args.bptt)
        history.append({"train_loss": train_loss, "train_ppl": math.exp(train_loss), "val_ppl": ppl})
        print(f"epoch {epoch + 1}/{args.epochs}: train cross-entropy {train_loss:.3f} (perplexity "
              f"{math.exp(train_loss):.2f}), validation perplexity {ppl:.2f}  [{time.perf_counter() - t0:.0f}s]",
              flush=True)
    wall = time.perf_counter() - start

    prompt = vocab.encode(args.prompt)
    model.eval()
    print(f"\nprompt: {args.prompt!r}")
    out = greedy_decode(model.step, prompt, 200)[0]
    print(f"--- greedy:\n{args.prompt}{''.join(vocab.decode(out))}")
    for T in (0.5, 1.0):
        out = sample_decode(model.step, prompt, 200, temperature=T, generator=args.seed)[0]
        print(f"--- sampled, temperature {T}:\n{args.prompt}{''.join(vocab.decode(out))}")
    best, score = beam_search(model.step, prompt, 80, beam_width=5)[0]
    print(f"--- beam search, width 5 (log-probability {score:.1f}):\n{args.prompt}{''.join(vocab.decode(best))}")
    print(f"\nvalidation perplexity {history[-1]['val_ppl']:.2f} per character; training {wall / 60:.1f} min",
          flush=True)
    return {"history": history, "val_ppl": history[-1]["val_ppl"], "vocab_size": len(vocab), "wall_s": wall}


if __name__ == "__main__":
    main()
