"""ONNX converters for the architectures of ``neurona.models`` and for int8-quantized models.

Each converter follows its model's ``forward`` in eval mode, step by step,
calling ``g.call`` for the sub-modules; the glue in between (reshapes,
concatenations, the residual additions) is written as ONNX nodes here, each
given the neurona tensor it holds so that later steps see real shapes.
"""
from __future__ import annotations

import numpy as np

from .. import models as M
from ..compress import quantization as Q
from ..creation import from_numpy
from ..functional.shape import cat
from ._graph import GraphBuilder, Value, register_converter
from .layers import flatten

G = GraphBuilder


def as_images(g: G, x: Value, channels: int, size: int) -> Value:
    """The models' ``as_images``: (N, C, H, W) as is, (N, H, W) gets a channel axis, flat rows are reshaped."""
    if x.ndim == 4:
        return x
    if x.ndim == 3:
        return g.unsqueeze(x, [1], x.tensor.unsqueeze(1))
    return g.reshape(x, [-1, channels, size, size], x.tensor.reshape(-1, channels, size, size))


def _flat(g: G, x: Value) -> Value:
    return flatten(g, x, 1, -1, x.tensor.flatten(1))


@register_converter(M.MLP)
def _mlp(g: G, m: M.MLP, x: Value):
    if x.ndim > 2:
        x = _flat(g, x)
    return g.call(m.layers, x)


@register_converter(M.LeNet5)
def _lenet(g: G, m: M.LeNet5, x: Value):
    x = g.call(m.features, as_images(g, x, m.in_channels, m.input_size))
    return g.call(m.classifier, _flat(g, x))


@register_converter(M.CNNSmall)
def _cnn_small(g: G, m: M.CNNSmall, x: Value):
    x = g.call(m.features, as_images(g, x, m.in_channels, m.input_size))
    return g.call(m.classifier, _flat(g, g.call(m.pool, x)))


@register_converter(M.AlexNet, M.VGG)
def _alexnet_vgg(g: G, m, x: Value):
    x = g.call(m.features, as_images(g, x, m.in_channels, m.input_size))
    return g.call(m.classifier, _flat(g, g.call(m.avgpool, x)))


@register_converter(M.BasicBlock)
def _basic_block(g: G, m: M.BasicBlock, x: Value):
    out = g.call(m.relu, g.call(m.bn1, g.call(m.conv1, x)))
    out = g.call(m.bn2, g.call(m.conv2, out))
    skip = x if m.downsample is None else g.call(m.downsample, x)
    return g.call(m.relu, g.op("Add", [out, skip], out.tensor + skip.tensor))  # the skip connection


@register_converter(M.ResNet)
def _resnet(g: G, m: M.ResNet, x: Value):
    x = as_images(g, x, m.in_channels, m.input_size)
    x = g.call(m.relu, g.call(m.maxpool, g.call(m.bn1, g.call(m.conv1, x))))
    for i in range(len(m.layers)):
        x = g.call(getattr(m, f"layer{i + 1}"), x)
    return g.call(m.fc, _flat(g, g.call(m.avgpool, x)))


@register_converter(M.BasicConv2d)
def _basic_conv(g: G, m: M.BasicConv2d, x: Value):
    x = g.call(m.conv, x)
    if m.bn is not None:
        x = g.call(m.bn, x)
    return g.call(m.relu, x)


@register_converter(M.InceptionBlock)
def _inception(g: G, m: M.InceptionBlock, x: Value):
    branches = [g.call(b, x) for b in (m.branch1, m.branch2, m.branch3, m.branch4)]
    return g.op("Concat", branches, cat([b.tensor for b in branches], dim=1), axis=1)


@register_converter(M.GoogLeNet)
def _googlenet(g: G, m: M.GoogLeNet, x: Value):
    # eval mode: the auxiliary classifiers do not run, the output is the logits alone
    x = as_images(g, x, m.in_channels, m.input_size)
    for name in ("conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b", "maxpool3",
                 "inception4a", "inception4b", "inception4c", "inception4d", "inception4e", "maxpool4",
                 "inception5a", "inception5b", "avgpool"):
        x = g.call(getattr(m, name), x)
    return g.call(m.fc, g.call(m.dropout, _flat(g, x)))


# --- recurrent models ---------------------------------------------------------------------------


