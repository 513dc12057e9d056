"""Autoencoders: a convolutional autoencoder and a variational autoencoder (VAE) for 28 × 28 images.

An autoencoder learns to copy its input through a narrow code: an encoder maps the image x to a code
z of a few numbers, a decoder maps z back to an image x̂, and training minimizes the reconstruction
error ‖x − x̂‖². What the code must keep to rebuild the image is what the network learns about the data.

A VAE (Kingma & Welling, 2014) makes the code a distribution: the encoder gives the mean μ(x) and the
log-variance log σ²(x) of a Gaussian q(z|x), a code is drawn as z = μ + σ ⊙ ε with ε ~ N(0, I) (the
*reparameterization*: the randomness sits in ε, so gradients flow through μ and σ), and the loss adds
to the reconstruction term the Kullback–Leibler divergence that pulls q(z|x) towards N(0, I):

    L = −Σ_pixels [x log x̂ + (1 − x) log(1 − x̂)]  +  β · ½ Σ_j (μ_j² + σ_j² − log σ_j² − 1).

Because codes near the origin all decode to plausible images, decoding z ~ N(0, I) *generates* new
images, and with a 2-D code the whole latent space can be drawn as a map.
"""
from __future__ import annotations

import numpy as np

from .. import nn
from ..creation import from_numpy, randn
from ..engine import Tensor, no_grad
from ..functional.activation import sigmoid
from ..functional.loss import binary_cross_entropy_with_logits
from .registry import register_model

__all__ = ["ConvAutoencoder", "VAE", "vae_loss"]


def _images(x: Tensor, name: str) -> Tensor:
    if x.ndim == 3:
        x = x.unsqueeze(1)
    elif x.ndim == 2 and x.shape[1] == 784:
        x = x.reshape(x.shape[0], 1, 28, 28)
    if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
        raise ValueError(f"{name}: expected images (N, 1, 28, 28), (N, 28, 28) or (N, 784), got shape {tuple(x.shape)}")
    return x


