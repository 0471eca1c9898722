"""The whole recipe in one listing: distil a classifier on labelled sentences.

Fine-tune the teacher; compute its logits on the training sentences once;
train the student twice on the same schedule and seed, distilled (hard
labels plus the T^2-scaled KL to the teacher's softened logits) and plain
(hard labels only: the control); score both on held-out sentences with a
95% interval over sentences and a paired test. The loss, the Trainer and
the collator are the library's (`losses`, `trainer`), as the book derives
them. `distil_csv` runs this on a CSV from the command line.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from .inference import predict_logits
from .losses import PLAIN, LossSettings
from .metrics import wilson_interval
from .models import load_pretrained
from .paired import mcnemar_test
from .run_spec import Schedule
from .trainer import train_classifier


def fine_tune(name: str, splits: dict, labels: list[str],
              schedule: Schedule, scratch: str, loss: LossSettings = PLAIN,
              teacher_logits: np.ndarray | None = None):
    """A registry model fine-tuned on splits["train"]; with a loss whose
    alpha < 1 and the teacher's logits for those rows, distilled."""
    model, tokenizer = load_pretrained(
        name, num_labels=len(labels), seed=schedule.seed)
    model.config.id2label = dict(enumerate(labels))
    model.config.label2id = {label: i for i, label in enumerate(labels)}
    result = train_classifier(
        model, tokenizer, splits["train"], splits["validation"],
        schedule=schedule, scratch_dir=scratch, loss=loss,
        teacher_logits=teacher_logits)
    return result.model, tokenizer


def score(model, tokenizer, rows: pd.DataFrame, max_length: int) -> dict:
    """Accuracy with its 95% Wilson interval over sentences."""
    logits = predict_logits(model, tokenizer, list(rows["sentence"]),
                            max_length=max_length)
    predictions = logits.argmax(-1)
    correct = int((predictions == rows["label"].to_numpy()).sum())
    low, high = wilson_interval(correct, len(rows))
    return {"correct": correct, "n": len(rows),
            "accuracy": correct / len(rows), "interval": (low, high),
            "predictions": predictions}


@dataclass
class Outcome:
    teacher: dict
    distilled: dict
    plain: dict
    distilled_vs_plain: dict  # exact McNemar test, paired by sentence
    models: dict  # name -> (model, tokenizer)


def distil(splits: dict, labels: list[str], teacher: str, student: str, *,
           teacher_schedule: Schedule, student_schedule: Schedule,
           loss: LossSettings, scratch: str,
           fit: Callable = fine_tune) -> Outcome:
    """The recipe. ``fit`` trains one model (`fine_tune`; the command
    passes one that reads finished runs back instead of training again)."""
    models = {"teacher": fit(teacher, splits, labels, teacher_schedule,
                             scratch)}
    soft = predict_logits(*models["teacher"],
                          list(splits["train"]["sentence"]),
                          max_length=teacher_schedule.max_length)
    models["distilled"] = fit(student, splits, labels, student_schedule,
                              scratch, loss=loss, teacher_logits=soft)
    models["plain"] = fit(student, splits, labels, student_schedule,
                          scratch)  # the control: no teacher at all
    test = splits["test"]
    scores = {name: score(*pair, test, student_schedule.max_length)
              for name, pair in models.items()}
    paired = mcnemar_test(test["label"], scores["distilled"]["predictions"],
                          scores["plain"]["predictions"])
    return Outcome(scores["teacher"], scores["distilled"], scores["plain"],
                   paired, models)
