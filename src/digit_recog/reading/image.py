"""Turn any picture of a digit into the 28x28 input the model expects, the way MNIST was made.

MNIST digits are light ink on a black background, scaled so the longer side of the ink's bounding box
is 20 pixels, and placed in a 28x28 field with their centre of mass at the centre. A photo, a scan or a
drawing on a white canvas looks nothing like that, so ``preprocess_image`` reads the file, finds the
ink, and rebuilds exactly that layout. ``segment_digits`` does the same for several digits written side by
side; :mod:`digit_recog.reading.predict` reads what they return.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from digit_recog import config
from digit_recog.reading.decoding import (
    ImageReadError,
    ImageSource,
    NoDigitFoundError,
    decode,
    shown_name,
    to_grayscale,
)

DIGIT_BOX_SIZE = 20  # MNIST scales the longer side of the ink's bounding box to 20 px ...
DIGIT_CENTRE = (14.0, 14.0)  # ... and puts its centre of mass here (the mean over the MNIST images).
MIN_CONTRAST = 32  # grey levels between background and ink below which there is no digit
STROKE_LEVEL = 96  # after stretching ink to 255: pixels this bright are strokes, fainter ones edges
BOX_LEVEL = 64  # the bounding box spans pixels this bright, so it holds faint and blurred strokes too
# Neighbouring pixels of drawn ink are alike; below this correlation (see neighbour_correlation) an image
# is noise, and reading a digit in it would be a guess. Pure noise scores about 0, clean digits over 0.6;
# MNIST digits under Gaussian noise of sigma 80 grey levels still score over 0.2.
MIN_NEIGHBOUR_CORRELATION = 0.15
SPECK_FRACTION = 0.05  # stroke blobs lighter than this share of the heaviest blob are noise
HALO_FRACTION = 0.06  # faint ink this far (share of the digit height) from a stroke still belongs to it
# MNIST strokes are about a tenth of the digit's height; thinner ones (a pen on a big photo) are
# thickened to that before the digit is shrunk to 20 px, or they would fade to faint hairlines.
MIN_STROKE_FRACTION = 0.08
TARGET_STROKE_FRACTION = 0.11


@dataclass(frozen=True)
class DigitSegment:
    """One digit cut out of a larger image: its 28x28 model input and its box in the source image.

    ``box`` is ``(left, top, right, bottom)`` in pixels of the (possibly reduced) working image.
    """

    image: np.ndarray
    box: tuple[int, int, int, int]


# From grayscale pixels to clean ink


@dataclass(frozen=True)
class _InkWindow:
    """Clean ink known to be zero outside one window of the picture: the window's pixels, where its top-left
    corner lies in the picture, and the picture's shape. The steps after the cleaning work on this window,
    as small as the digit, rather than on the whole picture."""

    pixels: np.ndarray
    top: int
    left: int
    shape: tuple[int, int]

    def region(self, top: int, bottom: int, left: int, right: int) -> np.ndarray:
        """The picture's ink in rows [top, bottom) and columns [left, right), zero outside the window (and
        outside the picture)."""
        region = np.zeros((bottom - top, right - left), dtype=self.pixels.dtype)
        rows = (max(top, self.top), min(bottom, self.top + self.pixels.shape[0]))
        cols = (max(left, self.left), min(right, self.left + self.pixels.shape[1]))
        if rows[1] > rows[0] and cols[1] > cols[0]:
            region[rows[0] - top : rows[1] - top, cols[0] - left : cols[1] - left] = self.pixels[
                rows[0] - self.top : rows[1] - self.top, cols[0] - self.left : cols[1] - self.left
            ]
        return region


@dataclass(frozen=True)
class _Stretch:
    """How grey levels map to ink: whether the picture is inverted (dark ink), and the grey levels that
    become 0 (``floor``) and 255 (``ink``)."""

    inverted: bool
    floor: float
    ink: float


def ink_image(gray: np.ndarray) -> np.ndarray:
    """Light ink on a black background, on a 0-255 float scale, with background noise removed.

    Dark-on-light pictures are inverted first: the background is what fills the border, so when the
    border is lighter than the image on average, the ink must be dark. Then the background and ink
    levels are found with Otsu's threshold, and pixels are stretched so the background becomes 0 and
    the ink 255; faint noise a few standard deviations above the background is clipped to 0, and
    only ink near a substantial stroke is kept (see :func:`digit_strokes`).

    Raises:
        NoDigitFoundError: when nothing stands out from the background, or what does is noise.
        ImageReadError: when some pixels are NaN or infinite.
    """
    window = _clean_ink(gray)
    return window.region(0, window.shape[0], 0, window.shape[1])


def _clean_ink(gray: np.ndarray) -> _InkWindow:
    """What :func:`ink_image` returns, as the window of the picture around the ink that is not zero.

    Pictures of whole grey levels 0-255 (what Pillow decodes from 8-bit files, drawings, MNIST) take the
    quick way: the levels, the medians and the percentile come from the 256-bin histogram and a pixel's ink
    from a 256-entry table, exactly as the pixel-by-pixel computation gives them. Other pictures stretch
    every pixel. Either way only the window around the non-zero ink is examined further.
    """
    gray = np.asarray(gray)
    if gray.ndim != 2:
        raise ValueError(f"expected a 2-D grayscale array, got shape {gray.shape}")
    levels = _whole_levels(gray)
    window, blank_message = _stretch_levels(levels) if levels is not None else _stretch_pixels(gray)
    if window is None:
        raise NoDigitFoundError(blank_message())
    correlation = _window_correlation(window)
    if correlation < MIN_NEIGHBOUR_CORRELATION:
        raise NoDigitFoundError(
            f"no digit found: the image looks like noise (neighbouring pixels are unrelated, correlation "
            f"{correlation:.2f}; drawn strokes give over {MIN_NEIGHBOUR_CORRELATION})"
        )
    strokes = digit_strokes(window.pixels)
    if not strokes.any():
        raise NoDigitFoundError(blank_message())
    return _InkWindow(_keep_near_strokes(window.pixels, strokes), window.top, window.left, window.shape)


def _stretch_levels(levels: np.ndarray) -> tuple[_InkWindow | None, Callable[[], str]]:
    """The stretched ink of a uint8 picture in its window (None when all of it is background), and the
    message to give if there is no digit."""
    stretch, message = _stretch_from_histogram(levels)
    lookup = _stretch_table(stretch)
    if stretch.inverted:
        lookup = lookup[::-1]
    lit_levels = np.flatnonzero(lookup > 0)
    if lit_levels.size == 0:
        return None, lambda: message
    # The ink grows with the level (falls, when inverted), so the lit pixels lie on one side of a level.
    lit = levels <= lit_levels[-1] if stretch.inverted else levels >= lit_levels[0]
    box = _box(lit)
    return _InkWindow(lookup[levels[box]], box[0].start, box[1].start, levels.shape), lambda: message


def _stretch_pixels(gray: np.ndarray) -> tuple[_InkWindow | None, Callable[[], str]]:
    """The stretched ink of a picture of any other grey levels, as :func:`_stretch_levels`."""
    if not np.isfinite(gray).all():
        raise ImageReadError("pixels that are not finite numbers (NaN or infinity); expected grey levels")
    float32_max = float(np.finfo(np.float32).max)
    gray = np.clip(gray, -float32_max, float32_max).astype(np.float32)  # no overflow to infinity
    if _border_median(gray) > gray.mean():
        gray = 255 - gray
    stretch = _stretch_from_pixels(gray)
    stretched = np.clip((gray - stretch.floor) / (stretch.ink - stretch.floor), 0, 1) * 255
    box = _box(stretched > 0)
    window = None if box is None else _InkWindow(stretched[box], box[0].start, box[1].start, gray.shape)
    return window, lambda: _blank_message(gray)


def _whole_levels(gray: np.ndarray) -> np.ndarray | None:
    """``gray`` as uint8 when every pixel is a whole grey level 0-255, else None."""
    if gray.dtype == np.uint8:
        return gray
    if not gray.size or gray.dtype.kind not in "iuf":
        return None
    with np.errstate(invalid="ignore"):  # NaN and out-of-range values cast to anything: they differ below
        levels = gray.astype(np.uint8)
    return levels if np.array_equal(levels, gray) else None


def _stretch_from_histogram(levels: np.ndarray) -> tuple[_Stretch, str]:
    """The stretch of a uint8 picture, and the message to give if it has no digit, from its histogram.

    Every statistic is the one :func:`_stretch_from_pixels` computes on the float32 pixels: medians and the
    percentile are read off the cumulative counts, and only a percentile between two different levels, or a
    mean too close to the border's median to compare safely, is computed from the pixels.
    """
    counts = np.asarray(Image.fromarray(np.ascontiguousarray(levels)).histogram(), dtype=np.int64)
    level_values = np.arange(256, dtype=np.float64)
    border = np.concatenate([levels[0], levels[-1], levels[1:-1, 0], levels[1:-1, -1]])
    border_median = _median_of_counts(level_values, np.bincount(border, minlength=256))
    mean = float(counts @ level_values) / levels.size
    if abs(border_median - mean) < 0.01:  # the float32 mean the pixel computation compares is this close
        mean = float(levels.astype(np.float32).mean())
    inverted = border_median > mean
    if inverted:
        counts = counts[::-1]
    present = np.flatnonzero(counts)
    blank_message = _blank_message_for(present[0], present[-1])
    threshold = _otsu_from_counts(counts)
    cut = int(threshold) + 1
    background_counts, ink_counts = counts[:cut], counts[cut:]
    background_total, ink_total = int(background_counts.sum()), int(ink_counts.sum())
    if ink_total == 0 or background_total == 0:
        raise NoDigitFoundError(blank_message)
    background = _median_of_counts(level_values[:cut], background_counts)
    ink = _percentile_95_of_counts(level_values[cut:], ink_counts)
    if ink - background < MIN_CONTRAST:
        raise NoDigitFoundError(blank_message)
    deviations = np.abs(level_values[:cut] - background)
    order = np.argsort(deviations, kind="stable")
    noise = 1.4826 * _median_of_counts(deviations[order], background_counts[order])  # robust std
    return _Stretch(inverted, min(background + 3 * noise, threshold), ink), blank_message


def _median_of_counts(sorted_values: np.ndarray, counts: np.ndarray) -> float:
    """``np.median`` of the float32 values ``sorted_values`` (ascending) each repeated ``counts`` times."""
    ends = np.cumsum(counts)
    total = int(ends[-1])
    low, high = (
        sorted_values[np.searchsorted(ends, rank, side="right")] for rank in ((total - 1) // 2, total // 2)
    )
    return (float(low) + float(high)) / 2  # halves of whole levels: exact, as np.median's float32 mean


def _percentile_95_of_counts(sorted_values: np.ndarray, counts: np.ndarray) -> float:
    """``np.percentile(..., 95)`` of the float32 values ``sorted_values`` each repeated ``counts`` times."""
    ends = np.cumsum(counts)
    total = int(ends[-1])
    rank = int(np.floor((total - 1) * 0.95))
    # Linear interpolation between two equal neighbours is that value, however the index rounds.
    low, high = (
        sorted_values[np.searchsorted(ends, max(rank - 1, 0), side="right")],
        sorted_values[np.searchsorted(ends, min(rank + 2, total - 1), side="right")],
    )
    if low == high:
        return float(low)
    return float(np.percentile(np.repeat(sorted_values.astype(np.float32), counts), 95))


def _stretch_from_pixels(gray: np.ndarray) -> _Stretch:
    """The stretch of a float32 picture of light ink (inverted already if its ink was dark)."""
    threshold = otsu_threshold(gray)
    background_pixels, ink_pixels = gray[gray <= threshold], gray[gray > threshold]
    if ink_pixels.size == 0 or background_pixels.size == 0:
        raise NoDigitFoundError(_blank_message(gray))
    background = float(np.median(background_pixels))
    ink = float(np.percentile(ink_pixels, 95))
    if ink - background < MIN_CONTRAST:
        raise NoDigitFoundError(_blank_message(gray))
    noise = 1.4826 * float(np.median(np.abs(background_pixels - background)))  # robust std
    return _Stretch(False, min(background + 3 * noise, threshold), ink)


def _stretch_table(stretch: _Stretch) -> np.ndarray:
    """The ink of each grey level 0-255 (of the inverted picture when it is inverted), float32 as the
    pixel-by-pixel stretch computes it."""
    levels = np.arange(256, dtype=np.float32)
    return np.clip((levels - stretch.floor) / (stretch.ink - stretch.floor), 0, 1) * 255


def _box(mask: np.ndarray) -> tuple[slice, slice] | None:
    """The bounding box of a boolean mask as two slices, or None when it is empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def neighbour_correlation(pixels: np.ndarray) -> float:
    """How alike neighbouring pixels are: the larger of the correlations with the right and lower neighbour.

    A stroke is a run of similar pixels, so a drawn digit scores well above zero along at least one axis;
    independent noise scores about zero however bright it is. A flat image counts as fully correlated.
    """
    centred = np.asarray(pixels, dtype=np.float64) - float(np.mean(pixels))
    variance = float(np.mean(centred**2))
    if variance == 0:
        return 1.0
    pairs = [(centred[:, 1:], centred[:, :-1]), (centred[1:], centred[:-1])]
    return max((float(np.mean(a * b)) / variance for a, b in pairs if a.size), default=1.0)


