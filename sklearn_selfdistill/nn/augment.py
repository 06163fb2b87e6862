"""Noisy Student input noise: RandAugment on the student's training batches only.

:class:`BatchRandAugment` transforms whole batches with a few tensor operations (the
one to use); :class:`RandAugmentNoise` calls torchvision's own operations on groups of
images (the reference, slower).
"""

import math
from numbers import Integral, Real

import torch
from skorch.callbacks import Callback
from torchvision.transforms import v2

from .._compat import rand_augment_apply, rand_augment_space


class RandAugmentNoise(Callback):
    """RandAugment on every training batch of the student, one draw per image.

    Noisy Student (Xie et al. 2020) noises the student, never the teacher: the
    teacher's logits are computed once per generation on clean inputs, and this
    callback changes only the images of the student's training batches, in place,
    just before the forward pass. Validation batches and predictions are untouched.
    Inputs are float images ``(N, C, H, W)`` with values in ``[0, 1]``.

    Each image gets its own ``num_ops`` operations and signs, drawn as torchvision's
    :class:`~torchvision.transforms.v2.RandAugment` draws them for one image, but the
    batch is transformed in groups: the images that drew the same operation with the
    same sign in the same place go through it together, as one batched call of
    torchvision's own operation. A batch then costs at most ``2 * 14 * num_ops`` calls
    instead of ``num_ops`` per image, on the device the batch is on, with no wait for
    the device (the draws are made on the CPU).

    Parameters
    ----------
    num_ops : int, default=2
        Transformations per image.
    magnitude : int, default=9
        Their strength, 0 to 30 (torchvision's scale).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetClassifier
    >>> from sklearn_selfdistill import SelfDistillationClassifier
    >>> from sklearn_selfdistill.nn.augment import RandAugmentNoise
    >>> class Tiny(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.linear = torch.nn.Linear(3 * 8 * 8, 2)
    ...     def forward(self, x):
    ...         return torch.softmax(self.linear(x.flatten(1)), dim=-1)
    >>> X = np.random.RandomState(0).rand(32, 3, 8, 8).astype(np.float32)
    >>> y = (X[:, 0].mean(axis=(1, 2)) > 0.5).astype(np.int64)
    >>> net = NeuralNetClassifier(Tiny, max_epochs=2, train_split=None, verbose=0,
    ...                           callbacks=[RandAugmentNoise(num_ops=1, magnitude=5)])
    >>> SelfDistillationClassifier(net, n_generations=2).fit(X, y).n_generations_
    2
    """

    def __init__(self, num_ops=2, magnitude=9):
        self.num_ops = num_ops
        self.magnitude = magnitude

    def initialize(self):
        self.transform_ = v2.RandAugment(num_ops=self.num_ops, magnitude=self.magnitude)
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        images = batch[0]
        if not (isinstance(images, torch.Tensor) and images.ndim == 4):
            raise ValueError(
                f"RandAugmentNoise needs image batches of shape (N, C, H, W); got "
                f"{type(images).__name__} of shape {tuple(getattr(images, 'shape', ()))}."
            )
        with torch.no_grad():
            rand_augment_batch(self.transform_, images)


def draw_operations(transform, n_images):
    """Each image's operations and signs: two ``(n_images, num_ops)`` CPU tensors.

    The operation's index in torchvision's RandAugment space, and whether its
    magnitude is negated (only for the signed operations).
    """
    n_ops = len(rand_augment_space(transform))
    operations = torch.randint(n_ops, (n_images, transform.num_ops))
    negated = torch.rand(n_images, transform.num_ops) <= 0.5
    return operations, negated


def apply_operation(transform, images, index, negated):
    """RandAugment's operation ``index`` (its sign ``negated``) on a batch of images."""
    name, (magnitudes_fn, signed) = list(rand_augment_space(transform).items())[index]
    height, width = images.shape[-2:]
    magnitudes = magnitudes_fn(transform.num_magnitude_bins, height, width)
    magnitude = 0.0 if magnitudes is None else float(magnitudes[transform.magnitude])
    if signed and negated:
        magnitude = -magnitude
    return rand_augment_apply(transform, images, name, magnitude)


