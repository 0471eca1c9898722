"""The artifact layout: the one object that knows where each notebook writes what the next reads.

Layout under ``<repo>/artifacts/<profile>/`` (or the ``artifacts_dir`` parameter, or
``$DISTILL_ARTIFACTS/<profile>``)::

    data/splits.json                     sentences and labels of each split           (01)
    teacher/                             fine-tuned teacher: weights, tokenizer, run.json (02)
    teacher_seeds/seed<N>.json           run records of the teacher's other seeds (no weights) (02)
    teacher_seeds/logits-seed<N>.json    each other seed's logits on every split and the pool (02)
    teacher_logits/<split>.json          cached teacher logits, keyed by sentence       (03, 04)
    teacher_hidden/<student>-train.npy   cached teacher hidden states                   (04)
    sweep.json                           chapter 4's alpha x temperature sweep          (04)
    experiments.json                     chapter 4's budget curve, its tests, the training cost (04)
    sweeps/                              extra validation sweeps (tools/sweep_validation.py)
    students/<name>/<mode>-seed<N>/      student checkpoints + run.json                 (04)
    onnx/<checkpoint>-<weights sha>/     ONNX exports, keyed by the weights they came from (05)
    benchmark.json                       one record per model variant                   (05)
    results.json                         the whole run's summary                        (06)
    provenance/<notebook>.json           what each executed notebook was run with       (every one)
    runs/<key sha>.json                  records of unsaved runs, keyed by all that determines them (04)
    runs/<key sha>/                      a sweep run's weights, until the final run with its key takes them (04)
    parts.json                           when each execution of the pipeline began: the parts of a recording

A checkpoint folder counts as present only when it holds both its weights and its run record;
folders are written atomically, so a half-written one never appears under its final name.
"""
from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path
from typing import Protocol

from ._io import (DamagedArtifact, check_seal, read_json, recover, seal_folder, sha256_file, sha_of_key,
                  write_json)
from .lock import check_not_held_by_another

ARTIFACTS_ENV = "DISTILL_ARTIFACTS"
WEIGHTS_FILE = "model.safetensors"
RUN_FILE = "run.json"
SCRATCH = ".trainer"  # the Trainer's output_dir; nothing is saved there (save_strategy="no")
PRODUCERS = {  # which notebook writes what: named in every "missing" message
    "splits": "01_dataset_exploration",
    "teacher": "02_teacher_finetuning",
    "teacher_logits": "03_distillation_loss",
    "students": "04_student_training",
    "benchmark": "05_benchmark",
    "results": "06_results",
}


def notebook_path(kind: str) -> str:
    """The notebook that writes ``kind`` (a key of `PRODUCERS`), as a message names it."""
    return f"notebooks/{PRODUCERS[kind]}.ipynb"


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


def display_path(path: str | os.PathLike, keep: int = 1) -> str:
    """A path as readers should see it: relative to the repository, never a machine path; outside
    the clone, its last ``keep`` parts (an artifact's own layout, e.g. model/mode-seed/file)."""
    path = Path(path).resolve()
    for base in (repo_root(), Path.cwd()):
        try:
            return str(path.relative_to(base.resolve()))
        except ValueError:
            continue
    return "<...>/" + "/".join(path.parts[-keep:])


def is_checkpoint(directory: str | os.PathLike) -> bool:
    """A complete checkpoint: weights and run record both present."""
    directory = Path(directory)
    return (directory / WEIGHTS_FILE).is_file() and (directory / RUN_FILE).is_file()


