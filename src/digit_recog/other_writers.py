"""Digits by writers MNIST never saw: the two UCI sets from Boğaziçi University, shipped and verified.

``pendigits`` holds pen paths (8 points each, written on a tablet), ``optdigits`` 32x32 bitmaps of scanned
forms. Each set has a file of training writers and a file of test writers. Pen paths become pictures the way
the drawing page makes them (black round strokes on a white 280x280 canvas); bitmaps become pictures of ink
on paper; both then go through :mod:`digit_recog.reading.image` like any picture a user brings, so a model
learns from exactly what the reader hands it. The test writers' files only report: nothing is trained or
chosen on them.
"""

import functools
import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from digit_recog import config
from digit_recog.reading.image import preprocess_batch

OTHER_WRITERS_DIR = config.RAW_DATA_DIR / "other_writers"
PEN_POINTS = 8  # (x, y) points a pendigits path holds, evenly spaced along it
PEN_RANGE = 100  # pendigits scaled each path so that its longer side spans 0..100
BITMAP_SIZE = 32
BITMAP_HEADER_LINES = 21
END_MARK = "EOF"  # the writer-independent file ends with this line
CANVAS = 280  # the drawing page's canvas
PEN_BOX = 200  # pixels the 0..100 range spans on the canvas: a digit about 3/4 of its height
PAGE_PEN_WIDTH = 22  # the drawing page's stroke width (web/static/app.js)
TRAINING_PEN_WIDTHS = (8, 36)  # training paths are drawn at a random width in this range (px)
BITMAP_SCALE = 4  # a 32x32 bitmap becomes a 128x128 picture ...
TEST_BITMAP_BLUR = 1.0  # ... softened by a Gaussian of this radius (px), as a scanner would
TRAINING_BITMAP_BLURS = (0.5, 2.5)  # training bitmaps: a random radius in this range


@dataclass(frozen=True)
class WriterFile:
    """One gzipped text file of an other-writer set, as published by UCI."""

    name: str
    kind: str  # "pen" (pen paths) or "bitmap"
    digits: int
    writers: int
    size: int  # bytes of uncompressed text
    sha256: str  # of the uncompressed text


OTHER_WRITER_FILES = {
    ("pendigits", "training"): WriterFile(
        "pendigits.tra.gz",
        "pen",
        7494,
        30,
        367_892,
        "13a29b9cc1b40503c51030840092d32e0e99efcbd5331146f832a2e815bb4c35",
    ),
    ("pendigits", "test"): WriterFile(
        "pendigits.tes.gz",
        "pen",
        3498,
        14,
        171_731,
        "70124fa8a06bc820d38591f297271c364b215174410d9711ffafcfc857ff945f",
    ),
    ("optdigits", "training"): WriterFile(
        "optdigits-orig.tra.gz",
        "bitmap",
        1934,
        30,
        2_048_417,
        "a4eff709680076cae40420343de292b5960fc2b0da439b8a57c3d14124113bda",
    ),
    ("optdigits", "test"): WriterFile(
        "optdigits-orig.windep.gz",
        "bitmap",
        1797,
        13,
        1_903_353,
        "c09ab8735d588fdf980724f10a5072c0b757037dc80b448b2f6a10392751c9d6",
    ),
}
SETS = ("pendigits", "optdigits")
PARTS = ("training", "test")
RESTORE_HINT = (
    "Restore it with `git checkout -- data/raw/other_writers/{name}` (provenance and license: docs/data.md)."
)


class OtherWritersFileError(ValueError):
    """An other-writer data file cannot be used."""


class OtherWritersFileMissingError(OtherWritersFileError, FileNotFoundError):
    """The file does not exist."""


def read_text(set_name: str, part: str, data_dir: Path | None = None) -> str:
    """The verified text of one file: ``set_name`` in :data:`SETS`, ``part`` "training" or "test", from
    ``data_dir`` (default :data:`OTHER_WRITERS_DIR`).

    Raises:
        OtherWritersFileError: naming the file and how to restore it when it is missing, not a complete gzip
            file, too long, or its SHA-256 differs from the published file's.
    """
    spec = _spec(set_name, part)
    path = Path(data_dir or OTHER_WRITERS_DIR) / spec.name
    if not path.is_file():
        raise OtherWritersFileMissingError(f"{path} is missing. " + RESTORE_HINT.format(name=spec.name))
    try:
        with gzip.open(path, "rb") as stream:
            content = stream.read(spec.size + 1)  # one byte more tells a padded file; a gzip bomb stops here
    except (OSError, EOFError) as error:
        raise _file_error(
            path, spec, f"not a complete gzip file ({type(error).__name__}: {error})"
        ) from error
    if len(content) != spec.size:
        found = f"{len(content):,}" if len(content) < spec.size else f"more than {spec.size:,}"
        raise _file_error(path, spec, f"{found} bytes of text, expected {spec.size:,} (truncated or padded)")
    digest = hashlib.sha256(content).hexdigest()
    if digest != spec.sha256:
        raise _file_error(path, spec, f"SHA-256 {digest}, expected {spec.sha256} (the file was altered)")
    return content.decode("ascii")


