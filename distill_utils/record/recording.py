"""How a recording was trained: its runs, in how many parts, on which CPU.

A whole `cpu` run trains for hours, longer than one working session, so it is trained in parts
joined by the run cache (`runs`): each part trains what the previous ones left, and a later part
reuses every finished run with the same key. Training is deterministic on one CPU model, not
across models, and the key holds the CPU, so every run a recording reuses came from one CPU model.
Each execution of the pipeline (`make run`, `make reference`) is a part: it notes when it began
(`start_part`) and hands that time to the notebooks it runs (``$DISTILL_RECORDING_PART``); the run
cache stamps it on the record of every run it trains (`stamp_part`). A run trained outside the
pipeline (a chapter run by hand) carries no part and counts as a part of its own.
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from .._io import is_main_process, read_json, write_json
from ..artifacts import Artifacts, read_run, write_run
from ..machine import training_machine
from .training_code import training_code_hash

logger = logging.getLogger(__name__)

PART_ENV = "DISTILL_RECORDING_PART"  # when the part now running began (seconds since the epoch)
PART_FIELD = "recording_part"  # the field of a run record that holds it


def current_runs(art: Artifacts) -> list[dict]:
    """The record of every run in ``art`` that this code on this machine would reuse (same
    training code, same device, CPU model, flags and torch), one per key."""
    code, machine = training_code_hash(), training_machine()
    runs: dict[str, dict] = {}
    for path in art.run_record_files():
        try:
            record = read_json(path)
        except (OSError, ValueError):  # a damaged record is retrained by the next run, not counted
            continue
        key = record.get("run_key") if isinstance(record, dict) else None
        if isinstance(key, dict) and key.get("training_code") == code and key.get("machine") == machine:
            runs.setdefault(record.get("run_key_sha"), record)
    return list(runs.values())


def start_part(art: Artifacts, started: float | None = None) -> dict:
    """Note that a part of a recording begins (now, or at ``started``, seconds since the epoch)."""
    entry = {"started": time.time() if started is None else float(started), "machine": training_machine()}
    write_json(art.recording_parts, read_parts(art) + [entry])
    return entry


def read_parts(art: Artifacts) -> list[dict]:
    """The parts noted so far (when each began, on which machine); a damaged file counts as none."""
    if not art.recording_parts.is_file():
        return []
    try:
        parts = read_json(art.recording_parts)
    except (OSError, ValueError):
        logger.info("%s is unreadable: no parts noted", art.recording_parts.name)
        return []
    return [p for p in parts if isinstance(p, dict) and isinstance(p.get("started"), (int, float))] \
        if isinstance(parts, list) else []


def current_part() -> float | None:
    """When the part of the recording now running began (``$DISTILL_RECORDING_PART``), or None
    outside the pipeline."""
    value = os.environ.get(PART_ENV)
    return float(value) if value else None


def stamp_part(record: dict, checkpoint: Path | None = None) -> dict:
    """``record`` with the part that trained it (`current_part`); a saved run's record is written
    back into its ``checkpoint`` folder, which is sealed again."""
    record = {**record, PART_FIELD: current_part()}
    if checkpoint is not None and is_main_process():
        write_run(checkpoint, {**read_run(checkpoint), PART_FIELD: record[PART_FIELD]})
    return record


def recording_summary(art: Artifacts) -> dict:
    """The runs this code would reuse from ``art``: how many, their training minutes, in how many
    parts they were trained, and the CPU model (with its speed flags) that trained them all."""
    runs = current_runs(art)
    seconds = [float(sum(record.get("epoch_seconds") or [])) for record in runs]
    machine = training_machine()
    return {"runs": len(runs), "train_min": sum(seconds) / 60,
            "parts": len({record.get(PART_FIELD) for record in runs}),
            "cpu": machine["cpu"], "cpu_flags": machine["cpu_flags"], "device": machine["device"]}
