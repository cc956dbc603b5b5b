"""Generated blocks of README.md: the text between a start and an end marker, read and rewritten."""

from pathlib import Path

from digit_recog.artifacts import atomic_path


def block_span(text: str, path: Path, start_marker: str, end_marker: str) -> tuple[int, int]:
    """Offsets of ``start_marker`` and ``end_marker`` in ``text`` (read from ``path``), checked.

    Raises:
        ValueError: naming ``path`` and both markers when they are not both there, in order.
    """
    start, end = text.find(start_marker), text.find(end_marker)
    if start < 0 or end < start:
        raise ValueError(
            f"{path}: expected the markers {start_marker!r} then {end_marker!r} around a generated "
            f"block; found start at {start}, end at {end} (-1: missing). Add them where the block belongs."
        )
    return start, end


def read_block(path: Path, start_marker: str, end_marker: str) -> str:
    """The text between the markers of the file at ``path``, without the newlines next to them."""
    text = Path(path).read_text()
    start, end = block_span(text, path, start_marker, end_marker)
    return text[start + len(start_marker) : end].strip("\n")


def write_block(path: Path, start_marker: str, end_marker: str, block: str) -> Path:
    """Replace the text between the markers of the file at ``path`` with ``block``, atomically.

    Everything outside the markers is kept byte for byte; a file without both markers is left unchanged.
    """
    path = Path(path)
    text = path.read_text()
    start, end = block_span(text, path, start_marker, end_marker)
    updated = text[: start + len(start_marker)] + "\n" + block.strip("\n") + "\n" + text[end:]
    with atomic_path(path) as tmp_path:
        tmp_path.write_text(updated)
    return path


def markdown_row(cells) -> str:
    """One row of a markdown table; an empty cell is written as a single space."""
    return "|" + "|".join(f" {cell} " if cell != "" else " " for cell in map(str, cells)) + "|"