# The window's correlation comes from sums over the window alone; nearer than this to the threshold (or
# for a variance this small against the mean), rounding could tip the decision, so the whole picture is used.
CORRELATION_MARGIN = 1e-6


def _window_correlation(window: _InkWindow) -> float:
    """:func:`neighbour_correlation` of the whole picture, from its window of non-zero ink.

    Pixels outside the window are zero: they add nothing to the sums of pixels, of squares and of
    neighbours' products, only to the count, so the correlations follow from sums over the window.
    """
    height, width = window.shape
    pixels = window.pixels.astype(np.float64)
    flat = pixels.ravel()
    count = height * width
    total = float(flat.sum())
    mean = total / count
    variance = _dot(flat, flat) / count - mean * mean
    correlations = []
    touches = (
        window.top == 0,
        window.top + pixels.shape[0] == height,
        window.left == 0,
        window.left + pixels.shape[1] == width,
    )
    if width > 1:
        products = _dot(flat[:-1], flat[1:]) - _dot(pixels[:-1, -1], pixels[1:, 0])
        ends = (pixels[:, 0].sum() if touches[2] else 0.0) + (pixels[:, -1].sum() if touches[3] else 0.0)
        correlations.append(_pair_covariance(products, 2 * total - ends, mean, height * (width - 1)))
    if height > 1:
        columns = pixels.shape[1]
        products = _dot(flat[:-columns], flat[columns:])
        ends = (pixels[0].sum() if touches[0] else 0.0) + (pixels[-1].sum() if touches[1] else 0.0)
        correlations.append(_pair_covariance(products, 2 * total - ends, mean, (height - 1) * width))
    if variance <= CORRELATION_MARGIN * mean * mean:
        return neighbour_correlation(window.region(0, height, 0, width))
    correlation = max((covariance / variance for covariance in correlations), default=1.0)
    if correlation < MIN_NEIGHBOUR_CORRELATION + CORRELATION_MARGIN:
        return neighbour_correlation(window.region(0, height, 0, width))
    return correlation


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """The dot product of two vectors, by numpy's own loop: BLAS would spread it over threads (for a
    thousandth of a second's work on a megapixel) and compete with the other requests for the cores."""
    return float(np.einsum("i,i->", a, b))


