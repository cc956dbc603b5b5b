"""Files that notebooks hand to each other: atomic writes and clear errors when one is missing."""

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from digit_recog import config


class MissingArtifactError(FileNotFoundError):
    """An input produced by an earlier notebook does not exist yet."""


def require(path: Path, produced_by: str) -> Path:
    """Return ``path`` if it exists, else raise naming the notebook that writes it.

    Args:
        path: the artefact an analysis needs.
        produced_by: notebook file name (e.g. ``"03_train.ipynb"``) that creates it.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingArtifactError(
            f"{shown_path(path)} does not exist yet: run notebooks/{produced_by} first "
            f"(or `make run` to run every notebook in order)."
        )
    return path


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    A crash halfway through writing therefore never leaves a truncated artefact behind,
    and the previous version stays intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=path.suffix)
    os.close(fd)
    tmp_path = Path(tmp_name)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_json(data: Any, path: Path) -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp_path:
        tmp_path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return Path(path)


def read_json(path: Path, produced_by: str) -> Any:
    """Read a JSON artefact, raising :class:`MissingArtifactError` if it is absent."""
    return parse_json(require(path, produced_by), f"run notebooks/{produced_by} again to rewrite it")


def parse_json(path: Path, remedy: str) -> Any:
    """The JSON in the file at ``path``; if it is not JSON, a ValueError naming the file and ``remedy``."""
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{shown_path(Path(path))} is not valid JSON ({error}): {remedy}.") from error


def shown_path(path: Path) -> str:
    """``path`` relative to the output root (or project root) when it lies inside: short messages, and
    reports that name no machine-specific folder."""
    for root in (config.OUTPUT_ROOT, config.PROJECT_ROOT):
        try:
            return str(path.resolve().relative_to(root))
        except ValueError:
            continue
    return str(path)


def file_sha256(path: Path) -> str:
    """The SHA-256 of the file at ``path``, as hex, read a megabyte at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
