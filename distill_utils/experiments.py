"""Training runs: the teacher over its seeds, and every student distilled and as its plain control.

The sweep (`sweep`), the budget curve (`budget`), the transfer curve (`transfer_curve`) and the
pool recipe (`pool_recipe`) train through `train_student` too. Each function states its run as a
`run_spec.RunSpec` and hands it, with the function that trains it through
`trainer.train_classifier`, to the artifacts' ``runs`` (`Artifacts.run`), and returns the run
record that is saved beside its checkpoint (`artifacts.Artifacts` says where). On their own,
artifacts train every run; the chapters' artifacts read a finished run with the same key back
(`record.runs`).
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
from .models import load_pretrained, model_key
from .run_spec import RunSpec, Schedule, array_fingerprint, frame_fingerprint
from .data import split_agreement
from .teacher_cache import cache_teacher_hidden, has_seed_logits, hidden_layer_map, keep_seed_logits
from .trainer import TrainResult, evaluate_checkpoint, save_checkpoint, train_classifier
from .modes import DISTILLED, PLAIN_MODE, TEACHER, run_label


def schedule_for(cfg, *, seed: int, epochs: float, learning_rate: float) -> Schedule:
    """The profile's schedule for one run, in the precision this machine trains in."""
    return Schedule(seed=seed, epochs=epochs, learning_rate=learning_rate, batch_size=cfg.batch_size,
                    max_length=cfg.max_length, warmup_ratio=cfg.warmup_ratio,
                    weight_decay=cfg.weight_decay, precision=mixed_precision(cfg.bf16))


def _run_spec(role: str, name: str, schedule: Schedule, splits, train_df: pd.DataFrame, **student) -> RunSpec:
    """The spec of one run: the model, its schedule, its data as fingerprints, where it runs."""
    data = {"train": frame_fingerprint(train_df), "validation": frame_fingerprint(splits["validation"]),
            "test": frame_fingerprint(splits["test"])}
    return RunSpec(role=role, model=model_key(name), schedule=schedule, data=data,
                   processes=training_processes(), machine=training_machine(), **student)


def _schedule_fields(spec: RunSpec) -> dict:
    """The schedule as a run record states it (the record keeps its precision from the trainer)."""
    return {name: getattr(spec.schedule, name) for name in ("seed", "epochs", "learning_rate", "batch_size", "max_length")}


def _finish_run(result: TrainResult, tokenizer, splits, spec: RunSpec, out_dir: Path | None, info: dict) -> dict:
    """Score the trained model on validation and test; save it when ``out_dir`` is given."""
    validation, _ = evaluate_checkpoint(result.model, tokenizer, splits["validation"], spec.schedule.max_length)
    metrics, test_logits = evaluate_checkpoint(result.model, tokenizer, splits["test"], spec.schedule.max_length)
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


def fine_tune_teacher(cfg, art: Artifacts, splits: dict[str, pd.DataFrame], seed: int | None = None,
                      pool: pd.DataFrame | None = None) -> dict:
    """Fine-tune the profile's teacher with ``seed`` (default: the first teacher seed) and return
    its run record. The first teacher seed is saved to ``art.teacher`` (the students' teacher);
    another seed keeps only its record (``art.teacher_seed_record``), which measures how much the
    teacher varies from seed to seed, and, given the ``pool``, its logits on every split and the
    pool (``art.teacher_seed_logits``): a seed whose logits were not kept is trained again
    (deterministic on one CPU) to make them."""
    seed = cfg.teacher_seeds[0] if seed is None else int(seed)
    primary = seed == cfg.teacher_seeds[0]
    spec = _run_spec(TEACHER, cfg.teacher, schedule_for(cfg, seed=seed, epochs=cfg.teacher_epochs,
                                                        learning_rate=cfg.teacher_lr), splits, splits["train"])
    kept = None if primary or pool is None else {**splits, "pool": pool}
    label = run_label(cfg.teacher, TEACHER, seed)

    def train(key: dict, key_sha: str, out_dir: Path | None) -> dict:
        model, tokenizer = load_pretrained(cfg.teacher, seed=seed)
        result = train_classifier(model, tokenizer, splits["train"], splits["validation"],
                                  schedule=spec.schedule, scratch_dir=art.scratch, progress_label=label)
        info = {"role": TEACHER, "model": cfg.teacher, "profile": cfg.profile, **_schedule_fields(spec),
                "agreement": split_agreement(splits, cfg.agreement),
                "run_key": key, "run_key_sha": key_sha}
        if kept:  # before the record, which marks the run done
            keep_seed_logits(art.teacher_seed_logits(seed), key_sha, result.model, tokenizer, kept,
                             cfg.max_length)
        return _finish_run(result, tokenizer, splits, spec, out_dir, info)

    def complete(key_sha: str) -> bool:  # a seed's kept logits are part of its run
        return not kept or has_seed_logits(art.teacher_seed_logits(seed), key_sha, kept, cfg.max_length)

    record = art.run(spec, train, label=label, save_to=art.teacher if primary else None, complete=complete)
    if not primary:
        write_json(art.teacher_seed_record(seed), record)
    return record


