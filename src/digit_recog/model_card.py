"""The shipped model's version and its card, both derived from the model file and the reports.

``models/model_version.json`` records the shipped model's version and SHA-256. ``make run`` ends with
``python -m digit_recog.model_card``: when the model file's SHA-256 no longer matches the record, the
version goes up by one; then ``models/MODEL_CARD.md`` is rendered from the reports of ``03_train``,
``04_evaluate`` and ``08_robustness``. ``--check`` only says whether both are current. ``/health`` and
``digit-recog --version`` report the version of the model they load (``unversioned`` for any other file).
"""

import argparse
import hashlib
import json
import sys
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from digit_recog import __version__, config
from digit_recog.artifacts import (
    MissingArtifactError,
    atomic_path,
    file_sha256,
    parse_json,
    read_json,
    shown_path,
    write_json,
)

UNVERSIONED = "unversioned"


def model_version(model_path: Path = config.MODEL_PATH, record_path: Path | None = None) -> dict:
    """``{"version": ..., "sha256": ...}`` of the model file at ``model_path``, by the record at
    ``record_path`` (default: ``config.MODEL_VERSION_PATH``).

    The version is the recorded one when the file holds the recorded shipped model (the same file, or the
    same network and weights saved again), else ``"unversioned"`` (a model of your own, or a retrained
    model not yet recorded by ``make run``).

    Raises:
        ValueError: naming the record when it is damaged (see :func:`read_version_record`).
    """
    sha256 = file_sha256(model_path)
    record = read_version_record(config.MODEL_VERSION_PATH if record_path is None else record_path)
    same = record.get("sha256") == sha256 or record.get("content_sha256") == content_sha256(model_path)
    return {
        "version": str(record["version"]) if same and "version" in record else UNVERSIONED,
        "sha256": sha256,
    }


VERSION_RECORD_REMEDY = "`digit-recog runs restore` puts the committed one back"


def read_version_record(record_path: Path) -> dict:
    """The version record at ``record_path`` (``{}`` when there is none): a JSON object whose ``version`` is
    a whole number and whose ``sha256`` and ``content_sha256`` are strings, where present.

    Raises:
        ValueError: naming the file when it is a folder, not UTF-8, not JSON, or not such an object.
    """
    record_path = Path(record_path)
    if not record_path.exists():
        return {}
    record = parse_json(record_path, VERSION_RECORD_REMEDY)
    problem = None
    if not isinstance(record, dict):
        problem = f"holds a JSON {type(record).__name__}, not an object"
    elif "version" in record and (
        isinstance(record["version"], bool) or not isinstance(record["version"], int)
    ):
        problem = f"records version {record['version']!r}, not a whole number"
    elif any(not isinstance(record.get(key, ""), str) for key in ("sha256", "content_sha256")):
        problem = "records a SHA-256 that is not a string"
    if problem:
        raise ValueError(f"{shown_path(record_path)} {problem}: {VERSION_RECORD_REMEDY}.")
    return record


def content_sha256(model_path: Path) -> str:
    """The SHA-256 of what a ``.keras`` file holds, its network and weights, ignoring when it was saved.

    Keras stamps each save with the date (in ``metadata.json`` and the zip entries' times), so the same
    weights saved twice make two files: this digest is the same for both. Any other file: its SHA-256.
    """
    if not zipfile.is_zipfile(model_path):
        return file_sha256(model_path)
    digest = hashlib.sha256()
    with zipfile.ZipFile(model_path) as archive:
        for name in sorted(archive.namelist()):
            content = archive.read(name)
            if name == "config.json":
                content = _without_object_ids(json.loads(content)).encode()
            if name != "metadata.json":
                digest.update(name.encode() + b"\0" + content)
    return digest.hexdigest()


def _without_object_ids(config: dict) -> str:
    """``config`` as JSON, its ``shared_object_id`` values (memory addresses of the saving process) renumbered
    in order of appearance, so that the same network saved by two processes reads the same."""
    numbers: dict[int, int] = {}

    def renumber(node):
        if isinstance(node, dict):
            return {
                key: numbers.setdefault(value, len(numbers)) if key == "shared_object_id" else renumber(value)
                for key, value in node.items()
            }
        return [renumber(item) for item in node] if isinstance(node, list) else node

    return json.dumps(renumber(config), sort_keys=True)


def next_record(record: dict, sha256: str, content: str, preset: str, today: str) -> dict:
    """The version record for a shipped model file with ``sha256`` holding ``content`` (see
    :func:`content_sha256`): the same version if it holds the recorded network and weights, else the next
    version, released ``today``."""
    if record.get("content_sha256", content if record.get("sha256") == sha256 else None) == content:
        return record | {"sha256": sha256, "content_sha256": content}
    return {
        "version": int(record.get("version", 0)) + 1,
        "sha256": sha256,
        "content_sha256": content,
        "released": today,
        "preset": preset,
    }


