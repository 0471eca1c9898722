"""The sentences the book states about a run, computed from its recorded results.

Chapters 4, 5 and 6 glue these into their prose (myst-nb), so every claim on the page follows from
the numbers of the run that rendered it, and the wording rules (when a difference is called
significant, how a gap is phrased) are tested here once instead of living in hidden cells.
Each function returns plain strings: one Markdown bullet per claim.
"""
from __future__ import annotations

import pandas as pd

from ..latency import latency_interval_text, speedup_text
from ..losses import FROM_PARAMETER
from ..metrics import format_p, interval_span
from ..paired import SIGNIFICANCE_LEVEL
from ..transfer_curve import RECIPE_MODE, transfer_mode_name
from ..modes import DISTILLED, HIDDEN, PLAIN_MODE, TEACHER
# what a comparison's mode b is, in words
COMPARED_WITH = {TEACHER: "the teacher", "ensemble": "the ensemble of the teacher's seeds",
                 PLAIN_MODE: "its plain control", DISTILLED: "its distilled run"}


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


def _seed_interval(row) -> str:
    """' (95% interval over seeds 94.10 to 96.20)' after a mean accuracy, or nothing with one seed."""
    if row["accuracy_ci_low"] is None or pd.isna(row["accuracy_ci_low"]):
        return ""
    return f" (95% interval over seeds {interval_span(row['accuracy_ci_low'], row['accuracy_ci_high'], scale=100)})"


def _experiment(tests: pd.DataFrame, experiment: str) -> pd.DataFrame:
    """The rows of one experiment of chapter 4's family (all rows of a table without that field)."""
    return tests[tests["experiment"] == experiment] if "experiment" in tests else tests


def _against(tests: pd.DataFrame, model: str, mode: str, controls) -> list[tuple[str, pd.Series]]:
    """(label, row) of each comparison of ``model``'s ``mode`` against ``controls`` that was tested."""
    return [(f"against {COMPARED_WITH[b]}", _row(tests, model=model, a=mode, b=b)) for b in controls
            if len(tests[(tests["model"] == model) & (tests["a"] == mode) & (tests["b"] == b)])]


def _versus(tests: pd.DataFrame, model: str, a: str, b: str) -> str:
    row = _row(tests, model=model, a=a, b=b)
    return f"{row['difference_points']:+.2f} points, {verdict(row['difference_points'], _p(row))}"


def interval_text(row, over: str) -> str:
    """A comparison's interval as the book states it, named by kind: adjusted like the verdict
    beside it (Holm's level for this comparison, `paired.holm_levels`) when the row has one,
    else the plain 95% interval. ``over``: what was resampled (e.g. "sentences and seeds")."""
    if "holm_ci_low_points" in row and pd.notna(row["holm_ci_low_points"]):
        return (f"interval over {over}, Holm-adjusted like the verdict: "
                f"{interval_span(row['holm_ci_low_points'], row['holm_ci_high_points'], '{:+.2f}')}")
    return f"95% interval over {over}: {interval_span(row['ci_low_points'], row['ci_high_points'], '{:+.2f}')}"


def _versus_with_interval(tests: pd.DataFrame, model: str, a: str, b: str, over: str) -> str:
    """`_versus` with its interval (`interval_text`) ahead of the verdict."""
    row = _row(tests, model=model, a=a, b=b)
    return (f"{row['difference_points']:+.2f} points ({interval_text(row, over)}), "
            f"{verdict(row['difference_points'], _p(row))}")


def _ece_p(row) -> float:
    return row["ece_holm_p"] if "ece_holm_p" in row and pd.notna(row["ece_holm_p"]) else row["ece_p"]


def compared(parts: list[tuple[str, pd.Series]], *, ece: bool = False) -> str:
    """Several comparisons in one clause: each difference its verdict calls significant, with its
    p-value, then all the others together, the verdict said once: "not distinguishable on this
    test set (each p >= 0.05, Holm-adjusted): against its plain control +0.12, against the
    teacher -1.20 points". ``ece``: the calibration differences (lower is better)."""
    significant, null, holm = [], [], False
    for label, row in parts:
        difference = row["ece_difference_points" if ece else "difference_points"]
        p_value = _ece_p(row) if ece else _p(row)
        holm |= pd.notna(row.get("ece_holm_p" if ece else "holm_p"))
        if p_value < SIGNIFICANCE_LEVEL:
            words = ("lower" if difference < 0 else "higher") if ece else ("better" if difference > 0 else "worse")
            significant.append(f"{label} {difference:+.2f} points, significantly {words} ({format_p(p_value)})")
        else:
            null.append(f"{label} {difference:+.2f}")
    if null:
        adjusted = ", Holm-adjusted" if holm else ""
        significant.append(f"not distinguishable on this test set (each p >= {SIGNIFICANCE_LEVEL:g}{adjusted}): "
                           f"{', '.join(null)} points")
    return "; ".join(significant)


