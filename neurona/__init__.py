"""neurona: neural networks from first principles on NumPy.

>>> import neurona
>>> x = neurona.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad
tensor([2., 4., 6.])
"""
import numpy as _np

from .backend import device, get_default_device, get_default_dtype, set_default_device, set_default_dtype
# the engine first: it defines Tensor before the op modules (and their imports of creation) load
from .engine import (Function, Tensor, enable_grad, inference_mode, is_grad_enabled, no_grad,  # noqa: I001
                     set_grad_enabled)
from .creation import (Generator, arange, as_tensor, default_generator, empty, empty_like, eye, from_numpy, full,
                       full_like, get_rng_state, initial_seed, linspace, manual_seed, ones, ones_like, rand, rand_like,
                       randint, randint_like, randn, randn_like, randperm, seed, set_rng_state, tensor, zeros,
                       zeros_like)
from .functional import (abs, add, argmax, argmin, broadcast_to, cat, chunk, clamp, clip, concatenate, div, exp,
                         expand, flatten, index_add, log, log1p, log_softmax, logsumexp, masked_fill, matmul, max,
                         maximum, mean, min, minimum, mul, neg, pad, permute, pow, relu, reshape, sigmoid, sign, softmax,
                         split, sqrt, squeeze, stack, std, sub, sum, tanh, transpose, unsqueeze, var, view, where)
from .functional import heaviside
# PyTorch's everyday tensor functions (neurona.sin, neurona.gather, neurona.einsum, ...)
from .functional.pointwise import (acos, acosh, arccos, arcsin, arctan, arctan2, asin, asinh, atan, atan2, atanh, ceil,
                                   cos, cosh, erf, exp2, expm1, fix, floor, floor_divide, fmod, frac, hypot, log2,
                                   log10, reciprocal, remainder, round, rsqrt, sin, sinh, square, tan, true_divide,
                                   trunc)
from .functional.compare import (all, allclose, any, bitwise_and, bitwise_not, bitwise_or, bitwise_xor,
                                 count_nonzero, eq, equal, ge, greater, greater_equal, gt, is_floating_point,
                                 is_nonzero, is_tensor, isclose, isfinite, isin, isinf, isnan, isneginf, isposinf,
                                 le, less, less_equal, logical_and, logical_not, logical_or, logical_xor, lt, ne,
                                 not_equal, numel)
from .functional.reduce import amax, amin, cumprod, cumsum, median, prod, std_mean, var_mean
from .functional.indexing import (argsort, argwhere, bincount, gather, index_select, kthvalue, masked_select, nonzero,
                                  scatter, scatter_add, sort, take, take_along_dim, topk, unique)
from .functional.layout import (adjoint, atleast_1d, atleast_2d, atleast_3d, broadcast_shapes, broadcast_tensors,
                                clone, column_stack, dstack, flip, fliplr, flipud, hstack, meshgrid, moveaxis, movedim,
                                narrow, ravel, repeat_interleave, roll, rot90, row_stack, swapaxes, swapdims, t,
                                tensor_split, tile, unbind, unflatten, vstack)
from .functional.linalg import (addmm, bmm, cdist, diag, diag_embed, diagonal, dist, dot, einsum, ger, inner, mm, mv,
                                norm, outer, trace, tril, triu, vdot)
from .functional.random import bernoulli, multinomial, normal, poisson
from .functional.math import div as divide, mul as multiply, sub as subtract
from .functional.shape import cat as concat
from .gradcheck import GradcheckError, gradcheck
from .size import Size
from .functional.blend import addcdiv, addcmul, cross, kron, lerp, tensordot
from .functional.scan import bucketize, cummax, cummin, histc, logcumsumexp, searchsorted
from .functional.put import index_fill, index_put, masked_scatter
from .functional.solve import det, inv as inverse, logdet, slogdet
from .printing import set_printoptions
from .tensor_types import (BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor, HalfTensor, IntTensor,
                           LongTensor, ShortTensor)
from .serialization import load, save

__version__ = "0.1.0"

_SUBMODULES = {"nn", "optim", "data", "train", "models", "classic", "compress", "io", "functional", "cli", "linalg",
               "utils", "return_types", "autograd", "cuda", "accelerator", "onnx", "sklearn", "safetensors", "runtime",
               "kernels", "rewrites", "workspace", "distributed"}


def __getattr__(name):
    # subpackages load on first use: `import neurona; neurona.nn.Linear(...)` works without importing them all
    if name in _SUBMODULES:
        import importlib
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'neurona' has no attribute {name!r}")


# dtype names, PyTorch's and NumPy's. Defined last, and no function above uses the builtins they shadow inside
# this module: `float`, `int` and `bool` are attributes for users (neurona.float is float32, as torch.float is).
float32 = _np.float32
float64 = _np.float64
float16 = _np.float16
int64 = _np.int64
int32 = _np.int32
int16 = _np.int16
int8 = _np.int8
uint8 = _np.uint8
bool_ = _np.bool_
float = _np.float32  # noqa: A001
double = _np.float64
half = _np.float16
long = _np.int64
int = _np.int32  # noqa: A001
short = _np.int16
bool = _np.bool_  # noqa: A001
from .backend import bfloat16  # noqa: E402  (named, refused with a clear error wherever a dtype is used)
