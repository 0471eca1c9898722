"""The sentences the book states about a run, computed from its recorded results.

Chapters 4, 5 and 6 glue these into their prose (myst-nb), so every claim on the page follows from
the numbers of the run that rendered it, and the wording rules (when a difference is called
significant, how a gap is phrased) are tested here once instead of living in hidden cells.
Each function returns plain strings: one Markdown bullet per claim.
"""
from __future__ import annotations

import pandas as pd

from .latency import latency_interval_text, speedup_text
from .losses import FROM_PARAMETER
from .metrics import format_p

SIGNIFICANCE_LEVEL = 0.05


def verdict(difference_points: float, p_value: float, level: float = SIGNIFICANCE_LEVEL) -> str:
    """'significantly better/worse (p = ...)' or 'not distinguishable on this test set (p = ...)'."""
    if p_value < level:
        side = "better" if difference_points > 0 else "worse"
        return f"significantly {side} ({format_p(p_value)})"
    return f"not distinguishable on this test set ({format_p(p_value)})"


def _row(table: pd.DataFrame, **match) -> pd.Series:
    mask = pd.Series(True, index=table.index)
    for column, value in match.items():
        mask &= table[column] == value
    rows = table[mask]
    if rows.empty:
        raise KeyError(f"no row with {match}")
    return rows.iloc[0]


def _mean(summary: pd.DataFrame, model: str, mode: str) -> float:
    return 100 * _row(summary, model=model, mode=mode)["accuracy_mean"]


def _p(row) -> float:
    """The p-value a verdict rests on: Holm-adjusted within its family when the table has one."""
    return row["holm_p"] if "holm_p" in row and pd.notna(row["holm_p"]) else row["bootstrap_p"]


def _versus(tests: pd.DataFrame, model: str, a: str, b: str) -> str:
    row = _row(tests, model=model, a=a, b=b)
    return f"{row['difference_points']:+.2f} points, {verdict(row['difference_points'], _p(row))}"


def _budget_versus(tests: pd.DataFrame, student: str, fraction: float, a: str, b: str) -> str:
    """One budget comparison, found by its fields (`paired.family_tests`), never by its name."""
    row = _row(tests, model=student, fraction=fraction, mode_a=a, mode_b=b)
    return f"{row['difference_points']:+.2f} points, {verdict(row['difference_points'], _p(row))}"


def student_findings(summary: pd.DataFrame, tests: pd.DataFrame, students: list[str], *,
                     hidden_student: str | None = None) -> list[str]:
    """Chapter 4: each student's distilled and plain mean accuracy and the paired verdicts
    (distilled vs plain, distilled vs teacher), then the hidden-state run."""
    lines = []
    for name in students:
        row = _row(summary, model=name, mode="kd")
        ci = ("" if row["accuracy_ci_low"] is None or pd.isna(row["accuracy_ci_low"]) else
              f" (95% interval over seeds {100 * row['accuracy_ci_low']:.2f} to {100 * row['accuracy_ci_high']:.2f})")
        lines.append(
            f"* **{name}**: distilled {_mean(summary, name, 'kd'):.2f}%{ci}, plain {_mean(summary, name, 'plain'):.2f}%. "
            f"Distilled against plain: {_versus(tests, name, 'kd', 'plain')}. "
            f"Distilled against the teacher: {_versus(tests, name, 'kd', 'teacher')}.")
    if hidden_student is not None:
        lines.append(
            f"* **{hidden_student} with hidden states**: {_mean(summary, hidden_student, 'hidden'):.2f}%; "
            f"against logit-only distillation: {_versus(tests, hidden_student, 'hidden', 'kd')}.")
    return lines


