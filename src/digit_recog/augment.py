"""Training-time augmentation: the ways real handwriting differs from MNIST, as Keras layers.

Geometry (rotation, zoom, shift) is one random affine transform per image, drawn as Keras's
``RandomRotation``, ``RandomZoom`` and ``RandomTranslation`` draw theirs, resampled once; or, with
``chained_geometry``, those three layers one after another. With slant (shear) or an elastic distortion
(Simard et al. 2003: the wobble of a hand), :class:`RandomWarp` does all of the geometry in one
resampling. Stroke width and blur, which set apart a marker from a pencil and a phone photo from a scan,
are the others. All of them act only when ``training=True``; :func:`digit_recog.modeling.cnn.inference_model`
drops them before a model is saved, so a saved model holds only built-in layers and loads with plain Keras.
"""

from dataclasses import dataclass

import keras
import numpy as np
from keras import layers, ops

from digit_recog import warp


@dataclass(frozen=True)
class Augmentation:
    """How strongly to perturb training images; 0 turns a transform off.

    ``rotation`` is a fraction of a full turn, ``zoom`` and ``translation`` fractions of the image
    size, ``stroke_width`` the largest share (0-1) of a one-pixel thickening or thinning of the strokes,
    ``blur`` the largest standard deviation (pixels) of a Gaussian blur, and ``blur_factor`` Keras's
    ``factor`` for it: the chance of blurring an image is drawn uniformly from this range (1.0, i.e. 0 to
    1: half the images; ``(1.0, 1.0)``: all of them). ``chained_geometry`` applies
    rotation, zoom and shift as Keras's three layers, each resampling the image (bilinear), instead of as
    one :class:`RandomAffine`; three resamplings soften the digit more (see docs/performance.md).
    ``shear`` is the largest slant (sideways pixels per pixel of height, either way), ``elastic_alpha`` and
    ``elastic_sigma`` the largest scale (pixels) and the smoothness (pixels) of Simard's elastic distortion;
    each image's scale is drawn uniformly from 0 to ``elastic_alpha``.
    """

    rotation: float = 0.0
    zoom: float = 0.0
    translation: float = 0.0
    stroke_width: float = 0.0
    blur: float = 0.0
    blur_factor: float | tuple[float, float] = 1.0
    chained_geometry: bool = False
    shear: float = 0.0
    elastic_alpha: float = 0.0
    elastic_sigma: float = 4.0

    def __post_init__(self):
        if self.shear < 0 or self.elastic_alpha < 0 or self.elastic_sigma <= 0:
            raise ValueError(
                "shear and elastic_alpha must be 0 or more, elastic_sigma above 0; got "
                f"shear={self.shear}, elastic_alpha={self.elastic_alpha}, elastic_sigma={self.elastic_sigma}"
            )


def max_filter_3x3(images):
    """The maximum over each pixel's 3x3 neighbourhood (borders see only the pixels inside), NHWC.

    Equal to ``ops.max_pool(images, 3, strides=1, padding="same")``, which on one channel was over ten
    times slower on an AVX2 CPU: a maximum of shifted slices, rows then columns, avoids that kernel.
    """
    rows = ops.pad(images, [[0, 0], [1, 1], [0, 0], [0, 0]], constant_values=-np.inf)
    rows = ops.maximum(ops.maximum(rows[:, :-2], rows[:, 1:-1]), rows[:, 2:])
    columns = ops.pad(rows, [[0, 0], [0, 0], [1, 1], [0, 0]], constant_values=-np.inf)
    return ops.maximum(ops.maximum(columns[:, :, :-2], columns[:, :, 1:-1]), columns[:, :, 2:])


@keras.saving.register_keras_serializable(package="digit_recog")
class RandomStrokeWidth(layers.Layer):
    """Thicken or thin each image's strokes by a random fraction of one pixel (training only).

    Grey dilation (a 3x3 max) thickens by a pixel on every side, grey erosion (a 3x3 min) thins; each
    image gets a random blend ``t`` in [-factor, factor] between itself and one of the two.
    """

    max_filter = staticmethod(max_filter_3x3)

    def __init__(self, factor: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=None):
        if not training:
            return images
        dilated = self.max_filter(images)
        eroded = -self.max_filter(-images)
        amount = keras.random.uniform(
            (ops.shape(images)[0], 1, 1, 1), -self.factor, self.factor, seed=self.seed_generator
        )
        target = ops.where(amount > 0, dilated, eroded)
        return images + ops.abs(amount) * (target - images)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return super().get_config() | {"factor": self.factor, "seed": self.seed}