def _spec(set_name: str, part: str) -> WriterFile:
    if (set_name, part) not in OTHER_WRITER_FILES:
        raise KeyError(f"no other-writer file {set_name!r} {part!r}; sets are {SETS}, parts {PARTS}.")
    return OTHER_WRITER_FILES[set_name, part]


def _file_error(path: Path, spec: WriterFile, problem: str) -> OtherWritersFileError:
    return OtherWritersFileError(
        f"{path} is not the original {spec.name}: {problem}. " + RESTORE_HINT.format(name=spec.name)
    )


def parse_pen_paths(text: str, source: str = "pendigits") -> tuple[np.ndarray, np.ndarray]:
    """Pen paths and labels from pendigits text: one digit a line, ``x1,y1,…,x8,y8,label``.

    Returns:
        ``(paths, labels)``: float32 (N, 8, 2) points in 0..100 with y growing upwards, and uint8 digits.

    Raises:
        ValueError: naming ``source`` and the line of a path with a wrong number of values, a coordinate
            outside 0..100, all its points equal, or a label that is not a digit.
    """
    paths, labels = [], []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            values = [int(value) for value in line.split(",")]
        except ValueError as error:
            raise ValueError(
                f"{source}, line {number}: not comma-separated integers ({line[:60]!r})"
            ) from error
        path, label = _checked_pen_path(values, f"{source}, line {number}")
        paths.append(path)
        labels.append(label)
    return np.asarray(paths, np.float32).reshape(-1, PEN_POINTS, 2), np.asarray(labels, np.uint8)


def _checked_pen_path(values: list[int], where: str) -> tuple[np.ndarray, int]:
    if len(values) != 2 * PEN_POINTS + 1:
        raise ValueError(f"{where}: {len(values)} values, expected {2 * PEN_POINTS} coordinates and a label")
    points, label = np.asarray(values[:-1]).reshape(PEN_POINTS, 2), values[-1]
    if points.min() < 0 or points.max() > PEN_RANGE:
        raise ValueError(f"{where}: coordinates outside 0..{PEN_RANGE} ({points.min()}..{points.max()})")
    if (points == points[0]).all():
        raise ValueError(f"{where}: all {PEN_POINTS} points are the same, no path to draw")
    if not 0 <= label <= 9:
        raise ValueError(f"{where}: label {label} is not a digit 0-9")
    return points, label


def parse_bitmaps(text: str, source: str = "optdigits") -> tuple[np.ndarray, np.ndarray]:
    """Bitmaps and labels from optdigits-orig text: a header, then per digit 32 lines of 32 ``0``/``1``
    (1 = ink) and one line holding the label.

    Returns:
        ``(bitmaps, labels)``: uint8 (N, 32, 32) of 0 and 1, and uint8 digits.

    Raises:
        ValueError: naming ``source``, the digit's number and its line when a block has the wrong size or
            characters, a label is not a digit, or the count differs from the header's ``ntot``.
    """
    lines = text.split("\n")
    header, body = lines[:BITMAP_HEADER_LINES], lines[BITMAP_HEADER_LINES:]
    declared = _header_value(header, "ntot", source)
    while body and body[-1].strip() in ("", END_MARK):
        body.pop()
    block = BITMAP_SIZE + 1
    bitmaps, labels = [], []
    for index in range(0, len(body), block):
        where = f"{source}, digit {index // block + 1} (line {BITMAP_HEADER_LINES + index + 1})"
        bitmap, label = _checked_bitmap(body[index : index + block], where)
        bitmaps.append(bitmap)
        labels.append(label)
    if len(bitmaps) != declared:
        raise ValueError(f"{source}: {len(bitmaps)} digits, the header declares ntot = {declared}")
    return np.asarray(bitmaps, np.uint8).reshape(-1, BITMAP_SIZE, BITMAP_SIZE), np.asarray(labels, np.uint8)


def _header_value(header: list[str], key: str, source: str) -> int:
    for line in header:
        name, _, value = line.partition("=")
        if name.strip() == key and value.strip().isdigit():
            return int(value)
    raise ValueError(f"{source}: the {BITMAP_HEADER_LINES}-line header has no '{key} = <count>' line")


