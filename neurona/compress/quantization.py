"""Post-training int8 quantization: smaller models, integer arithmetic.

The notes' "Quantización de los parámetros": store each weight in 8 bits
instead of 32. For a real number r the affine map of 8-bit quantization is

    r ≈ s · (q − z),    q = clip(round(r / s) + z, −128, 127)   (int8)

with a scale s > 0 and a zero point z (the integer that stands for 0.0).

- **Weights** are quantized symmetrically (z = 0) *per output channel*:
  row i of a Linear weight (or output channel i of a convolution kernel) gets
  s_i = max|W_i| / 127, so a neuron with small weights keeps its precision.
- **Activations** (the input of each quantized layer) are quantized with one
  (s, z) per layer, fixed beforehand by *calibration*: the float model runs
  on a few batches while observers record the range [min, max] of every
  layer's input; s = (max − min)/255 and z puts 0.0 exactly on an integer.
- **Inference**: a quantized ``Linear`` computes

      y_i = s_x s_i Σ_k (x_q,k − z_x) W_q,ik + b_i
          = s_x s_i (Σ_k x_q,k W_q,ik − z_x Σ_k W_q,ik) + b_i,

  the sum being an integer matrix product of int8 values accumulated in
  int32 (``numpy.matmul`` on int32 arrays); a quantized convolution does the
  same on its im2col patches. The result is turned back to float32 for the
  activation function and the next layer, which quantizes it again.

:func:`quantize` returns a :class:`QuantizedModel`: the same architecture
with its Linear/Conv layers replaced by :class:`QuantizedLinear` /
:class:`QuantizedConv2d` / :class:`QuantizedConv1d`. Its file (``neurona.io.save``)
holds int8 weights, about a quarter of the float file, and loads back with
``neurona.io.load`` like any model (model name ``"quantized"``, no pickle).

>>> qmodel = quantize(model, calibration_data=(X_train[:1024], y_train[:1024]))
>>> neurona.io.save(qmodel, "model-int8.npz")
>>> qmodel = neurona.io.load("model-int8.npz")
"""
from __future__ import annotations

import copy
import math

import numpy as np

from ..creation import from_numpy
from ..nn.module import Module
from ..engine import Tensor, no_grad

__all__ = ["quantize", "calibrate", "fold_batchnorm", "QuantizedModel", "QuantizedLinear", "QuantizedConv2d", "QuantizedConv1d",
           "quantize_per_channel", "quantize_affine", "dequantize", "affine_qparams", "MinMaxObserver",
           "PercentileObserver", "int_matmul", "GEMMS"]

QMIN, QMAX = -128, 127
#: how integer products are computed: "int32" = numpy matmul on int32 arrays (true integer arithmetic);
#: "blas" = the same integer sums through a float BLAS product, exact because every partial sum is an
#: integer below 2^24 (float32) or 2^53 (float64) — the same result, faster on CPUs without int8 BLAS
GEMMS = ("int32", "blas")
_INT32_SAFE_K = (2 ** 31 - 1) // (128 * 127)  # longest int8·int8 sum that cannot overflow int32
_F32_EXACT_K = (2 ** 24) // (128 * 127)       # longest one whose every partial sum is exact in float32


# --- the affine maps --------------------------------------------------------------------------


def affine_qparams(lo: float, hi: float) -> tuple[float, int]:
    """(scale, zero point) mapping [lo, hi] (widened to contain 0) onto the int8 range [−128, 127].

    s = (hi − lo)/255, z = round(−128 − lo/s), so that 0.0 is represented exactly.
    """
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"affine_qparams: the observed range [{lo}, {hi}] is not finite")
    if hi - lo < 1e-12:
        return 1.0, 0
    scale = (hi - lo) / (QMAX - QMIN)
    zp = int(round(QMIN - lo / scale))
    return scale, int(min(max(zp, QMIN), QMAX))