def rand_augment_batch(transform, images, draws=None):
    """RandAugment on ``images`` in place, each image with its own draw, in groups.

    ``draws`` (from :func:`draw_operations`) fixes the operations; by default they are
    drawn from torch's generator.
    """
    operations, negated = (
        draws if draws is not None else draw_operations(transform, images.shape[0])
    )
    space = list(rand_augment_space(transform).values())
    for step in range(operations.shape[1]):
        chosen, signs = operations[:, step], negated[:, step]
        for index in chosen.unique().tolist():
            signed = space[index][1]
            for negative in (False, True) if signed else (None,):
                group = chosen == index
                if negative is not None:
                    group &= signs == negative
                rows = group.nonzero().squeeze(1)
                if rows.numel() == 0:
                    continue
                rows = rows.to(images.device, non_blocking=True)
                images[rows] = apply_operation(transform, images[rows], index, bool(negative))
    return images


# -- RandAugment on whole batches, one tensor operation per kind of operation -----------

#: The operations of :class:`BatchRandAugment`, torchvision's RandAugment space.
OPERATIONS = (
    "identity",
    "shear_x",
    "shear_y",
    "translate_x",
    "translate_y",
    "rotate",
    "brightness",
    "color",
    "contrast",
    "sharpness",
    "posterize",
    "solarize",
    "autocontrast",
    "equalize",
)
_GEOMETRIC = ("shear_x", "shear_y", "translate_x", "translate_y", "rotate")
_CODE = {name: code for code, name in enumerate(OPERATIONS)}
#: torchvision's strongest setting of each operation (its magnitude 30 of 30).
_MAX_SHEAR = 0.3
_MAX_TRANSLATE = 150.0 / 331.0  # of the image's width or height
_MAX_DEGREES = 30.0
_MAX_FACTOR = 0.9  # brightness, color, contrast, sharpness: a factor of 1 -/+ 0.9
_MAX_POSTERIZE_BITS_LOST = 4
_SHARPNESS_KERNEL = ((1.0, 1.0, 1.0), (1.0, 5.0, 1.0), (1.0, 1.0, 1.0))


