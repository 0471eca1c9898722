"""Teacher and student training from the command line, in one process or several.

The notebooks train in one process. For more cores or GPUs, `accelerate launch` starts this module
once per process; the `Trainer` shares each batch out over them (distributed data parallel: gloo on
CPUs, NCCL on GPUs), and only the main process writes checkpoints, run records and caches (every
write goes through `_io.atomic_path`, which the other processes skip). The artifacts are those the
notebooks write, so chapter 5 benchmarks what this trained. It needs chapter 1's splits.

    python -m distill_utils.launch teacher --profile smoke
    accelerate launch --multi_gpu --num_processes 4 -m distill_utils.launch students --profile seed \\
        --alpha 0.5 --temperature 4

On a machine without GPUs the same ``--multi_gpu`` command starts the processes with torchrun and
they train on the CPU over gloo (``accelerate launch --cpu`` starts one process unless MPI is set
up): ``accelerate launch --multi_gpu --num_processes 2 -m distill_utils.launch teacher``.
"""
from __future__ import annotations

import argparse
import contextlib
import os

import pandas as pd
import torch.distributed as dist

from ._io import is_main_process, read_json, training_processes
from .artifacts import Artifacts
from .data import read_splits
from .experiments import fine_tune_teachers, train_students
from .lock import hold_artifacts
from .losses import LossSettings, choose_loss_settings
from .record.progress import PROGRESS_ENV, TO_STDERR
from .record.runs import cached_artifacts
from .profiles import resolve_config
from .sweep import best_sweep_point
from .teacher_cache import cache_teacher_logits


def _steps(record: dict) -> int:
    """Optimizer steps this process took (each process takes its share of every batch)."""
    return max((entry.get("step", 0) for entry in record.get("log_history", [])), default=0)


def _loss_settings(args, art: Artifacts) -> LossSettings:
    """alpha and T: given, or chapter 4's sweep choice when it has run (`choose_loss_settings`)."""
    sweep_choice = best_sweep_point(pd.DataFrame(read_json(art.sweep)["rows"])) if art.sweep.is_file() else None
    try:
        return choose_loss_settings(args.alpha, args.temperature, sweep_choice)[0]
    except ValueError as error:
        raise SystemExit(f"students: {error}") from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("role", choices=("teacher", "students"),
                        help="teacher: every teacher seed; students: every student, distilled and plain")
    parser.add_argument("--profile", default=None)
    parser.add_argument("--artifacts-dir", default=None)
    parser.add_argument("--seeds", default=None, help="comma-separated seeds (teacher seeds for 'teacher')")
    parser.add_argument("--alpha", type=float, default=None)
    parser.add_argument("--temperature", type=float, default=None)
    args = parser.parse_args(argv)
    seeds_key = "teacher_seeds" if args.role == "teacher" else "seeds"
    try:
        cfg = resolve_config(args.profile, artifacts_dir=args.artifacts_dir,
                             **({seeds_key: args.seeds} if args.seeds else {}))
        art = cached_artifacts(Artifacts.of(cfg))  # a finished run is read back, not trained again
        splits = read_splits(art.require_splits())
    except (ValueError, OSError, RuntimeError) as error:  # the code's own message, with no traceback before it
        parser.error(str(error))
    os.environ.setdefault(PROGRESS_ENV, TO_STDERR)  # each run and epoch, on this terminal
    rank, world = int(os.environ.get("RANK", "0")), training_processes()
    # the main process holds the artifacts folder while the processes train (one writer at a time)
    try:
        with hold_artifacts(art.root) if is_main_process() else contextlib.nullcontext():
            records = _train(args, cfg, art, splits)
    except (ValueError, OSError, RuntimeError) as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    backend = lambda: dist.get_backend() if dist.is_available() and dist.is_initialized() else "one process"  # noqa: E731
    for record in records:
        name = record["model"] + (f" ({record['mode']})" if record.get("mode") else "")
        print(f"[rank {rank} of {world}, {backend()}] {name}, seed {record['seed']}: {_steps(record)} optimizer "
              f"steps, test accuracy {100 * record['test']['accuracy']:.2f}%", flush=True)


def _train(args, cfg, art: Artifacts, splits) -> list[dict]:
    """Every teacher seed, or every student distilled and plain."""
    if args.role == "teacher":
        return fine_tune_teachers(cfg, art, splits)
    loss = _loss_settings(args, art)
    logits = cache_teacher_logits(art, {"train": splits["train"]}, cfg.max_length)["train"]
    return train_students(cfg, art, splits, logits, loss=loss)


if __name__ == "__main__":
    main()
