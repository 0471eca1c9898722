"""Trainer mechanics: the Hugging Face Trainer with the distillation loss, quiet and timed.

The Trainer (on Accelerate) gives mixed precision, length-grouped batches and multi-GPU scaling
with ``accelerate launch``; this module adds the distillation loss (`losses`), a collator that
attaches the teacher's cached outputs to each batch, per-step timing and atomic checkpoints.
Progress bars and log lines stay out of the book: the Trainer's log history is returned instead.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from datasets import Dataset
from transformers import (DataCollatorWithPadding, Trainer, TrainerCallback, TrainingArguments,
                          set_seed)
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from ._io import atomic_path, is_main_process, training_processes, write_json
from .artifacts import RUN_FILE, WEIGHTS_FILE
from .losses import PLAIN, LossSettings, distillation_loss, hidden_state_loss
from .metrics import classification_metrics
from .modes import PROGRESS
from .inference import predict_logits
from .run_spec import Schedule


def tokenize_frame(df: pd.DataFrame, tokenizer, max_length: int, *, with_rows: bool = False,
                   teacher_tokenizer=None):
    """A datasets.Dataset of token ids and labels.

    ``with_rows`` adds each sentence's row number, which the collator uses to attach cached
    teacher outputs; ``teacher_tokenizer`` adds the teacher's own token ids (for distillation that
    runs the teacher in every step: each model reads text through its own tokenizer).
    """
    sentences = list(df["sentence"])
    encoded = tokenizer(sentences, truncation=True, max_length=max_length)
    columns = {key: encoded[key] for key in encoded.keys()}
    columns["labels"] = df["label"].astype(int).tolist()
    if with_rows:
        columns["row"] = list(range(len(df)))
    if teacher_tokenizer is not None:
        teacher_encoded = teacher_tokenizer(sentences, truncation=True, max_length=max_length)
        columns["teacher_input_ids"] = teacher_encoded["input_ids"]
        columns["teacher_attention_mask"] = teacher_encoded["attention_mask"]
    return Dataset.from_dict(columns)


class DistillationCollator:
    """Pads token ids like DataCollatorWithPadding and attaches the teacher's cached outputs.

    Training rows carry a ``row`` number; the collator looks up the teacher's logits (and, for
    hidden-state distillation, its hidden states) for those rows. Evaluation rows carry none.
    """

    def __init__(self, tokenizer, teacher_logits: np.ndarray | None = None,
                 teacher_hidden: np.ndarray | None = None, teacher_tokenizer=None,
                 row_alpha: np.ndarray | None = None):
        self.pad = DataCollatorWithPadding(tokenizer)
        self.teacher_pad = DataCollatorWithPadding(teacher_tokenizer) if teacher_tokenizer else None
        self.teacher_logits = None if teacher_logits is None else np.asarray(teacher_logits, np.float32)
        self.teacher_hidden = None if teacher_hidden is None else np.asarray(teacher_hidden, np.float32)
        self.row_alpha = None if row_alpha is None else np.asarray(row_alpha, np.float32)

    def __call__(self, features: list[dict]) -> dict:
        features = [dict(f) for f in features]
        rows = [f.pop("row") for f in features] if "row" in features[0] else None
        teacher_features = None
        if "teacher_input_ids" in features[0]:
            teacher_features = [{"input_ids": f.pop("teacher_input_ids"),
                                 "attention_mask": f.pop("teacher_attention_mask")} for f in features]
        batch = self.pad(features)
        if rows is not None and self.teacher_logits is not None:
            batch["teacher_logits"] = torch.from_numpy(self.teacher_logits[rows])
        if rows is not None and self.teacher_hidden is not None:
            batch["teacher_hidden"] = torch.from_numpy(self.teacher_hidden[rows])
        if rows is not None and self.row_alpha is not None:
            batch["row_alpha"] = torch.from_numpy(self.row_alpha[rows])
        if teacher_features is not None and self.teacher_pad is not None:
            padded = self.teacher_pad(teacher_features)
            batch["teacher_input_ids"] = padded["input_ids"]
            batch["teacher_attention_mask"] = padded["attention_mask"]
        return batch


class StudentWithProjection(torch.nn.Module):
    """A student plus the learned projection of its hidden states into the teacher's width.

    Only used while training with the hidden-state term; the projection is dropped afterwards,
    so the saved student is an ordinary model of its class.
    """

    def __init__(self, student: torch.nn.Module, teacher_width: int):
        super().__init__()
        self.student = student
        self.config = student.config
        self.projection = torch.nn.Linear(student.config.hidden_size, teacher_width)

    def forward(self, **inputs):
        return self.student(**inputs, output_hidden_states=self.training)


class DistillationTrainer(Trainer):
    """Trainer whose loss is `distillation_loss` when the batch carries teacher outputs.

    Teacher logits come either from the cache (``teacher_logits`` in the batch) or, when a
    ``teacher`` model is given, from running it on the batch (the costly way, kept to measure
    what the cache saves). With ``loss.hidden_weight > 0`` the model is a
    `StudentWithProjection` and the batch carries the teacher's hidden states. Without teacher
    outputs (teacher fine-tuning, evaluation) the loss is plain cross-entropy.
    """

    loss_is_scaled_for_ga = False  # our loss is a per-batch mean

    def __init__(self, *args, loss: LossSettings = PLAIN, teacher=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss = loss  # checked once, when it was built
        self.teacher = teacher.eval() if teacher is not None else None

    def compute_loss(self, model, inputs, return_outputs=False,
                     num_items_in_batch=None):
        labels = inputs.pop("labels")
        teacher_logits = inputs.pop("teacher_logits", None)  # cached, per row
        teacher_hidden = inputs.pop("teacher_hidden", None)
        alpha = inputs.pop("row_alpha", self.loss.alpha)  # per row, or one
        teacher_inputs = pop_teacher_inputs(inputs)
        if self.teacher is not None and teacher_inputs:  # the costly way
            teacher_logits = self.run_teacher(teacher_inputs)
        outputs = model(**inputs)
        if teacher_logits is not None:  # chapter 3's loss
            loss = distillation_loss(outputs.logits, teacher_logits, labels,
                                     alpha, self.loss.temperature)
        else:  # no teacher: ordinary cross-entropy
            loss = F.cross_entropy(outputs.logits.float(), labels)
        if teacher_hidden is not None and self.loss.hidden_weight > 0:
            loss = loss + self.loss.hidden_weight * self.hidden_term(
                model, outputs, teacher_hidden)
        self.stop_unless_finite(loss)
        return (loss, outputs) if return_outputs else loss

    def run_teacher(self, teacher_inputs: dict) -> torch.Tensor:
        """The teacher's logits for this batch, computed now (no gradient)."""
        with torch.no_grad(), self.accelerator.autocast():
            return self.teacher(**teacher_inputs).logits.float()

    def hidden_term(self, model, outputs, teacher_hidden) -> torch.Tensor:
        """`hidden_state_loss` between the student's projected first-token
        states (one per layer) and the teacher's cached ones."""
        unwrapped = self.accelerator.unwrap_model(model)
        student_hidden = torch.stack([outputs.hidden_states[i][:, 0] for i in
                                      range(1, len(outputs.hidden_states))], dim=1)
        weight_dtype = unwrapped.projection.weight.dtype
        projected = unwrapped.projection(student_hidden.to(weight_dtype))
        return hidden_state_loss(projected, teacher_hidden)

    def stop_unless_finite(self, loss: torch.Tensor) -> None:
        """Stop training at a non-finite loss, naming its step."""
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"non-finite loss ({loss.item()}) at training step {self.state.global_step + 1} "
                f"(epoch {self.state.epoch or 0:.2f}); lower the learning rate or check the inputs"
            )


