"""Teacher fine-tuning and student distillation through the Hugging Face Trainer.

The Trainer (on Accelerate) gives mixed precision, length-grouped batches, progress bars and
multi-GPU scaling with ``accelerate launch``; this module adds only the distillation loss, a
teacher-logit cache and atomic checkpoints.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from transformers import DataCollatorWithPadding, Trainer, TrainerCallback, TrainingArguments

from ._io import atomic_path, read_json, write_json
from .artifacts import display_path
from .data import sentences_fingerprint
from .losses import check_distillation_params, distillation_loss
from .metrics import classification_metrics
from .models import checkpoint_fingerprint, load_checkpoint, predict_logits

logger = logging.getLogger(__name__)


def mixed_precision(requested: bool = True) -> str:
    """'bf16', 'fp16' or 'no': the autocast dtype this machine runs fast and safely."""
    if not requested:
        return "no"
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    cpu = torch.cpu
    if cpu._is_amx_tile_supported() or cpu._is_avx512_bf16_supported():
        return "bf16"
    return "no"


def tokenize_frame(df: pd.DataFrame, tokenizer, max_length: int,
                   teacher_logits: np.ndarray | None = None):
    """A datasets.Dataset of token ids, labels and (optionally) the teacher's logits per row."""
    from datasets import Dataset

    encoded = tokenizer(list(df["sentence"]), truncation=True, max_length=max_length)
    columns = {key: encoded[key] for key in encoded.keys()}
    columns["labels"] = df["label"].astype(int).tolist()
    if teacher_logits is not None:
        if len(teacher_logits) != len(df):
            raise ValueError(f"{len(teacher_logits)} teacher logit rows for {len(df)} sentences")
        columns["teacher_logits"] = np.asarray(teacher_logits, dtype=np.float32).tolist()
    return Dataset.from_dict(columns)


class DistillationCollator:
    """Pads token ids like DataCollatorWithPadding and stacks the teacher logits alongside."""

    def __init__(self, tokenizer):
        self.pad = DataCollatorWithPadding(tokenizer)

    def __call__(self, features: list[dict]) -> dict:
        features = [dict(f) for f in features]
        teacher = [f.pop("teacher_logits") for f in features] if "teacher_logits" in features[0] else None
        batch = self.pad(features)
        if teacher is not None:
            batch["teacher_logits"] = torch.tensor(teacher, dtype=torch.float32)
        return batch


class DistillationTrainer(Trainer):
    """Trainer whose loss is `distillation_loss` when the batch carries teacher logits.

    Without teacher logits (teacher fine-tuning, evaluation) the loss is plain cross-entropy.
    A non-finite loss stops training with the step where it happened.
    """

    loss_is_scaled_for_ga = False  # our loss is a per-batch mean

    def __init__(self, *args, alpha: float = 1.0, temperature: float = 1.0, **kwargs):
        check_distillation_params(alpha, temperature)
        super().__init__(*args, **kwargs)
        self.alpha = float(alpha)
        self.temperature = float(temperature)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        teacher_logits = inputs.pop("teacher_logits", None)
        outputs = model(**inputs)
        if teacher_logits is not None:
            loss = distillation_loss(outputs.logits, teacher_logits, labels, self.alpha, self.temperature)
        elif model.training and self.alpha < 1.0:
            raise ValueError("alpha < 1 needs teacher logits in the training data")
        else:
            loss = F.cross_entropy(outputs.logits.float(), labels)
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"non-finite loss ({loss.item()}) at training step {self.state.global_step + 1} "
                f"(epoch {self.state.epoch or 0:.2f}); lower the learning rate or check the inputs"
            )
        return (loss, outputs) if return_outputs else loss


class EpochTimer(TrainerCallback):
    """Wall time of each training epoch, excluding evaluation (it runs after on_epoch_end)."""

    def __init__(self):
        self.seconds: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, args, state, control, **kwargs):
        self._start = time.perf_counter()

    def on_epoch_end(self, args, state, control, **kwargs):
        self.seconds.append(time.perf_counter() - self._start)


def _compute_metrics(prediction) -> dict:
    result = classification_metrics(prediction.label_ids, prediction.predictions)
    return {"accuracy": result["accuracy"], "macro_f1": result["macro_f1"]}


@dataclass
class TrainResult:
    model: torch.nn.Module
    epoch_seconds: list[float]
    precision: str
    log_history: list[dict] = field(default_factory=list)
    train_samples: int = 0


