"""One plot style for the whole book, and the figures every chapter redraws."""
from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
from scipy import stats

from .data import LABELS
from .modes import DISTILLED, HIDDEN, PLAIN_MODE

PALETTE = {"teacher": "#1f4e79", DISTILLED: "#c0504d", PLAIN_MODE: "#8c8c8c", HIDDEN: "#6a3d9a"}


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
    ax.axvline(max_length, color=PALETTE[DISTILLED], linestyle="--", label=f"max_length = {max_length}")
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


# panels per row of a multi-panel figure: the book's column holds three at a readable size
PANELS_PER_ROW = 3


def _panel_grid(n: int, width: float, height: float, **kwargs):
    """A figure of ``n`` panels, at most `PANELS_PER_ROW` to a row (unused cells hidden), so text
    on a panel keeps its size however many models a chapter shows."""
    columns = min(n, PANELS_PER_ROW)
    rows = -(-n // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(width * columns, height * rows), squeeze=False, **kwargs)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def plot_confusion_matrices(matrices: dict[str, list[list[int]]]):
    """One confusion matrix per model (rows: true class, columns: prediction), counts large enough
    to read at the column's width."""
    fig, axes = _panel_grid(len(matrices), 3.6, 3.4)
    for ax, (title, matrix) in zip(axes, matrices.items()):
        sns.heatmap(np.asarray(matrix), annot=True, fmt="d", cbar=False, cmap="Blues",
                    xticklabels=LABELS, yticklabels=LABELS, ax=ax, annot_kws={"fontsize": 13})
        ax.set(xlabel="predicted", ylabel="true")
        ax.set_title(title, fontsize=11)
        ax.tick_params(labelsize=10)
    fig.tight_layout()
    return fig


VARIANT_MARKERS = {"fp32": "o", "bf16": "s", "int8-dynamic": "^", "onnx-fp32": "D", "onnx-int8": "P"}


def plot_accuracy_vs_latency(table: pd.DataFrame, title: str = "Accuracy vs latency",
                             pareto: bool = False):
    """Accuracy against batch-1 latency (log scale): colour = model, marker = variant,
    bubble area = size on disk. With ``pareto``, the front of best trade-offs is drawn; with
    ``accuracy_ci_low``/``accuracy_ci_high`` columns, a 95% interval over seeds as error bars."""
    measured = table[table["skipped"].isna()] if "skipped" in table else table
    fig, ax = plt.subplots(figsize=(8, 4.8))
    models = list(dict.fromkeys(measured["model"]))
    colors = dict(zip(models, sns.color_palette("deep", len(models))))
    scale = 900 / table["disk_mb"].max()
    for _, row in measured.iterrows():
        ax.scatter(row["latency_ms_median"], row["accuracy"] * 100, s=max(row["disk_mb"] * scale, 12),
                   marker=VARIANT_MARKERS.get(row["variant"], "o"), color=colors[row["model"]],
                   alpha=0.6, edgecolor="black", linewidth=0.6)
        low, high = row.get("accuracy_ci_low"), row.get("accuracy_ci_high")
        if low is not None and high is not None and not (pd.isna(low) or pd.isna(high)):
            ax.errorbar(row["latency_ms_median"], row["accuracy"] * 100,
                        yerr=[[100 * (row["accuracy"] - low)], [100 * (high - row["accuracy"])]],
                        color=colors[row["model"]], capsize=2, linewidth=0.8)
    if pareto and "pareto" in measured:
        front = measured[measured["pareto"]].sort_values("latency_ms_median")
        ax.step(front["latency_ms_median"], front["accuracy"] * 100, where="post", color="black",
                linestyle="--", linewidth=1, label="Pareto front")
    _readable_log_axis(ax.xaxis)
    ax.set(xlabel="median latency at batch size 1, ms (log scale)", ylabel="test accuracy (%)", title=title)
    _accuracy_limits(ax, measured)
    handles = [Line2D([], [], marker="o", linestyle="", color=colors[m], label=m, markersize=8) for m in models]
    handles += [Line2D([], [], marker=VARIANT_MARKERS.get(v, "o"), linestyle="", color="grey", label=v,
                       markersize=8) for v in dict.fromkeys(measured["variant"])]
    if pareto:
        handles.append(Line2D([], [], color="black", linestyle="--", label="Pareto front"))
    ax.legend(handles=handles, fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return fig


def _readable_log_axis(axis) -> None:
    """Log scale with plain-number ticks (2, 5, 10, 20, 50 ms) instead of powers of ten; on a
    narrow range (less than a factor of 3) every minor tick is labelled."""
    axis.axes.set_xscale("log")

    def minor(value: float, _) -> str:
        low, high = sorted(axis.get_view_interval())
        mantissa = value / 10 ** np.floor(np.log10(value))
        wanted = high / max(low, 1e-12) < 3 or any(abs(mantissa - m) < 1e-6 for m in (2, 5))
        return f"{value:g}" if wanted else ""

    axis.set_major_formatter(mticker.FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(mticker.FuncFormatter(minor))


OUTLIER_POINTS = 15.0  # accuracy this far below the best is drawn as a note at the axis floor


def _accuracy_limits(ax, measured: pd.DataFrame) -> None:
    """Fit the accuracy axis to the models that work; a collapsed variant (e.g. a teacher broken
    by int8) is marked at the floor with its real accuracy instead of squashing everyone else."""
    accuracy = measured["accuracy"] * 100
    floor = accuracy.max() - OUTLIER_POINTS
    kept = measured[accuracy >= floor]
    low, high = kept["accuracy"].min() * 100, kept["accuracy"].max() * 100
    if "accuracy_ci_low" in kept and kept["accuracy_ci_low"].notna().any():
        low = min(low, kept["accuracy_ci_low"].min() * 100)
        high = max(high, kept["accuracy_ci_high"].max() * 100)
    bottom = low - 1.5
    ax.set_ylim(bottom, high + 1.5)
    for _, row in measured[accuracy < floor].iterrows():
        ax.annotate(f"{row['model']} [{row['variant']}]: {100 * row['accuracy']:.1f}%, off the axis",
                    xy=(row["latency_ms_median"], bottom), xytext=(0, 22), textcoords="offset points",
                    ha="center", fontsize=8, arrowprops={"arrowstyle": "->", "color": "black"})


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


def plot_gradient_scale(temperatures: np.ndarray, without_t2: np.ndarray, with_t2: np.ndarray):
    """Soft-target gradient size against T, with and without the T^2 factor (log-log)."""
    fig, ax = plt.subplots()
    ax.loglog(temperatures, without_t2, marker="o", color=PALETTE[PLAIN_MODE], label="KL term alone")
    ax.loglog(temperatures, with_t2, marker="o", color=PALETTE[DISTILLED], label="T$^2$ x KL term")
    ax.set(xlabel="temperature T", ylabel="mean |gradient| w.r.t. student logits",
           title="Why the loss multiplies the soft term by T$^2$")
    ax.legend()
    return fig


def plot_effective_targets(targets: dict[float, np.ndarray], title: str):
    """At T = 1 the loss pulls the student towards alpha*one-hot + (1-alpha)*teacher: one bar
    group per alpha."""
    fig, ax = plt.subplots()
    width = 0.8 / len(targets)
    colors = sns.color_palette("rocket", len(targets))
    for i, (alpha, target) in enumerate(targets.items()):
        ax.bar(np.arange(len(LABELS)) + i * width, target, width, label=f"alpha = {alpha:g}", color=colors[i])
    ax.set_xticks(np.arange(len(LABELS)) + width * (len(targets) - 1) / 2, LABELS)
    ax.set(ylabel="target probability", title=title, ylim=(0, 1.05))
    ax.legend(fontsize=8)
    return fig


def plot_sweep_heatmap(summary: pd.DataFrame, best: tuple[float, float], student: str):
    """Mean validation accuracy over seeds on the alpha x temperature grid, with the spread
    between seeds in each cell; the chosen cell outlined, the plain reference in the title."""
    grid = summary[summary["alpha"] < 1.0]
    mean = grid.pivot(index="alpha", columns="temperature", values="val_accuracy") * 100
    spread = grid.pivot(index="alpha", columns="temperature", values="val_accuracy_std") * 100
    labels = mean.round(1).astype(str)
    if spread.notna().any().any():
        labels = labels + "\n± " + spread.round(1).astype(str)
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    sns.heatmap(mean, annot=labels, fmt="", cmap="viridis", cbar_kws={"label": "val. accuracy, mean (%)"}, ax=ax)
    row, col = list(mean.index).index(best[0]), list(mean.columns).index(best[1])
    ax.add_patch(plt.Rectangle((col, row), 1, 1, fill=False, edgecolor="red", linewidth=2.5))
    plain = summary[summary["alpha"] >= 1.0]["val_accuracy"]
    reference = f"; plain: {100 * plain.iloc[0]:.1f}%" if len(plain) else ""
    ax.set(xlabel="temperature T", ylabel="alpha (hard-label weight)",
           title=f"alpha x T sweep: {student}{reference}")
    return fig


def plot_budget_curve(summary: pd.DataFrame, student: str, teacher_accuracy: float | None = None,
                      full_data: dict | None = None):
    """Test accuracy against labelled training sentences (log scale), one line per mode, each
    point the mean over seeds with its 95% interval over seeds. ``full_data`` (mean, ci_low,
    ci_high of the student trained plain on every label) is drawn as a band: where the curve aims."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    if full_data is not None:
        ax.axhline(100 * full_data["mean"], color="black", linewidth=1, label="all labels, hard (mean)")
        if full_data.get("ci_low") is not None:
            ax.axhspan(100 * full_data["ci_low"], 100 * full_data["ci_high"], color="black", alpha=0.08,
                       label="all labels: 95% interval over seeds")
    for mode, group in summary.groupby("mode", sort=False):
        group = group.sort_values("labelled")
        low = group["accuracy_mean"] - group["accuracy_ci_low"].fillna(group["accuracy_mean"])
        high = group["accuracy_ci_high"].fillna(group["accuracy_mean"]) - group["accuracy_mean"]
        ax.errorbar(group["labelled"], 100 * group["accuracy_mean"], yerr=[100 * low, 100 * high],
                    marker="o", capsize=3, label=mode)
    if teacher_accuracy is not None:
        ax.axhline(100 * teacher_accuracy, color="grey", linestyle=":", label="teacher")
    _readable_log_axis(ax.xaxis)
    ax.set(xlabel="labelled training sentences (log scale)", ylabel="test accuracy (%)",
           title=f"What the teacher adds as labels get scarce: {student}")
    ax.legend(fontsize=8)
    return fig


def plot_transfer_curve(summary: pd.DataFrame, student: str, teacher: dict | None = None):
    """Test accuracy against the transfer set's size (multiples of the labelled sentences), one line
    per kind of label (soft, argmax), each point the mean over seeds with its 95% interval over
    seeds. Size 0 is the plain student on the same steps, drawn as a band across the figure;
    ``teacher`` (mean, ci_low, ci_high over its seeds) as a second band."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    bands = [("plain student, same steps", summary[summary["multiple"] == 0], "black")]
    for label, rows, colour in bands + [("teacher", pd.DataFrame([teacher]) if teacher else pd.DataFrame(),
                                         PALETTE["teacher"])]:
        if rows.empty:
            continue
        mean = rows["accuracy_mean" if "accuracy_mean" in rows else "mean"].iloc[0]
        low, high = (rows[k].iloc[0] for k in (("accuracy_ci_low", "accuracy_ci_high")
                                               if "accuracy_ci_low" in rows else ("ci_low", "ci_high")))
        ax.axhline(100 * mean, color=colour, linewidth=1, label=f"{label} (mean)")
        if pd.notna(low) and pd.notna(high):
            ax.axhspan(100 * low, 100 * high, color=colour, alpha=0.08)
    for labels, group in summary[summary["multiple"] > 0].groupby("labels", sort=False):
        group = group.sort_values("multiple")
        low = group["accuracy_mean"] - group["accuracy_ci_low"].fillna(group["accuracy_mean"])
        high = group["accuracy_ci_high"].fillna(group["accuracy_mean"]) - group["accuracy_mean"]
        ax.errorbar(group["multiple"], 100 * group["accuracy_mean"], yerr=[100 * low, 100 * high],
                    marker="o", capsize=3, label=f"{labels} labels on the transfer set",
                    color=PALETTE[DISTILLED] if labels == "soft" else PALETTE[PLAIN_MODE])
    ax.set(xlabel="transfer set (multiples of the labelled sentences)", ylabel="test accuracy (%)",
           title=f"Every label plus the teacher's answers on more sentences: {student}")
    ax.legend(fontsize=8)
    return fig


def plot_seed_results(runs: pd.DataFrame, teacher_accuracy: float):
    """Test accuracy of every run (one dot per seed) and each variant's mean with its 95% CI."""
    fig, ax = plt.subplots(figsize=(7.5, 0.6 + 0.55 * runs.groupby(["model", "mode"]).ngroups))
    labels = []
    for i, ((model, mode), group) in enumerate(runs.groupby(["model", "mode"], sort=False)):
        values = group["accuracy"].to_numpy() * 100
        color = PALETTE.get(mode, "#4c72b0")
        ax.scatter(values, np.full(len(values), i), color=color, alpha=0.6, zorder=3)
        mean = values.mean()
        if len(values) > 1:
            half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
            ax.errorbar(mean, i, xerr=half, fmt="D", color="black", capsize=4, zorder=4)
        else:
            ax.scatter(mean, i, marker="D", color="black", zorder=4)
        labels.append(f"{model} ({mode})")
    ax.axvline(teacher_accuracy * 100, color=PALETTE["teacher"], linestyle="--", label="teacher")
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set(xlabel="test accuracy (%)", title="Every run, and the mean with its 95% interval over seeds")
    ax.legend(loc="lower left", fontsize=8)
    return fig


def plot_reliability(tables: dict[str, pd.DataFrame], eces: dict[str, float]):
    """Reliability diagrams: accuracy against confidence per bin, each bar labelled with the number
    of sentences in it (the top bin holds most, so it decides the ECE); the diagonal is perfect
    calibration."""
    fig, axes = _panel_grid(len(tables), 3.8, 3.6, sharey=True)
    for ax, (name, table) in zip(axes, tables.items()):
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
        centers = (table["bin_low"] + table["bin_high"]) / 2
        bars = ax.bar(centers, table["accuracy"], width=table["bin_high"] - table["bin_low"],
                      edgecolor="black", alpha=0.7, color=PALETTE["teacher"], label="accuracy")
        ax.bar_label(bars, labels=[f"n={n}" for n in table["count"]], fontsize=8, padding=2)
        ax.plot(table["confidence"], table["accuracy"], "o", color=PALETTE[DISTILLED], markersize=4,
                label="mean confidence")
        ax.set(xlabel="confidence", xlim=(0, 1), ylim=(0, 1.12))
        ax.set_title(f"{name}\nECE = {100 * eces[name]:.2f}%", fontsize=10)
    axes[0].set_ylabel("accuracy")
    axes[0].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig
