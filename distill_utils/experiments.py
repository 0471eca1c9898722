"""The book's experiments: the teacher, the students and their controls, the sweep, the cost.

Each function trains through `trainer.train_classifier` and returns the run record that is saved
beside its checkpoint (`artifacts.Artifacts` says where). Every run is keyed by all that
determines it (`runs`); a finished run with the same key is read back, not trained again.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
from transformers import AutoConfig

from ._io import as_json, is_main_process, training_processes, write_json
from .artifacts import Artifacts, checkpoint_fingerprint
from .losses import PLAIN, LossSettings
from .machine import mixed_precision, training_machine
from .models import MODELS, load_checkpoint, load_pretrained
from .runs import array_fingerprint, cached_run, frame_fingerprint, promote_checkpoint, remember_run, run_key
from .data import split_agreement
from .subsets import budget_subsets
from .teacher_cache import cache_teacher_hidden, hidden_layer_map
from .trainer import TrainResult, evaluate_checkpoint, save_checkpoint, train_classifier


def _model_key(name: str) -> dict:
    """How a model is built (source, layers, base), not how it is described."""
    return {k: v for k, v in dataclasses.asdict(MODELS[name]).items() if k != "description"}


def _common_key(cfg, splits, train_df: pd.DataFrame, *, seed: int, epochs: float, learning_rate: float) -> dict:
    """What every run's key holds: data, schedule, seed, precision, processes and the machine."""
    return {"train": frame_fingerprint(train_df), "validation": frame_fingerprint(splits["validation"]),
            "test": frame_fingerprint(splits["test"]), "seed": seed, "epochs": epochs,
            "learning_rate": learning_rate, "batch_size": cfg.batch_size, "max_length": cfg.max_length,
            "warmup_ratio": cfg.warmup_ratio, "weight_decay": cfg.weight_decay,
            "precision": mixed_precision(cfg.bf16), "processes": training_processes(),
            "machine": training_machine()}


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
    info = as_json(info)  # the record as any later run reads it back
    if out_dir is not None:
        save_checkpoint(result.model, tokenizer, out_dir, info)
    return info


def fine_tune_teacher(cfg, art: Artifacts, splits: dict[str, pd.DataFrame], seed: int | None = None) -> dict:
    """Fine-tune the profile's teacher with ``seed`` (default: the first teacher seed) and return
    its run record, or read back the one trained with the same key. The first teacher seed is
    saved to ``art.teacher`` (the students' teacher); another seed keeps only its record
    (``art.teacher_seed_record``), which measures how much the teacher varies from seed to seed."""
    seed = cfg.teacher_seeds[0] if seed is None else int(seed)
    primary = seed == cfg.teacher_seeds[0]
    key, key_sha = run_key(role="teacher", model=_model_key(cfg.teacher),
                           **_common_key(cfg, splits, splits["train"], seed=seed,
                                         epochs=cfg.teacher_epochs, learning_rate=cfg.teacher_lr))
    reused = cached_run(art, key_sha, art.teacher if primary else None)
    if reused is None:
        model, tokenizer = load_pretrained(cfg.teacher, seed=seed)
        result = train_classifier(
            model, tokenizer, splits["train"], splits["validation"],
            epochs=cfg.teacher_epochs, learning_rate=cfg.teacher_lr, batch_size=cfg.batch_size,
            seed=seed, max_length=cfg.max_length, scratch_dir=art.scratch,
            bf16=cfg.bf16, warmup_ratio=cfg.warmup_ratio, weight_decay=cfg.weight_decay,
        )
        info = {"role": "teacher", "model": cfg.teacher, "profile": cfg.profile, "seed": seed,
                "epochs": cfg.teacher_epochs, "learning_rate": cfg.teacher_lr,
                "batch_size": cfg.batch_size, "max_length": cfg.max_length, "agreement": split_agreement(splits, cfg.agreement),
                "run_key": key, "run_key_sha": key_sha}
        reused = _finish_run(result, tokenizer, splits, cfg, art.teacher if primary else None, info)
        if not primary:
            remember_run(art, key_sha, reused)
    if not primary:
        write_json(art.teacher_seed_record(seed), reused)
    return reused