def _pair_covariance(products: float, paired_total: float, mean: float, pairs: int) -> float:
    """The mean of (a - mean) * (b - mean) over ``pairs`` pairs, from the sum of a * b and of a + b."""
    return (products - mean * paired_total) / pairs + mean * mean


def digit_strokes(ink: np.ndarray) -> np.ndarray:
    """Boolean mask of the strokes: pixels at least ``STROKE_LEVEL`` bright, minus small specks.

    Blobs of such pixels whose total ink is under ``SPECK_FRACTION`` of the heaviest blob's are noise.
    """
    core = ink >= STROKE_LEVEL
    box = _box(core)
    if box is None:
        return core
    # Only the box of the stroke pixels is labelled (a photo's faint noise can make the window far larger):
    # its blobs, their numbering and each blob's sum, added in the same order, are those of the whole window.
    labels, count = ndimage.label(core[box], structure=np.ones((3, 3)))
    if count <= 1:
        return core
    masses = ndimage.sum_labels(ink[box], labels, index=np.arange(1, count + 1))
    keep = np.concatenate([[False], masses >= SPECK_FRACTION * masses.max()])
    strokes = np.zeros_like(core)
    strokes[box] = keep[labels]
    return strokes


def _keep_near_strokes(ink: np.ndarray, strokes: np.ndarray) -> np.ndarray:
    """``ink`` where it lies within the halo radius of the strokes, zero elsewhere.

    The halo radius is at least 2 pixels, so ink touching a stroke (a drawing's antialiased edge) is always
    kept; the distance transform is needed only when some ink lies further away.
    """
    touching = _grow_by_one(strokes)
    if not np.any((ink > 0) & ~touching):
        return ink
    return np.where(_near(strokes, _halo_radius(strokes)), ink, 0)


