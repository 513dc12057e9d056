"""A small DCGAN (Radford et al., 2016) for 28 × 28 images: a generator and a discriminator that compete.

A generative adversarial network trains two networks against each other. The generator G maps a random
code z ~ N(0, I) to an image; the discriminator D maps an image to the logit of "this image is real".
D learns to tell the training images from G's, G learns to make D say "real" to its images:

    D: minimize  BCE(D(x), 1) + BCE(D(G(z)), 0)        G: minimize  BCE(D(G(z)), 1)

(G's loss is the "non-saturating" form, which gives it strong gradients while D still wins easily.)
DCGAN's recipe makes this stable enough to train: the generator upsamples with strided transposed
convolutions, batch normalization and ReLU, ending in tanh (images in [−1, 1]); the discriminator
downsamples with strided convolutions and leaky ReLU; no pooling, no dense hidden layers; weights
start from N(0, 0.02); Adam with learning rate 2·10⁻⁴ and β₁ = 0.5.
"""
from __future__ import annotations

import numpy as np

from .. import nn
from ..creation import from_numpy
from ..engine import Tensor, no_grad
from ..functional.loss import binary_cross_entropy_with_logits
from ..nn import init
from .registry import register_model

__all__ = ["DCGANGenerator", "DCGANDiscriminator", "dcgan_init_", "gan_step"]


def dcgan_init_(module: nn.Module) -> nn.Module:
    """DCGAN's initialization, in place: convolution weights ~ N(0, 0.02), batch-norm γ ~ N(1, 0.02) and β = 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            init.normal_(m.weight, 1.0, 0.02)
            init.zeros_(m.bias)
    return module


class DCGANGenerator(nn.Module):
    """z (N, latent_dim) → 7×7 (4·width channels) → 14×14 (2·width) → 28×28 image in [−1, 1] (tanh).

    >>> import neurona
    >>> g = DCGANGenerator(latent_dim=16, width=8)
    >>> g(neurona.randn(3, 16)).shape
    neurona.Size([3, 1, 28, 28])
    """

    def __init__(self, latent_dim: int = 64, width: int = 32, out_channels: int = 1):
        super().__init__()
        if min(int(latent_dim), int(width), int(out_channels)) < 1:
            raise ValueError(f"DCGANGenerator: latent_dim, width and out_channels must be positive, got "
                             f"{latent_dim}, {width}, {out_channels}")
        self.latent_dim, self.width, self.out_channels = int(latent_dim), int(width), int(out_channels)
        w = self.width
        self.net = nn.Sequential(
            nn.ConvTranspose2d(self.latent_dim, 4 * w, 7, bias=False), nn.BatchNorm2d(4 * w), nn.ReLU(),
            nn.ConvTranspose2d(4 * w, 2 * w, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(2 * w), nn.ReLU(),
            nn.ConvTranspose2d(2 * w, self.out_channels, 4, stride=2, padding=1), nn.Tanh())
        dcgan_init_(self)

    def forward(self, z: Tensor) -> Tensor:
        if z.ndim == 2 and z.shape[1] == self.latent_dim:
            z = z.reshape(z.shape[0], self.latent_dim, 1, 1)
        if z.ndim != 4 or tuple(z.shape[1:]) != (self.latent_dim, 1, 1):
            raise ValueError(f"DCGANGenerator: expected codes (N, {self.latent_dim}) or (N, {self.latent_dim}, 1, 1), "
                             f"got shape {tuple(z.shape)}")
        return self.net(z)

    @no_grad()
    def sample(self, n: int, seed: int | None = None) -> Tensor:
        """``n`` images from codes z ~ N(0, I) (eval mode, no graph), in [−1, 1]."""
        was = self.training
        self.eval()
        try:
            z = np.random.default_rng(seed).standard_normal((int(n), self.latent_dim))
            return self(from_numpy(z.astype(self.net[0].weight.dtype)))
        finally:
            self.train(was)

    def get_config(self) -> dict:
        return {"latent_dim": self.latent_dim, "width": self.width, "out_channels": self.out_channels}


class DCGANDiscriminator(nn.Module):
    """28×28 image → 14×14 (width channels) → 7×7 (2·width) → one logit per image, shape (N,).

    >>> import neurona
    >>> DCGANDiscriminator(width=8)(neurona.randn(3, 1, 28, 28)).shape
    neurona.Size([3])
    """

    def __init__(self, in_channels: int = 1, width: int = 32):
        super().__init__()
        if min(int(in_channels), int(width)) < 1:
            raise ValueError(f"DCGANDiscriminator: in_channels and width must be positive, got {in_channels}, {width}")
        self.in_channels, self.width = int(in_channels), int(width)
        w = self.width
        self.net = nn.Sequential(
            nn.Conv2d(self.in_channels, w, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(2 * w), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 1, 7))
        dcgan_init_(self)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or tuple(x.shape[1:]) != (self.in_channels, 28, 28):
            raise ValueError(f"DCGANDiscriminator: expected images (N, {self.in_channels}, 28, 28), got shape "
                             f"{tuple(x.shape)}")
        return self.net(x).reshape(x.shape[0])

    def get_config(self) -> dict:
        return {"in_channels": self.in_channels, "width": self.width}


def gan_step(generator: DCGANGenerator, discriminator: DCGANDiscriminator, opt_g, opt_d, real,
             rng: np.random.Generator) -> dict:
    """One training step of both networks on a batch of ``real`` images in [−1, 1]; returns the two losses
    and D's mean probabilities on the real and the generated batch (see the module docstring)."""
    real = real if isinstance(real, Tensor) else from_numpy(np.asarray(real))
    n = real.shape[0]
    dtype = real.dtype
    ones, zeros = np.ones(n, dtype), np.zeros(n, dtype)
    z = from_numpy(rng.standard_normal((n, generator.latent_dim)).astype(dtype))
    fake = generator(z)

    # D: real → 1, generated → 0 (the generated batch is detached: this step does not change G)
    opt_d.zero_grad()
    d_real, d_fake = discriminator(real), discriminator(fake.detach())
    loss_d = (binary_cross_entropy_with_logits(d_real, ones) + binary_cross_entropy_with_logits(d_fake, zeros))
    loss_d.backward()
    opt_d.step()

    # G: make D say 1 to the generated batch
    opt_g.zero_grad()
    loss_g = binary_cross_entropy_with_logits(discriminator(fake), ones)
    loss_g.backward()
    opt_g.step()
    sig = lambda t: float(np.mean(1.0 / (1.0 + np.exp(-t.array.astype(np.float64)))))  # noqa: E731
    return {"loss_d": float(loss_d.item()), "loss_g": float(loss_g.item()), "d_real": sig(d_real),
            "d_fake": sig(d_fake)}


register_model("dcgan-generator", DCGANGenerator,
               description="DCGAN generator: code z -> 28x28 image, strided transposed convolutions")
register_model("dcgan-discriminator", DCGANDiscriminator,
               description="DCGAN discriminator: 28x28 image -> real/fake logit, strided convolutions")