def fine_tune_teachers(cfg, art: Artifacts, splits: dict[str, pd.DataFrame]) -> list[dict]:
    """The teacher once per seed of ``cfg.teacher_seeds`` (same recipe), the saved one first.
    Records of seeds no longer asked for are removed, so `Artifacts.teacher_records` reads
    exactly this run's teacher seeds."""
    records = [fine_tune_teacher(cfg, art, splits, seed) for seed in cfg.teacher_seeds]
    wanted = {art.teacher_seed_record(seed).name for seed in cfg.teacher_seeds[1:]}
    for path in art.teacher_seeds.glob("seed*.json"):
        if path.name not in wanted and is_main_process():
            path.unlink()
    return records


def train_student(cfg, art: Artifacts, name: str, splits: dict[str, pd.DataFrame], *,
                  seed: int, loss: LossSettings,
                  teacher_logits: np.ndarray | None = None, mode: str | None = None,
                  train_df: pd.DataFrame | None = None, epochs: float | None = None,
                  row_alpha: np.ndarray | None = None,
                  save: bool = True, keep_checkpoint: bool = False, extra: dict | None = None) -> dict:
    """Train one student from the run's teacher and return its run record; with ``save``, the
    checkpoint goes to ``art.student(name, mode, seed)``. A finished run with the same key (`runs`)
    is read back instead of trained again.

    Trains on ``splits['train']`` unless ``train_df`` (e.g. a budget subset with the pool) is given;
    ``teacher_logits`` are the teacher's cached logits for those rows, in order. Distils when
    ``loss.alpha`` < 1, or per sentence with ``row_alpha``; ``loss.hidden_weight > 0`` adds the hidden-state term
    (teacher states cached on the way). ``extra`` fields go into the record (e.g. a budget fraction).
    ``keep_checkpoint`` keeps an unsaved run's weights under its key (`Artifacts.run_checkpoint`):
    a later saved run with the same key moves them into place instead of training again.
    """
    if loss.is_plain and row_alpha is None:
        loss = PLAIN  # the teacher plays no part, so neither does T (one key for all)
    teacher_dir = art.require_teacher()
    train_df = splits["train"] if train_df is None else train_df
    epochs = cfg.student_epochs if epochs is None else epochs
    mode = mode or ("plain" if loss.alpha == 1.0 else "kd")
    teacher_sha = checkpoint_fingerprint(teacher_dir)
    key, key_sha = run_key(
        role="student", model=_model_key(name), mode=mode, alpha=loss.alpha, temperature=loss.temperature,
        hidden_weight=loss.hidden_weight, teacher=teacher_sha, teacher_logits=array_fingerprint(teacher_logits),
        row_alpha=array_fingerprint(row_alpha), extra=extra,
        **_common_key(cfg, splits, train_df, seed=seed, epochs=epochs, learning_rate=cfg.student_lr))
    out_dir = art.student(name, mode, seed) if save else art.run_checkpoint(key_sha) if keep_checkpoint else None
    reused = cached_run(art, key_sha, out_dir)
    if reused is None and keep_checkpoint and not save:  # kept, then taken by its final run
        reused = cached_run(art, key_sha, art.student(name, mode, seed))
    if reused is None and save:
        reused = promote_checkpoint(art.run_checkpoint(key_sha), out_dir, key_sha)
    if reused is not None:
        return reused
    model, tokenizer = load_pretrained(name, seed=seed, teacher_checkpoint=teacher_dir)
    teacher_hidden = None
    if loss.hidden_weight > 0:
        teacher_layers = AutoConfig.from_pretrained(teacher_dir).num_hidden_layers
        layers = hidden_layer_map(model.config.num_hidden_layers, teacher_layers)
        teacher_hidden = cache_teacher_hidden(art, name, train_df, layers, cfg.max_length)
    result = train_classifier(
        model, tokenizer, train_df, splits["validation"],
        epochs=epochs, learning_rate=cfg.student_lr, batch_size=cfg.batch_size,
        seed=seed, max_length=cfg.max_length, scratch_dir=art.scratch,
        bf16=cfg.bf16, warmup_ratio=cfg.warmup_ratio, weight_decay=cfg.weight_decay,
        loss=loss, teacher_logits=teacher_logits, teacher_hidden=teacher_hidden, row_alpha=row_alpha,
    )
    info = {"role": "student", "model": name, "profile": cfg.profile, "seed": seed,
            "mode": mode, "alpha": loss.alpha, "temperature": loss.temperature, "hidden_weight": loss.hidden_weight,
            "epochs": epochs, "learning_rate": cfg.student_lr,
            "batch_size": cfg.batch_size, "max_length": cfg.max_length, "agreement": split_agreement(splits, cfg.agreement),
            "teacher_sha256": teacher_sha, **(extra or {}), "run_key": key, "run_key_sha": key_sha}
    record = _finish_run(result, tokenizer, splits, cfg, out_dir, info)
    if out_dir is None:
        remember_run(art, key_sha, record)
    return record