def pop_teacher_inputs(inputs: dict) -> dict:
    """The teacher's own token ids, taken out of the student's batch."""
    return {key[len("teacher_"):]: inputs.pop(key)
            for key in ("teacher_input_ids", "teacher_attention_mask") if key in inputs}


class EpochProgress(TrainerCallback):
    """After each epoch: which run, the epoch, the time an epoch takes and an estimate of the time
    left (epochs to go at the mean epoch time so far, evaluation included), logged to `PROGRESS`."""

    def __init__(self, label: str):
        self.label = label
        self._start = time.perf_counter()

    def on_train_begin(self, args, state, control, **kwargs):
        self._start = time.perf_counter()

    def on_epoch_end(self, args, state, control, **kwargs):
        done = state.epoch or 0.0
        total = state.num_train_epochs or args.num_train_epochs
        if done <= 0:
            return
        per_epoch = (time.perf_counter() - self._start) / done
        left = max(total - done, 0.0) * per_epoch
        PROGRESS.info("  %s: epoch %.0f of %g, %.1f min per epoch, about %.1f min left",
                      self.label, done, total, per_epoch / 60, left / 60)


class TrainingTimer(TrainerCallback):
    """Wall time of each training epoch and each optimisation step (evaluation excluded: it runs
    after on_epoch_end)."""

    def __init__(self):
        self.epoch_seconds: list[float] = []
        self.step_seconds: list[float] = []
        self._epoch_start = self._step_start = 0.0

    def on_epoch_begin(self, args, state, control, **kwargs):
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, args, state, control, **kwargs):
        self.epoch_seconds.append(time.perf_counter() - self._epoch_start)

    def on_step_begin(self, args, state, control, **kwargs):
        self._step_start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.step_seconds.append(time.perf_counter() - self._step_start)


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
    step_seconds: list[float] = field(default_factory=list)


