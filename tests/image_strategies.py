"""Hypothesis strategies for the pictures the decoding gate may meet: any pixel mode, size, content, file
format and number of frames, float pixels that are NaN or infinite, and files damaged byte by byte."""

import io

import numpy as np
from hypothesis import strategies as st
from PIL import Image

from digit_images import draw_digit
from digit_recog.reading.decoding import PIXEL_MODES

FORMATS = [None, "PNG", "TIFF", "GIF", "BMP", "WEBP", "JPEG"]  # None: the Pillow image itself
MULTI_FRAME_FORMATS = ("PNG", "TIFF", "GIF", "WEBP")


def _grey_base(kind: str, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """An 8-bit grey picture: flat, noise, a gradient, or a digit drawn dark on light."""
    width, height = size
    if kind == "flat":
        return np.full((height, width), rng.integers(0, 256), np.uint8)
    if kind == "noise":
        return rng.integers(0, 256, (height, width), dtype=np.uint8)
    if kind == "gradient":
        return np.broadcast_to(np.linspace(0, 255, width, dtype=np.uint8), (height, width)).copy()
    return np.asarray(draw_digit(rng.choice(["0", "1", "4", "7"]), size=size))


def _in_mode(grey: np.ndarray, mode: str, rng: np.random.Generator, non_finite: bool) -> Image.Image:
    """The grey picture as an image of ``mode``; float pixels may be scaled wildly, NaN or infinite."""
    base = Image.fromarray(grey)
    if mode == "F":
        values = grey.astype(np.float32) * np.float32(rng.choice([1 / 255, 1, 1e6, -3]))
        if non_finite:
            values.flat[rng.integers(values.size)] = rng.choice([np.nan, np.inf, -np.inf])
        return Image.fromarray(values, mode="F")
    if mode.startswith("I;16"):
        wide = grey.astype(">u2" if mode == "I;16B" else "<u2") * 257
        return Image.frombytes(mode, base.size, wide.tobytes())
    if mode == "LAB":
        neutral = Image.new("L", base.size, 128)
        return Image.merge("LAB", (base, neutral, neutral))
    if mode == "RGBa":
        return base.convert("RGBA").convert(mode)
    if mode in ("HSV", "CMYK", "YCbCr", "RGBX"):
        return base.convert("RGB").convert(mode)
    if mode == "PA":
        return base.convert("P").convert("PA")
    return base.convert(mode)


@st.composite
def pictures(draw, formats=FORMATS) -> Image.Image | bytes:
    """A picture of any mode and size up to 64 px, as a Pillow image or encoded in any format."""
    mode = draw(st.sampled_from(PIXEL_MODES))
    size = (draw(st.integers(1, 64)), draw(st.integers(1, 64)))
    kind = draw(st.sampled_from(["flat", "noise", "gradient", "digit"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    try:
        image = _in_mode(_grey_base(kind, size, rng), mode, rng, non_finite=draw(st.booleans()))
    except (ValueError, OSError):  # a mode Pillow cannot build this way: start from blank pixels
        image = Image.new(mode, size)
    image_format = draw(st.sampled_from(formats))
    if image_format is None:
        return image
    frames = draw(st.integers(1, 3)) if image_format in MULTI_FRAME_FORMATS else 1
    extra = [
        Image.new(image.mode, (draw(st.integers(1, 80)), draw(st.integers(1, 80)))) for _ in range(frames - 1)
    ]
    buffer = io.BytesIO()
    try:
        image.save(buffer, format=image_format, save_all=bool(extra), append_images=extra)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError):  # the format cannot hold it
        return image
    return buffer.getvalue()


@st.composite
def damaged_files(draw) -> bytes:
    """An encoded picture with bytes flipped, cut off or inserted."""
    content = bytearray(draw(pictures(formats=FORMATS[1:]).filter(lambda p: isinstance(p, bytes))))
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, max(len(content) - 1, 0)))
        action = draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip" and content:
            content[position] ^= draw(st.integers(1, 255))
        elif action == "cut":
            del content[position:]
        else:
            content[position:position] = draw(st.binary(min_size=1, max_size=16))
    return bytes(content)
