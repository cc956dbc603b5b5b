"""Digits in styles MNIST's writers rarely used, drawn by the project to train on.

A flagged 1, a crossed 7, an open 4 and a 9 with a curled tail are common outside the United States and rare
in MNIST, and the two other-writer sets hold few of them. This module draws them from parametric families
(a flag's angle and length, where a 7 is crossed, how far a 4 is open, ...), each picture by its own random
hand (:func:`digit_recog.strokes.draw`: jitter, size, proportions, tilt, pen width), beside the shapes that
must stay apart from them: a 7's bar is near level, a 1's flag falls steeply. The families are not the fixed
templates of the evaluation-only styles set (:data:`digit_recog.drawn.STYLES`), but they cover the same
styles, so for a model trained on them that set no longer measures styles it never saw. The shipped model
is not (docs/honest_reading.md).

The training and validation parts are drawn from seeds of their own.
"""

import functools
from collections.abc import Callable

import numpy as np

from digit_recog.strokes import Stroke, arc, draw

PICTURES = {"training": 4600, "validation": 460}
PART_SEEDS = {"training": 31, "validation": 32}
PEN_WIDTHS = (6, 30)  # px on the 280 px canvas, where a digit is 140 to 210 px tall


def _flag_end(top: tuple[float, float], angle: float, length: float, aspect: float) -> tuple[float, float]:
    """Where a flag of ``length`` (a share of the digit's height) falling at ``angle`` degrees below level
    ends, left of ``top``, in the unit box of a digit ``aspect`` times as wide as it is tall."""
    radians = np.radians(angle)
    return top[0] - length * np.cos(radians) / aspect, top[1] + length * np.sin(radians)


def flagged_one(rng: np.random.Generator, aspect: float) -> list[Stroke]:
    """A 1 whose flag falls 30 to 65 degrees from its top, 12% to 45% of its height long; a foot sometimes."""
    stem_top = (0.8, 0.05)
    flag = _flag_end(stem_top, rng.uniform(30, 65), rng.uniform(0.12, 0.45), aspect)
    bottom = (stem_top[0] + rng.uniform(-0.08, 0.04), 0.95)
    strokes = [[flag, stem_top, bottom]]
    if rng.random() < 0.3:
        half = rng.uniform(0.15, 0.3) / aspect
        strokes.append([(bottom[0] - half, 0.95), (bottom[0] + half, 0.95)])
    return strokes


def plain_one(rng: np.random.Generator, aspect: float) -> list[Stroke]:
    """A 1 of one stroke, upright or leaning a little, with no flag or a short one."""
    top, bottom = (0.5, 0.05), (0.5 + rng.uniform(-0.1, 0.1), 0.95)
    if rng.random() < 0.5:
        return [[top, bottom]]
    return [[_flag_end(top, rng.uniform(40, 80), rng.uniform(0.04, 0.1), aspect), top, bottom]]


def seven(rng: np.random.Generator, aspect: float) -> list[Stroke]:
    """A 7: a bar within 8 degrees of level, 35% to 80% of its height long, and a stem to the foot; crossed
    half the time, by a stroke of its own or in one path from the foot (the pen never lifted)."""
    bar = rng.uniform(0.35, 0.8) / aspect
    left = (0.9 - bar, 0.05)
    right = (0.9, 0.05 + np.tan(np.radians(rng.uniform(-8, 8))) * bar * aspect)
    foot = (right[0] - rng.uniform(0.1, 0.45) / aspect, 0.95)
    strokes = [[left, right, foot]]
    crossing = rng.random()
    if crossing < 0.5:
        return strokes
    height = rng.uniform(0.45, 0.6)
    middle = right[0] + (foot[0] - right[0]) * (height - right[1]) / (foot[1] - right[1])
    half = rng.uniform(0.1, 0.2) / aspect
    cross = [(middle - half, height), (middle + half, height)]
    if crossing < 0.8:
        strokes.append(cross)
    else:
        strokes[0] += cross
    return strokes


