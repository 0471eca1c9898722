"""The teacher's seeds together: their ensemble, the errors they share, and whether the ensemble
is the better teacher to distil from (decided on the validation split, never on test).

Distillation began as compressing an ensemble into one model (Hinton et al. 2015). The teacher is
trained on several seeds anyway (chapter 2), so an ensemble of them costs no training; what it is
worth is measured here.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import log_softmax, softmax

from .data import LABELS
from .metrics import expected_calibration_error, wilson_interval

SINGLE, ENSEMBLE = "single", "ensemble"  # the two teachers a student can learn from


def ensemble_logits(logits: list[np.ndarray]) -> np.ndarray:
    """The log of the mean of the seeds' probabilities. Its softmax is the ensemble's prediction,
    so every reader of a teacher's logits (the distillation loss at any T included) takes it as is."""
    if not logits:
        raise ValueError("an ensemble needs at least one member's logits")
    probabilities = np.mean([softmax(np.asarray(x, dtype=np.float64), axis=-1) for x in logits], axis=0)
    return np.log(np.clip(probabilities, 1e-12, 1.0)).astype(np.float32)


def mean_entropy(logits: np.ndarray) -> float:
    """Mean entropy of the predicted distribution, in nats (log 3 = 1.10: uniform over 3 classes)."""
    log_p = log_softmax(np.asarray(logits, dtype=np.float64), axis=-1)
    return float(-(np.exp(log_p) * log_p).sum(-1).mean())


def teacher_table(labels, logits_by_teacher: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per teacher (each seed, the ensemble): correct answers, accuracy with its 95% Wilson
    interval over sentences, expected calibration error and mean entropy."""
    labels = np.asarray(labels)
    rows = []
    for name, logits in logits_by_teacher.items():
        correct = int((np.asarray(logits).argmax(-1) == labels).sum())
        low, high = wilson_interval(correct, len(labels))
        rows.append({"teacher": name, "correct": correct, "n": len(labels), "accuracy": correct / len(labels),
                     "wilson_low": low, "wilson_high": high, "ece": expected_calibration_error(labels, logits),
                     "entropy_mean": mean_entropy(logits)})
    return pd.DataFrame(rows)


def shared_errors(sentences, labels, logits_by_seed: dict[int, np.ndarray]) -> pd.DataFrame:
    """The sentences every seed gets wrong: the teacher's systematic errors, which no ensemble of
    the same recipe can fix. One row per sentence: its label and each seed's prediction."""
    labels = np.asarray(labels)
    predictions = {seed: np.asarray(logits).argmax(-1) for seed, logits in logits_by_seed.items()}
    wrong = np.logical_and.reduce([p != labels for p in predictions.values()])
    sentences, index = list(sentences), np.flatnonzero(wrong)
    rows = [{"sentence": sentences[i], "label": LABELS[labels[i]],
             **{f"seed {seed}": LABELS[p[i]] for seed, p in predictions.items()}} for i in index]
    return pd.DataFrame(rows, index=index, columns=["sentence", "label", *(f"seed {s}" for s in predictions)])


def errors_per_seed(labels, logits_by_seed: dict[int, np.ndarray]) -> dict[int, int]:
    """How many sentences each seed gets wrong."""
    labels = np.asarray(labels)
    return {seed: int((np.asarray(logits).argmax(-1) != labels).sum()) for seed, logits in logits_by_seed.items()}


def repeated_errors(labels, shared: list[int], student_logits: list[np.ndarray]) -> list[int]:
    """Per student seed: of the teacher's shared errors (sentence indices), how many it gets wrong too."""
    labels = np.asarray(labels)
    return [int((np.asarray(logits).argmax(-1)[shared] != labels[shared]).sum()) for logits in student_logits]


def choose_teacher(labels, single: np.ndarray, ensemble: np.ndarray) -> dict:
    """Which teacher the students learn from: the ensemble only when it answers more validation
    sentences correctly than the single teacher (a tie keeps the single one, the cheaper and the
    one every other experiment uses). Returns the choice and both counts."""
    labels = np.asarray(labels)
    counts = {name: int((np.asarray(logits).argmax(-1) == labels).sum())
              for name, logits in ((SINGLE, single), (ENSEMBLE, ensemble))}
    return {"teacher": ENSEMBLE if counts[ENSEMBLE] > counts[SINGLE] else SINGLE,
            "validation_correct": counts, "validation_n": int(len(labels))}


def ensemble_record(labels, sentences, logits_by_seed: dict[int, np.ndarray], records: list[dict],
                    students: list[str], modes: list[str]) -> dict:
    """What chapter 6 reads about the teacher's seeds together: the ensemble's test figures (with
    its 95% Wilson interval over sentences), each seed's errors, the errors all seeds share
    (sentence indices), and, for each student and mode in ``records``, how many of the shared
    errors each seed repeats."""
    row = teacher_table(labels, {ENSEMBLE: ensemble_logits(list(logits_by_seed.values()))}).iloc[0]
    shared = [int(i) for i in shared_errors(sentences, labels, logits_by_seed).index]
    repeated = []
    for name in students:
        for mode in modes:
            runs = sorted((r for r in records if r["model"] == name and r.get("mode") == mode),
                          key=lambda r: r["seed"])
            if runs:
                repeated.append({"model": name, "mode": mode, "seeds": [int(r["seed"]) for r in runs],
                                 "per_seed": repeated_errors(labels, shared, [r["test_logits"] for r in runs])})
    return {"seeds": [int(s) for s in logits_by_seed], "correct": int(row["correct"]), "n": int(row["n"]),
            "accuracy": float(row["accuracy"]), "wilson_low": float(row["wilson_low"]),
            "wilson_high": float(row["wilson_high"]), "ece": float(row["ece"]),
            "errors_per_seed": {str(k): v for k, v in errors_per_seed(labels, logits_by_seed).items()},
            "shared_errors": shared, "repeated": repeated}