@keras.saving.register_keras_serializable(package="digit_recog")
class RandomGaussianBlurByMatmul(layers.RandomGaussianBlur):
    """Keras's ``RandomGaussianBlur``, same random draws and result, computed as two small matrix products.

    Keras blurs with a depthwise convolution, which on one channel was about 9x slower than this on an
    AVX2 CPU (lab/reports/augment_probe.json, docs/performance.md). A Gaussian kernel is separable, so
    the blur of an image ``X`` is ``rows @ X @ columns.T`` with banded matrices that hold the 1-D kernels
    (zero padding at the borders, as the convolution's "same" padding). Channels-last images only.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.data_format != "channels_last":
            raise ValueError(f"{type(self).__name__} takes channels-last images, got {self.data_format!r}.")

    def transform_images(self, images, transformation=None, training=True):
        images = self.backend.cast(images, self.compute_dtype)
        if not training or transformation is None:
            return images
        if len(images.shape) == 3:  # one image: Keras drew its transformation as a batch of one
            return self.transform_images(images[None], transformation, training)[0]
        # Keras's kernel blurs columns (the width) with the first sigma and rows with the second.
        sigma_width, sigma_height = transformation["blur_factor"][0], transformation["blur_factor"][1]
        rows = _gaussian_band(images.shape[1], self.kernel_size[1], sigma_height, self.compute_dtype)
        columns = _gaussian_band(images.shape[2], self.kernel_size[0], sigma_width, self.compute_dtype)
        blurred = ops.einsum("rh,nhwc,sw->nrsc", rows, images, columns)
        chosen = transformation["should_apply_blur"][:, None, None, None]
        return ops.clip(ops.where(chosen, blurred, images), self.value_range[0], self.value_range[1])


@keras.saving.register_keras_serializable(package="digit_recog")
class RandomAffine(layers.Layer):
    """Rotate, zoom and shift each image by random amounts in one bilinear resampling (training only).

    The amounts follow Keras's layers: an angle uniform in ``+-rotation`` of a full turn, one zoom
    factor for both axes uniform in ``1 +- zoom`` (above 1 zooms out), and a shift uniform in
    ``+-translation`` of the image size along each axis; areas from outside the image are black.
    """

    def __init__(self, rotation: float, zoom: float, translation: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.rotation, self.zoom, self.translation, self.seed = rotation, zoom, translation, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=None):
        if not training:
            return images
        batch, height, width = ops.shape(images)[0], images.shape[1], images.shape[2]
        draws = keras.random.uniform((batch, 4), -1.0, 1.0, seed=self.seed_generator)
        transform = affine_matrices(
            angle=draws[:, 0] * self.rotation * 2 * np.pi,
            zoom=1.0 + draws[:, 1] * self.zoom,
            shift_x=draws[:, 2] * self.translation * width,
            shift_y=draws[:, 3] * self.translation * height,
            size=(height, width),
        )
        return ops.image.affine_transform(images, transform, data_format="channels_last")

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return super().get_config() | {
            "rotation": self.rotation,
            "zoom": self.zoom,
            "translation": self.translation,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="digit_recog")
class RandomWarp(RandomAffine):
    """:class:`RandomAffine` plus a random slant and Simard's elastic distortion, in one bilinear resampling.

    Per image: the affine amounts as :class:`RandomAffine` draws them, a slant uniform in ``+-shear``, and a
    displacement field of uniform noise smoothed by a Gaussian of ``elastic_sigma`` pixels and scaled by a
    strength uniform in [0, ``elastic_alpha``] (Simard, Steinkraus and Platt 2003 used 4 and 34, the same for
    every image, on MNIST). Training only.
    """

    def __init__(
        self,
        rotation: float,
        zoom: float,
        translation: float,
        shear: float = 0.0,
        elastic_alpha: float = 0.0,
        elastic_sigma: float = 4.0,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(rotation, zoom, translation, seed=seed, **kwargs)
        self.shear, self.elastic_alpha, self.elastic_sigma = shear, elastic_alpha, elastic_sigma

    def call(self, images, training=None):
        if not training:
            return images
        batch, height, width = ops.shape(images)[0], images.shape[1], images.shape[2]
        draws = keras.random.uniform((batch, 5), -1.0, 1.0, seed=self.seed_generator)
        noise, strength = None, 0.0
        if self.elastic_alpha:
            noise = keras.random.uniform((batch, height, width, 2), -1.0, 1.0, seed=self.seed_generator)
            strength = keras.random.uniform((batch,), 0.0, self.elastic_alpha, seed=self.seed_generator)
        return warp.warp_images(
            images,
            angle=draws[:, 0] * self.rotation * 2 * np.pi,
            zoom=1.0 + draws[:, 1] * self.zoom,
            shear=draws[:, 4] * self.shear,
            shift_x=draws[:, 2] * self.translation * width,
            shift_y=draws[:, 3] * self.translation * height,
            noise=noise,
            sigma=self.elastic_sigma,
            alpha=strength,
        )

    def get_config(self):
        return super().get_config() | {
            "shear": self.shear,
            "elastic_alpha": self.elastic_alpha,
            "elastic_sigma": self.elastic_sigma,
        }


def affine_matrices(angle, zoom, shift_x, shift_y, size: tuple[int, int]):
    """Keras's 8-number transforms (output pixel to input pixel) that rotate by ``angle`` (radians),
    scale by ``1 / zoom`` about the image centre, then shift by ``(shift_x, shift_y)`` pixels.

    Each argument but ``size`` is a vector with one value per image; returns an array (images, 8).
    """
    centre_y, centre_x = (size[0] - 1) / 2, (size[1] - 1) / 2
    cos, sin = ops.cos(angle) * zoom, ops.sin(angle) * zoom
    from_x, from_y = centre_x + shift_x, centre_y + shift_y
    zeros = ops.zeros_like(cos)
    return ops.stack(
        [
            cos,
            -sin,
            centre_x - cos * from_x + sin * from_y,
            sin,
            cos,
            centre_y - sin * from_x - cos * from_y,
            zeros,
            zeros,
        ],
        axis=1,
    )


def _gaussian_band(size: int, kernel_size: int, sigma, dtype):
    """A (size, size) matrix whose row ``i`` holds the normalised 1-D Gaussian kernel centred on ``i``."""
    half = (kernel_size - 1) // 2
    taps = ops.arange(kernel_size, dtype=dtype) - half
    kernel = ops.exp(-0.5 * (taps / sigma) ** 2)
    kernel = kernel / ops.sum(kernel)
    offsets = ops.arange(size)[None, :] - ops.arange(size)[:, None] + half
    inside = (offsets >= 0) & (offsets < kernel_size)
    return ops.where(inside, ops.take(kernel, ops.clip(offsets, 0, kernel_size - 1)), ops.zeros((), dtype))


def augmentation_layers(augmentation: Augmentation) -> list[layers.Layer]:
    """The layers for ``augmentation``, in the order they apply (active only when ``training=True``)."""
    chosen = []
    if augmentation.stroke_width:
        chosen.append(RandomStrokeWidth(augmentation.stroke_width, name="random_stroke_width"))
    if augmentation.blur:
        chosen.append(
            RandomGaussianBlurByMatmul(
                factor=augmentation.blur_factor,
                kernel_size=5,
                sigma=augmentation.blur,
                value_range=(0, 1),
                name="random_blur",
            )
        )
    return chosen + _geometry_layers(augmentation)


def _geometry_layers(augmentation: Augmentation) -> list[layers.Layer]:
    """Rotation, zoom and shift: one RandomAffine, or Keras's three layers with ``chained_geometry``; with
    slant or elastic distortion, one RandomWarp does it all (or follows the three layers, when chained)."""
    rotation, zoom, translation = augmentation.rotation, augmentation.zoom, augmentation.translation
    warps = bool(augmentation.shear or augmentation.elastic_alpha)
    if augmentation.chained_geometry:
        chained = _chained_layers(rotation, zoom, translation)
        return chained + ([_warp_layer(augmentation, (0.0, 0.0, 0.0))] if warps else [])
    if warps:
        return [_warp_layer(augmentation, (rotation, zoom, translation))]
    if not (rotation or zoom or translation):
        return []
    return [RandomAffine(rotation, zoom, translation, name="random_affine")]


def _warp_layer(augmentation: Augmentation, affine: tuple[float, float, float]) -> RandomWarp:
    """The RandomWarp for ``augmentation``'s slant and elastic distortion, with ``affine``'s three amounts."""
    return RandomWarp(
        *affine,
        shear=augmentation.shear,
        elastic_alpha=augmentation.elastic_alpha,
        elastic_sigma=augmentation.elastic_sigma,
        name="random_warp",
    )


def _chained_layers(rotation: float, zoom: float, translation: float) -> list[layers.Layer]:
    """Keras's RandomRotation, RandomZoom and RandomTranslation, each only where its amount is not 0."""
    chained = []
    if rotation:
        chained.append(layers.RandomRotation(rotation, fill_mode="constant", name="random_rotation"))
    if zoom:
        chained.append(layers.RandomZoom(zoom, fill_mode="constant", name="random_zoom"))
    if translation:
        chained.append(
            layers.RandomTranslation(
                translation, translation, fill_mode="constant", name="random_translation"
            )
        )
    return chained


