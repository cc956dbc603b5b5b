"""Benchmark the presets against the original recipe: test accuracy, training time, inference speed.

One run trains the baseline (the ``seed`` preset, the original project's recipe), trains each
requested preset with several seeds, trains the baseline again (every time ratio divides by the mean
of its two training times, so a machine that speeds up or slows down during the run skews the ratios
less), averages the seed models of one preset into an ensemble (no extra training), and times
inference of every model against the baseline on the same machine in the same run. Models are
chosen on the validation split only; the test set only reports.

    python -m lab.benchmark                 # the full benchmark (95 minutes on 2 AVX2 cores)
    python -m lab.benchmark --quick         # a few minutes; writes lab/reports/benchmark_quick.json
    python -m lab.benchmark --table  # print the markdown table of an existing run
"""

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import keras
import numpy as np
from sklearn.model_selection import train_test_split

from digit_recog import config, data, drawn, robustness, training_sets
from digit_recog.artifacts import MissingArtifactError, shown_path, write_json
from digit_recog.augment import Augmentation
from digit_recog.machine import machine_info, widest_vector_unit
from digit_recog.modeling import train
from digit_recog.modeling.cnn import build_cnn
from digit_recog.modeling.ensemble import build_ensemble
from digit_recog.modeling.export import save_model
from digit_recog.modeling.presets import PRESETS, Preset, get_preset
from digit_recog.reading import predict
from digit_recog.reading.predict import to_model_input
from lab import paths, readme_blocks

BASELINE_PRESET = "seed"
DEFAULT_PRESETS = ("fast", "default", "many_writers", "best")
DEFAULT_SEED_COUNTS = {"fast": 5, "default": 3, "many_writers": 3, "best": 3}
ENSEMBLE_KEY = "ensemble"
EARLIER_VERSION = "earlier version"
TABLE_START = "<!-- benchmark-table:start -->"
TABLE_END = "<!-- benchmark-table:end -->"
TABLE_COLUMNS = (
    "Recipe",
    "Seeds",
    "Test accuracy, mean (min–max)",
    "Train s, mean",
    "× baseline time",
    "× baseline CPU time",
    "Images/s",
    "p50 ms",
)


@dataclass(frozen=True)
class BenchmarkConfig:
    """Everything one benchmark run needs to know; ``None`` for a subset means all the data.

    ``seed_counts`` maps a preset name to how many seeds to train (``first_seed``, ``first_seed + 1``,
    ...); presets missing from it get ``fallback_seed_count``. Epochs are each preset's own, times
    ``epochs_scale``, capped at ``max_epochs``. Inference is timed in ``inference_rounds`` rounds, the
    models taking turns: a ``predict`` pass over ``inference_images`` test images (the fastest round
    counts) and ``latency_calls / inference_rounds`` single-image calls each (all pooled).
    ``figure_path=None`` skips the figure, ``models_dir=None`` saving the models.
    """

    presets: tuple[str, ...] = DEFAULT_PRESETS
    seed_counts: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_SEED_COUNTS))
    fallback_seed_count: int = 3
    baseline_preset: str = BASELINE_PRESET
    baseline_runs: int = 2
    ensemble_preset: str = "best"
    first_seed: int = config.SEED
    train_subset: int | None = None
    val_subset: int | None = None
    epochs_scale: float = 1.0
    max_epochs: int | None = None
    inference_images: int = 10_240
    inference_batch_size: int = 512
    inference_rounds: int = 3
    latency_calls: int = 200
    quick: bool = False
    output_path: Path = paths.BENCHMARK_PATH
    figure_path: Path | None = paths.ACCURACY_VS_TIME_FIGURE
    models_dir: Path | None = config.BENCHMARK_MODELS_DIR
    verbose: int = 0

    def __post_init__(self):
        counts = {"inference_images": self.inference_images, "inference_rounds": self.inference_rounds}
        counts |= {"latency_calls": self.latency_calls, "epochs_scale": self.epochs_scale}
        counts |= {"train_subset": self.train_subset or 1, "val_subset": self.val_subset or 1}
        counts |= {"fallback_seed_count": self.fallback_seed_count, "baseline_runs": self.baseline_runs}
        if min(counts.values()) <= 0 or min(self.seed_counts.values(), default=1) < 1:
            raise ValueError(
                f"benchmark settings must be positive, got {counts} and seeds {self.seed_counts}."
            )

    def seeds_for(self, preset_name: str) -> list[int]:
        """The training seeds of ``preset_name``."""
        count = self.seed_counts.get(preset_name, self.fallback_seed_count)
        return [self.first_seed + offset for offset in range(count)]

    def preset_for(self, preset_name: str, seed: int) -> Preset:
        """The preset with this run's seed and (scaled, capped) number of epochs."""
        epochs = max(1, round(get_preset(preset_name).train.epochs * self.epochs_scale))
        if self.max_epochs is not None:
            epochs = min(epochs, self.max_epochs)
        return get_preset(preset_name, epochs=epochs, seed=seed)

    def settings(self) -> dict:
        """This configuration as JSON-ready values, for the report."""
        settings = asdict(self)
        settings["presets"] = list(self.presets)
        settings["seeds"] = {name: self.seeds_for(name) for name in self.presets}
        for key in ("output_path", "figure_path", "models_dir"):
            settings[key] = None if settings[key] is None else shown_path(settings[key])
        return settings


