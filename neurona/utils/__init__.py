"""``neurona.utils``: PyTorch's ``torch.utils`` names (``neurona.utils.data``)."""
from . import data

__all__ = ["data"]
