"""Files that notebooks hand to each other: atomic writes and clear errors when one is missing."""

import glob
import hashlib
import json
import os
import shutil
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


PARTIAL_MARK = ".partial-"  # in the name of every temporary file a save writes beside its target


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    A crash halfway through writing therefore never leaves a truncated artefact behind, and the previous
    version stays intact. The temporary file is named ``.<stem>.partial-<pid>-<random><suffix>``; one left by
    a process that was killed is removed by the next save of ``path``. The file that lands has ordinary
    permissions (0666 less the umask), not the 0600 of a temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=partial_prefix(path), suffix=path.suffix)
    os.close(fd)
    tmp_path = Path(tmp_name)
    try:
        yield tmp_path
        if tmp_path.exists():
            give_ordinary_mode(tmp_path)
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def partial_prefix(path: Path) -> str:
    """How the temporary files of a save of ``path`` by this process begin."""
    return f".{Path(path).stem}{PARTIAL_MARK}{os.getpid()}-"


def remove_stale_partials(path: Path) -> list[Path]:
    """Delete the temporary files (or folders) that saves of ``path`` by processes no longer running left
    beside it; return what was removed. Those of a running process are another save in progress."""
    path = Path(path)
    removed = []
    for partial in path.parent.glob(f".{glob.escape(path.stem)}{PARTIAL_MARK}*"):
        pid = partial.name[len(path.stem) + 1 + len(PARTIAL_MARK) :].split("-", 1)[0]
        if pid.isdigit() and not _process_running(int(pid)):
            if partial.is_dir() and not partial.is_symlink():
                shutil.rmtree(partial, ignore_errors=True)
            else:
                partial.unlink(missing_ok=True)
            removed.append(partial)
    return removed


def _process_running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def ordinary_mode(is_folder: bool = False) -> int:
    """The permissions ``open()`` (or ``mkdir``) would give: 0666 (0777 for a folder) less the umask."""
    return (0o777 if is_folder else 0o666) & ~_umask()


def _umask() -> int:
    try:  # Linux says it without changing it, which os.umask cannot do (another thread may be creating files)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def give_ordinary_mode(path: Path) -> None:
    """Give ``path``, and everything inside when it is a folder, the permissions of :func:`ordinary_mode`."""
    path = Path(path)
    if not path.is_dir():
        os.chmod(path, ordinary_mode())
        return
    for folder, _, files in os.walk(path):
        os.chmod(folder, ordinary_mode(is_folder=True))
        for name in files:
            os.chmod(Path(folder) / name, ordinary_mode())


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
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{shown_path(path)} is a folder, not a JSON file: {remedy}.")
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ValueError(f"{shown_path(path)} is not UTF-8 text ({error.reason}): {remedy}.") from error
    except json.JSONDecodeError as error:
        raise ValueError(f"{shown_path(path)} is not valid JSON ({error}): {remedy}.") from error


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