def train_students(cfg, art: Artifacts, splits: dict[str, pd.DataFrame], teacher_logits: np.ndarray, *,
                   loss: LossSettings) -> list[dict]:
    """Every student of the profile, for every seed: distilled (``loss``) and plain (`PLAIN`),
    the control: same model, seed, data and schedule, no teacher. The compression students are
    trained distilled only."""
    records = []
    for seed in cfg.seeds:
        for name in cfg.students + cfg.compression_students:
            modes = {"kd": loss} if name in cfg.compression_students else {"kd": loss, "plain": PLAIN}
            for mode, settings in modes.items():
                records.append(train_student(cfg, art, name, splits, seed=seed, loss=settings,
                                             teacher_logits=teacher_logits, mode=mode))
    return records


def sweep_alpha_temperature(cfg, art: Artifacts, splits: dict[str, pd.DataFrame], teacher_logits: np.ndarray,
                            out_path: str | Path | None = None) -> pd.DataFrame:
    """Validation accuracy of ``cfg.sweep_student`` over the alpha x temperature grid, each point
    once per seed of ``cfg.sweep_seeds``, with the plain student (alpha = 1) as a reference row.

    Schedule ``cfg.sweep_epochs``; nothing is saved but the table (one row per run, written
    atomically to ``out_path``, default ``art.sweep``, when the whole grid is done). Choose by
    validation accuracy (`best_sweep_point`), never by test accuracy.
    """
    cells = [(a, t) for a in cfg.sweep_alphas for t in cfg.sweep_temperatures]
    if 1.0 not in cfg.sweep_alphas:
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
    summary = summary[summary["alpha"] < 1.0]
    best = summary.sort_values(["val_accuracy", "val_macro_f1"], ascending=False, kind="stable").iloc[0]
    return float(best["alpha"]), float(best["temperature"])


COST_MODES = ("plain", "kd (cached teacher logits)", "kd (teacher every step)")


