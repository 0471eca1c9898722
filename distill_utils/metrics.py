"""Classification metrics (scikit-learn) shared by training, evaluation and benchmarking."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import softmax
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from .data import LABELS
from .modes import TEACHER


def classification_metrics(labels, logits_or_predictions) -> dict:
    """Accuracy, macro-F1, per-class F1, confusion matrix and the raw count of correct answers."""
    labels = np.asarray(labels)
    values = np.asarray(logits_or_predictions)
    predictions = values.argmax(axis=-1) if values.ndim == 2 else values
    if len(labels) != len(predictions):
        raise ValueError(f"{len(labels)} labels but {len(predictions)} predictions")
    # the PhraseBank's three classes, or as many as the logits have (a reader's own labels)
    count = values.shape[1] if values.ndim == 2 else len(LABELS)
    classes, names = list(range(count)), LABELS if count == len(LABELS) else [str(i) for i in range(count)]
    return {
        "accuracy": float(accuracy_score(labels, predictions)),
        "macro_f1": float(f1_score(labels, predictions, average="macro", labels=classes, zero_division=0)),
        "f1_per_class": dict(zip(names, f1_score(labels, predictions, average=None, labels=classes,
                                                  zero_division=0).round(6).tolist())),
        "confusion_matrix": confusion_matrix(labels, predictions, labels=classes).tolist(),
        "n_correct": int((labels == predictions).sum()),
        "n": int(len(labels)),
    }


def wilson_interval(correct: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for an accuracy of ``correct`` out of ``total``.

    On 340 test sentences a single run's accuracy is uncertain by about +-2.5 points: why the
    reference's 321 vs 324 correct says nothing about which model is better.
    """
    if total <= 0:
        raise ValueError("total must be positive")
    p = correct / total
    denominator = 1 + z**2 / total
    centre = (p + z**2 / (2 * total)) / denominator
    half = z * np.sqrt(p * (1 - p) / total + z**2 / (4 * total**2)) / denominator
    return float(centre - half), float(centre + half)


def format_p(p_value: float) -> str:
    """A p-value as prose: "p = 0.43", "p = 0.029", or "p < 0.001" (never "p = 0.000")."""
    if p_value < 0.001:
        return "p < 0.001"
    return f"p = {p_value:.3f}" if p_value < 0.1 else f"p = {p_value:.2f}"


# how every interval over seeds is computed, named where it is shown
SEED_INTERVAL = "95% Student-t interval over seeds, clipped to the metric's range"


def interval_span(low, high, form: str = "{:.2f}", *, scale: float = 1.0, unit: str = "") -> str | None:
    """An interval as every page states it, 'low to high' with its unit ('94.10 to 96.20%'); None
    when an end is missing (one seed, no spread)."""
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return None
    return f"{form.format(scale * low)} to {form.format(scale * high)}{unit}"


def seed_summary(values, bounds: tuple[float, float] | None = (0.0, 1.0)) -> dict:
    """Mean, sample standard deviation and a 95% t-interval of one metric over seeds.

    With one seed there is no spread to estimate: std and the interval are None, never zero.
    The interval is clipped to ``bounds`` (default [0, 1]: accuracy, macro-F1 and ECE are
    fractions), so two widely spread seeds never give an accuracy above 100% (`SEED_INTERVAL`);
    ``bounds=None`` leaves it unclipped.
    """
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        raise ValueError("seed_summary needs at least one value")
    n = int(values.size)
    mean = float(values.mean())
    if n == 1:
        return {"mean": mean, "std": None, "ci_low": None, "ci_high": None, "n_seeds": 1}
    std = float(values.std(ddof=1))
    half = float(stats.t.ppf(0.975, n - 1) * std / np.sqrt(n))
    low, high = mean - half, mean + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return {"mean": mean, "std": std, "ci_low": low, "ci_high": high, "n_seeds": n}


