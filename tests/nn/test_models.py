import numpy as np
import pytest
import torch
from skorch import NeuralNetClassifier
from torchvision.ops import StochasticDepth

from sklearn_selfdistill.nn.models import MLP, ResNet, ResNet18, ResNet34, ViTSmall


def _mlp(in_channels, size, **kwargs):
    return MLP(in_features=in_channels * size * size, hidden_units=32, **kwargs)


def _resnet18(in_channels, size, **kwargs):
    return ResNet18(in_channels=in_channels, **kwargs)


def _resnet34(in_channels, size, **kwargs):
    return ResNet34(in_channels=in_channels, **kwargs)


def _vit(in_channels, size, **kwargs):
    model = ViTSmall(in_channels=in_channels, image_size=size, num_layers=2, **kwargs)
    # torchvision starts the head at zero, which would make every logit 0 and the
    # softmax checks below trivially true.
    torch.nn.init.normal_(model.heads.head.weight)
    return model


BUILDERS = {"mlp": _mlp, "resnet18": _resnet18, "resnet34": _resnet34, "vit": _vit}
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
