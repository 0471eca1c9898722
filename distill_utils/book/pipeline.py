"""Execute the notebooks with papermill under a profile, then render the book from the results.

    python -m distill_utils.pipeline --profile cpu            # execute + build (main job)
    python -m distill_utils.pipeline --profile smoke --no-book
    python -m distill_utils.pipeline --profile cpu --in-place # the recorded reference run (make reference)

Executed copies go to ``_build/executed/<profile>/`` beside a copy of the book sources, and the
book is rendered from there into ``_build/executed/<profile>/_build/html``, so the committed
notebooks change only with ``--in-place``. A failing cell stops the run and names the notebook.
A complete ``--in-place`` run of the reference profile (cpu) also copies the results summary that
chapter 6 wrote to ``results/reference.json``, beside the notebooks it came from.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import nbformat
import papermill

from .._io import atomic_path
from ..artifacts import Artifacts, artifacts_root, repo_root
from ..lock import hold_artifacts
from .notebook import PROVENANCE_MIME
from ..parameters import PARAMETERS, PATH_KINDS, ParameterError, read_parameter, refuse_undeclared
from ..record.progress import PROGRESS_ENV
from ..record.provenance import PIPELINE_PARAMETERS_ENV, library_hash
from ..record.recording import PART_ENV, current_runs, start_part
from ..profiles import PROFILE_ENV
from .results import load_results

# the book's sources; distill_utils too, because chapters include the code they teach from it
BOOK_FILES = ("_config.yml", "_toc.yml", "references.bib", "book", "_static", "distill_utils")
REFERENCE_PROFILE = "cpu"
REFERENCE_RESULTS = Path("results") / "reference.json"


def notebooks(root: Path) -> list[Path]:
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def echo_progress(line: str) -> None:
    print(f"[progress] {line}", flush=True)


def select_notebooks(root: Path, only: list[str] | None, *, downstream: bool = True) -> list[Path]:
    """The notebooks to execute: all, or those ``only`` names (number prefixes) and, with
    ``downstream`` (when a book is built from them), every notebook after the first of them: a
    later chapter reads what an earlier one wrote, and a chapter 4 with new settings beside an old
    chapter 5 would make one book of two runs. A prefix that matches no notebook is refused."""
    every = notebooks(root)
    if not only:
        return every
    unmatched = [prefix for prefix in only if not any(path.name.startswith(prefix) for path in every)]
    if unmatched:
        raise SystemExit(f"[pipeline] --only {' '.join(unmatched)} matches no notebook; "
                         f"notebooks: {', '.join(path.name for path in every)}")
    asked = [i for i, path in enumerate(every) if any(path.name.startswith(prefix) for prefix in only)]
    return every[asked[0]:] if downstream else [every[i] for i in asked]


def execute(profile: str, out_dir: Path, parameters: dict | None = None,
            only: list[str] | None = None,
            on_progress: Callable[[str], None] = echo_progress,
            base: str | os.PathLike | None = None, downstream: bool = False) -> list[tuple[str, float]]:
    """Run each numbered notebook in order with papermill; returns (notebook, seconds) pairs.
    While one executes, each run it trains or reuses, and each epoch, goes to ``on_progress``
    (the terminal), never into the notebook. Parameters are read through their declared types
    before anything runs; relative folders (``data_dir``, ``artifacts_dir``, ``PHRASEBANK_DIR``)
    are read from ``base``, where the command was typed (the current folder by default). The
    artifacts folder is held (`lock`) for the whole execution. ``downstream``: see
    `select_notebooks`."""
    base = Path(base or os.getcwd())
    root = repo_root()
    chosen = select_notebooks(root, only, downstream=downstream)
    declared = {source: declared_parameters(source) for source in chosen}
    parameters = check_parameters(parameters or {}, declared, base=base)
    for line in parameter_reach(parameters, chosen, declared):
        print(f"[pipeline] note: {line}", flush=True)
    absolute_phrasebank_dir(base)
    os.chdir(root)  # papermill records the paths it is given: keep them relative to the repository
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    timings = []
    # The kernel inherits the profile through the environment, so the executed notebooks carry no
    # injected `profile = ...` line and nbval can re-run them under another profile.
    saved = {name: os.environ.get(name) for name in (PROFILE_ENV, PIPELINE_PARAMETERS_ENV, PART_ENV)}
    os.environ[PROFILE_ENV] = profile
    os.environ[PIPELINE_PARAMETERS_ENV] = json.dumps(recorded_parameters(parameters), sort_keys=True)
    art = Artifacts(artifacts_root(profile, parameters.get("artifacts_dir"))).check_writable()
    try:
        with hold_artifacts(art.root):
            # a part of the recording begins: the runs it trains carry it, and chapter 4 counts
            # the parts its runs were trained in
            os.environ[PART_ENV] = repr(start_part(art)["started"])
            banked = {record["run_key_sha"] for record in current_runs(art)}
            for source in chosen:
                # each notebook gets the parameters it declares (papermill would inject the rest too)
                own = {k: v for k, v in parameters.items() if k in declared[source]}
                with following_progress(on_progress):
                    timings.append(_execute_one(source, out_dir, root, profile, own))
            now = {record["run_key_sha"] for record in current_runs(art)}
            print(f"[pipeline] training runs: {len(now - banked)} trained by this execution, "
                  f"{len(now & banked)} of {len(banked)} banked ones still current", flush=True)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return timings


def absolute_phrasebank_dir(base: Path) -> None:
    """A relative ``PHRASEBANK_DIR`` (the README's ``export PHRASEBANK_DIR=../shared/...``) means
    the folder from where the command was typed, ``base``; the kernels run in notebooks/, so they
    get it absolute."""
    folder = os.environ.get("PHRASEBANK_DIR")
    if folder and not Path(folder).is_absolute():
        os.environ["PHRASEBANK_DIR"] = str(Path(base) / folder)


def recorded_parameters(parameters: dict) -> dict:
    """The -p values as the executed notebooks record them: a folder by its name only (no
    machine path in a notebook's outputs)."""
    return {name: Path(value).name if PARAMETERS.get(name) in PATH_KINDS else value
            for name, value in parameters.items()}


# parameters whose profile value later chapters read again to decide what they report (chapters 5
# and 6 list the profile's students); the others reach later chapters through the artifacts
REPORTED_AGAIN = ("students",)


def parameter_reach(parameters: dict, chosen: list[Path], declared: dict[Path, set[str]]) -> list[str]:
    """Say which later chapters a parameter of `REPORTED_AGAIN` does not reach: they use the
    profile's value (``students`` reaches chapter 4 only; chapters 5 and 6 report the profile's)."""
    lines = []
    for name in (name for name in parameters if name in REPORTED_AGAIN):
        takers = [i for i, source in enumerate(chosen) if name in declared[source]]
        missed = [source.stem for source in chosen[takers[0] + 1:] if name not in declared[source]] \
            if takers else []
        if missed:
            lines.append(f"{name} is a parameter of {', '.join(chosen[i].stem for i in takers)} only; "
                         f"{', '.join(missed)} use the profile's {name}")
    return lines


@contextmanager
def following_progress(on_progress: Callable[[str], None], poll_s: float = 0.2):
    """Name a fresh progress file for the kernel (`progress`, through the environment it inherits)
    and hand each line written to it to ``on_progress`` while the block runs."""
    handle, path = tempfile.mkstemp(prefix="distill-progress-", suffix=".log")
    os.close(handle)
    previous = os.environ.get(PROGRESS_ENV)
    os.environ[PROGRESS_ENV] = path
    stop = threading.Event()

    def follow():
        pending = b""  # a line half-written so far
        with open(path, "rb") as stream:
            while True:
                pending += stream.readline()
                if pending.endswith(b"\n"):
                    on_progress(pending.decode("utf-8", "replace").rstrip("\n"))
                    pending = b""
                    continue
                if stop.is_set():  # everything written before the notebook ended has been read
                    break
                stop.wait(poll_s)

    follower = threading.Thread(target=follow, name="progress", daemon=True)
    follower.start()
    try:
        yield path
    finally:
        stop.set()
        follower.join()
        if previous is None:
            os.environ.pop(PROGRESS_ENV, None)
        else:
            os.environ[PROGRESS_ENV] = previous
        os.unlink(path)


def declared_parameters(notebook: Path) -> set[str]:
    """The names a notebook's `parameters` cell declares (papermill's own reading of it)."""
    return set(papermill.inspect_notebook(str(notebook)))


def check_parameters(parameters: dict, declared: dict[Path, set[str]],
                     base: str | os.PathLike | None = None) -> dict:
    """Refuse, before anything runs, a parameter that no notebook declares (a typo such as
    ``tempreature`` would otherwise be injected, ignored, and the run silently use the default)
    and a value its declared type cannot take (`parameters.read_parameter`). Returns the values
    to pass on, a relative folder made absolute from ``base``, where the command was typed."""
    try:
        refuse_undeclared(parameters, set().union(*declared.values()) if declared else set(), "no notebook")
    except ParameterError as error:
        raise SystemExit(f"[pipeline] {error}") from None
    checked = {}
    for name, value in parameters.items():
        try:
            read = read_parameter(name, value, base=base)
        except ParameterError as error:
            raise SystemExit(f"[pipeline] {error}") from None
        checked[name] = read if PARAMETERS.get(name) in PATH_KINDS else value
    return checked


def _execute_one(source: Path, out_dir: Path, root: Path, profile: str,
                 parameters: dict | None) -> tuple[str, float]:
    target = out_dir / source.name
    start = time.perf_counter()
    print(f"[pipeline] executing {source.name} (profile={profile})", flush=True)
    try:
        papermill.execute_notebook(
            _relative(source, root), _relative(target, root), parameters=dict(parameters or {}),
            cwd="notebooks", progress_bar=False, kernel_name="python3",
        )
    except papermill.PapermillExecutionError as error:
        raise SystemExit(f"[pipeline] {source.name} failed in cell {error.exec_count}: "
                         f"{error.ename}: {error.evalue}") from None
    seconds = time.perf_counter() - start
    print(f"[pipeline] {source.name} done in {seconds:.0f} s", flush=True)
    return source.name, seconds


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def publish_results(profile: str) -> Path:
    """Copy the results summary chapter 6 wrote (`Artifacts.results`) to ``results/reference.json``."""
    source = Artifacts(artifacts_root(profile)).results
    results = load_results(source)  # refuses a file that is not a results summary
    if results["run"]["profile"] != profile:
        raise ValueError(f"{source.name} was written by profile {results['run']['profile']}, not {profile}")
    target = repo_root() / REFERENCE_RESULTS
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
    return target


def stage_book(stage: Path) -> None:
    """Copy the book sources next to the executed notebooks so they render together."""
    root = repo_root()
    for name in BOOK_FILES:
        source, target = root / name, stage / name
        if not source.exists():
            continue
        if source.is_dir():
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)


def recorded_run(notebook: Path) -> dict | None:
    """The provenance record (`notebook.record_provenance`) an executed notebook carries in its
    last cell, as JSON, or None when it was not executed."""
    nb = nbformat.read(notebook, as_version=4)
    for cell in reversed(nb.cells):
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            record = output.get("data", {}).get(PROVENANCE_MIME)
            if isinstance(record, dict):
                return record
        return None
    return None


def provenance_report(notebooks_dir: Path) -> list[str]:
    """One line per notebook: its profile and whether its outputs came from the current library.

    Committed outputs recorded by other `distill_utils` code are reported, not rejected: the
    reader should know, and a new recorded run (`--in-place`) makes them current again.
    """
    current = library_hash()
    lines = []
    for path in sorted(Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb")):
        record = recorded_run(path)
        if record is None:
            lines.append(f"[provenance] {path.name}: no recorded run (not executed)")
        elif record.get("distill_utils_sha") != current:
            lines.append(f"[provenance] {path.name}: profile {record.get('profile')}, outputs from "
                         f"distill_utils {record.get('distill_utils_sha')}, current code is {current}: "
                         "STALE, re-run with --in-place to record again")
        else:
            lines.append(f"[provenance] {path.name}: profile {record.get('profile')}, "
                         f"distill_utils {current} (current)")
    return lines


def check_one_run(notebooks_dir: Path) -> None:
    """Refuse to make one book of notebooks that are not one run: one with no outputs, another
    profile, or a parameter one chapter was given and a chapter that also declares it was not
    (the pipeline re-executes every chapter after the first it runs, so these meet only when
    executions with other settings were staged together). Names the notebooks and the fix."""
    notebooks_dir = Path(notebooks_dir)
    paths = sorted(notebooks_dir.glob("[0-9][0-9]_*.ipynb"))
    records = {path: recorded_run(path) for path in paths}
    missing = [path.name for path, record in records.items() if record is None]
    if missing:
        raise SystemExit(f"[pipeline] {', '.join(missing)} in {notebooks_dir.name}/ has no outputs (never executed, "
                         "or cleared): execute it first (make run, or make reference for the committed book)")
    profiles = {record.get("profile") for record in records.values()}
    if len(profiles) > 1:
        raise SystemExit(f"[pipeline] the notebooks come from several profiles ({', '.join(sorted(map(str, profiles)))}): "
                         "run the pipeline again without --only")
    given = {path: record.get("pipeline_parameters") or {} for path, record in records.items()}
    for name in sorted(set().union(*given.values())):
        values = {}
        for path in paths:
            if name in declared_parameters(path):
                values.setdefault(json.dumps(given[path].get(name)), []).append(path.stem)
        if len(values) > 1:
            seen = "; ".join(f"{', '.join(stems)}: {json.loads(value)!r}" for value, stems in values.items())
            raise SystemExit(f"[pipeline] the notebooks were executed with different values of {name} ({seen}; "
                             "None: the profile's): one book shows one run; run the pipeline again with the same "
                             "parameters for every notebook, or without --only")


def build_book(source: Path) -> Path:
    """jupyter-book build with warnings as errors (--keep-going lists them all), of notebooks that
    are one run (`check_one_run`). Prints first which library code each notebook's outputs came from."""
    check_one_run(Path(source) / "notebooks")
    for line in provenance_report(Path(source) / "notebooks"):
        print(line, flush=True)
    jb = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or "jupyter-book"
    command = [jb, "build", str(source), "-W", "--keep-going"]
    finished = subprocess.run(command)
    if finished.returncode:
        raise SystemExit(f"[pipeline] jupyter-book build failed (exit {finished.returncode}): the warnings above name "
                         "each page and cell; a warning is an error here, so the book is not published")
    return source / "_build" / "html"


def parse_parameter(value: str):
    """A ``-p name value`` value read as papermill's own command line reads it: True, False, None,
    then a decimal int ("075" is 75, never YAML's octal 61), a float, else the string as given
    (an empty string stays empty, and a notebook refuses an empty list; never "the profile's")."""
    if value in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[value]
    for convert in (int, float):
        try:
            return convert(value)
        except ValueError:
            continue
    return value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Execute the book's notebooks and build the book.")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--in-place", action="store_true",
                        help="write executed notebooks over the committed ones in notebooks/")
    parser.add_argument("--no-book", action="store_true", help="execute only")
    parser.add_argument("--book-only", action="store_true",
                        help="render the committed notebooks as they are (no execution)")
    parser.add_argument("--only", nargs="*", help="notebook number prefixes to run, e.g. 03 04; unless --no-book, "
                        "the notebooks after the first of them run too (one book, one run)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="extra papermill parameter (value read as papermill -p reads it)")
    args = parser.parse_args(argv)
    parameters = {name: parse_parameter(value) for name, value in args.parameter}
    root = repo_root()
    if args.in_place and args.profile != REFERENCE_PROFILE:
        raise SystemExit(f"[pipeline] --in-place writes over the committed notebooks, which are the recorded "
                         f"{REFERENCE_PROFILE} run: run profile {args.profile} without --in-place (its notebooks "
                         f"go to _build/executed/{args.profile}/)")
    if args.book_only:
        html = build_book(root)
        print(f"[pipeline] book: {html.relative_to(root) / 'index.html'}")
        return
    stage = root / "notebooks" if args.in_place else root / "_build" / "executed" / args.profile
    out_dir = stage if args.in_place else stage / "notebooks"
    try:
        timings = execute(args.profile, out_dir, parameters, args.only, downstream=not args.no_book)
    except (ValueError, OSError, RuntimeError) as error:  # named by the code: no traceback before it
        raise SystemExit(f"[pipeline] {error}") from None
    for name, seconds in timings:
        print(f"[pipeline] {name}: {seconds / 60:.1f} min")
    if args.in_place and args.profile == REFERENCE_PROFILE and not args.only and not parameters:
        print(f"[pipeline] results: {publish_results(args.profile).relative_to(root)}")
    if args.no_book:
        return
    if args.in_place:
        html = build_book(root)
    else:
        stage_book(stage)
        html = build_book(stage)
    print(f"[pipeline] book: {html.relative_to(root) / 'index.html'}")


if __name__ == "__main__":
    main()
