"""The tables a reader sees: human headers with units, number formats, compact styling.

`COLUMNS` names every column the book shows once; `style_table` renders any frame with it.
"""
from __future__ import annotations

import pandas as pd

from ..metrics import interval_span


# How each internal column is shown to readers: header and format (str.format spec or function).
COLUMNS: dict[str, tuple[str, object]] = {
    "model": ("model", None), "base_model": ("model", None), "student": ("student", None),
    "mode": ("training", None), "variant": ("variant", None), "role": ("role", None),
    "seeds": ("seeds", "{:.0f}"), "seed": ("seed", "{:.0f}"), "correct": ("correct answers", "{:.0f}"),
    "correct_per_seed": ("correct answers per seed", None),
    "accuracy": ("accuracy", "{:.2%}"), "accuracy_mean": ("accuracy, mean", "{:.2%}"),
    "accuracy_std": ("std over seeds", "{:.2%}"), "accuracy_ci_low": ("95% interval over seeds: from", "{:.2%}"),
    "accuracy_ci_high": ("to", "{:.2%}"), "macro_f1": ("macro-F1", "{:.2%}"),
    "macro_f1_mean": ("macro-F1, mean", "{:.2%}"), "macro_f1_std": ("macro-F1 std", "{:.2%}"),
    "ece": ("calibration error (ECE)", "{:.2%}"), "ece_mean": ("calibration error (ECE), mean", "{:.2%}"),
    "epoch_s_mean": ("seconds per epoch", "{:.1f}"),
    "parameters": ("parameters (millions)", lambda v: f"{v / 1e6:.1f}"),
    "size_mb": ("fp32 size (MB)", "{:.1f}"), "disk_mb": ("on disk (MB)", "{:.1f}"),
    "latency_ms_median": ("latency, median (ms)", "{:.2f}"), "latency_ms_p95": ("latency, p95 (ms)", "{:.2f}"),
    "throughput_samples_per_s": ("sentences/s at batch 32", "{:.1f}"),
    "speedup_vs_teacher": ("speed-up vs fp32 teacher", "{:.2f}x"),
    "speedup_text": ("speed-up vs fp32 teacher (95% interval over timing rounds)", None),
    "latency_text": ("latency, median ms (95% interval over timing rounds)", None),
    "timed_as": ("speed timed once for the same architecture, as", None),
    "architecture": ("architecture", None), "lever": ("lever", None), "setting": ("setting", None),
    "n_correct": ("correct answers", "{:.0f}"),
    "disk_ratio_vs_teacher": ("disk size vs teacher", "{:.2f}"),
    "accuracy_change_vs_fp32": ("vs its fp32 form (points)", lambda v: f"{100 * v:+.2f}"),
    "pareto": ("on the Pareto front", lambda v: "yes" if v is True else ""),
    "skipped": ("not measured because", None),
    "a": ("variant A", None), "b": ("against B", None), "difference_points": ("A minus B (points)", "{:+.2f}"),
    "ci_low_points": ("95% interval over sentences and seeds: from", "{:+.2f}"),
    "ci_high_points": ("to (points)", "{:+.2f}"), "seeds_b": ("seeds of B", "{:.0f}"),
    "ece_difference_points": ("ECE, A minus B (points)", "{:+.2f}"),
    "ece_ci_low_points": ("ECE, 95% interval: from", "{:+.2f}"), "ece_ci_high_points": ("ECE: to (points)", "{:+.2f}"),
    "ece_p": ("p (ECE), paired bootstrap", "{:.3f}"), "ece_holm_p": ("p (ECE), Holm-adjusted", "{:.3f}"),
    "experiment": ("experiment", None), "runs": ("training runs", "{:.0f}"), "train_min": ("training minutes", "{:.1f}"),
    "bootstrap_p": ("p, paired bootstrap", "{:.3f}"), "holm_p": ("p, Holm-adjusted", "{:.3f}"),
    "mcnemar_p_per_seed": ("p, McNemar, per seed", None),
    "fraction": ("share of the labels", "{:.0%}"), "labelled": ("labelled sentences", "{:.0f}"),
    "steps": ("optimizer steps", "{:.0f}"), "one_class_seeds": ("seeds predicting one class only", "{:.0f}"),
    "sentences": ("sentences", None), "temperature": ("temperature T", "{:g}"),
    "entropy_mean": ("entropy, mean (nats)", "{:.3f}"), "top_probability_mean": ("top probability, mean", "{:.3f}"),
    "gflop_per_sample": ("GFLOP per sentence", "{:.2f}"), "mean_tokens_batch1": ("tokens per sentence", "{:.1f}"),
    "gflops_batch1": ("GFLOP/s at batch 1", "{:.1f}"), "gflops_batch32": ("GFLOP/s at batch 32", "{:.1f}"),
    "peak_basis": ("peak measured with", None), "peak_gflops": ("peak (GFLOP/s)", "{:.0f}"),
    "pct_of_peak_batch32": ("share of peak at batch 32", "{:.0f}%"),
    "steps_timed": ("steps timed", None), "step_s": ("seconds per step", "{:.3f}"),
    "epoch_s_estimate": ("seconds per epoch (estimate)", "{:.1f}"), "precision": ("autocast", None),
    "batch_size": ("batch size", None), "ratio_vs_plain": ("time vs a plain step", "{:.2f}x"),
    "teacher": ("teacher", None), "wilson_low": ("95% interval over sentences: from", "{:.2%}"),
    "wilson_high": ("to", "{:.2%}"), "label": ("label", None), "schedule": ("schedule", None),
    "epochs": ("epochs", "{:.2f}"), "validation_accuracy": ("validation accuracy, mean over seeds", "{:.2%}"),
    "multiple": ("transfer set (x the labels)", "{:g}x"), "labels": ("labels on it", None),
    "transfer_sentences": ("teacher-labelled sentences", "{:.0f}"), "rates": ("rates: mask, n-gram, delete, swap", None),
    "step_multiple": ("steps (x the plain run's)", "{:g}x"), "hidden_weight": ("weight of the hidden-state term", "{:g}"),
    "scales": ("scales", None), "zero point": ("zero point", None),
    "max_abs_error": ("largest error", "{:.2e}"), "mean_abs_error": ("mean error", "{:.2e}"),
    "relative_rms_error": ("error relative to the weights (RMS)", "{:.2%}"),
    "quantized": ("in int8", None), "layers": ("Linear layers", "{:.0f}"),
    "max_logit_change": ("largest change of a logit", "{:.3f}"),
    "holm_ci_low_points": ("interval, Holm-adjusted: from", "{:+.2f}"), "holm_ci_high_points": ("to (points)", "{:+.2f}"),
}


