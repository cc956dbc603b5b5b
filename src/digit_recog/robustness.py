"""How accuracy falls as test digits are shifted, rotated, blurred, thinned, inverted ...

Each perturbation takes a batch of 28x28 uint8 images (light ink on black, as in MNIST) and one
strength, and returns a perturbed batch of the same shape and dtype; strength 0 (or 1 for
``scale``) leaves the images unchanged. ``robustness_table`` measures the model's accuracy on the
perturbed images twice: fed as they are, and after :func:`digit_recog.reading.image.preprocess_array`
has re-centred and re-scaled them the MNIST way, which undoes some perturbations (shift, scale,
inversion) but not others (blur, noise).
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from PIL import Image
from scipy import ndimage

from digit_recog import other_writers
from digit_recog.artifacts import atomic_path, write_json
from digit_recog.reading.image import preprocess_array, preprocess_batch
from digit_recog.reading.predict import predict_probabilities

Perturbation = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]


def _to_uint8(images: np.ndarray) -> np.ndarray:
    return np.clip(np.round(images), 0, 255).astype(np.uint8)


def _as_float(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"expected a batch of 28x28 images, shape (N, 28, 28); got {images.shape}")
    return images.astype(np.float32)


def shift(images: np.ndarray, pixels: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Move every image ``pixels`` right and ``pixels`` down (diagonally); ink leaving the field is lost."""
    return shift_xy(images, dx=pixels, dy=pixels)