def _grow_by_one(mask: np.ndarray) -> np.ndarray:
    """The mask and its eight neighbours of each pixel."""
    grown = mask.copy()
    grown[1:] |= mask[:-1]
    grown[:-1] |= mask[1:]
    rows_grown = grown.copy()
    grown[:, 1:] |= rows_grown[:, :-1]
    grown[:, :-1] |= rows_grown[:, 1:]
    return grown


def _halo_radius(strokes: np.ndarray) -> float:
    """How far around the strokes faint ink (antialiased or blurred edges) still belongs to the digit."""
    rows = np.flatnonzero(strokes.any(axis=1))
    return max(2.0, HALO_FRACTION * (rows[-1] - rows[0] + 1))


def _near(mask: np.ndarray, radius: float) -> np.ndarray:
    """Pixels within ``radius`` of the mask. The distance transform runs on the mask's bounding box grown
    by the radius only: nothing outside it can be that near, and the rest of a big picture costs time."""
    near = np.zeros_like(mask)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return near
    margin = int(np.ceil(radius)) + 1
    window = (
        slice(max(rows[0] - margin, 0), rows[-1] + margin + 1),
        slice(max(cols[0] - margin, 0), cols[-1] + margin + 1),
    )
    if radius <= MAX_DISK_RADIUS:
        near[window] = _within_radius(mask[window], radius)
    else:
        near[window] = ndimage.distance_transform_edt(~mask[window]) <= radius
    return near


