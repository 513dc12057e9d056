"""The recorded PyTorch values for the dense-prediction and detection tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np

FIXTURE = Path(__file__).parents[1] / "fixtures" / "vision_reference.npz"
