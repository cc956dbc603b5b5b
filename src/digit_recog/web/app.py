"""FastAPI app: the drawing page, and a JSON API that reads the digit in an uploaded image.

Start it with ``digit-recog serve`` (or ``make serve``); ``create_app`` builds it for tests too.

    GET  /              the drawing page (static/index.html)
    GET  /health        {"status", "model", "version", "model_version", "model_sha256"}
                        (the package's version; the model's version, or "unversioned", and SHA-256)
    POST /api/predict   multipart field ``image`` -> digit, probabilities, top 3, preprocessed image
"""

import base64
import io
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import numpy as np
from fastapi import FastAPI, File, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from PIL import Image
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digit_recog import __version__, config
from digit_recog.model_card import model_version
from digit_recog.reading.image import ImageReadError, ImageTooLargeError, NoDigitFoundError
from digit_recog.reading.predict import DigitReading, load_reader, predict_digits, read_digit

STATIC_DIR = Path(__file__).parent / "static"
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
# The request body also carries the multipart boundaries and headers around the file.
MULTIPART_ALLOWANCE = 64 * 1024
TOP_K = 3


def create_app(
    model_path: Path = config.MODEL_PATH, max_upload_bytes: int = MAX_UPLOAD_BYTES, runtime: str = "auto"
) -> FastAPI:
    """Build the web app; the model at ``model_path`` is loaded once, when the server starts.

    Args:
        model_path: the trained ``.keras`` model (or an exported ``.onnx``/``.tflite`` one).
        max_upload_bytes: larger uploads are refused with 413.
        runtime: what reads the images (see :func:`digit_recog.reading.predict.load_reader`); by default
            ONNX Runtime when the model's fresh ONNX export is there, else Keras.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        model = load_reader(model_path, runtime)
        predict_digits(model, np.zeros((1, config.IMAGE_SIZE, config.IMAGE_SIZE), np.uint8))  # warm-up
        app.state.model = model
        app.state.model_version = model_version(Path(model_path))
        yield

    app = FastAPI(
        title="digit-recog",
        version=__version__,
        summary="Read a handwritten digit with a CNN trained on MNIST.",
        lifespan=lifespan,
    )
    app.add_middleware(BodyLimit, max_bytes=max_upload_bytes + MULTIPART_ALLOWANCE)
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
        }

    @app.post("/api/predict")
    def predict(request: Request, image: Annotated[UploadFile, File(description="the image file")]) -> dict:
        """Read the digit in an uploaded image (PNG, JPEG, BMP, GIF, WebP or TIFF)."""
        content = image.file.read(max_upload_bytes + 1)
        if len(content) > max_upload_bytes:
            raise HTTPException(413, f"image too large: the upload limit is {max_upload_bytes:,} bytes")
        name = image.filename or "uploaded image"
        try:
            reading = read_digit(request.app.state.model, content, name=name)
        except ImageTooLargeError as error:
            raise HTTPException(413, str(error)) from None
        except ImageReadError as error:
            raise HTTPException(400, str(error)) from None
        except NoDigitFoundError as error:
            raise HTTPException(422, str(error)) from None
        return reading_response(reading)

    return app


def app_from_environment() -> FastAPI:
    """The app for ``DIGIT_RECOG_MODEL`` and ``DIGIT_RECOG_RUNTIME``: what each uvicorn worker process
    builds when ``digit-recog serve --workers N`` starts several."""
    model_path = Path(os.environ.get("DIGIT_RECOG_MODEL", config.MODEL_PATH))
    return create_app(model_path=model_path, runtime=os.environ.get("DIGIT_RECOG_RUNTIME", "auto"))


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413 and a JSON message, before reading them whole.

    A declared Content-Length over the limit is refused at once; a body sent without one is counted as
    it arrives, and refused as soon as it passes the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await JSONResponse({"detail": self._message()}, status_code=413)(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise HTTPException(413, self._message())  # FastAPI answers it as JSON
            return message

        await self.app(scope, counting_receive, send)

    def _message(self) -> str:
        return f"request too large: uploads are limited to about {self.max_bytes:,} bytes"


def reading_response(reading: DigitReading) -> dict:
    """The JSON body for one reading: digit, ten probabilities, the top three, the image seen."""
    return {
        "digit": reading.digit,
        "probabilities": [round(float(p), 6) for p in reading.probabilities],
        "top": [{"digit": digit, "probability": round(p, 6)} for digit, p in reading.top(TOP_K)],
        "preprocessed": png_data_url(reading.image),
    }


def png_data_url(pixels: np.ndarray) -> str:
    """A ``data:image/png;base64,...`` URL of a uint8 grayscale image."""
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