class BatchRandAugment(Callback):
    """RandAugment and cutout on whole training batches, each image with its own draw.

    The student's input noise of Noisy Student (Xie et al. 2020), at the speed of
    training: every image draws ``num_ops`` operations of torchvision's RandAugment
    space, each with its own strength (uniform in ``[0, magnitude]``) and sign, and
    the batch is transformed by a handful of tensor operations on the device it is
    on, with no Python loop over images:

    - the geometric operations (shears, translations, rotations) of all images are
      composed into one affine matrix per image and applied by a single
      ``affine_grid``/``grid_sample`` call (bilinear, zeros outside the image);
    - the point operations (brightness, color, contrast, sharpness, posterize,
      solarize, autocontrast, equalize) are applied, in the order drawn, to the rows
      that drew them, one batched call per operation and step;
    - cutout blanks one square per image (side ``cutout`` times the image's
      shorter side, centre anywhere in the image) with ``fill``.

    The point operations run before the warp, in the drawn order; torchvision's
    RandAugment interleaves them with the warps in the drawn order, which differs only
    at the pixels a warp brings in from outside the image. What each operation does
    follows :mod:`torchvision.transforms.v2` (magnitude 30 is torchvision's strongest:
    shear 0.3, translation 150/331 of the side, 30 degrees, factors 1 -/+ 0.9,
    posterize to 4 bits, solarize above 0); ``color`` changes nothing on
    single-channel images, as in torchvision.

    The teacher never sees it: the callback changes the images of training batches
    only, in place, just before the forward pass. Inputs are float images
    ``(N, C, H, W)`` with values in ``[0, 1]``; the draws are made on the CPU with
    torch's generator (seed it with ``torch.manual_seed``), so a seed gives the same
    images on every device.

    Parameters
    ----------
    num_ops : int, default=2
        Operations per image (an operation may be ``identity``).
    magnitude : float, default=10
        The strongest strength drawn, 0 to 30 (torchvision's scale); each image and
        operation draws its own, uniformly in ``[0, magnitude]``.
    cutout : float, default=0.0
        Side of the cutout square as a share of the image's shorter side, in ``[0, 1]``;
        0 (the default) disables cutout. Half the side (0.5) is common on CIFAR-10; on
        Fashion-MNIST it cost a supervised SmallResNet with 1 000 labels about 3 points
        (the few-labels study).
    fill : float, default=0.5
        Value of the cutout pixels.

    See Also
    --------
    RandAugmentNoise : torchvision's own operations, in groups of images (slower).
    rand_augment : the function this callback applies.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetClassifier
    >>> from sklearn_selfdistill import SelfDistillationClassifier
    >>> from sklearn_selfdistill.nn import BatchRandAugment
    >>> from sklearn_selfdistill.nn.models import SmallResNet
    >>> X = np.random.RandomState(0).rand(64, 1, 12, 12).astype(np.float32)
    >>> y = (X[:, 0, :6].mean(axis=(1, 2)) > 0.5).astype(np.int64)
    >>> net = NeuralNetClassifier(SmallResNet, module__num_classes=2, module__in_channels=1,
    ...                           module__width=4, max_epochs=2, train_split=None, verbose=0,
    ...                           callbacks=[BatchRandAugment(magnitude=9)])
    >>> SelfDistillationClassifier(net, n_generations=2).fit(X, y).n_generations_
    2
    """

    def __init__(self, num_ops=2, magnitude=10, cutout=0.0, fill=0.5):
        self.num_ops = num_ops
        self.magnitude = magnitude
        self.cutout = cutout
        self.fill = fill

    def initialize(self):
        _check_settings(self.num_ops, self.magnitude, self.cutout, self.fill)
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        images = batch[0]
        if not (isinstance(images, torch.Tensor) and images.ndim == 4):
            raise ValueError(
                f"BatchRandAugment needs image batches of shape (N, C, H, W); got "
                f"{type(images).__name__} of shape {tuple(getattr(images, 'shape', ()))}."
            )
        with torch.no_grad():
            images.copy_(
                rand_augment(
                    images,
                    num_ops=self.num_ops,
                    magnitude=self.magnitude,
                    cutout=self.cutout,
                    fill=self.fill,
                )
            )


def _check_settings(num_ops, magnitude, cutout, fill):
    def number(value):
        return isinstance(value, Real) and not isinstance(value, bool)

    if not (isinstance(num_ops, Integral) and not isinstance(num_ops, bool) and num_ops >= 0):
        raise ValueError(f"num_ops must be an int >= 0 (operations per image); got {num_ops!r}.")
    if not (number(magnitude) and 0 <= magnitude <= 30):
        raise ValueError(
            f"magnitude must be a number from 0 to 30 (torchvision's scale); got {magnitude!r}."
        )
    if not (number(cutout) and 0 <= cutout <= 1):
        raise ValueError(
            f"cutout must be a number from 0 to 1 (the square's side as a share of the "
            f"image's shorter side; 0 disables it); got {cutout!r}."
        )
    if not (number(fill) and math.isfinite(fill)):
        raise ValueError(f"fill must be a finite number (the cutout's value); got {fill!r}.")


def draw(n_images, num_ops=2, magnitude=10, generator=None):
    """Each image's operations: codes into :data:`OPERATIONS` and signed strengths.

    Returns two CPU tensors of shape ``(n_images, num_ops)``: the operation codes (int64)
    and the strengths in ``[-magnitude / 30, magnitude / 30]`` (float32; the unsigned
    operations use the absolute value).
    """
    codes = torch.randint(len(OPERATIONS), (n_images, num_ops), generator=generator)
    strength = torch.rand(n_images, num_ops, generator=generator) * (magnitude / 30.0)
    sign = torch.where(torch.rand(n_images, num_ops, generator=generator) < 0.5, -1.0, 1.0)
    return codes, strength * sign