def quantize_affine(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """q = clip(round(x / s) + z, −128, 127) as int8."""
    q = np.rint(x * np.float32(1.0 / scale)) + np.float32(zero_point)
    return np.clip(q, QMIN, QMAX).astype(np.int8)


def dequantize(q: np.ndarray, scale, zero_point=0) -> np.ndarray:
    """r = s (q − z) as float32 (``scale`` may be per channel, broadcast against ``q``)."""
    return (q.astype(np.float32) - np.float32(zero_point)) * np.asarray(scale, np.float32)


def quantize_per_channel(w: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 quantization with one scale per slice along ``axis``: (q int8, scales float32).

    s_i = max|w_i| / 127 (1 for an all-zero slice), q = clip(round(w / s_i), −127, 127).
    """
    w = np.asarray(getattr(w, "data", w))
    if w.ndim == 0:
        raise ValueError("quantize_per_channel: expected an array with a channel axis, got a scalar")
    axis = axis % w.ndim
    other = tuple(i for i in range(w.ndim) if i != axis)
    amax = np.abs(w).max(axis=other) if other else np.abs(w)
    scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.rint(w / scale.reshape(shape)), -127, 127).astype(np.int8)
    return q, scale


def int_matmul(xq: np.ndarray, zero_point: int, wq: np.ndarray, gemm: str = "int32") -> np.ndarray:
    """Σ_k (x_q,mk − z) W_q,nk for int8 ``xq`` (M, K) and ``wq`` (N, K), accumulated exactly: int32 (M, N).

    Computed as x_q W_qᵀ − z·(Σ_k W_q,nk), the zero-point correction folded
    into one row vector as integer kernels do.
    """
    k = xq.shape[1]
    if k > _INT32_SAFE_K:
        raise ValueError(f"int_matmul: sums over {k} products of int8 values may overflow int32 "
                         f"(at most {_INT32_SAFE_K})")
    if gemm == "int32":
        acc = xq.astype(np.int32) @ wq.T.astype(np.int32)
    elif gemm == "blas":
        ft = np.float32 if k <= _F32_EXACT_K else np.float64
        acc = (xq.astype(ft) @ wq.T.astype(ft)).astype(np.int32)
    else:
        raise ValueError(f"int_matmul: gemm must be one of {GEMMS}, got {gemm!r}")
    if zero_point:
        acc -= np.int32(zero_point) * wq.sum(axis=1, dtype=np.int32)
    return acc


# --- observers (calibration) -------------------------------------------------------------------


class MinMaxObserver:
    """Records the smallest and largest value seen: the range is [min, max] over all calibration batches."""

    def __init__(self):
        self.lo, self.hi, self.batches = math.inf, -math.inf, 0

    def update(self, x: np.ndarray) -> None:
        if x.size:
            self.lo = min(self.lo, float(x.min()))
            self.hi = max(self.hi, float(x.max()))
            self.batches += 1

    def range(self) -> tuple[float, float]:
        if self.batches == 0:
            raise RuntimeError("calibration: this layer never ran on the calibration data (is it used in forward?)")
        return self.lo, self.hi

    def qparams(self) -> tuple[float, int]:
        return affine_qparams(*self.range())


class PercentileObserver(MinMaxObserver):
    """The range is the mean over batches of the ``percentile`` / (100 − ``percentile``) percentiles.

    Clipping rare outliers gives the bulk of the values a finer scale.
    """

    def __init__(self, percentile: float = 99.99):
        super().__init__()
        if not 50.0 < percentile <= 100.0:
            raise ValueError(f"PercentileObserver: percentile must be in (50, 100], got {percentile}")
        self.percentile = float(percentile)
        self._lo, self._hi = [], []

    def update(self, x: np.ndarray) -> None:
        if x.size:
            lo, hi = np.percentile(x, [100.0 - self.percentile, self.percentile])
            self._lo.append(float(lo))
            self._hi.append(float(hi))
            self.batches += 1

    def range(self) -> tuple[float, float]:
        super().range()
        return float(np.mean(self._lo)), float(np.mean(self._hi))


def _observer(kind):
    if kind == "minmax":
        return MinMaxObserver()
    if kind == "percentile":
        return PercentileObserver()
    if isinstance(kind, (int, float)) and not isinstance(kind, bool):
        return PercentileObserver(float(kind))
    raise ValueError(f"quantize: observer must be 'minmax', 'percentile' or a percentile number, got {kind!r}")


# --- quantized layers -----------------------------------------------------------------------------


def _arr(x) -> np.ndarray:
    a = x.array if isinstance(x, Tensor) else np.asarray(x)
    if a.dtype.kind != "f":
        a = a.astype(np.float32)
    return a


class _QuantizedLayer(Module):
    """Shared buffers: int8 weights, per-channel scales, float bias, the input's scale and zero point."""

    def _init_buffers(self, wshape: tuple, out_channels: int, bias: bool, gemm: str) -> None:
        if gemm not in GEMMS:
            raise ValueError(f"{type(self).__name__}: gemm must be one of {GEMMS}, got {gemm!r}")
        self.gemm = gemm
        self.register_buffer("weight_int8", from_numpy(np.zeros(wshape, np.int8)))
        self.register_buffer("weight_scale", from_numpy(np.ones(out_channels, np.float32)))
        self.register_buffer("bias", from_numpy(np.zeros(out_channels, np.float32)) if bias else None)
        self.register_buffer("input_scale", from_numpy(np.array(1.0, np.float32)))
        self.register_buffer("input_zero_point", from_numpy(np.array(0, np.int32)))

    def _set_from_float(self, float_layer, input_qparams: tuple[float, int]) -> None:
        w = float_layer.weight.array
        q, s = quantize_per_channel(w, axis=0)
        self.weight_int8.array[...] = q
        self.weight_scale.array[...] = s
        if float_layer.bias is not None:
            self.bias.array[...] = float_layer.bias.array
        self.input_scale.array[...] = input_qparams[0]
        self.input_zero_point.array[...] = input_qparams[1]

    def _quantize_input(self, a: np.ndarray) -> tuple[np.ndarray, int, float]:
        s = float(self.input_scale.array)
        z = int(self.input_zero_point.array)
        return quantize_affine(a, s, z), z, s

    def _output(self, acc: np.ndarray, s_x: float) -> np.ndarray:
        # back to real numbers: y = s_x s_i acc + b_i
        y = acc.astype(np.float32)
        y *= (np.float32(s_x) * self.weight_scale.array)
        if self.bias is not None:
            y += self.bias.array
        return y

    def dequantized_weight(self) -> np.ndarray:
        """The float weights the int8 ones stand for: s_i · W_q,i."""
        shape = (-1,) + (1,) * (self.weight_int8.array.ndim - 1)
        return self.weight_int8.array.astype(np.float32) * self.weight_scale.array.reshape(shape)


class QuantizedLinear(_QuantizedLayer):
    """int8 ``Linear`` for inference: y = s_x s_i (x_q − z_x) W_qᵀ + b, the products accumulated in int32.

    Buffers: ``weight_int8`` (out, in) int8, ``weight_scale`` (out,), ``bias``
    (out,) float32, ``input_scale`` and ``input_zero_point`` (from calibration).
    Build one with :meth:`from_float`, or through :func:`quantize`. Outputs
    are float32 tensors without a graph (quantized layers do not train).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, gemm: str = "int32"):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        self._init_buffers((self.out_features, self.in_features), self.out_features, bias, gemm)

    @classmethod
    def from_float(cls, linear, input_qparams: tuple[float, int], gemm: str = "int32") -> "QuantizedLinear":
        """Quantize a ``nn.Linear`` given its input's (scale, zero point)."""
        q = cls(linear.in_features, linear.out_features, linear.bias is not None, gemm)
        q._set_from_float(linear, input_qparams)
        return q

    def forward(self, x) -> Tensor:
        a = _arr(x)
        if a.ndim == 0 or a.shape[-1] != self.in_features:
            raise ValueError(f"QuantizedLinear: expected input with {self.in_features} features (last dimension), "
                             f"got shape {a.shape}")
        lead = a.shape[:-1]
        xq, z, s = self._quantize_input(a.reshape(-1, self.in_features))
        acc = int_matmul(xq, z, self.weight_int8.array, self.gemm)
        return from_numpy(self._output(acc, s).reshape(lead + (self.out_features,)))

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
                f"int8, gemm={self.gemm!r}")


class _QuantizedConv(_QuantizedLayer):
    _nd = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple, stride: tuple, pads: tuple,
                 dilation: tuple, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 gemm: str = "int32"):
        super().__init__()
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size, self.stride = tuple(kernel_size), tuple(stride)
        self.pads, self.dilation, self.padding_mode = tuple(pads), tuple(dilation), padding_mode
        wshape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        self._init_buffers(wshape, self.out_channels, bias, gemm)

    @classmethod
    def from_float(cls, conv, input_qparams: tuple[float, int], gemm: str = "int32"):
        """Quantize a ``nn.Conv2d`` / ``nn.Conv1d`` given its input's (scale, zero point)."""
        q = cls._shell(conv, gemm)
        q._set_from_float(conv, input_qparams)
        return q

    @classmethod
    def _shell(cls, conv, gemm: str, bias: bool | None = None):
        pads = conv._explicit_pads()  # (top, bottom, left, right)
        bias = conv.bias is not None if bias is None else bias
        return cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, pads, conv.dilation,
                   conv.groups, bias, conv.padding_mode, gemm)

    def _conv(self, a: np.ndarray) -> np.ndarray:
        """a: float (N, C, H, W) → float32 (N, O, OH, OW) by int8 im2col and integer GEMMs."""
        from ..functional.conv import conv_output_size

        n, c, h, w = a.shape
        kh, kw = self.kernel_size if self._nd == 2 else (1,) + self.kernel_size
        sh, sw = self.stride if self._nd == 2 else (1,) + self.stride
        dh, dw = self.dilation if self._nd == 2 else (1,) + self.dilation
        t, b, l, r = self.pads
        if self.padding_mode != "zeros" and any(self.pads):
            from ..functional.conv import pad_mode

            x4 = from_numpy(a)
            a = pad_mode(x4, (t, b, l, r), self.padding_mode).array
            n, c, h, w = a.shape
            t = b = l = r = 0
        xq, z, s = self._quantize_input(a)
        xl = np.ascontiguousarray(xq.transpose(0, 2, 3, 1))  # NHWC: one patch row is kh·kw·C contiguous values
        if t or b or l or r:
            padded = np.full((n, h + t + b, w + l + r, c), z, np.int8)  # z stands for 0.0
            padded[:, t:t + h, l:l + w, :] = xl
            xl = padded
        oh = conv_output_size(h, kh, sh, t, b, dh)
        ow = conv_output_size(w, kw, sw, l, r, dw)
        if oh < 1 or ow < 1:
            raise ValueError(f"{type(self).__name__}: input of spatial size {(h, w)} is smaller than the kernel "
                             f"{self.kernel_size} (with dilation {self.dilation})")
        s0, s1, s2, s3 = xl.strides
        win = np.lib.stride_tricks.as_strided(xl, (n, oh, ow, kh, kw, c), (s0, s1 * sh, s2 * sw, s1 * dh, s2 * dw, s3),
                                              writeable=False)
        g, o = self.groups, self.out_channels
        cg, og = c // g, o // g
        wq = self.weight_int8.array.reshape(o, cg, kh, kw).transpose(0, 2, 3, 1)  # (O, kh, kw, C/g)
        out = np.empty((n * oh * ow, o), np.int32)
        for gi in range(g):
            cols = win[..., gi * cg:(gi + 1) * cg].reshape(n * oh * ow, kh * kw * cg)
            wg = wq[gi * og:(gi + 1) * og].reshape(og, kh * kw * cg)
            out[:, gi * og:(gi + 1) * og] = int_matmul(cols, z, wg, self.gemm)
        y = self._output(out, s).reshape(n, oh, ow, o)
        return y.transpose(0, 3, 1, 2)  # NCHW view of NHWC memory, as the float convolution returns

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"pads={self.pads}, int8, gemm={self.gemm!r}")


