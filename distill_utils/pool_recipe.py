"""The best student this teacher and these labels give: every label, plus the teacher's soft labels
on the pool of sentences nobody labelled for it (the budget curve's "soft pool" mode at 100%).

Each such student has a plain control already (chapter 4's: same model, seed and labels, no
teacher); its schedule is chosen on the validation split (`choose_pool_schedule`), and it may learn
from the ensemble of the teacher's seeds when that beat the single teacher on validation
(`ensemble.choose_teacher`).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ._io import read_json
from .artifacts import Artifacts, display_path, notebook_path
from .budget import batches_per_epoch, epochs_for_steps, with_soft_pool
from .ensemble import ENSEMBLE, SINGLE
from .experiments import train_student
from .losses import LossSettings
from .transfer_curve import RECIPE_MODE
from .modes import DISTILLED, PLAIN_MODE, TEACHER

# a student's mode, by the teacher whose soft labels it learnt the pool from
POOL_MODES = {SINGLE: "pool", ENSEMBLE: "pool-ensemble"}
# the schedules a pool student may train on; the first is the default, kept on a tie: it takes
# the plain control's number of optimiser steps, so the two differ in the data alone
POOL_SCHEDULES = ("equal steps", "equal epochs")


def pool_epochs(schedule: str, epochs: float, labelled: int, pooled: int, batch_size: int) -> float:
    """Epochs over labelled + pool sentences for ``schedule``: "equal epochs" keeps ``epochs``;
    "equal steps" takes as many optimiser steps as ``epochs`` over the labelled sentences alone."""
    if schedule == "equal epochs":
        return float(epochs)
    if schedule == "equal steps":
        steps = math.ceil(epochs * batches_per_epoch(labelled, batch_size))
        return epochs_for_steps(steps, labelled + pooled, batch_size)
    raise ValueError(f"unknown pool schedule {schedule!r}; valid: {', '.join(POOL_SCHEDULES)}")


def train_pool_student(cfg, art: Artifacts, name: str, splits: dict[str, pd.DataFrame], pool: pd.DataFrame,
                       logits: dict[str, np.ndarray], *, seed: int, temperature: float, schedule: str,
                       teacher: str = SINGLE, save: bool = True) -> dict:
    """One student on every label (alpha 1) plus the pool's soft labels at ``temperature`` (alpha 0),
    from ``logits`` (``"train"`` and ``"pool"``: the single teacher's or the ensemble's)."""
    train, teacher_logits, row_alpha = with_soft_pool(splits["train"], logits["train"], pool, logits["pool"])
    epochs = pool_epochs(schedule, cfg.student_epochs, len(splits["train"]), len(pool), cfg.batch_size)
    return train_student(cfg, art, name, splits, seed=seed, loss=LossSettings(0.0, temperature),
                         teacher_logits=teacher_logits, row_alpha=row_alpha, train_df=train, epochs=epochs,
                         mode=POOL_MODES[teacher], save=save,
                         extra={"pool_schedule": schedule, "pool_teacher": teacher, "pool_sentences": len(pool)})


def choose_pool_schedule(cfg, art: Artifacts, splits: dict[str, pd.DataFrame], pool: pd.DataFrame,
                         logits: dict[str, np.ndarray], *, temperature: float) -> tuple[str, list[dict]]:
    """The pool students' schedule, chosen like the loss settings: ``cfg.sweep_student`` trained on
    each of `POOL_SCHEDULES` once per sweep seed, scored on validation. The highest mean validation
    accuracy wins; a tie keeps the first (equal steps). Returns the choice and the runs."""
    runs = [train_pool_student(cfg, art, cfg.sweep_student, splits, pool, logits, seed=seed,
                               temperature=temperature, schedule=schedule, save=False)
            for schedule in POOL_SCHEDULES for seed in cfg.sweep_seeds]
    mean = {schedule: np.mean([r["validation"]["accuracy"] for r in runs if r["pool_schedule"] == schedule])
            for schedule in POOL_SCHEDULES}
    best = max(POOL_SCHEDULES, key=lambda schedule: (mean[schedule], -POOL_SCHEDULES.index(schedule)))
    return best, runs


def schedule_table(runs: list[dict]) -> pd.DataFrame:
    """Validation accuracy of each schedule tried, per seed and mean, with its epochs and steps."""
    rows = [{"schedule": r["pool_schedule"], "seed": r["seed"], "epochs": r["epochs"],
             "validation_accuracy": r["validation"]["accuracy"]} for r in runs]
    table = pd.DataFrame(rows)
    return (table.groupby("schedule", sort=False)
            .agg(epochs=("epochs", "first"), seeds=("seed", "size"),
                 validation_accuracy=("validation_accuracy", "mean")).reset_index())


def pool_students(cfg) -> tuple[str, ...]:
    """The students trained on the pool recipe: those with a plain control (`Profile.pool_students`)
    and the compression students, which take the best recipe there is."""
    return tuple(cfg.pool_students) + tuple(cfg.compression_students)


def train_pool_students(cfg, art: Artifacts, splits: dict[str, pd.DataFrame], pool: pd.DataFrame,
                        logits_by_teacher: dict[str, dict[str, np.ndarray]], *, temperature: float,
                        schedule: str) -> list[dict]:
    """Every pool student for every seed, saved (chapter 5 benchmarks the compression student's).
    ``logits_by_teacher`` holds the single teacher's logits and, when the ensemble was chosen on
    validation, the ensemble's, the chosen teacher first: the students with a plain control learn
    from each teacher given, the compression students from the chosen one alone."""
    records = []
    for seed in cfg.seeds:
        for name in pool_students(cfg):
            teachers = list(logits_by_teacher)[:1] if name in cfg.compression_students else list(logits_by_teacher)
            for teacher in teachers:
                records.append(train_pool_student(cfg, art, name, splits, pool, logits_by_teacher[teacher],
                                                  seed=seed, temperature=temperature, schedule=schedule,
                                                  teacher=teacher))
    return records


def pool_pairs(cfg, teachers, *, against_ensemble: bool = False) -> list[tuple[str, str, str]]:
    """The pool recipe's questions, as (model, mode a, mode b): does it beat the plain control (the
    same labels without the teacher's soft labels on the pool) and the distilled run (the teacher's
    soft labels on the labelled sentences only), and how does it stand against the teacher (its
    seeds) and, with ``against_ensemble``, the ensemble of those seeds. ``teachers``: the teachers
    the students learnt from, the chosen one first."""
    pairs = []
    for name in cfg.pool_students:
        for teacher in teachers:
            mode = POOL_MODES[teacher]
            pairs += [(name, mode, PLAIN_MODE), (name, mode, DISTILLED), (name, mode, TEACHER)]
            pairs += [(name, mode, "ensemble")] if against_ensemble else []
    chosen = POOL_MODES[list(teachers)[0]]
    for name in cfg.compression_students:  # no plain control: against its distilled run
        pairs += [(name, chosen, DISTILLED), (name, chosen, TEACHER)]
    return pairs


def compression_modes(art: Artifacts) -> tuple[str, ...]:
    """The compression students' runs chapter 5 benchmarks: distilled, and the best recipe's
    (every label + the pool, from chapter 4's chosen teacher) when chapter 4 trained it. Students
    trained without chapter 4 (`launch`, with several processes) have no chapter 4 record, and no
    pool recipe: distilled only."""
    if not art.experiments.is_file():
        return (DISTILLED,)
    return (DISTILLED, *pool_modes(art, read_json(art.experiments))[:1])


def pool_modes(art: Artifacts, experiments: dict) -> list[str]:
    """The modes of chapter 4's pool recipe runs, the chosen teacher's first ([] when it trained none)."""
    pool = experiments.get("pool")
    if not isinstance(pool, dict) or not isinstance(pool.get("modes"), list):
        raise ValueError(f"{display_path(art.experiments)} does not record the pool recipe (written by an older "
                         f"chapter 4): re-run {notebook_path('students')}")
    return pool["modes"] if pool["students"] or pool["compression_students"] else []


def recipe_students(art: Artifacts) -> list[str]:
    """The students chapter 4 trained on the transfer curve's chosen recipe ([] before chapter 4 ran,
    e.g. students trained by `launch`, or when it trained none)."""
    if not art.experiments.is_file():
        return []
    recipe = read_json(art.experiments).get("recipe")
    if recipe is None:
        return []
    if not isinstance(recipe, dict) or not isinstance(recipe.get("students"), list):
        raise ValueError(f"{display_path(art.experiments)}: recipe must be an object with a list of students, got "
                         f"{recipe!r:.60}: re-run {notebook_path('students')}")
    return recipe["students"]


def benchmarked_runs(cfg, art: Artifacts, seeds) -> list:
    """Every checkpoint chapter 5 benchmarks for ``seeds``: each student distilled and plain, each
    compression student distilled and on the pool recipe (`compression_modes`), and each student
    chapter 4 trained on the transfer curve's recipe (`recipe_students`)."""
    runs = art.student_runs(cfg.students, (DISTILLED, PLAIN_MODE), seeds)
    runs += art.student_runs(cfg.compression_students, compression_modes(art), seeds)
    return runs + art.student_runs(recipe_students(art), (RECIPE_MODE,), seeds)