# Up to this radius a disk of row runs (:func:`_within_radius`) is quicker than the distance transform: its
# cost grows with the radius, the transform's does not (three times quicker at 21 px, even near 70 px).
MAX_DISK_RADIUS = 48


def _within_radius(mask: np.ndarray, radius: float) -> np.ndarray:
    """Pixels within ``radius`` of the mask, exactly as ``ndimage.distance_transform_edt(~mask) <= radius``
    decides it (the square root of a sum of squared whole offsets, against ``radius``).

    The disk of that radius is a stack of row runs: for each row offset, a pixel is near when a run of the
    mask's row that far up or down, as wide as the disk is there, holds a mask pixel; each run is counted by
    differences of the rows' cumulative sums.
    """
    reach = int(np.floor(radius))
    height, width = mask.shape
    padded = np.zeros((height, width + 2 * reach + 1), np.int32)  # a zero column, then zeros either side
    padded[:, reach + 1 : reach + 1 + width] = mask
    counts = np.cumsum(padded, axis=1, out=padded)
    offsets = np.arange(reach + 1)
    near = np.zeros((height, width), dtype=bool)
    for rows_away in range(min(reach, height - 1) + 1):
        distances = np.sqrt((offsets * offsets + rows_away * rows_away).astype(np.float64))
        half_width = int(np.flatnonzero(distances <= radius)[-1]) if distances[0] <= radius else -1
        if half_width < 0:
            break
        run_holds_mask = (
            counts[:, reach + 1 + half_width : reach + 1 + half_width + width]
            > counts[:, reach - half_width : reach - half_width + width]
        )
        near[rows_away:] |= run_holds_mask[: height - rows_away]
        if rows_away:
            near[: height - rows_away] |= run_holds_mask[rows_away:]
    return near


def otsu_threshold(values: np.ndarray) -> float:
    """Otsu's threshold of 0-255 values: the grey level that best separates two classes of pixels."""
    values = np.asarray(values).ravel()
    values = values[(values >= 0) & (values <= 256)]
    # np.histogram's 256 unit bins over [0, 256], counted directly: a tenth of its time on a drawing.
    return _otsu_from_counts(np.bincount(np.minimum(values.astype(np.int64), 255), minlength=256))


def _otsu_from_counts(counts: np.ndarray) -> float:
    """Otsu's threshold from the counts of the grey levels 0-255."""
    levels = np.arange(256, dtype=np.float64)
    weight_low = np.cumsum(counts)
    weight_high = weight_low[-1] - weight_low
    sum_low = np.cumsum(counts * levels)
    # Levels that leave one class empty score below any other (their class mean is undefined).
    split = np.flatnonzero((weight_low > 0) & (weight_high > 0))
    if split.size == 0:
        return 0.0
    low, high = weight_low[split], weight_high[split]
    mean_low = sum_low[split] / low
    mean_high = (sum_low[-1] - sum_low[split]) / high
    return float(split[np.argmax(low * high * (mean_low - mean_high) ** 2)])


def _border_median(gray: np.ndarray) -> float:
    border = np.concatenate([gray[0], gray[-1], gray[1:-1, 0], gray[1:-1, -1]])
    return float(np.median(border))


def _blank_message(gray: np.ndarray) -> str:
    return _blank_message_for(gray.min(), gray.max())


def _blank_message_for(lowest: float, highest: float) -> str:
    return (
        f"no digit found: the image (grey levels {lowest:.0f}-{highest:.0f}) has no ink that "
        "stands out from the background"
    )


# From clean ink to the MNIST layout


def to_mnist_layout(ink: np.ndarray) -> np.ndarray:
    """Scale the strokes' bounding box to 20 px on its longer side and centre the digit by mass in 28x28.

    The box spans pixels at least ``BOX_LEVEL`` bright rather than every non-zero one, so a faint halo
    (antialiasing, blur, leftover noise) does not shrink the digit, as MNIST measured its bilevel originals.

    Args:
        ink: light ink on a zero background, any size, as returned by :func:`ink_image`.

    Returns:
        uint8 array of shape (28, 28).
    """
    ink = np.asarray(ink)
    return _window_to_mnist_layout(_InkWindow(ink, 0, 0, ink.shape))


