"""What determines a training run, as one frozen value that is both its key and the trainer's input.

`trainer.train_classifier` takes its schedule as a `Schedule` and its loss as a
`losses.LossSettings`, and nothing else that shapes a run; a `RunSpec` holds those same two
objects beside the model and the fingerprints of the data, so a setting cannot reach the trainer
without reaching the run's key (`RunSpec.key`).

Who runs a spec is the caller's choice: the lesson's training functions hand it, with the
function that trains it, to ``art.runs`` (`artifacts.TrainEveryRun`: every call trains). The
chapters give their artifacts the run cache instead (`record.runs.RunCache`), which reads a
finished run with the same key back; the training functions know nothing of it.
"""
from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .losses import LossSettings


def frame_fingerprint(df: pd.DataFrame | None) -> str | None:
    """sha256 of the sentences and labels of a frame, in order."""
    if df is None:
        return None
    digest = hashlib.sha256()
    for sentence, label in zip(df["sentence"], df["label"]):
        digest.update(f"{sentence}\0{int(label)}\0".encode("utf-8"))
    return digest.hexdigest()


def array_fingerprint(array) -> str | None:
    """sha256 of an array's float32 values (teacher logits, per-sentence weights)."""
    if array is None:
        return None
    return hashlib.sha256(np.ascontiguousarray(array, dtype=np.float32).tobytes()).hexdigest()


@dataclass(frozen=True)
class Schedule:
    """How one run trains: the Trainer's settings (`trainer.training_arguments`) and the
    tokenizer's length. ``precision`` is the autocast dtype the machine runs ('bf16', 'fp16' or
    'no', `machine.mixed_precision`)."""

    seed: int
    epochs: float
    learning_rate: float
    batch_size: int
    max_length: int
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    precision: str = "no"


@dataclass(frozen=True)
class RunSpec:
    """One training run: the model as its registry fields, the schedule, the loss, the data as
    fingerprints, and where it ran (processes, machine). A teacher has no loss and no teacher."""

    role: str  # "teacher" or "student"
    model: dict  # how the model is built (`models.ModelSpec` fields, description left out)
    schedule: Schedule
    data: dict  # fingerprints of the train, validation and test frames
    processes: int
    machine: dict
    loss: LossSettings | None = None
    mode: str | None = None
    teacher: str | None = None  # the teacher checkpoint's fingerprint
    teacher_logits: str | None = None
    row_alpha: str | None = None
    extra: dict | None = field(default=None)

    def key(self) -> dict:
        """The run's key: every field, flat (the training code's hash is added by `runs.run_key`)."""
        key = {"role": self.role, "model": self.model, **self.data,
               **dataclasses.asdict(self.schedule),
               "processes": self.processes, "machine": self.machine}
        if self.role == "student":
            key.update(mode=self.mode, **dataclasses.asdict(self.loss), teacher=self.teacher,
                       teacher_logits=self.teacher_logits, row_alpha=self.row_alpha, extra=self.extra)
        return key