# chapter 4's experiments (`paired.family_tests`' field ``experiment``), as a reader's heading
EXPERIMENTS = {
    "students": "Distilled against plain, every label", "budget": "The budget curve",
    "pool": "Every label and the pool", "low-resource": "The low-resource arm",
    "transfer": "The transfer-set size curve", "recipe": "The chosen recipe",
}


TABLE_CSS = [  # rules and alignment; the book's own stylesheet (_static/fit.css) sets the size
    {"selector": "", "props": "border-collapse: collapse;"},
    {"selector": "th", "props": "text-align: left; vertical-align: bottom; padding: 3px 6px; "
                                "border-bottom: 1px solid #888; font-weight: 600;"},
    {"selector": "td", "props": "padding: 2px 6px; text-align: right;"},
    {"selector": "tbody tr:nth-child(even)", "props": "background-color: #f4f6f8;"},
]
TEXT_COLUMNS = {"model", "base_model", "student", "mode", "variant", "role", "a", "b", "skipped", "peak_basis",
                "sentences", "experiment", "correct_per_seed", "mcnemar_p_per_seed", "precision",
                "teacher", "label", "schedule", "labels", "rates", "scales", "zero point", "quantized"}

# an interval's two ends, shown as one column "low to high" (a table of half the width)
INTERVALS = {
    ("accuracy_ci_low", "accuracy_ci_high"): "95% interval over seeds",
    ("wilson_low", "wilson_high"): "95% interval over sentences (Wilson)",
    ("ci_low_points", "ci_high_points"): "95% interval over sentences and seeds (points)",
    ("holm_ci_low_points", "holm_ci_high_points"): "interval over sentences and seeds, Holm-adjusted (points)",
    ("ece_ci_low_points", "ece_ci_high_points"): "ECE, 95% interval (points)",
}


def _with_intervals(table: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """Each interval whose two ends are both shown becomes one text column, in the low end's place."""
    table, columns = table.copy(), list(columns)
    for (low, high), header in INTERVALS.items():
        if low in columns and high in columns:
            show = COLUMNS[low][1]
            table[header] = [interval_span(a, b, show) or "n/a" for a, b in zip(table[low], table[high])]
            columns[columns.index(low)] = header
            columns.remove(high)
    return table, columns


def style_table(table: pd.DataFrame, columns: list[str], formats: dict | None = None):
    """The table a reader sees: the given columns with human headers, units and formats, no index.

    Columns named in `COLUMNS` get its header and format; others keep their name, formatted by
    ``formats`` when given. Both ends of an interval (`INTERVALS`) are shown as one column."""
    unknown = [c for c in columns if c not in table.columns]
    if unknown:
        raise KeyError(f"columns not in the table: {unknown}")
    table, columns = _with_intervals(table, columns)
    headers = {c: COLUMNS.get(c, (c, None))[0] for c in columns}
    formats = {**{headers[c]: COLUMNS[c][1] for c in columns if c in COLUMNS and COLUMNS[c][1] is not None},
               **(formats or {})}
    left = [{"selector": f"td.col{i}", "props": "text-align: left;"}
            for i, c in enumerate(columns) if c in TEXT_COLUMNS or not pd.api.types.is_numeric_dtype(table[c])]
    shown = table[columns].rename(columns=headers)
    return shown.style.format(formats, na_rep="n/a").hide(axis="index").set_table_styles(TABLE_CSS + left)