def measure_training_cost(cfg, art: Artifacts, name: str, splits: dict[str, pd.DataFrame],
                          teacher_logits: np.ndarray, *, loss: LossSettings,
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
        kwargs = {"loss": PLAIN if mode == "plain" else loss}
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


BUDGET_MODES = {
    "hard": "hard labels on the labelled subset",
    "distilled": "distillation on the labelled subset",
    "soft pool": "hard labels on the subset + the teacher's soft labels on the unseen pool",
    "hard pool": "hard labels on the subset + the teacher's argmax labels on the unseen pool",
}


def budget_mode_name(mode: str, fraction: float) -> str:
    """The record's mode for one point of the budget curve, e.g. 'soft pool @ 3%'."""
    return f"{mode} @ {100 * fraction:g}%"


def train_budget_point(cfg, art: Artifacts, name: str, splits: dict[str, pd.DataFrame], subset: pd.DataFrame,
                       subset_logits: np.ndarray, pool: pd.DataFrame, pool_logits: np.ndarray, *,
                       fraction: float, mode: str, seed: int, loss: LossSettings,
                       epochs: float) -> dict:
    """One student trained on a labelled ``subset`` of the training split in one of `BUDGET_MODES`.

    The pool modes add the teacher's view of sentences it never trained on: "soft pool" trains
    the subset with hard labels (alpha 1) and the pool on the teacher's distribution softened at
    ``loss.temperature`` alone (alpha 0, per sentence); "hard pool" labels the pool with the teacher's argmax instead.
    The two differ in one thing only: whether the student sees the teacher's full distribution.
    """
    extra = {"budget_fraction": fraction, "budget_mode": mode, "labelled_sentences": len(subset)}
    common = dict(seed=seed, epochs=epochs, mode=budget_mode_name(mode, fraction), save=False, extra=extra)
    if mode == "hard":
        return train_student(cfg, art, name, splits, loss=PLAIN, train_df=subset, **common)
    if mode == "distilled":
        return train_student(cfg, art, name, splits, loss=loss, train_df=subset,
                             teacher_logits=subset_logits, **common)
    if mode == "soft pool":
        train = pd.concat([subset, pool], ignore_index=True)
        row_alpha = np.r_[np.ones(len(subset)), np.zeros(len(pool))]
        return train_student(cfg, art, name, splits, loss=LossSettings(0.0, loss.temperature), train_df=train,
                             teacher_logits=np.vstack([subset_logits, pool_logits]), row_alpha=row_alpha,
                             **common)
    if mode == "hard pool":
        labelled = pool.assign(label=np.asarray(pool_logits).argmax(-1))
        train = pd.concat([subset, labelled], ignore_index=True)
        return train_student(cfg, art, name, splits, loss=PLAIN, train_df=train, **common)
    raise ValueError(f"unknown budget mode {mode!r}; valid: {', '.join(BUDGET_MODES)}")


def train_budget_curve(cfg, art: Artifacts, splits: dict[str, pd.DataFrame], train_logits: np.ndarray,
                       pool: pd.DataFrame, pool_logits: np.ndarray, *, loss: LossSettings) -> list[dict]:
    """Every point of the budget curve: ``cfg.budget_student`` on each nested fraction of the
    training split (`subsets.budget_subsets`) in every mode of `BUDGET_MODES`, once per seed of
    ``cfg.budget_seeds``. Runs are keyed and reused like every other run."""
    row_of = {sentence: i for i, sentence in enumerate(splits["train"]["sentence"])}
    records = []
    for fraction, subset in budget_subsets(splits["train"], cfg.budget_fractions, seed=cfg.split_seed).items():
        subset_logits = np.asarray(train_logits)[[row_of[s] for s in subset["sentence"]]]
        for seed in cfg.budget_seeds:
            for mode in BUDGET_MODES:
                records.append(train_budget_point(
                    cfg, art, cfg.budget_student, splits, subset, subset_logits, pool, pool_logits,
                    fraction=fraction, mode=mode, seed=seed, loss=loss, epochs=cfg.budget_epochs))
    return records


def budget_pairs(cfg) -> list[tuple[str, str, str]]:
    """The budget curve's questions, per fraction: does distillation beat hard labels on the same
    sentences, do the teacher's soft labels on the pool beat hard labels alone, and do they beat
    the teacher's argmax labels on the same pool (what the distribution adds to the labelling)."""
    pairs = []
    for fraction in sorted(cfg.budget_fractions):
        name = lambda mode: budget_mode_name(mode, fraction)  # noqa: E731
        pairs += [(cfg.budget_student, name("distilled"), name("hard")),
                  (cfg.budget_student, name("soft pool"), name("hard")),
                  (cfg.budget_student, name("soft pool"), name("hard pool"))]
    return pairs
