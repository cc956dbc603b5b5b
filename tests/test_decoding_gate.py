"""The one decoding gate every picture passes (``reading.image``): whatever arrives, the answer is a 28x28
input or one of the named errors, with a message that says what is wrong, at bounded memory.

The regression tests name the bad inputs found on main; the Hypothesis properties keep it so for any
mode, size, content, format, frame count and damaged file.
"""

import gzip
import io
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from digit_images import draw_digit, encode
from digit_recog import config, data
from digit_recog.reading import decoding as reading_decoding
from digit_recog.reading.decoding import (
    PIXEL_MODES,
    ImageReadError,
    ImageTooLargeError,
    NoDigitFoundError,
    PreprocessError,
    load_image,
)
from digit_recog.reading.image import preprocess_array, preprocess_image, segment_digits
from image_strategies import damaged_files, pictures

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def as_lab(image: Image.Image) -> Image.Image:
    """A grey picture in Pillow's LAB mode: the grey levels as lightness, neutral colour."""
    neutral = Image.new("L", image.size, 128)
    return Image.merge("LAB", (image.convert("L"), neutral, neutral))


def float_tiff(pixels: np.ndarray) -> bytes:
    return encode(Image.fromarray(pixels.astype(np.float32), mode="F"), "TIFF")


# Regression tests: the bad inputs found on main


def test_lab_image_of_a_digit_is_read():
    digit = preprocess_image(encode(as_lab(draw_digit("7")), "TIFF"), "lab.tif")
    assert np.array_equal(digit, preprocess_image(draw_digit("7")))


def test_blank_lab_image_is_no_digit_not_a_crash():
    with pytest.raises(NoDigitFoundError, match=r"lab\.tif: no digit found"):
        preprocess_image(encode(Image.new("LAB", (280, 280), (50, 0, 0)), "TIFF"), "lab.tif")


@pytest.mark.parametrize("mode", PIXEL_MODES)
def test_every_pixel_mode_is_read_or_refused_by_name(mode):
    image = Image.new(mode, (40, 40))
    with pytest.raises(NoDigitFoundError, match="blank: no digit found"):
        preprocess_image(image, "blank")


def test_unknown_pixel_mode_is_refused_by_name():
    with pytest.raises(ImageReadError, match="odd.png has pixel mode 'La'"):
        preprocess_image(Image.new("La", (40, 40)), "odd.png")


def test_rgba_png_over_the_decoding_budget_is_refused_before_decoding():
    # 7000x7000 RGBA is under the 50-megapixel cap but takes 196 MB decoded; the file is ~200 KB.
    bomb = encode(Image.new("RGBA", (7000, 7000), (255, 255, 255, 255)), "PNG", compress_level=1)
    with pytest.raises(
        ImageTooLargeError, match=r"7000x7000 pixels in mode RGBA need 196 MB; at most 100 MB"
    ):
        load_image(bomb, "bomb.png")


def test_big_grey_png_is_decoded_at_bounded_memory(tmp_path):
    """A 7000x7000 8-bit PNG (49 MB decoded) costs little more than its decoded pixels, in a fresh process."""
    path = tmp_path / "big.png"
    Image.new("L", (7000, 7000), 255).save(path, compress_level=1)
    script = (
        "import resource, sys\n"
        "from digit_recog.reading.image import preprocess_image, NoDigitFoundError\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n    preprocess_image(sys.argv[1])\nexcept NoDigitFoundError:\n    pass\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)\n"
    )
    grown = int(subprocess.run([sys.executable, "-c", script, path], capture_output=True, text=True).stdout)
    assert grown < 2.5 * 7000 * 7000, f"decoding took {grown / 1e6:.0f} MB"


def test_big_pictures_are_reduced_right_after_decoding():
    image = load_image(encode(draw_digit("7", size=(5000, 3000)), "PNG"))
    assert max(image.size) < 2 * reading_decoding.WORKING_SIZE
    photo = load_image(encode(draw_digit("7", size=(4096, 3072), mode="RGB"), "JPEG"))
    assert max(photo.size) <= 2 * reading_decoding.WORKING_SIZE  # JPEG: decoded at reduced size