def render_card(record: dict, reports: dict, robustness: pd.DataFrame | None) -> str:
    """The model card as Markdown, from the version record and the reports (``training``, ``metrics``,
    ``other_writers``) and the robustness table, when there is one."""
    training, metrics, other = reports["training"], reports["metrics"], reports.get("other_writers", {})
    train = training.get("train_config", {})
    machine = training.get("machine", {})
    lines = [
        f"# Model card: `{config.MODEL_PATH.name}`, version {record['version']}",
        "",
        "<!-- Written by `python -m digit_recog.model_card` (the last step of `make run`) from the reports; "
        "do not edit by hand. -->",
        "",
        "| | |",
        "|---|---|",
        f"| version | {record['version']} (released {record['released']}, package {__version__}) |",
        f"| SHA-256 | `{record['sha256']}` |",
        f"| recipe | the `{training['preset']}` preset, seed {train.get('seed')} "
        f"({metrics['parameters']:,} parameters) |",
        "| input | raw 0–255 grey levels, shape (N, 28, 28, 1), light ink on black, as MNIST |",
        "| output | ten probabilities, digits 0–9 |",
        "",
        "## Intended use",
        "",
        "Reading one handwritten digit at a time, from MNIST-like images or from pictures brought to MNIST's",
        "layout by `digit_recog.reading.image` (the `digit-recog` command and the web app do this). It is a",
        "teaching and research model. Below thresholds chosen on the validation split the reader answers",
        '"unsure" or "not a digit"; the model itself always returns ten probabilities.',
        "",
        "## Data and split",
        "",
        *_data_lines(training),
        "",
        "## Training",
        "",
        f"{training['epochs_run']} epochs (kept epoch {training['best_epoch']}), "
        f"batch {train.get('batch_size')}, "
        f"Adam with peak learning rate {train.get('learning_rate')}, `{train.get('lr_schedule')}` schedule, "
        f"label smoothing {train.get('label_smoothing')}, in {training['train_seconds']:.0f} s on "
        f"{machine.get('cpu_model', 'an unrecorded machine')}"
        f"{' (' + ', '.join(machine.get('cpu_features', [])) + ')' if machine.get('cpu_features') else ''}.",
        "",
        "## Results",
        "",
        "| measure | value |",
        "|---|---|",
        f"| test accuracy | {metrics['test_accuracy']:.2%} ({metrics['test_errors']} errors in "
        f"{metrics['test_samples']:,}) |",
        f"| validation accuracy | {metrics['validation_accuracy']:.2%} |",
        f"| test loss | {metrics['test_loss']:.3f} |",
    ]
    for name, scored in other.get("sets", {}).items():
        if "shipped" in scored["accuracy"]:
            lines.append(f"| {name} ({scored['images']:,} digits) | {scored['accuracy']['shipped']:.2%} |")
    recall = metrics.get("per_digit_recall", {})
    if recall:
        worst = min(recall, key=recall.get)
        lines.append(f"| lowest per-digit recall | digit {worst}: {recall[worst]:.2%} |")
    lines += ["", "## Calibration", ""]
    lines += _calibration_lines(training, metrics, train.get("label_smoothing"))
    lines += ["", "## Limits and known failures", ""]
    lines += _robustness_limits(robustness)
    lines += _reading_limits(reports.get("reading"))
    lines += [
        "- Writers unlike MNIST's and the two UCI sets' may still be read less well: see the test writers'",
        "  accuracy above.",
        "- Several digits in one image must be read with `--number`; digits that overlap heavily may not be",
        "  cut apart.",
        "",
    ]
    return "\n".join(lines)


def _data_lines(training: dict) -> list[str]:
    """What the model learned from and what chose its epoch, calibration and thresholds."""
    learned_from = training.get("learned_from", f"MNIST ({training['train_images']:,} images)")
    return [
        f"Trained on {learned_from}: {training['train_images']:,} images in all. Validated on "
        f"{training['val_images']:,} held out of the same sets (MNIST's stratified, seeded split and a tenth "
        "of each other-writer training file), which chose the epoch to keep, the calibration and the reading "
        "thresholds. The test images (MNIST's 10,000 and the other writers' test writers) were used only to "
        "report the numbers below ([the data](../docs/data.md)).",
    ]


def _reading_limits(reading: dict | None) -> list[str]:
    """What ``08_robustness`` measured of the verdicts: how many non-digits and real digits they flag."""
    if reading is None:
        return ["- Verdicts not measured for this model: rerun `08_robustness`."]
    verdicts = reading["verdicts"]
    others = [name for name in verdicts if "test writers" in name or name == "scikit-learn digits"]
    flagged = ", ".join(f"{verdicts[name].get('not a digit', 0.0):.2%} of the {name}" for name in others)
    unsure = ", ".join(f"{verdicts[name].get('unsure', 0.0):.1%}" for name in others)
    caught = verdicts["non-digits, all"].get("not a digit", 0.0)
    return [
        f'- "Not a digit" caught {caught:.1%} of {reading["non_digits"]} non-digits of kinds it never saw '
        f"(letters, scribbles, shapes, noise), and {verdicts['MNIST test'].get('not a digit', 0.0):.2%} of "
        f'MNIST\'s test digits, {flagged}; another {unsure} of those came out "unsure".'
    ]


