import re

import numpy as np
import pytest
import torch
from skorch import NeuralNetClassifier
from torchvision.ops import StochasticDepth

from sklearn_selfdistill.nn.models import MLP, ResNet, ResNet18, ResNet34, SmallResNet, ViTSmall


def _mlp(in_channels, size, **kwargs):
    return MLP(in_features=in_channels * size * size, hidden_units=32, **kwargs)


def _resnet18(in_channels, size, **kwargs):
    return ResNet18(in_channels=in_channels, **kwargs)


def _resnet34(in_channels, size, **kwargs):
    return ResNet34(in_channels=in_channels, **kwargs)


def _small_resnet(in_channels, size, **kwargs):
    return SmallResNet(in_channels=in_channels, **kwargs)


def _vit(in_channels, size, **kwargs):
    model = ViTSmall(in_channels=in_channels, image_size=size, num_layers=2, **kwargs)
    # torchvision starts the head at zero, which would make every logit 0 and the
    # softmax checks below trivially true.
    torch.nn.init.normal_(model.heads.head.weight)
    return model


BUILDERS = {
    "mlp": _mlp,
    "resnet18": _resnet18,
    "resnet34": _resnet34,
    "small_resnet": _small_resnet,
    "vit": _vit,
}
GEOMETRIES = {"cifar": (3, 32), "fashion_mnist": (1, 28)}


def _images(in_channels, size, n=4):
    return torch.randn(n, in_channels, size, size)


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("name", BUILDERS)
def test_output_has_one_column_per_class(name, geometry):
    torch.manual_seed(0)
    in_channels, size = GEOMETRIES[geometry]
    model = BUILDERS[name](in_channels, size, num_classes=7).eval()
    x = _images(in_channels, size)
    with torch.no_grad():
        assert model(x).shape == (4, 7)
        assert model.forward_logits(x).shape == (4, 7)


@pytest.mark.parametrize("name", BUILDERS)
def test_default_output_is_softmax_of_logits(name):
    torch.manual_seed(0)
    model = BUILDERS[name](1, 28).eval()
    x = _images(1, 28)
    with torch.no_grad():
        probabilities = model(x)
        logits = model.forward_logits(x)
    torch.testing.assert_close(probabilities.sum(dim=1), torch.ones(4))
    torch.testing.assert_close(probabilities, torch.softmax(logits, dim=1))
    assert not torch.allclose(logits, logits[:, :1].expand_as(logits))


@pytest.mark.parametrize("name", BUILDERS)
def test_no_output_nonlin_returns_the_logits(name):
    x = _images(1, 28)
    torch.manual_seed(0)
    softmax_model = BUILDERS[name](1, 28).eval()
    torch.manual_seed(0)
    logit_model = BUILDERS[name](1, 28, output_nonlin=None).eval()
    with torch.no_grad():
        output = logit_model(x)
        torch.testing.assert_close(output, logit_model.forward_logits(x))
        torch.testing.assert_close(output, softmax_model.forward_logits(x))
    assert (output < 0).any()


def test_mlp_flattens_image_inputs():
    torch.manual_seed(0)
    model = MLP(in_features=3 * 8 * 8, num_classes=4).eval()
    images = _images(3, 8)
    with torch.no_grad():
        torch.testing.assert_close(model(images), model(images.flatten(start_dim=1)))


def test_mlp_dropout_is_active_in_train_mode_only():
    torch.manual_seed(0)
    model = MLP(in_features=64, num_classes=3, dropout=0.5)
    x = torch.randn(4, 64)
    with torch.no_grad():
        assert not torch.allclose(model.train()(x), model(x))
        torch.testing.assert_close(model.eval()(x), model(x))


def test_mlp_without_hidden_layers_is_linear():
    torch.manual_seed(0)
    model = MLP(in_features=5, num_classes=2, num_hidden=0, output_nonlin=None)
    x = torch.randn(4, 5)
    expected = torch.nn.functional.linear(x, model.head.weight, model.head.bias)
    with torch.no_grad():
        torch.testing.assert_close(model(x), expected)
    assert len(model.hidden) == 0


