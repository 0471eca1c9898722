"""Where a long run is, told to the terminal of whoever runs it and never to the rendered page.

A notebook's output is the book, so a kernel cannot print progress: it appends lines to the file
named by ``$DISTILL_PROGRESS``, which `pipeline` follows and echoes to its terminal while the
notebook executes ("-" writes to this process's stderr, for the command-line tools). Unset
(Jupyter, papermill run by hand), nothing is told. Telling is never allowed to stop a run.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

from transformers import TrainerCallback

from ._io import is_main_process

PROGRESS_ENV = "DISTILL_PROGRESS"
TO_STDERR = "-"


@dataclass
class RunTally:
    """The runs this process (one notebook's kernel) has finished, trained or read back."""

    trained: int = 0
    reused: int = 0

    def text(self) -> str:
        done = self.trained + self.reused
        return f"{done} run{'s' if done != 1 else ''} done here: {self.trained} trained, {self.reused} reused"


TALLY = RunTally()


def tell(message: str) -> None:
    """One line for the person running this, with the time of day; only the main process tells."""
    target = os.environ.get(PROGRESS_ENV)
    if not target or not is_main_process():
        return
    line = f"{time.strftime('%H:%M:%S')} {message}\n"
    try:
        if target == TO_STDERR:
            sys.__stderr__.write(line)
            sys.__stderr__.flush()
        else:
            with open(target, "a", encoding="utf-8") as stream:
                stream.write(line)
    except OSError:
        pass  # a full disk or a closed terminal must not stop the training


def run_label(model: str, mode: str, seed: int) -> str:
    """How a run is named to a person: 'all-MiniLM-L6-v2 (kd, seed 1)'."""
    return f"{model} ({mode}, seed {seed})"


def run_reused(label: str) -> None:
    TALLY.reused += 1
    tell(f"reused  {label} from the run cache [{TALLY.text()}]")


def run_started(label: str) -> None:
    tell(f"training {label} [{TALLY.text()}]")


def run_trained(label: str, seconds: float) -> None:
    TALLY.trained += 1
    tell(f"trained {label} in {seconds / 60:.1f} min [{TALLY.text()}]")


class EpochProgress(TrainerCallback):
    """After each epoch: which run, the epoch, the time an epoch takes and an estimate of the time
    left (epochs to go at the mean epoch time so far, evaluation included)."""

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
        tell(f"  {self.label}: epoch {done:.0f} of {total:g}, {per_epoch / 60:.1f} min per epoch, "
             f"about {left / 60:.1f} min left")