def quick_config(**overrides) -> BenchmarkConfig:
    """A run of a few minutes: 6,000 training images, at most 2 epochs, 2 seeds a preset.

    It writes to its own report, figure and model folder, so it never overwrites a real run.
    """
    quick = BenchmarkConfig(
        seed_counts={},
        fallback_seed_count=2,
        train_subset=6_000,
        val_subset=2_000,
        max_epochs=2,
        inference_images=2_048,
        inference_rounds=2,
        latency_calls=100,
        quick=True,
        output_path=paths.BENCHMARK_QUICK_PATH,
        figure_path=paths.ACCURACY_VS_TIME_QUICK_FIGURE,
        models_dir=paths.BENCHMARK_QUICK_MODELS_DIR,
    )
    return replace(quick, **overrides)


@dataclass(frozen=True)
class BenchmarkData:
    """Training and validation images (from the training set) and the test set, for reporting only."""

    train_images: np.ndarray
    train_labels: np.ndarray
    val_images: np.ndarray
    val_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


@dataclass
class TrainedModel:
    """One trained model of the run and what it scored."""

    preset: str
    seed: int
    model: keras.Model
    result: train.TrainingResult
    test_accuracy: float
    other_writers_accuracy: dict[str, float] = field(
        default_factory=dict
    )  # on each test set of other writers


def load_benchmark_data(bench: BenchmarkConfig) -> BenchmarkData:
    """MNIST with the project's held-out validation split, each part shrunk to its subset size."""
    (images, labels), (test_images, test_labels) = data.load_mnist()
    train_indices, val_indices = data.split_train_validation(labels, config.VALIDATION_SIZE, config.SEED)
    train_indices = stratified_subset(train_indices, labels, bench.train_subset, config.SEED)
    val_indices = stratified_subset(val_indices, labels, bench.val_subset, config.SEED)
    return BenchmarkData(
        train_images=images[train_indices],
        train_labels=labels[train_indices],
        val_images=images[val_indices],
        val_labels=labels[val_indices],
        test_images=test_images,
        test_labels=test_labels,
    )


def stratified_subset(indices: np.ndarray, labels: np.ndarray, size: int | None, seed: int) -> np.ndarray:
    """``size`` of ``indices``, keeping each digit's share; all of them when ``size`` is None or larger."""
    if size is None or size >= len(indices):
        return indices
    chosen, _ = train_test_split(indices, train_size=size, stratify=labels[indices], random_state=seed)
    return np.sort(chosen)


