"""Every figure of the project. Each function takes data and returns a matplotlib Figure."""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from digit_recog.artifacts import atomic_path

MISTAKE_COLOUR = "tab:red"
# How large figures show inline in the notebooks (the saved files use save_figure's dpi): committed
# notebooks stay a modest size.
plt.rcParams["figure.dpi"] = 72


def save_figure(figure: Figure, path: Path, dpi: int = 120) -> Path:
    """Save ``figure`` as PNG atomically and return the path."""
    with atomic_path(path) as tmp_path:
        figure.savefig(tmp_path, dpi=dpi, bbox_inches="tight", format="png")
    return Path(path)


def image_grid(
    images: np.ndarray,
    titles: list[str],
    rows: int,
    cols: int,
    colours: list[str] | None = None,
    size: float = 1.6,
) -> Figure:
    """Show ``rows * cols`` grayscale images, each with a title (and optional title colour)."""
    figure, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * size * 1.15), squeeze=False)
    colours = colours or ["black"] * len(titles)
    for axis, image, title, colour in zip(axes.flat, images, titles, colours):
        axis.imshow(np.squeeze(image), cmap="gray_r")
        axis.set_title(title, color=colour, fontsize=9)
    for axis in axes.flat:
        axis.axis("off")
    figure.tight_layout()
    return figure


def class_balance(train_labels: np.ndarray, test_labels: np.ndarray) -> Figure:
    """Share of each digit in the training and test sets, side by side."""
    counts = (
        pd.concat(
            [
                pd.Series(train_labels).value_counts(normalize=True).rename("train"),
                pd.Series(test_labels).value_counts(normalize=True).rename("test"),
            ],
            axis=1,
        )
        .rename_axis("digit")
        .reset_index()
        .melt(id_vars="digit", var_name="set", value_name="share")
    )
    figure, axis = plt.subplots(figsize=(8, 3.5))
    sns.barplot(data=counts, x="digit", y="share", hue="set", ax=axis)
    axis.axhline(0.1, color="gray", linestyle="--", linewidth=1, label="uniform")
    axis.set_title("Class balance: share of each digit")
    figure.tight_layout()
    return figure


def mean_images(images: np.ndarray, labels: np.ndarray) -> Figure:
    """The average image of each digit."""
    means = np.stack([images[labels == digit].mean(axis=0) for digit in range(10)])
    return image_grid(means, [f"mean {digit}" for digit in range(10)], rows=2, cols=5)


def pixel_histogram(images: np.ndarray) -> Figure:
    """Histogram of pixel intensities (log scale: most pixels are background zeros)."""
    figure, axis = plt.subplots(figsize=(7, 3.5))
    axis.hist(images.ravel(), bins=64, color="tab:blue", log=True)
    axis.set_xlabel("pixel value (0 = background, 255 = full ink)")
    axis.set_ylabel("pixels (log scale)")
    axis.set_title("Pixel intensities")
    figure.tight_layout()
    return figure


def accuracy_loss(history: dict[str, list[float]], best_epoch: int | None = None) -> Figure:
    """Training and validation accuracy and loss per epoch, marking the kept epoch."""
    epochs = np.arange(1, len(history["loss"]) + 1)
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for axis, metric in zip(axes, ("accuracy", "loss")):
        axis.plot(epochs, history[metric], marker="o", label=f"train {metric}")
        axis.plot(epochs, history[f"val_{metric}"], marker="o", label=f"validation {metric}")
        if best_epoch:
            axis.axvline(best_epoch, color="gray", linestyle="--", linewidth=1, label="kept epoch")
        axis.set_xlabel("epoch")
        axis.set_title(metric.capitalize())
        axis.legend()
    figure.tight_layout()
    return figure


def runs_curves(histories: dict[str, dict[str, list[float]]]) -> Figure:
    """Validation accuracy and loss per epoch, one line per run, to compare runs on one chart."""
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for axis, metric in zip(axes, ("val_accuracy", "val_loss")):
        for name, history in histories.items():
            axis.plot(np.arange(1, len(history[metric]) + 1), history[metric], marker="o", label=name)
        axis.set_xlabel("epoch")
        axis.set_title(metric.replace("val_", "validation ").capitalize())
        axis.grid(alpha=0.3)
    axes[0].legend(title="run")
    figure.tight_layout()
    return figure


