"""Preprocessing your own images: any picture of a digit becomes an MNIST-style 28x28 input."""

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

from digit_images import (
    SHIPPED_MODEL,
    as_scan,
    draw_digit,
    draw_into,
    encode,
    needs_shipped_model,
    png_header_only,
)
from digit_recog.reading import image as reading_image
from digit_recog.reading import predict
from digit_recog.reading.decoding import ImageReadError, ImageTooLargeError, NoDigitFoundError
from digit_recog.reading.image import preprocess_array, preprocess_image, segment_digits


def bounding_box(image: np.ndarray, level: int = reading_image.BOX_LEVEL) -> tuple[int, int]:
    """Height and width of the pixels at least ``level`` bright."""
    rows, cols = np.nonzero(image >= level)
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


def assert_mnist_layout(image: np.ndarray) -> None:
    """Light ink on black, 28x28 uint8, centred by mass, longer side of the box about 20 px."""
    assert image.shape == (28, 28) and image.dtype == np.uint8
    assert image.max() == 255
    centre = ndimage.center_of_mass(image.astype(float))
    assert np.allclose(centre, (14, 14), atol=1.0), centre
    assert abs(max(bounding_box(image)) - 20) <= 1


def test_dark_digit_on_a_light_photo_is_inverted():
    photo = draw_digit("7", size=(400, 300), ink=40, paper=220, mode="RGB")
    # Uneven lighting and sensor noise, as in a phone photo of paper.
    rng = np.random.default_rng(0)
    shading = np.linspace(-25, 15, 400)[np.newaxis, :, np.newaxis]
    pixels = np.asarray(photo, dtype=float) + shading + rng.normal(0, 6, (300, 400, 3))
    photo = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    image = preprocess_image(photo)
    assert_mnist_layout(image)
    assert (image > 0).mean() < 0.35  # mostly black background: the ink was the dark part


def test_light_digit_on_dark_background_is_not_inverted():
    dark = preprocess_image(draw_digit("7", ink=255, paper=0))
    light = preprocess_image(draw_digit("7"))
    assert np.abs(dark.astype(int) - light).mean() < 1


def test_off_centre_digit_is_centred_and_scaled_to_20_pixels():
    image = Image.new("L", (500, 300), 255)
    draw_into(image, "7", (10, 10, 70, 90), stroke=0.12, ink=0)  # small, in the top-left corner
    assert_mnist_layout(preprocess_image(image))


def test_wide_digit_is_scaled_by_its_longer_side():
    image = draw_digit("0", size=(600, 200), box=(50, 40, 550, 160))  # a flat 0, 500 wide, 120 high
    height, width = bounding_box(preprocess_image(image))
    assert abs(width - 20) <= 1 and height < 10


def test_mnist_digits_pass_through_almost_unchanged(mnist):
    _, (test_images, _) = mnist
    processed = np.stack([preprocess_array(image) for image in test_images[:200]])
    difference = np.abs(processed.astype(int) - test_images[:200])
    assert difference.mean() < 1.0  # grey levels out of 255


def test_transparent_background_is_composited_onto_white():
    drawing = Image.new(
        "RGBA", (280, 280), (0, 0, 0, 0)
    )  # transparent *black*: naive conversion is all black
    draw_into(drawing, "7", (42, 42, 238, 238), stroke=0.1, ink=(0, 0, 0, 255))
    expected = preprocess_image(draw_digit("7"))
    image = preprocess_image(io.BytesIO(encode(drawing)))
    assert np.abs(image.astype(int) - expected).mean() < 2


def test_white_digit_on_transparent_background_is_found():
    drawing = Image.new("LA", (280, 280), (255, 0))
    draw_into(drawing, "7", (42, 42, 238, 238), stroke=0.1, ink=(255, 255))
    assert_mnist_layout(preprocess_image(drawing))


def test_sixteen_bit_png(tmp_path):
    pixels = np.asarray(draw_digit("7"), dtype=np.uint16) * 257  # the same picture in 16 bits
    path = tmp_path / "digit16.png"
    Image.fromarray(pixels).save(path)
    assert Image.open(path).mode.startswith("I")
    expected = preprocess_image(draw_digit("7"))
    assert np.abs(preprocess_image(path).astype(int) - expected).mean() < 1


@pytest.mark.parametrize(
    ("format", "options"),
    [
        ("PNG", {}),
        ("JPEG", {"quality": 60}),
        ("BMP", {}),
        ("GIF", {}),
        ("WEBP", {"quality": 60}),
        ("TIFF", {}),
    ],
)
def test_common_formats_give_the_same_input(tmp_path, format, options):
    picture = draw_digit("4", mode="RGB")
    path = tmp_path / f"digit.{format.lower()}"
    path.write_bytes(encode(picture, format, **options))
    expected = preprocess_image(picture)
    image = preprocess_image(path)
    assert_mnist_layout(image)
    assert np.abs(image.astype(int) - expected).mean() < 6


def test_thin_pen_strokes_on_a_big_photo_are_thickened():
    thin = preprocess_image(draw_digit("7", size=(2400, 1800), stroke=0.005))  # 6 px pen on 1260 px digit
    normal = preprocess_image(draw_digit("7"))
    assert (thin >= 128).sum() > 0.6 * (normal >= 128).sum()


def test_specks_away_from_the_digit_are_ignored():
    clean = draw_digit("1")
    specked = clean.copy()
    for x, y in [(10, 10), (260, 30), (20, 250)]:
        specked.paste(0, (x, y, x + 3, y + 3))
    assert np.array_equal(preprocess_image(specked), preprocess_image(clean))


