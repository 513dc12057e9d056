"""ONNX interchange (``neurona.onnx``): models that leave neurona, and models that come in.

- :func:`export` writes a neurona model as an ONNX file that ONNX Runtime
  (on a server, a phone, a browser) runs without neurona;
- :func:`load` builds a trainable neurona ``Module`` from an ONNX file made
  of the operators neurona knows, files exported by PyTorch included, so a
  network trained elsewhere can be fine-tuned here.

Needs the ``onnx`` package (``pip install "neurona[onnx]"``, which also
installs ``onnxruntime`` to run the exported files).

>>> import neurona, neurona.onnx
>>> model = neurona.models.MLP(784, (128,), 10)
>>> neurona.onnx.export(model, neurona.randn(1, 784), "mlp.onnx")   # batch size free by default
>>> again = neurona.onnx.load("mlp.onnx")                         # a neurona Module again
"""
try:
    import onnx as _onnx  # noqa: F401
except ImportError:  # pragma: no cover - depends on the environment
    raise ImportError("neurona.onnx needs the onnx package: pip install 'neurona[onnx]' (or pip install onnx "
                      "onnxruntime)") from None

from ._graph import ExportError, GraphBuilder, Value, register_converter
from .exporter import MIN_OPSET, Preprocessed, export, max_opset
from .importer import OnnxModule, UnsupportedOperatorError, load, supported_operators

__all__ = ["export", "load", "register_converter", "ExportError", "UnsupportedOperatorError", "OnnxModule",
           "GraphBuilder", "Value", "Preprocessed", "supported_operators", "MIN_OPSET", "max_opset"]
