"""Chapter 6's goals table: every target the issues set for a recorded run, with the measured
value, its 95% interval (named: over seeds, over sentences and seeds, over timing rounds) and
whether it was met. Targets live in `profiles.Goals`; a goal without a threshold is reported.
"""
from __future__ import annotations

import pandas as pd

from ..ensemble import SINGLE
from ..latency import ratio_value
from ..metrics import interval_span
from ..models import MODELS
from ..pool_recipe import POOL_MODES
from ..transfer_curve import RECIPE_MODE, transfer_mode_name
from ..modes import DISTILLED, PLAIN_MODE, TEACHER


def _row(table: pd.DataFrame, model: str, mode: str) -> pd.Series | None:
    match = table[(table["model"] == model) & (table["mode"] == mode)]
    return None if match.empty else match.iloc[0]


def goal_checks(cfg, training: pd.DataFrame, comparisons: list[dict], models: list[dict],
                experiments: dict, best: dict | None = None) -> list[dict]:
    """Each of the profile's goals (`profiles.Goals`) with the measured value, its 95% interval
    (named: over seeds, over sentences and seeds, over timing rounds) and whether it was met;
    ``best`` is the fastest variant within reach of the teacher (`results.best_compressed`), None
    when there is none. ``met`` is None for a
    figure that is reported without a threshold, or that this run did not measure. No goals for a
    profile without them (smoke and ci runs are too small to aim at any)."""
    goals = cfg.goals
    if goals is None:
        return []
    rows = []

    def add(goal, target, measured, interval, met):
        rows.append({"goal": goal, "target": target, "measured": measured, "95% interval": interval,
                     "met": None if met is None else bool(met)})

    teacher = _row(training, cfg.teacher, TEACHER)
    add(f"teacher test accuracy, mean over {int(teacher['seeds'])} seeds",
        f">= {100 * goals.teacher_accuracy_min:.1f}%", f"{100 * teacher['accuracy_mean']:.2f}%",
        interval_span(teacher["accuracy_ci_low"], teacher["accuracy_ci_high"], scale=100, unit="% (over seeds)")
        if teacher["accuracy_ci_low"] is not None else None,
        teacher["accuracy_mean"] >= goals.teacher_accuracy_min)
    tests = {(c["model"], c["a"], c["b"]): c for c in comparisons}
    pruned = next((s for s in cfg.students if MODELS[s].source == "layer-copy"), None)  # cut from the teacher
    if pruned and (pruned, DISTILLED, TEACHER) in tests:
        c = tests[(pruned, DISTILLED, TEACHER)]
        add(f"distilled {pruned}: accuracy minus the teacher's", f">= -{goals.pruned_gap_max_points} points",
            f"{c['difference_points']:+.2f} points",
            interval_span(c["ci_low_points"], c["ci_high_points"], unit=" points (over sentences and seeds)"),
            c["difference_points"] >= -goals.pruned_gap_max_points)
    for name in cfg.pool_students:  # the best recipe, from the single teacher
        if (name, POOL_MODES[SINGLE], TEACHER) in tests:
            c = tests[(name, POOL_MODES[SINGLE], TEACHER)]
            add(f"{name} on every label + the pool's soft labels: accuracy minus the teacher's",
                f">= -{goals.pool_gap_max_points:g} points", f"{c['difference_points']:+.2f} points",
                interval_span(c["ci_low_points"], c["ci_high_points"], unit=" points (over sentences and seeds)"),
                c["difference_points"] >= -goals.pool_gap_max_points)
    for name in (experiments.get("recipe") or {}).get("students", []):  # the transfer curve's chosen recipe
        c = tests[(name, RECIPE_MODE, TEACHER)]
        add(f"{name} on the chosen recipe ({experiments['recipe']['labels']} labels, "
            f"{experiments['recipe']['multiple']:g}x): accuracy minus the teacher's",
            f">= -{goals.recipe_gap_max_points:g} points", f"{c['difference_points']:+.2f} points",
            interval_span(c["ci_low_points"], c["ci_high_points"], unit=" points (over sentences and seeds)"),
            c["difference_points"] >= -goals.recipe_gap_max_points)
    rows += _arm_goals(experiments)
    first = cfg.headline_student
    if (first, DISTILLED, PLAIN_MODE) in tests:
        c = tests[(first, DISTILLED, PLAIN_MODE)]
        add(f"{first}: distilled minus plain at full data (Holm p = {c['holm_p']:.3g})", "reported",
            f"{c['difference_points']:+.2f} points",
            interval_span(c["ci_low_points"], c["ci_high_points"], unit=" points (over sentences and seeds)"), None)
    rows += _budget_goals(goals, training, experiments["budget"])
    student = next((m for m in models if m.get("model") == first and m.get("mode") == DISTILLED
                    and m.get("variant") == "fp32" and not m.get("skipped")), None)
    teacher_fp32 = next((m for m in models if m.get("role") == "teacher" and m.get("variant") == "fp32"
                         and not m.get("skipped")), None)
    ratio = flop_ratio(teacher_fp32, student)
    share = goals.student_speedup_of_flop_ratio_min
    add(f"distilled {first}: speed-up at batch size 1 (fp32), against its FLOP ratio to the teacher",
        "reported (no FLOP count)" if ratio is None
        else f">= {share:g} x FLOP ratio {ratio:.2f}x = {share * ratio:.2f}x",
        *_speedup_cells(student, None if ratio is None else share * ratio))
    measured, interval, met = _speedup_cells(best, goals.compressed_speedup_min)
    add(f"fastest variant within {goals.compressed_gap_max_points:g} point of the teacher's mean over its seeds",
        f">= {goals.compressed_speedup_min:g}x",
        "none within reach" if best is None else f"{measured} ({best['model']} {best['variant']})",
        interval, best is not None and met)
    cost = [c for c in experiments["cost"] if c["mode"] == "kd (cached teacher logits)"]
    worst = max(cost, key=lambda c: c["ratio_vs_plain"]) if cost else None
    add("a distillation step (cached teacher logits) against a plain step, slowest student",
        f"<= {goals.distillation_step_ratio_max:g}x",
        None if worst is None else f"{worst['ratio_vs_plain']:.2f}x ({worst['student']})", None,
        None if worst is None else worst["ratio_vs_plain"] <= goals.distillation_step_ratio_max)
    return rows