class QuantizedConv2d(_QuantizedConv):
    """int8 ``Conv2d`` for inference: int8 patches (padded with the zero point) times int8 kernels, int32 sums.

    Same geometry as the float layer (stride, padding incl. 'same' and the
    padding modes, dilation, groups); one weight scale per output channel.
    """

    _nd = 2

    def forward(self, x) -> Tensor:
        a = _arr(x)
        if a.ndim == 3:
            return from_numpy(self._conv(a[None])[0])
        if a.ndim != 4 or a.shape[1] != self.in_channels:
            raise ValueError(f"QuantizedConv2d: expected input (N, {self.in_channels}, H, W), got shape {a.shape}")
        return from_numpy(self._conv(a))


class QuantizedConv1d(_QuantizedConv):
    """int8 ``Conv1d`` for inference, computed as a 2-D convolution of height 1."""

    _nd = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple, stride: tuple, pads: tuple,
                 dilation: tuple, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 gemm: str = "int32"):
        super().__init__(in_channels, out_channels, kernel_size, stride, pads, dilation, groups, bias, padding_mode,
                         gemm)

    def forward(self, x) -> Tensor:
        a = _arr(x)
        if a.ndim == 2:
            return from_numpy(self._conv(a[None, :, None, :])[0, :, 0, :])
        if a.ndim != 3 or a.shape[1] != self.in_channels:
            raise ValueError(f"QuantizedConv1d: expected input (N, {self.in_channels}, L), got shape {a.shape}")
        return from_numpy(self._conv(a[:, :, None, :])[:, :, 0, :])