def _sequence(g: G, m: M.SequenceClassifier, x: Value) -> Value:
    """``SequenceClassifier._as_sequence``: images read row by row, flat rows cut into steps."""
    I = m.config["input_size"]
    t = m._as_sequence(x.tensor)
    if x.ndim == 4:
        B, C, H, W = x.shape
        if C > 1:
            return g.reshape(g.op("Transpose", [x], perm=[0, 2, 1, 3]), [0, 0, -1], t)
        return g.squeeze(x, [1], t)
    if x.ndim == 2:
        return g.reshape(x, [0, -1, I], t)
    return x


def _lengths_from_padding(g: G, ids: Value, pad: int) -> Value:
    """max(number of non-padding tokens, 1) per sequence, as the model computes when no lengths are given."""
    real = g.op("Not", [g.op("Equal", [ids, g.const(np.asarray(pad, ids.tensor.dtype))])])
    count = g.reduce("ReduceSum", g.op("Cast", [real], to=7), [1], keepdims=False)  # int64
    value = from_numpy(np.maximum((ids.tensor.array != pad).sum(axis=1), 1).astype(np.int64))
    return g.op("Max", [count, g.const(np.asarray(1, np.int64))], value)


def _last_state(g: G, h: Value, bidirectional: bool, value) -> Value:
    if bidirectional:  # cat([h[-2], h[-1]], dim=1): the top layer's two directions side by side
        last2 = g.slice(h, [-2], [h.shape[0]], [0])
        return g.reshape(g.op("Transpose", [last2], perm=[1, 0, 2]), [0, -1], value)
    return g.op("Gather", [h, g.const(np.asarray(-1, np.int64))], value, axis=0)


@register_converter(M.SequenceClassifier)
def _sequence_classifier(g: G, m: M.SequenceClassifier, x: Value, lengths: Value | None = None):
    if m.embedding is not None:
        if lengths is None and m.embedding.padding_idx is not None:
            lengths = _lengths_from_padding(g, x, m.embedding.padding_idx)
        seq = g.call(m.embedding, x)
    else:
        seq = _sequence(g, m, x)
    _, h = g.call(m.rnn, seq, lengths=lengths)
    h = h[0] if isinstance(h, tuple) else h
    last = cat([h.tensor[-2], h.tensor[-1]], axis=1) if m.rnn.bidirectional else h.tensor[-1]
    return g.call(m.fc, g.call(m.dropout, _last_state(g, h, m.rnn.bidirectional, last)))


@register_converter(M.CharLM)
def _char_lm(g: G, m: M.CharLM, x: Value, state=None):
    out, state = g.call(m.rnn, g.call(m.embedding, x), state)
    return g.call(m.head, g.call(m.dropout, out)), state


@register_converter(M.EmbeddingBagClassifier)
def _embedding_bag_classifier(g: G, m: M.EmbeddingBagClassifier, text: Value, offsets=None):
    return g.call(m.fc, g.call(m.embedding, text, offsets))


# --- int8 models: QuantizeLinear / DequantizeLinear around float operators ----------------------


@register_converter(Q.QuantizedModel)
def _quantized_model(g: G, m: Q.QuantizedModel, *inputs: Value):
    return g.call(m.model, *inputs)


def _dq_input(g: G, m, x: Value) -> Value:
    """x → int8 with the layer's calibrated (scale, zero point) → back to float: what the int8 layer sees."""
    scale = g.const(np.asarray(m.input_scale.array, np.float32), f"{g.scope_name()}.input_scale")
    zero = g.const(np.asarray(m.input_zero_point.array, np.int8), f"{g.scope_name()}.input_zero_point")
    return g.op("DequantizeLinear", [g.op("QuantizeLinear", [x, scale, zero]), scale, zero])


def _dq_weight(g: G, m) -> Value:
    """The int8 weights with one scale per output channel (axis 0), dequantized."""
    return g.op("DequantizeLinear", [g.param(m.weight_int8), g.param(m.weight_scale)], axis=0)


@register_converter(Q.QuantizedLinear)
def _quantized_linear(g: G, m: Q.QuantizedLinear, x: Value):
    xd, w = _dq_input(g, m, x), _dq_weight(g, m)
    b = None if m.bias is None else g.param(m.bias)
    if x.ndim == 2:
        return g.op("Gemm", [xd, w, b], transB=1)
    y = g.op("MatMul", [xd, g.op("Transpose", [w], perm=[1, 0])])
    return y if b is None else g.op("Add", [y, b])


