"""Differentiable ops by family (``neurona.functional``).

The same functions are available at the top level (``neurona.exp``) and as
Tensor methods (``x.exp()``).
"""
from .activation import *  # noqa: F401,F403  (every activation of the notes)
from .loss import *  # noqa: F401,F403
from .loss import cross_entropy_composed  # noqa: F401
from .math import (abs, add, as_tensor, cast, clamp, clip, div, exp, log, log1p, matmul, maximum, minimum, mul,
                   neg, pow, sign, sqrt, sub, unbroadcast, where)
from .reduce import argmax, argmin, logsumexp, max, mean, min, std, sum, var
from .shape import (broadcast_to, cat, chunk, concatenate, expand, flatten, getitem, index_add, masked_fill, pad,
                    permute, reshape, split, squeeze, stack, transpose, unsqueeze, view)
from .dropout import dropout, gaussian_noise
from .linear import linear
from .normalization import batch_norm, layer_norm
