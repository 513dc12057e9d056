"""A Transformer language model on the fortunes against the LSTM of char_lm.py, at about the same
number of parameters and the same training time; then text from both with greedy decoding,
temperature sampling and beam search.

    apt-get install fortunes
    python examples/transformer_lm.py                    # 5 minutes of training each (about 12 min in all)
    python examples/transformer_lm.py --minutes 10 --prompt "The computer"
    python examples/transformer_lm.py --quick            # the shipped sample, 20 s each

Both models read characters and predict the next one. The LSTM (embedding
48, 256 units) reads 64 parallel streams of the text in windows of 100
characters, carrying its state (truncated BPTT). The Transformer (2 causal
layers, d_model 128, 4 heads) learns from windows of 128 characters cut at
random places. Each trains for the same time, with Adam, a warm-up and a
cosine decay of the learning rate over that time; the two take turns in
slices of a few seconds, so that on a shared machine both see the same load.
Validation perplexity reads the held-out fortunes in order, the LSTM with its
carried state and the Transformer with the preceding characters as context.
"""
from __future__ import annotations

import argparse
import json
import os

import neurona
from neurona.models import CharLM, TransformerLM
from neurona.text import beam_search, greedy_decode, sample_decode
from neurona.text.language_model import LanguageModelTrainer, fortune_corpus


def generate(model, vocab, prompt: str, seed: int, n: int = 160) -> dict:
    ids = vocab.encode(prompt)
    out = {"greedy": greedy_decode(model.step, ids, n)[0]}
    for T in (0.5, 1.0):
        out[f"sampled, temperature {T}"] = sample_decode(model.step, ids, n, temperature=T, generator=seed)[0]
    best, score = beam_search(model.step, ids, max(1, n // 2), beam_width=5)[0]
    out["beam search, width 5"] = best
    return {k: prompt + "".join(vocab.decode(v)) for k, v in out.items()}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=5.0, help="training time of each model")
    ap.add_argument("--steps", type=int, default=None, help="a fixed number of steps for both instead of a time")
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--ff", type=int, default=384, help="the Transformer's feed-forward width")
    ap.add_argument("--hidden", type=int, default=256, help="the LSTM's units")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--prompt", default="The ")
    ap.add_argument("--generate", type=int, default=160, help="characters generated after the prompt")
    ap.add_argument("--out", default="runs/transformer_lm")
    ap.add_argument("--quick", action="store_true", help="the shipped sample, small models, 20 s each")
    args = ap.parse_args(argv)
    if args.quick:
        args.minutes, args.d_model, args.ff, args.hidden = 1 / 3, 64, 128, 96
    corpus = fortune_corpus(sample=args.quick, seed=args.seed)
    print(corpus, flush=True)
    V = len(corpus.vocab)
    neurona.manual_seed(args.seed)
    models = {
        "LSTM": CharLM(V, 48, args.hidden, 1, "lstm"),
        "Transformer": TransformerLM(V, d_model=args.d_model, nhead=args.heads, num_layers=args.layers,
                                     dim_feedforward=args.ff, dropout=0.0 if not args.quick else 0.1, max_len=128),
    }
    kw = {"steps": args.steps} if args.steps else {"seconds": 60 * args.minutes}
    trainers = {}
    for name, model in models.items():
        print(f"{name}: {model.num_parameters():,} parameters", flush=True)
        extra = {"window": 40 if name == "LSTM" else 64, "batch_size": 8} if args.quick else {}
        trainers[name] = LanguageModelTrainer(model, corpus, seed=args.seed, **kw, **extra)
    # the two take turns, a slice each: on a shared machine both see the same load
    slice_s = max(1.0, min(20.0, 60 * args.minutes / 10))
    while not all(t.done for t in trainers.values()):
        for t in trainers.values():
            if args.steps:
                t.train_for(steps=max(1, args.steps // 10))
            else:
                t.train_for(seconds=slice_s)
        print(f"  {', '.join(f'{n} {t.step_count} steps in {t.seconds:.0f} s' for n, t in trainers.items())}",
              flush=True)
    results = {}
    for name, t in trainers.items():
        run = t.result()
        texts = generate(t.model, corpus.vocab, args.prompt, args.seed, args.generate)
        results[name] = {"parameters": t.model.num_parameters(), "steps": run.steps,
                         "train_seconds": round(run.seconds), "characters_read": run.tokens,
                         "epochs": round(run.tokens / len(corpus.train), 2),
                         "val_perplexity": round(run.val_perplexity, 3), "text": texts}
        print(f"\n{name}: validation perplexity {run.val_perplexity:.3f}")
        for k, v in texts.items():
            print(f"--- {k}:\n{v}")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2, ensure_ascii=False)
    print(f"\nvalidation perplexity per character ({V} symbols):")
    for name, r in results.items():
        print(f"  {name:12s} {r['val_perplexity']:.3f}   {r['parameters']:,} parameters, {r['steps']} steps "
              f"({r['epochs']} epochs), {r['train_seconds']} s")
    return results


if __name__ == "__main__":
    main()