@pytest.mark.parametrize("paper", [0, 128, 255])
def test_blank_image_raises_no_digit_found(paper):
    with pytest.raises(NoDigitFoundError, match="no digit found"):
        preprocess_image(Image.new("L", (200, 200), paper))


def test_faint_noise_is_not_a_digit():
    rng = np.random.default_rng(1)
    noise = np.clip(rng.normal(230, 3, (200, 200)), 0, 255).astype(np.uint8)
    with pytest.raises(NoDigitFoundError):
        preprocess_image(Image.fromarray(noise))


@pytest.mark.parametrize(
    "content", [b"this is not an image", encode(draw_digit("7"))[:300]], ids=["text", "truncated png"]
)
def test_unreadable_file_raises_image_read_error_naming_it(tmp_path, content):
    path = tmp_path / "broken.png"
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match="broken.png"):
        preprocess_image(path)


def test_missing_file_raises_image_read_error_naming_it(tmp_path):
    with pytest.raises(ImageReadError, match=r"nowhere\.png does not exist"):
        preprocess_image(tmp_path / "nowhere.png")


@pytest.mark.parametrize(("width", "height"), [(10_000, 6_000), (100_000, 100_000)])
def test_absurd_dimensions_are_refused_before_decoding(tmp_path, width, height):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header_only(width, height))
    with pytest.raises(ImageTooLargeError, match=r"bomb\.png is too large"):
        preprocess_image(path)


def test_segment_digits_finds_three_digits_left_to_right():
    image = Image.new("L", (900, 320), 255)
    for left, digit in [(40, "1"), (330, "7"), (620, "4")]:
        draw_into(image, digit, (left, 40, left + 240, 280), stroke=0.09, ink=0)
    segments = segment_digits(image)
    assert len(segments) == 3  # the 4, drawn in two strokes, stays one digit
    lefts = [segment.box[0] for segment in segments]
    assert lefts == sorted(lefts) and lefts[0] < 300 < lefts[1] < 600 < lefts[2]
    assert all(type(side) is int for segment in segments for side in segment.box)  # JSON takes them
    for segment in segments:
        assert_mnist_layout(segment.image)
    # Each crop is the digit alone, as if it had been drawn by itself.
    alone = preprocess_image(draw_digit("7"))
    assert np.abs(segments[1].image.astype(int) - alone).mean() < 8


def test_segment_digits_drops_specks():
    image = Image.new("L", (600, 300), 255)
    draw_into(image, "1", (40, 40, 260, 260), stroke=0.1, ink=0)
    draw_into(image, "0", (320, 40, 540, 260), stroke=0.1, ink=0)
    image.paste(0, (290, 280, 293, 283))
    assert len(segment_digits(image)) == 2


@needs_shipped_model
def test_read_number_reads_digits_left_to_right():
    import keras

    image = Image.new("L", (1000, 300), 240)
    for left, digit in [(30, "1"), (270, "7"), (510, "0"), (750, "4")]:
        draw_into(image, digit, (left, 40, left + 220, 260), stroke=0.1, ink=20)
    reading = predict.read_number(keras.saving.load_model(SHIPPED_MODEL), image)
    assert reading.text == "1704"
    assert len(reading.digits) == 4 and all(d.probabilities.shape == (10,) for d in reading.digits)


@pytest.mark.slow
@needs_shipped_model
def test_shipped_model_still_reads_preprocessed_mnist(mnist):
    import keras

    from digit_recog.reading.predict import predict_probabilities

    _, (test_images, test_labels) = mnist
    images, labels = test_images[:500], test_labels[:500]
    model = keras.saving.load_model(SHIPPED_MODEL)
    scans = np.stack([preprocess_image(as_scan(image, seed=i)) for i, image in enumerate(images[:100])])
    processed = np.stack([preprocess_array(image) for image in images])
    accuracy = (predict_probabilities(model, processed).argmax(axis=1) == labels).mean()
    scan_accuracy = (predict_probabilities(model, scans).argmax(axis=1) == labels[:100]).mean()
    assert accuracy >= 0.97
    assert scan_accuracy >= 0.95


TOUCHING_PAIRS = ["70", "04", "47", "77", "00", "74", "40", "07"]


def touching_pair(pair: str) -> Image.Image:
    """Two digits drawn side by side, the second moved left until its strokes meet the first's."""
    for left in range(300, 100, -5):
        image = Image.new("L", (620, 320), 255)
        draw_into(image, pair[0], (40, 40, 280, 280), stroke=0.09, ink=0)
        draw_into(image, pair[1], (left, 40, left + 240, 280), stroke=0.09, ink=0)
        if ndimage.label(np.asarray(image) < 128)[1] == 1:
            return image
    raise AssertionError(f"{pair} never touched")


@pytest.mark.parametrize("pair", TOUCHING_PAIRS)
def test_touching_digits_are_cut_apart(pair):
    """Two digits whose strokes touch become two segments, left to right."""
    segments = segment_digits(touching_pair(pair))
    assert len(segments) == 2
    assert segments[0].box[0] < segments[1].box[0]
    for segment in segments:
        assert_mnist_layout(segment.image)


def test_a_wide_round_zero_is_not_cut():
    image = Image.new("L", (400, 300), 255)
    ImageDraw.Draw(image).ellipse((40, 60, 360, 250), outline=0, width=22)
    assert len(segment_digits(image)) == 1


@needs_shipped_model
def test_read_number_reads_touching_digits():
    import keras

    model = keras.saving.load_model(SHIPPED_MODEL)
    read = {pair: predict.read_number(model, touching_pair(pair)).text for pair in TOUCHING_PAIRS}
    assert sum(text == pair for pair, text in read.items()) >= 7, read
