"""tools/rekey_runs.py: finished runs carried over to the training-path key, and only those."""
import importlib.util
import json
import os
from pathlib import Path

from distill_utils.artifacts import Artifacts
from distill_utils._io import check_seal, seal_folder, sha_of_key

REPO = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("rekey_runs", REPO / "tools" / "rekey_runs.py")
rekey_runs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rekey_runs)


def write_record(path: Path, key: dict) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    sha = sha_of_key(key)
    path.write_text(json.dumps({"run_key": key, "run_key_sha": sha, "test": {"accuracy": 0.9}}))
    return sha


def test_records_of_the_old_code_get_the_new_key_and_others_stay(tmp_path):
    art = Artifacts(tmp_path)
    old = {"seed": 1, "training_code": "old"}
    unsaved = write_record(art.run_record(sha_of_key(old)), old)  # filed by its sha
    kept_key = {**old, "seed": 2}
    kept = sha_of_key(kept_key)
    write_record(art.run_checkpoint(kept) / "run.json", kept_key)  # kept weights, filed by sha
    (art.run_checkpoint(kept) / "model.safetensors").write_bytes(b"weights")
    saved = art.student("s", "kd", 3) / "run.json"
    write_record(saved, {**old, "seed": 3})
    (saved.parent / "model.safetensors").write_bytes(b"weights")
    seal_folder(saved.parent)  # as every checkpoint is written
    other = {"seed": 4, "training_code": "another"}
    write_record(art.run_record(sha_of_key(other)), other)
    # a teacher seed's record and the logits it kept, which name the run that made them
    seed_key = {"role": "teacher", "seed": 5, "training_code": "old"}
    seed_sha = write_record(art.teacher_seed_record(5), seed_key)
    logits = art.teacher_seed_logits(5)
    logits.write_text(json.dumps({"key": {"run_key_sha": seed_sha, "max_length": 64}, "logits": {"test": [[1, 2, 3]]}}))

    finished = 1_700_000_000  # when the runs finished: the recording's parts are counted from it
    for path in art.run_record_files():
        os.utime(path, (finished, finished))
    assert rekey_runs.rekey(art, "old", "new", dry_run=True) == 4
    assert art.run_record(unsaved).is_file()  # a dry run changes nothing
    assert json.loads(logits.read_text())["key"]["run_key_sha"] == seed_sha
    assert rekey_runs.rekey(art, "old", "new", dry_run=False) == 4
    new_seed_sha = json.loads(art.teacher_seed_record(5).read_text())["run_key_sha"]
    assert new_seed_sha == sha_of_key({**seed_key, "training_code": "new"})
    assert json.loads(logits.read_text()) == {"key": {"run_key_sha": new_seed_sha, "max_length": 64},
                                              "logits": {"test": [[1, 2, 3]]}}  # found by its seed's new key
    assert {path.stat().st_mtime for path in art.run_record_files()} == {finished}  # re-keyed, not re-run

    new = {"seed": 1, "training_code": "new"}
    moved = json.loads(art.run_record(sha_of_key(new)).read_text())
    assert moved["run_key"] == new and moved["run_key_sha"] == sha_of_key(new)
    assert not art.run_record(unsaved).exists()
    new_kept = art.run_checkpoint(sha_of_key({**kept_key, "training_code": "new"}))
    assert (new_kept / "model.safetensors").read_bytes() == b"weights"
    assert json.loads(saved.read_text())["run_key"]["training_code"] == "new"
    check_seal(saved.parent)  # its record changed, and its seal with it: still a sound checkpoint
    # a record of other code is left as it was
    assert json.loads(art.run_record(sha_of_key(other)).read_text())["run_key"] == other


def test_a_changed_definition_is_named():
    then = {"distillation_loss": ["a"], "train_student": ["b"]}
    now = {"distillation_loss": ["a'"], "train_student": ["b"], "new_helper": ["c"]}
    assert rekey_runs.path_differences(then, now) == ["distillation_loss", "new_helper"]


def test_runs_trained_before_the_stamp_get_the_part_the_recording_inferred(tmp_path):
    from distill_utils.record import recording

    minute, hour = 60.0, 3600.0
    infer = rekey_runs.inferred_parts
    # three runs of 10 minutes back to back, a night's pause, two more: two parts
    finished = [0, 11 * minute, 22 * minute, 22 * minute + 8 * hour, 22 * minute + 8 * hour + 11 * minute]
    assert len(set(infer(finished, [10 * minute] * 5))) == 2
    assert infer([], []) == []
    assert len(set(infer([0, 3700], [60, 3600]))) == 1  # an hour's run is not a pause
    # noted parts tell apart what pauses alone cannot (a hole in the runs looks like a pause)
    finished, seconds = [0.1 * hour, 1.0 * hour, 10.2 * hour], [300.0] * 3
    assert len(set(infer(finished, seconds))) == 3
    assert infer(finished, seconds, [0.0, 10 * hour]) == [0.0, 0.0, 10 * hour]
    assert len(set(infer([0.0] + finished, [300.0] + seconds, [0.05 * hour]))) == 2  # one run before any note
    try:
        infer([0], [])
    except ValueError:
        pass
    else:
        raise AssertionError("mismatched lists were accepted")

    art = Artifacts(tmp_path)
    recording.start_part(art, started=1_000_000.0)
    unsaved = art.run_record("a")
    write_record(unsaved, {"seed": 1})
    os.utime(unsaved, (1_000_100, 1_000_100))
    saved = art.student("s", "kd", 3) / "run.json"
    write_record(saved, {"seed": 3})
    (saved.parent / "model.safetensors").write_bytes(b"weights")
    seal_folder(saved.parent)
    os.utime(saved, (999_000, 999_000))  # before any noted part
    assert rekey_runs.stamp_parts(art, dry_run=True) == 2
    assert recording.PART_FIELD not in json.loads(unsaved.read_text())
    assert rekey_runs.stamp_parts(art, dry_run=False) == 2
    assert json.loads(unsaved.read_text())[recording.PART_FIELD] == 1_000_000.0
    assert recording.PART_FIELD in json.loads(saved.read_text())
    check_seal(saved.parent)
    assert rekey_runs.stamp_parts(art, dry_run=False) == 0  # stamped once