@register_converter(Q.QuantizedConv2d, Q.QuantizedConv1d)
def _quantized_conv(g: G, m, x: Value):
    from .layers import _empty, _pad_spatial

    nd = m._nd
    unbatched = x.ndim == nd + 1
    if unbatched:
        x = g.unsqueeze(x, [0], _empty((1,) + x.shape, x))
    t, b, l, r = m.pads
    if m.padding_mode != "zeros" and any(m.pads):  # the float input is padded first, then quantized
        if nd == 1:
            x4 = _pad_spatial(g, g.unsqueeze(x, [2], _empty(x.shape[:2] + (1,) + x.shape[2:], x)), (0, 0, l, r),
                              m.padding_mode)
            x = g.squeeze(x4, [2], _empty(x.shape[:2] + (x.shape[2] + l + r,), x))
        else:
            x = _pad_spatial(g, x, (t, b, l, r), m.padding_mode)
        t = b = l = r = 0
    pads = [l, r] if nd == 1 else [t, l, b, r]
    ins = [_dq_input(g, m, x), _dq_weight(g, m)] + ([g.param(m.bias)] if m.bias is not None else [])
    y = g.op("Conv", ins, kernel_shape=list(m.kernel_size), strides=list(m.stride), pads=pads,
             dilations=list(m.dilation), group=int(m.groups))
    return g.squeeze(y, [0]) if unbatched else y


# --- dense prediction, detection and generative models ----------------------------------------------


@register_converter(M.UpBlock)
def _up_block(g: G, m: M.UpBlock, x: Value, skip: Value):
    from ..functional.resample import interpolate

    size = tuple(skip.shape[2:])
    if m.upsampling == "transpose":
        up = g.call(m.up, x, output_size=size)
    else:  # bilinear to the skip's size (PyTorch's half-pixel centres), then the 1x1 convolution
        sizes = g.op("Concat", [g.slice(g.op("Shape", [x]), [0], [2], [0]), g.ints(size)], axis=0)
        resized = g.op("Resize", [x, None, None, sizes],
                       interpolate(x.tensor, size=size, mode="bilinear", align_corners=False), mode="linear",
                       coordinate_transformation_mode="pytorch_half_pixel")
        up = g.call(m.up, resized)
    joined = g.op("Concat", [skip, up], cat([skip.tensor, up.tensor], 1), axis=1)  # the skip connection
    return g.call(m.conv, joined)


@register_converter(M.UNet)
def _unet(g: G, m: M.UNet, x: Value):
    skips = [g.call(m.stem, x)]
    for level in m.down:
        skips.append(g.call(level, skips[-1]))
    x = skips.pop()
    for block in m.up:
        x = g.call(block, x, skips.pop())
    return g.call(m.head, x)


@register_converter(M.GridDetector)
def _grid_detector(g: G, m: M.GridDetector, x: Value):
    return g.call(m.head, g.call(m.backbone, x))


@register_converter(M.ConvAutoencoder)
def _conv_autoencoder(g: G, m: M.ConvAutoencoder, x: Value):
    return g.call(m.decoder, g.call(m.encoder, as_images(g, x, 1, 28)))


@register_converter(M.VAE)
def _vae(g: G, m: M.VAE, x: Value):
    """Eval mode: the code is the mean μ; outputs (decoder logits, μ, log σ²), as ``forward``."""
    h = g.call(m.encoder, x)
    mu, logvar = g.call(m.mu, h), g.call(m.logvar, h)
    return g.call(m.decoder, mu), mu, logvar


@register_converter(M.DCGANGenerator)
def _dcgan_generator(g: G, m: M.DCGANGenerator, z: Value):
    if z.ndim == 2:
        z = g.reshape(z, [-1, m.latent_dim, 1, 1], z.tensor.reshape(z.shape[0], m.latent_dim, 1, 1))
    return g.call(m.net, z)


@register_converter(M.DCGANDiscriminator)
def _dcgan_discriminator(g: G, m: M.DCGANDiscriminator, x: Value):
    y = g.call(m.net, x)
    return g.reshape(y, [-1], y.tensor.reshape(y.shape[0]))
