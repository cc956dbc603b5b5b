"""The README's numbers come from the code and the reports, never from memory.

Measured numbers live in the Results table, which ``test_shipped_model`` checks against the reports; every
other number in the prose must be one the code defines (data sizes, limits, layout constants) or a plain
label (notebook numbers, Python versions, 28x28). A new number in the README that none of these explains
fails here, with the number and its line.
"""

import contextlib
import io
import re
import tempfile
from pathlib import Path

from PIL import Image

from digit_recog import config, data
from digit_recog.reading.budget import MAX_CPU_SECONDS, MAX_MEMORY_BYTES, MAX_NUMBER_DIGITS, MAX_WALL_SECONDS
from digit_recog.reading.decoding import MAX_IMAGE_PIXELS, MAX_JPEG_SCANS
from digit_recog.reading.image import DIGIT_BOX_SIZE
from digit_recog.web import guards
from digit_recog.web.app import MAX_UPLOAD_BYTES
from digit_recog.web.server import ServerLimits
from lab.results_table import RESULTS_END, RESULTS_START

README = config.PROJECT_ROOT / "README.md"
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def prose_lines() -> list[tuple[int, str]]:
    """README lines outside code blocks, the generated Results table, links and image paths."""
    lines, in_code, in_table = [], False, False
    for number, line in enumerate(README.read_text().splitlines(), start=1):
        if line.startswith("```"):
            in_code = not in_code
        in_table = (in_table or RESULTS_START in line) and RESULTS_END not in line
        if not in_code and not in_table and RESULTS_END not in line:
            lines.append((number, re.sub(r"\]\([^)]*\)|`[^`]*`|https?://\S+", "", line)))
    return lines


def numbers_the_code_defines() -> set[str]:
    """Every number the README's prose may state, in the spellings it uses."""
    counts = {spec.count for spec in data.MNIST_FILES.values()}
    defined = {
        *(f"{count:,}" for count in counts),
        f"{config.VALIDATION_SIZE:,}",
        str(config.IMAGE_SIZE),
        str(DIGIT_BOX_SIZE),
        str(MAX_UPLOAD_BYTES // 2**20),  # "5 MB"
        str(MAX_IMAGE_PIXELS // 10**6),  # "50 megapixels"
        # the server's deadlines and caps
        *(
            f"{value:g}"
            for value in (ServerLimits().headers_s, ServerLimits().keep_alive_s, guards.BODY_DEADLINE_S)
        ),
        str(ServerLimits().connections_per_client),
        str(guards.UPLOADS_PER_CLIENT),
        # the tarpit: "refused more than 20 times in 10 s waits 2 s"
        *(f"{value:g}" for value in (guards.TARPIT_REFUSALS, guards.TARPIT_WINDOW_S, guards.TARPIT_DELAY_S)),
        f"{MAX_CPU_SECONDS:g}",  # the decoding budget: "about 3 s of CPU, 640 MB of memory, 15 s in all"
        str(MAX_MEMORY_BYTES // 2**20),
        f"{MAX_WALL_SECONDS:g}",
        str(MAX_JPEG_SCANS),  # "a JPEG of over 100 scans"
        str(MAX_NUMBER_DIGITS),  # "at most 32 digits"
    }
    labels = {"0", "255", "3", "5", "3.10", "3.12", "01", "05", "06", "07", "08", "09", "1", "2"}
    labels |= {"400", "403", "408", "413", "422", "503"}  # HTTP statuses
    labels |= {"10", "15", "3.0", "4.0", "256"}  # ten outputs; the 3x5 grid; CC BY-SA 3.0, CC BY 4.0; SHA-256
    return defined | labels


def test_every_number_in_the_readme_prose_is_defined_by_the_code():
    allowed = numbers_the_code_defines()
    unexplained = [
        (line_number, found)
        for line_number, line in prose_lines()
        for found in NUMBER.findall(line)
        if found.rstrip(".,") not in allowed
    ]
    assert unexplained == []


def test_the_readme_states_the_mnist_sizes_the_loader_checks():
    text = " ".join(README.read_text().split())
    train_count, test_count = (data.MNIST_FILES[name].count for name in ("train_images", "test_images"))
    assert f"{train_count:,} training and {test_count:,} test images" in text


def test_the_command_line_example_is_what_the_shipped_model_prints():
    """The README shows `predict seven.png --top 3` on the first test digit (a 7), drawn dark on white."""
    from digit_recog.cli import main  # imports Keras when it predicts

    example = re.search(r"#   seven\.png: (.*)", README.read_text())
    assert example, "the README lost its `predict seven.png --top 3` example"
    return_code, printed = _predict_first_test_digit(main)
    assert return_code == 0
    assert printed.split(": ", 1)[1].strip() == example.group(1).strip()


def _predict_first_test_digit(main) -> tuple[int, str]:
    """Run ``digit-recog predict seven.png --top 3`` on the first test digit, scaled to 280x280."""
    _, (test_images, test_labels) = data.load_mnist()
    assert test_labels[0] == 7
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "seven.png"
        Image.fromarray(255 - test_images[0]).resize((280, 280), Image.BILINEAR).save(path)
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            return_code = main(["predict", str(path), "--top", "3", "--model", str(config.MODEL_PATH)])
    return return_code, output.getvalue()
