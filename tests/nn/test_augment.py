"""BatchRandAugment: torchvision's operations, per image, in a few tensor operations."""

import numpy as np
import pytest
import torch
from skorch import NeuralNetClassifier
from torchvision.transforms.v2 import functional as F

from sklearn_selfdistill.nn import BatchRandAugment
from sklearn_selfdistill.nn.augment import OPERATIONS, rand_augment


def _one(name, strength, images, **kwargs):
    """``name`` at ``strength`` (its sign included) on every image, without cutout."""
    n = images.shape[0]
    codes = torch.full((n, 1), OPERATIONS.index(name))
    strengths = torch.full((n, 1), float(strength))
    return rand_augment(images, num_ops=1, magnitude=30, cutout=0, draws=(codes, strengths))


def _uint8_images(n=6, channels=3, size=12, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, channels, size, size), generator=generator).to(torch.uint8)


# (operation, strength, torchvision's function of a uint8 batch)
POINT_REFERENCES = [
    ("brightness", 0.5, lambda x: F.adjust_brightness(x, 1.45)),
    ("brightness", -0.5, lambda x: F.adjust_brightness(x, 0.55)),
    ("color", 0.5, lambda x: F.adjust_saturation(x, 1.45)),
    ("contrast", -0.5, lambda x: F.adjust_contrast(x, 0.55)),
    ("sharpness", 0.5, lambda x: F.adjust_sharpness(x, 1.45)),
    ("posterize", 0.5, lambda x: F.posterize(x, 6)),
    ("solarize", 0.25, lambda x: F.solarize(x, 0.75 * 255)),
    ("autocontrast", 0.0, F.autocontrast),
    ("equalize", 0.0, F.equalize),
    ("identity", 0.7, lambda x: x),
]


@pytest.mark.parametrize("name, strength, reference", POINT_REFERENCES)
def test_point_operations_are_torchvisions(name, strength, reference):
    images = _uint8_images()
    ours = _one(name, strength, images.float() / 255)
    theirs = reference(images).float() / 255
    # torchvision rounds to uint8 after each operation; we stay in float.
    assert (ours - theirs).abs().max() <= 1.5 / 255


def test_color_changes_nothing_on_single_channel_images():
    images = torch.rand(4, 1, 8, 8)
    torch.testing.assert_close(_one("color", 0.8, images), images)


@pytest.mark.parametrize("pixels", [1, 3])
@pytest.mark.parametrize("name, axis", [("translate_x", -1), ("translate_y", -2)])
def test_translation_shifts_whole_pixels(name, axis, pixels):
    images = torch.rand(3, 2, 10, 10)
    strength = pixels / (150 / 331 * 10)
    shifted = _one(name, strength, images)
    # The warp maps each output pixel to the input pixel `pixels` further on.
    expected = torch.zeros_like(images)
    if axis == -1:
        expected[..., :-pixels] = images[..., pixels:]
    else:
        expected[..., :-pixels, :] = images[..., pixels:, :]
    torch.testing.assert_close(shifted, expected, atol=1e-5, rtol=0)


def test_rotation_by_90_degrees_is_a_quarter_turn():
    # A 30-degree strength times 3 steps: three rotations compose into one warp.
    images = torch.rand(2, 1, 9, 9)
    codes = torch.full((2, 3), OPERATIONS.index("rotate"))
    out = rand_augment(images, num_ops=3, magnitude=30, cutout=0, draws=(codes, torch.ones(2, 3)))
    turns = [torch.rot90(images, k, dims=(-2, -1)) for k in (1, -1)]
    assert min(float((out - t).abs().max()) for t in turns) < 1e-4


def test_shear_moves_rows_in_proportion_to_their_distance_from_the_centre():
    images = torch.zeros(1, 1, 11, 11)
    images[..., :, 5] = 1.0  # a vertical line through the centre
    sheared = _one("shear_x", 1.0, images)[0, 0]  # shear 0.3
    columns = (sheared * torch.arange(11.0)).sum(dim=1) / sheared.sum(dim=1)
    slope = np.polyfit(np.arange(11.0), columns.numpy(), 1)[0]
    assert abs(abs(slope) - 0.3) < 0.02
    assert abs(float(columns[5]) - 5.0) < 1e-4  # the centre row does not move


