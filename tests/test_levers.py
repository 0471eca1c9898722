"""Compression levers: every setting scored and timed against the teacher, or reported as skipped."""
import pandas as pd
import pytest

from distill_utils import levers
from distill_utils.models import load_pretrained


def test_every_lever_setting_is_scored_and_timed_against_the_teacher(tmp_path):
    pytest.importorskip("onnxruntime")
    teacher, teacher_tokenizer = load_pretrained("tiny-bert-teacher", seed=0)
    student, tokenizer = load_pretrained("tiny-bert-random", seed=0)
    test = pd.DataFrame({"sentence": ["Profit rose .", "Sales fell sharply .", "The company is based in Oulu ."] * 4,
                         "label": [2, 0, 1] * 4})
    table = levers.try_levers(student.eval(), tokenizer, teacher.eval(), teacher_tokenizer, test, tmp_path,
                              calibration_sentences=list(test["sentence"]), threads=2, latency_runs=10,
                              per_round=5)
    rows = table.set_index("name")
    expected = {"teacher", "onnx-int8 dynamic", "onnx-int8 dynamic, 1 thread", "fp32, 1 thread", "fp32, 2 threads",
                *(f"onnx-fp32 {level}" for level in levers.ORT_LEVELS)}
    assert expected <= set(rows.index.dropna())
    measured = table[table["name"].notna()]
    assert measured["accuracy"].between(0, 1).all() and (measured["latency_rounds"] == 2).all()
    assert (measured["speedup_ci_low"] <= measured["speedup_vs_teacher"]).all()
    assert rows.loc["teacher", "speedup_vs_teacher"] == 1.0
    # every graph optimisation level computes the same function: the same answers
    assert rows.loc[[f"onnx-fp32 {level}" for level in levers.ORT_LEVELS], "n_correct"].nunique() == 1
    # static int8 is either measured or reported with its reason
    static = table[(table["name"] == "onnx-int8 static") | (table.get("setting") == "static")]
    assert len(static) == 1


def test_a_setting_that_fails_when_run_is_reported_not_fatal(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    teacher, teacher_tokenizer = load_pretrained("tiny-bert-teacher", seed=0)
    student, tokenizer = load_pretrained("tiny-bert-random", seed=0)
    test = pd.DataFrame({"sentence": ["Profit rose .", "Sales fell sharply ."] * 3, "label": [2, 0] * 3})
    real = levers.onnx_forward

    def broken_static(path, threads, level="all"):
        forward = real(path, threads, level)
        if "static" in str(path):
            def fail(batch):
                raise RuntimeError("Gather index out of data bounds")
            return fail
        return forward

    monkeypatch.setattr(levers, "onnx_forward", broken_static)
    table = levers.try_levers(student.eval(), tokenizer, teacher.eval(), teacher_tokenizer, test, tmp_path,
                              calibration_sentences=list(test["sentence"]), threads=1, latency_runs=10)
    static = table[table["setting"].str.startswith("static")]
    assert len(static) == 1 and static["skipped"].iloc[0] == "RuntimeError: Gather index out of data bounds"
    assert "onnx-int8 static" not in set(table["name"].dropna())  # not timed
    assert table["name"].notna().sum() >= 6  # the other settings still measured


def test_the_lever_student_is_one_of_the_profiles_students():
    from distill_utils.profiles import resolve_config

    cfg = resolve_config("cpu")
    assert levers.choose_lever_student(cfg) == cfg.headline_student
    assert levers.choose_lever_student(cfg, "all-MiniLM-L6-v2") == "all-MiniLM-L6-v2"
    assert levers.choose_lever_student(cfg, "pruned-teacher-4layer") == "pruned-teacher-4layer"  # a compression student
    with pytest.raises(ValueError, match=r"lever_student: 'tiny-bert-random' is not a student of profile cpu; "
                                         r"choose one of distil-mpnet-6layer, "):
        levers.choose_lever_student(cfg, "tiny-bert-random")
