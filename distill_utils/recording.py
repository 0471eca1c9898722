"""How a recording was trained: its runs, in how many parts, on which CPU.

A whole `cpu` run trains for hours, longer than one working session, so it is trained in parts
joined by the run cache (`runs`): each part trains what the previous ones left, and a later part
reuses every finished run with the same key. Training is deterministic on one CPU model, not
across models, and the key holds the CPU, so every run a recording reuses came from one CPU model.
A part is not logged anywhere; it shows in when the runs finished (their record files' times).
"""
from __future__ import annotations

from ._io import read_json
from .artifacts import Artifacts
from .machine import training_machine
from .runs import training_code_hash

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


def training_parts(finished: list[float], train_seconds: list[float],
                   slack_s: float = PART_GAP_SLACK_S) -> int:
    """How many parts runs that finished at ``finished`` (seconds, ascending) were trained in: a new
    part starts where a run finished later after the previous one than its own training time plus
    ``slack_s``."""
    if len(finished) != len(train_seconds):
        raise ValueError(f"{len(finished)} finishing times but {len(train_seconds)} training times")
    if not finished:
        return 0
    gaps = [later - earlier for earlier, later in zip(finished, finished[1:])]
    return 1 + sum(gap > seconds + slack_s for gap, seconds in zip(gaps, train_seconds[1:]))


def recording_summary(art: Artifacts) -> dict:
    """The runs this code would reuse from ``art``: how many, their training minutes, in how many
    parts they were trained, and the CPU model (with its speed flags) that trained them all."""
    runs = current_runs(art)
    seconds = [float(sum(record.get("epoch_seconds") or [])) for _, record in runs]
    machine = training_machine()
    return {"runs": len(runs), "train_min": sum(seconds) / 60,
            "parts": training_parts([finished for finished, _ in runs], seconds),
            "cpu": machine["cpu"], "cpu_flags": machine["cpu_flags"], "device": machine["device"]}
