"""Classification metrics (scikit-learn) shared by training, evaluation and benchmarking."""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from .data import LABELS


def classification_metrics(labels, logits_or_predictions) -> dict:
    """Accuracy, macro-F1, per-class F1, confusion matrix and the raw count of correct answers."""
    labels = np.asarray(labels)
    values = np.asarray(logits_or_predictions)
    predictions = values.argmax(axis=-1) if values.ndim == 2 else values
    if len(labels) != len(predictions):
        raise ValueError(f"{len(labels)} labels but {len(predictions)} predictions")
    classes = list(range(len(LABELS)))
    return {
        "accuracy": float(accuracy_score(labels, predictions)),
        "macro_f1": float(f1_score(labels, predictions, average="macro", labels=classes, zero_division=0)),
        "f1_per_class": dict(zip(LABELS, f1_score(labels, predictions, average=None, labels=classes,
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


def mcnemar_test(labels, predictions_a, predictions_b) -> dict:
    """Exact McNemar test on paired predictions of two models over the same sentences."""
    from scipy.stats import binomtest

    labels = np.asarray(labels)
    right_a = np.asarray(predictions_a) == labels
    right_b = np.asarray(predictions_b) == labels
    only_a = int((right_a & ~right_b).sum())
    only_b = int((~right_a & right_b).sum())
    discordant = only_a + only_b
    p_value = 1.0 if discordant == 0 else float(binomtest(only_a, discordant, 0.5).pvalue)
    return {"only_a_right": only_a, "only_b_right": only_b, "p_value": p_value}


def compare_runs(teacher: dict, students: list[dict], labels) -> pd.DataFrame:
    """One row per run: test accuracy with its 95% interval, macro-F1, epoch time, and a McNemar
    test against the teacher on the same sentences."""
    import pandas as pd

    teacher_predictions = np.asarray(teacher["test_logits"]).argmax(-1)
    rows = []
    for run in [teacher, *students]:
        test = run["test"]
        low, high = wilson_interval(test["n_correct"], test["n"])
        predictions = np.asarray(run["test_logits"]).argmax(-1)
        row = {
            "model": run["model"], "mode": run.get("mode", "teacher"), "seed": run["seed"],
            "accuracy": test["accuracy"], "ci_low": low, "ci_high": high,
            "macro_f1": test["macro_f1"], "correct": test["n_correct"], "n": test["n"],
            "epoch_s": float(np.mean(run["epoch_seconds"])),
            "p_vs_teacher": None if run is teacher else mcnemar_test(labels, predictions, teacher_predictions)["p_value"],
        }
        rows.append(row)
    return pd.DataFrame(rows)