def _budget_versus(tests: pd.DataFrame, student: str, fraction: float, a: str, b: str) -> str:
    """One comparison of the budget curve (not of the low-resource arm at the same fraction), found
    by its fields (`paired.family_tests`), never by its name."""
    row = _row(_experiment(tests, "budget"), model=student, fraction=fraction, mode_a=a, mode_b=b)
    return f"{row['difference_points']:+.2f} points, {verdict(row['difference_points'], _p(row))}"


def student_findings(summary: pd.DataFrame, tests: pd.DataFrame, students: list[str], *,
                     hidden_student: str | None = None) -> list[str]:
    """Chapter 4: each student's distilled and plain mean accuracy and the paired verdicts
    (distilled vs plain, distilled vs teacher; the null ones said once), then the hidden-state run."""
    lines = []
    for name in students:
        row = _row(summary, model=name, mode=DISTILLED)
        ci = _seed_interval(row)
        lines.append(
            f"* **{name}**: distilled {_mean(summary, name, DISTILLED):.2f}%{ci}, plain {_mean(summary, name, PLAIN_MODE):.2f}%; "
            + compared([("distilled against plain", _row(tests, model=name, a=DISTILLED, b=PLAIN_MODE)),
                        ("distilled against the teacher", _row(tests, model=name, a=DISTILLED, b="teacher"))]) + ".")
    if hidden_student is not None:
        lines.append(
            f"* **{hidden_student} with hidden states**: {_mean(summary, hidden_student, HIDDEN):.2f}%; "
            + compared([("against logit-only distillation", _row(tests, model=hidden_student, a=HIDDEN, b=DISTILLED))])
            + ".")
    return lines


# the budget curve's questions at each fraction, as (mode a, mode b, how the book asks it)
BUDGET_QUESTIONS = (("distilled", "hard", "distillation on them against hard labels alone"),
                    ("soft pool", "hard", "the teacher's soft labels on the pool against hard labels alone"),
                    ("soft pool", "hard pool", "soft against argmax labels on the same pool"))


def budget_findings(tests: pd.DataFrame, summary: pd.DataFrame, student: str) -> list[str]:
    """Chapter 4's budget curve in words: per labelled fraction, what distillation, the teacher's
    soft labels on the pool, and their softness (soft minus argmax pool labels) add. A comparison
    with an arm that answered one class on some seed gets no verdict: that arm never trained."""
    lines = []
    for fraction, group in summary.groupby("fraction", sort=True):
        labelled = int(group["labelled"].iloc[0])
        stuck = one_class_arms(group)
        parts, withheld = [], []
        for a, b, question in BUDGET_QUESTIONS:
            if a in stuck or b in stuck:
                withheld.append(question)
                continue
            parts.append((question, _row(tests, model=student, fraction=fraction, mode_a=a, mode_b=b)))
        text = compared(parts) if parts else ""
        if withheld:
            text += ("; " if text else "") + f"no verdict on {' or '.join(withheld)} (an arm answered one class)"
        lines.append(f"* **{100 * fraction:g}% of the labels ({labelled} sentences)**: {text}.")
        lines += _budget_caveats(group, fraction)
    return lines


def one_class_arms(group: pd.DataFrame) -> set[str]:
    """The modes at one fraction of which some seed answered one class for every test sentence."""
    if not {"one_class_seeds", "mode"} <= set(group.columns):
        return set()
    return set(group.loc[group["one_class_seeds"] > 0, "mode"])


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
    difference, p_value = row["ece_difference_points"], _ece_p(row)
    if p_value < SIGNIFICANCE_LEVEL:
        return f"{difference:+.2f} points, significantly {'lower' if difference < 0 else 'higher'} ({format_p(p_value)})"
    return f"{difference:+.2f} points, not distinguishable on this test set ({format_p(p_value)})"


