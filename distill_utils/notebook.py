"""Notebook plumbing: quiet, reproducible setup and the provenance each executed notebook records."""
from __future__ import annotations

import logging
import os
import sys
import warnings

import matplotlib.pyplot as plt
from IPython.display import display
from matplotlib.figure import Figure
from myst_nb import glue as myst_glue
from transformers.utils import logging as hf_logging

from ._io import write_json
from .artifacts import display_path
from .plots import set_style
from .provenance import run_metadata

PROVENANCE_MIME = "application/json"


def setup_notebook() -> None:
    """Plot style, and no loader chatter or progress bars in the book."""
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
