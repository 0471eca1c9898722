"""Where each notebook writes what the next one reads.

Layout under ``<repo>/artifacts/<profile>/`` (or the ``artifacts_dir`` parameter, or
``$DISTILL_ARTIFACTS/<profile>``)::

    data/splits.json                 sentences and labels of each split   (notebook 01)
    teacher/                         fine-tuned teacher checkpoint + metrics.json   (02)
    teacher_logits/<split>.json      cached teacher logits, keyed by sentence    (03, 04)
    teacher_hidden/<student>-train.npy  cached teacher hidden states               (04)
    sweep.json                       the alpha x temperature sweep                 (04)
    students/<name>/<mode>-seed<N>/  student checkpoints + run.json
                                     (mode kd | plain | transfer | hidden)         (04)
    benchmark.json                   one record per model                          (05)
"""
from __future__ import annotations

import os
from pathlib import Path


ARTIFACTS_ENV = "DISTILL_ARTIFACTS"
NOTEBOOKS = {
    "splits": "01_dataset_exploration",
    "teacher": "02_teacher_finetuning",
    "teacher_logits": "03_distillation_loss",
    "students": "04_student_training",
    "benchmark": "05_benchmark",
}


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def artifacts_root(profile: str, override: str | os.PathLike | None = None) -> Path:
    if override:
        return Path(override)
    base = os.environ.get(ARTIFACTS_ENV)
    if base:
        return Path(base) / profile
    root = repo_root()
    if not (root / "_toc.yml").is_file():  # installed as a package, not run from a clone
        root = Path.cwd()
    return root / "artifacts" / profile


def display_path(path: str | os.PathLike) -> str:
    """A path as readers should see it: relative to the repository, never a machine path."""
    path = Path(path).resolve()
    for base in (repo_root(), Path.cwd()):
        try:
            return str(path.relative_to(base.resolve()))
        except ValueError:
            continue
    return f"<...>/{path.name}"


def require(path: str | os.PathLike, produced_by: str) -> Path:
    """Return ``path`` if it exists, else say which notebook produces it."""
    path = Path(path)
    if not path.exists():
        notebook = NOTEBOOKS.get(produced_by, produced_by)
        raise FileNotFoundError(
            f"{display_path(path)} is missing: run notebooks/{notebook}.ipynb first "
            "(with the same profile and artifacts_dir)"
        )
    return path
