"""The README's Results table, rendered from the reports and written between its markers.

A retrain scores a little differently on another CPU, so the table is never typed by hand: `make run`
rewrites it after the notebooks, from the reports they (and `make bench`) wrote.

    python -m lab.results_table          # write the table into README.md
    python -m lab.results_table --check  # exit 1, naming the numbers that differ, if it is stale
"""

import argparse
import re
import sys
from dataclasses import dataclass, fields
from itertools import zip_longest
from pathlib import Path

from digit_recog import config
from digit_recog.artifacts import MissingArtifactError, parse_json, shown_path
from digit_recog.robustness import OTHER_WRITERS_TEST_SETS
from lab import paths as lab_paths
from lab import readme_blocks
from lab.benchmark import is_current

RESULTS_START = "<!-- results-table:start -->"
RESULTS_END = "<!-- results-table:end -->"
# What writes each report, and the keys the table reads from it.
WRITTEN_BY = {
    "metrics": "notebooks/04_evaluate.ipynb",
    "training": "notebooks/03_train.ipynb",
    "other_writers": "notebooks/08_robustness.ipynb",
    "reading": "notebooks/08_robustness.ipynb",
    "benchmark": "`make bench-shipped`",
}
REQUIRED_KEYS = {
    "metrics": ("preset", "test_accuracy", "test_errors", "test_samples", "test_loss", "validation_accuracy"),
    "training": ("preset", "train_seconds", "val_images", "train_config"),
    "other_writers": ("sets",),
    "reading": ("calibration", "styles_set", "verdicts", "non_digits"),
    "benchmark": ("baseline", "presets", "machine", "settings"),
}


@dataclass(frozen=True)
class ReportPaths:
    """Where the reports the table is rendered from are."""

    metrics: Path = config.METRICS_PATH
    training: Path = config.TRAINING_SUMMARY_PATH
    other_writers: Path = config.OTHER_WRITERS_PATH
    reading: Path = config.READING_REPORT_PATH
    benchmark: Path = lab_paths.SHIPPED_BENCHMARK_PATH

    @classmethod
    def under(cls, reports_dir: Path, lab_reports_dir: Path | None = None) -> "ReportPaths":
        """The same report file names, the product's in ``reports_dir`` and the benchmark's in
        ``lab_reports_dir`` (default: ``reports_dir`` too)."""
        folders = {field.name: Path(reports_dir) for field in fields(cls)}
        folders["benchmark"] = Path(lab_reports_dir or reports_dir)
        return cls(**{name: folder / getattr(cls(), name).name for name, folder in folders.items()})


def load_reports(paths: ReportPaths) -> dict[str, dict]:
    """Each report the table reads (a key of ``WRITTEN_BY``), checked for the keys it needs.

    Raises:
        MissingArtifactError: naming a missing report and what writes it.
        ValueError: naming a report that lacks a key the table needs.
    """
    return {name: read_report(getattr(paths, name), name) for name in WRITTEN_BY}


def read_report(path: Path, name: str) -> dict:
    """One JSON report (``name`` a key of ``WRITTEN_BY``), checked for the keys the table reads."""
    path = Path(path)
    if not path.is_file():
        raise MissingArtifactError(
            f"{shown_path(path)} does not exist yet: run {WRITTEN_BY[name]} first "
            f"(the README's Results table is rendered from it)."
        )
    report = parse_json(path, f"run {WRITTEN_BY[name]} again to rewrite it")
    missing = [key for key in REQUIRED_KEYS[name] if key not in report]
    if missing:
        raise ValueError(
            f"{shown_path(path)} lacks {missing}, which the README's Results table needs: "
            f"run {WRITTEN_BY[name]} again to rewrite it."
        )
    return report


