"""What the teacher costs during training: seconds per step of one student trained plain, from
cached teacher logits, and running the teacher in every step, side by side in one process.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .artifacts import Artifacts
from .experiments import schedule_for
from .losses import PLAIN, LossSettings
from .models import load_checkpoint, load_pretrained
from .trainer import train_classifier
from .modes import PLAIN_MODE


COST_MODES = (PLAIN_MODE, "kd (cached teacher logits)", "kd (teacher every step)")


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
    schedule = schedule_for(cfg, seed=cfg.seed, epochs=1, learning_rate=cfg.student_lr)
    rows = []
    for mode in COST_MODES:
        model, tokenizer = load_pretrained(name, seed=cfg.seed, teacher_checkpoint=teacher_dir)
        kwargs = {"loss": PLAIN if mode == PLAIN_MODE else loss}
        if mode == "kd (cached teacher logits)":
            kwargs["teacher_logits"] = teacher_logits
        elif mode == "kd (teacher every step)":
            kwargs.update(teacher=teacher, teacher_tokenizer=teacher_tokenizer)
        result = train_classifier(model, tokenizer, splits["train"], None, schedule=schedule,
                                  scratch_dir=art.scratch, max_steps=steps + 1, **kwargs)
        timed = result.step_seconds[1:]
        rows.append({"student": name, "mode": mode, "steps_timed": len(timed),
                     "step_s": float(np.mean(timed)),
                     "epoch_s_estimate": float(np.mean(timed)) * steps_per_epoch,
                     "precision": result.precision, "batch_size": schedule.batch_size})
    table = pd.DataFrame(rows)
    table["ratio_vs_plain"] = table["step_s"] / table.loc[table["mode"] == PLAIN_MODE, "step_s"].iloc[0]
    return table
