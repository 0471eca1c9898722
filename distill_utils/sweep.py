"""Chapter 4's alpha x T sweep: one student over the grid, scored on the validation split only,
and the choice it makes (`best_sweep_point`). The test split is never looked at here.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from ._io import write_json
from .artifacts import Artifacts
from .experiments import train_student
from .losses import PLAIN, LossSettings
from .modes import DISTILLED, HIDDEN


def sweep_alpha_temperature(cfg, art: Artifacts, splits: dict[str, pd.DataFrame], teacher_logits: np.ndarray,
                            out_path: str | Path | None = None) -> pd.DataFrame:
    """Validation accuracy of ``cfg.sweep_student`` over the alpha x temperature grid, each point
    once per seed of ``cfg.sweep_seeds``, with the plain student (alpha = 1) as a reference row.

    Schedule ``cfg.sweep_epochs``; nothing is saved but the table (one row per run, written
    atomically to ``out_path``, default ``art.sweep``, when the whole grid is done). Choose by
    validation accuracy (`best_sweep_point`), never by test accuracy.
    """
    cells = [(a, t) for a in cfg.sweep_alphas for t in cfg.sweep_temperatures]
    if PLAIN.alpha not in cfg.sweep_alphas:
        cells.append((PLAIN.alpha, None))  # plain: the temperature plays no part
    # on the final runs' schedule, a sweep run of a final seed is that final run for its cell:
    # keep its weights, and `train_students` takes them instead of training the same run again
    reusable = cfg.sweep_student in cfg.students and cfg.sweep_epochs == cfg.student_epochs
    rows = []
    for seed in cfg.sweep_seeds:
        for alpha, temperature in cells:
            loss = PLAIN if temperature is None else LossSettings(alpha, temperature)
            info = train_student(cfg, art, cfg.sweep_student, splits, seed=seed, loss=loss,
                                 teacher_logits=teacher_logits,
                                 epochs=cfg.sweep_epochs, save=False,
                                 keep_checkpoint=reusable and seed in cfg.seeds)
            rows.append({"seed": seed, "alpha": alpha, "temperature": temperature,
                         "val_accuracy": info["validation"]["accuracy"],
                         "val_macro_f1": info["validation"]["macro_f1"],
                         "val_correct": info["validation"]["n_correct"],
                         "train_s": float(sum(info.get("epoch_seconds") or []))})
    table = pd.DataFrame(rows)
    write_json(out_path or art.sweep, {"student": cfg.sweep_student, "epochs": cfg.sweep_epochs,
                                       "seeds": list(cfg.sweep_seeds), "learning_rate": cfg.student_lr,
                                       "rows": table.astype(object).where(table.notna(), None).to_dict(orient="records")})
    return table


def sweep_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per grid point: mean and standard deviation over seeds of validation accuracy, mean macro-F1."""
    grouped = table.groupby(["alpha", "temperature"], dropna=False, sort=False)
    return grouped.agg(val_accuracy=("val_accuracy", "mean"), val_accuracy_std=("val_accuracy", "std"),
                       val_macro_f1=("val_macro_f1", "mean"), seeds=("val_accuracy", "size")).reset_index()


def best_sweep_point(table: pd.DataFrame) -> tuple[float, float]:
    """(alpha, T) of the distillation setting (alpha < 1) with the highest mean validation accuracy
    over seeds; ties go to the higher macro-F1, then to the earlier grid point."""
    summary = sweep_summary(table)
    summary = summary[summary["alpha"] < PLAIN.alpha]
    best = summary.sort_values(["val_accuracy", "val_macro_f1"], ascending=False, kind="stable").iloc[0]
    return float(best["alpha"]), float(best["temperature"])


def choose_hidden_weight(cfg, art: Artifacts, splits: dict[str, pd.DataFrame], teacher_logits: np.ndarray,
                         loss: LossSettings, kd_records: list[dict]) -> tuple[float, pd.DataFrame]:
    """The weight of the hidden-state term, chosen on the validation split: ``cfg.hidden_student``
    distilled with each weight of ``cfg.hidden_weights`` (0: logit-only distillation, its runs in
    ``kd_records``), once per sweep seed. The highest mean validation accuracy wins; a tie keeps
    the smaller weight (the simpler loss). Returns the weight and one row per weight."""
    rows = []
    for weight in cfg.hidden_weights:
        if weight == 0:
            runs = [r for r in kd_records if r["model"] == cfg.hidden_student and r["mode"] == DISTILLED
                    and r["seed"] in cfg.sweep_seeds]
            missing = set(cfg.sweep_seeds) - {r["seed"] for r in runs}
            if missing:
                raise ValueError(f"no distilled run of {cfg.hidden_student} for sweep seed(s) {sorted(missing)}: "
                                 "the sweep seeds must be among the training seeds")
        else:
            runs = [train_student(cfg, art, cfg.hidden_student, splits, seed=seed, teacher_logits=teacher_logits,
                                  loss=dataclasses.replace(loss, hidden_weight=weight), mode=HIDDEN, save=False)
                    for seed in cfg.sweep_seeds]
        rows.append({"hidden_weight": float(weight), "seeds": len(runs),
                     "validation_accuracy": float(np.mean([r["validation"]["accuracy"] for r in runs])),
                     "train_s": [sum(r.get("epoch_seconds") or []) for r in runs] if weight else []})
    table = pd.DataFrame(rows)
    best = table.sort_values(["validation_accuracy", "hidden_weight"], ascending=[False, True]).iloc[0]
    return float(best["hidden_weight"]), table
