"""``neurona train --model language-id | char-lm | word2vec | word2vec-cbow | text-classifier | seq2seq-rnn |
seq2seq-transformer | transformer-lm``: the sequence tasks of :mod:`neurona.text.tasks`, run from the command's
flags and written to a run folder."""
from __future__ import annotations


from .. import io
from ..text.tasks import TASKS, run_task, task_options
from .options import parse_ints
from .output import CLIError, say
from .runs import RunFolder, new_run_dir, timestamp, write_rows

__all__ = ["is_task", "train"]

_FLAGS = ("data", "hidden", "dropout", "epochs", "lr", "batch_size", "seed", "patience", "val_split", "optimizer",
          "clip_grad", "augment")


def is_task(name) -> bool:
    return name in TASKS


def train(args) -> int:
    """Train the task named by ``--model`` and write ``runs/<name>/``."""
    if getattr(args, "resume", None):
        raise CLIError(f"--resume is not available for the {args.model} preset; start a new run")
    given = {k: getattr(args, k, None) for k in _FLAGS}
    if isinstance(given["hidden"], str):
        given["hidden"] = parse_ints(given["hidden"], "--hidden")
    try:
        o = task_options(args.model, given)
    except ValueError as e:  # the options name the flag without its dashes
        raise CLIError(f"--{str(e).replace('_', '-')}") from None
    quiet = bool(args.quiet)
    run = new_run_dir(args.out, args.name, f"{o['model']}-{o['data']}")
    result = run_task(args.model, o, verbose=0 if quiet else 2, log=print)  # the folder is made once it is done
    with RunFolder(run) as folder:
        folder.write_json("config.json", {"command": "train", "options": o, "created": timestamp()})
        test = {k: v for k, v in result.metrics.items() if k.startswith(("test_", "val_"))}
        io.save(result.model, folder.file("model.npz"), **result.meta, options=o, test=test)
        folder.write_json("metrics.json", result.metrics)
        if isinstance(result.history, list):
            write_rows(folder.file("history.csv"), result.history)
        else:
            result.history.to_csv(folder.file("history.csv"))
        with io.atomic_write(folder.file(result.report_name), "w", encoding="utf-8") as f:
            f.write(result.report)
        folder.keep()
    print(result.summary)
    say(result.report.rstrip("\n"), quiet)
    print(f"run files in {run}/: model.npz, config.json, metrics.json, history.csv, {result.report_name}")
    return 0
