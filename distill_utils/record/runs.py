"""The run cache: each run is keyed by everything that determines it, and a finished run with the
same key is read back instead of trained again.

The key holds the model and how it was initialised, fingerprints of the sentences and labels it
trains and is scored on, every hyperparameter, the seed, the teacher's weights and the teacher
outputs it learns from, the autocast precision, and a hash of the training code. Change any of
them and the run trains again; change a plot or a sentence of prose and nothing retrains. A run
that was killed leaves no record (records and checkpoints are written atomically, the record
last), so it is never reused half-done.

The lesson's training functions hand each run to their artifacts' ``runs``
(`artifacts.TrainEveryRun`); `cached_artifacts` gives the chapters artifacts whose runs go through
`RunCache`, which tells each run, read back or trained, to whoever runs it (`progress`).
"""
from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

from .._io import is_main_process, read_json, sha_of_key, write_json
from ..artifacts import Artifacts, Runs, check_checkpoint, is_checkpoint, read_run, write_run
from ..run_spec import RunSpec
from .progress import run_reused, run_started, run_trained
from .recording import stamp_part
from .training_code import training_code_hash

logger = logging.getLogger(__name__)


def run_key(spec: RunSpec) -> tuple[dict, str]:
    """The key of a run (its spec's fields plus the training code's hash) and the key's sha256."""
    key = {**spec.key(), "training_code": training_code_hash()}
    return key, sha_of_key(key)


def cached_run(art: Artifacts, key_sha: str, out_dir: Path | None, rerun: str | None = None) -> dict | None:
    """The record of a finished run with this key, or None. A saved run counts only when its
    checkpoint is complete and carries the same key; a damaged one is refused, naming ``rerun``
    (by default the notebook that trains it) as what makes it again."""
    if out_dir is not None:
        if is_checkpoint(out_dir) and read_run(out_dir).get("run_key_sha") == key_sha:
            check_checkpoint(out_dir, rerun or ("teacher" if read_run(out_dir).get("role") == "teacher"
                                                else "students"))
            logger.info("reused %s/%s (same run key)", Path(out_dir).parent.name, Path(out_dir).name)
            return read_run(out_dir)
        return None
    path = art.run_record(key_sha)
    if path.is_file():
        try:
            return read_json(path)
        except (OSError, ValueError):
            logger.info("run record %s is unreadable: training again", path.name)
    return None


def promote_checkpoint(source: Path, target: Path, key_sha: str) -> dict | None:
    """Move a kept checkpoint with this key (a sweep point) to where the saved run belongs, and
    return its record marked ``trained_in`` the sweep; None when there is none. The move is one
    rename: a run killed half-way leaves the kept checkpoint or the saved one, both complete."""
    def matches(directory: Path) -> bool:
        return is_checkpoint(directory) and read_run(directory).get("run_key_sha") == key_sha

    if not matches(source):
        return None
    if is_main_process():
        check_checkpoint(source, "students")
        write_run(source, {**read_run(source), "trained_in": "alpha x T sweep"})
        if Path(target).exists():
            shutil.rmtree(target)  # another key's run: the new one replaces it
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        logger.info("moved the sweep's run into %s/%s (same run key)", Path(target).parent.name, Path(target).name)
    return read_run(target if matches(Path(target)) else source)


def remember_run(art: Artifacts, key_sha: str, record: dict) -> None:
    """Keep the record of an unsaved run (a sweep point, a budget-curve run) under its key."""
    write_json(art.run_record(key_sha), record)


class RunCache(Runs):
    """Runs read back by their key instead of trained again (`artifacts.Runs.run` says what the
    arguments hold). A saved run counts when its checkpoint is complete and carries the
    key; an unsaved one (a sweep point, a budget-curve run) by its record, filed under the key's
    sha; a run kept by the sweep (``keep``) is moved into place by the final run with its key.
    Each run it trains is stamped with the part of the recording that trained it (`recording`).
    ``rerun`` is what a damaged checkpoint's message names to make it again (by default the
    notebook that trains it)."""

    def __init__(self, rerun: str | None = None):
        self.rerun = rerun

    def run(self, art: Artifacts, spec: RunSpec, train, *, label: str, save_to: Path | None = None,
            keep: bool = False, final: Path | None = None, complete=None) -> dict:
        key, key_sha = run_key(spec)
        out_dir = save_to if save_to is not None else art.run_checkpoint(key_sha) if keep else None
        record = cached_run(art, key_sha, out_dir, self.rerun)
        if record is None and keep and final is not None:  # kept, then taken by its final run
            record = cached_run(art, key_sha, final, self.rerun)
        if record is None and save_to is not None:
            record = promote_checkpoint(art.run_checkpoint(key_sha), save_to, key_sha)
        if record is not None and (complete is None or complete(key_sha)):
            run_reused(label)
            return record
        run_started(label)
        started = time.perf_counter()
        record = stamp_part(train(key, key_sha, out_dir), out_dir)
        if out_dir is None:
            remember_run(art, key_sha, record)
        run_trained(label, time.perf_counter() - started)
        return record


def cached_artifacts(art: Artifacts) -> Artifacts:
    """``art`` with the run cache: every run it is handed is read back when a finished run with the
    same key is there, and trained (and kept) otherwise."""
    return art.with_runs(RunCache())
