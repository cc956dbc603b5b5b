"""Hostile pictures: small files that cost a reader far more CPU time or memory than their size suggests.

Each is built in memory in well under a second, without ever holding the pixels it declares:

- ``progressive_jpeg_bomb``: a normal progressive JPEG of a drawn 7 with thousands of extra AC scans,
  each coding "end of band" for every block in a few dozen bytes; each scan still costs the decoder a
  pass over every block.
- ``tiff_tile_bomb``: a TIFF declaring 16x16 pixels stored in one deflated 16384x32752 RGBA tile (2.1 GB).
- ``ico_png_bomb``: an ICO whose embedded PNG is 13000x13000 RGBA (676 MB); Pillow decodes it on opening.
- one small file per format Pillow reads but the decoding gate does not accept (PSD, QOI, ICNS, JPEG 2000,
  EPS, TGA, ...).

``hostile_pictures()`` returns them all by name, for tests and the load test:

    python -m lab.hostile_pictures            # lists each picture and its size
"""

import io
import struct
import zlib

from PIL import Image, ImageDraw, features

# The gate's formats; every other one Pillow writes gets a sample file here.
ACCEPTED_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF")
# Extensions for the formats Pillow writes whose names are no extension.
EXTENSIONS = {"JPEG2000": "jp2", "SPIDER": "spi", "DIB": "dib", "IM": "im"}
ZERO_CHUNK = 1 << 24  # bytes of zeros deflated at once; the stream repeats that block


