"""FastAPI app: the drawing page, and a JSON API that reads the digit in an uploaded image.

Start it with ``digit-recog serve`` (or ``make serve``); ``create_app`` builds it for tests too.

    GET  /              the drawing page (static/index.html)
    GET  /health        {"status", "model", "version", "model_version", "model_sha256", "model_modified"}
                        (the package's version; the model's version, or "unversioned", and SHA-256;
                        model_modified: the shipped model's file is not the one its version records)
    POST /api/predict   multipart field ``image`` -> digit, verdict, probabilities, top 3, preprocessed
                        image, and ``read_from``; an optional field ``layout`` holds the 28x28 image the
                        page preprocessed itself (784 bytes), read instead of the picture once it passes the
                        checks of :mod:`digit_recog.reading.layout` (else ``layout_refused`` says why, and
                        the picture is read)
    GET  /openapi.json  the API's schema (the interactive /docs page is off: it loads its scripts from a CDN)

Under load and bad input it holds up: at most ``WORKERS`` images are decoded and read at once and
``WAITING`` more wait their turn (big pictures in a lane of their own, one at a time), the rest are
answered 503 with Retry-After; pictures are checked by the one decoding gate in
:mod:`digit_recog.reading.decoding` and decoded in worker processes that may spend a bounded CPU time and
memory on each (:mod:`digit_recog.reading.budget`); nothing that opens a picture runs on the event loop.
Requests are refused before any work by the guards of :mod:`digit_recog.web.guards` (other sites' pages,
slow or doubly framed bodies, too many uploads from one address) and, under ``digit-recog serve``, by the
connection deadlines of :mod:`digit_recog.web.server`.
"""

import base64
import ctypes
import io
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import anyio
import keras
import numpy as np
from fastapi import FastAPI, File, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from PIL import Image
from starlette.middleware.trustedhost import TrustedHostMiddleware

from digit_recog import __version__, config
from digit_recog.model_card import UNVERSIONED, model_version
from digit_recog.reading.budget import Budget, DecodingPool
from digit_recog.reading.decoding import (
    ImageReadError,
    ImageTooLargeError,
    NoDigitFoundError,
    decoding_bytes,
)
from digit_recog.reading.layout import LAYOUT_BYTES, LayoutError, checked_layout
from digit_recog.reading.predict import DigitReading, load_reader, predict_digits, read_digit, read_layout
from digit_recog.reading.verdict import Thresholds, load_thresholds
from digit_recog.web.guards import (
    BODY_DEADLINE_S,
    RECEIVE_TIMEOUT_S,
    RETRY_AFTER_S,
    UPLOADS_PER_CLIENT,
    Admission,
    BodyLimit,
    InFlight,
    ReceiveTimeout,
    SameOrigin,
    SingleFraming,
    Tarpit,
)

STATIC_DIR = Path(__file__).parent / "static"
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
# The request body also carries the multipart boundaries and headers around the file.
MULTIPART_ALLOWANCE = 64 * 1024
TOP_K = 3
# Reading an image is CPU work (decoding, cleaning, the model): more at once than the cores only adds
# memory and contention, so a few run and a short queue waits; beyond that, clients are told to retry.
WORKERS = 2
WAITING = 8
# Pictures that take more memory than this while decoded (a 49-megapixel PNG takes half a second or more
# to decode; a progressive JPEG counts at full size, its coefficients held whole) have a lane of their own,
# one at a time: they never hold every worker, so small drawings keep being answered while they decode,
# and at most one of them is in memory.
LARGE_PICTURE_BYTES = 16_000_000
LARGE_WORKERS = 1
LARGE_WAITING = 4
# How much lower the big lane's decoding runs (os.nice): 49 megapixels take half a second of a core, and
# a client sending them one after another would otherwise have half of two cores.
LARGE_NICENESS = 10


