"""Drawing a digit stroke by stroke, the way a hand on the drawing page would: the primitives that the
evaluation sets (:mod:`digit_recog.drawn`) and the drawn training styles (:mod:`digit_recog.drawn_styles`)
share."""

import numpy as np
from PIL import Image, ImageDraw

CANVAS = 280
Stroke = list[tuple[float, float]]  # points in a unit box, x to the right, y down


def arc(cx: float, cy: float, rx: float, ry: float, start: float, stop: float, points: int = 24) -> Stroke:
    """Points along an ellipse from angle ``start`` to ``stop`` (degrees; 0 = right, 90 = down)."""
    angles = np.radians(np.linspace(start, stop, points))
    return [(cx + rx * np.cos(a), cy + ry * np.sin(a)) for a in angles]


def draw(
    strokes: list[Stroke],
    rng: np.random.Generator,
    slant: float = 0.0,
    width: int = 14,
    aspect: float | None = None,
) -> np.ndarray:
    """One picture of ``strokes`` by a random hand: jittered, resized, slanted by ``slant``, ``width`` px;
    the unit box ``aspect`` times as wide as it is tall (random when not given)."""
    height = rng.uniform(140, 210)
    aspect = rng.uniform(0.5, 0.85) if aspect is None else aspect
    wobble = rng.normal(0, 0.04, size=(2, 3))  # a smooth per-hand distortion, not noise on every point
    tilt = np.radians(rng.normal(0, 6))
    left, top = rng.uniform(35, 245 - height * aspect), rng.uniform(25, 255 - height)
    image = Image.new("L", (CANVAS, CANVAS), 255)
    pen = ImageDraw.Draw(image)
    for stroke in strokes:
        points = []
        for x, y in stroke:
            x += wobble[0] @ (1, x, y) + rng.normal(0, 0.012)
            y += wobble[1] @ (1, x, y) + rng.normal(0, 0.012)
            x += slant * (0.5 - y)
            x, y = (
                0.5 + (x - 0.5) * np.cos(tilt) - (y - 0.5) * np.sin(tilt),
                0.5 + (x - 0.5) * np.sin(tilt) + (y - 0.5) * np.cos(tilt),
            )
            points.append((left + x * height * aspect, top + y * height))
        pen.line(points, fill=0, width=width, joint="curve")
        for px, py in (points[0], points[-1]):
            pen.ellipse((px - width / 2, py - width / 2, px + width / 2, py + width / 2), fill=0)
    return np.asarray(image)
