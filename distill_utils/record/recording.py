"""How a recording was trained: its runs, in how many parts, on which CPU.

A whole `cpu` run trains for hours, longer than one working session, so it is trained in parts
joined by the run cache (`runs`): each part trains what the previous ones left, and a later part
reuses every finished run with the same key. Training is deterministic on one CPU model, not
across models, and the key holds the CPU, so every run a recording reuses came from one CPU model.
Each execution of the pipeline (`make run`, `make reference`) notes when it began
(`start_part`); a run belongs to the part that began last before it finished (its record file's
time). Runs that finished before any part was noted are split where the run cache shows a pause.
"""
from __future__ import annotations

import logging
import time

from .._io import read_json, write_json
from ..artifacts import Artifacts
from ..machine import training_machine
from .training_code import training_code_hash

logger = logging.getLogger(__name__)

# between two runs of one part: loading the next model, evaluating, caching the teacher's outputs,
# timing the training cost; a longer pause than this (beyond the run's own training) is a new part
PART_GAP_SLACK_S = 15 * 60


def current_runs(art: Artifacts) -> list[tuple[float, dict]]:
    """(finished at, record) of every run in ``art`` that this code on this machine would reuse
    (same training code, same device, CPU model, flags and torch), earliest first."""
    code, machine = training_code_hash(), training_machine()
    runs: dict[str, tuple[float, dict]] = {}
    for path in art.run_record_files():
        try:
            record = read_json(path)
        except (OSError, ValueError):  # a damaged record is retrained by the next run, not counted
            continue
        key = record.get("run_key") if isinstance(record, dict) else None
        if not isinstance(key, dict) or key.get("training_code") != code or key.get("machine") != machine:
            continue
        finished = path.stat().st_mtime
        sha = record.get("run_key_sha")
        if sha not in runs or finished < runs[sha][0]:
            runs[sha] = (finished, record)
    return sorted(runs.values(), key=lambda run: run[0])


def start_part(art: Artifacts, started: float | None = None) -> dict:
    """Note that a part of a recording begins (now, or at ``started``, seconds since the epoch)."""
    entry = {"started": time.time() if started is None else float(started), "machine": training_machine()}
    write_json(art.recording_parts, read_parts(art) + [entry])
    return entry


def read_parts(art: Artifacts) -> list[dict]:
    """The parts noted so far; a damaged file counts as none (the runs' times still split them)."""
    if not art.recording_parts.is_file():
        return []
    try:
        parts = read_json(art.recording_parts)
    except (OSError, ValueError):
        logger.info("%s is unreadable: parts are told apart by pauses alone", art.recording_parts.name)
        return []
    return [p for p in parts if isinstance(p, dict) and isinstance(p.get("started"), (int, float))] \
        if isinstance(parts, list) else []


def training_parts(finished: list[float], train_seconds: list[float], starts: list[float] = (),
                   slack_s: float = PART_GAP_SLACK_S) -> int:
    """How many parts runs that finished at ``finished`` (seconds, ascending) were trained in. A run
    belongs to the last noted part that began before it finished (``starts``); runs that finished
    before any noted part are split where a run finished later after the previous one than its own
    training time plus ``slack_s``."""
    if len(finished) != len(train_seconds):
        raise ValueError(f"{len(finished)} finishing times but {len(train_seconds)} training times")
    starts = sorted(starts)
    owners = {max(s for s in starts if s <= t) for t in finished if starts and t >= starts[0]}
    early = [(t, s) for t, s in zip(finished, train_seconds) if not starts or t < starts[0]]
    if not early:
        return len(owners)
    gaps = [later[0] - earlier[0] for earlier, later in zip(early, early[1:])]
    return len(owners) + 1 + sum(gap > seconds + slack_s for gap, (_, seconds) in zip(gaps, early[1:]))


def recording_summary(art: Artifacts) -> dict:
    """The runs this code would reuse from ``art``: how many, their training minutes, in how many
    parts they were trained, and the CPU model (with its speed flags) that trained them all."""
    runs = current_runs(art)
    seconds = [float(sum(record.get("epoch_seconds") or [])) for _, record in runs]
    machine = training_machine()
    return {"runs": len(runs), "train_min": sum(seconds) / 60,
            "parts": training_parts([finished for finished, _ in runs], seconds,
                                    [part["started"] for part in read_parts(art)]),
            "cpu": machine["cpu"], "cpu_flags": machine["cpu_flags"], "device": machine["device"]}
