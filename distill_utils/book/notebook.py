"""Notebook plumbing: quiet, reproducible setup and the provenance each executed notebook records."""
from __future__ import annotations

import ast
import inspect
import logging
import os
import sys
import textwrap
import warnings

import matplotlib.pyplot as plt
from IPython import get_ipython
from IPython.display import display
from matplotlib.figure import Figure
from myst_nb import glue as myst_glue
from transformers.utils import logging as hf_logging

from .._io import write_json
from ..artifacts import display_path
from ..parameters import refuse_undeclared
from ..plots import set_style
from ..record.provenance import run_metadata

PROVENANCE_MIME = "application/json"

# the widest line of code the book shows: its column fits about 79 characters without scrolling
SHOWN_CODE_WIDTH = 79


# how a notebook's own parameters cell begins, and how papermill begins the cell it injects after it
DECLARED_CELL = "# Parameters (papermill"
INJECTED_CELL = "# Parameters\n"


def _assigned(source: str) -> set[str]:
    return {target.id for node in ast.parse(source).body if isinstance(node, ast.Assign)
            for target in node.targets if isinstance(target, ast.Name)}


def declared_parameters(history: list[str]) -> set[str]:
    """The names the notebook's own parameters cell declares, from the sources of the cells run so far."""
    declared = next((cell for cell in history if cell.lstrip().startswith(DECLARED_CELL)), None)
    return set() if declared is None else _assigned(declared)


def injected_parameters(history: list[str]) -> set[str]:
    """The names papermill injected (``-p name value``), from the sources of the cells run so far."""
    return set().union(*(_assigned(cell) for cell in history if cell.startswith(INJECTED_CELL)))


def refuse_undeclared_parameters() -> None:
    """Stop a notebook that papermill gave a parameter its parameters cell does not declare
    (`parameters.refuse_undeclared`); papermill itself passes any name through. Nothing outside a
    chapter is checked."""
    shell = get_ipython()
    history = list(shell.user_ns.get("In", [])) if shell is not None else []
    declared = declared_parameters(history)
    if declared:
        refuse_undeclared(injected_parameters(history), declared, "no parameter of this notebook")


def setup_notebook() -> None:
    """Refuse parameters the notebook does not declare; plot style, and no loader chatter or
    progress bars in the book."""
    refuse_undeclared_parameters()
    set_style()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    logger = logging.getLogger("distill_utils")  # reports (rows dropped, caches) go to stdout
    logger.setLevel(logging.INFO)
    if not any(getattr(h, "_distill", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler._distill = True
        logger.addHandler(handler)
        logger.propagate = False
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore", message=".*pin_memory.*")


def shown_source(obj) -> str:
    """The source of a function, class or method as the book shows it (dedented)."""
    return textwrap.dedent(inspect.getsource(obj)).rstrip()


class ShownSource:
    """Source code as a fenced Markdown block, which Jupyter, Colab and the book (myst-nb) all
    render highlighted in their own style; plain text where no renderer runs."""

    def __init__(self, source: str):
        self.source = source

    def _repr_markdown_(self) -> str:
        return f"````python\n{self.source}\n````"

    def __repr__(self) -> str:
        return self.source


def show_source(obj) -> ShownSource:
    """The source of ``obj``, highlighted, for every reader: the built book, Jupyter and Colab
    (a ``literalinclude`` directive shows as raw text outside the book). The code is the
    library's own, so the page can never drift from what runs."""
    source = shown_source(obj)
    wide = [line for line in source.splitlines() if len(line) > SHOWN_CODE_WIDTH]
    if wide:
        raise ValueError(f"{getattr(obj, '__qualname__', obj.__name__)} has {len(wide)} line(s) wider than {SHOWN_CODE_WIDTH} "
                         f"characters, which the book's column cuts off: wrap them ({wide[0].strip()[:40]!r} ...)")
    return ShownSource(source)


def glue(name: str, value, display: bool = False) -> None:
    """myst-nb glue for the book's prose: numpy scalars become Python numbers (so format specs
    like ``:.2f`` work) and figures are closed after gluing (so they are not shown twice)."""
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    myst_glue(name, value, display=display)
    if isinstance(value, Figure):
        plt.close(value)


def record_provenance(cfg, art, notebook: str) -> dict:
    """The last cell of every chapter: write what this notebook ran with (`run_metadata`) to
    ``art.provenance(notebook)`` and show it as JSON, which the pipeline reads back from the
    executed notebook to say whether its outputs came from the current library code."""
    record = {**run_metadata(cfg), "notebook": notebook}
    path = write_json(art.provenance(notebook), record)
    text = (f"{notebook}: profile {record['profile']}, distill_utils {record['distill_utils_sha']}, "
            f"recorded in {display_path(path)}")
    display({PROVENANCE_MIME: record, "text/plain": text}, raw=True)
    return record