def _window_to_mnist_layout(ink: _InkWindow) -> np.ndarray:
    """:func:`to_mnist_layout` of the picture whose ink is zero outside ``ink``'s window."""
    window, longer_side, box = _crop_with_margin(ink)
    thickened = _thicken_thin_strokes(window, longer_side, box)
    if thickened is not window:
        window, longer_side, _ = _crop_with_margin(_InkWindow(thickened, 0, 0, thickened.shape))
    digit = _resize(window, DIGIT_BOX_SIZE / longer_side)
    return _place_by_centre_of_mass(digit, config.IMAGE_SIZE)


def _crop_with_margin(ink: _InkWindow) -> tuple[np.ndarray, int, tuple[slice, slice]]:
    """The digit's bounding box plus a margin of 4/20 of its longer side, that longer side, and where the
    box lies in the crop."""
    box = _box(ink.pixels >= BOX_LEVEL) or _box(ink.pixels > 0)
    if box is None:
        raise NoDigitFoundError("no digit found: the image is empty after removing the background")
    top, bottom = ink.top + box[0].start, ink.top + box[0].stop
    left, right = ink.left + box[1].start, ink.left + box[1].stop
    longer_side = int(max(bottom - top, right - left))
    # Faint edges outside the box are part of the digit too, and thickening needs room to grow.
    margin = int(np.ceil(longer_side * (config.IMAGE_SIZE - DIGIT_BOX_SIZE) / (2 * DIGIT_BOX_SIZE)))
    crop = ink.region(top - margin, bottom + margin, left - margin, right + margin)
    return crop, longer_side, (slice(margin, margin + bottom - top), slice(margin, margin + right - left))


def _thicken_thin_strokes(window: np.ndarray, longer_side: int, box: tuple[slice, slice]) -> np.ndarray:
    """Widen strokes much thinner than MNIST's, relative to the digit's size (``window`` itself if not).

    ``box`` is where in ``window`` the pixels at least ``BOX_LEVEL`` bright lie, and so all the strokes.
    """
    inside = window[box] >= STROKE_LEVEL
    stroke_width = (
        2 * np.count_nonzero(inside) / max(_outline_size(inside), 1)
    )  # area over half the perimeter
    if stroke_width >= MIN_STROKE_FRACTION * longer_side:
        return window
    radius = (TARGET_STROKE_FRACTION * longer_side - stroke_width) / 2
    if radius < 0.5:
        return window
    # Every pixel within ``radius`` of a stroke takes that stroke's value: a grey dilation by a disk,
    # in time linear in the image size whatever the radius.
    strokes = window >= STROKE_LEVEL
    distance, (nearest_row, nearest_col) = ndimage.distance_transform_edt(~strokes, return_indices=True)
    return np.where(distance <= radius, np.maximum(window, window[nearest_row, nearest_col]), window)


def _outline_size(mask: np.ndarray) -> int:
    """How many pixels of the mask have a side on a pixel outside it (or on the array's edge): the pixels
    ``mask & ~ndimage.binary_erosion(mask)`` holds."""
    inner = np.zeros_like(mask)
    inner[1:-1, 1:-1] = mask[1:-1, 1:-1] & mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:]
    return int(mask.sum()) - int(inner.sum())


def _resize(window: np.ndarray, scale: float) -> np.ndarray:
    height, width = window.shape
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # Area averaging when shrinking keeps the ink inside the 20 px box (wider kernels smear it past
    # the edges); bilinear when enlarging avoids blocky pixels.
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    pixels = np.ascontiguousarray(window, dtype=np.float32)
    # Pillow reads the array's memory as it is (fromarray would copy it first).
    picture = Image.frombuffer("F", (width, height), pixels, "raw", "F", 0, 1)
    resized = picture.resize(size, resample)
    resized = np.clip(np.asarray(resized), 0, None)
    peak = resized.max()
    # Shrinking a big thin-stroked digit averages its ink with background; restore full-strength ink.
    return resized * (255 / peak) if peak > 0 else resized


def _centre_of_mass(pixels: np.ndarray) -> tuple[float, float]:
    """``ndimage.center_of_mass(pixels)``, the same sums in the same order, without its generic set-up."""
    total = pixels.sum()
    rows = np.arange(pixels.shape[0], dtype=np.float64)[:, np.newaxis]
    cols = np.arange(pixels.shape[1], dtype=np.float64)[np.newaxis, :]
    return float((pixels * rows).sum() / total), float((pixels * cols).sum() / total)


