"""One plot style for the whole book, and the figures every chapter redraws."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .data import LABELS

PALETTE = {"teacher": "#1f4e79", "kd": "#c0504d", "plain": "#8c8c8c"}


def set_style() -> None:
    """The book's plot style: seaborn whitegrid, readable sizes, crisp figures in HTML."""
    sns.set_theme(style="whitegrid", context="notebook", palette="deep")
    plt.rcParams.update({"figure.figsize": (7, 4), "figure.dpi": 110, "savefig.bbox": "tight",
                         "axes.titleweight": "bold"})


def plot_label_distribution(splits: dict[str, pd.DataFrame]):
    counts = pd.concat(
        [part.assign(split=name)["label"].map(dict(enumerate(LABELS))).to_frame().assign(split=name)
         for name, part in splits.items()]
    )
    fig, ax = plt.subplots()
    sns.countplot(data=counts, x="label", hue="split", order=LABELS, ax=ax)
    ax.set(xlabel="", ylabel="sentences", title="Class balance per split")
    return fig


def plot_token_lengths(lengths: np.ndarray, max_length: int):
    fig, ax = plt.subplots()
    ax.hist(lengths, bins=40, color=PALETTE["teacher"])
    ax.axvline(max_length, color=PALETTE["kd"], linestyle="--", label=f"max_length = {max_length}")
    ax.set(xlabel="tokens per sentence (teacher tokenizer)", ylabel="sentences",
           title="Sentence length in tokens")
    ax.legend()
    return fig


def plot_training_curves(histories: dict[str, list[dict]]):
    """Validation accuracy per epoch for each run (from the Trainer's log history)."""
    fig, ax = plt.subplots()
    for label, history in histories.items():
        evals = [(h["epoch"], h["eval_accuracy"]) for h in history if "eval_accuracy" in h]
        if evals:
            epochs, accuracy = zip(*evals)
            ax.plot(epochs, np.asarray(accuracy) * 100, marker="o", label=label)
    ax.set(xlabel="epoch", ylabel="validation accuracy (%)", title="Validation accuracy during training")
    ax.legend()
    return fig


def plot_confusion_matrices(matrices: dict[str, list[list[int]]]):
    fig, axes = plt.subplots(1, len(matrices), figsize=(4.2 * len(matrices), 3.8), squeeze=False)
    for ax, (title, matrix) in zip(axes[0], matrices.items()):
        sns.heatmap(np.asarray(matrix), annot=True, fmt="d", cbar=False, cmap="Blues",
                    xticklabels=LABELS, yticklabels=LABELS, ax=ax)
        ax.set(title=title, xlabel="predicted", ylabel="true")
    fig.tight_layout()
    return fig


def plot_accuracy_vs_latency(table: pd.DataFrame, highlight: str | None = None):
    """Accuracy against batch-1 latency; bubble area proportional to size in MB."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    scale = 1200 / table["size_mb"].max()
    for _, row in table.iterrows():
        color = PALETTE["teacher"] if row["role"] == "teacher" else PALETTE.get(row.get("mode"), "#4c72b0")
        ax.scatter(row["latency_ms_median"], row["accuracy"] * 100, s=row["size_mb"] * scale,
                   alpha=0.55, color=color, edgecolor="black", linewidth=1.5 if row["model"] == highlight else 0.5)
        below = row.get("mode") == "plain"  # keep kd and plain labels apart when bubbles overlap
        ax.annotate(row["model"], (row["latency_ms_median"], row["accuracy"] * 100),
                    textcoords="offset points", xytext=(0, -16 if below else 12), ha="center", fontsize=8)
    ax.set(xlabel="median latency at batch size 1 (ms)", ylabel="test accuracy (%)",
           title="Accuracy vs latency (bubble area = size in MB)")
    low, high = table["accuracy"].min() * 100, table["accuracy"].max() * 100
    ax.set_ylim(low - 2.5, high + 2.5)
    ax.set_xlim(0, table["latency_ms_median"].max() * 1.2)
    return fig


def plot_temperature(probabilities: dict[float, np.ndarray], title: str):
    """How temperature flattens one teacher distribution (dark knowledge becomes visible)."""
    fig, ax = plt.subplots()
    width = 0.8 / len(probabilities)
    for i, (temperature, probs) in enumerate(probabilities.items()):
        ax.bar(np.arange(len(LABELS)) + i * width, probs, width, label=f"T = {temperature:g}")
    ax.set_xticks(np.arange(len(LABELS)) + width * (len(probabilities) - 1) / 2, LABELS)
    ax.set(ylabel="probability", title=title, ylim=(0, 1))
    ax.legend()
    return fig