def budget_findings(tests: pd.DataFrame, summary: pd.DataFrame, student: str) -> list[str]:
    """Chapter 4's budget curve in words: per labelled fraction, what distillation, the teacher's
    soft labels on the pool, and their softness (soft minus argmax pool labels) add."""
    lines = []
    for fraction, group in summary.groupby("fraction", sort=True):
        labelled = int(group["labelled"].iloc[0])
        versus = lambda a, b: _budget_versus(tests, student, fraction, a, b)  # noqa: E731
        lines.append(
            f"* **{100 * fraction:g}% of the labels ({labelled} sentences)**: distillation on them against hard "
            f"labels alone {versus('distilled', 'hard')}; the teacher's soft labels on the pool against hard "
            f"labels alone {versus('soft pool', 'hard')}; soft against argmax labels on the same pool "
            f"{versus('soft pool', 'hard pool')}.")
        lines += _budget_caveats(group, fraction)
    return lines


def _budget_caveats(group: pd.DataFrame, fraction: float) -> list[str]:
    """What limits the budget comparisons at one fraction, as nested bullets: the pool modes take
    more optimizer steps at the same epochs, and a mode whose seeds predicted one class only was
    not trained far enough to compare."""
    if not {"steps", "one_class_seeds", "mode"} <= set(group.columns):
        return []
    rows = group.set_index("mode")
    lines = []
    if {"hard", "soft pool"} <= set(rows.index) and pd.notna(rows.loc["hard", "steps"]) \
            and pd.notna(rows.loc["soft pool", "steps"]) and rows.loc["soft pool", "steps"] != rows.loc["hard", "steps"]:
        lines.append(
            f"  * At {100 * fraction:g}% the pool modes took {int(rows.loc['soft pool', 'steps'])} optimizer steps "
            f"and the modes without the pool {int(rows.loc['hard', 'steps'])}: soft pool labels against hard labels "
            "alone measures those extra steps as well as the teacher. Soft against argmax pool labels, and "
            "distillation against hard labels, compare runs of equal steps.")
    stuck = [f"{mode} ({int(rows.loc[mode, 'one_class_seeds'])} of {int(rows.loc[mode, 'seeds'])} seeds)"
             for mode in rows.index if rows.loc[mode, "one_class_seeds"] > 0]
    if stuck:
        lines.append(f"  * At {100 * fraction:g}%, {', '.join(stuck)} predicted one class for every test "
                     "sentence: not trained far enough to say what its recipe can do, only that this "
                     "schedule is too short for it.")
    return lines


def _ece_versus(tests: pd.DataFrame, model: str, a: str, b: str) -> str:
    row = _row(tests, model=model, a=a, b=b)
    p = row["ece_holm_p"] if "ece_holm_p" in row and pd.notna(row["ece_holm_p"]) else row["ece_p"]
    change = "lower" if row["ece_difference_points"] < 0 else "higher"
    if p < SIGNIFICANCE_LEVEL:
        return f"{row['ece_difference_points']:+.2f} points, significantly {change} ({format_p(p)})"
    return f"{row['ece_difference_points']:+.2f} points, not distinguishable on this test set ({format_p(p)})"


def calibration_findings(tests: pd.DataFrame, students: list[str]) -> list[str]:
    """Chapter 4: each student's calibration error, distilled minus plain, with the verdict of the
    same paired bootstrap as accuracy (over sentences and seeds, Holm-adjusted)."""
    return [f"* **{name}**: calibration error (ECE) of the distilled student minus the plain one: "
            f"{_ece_versus(tests, name, 'kd', 'plain')}." for name in students]


