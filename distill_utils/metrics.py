"""Classification metrics (scikit-learn) shared by training, evaluation and benchmarking."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import softmax
from scipy.stats import binomtest
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
    labels = np.asarray(labels)
    right_a = np.asarray(predictions_a) == labels
    right_b = np.asarray(predictions_b) == labels
    only_a = int((right_a & ~right_b).sum())
    only_b = int((~right_a & right_b).sum())
    discordant = only_a + only_b
    p_value = 1.0 if discordant == 0 else float(binomtest(only_a, discordant, 0.5).pvalue)
    return {"only_a_right": only_a, "only_b_right": only_b, "p_value": p_value}


def format_p(p_value: float) -> str:
    """A p-value as prose: "p = 0.43", "p = 0.029", or "p < 0.001" (never "p = 0.000")."""
    if p_value < 0.001:
        return "p < 0.001"
    return f"p = {p_value:.3f}" if p_value < 0.1 else f"p = {p_value:.2f}"


def seed_summary(values) -> dict:
    """Mean, sample standard deviation and a 95% t-interval of one metric over seeds.

    With one seed there is no spread to estimate: std and the interval are None, never zero.
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
    return {"mean": mean, "std": std, "ci_low": mean - half, "ci_high": mean + half, "n_seeds": n}


def paired_bootstrap(labels, predictions_a: list, predictions_b: list, n_resamples: int = 10_000,
                     seed: int = 0) -> dict:
    """Accuracy difference a - b (each averaged over its seeds), resampling test sentences.

    Both models are scored on the same resampled sentences, so the test accounts for the pairing
    (most sentences are easy for both). Returns the observed difference, its 95% percentile
    interval and a two-sided p-value (twice the share of resamples on the far side of zero).
    """
    labels = np.asarray(labels)
    right_a = np.mean([np.asarray(p) == labels for p in predictions_a], axis=0)
    right_b = np.mean([np.asarray(p) == labels for p in predictions_b], axis=0)
    if right_a.shape != labels.shape or right_b.shape != labels.shape:
        raise ValueError("every prediction array must have one entry per label")
    per_sentence = right_a - right_b
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(labels), size=(n_resamples, len(labels)))
    diffs = per_sentence[index].mean(axis=1)
    observed = float(per_sentence.mean())
    p_value = 2 * min((diffs <= 0).mean(), (diffs >= 0).mean())
    low, high = np.percentile(diffs, [2.5, 97.5])
    return {"difference": observed, "ci_low": float(low), "ci_high": float(high),
            "p_value": float(min(1.0, p_value))}


def expected_calibration_error(labels, logits, n_bins: int = 10) -> float:
    """Top-label ECE: the confidence-weighted gap between confidence and accuracy, equal-width bins."""
    return float(reliability_table(labels, logits, n_bins).eval("weight * gap").sum())


def reliability_table(labels, logits, n_bins: int = 10) -> pd.DataFrame:
    """Per confidence bin: sentences, mean confidence, accuracy and their gap (for diagrams)."""
    labels = np.asarray(labels)
    probabilities = softmax(np.asarray(logits, dtype=float), axis=-1)
    confidence = probabilities.max(axis=-1)
    correct = probabilities.argmax(axis=-1) == labels
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
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
            "model": run["model"], "mode": run.get("mode", "teacher"), "seed": run["seed"],
            "accuracy": run["test"]["accuracy"], "macro_f1": run["test"]["macro_f1"],
            "correct": run["test"]["n_correct"], "n": run["test"]["n"],
            "ece": expected_calibration_error(labels, run["test_logits"]),
            "epoch_s": float(np.mean(run["epoch_seconds"])) if run.get("epoch_seconds") else None,
        })
    return pd.DataFrame(rows)


