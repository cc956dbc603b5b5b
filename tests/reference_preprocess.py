"""A frozen copy of the preprocessing in ``digit_recog.reading.image`` before it was made fast.

The shipped model was trained on pictures that went through this code, so the fast version must give the
same 28x28 inputs: ``tests/test_preprocess_equivalence.py`` compares the two on a corpus of real inputs, and
the lab's reading benchmark times this copy as "before". Do not change it; only the file-reading entry
points were left out (it takes grey-level arrays).
"""

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from digit_recog import config
from digit_recog.reading.decoding import ImageReadError, NoDigitFoundError

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
    gray = np.asarray(gray)
    if gray.ndim != 2:
        raise ValueError(f"expected a 2-D grayscale array, got shape {gray.shape}")
    if not np.isfinite(gray).all():
        raise ImageReadError("pixels that are not finite numbers (NaN or infinity); expected grey levels")
    float32_max = float(np.finfo(np.float32).max)
    gray = np.clip(gray, -float32_max, float32_max).astype(np.float32)  # no overflow to infinity
    if _border_median(gray) > gray.mean():
        gray = 255 - gray
    threshold = otsu_threshold(gray)
    background_pixels, ink_pixels = gray[gray <= threshold], gray[gray > threshold]
    if ink_pixels.size == 0 or background_pixels.size == 0:
        raise NoDigitFoundError(_blank_message(gray))
    background = float(np.median(background_pixels))
    ink = float(np.percentile(ink_pixels, 95))
    if ink - background < MIN_CONTRAST:
        raise NoDigitFoundError(_blank_message(gray))
    noise = 1.4826 * float(np.median(np.abs(background_pixels - background)))  # robust std
    floor = min(background + 3 * noise, threshold)
    stretched = np.clip((gray - floor) / (ink - floor), 0, 1) * 255
    correlation = neighbour_correlation(stretched)
    if correlation < MIN_NEIGHBOUR_CORRELATION:
        raise NoDigitFoundError(
            f"no digit found: the image looks like noise (neighbouring pixels are unrelated, correlation "
            f"{correlation:.2f}; drawn strokes give over {MIN_NEIGHBOUR_CORRELATION})"
        )
    strokes = digit_strokes(stretched)
    if not strokes.any():
        raise NoDigitFoundError(_blank_message(gray))
    return np.where(_near(strokes, _halo_radius(strokes)), stretched, 0)


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


def digit_strokes(ink: np.ndarray) -> np.ndarray:
    """Boolean mask of the strokes: pixels at least ``STROKE_LEVEL`` bright, minus small specks.

    Blobs of such pixels whose total ink is under ``SPECK_FRACTION`` of the heaviest blob's are noise.
    """
    core = ink >= STROKE_LEVEL
    labels, count = ndimage.label(core, structure=np.ones((3, 3)))
    if count <= 1:
        return core
    masses = ndimage.sum_labels(ink, labels, index=np.arange(1, count + 1))
    keep = np.concatenate([[False], masses >= SPECK_FRACTION * masses.max()])
    return keep[labels]


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
    near[window] = ndimage.distance_transform_edt(~mask[window]) <= radius
    return near


def otsu_threshold(values: np.ndarray) -> float:
    """Otsu's threshold of 0-255 values: the grey level that best separates two classes of pixels."""
    values = np.asarray(values).ravel()
    values = values[(values >= 0) & (values <= 256)]
    # np.histogram's 256 unit bins over [0, 256], counted directly: a tenth of its time on a drawing.
    counts = np.bincount(np.minimum(values.astype(np.int64), 255), minlength=256)
    levels = np.arange(256, dtype=np.float64)
    weight_low = np.cumsum(counts)
    weight_high = weight_low[-1] - weight_low
    sum_low = np.cumsum(counts * levels)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_low = sum_low / weight_low
        mean_high = (sum_low[-1] - sum_low) / weight_high
        between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(levels[np.nanargmax(np.nan_to_num(between, nan=-1))])


