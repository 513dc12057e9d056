"""The convolutional architectures: published parameter counts, shapes for small and large inputs, blocks."""
from __future__ import annotations

import numpy as np
import pytest

import neurona
from neurona import models, nn


@pytest.mark.parametrize("build, expected", [
    (lambda: models.LeNet5(input_size=32), 61_706),
    (lambda: models.LeNet5(input_size=28), 61_706),
    (lambda: models.AlexNet(), 61_100_840),
    (lambda: models.VGG16(), 138_357_544),
    (lambda: models.vgg(16, batch_norm=True), 138_365_992),
    (lambda: models.ResNet18(), 11_689_512),
    (lambda: models.ResNet34(), 21_797_672),
    (lambda: models.GoogLeNet(), 6_624_904),
    (lambda: models.GoogLeNet(aux_logits=True), 13_004_888),
])
def test_published_parameter_counts_at_224(build, expected):
    """ImageNet configuration (224x224, 3 channels, 1000 classes); counted without drawing the weights."""
    with models.skip_init():
        model = build()
    assert model.num_parameters() == expected


def test_skip_init_restores_initialization():
    with models.skip_init():
        models.LeNet5()
    neurona.manual_seed(0)
    w = models.LeNet5().features[0].weight.array
    assert np.all(np.isfinite(w)) and 0 < np.abs(w).max() <= 1 / 5  # U(±1/√25) again


def test_small_cnn_is_under_100k_parameters():
    model = models.CNNSmall()
    assert model.num_parameters() < 100_000
    assert models.cnn_small().num_parameters() == model.num_parameters()


