"""Where a long run is, told to the terminal of whoever runs it and never to the rendered page.

The lesson logs where a run is to `modes.PROGRESS` (each epoch, from the trainer); the run cache
(`runs.RunCache`) adds each run it reads back or trains, with a tally. A notebook's output is the
book, so a kernel cannot print progress: importing this module gives `PROGRESS` a handler that
appends each line to the file named by ``$DISTILL_PROGRESS``, which `book.pipeline` follows and
echoes to its terminal while the notebook executes ("-" writes to this process's stderr, for the
command-line tools). Unset (Jupyter, papermill run by hand), nothing is told. Telling is never
allowed to stop a run.
"""
from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass

from .._io import is_main_process
from ..modes import PROGRESS

PROGRESS_ENV = "DISTILL_PROGRESS"
TO_STDERR = "-"


class ToWhoeverRunsThis(logging.Handler):
    """Each progress line, with its time of day, to ``$DISTILL_PROGRESS``; only the main process
    of a multi-process run tells."""

    def emit(self, record: logging.LogRecord) -> None:
        target = os.environ.get(PROGRESS_ENV)
        if not target or not is_main_process():
            return
        line = f"{time.strftime('%H:%M:%S', time.localtime(record.created))} {record.getMessage()}\n"
        try:
            if target == TO_STDERR:
                sys.__stderr__.write(line)
                sys.__stderr__.flush()
            else:
                with open(target, "a", encoding="utf-8") as stream:
                    stream.write(line)
        except OSError:
            pass  # a full disk or a closed terminal must not stop the training


def listen() -> None:
    """Give `PROGRESS` its handler, once."""
    if not any(isinstance(handler, ToWhoeverRunsThis) for handler in PROGRESS.handlers):
        PROGRESS.addHandler(ToWhoeverRunsThis())
    PROGRESS.setLevel(logging.INFO)


listen()


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
    """One line for the person running this (`PROGRESS`)."""
    PROGRESS.info("%s", message)


def run_reused(label: str) -> None:
    TALLY.reused += 1
    tell(f"reused  {label} from the run cache [{TALLY.text()}]")


def run_started(label: str) -> None:
    tell(f"training {label} [{TALLY.text()}]")


def run_trained(label: str, seconds: float) -> None:
    TALLY.trained += 1
    tell(f"trained {label} in {seconds / 60:.1f} min [{TALLY.text()}]")
