"""The one gate every picture passes before it is read: decoded safely, checked, and made grey.

A picture from a user is untrusted: it may be truncated, lie about its size, or need far more memory
than its file suggests. ``load_image`` decodes it within fixed limits, and ``to_grayscale`` turns the
result into the 0-255 grey levels :mod:`digit_recog.reading.image` cleans into MNIST's layout.
"""

import io
import os
import stat
import struct
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Larger images are refused before their pixels are decoded: a small compressed file can declare
# enormous dimensions (a "decompression bomb") and exhaust memory. 50 megapixels covers phone photos.
MAX_IMAGE_PIXELS = 50_000_000
# Under that cap a PNG can still need far more memory than its pixel count suggests: Pillow keeps colour,
# alpha and 16/32-bit pixels in 4 bytes each, so a 7000x7000 RGBA PNG takes 196 MB once decoded, and
# every copy made while converting it costs as much again. Pictures needing more are refused before
# decoding; JPEGs are measured at the reduced size they are decoded at, so phone photos pass.
MAX_DECODED_BYTES = 100_000_000
# The modes Pillow stores images in whose pixels carry grey levels (or convert to them).
PIXEL_MODES = (
    "1", "L", "P", "LA", "PA", "RGB", "RGBA", "RGBX", "RGBa", "CMYK", "YCbCr", "LAB", "HSV",
    "I", "F", "I;16", "I;16L", "I;16B", "I;16N",
)  # fmt: skip
# Pillow's decoders report truncated, corrupt or self-contradictory data with any of these.
DECODER_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError, TypeError)
MAX_MESSAGE_LENGTH = 200  # a decoder's own message is cut here, so an error stays one readable line
# Bigger pictures are reduced to this longer side first; a digit needs far fewer pixels than that.
WORKING_SIZE = 1024
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
# The formats read; Pillow knows dozens more (EPS goes to Ghostscript, ICO decodes its PNG while opening),
# each one more decoder an upload could attack.
ACCEPTED_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF")
ACCEPTED_NAMES = "PNG, JPEG, BMP, GIF, WebP or TIFF"
# A progressive JPEG may hold any number of scans, and each costs a pass over every block however few bytes
# it takes: 15,000 scans of a 7000x7000 picture fit in 1.5 MB and take a minute. Cameras and encoders
# write about ten (libjpeg-turbo's own tools suggest refusing over 500).
MAX_JPEG_SCANS = 100
# A progressive JPEG is decoded whole into 2-byte DCT coefficients before any reduction.
COEFFICIENT_BYTES = 2

ImageSource = str | Path | bytes | BinaryIO | Image.Image


class PreprocessError(ValueError):
    """Base class: an image cannot be turned into model input."""


class ImageReadError(PreprocessError):
    """The file does not exist, or Pillow cannot decode it as an image."""


class ImageTooLargeError(PreprocessError):
    """The image declares more pixels than ``MAX_IMAGE_PIXELS``."""


class NotARegularFileError(ImageReadError):
    """The path names a FIFO, a device or a socket: reading it could block forever or never end."""


class NoDigitFoundError(PreprocessError):
    """The image is blank: no ink stands out from the background."""


def load_image(source: ImageSource, name: str | None = None) -> Image.Image:
    """Open an image from a path, bytes, a binary file object or a Pillow image, decoded and checked.

    This is the one gate every picture passes: the pixel mode must be one Pillow stores images in, the
    declared size and the memory its decoded pixels need must be within ``MAX_IMAGE_PIXELS`` and
    ``MAX_DECODED_BYTES`` (checked before decoding), and only the first frame of an animation or a
    multi-page file is decoded. JPEGs are decoded at reduced size; any picture more than twice
    ``WORKING_SIZE`` on its longer side is reduced by an integer factor straight after decoding. The
    result is upright (EXIF orientation) and in one of the modes :func:`to_grayscale` reads directly.

    Raises:
        ImageReadError: naming the file when it is missing, not an image Pillow can decode, or in a pixel
            mode that holds no grey levels.
        ImageTooLargeError: when it declares more than ``MAX_IMAGE_PIXELS`` pixels, or decoding it would
            take more than ``MAX_DECODED_BYTES``.
    """
    return decode(source, shown_name(source, name))[0]