def train_one(
    preset_name: str, seed: int, bench: BenchmarkConfig, bench_data: BenchmarkData, save: bool = True
) -> TrainedModel:
    """Train ``preset_name`` with ``seed`` on the benchmark data and score it on the test set.

    With ``save`` (and a ``bench.models_dir``), the model is saved as ``<preset>_seed<seed>.keras``.
    """
    preset = bench.preset_for(preset_name, seed)
    train_images, train_labels, val_images, val_labels = with_other_writers(
        bench_data, preset.train.training_sets, bench.train_subset
    )
    sets = "+".join(preset.train.training_sets)
    log(
        f"training {preset_name} seed {seed}: up to {preset.train.epochs} epochs on "
        f"{len(train_images)} images ({sets})"
    )
    model = build_cnn(preset.model, name=f"{preset_name}_seed{seed}", seed=seed)
    result = train.train_model(
        model,
        train_images,
        train_labels,
        val_images,
        val_labels,
        preset.train,
        verbose=bench.verbose,
        outlier_images=drawn.outlier_exposure_images(preset.train.outlier_images),
    )
    accuracy = predict.accuracy(model, bench_data.test_images, bench_data.test_labels)
    others = {
        name: round(predict.accuracy(model, images, labels), 5)
        for name, (images, labels) in robustness.other_writers_test_sets().items()
    }
    log(
        f"  {preset_name} seed {seed}: test accuracy {accuracy:.4f}, other writers {others}, "
        f"{result.train_seconds:.1f} s"
    )
    if save and bench.models_dir is not None:
        save_model(model, saved_model_path(preset_name, seed, bench.models_dir))
    return TrainedModel(preset_name, seed, model, result, accuracy, others)


