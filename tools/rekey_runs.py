"""Carry finished runs over to the training-path key, when their training path is unchanged.

Until the run key followed the training path (`distill_utils.record.training_code`), it hashed eight
whole modules (data, subsets, models, losses, trainer, teacher_cache, experiments, runs), so any
edit to them orphaned every run. This tool takes the commit whose code trained the runs, checks
that their key's code hash is that commit's (the old whole-file scheme or the training path), and
that the training path of that commit is the same as today's, definition by definition. Only then does it write each record's
new key and file it under the new key's sha. Any difference is listed and nothing is changed.

A refactor of the training path (the same computation, written differently) shows as a
difference. ``--verify`` then asks the machine instead of the text: it trains the cheapest
recorded runs again with today's code (the budget curve's runs at its smallest fraction, first
seed: every mode, so the plain, distilled and per-sentence losses all run) and re-keys only if
their test predictions are bit-identical to the recorded ones. Training is deterministic on one
CPU model, so this holds exactly when the computation is unchanged; run it on the CPU model that
trained the runs.

    .venv/bin/python tools/rekey_runs.py --profile cpu --trained-at <commit> [--dry-run] [--verify]

Runs trained before the run cache stamped each record with its part of the recording
(`distill_utils.record.recording`) get that stamp as the recording used to tell the parts apart
(``--stamp-parts``): from when each run finished, the parts noted in ``parts.json``, and pauses.

    .venv/bin/python tools/rekey_runs.py --profile cpu --stamp-parts [--dry-run]
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from distill_utils._io import SEAL_FILE, read_json, seal_folder, sha_of_key, write_json  # noqa: E402
from distill_utils.artifacts import Artifacts  # noqa: E402
from distill_utils.data import read_splits  # noqa: E402
from distill_utils.budget import BUDGET_MODES, train_budget_curve  # noqa: E402
from distill_utils.experiments import fine_tune_teacher, train_student  # noqa: E402
from distill_utils.losses import PLAIN, LossSettings  # noqa: E402
from distill_utils.profiles import resolve_config  # noqa: E402
from distill_utils.record.recording import PART_FIELD, read_parts  # noqa: E402
from distill_utils.record.runs import cached_artifacts  # noqa: E402
from distill_utils.subsets import unseen_pool  # noqa: E402
from distill_utils.teacher_cache import cache_teacher_logits  # noqa: E402
from distill_utils.record.training_code import training_code_hash, training_path  # noqa: E402

# between two runs of one part: loading the next model, evaluating, caching the teacher's outputs,
# timing the training cost; a longer pause than this (beyond the run's own training) was a new part
PART_GAP_SLACK_S = 15 * 60

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


def code_hash_at(package: Path) -> str:
    """The training code's hash as that package's own `training_code` module computed it (the
    module moved into ``record/``; its rules of what the path follows changed with it)."""
    for relative in ("record/training_code.py", "training_code.py"):
        path = package / relative
        if path.is_file():
            spec = importlib.util.spec_from_file_location("training_code_then", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module.training_code_hash()
    raise SystemExit(f"no training_code module in {package}: is that commit older than the training-path key?")


def path_differences(then: dict[str, list[str]], now: dict[str, list[str]]) -> list[str]:
    """The definitions on either training path whose normalised source differs."""
    return sorted(name for name in set(then) | set(now) if then.get(name) != now.get(name))


def record_files(art: Artifacts) -> list[Path]:
    """Every file that holds a run record, the teacher seeds' copies included."""
    return art.run_record_files() + sorted(art.teacher_seeds.glob("seed*.json"))


def recorded_code(art: Artifacts, candidates: set[str]) -> str:
    """Which of the commit's code hashes (the old whole-file one, or its training-path one) the
    records carry: the tool carries runs over from either scheme."""
    found = {(read_json(path).get("run_key") or {}).get("training_code") for path in record_files(art)}
    matches = sorted(candidates & found)
    if not matches:
        raise SystemExit(f"no run record in {art.root} was trained by that commit's code "
                         f"({' or '.join(sorted(candidates))}); check --trained-at")
    return matches[0]


def kept_logit_files(art: Artifacts) -> list[Path]:
    """The teacher seeds' kept logits: each names the run it was computed by (its key's sha)."""
    return sorted(art.teacher_seeds.glob("logits-seed*.json"))