def training_arguments(scratch_dir, schedule: Schedule, *,
                       evaluate: bool = True,
                       max_steps: int | None = None) -> TrainingArguments:
    """The Trainer's settings for one run (its `Schedule`): a linear
    schedule with warm-up, the batch shared out over processes, mixed
    precision where the machine has it, batches of similar length, and no
    checkpoints, log lines or progress bars (the run cache keeps the
    result)."""
    processes = training_processes()
    batch_size = schedule.batch_size
    if batch_size % processes:
        raise ValueError(f"batch_size {batch_size} must split evenly "
                         f"over {processes} processes")
    return TrainingArguments(
        output_dir=str(scratch_dir),
        num_train_epochs=schedule.epochs,
        max_steps=max_steps if max_steps else -1,
        learning_rate=schedule.learning_rate,
        per_device_train_batch_size=batch_size // processes,
        per_device_eval_batch_size=64,
        # a fraction: that share of all steps
        warmup_steps=schedule.warmup_ratio,
        weight_decay=schedule.weight_decay,
        lr_scheduler_type="linear",
        eval_strategy="epoch" if evaluate else "no",
        save_strategy="no",
        logging_strategy="epoch",
        report_to="none",
        seed=schedule.seed,
        data_seed=schedule.seed,
        bf16=schedule.precision == "bf16",
        fp16=schedule.precision == "fp16",
        use_cpu=not torch.cuda.is_available(),
        train_sampling_strategy="group_by_length",
        remove_unused_columns=False,
        label_names=["labels"],  # also when a projection wraps the model
        dataloader_num_workers=0,
        disable_tqdm=True,  # no progress bars in the book
    )