def drawn_seven(size: int, mode: str = "L") -> Image.Image:
    """A 7 drawn in dark strokes on a light ``size`` x ``size`` square."""
    image = Image.new(mode, (size, size), "white")
    width = max(1, size // 12)
    points = [(0.22, 0.12), (0.78, 0.12), (0.40, 0.90)]
    ImageDraw.Draw(image).line([(x * size, y * size) for x, y in points], fill="black", width=width)
    return image


# Progressive JPEG with extra scans


def progressive_jpeg_bomb(size: int = 7000, extra_scans: int = 15_000) -> bytes:
    """A grey ``size`` x ``size`` progressive JPEG of a 7 followed by ``extra_scans`` empty AC scans.

    Each extra scan is a valid first AC scan (coefficients 1-63, no successive approximation) of the one
    component whose data is a handful of EOB runs of 32,767 blocks: no coefficient changes, the picture
    still shows the 7, but the decoder walks every block once per scan (about 55 bytes a scan at 7000x7000).
    """
    base = _encode(drawn_seven(size), "JPEG", progressive=True, quality=75)
    blocks = (-(-size // 8)) ** 2
    scan = _empty_ac_scan(blocks)
    return base[:-2] + _eob_only_huffman_table() + scan * extra_scans + b"\xff\xd9"


def _eob_only_huffman_table() -> bytes:
    """A DHT segment defining AC table 3 with one symbol, 0xE0 (an EOB run of 2^14 plus 14 bits), code "0"."""
    counts = bytes([1] + [0] * 15)
    body = bytes([0x13]) + counts + bytes([0xE0])
    return b"\xff\xc4" + struct.pack(">H", len(body) + 2) + body


def _empty_ac_scan(blocks: int) -> bytes:
    """One SOS segment over component 1 (AC table 3, Ss=1, Se=63, Ah=Al=0) whose data skips ``blocks``."""
    header = bytes([1, 1, 0x03, 1, 63, 0x00])
    segment = b"\xff\xda" + struct.pack(">H", len(header) + 2) + header
    runs = -(-blocks // 32_767)  # each code: "0" then 14 one-bits, a run of 32,767 blocks
    bits = "0" + "1" * 14
    stream = bits * runs
    stream += "1" * (-len(stream) % 8)  # pad the last byte with one-bits, as JPEG requires
    data = int(stream, 2).to_bytes(len(stream) // 8, "big")
    return segment + data.replace(b"\xff", b"\xff\x00")


# Deflated zeros, for the TIFF and PNG bombs


def deflated_zeros(count: int) -> bytes:
    """A zlib stream of ``count`` zero bytes, built from one deflated block repeated (no full buffer)."""
    compressor = zlib.compressobj(9)
    head = compressor.compress(bytes(ZERO_CHUNK)) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(bytes(ZERO_CHUNK)) + compressor.flush(zlib.Z_FULL_FLUSH)
    whole, rest = divmod(count, ZERO_CHUNK)
    tail = b""
    if rest:
        last = zlib.compressobj(9, wbits=-15)
        tail = last.compress(bytes(rest)) + last.flush(zlib.Z_FULL_FLUSH)
    body = (head + block * (whole - 1) + tail) if whole else (head[:2] + tail)
    adler = ((count % 65521) << 16) | 1  # Adler-32 of zeros: a stays 1, b counts them
    return body + b"\x03\x00" + struct.pack(">I", adler)  # an empty final block, then the checksum


def tiff_tile_bomb(tile_width: int = 16384, tile_height: int = 32752) -> bytes:
    """A TIFF declaring 16x16 RGBA pixels stored in one deflated tile of ``tile_width`` x ``tile_height``."""
    tile = deflated_zeros(tile_width * tile_height * 4)
    entries = [  # (tag, type, count, value): types 3 SHORT, 4 LONG
        (256, 3, 1, 16),  # ImageWidth
        (257, 3, 1, 16),  # ImageLength
        (258, 3, 4, None),  # BitsPerSample 8,8,8,8 (written after the IFD)
        (259, 3, 1, 8),  # Compression: deflate
        (262, 3, 1, 2),  # Photometric: RGB
        (277, 3, 1, 4),  # SamplesPerPixel
        (284, 3, 1, 1),  # PlanarConfiguration: contiguous
        (322, 4, 1, tile_width),  # TileWidth
        (323, 4, 1, tile_height),  # TileLength
        (324, 4, 1, None),  # TileOffsets
        (325, 4, 1, len(tile)),  # TileByteCounts
        (338, 3, 1, 2),  # ExtraSamples: unassociated alpha
    ]
    ifd_offset = 8
    ifd_size = 2 + 12 * len(entries) + 4
    bits_offset = ifd_offset + ifd_size
    tile_offset = bits_offset + 8
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        if tag == 258:
            value = bits_offset
        elif tag == 324:
            value = tile_offset
        packed = struct.pack("<HH", value, 0) if kind == 3 and tag != 258 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, count) + packed
    ifd += struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", ifd_offset) + ifd + struct.pack("<4H", 8, 8, 8, 8) + tile


# ICO with a huge PNG inside


def zero_png(width: int, height: int) -> bytes:
    """An RGBA PNG of ``width`` x ``height`` transparent pixels, built without holding them."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    pixels = deflated_zeros(height * (1 + 4 * width))  # each row: filter byte 0, then zeros
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def ico_png_bomb(size: int = 13000) -> bytes:
    """An ICO holding one PNG image of ``size`` x ``size`` RGBA pixels (the directory says 256x256)."""
    png = zero_png(size, size)
    header = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", 0, 0, 0, 0, 1, 32, len(png), 6 + 16)
    return header + entry + png


# Formats the gate does not accept


def minimal_psd(size: int = 16) -> bytes:
    """A raw 8-bit RGB Photoshop file (Pillow reads PSD but cannot write it)."""
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, size, size, 8, 3)
    sections = struct.pack(">III", 0, 0, 0)  # colour mode data, image resources, layers: all empty
    return header + sections + struct.pack(">H", 0) + bytes(3 * size * size)


def other_formats() -> dict[str, bytes]:
    """A small picture of a 7 in each format Pillow both writes and reads but the gate does not accept."""
    Image.init()
    pictures = {"format.psd": minimal_psd()}
    seven = drawn_seven(64, "RGB")
    for format_name in sorted(set(Image.SAVE) & set(Image.OPEN) - set(ACCEPTED_FORMATS)):
        if format_name == "AVIF" and not features.check("avif"):
            continue
        try:
            content = _encode(seven, format_name)
            Image.open(io.BytesIO(content)).close()  # identified is enough: EPS needs Ghostscript to load
        except Exception:  # noqa: BLE001 - Pillow lacks this format's codec or stub here: no sample
            continue
        extension = EXTENSIONS.get(format_name, format_name.lower())
        pictures[f"format.{extension}"] = content
    return pictures


def _encode(image: Image.Image, format_name: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format_name, **options)
    return buffer.getvalue()


def hostile_pictures() -> dict[str, bytes]:
    """Every hostile picture by file name: the three bombs and one file per format the gate refuses."""
    return {
        "progressive_bomb.jpg": progressive_jpeg_bomb(),
        "tile_bomb.tif": tiff_tile_bomb(),
        "png_bomb.ico": ico_png_bomb(),
        **other_formats(),
    }


if __name__ == "__main__":
    for name, content in hostile_pictures().items():
        print(f"{name:24} {len(content):>10,} bytes")