def render(reports: dict[str, dict]) -> str:
    """The Results block: a markdown table (shipped model against the original recipe) and a caption."""
    metrics, training, benchmark = reports["metrics"], reports["training"], reports["benchmark"]
    baseline = benchmark["baseline"]
    rows = [
        (
            "",
            f"this project (`{metrics['preset']}` preset, shipped)",
            "the original project's recipe, rerun here",
        ),
        (
            f"test accuracy ({metrics['test_samples']:,} MNIST test images, used once)",
            f"**{metrics['test_accuracy']:.2%}** ({metrics['test_errors']} errors)",
            f"{baseline['test_accuracy']:.2%} (benchmark baseline)",
        ),
        (
            f"validation accuracy ({training['val_images']:,} held-out training images)",
            f"{metrics['validation_accuracy']:.2%}",
            "–",
        ),
        *_other_writers_rows(reports["other_writers"]),
        *_reading_rows(reports["reading"]),
        ("parameters", _count(metrics.get("parameters")), _count(baseline_parameters(baseline))),
        ("training time", _shipped_training_time(training, benchmark), _baseline_training_time(baseline)),
        *_time_ratio_rows(training, benchmark),
    ]
    table = "\n".join(
        [readme_blocks.markdown_row(rows[0]), "|---|---|---|", *map(readme_blocks.markdown_row, rows[1:])]
    )
    return table + "\n\n" + _caption(metrics, training, benchmark) + "\n"


def _other_writers_rows(other_writers: dict) -> list[tuple[str, str, str]]:
    """Accuracy on each set of test writers, shipped model against the original recipe's."""
    rows = []
    for name in _other_set_names(other_writers["sets"]):
        scored = other_writers["sets"][name]
        rows.append(
            (
                f"accuracy on other writers' digits: {name} ({scored['images']:,}; `08_robustness`)",
                _percent(scored["accuracy"].get("shipped")),
                _percent(scored["accuracy"].get("original_recipe")),
            )
        )
    return rows


def _other_set_names(names) -> list[str]:
    """The sets of other writers in ``names``, in the order 08_robustness reads them."""
    return [name for name in OTHER_WRITERS_TEST_SETS if name in names]


def _reading_rows(reading: dict) -> list[tuple[str, str, str]]:
    """How honestly the shipped model reads: calibration on each test set, the styles set, its verdicts."""
    ece = {row["set"]: row for row in reading["calibration"]}
    verdicts = reading["verdicts"]
    flagged = {name: shares.get("not a digit", 0.0) for name, shares in verdicts.items()}
    others = _other_set_names(verdicts)
    short = " / ".join(["MNIST test", *(name.split()[0] for name in others)])
    styles = reading["styles_set"]
    return [
        (
            f"expected calibration error (0 = probabilities mean what they say): {short}",
            " / ".join(f"{ece[name]['ECE after']:.3f}" for name in ["test", *others] if name in ece)
            + f" (MNIST test before calibration: {ece['test']['ECE before']:.3f})",
            "–",
        ),
        (f"accuracy on {styles['digits']} drawn digits in other writers' styles (`08_robustness`)",
         _percent(styles["accuracy"]), "–"),
        (
            f"answered \"not a digit\": {reading['non_digits']} non-digits / {short}",
            " / ".join(f"{flagged[name]:.2%}" for name in ["non-digits, all", "MNIST test", *others]),
            "–",
        ),
    ]  # fmt: skip


def baseline_parameters(baseline: dict) -> int | None:
    """The baseline's parameter count, as its preset description in the benchmark report states it."""
    match = re.search(r"([\d,]+) parameters", baseline.get("description", ""))
    return int(match.group(1).replace(",", "")) if match else None


def benchmark_seconds(benchmark: dict, preset: str, seed: int) -> float | None:
    """Training seconds of ``preset`` with ``seed`` in the benchmark report; None if it was not run, or
    was run with an earlier version of the preset."""
    summary = benchmark["presets"].get(preset, {})
    if seed not in summary.get("seeds", []) or not is_current(benchmark, preset):
        return None
    return summary["train_seconds"][summary["seeds"].index(seed)]


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.2%}"


