"""The static page (`digit-recog export --format web`) in Chromium, served by a plain static file server with
no API: digits drawn on it are read in the browser, with the server's preprocessing and the server's answers.

Exporting fetches onnxruntime-web with npm (once; it is cached under .cache/npm). Without npm or Chromium the
tests skip, unless ``DIGIT_RECOG_REQUIRE_BROWSER=1`` makes that a failure.
"""

import base64
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digit_images import SHIPPED_MODEL, as_scan, draw_digit, encode, needs_shipped_model
from digit_recog.modeling.export import OutputExistsError
from digit_recog.reading.image import preprocess_image
from digit_recog.reading.predict import load_trained_model, read_digit
from digit_recog.web import site
from test_browser import CHROMIUM_ARGS, FOUR, ONE, SEVEN, ZERO, _free_port, _require_chromium, pixels_of

pytestmark = needs_shipped_model
CHROMIUM = Path("/usr/bin/chromium")
TOLERANCE = 1e-4  # between the browser's probabilities and Keras's, for the same 28x28 input


def _require_npm() -> None:
    if shutil.which("npm") or (site.NPM_CACHE_DIR / site.ONNXRUNTIME_WEB.replace("@", "-")).is_dir():
        return
    reason = "npm is missing: it fetches onnxruntime-web for the static page (`apt-get install npm`)"
    if os.environ.get("DIGIT_RECOG_REQUIRE_BROWSER") == "1":
        pytest.fail(reason + " (DIGIT_RECOG_REQUIRE_BROWSER=1 makes this a failure)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def site_dir(tmp_path_factory) -> Path:
    _require_chromium()
    _require_npm()
    return site.export_site(SHIPPED_MODEL, tmp_path_factory.mktemp("web") / "site")


@pytest.fixture(scope="module")
def site_url(site_dir) -> Iterator[str]:
    """``python -m http.server`` on the exported folder: static files, nothing else."""
    port = _free_port()
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", site_dir]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError:
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def browser(site_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, site_url):
    context = browser.new_context(viewport={"width": 900, "height": 640})
    page = context.new_page()
    page.requests_seen = []
    page.on("request", lambda request: page.requests_seen.append((request.method, request.url)))
    page.goto(site_url)
    page.wait_for_function("document.body.dataset.state === 'idle' && window.readLocally !== undefined")
    # Count finished readings, so a test waits for the reading of its own stroke.
    page.evaluate(
        """() => {
        const read = window.readLocally;
        window.readings = 0;
        window.readLocally = async (...args) => {
            const response = await read(...args);
            window.readings++;
            return response;
        };
    }"""
    )
    yield page
    context.close()


@pytest.fixture(scope="module")
def keras_model():
    return load_trained_model(SHIPPED_MODEL)


def draw(page, strokes) -> None:
    box = page.locator("#pad").bounding_box()
    for stroke in strokes:
        done = page.evaluate("window.readings") + 1
        points = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*point, steps=8)
        page.mouse.up()
        page.wait_for_function(f"window.readings >= {done} && document.body.dataset.state === 'idle'")


def read_in_browser(page, png: bytes) -> dict:
    """What the page's reader answers for ``png``: status and JSON body."""
    return page.evaluate(
        """async (data) => {
        const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
        const response = await window.readLocally(new Blob([bytes]), "picture.png");
        return { status: response.status, body: await response.json() };
    }""",
        base64.b64encode(png).decode("ascii"),
    )


@pytest.mark.parametrize(("strokes", "digit"), [(ONE, "1"), (SEVEN, "7"), (FOUR, "4"), (ZERO, "0")])
def test_drawn_digit_is_read_in_the_browser_like_the_server_reads_it(page, keras_model, strokes, digit):
    draw(page, strokes)
    assert page.locator("#digit").text_content() == digit
    assert page.locator("#top li").count() == 3
    drawing = base64.b64decode(page.evaluate("document.getElementById('pad').toDataURL()").split(",", 1)[1])
    server = read_digit(keras_model, drawing)
    browser = read_in_browser(page, drawing)["body"]
    assert np.array_equal(pixels_of(browser["preprocessed"]), server.image)
    assert browser["digit"] == server.digit == int(digit)
    assert np.abs(np.array(browser["probabilities"]) - server.probabilities).max() < TOLERANCE
    assert not [request for request in page.requests_seen if request[0] != "GET" or "/api/" in request[1]]


PICTURES = {
    "thin pen on a large photo (thickened)": lambda: draw_digit(
        "7", size=(900, 700), stroke=0.02, mode="RGB"
    ),
    "light ink on black": lambda: draw_digit("4", ink=230, paper=20),
    "larger than the working size": lambda: draw_digit("0", size=(1500, 1300), stroke=0.12),
    "a small digit off centre": lambda: draw_digit("1", size=(280, 280), box=(20, 30, 80, 110)),
    # grey levels that are not whole once composited on white: the reader sorts them, not counts them
    "half-transparent ink": lambda: draw_digit("7", ink=(50, 50, 50, 140), paper=(0, 0, 0, 0), mode="RGBA"),
}


@pytest.mark.parametrize("name", PICTURES)
def test_preprocessing_matches_the_server_on_pictures(page, name):
    png = encode(PICTURES[name]())
    browser = read_in_browser(page, png)
    assert browser["status"] == 200
    difference = np.abs(pixels_of(browser["body"]["preprocessed"]).astype(int) - preprocess_image(png))
    assert difference.max() <= 1  # float32 rounding may move a pixel by one grey level


def test_scans_of_mnist_digits_are_read_like_the_server(page, keras_model, mnist):
    _, (test_images, _) = mnist
    for index in range(5):
        png = encode(as_scan(test_images[index], seed=index))
        server = read_digit(keras_model, png)
        browser = read_in_browser(page, png)["body"]
        difference = np.abs(pixels_of(browser["preprocessed"]).astype(int) - server.image)
        assert difference.max() <= 1 and browser["digit"] == server.digit


def test_blank_and_broken_pictures_get_the_servers_statuses(page):
    blank = read_in_browser(page, encode(Image.new("L", (50, 50), 255)))
    assert blank["status"] == 422 and "no digit found" in blank["body"]["detail"]
    broken = read_in_browser(page, b"not a picture at all")
    assert broken["status"] == 400 and "not an image" in broken["body"]["detail"]


def test_upload_of_a_non_image_shows_the_error(page, tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not a picture")
    page.set_input_files("#upload", str(path))
    page.wait_for_function("window.readings >= 1 && document.body.dataset.state === 'idle'")
    assert "not an image" in page.locator("#status").text_content()


def test_existing_folder_is_refused_without_force(site_dir):
    with pytest.raises(OutputExistsError, match="pass --force"):
        site.export_site(SHIPPED_MODEL, site_dir)


def test_page_html_without_the_app_script_is_refused():
    with pytest.raises(site.SiteError, match="index.html has no"):
        site.static_page_html("<html><body>no scripts</body></html>")