def shift_xy(images: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Move every image ``dx`` pixels right and ``dy`` pixels down (bilinear for fractions)."""
    return _to_uint8(ndimage.shift(_as_float(images), (0, dy, dx), order=1, mode="constant", cval=0))


def rotate(images: np.ndarray, degrees: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Rotate every image by ``degrees`` counter-clockwise about the centre of the field."""
    rotated = ndimage.rotate(_as_float(images), degrees, axes=(2, 1), reshape=False, order=1, cval=0)
    return _to_uint8(rotated)


def scale(images: np.ndarray, factor: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Zoom every image by ``factor`` about the centre of the field (< 1 shrinks, > 1 enlarges and crops)."""
    if factor <= 0:
        raise ValueError(f"scale factor must be positive, got {factor}")
    centre = (np.array([28, 28]) - 1) / 2
    matrix = np.diag([1.0, 1 / factor, 1 / factor])
    offset = np.concatenate([[0.0], centre - centre / factor])
    zoomed = ndimage.affine_transform(_as_float(images), matrix, offset=offset, order=1, cval=0)
    return _to_uint8(zoomed)


def thickness(images: np.ndarray, pixels: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Thicken strokes by dilating ``pixels`` pixels on each side; negative values thin them by erosion."""
    radius = int(round(abs(pixels)))
    if radius == 0:
        return np.asarray(images).copy()
    size = 2 * radius + 1
    footprint = np.zeros((1, size, size), dtype=bool)
    footprint[0] = np.hypot(*np.mgrid[-radius : radius + 1, -radius : radius + 1]) <= radius + 0.5
    morph = ndimage.grey_dilation if pixels > 0 else ndimage.grey_erosion
    return _to_uint8(morph(_as_float(images), footprint=footprint))


def blur(images: np.ndarray, sigma: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Gaussian blur with standard deviation ``sigma`` pixels."""
    return _to_uint8(ndimage.gaussian_filter(_as_float(images), sigma=(0, sigma, sigma)))


def low_resolution(images: np.ndarray, pixels: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Downsample to ``pixels`` x ``pixels`` (area average) and back up to 28x28 (bilinear).

    Strength 28 (or more) leaves the images unchanged.
    """
    size = int(round(pixels))
    if size >= 28:
        return np.asarray(images).copy()
    if size < 1:
        raise ValueError(f"resolution must be at least 1 pixel, got {pixels}")
    result = np.empty_like(np.asarray(images), dtype=np.uint8)
    for index, image in enumerate(_as_float(images)):
        small = Image.fromarray(image, mode="F").resize((size, size), Image.Resampling.BOX)
        result[index] = _to_uint8(np.asarray(small.resize((28, 28), Image.Resampling.BILINEAR)))
    return result


def noise(images: np.ndarray, sigma: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Add Gaussian pixel noise with standard deviation ``sigma`` grey levels (clipped to 0-255)."""
    rng = rng if rng is not None else np.random.default_rng(0)
    images = _as_float(images)
    return _to_uint8(images + rng.normal(0, sigma, size=images.shape))


def invert(images: np.ndarray, amount: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Blend towards the negative: 0 keeps the images, 1 gives dark ink on white (like a scan)."""
    images = _as_float(images)
    return _to_uint8((1 - amount) * images + amount * (255 - images))


@dataclass(frozen=True)
class PerturbationSpec:
    """A perturbation, its strength's unit, and strengths that run from harmless to severe."""

    function: Perturbation
    unit: str
    strengths: tuple[float, ...]
    neutral: float = 0.0  # the strength that leaves images unchanged


PERTURBATIONS: dict[str, PerturbationSpec] = {
    "shift": PerturbationSpec(shift, "pixels right and down", (0, 2, 4, 6, 8)),
    "rotate": PerturbationSpec(rotate, "degrees", (0, 15, 30, 45, 60)),
    "scale": PerturbationSpec(scale, "zoom factor", (0.5, 0.7, 1.0, 1.2, 1.4), neutral=1.0),
    "thickness": PerturbationSpec(thickness, "pixels added per side", (-1, 0, 1, 2, 3)),
    "blur": PerturbationSpec(blur, "Gaussian sigma, pixels", (0, 1, 1.5, 2, 3)),
    "low_resolution": PerturbationSpec(low_resolution, "pixels per side", (28, 14, 10, 7, 5), neutral=28),
    "noise": PerturbationSpec(noise, "noise sigma, grey levels", (0, 40, 80, 120, 160)),
    "invert": PerturbationSpec(invert, "share inverted", (0, 1)),
}


def perturb(images: np.ndarray, kind: str, strength: float, seed: int = 0) -> np.ndarray:
    """Apply the perturbation named ``kind`` (a key of ``PERTURBATIONS``) at ``strength``."""
    if kind not in PERTURBATIONS:
        raise ValueError(f"unknown perturbation {kind!r}; expected one of {sorted(PERTURBATIONS)}")
    return PERTURBATIONS[kind].function(images, strength, np.random.default_rng(seed))


def robustness_table(
    model: keras.Model,
    images: np.ndarray,
    labels: np.ndarray,
    kind: str,
    strengths: list[float] | tuple[float, ...] | None = None,
    seed: int = 0,
    batch_size: int = 512,
) -> pd.DataFrame:
    """Accuracy on ``images`` perturbed by ``kind`` at each strength, with and without preprocessing.

    Args:
        model: a trained model taking raw 0-255 pixels.
        images, labels: MNIST-style test images (N, 28, 28) uint8 and their digits.
        kind: a key of ``PERTURBATIONS``.
        strengths: defaults to the perturbation's own range.
        seed: for the random noise.

    Returns:
        One row per strength and preprocessing (``"none"`` or ``"preprocess"``), with columns
        perturbation, strength, unit, preprocessing, accuracy, no_digit (images in which
        preprocessing found no ink; they count as errors) and samples.
    """
    spec = PERTURBATIONS.get(kind)
    if spec is None:
        raise ValueError(f"unknown perturbation {kind!r}; expected one of {sorted(PERTURBATIONS)}")
    rows = []
    for strength in spec.strengths if strengths is None else strengths:
        perturbed = perturb(images, kind, strength, seed)
        processed, found = preprocess_batch(perturbed)
        for preprocessing, batch, valid in (
            ("none", perturbed, np.ones(len(images), dtype=bool)),
            ("preprocess", processed, found),
        ):
            # uint8 and float32 batches alike as float32, through the model's one compiled forward pass
            predicted = predict_probabilities(model, batch, batch_size).argmax(axis=1)
            correct = (predicted == labels) & valid
            rows.append(
                {
                    "perturbation": kind,
                    "strength": float(strength),
                    "unit": spec.unit,
                    "preprocessing": preprocessing,
                    "accuracy": float(correct.mean()),
                    "no_digit": int((~valid).sum()),
                    "samples": len(labels),
                }
            )
    return pd.DataFrame(rows)


def robustness_report(
    model: keras.Model,
    images: np.ndarray,
    labels: np.ndarray,
    strengths: dict[str, list[float]] | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """``robustness_table`` for several perturbations (default: all of ``PERTURBATIONS``), stacked."""
    strengths = strengths or {kind: list(spec.strengths) for kind, spec in PERTURBATIONS.items()}
    tables = [
        robustness_table(model, images, labels, kind, values, seed) for kind, values in strengths.items()
    ]
    return pd.concat(tables, ignore_index=True)


def save_table(table: pd.DataFrame, path: Path) -> Path:
    """Write ``table`` as CSV atomically and return the path."""
    with atomic_path(path) as tmp_path:
        table.to_csv(tmp_path, index=False)
    return Path(path)


def save_other_writers(accuracies: dict[str, dict[str, float]], images: dict[str, int], path: Path) -> Path:
    """Write each model's accuracy on each set of other writers (``{"pendigits test writers": {"shipped":
    0.98, ...}, ...}``) and the sets' sizes as JSON: ``{"sets": {name: {"images": n, "accuracy": {...}}}}``.

    The README's Results table and the model card quote it.
    """
    sets = {name: {"images": images[name], "accuracy": by_model} for name, by_model in accuracies.items()}
    return write_json({"sets": sets}, path)


def perturbed_examples(
    image: np.ndarray, strengths: dict[str, list[float]], seed: int = 0
) -> dict[str, list[tuple[float, np.ndarray]]]:
    """One 28x28 image under each perturbation at each strength: ``{kind: [(strength, image), ...]}``."""
    return {
        kind: [(strength, perturb(image[np.newaxis], kind, strength, seed)[0]) for strength in values]
        for kind, values in strengths.items()
    }


def other_writers_digits(upscale: int = 32, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Handwritten digits from outside MNIST, laid out the MNIST way: scikit-learn's 1,797 digits.

    They come from the UCI "optical recognition of handwritten digits" set (43 other writers, scanned
    on another system and averaged down to 8x8 with 17 grey levels) and ship inside scikit-learn, so
    nothing is downloaded. Each is scaled up to ``upscale`` pixels (bilinear), then put through
    :func:`digit_recog.reading.image.preprocess_array` like any image a user brings.

    Returns:
        ``(images, labels)``: uint8 (1797, 28, 28), light ink on black, and the digits.
    """
    from sklearn.datasets import load_digits  # scikit-learn's data loaders take a second to import

    digits = load_digits()
    images = [
        preprocess_array(
            np.asarray(
                Image.fromarray(_to_uint8(image * 255 / 16)).resize((upscale, upscale), Image.BILINEAR)
            )
        )
        for image in digits.images[:limit]
    ]
    return np.stack(images), digits.target[:limit].astype(np.uint8)


OTHER_WRITERS_TEST_SETS = {
    "pendigits test writers": "14 writers' pen paths drawn on the page's canvas (UCI pendigits test file)",
    "optdigits test writers": "13 writers' 32x32 scanned bitmaps (UCI optdigits writer-independent file)",
    "scikit-learn digits": "the same 13 writers averaged to 8x8 (scikit-learn's load_digits)",
}


def other_writers_test_sets(limit: int | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every set of writers that no model trains or chooses on, as the reader sees them: ``{name: (images,
    labels)}`` in the order of :data:`OTHER_WRITERS_TEST_SETS`, the first ``limit`` digits of each when given.
    For reporting only."""
    names = list(OTHER_WRITERS_TEST_SETS)
    return {
        names[0]: other_writers.test_digits("pendigits", limit),
        names[1]: other_writers.test_digits("optdigits", limit),
        names[2]: other_writers_digits(limit=limit),
    }
