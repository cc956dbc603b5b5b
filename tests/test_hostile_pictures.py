"""Hostile pictures (``lab.hostile_pictures``) cannot stall or bloat the web app or ``read_number``: each is
refused by the decoding gate or stopped by the budget of its worker process, with a status naming the limit.
"""

import asyncio
import os
import time

import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw

from digit_images import draw_digit, encode, untrained_model_file
from digit_recog.reading.budget import (
    MAX_NUMBER_DIGITS,
    Budget,
    DecodingBudgetError,
    DecodingPool,
    TooManyDigitsError,
)
from digit_recog.web.app import LARGE_NICENESS, create_app
from lab.hostile_pictures import (
    drawn_seven,
    hostile_pictures,
    ico_png_bomb,
    other_formats,
    progressive_jpeg_bomb,
    tiff_tile_bomb,
)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    return untrained_model_file(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def client(model_file):
    with TestClient(create_app(model_path=model_file)) as test_client:
        yield test_client


def predict(client: TestClient, content: bytes, name: str):
    return client.post("/api/predict", files={"image": (name, content, "application/octet-stream")})


def dot_grid(count: int, pitch: int, radius: int, shear: int) -> Image.Image:
    """``count`` x ``count`` dots, each row shifted ``shear`` pixels right of the one above: a "number" of
    dozens of digits that costs the segmentation seconds."""
    size = count * pitch + count * shear
    image = Image.new("L", (size, count * pitch), 255)
    draw = ImageDraw.Draw(image)
    for column in range(count):
        for row in range(count):
            x, y = pitch // 2 + column * pitch + shear * row, pitch // 2 + row * pitch
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=0)
    return image


def test_the_hostile_pictures_build_in_a_second_or_two():
    started = time.process_time()
    pictures = hostile_pictures()
    assert time.process_time() - started < 3
    assert {"progressive_bomb.jpg", "tile_bomb.tif", "png_bomb.ico", "format.psd", "format.qoi"} <= set(
        pictures
    )
    assert all(isinstance(content, bytes) and len(content) < 5 * 2**20 for content in pictures.values())


def test_progressive_jpeg_with_thousands_of_scans_is_refused_before_decoding(client):
    bomb = progressive_jpeg_bomb(extra_scans=1_000)  # 3 s of decoding on main; the full bomb 50 s
    started = time.monotonic()
    response = predict(client, bomb, "scans.jpg")
    assert response.status_code == 413
    assert "scans.jpg" in response.json()["detail"] and "more than 100 scans" in response.json()["detail"]
    assert time.monotonic() - started < 2


def test_tiff_declaring_16x16_pixels_in_a_2_gb_tile_is_refused(client):
    response = predict(client, tiff_tile_bomb(), "tile.tif")
    assert response.status_code == 413
    assert "tiles of 16384x32752 that need 2,146 MB" in response.json()["detail"]


def test_nothing_opens_a_picture_on_the_event_loop(client, monkeypatch):
    """An ICO whose PNG is 13000x13000 RGBA was decoded while choosing its lane, freezing the server."""
    opened_on_loop = []
    open_image = Image.open

    def watched_open(*args, **kwargs):
        try:
            asyncio.get_running_loop()
            opened_on_loop.append(args[0])
        except RuntimeError:  # a worker thread: no event loop runs here
            pass
        return open_image(*args, **kwargs)

    monkeypatch.setattr(Image, "open", watched_open)
    bomb = predict(client, ico_png_bomb(), "icon.ico")
    drawing = predict(client, encode(draw_digit("7")), "seven.png")
    assert (
        bomb.status_code == 400 and "icon.ico is not an image in a format read here" in bomb.json()["detail"]
    )
    assert drawing.status_code == 200
    assert opened_on_loop == []


@pytest.mark.parametrize("name", sorted(other_formats()))
def test_formats_outside_the_six_are_refused_by_name(client, name):
    response = predict(client, other_formats()[name], name)
    assert response.status_code == 400
    assert response.json()["detail"] == (
        f"{name} is not an image in a format read here (PNG, JPEG, BMP, GIF, WebP or TIFF)"
    )


