"""A multilayer perceptron trained by BackProp, written as the notes write it.

Notation (Bunge, "Representación Vectorial de MLP"; Casacuberta–Vidal's
names in brackets): layers l = 1..L of M_l units [M_l nodes], input size M_0;

    a^(l) = W^(l) z^(l-1) + w0^(l)     pre-activation [φ^l]
    z^(l) = h^(l)(a^(l))               activation, output of layer l [s^l]
    z^(0) = x,  ŷ = z^(L)

with W^(l) ∈ R^{M_l × M_{l-1}} and the bias w0^(l) ∈ R^{M_l} kept apart
[Casacuberta–Vidal put it in column 0 of θ^l, the homogeneous coordinates].
The backward pass (Bunge, "Algoritmo Backpropagation"), for one sample:

    δ^(L) = h'(a^(L)) ⊙ ∂q_n/∂ŷ
    δ^(l) = h'(a^(l)) ⊙ W^(l+1)ᵀ δ^(l+1)         l = L-1, ..., 1
    ∂q_n/∂W^(l) = δ^(l) z^(l-1)ᵀ,   ∂q_n/∂w0^(l) = δ^(l)

and the gradient of q_S = 1/N Σ_n q_n is the mean of the samples' gradients
(Casacuberta–Vidal, "Ecuaciones BackProp": Δθ = ρ/N Σ_n δ(x_n) s(x_n)).

Vectorized over a batch: samples are rows, so X, every a^(l), z^(l) and
δ^(l) have shape (N, M_l), row n holding sample n's column vector. A column
equation v = W u then reads V = U Wᵀ, and Σ_n δ_n z_nᵀ reads δᵀ Z.

Lists are indexed as the notes index layers: ``W[l]`` is W^(l) for
1 ≤ l ≤ L, and index 0 (the input layer, which has no weights) holds None
in ``W``, ``w0``, ``a`` and ``delta``; ``z[0]`` is the input X.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .activations import Activation, NotDifferentiableError, Softmax, get_activation
from .losses import LOSSES

MODES = ("batch", "minibatch", "incremental", "online")


@dataclass
class ForwardPass:
    """a[l] = a^(l) and z[l] = z^(l), each of shape (N, M_l); a[0] is None, z[0] is X."""

    a: list
    z: list


@dataclass
class Gradients:
    """The result of one backward pass over N samples.

    delta[l]: δ^(l) = ∂q_n/∂a^(l) for each sample, shape (N, M_l) (not divided by N).
    dW[l], dw0[l]: ∂q_S/∂W^(l) and ∂q_S/∂w0^(l), the means over the N samples.
    loss: q_S at the weights the gradients were taken at.
    """

    delta: list
    dW: list
    dw0: list
    loss: float

    def as_list(self) -> list[np.ndarray]:
        """[dW^(1), dw0^(1), dW^(2), dw0^(2), ...], in the order of ``ClassicMLP.get_weights()``."""
        return [g for l in range(1, len(self.dW)) for g in (self.dW[l], self.dw0[l])]


class ClassicMLP:
    """Multilayer perceptron trained by the notes' BackProp with explicit delta equations.

    >>> X = np.array([[0., 0.], [0., 1.], [1., 0.], [1., 1.]]); T = np.array([[0.], [1.], [1.], [0.]])
    >>> net = ClassicMLP([2, 4, 1], activations='tanh', output='sigmoid', loss='cross_entropy', seed=0)
    >>> history = net.fit(X, T, lr=0.5, epochs=2000, mode='batch')
    >>> (net.predict(X) > 0.5).astype(int).ravel().tolist()
    [0, 1, 1, 0]

    sizes: [M_0, M_1, ..., M_L], the input size then each layer's units (L ≥ 1).
    activations: the hidden layers' h^(1..L-1): one name or Activation for all, or a list of L-1.
        Differentiable: 'identity' ('linear'), 'sigmoid', 'tanh', 'relu', 'leaky_relu', 'elu',
        'softsign'. 'step' and 'sign' only evaluate (backprop raises NotDifferentiableError).
    output: h^(L): 'linear' (regression), 'sigmoid' (two classes), 'softmax' (C classes), or any
        elementwise activation.
    loss: 'squared_error' (½Σ(t-s)², any output) or 'cross_entropy' (softmax or sigmoid output).
    seed: seeds the weights and the shuffling in ``fit``.
    dtype: float64 (default) or float32, for weights and every computed array.

    Weights start as W^(l) ~ N(0, 2/(M_{l-1} + M_l)) (Glorot: "Var(W_i) = 2/(n_in + n_out)"
    in the notes) and w0^(l) = 0.
    """

    def __init__(self, sizes: Sequence[int], activations: str | Activation | Sequence = "tanh",
                 output: str | Activation = "linear", loss: str = "squared_error", seed: int | None = 0,
                 dtype=np.float64):
        self.sizes = _check_sizes(sizes)
        self.L = L = len(self.sizes) - 1
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise TypeError(f"ClassicMLP: dtype must be a floating type (float64 or float32), got {self.dtype}")

        if isinstance(activations, (str, Activation)):
            activations = [activations] * (L - 1)
        activations = list(activations)
        if len(activations) != L - 1:
            raise ValueError(f"ClassicMLP: sizes {self.sizes} has {L - 1} hidden layers, "
                             f"but {len(activations)} hidden activations were given")
        self.h: list = [None] + [get_activation(s) for s in activations] + [get_activation(output)]
        for l in range(1, L):
            if isinstance(self.h[l], Softmax):
                raise ValueError(f"ClassicMLP: softmax is an output activation; hidden layer {l} cannot use it")
        if isinstance(self.h[L], Softmax) and self.sizes[L] < 2:
            raise ValueError("ClassicMLP: softmax over 1 output is always 1; "
                             "for two classes use output='sigmoid' with 1 output, or softmax with 2")

        if loss not in LOSSES:
            raise ValueError(f"ClassicMLP: unknown loss {loss!r}; expected one of {sorted(LOSSES)}")
        self.loss_fn = LOSSES[loss]()
        self.loss_fn.check(self.h[L])

        self.rng = np.random.default_rng(seed)
        self.W: list = [None]
        self.w0: list = [None]
        for l in range(1, L + 1):
            fan_in, fan_out = self.sizes[l - 1], self.sizes[l]
            std = np.sqrt(2.0 / (fan_in + fan_out))
            self.W.append((self.rng.standard_normal((fan_out, fan_in)) * std).astype(self.dtype))
            self.w0.append(np.zeros(fan_out, self.dtype))

    # --- the two passes -------------------------------------------------------

    def forward(self, X) -> ForwardPass:
        """Forward pass: every a^(l) and z^(l) for a batch X of shape (N, M_0)."""
        return self._forward(self._inputs(X, "forward"))

    def _forward(self, X: np.ndarray) -> ForwardPass:
        a, z = [None], [X]                                   # z^(0) = x
        for l in range(1, self.L + 1):
            a.append(z[l - 1] @ self.W[l].T + self.w0[l])    # a^(l) = W^(l) z^(l-1) + w0^(l)
            z.append(self.h[l](a[l]))                        # z^(l) = h^(l)(a^(l))
        return ForwardPass(a, z)

    def backward(self, X, T) -> Gradients:
        """Backward pass: the deltas δ^(l) and the gradients of q_S, the mean loss over X's N samples."""
        self._check_trainable("backward")
        X = self._inputs(X, "backward")
        return self._backward(X, self._targets(T, len(X), "backward"))

    def _backward(self, X: np.ndarray, T: np.ndarray) -> Gradients:
        L, W, h, N = self.L, self.W, self.h, len(X)
        p = self._forward(X)
        a, z = p.a, p.z
        delta = [None] * (L + 1)
        # δ^(L) = h'(a^(L)) ⊙ ∂q_n/∂ŷ   (the loss and the output activation together)
        delta[L] = self.loss_fn.delta(a[L], z[L], T, h[L])
        for l in range(L - 1, 0, -1):
            # δ^(l) = h'(a^(l)) ⊙ W^(l+1)ᵀ δ^(l+1); row n of δ^(l+1) W^(l+1) is (W^(l+1)ᵀ δ_n^(l+1))ᵀ
            delta[l] = h[l].derivative(a[l], z[l]) * (delta[l + 1] @ W[l + 1])
        # ∂q_S/∂W^(l) = 1/N Σ_n δ_n^(l) z_n^(l-1)ᵀ   and   ∂q_S/∂w0^(l) = 1/N Σ_n δ_n^(l)
        dW = [None] + [delta[l].T @ z[l - 1] / N for l in range(1, L + 1)]
        dw0 = [None] + [delta[l].sum(axis=0) / N for l in range(1, L + 1)]
        return Gradients(delta, dW, dw0, self.loss_fn.value(a[L], z[L], T, h[L]))

    def update(self, grads: Gradients, lr: float) -> None:
        """Gradient descent step: W^(l) ← W^(l) - ρ ∂q/∂W^(l), w0^(l) ← w0^(l) - ρ ∂q/∂w0^(l).

        In the notes' sign convention this is θ_ij^l ← θ_ij^l + Δθ_ij^l with Δθ = -ρ ∂q/∂θ.
        """
        for l in range(1, self.L + 1):
            self.W[l] -= lr * grads.dW[l]
            self.w0[l] -= lr * grads.dw0[l]

    # --- training -------------------------------------------------------------

    def online_step(self, x, t, lr: float) -> float:
        """The notes' BackProp "on-line": one update from one sample (x, t); returns its loss before the update.

        x has shape (M_0,) and t shape (M_L,) (or a class index for a softmax output).
        """
        self._check_trainable("online_step")
        x = np.asarray(x)
        if x.ndim != 1:
            raise ValueError(f"online_step: expected one sample x of shape ({self.sizes[0]},), got shape {x.shape}")
        X = self._inputs(x[None, :], "online_step")
        t = np.asarray(t)
        T = self._targets(t[None] if t.ndim <= 1 else t, 1, "online_step")
        g = self._backward(X, T)
        self.update(g, lr)
        return g.loss

    def fit(self, X, T, lr: float = 0.1, epochs: int = 100, mode: str = "batch", batch_size: int = 32,
            seed: int | None = None) -> list[float]:
        """Train by gradient descent with the delta rule; return q_S over (X, T) after each epoch.

        mode (Casacuberta–Vidal, "BackProp incremental o batch"), for N samples:
          'batch'        one update per epoch, from the gradient over all N samples.
          'minibatch'    shuffle, split into blocks of ``batch_size``, one update per block
                         (⌈N/batch_size⌉ updates per epoch).
          'incremental'  one update per sample, the samples in a new random order each epoch
                         (N updates per epoch).
          'online'       one update per sample in the order given, as if the samples arrived
                         one at a time (a stream); each update is ``online_step``.

        lr is ρ. The notes' slide for the incremental algorithm updates θ ← θ + (1/N)Δθ, a
        factor carried over from the batch slide; here every mode steps by ρ times the
        gradient of the samples it used (pass lr=ρ/N to reproduce the slide).
        seed: seeds the shuffling; None continues the model's own generator.
        """
        self._check_trainable("fit")
        if mode not in MODES:
            raise ValueError(f"fit: unknown mode {mode!r}; expected one of {MODES}")
        if int(epochs) != epochs or epochs < 0:
            raise ValueError(f"fit: epochs must be a non-negative integer, got {epochs!r}")
        if mode == "minibatch" and (int(batch_size) != batch_size or batch_size < 1):
            raise ValueError(f"fit: batch_size must be a positive integer, got {batch_size!r}")
        X = self._inputs(X, "fit")
        T = self._targets(T, len(X), "fit")
        rng = self.rng if seed is None else np.random.default_rng(seed)

        history = []
        for _ in range(int(epochs)):
            for idx in _blocks(len(X), mode, int(batch_size), rng):
                self.update(self._backward(X[idx], T[idx]), lr)
            history.append(self._loss(X, T))
        return history

    # --- evaluation -------------------------------------------------------------

    def predict(self, X) -> np.ndarray:
        """The network's outputs ŷ = z^(L), shape (N, M_L)."""
        return self.forward(X).z[-1]

    def loss(self, X, T) -> float:
        """q_S(Θ) = 1/N Σ_n q_n(Θ) over the N samples of (X, T)."""
        X = self._inputs(X, "loss")
        return self._loss(X, self._targets(T, len(X), "loss"))

    def _loss(self, X, T) -> float:
        p = self._forward(X)
        return self.loss_fn.value(p.a[-1], p.z[-1], T, self.h[-1])

    # --- weights ------------------------------------------------------------------

    def get_weights(self) -> list[np.ndarray]:
        """Copies of [W^(1), w0^(1), W^(2), w0^(2), ..., W^(L), w0^(L)]."""
        return [w.copy() for l in range(1, self.L + 1) for w in (self.W[l], self.w0[l])]

    def set_weights(self, weights: Sequence) -> None:
        """Set the weights from [W^(1), w0^(1), ..., W^(L), w0^(L)] (copied, cast to the model's dtype)."""
        weights = list(weights)
        if len(weights) != 2 * self.L:
            raise ValueError(f"set_weights: expected {2 * self.L} arrays [W1, w0_1, ..., W{self.L}, w0_{self.L}], "
                             f"got {len(weights)}")
        new_W, new_w0 = [None], [None]
        for l in range(1, self.L + 1):
            Wl, bl = (np.array(w, dtype=self.dtype) for w in weights[2 * l - 2: 2 * l])
            want_W, want_b = (self.sizes[l], self.sizes[l - 1]), (self.sizes[l],)
            if Wl.shape != want_W or bl.shape != want_b:
                raise ValueError(f"set_weights: layer {l} needs W{l} of shape {want_W} and w0_{l} of shape "
                                 f"{want_b}, got {Wl.shape} and {bl.shape}")
            new_W.append(Wl)
            new_w0.append(bl)
        self.W, self.w0 = new_W, new_w0

    def __repr__(self) -> str:
        hidden = [h.name if type(h).__repr__ is Activation.__repr__ else repr(h) for h in self.h[1:-1]]
        return (f"ClassicMLP(sizes={self.sizes}, activations={hidden}, output={self.h[-1].name!r}, "
                f"loss={self.loss_fn.name!r})")

    # --- checks -------------------------------------------------------------------

    def _check_trainable(self, op: str) -> None:
        for l in range(1, self.L + 1):
            if not self.h[l].differentiable:
                where = "the output layer" if l == self.L else f"hidden layer {l}"
                raise _not_trainable(op, self.h[l], where)

    def _inputs(self, X, op: str) -> np.ndarray:
        X = np.asarray(X, dtype=self.dtype)
        if X.ndim != 2 or X.shape[1] != self.sizes[0]:
            raise ValueError(f"{op}: expected inputs X of shape (N, {self.sizes[0]}) (one row per sample), "
                             f"got shape {X.shape}")
        return X

    def _targets(self, T, N: int, op: str) -> np.ndarray:
        T = np.asarray(T)
        M = self.sizes[-1]
        if isinstance(self.h[-1], Softmax) and T.ndim == 1 and T.dtype.kind in "iu":
            # class indices 0..C-1 become the notes' one-hot targets t_nc ∈ {0, 1}
            if T.size and (T.min() < 0 or T.max() >= M):
                raise ValueError(f"{op}: class indices must lie in 0..{M - 1}, got {T.min()}..{T.max()}")
            T = np.eye(M, dtype=self.dtype)[T]
        elif T.ndim == 1 and M == 1:
            T = T[:, None]
        if T.shape != (N, M):
            raise ValueError(f"{op}: expected targets T of shape ({N}, {M}) (one row per sample, M_L = {M} "
                             f"outputs), got shape {T.shape}")
        return T.astype(self.dtype, copy=False)


