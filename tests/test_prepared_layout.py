"""The layout check of a 28x28 image prepared elsewhere (the drawing page's own preprocessing): whatever
the reader's preprocessing makes passes, what it never makes is refused with what is wrong, and no bytes
crash it."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from digit_recog.reading.decoding import NoDigitFoundError
from digit_recog.reading.image import preprocess_array
from digit_recog.reading.layout import LAYOUT_BYTES, LayoutError, checked_layout
from lab.reading_corpus import corpus, decoded, page_drawing_png


def preprocessed_corpus() -> list[np.ndarray]:
    """The preprocessing's output for every kind of picture the reader meets (those it finds a digit in)."""
    outputs = []
    for pictures in corpus(per_kind=12).values():
        for picture in pictures:
            try:
                outputs.append(preprocess_array(picture))
            except NoDigitFoundError:
                continue
    return outputs


def test_every_picture_the_preprocessing_reads_passes():
    outputs = preprocessed_corpus()
    assert len(outputs) > 80
    for output in outputs:
        assert np.array_equal(checked_layout(output.tobytes()), output)


def test_mnists_own_digits_pass_as_they_are(mnist):
    _, (test_images, _) = mnist
    for digit in test_images[:2000]:
        checked_layout(digit.tobytes())


def _seven() -> np.ndarray:
    """The drawing page's 7 as the preprocessing lays it out."""
    return preprocess_array(decoded(page_drawing_png()))


def _scaled(image: np.ndarray, size: int) -> np.ndarray:
    small = np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BOX))
    field = np.zeros_like(image)
    start = (28 - size) // 2
    field[start : start + size, start : start + size] = small
    return field


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda image: image[:27], "a layout is 784 bytes (28x28 grey levels, row by row); got 756"),
        (lambda image: np.concatenate([image.ravel(), [0]]), "got 785"),
        (lambda image: np.zeros_like(image), "no ink: the brightest pixel is 0"),
        (lambda image: image // 3, "no ink: the brightest pixel is 85"),
        (lambda image: 255 - image, "the digit's box is 28x28 px"),
        (lambda image: _scaled(image, 12), "its longer side must be 20"),
        (lambda image: np.roll(image, 2, axis=1), "column 15.9"),
        (lambda image: np.roll(image, -2, axis=0), "at row 12.1"),
        (lambda image: np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8), "box is 28x28"),
    ],
)
def test_what_the_preprocessing_never_makes_is_refused_naming_the_problem(change, problem):
    seven = _seven()
    checked_layout(seven.tobytes())  # the unchanged 7 passes
    with pytest.raises(LayoutError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        checked_layout(np.asarray(change(seven), dtype=np.uint8).tobytes())


def test_the_checked_image_is_writable_and_not_a_view_of_the_request():
    content = bytearray(_seven().tobytes())
    checked = checked_layout(bytes(content))
    checked[0, 0] = 7
    assert checked.flags.writeable and checked.shape == (28, 28) and checked.dtype == np.uint8


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2 * LAYOUT_BYTES) | st.binary(min_size=LAYOUT_BYTES, max_size=LAYOUT_BYTES))
def test_any_bytes_are_either_a_layout_or_a_layout_error(content):
    try:
        checked = checked_layout(content)
    except LayoutError as error:
        assert str(error)
    else:
        assert checked.tobytes() == content