def train_classifier(model, tokenizer, train_df: pd.DataFrame, eval_df: pd.DataFrame, *,
                     epochs: float, learning_rate: float, batch_size: int, seed: int,
                     max_length: int, scratch_dir: str | Path, bf16: bool = True,
                     warmup_ratio: float = 0.1, weight_decay: float = 0.01,
                     alpha: float = 1.0, temperature: float = 1.0,
                     teacher_logits: np.ndarray | None = None) -> TrainResult:
    """Fine-tune ``model`` on ``train_df``; distil when ``teacher_logits`` (rows of train_df) given."""
    from transformers import set_seed

    set_seed(seed)
    precision = mixed_precision(bf16)
    args = TrainingArguments(
        output_dir=str(scratch_dir),
        num_train_epochs=epochs,
        learning_rate=learning_rate,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=64,
        warmup_steps=warmup_ratio,
        weight_decay=weight_decay,
        lr_scheduler_type="linear",
        eval_strategy="epoch",
        save_strategy="no",
        logging_strategy="epoch",
        report_to="none",
        seed=seed,
        data_seed=seed,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=not torch.cuda.is_available(),
        train_sampling_strategy="group_by_length",
        remove_unused_columns=False,
        dataloader_num_workers=0,
        disable_tqdm=False,
    )
    timer = EpochTimer()
    trainer = DistillationTrainer(
        model=model,
        args=args,
        train_dataset=tokenize_frame(train_df, tokenizer, max_length, teacher_logits),
        eval_dataset=tokenize_frame(eval_df, tokenizer, max_length),
        data_collator=DistillationCollator(tokenizer),
        compute_metrics=_compute_metrics,
        callbacks=[timer],
        alpha=alpha,
        temperature=temperature,
    )
    trainer.train()
    return TrainResult(trainer.model, timer.seconds, precision, trainer.state.log_history, len(train_df))


def save_checkpoint(model, tokenizer, directory: str | Path, info: dict) -> Path:
    """Save weights (safetensors), tokenizer and run info; the folder appears only when complete."""
    directory = Path(directory)
    with atomic_path(directory) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if not (tmp / "model.safetensors").is_file():
            raise RuntimeError("expected a single model.safetensors file in the checkpoint")
        write_json(tmp / "run.json", info)
    return directory


def evaluate_checkpoint(model, tokenizer, df: pd.DataFrame, max_length: int) -> tuple[dict, np.ndarray]:
    """Test metrics and fp32 logits of a model on one split (logits kept for paired tests)."""
    logits = predict_logits(model, tokenizer, list(df["sentence"]), max_length=max_length)
    return classification_metrics(df["label"].to_numpy(), logits), logits


def _finish_run(result: TrainResult, tokenizer, splits, cfg, out_dir: Path, info: dict) -> dict:
    metrics, test_logits = evaluate_checkpoint(result.model, tokenizer, splits["test"], cfg.max_length)
    info = {
        **info,
        "precision": result.precision,
        "epoch_seconds": result.epoch_seconds,
        "train_samples": result.train_samples,
        "test": metrics,
        "test_logits": test_logits.round(6).tolist(),
        "log_history": result.log_history,
    }
    save_checkpoint(result.model, tokenizer, out_dir, info)
    return info


def fine_tune_teacher(cfg, splits: dict[str, pd.DataFrame], out_dir: str | Path) -> dict:
    """Fine-tune the profile's teacher, save it to ``out_dir`` and return its run record."""
    from .models import load_pretrained

    model, tokenizer = load_pretrained(cfg.teacher, seed=cfg.seed)
    result = train_classifier(
        model, tokenizer, splits["train"], splits["validation"],
        epochs=cfg.teacher_epochs, learning_rate=cfg.teacher_lr, batch_size=cfg.batch_size,
        seed=cfg.seed, max_length=cfg.max_length, scratch_dir=Path(out_dir).parent / ".trainer",
        bf16=cfg.bf16, warmup_ratio=cfg.warmup_ratio, weight_decay=cfg.weight_decay,
    )
    info = {"role": "teacher", "model": cfg.teacher, "profile": cfg.profile, "seed": cfg.seed,
            "epochs": cfg.teacher_epochs, "learning_rate": cfg.teacher_lr,
            "batch_size": cfg.batch_size, "max_length": cfg.max_length, "agreement": cfg.agreement}
    return _finish_run(result, tokenizer, splits, cfg, Path(out_dir), info)


