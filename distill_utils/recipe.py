"""The whole recipe in one listing: distil a classifier on labelled sentences.

Fine-tune the teacher; compute its logits on the training sentences once;
train the student distilled (hard labels plus the T^2-scaled KL to the
teacher's softened logits) and plain (the control), same schedule and seed;
score both with a 95% interval over sentences and a paired test. The loss
and the Trainer are the library's (`losses`, `trainer`). Copied into a file
of your own, it runs on a CSV with `text` and `label` columns:
``python recipe.py FILE [TEACHER STUDENT]``.
"""
from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from distill_utils.inference import predict_logits
from distill_utils.losses import PLAIN, LossSettings
from distill_utils.metrics import wilson_interval
from distill_utils.models import load_pretrained
from distill_utils.own_data import read_labelled_csv, split_labelled
from distill_utils.paired import mcnemar_test
from distill_utils.run_spec import Schedule
from distill_utils.trainer import train_classifier

# the defaults, not tuned on your data (choose on its validation split)
TEACHER_MODEL, STUDENT_MODEL = "all-mpnet-base-v2", "all-MiniLM-L6-v2"
TEACHER_SCHEDULE = Schedule(seed=42, epochs=3, learning_rate=3e-5,
                            batch_size=32, max_length=64)
STUDENT_SCHEDULE = Schedule(seed=42, epochs=4, learning_rate=5e-5,
                            batch_size=32, max_length=64)
DEFAULT_LOSS = LossSettings(alpha=0.5, temperature=2.0)


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


if __name__ == "__main__":
    path, *names = sys.argv[1:]
    teacher, student = names or (TEACHER_MODEL, STUDENT_MODEL)
    rows, labels = read_labelled_csv(path)
    splits = split_labelled(rows, labels, seed=TEACHER_SCHEDULE.seed)
    outcome = distil(splits, labels, teacher, student,
                     teacher_schedule=TEACHER_SCHEDULE,
                     student_schedule=STUDENT_SCHEDULE,
                     loss=DEFAULT_LOSS, scratch=tempfile.mkdtemp())
    for name in ("teacher", "distilled", "plain"):
        result = getattr(outcome, name)
        low, high = result["interval"]
        print(f"{name}: {result['correct']} of {result['n']} correct, "
              f"95% interval {low:.1%} to {high:.1%}")
    print(f"distilled vs plain (exact McNemar): "
          f"p = {outcome.distilled_vs_plain['p_value']:.3f}")
