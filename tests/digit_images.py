"""Test helpers for reading your own digits: synthetic pictures of digits and the models to read them.

The digits are drawn as strokes with Pillow, the way a person draws them, so no font is needed.
"""

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from digit_recog import config

# The committed model; DIGIT_RECOG_TEST_MODEL points the tests at another one (e.g. while developing).
SHIPPED_MODEL = Path(
    os.environ.get("DIGIT_RECOG_TEST_MODEL", config.PROJECT_ROOT / "models" / "digit_recog_mnist_cnn.keras")
)
needs_shipped_model = pytest.mark.skipif(
    not SHIPPED_MODEL.is_file(), reason=f"{SHIPPED_MODEL} is missing: run notebooks/03_train.ipynb first"
)

# Strokes in a 100x100 box: ("line", points) or ("ellipse", (left, top, right, bottom)).
STROKES = {
    "0": [("ellipse", (25, 10, 75, 90))],
    "1": [("line", [(50, 10), (50, 90)])],
    "7": [("line", [(22, 12), (78, 12), (40, 90)])],
    "4": [("line", [(60, 10), (20, 62), (80, 62)]), ("line", [(62, 35), (62, 90)])],  # two strokes
}


def draw_digit(
    digit: str,
    size: tuple[int, int] = (280, 280),
    box: tuple[int, int, int, int] | None = None,
    stroke: float = 0.1,
    ink: int = 0,
    paper: int = 255,
    mode: str = "L",
) -> Image.Image:
    """A digit drawn with round strokes into ``box`` (default: the middle of the image).

    Args:
        stroke: stroke width as a share of the box height.
        ink, paper: grey levels of the strokes and the background (dark on light by default).
    """
    image = Image.new(mode, size, paper)
    draw_into(image, digit, box or _middle_box(size), stroke, ink)
    return image


def draw_into(image: Image.Image, digit: str, box: tuple[int, int, int, int], stroke: float, ink) -> None:
    """Draw ``digit``'s strokes into ``box`` of an existing image."""
    left, top, right, bottom = box
    scale_x, scale_y = (right - left) / 100, (bottom - top) / 100
    width = max(1, round(stroke * (bottom - top)))
    draw = ImageDraw.Draw(image)

    def at(x: float, y: float) -> tuple[float, float]:
        return left + x * scale_x, top + y * scale_y

    for kind, shape in STROKES[digit]:
        if kind == "line":
            points = [at(x, y) for x, y in shape]
            draw.line(points, fill=ink, width=width, joint="curve")
            for x, y in (points[0], points[-1]):  # round caps
                draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=ink)
        else:
            x0, y0, x1, y1 = shape
            draw.ellipse((*at(x0, y0), *at(x1, y1)), outline=ink, width=width)


def _middle_box(size: tuple[int, int]) -> tuple[int, int, int, int]:
    width, height = size
    side = 0.7 * min(width, height)
    return (
        round((width - side) / 2),
        round((height - side) / 2),
        round((width + side) / 2),
        round((height + side) / 2),
    )


def encode(image: Image.Image, format: str = "PNG", **options) -> bytes:
    """The image saved in ``format`` (PNG, JPEG, GIF, ...) as bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def as_scan(mnist_image: np.ndarray, scale: int = 5, seed: int = 0) -> Image.Image:
    """An MNIST digit as it would look scanned: dark ink on off-white paper, enlarged, with noise."""
    rng = np.random.default_rng(seed)
    enlarged = np.asarray(
        Image.fromarray(mnist_image).resize((28 * scale, 28 * scale), Image.Resampling.BICUBIC)
    )
    paper = 235 - rng.normal(0, 4, enlarged.shape)
    scan = paper - enlarged.astype(np.float64) * (200 / 255)
    return Image.fromarray(np.clip(np.pad(scan, 20, mode="edge"), 0, 255).astype(np.uint8))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG declaring ``width`` x ``height`` pixels but holding almost no data: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def untrained_model_file(folder: Path) -> Path:
    """An untrained CNN saved in ``folder``: enough for tests that check plumbing, not accuracy."""

    from digit_recog.modeling.cnn import build_cnn
    from digit_recog.modeling.presets import PRESETS

    path = Path(folder) / "untrained.keras"
    build_cnn(PRESETS["seed"].model, seed=0).save(path)
    return path


def run_cli(capsys, *arguments) -> tuple[int, list[str], str]:
    """``digit-recog ARGUMENTS`` in-process (arguments may be paths or numbers): exit status, stdout lines,
    stderr."""
    from digit_recog import cli

    status = cli.main([str(argument) for argument in arguments])
    captured = capsys.readouterr()
    return status, captured.out.splitlines(), captured.err