def test_every_image_draws_its_own_operations():
    torch.manual_seed(0)
    images = torch.rand(1, 1, 16, 16).repeat(64, 1, 1, 1)
    out = rand_augment(images, num_ops=2, magnitude=10, cutout=0)
    distinct = torch.unique(out.flatten(1), dim=0).shape[0]
    assert distinct > 50  # identical inputs, (nearly) all different outputs


def test_the_same_generator_seed_gives_the_same_images():
    images = torch.rand(16, 3, 8, 8)
    runs = [rand_augment(images, generator=torch.Generator().manual_seed(3)) for _ in range(2)]
    torch.testing.assert_close(runs[0], runs[1], rtol=0, atol=0)
    other = rand_augment(images, generator=torch.Generator().manual_seed(4))
    assert not torch.equal(runs[0], other)


def test_outputs_stay_in_the_unit_interval_and_leave_the_input_alone():
    torch.manual_seed(1)
    images = torch.rand(256, 3, 12, 12)
    before = images.clone()
    out = rand_augment(images, num_ops=3, magnitude=30)
    assert out.min() >= 0 and out.max() <= 1
    assert torch.equal(images, before)


def test_cutout_blanks_one_square_per_image():
    images = torch.zeros(32, 1, 20, 20)
    out = rand_augment(images, num_ops=0, cutout=0.5, fill=1.0)
    blanked = out.flatten(1).sum(dim=1)
    # A 10x10 square, partly outside the image when its centre is near an edge.
    assert blanked.max() == 100 and blanked.min() >= 25
    rows = out[:, 0].amax(dim=2).sum(dim=1)
    columns = out[:, 0].amax(dim=1).sum(dim=1)
    assert torch.equal(rows * columns, blanked)  # a rectangle, not scattered pixels


def test_one_resampling_for_the_whole_batch(monkeypatch):
    calls = []
    grid_sample = torch.nn.functional.grid_sample

    def counting(x, *args, **kwargs):
        calls.append(x.shape[0])
        return grid_sample(x, *args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "grid_sample", counting)
    torch.manual_seed(0)
    rand_augment(torch.rand(512, 1, 8, 8), num_ops=2, magnitude=10)
    assert len(calls) == 1 and 200 < calls[0] < 512  # only the images that drew a warp


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"magnitude": 31}, r"magnitude must be a number from 0 to 30.*got 31"),
        ({"num_ops": -1}, r"num_ops must be an int >= 0.*got -1"),
        ({"cutout": 2}, r"cutout must be a number from 0 to 1.*got 2"),
        ({"fill": float("nan")}, r"fill must be a finite number.*got nan"),
    ],
)
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        rand_augment(torch.rand(2, 1, 4, 4), **kwargs)
    with pytest.raises(ValueError, match=message):
        BatchRandAugment(**kwargs).initialize()


class _Recorder(torch.nn.Module):
    """A linear model that keeps every batch it sees, in train and in eval mode."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(64, 2)
        self.seen = []

    def forward(self, x):
        self.seen.append((self.training, x.detach().clone()))
        return torch.softmax(self.linear(x.flatten(1)), dim=-1)


def test_callback_noises_training_batches_only():
    torch.manual_seed(0)
    X = np.random.default_rng(0).random((32, 1, 8, 8)).astype(np.float32)
    y = np.arange(32) % 2
    net = NeuralNetClassifier(
        _Recorder,
        max_epochs=1,
        batch_size=32,
        train_split=None,
        verbose=0,
        callbacks=[BatchRandAugment(magnitude=20)],
    ).fit(X, y)
    net.predict_proba(X)
    (trained,) = [x for training, x in net.module_.seen if training]
    predicted = [x for training, x in net.module_.seen if not training]
    assert not torch.equal(trained, torch.as_tensor(X))
    assert torch.equal(torch.cat(predicted), torch.as_tensor(X))
    assert np.array_equal(X, np.random.default_rng(0).random((32, 1, 8, 8)).astype(np.float32))


def test_callback_refuses_flat_batches():
    X = np.zeros((8, 64), dtype=np.float32)
    net = NeuralNetClassifier(
        _Recorder, max_epochs=1, train_split=None, verbose=0, callbacks=[BatchRandAugment()]
    )
    with pytest.raises(
        ValueError, match=r"needs image batches of shape \(N, C, H, W\).*\(8, 64\)"
    ):
        net.fit(X, np.arange(8) % 2)