def _count(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def _shipped_training_time(training: dict, benchmark: dict) -> str:
    shown = f"{training['train_seconds']:.0f} s (`03_train` run)"
    in_benchmark = benchmark_seconds(benchmark, training["preset"], training["train_config"]["seed"])
    return shown if in_benchmark is None else f"{shown}; {in_benchmark:.0f} s in the benchmark"


def _time_ratio_rows(training: dict, benchmark: dict) -> list[tuple[str, str, str]]:
    """The shipped recipe's training CPU time over the original recipe's, measured in one benchmark run."""
    summary = benchmark["presets"].get(training["preset"], {})
    if "cpu_time_ratio_vs_baseline" not in summary or not is_current(benchmark, training["preset"]):
        return []
    seeds = len(summary["seeds"])
    return [
        (
            f"training CPU time against the original recipe's (benchmark, one run, {seeds} seeds)",
            f"{summary['cpu_time_ratio_vs_baseline']:.2f}x",
            "1x",
        )
    ]


def _baseline_training_time(baseline: dict) -> str:
    runs = len(baseline.get("train_seconds_runs", [baseline["train_seconds"]]))
    averaged = f", mean of {runs} runs" if runs > 1 else ""
    return f"{baseline['train_seconds']:.0f} s (benchmark{averaged})"


def _caption(metrics: dict, training: dict, benchmark: dict) -> str:
    machine, settings = benchmark["machine"], benchmark["settings"]
    gpu = ", no GPU" if machine.get("gpus") == [] else ""
    return (
        f"Shipped model: seed {training['train_config']['seed']} of the `{metrics['preset']}` preset, "
        f"test loss {metrics['test_loss']:.3f}. Benchmark: {machine['cpu_model']} "
        f"({machine['usable_cores']} cores{gpu}), {settings['started_at'][:10]}. The `03_train` time is "
        "from whichever machine last ran that notebook: compare it with the benchmark's only if that was "
        "the same one."
    )


def differences(current: str, expected: str) -> list[str]:
    """What differs between the README's block and the rendered one: a line per table cell or text line."""
    expected_lines = expected.strip("\n").splitlines()
    header = _cells(expected_lines[0]) if expected_lines else []
    found = []
    for was, should in zip_longest(current.strip("\n").splitlines(), expected_lines, fillvalue=""):
        if was != should:
            found += _cell_differences(was, should, header) or [
                f"README has {was!r}, the reports give {should!r}"
            ]
    return found


def _cell_differences(was: str, should: str, header: list[str]) -> list[str]:
    """The cells that differ between two rows of the same label; empty if they are not such rows."""
    was_cells, should_cells = _cells(was), _cells(should)
    if not (len(was_cells) == len(should_cells) == len(header) > 0 and was_cells[0] == should_cells[0]):
        return []
    row = should_cells[0] or "header"
    return [
        f"{row}, {column or 'row label'}: README has {old!r}, the reports give {new!r}"
        for column, old, new in zip(header, was_cells, should_cells)
        if old != new
    ]


def _cells(line: str) -> list[str]:
    line = line.strip()
    return [cell.strip() for cell in line.strip("|").split("|")] if line.startswith("|") else []


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m lab.results_table", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if README is stale")
    parser.add_argument("--readme", type=Path, default=lab_paths.README_PATH, help="the README to write")
    parser.add_argument("--reports-dir", type=Path, help="folder of the reports (default: reports/)")
    parser.add_argument(
        "--lab-reports-dir",
        type=Path,
        help="folder of benchmark.json (default: lab/reports/, or --reports-dir)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Write the Results table into the README, or with ``--check`` compare it; return the exit status."""
    args = parse_args(argv)
    paths = ReportPaths()
    if args.reports_dir or args.lab_reports_dir:
        paths = ReportPaths.under(
            args.reports_dir or config.REPORTS_DIR,
            args.lab_reports_dir or args.reports_dir or lab_paths.REPORTS_DIR,
        )
    try:
        rendered = render(load_reports(paths))
    except (MissingArtifactError, ValueError) as error:  # names the report and what writes it
        print(f"results_table: error: {error}", file=sys.stderr)
        return 2
    stale = differences(readme_blocks.read_block(args.readme, RESULTS_START, RESULTS_END), rendered)
    if not stale:
        print(f"{shown_path(args.readme)}: the Results table already matches the reports")
        return 0
    if args.check:
        print(f"{shown_path(args.readme)}: the Results table differs from the reports", file=sys.stderr)
        print("\n".join(f"  {line}" for line in stale), file=sys.stderr)
        print("Run `python -m lab.results_table` to rewrite it.", file=sys.stderr)
        return 1
    readme_blocks.write_block(args.readme, RESULTS_START, RESULTS_END, rendered)
    print(f"{shown_path(args.readme)}: rewrote the Results table ({len(stale)} differences)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