def shown_name(source: ImageSource | np.ndarray, name: str | None) -> str:
    """How errors name a picture: ``name`` if given, else its path, else "uploaded image" or "image"."""
    if name:
        return name
    if isinstance(source, str | Path):
        return str(source)
    return "uploaded image" if isinstance(source, bytes) else "image"


def decode(source: ImageSource, shown: str) -> tuple[Image.Image, tuple[int, int]]:
    """The checked, decoded, possibly reduced image, and the size the file declared."""
    if isinstance(source, Image.Image):
        _check_declared(source, shown)
        return _convert_decoded(source, shown), source.size
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        if isinstance(stream, str | Path):
            _check_regular_file(stream, shown)
        with warnings.catch_warnings():
            # We enforce our own, lower limits; Pillow's warning would only be noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            # Leaving the block closes a file Pillow opened; the loaded pixels stay usable.
            with Image.open(stream, formats=ACCEPTED_FORMATS) as image:
                declared_size = image.size
                _check_declared(image, shown)
                _check_jpeg_scans(image, shown)
                image.draft("L", (WORKING_SIZE, WORKING_SIZE))  # JPEG only: decode at reduced size
                _check_decoded_bytes(image, shown)
                image.load()  # the current frame only: the first, as Image.open leaves it
                return _convert_decoded(image, shown), declared_size
    except PreprocessError:
        raise
    except Image.DecompressionBombError as error:
        raise ImageTooLargeError(
            f"{shown} is too large to read safely ({error}); at most {MAX_IMAGE_PIXELS:,} pixels are "
            "accepted. Resize it first."
        ) from error
    except FileNotFoundError as error:
        raise ImageReadError(f"{shown} does not exist") from error
    except IsADirectoryError as error:
        raise ImageReadError(f"{shown} is a folder, not an image file") from error
    except PermissionError as error:
        raise ImageReadError(f"{shown} cannot be read: permission denied") from error
    except UnidentifiedImageError as error:
        raise ImageReadError(f"{shown} is not an image in a format read here ({ACCEPTED_NAMES})") from error
    except DECODER_ERRORS as error:
        raise ImageReadError(f"{shown} could not be decoded as an image ({_short(error)})") from error


def _check_regular_file(path: str | Path, shown: str) -> None:
    """Refuse a path that is no regular file (a FIFO would block, a device never end) before opening it."""
    mode = os.stat(path).st_mode
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(path)
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
        raise NotARegularFileError(f"{shown} is not a regular file ({kind}); expected an image file")


def _check_jpeg_scans(image: Image.Image, shown: str) -> None:
    """Refuse a JPEG with more than ``MAX_JPEG_SCANS`` scans, counted in its bytes before decoding."""
    if image.format not in ("JPEG", "MPO") or image.fp is None:
        return
    scans = count_jpeg_scans(image.fp)
    if scans > MAX_JPEG_SCANS:
        raise ImageTooLargeError(
            f"{shown} is too costly to decode: a JPEG with more than {MAX_JPEG_SCANS} scans, the most "
            "accepted (a camera writes about ten). Save it again first."
        )


def count_jpeg_scans(stream: BinaryIO, stop_after: int = MAX_JPEG_SCANS) -> int:
    """Start-of-scan markers in a JPEG file, counted up to one past ``stop_after``; the position is kept.

    Entropy-coded data escapes every 0xFF byte, so the two bytes FF DA occur only as a marker (or in an
    embedded thumbnail, which only counts a few more).
    """
    position = stream.tell()
    stream.seek(0)
    scans, previous = 0, b""
    try:
        while scans <= stop_after and (chunk := stream.read(1 << 20)):
            scans += (previous[-1:] + chunk).count(b"\xff\xda")
            previous = chunk
    finally:
        stream.seek(position)
    return scans