def test_float_tiff_with_a_nan_pixel_says_so():
    pixels = np.asarray(draw_digit("7"), dtype=np.float32)
    pixels[3, 3] = np.nan
    with pytest.raises(ImageReadError, match=r"nan\.tif has pixels that are not finite numbers \(NaN"):
        preprocess_image(float_tiff(pixels), "nan.tif")


def test_nan_in_an_array_is_a_named_error():
    pixels = np.asarray(draw_digit("7"), dtype=np.float32)
    pixels[0, 0] = np.inf
    with pytest.raises(ImageReadError, match="not finite"):
        preprocess_array(pixels)


@pytest.mark.parametrize("seed", range(3))
def test_pure_noise_is_no_digit(seed):
    noise = np.random.default_rng(seed).integers(0, 256, (280, 280), dtype=np.uint8)
    with pytest.raises(NoDigitFoundError, match="looks like noise"):
        preprocess_image(Image.fromarray(noise), "noise.png")


def test_size_in_messages_is_the_size_of_the_file():
    with pytest.raises(NoDigitFoundError, match=r"10000x1 pixel picture"):
        preprocess_image(encode(Image.new("L", (10_000, 1), 255)), "wide.png")


def test_only_the_first_frame_is_decoded():
    first, second = draw_digit("7"), Image.new("L", (3000, 3000), 255)
    buffer = io.BytesIO()
    first.save(buffer, format="TIFF", save_all=True, append_images=[second])
    assert np.array_equal(preprocess_image(buffer.getvalue()), preprocess_image(first))


def test_gzip_that_expands_far_beyond_its_header_is_refused_reading_only_what_it_announces(tmp_path):
    labels = data.MNIST_FILES["test_labels"]
    header = (data.LABELS_MAGIC).to_bytes(4, "big") + labels.count.to_bytes(4, "big")
    path = tmp_path / labels.name
    path.write_bytes(gzip.compress(header + bytes(64 * 2**20), compresslevel=1))  # 64 MiB of zeros
    tracemalloc.start()
    with pytest.raises(data.MnistFormatError, match=f"found more than {8 + labels.count}"):
        data.read_idx_file(path, labels)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 * 2**20, f"read {peak / 2**20:.0f} MiB"


def test_gzip_with_a_wrong_header_is_refused_before_decompressing_the_rest(tmp_path):
    labels = data.MNIST_FILES["test_labels"]
    path = tmp_path / labels.name
    path.write_bytes(gzip.compress(bytes(64 * 2**20), compresslevel=1))
    tracemalloc.start()
    with pytest.raises(data.MnistFormatError, match="expected magic number 2049, found 0"):
        data.read_idx_file(path, labels)
    assert tracemalloc.get_traced_memory()[1] < 2**20
    tracemalloc.stop()


# Properties: any picture gives a 28x28 input or a named error


def assert_read_or_refused_by_name(read, source) -> None:
    try:
        result = read(source)
    except PreprocessError as error:
        assert str(error), "an error must say what is wrong"
        return
    images = [segment.image for segment in result] if isinstance(result, list) else [result]
    for image in images:
        assert image.shape == (config.IMAGE_SIZE, config.IMAGE_SIZE) and image.dtype == np.uint8


@FUZZ
@given(picture=pictures())
def test_any_picture_is_read_or_refused_by_name(picture):
    assert_read_or_refused_by_name(preprocess_image, picture)


@FUZZ
@given(picture=pictures())
def test_any_picture_is_segmented_or_refused_by_name(picture):
    assert_read_or_refused_by_name(segment_digits, picture)


@FUZZ
@given(content=damaged_files())
def test_damaged_files_are_read_or_refused_by_name(content):
    assert_read_or_refused_by_name(preprocess_image, content)


@FUZZ
@given(content=st.binary(max_size=512))
def test_arbitrary_bytes_are_refused_by_name(content):
    assert_read_or_refused_by_name(preprocess_image, content)


@FUZZ
@given(
    pixels=hnp.arrays(
        dtype=st.sampled_from([np.uint8, np.uint16, np.float32, np.float64]),
        shape=hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=40),
    )
)
def test_any_array_is_preprocessed_or_refused_by_name(pixels):
    assert_read_or_refused_by_name(preprocess_array, pixels)