NAMES = ["lenet5", "cnn-small", "alexnet", "vgg16", "resnet18", "googlenet"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("channels, size", [(1, 28), (3, 32)])
def test_small_input_stems(name, channels, size):
    neurona.manual_seed(0)
    model = models.build_model(name, num_classes=7, in_channels=channels, input_size=size)
    model.eval()
    with neurona.no_grad():
        y = model(neurona.randn(2, channels, size, size))
    assert y.shape == (2, 7) and y.dtype == np.float32 and np.all(np.isfinite(y.array))


def test_models_accept_unbatched_channel_and_flat_inputs():
    model = models.LeNet5().eval()
    x = neurona.randn(2, 1, 28, 28)
    with neurona.no_grad():
        y = model(x).array
        np.testing.assert_allclose(model(x.reshape(2, 28, 28)).array, y)
        np.testing.assert_allclose(model(x.reshape(2, 784)).array, y)
    with pytest.raises(ValueError, match="1 input channel"):
        model(neurona.randn(2, 3, 28, 28))


def test_imagenet_stems_downsample_as_published():
    """The 224x224 stems: ResNet-18 reaches 7x7 before pooling, AlexNet 6x6, VGG 7x7 (checked on the shapes)."""
    with models.skip_init():
        resnet = models.ResNet18()
    assert resnet.conv1.kernel_size == (7, 7) and isinstance(resnet.maxpool, nn.MaxPool2d)
    assert resnet.conv1.output_shape((1, 3, 224, 224)) == (1, 64, 112, 112)
    small = models.ResNet18(num_classes=10, in_channels=1, input_size=28)
    assert small.conv1.kernel_size == (3, 3) and isinstance(small.maxpool, nn.Identity)
    with models.skip_init():
        alex = models.AlexNet()
    assert alex.features[0].output_shape((1, 3, 224, 224)) == (1, 64, 55, 55)
    assert alex.avgpool.output_size == 6 and alex.classifier[1].in_features == 9216


def test_resnet_forward_at_64_uses_the_imagenet_stem():
    model = models.ResNet18(num_classes=4, input_size=64).eval()
    with neurona.no_grad():
        assert model(neurona.randn(1, 3, 64, 64)).shape == (1, 4)


def test_basic_block_identity_and_projection_skip():
    same = models.BasicBlock(8, 8)
    assert same.downsample is None
    down = models.BasicBlock(8, 16, stride=2)
    assert isinstance(down.downsample[0], nn.Conv2d) and down.downsample[0].kernel_size == (1, 1)
    x = neurona.randn(2, 8, 6, 6)
    assert same(x).shape == (2, 8, 6, 6) and down(x).shape == (2, 16, 3, 3)
    # with the residual branch zeroed the block is relu(x): the skip connection carries the input through
    for p in (same.bn2.weight, same.bn2.bias):
        p.array[...] = 0
    np.testing.assert_allclose(same(x).array, np.maximum(x.array, 0), atol=1e-6)


def test_inception_block_forms():
    x = neurona.randn(1, 16, 5, 5)
    reduced = models.InceptionBlock(16, 8, 4, 8, 2, 4, 4)
    naive = models.InceptionBlock(16, 8, 4, 8, 2, 4, 4, reduce=False)
    assert reduced(x).shape == (1, 24, 5, 5) and reduced.out_channels == 24
    assert naive(x).shape == (1, 8 + 8 + 4 + 16, 5, 5)
    assert naive.num_parameters() > reduced.num_parameters()  # the 1x1 reductions save parameters
    assert reduced.branch3[1].conv.kernel_size == (5, 5)
    with pytest.raises(ValueError, match="odd"):
        models.InceptionBlock(16, 8, 4, 8, 2, 4, 4, branch5_kernel=4)


def test_googlenet_auxiliary_classifiers():
    model = models.GoogLeNet(num_classes=5, in_channels=1, input_size=28, aux_logits=True)
    with neurona.no_grad():
        out = model(neurona.randn(1, 1, 28, 28))
        assert isinstance(out, tuple) and [o.shape for o in out] == [(1, 5)] * 3
        model.eval()
        assert model(neurona.randn(1, 1, 28, 28)).shape == (1, 5)


def test_googlenet_loss_weights_the_auxiliary_classifiers():
    neurona.manual_seed(0)
    model = models.GoogLeNet(num_classes=3, in_channels=1, input_size=16, aux_logits=True, dropout=0.0,
                             aux_dropout=0.0)
    x, y = neurona.randn(2, 1, 16, 16), neurona.tensor([0, 2])
    logits, aux2, aux1 = out = model(x)
    loss = models.googlenet_loss(out, y, aux_weight=0.3)
    ce = nn.CrossEntropyLoss()
    expected = ce(logits, y).item() + 0.3 * (ce(aux1, y).item() + ce(aux2, y).item())
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    assert model.aux1.fc2.weight.grad is not None and model.aux2.conv.conv.weight.grad is not None
    assert np.abs(model.inception4a.branch1.conv.weight.grad.array).sum() > 0
    model.eval()
    with neurona.no_grad():
        plain = model(x)
    assert models.googlenet_loss(plain, y).item() == pytest.approx(ce(plain, y).item())


def test_vgg_configurations():
    for depth, convs in ((11, 8), (13, 10), (16, 13), (19, 16)):
        model = models.vgg(depth, num_classes=10, in_channels=1, input_size=28)
        assert sum(isinstance(m, nn.Conv2d) for m in model.modules()) == convs
    # 28x28 keeps four of the five poolings; the fifth becomes an identity at the same index
    model = models.VGG16(num_classes=10, in_channels=1, input_size=28)
    kinds = [type(m).__name__ for m in model.features]
    assert kinds.count("MaxPool2d") == 4 and kinds[-1] == "Identity"
    bn = models.vgg(11, batch_norm=True, num_classes=3, input_size=32)
    assert any(isinstance(m, nn.BatchNorm2d) for m in bn.modules())
    custom = models.vgg(cfg=[8, "M", 16, "M"], num_classes=2, in_channels=1, input_size=28)
    assert custom(neurona.randn(1, 1, 28, 28)).shape == (1, 2)
    with pytest.raises(ValueError, match="depth"):
        models.vgg(15)


@pytest.mark.parametrize("name", ["lenet5", "cnn-small", "alexnet", "resnet18", "googlenet"])
def test_registry_config_rebuilds_the_same_model(name):
    model = models.build_model(name, num_classes=3, in_channels=1, input_size=28)
    reg_name, config = models.model_config(model)
    rebuilt = models.build_model(reg_name, **config)
    assert [p.shape for p in rebuilt.parameters()] == [p.shape for p in model.parameters()]
    assert models.get_model_spec(name).from_cli({"input_shape": (28, 28), "n_outputs": 3}, {}) == {
        "num_classes": 3, "in_channels": 1, "input_size": 28}


def test_lenet_activations_and_pooling_options():
    model = models.LeNet5(activation="tanh", pooling="avg", input_size=32)
    assert isinstance(model.features[1], nn.Tanh) and isinstance(model.features[2], nn.AvgPool2d)
    assert model(neurona.randn(1, 1, 32, 32)).shape == (1, 10)
    with pytest.raises(ValueError, match="pooling"):
        models.LeNet5(pooling="median")
    with pytest.raises(ValueError, match="activation"):
        models.LeNet5(activation="swish")


@pytest.mark.parametrize("act", ["relu", "tanh", "sigmoid"])
def test_models_read_in_the_notes_order(act):
    """LeNet5, AlexNet, VGG and the ResNet stem are written conv → activation → pooling, as the notes draw them."""
    f = models.LeNet5(activation=act).features
    assert [type(m).__name__ for m in f] == ["Conv2d", type(f[1]).__name__, "MaxPool2d", "Conv2d",
                                             type(f[4]).__name__, "MaxPool2d"]
    assert type(f[1]).__name__ == {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}[act]
    names = [type(m).__name__ for m in models.AlexNet(10, 1, 28).features]
    assert names[:6] == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d"] and names[-2:] == ["ReLU",
                                                                                                          "MaxPool2d"]
    names = [type(m).__name__ for m in models.vgg(cfg=[4, "M", 8, "M"], num_classes=2, in_channels=1,
                                                  input_size=28).features]
    assert names == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d"]
    seen = []
    net = models.ResNet18(3, 1, 64)
    for name in ("conv1", "bn1", "relu", "maxpool"):
        getattr(net, name).register_forward_hook(lambda m, i, o, name=name: seen.append(name))
    net(neurona.randn(1, 1, 64, 64))
    assert seen == ["conv1", "bn1", "relu", "maxpool"]


@pytest.mark.parametrize("act", ["relu", "tanh", "sigmoid"])
def test_max_pool_then_activation_equals_activation_then_max_pool_with_ties(act):
    """Max pooling commutes with a non-decreasing activation, on inputs full of ties, all-negative windows and
    zeros: the same values and the same input gradient (what the relu+max_pool rewrite relies on)."""
    neurona.set_default_dtype(neurona.float64)
    rng = np.random.default_rng(3)
    z = np.round(rng.standard_normal((2, 3, 8, 8)) * 1.5)  # integers: many equal maxima, zeros and negatives
    f = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}[act]()
    w = neurona.from_numpy(rng.standard_normal((2, 3, 4, 4)))
    grads = []
    for order in ((nn.MaxPool2d(2), f), (f, nn.MaxPool2d(2))):
        zt = neurona.from_numpy(z.copy()).requires_grad_()
        y = order[1](order[0](zt))
        (y * w).sum().backward()
        grads.append((y.array, zt.grad.array))
    np.testing.assert_array_equal(grads[0][0], grads[1][0])
    np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=0, atol=1e-15)
