"""The augmentation probe: the shape of its report on a tiny budget (no timing asserts here)."""

import json

import pytest

from digit_recog import augment_probe


@pytest.mark.slow
def test_probe_reports_ours_against_stock_for_every_layer_and_the_epoch(tmp_path):
    output = tmp_path / "augment_probe.json"
    report = augment_probe.main(["--images", "256", "--rounds", "1", "--output", str(output)])
    assert json.loads(output.read_text()) == json.loads(json.dumps(report))
    layers = report["layer_seconds_per_55000_images"]
    assert set(layers) == {
        f"{name}{stock}" for name in ("max_filter_3x3", "stroke_width", "blur") for stock in ("", "_stock")
    }
    assert set(report["epoch_seconds"]) == {"default_model", "default_model_stock"}
    assert set(report["speedup_vs_stock"]) == {"max_filter_3x3", "stroke_width", "blur", "default_model"}
    assert all(seconds > 0 for seconds in [*layers.values(), *report["epoch_seconds"].values()])
    assert "cpu_features" in report["machine"]


def test_probe_rejects_a_budget_below_one_batch():
    with pytest.raises(SystemExit):
        augment_probe.main(["--images", "10", "--output", ""])