def expected_calibration_error(labels, logits, n_bins: int = 10) -> float:
    """Top-label ECE: the confidence-weighted gap between confidence and accuracy, equal-width bins."""
    return float(reliability_table(labels, logits, n_bins).eval("weight * gap").sum())


def confidence_bins(confidence: np.ndarray, n_bins: int) -> np.ndarray:
    """Index of the equal-width confidence bin of each answer (the top bin includes 1.0)."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)


def reliability_table(labels, logits, n_bins: int = 10) -> pd.DataFrame:
    """Per confidence bin: sentences, mean confidence, accuracy and their gap (for diagrams)."""
    labels = np.asarray(labels)
    probabilities = softmax(np.asarray(logits, dtype=float), axis=-1)
    confidence = probabilities.max(axis=-1)
    correct = probabilities.argmax(axis=-1) == labels
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = confidence_bins(confidence, n_bins)
    rows = []
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            rows.append({"bin_low": edges[b], "bin_high": edges[b + 1], "count": int(mask.sum()),
                         "confidence": float(confidence[mask].mean()),
                         "accuracy": float(correct[mask].mean())})
    table = pd.DataFrame(rows)
    table["gap"] = (table["confidence"] - table["accuracy"]).abs()
    table["weight"] = table["count"] / len(labels)
    return table


def runs_frame(records: list[dict], labels) -> pd.DataFrame:
    """One row per training run: model, mode, seed, test accuracy, macro-F1, ECE, epoch time."""
    rows = []
    for run in records:
        rows.append({
            "model": run["model"], "mode": run.get("mode", TEACHER), "seed": run["seed"],
            "accuracy": run["test"]["accuracy"], "macro_f1": run["test"]["macro_f1"],
            "correct": run["test"]["n_correct"], "n": run["test"]["n"],
            "ece": expected_calibration_error(labels, run["test_logits"]),
            "epoch_s": float(np.mean(run["epoch_seconds"])) if run.get("epoch_seconds") else None,
        })
    return pd.DataFrame(rows)


def summarise_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Per model and mode: mean, std and 95% t-interval over seeds of accuracy and macro-F1, and
    the correct answers of each seed."""
    rows = []
    for (model, mode), group in runs.groupby(["model", "mode"], sort=False):
        accuracy = seed_summary(group["accuracy"])
        f1 = seed_summary(group["macro_f1"])
        rows.append({"model": model, "mode": mode, "seeds": accuracy["n_seeds"],
                     "accuracy_mean": accuracy["mean"], "accuracy_std": accuracy["std"],
                     "accuracy_ci_low": accuracy["ci_low"], "accuracy_ci_high": accuracy["ci_high"],
                     "macro_f1_mean": f1["mean"], "macro_f1_std": f1["std"],
                     "macro_f1_ci_low": f1["ci_low"], "macro_f1_ci_high": f1["ci_high"],
                     "ece_mean": float(group["ece"].mean()),
                     "epoch_s_mean": float(group["epoch_s"].mean()),
                     # the raw counts behind the mean, seed by seed
                     "seed_list": [int(s) for s in group["seed"]],
                     "correct_per_seed": [int(c) for c in group["correct"]]})
    return pd.DataFrame(rows)


def disagreements(sentences, labels, teacher_logits, student_logits) -> pd.DataFrame:
    """The test sentences where teacher and student predict different classes, with both
    predictions and confidences: the raw material of an error analysis."""
    labels = np.asarray(labels)
    teacher_p = softmax(np.asarray(teacher_logits, dtype=float), axis=-1)
    student_p = softmax(np.asarray(student_logits, dtype=float), axis=-1)
    t_pred, s_pred = teacher_p.argmax(-1), student_p.argmax(-1)
    mask = t_pred != s_pred
    table = pd.DataFrame({
        "sentence": np.asarray(sentences, dtype=object)[mask],
        "label": [LABELS[i] for i in labels[mask]],
        "teacher": [f"{LABELS[i]} ({p:.2f})" for i, p in zip(t_pred[mask], teacher_p[mask].max(-1))],
        "student": [f"{LABELS[i]} ({p:.2f})" for i, p in zip(s_pred[mask], student_p[mask].max(-1))],
        "right": np.where(t_pred[mask] == labels[mask], "teacher",
                          np.where(s_pred[mask] == labels[mask], "student", "neither")),
    })
    return table.sort_values("right", kind="stable").reset_index(drop=True)


