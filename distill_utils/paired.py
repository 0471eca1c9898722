"""Paired tests: is one model better than another on the same test sentences?

The bootstrap resamples the test sentences and each model's training seeds, and reports the mean
difference with a 95% interval (over sentences and seeds); McNemar's exact test looks at one seed
at a time and counts only the sentences exactly one model gets right. Holm's correction turns a
chapter's tests into one family. Calibration (ECE) goes through the same bootstrap as accuracy.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import softmax
from scipy.stats import binomtest

from .metrics import confidence_bins
from .modes import DISTILLED, HIDDEN, PLAIN_MODE, TEACHER

# the level every verdict of the book is taken at, after Holm's correction over its family
SIGNIFICANCE_LEVEL = 0.05


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


def _seed_weights(n_seeds: int, n_resamples: int, rng) -> np.ndarray:
    """(resamples, seeds): the share of each seed in a resample of the seeds, with replacement."""
    draws = rng.integers(0, n_seeds, size=(n_resamples, n_seeds))
    return np.stack([(draws == s).mean(axis=1) for s in range(n_seeds)], axis=1)


def _per_seed_accuracy(right: np.ndarray, index: np.ndarray) -> np.ndarray:
    """(resamples, seeds): accuracy of each seed's predictions on each resample of sentences."""
    return np.stack([row[index].mean(axis=1) for row in right], axis=1)


def _per_seed_ece(confidence: np.ndarray, correct: np.ndarray, index: np.ndarray, n_bins: int = 10) -> np.ndarray:
    """(resamples, seeds): `expected_calibration_error` of each seed on each resample of sentences."""
    n_resamples, n = index.shape
    out = []
    for conf, right in zip(confidence, correct):
        bins = confidence_bins(conf, n_bins)[index]
        gaps = (conf - right)[index]
        cell = (np.arange(n_resamples)[:, None] * n_bins + bins).ravel()
        sums = np.bincount(cell, weights=gaps.ravel(), minlength=n_resamples * n_bins)
        out.append(np.abs(sums.reshape(n_resamples, n_bins)).sum(axis=1) / n)
    return np.stack(out, axis=1)


def _bootstrap_difference(statistic_a, statistic_b, n_sentences: int, n_a: int, n_b: int, *,
                          paired_seeds: bool, n_resamples: int, seed: int) -> dict:
    """Difference of a statistic (mean over seeds) between two models, resampling test sentences
    and seeds. ``statistic_x(index)`` gives the (resamples, seeds) values on resampled sentences.

    Both models see the same resampled sentences. Seeds are resampled too, so the interval holds
    the variation between training runs: jointly when the seeds are paired (a student and its
    control trained from the same seed), independently otherwise (a student and the teacher)."""
    rng = np.random.default_rng(seed)
    full = np.arange(n_sentences)[None, :]
    observed = float(statistic_a(full).mean() - statistic_b(full).mean())
    index = rng.integers(0, n_sentences, size=(n_resamples, n_sentences))
    weights_a = _seed_weights(n_a, n_resamples, rng)
    weights_b = weights_a if paired_seeds else _seed_weights(n_b, n_resamples, rng)
    diffs = (statistic_a(index) * weights_a).sum(axis=1) - (statistic_b(index) * weights_b).sum(axis=1)
    p_value = 2 * min((diffs <= 0).mean(), (diffs >= 0).mean())
    low, high = np.percentile(diffs, [2.5, 97.5])
    return {"difference": observed, "ci_low": float(low), "ci_high": float(high),
            "p_value": float(min(1.0, p_value)), "samples": diffs}


def _check_seeds(labels, arrays_a: list, arrays_b: list, paired_seeds: bool | None) -> bool:
    if not arrays_a or not arrays_b:
        raise ValueError("each model needs at least one seed")
    for array in list(arrays_a) + list(arrays_b):
        if len(array) != len(labels):
            raise ValueError("every prediction array must have one entry per label")
    if paired_seeds and len(arrays_a) != len(arrays_b):
        raise ValueError(f"paired seeds need as many runs on each side, got {len(arrays_a)} and {len(arrays_b)}")
    return bool(paired_seeds)


def paired_bootstrap(labels, predictions_a: list, predictions_b: list, n_resamples: int = 10_000,
                     seed: int = 0, *, paired_seeds: bool = False) -> dict:
    """Accuracy difference a - b (each averaged over its seeds), resampling test sentences and seeds.

    Both models are scored on the same resampled sentences, so the test accounts for the pairing
    (most sentences are easy for both); resampling each model's seeds adds the variation between
    training runs, the teacher's included. Returns the observed difference, its 95% percentile
    interval and a two-sided p-value (twice the share of resamples on the far side of zero).
    """
    labels = np.asarray(labels)
    paired = _check_seeds(labels, predictions_a, predictions_b, paired_seeds)
    right_a = np.stack([np.asarray(p) == labels for p in predictions_a]).astype(float)
    right_b = np.stack([np.asarray(p) == labels for p in predictions_b]).astype(float)
    return _bootstrap_difference(lambda i: _per_seed_accuracy(right_a, i), lambda i: _per_seed_accuracy(right_b, i),
                                 len(labels), len(right_a), len(right_b), paired_seeds=paired,
                                 n_resamples=n_resamples, seed=seed)


