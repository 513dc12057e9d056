"""``python -m neurona.cli``: the ``neurona`` command."""
import sys

from .main import main

sys.exit(main())