def fine_tune_teachers(cfg, art: Artifacts, splits: dict[str, pd.DataFrame],
                       pool: pd.DataFrame | None = None) -> list[dict]:
    """The teacher once per seed of ``cfg.teacher_seeds`` (same recipe), the saved one first; with
    the ``pool``, every other seed keeps its logits. Records of seeds no longer asked for are
    removed, so `Artifacts.teacher_records` reads exactly this run's teacher seeds."""
    records = [fine_tune_teacher(cfg, art, splits, seed, pool=pool) for seed in cfg.teacher_seeds]
    wanted = {art.teacher_seed_record(seed).name for seed in cfg.teacher_seeds[1:]}
    wanted |= {art.teacher_seed_logits(seed).name for seed in cfg.teacher_seeds[1:]}
    for path in [*art.teacher_seeds.glob("seed*.json"), *art.teacher_seeds.glob("logits-seed*.json")]:
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
    checkpoint goes to ``art.student(name, mode, seed)``.

    Trains on ``splits['train']`` unless ``train_df`` (e.g. a budget subset with the pool) is given;
    ``teacher_logits`` are the teacher's cached logits for those rows, in order. Distils when
    ``loss.alpha`` < 1, or per sentence with ``row_alpha``; ``loss.hidden_weight > 0`` adds the hidden-state term
    (teacher states cached on the way). ``extra`` fields go into the record (e.g. a budget fraction).
    ``keep_checkpoint`` asks a run cache to keep an unsaved run's weights under its key: a later
    saved run with the same key then takes them instead of training again (`record.runs`).
    """
    if loss.is_plain and row_alpha is None:
        loss = PLAIN  # the teacher plays no part, so neither does T (one key for all)
    teacher_dir = art.require_teacher()
    train_df = splits["train"] if train_df is None else train_df
    epochs = cfg.student_epochs if epochs is None else epochs
    mode = mode or (PLAIN_MODE if loss.is_plain else DISTILLED)
    teacher_sha = checkpoint_fingerprint(teacher_dir)
    spec = _run_spec("student", name, schedule_for(cfg, seed=seed, epochs=epochs, learning_rate=cfg.student_lr),
                     splits, train_df, loss=loss, mode=mode, teacher=teacher_sha,
                     teacher_logits=array_fingerprint(teacher_logits), row_alpha=array_fingerprint(row_alpha),
                     extra=extra)
    label = run_label(name, mode, seed)

    def train(key: dict, key_sha: str, out_dir: Path | None) -> dict:
        model, tokenizer = load_pretrained(name, seed=seed, teacher_checkpoint=teacher_dir)
        teacher_hidden = None
        if loss.hidden_weight > 0:
            teacher_layers = AutoConfig.from_pretrained(teacher_dir).num_hidden_layers
            layers = hidden_layer_map(model.config.num_hidden_layers, teacher_layers)
            teacher_hidden = cache_teacher_hidden(art, name, train_df, layers, spec.schedule.max_length)
        result = train_classifier(model, tokenizer, train_df, splits["validation"], schedule=spec.schedule,
                                  scratch_dir=art.scratch, loss=loss, teacher_logits=teacher_logits,
                                  teacher_hidden=teacher_hidden, row_alpha=row_alpha, progress_label=label)
        info = {"role": "student", "model": name, "profile": cfg.profile, "mode": mode,
                **dataclasses.asdict(loss), **_schedule_fields(spec),
                "agreement": split_agreement(splits, cfg.agreement),
                "teacher_sha256": teacher_sha, **(extra or {}), "run_key": key, "run_key_sha": key_sha}
        return _finish_run(result, tokenizer, splits, spec, out_dir, info)

    final = art.student(name, mode, seed)
    return art.run(spec, train, label=label, save_to=final if save else None,
                   keep=keep_checkpoint and not save, final=final)


def train_students(cfg, art: Artifacts, splits: dict[str, pd.DataFrame], teacher_logits: np.ndarray, *,
                   loss: LossSettings) -> list[dict]:
    """Every student of the profile, for every seed: distilled (``loss``) and plain (`PLAIN`),
    the control: same model, seed, data and schedule, no teacher. The compression students are
    trained distilled only."""
    records = []
    for seed in cfg.seeds:
        for name in cfg.students + cfg.compression_students:
            modes = {DISTILLED: loss} if name in cfg.compression_students else {DISTILLED: loss, PLAIN_MODE: PLAIN}
            for mode, settings in modes.items():
                records.append(train_student(cfg, art, name, splits, seed=seed, loss=settings,
                                             teacher_logits=teacher_logits, mode=mode))
    return records