def confusion_heatmap(confusion: pd.DataFrame) -> Figure:
    """Confusion matrix as an annotated heatmap; the diagonal is hidden so errors stand out."""
    figure, axis = plt.subplots(figsize=(7, 6))
    off_diagonal = confusion.where(~np.eye(len(confusion), dtype=bool))
    sns.heatmap(off_diagonal, annot=True, fmt=".0f", cmap="Reds", cbar_kws={"label": "errors"}, ax=axis)
    axis.set_title("Confusion matrix (off-diagonal errors)")
    figure.tight_layout()
    return figure


def predictions_grid(
    images: np.ndarray, labels: np.ndarray, predicted: np.ndarray, rows: int = 3, cols: int = 5
) -> Figure:
    """Images titled with predicted and actual label; mistakes in red."""
    count = rows * cols
    titles = [
        f"pred {p} / actual {a}" + ("  ✗" if p != a else "")
        for p, a in zip(predicted[:count], labels[:count])
    ]
    colours = [MISTAKE_COLOUR if p != a else "black" for p, a in zip(predicted[:count], labels[:count])]
    return image_grid(images[:count], titles, rows, cols, colours, size=2.0)


def probability_bars(images: np.ndarray, labels: np.ndarray, probabilities: np.ndarray) -> Figure:
    """For each image, the image beside a bar chart of its ten class probabilities."""
    figure, axes = plt.subplots(
        len(images), 2, figsize=(7, 1.8 * len(images)), squeeze=False, gridspec_kw={"width_ratios": [1, 3]}
    )
    for (image_axis, bar_axis), image, label, probs in zip(axes, images, labels, probabilities):
        image_axis.imshow(np.squeeze(image), cmap="gray_r")
        image_axis.set_title(f"actual {label}", fontsize=9)
        image_axis.axis("off")
        colours = ["tab:green" if digit == label else "tab:gray" for digit in range(10)]
        bar_axis.bar(range(10), probs, color=colours)
        bar_axis.set_xticks(range(10))
        bar_axis.set_ylim(0, 1)
        bar_axis.set_ylabel("probability")
    figure.tight_layout()
    return figure


