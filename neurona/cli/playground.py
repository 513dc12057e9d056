"""``neurona playground [--host 127.0.0.1] [--port 8765] [--no-browser] [--data spiral]``: the demo in the browser."""
from __future__ import annotations

NAME = "playground"


def add_parser(sub):
    from ..playground.cli import add_arguments

    p = sub.add_parser(NAME, help="the notes' TensorFlow Playground demo in the browser, trained live by neurona "
                                  "(needs the extra: pip install 'neurona[playground]')")
    return add_arguments(p)


def run(args) -> int:
    from ..playground.cli import run as serve

    return serve(args)