def create_app(
    model_path: Path = config.MODEL_PATH,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    runtime: str = "auto",
    *,
    model: keras.Model | None = None,
    allowed_hosts: list[str] | None = None,
    workers: int = WORKERS,
    waiting: int = WAITING,
    receive_timeout_s: float = RECEIVE_TIMEOUT_S,
    body_deadline_s: float = BODY_DEADLINE_S,
    uploads_per_client: int = UPLOADS_PER_CLIENT,
    budget: Budget | None = None,
) -> FastAPI:
    """Build the web app; the model at ``model_path`` is loaded once, when the server starts.

    Args:
        model_path: the trained ``.keras`` model (or an exported ``.onnx``/``.tflite`` one).
        max_upload_bytes: larger uploads are refused with 413.
        runtime: what reads the images (see :func:`digit_recog.reading.predict.load_reader`); by default
            ONNX Runtime when the model's fresh ONNX export is there, else Keras.
        model: the reader already loaded from ``model_path`` (``digit-recog serve`` checks it first).
        allowed_hosts: Host header values answered (see Starlette's TrustedHostMiddleware); None answers any.
        workers, waiting: images read at once, and requests that may wait for a worker; more get 503.
        receive_timeout_s, body_deadline_s: a request body that sends nothing for this long, or is not
            complete this long after its headers, gets 408.
        uploads_per_client: uploads one client address may have arriving at once; more get 503.
        budget: what decoding one picture may cost (see :class:`digit_recog.reading.budget.Budget`); a
            picture past it gets 413.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loaded = model if model is not None else load_reader(model_path, runtime)
        predict_digits(loaded, np.zeros((1, config.IMAGE_SIZE, config.IMAGE_SIZE), np.uint8))  # warm-up
        app.state.model = loaded
        app.state.model_version = model_version(Path(model_path))
        app.state.thresholds = load_thresholds(Path(model_path))
        # One decoding worker process for each picture that may be read at once, in either lane; the big
        # lane's at a lower priority, so that under load its pictures wait and the drawings keep the cores.
        with (
            DecodingPool(workers, budget) as app.state.decoding,
            DecodingPool(LARGE_WORKERS, budget, niceness=LARGE_NICENESS) as app.state.large_decoding,
        ):
            yield

    app = FastAPI(
        title="digit-recog",
        version=__version__,
        summary="Read a handwritten digit with a CNN trained on MNIST.",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI and ReDoc load from a CDN, blank offline; /openapi.json stays
        redoc_url=None,
    )
    app.state.queue = ReadingQueue(workers, waiting)
    app.state.large_queue = ReadingQueue(LARGE_WORKERS, LARGE_WAITING)
    app.state.in_flight = InFlight(limit=app.state.queue.capacity + app.state.large_queue.capacity)
    # The last added runs first: an address that keeps being refused waits, unknown hosts are refused
    # before anything else is done, then other sites' pages and doubly framed bodies, and a request with
    # no place left before its body is read.
    app.add_middleware(BodyLimit, max_bytes=max_upload_bytes + MULTIPART_ALLOWANCE)
    app.add_middleware(ReceiveTimeout, seconds=receive_timeout_s, deadline_s=body_deadline_s)
    app.add_middleware(
        Admission,
        path="/api/predict",
        in_flight=app.state.in_flight,
        per_client=uploads_per_client,
        on_idle=release_freed_memory,  # what the last burst freed goes back to the system
    )
    app.add_middleware(SingleFraming)
    app.add_middleware(SameOrigin)
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    app.add_middleware(Tarpit)  # first of all: an address refused over and over waits before anything
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    @app.get("/health")
    def health() -> dict:
        """Whether the server is up, and which model it serves: file, runtime, version and SHA-256."""
        served = app.state.model_version
        return {
            "status": "ok",
            "model": Path(model_path).name,
            "runtime": getattr(app.state.model, "runtime", "keras"),  # exported models name their runtime
            "version": __version__,
            "model_version": served["version"],
            "model_sha256": served["sha256"],
            # the shipped model's file, but not the one models/model_version.json records
            "model_modified": served["version"] == UNVERSIONED and _is_shipped_path(model_path),
        }

    @app.post(
        "/api/predict",
        responses={
            400: {"description": "not a PNG, JPEG, BMP, GIF, WebP or TIFF, corrupt, or no grey levels"},
            408: {"description": "the request body stalled"},
            413: {"description": "over the upload limit, too many pixels, or over the decoding budget"},
            422: {"description": "no digit found, or not exactly one file in the field image"},
            503: {"description": "busy: retry after the seconds in Retry-After"},
        },
    )
    async def predict(
        request: Request,
        image: Annotated[UploadFile, File(description="the image file")],
        layout: Annotated[
            UploadFile | None,
            File(
                description=f"optional: the picture already preprocessed into MNIST's layout, {LAYOUT_BYTES} "
                "bytes (28x28 grey levels, row by row, light ink on black); read instead of the image when "
                "it passes the layout checks"
            ),
        ] = None,
    ) -> dict:
        """Read the digit in an uploaded image (PNG, JPEG, BMP, GIF, WebP or TIFF), or in the 28x28 layout
        sent with it."""
        form = await request.form()  # parsed already: this only counts the files
        images, layouts = len(form.getlist("image")), len(form.getlist("layout"))
        if images != 1:
            raise HTTPException(422, f"expected one file in the field image, found {images}")
        if layouts > 1:
            raise HTTPException(422, f"expected at most one file in the field layout, found {layouts}")
        content = await image.read(max_upload_bytes + 1)
        if len(content) > max_upload_bytes:
            raise HTTPException(413, f"image too large: the upload limit is {max_upload_bytes:,} bytes")
        state, name = request.app.state, image.filename or "uploaded image"
        layout_refused = None
        if layout is not None:
            try:
                prepared = checked_layout(await layout.read())  # within the body limit
            except LayoutError as error:
                layout_refused = str(error)
            else:
                reading = await _queued(state.queue, read_layout, state.model, prepared, state.thresholds)
                return reading_response(reading, read_from="layout")
        # Parsing the header opens the picture: never on the event loop. Pictures the gate refuses from
        # their header count 0: no need to queue them as large.
        large = await anyio.to_thread.run_sync(decoding_bytes, content) > LARGE_PICTURE_BYTES
        queue, decoding = (
            (state.large_queue, state.large_decoding) if large else (state.queue, state.decoding)
        )
        reading = await _queued(
            queue, read_content, state.model, content, name, large, state.thresholds, decoding
        )
        return reading_response(reading, layout_refused=layout_refused)

    return app


async def _queued(queue: "ReadingQueue", function, *args):
    """``queue.run(function, *args)``, a full queue answered 503 with Retry-After."""
    try:
        return await queue.run(function, *args)
    except ServerBusyError as error:
        raise HTTPException(503, str(error), headers={"Retry-After": str(RETRY_AFTER_S)}) from None


def _is_shipped_path(model_path) -> bool:
    """Whether ``model_path`` is the shipped model's file (``models/digit_recog_mnist_cnn.keras``)."""
    return Path(model_path).resolve() == config.MODEL_PATH.resolve()