def with_other_writers(bench_data: BenchmarkData, sets: tuple[str, ...], train_subset: int | None):
    """``(train_images, train_labels, val_images, val_labels)``: the benchmark's MNIST parts when ``sets``
    holds "mnist", plus the training and validation parts of every other-writer set in ``sets`` (a tenth of
    ``train_subset`` of each in a quick run)."""
    parts = []
    if data.MNIST in sets:
        parts.append(
            (bench_data.train_images, bench_data.train_labels, bench_data.val_images, bench_data.val_labels)
        )
    subset = max(1, train_subset // 10) if train_subset else None
    parts += [training_sets.other_writers_parts(name, subset) for name in sets if name != data.MNIST]
    return tuple(np.concatenate([part[index] for part in parts]) for index in range(4))


def saved_model_path(preset_name: str, seed: int, models_dir: Path = config.BENCHMARK_MODELS_DIR) -> Path:
    """Where a benchmark run saves the model of ``preset_name`` trained with ``seed``."""
    return Path(models_dir) / f"{preset_name}_seed{seed}.keras"


def train_all(bench: BenchmarkConfig, bench_data: BenchmarkData) -> tuple[list[TrainedModel], dict]:
    """Train the baseline, every preset with each of its seeds, then the baseline again.

    Returns ``([baseline runs], {preset: [TrainedModel, ...]})``. The baseline is trained
    ``bench.baseline_runs`` times, first before the presets and the rest after them, so that a change in
    the machine's speed during a long run shows and is averaged out of the ratios. A preset run identical
    to the first baseline run (same preset and seed) reuses it.
    """
    trained: dict[tuple[str, int], TrainedModel] = {}

    def cached(preset_name: str, seed: int) -> TrainedModel:
        if (preset_name, seed) not in trained:
            trained[preset_name, seed] = train_one(preset_name, seed, bench, bench_data)
        return trained[preset_name, seed]

    baseline = cached(bench.baseline_preset, bench.first_seed)
    runs = {name: [cached(name, seed) for seed in bench.seeds_for(name)] for name in bench.presets}
    repeats = [
        train_one(bench.baseline_preset, bench.first_seed, bench, bench_data, save=False)
        for _ in range(bench.baseline_runs - 1)
    ]
    return [baseline, *repeats], runs


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator`` rounded to 4 decimals: how every ratio of the report is made."""
    return round(numerator / denominator, 4)


def baseline_summary(baselines: list[TrainedModel], bench: BenchmarkConfig) -> dict:
    """Recipe and test accuracy of the first baseline run; training time (wall clock and CPU) as the mean of
    all of them."""
    baseline = baselines[0]
    seconds = [round(run.result.train_seconds, 3) for run in baselines]
    cpu_seconds = [round(run.result.train_cpu_seconds, 3) for run in baselines]
    return {
        "preset": baseline.preset,
        "description": PRESETS[baseline.preset].description,
        "seed": baseline.seed,
        "epochs": bench.preset_for(baseline.preset, baseline.seed).train.epochs,
        "epochs_run": baseline.result.epochs_run,
        "best_epoch": baseline.result.best_epoch,
        "train_seconds": round(statistics.fmean(seconds), 3),
        "train_seconds_runs": seconds,
        "train_cpu_seconds": round(statistics.fmean(cpu_seconds), 3),
        "train_cpu_seconds_runs": cpu_seconds,
        "test_accuracy": round(baseline.test_accuracy, 5),
        "other_writers_accuracy": baseline.other_writers_accuracy,
    }


def preset_summary(runs: list[TrainedModel], baseline: dict, bench: BenchmarkConfig) -> dict:
    """Per-seed test accuracy and training time of one preset, their means, and time against ``baseline``
    (its :func:`baseline_summary`), by the wall clock and by CPU time."""
    accuracies = [round(run.test_accuracy, 5) for run in runs]
    seconds = [round(run.result.train_seconds, 3) for run in runs]
    seconds_mean = round(statistics.fmean(seconds), 3)
    cpu_seconds = [round(run.result.train_cpu_seconds, 3) for run in runs]
    cpu_seconds_mean = round(statistics.fmean(cpu_seconds), 3)
    return {
        "description": PRESETS[runs[0].preset].description,
        "recipe": recipe_of(PRESETS[runs[0].preset]),
        "epochs": bench.preset_for(runs[0].preset, runs[0].seed).train.epochs,
        "seeds": [run.seed for run in runs],
        "epochs_run": [run.result.epochs_run for run in runs],
        "test_accuracy": accuracies,
        "test_accuracy_mean": round(statistics.fmean(accuracies), 5),
        "other_writers_accuracy": {
            name: [run.other_writers_accuracy[name] for run in runs]
            for name in runs[0].other_writers_accuracy
        },
        "other_writers_accuracy_mean": {
            name: round(statistics.fmean(run.other_writers_accuracy[name] for run in runs), 5)
            for name in runs[0].other_writers_accuracy
        },
        "train_seconds": seconds,
        "train_seconds_mean": seconds_mean,
        "time_ratio_vs_baseline": ratio(seconds_mean, baseline["train_seconds"]),
        "train_cpu_seconds": cpu_seconds,
        "train_cpu_seconds_mean": cpu_seconds_mean,
        "cpu_time_ratio_vs_baseline": ratio(cpu_seconds_mean, baseline["train_cpu_seconds"]),
    }


def recipe_of(preset: Preset) -> dict:
    """What ``preset`` trains, as JSON: its model and training configurations, without the seed."""
    train_config = {key: value for key, value in asdict(preset.train).items() if key != "seed"}
    return json.loads(json.dumps({"model": asdict(preset.model), "train": train_config}))


def is_current(benchmark: dict, name: str) -> bool:
    """Whether ``benchmark`` measured preset ``name`` (or the ensemble) as the package defines it now.

    Reports record each preset's recipe; older ones only its description, which is compared instead.
    """
    summary = benchmark["presets"][name]
    if name == ENSEMBLE_KEY:
        return is_current(benchmark, summary["preset"])
    if name not in PRESETS:
        return False
    if "recipe" in summary:
        return with_augmentation_defaults(summary["recipe"]) == recipe_of(PRESETS[name])
    return summary.get("description") == PRESETS[name].description


def with_augmentation_defaults(recipe: dict) -> dict:
    """``recipe`` with any setting it predates at its default, which is what it trained with: slant and
    elastic distortion of the augmentation, and the training sets (MNIST alone)."""
    recipe = recipe | {"train": {"training_sets": [data.MNIST]} | recipe["train"]}
    augmentation = recipe["model"].get("augmentation")
    if augmentation is None:
        return recipe
    defaults = json.loads(json.dumps(asdict(Augmentation())))
    return recipe | {"model": recipe["model"] | {"augmentation": defaults | augmentation}}


def ensemble_of(runs: list[TrainedModel], baseline: dict, bench: BenchmarkConfig, bench_data: BenchmarkData):
    """Average the seed models of one preset; return ``(model, summary)``, or ``(None, None)`` under 2."""
    if len(runs) < 2:
        log(f"no ensemble: {bench.ensemble_preset!r} has {len(runs)} trained model(s), 2 are needed")
        return None, None
    model = build_ensemble([run.model for run in runs])
    accuracy = round(predict.accuracy(model, bench_data.test_images, bench_data.test_labels), 5)
    log(f"ensemble of {len(runs)} {bench.ensemble_preset}: test accuracy {accuracy:.4f}")
    if bench.models_dir is not None:
        save_model(model, Path(bench.models_dir) / f"ensemble_{bench.ensemble_preset}.keras")
    # No training of its own: what it costs is the training of its members.
    train_seconds = round(sum(run.result.train_seconds for run in runs), 3)
    cpu_seconds = round(sum(run.result.train_cpu_seconds for run in runs), 3)
    summary = {
        "preset": bench.ensemble_preset,
        "members": len(runs),
        "seeds": [run.seed for run in runs],
        "test_accuracy": accuracy,
        "train_seconds": train_seconds,
        "time_ratio_vs_baseline": ratio(train_seconds, baseline["train_seconds"]),
        "train_cpu_seconds": cpu_seconds,
        "cpu_time_ratio_vs_baseline": ratio(cpu_seconds, baseline["train_cpu_seconds"]),
    }
    return model, summary


def measure_all_inference(
    models: dict[str, keras.Model], test_images: np.ndarray, bench: BenchmarkConfig
) -> dict:
    """Throughput and single-image latency of each model, with ratios to ``models["baseline"]``.

    The models take turns, round after round, so a burst of other work on the machine slows them all
    alike instead of whichever model happened to be measured at that moment.
    """
    log(f"timing inference of {', '.join(models)} in {bench.inference_rounds} rounds")
    copies = int(np.ceil(bench.inference_images / len(test_images)))
    images = to_model_input(np.concatenate([test_images] * copies)[: bench.inference_images])
    batch_size, image = bench.inference_batch_size, images[:1]
    for model in models.values():  # warm-up: builds the predict functions and the thread pools
        model.predict(images[:batch_size], batch_size=batch_size, verbose=0)
        _latencies_ms(model, image, calls=10)
    best_seconds = dict.fromkeys(models, float("inf"))
    latencies: dict[str, list[float]] = {name: [] for name in models}
    calls_per_round = max(1, bench.latency_calls // bench.inference_rounds)
    for _ in range(bench.inference_rounds):
        for name, model in models.items():
            seconds = seconds_to_run(
                lambda model=model: model.predict(images, batch_size=batch_size, verbose=0)
            )
            best_seconds[name] = min(best_seconds[name], seconds)
            latencies[name] += _latencies_ms(model, image, calls_per_round)
    measured = {
        name: _inference_numbers(len(images) / best_seconds[name], latencies[name]) for name in models
    }
    return _with_inference_ratios(measured)


def _latencies_ms(model: keras.Model, image: np.ndarray, calls: int) -> list[float]:
    """Milliseconds of ``calls`` single-image ``predict_on_batch`` calls.

    ``predict_on_batch`` runs the compiled predict function, as a service would; an eager
    ``model(image)`` call mostly measures Python dispatch, layer by layer (several times slower).
    """
    return [1000 * seconds_to_run(lambda: model.predict_on_batch(image)) for _ in range(calls)]


def _inference_numbers(images_per_second: float, latencies_ms: list[float]) -> dict:
    return {
        "images_per_second": round(images_per_second, 1),
        "latency_ms_p50": round(float(np.percentile(latencies_ms, 50)), 3),
        "latency_ms_p99": round(float(np.percentile(latencies_ms, 99)), 3),
    }


def _with_inference_ratios(measured: dict[str, dict]) -> dict[str, dict]:
    """Add each model's throughput and median latency as multiples of the baseline's."""
    baseline = measured["baseline"]
    for name, numbers in measured.items():
        if name != "baseline":
            numbers["throughput_ratio_vs_baseline"] = ratio(
                numbers["images_per_second"], baseline["images_per_second"]
            )
            numbers["latency_ratio_vs_baseline"] = ratio(
                numbers["latency_ms_p50"], baseline["latency_ms_p50"]
            )
    return measured


def check_presets(bench: BenchmarkConfig) -> None:
    """Fail before any training if a preset name is unknown."""
    unknown = sorted({bench.baseline_preset, *bench.presets} - set(PRESETS))
    if unknown:
        raise KeyError(f"unknown preset(s) {unknown}; the presets are {sorted(PRESETS)}.")
    if ENSEMBLE_KEY in bench.presets or "baseline" in bench.presets:
        raise ValueError(f"{ENSEMBLE_KEY!r} and 'baseline' are report keys, not preset names.")


def run_benchmark(bench: BenchmarkConfig) -> dict:
    """Train, score and time everything; write the JSON report (and figure, models) and return it."""
    check_presets(bench)
    started_at, started = _now(), time.perf_counter()
    machine = machine_info() | {"load_average_start": _load_average()}
    bench_data = load_benchmark_data(bench)
    baselines, runs = train_all(bench, bench_data)
    baseline, baseline_report = baselines[0], baseline_summary(baselines, bench)
    presets = {name: preset_summary(group, baseline_report, bench) for name, group in runs.items()}
    timed = {"baseline": baseline.model} | {name: preset_runs[0].model for name, preset_runs in runs.items()}
    ensemble, ensemble_report = ensemble_of(
        runs.get(bench.ensemble_preset, []), baseline_report, bench, bench_data
    )
    if ensemble is not None:
        presets[ENSEMBLE_KEY], timed[ENSEMBLE_KEY] = ensemble_report, ensemble
    inference = measure_all_inference(timed, bench_data.test_images, bench)
    machine["load_average_end"] = _load_average()
    benchmark = {
        "machine": machine,
        "baseline": baseline_report,
        "presets": presets,
        "inference": inference,
        "settings": bench.settings()
        | {
            "train_images": len(bench_data.train_images),
            "val_images": len(bench_data.val_images),
            "test_images": len(bench_data.test_images),
            "throughput_method": f"model.predict at batch {bench.inference_batch_size}, best round",
            "latency_method": "model.predict_on_batch on one image, all rounds pooled",
            "started_at": started_at,
            "wall_seconds": round(time.perf_counter() - started, 1),
        },
    }
    save_outputs(benchmark, bench)
    return benchmark


def save_outputs(benchmark: dict, bench: BenchmarkConfig) -> None:
    """Write the JSON report atomically and, when a path is set, the accuracy-against-time figure."""
    write_json(benchmark, bench.output_path)
    log(f"wrote {bench.output_path}")
    if bench.figure_path is not None:
        import matplotlib.pyplot as plt

        from digit_recog import plots

        figure = plots.accuracy_vs_time(benchmark)
        plots.save_figure(figure, bench.figure_path)
        plt.close(figure)
        log(f"wrote {bench.figure_path}")


def markdown_table(benchmark: dict) -> str:
    """A markdown table of a benchmark report: one row for the baseline, each preset and the ensemble."""
    inference, baseline = benchmark["inference"], benchmark["baseline"]
    rows = [
        readme_blocks.markdown_row(TABLE_COLUMNS),
        readme_blocks.markdown_row(["---"] + ["---:"] * (len(TABLE_COLUMNS) - 1)),
        _table_row(
            f"{baseline['preset']} (baseline: the original recipe)",
            1,
            [baseline["test_accuracy"]],
            baseline["train_seconds"],
            (1.0, 1.0 if "train_cpu_seconds" in baseline else None),
            inference.get("baseline"),
        ),
    ]
    for name in _preset_order(benchmark):
        summary = benchmark["presets"][name]
        if name == ENSEMBLE_KEY:
            label = f"ensemble of the {summary['members']} {summary['preset']} models (train s: all of them)"
            accuracies, seconds = [summary["test_accuracy"]], summary["train_seconds"]
        else:
            label, accuracies, seconds = name, summary["test_accuracy"], summary["train_seconds_mean"]
        if not is_current(benchmark, name):
            label += f" ({EARLIER_VERSION})"
        seeds = len(summary["seeds"])
        ratios = (summary["time_ratio_vs_baseline"], summary.get("cpu_time_ratio_vs_baseline"))
        rows.append(_table_row(label, seeds, accuracies, seconds, ratios, inference.get(name)))
    return "\n".join(rows) + "\n\n" + _table_caption(benchmark) + "\n"


def _preset_order(benchmark: dict) -> list[str]:
    """Presets in the order they were asked for (the JSON file sorts its keys), the ensemble last."""
    asked = [name for name in benchmark["settings"].get("presets", []) if name in benchmark["presets"]]
    rest = sorted(set(benchmark["presets"]) - set(asked) - {ENSEMBLE_KEY})
    return asked + rest + ([ENSEMBLE_KEY] if ENSEMBLE_KEY in benchmark["presets"] else [])


def _table_row(label: str, seeds: int, accuracies: list, seconds: float, ratios: tuple, speed) -> str:
    """One row; ``ratios`` are the wall-clock and CPU time against the baseline's (None: not recorded)."""
    accuracy = f"{100 * statistics.fmean(accuracies):.2f} %"
    if len(accuracies) > 1:
        accuracy += f" ({100 * min(accuracies):.2f}–{100 * max(accuracies):.2f})"
    images_per_second = f"{speed['images_per_second']:,.0f}" if speed else "–"
    p50 = f"{speed['latency_ms_p50']:.2f}" if speed else "–"
    train_seconds = f"{seconds:,.0f}" if seconds >= 100 else f"{seconds:.1f}"
    time_ratio, cpu_ratio = (f"{value:.2f}" if value is not None else "–" for value in ratios)
    cells = [label, seeds, accuracy, train_seconds, time_ratio, cpu_ratio, images_per_second, p50]
    return readme_blocks.markdown_row(cells)


def _table_caption(benchmark: dict) -> str:
    machine, settings = benchmark["machine"], benchmark["settings"]
    if settings.get("quick"):
        command, scope = "make bench-quick", "a quick run (subset, few epochs), not comparable to a full one"
    else:
        command, scope = "make bench", f"{settings['train_images']:,} training images"
    return (
        f"Measured by `{command}` on {machine['cpu_model']} "
        f"({machine['usable_cores']} cores{_vector_unit(machine)}), "
        f"TensorFlow {machine['tensorflow']}, {settings['started_at'][:10]}; {scope}. "
        f"{_baseline_timing(benchmark['baseline'])}{_cpu_time_note(benchmark['baseline'])}"
        f"Test set of {settings['test_images']:,} images, used only to report."
        f"{_earlier_versions_note(benchmark)}"
    )


def _earlier_versions_note(benchmark: dict) -> str:
    if all(is_current(benchmark, name) for name in benchmark.get("presets", {})):
        return ""
    return (
        f' Rows marked "{EARLIER_VERSION}" measured a preset as it was before it last changed '
        "(`src/digit_recog/presets.py`); `make bench` measures it as it is now."
    )


def _vector_unit(machine: dict) -> str:
    """The caption's ", AVX2" or the like; empty for reports written before CPU features were recorded."""
    return f", {widest_vector_unit(machine['cpu_features'])}" if "cpu_features" in machine else ""


def _baseline_timing(baseline: dict) -> str:
    runs = baseline.get("train_seconds_runs", [baseline["train_seconds"]])
    if len(runs) == 1:
        return ""
    shown = " and ".join(f"{seconds:.1f}" for seconds in runs)
    return f"Baseline time: mean of {len(runs)} runs ({shown} s), before and after the presets. "


def _cpu_time_note(baseline: dict) -> str:
    """What the CPU-time column measures, or that the run did not record it (reports before 2026-11-26)."""
    if "train_cpu_seconds" not in baseline:
        return "CPU time was not recorded in this run. "
    return (
        "CPU time: of all the training process's threads, which does not grow while something else holds the "
        "process up, as shared machines do for seconds at a time. "
    )


def update_table_page(table: str, page_path: Path = paths.BENCHMARK_PAGE_PATH) -> Path:
    """Replace the text between the benchmark-table markers of ``page_path`` with ``table``.

    Raises:
        ValueError: naming the file when the start and end markers are not both there, in order.
    """
    return readme_blocks.write_block(page_path, TABLE_START, TABLE_END, table)


def table_markers(text: str, readme_path: Path) -> tuple[int, int]:
    """Offsets of the start and end markers in ``text`` (read from ``readme_path``), checked."""
    return readme_blocks.block_span(text, readme_path, TABLE_START, TABLE_END)


def read_benchmark(path: Path) -> dict:
    """Load a benchmark report, saying how to make one when it is missing."""
    if not Path(path).is_file():
        raise MissingArtifactError(
            f"{path} does not exist yet: run `make bench` (or `make bench-quick`) first."
        )
    return json.loads(Path(path).read_text())


def log(message: str) -> None:
    """Progress on stderr, so stdout carries only the JSON report."""
    print(f"[benchmark] {message}", file=sys.stderr, flush=True)


def seconds_to_run(call) -> float:
    """Wall-clock seconds that ``call()`` takes."""
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _load_average() -> list[float] | None:
    """1, 5 and 15-minute load: other work on the machine slows every number here."""
    return [round(load, 2) for load in os.getloadavg()] if hasattr(os, "getloadavg") else None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; every option left out keeps the (quick) configuration's value."""
    parser = argparse.ArgumentParser(prog="python -m lab.benchmark", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few minutes: subset, 2 epochs, 2 seeds")
    parser.add_argument(
        "--presets", nargs="+", help=f"presets to compare (default: {' '.join(DEFAULT_PRESETS)})"
    )
    parser.add_argument("--seeds", nargs="+", type=int, help="seeds per preset: one count, or one per preset")
    parser.add_argument("--output", type=Path, help="JSON report (read by --table)")
    parser.add_argument("--figure", type=Path, help="accuracy-against-time PNG")
    parser.add_argument("--models-dir", type=Path, help="where the trained models are saved")
    parser.add_argument("--train-subset", type=int, help="training images to use (default: all 55,000)")
    parser.add_argument("--val-subset", type=int, help="validation images to use (default: all 5,000)")
    parser.add_argument("--epochs-scale", type=float, help="multiply every preset's epochs")
    parser.add_argument("--max-epochs", type=int, help="cap every preset's epochs")
    parser.add_argument(
        "--baseline-preset", help=f"the recipe to compare against (default: {BASELINE_PRESET})"
    )
    parser.add_argument(
        "--baseline-runs", type=int, help="times to train the baseline: once first, the rest last (default 2)"
    )
    parser.add_argument("--ensemble-preset", help="preset whose seed models are averaged (default: best)")
    parser.add_argument("--inference-images", type=int, help="images per throughput pass")
    parser.add_argument("--inference-rounds", type=int, help="rounds of timing, models taking turns")
    parser.add_argument("--latency-calls", type=int, help="single-image calls timed per model")
    parser.add_argument("--verbose", type=int, help="Keras fit verbosity (its output goes to stdout)")
    parser.add_argument("--table", action="store_true", help="print the table of --output; no training")
    parser.add_argument(
        "--update-docs", action="store_true", help="also write the table into docs/benchmark.md"
    )
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> BenchmarkConfig:
    """The benchmark configuration the command line asks for."""
    bench = quick_config() if args.quick else BenchmarkConfig()
    presets = tuple(args.presets) if args.presets else bench.presets
    seed_counts = bench.seed_counts
    if args.seeds:
        if len(args.seeds) not in (1, len(presets)):
            raise SystemExit(f"--seeds takes one count or one per preset ({len(presets)}), got {args.seeds}.")
        seed_counts = dict(zip(presets, args.seeds * len(presets) if len(args.seeds) == 1 else args.seeds))
    chosen = {
        "output_path": args.output,
        "figure_path": args.figure,
        "models_dir": args.models_dir,
        "train_subset": args.train_subset,
        "val_subset": args.val_subset,
        "epochs_scale": args.epochs_scale,
        "max_epochs": args.max_epochs,
        "baseline_preset": args.baseline_preset,
        "baseline_runs": args.baseline_runs,
        "ensemble_preset": args.ensemble_preset,
        "inference_images": args.inference_images,
        "inference_rounds": args.inference_rounds,
        "latency_calls": args.latency_calls,
        "verbose": args.verbose,
    }
    chosen = {key: value for key, value in chosen.items() if value is not None}
    return replace(bench, presets=presets, seed_counts=seed_counts, **chosen)


def main(argv: list[str] | None = None) -> dict:
    """Run the command line: a benchmark (JSON to stdout), or the markdown table of an existing one."""
    args = parse_args(argv)
    bench = config_from_args(args)
    if args.table:
        benchmark = read_benchmark(bench.output_path)
        table = markdown_table(benchmark)
        print(table)
    else:
        if args.update_docs:  # fail now rather than after the whole benchmark
            table_markers(paths.BENCHMARK_PAGE_PATH.read_text(), paths.BENCHMARK_PAGE_PATH)
        benchmark = run_benchmark(bench)
        print(json.dumps(benchmark, indent=2))
        table = markdown_table(benchmark)
    if args.update_docs:
        log(f"updated the table in {update_table_page(table)}")
    return benchmark


if __name__ == "__main__":
    main()