def calibration_findings(tests: pd.DataFrame, students: list[str]) -> list[str]:
    """Chapter 4: the students' calibration error, distilled minus plain, with the verdicts of the
    same paired bootstrap as accuracy (over sentences and seeds, Holm-adjusted), the null ones
    said once."""
    parts = [(name, _row(tests, model=name, a=DISTILLED, b=PLAIN_MODE)) for name in students]
    return [f"* Calibration error (ECE) of each distilled student minus its plain control: "
            f"{compared(parts, ece=True)}."]


def chapter4_summary(tests: pd.DataFrame, summary: pd.DataFrame, budget: pd.DataFrame, full_data: dict,
                     headline_student: str, budget_student: str, pool_mode: str | None = None,
                     transfer: pd.DataFrame | None = None) -> list[str]:
    """Chapter 4 in a few sentences: full data and calibration (of ``headline_student``), scarce
    labels, the best recipe (every label + the pool, in ``pool_mode``, when it was trained), and
    the teacher."""
    first = headline_student
    lines = [f"* **With every label**, distilling {first} against training it plain: "
             f"{_versus(tests, first, DISTILLED, PLAIN_MODE)}.",
             f"* **Calibration**: {first}'s ECE, distilled minus plain: {_ece_versus(tests, first, DISTILLED, PLAIN_MODE)}."]
    if len(budget):
        smallest = budget["fraction"].min()
        rows = budget[budget["fraction"] == smallest].set_index("mode")
        lines.append(
            f"* **With {100 * smallest:g}% of the labels** ({int(rows['labelled'].iloc[0])} sentences), "
            f"{budget_student} reaches {100 * rows.loc['hard', 'accuracy_mean']:.1f}% on hard labels alone and "
            f"{100 * rows.loc['soft pool', 'accuracy_mean']:.1f}% with the teacher's soft labels on the pool"
            f"{_steps_clause(rows)}, against {100 * full_data['mean']:.1f}% with every label; soft against argmax "
            f"pool labels (equal steps): "
            + ("no verdict (an arm answered one class)" if one_class_arms(rows.reset_index()) & {"soft pool", "hard pool"}
               else _budget_versus(tests, budget_student, smallest, 'soft pool', 'hard pool')) + ".")
    if pool_mode is not None and len(tests[(tests["model"] == first) & (tests["a"] == pool_mode)]):
        lines.append(f"* **Every label plus the teacher's soft labels on the pool**: {first} reaches "
                     f"{_mean(summary, first, pool_mode):.2f}%; against its plain control "
                     f"{_versus(tests, first, pool_mode, PLAIN_MODE)}; against the teacher "
                     f"{_versus(tests, first, pool_mode, 'teacher')}.")
    if transfer is not None and (transfer["multiple"] > 0).any():
        largest = transfer["multiple"].max()
        soft = _row(transfer, multiple=largest, labels="soft")
        row = _row(_experiment(tests, "transfer"), model=budget_student, a=transfer_mode_name("soft", largest), b=NO_TRANSFER)
        lines.append(f"* **A transfer set {largest:g}x the labels**: {budget_student} on every label plus the teacher's "
                     f"soft labels on {int(soft['transfer_sentences'])} sentences reaches "
                     f"{100 * soft['accuracy_mean']:.2f}%, against {100 * _row(transfer, multiple=0.0)['accuracy_mean']:.2f}% "
                     f"with no transfer set on the same steps: {row['difference_points']:+.2f} points, "
                     f"{verdict(row['difference_points'], _p(row))}.")
    teacher = _row(summary, mode=TEACHER)
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


def benchmark_findings(table: pd.DataFrame, seed: int, best: dict | None, within_points: float,
                       front: pd.DataFrame | None = None, teacher_accuracy: float | None = None) -> list[str]:
    """Chapter 5: the fastest student variant, the fastest one within ``within_points`` of the
    teacher's mean accuracy over seeds (``best``, from `results.best_compressed`) or, when there
    is none, the front that explains why (``front``: the variants, means over seeds, that no other
    beats on both speed and accuracy, `benchmark.pareto_front`; gaps from ``teacher_accuracy``,
    `results.teacher_mean_accuracy`), every variant whose answers differ from its fp32 form, and
    every skipped variant."""
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
        if front is not None and len(front) and teacher_accuracy is not None:
            lines.append(frontier_sentence(front, teacher_accuracy))
    for _, row in measured[measured["accuracy_change_vs_fp32"].abs() > 0].iterrows():
        lines.append(f"* {row['model']} [{row['variant']}] answers differently from its fp32 form: "
                     f"{100 * row['accuracy_change_vs_fp32']:+.2f} points of accuracy.")
    for _, row in table[table["skipped"].notna()].iterrows():
        lines.append(f"* {row['model']} [{row['variant']}] was skipped: {row['skipped']}.")
    return lines


