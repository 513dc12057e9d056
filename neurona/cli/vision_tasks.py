"""``neurona train --model unet | grid-detector | conv-autoencoder | vae | dcgan``: the vision tasks of
:mod:`neurona.vision.tasks` (segmentation and detection of Fashion-MNIST scenes, autoencoders, a DCGAN), run
from the command's flags and written to a run folder."""
from __future__ import annotations

from pathlib import Path

from .. import io
from ..vision.tasks import TASKS, run_task, task_options, write_figures
from .options import parse_ints
from .output import CLIError, plots_skipped, say
from .runs import RunFolder, new_run_dir, timestamp, write_rows

__all__ = ["is_task", "train"]

_FLAGS = ("data", "hidden", "epochs", "lr", "batch_size", "seed", "optimizer")


def is_task(name) -> bool:
    return name in TASKS


def train(args) -> int:
    """Train the task named by ``--model`` and write ``runs/<name>/``."""
    if getattr(args, "resume", None):
        raise CLIError(f"--resume is not available for the {args.model} preset; start a new run")
    given = {k: getattr(args, k, None) for k in _FLAGS}
    # --samples: the training scenes of unet / grid-detector, the first N images for the others
    given["train_size" if args.model in ("unet", "grid-detector") else "limit"] = getattr(args, "samples", None)
    if isinstance(given["hidden"], str):
        given["hidden"] = parse_ints(given["hidden"], "--hidden")
    try:
        o = task_options(args.model, given)
    except ValueError as e:  # the options name the flag without its dashes
        raise CLIError(f"--{str(e).replace('_', '-')}") from None
    quiet = bool(args.quiet)
    run = new_run_dir(args.out, args.name, f"{o['model']}-{o['data']}")
    result = run_task(args.model, o, log=None if quiet else print)  # the folder is made once it is done
    files = ["model.npz"]
    with RunFolder(run) as folder:
        folder.write_json("config.json", {"command": "train", "options": o, "created": timestamp()})
        test = {k: v for k, v in result.metrics.items() if k.startswith("test_") and isinstance(v, float)}
        io.save(result.model, folder.file("model.npz"), **result.meta, options=o, test=test)
        for name, other in result.models.items():
            io.save(other, folder.file(f"{name}.npz"), dataset=result.meta["dataset"], task=name, options=o)
            files.append(f"{name}.npz")
        folder.write_json("metrics.json", result.metrics)
        write_rows(folder.file("history.csv"), result.history)
        with io.atomic_write(folder.file(result.report_name), "w", encoding="utf-8") as f:
            f.write(result.report)
        figures = write_figures(args.model, result, folder.path)
        folder.keep()
    if not figures:
        plots_skipped("matplotlib is not installed (pip install 'neurona[plot]')", quiet)
    print(result.summary)
    say(result.report.rstrip("\n"), quiet)
    files += ["config.json", "metrics.json", "history.csv", result.report_name] + [Path(f).name for f in figures]
    print(f"run files in {run}/: {', '.join(files)}")
    return 0
