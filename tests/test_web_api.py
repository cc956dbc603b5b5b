"""The web app's JSON API: readings for good images, a clear status and message for each bad one."""

import base64
import hashlib
import io
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from digit_images import (
    SHIPPED_MODEL,
    as_scan,
    draw_digit,
    encode,
    needs_shipped_model,
    png_header_only,
    untrained_model_file,
)
from digit_recog import __version__
from digit_recog.reading.image import preprocess_image
from digit_recog.web.app import MAX_UPLOAD_BYTES, create_app


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """A client of the app serving the committed model, or an untrained one when it is missing."""
    model = SHIPPED_MODEL if SHIPPED_MODEL.is_file() else untrained_model_file(tmp_path_factory.mktemp("m"))
    with TestClient(create_app(model_path=model)) as test_client:  # `with` runs the startup (lifespan)
        yield test_client


def predict(client: TestClient, content: bytes, name: str = "digit.png", content_type: str = "image/png"):
    return client.post("/api/predict", files={"image": (name, content, content_type)})


def test_health(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_health_names_the_model_version_and_sha256():
    """The committed model is the recorded shipped model; any other file is served as unversioned."""
    with TestClient(create_app(model_path=SHIPPED_MODEL)) as client:
        body = client.get("/health").json()
    record = json.loads((SHIPPED_MODEL.parent / "model_version.json").read_text())
    assert body["model_sha256"] == hashlib.sha256(SHIPPED_MODEL.read_bytes()).hexdigest() == record["sha256"]
    assert body["model_version"] == str(record["version"])
    assert body["version"] == __version__


def test_a_model_of_your_own_is_served_unversioned(tmp_path):
    with TestClient(create_app(model_path=untrained_model_file(tmp_path))) as client:
        assert client.get("/health").json()["model_version"] == "unversioned"


def test_page_and_its_assets_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "<canvas" in page.text
    for asset in ("/static/app.js", "/static/style.css"):
        assert client.get(asset).status_code == 200


def test_prediction_has_digit_probabilities_top_three_and_the_image_seen(client):
    response = predict(client, encode(draw_digit("7")))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"digit", "verdict", "probabilities", "top", "preprocessed", "read_from"}
    assert body["read_from"] == "image"
    assert body["verdict"] in {"digit", "unsure", "not a digit"}
    assert len(body["probabilities"]) == 10 and sum(body["probabilities"]) == pytest.approx(1, abs=1e-4)
    assert [entry["digit"] for entry in body["top"]][0] == body["digit"]
    probabilities = [entry["probability"] for entry in body["top"]]
    assert len(probabilities) == 3 and probabilities == sorted(probabilities, reverse=True)
    prefix = "data:image/png;base64,"
    assert body["preprocessed"].startswith(prefix)
    seen = Image.open(io.BytesIO(base64.b64decode(body["preprocessed"][len(prefix) :])))
    assert seen.size == (28, 28) and seen.mode == "L"


@needs_shipped_model
def test_real_digits_are_read(client, mnist):
    _, (test_images, test_labels) = mnist
    scans = [encode(as_scan(image, seed=i), "JPEG") for i, image in enumerate(test_images[:10])]
    digits = [predict(client, scan, "scan.jpg", "image/jpeg").json()["digit"] for scan in scans]
    assert np.mean(np.array(digits) == test_labels[:10]) >= 0.9
    assert predict(client, encode(draw_digit("7"))).json()["digit"] == 7


@pytest.mark.parametrize(
    ("content", "status", "message"),
    [
        (b"GIF89a, or so it claims", 400, "is not an image"),
        (encode(draw_digit("7"))[:200], 400, "could not be decoded"),
        (encode(Image.new("L", (280, 280), 255)), 422, "no digit found"),
        (png_header_only(100_000, 100_000), 413, "too large"),
        (png_header_only(10_000, 8_000), 413, "too large"),
        (b"\0" * (MAX_UPLOAD_BYTES + 1), 413, "upload limit"),
    ],
    ids=["not an image", "truncated", "blank", "absurd dimensions", "too many pixels", "over 5 MB"],
)
def test_bad_input_gets_a_clear_error_and_the_server_keeps_serving(client, content, status, message):
    response = predict(client, content)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert message in response.json()["detail"]
    assert client.get("/health").status_code == 200
    assert predict(client, encode(draw_digit("1"))).status_code == 200


