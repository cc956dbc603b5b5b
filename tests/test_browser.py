"""The web app in a real browser: draw digits stroke by stroke on the canvas and read the answer.

Starts ``digit-recog serve`` on a free port and drives Debian's Chromium (/usr/bin/chromium) with
Playwright; no browser is downloaded. Without Chromium the tests skip, unless
``DIGIT_RECOG_REQUIRE_BROWSER=1`` (set by CI) makes that a failure. With
``DIGIT_RECOG_SCREENSHOT=path.png`` a screenshot of the page after drawing a 7 is saved there.
"""

import base64
import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digit_images import SHIPPED_MODEL, draw_digit, needs_shipped_model
from digit_recog.reading.predict import load_trained_model, read_digit

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_SECONDS = 120  # importing TensorFlow on a busy two-core machine is slow

# Strokes in a 0-1 box over the canvas: lists of (x, y) points, each list one stroke.
ONE = [[(0.5, 0.15), (0.5, 0.85)]]
SEVEN = [[(0.25, 0.18), (0.75, 0.18), (0.42, 0.85)]]
FOUR = [[(0.58, 0.15), (0.22, 0.6), (0.78, 0.6)], [(0.6, 0.35), (0.6, 0.88)]]
ZERO = [[(0.5 + 0.24 * sin, 0.5 - 0.34 * cos) for sin, cos in ((0, 1), (0.5, 0.87), (0.87, 0.5), (1, 0),
         (0.87, -0.5), (0.5, -0.87), (0, -1), (-0.5, -0.87), (-0.87, -0.5), (-1, 0), (-0.87, 0.5),
         (-0.5, 0.87), (0, 1))]]  # fmt: skip
# Styles MNIST's writers rarely used, and a letter
CROSSED_SEVEN = [*SEVEN, [(0.4, 0.5), (0.7, 0.5)]]
CROSSED_SEVEN_ONE_PATH = [
    [*SEVEN[0], (0.4, 0.5), (0.7, 0.5)]
]  # the pen never lifted: the bar joined to the foot
FLAGGED_ONE = [[(0.35, 0.32), (0.52, 0.15), (0.52, 0.85)]]
OPEN_FOUR = [[(0.3, 0.15), (0.24, 0.6), (0.8, 0.6)], [(0.63, 0.3), (0.63, 0.88)]]  # open at the top
LETTER_A = [[(0.25, 0.85), (0.5, 0.15), (0.75, 0.85)], [(0.35, 0.58), (0.65, 0.58)]]


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing: install it with `apt-get install chromium`"
    if os.environ.get("DIGIT_RECOG_REQUIRE_BROWSER") == "1":
        pytest.fail(reason + " (DIGIT_RECOG_REQUIRE_BROWSER=1 makes this a failure)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(tmp_path_factory) -> Iterator[str]:
    """``digit-recog serve`` with the committed model, in a subprocess, until the module's tests end."""
    _require_chromium()
    if not SHIPPED_MODEL.is_file():
        pytest.skip(f"{SHIPPED_MODEL} is missing: run notebooks/03_train.ipynb first")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    cli = [sys.executable, "-m", "digit_recog.cli"]
    command = [*cli, "serve", "--host", "127.0.0.1", "--port", str(port), "--model", SHIPPED_MODEL]
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    with open(log_path, "w") as log:  # a file, not a pipe: a full pipe would block the server
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_healthy(url, server, log_path)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_until_healthy(url: str, server: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the server exited with status {server.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"the server did not answer {url}/health within {SERVER_START_SECONDS} s")


@pytest.fixture(scope="module")
def browser(server_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server_url):
    context = browser.new_context(viewport={"width": 900, "height": 640}, has_touch=True)
    page = context.new_page()
    page.goto(server_url)
    page.wait_for_function("document.body.dataset.state === 'idle'")
    yield page
    context.close()


def draw(page, strokes: list[list[tuple[float, float]]]) -> dict:
    """Draw with the mouse, one stroke at a time, as a person would; the server's answer to the last stroke.

    Lifting the pen predicts; each stroke waits for its prediction, so the digit shown at the end is
    the reading of the whole drawing, not of a stroke whose answer arrived late.
    """
    box = page.locator("#pad").bounding_box()
    for stroke in strokes:
        points = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*point, steps=8)
        with page.expect_response(lambda response: "/api/predict" in response.url) as answer:
            page.mouse.up()
        page.wait_for_function("document.body.dataset.state === 'idle'")
    return answer.value.json()


def shown_digit(page) -> str:
    return page.locator("#digit").text_content()


@needs_shipped_model
@pytest.mark.parametrize(("strokes", "digit"), [(ONE, "1"), (SEVEN, "7"), (FOUR, "4"), (ZERO, "0")])
def test_drawn_digit_is_read(page, strokes, digit):
    answer = draw(page, strokes)
    assert answer["read_from"] == "layout"  # the page's own 28x28 passed the server's checks
    assert shown_digit(page) == digit
    assert page.locator("#top li").count() == 3
    assert page.locator("#seen").get_attribute("src").startswith("data:image/png;base64,")
    screenshot = os.environ.get("DIGIT_RECOG_SCREENSHOT")
    if screenshot and digit == "7":
        page.screenshot(path=screenshot, full_page=True)


@needs_shipped_model
def test_the_server_reads_the_pages_layout_as_it_would_read_the_drawing(page):
    """The 28x28 the page preprocessed itself is the server's preprocessing of the drawing, to the pixel,
    so reading it instead changes no answer."""
    answer = draw(page, FOUR)
    drawing = base64.b64decode(page.evaluate("document.getElementById('pad').toDataURL()").split(",", 1)[1])
    server = read_digit(load_trained_model(SHIPPED_MODEL), drawing)
    assert answer["read_from"] == "layout"
    assert np.array_equal(pixels_of(answer["preprocessed"]), server.image)
    assert answer["digit"] == server.digit
    assert np.abs(np.array(answer["probabilities"]) - server.probabilities).max() < 1e-4


def pixels_of(data_url: str) -> np.ndarray:
    """The grey levels of a ``data:image/png;base64,...`` URL (the answer's preprocessed image)."""
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))).convert("L"))