def _check_declared(image: Image.Image, shown: str) -> None:
    """Refuse, before any pixel is decoded, a mode without grey levels or a size over the cap."""
    if image.mode not in PIXEL_MODES:
        raise ImageReadError(
            f"{shown} has pixel mode {image.mode!r}, which holds no grey levels this reader knows; "
            f"expected one of {', '.join(PIXEL_MODES)}"
        )
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageTooLargeError(
            f"{shown} is too large: {width}x{height} pixels ({width * height:,}); at most "
            f"{MAX_IMAGE_PIXELS:,} pixels are accepted. Resize it first."
        )
    if width == 0 or height == 0:
        raise ImageReadError(f"{shown} has no pixels ({width}x{height})")


def _check_decoded_bytes(image: Image.Image, shown: str) -> None:
    """Refuse a picture whose decoded pixels (at the size it will be decoded) need too much memory."""
    _check_tiles(image, shown)
    width, height = image.size
    needed = width * height * decoded_bytes_per_pixel(image.mode)
    if needed > MAX_DECODED_BYTES:
        raise ImageTooLargeError(
            f"{shown} is too large to decode: {width}x{height} pixels in mode {image.mode} need "
            f"{needed / 1e6:,.0f} MB; at most {MAX_DECODED_BYTES / 1e6:,.0f} MB are accepted "
            f"(about {MAX_DECODED_BYTES / 4e6:.0f} megapixels in colour). Resize it, or save it as JPEG "
            "or in 8-bit grey, first."
        )


