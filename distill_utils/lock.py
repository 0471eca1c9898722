"""One writer at a time: a lock on an artifacts folder for as long as a pipeline or a launch runs.

Two pipelines on one folder would each exit 0 and leave it mixed (a teacher of one setting, a
seed record of another). The lock is an advisory `fcntl.flock` on ``<artifacts>/.lock``, released
by the operating system when its holder ends, however it ends; the file names the holder (process
id, start time, command) so a second writer is refused with who holds the folder. A notebook
executed by the holder (its kernel is the holder's child) runs; one started beside it is refused.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import time
from pathlib import Path
from typing import Iterator

from ._io import is_main_process

LOCK_FILE = ".lock"


class ArtifactsBusyError(RuntimeError):
    """Another process is writing the artifacts folder."""


def _holder(path: Path) -> dict:
    try:
        return json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}


def _busy(root: Path, holder: dict) -> ArtifactsBusyError:
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder["started"])) \
        if "started" in holder else "an unknown time"
    return ArtifactsBusyError(
        f"the artifacts folder {root.name}/ is being written by process {holder.get('pid', '?')} "
        f"(started {started}: {holder.get('command', 'unknown command')}); wait for it to end, or give "
        "this run another artifacts_dir. Two writers at once would leave the folder mixed")


def _ancestors() -> set[int]:
    """This process and the processes that started it (a notebook kernel's pipeline among them)."""
    pids, pid = {os.getpid()}, os.getppid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            pid = int(fields[1])
        except (OSError, IndexError, ValueError):
            break
    return pids


@contextlib.contextmanager
def hold_artifacts(root: str | os.PathLike) -> Iterator[None]:
    """Hold the lock on ``root`` for the block, or refuse at once, naming its holder."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_FILE
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _busy(root, _holder(path)) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "started": time.time(),
                                 "command": " ".join(Path(sys.argv[0]).name.split() + sys.argv[1:])[:200]}))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def check_not_held_by_another(root: str | os.PathLike) -> None:
    """Refuse to write ``root`` while a process other than this one's own starters holds it. The
    other processes of a multi-process launch write nothing (`_io.is_main_process`): not checked."""
    path = Path(root) / LOCK_FILE
    if not is_main_process() or not path.is_file():
        return
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(path)
            if holder.get("pid") not in _ancestors():
                raise _busy(Path(root), holder) from None
            return
        fcntl.flock(handle, fcntl.LOCK_UN)