def test_resnet_stochastic_depth_is_random_in_train_mode_only():
    torch.manual_seed(0)
    model = ResNet18(stochastic_depth=0.5, in_channels=1)
    x = _images(1, 16)
    with torch.no_grad():
        assert not torch.allclose(model.train()(x), model(x))
        torch.testing.assert_close(model.eval()(x), model(x))


def test_resnet_without_stochastic_depth_is_deterministic_in_train_mode():
    torch.manual_seed(0)
    model = ResNet18(stochastic_depth=0.0, in_channels=1).train()
    x = _images(1, 16)
    # BatchNorm in train mode normalises with the statistics of this same batch, so
    # the only randomness left would be stochastic depth.
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(x))
    assert not any(isinstance(m, StochasticDepth) for m in model.modules())


@pytest.mark.parametrize("model_class, n_blocks", [(ResNet18, 8), (ResNet34, 16)])
def test_resnet_drop_rates_increase_linearly_to_stochastic_depth(model_class, n_blocks):
    model = model_class(stochastic_depth=0.3)
    rates = [m.p for m in model.modules() if isinstance(m, StochasticDepth)]
    assert rates == pytest.approx([0.3 * (i + 1) / n_blocks for i in range(n_blocks)])
    assert all(m.mode == "row" for m in model.modules() if isinstance(m, StochasticDepth))


def test_resnet34_is_deeper_than_resnet18():
    def stages(model):
        return [len(model.layer1), len(model.layer2), len(model.layer3), len(model.layer4)]

    small, large = ResNet18(), ResNet34()
    assert stages(small) == [2, 2, 2, 2]
    assert stages(large) == [3, 4, 6, 3]
    assert sum(p.numel() for p in large.parameters()) > sum(p.numel() for p in small.parameters())


@pytest.mark.parametrize("stochastic_depth", [-0.1, 1.5, "0.2", True])
def test_resnet_rejects_bad_stochastic_depth(stochastic_depth):
    with pytest.raises(ValueError, match=r"'stochastic_depth'.*\[0, 1\].*got"):
        ResNet18(stochastic_depth=stochastic_depth)


def test_resnet_width_sets_the_channels_of_every_stage():
    model = ResNet(num_blocks=(1, 1, 1, 1), width=8, in_channels=1)
    stages = (model.layer1, model.layer2, model.layer3, model.layer4)
    assert model.conv1.out_channels == 8
    assert [stage[-1].conv2.out_channels for stage in stages] == [8, 16, 32, 64]
    assert model.fc.in_features == 64
    assert ResNet18().layer4[-1].conv2.out_channels == 512


@pytest.mark.parametrize("width", [0, 8.0, "8", True])
def test_resnet_rejects_bad_width(width):
    with pytest.raises(ValueError, match=r"'width' parameter must be an int >= 1.*got"):
        ResNet(width=width)


@pytest.mark.parametrize("num_blocks", [(2, 2, 2), (2, 0, 2, 2), 3])
def test_resnet_rejects_bad_num_blocks(num_blocks):
    with pytest.raises(ValueError, match=r"'num_blocks' parameter must be 4 ints >= 1"):
        ResNet(num_blocks=num_blocks)


def test_vit_rejects_patch_size_that_does_not_divide_image_size():
    with pytest.raises(ValueError, match=r"'image_size'.*\(28\).*'patch_size'.*patch_size=5"):
        ViTSmall(image_size=28, patch_size=5)


def test_vit_rejects_hidden_dim_not_divisible_by_num_heads():
    with pytest.raises(ValueError, match=r"'hidden_dim'.*\(100\).*num_heads=3"):
        ViTSmall(hidden_dim=100, num_heads=3)