def summarise_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Per model and mode: mean, std and 95% t-interval over seeds of accuracy and macro-F1."""
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
                     "epoch_s_mean": float(group["epoch_s"].mean())})
    return pd.DataFrame(rows)


def holm_adjust(p_values) -> list[float]:
    """Holm's step-down adjustment for a family of tests: the adjusted p-values, in input order.

    Sort the m p-values ascending; the k-th smallest (k from 0) is multiplied by m - k, and each
    adjusted value is kept at least as large as the one before (then capped at 1). Rejecting where
    the adjusted p < 0.05 controls the chance of any false positive in the family at 5%.
    """
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * (len(p) - np.arange(len(p)))
    adjusted = np.minimum(np.maximum.accumulate(scaled), 1.0)
    out = np.empty_like(adjusted)
    out[order] = adjusted
    return out.tolist()


def with_holm(tests: pd.DataFrame) -> pd.DataFrame:
    """The comparisons as one family: a Holm-adjusted bootstrap p-value beside each raw one."""
    return tests.assign(holm_p=holm_adjust(tests["bootstrap_p"]) if len(tests) else [])


def comparison_pairs(students, *, hidden_student: str | None = None) -> list[tuple[str, str, str]]:
    """The paired comparisons the book reports, as (model, mode a, mode b): every student distilled
    against its plain control, both against the teacher, and the optional hidden-state run."""
    pairs = [(name, "kd", "plain") for name in students]
    pairs += [(name, mode, "teacher") for name in students for mode in ("kd", "plain")]
    if hidden_student is not None:
        pairs.append((hidden_student, "hidden", "kd"))
    return pairs


def compare_variants(records: list[dict], teacher: dict, labels,
                     pairs: list[tuple[str, str, str]]) -> pd.DataFrame:
    """Paired tests on the same test sentences, one row per (model, mode a, mode b).

    mode b may be "teacher". Each row gives the mean accuracy difference a - b over seeds with a
    paired-bootstrap interval and p-value, and the exact McNemar p-value of every seed.
    """
    labels = np.asarray(labels)
    teacher_predictions = np.asarray(teacher["test_logits"]).argmax(-1)

    def predictions(model, mode):
        runs = sorted((r for r in records if r["model"] == model and r.get("mode") == mode),
                      key=lambda r: r["seed"])
        return {r["seed"]: np.asarray(r["test_logits"]).argmax(-1) for r in runs}

    rows = []
    for model, mode_a, mode_b in pairs:
        a = predictions(model, mode_a)
        b = {seed: teacher_predictions for seed in a} if mode_b == "teacher" else predictions(model, mode_b)
        seeds = sorted(set(a) & set(b))
        if not seeds:
            raise ValueError(f"no seeds in common for {model}: {mode_a} vs {mode_b}")
        boot = paired_bootstrap(labels, [a[s] for s in seeds], [b[s] for s in seeds])
        mcnemar = [mcnemar_test(labels, a[s], b[s])["p_value"] for s in seeds]
        rows.append({"model": model, "a": mode_a, "b": mode_b, "seeds": len(seeds),
                     "difference_points": 100 * boot["difference"],
                     "ci_low_points": 100 * boot["ci_low"], "ci_high_points": 100 * boot["ci_high"],
                     "bootstrap_p": boot["p_value"],
                     "mcnemar_p_per_seed": ", ".join(f"{p:.3f}" for p in mcnemar)})
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


def budget_summary(records: list[dict]) -> pd.DataFrame:
    """The budget curve: per mode and labelled fraction, test accuracy over seeds (mean, 95%
    t-interval over seeds) and the number of labelled sentences."""
    rows = []
    frame = pd.DataFrame([{"mode": r["budget_mode"], "fraction": r["budget_fraction"],
                           "labelled": r["labelled_sentences"], "accuracy": r["test"]["accuracy"]}
                          for r in records])
    for (mode, fraction), group in frame.groupby(["mode", "fraction"], sort=False):
        stats_ = seed_summary(group["accuracy"])
        rows.append({"mode": mode, "fraction": fraction, "labelled": int(group["labelled"].iloc[0]),
                     "seeds": stats_["n_seeds"], "accuracy_mean": stats_["mean"],
                     "accuracy_ci_low": stats_["ci_low"], "accuracy_ci_high": stats_["ci_high"]})
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
