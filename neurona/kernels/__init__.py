"""Named fast kernels, and the one place that chooses them: :func:`lookup`.

Every op of neurona has a reference implementation in plain NumPy, written to
be read (``neurona.functional``, ``neurona.optim``). Some also have a fast
kernel, compiled with Numba, in a file of this package named after the op's
family; each keeps its forward and backward together and is tested against
the reference, values and gradients, in float32 and float64. An op asks
``lookup(name, *arrays)``: it returns the kernel registered under ``name``, or
None, and the op then runs its reference code. None comes back when

- the reference is in force (``NEURONA_KERNELS=reference``, or
  ``neurona.runtime.use_kernels("reference")``);
- Numba cannot be imported (neurona says so once, with a warning);
- an array is not a float32 or float64 NumPy array (float16, CuPy, ...).

A kernel is either a ``Function`` subclass of the reference op (same
constructor, same ``needs``; forward and backward replaced), or, for the
optimizers, a function that does ``update_one``'s work for all the parameters
of a group at once.
Kernel files are imported on first lookup, so ``import neurona`` never
imports Numba.
"""
from __future__ import annotations

import importlib
import warnings

import numpy as np

from .. import runtime

__all__ = ["lookup", "KERNELS", "available", "conv2d_strategy"]

# name -> "module:attribute" of this package
KERNELS = {
    # optimizers: the whole update of one parameter in one pass
    "sgd": "optim:sgd",
    "adam": "optim:adam",
    "adamax": "optim:adamax",
    "nadam": "optim:nadam",
    "adagrad": "optim:adagrad",
    "rmsprop": "optim:rmsprop",
    "adadelta": "optim:adadelta",
    # activations: one pass forward, one backward
    "relu": "activation:ReLU",
    "leaky_relu": "activation:LeakyReLU",
    "sigmoid": "activation:Sigmoid",
    "tanh": "activation:Tanh",
    "linear_activation": "activation:LinearActivation",
    # the fully connected layer, its products on neurona.kernels.gemm
    "linear": "linear:Linear",
    # convolution
    "conv2d_channels_last": "conv_channels_last:Conv2d",
    "conv2d_batch_last": "conv_batch_last:Conv2d",
    # recurrent layers: the elementwise work of each time step
    "lstm": "recurrent:LSTMSequence",
    "gru": "recurrent:GRUSequence",
    # pooling
    "max_pool2d": "pool:MaxPool2d",
    "avg_pool2d": "pool:AvgPool2d",
    "max_pool2d_relu": "pool:MaxPoolReLU",
    # normalization
    "batch_norm_train": "normalization:BatchNormTrain",
    "batch_norm_eval": "normalization:BatchNormEval",
    "batch_norm_relu": "normalization:BatchNormReLU",
    # regularization
    "dropout": "dropout:Dropout",
    # losses
    "cross_entropy": "loss:CrossEntropy",
}

_loaded: dict = {}


def _load(name: str):
    try:
        where = KERNELS[name]
    except KeyError:
        raise KeyError(f"neurona.kernels: no kernel is registered as {name!r}; known: {', '.join(sorted(KERNELS))}") \
            from None
    module, attr = where.split(":")
    try:
        k = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
    except ImportError as e:
        if "numba" not in str(e).lower() and "llvmlite" not in str(e).lower():
            raise
        warnings.warn(f"neurona: Numba cannot be imported ({e}); running the reference NumPy ops, which are "
                      f"slower. Install it with `pip install numba`.", RuntimeWarning, stacklevel=3)
        runtime.set_kernels("reference")
        return None
    _loaded[name] = k
    return k


def lookup(name: str, *arrays):
    """The fast kernel registered as ``name``, or None when the op should run its reference code.

    >>> import numpy as np, neurona
    >>> with neurona.runtime.use_kernels("reference"):
    ...     lookup("adam", np.zeros(3, np.float32)) is None
    True
    """
    if runtime._state.kernels != "numba" and runtime.kernels() != "numba":
        return None
    for a in arrays:
        if type(a) is not np.ndarray or a.dtype.char not in "fd":  # float32, float64
            return None
    k = _loaded.get(name)
    if k is None:
        k = _load(name)
    return k


def conv2d_strategy(x, weight, groups: int) -> str:
    """The fast convolution for an input and weight: 'conv2d_channels_last' or 'conv2d_batch_last'.

    Measured on LeNet-5, small CNNs and ResNet-style shapes: channels-last
    patches win from 16 input channels on; with fewer, their rows are too
    short, and batch-last ones (runs of OW·N values) win. Between those, the
    memory order the previous layer produced decides, so that no transposing
    copy is made; a layer whose output has 16 channels or more hands the next
    one channels-last memory. Grouped convolutions run batch-last.
    """
    c, o = x.shape[1], weight.shape[0]
    if groups > 1:
        return "conv2d_batch_last"
    if c >= 16:
        return "conv2d_channels_last"
    if x.shape[0] > 1 and x.transpose(1, 2, 3, 0).flags.c_contiguous:
        return "conv2d_batch_last"
    if o >= 16 or (c > 1 and x.transpose(0, 2, 3, 1).flags.c_contiguous):
        return "conv2d_channels_last"
    return "conv2d_batch_last"


def available() -> bool:
    """Whether the fast kernels can run here (Numba imports and the reference is not forced)."""
    if runtime.kernels() != "numba":
        return False
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True