@pytest.mark.parametrize(
    "model, x, message",
    [
        (
            MLP(in_features=64),
            torch.zeros(2, 1, 28, 28),
            r"in_features=64 .* \(2, 1, 28, 28\).* 784 features .*set in_features=784",
        ),
        (MLP(in_features=64), torch.zeros(64), r"expects a batch of shape \(N, 64\)"),
        (
            ResNet18(in_channels=3),
            torch.zeros(2, 1, 28, 28),
            r"expects images of shape \(N, 3, H, W\).*\(2, 1, 28, 28\).*set in_channels=1",
        ),
        (
            ResNet18(in_channels=1),
            torch.zeros(2, 28, 28),
            r"expects images of shape \(N, 1, H, W\).*\(2, 28, 28\).*X\[:, None\]",
        ),
        (
            ViTSmall(image_size=32, num_layers=1),
            torch.zeros(2, 3, 28, 28),
            r"image_size=32 .*\(N, 3, 32, 32\).*\(2, 3, 28, 28\)",
        ),
    ],
    ids=["mlp-features", "mlp-1d", "resnet-channels", "resnet-no-channel-axis", "vit-size"],
)
def test_wrong_input_shape_says_what_is_expected(model, x, message):
    with pytest.raises(ValueError, match=message):
        model(x)


SKORCH_MODULES = {
    "mlp": (MLP, {"in_features": 64}),
    "resnet18": (ResNet18, {"in_channels": 1}),
    "resnet34": (ResNet34, {"in_channels": 1}),
    "small_resnet": (SmallResNet, {"in_channels": 1, "width": 4}),
    "vit": (ViTSmall, {"in_channels": 1, "image_size": 8, "num_layers": 1}),
}