def _calibration_lines(training: dict, metrics: dict, label_smoothing) -> list[str]:
    """How honest the probabilities are: the temperature, and the expected calibration error on test."""
    test = metrics.get("test_calibration")
    if test is None:
        return ["Not measured for this model: rerun `04_evaluate`."]
    measured = (
        f"on the test set the top probability averages {test['mean_confidence']:.1%} against an accuracy of "
        f"{test['accuracy']:.2%} (expected calibration error {test['expected_calibration_error']:.3f})."
    )
    fitted = training.get("calibration")
    if fitted is None:
        return [
            f"Not calibrated. Trained with label smoothing {label_smoothing}, its probabilities are "
            f"deliberately soft: {measured} Read a top probability as a ranking, not a chance of being right."
        ]
    before = fitted["validation_before"]["expected_calibration_error"]
    return [
        f"Calibrated by temperature scaling on the validation split (T = {fitted['temperature']:.3f}, built "
        f"into the model as its `temperature` layer; validation ECE {before:.3f} before): {measured} "
        'The reader answers "not a digit" or "unsure" below thresholds chosen on validation '
        "(`digit_recog_mnist_cnn.thresholds.json`)."
    ]


def _robustness_limits(robustness: pd.DataFrame | None) -> list[str]:
    """One line per perturbation: the strength past which accuracy after preprocessing drops below 90%."""
    if robustness is None:
        return ["- Robustness not measured for this model: rerun `08_robustness`."]
    preprocessed = robustness[robustness["preprocessing"] == "preprocess"]
    lines = []
    for kind, rows in preprocessed.groupby("perturbation", sort=False):
        name, unit = kind.replace("_", " "), rows["unit"].iloc[0]
        failing = rows[rows["accuracy"] < 0.9]
        if failing.empty:
            low, high = rows["strength"].min(), rows["strength"].max()
            lines.append(f"- {name}: at least 90% at every strength tried, {low:g} to {high:g} ({unit}).")
        else:
            first = failing.iloc[0]
            lines.append(
                f"- {name}: {first['accuracy']:.0%} at {first['strength']:g} ({unit}), after preprocessing."
            )
    return lines


def update(check: bool = False) -> int:
    """Bring the version record and the card up to date with the shipped model (or, with ``check``, only
    say whether they are); the exit status: 0 when current or written, 1 when ``check`` finds them stale."""
    record_path, card_path = config.MODEL_VERSION_PATH, config.MODEL_CARD_PATH
    record = read_version_record(record_path)
    reports = {
        "training": read_json(config.TRAINING_SUMMARY_PATH, "03_train.ipynb"),
        "metrics": read_json(config.METRICS_PATH, "04_evaluate.ipynb"),
        "other_writers": read_json(config.OTHER_WRITERS_PATH, "08_robustness.ipynb"),
    }
    if config.READING_REPORT_PATH.is_file():
        reports["reading"] = read_json(config.READING_REPORT_PATH, "08_robustness.ipynb")
    today = datetime.now(timezone.utc).date().isoformat()
    shipped = config.MODEL_PATH
    preset = reports["training"]["preset"]
    new_record = next_record(record, file_sha256(shipped), content_sha256(shipped), preset, today)
    robustness = pd.read_csv(config.ROBUSTNESS_CSV_PATH) if config.ROBUSTNESS_CSV_PATH.is_file() else None
    card = render_card(new_record, reports, robustness)
    current = new_record == record and card_path.is_file() and card_path.read_text() == card
    if check:
        state = "current" if current else "stale: run python -m digit_recog.model_card"
        print(f"{shown_path(card_path)}: {state}")
        return 0 if current else 1
    if new_record != record:
        write_json(new_record, record_path)
        if new_record["version"] != record.get("version"):
            print(f"{shown_path(config.MODEL_PATH)} changed: now version {new_record['version']}")
    with atomic_path(card_path) as tmp_path:
        tmp_path.write_text(card)
    print(f"wrote {shown_path(card_path)} (model version {new_record['version']})")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m digit_recog.model_card [--check]``."""
    parser = argparse.ArgumentParser(
        prog="python -m digit_recog.model_card", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--check", action="store_true", help="only say whether the version and card are current"
    )
    check = parser.parse_args(argv).check
    try:
        return update(check=check)
    except (ValueError, MissingArtifactError) as error:  # a damaged or missing record or report, named
        print(f"model_card: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
