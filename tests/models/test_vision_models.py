"""U-Net, grid detector, autoencoders and DCGAN: PyTorch weights by name, shapes, gradients, model files, summaries."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import neurona
from neurona import io, models, optim
from neurona.vision import GridBoxCoder, GridDetectionLoss

REF = np.load(Path(__file__).parents[1] / "fixtures" / "vision_reference.npz", allow_pickle=False)
TWINS = ["unet", "unet_bilinear", "detector", "conv_autoencoder", "vae", "dcgan_generator", "dcgan_discriminator"]


def state(name: str) -> dict:
    return {k[len(name) + 4:]: REF[k] for k in REF.files if k.startswith(name + ".sd.")}


@pytest.mark.parametrize("name", TWINS)
def test_pytorch_weights_load_by_name_and_give_pytorch_outputs(name):
    config = json.loads(str(REF[f"{name}.config"]))
    model = models.build_model(config.pop("model"), **config)
    assert sorted(model.state_dict()) == sorted(state(name))
    model.load_state_dict(state(name))
    model.eval()
    with neurona.no_grad():
        out = model(neurona.from_numpy(REF[f"{name}.x"]))
    outs = out if isinstance(out, tuple) else (out,)
    for i, o in enumerate(outs):
        assert o.dtype == np.float32
        np.testing.assert_allclose(o.array, REF[f"{name}.y{i}"], rtol=1e-4, atol=2e-5)


@pytest.mark.parametrize("name, build, shape", [
    ("unet", lambda: models.UNet(4, base_channels=4, depth=2), (2, 1, 9, 11)),
    ("unet-bilinear", lambda: models.UNet(4, 2, base_channels=4, depth=1, upsampling="bilinear"), (1, 2, 8, 7)),
    ("detector", lambda: models.GridDetector(3, image_size=16, width=2), (2, 1, 16, 16)),
    ("ae", lambda: models.ConvAutoencoder(4, width=2), (2, 1, 28, 28)),
    ("vae", lambda: models.VAE(2, hidden=(8,)), (2, 1, 28, 28)),
    ("generator", lambda: models.DCGANGenerator(3, width=2), (2, 3)),
    ("discriminator", lambda: models.DCGANDiscriminator(width=2), (2, 1, 28, 28)),
])
def test_float64_gradients_by_finite_differences(name, build, shape):
    """The whole network's input gradient against central differences along random directions (float64):
    ⟨∇_x ⟨r, f(x)⟩, v⟩ = (⟨r, f(x + εv)⟩ − ⟨r, f(x − εv)⟩) / 2ε. Every layer's own gradient is checked
    elementwise in its op's tests; this checks how the model wires them."""
    neurona.manual_seed(0)
    model = build().double()
    model.eval()  # fixed batch-norm statistics and the VAE's mean code: a deterministic function of x
    rng = np.random.default_rng(1)

    def f(x):
        out = model(x)
        return out[0] if isinstance(out, tuple) else out

    x0 = rng.standard_normal(shape)
    x = neurona.from_numpy(x0.copy()).requires_grad_()
    y = f(x)
    r = rng.standard_normal(y.shape)
    y.backward(r)
    with neurona.no_grad():
        for _ in range(3):
            v = rng.standard_normal(shape)
            eps = 1e-6
            plus = np.sum(r * f(neurona.from_numpy(x0 + eps * v)).array)
            minus = np.sum(r * f(neurona.from_numpy(x0 - eps * v)).array)
            assert np.sum(x.grad.array * v) == pytest.approx((plus - minus) / (2 * eps), rel=1e-5, abs=1e-7)