def rand_augment(
    images, num_ops=2, magnitude=10, cutout=0.0, fill=0.5, draws=None, generator=None
):
    """RandAugment with per-image draws, then cutout, on a batch ``(N, C, H, W)`` in ``[0, 1]``.

    Returns a new tensor on the device of ``images``; see :class:`BatchRandAugment`.
    ``draws`` (from :func:`draw`) fixes the operations; ``generator`` (a CPU
    :class:`torch.Generator`) seeds the draws and the cutout's place.

    Examples
    --------
    >>> import torch
    >>> from sklearn_selfdistill.nn.augment import rand_augment
    >>> images = torch.rand(8, 3, 32, 32)
    >>> out = rand_augment(images, generator=torch.Generator().manual_seed(0))
    >>> out.shape, bool(((out >= 0) & (out <= 1)).all())
    (torch.Size([8, 3, 32, 32]), True)
    """
    _check_settings(num_ops, magnitude, cutout, fill)
    n = images.shape[0]
    if draws is None:
        draws = draw(n, num_ops, magnitude, generator)
    codes, strengths = (tensor.to(images.device, non_blocking=True) for tensor in draws)
    out = images.clone()
    for step in range(codes.shape[1]):
        for name, operation in _POINT_OPERATIONS.items():
            rows = (codes[:, step] == _CODE[name]).nonzero().squeeze(1)
            if rows.numel():
                out[rows] = operation(out[rows], strengths[rows, step]).clamp_(0.0, 1.0)
    out = _warp(out, codes, strengths)
    if cutout > 0:
        out = _cutout(out, cutout, fill, generator)
    return out


def _per_image(values, like):
    """``values`` (one per image) shaped to broadcast over ``like``'s ``(C, H, W)``."""
    return values.to(like.dtype).view(-1, *([1] * (like.ndim - 1)))


def _grayscale(x):
    if x.shape[1] != 3:
        return x
    weights = torch.tensor((0.2989, 0.587, 0.114), dtype=x.dtype, device=x.device)
    return (x * weights.view(1, 3, 1, 1)).sum(dim=1, keepdim=True)


def _blend(x, other, strength):
    """torchvision's blend: ``other + factor * (x - other)``, factor ``1 + 0.9 * strength``."""
    factor = _per_image(1.0 + _MAX_FACTOR * strength, x)
    return other + factor * (x - other)


def _brightness(x, strength):
    return _blend(x, torch.zeros_like(x), strength)


def _color(x, strength):
    if x.shape[1] != 3:
        return x
    return _blend(x, _grayscale(x).expand_as(x), strength)


def _contrast(x, strength):
    mean = _grayscale(x).mean(dim=(1, 2, 3), keepdim=True)
    return _blend(x, mean.expand_as(x), strength)


def _sharpness(x, strength):
    """Blend with the image smoothed by torchvision's 3x3 kernel; borders kept as they are."""
    channels = x.shape[1]
    kernel = torch.tensor(_SHARPNESS_KERNEL, dtype=x.dtype, device=x.device) / 13.0
    kernel = kernel.expand(channels, 1, 3, 3)
    smooth = x.clone()
    if x.shape[-1] > 2 and x.shape[-2] > 2:
        smooth[..., 1:-1, 1:-1] = torch.nn.functional.conv2d(x, kernel, groups=channels)
    return _blend(x, smooth, strength)


def _posterize(x, strength):
    lost = torch.round(strength.abs() * _MAX_POSTERIZE_BITS_LOST)
    step = _per_image(2.0**lost, x)
    return torch.floor(torch.round(x * 255.0) / step) * step / 255.0


def _solarize(x, strength):
    threshold = _per_image(1.0 - strength.abs(), x)
    return torch.where(x >= threshold, 1.0 - x, x)


def _autocontrast(x, strength):
    low = x.amin(dim=(2, 3), keepdim=True)
    high = x.amax(dim=(2, 3), keepdim=True)
    scale = torch.where(high > low, 1.0 / (high - low).clamp_min(1e-12), 1.0)
    low = torch.where(high > low, low, 0.0)
    return (x - low) * scale