def optimizer_steps(record: dict) -> int | None:
    """The optimizer steps a run took (the last step its training log reached); None without a log."""
    steps = [entry["step"] for entry in record.get("log_history") or [] if "step" in entry]
    return int(max(steps)) if steps else None


def classes_predicted(record: dict) -> int:
    """How many classes a run predicted on the test split: 1 means it answers one class for
    every sentence (a student that never left the majority class)."""
    return int((np.asarray(record["test"]["confusion_matrix"]).sum(axis=0) > 0).sum())


def budget_summary(records: list[dict]) -> pd.DataFrame:
    """The budget curve: per mode and labelled fraction, test accuracy over seeds (mean, 95%
    t-interval over seeds), the number of labelled sentences, the optimizer steps a run took
    (modes with the pool take more at the same epochs) and how many seeds predicted one class only."""
    rows = []
    frame = pd.DataFrame([{"mode": r["budget_mode"], "fraction": r["budget_fraction"],
                           "labelled": r["labelled_sentences"], "accuracy": r["test"]["accuracy"],
                           "steps": optimizer_steps(r), "classes": classes_predicted(r)}
                          for r in records])
    for (mode, fraction), group in frame.groupby(["mode", "fraction"], sort=False):
        stats_ = seed_summary(group["accuracy"])
        steps = group["steps"].dropna()
        rows.append({"mode": mode, "fraction": fraction, "labelled": int(group["labelled"].iloc[0]),
                     "seeds": stats_["n_seeds"], "accuracy_mean": stats_["mean"],
                     "accuracy_ci_low": stats_["ci_low"], "accuracy_ci_high": stats_["ci_high"],
                     "steps": int(round(steps.mean())) if len(steps) else None,
                     "one_class_seeds": int((group["classes"] == 1).sum())})
    return pd.DataFrame(rows)


def softness(logits: dict[str, np.ndarray], temperatures=(1.0, 2.0, 4.0, 8.0)) -> pd.DataFrame:
    """How much a teacher's outputs carry beyond the argmax, per set of sentences and temperature:
    mean entropy (nats; log 3 = 1.10 is uniform over three classes) and mean top probability."""
    rows = []
    for name, values in logits.items():
        values = np.asarray(values, dtype=float)
        for temperature in temperatures:
            p = softmax(values / temperature, axis=-1)
            entropy = -(p * np.log(np.clip(p, 1e-12, 1.0))).sum(-1)
            rows.append({"sentences": name, "temperature": float(temperature),
                         "entropy_mean": float(entropy.mean()), "top_probability_mean": float(p.max(-1).mean())})
    return pd.DataFrame(rows)


def run_seconds(record: dict) -> float:
    """Measured training time of one run: the sum of its epoch times (no evaluation, no loading)."""
    return float(sum(record.get("epoch_seconds") or []))


def training_time(experiments: dict[str, list[float]]) -> pd.DataFrame:
    """Per experiment: the number of training runs and their measured training minutes, the cost
    of computing it once (a reused run costs nothing the next time; evaluation, model loading and
    the teacher caches are not included). An experiment this run did not train (no runs) is left out."""
    rows = [{"experiment": name, "runs": len(seconds), "train_min": sum(seconds) / 60}
            for name, seconds in experiments.items() if len(seconds)]
    table = pd.DataFrame(rows)
    total = {"experiment": "total", "runs": int(table["runs"].sum()), "train_min": float(table["train_min"].sum())}
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True)