def app_from_environment() -> FastAPI:
    """The app for ``DIGIT_RECOG_MODEL``, ``DIGIT_RECOG_RUNTIME`` and ``DIGIT_RECOG_ALLOWED_HOSTS``
    (comma-separated): what each uvicorn worker process builds when ``digit-recog serve --workers N``
    starts several."""
    model_path = Path(os.environ.get("DIGIT_RECOG_MODEL", config.MODEL_PATH))
    hosts = os.environ.get("DIGIT_RECOG_ALLOWED_HOSTS")
    return create_app(
        model_path=model_path,
        runtime=os.environ.get("DIGIT_RECOG_RUNTIME", "auto"),
        allowed_hosts=hosts.split(",") if hosts else None,
    )


def read_content(
    model: keras.Model,
    content: bytes,
    name: str,
    large: bool = False,
    thresholds: Thresholds | None = None,
    decoding: DecodingPool | None = None,
) -> DigitReading:
    """Read the digit in an uploaded file, turning each kind of bad picture into its HTTP status.

    With ``decoding``, the picture is decoded in one of its budgeted workers (a picture past the budget is
    413); without, in this thread. After a large picture, the memory its decoding freed is given back.
    """
    try:
        return read_digit(model, content, name=name, thresholds=thresholds, pool=decoding)
    except ImageTooLargeError as error:
        raise HTTPException(413, str(error)) from None
    except ImageReadError as error:
        raise HTTPException(400, str(error)) from None
    except NoDigitFoundError as error:
        raise HTTPException(422, str(error)) from None
    finally:
        if large:
            release_freed_memory()


def _find_malloc_trim():
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to give back this way
        return None


_MALLOC_TRIM = _find_malloc_trim()


def release_freed_memory() -> None:
    """Return freed heap memory to the system.

    glibc keeps the tens of megabytes a big picture's decoding freed in its per-thread heaps, so the
    server's memory would creep up with each one; ``malloc_trim`` hands them back (a few milliseconds).
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


class ServerBusyError(Exception):
    """Every worker is busy and the queue is full."""


class ReadingQueue:
    """Run blocking reads on at most ``workers`` threads, with at most ``waiting`` more queued.

    Refusing at once when the queue is full, rather than queueing without bound, keeps memory and the
    wait of the requests already queued bounded whatever the load.
    """

    def __init__(self, workers: int, waiting: int) -> None:
        self.limiter = anyio.CapacityLimiter(workers)
        self.capacity = workers + waiting
        self.active = 0  # running or waiting; only the event loop's thread changes it

    async def run(self, function, *args):
        """``function(*args)`` on a worker thread, or ``ServerBusyError`` when the queue is full."""
        if self.active >= self.capacity:
            raise ServerBusyError(
                f"server busy: {self.active} images are being read or waiting; retry in {RETRY_AFTER_S} s"
            )
        self.active += 1
        try:
            return await anyio.to_thread.run_sync(function, *args, limiter=self.limiter)
        finally:
            self.active -= 1


def reading_response(
    reading: DigitReading, read_from: str = "image", layout_refused: str | None = None
) -> dict:
    """The JSON body for one reading: digit, verdict, ten probabilities, the top three, the image seen, and
    what was read (``"image"`` or ``"layout"``), with why a layout sent was not (``layout_refused``)."""
    body = {
        "digit": reading.digit,
        "verdict": reading.verdict,
        "probabilities": [round(float(p), 6) for p in reading.probabilities],
        "top": [{"digit": digit, "probability": round(p, 6)} for digit, p in reading.top(TOP_K)],
        "preprocessed": png_data_url(reading.image),
        "read_from": read_from,
    }
    if layout_refused is not None:
        body["layout_refused"] = layout_refused
    return body


def png_data_url(pixels: np.ndarray) -> str:
    """A ``data:image/png;base64,...`` URL of a uint8 grayscale image."""
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