def test_far_too_large_body_is_refused_with_json(client):
    response = predict(client, b"\0" * (2 * MAX_UPLOAD_BYTES))
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]


def test_body_streamed_without_length_is_cut_off_at_the_limit(client):
    def chunks():
        yield b'--cut\r\nContent-Disposition: form-data; name="image"; filename="big.png"\r\n\r\n'
        for _ in range(2 * MAX_UPLOAD_BYTES // 2**20):
            yield bytes(2**20)
        yield b"\r\n--cut--\r\n"

    headers = {"content-type": "multipart/form-data; boundary=cut"}
    response = client.post("/api/predict", content=chunks(), headers=headers)
    assert response.status_code == 413 and "too large" in response.json()["detail"]
    assert client.get("/health").status_code == 200


def test_missing_image_field_is_a_validation_error(client):
    response = client.post("/api/predict", files={"picture": ("d.png", encode(draw_digit("1")), "image/png")})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "image"]


# Bad input and load: each gets its status and a message saying what is wrong, never a 500


def lab(image: Image.Image) -> Image.Image:
    neutral = Image.new("L", image.size, 128)
    return Image.merge("LAB", (image.convert("L"), neutral, neutral))


def test_lab_images_are_read_not_a_server_error(client):
    blank = predict(client, encode(Image.new("LAB", (280, 280), (50, 0, 0)), "TIFF"), "lab.tif", "image/tiff")
    assert blank.status_code == 422 and "lab.tif: no digit found" in blank.json()["detail"]
    digit = predict(client, encode(lab(draw_digit("7")), "TIFF"), "lab7.tif", "image/tiff")
    assert digit.status_code == 200


@pytest.mark.parametrize(
    ("picture", "status", "message"),
    [
        (
            Image.new("RGBA", (7000, 7000), (255, 255, 255, 255)),
            413,
            "7000x7000 pixels in mode RGBA need 196 MB",
        ),
        (
            Image.fromarray(np.random.default_rng(0).integers(0, 256, (280, 280), dtype=np.uint8)),
            422,
            "noise",
        ),
        (Image.new("L", (10_000, 1), 255), 422, "10000x1 pixel picture"),
    ],
    ids=["49 MP RGBA", "pure noise", "10000x1"],
)
def test_pictures_that_hold_no_readable_digit_say_why(client, picture, status, message):
    response = predict(client, encode(picture, "PNG", compress_level=1))
    assert response.status_code == status and message in response.json()["detail"]


def test_float_tiff_with_a_nan_pixel_is_refused_as_such(client):
    pixels = np.asarray(draw_digit("7"), dtype=np.float32)
    pixels[5, 5] = np.nan
    response = predict(client, encode(Image.fromarray(pixels, mode="F"), "TIFF"), "nan.tif", "image/tiff")
    assert response.status_code == 400 and "not finite numbers (NaN" in response.json()["detail"]


def test_more_than_one_file_in_the_image_field_is_refused(client):
    files = [("image", (f"d{i}.png", encode(draw_digit("1")), "image/png")) for i in range(100)]
    response = client.post("/api/predict", files=files)
    assert response.status_code == 422
    assert response.json()["detail"] == "expected one file in the field image, found 100"


def test_docs_page_is_off_and_the_schema_is_served(client):
    assert client.get("/docs").status_code == 404  # Swagger UI would load from a CDN: blank offline
    assert "/api/predict" in client.get("/openapi.json").json()["paths"]


def test_full_queue_answers_503_with_retry_after(client):
    queue = client.app.state.queue
    queue.active = queue.capacity  # as if every worker and queue place were taken
    try:
        response = predict(client, encode(draw_digit("7")))
    finally:
        queue.active = 0
    assert response.status_code == 503 and response.headers["retry-after"] == "1"
    assert "server busy" in response.json()["detail"]
    assert predict(client, encode(draw_digit("7"))).status_code == 200


def test_reading_queue_runs_a_few_and_refuses_beyond_its_places():
    import threading

    import anyio

    from digit_recog.web.app import ReadingQueue, ServerBusyError

    queue, release, outcomes = ReadingQueue(workers=1, waiting=1), threading.Event(), []

    async def main():
        async with anyio.create_task_group() as tasks:
            for _ in range(2):
                tasks.start_soon(lambda: queue.run(release.wait))
            await anyio.sleep(0.1)
            assert queue.active == 2
            try:
                await queue.run(release.wait)
            except ServerBusyError as error:
                outcomes.append(str(error))
            release.set()

    anyio.run(main)
    assert outcomes and "server busy: 2 images" in outcomes[0] and queue.active == 0


