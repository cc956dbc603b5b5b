"""Check that a 28x28 image someone else prepared is in the layout the reader's preprocessing produces.

The drawing page preprocesses its own drawing in JavaScript (``static/reader.js``, a port of
:mod:`digit_recog.reading.image`) and may send the 28x28 result beside the picture, so that the server
need not decode and clean the picture again. The server never reads such an image blindly: it must be
MNIST's layout, as :func:`digit_recog.reading.image.to_mnist_layout` leaves every picture, or the server
reads the picture itself. What is checked:

- exactly 784 grey levels (28x28, row by row, one byte each): light ink on black;
- ink: some pixel at least ``MIN_PEAK`` bright (the preprocessing stretches the brightest to 255);
- the box of the pixels at least ``BOX_LEVEL`` bright is ``DIGIT_BOX_SIZE`` (20) px on its longer side,
  within ``BOX_SLACK`` (blurred or noisy pictures end up 18 to 22 px);
- the centre of mass is within ``CENTRE_SLACK`` px of (14, 14) on each axis (placing by whole pixels
  leaves it within half a pixel).

A check of the layout, not of the content: a 28x28 scribble in the layout passes, and the model's verdict
says what it is.
"""

import numpy as np

from digit_recog import config
from digit_recog.reading.image import BOX_LEVEL, DIGIT_BOX_SIZE, DIGIT_CENTRE

LAYOUT_BYTES = config.IMAGE_SIZE * config.IMAGE_SIZE
MIN_PEAK = 128
BOX_SLACK = 2
CENTRE_SLACK = 1.0


class LayoutError(ValueError):
    """A prepared 28x28 image is not in MNIST's layout; the message says how."""


def checked_layout(content: bytes) -> np.ndarray:
    """The (28, 28) uint8 image in ``content`` (784 bytes, row by row), once it is in MNIST's layout.

    Raises:
        LayoutError: naming what is wrong: the size, no ink, the digit's box or its centre of mass.
    """
    if len(content) != LAYOUT_BYTES:
        raise LayoutError(
            f"a layout is {LAYOUT_BYTES} bytes (28x28 grey levels, row by row); got {len(content):,}"
        )
    pixels = np.frombuffer(content, dtype=np.uint8).reshape(config.IMAGE_SIZE, config.IMAGE_SIZE)
    _check_ink(pixels)
    _check_box(pixels)
    _check_centre(pixels)
    return pixels.copy()  # writable, and not a view of the request's bytes


def _check_ink(pixels: np.ndarray) -> None:
    peak = int(pixels.max())
    if peak < MIN_PEAK:
        raise LayoutError(f"no ink: the brightest pixel is {peak}, under {MIN_PEAK} (light ink on black)")


def _check_box(pixels: np.ndarray) -> None:
    rows, cols = np.nonzero(pixels >= BOX_LEVEL)
    height, width = int(np.ptp(rows)) + 1, int(np.ptp(cols)) + 1
    longer = max(height, width)
    if abs(longer - DIGIT_BOX_SIZE) > BOX_SLACK:
        raise LayoutError(
            f"the digit's box is {height}x{width} px; its longer side must be {DIGIT_BOX_SIZE} "
            f"(within {BOX_SLACK}), as the preprocessing scales every digit (light ink on black)"
        )


def _check_centre(pixels: np.ndarray) -> None:
    mass = pixels.astype(np.float64)
    total = mass.sum()
    row = float((mass.sum(axis=1) * np.arange(config.IMAGE_SIZE)).sum() / total)
    col = float((mass.sum(axis=0) * np.arange(config.IMAGE_SIZE)).sum() / total)
    if max(abs(row - DIGIT_CENTRE[0]), abs(col - DIGIT_CENTRE[1])) > CENTRE_SLACK:
        raise LayoutError(
            f"the digit's centre of mass is at row {row:.1f}, column {col:.1f}; it must be within "
            f"{CENTRE_SLACK:g} px of ({DIGIT_CENTRE[0]:g}, {DIGIT_CENTRE[1]:g})"
        )