def frontier_sentence(front: pd.DataFrame, teacher_accuracy: float) -> str:
    """Why no variant is both fast and close to the teacher: the front of speed against mean
    accuracy, slowest first, each with its speed-up and its gap to ``teacher_accuracy`` (the
    teacher's mean over its seeds)."""
    steps = [f"{row['model']} [{row['variant']}] {speedup_text(row)} faster, "
             f"{gap_text(teacher_accuracy - row['accuracy'])}"
             for _, row in front.sort_values("latency_ms_median", ascending=False).iterrows()]
    return ("* Why: along the front of speed against accuracy (the variants no other beats on both; "
            "accuracy as means over seeds, the teacher's over its seeds; speed-ups against the fp32 "
            "teacher with 95% intervals over timing rounds) every step faster costs accuracy: "
            f"{'; '.join(steps)}.")


def significance_sentences(comparisons: list[dict]) -> list[str]:
    """Chapter 6: one sentence per paired comparison, with its interval and verdict."""
    lines = []
    for row in comparisons:
        b = COMPARED_WITH.get(row["b"], f"its {row['b']} run")
        difference = row["difference_points"]
        direction = "level with" if abs(difference) < 1e-9 else "ahead of" if difference > 0 else "behind"
        points = "" if direction == "level with" else f"{abs(difference):.2f} points "
        significant = "significant" if _p(row) < SIGNIFICANCE_LEVEL else "not significant"
        holm = ", Holm-adjusted" if "holm_p" in row and row["holm_p"] is not None else ""
        lines.append(f"* {row['model']} ({row['a']}) is {points}{direction} {b} "
                     f"({interval_text(row, 'sentences and seeds')}; {format_p(_p(row))}{holm}): {significant}.")
    return lines