def filters_grid(kernels: np.ndarray, cols: int = 8) -> Figure:
    """First-layer convolution kernels, shape (height, width, 1, filters), one panel each."""
    count = kernels.shape[-1]
    rows = int(np.ceil(count / cols))
    figure, axes = plt.subplots(rows, cols, figsize=(cols * 1.0, rows * 1.0), squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < count:
            axis.imshow(kernels[:, :, 0, index], cmap="RdBu_r")
    figure.suptitle("First-layer filters (red: positive, blue: negative weights)")
    figure.tight_layout()
    return figure


def feature_maps(activations: np.ndarray, title: str, cols: int = 8) -> Figure:
    """Channels of one image's activations, shape (height, width, channels)."""
    count = activations.shape[-1]
    rows = int(np.ceil(count / cols))
    figure, axes = plt.subplots(rows, cols, figsize=(cols * 1.1, rows * 1.1), squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < count:
            axis.imshow(activations[:, :, index], cmap="viridis")
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def accuracy_vs_time(benchmark: dict) -> Figure:
    """Test accuracy (%) against training seconds from a benchmark report (``lab/reports/benchmark.json``).

    Each seed of a preset is a point in the preset's colour; the baseline (the original recipe) is a
    black star, the ensemble a hollow diamond at its members' summed training time. The time axis is
    logarithmic when the times span more than a factor of ten.
    """
    figure, axis = plt.subplots(figsize=(8, 4.5))
    presets = {name: summary for name, summary in benchmark["presets"].items() if name != "ensemble"}
    colours = dict(zip(presets, sns.color_palette("tab10", len(presets))))
    times = [benchmark["baseline"]["train_seconds"]]
    for name, summary in presets.items():
        accuracies = [100 * accuracy for accuracy in summary["test_accuracy"]]
        label = f"{name} ({len(accuracies)} seed{'s' if len(accuracies) > 1 else ''})"
        axis.scatter(summary["train_seconds"], accuracies, color=colours[name], alpha=0.8, label=label)
        times += summary["train_seconds"]
    baseline = benchmark["baseline"]
    axis.scatter(
        baseline["train_seconds"],
        100 * baseline["test_accuracy"],
        marker="*",
        s=250,
        color="black",
        zorder=3,
        label=f"baseline: {baseline['preset']} (original recipe)",
    )
    ensemble = benchmark["presets"].get("ensemble")
    if ensemble:
        axis.scatter(
            ensemble["train_seconds"],
            100 * ensemble["test_accuracy"],
            marker="D",
            s=80,
            facecolor="none",
            edgecolor="black",
            zorder=3,
            label=f"ensemble of {ensemble['members']} {ensemble['preset']} (summed time)",
        )
        times.append(ensemble["train_seconds"])
    if max(times) > 10 * min(times):
        axis.set_xscale("log")
    axis.set_xlabel("training time (s)")
    axis.set_ylabel("test accuracy (%)")
    axis.set_title("Test accuracy against training time")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=8, loc="best")
    figure.tight_layout()
    return figure


def architecture_comparison(results: pd.DataFrame) -> Figure:
    """Validation accuracy against training time, one labelled point per architecture sized by parameters."""
    figure, axes = plt.subplots(figsize=(9, 5.5))
    sns.scatterplot(
        data=results,
        ax=axes,
        x="train_seconds",
        y="val_accuracy",
        size="params",
        hue="architecture",
        sizes=(60, 600),
        legend=False,
    )
    for row in results.itertuples():
        axes.annotate(
            f"{row.architecture}\n{row.params / 1000:,.0f}k params",
            (row.train_seconds, row.val_accuracy),
            textcoords="offset points",
            xytext=(8, -4),
            fontsize=8,
        )
    axes.set(
        xlabel="training time (s, same epochs and batch size for all)",
        ylabel="validation accuracy",
        title="Architectures under one training budget (point size = parameters)",
    )
    axes.set_xlim(0, results["train_seconds"].max() * 1.35)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def perturbation_examples(examples: dict[str, list[tuple[float, np.ndarray]]]) -> Figure:
    """One image under each perturbation (a row each) at each strength (a column each), as returned by
    :func:`digit_recog.robustness.perturbed_examples`."""
    rows, cols = len(examples), max(len(values) for values in examples.values())
    figure, axes = plt.subplots(rows, cols, figsize=(cols * 1.3, rows * 1.45), squeeze=False)
    for row, (kind, values) in zip(axes, examples.items()):
        for axis in row[len(values) :]:
            axis.axis("off")
        for axis, (strength, image) in zip(row, values):
            axis.imshow(image, cmap="gray_r", vmin=0, vmax=255)
            axis.set_title(f"{kind.replace('_', ' ')} {strength:g}", fontsize=8)
            axis.set_xticks([])
            axis.set_yticks([])
            for spine in axis.spines.values():  # a light frame shows the 28x28 field
                spine.set_color("0.8")
    figure.tight_layout()
    return figure


def robustness_curves(table: pd.DataFrame, col_wrap: int = 4) -> Figure:
    """Accuracy against strength, one panel per perturbation, one line with and one without preprocessing."""
    grid = sns.relplot(
        data=table,
        x="strength",
        y="accuracy",
        hue="preprocessing",
        style="preprocessing",
        col="perturbation",
        col_wrap=min(col_wrap, table["perturbation"].nunique()),
        kind="line",
        markers=True,
        dashes=False,
        height=2.6,
        aspect=1.15,
        facet_kws={"sharex": False, "sharey": True},
    )
    for kind, axes in grid.axes_dict.items():
        axes.set_title(kind.replace("_", " "))
        axes.set_xlabel(table.loc[table["perturbation"] == kind, "unit"].iloc[0])
    grid.set(ylim=(0, 1.02))
    grid.figure.suptitle("Accuracy on perturbed test digits, fed raw or preprocessed the MNIST way")
    grid.tight_layout()
    return grid.figure


def tuning_trials(
    results: pd.DataFrame, choices: dict[str, list | None], log_range: tuple[float, float]
) -> Figure:
    """Validation accuracy against each hyperparameter, one point per completed trial.

    ``choices`` maps each hyperparameter to the values its space offers, or to None for one sampled on a
    log scale over ``log_range`` (see :func:`digit_recog.experiments.search.space_choices`).

    With Hyperband, colour shows how many epochs a trial trained: longer trainings score higher, so
    compare points of one colour.
    """
    completed = results[results["status"] == "COMPLETED"]
    hue = None
    if "epochs" in completed:
        hue = "trained"
        completed = completed.assign(trained=completed["epochs"].map(lambda epochs: f"{epochs:.0f} epochs"))
    hue_order = sorted(completed[hue].unique(), key=lambda label: int(label.split()[0])) if hue else None
    scores = completed["val_accuracy"]
    # A few failed configurations near chance would squash the rest into a line; show the top band.
    floor = max(0.0, max(scores.min(), scores.max() - 0.1) - 0.005)
    figure, axes = plt.subplots(2, 5, figsize=(17, 6.5), sharey=True)
    for axis, name in zip(axes.flat, choices):
        sampled = completed.dropna(subset=[name])
        if sampled.empty:
            axis.text(0.5, 0.5, "never sampled", ha="center", va="center", transform=axis.transAxes)
        elif choices[name] is None:
            sns.scatterplot(data=sampled, x=name, y="val_accuracy", hue=hue, hue_order=hue_order, ax=axis)
            axis.set_xscale("log")
            axis.set_xlim(log_range[0] / 1.5, log_range[1] * 1.5)
        else:
            column = sampled[name].astype(type(choices[name][0]))
            sns.stripplot(
                data=sampled.assign(**{name: column}),
                x=name,
                y="val_accuracy",
                order=choices[name],
                hue=hue,
                hue_order=hue_order,
                jitter=0.15,
                size=6,
                ax=axis,
            )
        axis.set_title(name)
        axis.set_xlabel("")
        axis.grid(alpha=0.3)
        if axis.get_legend() is not None and axis is not axes.flat[0]:
            axis.get_legend().remove()
    hidden = int((scores < floor).sum())
    axes.flat[0].set_ylim(floor, min(1.0, scores.max() + 0.005))
    figure.suptitle(
        "Validation accuracy of each trial against each hyperparameter"
        + (f" ({hidden} trials below {floor:.2f} are off the chart)" if hidden else "")
    )
    figure.tight_layout()
    return figure


def reliability_diagram(sets: dict[str, tuple[np.ndarray, np.ndarray]], bins: int = 10) -> Figure:
    """Accuracy against confidence, one panel per named set of ``(labels, probabilities)``.

    Bars show how often the answers in each confidence bin were right; the diagonal is perfect calibration.
    """
    figure, axes = plt.subplots(1, len(sets), figsize=(3.6 * len(sets), 3.6), squeeze=False)
    edges = np.linspace(0, 1, bins + 1)
    for axis, (name, (labels, probabilities)) in zip(axes[0], sets.items()):
        confidence = probabilities.max(axis=1)
        correct = probabilities.argmax(axis=1) == labels
        which = np.clip(np.digitize(confidence, edges) - 1, 0, bins - 1)
        accuracy = [
            correct[which == index].mean() if np.any(which == index) else np.nan for index in range(bins)
        ]
        axis.bar(edges[:-1], accuracy, width=1 / bins, align="edge", edgecolor="white", alpha=0.8)
        axis.plot([0, 1], [0, 1], color="gray", linestyle="--", linewidth=1)
        axis.set(xlim=(0, 1), ylim=(0, 1), xlabel="top probability", title=name)
    axes[0][0].set_ylabel("share right")
    figure.tight_layout()
    return figure


def shares_by_group(shares: pd.Series, title: str, xlabel: str) -> Figure:
    """A horizontal bar per group (the index of ``shares``) of a share between 0 and 1."""
    figure, axis = plt.subplots(figsize=(7, 0.35 * len(shares) + 1.2))
    axis.barh([str(name) for name in shares.index][::-1], shares.to_numpy()[::-1], color="tab:blue")
    for row, value in enumerate(shares.to_numpy()[::-1]):
        axis.text(min(value, 0.97), row, f"{value:.0%}", va="center", ha="right", color="white", fontsize=8)
    axis.set(xlim=(0, 1), xlabel=xlabel, title=title)
    figure.tight_layout()
    return figure


def transfer_heatmap(matrix: pd.DataFrame) -> Figure:
    """Accuracy of each training mix (rows) on each test set (columns), annotated in percent."""
    figure, axis = plt.subplots(figsize=(1.9 * len(matrix.columns) + 2.5, 0.7 * len(matrix) + 1.5))
    sns.heatmap(
        100 * matrix, annot=True, fmt=".1f", cmap="viridis", vmin=50, vmax=100,
        cbar_kws={"label": "accuracy %"}, ax=axis,
    )  # fmt: skip
    axis.set_xlabel("test set (writers never trained or chosen on)")
    axis.set_title("Trained on (rows) against read (columns)")
    figure.tight_layout()
    return figure


def recall_heatmap(recall: pd.DataFrame) -> Figure:
    """Recall of each digit (columns) for each row of ``recall`` (mix and test set), in percent."""
    figure, axis = plt.subplots(figsize=(9, 0.42 * len(recall) + 1.5))
    labels = [" / ".join(map(str, key)) if isinstance(key, tuple) else str(key) for key in recall.index]
    sns.heatmap(
        100 * recall.set_axis(labels), annot=True, fmt=".0f", cmap="viridis", vmin=50, vmax=100,
        cbar_kws={"label": "recall %"}, ax=axis,
    )  # fmt: skip
    axis.set_xlabel("digit")
    axis.set_ylabel("")
    axis.set_title("Share of each digit read right")
    figure.tight_layout()
    return figure
