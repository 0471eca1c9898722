"""Every artifact names what made it, and every reader checks the chain before it uses one.

The fingerprints: the splits (each run's key holds its sentences' and labels' sha256, `runs`), the
teacher's weights (every student's record holds them), each checkpoint's weights (every benchmark
row holds those it was measured on) and the loss settings the runs used (chapter 4's
`experiments.json`). A reader compares what an artifact records with what is there now and stops
on a mismatch, naming the artifact and the notebook to re-run: numbers of a model that is gone,
or of another data set, are never published.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from .artifacts import Artifacts, checkpoint_fingerprint, notebook_path, read_run
from .data import read_splits
from .modes import DISTILLED
from .run_spec import frame_fingerprint


class StaleArtifact(ValueError):
    """An artifact made from something that is no longer there."""


def check_splits(records: list[dict], splits: dict[str, pd.DataFrame], reader: str) -> None:
    """Every run was trained and scored on the splits chapter 1 wrote last: refuse runs trained or
    scored on other sentences (chapter 1 was run again, e.g. with another agreement level), whose
    numbers would describe another data set."""
    current = {name: frame_fingerprint(splits[name]) for name in ("train", "validation", "test")}
    for record in records:
        key = record.get("run_key") or {}
        if key.get("test") not in (None, current["test"]) or (
                record.get("role") == "teacher" and key.get("train") not in (None, current["train"])):
            who = record.get("model", "?") + (f" (seed {record['seed']})" if "seed" in record else "")
            producer = notebook_path("teacher" if record.get("role") == "teacher" else "students")
            raise ValueError(
                f"{reader}: {who} was trained on other splits than chapter 1 wrote last "
                f"(chapter 1 was run again since, with other settings?). Re-run {producer} "
                "and the notebooks after it")


def check_same_teacher(teacher_dir: str | os.PathLike, records: list[dict], reader: str) -> None:
    """Refuse student runs distilled from another teacher than the one in ``teacher_dir`` (the
    teacher was retrained after them): their numbers would describe a teacher that is gone."""
    current = checkpoint_fingerprint(teacher_dir)
    stale = sorted({f"{r['model']} ({r.get('mode')}, seed {r.get('seed')})" for r in records
                    if r.get("teacher_sha256") not in (None, current)})
    if stale:
        raise ValueError(
            f"{reader}: {len(stale)} student run(s) were trained from another teacher than the current one "
            f"(weights sha256 {current[:12]}): {', '.join(stale[:4])}{' ...' if len(stale) > 4 else ''}. "
            f"Re-run {notebook_path('students')}, then this notebook")


def require_made_from(artifact: str, made_from: str, recorded, current, rerun: str) -> None:
    """The one check: ``artifact`` recorded ``recorded`` as its ``made_from``; stop unless that is
    ``current``, naming the notebook that makes it again (``rerun``: a key of `artifacts.PRODUCERS`)."""
    if recorded == current:
        return
    reason = (f"does not record which {made_from} it was made from (written by older code)" if recorded is None
              else f"was made from other {made_from} than the ones there now")
    raise StaleArtifact(f"{artifact} {reason}: re-run {notebook_path(rerun)} and the notebooks after it")


def benchmark_checkpoint(art: Artifacts, row: dict) -> Path:
    """The checkpoint a benchmark row measured: the teacher, or a student of its model, mode and seed."""
    if row.get("role") == "teacher":
        return art.require_teacher()
    return art.require_student(row["base_model"], row["mode"], int(row["seed"]))


def check_benchmark(art: Artifacts, bench: dict) -> None:
    """Every row of chapter 5's benchmark (timed or scored) was measured on the weights its
    checkpoint holds now: a model retrained since (another teacher, alpha or T) makes it stale."""
    for row in list(bench.get("records", [])) + list(bench.get("seed_accuracy", [])):
        if row.get("skipped"):
            continue
        directory = benchmark_checkpoint(art, row)
        require_made_from(f"{art.benchmark.name}: {row['model']} [{row['variant']}] (seed {row['seed']})",
                          "weights", row.get("weights_sha256"), checkpoint_fingerprint(directory), "benchmark")


def check_loss_settings(experiments: dict, records: list[dict]) -> None:
    """The alpha and T chapter 4 reports are the ones its distilled runs were trained with."""
    for record in records:
        if record.get("mode") != DISTILLED:
            continue
        used = {"alpha": record.get("alpha"), "temperature": record.get("temperature")}
        reported = {"alpha": experiments.get("alpha"), "temperature": experiments.get("temperature")}
        require_made_from(f"{record['model']} (kd, seed {record['seed']})", "loss settings (alpha, T)",
                          used, reported, "students")


def check_teacher_is(art: Artifacts, teacher: str) -> dict:
    """The saved teacher is the profile's (not another profile's left in the same folder) and was
    trained on the splits chapter 1 wrote last (not on those of another agreement or split seed);
    its record."""
    record = read_run(art.require_teacher())
    if record.get("model") != teacher:
        raise StaleArtifact(f"the saved teacher in {art.show(art.teacher)} is {record.get('model')}, not this "
                            f"profile's {teacher}: run {notebook_path('teacher')} with this profile "
                            "(or set artifacts_dir to the folder of the profile that trained it)")
    check_splits([record], read_splits(art.require_splits()), "the saved teacher")
    return record