class ConvAutoencoder(nn.Module):
    """Encoder: two stride-2 3×3 convolutions (28 → 14 → 7) and a linear layer to ``latent_dim``; decoder: the
    mirror image, with 3×3 transposed convolutions of stride 2 (7 → 14 → 28) and a sigmoid (pixels in [0, 1]).

    >>> import neurona
    >>> ae = ConvAutoencoder(latent_dim=16)
    >>> ae(neurona.rand(4, 1, 28, 28)).shape
    neurona.Size([4, 1, 28, 28])
    """

    def __init__(self, latent_dim: int = 32, width: int = 16):
        super().__init__()
        if int(latent_dim) < 1 or int(width) < 1:
            raise ValueError(f"ConvAutoencoder: latent_dim and width must be positive, got {latent_dim}, {width}")
        self.latent_dim, self.width = int(latent_dim), int(width)
        w = self.width
        self.encoder = nn.Sequential(
            nn.Conv2d(1, w, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(2 * w * 49, self.latent_dim))
        self.decoder = nn.Sequential(
            nn.Linear(self.latent_dim, 2 * w * 49), nn.ReLU(), nn.Unflatten(1, (2 * w, 7, 7)),
            nn.ConvTranspose2d(2 * w, w, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(w, 1, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid())

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(_images(x, "ConvAutoencoder"))

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))

    def get_config(self) -> dict:
        return {"latent_dim": self.latent_dim, "width": self.width}


class VAE(nn.Module):
    """A fully connected VAE: 784 → ``hidden`` → (μ, log σ²) of ``latent_dim`` → reversed ``hidden`` → 784 logits.

    ``forward(x)`` returns ``(logits, mu, logvar)``: the decoder's logits for each pixel (train with
    :func:`vae_loss`), and the Gaussian's parameters. In training mode the code is sampled
    (z = μ + σ ε); in eval mode it is the mean μ. ``reconstruct``, ``decode`` and ``sample`` give pixel
    probabilities (N, 1, 28, 28).

    >>> import neurona
    >>> vae = VAE(latent_dim=2)
    >>> logits, mu, logvar = vae(neurona.rand(4, 1, 28, 28))
    >>> logits.shape, mu.shape
    (neurona.Size([4, 1, 28, 28]), neurona.Size([4, 2]))
    """

    def __init__(self, latent_dim: int = 2, hidden=(512, 256)):
        super().__init__()
        hidden = [int(h) for h in hidden]
        if int(latent_dim) < 1 or not hidden or min(hidden) < 1:
            raise ValueError(f"VAE: latent_dim and the hidden sizes must be positive, got {latent_dim}, {hidden}")
        self.latent_dim, self.hidden = int(latent_dim), hidden
        enc, size = [nn.Flatten()], 784
        for h in hidden:
            enc += [nn.Linear(size, h), nn.ReLU()]
            size = h
        self.encoder = nn.Sequential(*enc)
        self.mu = nn.Linear(size, self.latent_dim)
        self.logvar = nn.Linear(size, self.latent_dim)
        dec, size = [], self.latent_dim
        for h in reversed(hidden):
            dec += [nn.Linear(size, h), nn.ReLU()]
            size = h
        dec += [nn.Linear(size, 784), nn.Unflatten(1, (1, 28, 28))]
        self.decoder = nn.Sequential(*dec)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(μ, log σ²) of q(z | x)."""
        h = self.encoder(_images(x, "VAE"))
        return self.mu(h), self.logvar(h)

    def reparameterize(self, mu: Tensor, logvar: Tensor) -> Tensor:
        """z = μ + σ ⊙ ε, ε ~ N(0, I), in training mode; μ in eval mode."""
        if not self.training:
            return mu
        eps = randn(*mu.shape, dtype=mu.dtype)  # neurona's global generator: manual_seed makes it reproducible
        return mu + (logvar * 0.5).exp() * eps

    def decode(self, z: Tensor) -> Tensor:
        """Pixel probabilities (N, 1, 28, 28) for codes z (N, latent_dim)."""
        return sigmoid(self.decoder(z))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        mu, logvar = self.encode(x)
        return self.decoder(self.reparameterize(mu, logvar)), mu, logvar

    @no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """Decode the mean code of each image (no graph)."""
        return self.decode(self.encode(x)[0])

    @no_grad()
    def sample(self, n: int, seed: int | None = None) -> Tensor:
        """``n`` new images: codes z ~ N(0, I) decoded (no graph)."""
        dtype = self.mu.weight.dtype
        z = np.random.default_rng(seed).standard_normal((int(n), self.latent_dim)).astype(dtype)
        return self.decode(from_numpy(z))

    def get_config(self) -> dict:
        return {"latent_dim": self.latent_dim, "hidden": list(self.hidden)}


def vae_loss(logits: Tensor, x, mu: Tensor, logvar: Tensor, beta: float = 1.0) -> Tensor:
    """The VAE's loss per image (the negative ELBO, averaged over the batch): binary cross-entropy of the
    pixels summed per image, plus β · KL(N(μ, σ²) ‖ N(0, I)) = β · ½ Σ_j (μ_j² + σ_j² − log σ_j² − 1)."""
    x = x if isinstance(x, Tensor) else from_numpy(np.asarray(x, dtype=logits.dtype))
    n = logits.shape[0]
    recon = binary_cross_entropy_with_logits(logits, x.reshape(logits.shape), reduction="sum") / float(n)
    kl = ((mu * mu + logvar.exp() - logvar - 1.0) * 0.5).sum() / float(n)
    return recon + kl * beta


register_model("conv-autoencoder", ConvAutoencoder,
               description="convolutional autoencoder for 28x28 images (stride-2 convs, transposed-conv decoder)")
register_model("vae", VAE, description="variational autoencoder for 28x28 images (MLP encoder/decoder, Gaussian code)")