def _kind(module) -> str | None:
    from .. import nn

    if isinstance(module, nn.Linear):
        return "linear"
    if isinstance(module, nn.Conv2d):
        return "conv2d"
    if isinstance(module, nn.Conv1d):
        return "conv1d"
    return None


_QCLASS = {"linear": QuantizedLinear, "conv2d": QuantizedConv2d, "conv1d": QuantizedConv1d}


def _spec(entry) -> tuple[str, bool | None]:
    """(kind, bias override) from a config entry: "linear", or {"kind": "conv2d", "bias": true} after BN folding."""
    if isinstance(entry, dict):
        return entry.get("kind"), entry.get("bias")
    return entry, None


def _shell_for(kind: str, module, gemm: str, bias: bool | None = None) -> Module:
    if kind == "linear":
        bias = module.bias is not None if bias is None else bias
        return QuantizedLinear(module.in_features, module.out_features, bias, gemm)
    return _QCLASS[kind]._shell(module, gemm, bias)


def _replace(model: Module, name: str, new: Module) -> None:
    parent_name, _, last = name.rpartition(".")
    parent = model.get_submodule(parent_name)
    if last not in parent._modules:
        raise KeyError(f"quantize: {type(parent).__name__} has no sub-module {last!r}")
    parent._modules[last] = new  # same key, same position (Sequential order is kept)


