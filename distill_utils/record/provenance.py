"""What made a result: the library code (a hash of its source), the packages, the machine and the
profile's settings. Every executed notebook, the benchmark and the results summary record it, and
the pipeline compares it with the code at hand to say whether a notebook's outputs are current.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
from pathlib import Path

import torch

from ..machine import describe_machine

# set by the pipeline for the notebooks it executes: the -p values of that execution, as JSON
PIPELINE_PARAMETERS_ENV = "DISTILL_PIPELINE_PARAMETERS"

PACKAGES = ("torch", "transformers", "tokenizers", "datasets", "accelerate", "huggingface_hub",
            "scikit-learn", "numpy", "pandas", "papermill")


def library_hash() -> str:
    """sha256 over the source of distill_utils: which library code produced a notebook's outputs."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent.parent  # the whole package, record/ included
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def run_metadata(cfg) -> dict:
    """Profile, parameters, package versions and the library hash, for the record."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    given = os.environ.get(PIPELINE_PARAMETERS_ENV)
    return {"profile": cfg.profile, "parameters": {k: v for k, v in cfg.as_dict().items() if k != "artifacts_dir"},
            "pipeline_parameters": json.loads(given) if given else None,
            "python": platform.python_version(), "packages": versions,
            "distill_utils_sha": library_hash(), "threads": torch.get_num_threads(), "machine": describe_machine()}