def rekey(art: Artifacts, old_code: str, new_code: str, dry_run: bool) -> int:
    """Give every record keyed by ``old_code`` its key under ``new_code``, and the teacher seeds'
    kept logits the new sha of the run that made them; the number of records."""
    moved, new_sha_of = 0, {}
    for path in record_files(art):
        record = read_json(path)
        key = record.get("run_key") if isinstance(record, dict) else None
        if not isinstance(key, dict) or key.get("training_code") != old_code:
            continue
        old_sha = record["run_key_sha"]
        new_key = {**key, "training_code": new_code}
        new_sha = sha_of_key(new_key)
        new_sha_of[old_sha] = new_sha
        moved += 1
        print(f"{path.relative_to(art.root)}: {old_sha[:12]} -> {new_sha[:12]}")
        if dry_run:
            continue
        finished = path.stat()  # a record's time is when its run finished (`recording`): kept
        write_json(path, {**record, "run_key": new_key, "run_key_sha": new_sha})
        os.utime(path, ns=(finished.st_atime_ns, finished.st_mtime_ns))
        if (path.parent / SEAL_FILE).is_file():  # a checkpoint's record changed: sealed again
            seal_folder(path.parent)
        if path == art.run_record(old_sha):  # a record filed by its sha
            os.replace(path, art.run_record(new_sha))
        elif path.parent == art.run_checkpoint(old_sha):  # kept weights, filed by their sha
            os.replace(path.parent, art.run_checkpoint(new_sha))
    for path in kept_logit_files(art):
        kept = read_json(path)
        made_by = (kept.get("key") or {}).get("run_key_sha") if isinstance(kept, dict) else None
        if made_by not in new_sha_of:
            continue
        print(f"{path.relative_to(art.root)}: made by {made_by[:12]} -> {new_sha_of[made_by][:12]}")
        if not dry_run:
            write_json(path, {**kept, "key": {**kept["key"], "run_key_sha": new_sha_of[made_by]}})
    return moved


def inferred_parts(finished: list[float], train_seconds: list[float], starts: list[float] = (),
                   slack_s: float = PART_GAP_SLACK_S) -> list[float]:
    """The part each run that finished at ``finished`` (seconds, ascending) was trained in, when it
    was not stamped: the last noted part that began before it finished (``starts``); before any
    noted part, a new part (named by when its first run began) wherever a run finished later after
    the previous one than its own training time plus ``slack_s``."""
    if len(finished) != len(train_seconds):
        raise ValueError(f"{len(finished)} finishing times but {len(train_seconds)} training times")
    starts, parts, previous = sorted(starts), [], None
    for done, seconds in zip(finished, train_seconds):
        noted = [start for start in starts if start <= done]
        if noted:
            parts.append(noted[-1])
            continue
        if previous is None or done - previous > seconds + slack_s:
            first = done - seconds
        parts.append(first)
        previous = done
    return parts


def stamp_parts(art: Artifacts, dry_run: bool) -> int:
    """Stamp every run record that has no part with the part `inferred_parts` gives it; the number
    of records stamped."""
    unstamped = []
    for path in art.run_record_files():
        try:
            record = read_json(path)
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and isinstance(record.get("run_key"), dict) and PART_FIELD not in record:
            unstamped.append((path.stat().st_mtime, path, record))
    unstamped.sort(key=lambda run: run[0])
    parts = inferred_parts([finished for finished, _, _ in unstamped],
                           [float(sum(record.get("epoch_seconds") or [])) for _, _, record in unstamped],
                           [part["started"] for part in read_parts(art)])
    for (_, path, record), part in zip(unstamped, parts):
        print(f"{path.relative_to(art.root)}: part that began at {part:.0f}")
        if not dry_run:
            write_json(path, {**record, PART_FIELD: part})
            if (path.parent / SEAL_FILE).is_file():  # a checkpoint's record changed: sealed again
                seal_folder(path.parent)
    return len(unstamped)


def verify_by_retraining(cfg, art: Artifacts, old_code: str) -> list[str]:
    """Train the budget curve's runs at its smallest fraction and first seed again with today's
    code; the modes whose test predictions differ from their record of ``old_code`` (none: the
    computation is unchanged)."""
    recorded = {}
    for path in record_files(art):
        record = read_json(path)
        extra = (record.get("run_key") or {}).get("extra") or {}
        if record.get("run_key", {}).get("training_code") == old_code and "budget_mode" in extra:
            recorded[(extra["budget_fraction"], extra["budget_mode"], record["seed"])] = record
    fraction, seed = min(cfg.budget_fractions), cfg.budget_seeds[0]
    wanted = {mode: recorded.get((fraction, mode, seed)) for mode in BUDGET_MODES}
    missing = [mode for mode, record in wanted.items() if record is None]
    if len(missing) == len(BUDGET_MODES):  # a recording that has not reached the budget curve yet
        return verify_teacher_and_sweep(cfg, art, old_code)
    if missing:
        raise SystemExit(f"--verify needs the recorded budget runs at {100 * fraction:g}%, seed {seed}: "
                         f"{', '.join(missing)} missing in {art.root}")
    splits = read_splits(art.require_splits())
    pool = unseen_pool(splits, limit=cfg.pool_limit)
    logits = cache_teacher_logits(art, {"train": splits["train"], "pool": pool}, cfg.max_length)
    distilled = wanted["distilled"]["run_key"]  # the curve's loss settings, as its runs were given them
    loss = LossSettings(distilled["alpha"], distilled["temperature"])
    # the budget curve itself, cut down to that one fraction and seed: every mode, trained again
    one_point = cfg.replace(budget_fractions=(fraction,), budget_seeds=(seed,))
    differ = []
    for new in train_budget_curve(one_point, art, splits, logits["train"], pool, logits["pool"], loss=loss):
        mode = new["run_key"]["extra"]["budget_mode"]
        same = new["test_logits"] == wanted[mode]["test_logits"]
        print(f"{mode} @ {100 * fraction:g}%, seed {seed}: predictions {'identical' if same else 'DIFFER'}")
        if not same:
            differ.append(mode)
    return differ