def cache_teacher_logits(teacher_dir: str | Path, splits: dict[str, pd.DataFrame],
                         max_length: int, cache_dir: str | Path) -> dict[str, np.ndarray]:
    """The teacher's logits for every split, computed once and cached on disk.

    Each model tokenizes with its own tokenizer, so the cache is keyed by sentence. A cache file
    is reused only if it was written for the same teacher weights (sha256), the same sentences and
    the same max length; otherwise it is recomputed and replaced.
    """
    teacher_dir, cache_dir = Path(teacher_dir), Path(cache_dir)
    fingerprint = checkpoint_fingerprint(teacher_dir)
    out: dict[str, np.ndarray] = {}
    model = tokenizer = None
    for split, df in splits.items():
        sentences = list(df["sentence"])
        key = {"teacher_sha256": fingerprint, "split": split, "max_length": max_length,
               "sentences_sha256": sentences_fingerprint(sentences), "n": len(sentences)}
        path = cache_dir / f"{split}.json"
        if path.is_file():
            cached = read_json(path)
            if cached.get("key") == key:
                by_sentence = dict(zip(cached["sentences"], cached["logits"]))
                out[split] = np.asarray([by_sentence[s] for s in sentences], dtype=np.float32)
                logger.info("teacher logits for %s read from %s", split, display_path(path))
                continue
            logger.info("cache %s was written for another teacher or split: recomputing", display_path(path))
        if model is None:
            model, tokenizer = load_checkpoint(teacher_dir)
        logits = predict_logits(model, tokenizer, sentences, max_length=max_length)
        write_json(path, {"key": key, "sentences": sentences, "logits": logits.tolist()})
        out[split] = logits
    return out


def train_student(cfg, name: str, splits: dict[str, pd.DataFrame], teacher_logits: np.ndarray,
                  out_dir: str | Path, *, teacher_dir: str | Path, seed: int,
                  alpha: float, temperature: float) -> dict:
    """Train one student (distilled when alpha < 1), save it and return its run record.

    ``teacher_logits`` are the cached logits for ``splits['train']``, row for row.
    """
    from .models import load_pretrained

    check_distillation_params(alpha, temperature)
    model, tokenizer = load_pretrained(name, seed=seed, teacher_checkpoint=teacher_dir)
    result = train_classifier(
        model, tokenizer, splits["train"], splits["validation"],
        epochs=cfg.student_epochs, learning_rate=cfg.student_lr, batch_size=cfg.batch_size,
        seed=seed, max_length=cfg.max_length, scratch_dir=Path(out_dir).parent / ".trainer",
        bf16=cfg.bf16, warmup_ratio=cfg.warmup_ratio, weight_decay=cfg.weight_decay,
        alpha=alpha, temperature=temperature, teacher_logits=teacher_logits,
    )
    info = {"role": "student", "model": name, "profile": cfg.profile, "seed": seed,
            "mode": "plain" if alpha == 1.0 else "kd", "alpha": alpha, "temperature": temperature,
            "epochs": cfg.student_epochs, "learning_rate": cfg.student_lr,
            "batch_size": cfg.batch_size, "max_length": cfg.max_length, "agreement": cfg.agreement,
            "teacher_sha256": checkpoint_fingerprint(teacher_dir)}
    return _finish_run(result, tokenizer, splits, cfg, Path(out_dir), info)


def run_record(directory: str | Path) -> dict:
    """The run.json saved beside a checkpoint."""
    return read_json(Path(directory) / "run.json")


def train_students(cfg, splits: dict[str, pd.DataFrame], teacher_logits: np.ndarray,
                   teacher_dir: str | Path, students_dir: str | Path) -> list[dict]:
    """Every student of the profile, distilled (cfg.alpha, cfg.temperature) and plain (alpha = 1).

    The plain run is the control: same model, seed, data and schedule, no teacher.
    """
    records = []
    for name in cfg.students:
        for mode, alpha in (("kd", cfg.alpha), ("plain", 1.0)):
            out_dir = Path(students_dir) / name / f"{mode}-seed{cfg.seed}"
            records.append(train_student(cfg, name, splits, teacher_logits, out_dir,
                                         teacher_dir=teacher_dir, seed=cfg.seed,
                                         alpha=alpha, temperature=cfg.temperature))
    return records
