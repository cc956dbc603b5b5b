"""README's Results table: rendered from small fake reports, written between its markers, checked."""

import json

import pytest

from digit_recog.artifacts import MissingArtifactError
from digit_recog.modeling.presets import PRESETS
from lab import readme_blocks, results_table
from lab.benchmark import recipe_of
from lab.results_table import RESULTS_END, RESULTS_START

BEFORE, AFTER = "# Title\n\n## Results\n\nWhere the numbers come from.\n\n", "\n\nProse after.\n"


def fake_reports() -> dict[str, dict]:
    """Reports shaped like the real ones, with numbers no real run wrote."""
    return {
        "metrics": {
            "preset": "default",
            "parameters": 123456,
            "test_accuracy": 0.9876,
            "test_errors": 124,
            "test_samples": 10000,
            "test_loss": 0.3214,
            "validation_accuracy": 0.99104,
        },
        "training": {
            "preset": "default",
            "train_seconds": 87.6,
            "val_images": 5000,
            "train_config": {"seed": 43},
        },
        "other_writers": {
            "sets": {
                "scikit-learn digits": {
                    "images": 1797,
                    "accuracy": {"shipped": 0.95321, "original_recipe": 0.8811},
                },
                "pendigits test writers": {
                    "images": 3498,
                    "accuracy": {"shipped": 0.97, "original_recipe": 0.75},
                },
            }
        },
        "reading": {
            "calibration": [
                {"set": "test", "ECE before": 0.1013, "ECE after": 0.0017},
                {"set": "pendigits test writers", "ECE before": 0.2, "ECE after": 0.0123},
                {"set": "scikit-learn digits", "ECE before": 0.2, "ECE after": 0.0081},
            ],
            "styles_set": {"digits": 312, "accuracy": 0.99679},
            "verdicts": {
                "non-digits, all": {"digit": 0.05, "unsure": 0.04, "not a digit": 0.91},
                "MNIST test": {"digit": 0.99, "unsure": 0.005, "not a digit": 0.0051},
                "pendigits test writers": {"digit": 0.9, "unsure": 0.07, "not a digit": 0.0311},
                "scikit-learn digits": {"digit": 0.9, "unsure": 0.09, "not a digit": 0.0102},
            },
            "non_digits": 480,
        },
        "benchmark": {
            "baseline": {
                "description": "The original CNN (100,000 parameters, Adam).",
                "test_accuracy": 0.975,
                "train_seconds": 60.2,
                "train_seconds_runs": [58.0, 62.4],
            },
            "presets": {
                "default": {
                    "seeds": [42, 43],
                    "train_seconds": [95.0, 91.4],
                    "recipe": recipe_of(PRESETS["default"]),
                }
            },
            "machine": {"cpu_model": "Test CPU", "usable_cores": 4, "gpus": []},
            "settings": {"started_at": "2030-01-02T03:04:05+00:00"},
        },
    }


def write_reports(folder, reports: dict[str, dict]):
    """Write ``reports`` as the JSON files the table reads; return their paths."""
    paths = results_table.ReportPaths.under(folder)
    for name, report in reports.items():
        getattr(paths, name).write_text(json.dumps(report))
    return paths


@pytest.fixture
def project(tmp_path):
    """``(README path, reports folder)``: fake reports and a README with an empty Results block."""
    write_reports(tmp_path, fake_reports())
    readme_path = tmp_path / "README.md"
    readme_path.write_text(f"{BEFORE}{RESULTS_START}\n{RESULTS_END}{AFTER}")
    return readme_path, tmp_path


def rendered_rows(reports: dict[str, dict]) -> dict[str, list[str]]:
    """The rendered table as ``{row label: [shipped cell, original cell]}``."""
    lines = results_table.render(reports).splitlines()
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines if line.startswith("|")]
    return {row[0]: row[1:] for row in rows}