# --- the quantized model ------------------------------------------------------------------------------


class QuantizedModel(Module):
    """A float model whose Linear / Conv layers run in int8; everything else stays float32.

    Built by :func:`quantize`. Saved with ``neurona.io.save`` under the model
    name ``"quantized"``: its config names the float model it came from
    (``base``, ``base_config``) and the quantized layers, and its weights are
    the int8 buffers; ``neurona.io.load`` rebuilds it through the registry.
    The float model must be a registered one (``neurona.models``) for the
    file to be rebuilt by name.
    """

    def __init__(self, base: str | None = None, base_config: dict | None = None, layers: dict | None = None,
                 gemm: str = "int32", folded: list | None = None, *, model: Module | None = None):
        super().__init__()
        if model is None:
            if base is None:
                raise TypeError("QuantizedModel: give base (a registered model name) and base_config, or model=")
            from .. import nn
            from ..models.registry import build_model

            model = build_model(base, **(base_config or {}))
            for name in folded or ():
                _replace(model, name, nn.Identity())
            for name, entry in (layers or {}).items():
                kind, bias = _spec(entry)
                if kind not in _QCLASS:
                    raise ValueError(f"QuantizedModel: unknown quantized layer kind {kind!r} for {name!r}")
                _replace(model, name, _shell_for(kind, model.get_submodule(name), gemm, bias))
        self.model = model
        self.base, self.base_config = base, dict(base_config or {})
        self.layer_kinds = dict(layers or {})
        self.folded = list(folded or [])
        self.gemm = gemm
        model.eval()
        self.eval()

    def forward(self, *args, **kwargs):
        with no_grad():
            return self.model(*args, **kwargs)

    def get_config(self) -> dict:
        if self.base is None:
            raise ValueError(f"QuantizedModel: the float model ({type(self.model).__name__}) is not a registered "
                             f"neurona.models model, so its file could not be rebuilt by name; register it "
                             f"(neurona.models.register_model) before quantizing, or save the float model")
        return {"base": self.base, "base_config": self.base_config, "layers": self.layer_kinds, "gemm": self.gemm,
                "folded": self.folded}

    def set_gemm(self, gemm: str) -> "QuantizedModel":
        """Switch every quantized layer between 'int32' (numpy integer matmul) and 'blas' (exact float GEMM)."""
        if gemm not in GEMMS:
            raise ValueError(f"set_gemm: gemm must be one of {GEMMS}, got {gemm!r}")
        for m in self.modules():
            if isinstance(m, _QuantizedLayer):
                m.gemm = gemm
        self.gemm = gemm
        return self

    def quantized_layers(self) -> dict[str, Module]:
        return {n: m for n, m in self.model.named_modules() if isinstance(m, _QuantizedLayer)}

    def extra_repr(self) -> str:
        folded = f", {len(self.folded)} batch norms folded" if self.folded else ""
        return f"base={self.base!r}, {len(self.layer_kinds)} int8 layers{folded}"


