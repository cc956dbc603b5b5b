"""Every figure of the project. Each function takes data and returns a matplotlib Figure."""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from digit_recog.artifacts import atomic_path

MISTAKE_COLOUR = "tab:red"


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
    """Test accuracy (%) against training seconds from a benchmark report (``reports/benchmark.json``).

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
