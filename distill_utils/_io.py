"""Atomic file and directory writes.

Every artifact a later notebook trusts (checkpoints, cached logits, metrics) is written to a
temporary sibling first and moved into place with one rename, so a run killed mid-write leaves
either the old artifact or nothing, never a half-written file.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator


def sha_of_key(key: dict) -> str:
    """The sha256 a run is filed under: of its key as JSON, fields sorted."""
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()


def sha256_file(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, streamed so large weight files do not load into memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def is_main_process() -> bool:
    """False in the other processes of a multi-process run (`accelerate launch` sets ``RANK``):
    they compute what the main process computes, and only the main process writes it."""
    return int(os.environ.get("RANK", "0")) == 0


def training_processes() -> int:
    """How many processes train together (`accelerate launch` sets ``WORLD_SIZE``; 1 otherwise)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it onto `target` only if the block succeeds.

    Works for files and directories. A failure (or a kill) leaves `target` untouched and the
    temporary path, whose name starts with `.tmp-`, is removed or ignored by every reader; a kill
    between the two renames of a directory replace is undone by `recover` on the next write or read.
    In a process other than the main one (`is_main_process`) the block writes to a scratch folder
    that is thrown away: only the main process writes artifacts and caches.
    """
    target = Path(target)
    if not is_main_process():
        with tempfile.TemporaryDirectory(prefix=".rank-") as scratch:
            yield Path(scratch) / target.name
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    recover(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}-{os.getpid()}-", dir=target.parent))
    tmp_target = tmp / target.name
    try:
        yield tmp_target
        if tmp_target.is_dir():
            seal_folder(tmp_target)
        if target.is_dir() and not target.is_symlink():
            old = target.with_name(f".old-{target.name}-{os.getpid()}")
            os.replace(target, old)
            os.replace(tmp_target, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp_target, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# every folder written through `atomic_path` (a checkpoint among them) holds the sha256 and size of
# each of its files here: a reader can tell a damaged or edited file from the one that was written
SEAL_FILE = "sealed.json"


class DamagedArtifact(ValueError):
    """A file no longer holds what was written (flipped bits, a truncation, an edit)."""


def seal_folder(folder: str | Path) -> None:
    """Write `SEAL_FILE` into ``folder``: every other file's size and sha256."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != SEAL_FILE)
    seal = {str(p.relative_to(folder)): {"bytes": p.stat().st_size, "sha256": sha256_file(p)} for p in files}
    (folder / SEAL_FILE).write_text(json.dumps(seal, indent=1, sort_keys=True) + "\n")


def check_seal(folder: str | Path, sha256=None) -> None:
    """Refuse a folder whose files differ from its seal (size, then sha256; ``sha256(path)`` may be
    a cached hash), or that has none. The error names the folder; the caller adds the fix."""
    folder = Path(folder)
    try:
        seal = json.loads((folder / SEAL_FILE).read_text())
    except (OSError, ValueError):
        raise DamagedArtifact(f"{folder.name}/ carries no readable seal ({SEAL_FILE}): it was not written "
                              "whole by this code") from None
    for name, expected in seal.items():
        path = folder / name
        if not path.is_file() or path.stat().st_size != expected["bytes"]:
            raise DamagedArtifact(f"{folder.name}/{name} is missing or has another size than was written")
        if (sha256 or sha256_file)(path) != expected["sha256"]:
            raise DamagedArtifact(f"{folder.name}/{name} does not hold what was written (its sha256 differs "
                                  "from the seal: damaged or edited)")


def _file_seal_path(path: Path) -> Path:
    return path.with_name(path.name + ".seal.json")


def seal_file(path: str | Path, made_from: str | None) -> str:
    """Write beside ``path`` its size, sha256 and what it was made from; returns the sha256."""
    path = Path(path)
    sha = sha256_file(path)
    write_json(_file_seal_path(path), {"bytes": path.stat().st_size, "sha256": sha, "made_from": made_from})
    return sha


def file_seal(path: str | Path) -> dict | None:
    """The seal written beside ``path`` (`seal_file`), unchecked; None when there is none."""
    try:
        return read_json(_file_seal_path(Path(path)))
    except (OSError, ValueError):
        return None


def sealed_file(path: str | Path, made_from: str | None) -> dict | None:
    """The seal of ``path`` when the file is there as it was written from ``made_from``; None when
    it is missing, half-written (no seal yet) or made from something else: it is to be made again.
    A file whose bytes differ from its seal is refused (`DamagedArtifact`)."""
    path = Path(path)
    seal = file_seal(path)
    if seal is None or not path.is_file() or seal.get("made_from") != made_from:
        return None
    if path.stat().st_size != seal["bytes"] or sha256_file(path) != seal["sha256"]:
        raise DamagedArtifact(f"{path.parent.name}/{path.name} does not hold what was written (its sha256 "
                              "differs from its seal: damaged or edited)")
    return seal


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _dead_writer(path: Path, prefix: str) -> bool:
    """Was ``path`` (``<prefix><pid>[-suffix]``) left by a process that no longer runs?"""
    pid = path.name[len(prefix):].split("-", 1)[0]
    return pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid))


def recover(target: str | Path) -> None:
    """Undo what a writer killed mid-replace left beside ``target``: if the target is gone but its
    complete old copy (``.old-<name>-<pid>``) is there, put it back; then remove the old copies and
    temporary folders (``.tmp-<name>-<pid>-*``) of writers that are no longer running."""
    target = Path(target)
    if not target.parent.is_dir():
        return
    old_prefix, tmp_prefix = f".old-{target.name}-", f".tmp-{target.name}-"
    olds = sorted(target.parent.glob(old_prefix + "*"), key=lambda p: p.stat().st_mtime)
    if olds and not target.exists() and _dead_writer(olds[-1], old_prefix):
        os.replace(olds.pop(), target)
    for stale in olds + list(target.parent.glob(tmp_prefix + "*")):
        prefix = old_prefix if stale.name.startswith(old_prefix) else tmp_prefix
        if _dead_writer(stale, prefix) and stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        elif _dead_writer(stale, prefix):
            stale.unlink(missing_ok=True)


def write_json(path: str | Path, payload: Any) -> Path:
    """Write JSON atomically (sorted keys, so reruns give stable diffs).

    A missing value (NaN, as pandas marks an empty cell) is written as ``null``: ``NaN`` is not
    JSON, and strict readers reject the file. An infinite value is an error, never written.
    """
    path = Path(path)
    try:
        text = json.dumps(as_json(payload), indent=2, sort_keys=True, allow_nan=False)
    except ValueError as error:
        raise ValueError(f"{path.name}: an infinite number cannot be written as JSON; "
                         f"find where it was computed ({error})") from error
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n")
    return path


def _nan_as_null(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _nan_as_null(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_nan_as_null(item) for item in value]
    return value


def as_json(value: Any) -> Any:
    """``value`` as it will read back from a JSON file (tuples become lists, numpy scalars numbers,
    a missing value NaN becomes None), so a record in memory equals the one a later run reads."""
    return _nan_as_null(json.loads(json.dumps(value, default=_json_default)))


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")
