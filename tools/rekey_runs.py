"""Carry finished runs over to the training-path key, when their training path is unchanged.

Until the run key followed the training path (`distill_utils.training_code`), it hashed eight
whole modules (data, subsets, models, losses, trainer, teacher_cache, experiments, runs), so any
edit to them orphaned every run. This tool takes the commit whose code trained the runs, checks
that their key's code hash is that commit's (the old scheme), and that the training path of that
commit is the same as today's, definition by definition. Only then does it write each record's
new key and file it under the new key's sha. Any difference is listed and nothing is changed.

    .venv/bin/python tools/rekey_runs.py --profile cpu --trained-at <commit> [--dry-run]
"""
from __future__ import annotations

import argparse
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from distill_utils._io import read_json, write_json  # noqa: E402
from distill_utils.artifacts import Artifacts  # noqa: E402
from distill_utils.profiles import resolve_config  # noqa: E402
from distill_utils.runs import sha_of_key  # noqa: E402
from distill_utils.training_code import training_code_hash, training_path  # noqa: E402

# the old scheme: sha256 over these whole files, in this order
WHOLE_FILE_MODULES = ("data", "subsets", "models", "losses", "trainer", "teacher_cache", "experiments", "runs")


def whole_file_hash(package_dir: Path) -> str:
    """The training code's hash as the old key computed it."""
    digest = hashlib.sha256()
    for name in WHOLE_FILE_MODULES:
        digest.update((package_dir / f"{name}.py").read_bytes())
    return digest.hexdigest()[:16]


def package_at(commit: str, into: Path) -> Path:
    """distill_utils as it was at ``commit``, unpacked into ``into``."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", commit, "distill_utils"],
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "distill_utils"


def path_differences(then: dict[str, list[str]], now: dict[str, list[str]]) -> list[str]:
    """The definitions on either training path whose normalised source differs."""
    return sorted(name for name in set(then) | set(now) if then.get(name) != now.get(name))


def record_files(art: Artifacts) -> list[Path]:
    """Every file that holds a run record, the teacher seeds' copies included."""
    return art.run_record_files() + sorted(art.teacher_seeds.glob("seed*.json"))


def rekey(art: Artifacts, old_code: str, new_code: str, dry_run: bool) -> int:
    """Give every record keyed by ``old_code`` its key under ``new_code``; the number of records."""
    moved = 0
    for path in record_files(art):
        record = read_json(path)
        key = record.get("run_key") if isinstance(record, dict) else None
        if not isinstance(key, dict) or key.get("training_code") != old_code:
            continue
        old_sha = record["run_key_sha"]
        new_key = {**key, "training_code": new_code}
        new_sha = sha_of_key(new_key)
        moved += 1
        print(f"{path.relative_to(art.root)}: {old_sha[:12]} -> {new_sha[:12]}")
        if dry_run:
            continue
        write_json(path, {**record, "run_key": new_key, "run_key_sha": new_sha})
        if path == art.run_record(old_sha):  # a record filed by its sha
            os.replace(path, art.run_record(new_sha))
        elif path.parent == art.run_checkpoint(old_sha):  # kept weights, filed by their sha
            os.replace(path.parent, art.run_checkpoint(new_sha))
    return moved


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--artifacts-dir", default=None)
    parser.add_argument("--trained-at", required=True, help="the commit whose code trained the runs")
    parser.add_argument("--dry-run", action="store_true", help="list what would change, change nothing")
    args = parser.parse_args(argv)
    art = Artifacts.of(resolve_config(args.profile, artifacts_dir=args.artifacts_dir))
    with tempfile.TemporaryDirectory() as scratch:
        then = package_at(args.trained_at, Path(scratch))
        old_code = whole_file_hash(then)
        differences = path_differences(training_path(then), training_path())
        new_code = training_code_hash()
    if differences:
        print(f"The training path changed since {args.trained_at}; nothing re-keyed. Definitions that "
              f"differ: {', '.join(differences)}. Those runs must train again (make reference).")
        return 1
    moved = rekey(art, old_code, new_code, args.dry_run)
    verb = "would be re-keyed" if args.dry_run else "re-keyed"
    print(f"{moved} record(s) of {args.trained_at} (code {old_code}) {verb} to the training-path key "
          f"(code {new_code}); the training path is unchanged, definition by definition")
    return 0 if moved else 1


if __name__ == "__main__":
    sys.exit(main())