def chapter4_summary(tests: pd.DataFrame, summary: pd.DataFrame, budget: pd.DataFrame, full_data: dict,
                     headline_student: str, budget_student: str) -> list[str]:
    """Chapter 4 in four sentences: full data and calibration (of ``headline_student``), scarce
    labels, and the teacher."""
    first = headline_student
    lines = [f"* **With every label**, distilling {first} against training it plain: "
             f"{_versus(tests, first, 'kd', 'plain')}.",
             f"* **Calibration**: {first}'s ECE, distilled minus plain: {_ece_versus(tests, first, 'kd', 'plain')}."]
    if len(budget):
        smallest = budget["fraction"].min()
        rows = budget[budget["fraction"] == smallest].set_index("mode")
        lines.append(
            f"* **With {100 * smallest:g}% of the labels** ({int(rows['labelled'].iloc[0])} sentences), "
            f"{budget_student} reaches {100 * rows.loc['hard', 'accuracy_mean']:.1f}% on hard labels alone and "
            f"{100 * rows.loc['soft pool', 'accuracy_mean']:.1f}% with the teacher's soft labels on the pool"
            f"{_steps_clause(rows)}, against {100 * full_data['mean']:.1f}% with every label; soft against argmax "
            f"pool labels (equal steps): {_budget_versus(tests, budget_student, smallest, 'soft pool', 'hard pool')}.")
    teacher = _row(summary, mode="teacher")
    lines.append(f"* **The teacher** scores {100 * teacher['accuracy_mean']:.2f}% on average over its "
                 f"{int(teacher['seeds'])} seed(s); every comparison with it above includes that spread.")
    return lines


def _steps_clause(rows: pd.DataFrame) -> str:
    """' (332 optimizer steps against 8)' when the pool run trained longer than the hard-label one."""
    if "steps" not in rows.columns:
        return ""
    pool, hard = rows.loc["soft pool", "steps"], rows.loc["hard", "steps"]
    if pd.isna(pool) or pd.isna(hard) or pool == hard:
        return ""
    return f" ({int(pool)} optimizer steps against {int(hard)})"


def recipe_source(sources: dict[str, str]) -> str:
    """Where the final runs' alpha and T came from, in words, from the codes
    `losses.choose_loss_settings` stored: chapter 4's sweep, unless a notebook parameter
    (papermill ``-p alpha 0.3``) set one or both."""
    given = [{"alpha": "alpha", "temperature": "T"}[name] for name in ("alpha", "temperature")
             if sources[name] == FROM_PARAMETER]
    if not given:
        return "the sweep's choice on the validation split, chapter 4"
    if len(given) == 2:
        return "both set by notebook parameters, not by the sweep of chapter 4"
    return f"{given[0]} set by a notebook parameter, the other the sweep's choice (chapter 4)"


def gap_text(gap: float) -> str:
    """An accuracy gap to the teacher (teacher minus model, as a fraction) in words."""
    points = 100 * abs(gap)
    if points < 1e-9:
        return "exactly as accurate as the teacher"
    return f"{points:.2f} points {'less' if gap > 0 else 'more'} accurate than the teacher"


def benchmark_findings(table: pd.DataFrame, seed: int, best: dict | None, within_points: float) -> list[str]:
    """Chapter 5: the fastest student variant, the fastest one within ``within_points`` of the
    teacher's mean accuracy over seeds (``best``, from `results.best_compressed`), every variant
    whose answers differ from its fp32 form, and every skipped variant."""
    measured = table[table["skipped"].isna()]
    students = measured[measured["role"] == "student"]
    fastest = students.sort_values("latency_ms_median").iloc[0]
    lines = [f"* The fastest student variant, **{fastest['model']} [{fastest['variant']}]**, runs "
             f"{speedup_text(fastest)} faster than the fp32 teacher at batch size 1 "
             f"({latency_interval_text(fastest)} ms; 95% intervals over timing rounds) and is {gap_text(fastest['accuracy_gap_vs_teacher'])} "
             f"on the test split (seed {seed})."]
    if best is not None:
        lines.append(f"* The fastest variant within {within_points:g} point of the teacher's accuracy (means over "
                     f"seeds) is **{best['model']} [{best['variant']}]**: {speedup_text(best)} faster, "
                     f"{gap_text(best['accuracy_gap_vs_teacher'])}.")
    else:
        lines.append(f"* No student variant comes within {within_points:g} point of the teacher's accuracy "
                     "(means over seeds) on this test split.")
    for _, row in measured[measured["accuracy_change_vs_fp32"].abs() > 0].iterrows():
        lines.append(f"* {row['model']} [{row['variant']}] answers differently from its fp32 form: "
                     f"{100 * row['accuracy_change_vs_fp32']:+.2f} points of accuracy.")
    for _, row in table[table["skipped"].notna()].iterrows():
        lines.append(f"* {row['model']} [{row['variant']}] was skipped: {row['skipped']}.")
    return lines