def verify_teacher_and_sweep(cfg, art: Artifacts, old_code: str) -> list[str]:
    """For a recording that holds teacher seeds and sweep points only: train again with today's
    code one teacher seed other than the saved one, and the first seed's plain and distilled sweep
    points (the teacher's, the plain and the distilled losses all run); the runs whose test
    predictions differ from their records of ``old_code``."""
    records = [read_json(path) for path in record_files(art)]
    records = [r for r in records if isinstance(r, dict) and (r.get("run_key") or {}).get("training_code") == old_code]
    teachers = sorted((r for r in records if r.get("role") == "teacher" and r["seed"] != cfg.teacher_seeds[0]),
                      key=lambda r: r["seed"])
    sweep = {}
    for r in records:
        key = r.get("run_key") or {}
        if r.get("role") == "student" and r.get("model") == cfg.sweep_student and key.get("extra") is None \
                and key.get("epochs") == cfg.sweep_epochs and r.get("mode") in ("plain", "kd"):
            sweep.setdefault(r["mode"], r)
    if not teachers and not sweep:
        raise SystemExit(f"--verify found no recorded teacher seed, sweep point or budget run of {old_code} "
                         f"in {art.root}")
    splits = read_splits(art.require_splits())
    plain_art = Artifacts(art.root)  # no run cache: today's code trains, nothing is read back or saved
    checks = []
    if teachers:
        with tempfile.TemporaryDirectory() as scratch:
            new = fine_tune_teacher(cfg, Artifacts(scratch), splits, seed=teachers[0]["seed"])
        checks.append((f"teacher seed {teachers[0]['seed']}", new, teachers[0]))
    if sweep:
        logits = cache_teacher_logits(art, {"train": splits["train"]}, cfg.max_length)["train"]
    for mode, old in sweep.items():
        key = old["run_key"]
        loss = PLAIN if mode == "plain" else LossSettings(key["alpha"], key["temperature"])
        new = train_student(cfg, plain_art, cfg.sweep_student, splits, seed=old["seed"], loss=loss,
                            teacher_logits=logits, epochs=cfg.sweep_epochs, save=False)
        checks.append((f"sweep point {mode} (seed {old['seed']})", new, old))
    differ = []
    for name, new, old in checks:
        same = new["test_logits"] == old["test_logits"]
        print(f"{name}: predictions {'identical' if same else 'DIFFER'}")
        if not same:
            differ.append(name)
    return differ


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--artifacts-dir", default=None)
    parser.add_argument("--trained-at", help="the commit whose code trained the runs")
    parser.add_argument("--stamp-parts", action="store_true",
                        help="stamp each run record that has none with its part of the recording, and stop")
    parser.add_argument("--dry-run", action="store_true", help="list what would change, change nothing")
    parser.add_argument("--verify", action="store_true",
                        help="when the path's text differs, retrain the cheapest recorded runs and re-key "
                             "only if their predictions are bit-identical")
    args = parser.parse_args(argv)
    if not args.stamp_parts and args.trained_at is None:
        parser.error("give --trained-at <commit> (or --stamp-parts)")
    cfg = resolve_config(args.profile, artifacts_dir=args.artifacts_dir)
    art = cached_artifacts(Artifacts.of(cfg))
    if args.stamp_parts:
        stamped = stamp_parts(art, args.dry_run)
        print(f"{stamped} run record(s) {'would be ' if args.dry_run else ''}stamped with their part")
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        then = package_at(args.trained_at, Path(scratch))
        old_code = recorded_code(art, {whole_file_hash(then), code_hash_at(then)})
        differences = path_differences(training_path(then), training_path())
        new_code = training_code_hash()
    if differences:
        print(f"The training path's text changed since {args.trained_at}: {', '.join(differences)}")
        if not args.verify:
            print("Nothing re-keyed. If the computation is meant to be the same (a refactor), run again "
                  "with --verify; otherwise those runs must train again (make reference).")
            return 1
        differ = verify_by_retraining(cfg, art, old_code)
        if differ:
            print(f"Nothing re-keyed: {', '.join(differ)} trained to other predictions, so the computation "
                  "changed. Those runs must train again (make reference).")
            return 1
    moved = rekey(art, old_code, new_code, args.dry_run)
    verb = "would be re-keyed" if args.dry_run else "re-keyed"
    why = ("its text changed, and the cheapest recorded runs trained again to bit-identical predictions"
           if differences else "the training path is unchanged, definition by definition")
    print(f"{moved} record(s) of {args.trained_at} (code {old_code}) {verb} to the training-path key "
          f"(code {new_code}): {why}")
    return 0 if moved else 1


if __name__ == "__main__":
    sys.exit(main())