def _border_median(gray: np.ndarray) -> float:
    border = np.concatenate([gray[0], gray[-1], gray[1:-1, 0], gray[1:-1, -1]])
    return float(np.median(border))


def _blank_message(gray: np.ndarray) -> str:
    return (
        f"no digit found: the image (grey levels {gray.min():.0f}-{gray.max():.0f}) has no ink that "
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
    window, longer_side = _crop_with_margin(ink)
    window, longer_side = _crop_with_margin(_thicken_thin_strokes(window, longer_side))
    digit = _resize(window, DIGIT_BOX_SIZE / longer_side)
    return _place_by_centre_of_mass(digit, config.IMAGE_SIZE)


def _crop_with_margin(ink: np.ndarray) -> tuple[np.ndarray, int]:
    """The digit's bounding box plus a margin of 4/20 of its longer side, and that longer side."""
    strokes = ink >= BOX_LEVEL
    if not strokes.any():
        strokes = ink > 0
    if not strokes.any():
        raise NoDigitFoundError("no digit found: the image is empty after removing the background")
    rows, cols = np.flatnonzero(strokes.any(axis=1)), np.flatnonzero(strokes.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    longer_side = int(max(bottom - top, right - left))
    # Faint edges outside the box are part of the digit too, and thickening needs room to grow.
    margin = int(np.ceil(longer_side * (config.IMAGE_SIZE - DIGIT_BOX_SIZE) / (2 * DIGIT_BOX_SIZE)))
    return np.pad(ink, margin)[top : bottom + 2 * margin, left : right + 2 * margin], longer_side


def _thicken_thin_strokes(window: np.ndarray, longer_side: int) -> np.ndarray:
    """Widen strokes much thinner than MNIST's, relative to the digit's size."""
    strokes = window >= STROKE_LEVEL
    outline = strokes & ~ndimage.binary_erosion(strokes)
    stroke_width = 2 * strokes.sum() / max(outline.sum(), 1)  # area over half the perimeter
    if stroke_width >= MIN_STROKE_FRACTION * longer_side:
        return window
    radius = (TARGET_STROKE_FRACTION * longer_side - stroke_width) / 2
    if radius < 0.5:
        return window
    # Every pixel within ``radius`` of a stroke takes that stroke's value: a grey dilation by a disk,
    # in time linear in the image size whatever the radius.
    distance, (nearest_row, nearest_col) = ndimage.distance_transform_edt(~strokes, return_indices=True)
    return np.where(distance <= radius, np.maximum(window, window[nearest_row, nearest_col]), window)


def _resize(window: np.ndarray, scale: float) -> np.ndarray:
    height, width = window.shape
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # Area averaging when shrinking keeps the ink inside the 20 px box (wider kernels smear it past
    # the edges); bilinear when enlarging avoids blocky pixels.
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    resized = Image.fromarray(window.astype(np.float32), mode="F").resize(size, resample)
    resized = np.clip(np.asarray(resized), 0, None)
    peak = resized.max()
    # Shrinking a big thin-stroked digit averages its ink with background; restore full-strength ink.
    return resized * (255 / peak) if peak > 0 else resized


def _place_by_centre_of_mass(digit: np.ndarray, size: int) -> np.ndarray:
    """Paste ``digit`` into a ``size`` x ``size`` field so its centre of mass lands on ``DIGIT_CENTRE``."""
    centre_row, centre_col = ndimage.center_of_mass(digit)
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
    return to_mnist_layout(ink_image(pixels))


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


def segment_digits(gray: np.ndarray) -> list[DigitSegment]:
    """One 28x28 input per digit of a 2-D grayscale array of several digits side by side."""
    ink = ink_image(gray)
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
                int(filled_cols[0]),
                int(filled_rows[0]),
                int(filled_cols[-1]) + 1,
                int(filled_rows[-1]) + 1,
            )
            segments.append(DigitSegment(image=to_mnist_layout(digit_ink), box=box))
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
