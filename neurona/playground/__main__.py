"""``python -m neurona.playground``: the same as ``neurona playground``."""
import sys

from .cli import main

sys.exit(main())
