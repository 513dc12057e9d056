"""The second-order recurrent step: the notes' "redes recurrentes de segundo orden".

A first-order recurrent layer adds what the input and the previous state
contribute, h' = f(W^X x + W^Y h + b). A second-order one multiplies them:
every pair (input j, state unit k) has its own weight,

    h'_i = f( Σ_j Σ_k W_ijk x_j h_k + b_i ),

so the input selects which linear map acts on the state (Giles et al. 1992,
"Learning and extracting finite state automata with second-order recurrent
neural networks"). With one-hot inputs each symbol gets its own state
transition matrix W_{·j·}, which is why these networks learn finite automata
well. Composed from the primitives: the outer product x hᵀ of each sample,
flattened, goes through one linear map whose weight is W reshaped to
(H, I·H).
"""
from __future__ import annotations

from ..engine import Tensor
from .activation import relu, sigmoid, tanh
from .linear import linear
from .math import as_tensor
from .shape import reshape, unsqueeze

__all__ = ["second_order_rnn_cell"]

_NONLINEARITIES = {"tanh": tanh, "sigmoid": sigmoid, "relu": relu}


def second_order_rnn_cell(x, h, weight, bias=None, nonlinearity: str = "tanh") -> Tensor:
    """One step h'_i = f(Σ_jk W_ijk x_j h_k + b_i) for a batch: x (B, I), h (B, H), weight (H, I, H),
    bias (H,) or None → (B, H). ``nonlinearity``: 'tanh', 'sigmoid' or 'relu'.

    >>> import neurona
    >>> second_order_rnn_cell(neurona.randn(2, 3), neurona.randn(2, 4), neurona.randn(4, 3, 4)).shape
    neurona.Size([2, 4])
    """
    x, h, weight = as_tensor(x), as_tensor(h), as_tensor(weight)
    if nonlinearity not in _NONLINEARITIES:
        raise ValueError(f"second_order_rnn_cell: nonlinearity must be one of {sorted(_NONLINEARITIES)}, "
                         f"got {nonlinearity!r}")
    if weight.ndim != 3 or weight.shape[0] != weight.shape[2]:
        raise ValueError(f"second_order_rnn_cell: weight must have shape (hidden, input, hidden), got {weight.shape}")
    H, I, _ = weight.shape
    if x.ndim != 2 or x.shape[1] != I:
        raise ValueError(f"second_order_rnn_cell: expected input of shape (batch, {I}), got {x.shape}")
    if h.ndim != 2 or h.shape != (x.shape[0], H):
        raise ValueError(f"second_order_rnn_cell: expected a state of shape ({x.shape[0]}, {H}), got {h.shape}")
    pairs = reshape(unsqueeze(x, 2) * unsqueeze(h, 1), (x.shape[0], I * H))   # x_j h_k for every (j, k)
    return _NONLINEARITIES[nonlinearity](linear(pairs, reshape(weight, (H, I * H)), bias))