# Every layer type augmentation_layers() may create; recognised by type, whatever the layer's name.
AUGMENTATION_TYPES = (
    RandomStrokeWidth,
    RandomAffine,  # and so RandomWarp
    layers.RandomGaussianBlur,
    layers.RandomRotation,
    layers.RandomZoom,
    layers.RandomTranslation,
)


def is_augmentation(layer: layers.Layer) -> bool:
    """Whether ``layer`` is one of the training-only augmentation layers."""
    return isinstance(layer, AUGMENTATION_TYPES)


def preview(images: np.ndarray, augmentation: Augmentation, copies: int = 3, seed: int = 0) -> np.ndarray:
    """``copies`` random augmentations of raw 0-255 ``images`` (N, 28, 28), as the network sees them.

    Returns an array (copies, N, 28, 28) with values in [0, 1], the scale the layers work at. Seeds
    Keras's global random state with ``seed``, so the same call draws the same augmentations.
    """
    keras.utils.set_random_seed(seed)
    chosen = augmentation_layers(augmentation)
    scaled = images[..., np.newaxis].astype("float32") / 255
    rounds = []
    for _ in range(copies):
        batch = scaled
        for layer in chosen:
            batch = layer(batch, training=True)
        rounds.append(np.asarray(batch)[..., 0])
    return np.stack(rounds)