def _register() -> None:
    from ..models.registry import _REGISTRY, register_model

    spec = _REGISTRY.get("quantized")
    if spec is None or spec.build is not QuantizedModel:
        register_model("quantized", QuantizedModel, overwrite=True,
                       description="a registered model with its Linear/Conv layers quantized to int8")


_register()


# --- calibration and conversion -----------------------------------------------------------------------


def _batches(data, num_batches: int, batch_size: int):
    """Up to ``num_batches`` input batches from a DataLoader, an (X, y) pair or an array X."""
    if isinstance(data, (np.ndarray, Tensor)):
        a = data.array if isinstance(data, Tensor) else data
        for i in range(0, min(len(a), num_batches * batch_size), batch_size):
            yield from_numpy(np.asarray(a[i:i + batch_size], dtype=np.float32) if a.dtype.kind != "f"
                             else a[i:i + batch_size])
        return
    if isinstance(data, (tuple, list)) and len(data) == 2 and isinstance(data[0], (np.ndarray, Tensor)):
        yield from _batches(data[0], num_batches, batch_size)
        return
    for k, batch in enumerate(data):
        if k >= num_batches:
            break
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        yield x if isinstance(x, Tensor) else from_numpy(np.asarray(x, dtype=np.float32))


def calibrate(model: Module, data, layer_names, observer="minmax", num_batches: int = 8,
              batch_size: int = 256) -> dict[str, tuple[float, int]]:
    """Run ``model`` (eval mode, no graph) on a few batches; return each named layer's input (scale, zero point)."""
    obs = {n: _observer(observer) for n in layer_names}
    handles = []
    for n in layer_names:
        def hook(module, inputs, _o=obs[n]):
            x = inputs[0]
            _o.update(x.array if isinstance(x, Tensor) else np.asarray(x))
        handles.append(model.get_submodule(n).register_forward_pre_hook(hook))
    was_training = model.training
    model.eval()
    ran = 0
    try:
        with no_grad():
            for xb in _batches(data, int(num_batches), int(batch_size)):
                model(xb)
                ran += 1
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    if ran == 0:
        raise ValueError("calibrate: the calibration data gave no batches")
    return {n: o.qparams() for n, o in obs.items()}


def _bn_pairs(model: Module) -> list[tuple[str, str]]:
    """(layer, batch norm) names where a Linear/Conv is directly followed by a BatchNorm in a Sequential."""
    from .. import nn
    from ..nn.normalization import _BatchNorm

    pairs = []
    for prefix, m in model.named_modules():
        if not isinstance(m, nn.Sequential):
            continue
        items = list(m._modules.items())
        for (na, a), (nb, b) in zip(items, items[1:]):
            if _kind(a) is not None and isinstance(b, _BatchNorm) and b.track_running_stats \
                    and b.num_features == (a.out_features if _kind(a) == "linear" else a.out_channels):
                pre = prefix + "." if prefix else ""
                pairs.append((pre + na, pre + nb))
    return pairs


