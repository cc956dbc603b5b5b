"""The reading benchmark runs end to end in its smoke mode and reports every figure it promises."""

import json

from digit_images import needs_shipped_model
from lab import reading_benchmark


@needs_shipped_model
def test_reading_benchmark_smoke_run_reports_every_part(tmp_path):
    output = tmp_path / "reading_benchmark.json"
    docs = reading_benchmark.DEPLOYMENT_DOC.read_text()
    reading_benchmark.main(["--smoke", "--output", str(output)])
    report = json.loads(output.read_text())
    drawing = report["preprocessing"]["page drawing"]
    for step in ("ink", "layout", "preprocess_array"):
        assert drawing[step]["before_ms"] > 0 and drawing[step]["after_ms"] > 0
    assert report["preprocessing"]["preprocess_image, 280x280 drawing"]["after_ms"] > 0
    for step in ("upload parsing", "decoding", "preprocessing", "model", "JSON body", "preview PNG"):
        assert report["request path"][step] > 0
    assert report["fastest runtime"] in report["runtimes"]
    assert report["auto"]["runtime"] == report["request path"]["runtime"] == "keras"  # no exports when smoke
    for row in report["runtimes"].values():
        assert row["one caller"]["cpu_ms"] > 0 and row["4 callers"]["reads_per_s"] > 0
    assert set(report["goals"]) == set(reading_benchmark.GOALS_MS)
    assert reading_benchmark.DEPLOYMENT_DOC.read_text() == docs  # a smoke run leaves the docs alone


def test_reference_preprocessing_loads_from_the_test_tree():
    reference = reading_benchmark.reference_preprocessing()
    assert reference.DIGIT_BOX_SIZE == 20 and callable(reference.preprocess_array)
