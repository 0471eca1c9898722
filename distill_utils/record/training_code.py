"""Which code a training run computes with, as a hash that follows the code and nothing else.

A run's key (`runs.run_key`) holds its data as fingerprints (sentences, labels, teacher logits,
per-sentence weights) and its settings as values; this module adds the code. It starts from the
functions that train (`TRAINING_ENTRY_POINTS`), follows every name of this package they use, and
hashes what it reaches with docstrings, comments and annotations left out. So the key changes
with the loss, the trainer, the tokenisation, how a model is built and initialised or how a run
is scored, and not with analysis, plots, tables, prose, the benchmark, a docstring, or a function
moved from one module to another. It reads the lesson only (the package's top level): the run
cache, the bookkeeping in `record` and the book in `book` are not training code.
"""
from __future__ import annotations

import ast
import hashlib
from pathlib import Path

# what trains: every run of the book goes through one of these (the sweep, the budget curve and
# the students through train_student; the teacher's seeds through fine_tune_teacher)
TRAINING_ENTRY_POINTS = ("fine_tune_teacher", "train_student")

# names the path does not follow, each with the reason: the key holds what they say as data, or
# they only move bytes to and from files (the run cache and progress are outside the lesson, so
# the training functions never name them)
OUTSIDE_THE_PATH = {
    "MODELS": "a model's registry entry is in the key as its fields (models.model_key), "
              "so a new model or a reworded description retrains nothing",
    "write_json": "how a file is written (atomically), not what it holds",
    "read_json": "how a file is read",
    "display_path": "how a path is shown to a person",
    "atomic_path": "how a folder is written (atomically), not what it holds",
}

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # the lesson: the package's top level


def _without_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    return body or [ast.Pass()]


def _is_report(node: ast.stmt) -> bool:
    """A statement that only tells a person something: ``logger.info(...)``,
    ``PROGRESS.info(...)`` (`modes.PROGRESS`), ``print(...)``."""
    if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
        return False
    func = node.value.func
    return (isinstance(func, ast.Name) and func.id == "print") or (
        isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
        and func.value.id in ("logger", "PROGRESS"))


class _Normalise(ast.NodeTransformer):
    """Drop what never changes a computation: docstrings, the annotations of arguments and return
    values (a dataclass field keeps its annotation: it declares the field), the messages of the
    errors a run raises and the reports it logs or prints."""

    def generic_visit(self, node):
        super().generic_visit(node)
        for field in ("body", "orelse", "finalbody"):
            statements = getattr(node, field, None)
            if isinstance(statements, list) and statements and isinstance(statements[0], ast.stmt):
                kept = [s for s in statements if not _is_report(s)]
                setattr(node, field, kept or ([ast.Pass()] if field == "body" else []))
        return node

    def visit_Raise(self, node):
        if isinstance(node.exc, ast.Call):  # the exception's type stays, its message goes
            node.exc = ast.Call(func=node.exc.func, args=[], keywords=[])
        return node

    def visit_FunctionDef(self, node):
        self.generic_visit(node)
        node.body = _without_docstring(node.body)
        node.returns = None
        for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs,
                    node.args.vararg, node.args.kwarg]:
            if arg is not None:
                arg.annotation = None
        return node

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        self.generic_visit(node)
        node.body = _without_docstring(node.body)
        return node


def top_level_definitions(package_dir: Path = PACKAGE_DIR) -> dict[str, list[ast.AST]]:
    """Every function, class and assigned name at the top of the package's modules, normalised.
    A name defined in two modules keeps both definitions."""
    definitions: dict[str, list[ast.AST]] = {}
    for path in sorted(Path(package_dir).glob("*.py")):
        tree = ast.parse(path.read_text(), filename=path.name)
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names = [node.name]
            elif isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names = [node.target.id]
            else:
                continue
            normalised = _Normalise().visit(node)
            for name in names:
                definitions.setdefault(name, []).append(normalised)
    return definitions


def _used_names(node: ast.AST) -> set[str]:
    """The names a definition reads: bare names and attributes (``losses.distillation_loss``)."""
    used = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            used.add(child.id)
        elif isinstance(child, ast.Attribute):
            used.add(child.attr)
    return {name for name in used if not name.startswith("__")}  # torch.__version__ is not ours


def training_path(package_dir: Path = PACKAGE_DIR,
                  entry_points: tuple[str, ...] = TRAINING_ENTRY_POINTS) -> dict[str, list[str]]:
    """The definitions a training run can reach from the entry points, as normalised source."""
    definitions = top_level_definitions(package_dir)
    missing = [name for name in entry_points if name not in definitions]
    if missing:
        raise ValueError(f"training entry points not found in distill_utils: {', '.join(missing)}; "
                         "update training_code.TRAINING_ENTRY_POINTS")
    reached, todo = set(), list(entry_points)
    while todo:
        name = todo.pop()
        if name in reached or name in OUTSIDE_THE_PATH or name not in definitions:
            continue
        reached.add(name)
        for node in definitions[name]:
            todo.extend(_used_names(node) - reached)
    return {name: sorted(ast.unparse(node) for node in definitions[name]) for name in sorted(reached)}


def training_code_hash(package_dir: Path = PACKAGE_DIR) -> str:
    """sha256 (16 hex digits) of the training path's normalised source."""
    digest = hashlib.sha256()
    for name, sources in training_path(package_dir).items():
        digest.update(name.encode() + b"\0")
        for source in sources:
            digest.update(source.encode() + b"\0")
    return digest.hexdigest()[:16]
