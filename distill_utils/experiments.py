"""The book's experiments: the teacher, the students and their controls, the sweep, the cost.

Each function trains through `trainer.train_classifier` and returns the run record that is saved
beside its checkpoint (`artifacts.Artifacts` says where).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from transformers import AutoConfig

from ._io import write_json
from .artifacts import Artifacts, checkpoint_fingerprint
from .losses import check_distillation_params
from .models import load_checkpoint, load_pretrained
from .teacher_cache import cache_teacher_hidden, hidden_layer_map
from .trainer import TrainResult, evaluate_checkpoint, save_checkpoint, train_classifier


def _finish_run(result: TrainResult, tokenizer, splits, cfg, out_dir: Path | None, info: dict) -> dict:
    """Score the trained model on validation and test; save it when ``out_dir`` is given."""
    validation, _ = evaluate_checkpoint(result.model, tokenizer, splits["validation"], cfg.max_length)
    metrics, test_logits = evaluate_checkpoint(result.model, tokenizer, splits["test"], cfg.max_length)
    info = {
        **info,
        "precision": result.precision,
        "epoch_seconds": result.epoch_seconds,
        "train_samples": result.train_samples,
        "validation": validation,
        "test": metrics,
        "test_logits": test_logits.round(6).tolist(),
        "log_history": result.log_history,
    }
    if out_dir is not None:
        save_checkpoint(result.model, tokenizer, out_dir, info)
    return info


def fine_tune_teacher(cfg, art: Artifacts, splits: dict[str, pd.DataFrame]) -> dict:
    """Fine-tune the profile's teacher, save it to ``art.teacher`` and return its run record."""
    model, tokenizer = load_pretrained(cfg.teacher, seed=cfg.seed)
    result = train_classifier(
        model, tokenizer, splits["train"], splits["validation"],
        epochs=cfg.teacher_epochs, learning_rate=cfg.teacher_lr, batch_size=cfg.batch_size,
        seed=cfg.seed, max_length=cfg.max_length, scratch_dir=art.scratch,
        bf16=cfg.bf16, warmup_ratio=cfg.warmup_ratio, weight_decay=cfg.weight_decay,
    )
    info = {"role": "teacher", "model": cfg.teacher, "profile": cfg.profile, "seed": cfg.seed,
            "epochs": cfg.teacher_epochs, "learning_rate": cfg.teacher_lr,
            "batch_size": cfg.batch_size, "max_length": cfg.max_length, "agreement": cfg.agreement}
    return _finish_run(result, tokenizer, splits, cfg, art.teacher, info)


def train_student(cfg, art: Artifacts, name: str, splits: dict[str, pd.DataFrame], *,
                  seed: int, alpha: float, temperature: float,
                  teacher_logits: np.ndarray | None = None, mode: str | None = None,
                  train_df: pd.DataFrame | None = None, epochs: float | None = None,
                  hidden_weight: float = 0.0, save: bool = True) -> dict:
    """Train one student from the run's teacher and return its run record; with ``save``, the
    checkpoint goes to ``art.student(name, mode, seed)``.

    Trains on ``splits['train']`` unless ``train_df`` (e.g. the transfer set) is given;
    ``teacher_logits`` are the teacher's cached logits for those rows, in order. Distils when
    alpha < 1; ``hidden_weight > 0`` adds the hidden-state term (teacher states cached on the way).
    """
    check_distillation_params(alpha, temperature)
    teacher_dir = art.require_teacher()
    train_df = splits["train"] if train_df is None else train_df
    epochs = cfg.student_epochs if epochs is None else epochs
    mode = mode or ("plain" if alpha == 1.0 else "kd")
    model, tokenizer = load_pretrained(name, seed=seed, teacher_checkpoint=teacher_dir)
    teacher_hidden = None
    if hidden_weight > 0:
        teacher_layers = AutoConfig.from_pretrained(teacher_dir).num_hidden_layers
        layers = hidden_layer_map(model.config.num_hidden_layers, teacher_layers)
        teacher_hidden = cache_teacher_hidden(art, name, train_df, layers, cfg.max_length)
    result = train_classifier(
        model, tokenizer, train_df, splits["validation"],
        epochs=epochs, learning_rate=cfg.student_lr, batch_size=cfg.batch_size,
        seed=seed, max_length=cfg.max_length, scratch_dir=art.scratch,
        bf16=cfg.bf16, warmup_ratio=cfg.warmup_ratio, weight_decay=cfg.weight_decay,
        alpha=alpha, temperature=temperature, teacher_logits=teacher_logits,
        teacher_hidden=teacher_hidden, hidden_weight=hidden_weight,
    )
    info = {"role": "student", "model": name, "profile": cfg.profile, "seed": seed,
            "mode": mode, "alpha": alpha, "temperature": temperature, "hidden_weight": hidden_weight,
            "epochs": epochs, "learning_rate": cfg.student_lr,
            "batch_size": cfg.batch_size, "max_length": cfg.max_length, "agreement": cfg.agreement,
            "teacher_sha256": checkpoint_fingerprint(teacher_dir)}
    out_dir = art.student(name, mode, seed) if save else None
    return _finish_run(result, tokenizer, splits, cfg, out_dir, info)


