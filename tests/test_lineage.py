"""Lineage: every artifact names what made it, and every reader refuses one made from something
that is no longer there (issue rows 2b, 14e, 1c, 14d)."""
import json

import pandas as pd
import pytest

from distill_utils import lineage
from distill_utils._io import seal_folder
from distill_utils.data import save_splits
from distill_utils.run_spec import frame_fingerprint
from distill_utils.artifacts import Artifacts, checkpoint_fingerprint


def checkpoint(directory, weights: bytes, record: dict):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.safetensors").write_bytes(weights)
    (directory / "run.json").write_text(json.dumps(record))
    seal_folder(directory)  # as atomic_path seals every folder it writes
    return directory


@pytest.fixture
def art(tmp_path):
    art = Artifacts(tmp_path)
    checkpoint(art.teacher, b"teacher v1", {"role": "teacher", "model": "tiny-bert-teacher", "seed": 42})
    checkpoint(art.student("tiny-bert-cut", "kd", 42), b"student v1",
               {"role": "student", "model": "tiny-bert-cut", "mode": "kd", "seed": 42, "alpha": 0.5,
                "temperature": 2.0})
    return art


def bench_rows(art):
    return {"records": [{"model": "tiny-bert-teacher", "base_model": "tiny-bert-teacher", "role": "teacher",
                         "mode": "teacher", "variant": "fp32", "seed": 42, "skipped": None,
                         "weights_sha256": checkpoint_fingerprint(art.teacher)}],
            "seed_accuracy": [{"model": "tiny-bert-cut (kd)", "base_model": "tiny-bert-cut", "role": "student",
                               "mode": "kd", "variant": "onnx-int8", "seed": 42, "skipped": None,
                               "weights_sha256": checkpoint_fingerprint(art.student("tiny-bert-cut", "kd", 42))}]}


def test_a_benchmark_of_weights_that_are_gone_is_refused(art):
    bench = bench_rows(art)
    lineage.check_benchmark(art, bench)  # measured on the weights there now: accepted
    # the student was retrained since (row 2b: another teacher; row 14e: another alpha and T)
    checkpoint(art.student("tiny-bert-cut", "kd", 42), b"student v2, retrained", {})
    with pytest.raises(lineage.StaleArtifact, match=r"benchmark.json: tiny-bert-cut \(kd\) \[onnx-int8\] \(seed 42\) "
                                                    r"was made from other weights .* re-run notebooks/05_benchmark"):
        lineage.check_benchmark(art, bench)
    bench["seed_accuracy"][0].pop("weights_sha256")  # a benchmark written before rows named their weights
    with pytest.raises(lineage.StaleArtifact, match="does not record which weights"):
        lineage.check_benchmark(art, bench)


def test_reported_loss_settings_must_be_the_runs_own(art):
    record = {"model": "tiny-bert-cut", "mode": "kd", "seed": 42, "alpha": 0.1, "temperature": 1.0}
    lineage.check_loss_settings({"alpha": 0.1, "temperature": 1.0}, [record, {**record, "mode": "plain", "alpha": 1.0}])
    with pytest.raises(lineage.StaleArtifact, match=r"tiny-bert-cut \(kd, seed 42\) was made from other loss "
                                                    r"settings .* re-run notebooks/04_student_training"):
        lineage.check_loss_settings({"alpha": 0.5, "temperature": 2.0}, [record])


def test_runs_on_other_splits_are_refused_by_the_benchmark():
    splits = {name: pd.DataFrame({"sentence": [f"{name} one", f"{name} two"], "label": [0, 1]})
              for name in ("train", "validation", "test")}
    from distill_utils.run_spec import frame_fingerprint

    record = {"model": "s", "mode": "kd", "seed": 42, "run_key": {"test": frame_fingerprint(splits["test"])}}
    lineage.check_splits([record], splits, "the benchmark")
    # row 1c: chapter 1 re-run with another agreement level puts other sentences in the test split
    other = {**splits, "test": pd.DataFrame({"sentence": ["train one"], "label": [0]})}
    with pytest.raises(ValueError, match="the benchmark: s \\(seed 42\\) was trained on other splits"):
        lineage.check_splits([record], other, "the benchmark")


def write_splits(art, label: int = 0):
    frame = pd.DataFrame({"sentence": ["a", "b"], "label": [label, 1]})
    save_splits({"train": frame, "validation": frame, "test": frame}, art.splits)
    return {"train": frame, "validation": frame, "test": frame}


def test_chapter3_refuses_another_profiles_teacher(art):
    write_splits(art)
    assert lineage.check_teacher_is(art, "tiny-bert-teacher")["model"] == "tiny-bert-teacher"
    # row 14d: the ci profile run on the smoke profile's artifacts
    with pytest.raises(lineage.StaleArtifact, match="is tiny-bert-teacher, not this profile's all-mpnet-base-v2: "
                                                    "run notebooks/02_teacher_finetuning.ipynb"):
        lineage.check_teacher_is(art, "all-mpnet-base-v2")


def test_chapter3_refuses_a_teacher_trained_on_other_splits(art):
    """Issue 35: chapter 1 re-run with `-p agreement 75`, then chapter 3 used the teacher trained on
    the earlier splits (it checked the teacher's profile, not its splits)."""
    splits = write_splits(art)
    record = {"role": "teacher", "model": "tiny-bert-teacher", "seed": 42,
              "run_key": {"train": frame_fingerprint(splits["train"]), "test": frame_fingerprint(splits["test"])}}
    checkpoint(art.teacher, b"teacher v1", record)
    assert lineage.check_teacher_is(art, "tiny-bert-teacher")["seed"] == 42
    write_splits(art, label=2)  # chapter 1 again, other settings: other splits
    with pytest.raises(ValueError, match="trained on other splits than chapter 1 wrote last.*02_teacher_finetuning"):
        lineage.check_teacher_is(art, "tiny-bert-teacher")
