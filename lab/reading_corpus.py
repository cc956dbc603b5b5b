"""Real inputs of the reader's preprocessing, as grey-level arrays: what the reading benchmark times and what
``tests/test_preprocess_equivalence.py`` runs through the frozen and the current preprocessing.

Every kind of picture the reader meets: the drawing page's 7, drawn digits in every style and hand, the
non-digits (scribbles, letters, noise: most are refused), MNIST digits as they are, perturbed, scanned and
photographed at a megapixel, and the other writers' pen paths and bitmaps. Arrays that come through
:func:`digit_recog.reading.decoding.to_grayscale` are as ``preprocess_image`` sees them (uint8 for opaque
8-bit pictures, float32 for those reduced to the working size); the rest uint8, as ``preprocess_batch`` sees
them.
"""

import io

import numpy as np
from PIL import Image, ImageDraw

from digit_recog import data, drawn, other_writers, robustness
from digit_recog.reading.decoding import decode, to_grayscale

PHOTO_SIZE = (1000, 1000)  # a one-megapixel photo (width, height)
# (kind, strength) of robustness.perturb, taking turns over the MNIST digits
PERTURBATIONS = [("noise", 80), ("blur", 2), ("invert", 1), ("thickness", 2), ("rotate", 30), ("scale", 0.5)]


def page_drawing_png() -> bytes:
    """A 7 drawn in black on the page's white 280x280 canvas, saved as PNG (what the browser uploads)."""
    image = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(image).line([(70, 50), (210, 50), (118, 238)], fill=0, width=22, joint="curve")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def page_canvas_png() -> bytes:
    """The same 7 as the browser uploads it: the canvas's PNG is RGBA, every pixel opaque."""
    image = Image.open(io.BytesIO(page_drawing_png())).convert("RGBA")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def decoded(content: bytes | Image.Image) -> np.ndarray:
    """What ``preprocess_image`` hands to the preprocessing for a file or a Pillow image."""
    image, _ = decode(content if isinstance(content, Image.Image) else io.BytesIO(content), "corpus")
    return to_grayscale(image, "corpus", levels=True)


def scan(mnist_image: np.ndarray, scale: int = 5, seed: int = 0) -> np.ndarray:
    """An MNIST digit as a scan: dark ink on off-white paper, enlarged ``scale`` times, with paper noise."""
    rng = np.random.default_rng(seed)
    enlarged = np.asarray(
        Image.fromarray(mnist_image).resize((28 * scale, 28 * scale), Image.Resampling.BICUBIC)
    )
    paper = 235 - rng.normal(0, 4, enlarged.shape)
    pixels = paper - enlarged.astype(np.float64) * (200 / 255)
    return np.clip(np.pad(pixels, 20, mode="edge"), 0, 255).astype(np.uint8)


def photo(mnist_image: np.ndarray, size: tuple[int, int] = PHOTO_SIZE, seed: int = 0) -> Image.Image:
    """An MNIST digit photographed on paper: an RGB picture of ``size``, the digit half its height,
    off-centre, with uneven lighting and sensor noise."""
    rng = np.random.default_rng(seed)
    width, height = size
    side = height // 2
    digit = np.asarray(Image.fromarray(mnist_image).resize((side, side), Image.Resampling.BICUBIC))
    page = np.full((height, width), 225.0)
    top, left = int(rng.integers(0, height - side)), int(rng.integers(0, width - side))
    page[top : top + side, left : left + side] -= digit * (170 / 255)
    page += np.linspace(-15, 10, width)[np.newaxis, :]
    rgb = page[..., np.newaxis] + rng.normal(0, 5, (height, width, 3)) + np.array([4.0, 0.0, -6.0])
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))


def corpus(per_kind: int = 12, seed: int = 0) -> dict[str, list[np.ndarray]]:
    """``{kind: [grey-level arrays]}``, ``per_kind`` pictures of each kind (the page's drawing once)."""
    rng = np.random.default_rng(seed)
    _, (test_images, _) = data.load_mnist()
    mnist = test_images[rng.choice(len(test_images), per_kind, replace=False)]
    styles = drawn.styles_set(hands_per_style=3).pictures
    non_digits = drawn.non_digit_set(per_kind=max(1, per_kind // 4)).pictures
    pen_shapes, _ = other_writers.digit_shapes("pendigits", "test")
    bitmaps, _ = other_writers.digit_shapes("optdigits", "test")
    return {
        "page drawing": [decoded(page_drawing_png())],
        "drawn styles": list(styles[rng.choice(len(styles), per_kind, replace=False)]),
        "non-digits": list(non_digits[:per_kind]),
        "MNIST": list(mnist),
        "MNIST perturbed": [
            robustness.perturb(image[np.newaxis], *PERTURBATIONS[index % len(PERTURBATIONS)], seed=index)[0]
            for index, image in enumerate(mnist)
        ],
        "scans": [scan(image, seed=index) for index, image in enumerate(mnist)],
        "photos 1 MP": [decoded(photo(image, seed=index)) for index, image in enumerate(mnist[:4])],
        # Wider than the working size: reduced while decoding, so the grey levels are no longer whole.
        "photos reduced": [
            decoded(photo(image, size=(1600, 1000), seed=index)) for index, image in enumerate(mnist[:2])
        ],
        "pendigits writers": list(other_writers.draw("pendigits", pen_shapes[:per_kind])),
        "optdigits writers": list(other_writers.draw("optdigits", bitmaps[:per_kind])),
    }
