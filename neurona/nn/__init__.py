"""Layers and models: ``Module``, ``Parameter`` and the layers built on them (``neurona.nn``).

>>> import neurona
>>> from neurona import nn
>>> model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.1), nn.Linear(8, 3))
>>> model(neurona.randn(2, 4)).shape
(2, 3)
"""
from . import functional, init, utils
from .parameter import Parameter
from .module import Module, RemovableHandle
from .containers import (Flatten, Identity, ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential,
                         Unflatten)
from .linear import Linear
from .dropout import Dropout, GaussianNoise
from .normalization import BatchNorm1d, LayerNorm
from .residual import Residual

from .activation import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403

# --- further layer families (conv, pooling, recurrent, ...): one import line each below ---
from .conv import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .recurrent import *  # noqa: F401,F403
from .embedding import *  # noqa: F401,F403
from .conv_transpose import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403
from .transformer import *  # noqa: F401,F403
from .second_order import *  # noqa: F401,F403
from .normalization_more import *  # noqa: F401,F403
from .activation_more import *  # noqa: F401,F403
from .loss_more import *  # noqa: F401,F403
from .padding import *  # noqa: F401,F403
from .fold import *  # noqa: F401,F403
from .dropout_more import *  # noqa: F401,F403
from .bilinear import *  # noqa: F401,F403


def __getattr__(name):
    # the distributed layers load with MPI's machinery only when asked for
    if name == "SyncBatchNorm":
        from ..distributed.sync_batchnorm import SyncBatchNorm
        return SyncBatchNorm
    if name == "parallel":
        import importlib
        return importlib.import_module(".parallel", __name__)
    raise AttributeError(f"module 'neurona.nn' has no attribute {name!r}")