def open_four(rng: np.random.Generator, aspect: float) -> list[Stroke]:
    """A 4 open at the top: a down stroke and the bar, then a stem that starts well above the bar; in one
    path from the bar's end a third of the time."""
    bar_height = rng.uniform(0.5, 0.7)
    corner = (0.05 + rng.uniform(0, 0.1), bar_height)
    start = (corner[0] + rng.uniform(0, 0.2), 0.05)
    bar_end = (0.95, bar_height + rng.uniform(-0.04, 0.04))
    stem_x = corner[0] + (bar_end[0] - corner[0]) * rng.uniform(0.5, 0.8)
    stem = [(stem_x, rng.uniform(0.05, 0.35)), (stem_x + rng.uniform(-0.05, 0.03), 0.95)]
    if rng.random() < 1 / 3:
        return [[start, corner, bar_end, *stem]]
    return [[start, corner, bar_end], stem]


def curled_nine(rng: np.random.Generator, aspect: float) -> list[Stroke]:
    """A 9: a round head and a tail from its right side, straight, bent or curled back to the left."""
    radius = rng.uniform(0.2, 0.3)
    head = arc(0.5, radius + 0.05, radius / aspect * 0.7, radius, 0, 360)
    right = (0.5 + radius / aspect * 0.7, radius + 0.05)
    foot_x = right[0] - rng.uniform(0, 0.15)
    tail = [right, (foot_x, 0.75)]
    if rng.random() < 0.6:
        tail += arc(foot_x - 0.18, 0.75, 0.18, rng.uniform(0.1, 0.2), 0, rng.uniform(90, 170), 8)
    else:
        tail.append((foot_x - rng.uniform(0, 0.1), 0.95))
    return [head, tail]


# How many of each hundred pictures each family draws.
FAMILIES: dict[str, tuple[int, int, Callable[[np.random.Generator, float], list[Stroke]]]] = {
    "1 with a flag": (1, 24, flagged_one),
    "1, plain": (1, 6, plain_one),
    "7, level bar, crossed or not": (7, 28, seven),
    "4, open": (4, 21, open_four),
    "9, straight or curled tail": (9, 21, curled_nine),
}


@functools.cache
def drawn_styles(part: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(pictures, labels, families)`` of one part, ``"training"`` or ``"validation"``: (N, 280, 280) uint8
    dark on white, the same on every call; read-only."""
    if part not in PICTURES:
        raise ValueError(f"part must be one of {sorted(PICTURES)}, not {part!r}")
    rng = np.random.default_rng(PART_SEEDS[part])
    names = list(FAMILIES)
    shares = np.array([FAMILIES[name][1] for name in names], float)
    chosen = rng.choice(len(names), size=PICTURES[part], p=shares / shares.sum())
    pictures = np.stack([_picture(FAMILIES[names[index]][2], rng) for index in chosen])
    labels = np.array([FAMILIES[names[index]][0] for index in chosen])
    families = np.array(names)[chosen]
    for array in (pictures, labels, families):
        array.setflags(write=False)
    return pictures, labels, families


def _picture(family: Callable[[np.random.Generator, float], list[Stroke]], rng: np.random.Generator):
    aspect = rng.uniform(0.5, 0.85)
    width = int(rng.integers(PEN_WIDTHS[0], PEN_WIDTHS[1] + 1))
    return draw(_fit_unit_box(family(rng, aspect)), rng, width=width, aspect=aspect)


def _fit_unit_box(strokes: list[Stroke]) -> list[Stroke]:
    """``strokes`` centred across the unit box, and shrunk about its middle if wider than it."""
    xs = [x for stroke in strokes for x, _ in stroke]
    middle, scale = (min(xs) + max(xs)) / 2, min(1.0, 1 / (max(xs) - min(xs)))
    return [[(0.5 + (x - middle) * scale, 0.5 + (y - 0.5) * scale) for x, y in stroke] for stroke in strokes]