def test_unknown_host_is_refused_when_hosts_are_listed(tmp_path):
    app = create_app(model_path=untrained_model_file(tmp_path), allowed_hosts=["localhost", "127.0.0.1"])
    with TestClient(app, base_url="http://attacker.example") as rebinding:
        assert rebinding.get("/health").status_code == 400
    with TestClient(app, base_url="http://localhost:8000") as local:
        assert local.get("/health").status_code == 200


def test_big_pictures_wait_in_their_own_lane(client):
    """With the big-picture lane full, a 49-megapixel PNG is told to retry and a drawing is still read."""
    large = client.app.state.large_queue
    large.active = large.capacity
    try:
        big = predict(client, encode(Image.new("L", (7000, 7000), 255), "PNG", compress_level=1))
        small = predict(client, encode(draw_digit("7")))
        over_budget = predict(client, encode(Image.new("RGBA", (7000, 7000)), "PNG", compress_level=1))
    finally:
        large.active = 0
    assert big.status_code == 503 and small.status_code == 200
    assert over_budget.status_code == 413  # refused from its header: it never waits for the lane


def test_requests_beyond_every_place_are_refused_before_their_body_is_read(client):
    in_flight = client.app.state.in_flight
    in_flight.active = in_flight.limit
    try:
        response = predict(client, b"never parsed")
    finally:
        in_flight.active = 0
    assert response.status_code == 503 and response.headers["retry-after"] == "1"
    assert "server busy" in response.json()["detail"]


def predict_with_layout(client: TestClient, content: bytes, layout: bytes, layouts: int = 1):
    files = [("image", ("drawing.png", content, "image/png"))]
    files += [("layout", ("layout.raw", layout, "application/octet-stream"))] * layouts
    return client.post("/api/predict", files=files)


def test_a_layout_sent_with_the_drawing_is_read_as_the_drawing_would_be(client):
    drawing = encode(draw_digit("4"))
    from_picture = predict(client, drawing).json()
    from_layout = predict_with_layout(client, drawing, preprocess_image(drawing).tobytes()).json()
    assert from_layout["read_from"] == "layout" and "layout_refused" not in from_layout
    same = ("digit", "verdict", "probabilities", "top", "preprocessed")
    assert {key: from_layout[key] for key in same} == {key: from_picture[key] for key in same}


@pytest.mark.parametrize(
    ("layout", "problem"),
    [
        (bytes(10), "a layout is 784 bytes"),
        (bytes(5000), "got 5,000"),
        (bytes(784), "no ink"),
        (lambda image: 255 - image, "the digit's box is 28x28 px"),  # dark ink on white
        (lambda image: np.roll(image, 4, axis=0), "centre of mass is at row 17.9"),
    ],
)
def test_a_layout_out_of_mnists_layout_is_not_trusted_and_the_picture_is_read(client, layout, problem):
    drawing = encode(draw_digit("4"))
    sent = layout(preprocess_image(drawing)).tobytes() if callable(layout) else layout
    response = predict_with_layout(client, drawing, sent)
    assert response.status_code == 200
    body = response.json()
    assert body["read_from"] == "image" and problem in body["layout_refused"]
    assert body["probabilities"] == predict(client, drawing).json()["probabilities"]


def test_two_layouts_are_refused(client):
    drawing = encode(draw_digit("4"))
    response = predict_with_layout(client, drawing, preprocess_image(drawing).tobytes(), layouts=2)
    assert response.status_code == 422
    assert response.json()["detail"] == "expected at most one file in the field layout, found 2"


def test_a_layout_does_not_lift_the_upload_limit_or_the_queue(client):
    layout = preprocess_image(encode(draw_digit("4"))).tobytes()
    oversized = predict_with_layout(client, b"\0" * (MAX_UPLOAD_BYTES + 1), layout)
    assert oversized.status_code == 413
    queue = client.app.state.queue
    queue.active = queue.capacity
    try:
        busy = predict_with_layout(client, encode(draw_digit("4")), layout)
    finally:
        queue.active = 0
    assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