def significance_sentences(comparisons: list[dict]) -> list[str]:
    """Chapter 6: one sentence per paired comparison, with its interval and verdict."""
    lines = []
    for row in comparisons:
        b = "the teacher" if row["b"] == "teacher" else f"its {row['b']} control"
        difference = row["difference_points"]
        direction = "level with" if abs(difference) < 1e-9 else "ahead of" if difference > 0 else "behind"
        points = "" if direction == "level with" else f"{abs(difference):.2f} points "
        significant = "significant" if _p(row) < SIGNIFICANCE_LEVEL else "not significant"
        holm = ", Holm-adjusted" if "holm_p" in row and row["holm_p"] is not None else ""
        lines.append(f"* {row['model']} ({row['a']}) is {points}{direction} {b} "
                     f"(95% interval over sentences and seeds {row['ci_low_points']:+.2f} to {row['ci_high_points']:+.2f}, "
                     f"{format_p(_p(row))}{holm}): {significant}.")
    return lines


def takeaways(results: dict, table: pd.DataFrame, best: dict | None, within_points: float) -> list[str]:
    """Chapter 6: the teacher, the distilled DistilBERT-shaped student beside it, and the best
    compressed variant (``best``, from `results.best_compressed`) or the closest one."""
    settings = results["settings"]
    training = pd.DataFrame(results["training_runs"]).set_index(["model", "mode"])
    teacher_acc = 100 * training.loc[(settings["teacher"], "teacher"), "accuracy_mean"]
    first = settings["headline_student"]
    kd_acc = 100 * training.loc[(first, "kd"), "accuracy_mean"]
    copy = _row(table, base_model=first, mode="kd", variant="fp32")
    teacher_size = table[table["role"] == "teacher"]["size_mb"].iloc[0]
    lines = [f"* The teacher, {settings['teacher']}, scores {teacher_acc:.2f}% on the test split.",
             f"* The distilled {first} averages {kd_acc:.2f}% over {len(results['run']['seeds'])} seeds, "
             f"{teacher_acc - kd_acc:.2f} points below the teacher, and runs {speedup_text(copy)} "
             f"faster at batch size 1 in fp32 at {copy['size_mb'] / teacher_size:.2f} of its size."]
    if best is None:
        students = table[table["role"] == "student"]
        closest = students.loc[students["accuracy"].idxmax()]
        lines.append(f"* No student variant averages within {within_points:g} point of the teacher. The closest is "
                     f"**{closest['model']} [{closest['variant']}]**: {100 * closest['accuracy']:.2f}%, "
                     f"{teacher_acc - 100 * closest['accuracy']:.2f} points below, "
                     f"{speedup_text(closest)} faster than the fp32 teacher.")
    else:
        lines.append(f"* The best compressed variant, the fastest student whose mean accuracy is within "
                     f"{within_points:g} point of the teacher's, is **{best['model']} [{best['variant']}]**: "
                     f"{100 * best['accuracy']:.2f}%, {speedup_text(best)} faster than the fp32 "
                     f"teacher, {best['disk_mb']:.0f} MB on disk.")
    return lines


def goals_sentence(goals: list[dict], profile: str) -> str:
    """Chapter 6: how many of the profile's targets the run met, or that it set none."""
    if not goals:
        return (f"The {profile} profile sets itself no targets; the cpu profile's recorded run is checked "
                "against the project's.")
    targets = [g for g in goals if g["target"] != "reported"]
    reported = len(goals) - len(targets)
    met = sum(g["met"] is True for g in targets)
    also = (f" ({reported} more {'figure is' if reported == 1 else 'figures are'} reported without a "
            "threshold)") if reported else ""
    return (f"The project set itself {len(targets)} {'target' if len(targets) == 1 else 'targets'} for this "
            f"profile before the run; {met} of them {'was' if met == 1 else 'were'} met{also}:")
