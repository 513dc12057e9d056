"""The notes' backpropagation written literally: an MLP trained with the explicit delta equations.

Independent of neurona's autodiff engine, on purpose: every gradient here is
a line of the notes (δ^(L), δ^(l) = h'(a^(l)) ⊙ W^(l+1)ᵀ δ^(l+1),
∂q/∂W^(l) = δ^(l) z^(l-1)ᵀ), so the two can be checked against each other.

>>> from neurona.classic import ClassicMLP
>>> net = ClassicMLP([2, 8, 1], activations='tanh', output='linear', loss='squared_error')
>>> net.W[1].shape, net.w0[1].shape          # W^(1) ∈ R^{M_1 × M_0}, w0^(1) ∈ R^{M_1}
((8, 2), (8,))
"""
from .activations import (ACTIVATIONS, ELU, Activation, Identity, LeakyReLU, NotDifferentiableError, ReLU, Sigmoid,
                          Sign, Softmax, Softsign, Step, Tanh, get_activation)
from .losses import LOSSES, CrossEntropy, SquaredError
from .mlp import MODES, ClassicMLP, ForwardPass, Gradients

__all__ = ["ClassicMLP", "ForwardPass", "Gradients", "MODES", "Activation", "get_activation", "ACTIVATIONS",
           "Identity", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "ELU", "Softsign", "Step", "Sign", "Softmax",
           "NotDifferentiableError", "SquaredError", "CrossEntropy", "LOSSES"]