def paired_bootstrap_ece(labels, logits_a: list, logits_b: list, n_resamples: int = 10_000,
                         seed: int = 0, *, paired_seeds: bool = False, n_bins: int = 10) -> dict:
    """ECE difference a - b (each averaged over its seeds) with the same resampling of sentences
    and seeds as `paired_bootstrap`: calibration compared with the machinery used for accuracy."""
    labels = np.asarray(labels)
    paired = _check_seeds(labels, logits_a, logits_b, paired_seeds)

    def confidence_and_correct(all_logits):
        probabilities = [softmax(np.asarray(x, dtype=float), axis=-1) for x in all_logits]
        return (np.stack([p.max(-1) for p in probabilities]),
                np.stack([p.argmax(-1) == labels for p in probabilities]).astype(float))

    conf_a, right_a = confidence_and_correct(logits_a)
    conf_b, right_b = confidence_and_correct(logits_b)
    return _bootstrap_difference(lambda i: _per_seed_ece(conf_a, right_a, i, n_bins),
                                 lambda i: _per_seed_ece(conf_b, right_b, i, n_bins),
                                 len(labels), len(conf_a), len(conf_b), paired_seeds=paired,
                                 n_resamples=n_resamples, seed=seed)


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


def holm_levels(p_values, level: float = SIGNIFICANCE_LEVEL) -> list[float]:
    """The level Holm's procedure tests each p-value at, in input order: the k-th smallest (k from
    0) of m at ``level / (m - k)``. An interval at that level excludes zero exactly when the
    p-value passes its step, so it agrees with the verdict beside it."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p, kind="stable")
    out = np.empty(len(p))
    out[order] = level / (len(p) - np.arange(len(p)))
    return out.tolist()


def adjusted_interval(samples: np.ndarray, level: float) -> tuple[float, float]:
    """The bootstrap percentile interval of coverage 1 - ``level``."""
    low, high = np.percentile(samples, [50 * level, 100 - 50 * level])
    return float(low), float(high)


def with_holm(tests: pd.DataFrame) -> pd.DataFrame:
    """The comparisons as one family: Holm-adjusted p-values beside the raw ones, the accuracy and
    the calibration (ECE) tests adjusted together; and, when the bootstrap samples are at hand,
    each interval adjusted the same way (`holm_levels`: ``holm_ci_*``, ``ece_holm_ci_*``), so an
    interval shown beside a Holm verdict agrees with it. The samples are dropped."""
    if not len(tests):
        return tests.assign(holm_p=[], ece_holm_p=[])
    p_values = list(tests["bootstrap_p"]) + list(tests["ece_p"])
    adjusted = holm_adjust(p_values)
    tests = tests.assign(holm_p=adjusted[:len(tests)], ece_holm_p=adjusted[len(tests):])
    if {"samples", "ece_samples"} <= set(tests.columns):
        levels = holm_levels(p_values)
        for prefix, column, row_levels in (("", "samples", levels[:len(tests)]),
                                           ("ece_", "ece_samples", levels[len(tests):])):
            bounds = [adjusted_interval(samples, level) for samples, level in zip(tests[column], row_levels)]
            tests[f"{prefix}holm_ci_low_points"] = [100 * low for low, _ in bounds]
            tests[f"{prefix}holm_ci_high_points"] = [100 * high for _, high in bounds]
        tests = tests.drop(columns=["samples", "ece_samples"])
    return tests


def comparison_pairs(students, *, hidden_student: str | None = None) -> list[tuple[str, str, str]]:
    """The paired comparisons the book reports, as (model, mode a, mode b): every student distilled
    against its plain control, both against the teacher, and the optional hidden-state run."""
    pairs = [(name, DISTILLED, PLAIN_MODE) for name in students]
    pairs += [(name, mode, TEACHER) for name in students for mode in (DISTILLED, PLAIN_MODE)]
    if hidden_student is not None:
        pairs.append((hidden_student, HIDDEN, DISTILLED))
    return pairs


def compare_variants(records: list[dict], teachers: list[dict], labels,
                     pairs: list[tuple[str, str, str]], ensemble: np.ndarray | None = None) -> pd.DataFrame:
    """Paired tests on the same test sentences, one row per (model, mode a, mode b).

    mode b may be "teacher": ``teachers`` holds the teacher's run records, one per teacher seed,
    and every teacher seed enters the comparison, so the teacher's own seed noise is in the
    interval. mode b may be "ensemble": the test logits of the teacher seeds' ensemble
    (``ensemble``; one model, so its interval is over sentences and the student's seeds). Each
    row gives the mean accuracy difference a - b over seeds with its 95% interval and p-value from `paired_bootstrap` (over test sentences and seeds), the exact McNemar p-value
    of each seed (the teacher of the same seed, or its first one), and the same bootstrap for the
    calibration error (`paired_bootstrap_ece`).
    """
    labels = np.asarray(labels)
    if isinstance(teachers, dict):
        teachers = [teachers]
    references = {TEACHER: {int(r["seed"]): np.asarray(r["test_logits"]) for r in teachers}}
    if ensemble is not None:
        references["ensemble"] = {0: np.asarray(ensemble)}

    def logits(model, mode):
        runs = sorted((r for r in records if r["model"] == model and r.get("mode") == mode),
                      key=lambda r: r["seed"])
        return {int(r["seed"]): np.asarray(r["test_logits"]) for r in runs}

    rows = []
    for model, mode_a, mode_b in pairs:
        if mode_b == "ensemble" and ensemble is None:
            raise ValueError(f"{model}: {mode_a} vs ensemble needs the ensemble's test logits: pass "
                             "ensemble= (`ensemble.ensemble_logits` of the teacher seeds, chapter 2)")
        a = logits(model, mode_a)
        if mode_b in references:
            b = references[mode_b]
            seeds_a, seeds_b, paired = sorted(a), sorted(b), False
        else:
            b = logits(model, mode_b)
            seeds_a = seeds_b = sorted(set(a) & set(b))
            paired = True
        if not seeds_a or not seeds_b:
            raise ValueError(f"no seeds in common for {model}: {mode_a} vs {mode_b}")
        la, lb = [a[s] for s in seeds_a], [b[s] for s in seeds_b]
        boot = paired_bootstrap(labels, [x.argmax(-1) for x in la], [x.argmax(-1) for x in lb], paired_seeds=paired)
        ece = paired_bootstrap_ece(labels, la, lb, paired_seeds=paired)
        first_b = b[seeds_b[0]]
        mcnemar = [mcnemar_test(labels, a[s].argmax(-1), b.get(s, first_b).argmax(-1))["p_value"] for s in seeds_a]
        rows.append({"model": model, "a": mode_a, "b": mode_b, "seeds": len(seeds_a),
                     "seeds_b": len(seeds_b),
                     "difference_points": 100 * boot["difference"],
                     "ci_low_points": 100 * boot["ci_low"], "ci_high_points": 100 * boot["ci_high"],
                     "bootstrap_p": boot["p_value"],
                     "mcnemar_p_per_seed": ", ".join(f"{p:.3f}" for p in mcnemar),
                     "ece_difference_points": 100 * ece["difference"],
                     "ece_ci_low_points": 100 * ece["ci_low"], "ece_ci_high_points": 100 * ece["ci_high"],
                     "ece_p": ece["p_value"], "samples": boot["samples"], "ece_samples": ece["samples"]})
    return pd.DataFrame(rows)


def family_tests(records: list[dict], teachers: list[dict], labels,
                 pairs: dict[str, list[tuple[str, str, str]]], ensemble: np.ndarray | None = None) -> pd.DataFrame:
    """Every comparison of chapter 4 as one Holm family, computed once.

    ``pairs`` maps an experiment ("students", "budget", "pool") to its (model, mode a, mode b) pairs; each
    row carries its ``experiment`` as a field, so a reader selects its rows by field and reads the
    Holm-adjusted p-values as chapter 4 computed them, never adjusting again over another set.
    A budget-curve comparison also carries its ``fraction`` and the two budget modes (``mode_a``,
    ``mode_b``) as fields, read from the runs' records, so no reader parses them out of a name.
    """
    parts = [compare_variants(records, teachers, labels, experiment_pairs, ensemble).assign(experiment=experiment)
             for experiment, experiment_pairs in pairs.items() if experiment_pairs]
    if not parts:
        return with_holm(pd.DataFrame(columns=["model", "a", "b", "bootstrap_p", "ece_p", "experiment",
                                               "fraction", "mode_a", "mode_b"]))
    tests = pd.concat(parts, ignore_index=True)
    budget = {(r["model"], r.get("mode")): (r["budget_fraction"], r["budget_mode"])
              for r in records if "budget_fraction" in r}
    points = [(budget.get((m, a)), budget.get((m, b))) for m, a, b in zip(tests["model"], tests["a"], tests["b"])]
    tests["fraction"] = [a[0] if a else None for a, _ in points]
    tests["mode_a"] = [a[1] if a else None for a, _ in points]
    tests["mode_b"] = [b[1] if b else None for _, b in points]
    return with_holm(tests)

