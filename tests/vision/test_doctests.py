"""The examples in the docstrings of the vision package and the new models run as written."""
from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest

MODULES = ["neurona.vision.boxes", "neurona.vision.grid", "neurona.vision.metrics", "neurona.vision.losses",
           "neurona.vision.canvas", "neurona.functional.conv_transpose", "neurona.nn.conv_transpose",
           "neurona.models.unet", "neurona.models.detector", "neurona.models.autoencoder", "neurona.models.gan"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), extraglobs={"np": np}, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