@pytest.mark.parametrize(
    "criterion_kwargs",
    [{}, {"criterion": torch.nn.CrossEntropyLoss, "module__output_nonlin": None}],
    ids=["nll-softmax", "cross-entropy-logits"],
)
@pytest.mark.parametrize("name", SKORCH_MODULES)
def test_skorch_trains_one_step(name, criterion_kwargs):
    torch.manual_seed(0)
    module, module_kwargs = SKORCH_MODULES[name]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(16, 1, 8, 8)).astype(np.float32)
    y = np.arange(16, dtype=np.int64) % 3
    net = NeuralNetClassifier(
        module,
        module__num_classes=3,
        **{f"module__{key}": value for key, value in module_kwargs.items()},
        **criterion_kwargs,
        max_epochs=1,
        batch_size=16,
        train_split=None,
        verbose=0,
    )
    net.fit(X, y)
    assert np.isfinite(net.history[-1, "train_loss"])
    probabilities = net.predict_proba(X)
    assert probabilities.shape == (16, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


# -- mixed precision and memory format ---------------------------------------------------

PRECISION_BUILDERS = {
    "mlp": lambda **kw: MLP(in_features=64, hidden_units=32, output_nonlin=None, **kw),
    "resnet": lambda **kw: ResNet(
        num_blocks=(1, 1, 1, 1), width=16, in_channels=1, output_nonlin=None, **kw
    ),
    "small_resnet": lambda **kw: SmallResNet(width=8, output_nonlin=None, **kw),
    "vit": lambda **kw: ViTSmall(
        in_channels=1, image_size=8, num_layers=1, output_nonlin=None, **kw
    ),
}
# The first layer of each model, which runs in the autocast dtype.
FIRST_LAYER = {
    "mlp": "hidden.0",
    "resnet": "conv1",
    "small_resnet": "stem.0",
    "vit": "conv_proj",
}


def _same_weights(name, **kwargs):
    """The model ``name`` in float32 and with ``kwargs``, from the same initial weights."""
    torch.manual_seed(0)
    reference = PRECISION_BUILDERS[name]()
    torch.manual_seed(0)
    model = PRECISION_BUILDERS[name](**kwargs)
    if name == "vit":
        torch.nn.init.normal_(reference.heads.head.weight)
        model.heads.head.weight.data.copy_(reference.heads.head.weight)
    return reference, model


@pytest.mark.parametrize("name", PRECISION_BUILDERS)
def test_bf16_autocast_returns_float32_logits_close_to_float32(name):
    reference, model = _same_weights(name, autocast_dtype="bfloat16")
    x = _images(1, 8, n=8)
    with torch.no_grad():
        expected = reference.eval().forward_logits(x)
        logits = model.eval().forward_logits(x)
    assert logits.dtype == torch.float32
    # bfloat16 keeps 8 significant bits (relative error 2**-8 per rounding).
    scale = float(expected.abs().max())
    torch.testing.assert_close(logits, expected, rtol=0.05, atol=0.05 * scale)


@pytest.mark.parametrize(
    "autocast_dtype, expected",
    [
        (None, torch.float32),
        ("bfloat16", torch.bfloat16),
        (torch.bfloat16, torch.bfloat16),
        ("float16", torch.float16),
        (torch.float16, torch.float16),
    ],
)
@pytest.mark.parametrize("name", PRECISION_BUILDERS)
def test_autocast_runs_the_layers_in_the_autocast_dtype(name, autocast_dtype, expected):
    torch.manual_seed(0)
    model = PRECISION_BUILDERS[name](autocast_dtype=autocast_dtype).eval()
    seen = []
    layer = model.get_submodule(FIRST_LAYER[name])
    layer.register_forward_hook(lambda module, args, output: seen.append(output.dtype))
    with torch.no_grad():
        model.forward_logits(_images(1, 8))
    assert seen == [expected]
    assert model.autocast_dtype == (None if autocast_dtype is None else expected)


@pytest.mark.parametrize("name", PRECISION_BUILDERS)
def test_gradients_flow_under_autocast(name):
    torch.manual_seed(0)
    model = PRECISION_BUILDERS[name](autocast_dtype="bfloat16").train()
    x, y = _images(1, 8, n=8), torch.arange(8) % 3
    loss = torch.nn.functional.cross_entropy(model.forward_logits(x), y)
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and g.dtype == torch.float32 for g in grads)
    assert all(torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


def test_default_precision_leaves_the_callers_autocast_in_force():
    torch.manual_seed(0)
    model = PRECISION_BUILDERS["resnet"]().eval()
    with torch.no_grad(), torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        logits = model.forward_logits(_images(1, 8))
    assert logits.dtype == torch.bfloat16


def _conv_weights(model):
    return [m.weight for m in model.modules() if isinstance(m, torch.nn.Conv2d)]


@pytest.mark.parametrize("model_class", [ResNet, ResNet18, ResNet34, SmallResNet])
def test_channels_last_puts_conv_weights_in_channels_last(model_class):
    model = model_class(in_channels=3, channels_last=True)
    assert model.channels_last is True
    assert all(w.is_contiguous(memory_format=torch.channels_last) for w in _conv_weights(model))
    default = model_class(in_channels=3)
    assert not all(
        w.is_contiguous(memory_format=torch.channels_last) for w in _conv_weights(default)
    )


def test_channels_last_converts_the_input():
    torch.manual_seed(0)
    model = ResNet(num_blocks=(1, 1, 1, 1), in_channels=3, channels_last=True).eval()
    seen = []
    model.conv1.register_forward_pre_hook(
        lambda module, args: seen.append(args[0].is_contiguous(memory_format=torch.channels_last))
    )
    with torch.no_grad():
        model(_images(3, 8))
    assert seen == [True]


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_channels_last_gives_the_same_outputs(mode):
    reference, model = _same_weights("resnet", channels_last=True)
    x = _images(1, 8, n=8)
    with torch.no_grad():
        expected = reference.train(mode == "train").forward_logits(x)
        logits = model.train(mode == "train").forward_logits(x)
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("model_class", [MLP, ResNet18, ViTSmall])
@pytest.mark.parametrize("autocast_dtype", ["bf16", "float32", torch.float32, 16, True])
def test_rejects_bad_autocast_dtype(model_class, autocast_dtype):
    message = r"'autocast_dtype' parameter must be None .*'bfloat16', 'float16'.*; got "
    with pytest.raises(ValueError, match=message + re.escape(repr(autocast_dtype))):
        model_class(autocast_dtype=autocast_dtype)


@pytest.mark.parametrize("model_class", [ResNet, ResNet18, ResNet34])
@pytest.mark.parametrize("channels_last", [1, "yes", None])
def test_rejects_bad_channels_last(model_class, channels_last):
    message = r"'channels_last' parameter must be a bool \(True or False\); got "
    with pytest.raises(ValueError, match=message + re.escape(repr(channels_last))):
        model_class(channels_last=channels_last)


def test_skorch_trains_with_autocast_and_channels_last():
    torch.manual_seed(0)
    X = np.random.default_rng(0).normal(size=(16, 1, 8, 8)).astype(np.float32)
    y = np.arange(16, dtype=np.int64) % 3
    net = NeuralNetClassifier(
        ResNet,
        module__num_blocks=(1, 1, 1, 1),
        module__num_classes=3,
        module__in_channels=1,
        module__autocast_dtype="bfloat16",
        module__channels_last=True,
        max_epochs=1,
        batch_size=8,
        train_split=None,
        verbose=0,
    ).fit(X, y)
    assert np.isfinite(net.history[-1, "train_loss"])
    assert net.module_.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    probabilities = net.predict_proba(X)
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_small_resnet_noise_is_active_in_train_mode_only():
    torch.manual_seed(0)
    model = SmallResNet(in_channels=1, stochastic_depth=0.5, dropout=0.5)
    x = _images(1, 28, n=8)
    with torch.no_grad():
        model.train()
        assert not torch.equal(model.forward_logits(x), model.forward_logits(x))
        model.eval()
        torch.testing.assert_close(model.forward_logits(x), model.forward_logits(x))
    assert model.head_dropout.p == 0.5


def test_small_resnet_stem_stride_halves_the_first_stage():
    features = {}
    for stride in (1, 2):
        model = SmallResNet(stem_stride=stride).eval()
        with torch.no_grad():
            features[stride] = model.stem(torch.zeros(1, 1, 28, 28)).shape[-1]
        assert model.eval()(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert features == {1: 28, 2: 14}
    with pytest.raises(ValueError, match=r"'stem_stride' parameter must be 1 or 2; got 3"):
        SmallResNet(stem_stride=3)


def test_small_resnet_drop_rates_increase_linearly_to_stochastic_depth():
    model = SmallResNet(blocks_per_stage=2, stochastic_depth=0.3)
    rates = [m.p for m in model.modules() if isinstance(m, StochasticDepth)]
    np.testing.assert_allclose(rates, [0.3 * (i + 1) / 6 for i in range(6)])


def test_small_resnet_has_three_stages_of_width_times_1_2_4():
    model = SmallResNet(width=8, blocks_per_stage=2)
    convs = [m for m in model.blocks.modules() if isinstance(m, torch.nn.Conv2d)]
    assert sorted({c.out_channels for c in convs}) == [8, 16, 32]
    assert len(model.blocks) == 6
    assert model.fc.in_features == 32


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"dropout": 1.5}, r"'dropout' parameter must be a float in \[0, 1\]; got 1.5"),
        ({"stochastic_depth": -0.1}, r"'stochastic_depth' .* got -0.1"),
        ({"width": 0}, r"'width' parameter must be an int >= 1 .* got 0"),
        ({"blocks_per_stage": True}, r"'blocks_per_stage' .* got True"),
    ],
)
def test_small_resnet_rejects_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SmallResNet(**kwargs)
