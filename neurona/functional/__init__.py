"""Differentiable ops by family (``neurona.functional``).

The same functions are available at the top level (``neurona.exp``) and as
Tensor methods (``x.exp()``), with PyTorch's names and signatures. Families:
math, reduce, shape, activation, loss (the notes' core); pointwise, compare,
indexing, layout, linalg, random, resample (the rest of PyTorch's everyday
tensor API).
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

# the rest of PyTorch's everyday tensor API, one module per family
from .pointwise import *  # noqa: F401,F403  (sin, floor, rsqrt, remainder, ...)
from .compare import *  # noqa: F401,F403  (eq, logical_and, isclose, any, all, ...)
from .reduce import amax, amin, cumprod, cumsum, median, prod, std_mean, var_mean  # noqa: F401
from .indexing import *  # noqa: F401,F403  (gather, scatter, index_select, sort, topk, ...)
from .layout import *  # noqa: F401,F403  (repeat, tile, flip, roll, narrow, movedim, hstack, ...)
from .linalg import *  # noqa: F401,F403  (mm, bmm, einsum, tril, diag, norm, normalize, ...)
from .random import *  # noqa: F401,F403  (multinomial, bernoulli, normal, poisson)
from .resample import *  # noqa: F401,F403  (interpolate)