def test_render_quotes_each_number_from_its_report():
    rows = rendered_rows(fake_reports())
    assert rows[""] == [
        "this project (`default` preset, shipped)",
        "the original project's recipe, rerun here",
    ]
    assert rows["test accuracy (10,000 MNIST test images, used once)"] == [
        "**98.76%** (124 errors)",
        "97.50% (benchmark baseline)",
    ]
    assert rows["validation accuracy (5,000 held-out training images)"] == ["99.10%", "–"]
    other_rows = [label for label in rows if label.startswith("accuracy on other writers' digits")]
    assert other_rows == [
        "accuracy on other writers' digits: pendigits test writers (3,498; `08_robustness`)",
        "accuracy on other writers' digits: scikit-learn digits (1,797; `08_robustness`)",
    ]
    assert rows[other_rows[0]] == ["97.00%", "75.00%"] and rows[other_rows[1]] == ["95.32%", "88.11%"]
    assert rows["parameters"] == ["123,456", "100,000"]
    assert rows["training time"] == [
        "88 s (`03_train` run); 91 s in the benchmark",
        "60 s (benchmark, mean of 2 runs)",
    ]


def test_render_captions_the_test_loss_seed_and_benchmark_machine():
    caption = results_table.render(fake_reports()).strip().splitlines()[-1]
    assert caption == (
        "Shipped model: seed 43 of the `default` preset, test loss 0.321. "
        "Benchmark: Test CPU (4 cores, no GPU), 2030-01-02. The `03_train` time is from whichever machine "
        "last ran that notebook: compare it with the benchmark's only if that was the same one."
    )


def test_render_leaves_out_what_the_reports_do_not_have():
    reports = fake_reports()
    del reports["metrics"]["parameters"]
    reports["training"]["train_config"]["seed"] = 7  # a seed the benchmark never trained
    reports["benchmark"]["baseline"]["description"] = "The original CNN."
    del reports["benchmark"]["baseline"]["train_seconds_runs"]
    del reports["other_writers"]["sets"]["scikit-learn digits"]["accuracy"][
        "original_recipe"
    ]  # 08 before bench
    rows = rendered_rows(reports)
    assert rows[next(label for label in rows if "scikit-learn digits (" in label)] == ["95.32%", "–"]
    assert rows["parameters"] == ["–", "–"]
    assert rows["training time"] == ["88 s (`03_train` run)", "60 s (benchmark)"]
    assert rows["accuracy on 312 drawn digits in other writers' styles (`08_robustness`)"] == ["99.68%", "–"]
    assert rows['answered "not a digit": 480 non-digits / MNIST test / pendigits / scikit-learn'] == [
        "91.00% / 0.51% / 3.11% / 1.02%",
        "–",
    ]
    label = "expected calibration error (0 = probabilities mean what they say): MNIST test / pendigits / "
    label += "scikit-learn"
    assert rows[label] == ["0.002 / 0.012 / 0.008 (MNIST test before calibration: 0.101)", "–"]


@pytest.mark.parametrize(
    ("name", "writer"),
    [
        ("metrics", "notebooks/04_evaluate.ipynb"),
        ("training", "notebooks/03_train.ipynb"),
        ("other_writers", "notebooks/08_robustness.ipynb"),
        ("reading", "notebooks/08_robustness.ipynb"),
        ("benchmark", "make bench-shipped"),
    ],
)
def test_a_missing_report_names_the_file_and_what_writes_it(project, name, writer):
    _, folder = project
    paths = results_table.ReportPaths.under(folder)
    getattr(paths, name).unlink()
    file_name = getattr(paths, name).name.replace(".", r"\.")
    with pytest.raises(MissingArtifactError, match=rf"{file_name} does not exist yet: run .*{writer}"):
        results_table.load_reports(paths)