def _equalize(x, strength):
    """Histogram equalisation per image and channel, by PIL's rule as torchvision applies it.

    One scatter counts the 256 levels of every image and channel at once; the lookup
    maps level ``k`` to ``(cdf[k - 1] + step // 2) // step``, ``step`` the pixels below
    the brightest level over 255. A channel with ``step == 0`` stays as it is.
    """
    n, c = x.shape[:2]
    levels = torch.round(x.reshape(n * c, -1) * 255.0).long().clamp_(0, 255)
    counts = torch.zeros(n * c, 256, dtype=torch.float32, device=x.device)
    counts.scatter_add_(1, levels, torch.ones_like(levels, dtype=torch.float32))
    cdf = counts.cumsum(dim=1)
    brightest = counts.gather(1, cdf.argmax(dim=1, keepdim=True))
    step = torch.floor((levels.shape[1] - brightest) / 255.0)
    lookup = torch.floor((cdf[:, :-1] + torch.floor(step / 2)) / step.clamp_min(1.0))
    lookup = torch.cat([torch.zeros_like(step), lookup.clamp_(0.0, 255.0)], dim=1)
    equalized = lookup.gather(1, levels).to(x.dtype) / 255.0
    return torch.where(step > 0, equalized, x.reshape(n * c, -1)).reshape(x.shape)


def _identity(x, strength):
    return x


_POINT_OPERATIONS = {
    "brightness": _brightness,
    "color": _color,
    "contrast": _contrast,
    "sharpness": _sharpness,
    "posterize": _posterize,
    "solarize": _solarize,
    "autocontrast": _autocontrast,
    "equalize": _equalize,
}


def _warp(x, codes, strengths):
    """Every image's shears, translations and rotations as one affine map, one resampling."""
    height, width = x.shape[-2:]
    geometric = torch.zeros_like(codes, dtype=torch.bool)
    for name in _GEOMETRIC:
        geometric |= codes == _CODE[name]
    rows = geometric.any(dim=1).nonzero().squeeze(1)
    if rows.numel() == 0:
        return x
    codes, strengths = codes[rows], strengths[rows].to(torch.float32)
    # Pixel coordinates centred on the image; affine_grid works in [-1, 1] per axis.
    to_pixels = torch.diag(torch.tensor([width / 2.0, height / 2.0, 1.0], device=x.device))
    matrix = torch.eye(3, device=x.device).repeat(rows.numel(), 1, 1)
    for step in range(codes.shape[1]):
        code, value = codes[:, step], strengths[:, step]
        step_matrix = torch.eye(3, device=x.device).repeat(rows.numel(), 1, 1)

        def chosen(name, amount, code=code, value=value):
            return torch.where(code == _CODE[name], value * amount, torch.zeros_like(value))

        angle = torch.deg2rad(chosen("rotate", _MAX_DEGREES))
        shear_x, shear_y = chosen("shear_x", _MAX_SHEAR), chosen("shear_y", _MAX_SHEAR)
        cos, sin = torch.cos(angle), torch.sin(angle)
        step_matrix[:, 0, 0] = cos
        step_matrix[:, 0, 1] = -sin + shear_x
        step_matrix[:, 1, 0] = sin + shear_y
        step_matrix[:, 1, 1] = cos
        step_matrix[:, 0, 2] = chosen("translate_x", _MAX_TRANSLATE * width)
        step_matrix[:, 1, 2] = chosen("translate_y", _MAX_TRANSLATE * height)
        matrix = step_matrix @ matrix
    theta = (torch.linalg.inv(to_pixels) @ matrix @ to_pixels)[:, :2].to(x.dtype)
    grid = torch.nn.functional.affine_grid(
        theta, (rows.numel(), *x.shape[1:]), align_corners=False
    )
    x[rows] = torch.nn.functional.grid_sample(
        x[rows], grid, mode="bilinear", padding_mode="zeros", align_corners=False
    )
    return x


def _cutout(x, size, fill, generator):
    n, _, height, width = x.shape
    side = size * min(height, width)
    centres = torch.rand(n, 2, generator=generator).to(x.device)
    cy, cx = centres[:, 0] * height, centres[:, 1] * width
    ys = torch.arange(height, device=x.device, dtype=torch.float32) + 0.5
    xs = torch.arange(width, device=x.device, dtype=torch.float32) + 0.5
    inside_y = (ys[None, :] - cy[:, None]).abs() < side / 2
    inside_x = (xs[None, :] - cx[:, None]).abs() < side / 2
    mask = inside_y[:, :, None] & inside_x[:, None, :]
    return torch.where(mask[:, None], torch.as_tensor(fill, dtype=x.dtype, device=x.device), x)
