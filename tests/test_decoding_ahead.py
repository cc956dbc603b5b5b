"""Many pictures per round trip to a decoding worker (``DecodingPool.run_many``), decoded ahead of the
model (``reading.ahead``): each picture keeps its own budget and its own outcome, in order, and one that
ends its worker costs the others nothing."""

import threading
import time

import numpy as np
import pytest
from PIL import Image

from digit_images import draw_digit, encode
from digit_recog.reading import ahead
from digit_recog.reading.ahead import DecodedAhead
from digit_recog.reading.budget import Budget, DecodingBudgetError, DecodingPool
from digit_recog.reading.decoding import ImageReadError, NoDigitFoundError
from digit_recog.reading.image import preprocess_image
from lab.hostile_pictures import drawn_seven

SEVEN = encode(draw_digit("7"))
BLANK = encode(Image.new("L", (280, 280), 255))
CORRUPT = b"\x89PNG\r\n\x1a\n truncated"


def test_many_pictures_in_one_round_trip_come_back_in_order_each_refusal_in_its_place():
    pictures = [(SEVEN, "a.png"), (CORRUPT, "b.png"), (BLANK, "c.png"), (encode(draw_digit("1")), "d.png")]
    with DecodingPool(1) as pool:
        worker = pool.worker_pids()
        outcomes = pool.run_many("digit", pictures)
        assert pool.worker_pids() == worker  # a refused picture does not cost the worker
    np.testing.assert_array_equal(outcomes[0], preprocess_image(SEVEN))
    assert isinstance(outcomes[1], ImageReadError) and "b.png" in str(outcomes[1])
    assert isinstance(outcomes[2], NoDigitFoundError) and str(outcomes[2]).startswith("c.png: no digit found")
    np.testing.assert_array_equal(outcomes[3], preprocess_image(pictures[3][0]))


def test_a_picture_past_the_cpu_budget_is_refused_and_the_rest_are_read_by_a_fresh_worker():
    costly = encode(drawn_seven(7000), "PNG", compress_level=1)  # about a second of CPU
    pictures = [(SEVEN, "a.png"), (costly, "big.png"), (SEVEN, "c.png"), (SEVEN, "d.png")]
    with DecodingPool(1, Budget(cpu_seconds=0.05)) as pool:
        worker = pool.worker_pids()
        outcomes = pool.run_many("digit", pictures)
        assert pool.worker_pids() != worker
    assert isinstance(outcomes[1], DecodingBudgetError)
    assert str(outcomes[1]).startswith("big.png needs more than 0.05 s of CPU time")
    for index in (0, 2, 3):
        assert outcomes[index].shape == (28, 28)


def test_a_picture_past_the_memory_budget_is_refused_and_the_rest_are_read():
    big = encode(Image.new("L", (7000, 7000), 255), "PNG", compress_level=1)  # 49 MB decoded
    with DecodingPool(1, Budget(memory_bytes=40 * 2**20)) as pool:
        outcomes = pool.run_many("digit", [(SEVEN, "a.png"), (big, "big.png"), (SEVEN, "c.png")])
    assert (
        str(outcomes[1])
        == "big.png needs more memory to decode than the 40 MB a picture may take; resize it first"
    )
    assert outcomes[0].shape == outcomes[2].shape == (28, 28)


def test_the_wall_clock_budget_is_per_picture_not_per_round_trip():
    picture = encode(drawn_seven(1500), "PNG")
    with DecodingPool(1) as pool:
        started = time.perf_counter()
        pool.run("digit", picture, "one.png")
        one = time.perf_counter() - started
        pool.budget = Budget(wall_seconds=max(1.0, 10 * one))
        count = int(3 * pool.budget.wall_seconds / one) + 1  # together three times the budget
        outcomes = pool.run_many("digit", [(picture, f"{index}.png") for index in range(count)])
    assert all(not isinstance(outcome, Exception) for outcome in outcomes)


def test_decoding_starts_when_made_and_comes_back_in_the_order_of_the_paths(tmp_path, monkeypatch):
    monkeypatch.setattr(ahead, "CHUNK_SIZE", 3)
    contents = [SEVEN, CORRUPT, SEVEN, BLANK, SEVEN, SEVEN, CORRUPT]
    paths = []
    for index, content in enumerate(contents):
        paths.append(tmp_path / f"{index}.png")
        paths[-1].write_bytes(content)
    paths.append(tmp_path / "missing.png")
    with DecodingPool(2) as pool:
        asked = threading.Event()
        run_many = pool.run_many
        monkeypatch.setattr(pool, "run_many", lambda *job: (asked.set(), run_many(*job))[1])
        with DecodedAhead(pool, paths) as decoded:
            assert asked.wait(10)  # before anyone iterates: the workers decode while a model loads
            outcomes = list(decoded)
    kinds = [type(outcome).__name__ for outcome in outcomes]
    assert kinds == [
        "ndarray",
        "ImageReadError",
        "ndarray",
        "NoDigitFoundError",
        "ndarray",
        "ndarray",
        "ImageReadError",
        "ImageReadError",
    ]
    assert "missing.png" in str(outcomes[-1])


def test_closing_drops_the_chunks_not_started(tmp_path, monkeypatch):
    monkeypatch.setattr(ahead, "CHUNK_SIZE", 1)
    path = tmp_path / "seven.png"
    path.write_bytes(SEVEN)
    with DecodingPool(1) as pool:
        calls = []
        run_many = pool.run_many
        monkeypatch.setattr(pool, "run_many", lambda *job: (calls.append(1), run_many(*job))[1])
        DecodedAhead(pool, [path] * 2000).close()
    assert 0 < len(calls) < 2000


@pytest.mark.parametrize("size", [0, 1])
def test_no_pictures_or_one(tmp_path, size):
    path = tmp_path / "seven.png"
    path.write_bytes(SEVEN)
    with DecodingPool(1) as pool, DecodedAhead(pool, [path] * size) as decoded:
        assert len(list(decoded)) == size