def checkpoint_fingerprint(directory: str | os.PathLike) -> str:
    """sha256 of a checkpoint's weights: identifies the exact model behind caches and records.

    Hashed once per version of the file (its path, size and modification time): every student run
    keys itself by the teacher's 420 MB of weights, which need not be read again each time."""
    weights = Path(directory).resolve() / WEIGHTS_FILE
    stat = weights.stat()
    return _file_sha256(str(weights), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(path)


def _cached_sha256(path: Path) -> str:
    stat = path.stat()
    return _file_sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def check_checkpoint(directory: str | os.PathLike, produced_by: str) -> None:
    """Refuse a checkpoint whose files differ from its seal: flipped bits in its weights would
    otherwise be benchmarked as the model (each file hashed once per version, like the teacher's)."""
    try:
        check_seal(directory, sha256=_cached_sha256)
    except DamagedArtifact as error:
        raise DamagedArtifact(f"{error}: delete the folder {display_path(directory, keep=2)} and re-run "
                              f"{notebook_path(produced_by) if produced_by in PRODUCERS else produced_by}, which makes it again") from None


def read_run(directory: str | os.PathLike) -> dict:
    """The run record saved beside a checkpoint. A damaged one (truncated, not JSON) is refused with
    its path and the notebook that trains it again, never a bare JSON error."""
    path = Path(directory) / RUN_FILE
    try:
        record = read_json(path)
    except ValueError as error:
        producer = notebook_path("teacher" if Path(directory).name == "teacher" else "students")
        raise ValueError(
            f"{display_path(path, keep=3)} is not a readable run record ({error.__class__.__name__}: truncated "
            f"or edited?): delete the folder {display_path(directory, keep=2)} and re-run {producer}, "
            "which trains that run again") from None
    if not isinstance(record, dict):
        raise ValueError(f"{display_path(path, keep=3)} is not a run record (a {type(record).__name__}): delete "
                         f"the folder {display_path(directory, keep=2)} and train it again")
    return record


def write_run(directory: str | os.PathLike, record: dict) -> None:
    """Replace the run record of a saved checkpoint and seal the folder again, so its seal still
    holds (a record marked afterwards: taken by its final run, stamped with its part)."""
    write_json(Path(directory) / RUN_FILE, record)
    seal_folder(directory)


class Runs(Protocol):
    """How an `Artifacts` folder has each run the lesson hands it trained: `TrainEveryRun` here, or
    the chapters' run cache (`record.runs.RunCache`), which reads a finished run with the same key
    back.

    ``run`` takes a `run_spec.RunSpec`, the function that trains it (given the run's key, the key's
    sha and the folder its checkpoint goes to, or None; it returns the run's record), ``label``, how
    whoever runs it is told of the run, and where the run belongs: ``save_to`` its checkpoint's
    folder; ``keep`` an unsaved run's weights under its key, for the ``final`` run with the same key
    to take; ``complete`` whether a finished run left all it must (given the key's sha)."""

    def run(self, art: "Artifacts", spec, train, *, label: str, save_to: Path | None = None,
            keep: bool = False, final: Path | None = None, complete=None) -> dict: ...


class TrainEveryRun(Runs):
    """No run cache: every run trains, its checkpoint saved where the caller asks (what the lesson's
    training functions do on their own). Where the run would be kept for later, and how it is
    told, matter only to a cache."""

    def run(self, art: "Artifacts", spec, train, *, label: str, save_to: Path | None = None,
            keep: bool = False, final: Path | None = None, complete=None) -> dict:
        key = spec.key()
        return train(key, sha_of_key(key), save_to)


class Artifacts:
    """Paths of every artifact of one run, and the checks that an earlier notebook produced them.
    ``runs`` trains each run the lesson hands it (`Runs`: `TrainEveryRun`, or the chapters' run
    cache, `record.runs.RunCache`); the folders of this layout's own settings share it."""

    def __init__(self, root: str | os.PathLike, runs: Runs | None = None):
        self.root = Path(root)
        self.runs = runs if runs is not None else TrainEveryRun()

    def with_runs(self, runs: Runs) -> "Artifacts":
        """The same folder, its runs trained (or read back) by ``runs``."""
        return Artifacts(self.root, runs)

    def run(self, spec, train, **where) -> dict:
        """Train the run ``spec`` with ``train``, or read it back, as this folder's ``runs`` decide
        (`Runs.run` says what ``where`` holds)."""
        return self.runs.run(self, spec, train, **where)

    @classmethod
    def of(cls, cfg) -> "Artifacts":
        """The artifacts of a resolved profile (its ``artifacts_dir`` or the default root), checked
        to be writable before any notebook trains or measures anything (`check_writable`)."""
        return cls(artifacts_root(cfg.profile, cfg.artifacts_dir)).check_writable()

    def folders(self) -> list[Path]:
        """Every folder the notebooks write into (the layout above)."""
        return [self.splits.parent, self.teacher, self.teacher_seeds, self.teacher_logits,
                self.teacher_hidden("x").parent, self.validation_sweep("x", 1).parent, self.students,
                self.run_record("x").parent, self.root / "onnx", self.provenance("x").parent]

    def check_writable(self) -> "Artifacts":
        """Fail early, not after hours of training: no other process may be writing the folder, it
        must be writable, and no file may sit where the layout keeps a folder. The error names the
        path and the fix."""
        check_not_held_by_another(self.root)  # one writer at a time (`lock`)
        for folder in self.folders():
            if folder.exists() and not folder.is_dir():
                raise NotADirectoryError(f"{self.show(folder)} is a file, but the notebooks keep a folder there: "
                                         "move it away or delete it, then run again")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".write-check-"):
                pass
        except OSError as error:
            raise PermissionError(
                f"the artifacts folder {self.show(self.root)} is not writable ({error.strerror}): set the "
                "artifacts_dir parameter to a folder you can write (copy the artifacts there first to reuse "
                "them, e.g. cp -r artifacts/cpu <folder>)") from None
        return self

    def __repr__(self) -> str:
        return f"Artifacts({display_path(self.root)!r})"

    def low_resource(self, fraction: float) -> "Artifacts":
        """The artifacts of the low-resource setting at ``fraction`` of the labels: a teacher that
        saw only those labels, its logits and its students, in a layout of their own beside the
        main run's (so nothing of one is ever taken for the other)."""
        return Artifacts(self.root / "low-resource" / f"{100 * fraction:g}pct", self.runs)

    def own_data(self) -> "Artifacts":
        """The last chapter's runs on a reader's own CSV, in a layout of their own beside the
        book's (every run is keyed by its data's fingerprints, so two files never share one)."""
        return Artifacts(self.root / "own-data", self.runs)

    # ------------------------------------------------------------------ where things live
    @property
    def splits(self) -> Path:
        return self.root / "data" / "splits.json"

    @property
    def teacher(self) -> Path:
        return self.root / "teacher"

    @property
    def teacher_seeds(self) -> Path:
        return self.root / "teacher_seeds"

    def teacher_seed_record(self, seed: int) -> Path:
        """The run record of the teacher trained with another seed, same recipe (weights not kept)."""
        return self.teacher_seeds / f"seed{int(seed)}.json"

    def teacher_seed_logits(self, seed: int) -> Path:
        """Another teacher seed's logits on every split and the pool, kept when it was trained."""
        return self.teacher_seeds / f"logits-seed{int(seed)}.json"

    @property
    def teacher_logits(self) -> Path:
        return self.root / "teacher_logits"

    def teacher_hidden(self, student: str) -> Path:
        return self.root / "teacher_hidden" / f"{student}-train.npy"

    @property
    def sweep(self) -> Path:
        return self.root / "sweep.json"

    def validation_sweep(self, student: str, epochs: float, *, learning_rate: float | None = None,
                         seed: int | None = None) -> Path:
        """A validation-only sweep's table; learning rate and seed appear in the name when given."""
        name = f"{student}-{epochs:g}ep"
        name += "" if learning_rate is None else f"-lr{learning_rate:g}"
        name += "" if seed is None else f"-seed{seed}"
        return self.root / "sweeps" / f"{name}.json"

    @property
    def students(self) -> Path:
        return self.root / "students"

    def student(self, name: str, mode: str, seed: int) -> Path:
        return self.students / name / f"{mode}-seed{int(seed)}"

    def onnx_export(self, checkpoint: str | os.PathLike) -> Path:
        """Export folder of one checkpoint, keyed by its weights (a retrained model gets a new one)."""
        checkpoint = Path(checkpoint)
        return self.root / "onnx" / f"{checkpoint.parent.name}-{checkpoint.name}-{checkpoint_fingerprint(checkpoint)[:12]}"

    @property
    def experiments(self) -> Path:
        return self.root / "experiments.json"

    @property
    def benchmark(self) -> Path:
        return self.root / "benchmark.json"

    @property
    def results(self) -> Path:
        return self.root / "results.json"

    @property
    def scratch(self) -> Path:
        return self.root / SCRATCH

    def run_record(self, key_sha: str) -> Path:
        """The record of a finished run that saved no checkpoint (`runs`), by its key."""
        return self.root / "runs" / f"{key_sha}.json"

    def run_checkpoint(self, key_sha: str) -> Path:
        """Weights kept by an unsaved run (a sweep point) until a saved run with its key claims them."""
        return self.root / "runs" / key_sha

    def run_record_files(self) -> list[Path]:
        """Every file that holds a finished run's record: the teacher's, each student checkpoint's,
        and the records and kept weights of unsaved runs (`runs`)."""
        files = [self.teacher / RUN_FILE] + sorted(self.students.glob(f"*/*/{RUN_FILE}"))
        files += sorted((self.root / "runs").glob("*.json")) + sorted((self.root / "runs").glob(f"*/{RUN_FILE}"))
        return [path for path in files if path.is_file() and not any(
            part.startswith((".tmp-", ".old-")) for part in path.relative_to(self.root).parts)]

    @property
    def recording_parts(self) -> Path:
        """When each execution of the pipeline on this folder began (`recording`)."""
        return self.root / "parts.json"

    def provenance(self, notebook: str) -> Path:
        return self.root / "provenance" / f"{notebook}.json"

    # ------------------------------------------------------------------ what must exist
    def show(self, path: str | os.PathLike) -> str:
        """A path in this artifact folder as a reader should see it: relative to the repository, or
        to the folder when it lies outside the clone (``<artifacts_dir>/students/<name>/kd-seed42``),
        so a message names the model and seed and never a machine path."""
        shown = display_path(path)
        if not shown.startswith("<...>"):
            return shown
        try:
            return f"<artifacts_dir>/{Path(path).resolve().relative_to(self.root.resolve())}"
        except ValueError:
            return shown

    def require(self, path: Path, produced_by: str) -> Path:
        """``path`` if it exists, else an error naming the notebook that writes it."""
        recover(path)  # a writer killed mid-replace left the complete old copy beside it
        if not Path(path).exists():
            notebook = PRODUCERS.get(produced_by, produced_by)
            raise FileNotFoundError(
                f"{self.show(path)} is missing: run notebooks/{notebook}.ipynb first "
                "(with the same profile and artifacts_dir)")
        return Path(path)

    def require_checkpoint(self, directory: Path, produced_by: str) -> Path:
        """A complete checkpoint whose files are the ones written (`_io.check_seal`), else an error
        naming the folder and the notebook that makes it again."""
        recover(directory)
        if not is_checkpoint(directory):
            self.require(directory / WEIGHTS_FILE, produced_by)
            self.require(directory / RUN_FILE, produced_by)
        check_checkpoint(directory, produced_by)
        return Path(directory)

    def require_splits(self) -> Path:
        return self.require(self.splits, "splits")

    def require_teacher(self) -> Path:
        return self.require_checkpoint(self.teacher, "teacher")

    def teacher_records(self) -> list[dict]:
        """The teacher's run record and those of its other seeds (chapter 2), the students' teacher
        first. A seed record made with another recipe, split or training code than the saved teacher
        is refused: it would measure another teacher's seed noise."""
        teacher = read_run(self.require_teacher())
        records = [teacher]
        recipe = {k: v for k, v in teacher.get("run_key", {}).items() if k != "seed"}
        for path in sorted(self.teacher_seeds.glob("seed*.json")):
            record = read_json(path)
            if int(record["seed"]) == int(teacher["seed"]):
                continue
            other = {k: v for k, v in record.get("run_key", {}).items() if k != "seed"}
            if other != recipe:
                fields = sorted(k for k in set(other) | set(recipe) if other.get(k) != recipe.get(k))
                raise ValueError(
                    f"{display_path(path)} was trained with another {', '.join(fields)} than the teacher in "
                    f"{display_path(self.teacher)}: re-run {notebook_path('teacher')}")
            records.append(record)
        return records

    def require_student(self, name: str, mode: str, seed: int) -> Path:
        return self.require_checkpoint(self.student(name, mode, seed), "students")

    def require_experiments(self) -> Path:
        return self.require(self.experiments, "students")

    def require_benchmark(self) -> Path:
        return self.require(self.benchmark, "benchmark")

    def existing_students(self) -> list[str]:
        """Every complete student checkpoint, as "name/mode-seedN": what a missing-run error lists."""
        return sorted(f"{d.parent.name}/{d.name}" for d in self.students.glob("*/*") if is_checkpoint(d))

    def student_runs(self, names, modes, seeds, *, required: bool = True) -> list[Path]:
        """Checkpoint folders of every (seed, name, mode); missing optional ones are left out."""
        runs = []
        for seed in seeds:
            for name in names:
                for mode in modes:
                    if required:
                        runs.append(self.require_student(name, mode, seed))
                    elif is_checkpoint(self.student(name, mode, seed)):
                        runs.append(self.student(name, mode, seed))
        return runs