def takeaways(results: dict, table: pd.DataFrame, best: dict | None, within_points: float) -> list[str]:
    """Chapter 6: the teacher, the distilled DistilBERT-shaped student beside it, and the best
    compressed variant (``best``, from `results.best_compressed`) or the closest one."""
    settings = results["settings"]
    training = pd.DataFrame(results["training_runs"]).set_index(["model", "mode"])
    teacher_acc = 100 * training.loc[(settings["teacher"], TEACHER), "accuracy_mean"]
    first = settings["headline_student"]
    kd_acc = 100 * training.loc[(first, DISTILLED), "accuracy_mean"]
    copy = _row(table, base_model=first, mode=DISTILLED, variant="fp32")
    teacher_size = table[table["role"] == "teacher"]["size_mb"].iloc[0]
    teacher_seeds = int(training.loc[(settings["teacher"], TEACHER), "seeds"])
    lines = [f"* The teacher, {settings['teacher']}, scores {teacher_acc:.2f}% on the test split, the mean over "
             f"its {teacher_seeds} seed(s).",
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


def when_distillation_pays(results: dict) -> list[str]:
    """Chapter 6's answer to the book's question, from the fair arms only (every arm trained, each
    pair differing in one thing; no verdict beside an arm that answered one class): with every
    label, with few labels and a teacher trained on all of them or on those few, with a transfer
    set many times the labels, and the chosen recipe for the larger students."""
    comparisons = pd.DataFrame(results["comparisons"])
    first = results["settings"]["headline_student"]
    lines = [f"* **With every label**, distilling {first} on the labelled sentences against its plain "
             f"control: {_versus(comparisons, first, DISTILLED, PLAIN_MODE)}."]
    arms = [("budget", "a teacher trained on every label"), ("low_resource", "a teacher trained on those labels only")]
    for part, teacher in arms:
        block = results.get(part)
        if not block or not block.get("summary"):
            continue
        summary, tests = pd.DataFrame(block["summary"]), pd.DataFrame(block["tests"])
        fraction = summary["fraction"].min()
        group = summary[summary["fraction"] == fraction]
        stuck = one_class_arms(group)
        parts = [(question, _row(tests, fraction=fraction, mode_a=a, mode_b=b))
                 for a, b, question in BUDGET_QUESTIONS if not {a, b} & stuck]
        text = compared(parts) if parts else "no verdict (an arm answered one class)"
        lines.append(f"* **With {100 * fraction:g}% of the labels** ({int(group['labelled'].iloc[0])} sentences) "
                     f"and {teacher}: {text}.")
    transfer = results.get("transfer")
    if transfer and transfer.get("summary"):
        summary, tests = pd.DataFrame(transfer["summary"]), pd.DataFrame(transfer["tests"])
        largest = summary["multiple"].max()
        if largest > 0:
            soft = transfer_mode_name("soft", largest)
            parts = [("soft labels against no transfer set", _row(tests, a=soft, b=NO_TRANSFER)),
                     ("soft against argmax labels", _row(tests, a=soft, b=transfer_mode_name("argmax", largest)))]
            arms = summary[summary["multiple"].isin([0, largest])]
            text = ("no verdict (an arm answered one class)" if (arms["one_class_seeds"] > 0).any()
                    else compared(parts))
            lines.append(f"* **With every label and a transfer set {largest:g}x the labels** "
                         f"({transfer['student']}, equal steps): {text}.")
    for name in (results.get("recipe") or {}).get("students", []):
        parts = _against(comparisons, name, RECIPE_MODE, (PLAIN_MODE, DISTILLED, TEACHER))
        lines.append(f"* **{name} on the chosen recipe**: {compared(parts)}.")
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


def teacher_choice_sentence(choice: dict, seeds: int) -> str:
    """Chapter 4: which teacher the pool students learn from, and why (`ensemble.choose_teacher`)."""
    if seeds < 2:
        return "With one teacher seed there is no ensemble: every student learns from the single teacher."
    counts, n = choice["validation_correct"], choice["validation_n"]
    measured = (f"The ensemble of the {seeds} teacher seeds answers {counts['ensemble']} of the {n} validation "
                f"sentences correctly, the single teacher {counts['single']}")
    if choice["teacher"] == "ensemble":
        return (f"{measured}: the ensemble is the better teacher here, so each pool student learns from both "
                "(modes `pool` and `pool-ensemble`) and the compression student from the ensemble.")
    return (f"{measured}: the ensemble is no better on validation, so every student learns from the single "
            "teacher and no run learns from the ensemble.")


def pool_findings(summary: pd.DataFrame, tests: pd.DataFrame, pool_students: list[str],
                  compression_students: list[str], modes: list[str]) -> list[str]:
    """Chapter 4: each student of the best recipe (every label + the pool's soft labels) against
    its plain control, its distilled run and the teacher (and the ensemble, when tested), the null
    verdicts said once per student."""
    lines = []
    for name in pool_students:
        for mode in modes:
            row = _row(summary, model=name, mode=mode)
            ci = _seed_interval(row)
            against = [("against its plain control (the same labels, no teacher)", PLAIN_MODE),
                       ("against distillation on the labels alone", DISTILLED), ("against the teacher", TEACHER),
                       ("against the ensemble of the teacher's seeds", "ensemble")]
            parts = [(label, _row(tests, model=name, a=mode, b=b)) for label, b in against
                     if len(tests[(tests["model"] == name) & (tests["a"] == mode) & (tests["b"] == b)])]
            lines.append(f"* **{name}** ({mode}): {_mean(summary, name, mode):.2f}%{ci}. {_capital(compared(parts))}.")
    for name in compression_students:
        mode = modes[0]
        parts = [("against its distilled run", _row(tests, model=name, a=mode, b=DISTILLED)),
                 ("against the teacher", _row(tests, model=name, a=mode, b="teacher"))]
        lines.append(f"* **{name}** ({mode}), the compression student: {_mean(summary, name, mode):.2f}%. "
                     f"{_capital(compared(parts))}.")
    return lines


NO_TRANSFER = transfer_mode_name("none", 0)  # the curve's plain student, on the curve's steps


def transfer_findings(tests: pd.DataFrame, summary: pd.DataFrame, student: str) -> list[str]:
    """Chapter 4's transfer-set size curve in words: per size, the student on every label plus the
    teacher's soft labels against the plain student on the same steps, and soft against argmax
    labels on the same sentences (the null verdicts said once per size). An arm that answered one
    class on some seed gets no verdict."""
    plain = _row(summary, multiple=0.0)
    lines = [f"* **No transfer set** (every label, hard, on the same steps): {100 * plain['accuracy_mean']:.2f}%."]
    for multiple, group in summary[summary["multiple"] > 0].groupby("multiple", sort=True):
        means = group.set_index("labels")
        soft, argmax = transfer_mode_name("soft", multiple), transfer_mode_name("argmax", multiple)
        parts = [("soft labels against no transfer set", _row(tests, model=student, a=soft, b=NO_TRANSFER)),
                 ("soft against argmax labels", _row(tests, model=student, a=soft, b=argmax))]
        stuck = set(group.loc[group["one_class_seeds"] > 0, "labels"])
        stuck |= {"no transfer set"} if plain["one_class_seeds"] > 0 else set()
        text = (f"no verdict (an arm answered one class on some seed: {', '.join(sorted(stuck))})" if stuck
                else compared(parts))
        lines.append(f"* **{multiple:g}x the labels** ({int(group['transfer_sentences'].iloc[0])} teacher-labelled sentences): "
                     f"soft {100 * means.loc['soft', 'accuracy_mean']:.2f}%, argmax "
                     f"{100 * means.loc['argmax', 'accuracy_mean']:.2f}%; {text}.")
    return lines


def recipe_findings(summary: pd.DataFrame, tests: pd.DataFrame, students: list[str]) -> list[str]:
    """Chapter 4: each student trained on the transfer curve's chosen recipe against its plain
    control (where it has one), its distilled run and the teacher, the null verdicts said once."""
    lines = []
    for name in students:
        row = _row(summary, model=name, mode=RECIPE_MODE)
        parts = _against(tests, name, RECIPE_MODE, (PLAIN_MODE, DISTILLED, TEACHER))
        lines.append(f"* **{name}** (recipe): {100 * row['accuracy_mean']:.2f}%{_seed_interval(row)}. "
                     f"{_capital(compared(parts))}.")
    return lines


def hidden_weight_sentence(weight: float, choice: pd.DataFrame | None, student: str) -> str:
    """Chapter 4: the hidden-state term's weight and where it came from (`sweep.choose_hidden_weight`
    or the ``hidden_weight`` parameter), and what follows from it."""
    if choice is not None and weight > 0:
        return (f"On validation the weight {weight:g} did best, so {student} is trained with it once per seed "
                "and compared with logit-only distillation in the results below.")
    if choice is not None:
        return ("On validation no weight above 0 beat logit-only distillation, so the term is left off and no "
                "test comparison is made for it: on this task and student, the intermediate layers add nothing "
                "the logits do not.")
    if weight > 0:
        return (f"The weight {weight:g} comes from the `hidden_weight` parameter, not from validation; "
                f"{student} is trained with it once per seed and compared with logit-only distillation below.")
    return "This run tries no weight (the profile names none); exercise 4 below runs one."


def int8_diagnosis(sensitivity: pd.DataFrame, model: str, within_points: float) -> str:
    """Chapter 5: where a model's dynamic-int8 error comes from (`quantization.quantization_sensitivity`):
    the whole model per tensor and per channel, the group of Linear layers that costs most alone,
    and the fix the figures support (within ``within_points`` of fp32 counts as recovered)."""
    rows = sensitivity.set_index("quantized")
    fp32 = rows.loc["nothing (fp32)", "accuracy"]
    tensor, channel = rows.loc["every Linear, per tensor", "accuracy"], rows.loc["every Linear, per channel", "accuracy"]
    groups = sensitivity.iloc[1:-2]
    # the most accuracy lost alone; among equals, the largest change of a logit
    worst = groups.sort_values(["accuracy", "max_logit_change"], ascending=[True, False]).iloc[0]
    text = (f"In fp32 {model} answers {100 * fp32:.2f}% of the test sentences; with every Linear layer in int8 "
            f"{100 * tensor:.2f}% with one scale per matrix (PyTorch's default) and {100 * channel:.2f}% with one "
            f"scale per output row. One group at a time, the `{worst['quantized']}` layers ({int(worst['layers'])}) "
            f"cost the most: {100 * worst['accuracy']:.2f}% with only them in int8 (largest change of a logit "
            f"{worst['max_logit_change']:.2f}). ")
    lost = 100 * (fp32 - tensor)
    if lost <= within_points:
        return text + f"The whole model stays within {within_points:g} point of fp32: int8 costs it nothing worth fixing."
    if 100 * (fp32 - channel) <= within_points:
        return text + ("Per-channel scales recover the loss: one large weight no longer coarsens a whole matrix, "
                       "so the fix is a per-channel int8 model.")
    if 100 * (fp32 - worst["accuracy"]) >= lost / 2:
        return text + (f"That group alone carries at least half of the loss: keeping the `{worst['quantized']}` "
                       "layers in fp32 is the fix to try first.")
    return text + "No single group carries most of the loss: the error is spread over the layers."


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def beat_the_teacher(results: dict, reference: dict) -> list[str]:
    """Chapter 6, "Can a student beat its teacher?", from the recorded figures: the reference's
    single runs, the best student against the single teacher and the ensemble, and how often it
    repeats the errors every teacher seed makes (beside its plain control, which never saw the
    teacher). ``reference`` is `reference.reference_intervals`."""
    ref = results["reference"]["experiment"]
    (t_low, t_high), (s_low, s_high) = reference["teacher_ci"], reference["student_ci"]
    lines = [f"* **The reference**: the student answered {ref['student']['correct']} of {reference['n']} test "
             f"sentences correctly, the teacher {ref['teacher']['correct']}, a gap of "
             f"{reference['gap_sentences']} sentences; one run each, with 95% intervals over sentences "
             f"(Wilson) of {interval_span(s_low, s_high, '{:.1f}', scale=100, unit='%')} and "
             f"{interval_span(t_low, t_high, '{:.1f}', scale=100, unit='%')}, "
             f"and even if the two disagreed on those sentences alone, McNemar's exact p would be "
             f"{reference['best_case_mcnemar_p']:.2f}: noise."]
    pool = results.get("pool") or {}
    if not pool.get("students"):
        return lines
    tests = pd.DataFrame(results["comparisons"])
    training = pd.DataFrame(results["training_runs"])
    name, mode = results["settings"]["headline_student"], pool["modes"][0]
    if name not in pool["students"]:
        name = pool["students"][0]
    teacher = _row(training, mode=TEACHER)
    lines.append(f"* **This book's best student**, {name} on every label plus the teacher's soft labels on the "
                 f"pool ({mode}), averages {_mean(training, name, mode):.2f}% over its seeds, the teacher "
                 f"{100 * teacher['accuracy_mean']:.2f}% over {int(teacher['seeds'])}: "
                 f"{_versus_with_interval(tests, name, mode, 'teacher', 'sentences and seeds')}.")
    ensemble = results.get("ensemble") or {}
    if len(tests[(tests["model"] == name) & (tests["a"] == mode) & (tests["b"] == "ensemble")]):
        over_sentences_and_seeds = "sentences and the student's seeds"
        lines.append(f"* Against the ensemble of the teacher's {len(ensemble['seeds'])} seeds "
                     f"({100 * ensemble['accuracy']:.2f}%, one model): "
                     f"{_versus_with_interval(tests, name, mode, 'ensemble', over_sentences_and_seeds)}.")
    shared = len(ensemble.get("shared_errors") or [])
    if shared:
        repeated = {(r["model"], r["mode"]): r["per_seed"] for r in ensemble["repeated"]}
        best, plain = repeated.get((name, mode)), repeated.get((name, PLAIN_MODE))
        if best is not None:
            control = ("" if plain is None else
                       f"; its plain control, which never saw the teacher, {_per_seed(plain)}")
            lines.append(f"* **The teacher's shared errors**: every teacher seed gets the same {shared} test "
                         f"sentences wrong. The best student gets {_per_seed(best)} of them wrong{control}.")
    return lines


def _per_seed(counts: list[int]) -> str:
    """'6, 7 and 6 (per seed)' or '6' for one seed."""
    text = [str(c) for c in counts]
    return text[0] if len(text) == 1 else f"{', '.join(text[:-1])} and {text[-1]} (per seed)"


def pool_schedule_sentence(schedule: str | None, steps: int | None, plain_steps: int | None) -> str:
    """Chapter 4: what the pool recipe's chosen schedule means for its comparison with plain."""
    if schedule is None:
        return "This profile trains no student on the pool."
    if steps == plain_steps:
        return (f"Validation chose {schedule}: the recipe takes as many optimiser steps as its plain control "
                f"({steps}), so the two differ in the data alone.")
    return (f"Validation chose {schedule}: the recipe takes {steps} optimiser steps against its plain "
            f"control's {plain_steps}, so against plain it measures the pool's sentences and the longer "
            "training together; against the teacher it is what the recipe reaches, however it got there.")
