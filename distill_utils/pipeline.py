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

from ._io import atomic_path
from .artifacts import Artifacts, artifacts_root, repo_root
from .notebook import PROVENANCE_MIME
from .progress import PROGRESS_ENV
from .provenance import library_hash
from .recording import current_runs, start_part
from .profiles import PROFILE_ENV
from .results import load_results

# the book's sources; distill_utils too, because chapters include the code they teach from it
BOOK_FILES = ("_config.yml", "_toc.yml", "references.bib", "book", "_static", "distill_utils")
REFERENCE_PROFILE = "cpu"
REFERENCE_RESULTS = Path("results") / "reference.json"


def notebooks(root: Path) -> list[Path]:
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def echo_progress(line: str) -> None:
    print(f"[progress] {line}", flush=True)


def execute(profile: str, out_dir: Path, parameters: dict | None = None,
            only: list[str] | None = None,
            on_progress: Callable[[str], None] = echo_progress) -> list[tuple[str, float]]:
    """Run each numbered notebook in order with papermill; returns (notebook, seconds) pairs.
    While one executes, each run it trains or reuses, and each epoch, goes to ``on_progress``
    (the terminal), never into the notebook."""
    root = repo_root()
    os.chdir(root)  # papermill records the paths it is given: keep them relative to the repository
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    timings = []
    # The kernel inherits the profile through the environment, so the executed notebooks carry no
    # injected `profile = ...` line and nbval can re-run them under another profile.
    previous = os.environ.get(PROFILE_ENV)
    os.environ[PROFILE_ENV] = profile
    chosen = [source for source in notebooks(root)
              if not only or any(source.name.startswith(prefix) for prefix in only)]
    declared = {source: declared_parameters(source) for source in chosen}
    check_parameters(parameters or {}, declared)
    # a part of the recording begins: chapter 4 counts the parts its runs were trained in. A relative
    # artifacts_dir is read, as the notebooks read it, from the notebooks' folder (their cwd)
    override = (parameters or {}).get("artifacts_dir")
    if override and not Path(override).is_absolute():
        override = root / "notebooks" / override
    art = Artifacts(artifacts_root(profile, override)).check_writable()
    start_part(art)
    banked = {record["run_key_sha"] for _, record in current_runs(art)}
    try:
        for source in chosen:
            # each notebook gets the parameters it declares (papermill would inject the rest too)
            own = {k: v for k, v in (parameters or {}).items() if k in declared[source]}
            with following_progress(on_progress):
                timings.append(_execute_one(source, out_dir, root, profile, own))
        now = {record["run_key_sha"] for _, record in current_runs(art)}
        print(f"[pipeline] training runs: {len(now - banked)} trained by this execution, "
              f"{len(now & banked)} of {len(banked)} banked ones still current", flush=True)
    finally:
        if previous is None:
            os.environ.pop(PROFILE_ENV, None)
        else:
            os.environ[PROFILE_ENV] = previous
    return timings


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


def check_parameters(parameters: dict, declared: dict[Path, set[str]]) -> None:
    """Refuse, before anything runs, a parameter that no notebook declares (a typo such as
    ``tempreature`` would otherwise be injected, ignored, and the run silently use the default)."""
    known = set().union(*declared.values()) if declared else set()
    unknown = sorted(set(parameters) - known)
    if unknown:
        raise SystemExit(f"[pipeline] unknown parameter(s) {', '.join(unknown)}: no notebook declares "
                         f"{'it' if len(unknown) == 1 else 'them'}. Parameters: {', '.join(sorted(known))}")


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


def build_book(source: Path) -> Path:
    """jupyter-book build with warnings as errors (--keep-going lists them all).

    Prints first which library code each notebook's outputs came from.
    """
    for line in provenance_report(Path(source) / "notebooks"):
        print(line, flush=True)
    jb = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or "jupyter-book"
    command = [jb, "build", str(source), "-W", "--keep-going"]
    subprocess.run(command, check=True)
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
    parser.add_argument("--only", nargs="*", help="notebook number prefixes to run, e.g. 03 04")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="extra papermill parameter (value read as papermill -p reads it)")
    args = parser.parse_args(argv)
    parameters = {name: parse_parameter(value) for name, value in args.parameter}
    root = repo_root()
    if args.book_only:
        html = build_book(root)
        print(f"[pipeline] book: {html.relative_to(root) / 'index.html'}")
        return
    stage = root / "notebooks" if args.in_place else root / "_build" / "executed" / args.profile
    out_dir = stage if args.in_place else stage / "notebooks"
    timings = execute(args.profile, out_dir, parameters, args.only)
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
