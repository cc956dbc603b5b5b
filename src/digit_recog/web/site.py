"""The drawing page as a static folder that reads digits in the browser: no server, any static host.

``export_site`` writes ``index.html`` and ``static/`` (the page's own files, ``reader.js`` with the
preprocessing ported from :mod:`digit_recog.reading.image`, the model exported to ONNX, and onnxruntime-web's
WebAssembly build). onnxruntime-web comes from the npm registry at export time (``npm pack``), kept in a
git-ignored cache so later exports work offline; nothing is downloaded when the page runs.

    digit-recog export --format web --out site/
    python -m http.server --directory site 8080     # then open http://127.0.0.1:8080
"""

import shutil
import subprocess
import tarfile
from dataclasses import asdict
from pathlib import Path

from digit_recog import config
from digit_recog.artifacts import write_json
from digit_recog.modeling.export import (
    ExportError,
    export_model,
    file_sha256,
    load_model_to_export,
    refuse_existing,
    write_output,
)
from digit_recog.reading.verdict import load_thresholds

STATIC_DIR = Path(__file__).parent / "static"
ONNXRUNTIME_WEB = "onnxruntime-web@1.30.0"
# The WebAssembly-only build: its loader script (global ``ort``) and the runtime it loads beside it.
ONNXRUNTIME_WEB_FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.wasm", "ort-wasm-simd-threaded.mjs")
NPM_CACHE_DIR = config.OUTPUT_ROOT / ".cache" / "npm"
APP_SCRIPT_TAG = '<script src="static/app.js" defer></script>'
# The server's page loads reader.js too (it preprocesses drawings for the server); the static page loads
# onnxruntime-web before it, and reader.js then reads digits itself.
READER_SCRIPT_TAG = '<script src="static/reader.js" defer></script>'
RUNTIME_SCRIPT_TAG = '<script src="static/ort/ort.wasm.min.js" defer></script>'
API_NOTE_START, API_NOTE_END = "JSON API:", "</p>"


class SiteError(ExportError):
    """The static page cannot be built: npm is missing or failed, or the page's HTML is not as expected."""


def export_site(model_path: Path, out: Path, force: bool = False) -> Path:
    """Write the static drawing page for the ``.keras`` model at ``model_path`` into the folder ``out``.

    Raises:
        OutputExistsError: ``out`` exists and ``force`` is false.
        SiteError: npm is missing or cannot fetch onnxruntime-web.
    """
    out = Path(out)
    refuse_existing(out, force)
    runtime_files = onnxruntime_web_files()
    model = load_model_to_export(Path(model_path))  # a bad model: one ExportError naming the file
    thresholds = load_thresholds(model_path)

    def write(folder: Path) -> None:
        static = folder / "static"
        static.mkdir(parents=True)
        for name in ("app.js", "style.css", "reader.js"):
            shutil.copy(STATIC_DIR / name, static / name)
        (folder / "index.html").write_text(static_page_html((STATIC_DIR / "index.html").read_text()))
        (static / "ort").mkdir()
        for path in runtime_files:
            shutil.copy(path, static / "ort" / path.name)
        export_model(model, "onnx", static / "model.onnx", source_sha256=file_sha256(model_path))
        if thresholds is not None:  # the page judges its readings as the server does
            write_json(asdict(thresholds), static / "thresholds.json")

    return write_output(out, force, write, is_folder=True)


def static_page_html(server_html: str) -> str:
    """The server's page, loading onnxruntime-web before reader.js and app.js, without the API note."""
    if READER_SCRIPT_TAG not in server_html or APP_SCRIPT_TAG not in server_html:
        raise SiteError(
            f"index.html has no {READER_SCRIPT_TAG!r} or no {APP_SCRIPT_TAG!r}: cannot add the in-browser "
            "reader's runtime before them"
        )
    html = server_html.replace(READER_SCRIPT_TAG, f"{RUNTIME_SCRIPT_TAG}\n  {READER_SCRIPT_TAG}")
    start = html.find(API_NOTE_START)
    if start >= 0:
        end = html.index(API_NOTE_END, start)
        note = "This page reads your digit in the browser (ONNX Runtime Web); nothing is uploaded."
        html = html[:start] + note + html[end:]
    return html


def onnxruntime_web_files(cache_dir: Path = NPM_CACHE_DIR) -> list[Path]:
    """onnxruntime-web's files the page needs, fetched once with ``npm pack`` into ``cache_dir``."""
    package_dir = cache_dir / ONNXRUNTIME_WEB.replace("@", "-")
    files = [package_dir / name for name in ONNXRUNTIME_WEB_FILES]
    if all(path.is_file() for path in files):
        return files
    npm = shutil.which("npm")
    if npm is None:
        raise SiteError(
            f"npm is not installed: it fetches {ONNXRUNTIME_WEB} for the static page. Install Node.js and "
            "npm (e.g. `apt-get install npm`) and export again"
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [npm, "pack", ONNXRUNTIME_WEB, "--pack-destination", str(cache_dir), "--silent"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SiteError(f"`npm pack {ONNXRUNTIME_WEB}` failed ({result.returncode}): {result.stderr.strip()}")
    tarball = cache_dir / result.stdout.strip().splitlines()[-1]
    package_dir.mkdir(exist_ok=True)
    with tarfile.open(tarball) as archive:
        for name in ONNXRUNTIME_WEB_FILES:
            member = archive.getmember(f"package/dist/{name}")
            with archive.extractfile(member) as source, open(package_dir / name, "wb") as target:
                shutil.copyfileobj(source, target)
    tarball.unlink()  # 30 MB, of which the page needs three files
    return files