def flop_ratio(teacher: dict | None, student: dict | None) -> float | None:
    """The teacher's FLOPs per sentence over the student's, on the same timed sentences: the
    speed-up the arithmetic alone allows; None when either has no FLOP count."""
    flops = [None if m is None else m.get("gflop_per_sample") for m in (teacher, student)]
    if any(f is None or pd.isna(f) or f <= 0 for f in flops):
        return None
    return flops[0] / flops[1]


def _speedup_cells(model: dict | None, target: float | None) -> tuple:
    """(measured, interval, met) of a speed-up goal. Met only when the whole 95% interval (bootstrap
    over timing rounds) clears the target; a measurement without an interval is judged by its value.
    A goal without a target (None) is reported."""
    if model is None:
        return None, None, None
    value = model["speedup_vs_teacher"]
    low, high = model.get("speedup_ci") or (model.get("speedup_ci_low"), model.get("speedup_ci_high"))
    low, high = (None, None) if low is None or pd.isna(low) else (low, high)
    if target is None:
        interval = None if low is None else interval_span(low, high, unit="x (over timing rounds)")
        return f"{value:.2f}x", interval, None
    if low is None:
        return f"{value:.1f}x", None, value >= target
    return ratio_value(value, low, high), interval_span(low, high, unit="x (over timing rounds)"), low >= target


def _budget_goals(goals, training: pd.DataFrame, budget: dict) -> list[dict]:
    """The label-budget targets: soft pool labels at the smallest fraction against the full-data
    student, and soft minus hard pool labels at every fraction (reported, no threshold)."""
    summary = pd.DataFrame(budget["summary"])
    if summary.empty:
        return []
    rows = []
    full = _row(training, budget["student"], PLAIN_MODE)
    smallest = summary["fraction"].min()
    soft = summary[(summary["mode"] == "soft pool") & (summary["fraction"] == smallest)]
    if full is not None and not soft.empty:
        gap = 100 * (soft["accuracy_mean"].iloc[0] - full["accuracy_mean"])
        rows.append({"goal": f"{budget['student']}, {100 * smallest:g}% of the labels + soft pool labels, "
                             "minus the full-data student (plain)",
                     "target": f">= -{goals.budget_gap_max_points:g} points", "measured": f"{gap:+.2f} points",
                     "95% interval": None, "met": bool(gap >= -goals.budget_gap_max_points)})
    for test in budget["tests"]:
        if (test.get("mode_a"), test.get("mode_b")) == ("soft pool", "hard pool"):
            rows.append({"goal": f"soft minus hard pool labels, {100 * test['fraction']:g}% of the labels",
                         "target": "reported", "measured": f"{test['difference_points']:+.2f} points",
                         "95% interval": interval_span(test["ci_low_points"], test["ci_high_points"],
                                                       unit=" points (over sentences and seeds)"), "met": None})
    return rows


def _arm_goals(experiments: dict) -> list[dict]:
    """Every arm trained: the seeds that answered one class, over the budget curve, the low-resource
    arm and the transfer curve (target 0); and the transfer curve itself, soft against argmax labels
    on its largest set (reported)."""
    arms = [row for part in ("budget", "low_resource", "transfer") for row in
            ((experiments.get(part) or {}).get("summary") or [])]
    stuck = sum(int(row["one_class_seeds"]) for row in arms)
    rows = [{"goal": f"seeds answering one class, over the {len(arms)} arms of the budget curve, the "
                     "low-resource arm and the transfer curve", "target": "0", "measured": str(stuck),
             "95% interval": None, "met": stuck == 0}]
    transfer = experiments.get("transfer")
    if not transfer:
        return rows
    largest = max((row["multiple"] for row in transfer["summary"]), default=0)
    for test in transfer["tests"]:
        if (test["a"], test["b"]) == (transfer_mode_name("soft", largest), transfer_mode_name("argmax", largest)):
            rows.append({"goal": f"{transfer['student']}, soft minus argmax labels on the largest transfer set "
                                 f"({largest:g}x the labels)", "target": "reported",
                         "measured": f"{test['difference_points']:+.2f} points",
                         "95% interval": interval_span(test["ci_low_points"], test["ci_high_points"],
                                                       unit=" points (over sentences and seeds)"), "met": None})
    return rows
