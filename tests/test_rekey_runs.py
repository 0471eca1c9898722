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
