"""Every parameter a reader can set, with its one declared type, and the reading of a value.

The notebooks' ``parameters`` cells, papermill, the pipeline's ``-p name value`` and the command
lines all read values through `read_parameter`, so ``-p bf16 false`` (a string, which Python
takes for true), ``-p seeds 42.1`` (a typo for ``42,1``), ``-p threads 2.5`` or
``-p teacher_epochs abc`` are refused before anything runs, with the parameter, the value and what
is expected, never read as something else or failing deep inside torch.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Kind:
    """A parameter's type: how a value is read and what the error says is expected."""

    name: str
    expected: str
    example: str


INT = Kind("int", "a whole number", "32")
FLOAT = Kind("float", "a number", "0.5")
BOOL = Kind("bool", "True or False (capitalised, as papermill and Python write them)", "False")
INTS = Kind("ints", "whole numbers separated by commas", '"42,1"')
FLOATS = Kind("floats", "numbers separated by commas", '"0.03,0.1,1"')
NAMES = Kind("names", "names separated by commas", '"all-MiniLM-L6-v2"')
NAME = Kind("name", "a name", '"all-MiniLM-L6-v2"')
FOLDER = Kind("folder", "a folder that exists", '"../shared/data/financial_phrasebank"')
NEW_FOLDER = Kind("new folder", "a folder (created if missing)", '"artifacts/mine"')
FILE = Kind("file", "a file that exists", '"my_sentences.csv"')
# the kinds given as a path: read relative to where the command was typed, recorded by name only
PATH_KINDS = (FOLDER, NEW_FOLDER, FILE)

# every parameter a notebook declares or a profile holds, by name
PARAMETERS: dict[str, Kind] = {
    "profile": NAME, "agreement": NAME, "teacher": NAME, "students": NAMES,
    "compression_students": NAMES, "headline_student": NAME, "sweep_student": NAME,
    "budget_student": NAME, "hidden_student": NAME, "lever_student": NAME, "pool_students": NAMES,
    "variants": NAMES,
    "split_seed": INT, "seed": INT, "seeds": INTS, "teacher_seeds": INTS, "sweep_seeds": INTS,
    "budget_seeds": INTS, "train_limit": INT, "pool_limit": INT,
    "batch_size": INT, "max_length": INT, "latency_runs": INT, "throughput_batches": INT,
    "threads": INT, "cost_steps": INT,
    "test_size": FLOAT, "val_size": FLOAT, "teacher_epochs": FLOAT, "teacher_lr": FLOAT,
    "student_epochs": FLOAT, "student_lr": FLOAT, "alpha": FLOAT, "temperature": FLOAT,
    "warmup_ratio": FLOAT, "weight_decay": FLOAT, "sweep_epochs": FLOAT, "budget_epochs": FLOAT,
    "hidden_weight": FLOAT, "low_resource_fraction": FLOAT,
    "sweep_alphas": FLOATS, "sweep_temperatures": FLOATS, "budget_fractions": FLOATS,
    "transfer_multiples": FLOATS, "transfer_step_multiples": FLOATS,
    "bf16": BOOL,
    "data_dir": FOLDER, "artifacts_dir": NEW_FOLDER,
    "csv": FILE, "text_column": NAME, "label_column": NAME, "split_column": NAME,  # the last chapter
}


class ParameterError(ValueError):
    """A value a parameter cannot take; the message names the parameter, the value and the fix."""


def refuse_undeclared(given, declared, where: str) -> None:
    """The one check of parameter names, for the pipeline and for papermill run by hand: a name
    that ``where`` (a notebook, or every notebook) does not declare is refused, since papermill
    would inject it, nothing would read it, and the run would use the default and exit 0."""
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ParameterError(f"unknown parameter(s) {', '.join(unknown)}: {where} declares "
                             f"{'it' if len(unknown) == 1 else 'them'}. Parameters: {', '.join(sorted(declared))}")


def _refuse(name: str, value, kind: Kind, hint: str = "") -> ParameterError:
    return ParameterError(f"parameter {name} must be {kind.expected}, e.g. -p {name} {kind.example}; "
                          f"got {value!r}{hint}")


def _number(name: str, value, kind: Kind, whole: bool):
    if isinstance(value, bool):
        raise _refuse(name, value, kind)
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text, 10) if whole and text.lstrip("+-").isdigit() else float(text)
        except ValueError:
            raise _refuse(name, value, kind) from None
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _refuse(name, value, kind)
    if whole:
        if float(value) != int(value):
            raise _refuse(name, value, kind)
        return int(value)
    return float(value)


def _items(value) -> list:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def resolve_folder(value: str | os.PathLike, base: str | os.PathLike | None = None) -> Path:
    """A folder given on a command line, relative to where the command was typed (``base``, the
    current folder by default), as an absolute path."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else Path(base or os.getcwd()) / path


def read_parameter(name: str, value, *, base: str | os.PathLike | None = None):
    """``value`` read as parameter ``name``'s declared type (`PARAMETERS`); None stays None (the
    profile's value). A folder is resolved from ``base`` (where the command was typed). Raises
    `ParameterError` naming the parameter, the value and what is expected."""
    if value is None:
        return None
    kind = PARAMETERS.get(name)
    if kind is None:
        raise ParameterError(f"unknown parameter {name!r}; parameters: {', '.join(sorted(PARAMETERS))}")
    if kind is BOOL:
        if isinstance(value, bool):
            return value
        hint = f" (a string: write {str(value).strip().capitalize()})" \
            if str(value).strip().lower() in ("true", "false") else ""
        raise _refuse(name, value, kind, hint)
    if kind in (INT, FLOAT):
        return _number(name, value, kind, whole=kind is INT)
    if kind in (INTS, FLOATS):
        items = _items(value)
        if not items:
            raise _refuse(name, value, kind, " (empty)")
        whole = kind is INTS
        try:
            return tuple(_number(name, item, kind, whole) for item in items)
        except ParameterError:
            hint = f" (did you mean \"{str(value).replace('.', ',')}\"?)" \
                if whole and isinstance(value, float) else ""
            raise _refuse(name, value, kind, hint) from None
    if kind is NAMES:  # an empty list says "none" (e.g. no compression students); "" is refused
        items = _items(value)
        if (not items and not isinstance(value, (list, tuple))) or \
                not all(isinstance(item, str) and item for item in items):
            raise _refuse(name, value, kind)
        return tuple(items)
    if kind is NAME:
        if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value).strip() == "":
            raise _refuse(name, value, kind)
        return str(value).strip()
    if not isinstance(value, (str, os.PathLike)) or str(value).strip() == "":
        raise _refuse(name, value, kind)
    folder = resolve_folder(value, base)
    if kind is FILE and not folder.is_file():
        raise ParameterError(f"parameter {name}: no file at {str(value)!r} (a relative path is read from the "
                             "folder the command was typed in); give the file, absolute or relative to where "
                             "you type the command")
    if kind is FOLDER and not folder.is_dir():
        raise ParameterError(f"parameter {name}: the folder {str(value)!r} does not exist (a relative path is "
                             "read from the folder the command was typed in); give the folder that "
                             "holds the files, absolute or relative to where you type the command")
    return str(folder)