def test_unet_trains_on_a_tiny_segmentation_task():
    """A few Adam steps on one batch bring the per-pixel loss well down (the net can fit what it sees)."""
    neurona.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((4, 1, 16, 16)).astype(np.float32)
    y = (x[:, 0] > 0.5).astype(np.int64) + (x[:, 0] > 0.8)
    model = models.UNet(3, base_channels=4, depth=2)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        loss = neurona.nn.CrossEntropyLoss()(model(neurona.from_numpy(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_detector_outputs_decode_and_loss():
    neurona.manual_seed(0)
    model = models.GridDetector(num_classes=3, image_size=32, width=2)
    x = neurona.rand(2, 1, 32, 32)
    out = model(x)
    assert out.shape == (2, 8, 4, 4)
    # the objectness bias starts at the prior: σ(b) = 0.04
    assert 1 / (1 + np.exp(-model.head[1].bias.array[0])) == pytest.approx(0.04)
    t = GridBoxCoder(32, 8).encode_batch([np.array([[2.0, 2.0, 20.0, 14.0]])] * 2, [np.array([2])] * 2)
    GridDetectionLoss()(out, t).backward()
    dets = model.detect(x.array, score_threshold=0.0)
    assert len(dets) == 2 and set(dets[0]) == {"boxes", "scores", "labels"}
    assert dets[0]["boxes"].shape[1] == 4 and (np.diff(dets[0]["scores"]) <= 0).all()
    assert model.training  # detect() put it back in training mode
    with pytest.raises(ValueError, match="expected input"):
        model(neurona.rand(1, 1, 24, 24))


def test_vae_sampling_loss_and_modes():
    neurona.manual_seed(0)
    vae = models.VAE(latent_dim=2, hidden=(16,))
    x = neurona.rand(3, 1, 28, 28)
    logits, mu, logvar = vae(x)
    loss = models.vae_loss(logits, x, mu, logvar)
    loss.backward()
    assert loss.dtype == np.float32 and vae.mu.weight.grad is not None
    # KL term by hand: ½ Σ (μ² + σ² − log σ² − 1)
    kl = 0.5 * np.sum(mu.array ** 2 + np.exp(logvar.array) - logvar.array - 1) / 3
    recon = models.vae_loss(logits, x, mu, logvar, beta=0.0).item()
    assert loss.item() == pytest.approx(recon + kl, rel=1e-5)
    a, b = vae(x)[0], vae(x)[0]
    assert not np.array_equal(a.array, b.array)  # training mode samples the code
    vae.eval()
    np.testing.assert_array_equal(vae(x)[0].array, vae(x)[0].array)
    assert vae.sample(5, seed=0).shape == (5, 1, 28, 28)
    assert 0 <= vae.reconstruct(x).array.min() and vae.reconstruct(x).array.max() <= 1


def test_gan_step_updates_both_networks():
    neurona.manual_seed(0)
    g, d = models.DCGANGenerator(latent_dim=4, width=2), models.DCGANDiscriminator(width=2)
    og, od = optim.Adam(g.parameters(), lr=1e-3, betas=(0.5, 0.999)), optim.Adam(d.parameters(), lr=1e-3)
    before = [p.array.copy() for p in list(g.parameters()) + list(d.parameters())]
    real = np.random.default_rng(0).uniform(-1, 1, (4, 1, 28, 28)).astype(np.float32)
    logs = models.gan_step(g, d, og, od, real, np.random.default_rng(1))
    assert set(logs) == {"loss_d", "loss_g", "d_real", "d_fake"} and all(np.isfinite(v) for v in logs.values())
    after = list(g.parameters()) + list(d.parameters())
    assert all(not np.array_equal(a, p.array) for a, p in zip(before, after) if p.array.ndim > 1)
    s = g.sample(3, seed=1).array
    assert s.shape == (3, 1, 28, 28) and np.abs(s).max() <= 1


@pytest.mark.parametrize("name, config, shape", [
    ("unet", {"num_classes": 4, "base_channels": 4, "depth": 2}, [1, 16, 16]),
    ("grid-detector", {"num_classes": 3, "image_size": 16, "width": 2}, [1, 16, 16]),
    ("conv-autoencoder", {"latent_dim": 3, "width": 2}, [1, 28, 28]),
    ("vae", {"latent_dim": 2, "hidden": [8]}, [1, 28, 28]),
    ("dcgan-generator", {"latent_dim": 3, "width": 2}, [3]),
    ("dcgan-discriminator", {"width": 2}, [1, 28, 28]),
])
def test_model_files_rebuild_by_name_and_summaries(name, config, shape, tmp_path):
    neurona.manual_seed(0)
    model = models.build_model(name, **config)
    assert name in models.list_models()
    path = io.save(model, tmp_path / "m.npz", input_shape=shape)
    loaded = io.load(path)
    assert type(loaded) is type(model) and loaded.get_config() == model.get_config()
    x = neurona.from_numpy(np.random.default_rng(0).standard_normal([2] + shape).astype(np.float32))
    model.eval()
    loaded.eval()
    with neurona.no_grad():
        a, b = model(x), loaded(x)
    a, b = (a[0], b[0]) if isinstance(a, tuple) else (a, b)
    np.testing.assert_array_equal(a.array, b.array)
    rows = models.summary(loaded, tuple(shape))
    assert rows[-1].name == "(output)" and sum(r.parameters for r in rows) == loaded.num_parameters()
    assert "parameters" in models.format_summary(rows)


def test_info_command_describes_a_unet(tmp_path, capsys):
    from neurona import cli

    model = models.UNet(5, base_channels=2, depth=1)
    io.save(model, tmp_path / "unet.npz", input_shape=[1, 8, 8], task="segmentation")
    assert cli.main(["info", str(tmp_path / "unet.npz")]) == 0
    text = capsys.readouterr().out
    assert "model: unet" in text and "ConvTranspose2d" in text and "(1, 5, 8, 8)" in text


@pytest.mark.parametrize("build, message", [
    (lambda: models.UNet(upsampling="nearest"), "upsampling"),
    (lambda: models.UNet(depth=0), "depth"),
    (lambda: models.GridDetector(image_size=30), "multiple of 8"),
    (lambda: models.VAE(hidden=()), "hidden"),
])
def test_constructor_errors(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_input_errors():
    with pytest.raises(ValueError, match="smaller than 2"):
        models.UNet(depth=3)(neurona.rand(1, 1, 4, 4))
    with pytest.raises(ValueError, match="expected codes"):
        models.DCGANGenerator(latent_dim=4)(neurona.rand(2, 5))
    with pytest.raises(ValueError, match="28, 28"):
        models.VAE()(neurona.rand(2, 1, 32, 32))
