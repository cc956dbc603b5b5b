"""TensorFlow's start-up notices off stderr, and nothing else with them.

While TensorFlow's native libraries load, they write to file descriptor 2, before their logging is set up and
so whatever ``TF_CPP_MIN_LOG_LEVEL`` says::

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 00:00:1796234163.706999   20143 port.cc:153] oneDNN custom operations are on. You may see ...

(twice: two libraries log them). In a live Jupyter session they land, in red, in the first cell; in a
terminal, above a command's output. :func:`install` (run by ``digit_recog/__init__.py``, so before any of the
package's modules imports Keras or TensorFlow) puts a finder on ``sys.meta_path`` that wraps the first import
of ``tensorflow``: while it runs, descriptor 2 goes to a temporary file; afterwards it is put back and every
captured line that is not one of the start-up notices is written to it again, in order, so a real error or
warning is never swallowed. oneDNN itself stays on (see ``digit_recog/__init__.py``).

The notices go only while ``TF_CPP_MIN_LOG_LEVEL`` is 1 or more (the package's default is 2): with 0, the
caller asked for TensorFlow's info lines and gets them. Should the process die inside TensorFlow's import,
what it wrote there is lost with the temporary file; an import that raises still gives its output back.

This module imports only the standard library (and little of it), so commands that never load TensorFlow
start as fast as before.
"""

from __future__ import annotations

import os
import sys

# The lines TensorFlow writes while it loads, before absl's logging starts (absl's own notice, oneDNN's, and
# the CPU-instruction one). Before absl starts, the time reads 00:00 and seconds since 1970.
STARTUP_NOTICES = (  # compiled on first use: `re` costs 10 ms of start-up where nothing else needs it
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|I\d{4} \d\d:\d\d:\d+\.\d+ +\d+ port\.cc:\d+\] oneDNN custom operations are on\..*"
    r"|I\d{4} \d\d:\d\d:\d+\.\d+ +\d+ cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized .*"
    r"|To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler flags\.)$"
)
PACKAGE = "tensorflow"


def wants_quiet() -> bool:
    """Whether ``TF_CPP_MIN_LOG_LEVEL`` turns TensorFlow's info lines off (1, 2 or 3)."""
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0")) >= 1
    except ValueError:
        return False


def drop_startup_notices(text: bytes) -> bytes:
    """``text`` without the start-up notices, every other line (and its line ending) as it was."""
    import re

    notice = re.compile(STARTUP_NOTICES)
    kept = [
        line
        for line in text.splitlines(keepends=True)
        if not notice.match(line.rstrip(b"\r\n").decode("utf-8", "replace"))
    ]
    return b"".join(kept)


class StartupNoticesDropped:  # a class for `with`, so as not to import contextlib at start-up
    """In the block, what goes to file descriptor 2 is held back; after it, all but the notices is written."""

    def __enter__(self) -> None:
        _flush_python_stderr()
        try:
            self._saved = os.dup(2)
        except OSError:  # no descriptor 2 at all: nothing to keep clean
            self._saved = None
            return
        import tempfile  # here, not at the top: only the import of TensorFlow needs it

        self._held = tempfile.TemporaryFile()
        os.dup2(self._held.fileno(), 2)

    def __exit__(self, *exc_info) -> None:
        if self._saved is None:
            return
        _flush_python_stderr()
        os.dup2(self._saved, 2)
        os.close(self._saved)
        with self._held:
            self._held.seek(0)
            rest = drop_startup_notices(self._held.read())
        if rest:
            os.write(2, rest)


def _flush_python_stderr() -> None:
    for stream in (sys.stderr, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # closed or detached: nothing buffered to lose
            pass


class _QuietLoader:
    """Stands in for TensorFlow's loader for its one import, then gives the module the real one back."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = self._loader
        if getattr(module, "__spec__", None) is not None:
            module.__spec__.loader = self._loader
        with StartupNoticesDropped():
            self._loader.exec_module(module)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _TensorFlowFinder:
    """A ``sys.meta_path`` finder that only wraps the loader of the first import of ``tensorflow``."""

    def __init__(self):
        self.done = False

    def find_spec(self, fullname, path=None, target=None):
        if fullname != PACKAGE or self.done or not wants_quiet():
            return None
        self.done = True  # from here on, inert: the real finders answer (this one answers None first)
        import importlib.util

        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _QuietLoader(spec.loader)
        return spec


def install() -> None:
    """Quieten the first import of TensorFlow in this process (a no-op once it is imported or installed)."""
    if PACKAGE in sys.modules or any(isinstance(finder, _TensorFlowFinder) for finder in sys.meta_path):
        return
    sys.meta_path.insert(0, _TensorFlowFinder())
