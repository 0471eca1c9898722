"""``experiments.json``, what chapter 4 hands on: every paired test (one Holm family), the budget
curve, the pool recipe, the low-resource arm, the transfer-set curve and the recipe it chose, the
training cost and time. Its format is defined here, once: chapter 4 builds it from its results
with `experiments_record`; chapter 5 (`pool_recipe.benchmarked_runs`) and chapter 6
(`book.results`) read it.
"""
from __future__ import annotations

import dataclasses

import pandas as pd

from .transfer_curve import RECIPE_MODE

# every part of the record, in the order the file holds them
EXPERIMENT_PARTS = ("teacher_sha256", "alpha", "temperature", "loss_sources", "tests", "budget",
                    "ensemble", "pool", "low_resource", "transfer", "recipe", "cost", "training_time",
                    "recording")


def _rows(frame: pd.DataFrame | None) -> list[dict]:
    return [] if frame is None else frame.to_dict(orient="records")


def experiments_record(cfg, *, teacher_sha256: str, loss, loss_sources: dict, tests: pd.DataFrame,
                       budget: pd.DataFrame, full_data: dict, ensemble: dict,
                       pool_trained: bool, teachers: list[str], pool_modes: list[str], teacher_choice: dict,
                       pool_schedule: str | None, pool_schedules: pd.DataFrame | None, pool_sentences: int,
                       low_teacher: dict | None, low_budget: pd.DataFrame | None,
                       rates, step_multiple: float, transfer_choice: pd.DataFrame, transfer: pd.DataFrame,
                       recipe: tuple[float, str], recipe_students: list[str],
                       cost: pd.DataFrame, training_time: pd.DataFrame, recording: dict) -> dict:
    """The record chapter 4 writes, from what its cells computed: the final loss and where its
    settings came from; ``tests``, the family of paired tests (each experiment's rows are filed
    with it too); the budget curve's summary and the plain student's accuracy on every label
    (``full_data``); the teacher ensemble's record; the pool recipe (whether it trained, its
    teachers, modes, the teacher and schedule chosen on validation, the schedules tried); the
    low-resource arm (its teacher's record and summary, or None when not run); the transfer curve
    (augmentation ``rates`` and step multiple chosen on validation, the candidates, the summary);
    the recipe it chose for ``recipe_students``; the training cost and time; the recording."""
    def tests_of(experiment: str) -> list[dict]:
        return _rows(tests[tests["experiment"] == experiment])

    return {
        "teacher_sha256": teacher_sha256, "alpha": loss.alpha, "temperature": loss.temperature,
        "loss_sources": loss_sources, "tests": _rows(tests),
        "budget": {"student": cfg.budget_student, "epochs": cfg.budget_epochs, "seeds": list(cfg.budget_seeds),
                   "summary": _rows(budget), "full_data": full_data, "tests": tests_of("budget")},
        "ensemble": ensemble,
        "pool": {"students": list(cfg.pool_students) if pool_trained else [],
                 "compression_students": list(cfg.compression_students) if pool_trained else [],
                 "teachers": list(teachers), "modes": list(pool_modes), "teacher_choice": teacher_choice,
                 "schedule": pool_schedule, "schedules": _rows(pool_schedules),
                 "temperature": loss.temperature, "pool_sentences": pool_sentences},
        "low_resource": None if low_budget is None else {
            "fraction": cfg.low_resource_fraction, "teacher_accuracy": low_teacher["test"]["accuracy"],
            "summary": _rows(low_budget), "tests": tests_of("low-resource")},
        "transfer": {"student": cfg.budget_student, "rates": list(dataclasses.astuple(rates)),
                     "step_multiple": step_multiple, "choice": _rows(transfer_choice),
                     "summary": _rows(transfer), "tests": tests_of("transfer")},
        "recipe": {"students": list(recipe_students), "mode": RECIPE_MODE, "multiple": recipe[0],
                   "labels": recipe[1]},
        "cost": _rows(cost), "training_time": _rows(training_time), "recording": recording,
    }