def test_big_progressive_jpegs_wait_in_the_big_picture_lane(client):
    """A 49-megapixel progressive JPEG holds all its coefficients while decoded: it is a big picture."""
    large = client.app.state.large_queue
    large.active = large.capacity
    try:
        progressive = predict(client, encode(drawn_seven(7000), "JPEG", progressive=True), "big.jpg")
        drawing = predict(client, encode(draw_digit("7")), "seven.png")
    finally:
        large.active = 0
    assert progressive.status_code == 503 and drawing.status_code == 200


def test_the_big_picture_lane_decodes_at_a_lower_priority(client):
    """A client sending 49-megapixel pictures one after another must not take a core from the drawings."""

    def niceness(pool) -> set[int]:
        return {os.getpriority(os.PRIO_PROCESS, worker.process.pid) for worker in pool._all}

    base = os.getpriority(os.PRIO_PROCESS, 0)
    assert niceness(client.app.state.decoding) == {base}
    assert niceness(client.app.state.large_decoding) == {min(base + LARGE_NICENESS, 19)}


def test_big_legitimate_pictures_fit_the_budget(client):
    colour = encode(drawn_seven(7000, "RGB"), "JPEG", progressive=True, subsampling=0)
    assert predict(client, colour, "photo.jpg").status_code == 200


def test_a_picture_past_the_memory_budget_gets_413_naming_it(model_file):
    """Whatever the format's trick, a worker that would grow past its memory budget is stopped."""
    big = encode(Image.new("L", (7000, 7000), 255), "PNG", compress_level=1)  # 49 MB decoded
    with TestClient(create_app(model_path=model_file, budget=Budget(memory_bytes=40 * 2**20))) as client:
        refused = predict(client, big, "big.png")
        drawing = predict(client, encode(draw_digit("7")), "seven.png")  # read by the replaced worker
    assert refused.status_code == 413
    assert refused.json()["detail"] == (
        "big.png needs more memory to decode than the 40 MB a picture may take; resize it first"
    )
    assert drawing.status_code == 200


def test_a_picture_past_the_wall_clock_budget_is_given_up_and_its_worker_replaced():
    big = encode(drawn_seven(7000), "PNG", compress_level=1)
    with DecodingPool(1, Budget(wall_seconds=0.01)) as pool:
        with pytest.raises(DecodingBudgetError, match=r"big\.png took longer than 0\.01 s to decode"):
            pool.run("digit", big, "big.png")
        pool.budget = Budget()
        assert pool.run("digit", encode(draw_digit("7")), "seven.png").shape == (28, 28)


def test_a_number_of_more_than_32_digits_is_refused(model_file):
    from digit_recog.reading.predict import load_trained_model, read_number

    model = load_trained_model(model_file)
    with pytest.raises(
        TooManyDigitsError, match=rf"dots\.png: \d+ digits found; .* at most {MAX_NUMBER_DIGITS}"
    ):
        read_number(model, encode(dot_grid(16, 64, 12, shear=16)), "dots.png")
    assert read_number(model, encode(draw_digit("7")), "seven.png").text.isdigit()


def test_cutting_a_number_runs_under_the_cpu_budget(model_file):
    from digit_recog.reading.predict import load_trained_model, read_number

    model = load_trained_model(model_file)
    costly = encode(dot_grid(25, 64, 10, shear=16))  # 2.4 s of CPU to cut into 121 "digits"
    with DecodingPool(1, Budget(cpu_seconds=0.5)) as pool:
        with pytest.raises(DecodingBudgetError, match=r"dots\.png needs more than 0\.5 s of CPU time"):
            read_number(model, costly, "dots.png", pool=pool)
        assert read_number(model, encode(draw_digit("7")), "seven.png", pool=pool).text.isdigit()
