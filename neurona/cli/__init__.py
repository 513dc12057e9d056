"""The ``neurona`` command: train, evaluate, predict, inspect, compare and compress networks.

    neurona train                                  # MLP 784-300-100-10 ReLU, Adam 1e-3, batch 128, Fashion-MNIST
    neurona train --data spiral --hidden 32,32 --epochs 100
    neurona train --resume runs/<name> --epochs 30 # continue a run from its last checkpoint
    neurona evaluate runs/<name> [--data ...]
    neurona predict runs/<name> --input shirt.png | rows.csv | arrays.npz
    neurona info runs/<name>/model.npz
    neurona compare --optimizers sgd,momentum,adam,rmsprop
    neurona compare --activations relu,tanh,sigmoid
    neurona boundary --data spiral
    neurona lr-find --optimizer sgd
    neurona prune | quantize | distill ...         # model compression

The package sits on top of the library and nothing in the library imports
it. ``main.py`` builds the parser from one module per command (``train.py``,
``evaluate.py``, ...) and holds the one error path (``errors.py`` says which
exceptions are the user's); the commands share ``options.py`` (flags, their
checks and defaults), ``build.py`` (data, model, optimizer, loaders for the
commands that train), ``trained.py`` (a model file, its data, the scale of
its inputs), ``runs.py`` (run folders and JSON) and ``output.py`` (messages,
exit statuses).
"""
from .main import COMMANDS, build_parser, main
from .output import CLIError

__all__ = ["main", "build_parser", "COMMANDS", "CLIError"]
