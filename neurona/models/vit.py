"""The Vision Transformer (Dosovitskiy et al. 2021), the notes' "Transformer para imágenes".

An image is cut into P×P patches; each patch, flattened, is mapped to a d-dimensional token by one
linear layer (a convolution with kernel and stride P, written as the product it is). A learned
class token is put in front, learned position embeddings are added, a stack of pre-norm
Transformer encoder layers lets every patch attend to every other, and the class token's final
state, normalized, goes through a linear layer to the class scores. Registered name: ``vit``.
"""
from __future__ import annotations

import math
from functools import partial

import numpy as np

from .. import nn
from ..creation import from_numpy
from ..engine import Tensor
from ..functional.activation import gelu
from ..functional.shape import broadcast_to, cat
from .registry import register_model

__all__ = ["VisionTransformer"]

_ACTIVATIONS = {"relu": "relu", "gelu": "gelu", "gelu_tanh": partial(gelu, approximate="tanh")}


class VisionTransformer(nn.Module):
    """ViT for images (B, C, H, W) (or (B, H, W), or flattened rows of H·W·C values).

    Parameters: ``patch_embedding`` (Linear C·P² → d_model), ``cls_token`` (1, 1, d_model),
    ``positions`` (LearnedPositionalEncoding of 1 + (H/P)(W/P) tokens), ``encoder`` (pre-norm
    TransformerEncoder with a final LayerNorm), ``head`` (Linear d_model → num_classes).
    ``activation``: 'gelu' (the paper's), 'gelu_tanh' (its tanh approximation, faster here) or 'relu'.

    >>> import neurona
    >>> vit = VisionTransformer(28, patch_size=7, num_classes=10, d_model=32, nhead=4, num_layers=2,
    ...                         dim_feedforward=64)
    >>> vit(neurona.randn(2, 1, 28, 28)).shape
    neurona.Size([2, 10])
    """

    def __init__(self, image_size: int = 28, patch_size: int = 7, in_channels: int = 1, num_classes: int = 10,
                 d_model: int = 64, nhead: int = 4, num_layers: int = 4, dim_feedforward: int = 128,
                 dropout: float = 0.1, activation: str = "gelu_tanh"):
        super().__init__()
        if int(image_size) % int(patch_size):
            raise ValueError(f"VisionTransformer: image_size {image_size} is not a multiple of patch_size {patch_size}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"VisionTransformer: activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        self.config = dict(image_size=int(image_size), patch_size=int(patch_size), in_channels=int(in_channels),
                           num_classes=int(num_classes), d_model=int(d_model), nhead=int(nhead),
                           num_layers=int(num_layers), dim_feedforward=int(dim_feedforward), dropout=float(dropout),
                           activation=activation)
        P, C = int(patch_size), int(in_channels)
        self.grid = int(image_size) // P
        self.num_patches = self.grid ** 2
        self.patch_embedding = nn.Linear(C * P * P, d_model)
        self.cls_token = nn.Parameter(from_numpy(np.zeros((1, 1, int(d_model)), np.float32)))
        self.positions = nn.LearnedPositionalEncoding(self.num_patches + 1, d_model, dropout, batch_first=True)
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout,
                                           activation=_ACTIVATIONS[activation], batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers, norm=nn.LayerNorm(d_model))
        for p in self.encoder.parameters():         # different starting weights in each layer
            if p.ndim > 1:
                nn.init.xavier_uniform_(p)
        self.head = nn.Linear(d_model, num_classes)
        nn.init.trunc_normal_(self.cls_token, std=0.02)

    def get_config(self) -> dict:
        return dict(self.config)

    def patches(self, x) -> Tensor:
        """Images → their flattened patches (B, N, C·P²), row by row, each patch's pixels channel first."""
        if not isinstance(x, Tensor):
            x = from_numpy(np.asarray(x, dtype=self.patch_embedding.weight.dtype))
        S, C, P = self.config["image_size"], self.config["in_channels"], self.config["patch_size"]
        if x.ndim == 2 and x.shape[1] == C * S * S:
            x = x.reshape(x.shape[0], C, S, S)
        elif x.ndim == 3 and C == 1:
            x = x.reshape(x.shape[0], 1, x.shape[1], x.shape[2])
        if x.ndim != 4 or tuple(x.shape[1:]) != (C, S, S):
            raise ValueError(f"VisionTransformer: expected images of shape (batch, {C}, {S}, {S}), got {tuple(x.shape)}")
        B, g = x.shape[0], self.grid
        x = x.reshape(B, C, g, P, g, P).permute(0, 2, 4, 1, 3, 5)
        return x.reshape(B, g * g, C * P * P)

    def forward(self, x) -> Tensor:
        tokens = self.patch_embedding(self.patches(x))                           # (B, N, d)
        B, d = tokens.shape[0], tokens.shape[2]
        cls = broadcast_to(self.cls_token, (B, 1, d))
        h = self.encoder(self.positions(cat([cls, tokens], 1)))
        return self.head(h[:, 0])

    @staticmethod
    def from_cli(data_info: dict, options: dict) -> dict:
        """Square images (C, H, W), (H, W) or flattened (H·W): patches of 7 (or 4 if 7 does not divide H)."""
        shape = tuple(int(s) for s in data_info["input_shape"])
        if data_info.get("task", "classification") != "classification":
            raise ValueError("the Vision Transformer is a classifier; this data set is for regression")
        if len(shape) == 3:
            C, S = shape[0], shape[1]
        elif len(shape) == 2:
            C, S = 1, shape[0]
        elif len(shape) == 1 and math.isqrt(shape[0]) ** 2 == shape[0]:
            C, S = 1, math.isqrt(shape[0])
        else:
            raise ValueError(f"the Vision Transformer needs square images, got samples of shape {shape}")
        patch = 7 if S % 7 == 0 else 4 if S % 4 == 0 else 1
        hidden = list(options.get("hidden") or [64])
        d = 64 if hidden == [300, 100] else int(hidden[0])
        return {"image_size": S, "patch_size": patch, "in_channels": C, "num_classes": int(data_info["n_outputs"]),
                "d_model": d, "dim_feedforward": 2 * d, "dropout": float(options.get("dropout", 0.0))}


register_model("vit", VisionTransformer, from_cli=VisionTransformer.from_cli,
               description="Vision Transformer: image patches as tokens, a class token, Transformer encoder")