def test_main_names_a_missing_report_without_a_traceback(project, capsys):
    readme_path, folder = project
    results_table.ReportPaths.under(folder).metrics.unlink()
    assert results_table.main(["--readme", str(readme_path), "--reports-dir", str(folder)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("results_table: error: ") and "metrics.json does not exist yet" in error
    assert "Traceback" not in error


def test_a_report_without_a_needed_key_names_the_file_and_the_key(tmp_path):
    reports = fake_reports()
    del reports["metrics"]["test_errors"]
    paths = write_reports(tmp_path, reports)
    with pytest.raises(ValueError, match=r"metrics\.json lacks \['test_errors'\].*04_evaluate"):
        results_table.load_reports(paths)


def test_a_corrupt_report_names_the_file_and_what_writes_it(project):
    _, folder = project
    paths = results_table.ReportPaths.under(folder)
    paths.other_writers.write_text("{not json")
    with pytest.raises(
        ValueError, match=r"other_writers\.json is not valid JSON .*08_robustness\.ipynb again"
    ):
        results_table.load_reports(paths)


def test_main_writes_the_block_between_the_markers_and_keeps_the_rest(project):
    readme_path, folder = project
    assert results_table.main(["--readme", str(readme_path), "--reports-dir", str(folder)]) == 0
    block = results_table.render(fake_reports()).strip("\n")
    assert readme_path.read_text() == f"{BEFORE}{RESULTS_START}\n{block}\n{RESULTS_END}{AFTER}"
    assert results_table.main(["--check", "--readme", str(readme_path), "--reports-dir", str(folder)]) == 0


def test_check_names_the_numbers_that_differ_and_changes_nothing(project, capsys):
    readme_path, folder = project
    arguments = ["--readme", str(readme_path), "--reports-dir", str(folder)]
    results_table.main(arguments)
    retrained = fake_reports()
    retrained["metrics"] |= {"test_accuracy": 0.9875, "test_errors": 125}
    write_reports(folder, retrained)
    written = readme_path.read_text()
    assert results_table.main(["--check", *arguments]) == 1
    assert readme_path.read_text() == written
    message = capsys.readouterr().err
    assert "README has '**98.76%** (124 errors)', the reports give '**98.75%** (125 errors)'" in message
    assert "test accuracy (10,000 MNIST test images, used once), this project" in message
    assert "validation accuracy" not in message


def test_check_fails_on_a_hand_edited_block(project):
    readme_path, folder = project
    arguments = ["--readme", str(readme_path), "--reports-dir", str(folder)]
    results_table.main(arguments)
    readme_path.write_text(readme_path.read_text().replace("| 123,456 |", "| 123,457 |"))
    assert results_table.main(["--check", *arguments]) == 1
    assert results_table.main(arguments) == 0
    assert "| 123,456 |" in readme_path.read_text()


def test_differences_catch_a_change_of_spacing_alone():
    expected = "| | shipped |\n|---|---|\n| parameters | 1,000 |"
    assert results_table.differences(expected, expected) == []
    assert results_table.differences(expected.replace("|---|---|", "| --- | --- |"), expected) == [
        "README has '| --- | --- |', the reports give '|---|---|'"
    ]
    assert results_table.differences("", expected)[0] == "README has '', the reports give '| | shipped |'"


def test_a_readme_without_the_markers_is_named_and_left_alone(project):
    readme_path, folder = project
    readme_path.write_text("# No markers here\n")
    with pytest.raises(ValueError, match=r"README\.md.*results-table:start"):
        results_table.main(["--readme", str(readme_path), "--reports-dir", str(folder)])
    assert readme_path.read_text() == "# No markers here\n"


def test_read_block_returns_what_write_block_wrote(tmp_path):
    path = tmp_path / "notes.md"
    path.write_text("a\n<!-- s -->\nold\n<!-- e -->\nz\n")
    readme_blocks.write_block(path, "<!-- s -->", "<!-- e -->", "\nnew\nlines\n\n")
    assert readme_blocks.read_block(path, "<!-- s -->", "<!-- e -->") == "new\nlines"
    assert path.read_text() == "a\n<!-- s -->\nnew\nlines\n<!-- e -->\nz\n"


def test_training_time_leaves_out_a_benchmark_of_an_earlier_version_of_the_preset():
    reports = fake_reports()
    assert rendered_rows(reports)["training time"][0] == "88 s (`03_train` run); 91 s in the benchmark"
    reports["benchmark"]["presets"]["default"]["recipe"]["train"]["epochs"] += 1
    assert rendered_rows(reports)["training time"][0] == "88 s (`03_train` run)"