def _not_trainable(op: str, h: Activation, where: str) -> NotDifferentiableError:
    return NotDifferentiableError(
        f"ClassicMLP.{op}: {where} uses {h.name!r}, whose derivative is 0 wherever it exists (undefined at 0), "
        f"so backprop cannot train it; use 'sigmoid' or 'tanh' (smooth versions of step and sign) to train, "
        f"and {h.name!r} only with weights set by hand")


def _check_sizes(sizes) -> list[int]:
    try:
        out = [int(m) for m in sizes]
    except (TypeError, ValueError):
        raise TypeError(f"ClassicMLP: sizes must be a list of layer sizes [M_0, ..., M_L], got {sizes!r}") from None
    if len(out) < 2 or any(m < 1 for m in out) or out != list(sizes):
        raise ValueError(f"ClassicMLP: sizes must be at least two positive integers [M_0, ..., M_L], got {sizes!r}")
    return out


def _blocks(N: int, mode: str, batch_size: int, rng: np.random.Generator):
    """The index sets of one epoch's updates, for each mode."""
    if mode == "batch":
        return [slice(None)]
    if mode == "online":
        return [slice(n, n + 1) for n in range(N)]
    order = rng.permutation(N)
    size = 1 if mode == "incremental" else batch_size
    return [order[i:i + size] for i in range(0, N, size)]
