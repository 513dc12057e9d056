"""nn.ConvTranspose2d / ConvTranspose1d: PyTorch state_dicts by name, output_size, init, repr, errors;
nn.Upsample / F.interpolate on further PyTorch cases."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import neurona
import neurona.nn.functional as F
from neurona import nn

REF = np.load(Path(__file__).parents[1] / "fixtures" / "vision_reference.npz", allow_pickle=False)


def state(name: str) -> dict:
    return {k[len(name) + 4:]: REF[k] for k in REF.files if k.startswith(name + ".sd.")}


MODULES = {
    "convt2d_mod": lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, groups=2, dtype=np.float64),
    "convt2d_mod_op": lambda: nn.ConvTranspose2d(3, 2, (2, 3), stride=(2, 3), padding=(0, 1), output_padding=(1, 2),
                                                 bias=False, dtype=np.float64),
    "convt1d_mod": lambda: nn.ConvTranspose1d(3, 5, 4, stride=2, padding=1, dtype=np.float64),
}


@pytest.mark.parametrize("name", list(MODULES))
def test_pytorch_state_dict_loads_by_name_and_gives_pytorch_outputs(name):
    spec = json.loads(str(REF[f"{name}.spec"]))
    m = MODULES[name]()
    assert sorted(m.state_dict()) == sorted(state(name))
    m.load_state_dict(state(name))
    kw = {k: tuple(v) for k, v in spec["kwargs"].items()}
    y = m(neurona.from_numpy(REF[f"{name}.x"]), **kw)
    np.testing.assert_allclose(y.array, REF[f"{name}.y"], rtol=1e-10, atol=1e-12)
    assert repr(m).split("  [")[0] == spec["repr"]  # PyTorch's repr, then neurona's parameter count


def test_output_size_picks_the_output_padding():
    m = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    x = neurona.randn(1, 2, 5, 5)
    assert m(x).shape == (1, 3, 9, 9)
    assert m(x, output_size=(10, 9)).shape == (1, 3, 10, 9)
    assert m(x, output_size=[1, 3, 10, 10]).shape == (1, 3, 10, 10)  # (N, C, H, W) accepted, as in PyTorch
    with pytest.raises(ValueError, match="range from 9 to 10"):
        m(x, output_size=(11, 9))
    assert m.output_padding == (0, 0)  # the module is unchanged


def test_unbatched_input_and_output_shape():
    m = nn.ConvTranspose2d(4, 2, 2, stride=2)
    assert m(neurona.randn(4, 3, 5)).shape == (2, 6, 10)
    assert m.output_shape((7, 4, 3, 5)) == (7, 2, 6, 10)
    assert nn.ConvTranspose1d(3, 2, 3)(neurona.randn(3, 5)).shape == (2, 7)


def test_default_init_is_pytorchs():
    """Weights (in, out/groups, kh, kw) and bias uniform in ±1/√fan_in with fan_in = out/groups·kh·kw."""
    neurona.manual_seed(0)
    m = nn.ConvTranspose2d(64, 32, 4, groups=2)
    assert m.weight.shape == (64, 16, 4, 4) and m.bias.shape == (32,)
    bound = 1 / math.sqrt(16 * 16)
    assert bound * 0.95 < np.abs(m.weight.array).max() <= bound
    assert bound * 0.8 < np.abs(m.bias.array).max() <= bound
    assert m.weight.dtype == np.float32


def test_float32_in_float32_out_with_gradients():
    m = nn.ConvTranspose2d(3, 2, 3, stride=2, output_padding=1)
    x = neurona.randn(2, 3, 4, 4, requires_grad=True)
    y = m(x)
    y.sum().backward()
    assert y.dtype == x.grad.dtype == m.weight.grad.dtype == m.bias.grad.dtype == np.float32


@pytest.mark.parametrize("make, message", [
    (lambda: nn.ConvTranspose2d(3, 2, 3, padding_mode="reflect"), "zeros"),
    (lambda: nn.ConvTranspose2d(3, 2, 3, stride=2, output_padding=2), "output_padding"),
    (lambda: nn.ConvTranspose2d(3, 2, 3, groups=2), "divisible"),
    (lambda: nn.ConvTranspose2d(3, 2, 0), "positive"),
    (lambda: nn.ConvTranspose2d(3, 2, 3, dtype=np.int32), "floating"),
])
def test_constructor_errors(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_wrong_input_channels_named():
    with pytest.raises(ValueError, match=r"expected input \(N, 3, H, W\)"):
        nn.ConvTranspose2d(3, 2, 3)(neurona.randn(1, 4, 5, 5))


def test_exported_names():
    assert F.conv_transpose2d is neurona.functional.conv_transpose.conv_transpose2d
    assert callable(F.conv_transpose1d)


INTERP = sorted({k.split(".")[0] for k in REF.files if k.startswith("interpolate_") and k.endswith(".spec")})


@pytest.mark.parametrize("case", INTERP)
def test_interpolate_and_upsample_match_pytorch(case):
    spec = json.loads(str(REF[f"{case}.spec"]))
    kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in spec["kwargs"].items()}
    for fn in (lambda x: F.interpolate(x, **kw), nn.Upsample(**kw)):
        x = neurona.from_numpy(REF[f"{case}.x"].copy()).requires_grad_()
        y = fn(x)
        np.testing.assert_allclose(y.array, REF[f"{case}.out"], rtol=1e-10, atol=1e-12)
        y.backward(REF[f"{case}.r"])
        np.testing.assert_allclose(x.grad.array, REF[f"{case}.grad_x"], rtol=1e-10, atol=1e-12)