def _check_tiles(image: Image.Image, shown: str) -> None:
    """Refuse a TIFF whose tiles are larger than the decoding budget, whatever size it declares."""
    tags = getattr(image, "tag_v2", None)
    if tags is None or 322 not in tags or 323 not in tags:  # TileWidth, TileLength
        return
    tile_width, tile_height = int(tags[322]), int(tags[323])
    needed = tile_width * tile_height * len(image.getbands()) * max(1, int(tags.get(258, (8,))[0]) // 8)
    if needed > MAX_DECODED_BYTES:
        raise ImageTooLargeError(
            f"{shown} is too large to decode: it stores its {image.size[0]}x{image.size[1]} pixels in tiles "
            f"of {tile_width}x{tile_height} that need {needed / 1e6:,.0f} MB each; at most "
            f"{MAX_DECODED_BYTES / 1e6:,.0f} MB are accepted. Save it without tiles first."
        )


def decoded_bytes_per_pixel(mode: str) -> int:
    """Memory one pixel of ``mode`` takes once decoded and brought to a mode :func:`to_grayscale` reads.

    Pillow keeps 8-bit grey and palette pixels in one byte and every other mode (colour, alpha, 16- and
    32-bit) in four; 16-bit images are widened to 32 bits on the way.
    """
    return 1 if mode in ("1", "L", "P") else 4


def decoding_bytes(content: bytes) -> int:
    """Memory the picture in ``content`` will take while it is decoded, from its header alone.

    Lets a server send big pictures to a lane of their own before decoding them: a baseline JPEG counts at
    the reduced size it is decoded at, a progressive one at its full size (its coefficients are all held
    before any reduction). Opens no format but the accepted ones and decodes no pixel, but parses the
    header: call it off the event loop. Returns 0 when the header cannot be read or the gate refuses the
    picture from its header alone: :func:`load_image` does so at once, and says why.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content), formats=ACCEPTED_FORMATS) as image:
                _check_declared(image, "")
                full_size = image.size
                image.draft("L", (WORKING_SIZE, WORKING_SIZE))  # JPEG: the size it will be decoded at
                _check_decoded_bytes(image, "")
                if image.format in ("JPEG", "MPO") and image.info.get("progressive"):
                    return full_size[0] * full_size[1] * len(image.getbands()) * COEFFICIENT_BYTES
                return image.size[0] * image.size[1] * decoded_bytes_per_pixel(image.mode)
    except (PreprocessError, Image.DecompressionBombError, *DECODER_ERRORS):
        return 0


def _convert_decoded(image: Image.Image, shown: str) -> Image.Image:
    """Bring a decoded image to a mode ``to_grayscale`` reads, reduce a big one, and turn it upright."""
    try:
        image = _reduce(_readable_mode(image))
        return ImageOps.exif_transpose(image)
    except DECODER_ERRORS as error:
        raise ImageReadError(
            f"{shown} could not be converted to grey levels (mode {image.mode}: {_short(error)})"
        ) from error


def _readable_mode(image: Image.Image) -> Image.Image:
    """Modes Pillow cannot convert to grey (LAB, 16-bit) or reduce (1, P) become ones it can."""
    if image.mode == "LAB":
        return image.getchannel("L")  # the lightness channel is the grey level
    if image.mode.startswith("I;16"):
        return image.convert("I")
    if "transparency" in image.info and image.mode in ("1", "L", "P", "RGB"):
        return image.convert("RGBA")  # a transparent colour key becomes an alpha channel
    if image.mode in ("1", "P"):
        return image.convert("L")
    return image


def _reduce(image: Image.Image) -> Image.Image:
    """Shrink by an integer factor (cheap block averaging) while the longer side stays over WORKING_SIZE."""
    factor = max(image.size) // WORKING_SIZE
    return image.reduce(factor) if factor >= 2 else image


def _short(error: Exception) -> str:
    """An exception as one short line: its type and the start of its message."""
    message = str(error).splitlines()[0] if str(error) else ""
    if len(message) > MAX_MESSAGE_LENGTH:
        message = message[:MAX_MESSAGE_LENGTH] + "..."
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def to_grayscale(image: Image.Image, name: str | None = None, levels: bool = False) -> np.ndarray:
    """Grayscale pixels of any Pillow image as a float32 array on a 0-255 scale.

    Transparent areas are composited onto white (or onto black when the opaque pixels are light, so a
    white digit on a transparent background stays visible); 16- and 32-bit images are rescaled.
    Images larger than ``WORKING_SIZE`` on their longer side are reduced (antialiased). With ``levels``,
    an 8-bit picture that needs neither comes back as its uint8 grey levels instead, the same values
    without the conversion (the preprocessing reads those from their histogram).

    Raises:
        ImageReadError: for a pixel mode without grey levels, or pixels that are NaN or infinite.
        ImageTooLargeError: as :func:`load_image` does.
    """
    shown = name or "image"
    _check_declared(image, shown)
    image = _convert_decoded(image, shown)
    if image.mode in ("I", "F"):
        values = np.asarray(image, dtype=np.float64)
        if not np.isfinite(values).all():
            raise ImageReadError(
                f"{shown} has pixels that are not finite numbers (NaN or infinity); "
                "expected finite grey levels"
            )
        gray = _high_depth_to_grayscale(values)
    else:
        gray = _eight_bit_grayscale(image, levels and max(image.size) <= WORKING_SIZE)
    height, width = gray.shape
    if max(height, width) > WORKING_SIZE:
        scale = WORKING_SIZE / max(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        gray = np.asarray(Image.fromarray(gray, mode="F").resize(size, Image.Resampling.BOX))
    return gray


def _eight_bit_grayscale(image: Image.Image, levels: bool) -> np.ndarray:
    """The grey levels of an 8-bit image, transparency composited: float32, or uint8 with ``levels`` when
    nothing is transparent (a canvas's drawing: every pixel opaque, so the grey levels are the picture's)."""
    if image.mode in ("RGBA", "LA", "PA", "RGBa"):
        image = image.convert("RGBA")
        if image.getchannel("A").getextrema() != (255, 255):
            return _composite_transparency(image)
    gray = np.asarray(image.convert("L"))
    return gray if levels else gray.astype(np.float32)


def _composite_transparency(rgba: Image.Image) -> np.ndarray:
    alpha = np.asarray(rgba.getchannel("A"), dtype=np.float32) / 255
    gray = np.asarray(rgba.convert("L"), dtype=np.float32)
    opaque = alpha > 0.5
    ink_is_light = opaque.any() and not opaque.all() and np.median(gray[opaque]) > 127
    background = 0.0 if ink_is_light else 255.0
    return gray * alpha + background * (1 - alpha)


def _high_depth_to_grayscale(values: np.ndarray) -> np.ndarray:
    if values.max(initial=0) <= 255 and values.min(initial=0) >= 0:
        return values.astype(np.float32)
    if values.min() >= 0 and values.max() <= 65535:
        return (values / 257).astype(np.float32)  # 16-bit to 8-bit scale
    low, high = values.min(), values.max()
    return ((values - low) / max(high - low, 1e-12) * 255).astype(np.float32)