def train_students(cfg, art: Artifacts, splits: dict[str, pd.DataFrame], teacher_logits: np.ndarray, *,
                   alpha: float, temperature: float) -> list[dict]:
    """Every student of the profile, for every seed: distilled (``alpha``, ``temperature``) and
    plain (alpha = 1), the control: same model, seed, data and schedule, no teacher."""
    records = []
    for seed in cfg.seeds:
        for name in cfg.students:
            for mode, a in (("kd", alpha), ("plain", 1.0)):
                records.append(train_student(cfg, art, name, splits, seed=seed, alpha=a,
                                             temperature=temperature, teacher_logits=teacher_logits,
                                             mode=mode))
    return records


def sweep_alpha_temperature(cfg, art: Artifacts, splits: dict[str, pd.DataFrame], teacher_logits: np.ndarray,
                            out_path: str | Path | None = None) -> pd.DataFrame:
    """Validation accuracy of ``cfg.sweep_student`` over the alpha x temperature grid.

    A short schedule (``cfg.sweep_epochs``) and one seed; nothing is saved but the table
    (written atomically to ``out_path``, default ``art.sweep``, when the whole grid is done).
    Choose by validation accuracy, never by test accuracy.
    """
    rows = []
    for alpha in cfg.sweep_alphas:
        for temperature in cfg.sweep_temperatures:
            info = train_student(cfg, art, cfg.sweep_student, splits, seed=cfg.seed, alpha=alpha,
                                 temperature=temperature, teacher_logits=teacher_logits,
                                 epochs=cfg.sweep_epochs, save=False)
            rows.append({"alpha": alpha, "temperature": temperature,
                         "val_accuracy": info["validation"]["accuracy"],
                         "val_macro_f1": info["validation"]["macro_f1"],
                         "val_correct": info["validation"]["n_correct"]})
    table = pd.DataFrame(rows)
    write_json(out_path or art.sweep, {"student": cfg.sweep_student, "epochs": cfg.sweep_epochs,
                                       "seed": cfg.seed, "learning_rate": cfg.student_lr,
                                       "rows": table.to_dict(orient="records")})
    return table


def best_sweep_point(table: pd.DataFrame) -> tuple[float, float]:
    """(alpha, T) with the highest validation accuracy; ties go to the higher macro-F1, then to
    the earlier grid point."""
    best = table.sort_values(["val_accuracy", "val_macro_f1"], ascending=False, kind="stable").iloc[0]
    return float(best["alpha"]), float(best["temperature"])


COST_MODES = ("plain", "kd (cached teacher logits)", "kd (teacher every step)")


def measure_training_cost(cfg, art: Artifacts, name: str, splits: dict[str, pd.DataFrame],
                          teacher_logits: np.ndarray, *, alpha: float, temperature: float,
                          steps: int | None = None) -> pd.DataFrame:
    """Seconds per training step, side by side in one process, for one student trained three ways:
    plain, distilled from cached teacher logits, and distilled running the teacher every step.

    Each mode trains ``steps`` steps from the same start on the same batches; the first step is
    warm-up and not counted. Per-epoch time = mean step time x steps per epoch.
    """
    steps = steps or cfg.cost_steps
    teacher_dir = art.require_teacher()
    teacher, teacher_tokenizer = load_checkpoint(teacher_dir)
    steps_per_epoch = int(np.ceil(len(splits["train"]) / cfg.batch_size))
    rows = []
    for mode in COST_MODES:
        model, tokenizer = load_pretrained(name, seed=cfg.seed, teacher_checkpoint=teacher_dir)
        kwargs = {"alpha": 1.0, "temperature": 1.0}
        if mode.startswith("kd"):
            kwargs = {"alpha": alpha, "temperature": temperature}
        if mode == "kd (cached teacher logits)":
            kwargs["teacher_logits"] = teacher_logits
        elif mode == "kd (teacher every step)":
            kwargs.update(teacher=teacher, teacher_tokenizer=teacher_tokenizer)
        result = train_classifier(
            model, tokenizer, splits["train"], None, epochs=1, learning_rate=cfg.student_lr,
            batch_size=cfg.batch_size, seed=cfg.seed, max_length=cfg.max_length,
            scratch_dir=art.scratch, bf16=cfg.bf16,
            warmup_ratio=cfg.warmup_ratio, weight_decay=cfg.weight_decay, max_steps=steps + 1, **kwargs)
        timed = result.step_seconds[1:]
        rows.append({"student": name, "mode": mode, "steps_timed": len(timed),
                     "step_s": float(np.mean(timed)),
                     "epoch_s_estimate": float(np.mean(timed)) * steps_per_epoch,
                     "precision": result.precision, "batch_size": cfg.batch_size})
    table = pd.DataFrame(rows)
    table["ratio_vs_plain"] = table["step_s"] / table.loc[table["mode"] == "plain", "step_s"].iloc[0]
    return table
