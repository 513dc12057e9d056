"""``neurona playground``: the notes' TensorFlow Playground demo in the browser, trained by neurona.

    neurona playground [--host 127.0.0.1] [--port 8765] [--no-browser]
    python -m neurona.playground              # the same

starts a local web server (the optional extra ``neurona[playground]``:
Starlette and uvicorn), prints its URL and opens the page. The page trains
real neurona models live: the network of :mod:`neurona.playground.model`,
an optimizer of ``neurona.optim``, the notes' losses, and shows the forward
values and deltas δ of :mod:`neurona.classic` for a chosen point.

Importing this package loads neither Starlette nor uvicorn: a saved
playground model (``neurona.io.load``) needs only NumPy.
"""
from __future__ import annotations

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the playground server (the ``neurona playground`` command); returns the exit status."""
    from .cli import main as _main

    return _main(argv)
