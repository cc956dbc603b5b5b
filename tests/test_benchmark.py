"""The preset benchmark: report shape, ratios, its docs table, and the ensemble model it ships."""

import json

import keras
import numpy as np
import pytest
from matplotlib.figure import Figure

from digit_recog import machine, plots
from digit_recog.modeling.cnn import build_cnn
from digit_recog.modeling.ensemble import build_ensemble
from digit_recog.modeling.presets import PRESETS
from lab import benchmark, perf_probe

PRESET_KEYS = {
    "seeds",
    "test_accuracy",
    "test_accuracy_mean",
    "train_seconds",
    "train_seconds_mean",
    "time_ratio_vs_baseline",
    "train_cpu_seconds",
    "train_cpu_seconds_mean",
    "cpu_time_ratio_vs_baseline",
}
INFERENCE_KEYS = {"images_per_second", "latency_ms_p50", "latency_ms_p99"}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One benchmark on a tiny budget: ``(report returned, report written, output folder)``."""
    folder = tmp_path_factory.mktemp("benchmark")
    report = benchmark.main(
        [
            "--presets", "seed", "default",
            "--seeds", "1", "2",
            "--ensemble-preset", "default",
            "--train-subset", "600",
            "--val-subset", "300",
            "--max-epochs", "1",
            "--inference-images", "1024",
            "--inference-rounds", "1",
            "--latency-calls", "10",
            "--output", str(folder / "benchmark.json"),
            "--figure", str(folder / "accuracy_vs_time.png"),
            "--models-dir", str(folder / "models"),
        ]
    )  # fmt: skip
    written = json.loads((folder / "benchmark.json").read_text())
    return report, written, folder


@pytest.mark.slow
def test_report_has_the_agreed_shape(tiny_run):
    report, written, folder = tiny_run
    assert written == json.loads(json.dumps(report))
    assert set(written) == {"machine", "baseline", "presets", "inference", "settings"}
    assert {"cpu_model", "cpu_features", "logical_cores", "python", "tensorflow", "keras", "threads"} <= set(
        written["machine"]
    )
    assert written["baseline"]["preset"] == "seed" and written["baseline"]["train_seconds"] > 0
    assert 0 <= written["baseline"]["test_accuracy"] <= 1
    assert set(written["presets"]) == {"seed", "default", "ensemble"}
    for name, seed_count in (("seed", 1), ("default", 2)):
        summary = written["presets"][name]
        assert set(summary) >= PRESET_KEYS
        assert (
            len(summary["seeds"])
            == len(summary["test_accuracy"])
            == len(summary["train_seconds"])
            == seed_count
        )
        assert len(summary["train_cpu_seconds"]) == seed_count
        numbers = summary["test_accuracy"] + summary["train_seconds"] + summary["train_cpu_seconds"]
        assert all(isinstance(value, float) for value in numbers)
    assert written["presets"]["ensemble"]["members"] == 2
    assert set(written["inference"]) == {"baseline", "seed", "default", "ensemble"}
    for numbers in written["inference"].values():
        assert set(numbers) >= INFERENCE_KEYS and all(numbers[key] > 0 for key in INFERENCE_KEYS)
    assert written["settings"]["train_images"] == 600 and written["settings"]["seeds"]["default"] == [42, 43]
    assert (folder / "accuracy_vs_time.png").stat().st_size > 0
    saved = {path.name for path in (folder / "models").iterdir()}
    assert saved == {
        "seed_seed42.keras",
        "default_seed42.keras",
        "default_seed43.keras",
        "ensemble_default.keras",
    }


@pytest.mark.slow
def test_ratios_are_quotients_of_the_recorded_numbers(tiny_run):
    _, written, _ = tiny_run
    baseline_seconds = written["baseline"]["train_seconds"]
    baseline_cpu_seconds = written["baseline"]["train_cpu_seconds"]
    for name, summary in written["presets"].items():
        mean = "" if name == "ensemble" else "_mean"
        seconds, cpu_seconds = summary[f"train_seconds{mean}"], summary[f"train_cpu_seconds{mean}"]
        assert summary["time_ratio_vs_baseline"] == pytest.approx(seconds / baseline_seconds, rel=1e-3)
        cpu_ratio = summary["cpu_time_ratio_vs_baseline"]
        assert cpu_ratio == pytest.approx(cpu_seconds / baseline_cpu_seconds, rel=1e-3)
        if name != "ensemble":
            assert seconds == pytest.approx(np.mean(summary["train_seconds"]), rel=1e-3)
            assert cpu_seconds == pytest.approx(np.mean(summary["train_cpu_seconds"]), rel=1e-3)
            assert summary["test_accuracy_mean"] == pytest.approx(np.mean(summary["test_accuracy"]), abs=1e-4)
    ensemble = written["presets"]["ensemble"]
    for key in ("train_seconds", "train_cpu_seconds"):
        assert ensemble[key] == pytest.approx(sum(written["presets"]["default"][key]), rel=1e-3)
    inference = written["inference"]
    for name in ("seed", "default", "ensemble"):
        throughput = inference[name]["images_per_second"] / inference["baseline"]["images_per_second"]
        latency = inference[name]["latency_ms_p50"] / inference["baseline"]["latency_ms_p50"]
        assert inference[name]["throughput_ratio_vs_baseline"] == pytest.approx(throughput, rel=1e-3)
        assert inference[name]["latency_ratio_vs_baseline"] == pytest.approx(latency, rel=1e-3)


@pytest.mark.slow
def test_the_baseline_run_is_reused_for_the_same_preset_and_seed(tiny_run):
    _, written, _ = tiny_run
    first_baseline_run = written["baseline"]["train_seconds_runs"][0]
    assert written["presets"]["seed"]["train_seconds"] == [first_baseline_run]


@pytest.mark.slow
def test_baseline_time_is_the_mean_of_a_run_before_and_one_after_the_presets(tiny_run):
    _, written, _ = tiny_run
    runs = written["baseline"]["train_seconds_runs"]
    assert len(runs) == written["settings"]["baseline_runs"] == 2
    assert written["baseline"]["train_seconds"] == pytest.approx(sum(runs) / 2, abs=1e-3)
    cpu_runs = written["baseline"]["train_cpu_seconds_runs"]
    assert len(cpu_runs) == 2 and all(seconds > 0 for seconds in cpu_runs)
    assert written["baseline"]["train_cpu_seconds"] == pytest.approx(sum(cpu_runs) / 2, abs=1e-3)


@pytest.mark.slow
def test_markdown_table_has_a_row_per_recipe_and_the_figure_draws(tiny_run):
    _, written, _ = tiny_run
    table = benchmark.markdown_table(written)
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| ---")]
    assert len(rows) == 1 + 4  # header; baseline, then the presets in the order asked, the ensemble last
    assert rows[1].startswith("| seed (baseline") and rows[2].startswith("| seed | 1 |")
    assert rows[3].startswith("| default | 2 |") and "ensemble of the 2 default models" in rows[4]
    assert isinstance(plots.accuracy_vs_time(written), Figure)


@pytest.mark.slow
def test_markdown_table_mode_reads_the_report_without_training(tiny_run, capsys):
    _, written, folder = tiny_run
    assert benchmark.main(["--table", "--output", str(folder / "benchmark.json")]) == written
    assert capsys.readouterr().out.startswith("| Recipe |")


def test_markdown_table_mode_without_a_report_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="make bench"):
        benchmark.main(["--table", "--output", str(tmp_path / "absent.json")])


def test_update_table_page_replaces_only_between_the_markers(tmp_path):
    readme = tmp_path / "benchmark.md"
    before, after = "# Title\n\nIntro.\n\n", "\n\n## Next\nMore.\n"
    readme.write_text(before + f"{benchmark.TABLE_START}\nold table\n{benchmark.TABLE_END}" + after)
    benchmark.update_table_page("| new | table |\n", readme)
    text = readme.read_text()
    assert text == before + f"{benchmark.TABLE_START}\n| new | table |\n{benchmark.TABLE_END}" + after
    benchmark.update_table_page("| newer |", readme)
    assert "new | table" not in readme.read_text() and readme.read_text().startswith(before)


def test_update_table_page_without_markers_names_the_file(tmp_path):
    readme = tmp_path / "benchmark.md"
    readme.write_text("# No markers here\n")
    with pytest.raises(ValueError, match="benchmark.md.*benchmark-table:start"):
        benchmark.update_table_page("| table |", readme)
    assert readme.read_text() == "# No markers here\n"


def test_cpu_features_keep_the_vector_sets_in_a_fixed_order():
    flags = "fpu sse4_2 avx512f fma avx2 avx avx512_bf16 ht"
    assert machine.cpu_features(flags) == ["avx", "avx2", "fma", "avx512f", "avx512_bf16"]
    assert machine.cpu_features("fpu sse4_2") == [] and machine.cpu_features("") == []


@pytest.mark.parametrize(
    ("features", "label"),
    [
        (["avx", "avx2", "fma", "avx512f"], "AVX-512"),
        (["avx", "avx2"], "AVX2"),
        (["avx"], "AVX"),
        ([], "no AVX"),
    ],
)
def test_widest_vector_unit_names_the_widest_set(features, label):
    assert machine.widest_vector_unit(features) == label


def test_caption_names_the_vector_unit_only_when_the_report_recorded_it():
    report = {
        "machine": {"cpu_model": "Some CPU", "usable_cores": 2, "tensorflow": "2.21.0"},
        "settings": {
            "started_at": "2026-11-25T00:00:00+00:00",
            "train_images": 55_000,
            "test_images": 10_000,
        },
        "baseline": {"train_seconds": 70.0},
    }
    assert "on Some CPU (2 cores), TensorFlow" in benchmark._table_caption(report)
    report["machine"]["cpu_features"] = ["avx", "avx2", "fma"]
    assert "on Some CPU (2 cores, AVX2), TensorFlow" in benchmark._table_caption(report)


def test_unknown_preset_fails_before_training():
    with pytest.raises(KeyError, match="no_such_preset"):
        benchmark.run_benchmark(benchmark.BenchmarkConfig(presets=("no_such_preset",)))


def test_seed_counts_and_quick_paths_from_the_command_line():
    args = benchmark.parse_args(["--quick", "--presets", "seed", "default", "--seeds", "4"])
    bench = benchmark.config_from_args(args)
    assert bench.seeds_for("default") == [42, 43, 44, 45] and bench.quick
    assert bench.output_path.name == "benchmark_quick.json" and bench.max_epochs == 2
    assert bench.preset_for("default", 43).train.epochs == 2


def test_ensemble_averages_its_members_and_round_trips(tmp_path):
    members = [build_cnn(PRESETS["default"].model, seed=seed) for seed in (1, 2)]
    ensemble = build_ensemble(members)
    images = np.random.default_rng(0).integers(0, 256, size=(16, 28, 28, 1)).astype(np.float32)
    expected = np.mean([member.predict(images, verbose=0) for member in members], axis=0)
    np.testing.assert_allclose(ensemble.predict(images, verbose=0), expected, rtol=1e-5, atol=1e-6)
    ensemble.save(tmp_path / "ensemble.keras")
    loaded = keras.saving.load_model(tmp_path / "ensemble.keras")
    np.testing.assert_allclose(loaded.predict(images, verbose=0), expected, rtol=1e-5, atol=1e-6)
    assert [member.name for member in members] == ["digit_recog_cnn", "digit_recog_cnn"]


def test_ensemble_needs_two_members():
    with pytest.raises(ValueError, match="at least 2"):
        build_ensemble([build_cnn(PRESETS["seed"].model)])


def test_epoch_timer_records_wall_and_cpu_seconds_per_epoch():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    timer = perf_probe.EpochTimer()
    model.fit(np.zeros((32, 4)), np.zeros((32, 2)), epochs=2, callbacks=[timer], verbose=0)
    assert len(timer.seconds) == len(timer.cpu_seconds) == 2
    assert all(seconds > 0 for seconds in timer.seconds + timer.cpu_seconds)


def test_every_probe_variant_builds_and_unknown_ones_are_rejected():
    for name, variant in perf_probe.VARIANTS.items():
        assert build_cnn(variant.model, name=name).count_params() > 0
    with pytest.raises(KeyError, match="no_such_variant"):
        perf_probe.ProbeConfig(variants=("no_such_variant",))


def committed_style_report(**default_changes) -> dict:
    """A small report whose ``default`` entry records the current recipe, changed by ``default_changes``."""
    recipe = benchmark.recipe_of(PRESETS["default"])
    recipe["train"].update(default_changes)
    summary = {
        "description": PRESETS["default"].description,
        "recipe": recipe,
        "seeds": [42],
        "test_accuracy": [0.99],
        "train_seconds": [10.0],
        "train_seconds_mean": 10.0,
        "time_ratio_vs_baseline": 1.0,
    }
    ensemble = {
        "preset": "default",
        "members": 1,
        "seeds": [42],
        "test_accuracy": 0.99,
        "train_seconds": 10.0,
    }
    return {
        "machine": {"cpu_model": "Test CPU", "usable_cores": 2, "tensorflow": "2.x"},
        "baseline": {"preset": "seed", "test_accuracy": 0.98, "train_seconds": 10.0},
        "presets": {"default": summary, "ensemble": ensemble | {"time_ratio_vs_baseline": 1.0}},
        "inference": {},
        "settings": {
            "presets": ["default"],
            "train_images": 100,
            "test_images": 10,
            "started_at": "2030-01-01",
        },
    }


def test_a_report_of_the_current_recipe_is_current_and_unmarked():
    report = committed_style_report()
    assert benchmark.is_current(report, "default") and benchmark.is_current(report, "ensemble")
    assert benchmark.EARLIER_VERSION not in benchmark.markdown_table(report)


def test_rows_of_an_earlier_recipe_are_marked_in_the_table_and_caption():
    report = committed_style_report(epochs=PRESETS["default"].train.epochs + 1)
    assert not benchmark.is_current(report, "default") and not benchmark.is_current(report, "ensemble")
    table = benchmark.markdown_table(report)
    assert f"| default ({benchmark.EARLIER_VERSION}) |" in table
    assert "before it last changed" in table


def test_the_cpu_time_column_shows_what_the_report_recorded():
    report = committed_style_report()
    table = benchmark.markdown_table(report)
    assert "| default | 1 | 99.00 % | 10.0 | 1.00 | – |" in table and "CPU time was not recorded" in table
    report["baseline"]["train_cpu_seconds"] = 20.0
    report["presets"]["default"]["cpu_time_ratio_vs_baseline"] = 1.25
    report["presets"]["ensemble"]["cpu_time_ratio_vs_baseline"] = 1.25
    table = benchmark.markdown_table(report)
    assert "| seed (baseline: the original recipe) | 1 | 98.00 % | 10.0 | 1.00 | 1.00 |" in table
    assert "| default | 1 | 99.00 % | 10.0 | 1.00 | 1.25 |" in table and "CPU time:" in table


def test_a_recipe_recorded_before_slant_and_elastic_distortion_existed_is_still_current():
    report = committed_style_report()
    augmentation = report["presets"]["default"]["recipe"]["model"]["augmentation"]
    for setting in ("shear", "elastic_alpha", "elastic_sigma"):
        del augmentation[setting]
    assert benchmark.is_current(report, "default")
    augmentation["rotation"] = 0.5
    assert not benchmark.is_current(report, "default")


def test_reports_without_a_recipe_are_judged_by_their_description():
    report = committed_style_report()
    del report["presets"]["default"]["recipe"]
    assert benchmark.is_current(report, "default")
    report["presets"]["default"]["description"] = "An older description."
    assert not benchmark.is_current(report, "default")


@pytest.mark.slow
def test_each_preset_entry_records_its_recipe(tiny_run):
    _, written, _ = tiny_run
    assert written["presets"]["default"]["recipe"] == benchmark.recipe_of(PRESETS["default"])
    assert benchmark.is_current(written, "default") and benchmark.is_current(written, "ensemble")