def _place_by_centre_of_mass(digit: np.ndarray, size: int) -> np.ndarray:
    """Paste ``digit`` into a ``size`` x ``size`` field so its centre of mass lands on ``DIGIT_CENTRE``."""
    centre_row, centre_col = _centre_of_mass(digit)
    top, left = round(DIGIT_CENTRE[0] - centre_row), round(DIGIT_CENTRE[1] - centre_col)
    field = np.zeros((size, size), dtype=np.float32)
    rows = slice(max(top, 0), min(top + digit.shape[0], size))
    cols = slice(max(left, 0), min(left + digit.shape[1], size))
    field[rows, cols] = digit[rows.start - top : rows.stop - top, cols.start - left : cols.stop - left]
    return np.round(np.clip(field, 0, 255)).astype(np.uint8)


# Public entry points


def preprocess_array(pixels: np.ndarray) -> np.ndarray:
    """MNIST-style 28x28 uint8 input from a 2-D grayscale array of any size (0-255 scale).

    Either polarity works: dark ink on light paper is inverted. Already-MNIST-like images (light ink
    centred on black) pass through almost unchanged.

    Raises:
        NoDigitFoundError: when the array holds no ink.
    """
    return _window_to_mnist_layout(_clean_ink(pixels))


def preprocess_batch(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``preprocess_array`` over a batch; images where no digit is found are left black.

    Returns:
        ``(preprocessed_images, found)`` where ``found`` is a boolean mask of the images that kept a digit.
    """
    processed = np.zeros((len(images), 28, 28), dtype=np.uint8)
    found = np.ones(len(images), dtype=bool)
    for index, image in enumerate(images):
        try:
            processed[index] = preprocess_array(image)
        except NoDigitFoundError:
            found[index] = False
    return processed, found


def preprocess_image(source: ImageSource, name: str | None = None) -> np.ndarray:
    """MNIST-style 28x28 uint8 input (light ink on black) from any image file Pillow reads.

    Args:
        source: a path, the file's bytes, a binary file object or a Pillow image.
        name: how to name the image in error messages (defaults to the path).

    Raises:
        ImageReadError, ImageTooLargeError, NoDigitFoundError: each with a message naming the image.
    """
    shown = shown_name(source, name)
    gray, size = _read_grayscale(source, shown, levels=True)
    return _naming_the_image(preprocess_array, gray, shown, size)


def segment_digits(source: ImageSource | np.ndarray, name: str | None = None) -> list[DigitSegment]:
    """Cut an image of several digits written side by side into one 28x28 input per digit.

    Ink blobs (connected components) are grouped when they overlap horizontally by at least half of
    the narrower one, so a digit drawn in two strokes (a 4, a 5) stays one digit; specks are dropped.
    A group wider than tall holds digits that touch: it is cut from top to bottom
    along the path that crosses the fewest strokes near where equal-width digits would meet.

    Args:
        source: an image as for :func:`preprocess_image`, or a 2-D grayscale array.

    Returns:
        The digits ordered left to right.

    Raises:
        ImageReadError, ImageTooLargeError, NoDigitFoundError.
    """
    shown = shown_name(source, name)
    if isinstance(source, np.ndarray):
        gray, size = source, (source.shape[-1], source.shape[0])
    else:
        gray, size = _read_grayscale(source, shown)
    window = _naming_the_image(_clean_ink, gray, shown, size)  # the ink is zero outside this window
    ink = window.pixels
    labels, _ = ndimage.label(digit_strokes(ink), structure=np.ones((3, 3)))
    slices = ndimage.find_objects(labels)
    components = [(index + 1, box) for index, box in enumerate(slices) if box is not None]
    segments = []
    for members in _group_overlapping_columns(components):
        group = np.isin(labels, [label for label, _ in members])
        rows = (min(box[0].start for _, box in members), max(box[0].stop for _, box in members))
        cols = (min(box[1].start for _, box in members), max(box[1].stop for _, box in members))
        for piece in touching_digit_masks(group[rows[0] : rows[1], cols[0] : cols[1]]):
            strokes = np.zeros_like(group)
            strokes[rows[0] : rows[1], cols[0] : cols[1]] = piece
            digit_ink = np.where(_near(strokes, _halo_radius(strokes)), ink, 0)
            filled_rows, filled_cols = (np.flatnonzero(strokes.any(axis=axis)) for axis in (1, 0))
            box = (
                int(window.left + filled_cols[0]),
                int(window.top + filled_rows[0]),
                int(window.left + filled_cols[-1]) + 1,
                int(window.top + filled_rows[-1]) + 1,
            )  # plain ints, whatever integer type the window's corner has: boxes go to JSON
            digit = _InkWindow(digit_ink, window.top, window.left, window.shape)
            segments.append(DigitSegment(image=_window_to_mnist_layout(digit), box=box))
    return segments


# A group of strokes wider than tall may be digits that touch; one digit is about DIGIT_ASPECT as wide as
# tall. It is cut only along a path that crosses few strokes (at most NECK_SHARE of a typical column's stroke
# pixels), so a single round 0 drawn wide stays whole.
TOUCHING_ASPECT = 1.0
DIGIT_ASPECT = 0.7
NECK_SHARE = 0.6
SIDE_STEP_COST = 0.1  # what a cutting path pays to move one column sideways, against 1 per stroke pixel


def touching_digit_masks(strokes: np.ndarray) -> list[np.ndarray]:
    """The strokes of each digit, left to right, in one group of touching strokes (its bounding box).

    A group no wider than :data:`TOUCHING_ASPECT` times its height is one digit. A wider one is taken for
    ``round(aspect / DIGIT_ASPECT)`` digits, at least two, and cut from top to bottom along the path that
    crosses the fewest stroke pixels (dynamic programming; it may bend around an overlapping stroke) near
    each place where equal-width digits would meet. If a cut crosses more than a neck's worth of strokes,
    the group stays one digit.
    """
    height, width = strokes.shape
    if width <= TOUCHING_ASPECT * height:
        return [strokes]
    count = max(2, round(width / (DIGIT_ASPECT * height)))
    projection = strokes.sum(axis=0)
    neck = NECK_SHARE * np.median(projection[projection > 0])
    columns = np.arange(width)[np.newaxis, :]
    pieces, left_of_previous = [], np.zeros_like(strokes)
    for index in range(1, count):
        ideal = index * width // count
        reach = max(1, width // (3 * count))
        cut = _cheapest_cut(strokes, ideal - reach, ideal + reach)
        if cut is None or cut[1] > neck:  # no room for a cut (a speck), or no neck to cut through
            return [strokes]
        path = cut[0]
        left_of_cut = columns < path[:, np.newaxis]
        pieces.append(strokes & left_of_cut & ~left_of_previous)
        left_of_previous = left_of_cut
    pieces.append(strokes & ~left_of_previous)
    return [piece for piece in pieces if piece.any()]


def _cheapest_cut(strokes: np.ndarray, low: int, high: int) -> tuple[np.ndarray, float] | None:
    """The column of a top-to-bottom path within columns [low, high) crossing the fewest stroke pixels, row by
    row, and how many it crosses; None when no column lies strictly inside the strokes' box there."""
    low, high = max(1, low), min(strokes.shape[1] - 1, high)
    if high <= low:
        return None
    ink = strokes[:, low:high].astype(float)
    cost = ink[0].copy()
    came_from = np.zeros(ink.shape, dtype=int)
    for row in range(1, len(ink)):
        options = np.stack(
            [np.r_[np.inf, cost[:-1]] + SIDE_STEP_COST, cost, np.r_[cost[1:], np.inf] + SIDE_STEP_COST]
        )
        choice = options.argmin(axis=0)
        came_from[row] = choice - 1
        cost = options[choice, np.arange(len(cost))] + ink[row]
    column = int(cost.argmin())
    path = np.empty(len(ink), dtype=int)
    for row in range(len(ink) - 1, -1, -1):
        path[row] = column
        column += came_from[row, column]
    return path + low, float(ink[np.arange(len(ink)), path].sum())


def _read_grayscale(
    source: ImageSource, shown: str, levels: bool = False
) -> tuple[np.ndarray, tuple[int, int]]:
    """The picture's grey levels through the gate (see :func:`to_grayscale` for ``levels``), and its size
    as the file declared it."""
    image, size = decode(source, shown)
    return to_grayscale(image, shown, levels), size


def _naming_the_image(step, gray: np.ndarray, shown: str, size: tuple[int, int]):
    """``step(gray)``, with any error it raises naming the picture and its size before reduction."""
    try:
        return step(gray)
    except (NoDigitFoundError, ImageReadError) as error:
        raise type(error)(f"{shown}: {error} (a {size[0]}x{size[1]} pixel picture)") from None


def _group_overlapping_columns(
    components: list[tuple[int, tuple[slice, slice]]],
) -> list[list[tuple[int, tuple[slice, slice]]]]:
    groups: list[list[tuple[int, tuple[slice, slice]]]] = []
    for component in sorted(components, key=lambda item: item[1][1].start):
        start, stop = component[1][1].start, component[1][1].stop
        if groups:
            group_start = min(box[1].start for _, box in groups[-1])
            group_stop = max(box[1].stop for _, box in groups[-1])
            overlap = min(stop, group_stop) - max(start, group_start)
            if overlap >= 0.5 * min(stop - start, group_stop - group_start):
                groups[-1].append(component)
                continue
        groups.append([component])
    return groups
