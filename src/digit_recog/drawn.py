"""Pictures drawn stroke by stroke: digits in other writers' styles, and non-digits, to measure with.

The **styles set** draws each digit the way people outside MNIST's American writers often do (a crossed 7,
a 1 with a long flag or a foot, an open 4, a flat-topped 3, a 9 with a curled tail) and the plain way, with
strong slant, very thin or very thick strokes, each by several "hands" (random jitter, size and proportions),
dark ink on a white 280x280 canvas like the drawing page. The **non-digit set** holds letters rendered in the
fonts that ship with matplotlib, scribbles, shapes and near-blank noise. Both go through
:mod:`digit_recog.reading.image` like any picture a user brings. The styles set and the non-digits'
evaluation part are never used to train or to choose: they only measure (outlier exposure trains on the
non-digits' training part, and :mod:`digit_recog.drawn_styles` draws digits of its own to train on).
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from digit_recog.reading.image import preprocess_batch
from digit_recog.strokes import CANVAS, Stroke, arc, draw


def _strokes(*parts: Stroke) -> list[Stroke]:
    return list(parts)


# Each style: (digit, strokes). Curves run the way a pen would draw them.
STYLES: dict[str, tuple[int, list[Stroke]]] = {
    "0": (0, _strokes(arc(0.5, 0.5, 0.3, 0.45, 270, 630))),
    "1": (1, _strokes([(0.5, 0.05), (0.5, 0.95)])),
    "1 with a flag": (1, _strokes([(0.22, 0.32), (0.5, 0.05), (0.5, 0.95)])),
    "1 with a flag and a foot": (
        1,
        _strokes([(0.25, 0.3), (0.5, 0.05), (0.5, 0.95)], [(0.28, 0.95), (0.72, 0.95)]),
    ),
    "2": (2, _strokes([*arc(0.5, 0.3, 0.28, 0.25, 190, 400), (0.18, 0.95), (0.85, 0.95)])),
    "3": (3, _strokes([*arc(0.5, 0.28, 0.27, 0.23, 200, 450), *arc(0.5, 0.72, 0.3, 0.23, 270, 520)])),
    "3 with a flat top": (
        3,
        _strokes([(0.2, 0.05), (0.8, 0.05), (0.45, 0.42), *arc(0.5, 0.7, 0.3, 0.25, 260, 520)]),
    ),
    "4": (4, _strokes([(0.68, 0.95), (0.68, 0.05), (0.15, 0.66), (0.88, 0.66)])),
    "4, open": (4, _strokes([(0.32, 0.05), (0.2, 0.62), (0.88, 0.62)], [(0.66, 0.22), (0.66, 0.95)])),
    "5": (5, _strokes([(0.8, 0.05), (0.3, 0.05), (0.26, 0.45), *arc(0.5, 0.68, 0.3, 0.27, 225, 510)])),
    "6": (6, _strokes([(0.7, 0.05), (0.32, 0.38), *arc(0.5, 0.7, 0.28, 0.25, 180, 540)])),
    "7": (7, _strokes([(0.15, 0.05), (0.85, 0.05), (0.4, 0.95)])),
    "7, crossed": (7, _strokes([(0.15, 0.05), (0.85, 0.05), (0.4, 0.95)], [(0.38, 0.5), (0.84, 0.5)])),
    "8": (8, _strokes(arc(0.5, 0.27, 0.22, 0.22, 90, 450), arc(0.5, 0.72, 0.28, 0.24, 270, 630))),
    "9": (9, _strokes(arc(0.45, 0.3, 0.25, 0.25, 0, 360), [(0.7, 0.3), (0.68, 0.95)])),
    "9 with a curled tail": (
        9,
        _strokes(
            arc(0.45, 0.3, 0.25, 0.25, 0, 360), [(0.7, 0.3), (0.68, 0.72), *arc(0.5, 0.75, 0.18, 0.2, 0, 160)]
        ),
    ),
}
PLAIN = [str(digit) for digit in range(10)]
# Ways of writing that apply to any digit: (name, slant, stroke width in px on the 280 px canvas)
HANDS = {
    "plain": (0.0, 14),
    "strong slant": (0.45, 14),
    "very thin strokes": (0.0, 4),
    "very thick strokes": (0.0, 34),
}


@dataclass(frozen=True)
class DrawnSet:
    """Pictures (N, 280, 280) uint8, dark on white; their labels (a digit, or -1); their kinds."""

    pictures: np.ndarray
    labels: np.ndarray
    kinds: np.ndarray


@functools.cache
def outlier_exposure_images(count: int, seed: int = 1) -> np.ndarray:
    """``count`` non-digits (about; near-blank ones without ink are left out) in MNIST's layout, from the
    *training* part of the non-digit set, for outlier exposure: (N, 28, 28) uint8, read-only.

    Drawn once per process: the benchmark trains several seeds on the same pictures.
    """
    if count <= 0:
        return np.zeros((0, 28, 28), np.uint8)
    images, found = preprocess_batch(non_digit_set(-(-count // 4), seed=seed, part="training").pictures)
    images = images[found][:count]
    images.setflags(write=False)
    return images


def styles_set(hands_per_style: int = 12, seed: int = 2026) -> DrawnSet:
    """Every style of :data:`STYLES` by ``hands_per_style`` hands, and every plain digit in each way of
    writing of :data:`HANDS` but "plain" by ``hands_per_style // 3`` hands (312 pictures by default)."""
    rng = np.random.default_rng(seed)
    pictures, labels, kinds = [], [], []
    for name, (digit, strokes) in STYLES.items():
        kind = "plain" if name in PLAIN else name
        for _ in range(hands_per_style):
            pictures.append(draw(strokes, rng, *HANDS["plain"]))
            labels.append(digit)
            kinds.append(kind)
    for hand, (slant, width) in HANDS.items():
        if hand == "plain":
            continue
        for name in PLAIN:
            digit, strokes = STYLES[name]
            for _ in range(max(1, hands_per_style // 3)):
                pictures.append(draw(strokes, rng, slant * rng.choice([-1, 1]) if slant else 0.0, width))
                labels.append(digit)
                kinds.append(hand)
    return DrawnSet(np.stack(pictures), np.array(labels), np.array(kinds))


# Letters that do not look like a digit in most hands (no O, I, l, S, Z, B, G, b, g, q, s, z, o, i, j, D, T).
LETTERS = "ACEFHKLMNPRUVWXYacefhkmnprtuvwxy"


# Fonts whose letters are symbols: boxed placeholders, big delimiters, calligraphic maths.
SYMBOL_FONTS = ("LastResort", "cmex", "cmsy")


@functools.cache
def font_files() -> tuple[Path, ...]:
    """The TrueType fonts that ship with matplotlib (DejaVu, STIX, Computer Modern: nothing to download)
    and have glyphs for the letters, not the empty box of a symbol font."""
    import matplotlib

    fonts = sorted((Path(matplotlib.get_data_path()) / "fonts" / "ttf").glob("*.ttf"))
    return tuple(path for path in fonts if not path.name.startswith(SYMBOL_FONTS) and _has_letters(path))


def _has_letters(path: Path) -> bool:
    font = ImageFont.truetype(str(path), size=64)

    def ink(text: str) -> np.ndarray:
        image = Image.new("L", (128, 128), 255)
        ImageDraw.Draw(image).text((64, 64), text, fill=0, font=font, anchor="mm")
        return np.asarray(image)

    missing = ink("\uffff")  # what the font draws for a character it lacks
    return all(ink(letter).min() < 128 and not np.array_equal(ink(letter), missing) for letter in "AkM")


def non_digit_set(per_kind: int = 120, seed: int = 7, part: str = "evaluation") -> DrawnSet:
    """``per_kind`` letters, scribbles, shapes and near-blank noise pictures each, dark on white.

    ``part="training"`` draws the pictures outlier exposure may train on, ``"evaluation"`` those that only
    measure: they share no font (alternate fonts go to each) and no shape, so a measured rate says how the
    model treats kinds of non-digits it never saw.
    """
    if part not in NON_DIGIT_PARTS:
        raise ValueError(f"part must be one of {sorted(NON_DIGIT_PARTS)}, not {part!r}")
    fonts = font_files()[NON_DIGIT_PARTS[part] :: 2]
    shapes = [name for index, name in enumerate(SHAPES) if index % 2 == NON_DIGIT_PARTS[part]]
    rng = np.random.default_rng(seed)
    makers: dict[str, Callable[[], np.ndarray]] = {
        "letter": lambda: _letter(rng, fonts),
        "scribble": lambda: draw(_scribble_strokes(rng), rng, width=int(rng.uniform(8, 20))),
        "shape": lambda: draw(SHAPES[rng.choice(shapes)], rng, width=int(rng.uniform(8, 20))),
        "near-blank noise": lambda: _noise(rng),
    }
    pictures = [make() for make in makers.values() for _ in range(per_kind)]
    kinds = np.repeat(list(makers), per_kind)
    return DrawnSet(np.stack(pictures), np.full(len(pictures), -1), kinds)


NON_DIGIT_PARTS = {"training": 0, "evaluation": 1}


def _letter(rng: np.random.Generator, fonts: tuple[Path, ...]) -> np.ndarray:
    font = ImageFont.truetype(str(rng.choice(fonts)), size=int(rng.uniform(120, 220)))
    image = Image.new("L", (CANVAS, CANVAS), 255)
    ImageDraw.Draw(image).text(
        (CANVAS / 2, CANVAS / 2), str(rng.choice(list(LETTERS))), fill=0, font=font, anchor="mm"
    )
    return np.asarray(image.rotate(rng.uniform(-15, 15), fillcolor=255))


def _scribble_strokes(rng: np.random.Generator) -> list[Stroke]:
    return [
        [tuple(point) for point in rng.uniform(0, 1, size=(rng.integers(4, 9), 2))]
        for _ in range(rng.integers(2, 4))
    ]


SHAPES: dict[str, list[Stroke]] = {
    "triangle": [[(0.5, 0.05), (0.95, 0.9), (0.05, 0.9), (0.5, 0.05)]],
    "square": [[(0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.1, 0.9), (0.1, 0.1)]],
    "star": [
        [
            (0.5, 0.0),
            (0.62, 0.38),
            (1.0, 0.38),
            (0.69, 0.6),
            (0.81, 1.0),
            (0.5, 0.75),
            (0.19, 1.0),
            (0.31, 0.6),
            (0.0, 0.38),
            (0.38, 0.38),
            (0.5, 0.0),
        ]
    ],  # fmt: skip
    "cross": [[(0.1, 0.1), (0.9, 0.9)], [(0.9, 0.1), (0.1, 0.9)]],
    "plus": [[(0.5, 0.05), (0.5, 0.95)], [(0.05, 0.5), (0.95, 0.5)]],
    "arrow": [[(0.05, 0.5), (0.95, 0.5)], [(0.65, 0.2), (0.95, 0.5), (0.65, 0.8)]],
    "hash": [
        [(0.35, 0.05), (0.3, 0.95)],
        [(0.7, 0.05), (0.65, 0.95)],
        [(0.05, 0.35), (0.95, 0.35)],
        [(0.05, 0.65), (0.95, 0.65)],
    ],  # fmt: skip
}


def _noise(rng: np.random.Generator) -> np.ndarray:
    picture = 255 - np.abs(rng.normal(0, rng.uniform(5, 25), size=(CANVAS, CANVAS)))
    for _ in range(rng.integers(0, 6)):  # a few specks of dust
        y, x = rng.integers(0, CANVAS, size=2)
        picture[y : y + 3, x : x + 3] = rng.uniform(0, 120)
    return np.clip(picture, 0, 255).astype(np.uint8)