@needs_shipped_model
@pytest.mark.parametrize(
    ("strokes", "digit", "verdicts"),
    [
        (CROSSED_SEVEN, "7", {"digit"}),
        (CROSSED_SEVEN_ONE_PATH, "7", {"digit"}),
        (OPEN_FOUR, "4", {"digit"}),
        # A long flag makes a 1 look a little like a 7 (the second choice): "unsure" is honest too.
        (FLAGGED_ONE, "1", {"digit", "unsure"}),
    ],
)
def test_digits_in_other_writers_styles_are_read(page, strokes, digit, verdicts):
    draw(page, strokes)
    assert page.locator("body").get_attribute("data-verdict") in verdicts
    if page.locator("body").get_attribute("data-verdict") == "digit":
        assert shown_digit(page) == digit and page.locator("#verdict").text_content() == ""
    else:
        assert page.locator("#verdict").text_content() == f"Not sure: it looks most like a {digit}."


@needs_shipped_model
def test_a_letter_is_not_passed_off_as_a_digit(page):
    draw(page, LETTER_A)
    assert page.locator("body").get_attribute("data-verdict") in {"not a digit", "unsure"}
    assert page.locator("#verdict").text_content() in {
        "This does not look like a digit.",
        *(f"Not sure: it looks most like a {digit}." for digit in range(10)),
    }


@needs_shipped_model
def test_clear_then_redraw(page):
    draw(page, SEVEN)
    page.click("#clear")
    assert shown_digit(page) == "–" and page.locator("#top li").count() == 0
    draw(page, ONE)
    assert shown_digit(page) == "1"


@needs_shipped_model
def test_predict_button_on_an_empty_pad_asks_for_a_digit(page):
    page.click("#predict")
    assert "Draw a digit first" in page.locator("#status").text_content()


@needs_shipped_model
def test_touch_drawing_works_like_the_mouse(page):
    """A finger on a touch screen: pointer events from CDP touch input, not from the mouse."""
    box = page.locator("#pad").bounding_box()
    points = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in ONE[0]]
    session = page.context.new_cdp_session(page)
    (x0, y0), (x1, y1) = points
    session.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x0, "y": y0}]})
    for step in range(1, 11):
        y = y0 + (y1 - y0) * step / 10
        session.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x0, "y": y}]})
    with page.expect_response(lambda response: "/api/predict" in response.url):
        session.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    page.wait_for_function("document.body.dataset.state === 'idle'")
    assert shown_digit(page) == "1"


@needs_shipped_model
def test_uploaded_image_is_read(page, tmp_path):
    path = tmp_path / "seven.jpg"
    draw_digit("7", size=(600, 450), mode="RGB").save(path, quality=80)
    with page.expect_response(lambda response: "/api/predict" in response.url) as answer:
        page.set_input_files("#upload", str(path))
    page.wait_for_function("document.body.dataset.state === 'idle'")
    assert shown_digit(page) == "7"
    assert answer.value.json()["read_from"] == "image"  # uploads are decoded by the server's gate


@needs_shipped_model
def test_upload_of_a_non_image_shows_the_error(page, tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not a picture")
    with page.expect_response(lambda response: "/api/predict" in response.url):
        page.set_input_files("#upload", str(path))
    page.wait_for_function("document.body.dataset.state === 'idle'")
    assert "not an image" in page.locator("#status").text_content()
    assert shown_digit(page) == "–"