def train_classifier(model, tokenizer, train_df: pd.DataFrame, eval_df: pd.DataFrame | None, *,
                     schedule: Schedule, scratch_dir: str | Path, loss: LossSettings = PLAIN,
                     teacher_logits: np.ndarray | None = None, teacher_hidden: np.ndarray | None = None,
                     teacher=None, teacher_tokenizer=None, row_alpha: np.ndarray | None = None,
                     max_steps: int | None = None, progress_label: str | None = None) -> TrainResult:
    """Fine-tune ``model`` on ``train_df``, evaluating on ``eval_df`` after every epoch.

    Distils when teacher outputs are given: cached ``teacher_logits`` (rows of train_df), or a
    ``teacher`` model run in every step (with its ``teacher_tokenizer``). ``teacher_hidden``
    (rows of train_df, shape (n, student layers, teacher width)) adds the hidden-state term, and
    ``row_alpha`` gives each sentence its own hard-label weight in [0, 1].
    ``schedule`` and ``loss`` are all the settings a run trains with: a `run_spec.RunSpec` holds
    the same two objects as the run's key. ``max_steps`` stops early (the cost comparison times a few steps of each kind).
    ``progress_label`` names the run in the epoch lines told to whoever runs it (`progress`).
    """
    set_seed(schedule.seed)
    args = training_arguments(scratch_dir, schedule, evaluate=eval_df is not None, max_steps=max_steps)
    for name, array in (("teacher logit", teacher_logits), ("teacher hidden-state", teacher_hidden),
                        ("per-sentence alpha", row_alpha)):
        if array is not None and len(array) != len(train_df):
            raise ValueError(f"{len(array)} {name} rows for {len(train_df)} training sentences")
    if row_alpha is not None and not ((np.asarray(row_alpha) >= 0) & (np.asarray(row_alpha) <= 1)).all():
        raise ValueError("every per-sentence alpha must lie in [0, 1] (it weights the hard-label term)")
    if teacher_logits is None and teacher is None and (loss.alpha < 1.0 or row_alpha is not None):
        raise ValueError(f"alpha {loss.alpha:g} < 1 needs the teacher's logits for the training sentences")
    if teacher_hidden is not None and loss.hidden_weight > 0:
        model = StudentWithProjection(model, teacher_width=teacher_hidden.shape[-1])
    timer = TrainingTimer()
    trainer = DistillationTrainer(
        model=model,
        args=args,
        train_dataset=tokenize_frame(train_df, tokenizer, schedule.max_length, with_rows=True,
                                     teacher_tokenizer=teacher_tokenizer if teacher is not None else None),
        eval_dataset=None if eval_df is None else tokenize_frame(eval_df, tokenizer, schedule.max_length),
        data_collator=DistillationCollator(tokenizer, teacher_logits, teacher_hidden, teacher_tokenizer,
                                           row_alpha),
        compute_metrics=_compute_metrics,
        callbacks=[timer, *([EpochProgress(progress_label)] if progress_label else [])],
        loss=loss,
        teacher=teacher,
    )
    trainer.remove_callback(PrinterCallback)  # log lines: the log history is returned instead
    trainer.remove_callback(ProgressCallback)
    trainer.train()
    # Accelerate wraps forward in autocast for mixed-precision training; every score the book
    # shows is fp32, so the trained model leaves without the wrapper (as a saved checkpoint does)
    trained = trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)
    trained = trained.student if isinstance(trained, StudentWithProjection) else trained
    return TrainResult(trained, timer.epoch_seconds, schedule.precision, trainer.state.log_history,
                       len(train_df), timer.step_seconds)


def save_checkpoint(model, tokenizer, directory: str | Path, info: dict) -> Path:
    """Save weights (safetensors), tokenizer and run info; the folder appears only when complete.
    Only the main process of a multi-process run saves (the others hold the same weights)."""
    directory = Path(directory)
    if not is_main_process():
        return directory
    with atomic_path(directory) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if not (tmp / WEIGHTS_FILE).is_file():
            raise RuntimeError(f"expected a single {WEIGHTS_FILE} file in the checkpoint")
        write_json(tmp / RUN_FILE, info)
    return directory


def evaluate_checkpoint(model, tokenizer, df: pd.DataFrame, max_length: int) -> tuple[dict, np.ndarray]:
    """Test metrics and fp32 logits of a model on one split (logits kept for paired tests)."""
    logits = predict_logits(model, tokenizer, list(df["sentence"]), max_length=max_length)
    return classification_metrics(df["label"].to_numpy(), logits), logits