def _checked_bitmap(lines: list[str], where: str) -> tuple[np.ndarray, int]:
    rows, label_line = lines[:BITMAP_SIZE], lines[BITMAP_SIZE:]
    if len(rows) != BITMAP_SIZE or not label_line:
        raise ValueError(f"{where}: the file ends inside a {BITMAP_SIZE}x{BITMAP_SIZE} block and its label")
    for offset, row in enumerate(rows):
        if len(row.rstrip()) != BITMAP_SIZE or set(row.rstrip()) - {"0", "1"}:
            raise ValueError(
                f"{where}: row {offset + 1} is {row[:40]!r}, expected {BITMAP_SIZE} characters 0 or 1"
            )
    label = label_line[0].strip()
    if label not in {str(digit) for digit in range(10)}:
        raise ValueError(f"{where}: label line {label_line[0]!r} is not a digit 0-9")
    return np.array([[int(char) for char in row.rstrip()] for row in rows], np.uint8), int(label)


def draw_pen_path(points: np.ndarray, width: float = PAGE_PEN_WIDTH) -> np.ndarray:
    """One pen path as the drawing page would show it: black round strokes ``width`` px wide on a white
    280x280 canvas, the 0..100 range spanning :data:`PEN_BOX` px, y pointing up as on the tablet."""
    margin = (CANVAS - PEN_BOX) / 2
    scale = PEN_BOX / PEN_RANGE
    canvas_points = [(margin + x * scale, CANVAS - margin - y * scale) for x, y in np.asarray(points, float)]
    picture = Image.new("L", (CANVAS, CANVAS), 255)
    pen = ImageDraw.Draw(picture)
    pen.line(canvas_points, fill=0, width=round(width), joint="curve")
    radius = width / 2
    for x, y in canvas_points:  # round caps and joints, as the page's lineCap = "round"
        pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=0)
    return np.asarray(picture)


def bitmap_picture(bitmap: np.ndarray, blur: float = TEST_BITMAP_BLUR) -> np.ndarray:
    """A 0/1 bitmap as a picture of ink on paper: dark on white, scaled up :data:`BITMAP_SCALE` times and
    softened by a Gaussian of radius ``blur`` px."""
    paper = Image.fromarray(np.where(np.asarray(bitmap) > 0, 0, 255).astype(np.uint8))
    size = BITMAP_SIZE * BITMAP_SCALE
    picture = paper.resize((size, size), Image.Resampling.NEAREST).filter(ImageFilter.GaussianBlur(blur))
    return np.asarray(picture)


@functools.cache
def digit_shapes(set_name: str, part: str) -> tuple[np.ndarray, np.ndarray]:
    """One file's digits as published: pen paths (N, 8, 2) or bitmaps (N, 32, 32), and their labels;
    read-only, parsed once per process.

    Raises:
        OtherWritersFileError: naming the file when it is missing or damaged.
        ValueError: naming the line or digit of a malformed entry.
    """
    spec = _spec(set_name, part)
    text = read_text(set_name, part)
    shapes, labels = (
        parse_pen_paths(text, spec.name) if spec.kind == "pen" else parse_bitmaps(text, spec.name)
    )
    shapes.setflags(write=False)
    labels.setflags(write=False)
    return shapes, labels


def draw(set_name: str, shapes: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """Pictures (dark on white) of ``shapes`` of ``set_name``: with no ``rng`` the one way a user's picture
    looks (the page's pen width, a light blur), else each at a random pen width or blur drawn from ``rng``."""
    kind = OTHER_WRITER_FILES[set_name, "training"].kind
    painter = draw_pen_path if kind == "pen" else bitmap_picture
    if rng is None:
        return np.stack([painter(shape) for shape in shapes])
    low, high = TRAINING_PEN_WIDTHS if kind == "pen" else TRAINING_BITMAP_BLURS
    return np.stack([painter(shape, rng.uniform(low, high)) for shape in shapes])


def in_mnist_layout(pictures: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pictures through the reader's preprocessing, (N, 28, 28) light ink on black, and their labels; a
    picture where the reader finds no digit is left out."""
    images, found = preprocess_batch(pictures)
    return images[found], np.asarray(labels)[found]


@functools.cache
def test_digits(set_name: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The test writers' digits of ``set_name`` (the first ``limit`` of them, when given) as the reader sees
    them: (N, 28, 28) uint8 and labels, read-only, made once per process. For reporting only."""
    shapes, labels = digit_shapes(set_name, "test")
    images, kept = in_mnist_layout(draw(set_name, shapes[:limit]), labels[:limit])
    images.setflags(write=False)
    kept.setflags(write=False)
    return images, kept


def writers(set_name: str, part: str) -> int:
    """How many people wrote one file's digits."""
    return _spec(set_name, part).writers
