"""One artifact layout and modules by concern: what the book's structure promises, checked."""
import ast
import json
import re
from pathlib import Path

import pytest

from distill_utils._io import seal_folder

from distill_utils.artifacts import Artifacts, is_checkpoint, read_run

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "distill_utils"
# Path pieces only `artifacts.py` may spell: file names of the layout and folder names joined with `/`.
LAYOUT_LITERAL = re.compile(
    r"""(splits|run|benchmark|results|sweep)\.json|model\.safetensors|-seed\{|["']\.trainer["']|"""
    r"""/\s*["'](data|teacher|teacher_logits|teacher_hidden|students|onnx|sweeps|provenance|runs)["']""")


def library_modules() -> dict[str, Path]:
    """Every module of the library by its dotted name inside the package (``book.narrative``)."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] != "__init__":
            modules[".".join(parts)] = path
    return modules


def imported_modules(name: str, path: Path) -> set[str]:
    """The library modules that module ``name`` imports, by dotted name: relative imports, and
    absolute ones (``from distill_utils.losses import ...``, as the copyable `recipe` writes them)."""
    package = name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            base = package[:len(package) - (node.level - 1)]
            if node.module:
                found.add(".".join([*base, node.module]))
            else:
                found |= {".".join([*base, alias.name]) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("distill_utils."):
            found.add(node.module.removeprefix("distill_utils."))
    return found - {name}


def python_sources() -> dict[str, str]:
    """Every place code touches artifacts: the library, the tools and the notebooks' code cells."""
    sources = {str(p.relative_to(REPO)): p.read_text() for p in library_modules().values()
               if p.name != "artifacts.py"}
    sources.update({str(p.relative_to(REPO)): p.read_text() for p in sorted((REPO / "tools").glob("*.py"))})
    for path in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        sources[str(path.relative_to(REPO))] = "\n".join(
            "".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return sources


def test_no_artifact_path_is_spelled_outside_artifacts_py():
    offenders = {name: sorted({m.group(0) for m in LAYOUT_LITERAL.finditer(text)})
                 for name, text in python_sources().items() if LAYOUT_LITERAL.search(text)}
    assert not offenders, f"artifact paths spelled outside distill_utils/artifacts.py: {offenders}"


def test_the_literal_check_would_catch_a_path():
    for text in ('art / "data" / "splits.json"', 'root / "teacher"', 'f"{mode}-seed{seed}"',
                 'directory / "run.json"', 'Path(out_dir).parent / ".trainer"'):
        assert LAYOUT_LITERAL.search(text), text


def test_chapters_are_their_own_source():
    """No script writes chapters: the notebooks in notebooks/ are edited as notebooks."""
    for path in (REPO / "tools").glob("*.py"):
        assert "nbformat.v4.new_" not in path.read_text() and "new_code_cell" not in path.read_text(), path.name


def test_imports_sit_at_the_top_of_the_library():
    """Intra-package imports are at module top; inside a function only for a heavy optional engine."""
    inside = []
    for path in library_modules().values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and inner.level > 0:
                        inside.append(f"{path.name}:{inner.lineno} from .{inner.module}")
    assert not inside, inside


@pytest.mark.parametrize("module, below", [
    ("book.results", ("IPython", "myst_nb", "distill_utils.book.notebook")),  # a summary needs no notebook
    ("machine", ("distill_utils.variants", "onnxruntime")),  # what a CPU is needs no inference engine
    ("variants", ("distill_utils.trainer",)),  # running a model needs no training code
    ("losses", ("transformers",)),  # the loss is tensors only
    ("record.provenance", ("IPython", "myst_nb", "distill_utils.book.notebook")),
    ("experiments", ("distill_utils.record.runs", "distill_utils.record.progress")),  # the lesson trains alone
])
def test_a_module_imports_nothing_above_its_layer(module, below):
    import subprocess
    import sys

    code = (f"import sys, distill_utils.{module}; "
            f"print(','.join(m for m in {below!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "", f"importing distill_utils.{module} loads {done.stdout.strip()}"


def test_the_library_imports_form_layers_without_a_cycle():
    """Every module imports only modules below it: the import graph has no cycle."""
    graph = {name: imported_modules(name, path) for name, path in library_modules().items()}
    done, stack = set(), []

    def visit(module):
        assert module not in stack, f"import cycle: {' -> '.join(stack[stack.index(module):] + [module])}"
        if module in done or module not in graph:
            return
        stack.append(module)
        for imported in sorted(graph[module]):
            visit(imported)
        stack.pop()
        done.add(module)

    for module in graph:
        visit(module)


def readme_module_order() -> list[str]:
    """The modules of the README's module table, in its order."""
    text = (REPO / "README.md").read_text()
    table = text[text.index("| module | part | concern |"):]
    table = table[:table.index("\n\n")]
    return re.findall(r"^\| `([\w.]+)` \|", table, re.M)


def test_the_readme_lists_every_module_in_layer_order():
    """Every module is in the README's table once, and imports only modules listed above it."""
    order = readme_module_order()
    modules = library_modules()
    assert sorted(order) == sorted(modules), "the README's module table and distill_utils differ"
    position = {name: i for i, name in enumerate(order)}
    upward = [f"{name} imports {imported}" for name in order
              for imported in imported_modules(name, modules[name])
              if imported in position and position[imported] > position[name]]
    assert not upward, f"imports that point up the README's layers: {upward}"


def test_the_package_docstring_names_every_module_once():
    """`distill_utils/__init__.py` describes the library as a reader finds it: every module, once."""
    import distill_utils

    named = re.findall(r"`([\w.]+)`", distill_utils.__doc__)
    modules = sorted(library_modules())
    listed = [name for name in named if name in modules]
    assert sorted(listed) == modules, f"named twice or missing: {sorted(set(modules) ^ set(listed))}"


def readme_parts() -> dict[str, str]:
    """Each module's part, as the README's module table gives it (lesson, bookkeeping, book,
    command)."""
    text = (REPO / "README.md").read_text()
    table = text[text.index("| module | part | concern |"):]
    table = table[:table.index("\n\n")]
    return dict(re.findall(r"^\| `([\w.]+)` \| (\w+) \|", table, re.M))


def test_the_lesson_imports_neither_the_bookkeeping_nor_the_books_plumbing():
    """A reader who opens the lesson finds no run cache, provenance or page-making in it: no
    module the README calls lesson imports `distill_utils.record` or `distill_utils.book`, and the
    record imports nothing of the book. The two subpackages hold exactly their parts."""
    parts, modules = readme_parts(), library_modules()
    upward = sorted(f"{name} imports {imported}" for name, path in modules.items()
                    for imported in imported_modules(name, path)
                    if (parts.get(name) == "lesson" and imported.split(".")[0] in ("record", "book"))
                    or (name.startswith("record.") and imported.startswith("book.")))
    assert not upward, upward
    assert {name for name in modules if name.startswith("record.")} == \
        {name for name, part in parts.items() if name.startswith("record.")}
    assert all(part == "bookkeeping" for name, part in parts.items() if name.startswith("record."))
    assert all(part == "book" for name, part in parts.items() if name.startswith("book."))
    assert {"experiments", "trainer", "losses", "sweep", "budget"} <= {n for n, p in parts.items() if p == "lesson"}


def test_the_module_map_resolves_imports_in_and_out_of_subpackages(tmp_path):
    """The check above would see an import of the book from the lesson, and the book's imports."""
    lesson = tmp_path / "lesson.py"
    lesson.write_text("from .book.narrative import x\nfrom . import data\n")
    assert imported_modules("lesson", lesson) == {"book.narrative", "data"}
    page = tmp_path / "page.py"
    page.write_text("from ..metrics import a\nfrom .tables import b\n")
    assert imported_modules("book.page", page) == {"metrics", "book.tables"}
    listing = tmp_path / "listing.py"
    listing.write_text("from distill_utils.book.narrative import x\nfrom distill_utils.losses import y\n")
    assert imported_modules("listing", listing) == {"book.narrative", "losses"}


def test_no_committed_chapter_shows_a_figure_twice():
    """A cell whose last line returns a figure shows it twice (the inline backend, then the
    result) unless the line ends in a semicolon."""
    import nbformat

    twice = []
    for path in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            images = [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
            if any(o["output_type"] == "execute_result" for o in images) and len(images) > 1:
                twice.append(f"{path.name} cell {index}")
    assert not twice, twice


def test_layout_paths_and_checkpoint_contract(tmp_path):
    art = Artifacts(tmp_path)
    assert art.student("distil-mpnet-6layer", "kd", 42).relative_to(tmp_path).parts == ("students", "distil-mpnet-6layer", "kd-seed42")
    assert art.splits.parent.parent == art.teacher.parent == tmp_path
    assert art.teacher_hidden("x").parent != art.teacher_logits
    directory = art.student("s", "plain", 1)
    directory.mkdir(parents=True)
    (directory / "run.json").write_text('{"seed": 1}')
    assert not is_checkpoint(directory)  # no weights: not a checkpoint
    (directory / "model.safetensors").write_bytes(b"weights")
    assert is_checkpoint(directory) and read_run(directory) == {"seed": 1}
    seal_folder(directory)  # as atomic_path seals every folder it writes
    assert art.require_student("s", "plain", 1) == directory
    export = art.onnx_export(directory)
    (directory / "model.safetensors").write_bytes(b"other weights")
    assert art.onnx_export(directory) != export  # retrained weights never reuse an old export


def test_missing_artifacts_name_the_notebook(tmp_path):
    art = Artifacts(tmp_path)
    for call, notebook in ((art.require_splits, "01_dataset"), (art.require_teacher, "02_teacher"),
                           (art.require_benchmark, "05_benchmark")):
        with pytest.raises(FileNotFoundError, match=f"run notebooks/{notebook}"):
            call()


def test_a_missing_checkpoint_outside_the_clone_is_named_with_its_model_and_seed(tmp_path):
    art = Artifacts(tmp_path / "elsewhere")  # an artifacts_dir outside the repository
    with pytest.raises(FileNotFoundError) as error:
        art.require_student("all-MiniLM-L6-v2", "kd", 42)
    message = str(error.value)
    assert "<artifacts_dir>/students/all-MiniLM-L6-v2/kd-seed42/model.safetensors is missing" in message
    assert str(tmp_path) not in message and "run notebooks/04_student_training.ipynb" in message


def test_a_truncated_run_record_is_named_with_the_fix(tmp_path):
    folder = tmp_path / "students" / "all-MiniLM-L6-v2" / "kd-seed42"
    folder.mkdir(parents=True)
    (folder / "run.json").write_text('{"role": "student", "test": {"accur')
    with pytest.raises(ValueError) as error:
        read_run(folder)
    message = str(error.value)
    assert "all-MiniLM-L6-v2/kd-seed42/run.json is not a readable run record" in message
    assert "JSONDecodeError" in message and "re-run notebooks/04_student_training.ipynb" in message
    assert str(tmp_path) not in message
    (folder / "run.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="is not a run record"):
        read_run(folder)


def test_students_of_another_teacher_are_refused(tmp_path):
    from distill_utils.lineage import check_same_teacher

    art = Artifacts(tmp_path)
    art.teacher.mkdir(parents=True)
    (art.teacher / "model.safetensors").write_bytes(b"retrained teacher")
    from distill_utils.artifacts import checkpoint_fingerprint

    current = checkpoint_fingerprint(art.teacher)
    fine = [{"model": "s", "mode": "kd", "seed": 1, "teacher_sha256": current}]
    check_same_teacher(art.teacher, fine, "chapter 6")  # same teacher: accepted
    mixed = fine + [{"model": "s", "mode": "kd", "seed": 2, "teacher_sha256": "0" * 64}]
    with pytest.raises(ValueError, match=r"chapter 6: 1 student run\(s\) were trained from another teacher.*"
                                         r"s \(kd, seed 2\).*Re-run notebooks/04_student_training"):
        check_same_teacher(art.teacher, mixed, "chapter 6")


def test_checkpoint_weights_are_hashed_once_per_version(tmp_path, monkeypatch):
    import os

    from distill_utils import artifacts

    calls = []
    real = artifacts.sha256_file
    monkeypatch.setattr(artifacts, "sha256_file", lambda path: calls.append(path) or real(path))
    (tmp_path / "model.safetensors").write_bytes(b"weights v1")
    first = artifacts.checkpoint_fingerprint(tmp_path)
    assert artifacts.checkpoint_fingerprint(tmp_path) == first and len(calls) == 1  # read once
    (tmp_path / "model.safetensors").write_bytes(b"weights v2")  # retrained: same size, new content
    os.utime(tmp_path / "model.safetensors", ns=(1, 1))
    assert artifacts.checkpoint_fingerprint(tmp_path) != first and len(calls) == 2


def test_teacher_seed_records_must_share_the_teachers_recipe(tmp_path):
    import json

    import pytest

    from distill_utils.artifacts import Artifacts

    art = Artifacts(tmp_path)
    art.teacher.mkdir(parents=True)
    (art.teacher / "model.safetensors").write_bytes(b"w")
    recipe = {"train": "abc", "learning_rate": 3e-5, "epochs": 5}
    (art.teacher / "run.json").write_text(json.dumps({"seed": 42, "run_key": {**recipe, "seed": 42}}))
    seal_folder(art.teacher)
    art.teacher_seeds.mkdir()
    art.teacher_seed_record(1).write_text(json.dumps({"seed": 1, "run_key": {**recipe, "seed": 1}}))
    assert [r["seed"] for r in art.teacher_records()] == [42, 1]  # the students' teacher first
    art.teacher_seed_record(2).write_text(json.dumps({"seed": 2, "run_key": {**recipe, "seed": 2, "learning_rate": 5e-3}}))
    with pytest.raises(ValueError, match="seed2.json was trained with another learning_rate than the teacher"):
        art.teacher_records()


def test_a_recording_counts_the_parts_its_runs_were_stamped_with(tmp_path, monkeypatch):
    import json

    from distill_utils.machine import training_machine
    from distill_utils.record import recording
    from distill_utils.record.runs import RunCache
    from distill_utils.run_spec import RunSpec, Schedule
    from distill_utils._io import check_seal, seal_folder

    art = Artifacts(tmp_path).with_runs(RunCache())

    def trains(seed, save_to=None):
        schedule = Schedule(epochs=1, learning_rate=1e-3, batch_size=8, max_length=16, seed=seed)
        spec = RunSpec(role="teacher", model={"name": "m"}, schedule=schedule, data={}, processes=1,
                       machine=training_machine())

        def train(key, sha, folder):
            record = {"run_key": key, "run_key_sha": sha, "epoch_seconds": [300.0, 300.0]}
            if folder is not None:
                folder.mkdir(parents=True)
                (folder / "model.safetensors").write_bytes(b"w")
                (folder / "run.json").write_text(json.dumps(record))
                seal_folder(folder)
            return record
        return art.run(spec, train, label=f"seed {seed}", save_to=save_to)

    monkeypatch.setenv(recording.PART_ENV, repr(recording.start_part(art, started=1_000_000.0)["started"]))
    assert trains(1)[recording.PART_FIELD] == 1_000_000.0
    saved = art.student("m", "kd", 2)
    trains(2, save_to=saved)
    assert json.loads((saved / "run.json").read_text())[recording.PART_FIELD] == 1_000_000.0
    check_seal(saved)  # the stamped record is sealed again
    monkeypatch.setenv(recording.PART_ENV, repr(recording.start_part(art)["started"]))
    trains(3)
    assert trains(1)[recording.PART_FIELD] == 1_000_000.0  # read back: the part that trained it
    monkeypatch.delenv(recording.PART_ENV)
    trains(4)  # outside the pipeline: a part of its own
    other = {"run_key": {"training_code": "another", "machine": training_machine()}, "run_key_sha": "old"}
    art.run_record("old").write_text(json.dumps(other))  # other code: never reused, not counted
    (art.root / "runs" / "truncated.json").write_text('{"run_key": {')
    summary = recording.recording_summary(art)
    assert summary["runs"] == 4 and summary["parts"] == 3 and summary["train_min"] == pytest.approx(40.0)
    assert summary["cpu"] == training_machine()["cpu"]
    assert [p["started"] for p in recording.read_parts(art)][0] == 1_000_000.0
    art.recording_parts.write_text('[{"started": 1')  # damaged: no parts noted
    assert recording.read_parts(art) == []


def test_an_artifacts_folder_that_cannot_take_the_run_fails_before_any_training(tmp_path, monkeypatch):
    import errno
    import tempfile

    from distill_utils.profiles import resolve_config

    cfg = resolve_config("smoke", artifacts_dir=str(tmp_path / "art"))
    assert Artifacts.of(cfg).root.is_dir()  # created, writable
    # row 12c: a file where the layout keeps a folder
    (tmp_path / "art" / "teacher_logits").write_text("not a folder")
    with pytest.raises(NotADirectoryError, match="teacher_logits is a file, but the notebooks keep a folder there"):
        Artifacts.of(cfg)
    (tmp_path / "art" / "teacher_logits").unlink()

    # row 12b: a read-only folder (as root, permissions do not stop a write: the file system is simulated)
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", read_only)
    with pytest.raises(PermissionError, match=r"is not writable \(Read-only file system\): set the artifacts_dir"):
        Artifacts.of(cfg)


def training_functions() -> set[str]:
    """The lesson's functions that train: those that hand a run to their artifacts
    (``art.run(...)``), and every function that calls one of them, by name."""
    calls, trains = {}, set()
    parts = readme_parts()
    for name, path in library_modules().items():
        if parts.get(name) != "lesson":
            continue
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef):
                called = {c.func.id if isinstance(c.func, ast.Name) else c.func.attr
                          for c in ast.walk(node) if isinstance(c, ast.Call)
                          and isinstance(c.func, (ast.Name, ast.Attribute))}
                calls[node.name] = called
                if any(isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and c.func.attr == "run"
                       and isinstance(c.func.value, ast.Name) and c.func.value.id == "art" for c in ast.walk(node)):
                    trains.add(node.name)
    while True:
        more = {name for name, called in calls.items() if called & trains} - trains
        if not more:
            return trains
        trains |= more


def test_a_chapter_that_trains_hands_its_runs_to_the_run_cache():
    """Executed again (a prose edit, an interrupted recording), a chapter reads every finished run
    back: each chapter that calls a training function gives its artifacts the run cache."""
    import nbformat

    trains = training_functions()
    assert {"fine_tune_teacher", "train_student", "train_students", "sweep_alpha_temperature",
            "train_budget_curve"} <= trains
    for path in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        code = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        called = sorted(name for name in trains if re.search(rf"\b{name}\(", code))
        if called:
            assert "cached_artifacts(Artifacts.of(cfg))" in code, f"{path.name} trains ({called}) without the cache"