def fold_batchnorm(layer, bn) -> None:
    """Fold an eval-mode BatchNorm that follows ``layer`` into the layer's weight and bias, in place.

    BN(W x + b) = γ (W x + b − μ)/sqrt(σ² + ε) + β = W' x + b' with, per output channel,
    W' = W · γ/sqrt(σ² + ε) and b' = (b − μ) γ/sqrt(σ² + ε) + β.
    """
    from ..nn.parameter import Parameter

    w = layer.weight.array
    scale = 1.0 / np.sqrt(bn.running_var.array.astype(np.float64) + bn.eps)
    if bn.affine:
        scale = scale * bn.weight.array
    b = layer.bias.array.astype(np.float64) if layer.bias is not None else np.zeros(w.shape[0])
    new_b = (b - bn.running_mean.array) * scale + (bn.bias.array if bn.affine else 0.0)
    layer.weight.array = (w * scale.reshape((-1,) + (1,) * (w.ndim - 1))).astype(w.dtype)
    if layer.bias is not None:
        layer.bias.array = new_b.astype(w.dtype)
    else:
        layer.bias = Parameter(from_numpy(new_b.astype(w.dtype)))


def quantize(model: Module, calibration_data, *, layers=None, observer="minmax", num_batches: int = 8,
             batch_size: int = 256, gemm: str = "int32", fold_bn: bool = True) -> QuantizedModel:
    """Post-training int8 quantization of ``model``'s Linear, Conv2d and Conv1d layers.

    ``calibration_data``: a DataLoader, an (X, y) pair or an array X of
    typical inputs (preprocessed as in training); ``num_batches`` batches
    fix each layer's input range (``observer``: 'minmax', 'percentile' =
    99.99, or a percentile). ``layers``: names of the layers to quantize
    (default all Linear/Conv). ``gemm``: 'int32' (numpy integer matmul) or
    'blas' (the same integers through an exact float GEMM, faster).
    ``fold_bn``: a BatchNorm right after a quantized layer (in a Sequential)
    is folded into its weights and bias first (:func:`fold_batchnorm`), so
    it costs nothing at inference. The float model is left unchanged; the
    result runs in eval mode only.
    """
    if gemm not in GEMMS:
        raise ValueError(f"quantize: gemm must be one of {GEMMS}, got {gemm!r}")
    if isinstance(model, QuantizedModel):
        raise TypeError("quantize: the model is already quantized")
    from ..models.registry import model_config

    found = {n: _kind(m) for n, m in model.named_modules() if n and _kind(m) is not None}
    if layers is None:
        targets = found
    else:
        targets = {}
        for n in layers:
            if n not in found:
                raise ValueError(f"quantize: {n!r} is not a Linear/Conv layer of the model; those are "
                                 f"{', '.join(found) or 'none'}")
            targets[n] = found[n]
    if not targets:
        raise ValueError(f"quantize: {type(model).__name__} has no Linear or Conv layers to quantize")
    from .. import nn

    fmodel = copy.deepcopy(model)
    fmodel.eval()
    entries: dict = dict(targets)
    folded = []
    if fold_bn:
        for ln, bn_name in _bn_pairs(fmodel):
            if ln not in targets:
                continue
            layer = fmodel.get_submodule(ln)
            had_bias = layer.bias is not None
            fold_batchnorm(layer, fmodel.get_submodule(bn_name))
            _replace(fmodel, bn_name, nn.Identity())
            folded.append(bn_name)
            if not had_bias:
                entries[ln] = {"kind": targets[ln], "bias": True}
    qparams = calibrate(fmodel, calibration_data, list(targets), observer, num_batches, batch_size)
    for n, kind in targets.items():
        _replace(fmodel, n, _QCLASS[kind].from_float(fmodel.get_submodule(n), qparams[n], gemm))
    cfg = model_config(model)
    base, base_config = (cfg if cfg is not None else (None, None))
    return QuantizedModel(base, base_config, entries, gemm, folded, model=fmodel)
