"""The reader's own data through the book's recipe: the shipped CSV, the command, its cache and
its refusals."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from distill_utils import distil_csv
from distill_utils.artifacts import WEIGHTS_FILE, Artifacts
from distill_utils.own_data import fewest_rows_per_class, read_labelled_csv, split_labelled
from distill_utils.trainer import save_checkpoint

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "examples" / "bank_requests.csv"
TINY = ["--split-column", "split", "--teacher", "tiny-bert-teacher", "--student", "tiny-bert-random", "--teacher-epochs", "1",
        "--student-epochs", "1", "--max-length", "32"]


def run_command(*args, cwd=REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "distill_utils.distil_csv", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=900)


def template_of(sentence: str) -> str | None:
    """The generator's template a shipped sentence was written from."""
    sys.path.insert(0, str(REPO / "tools"))
    import make_bank_requests

    for templates in make_bank_requests.TEMPLATES.values():
        for template in templates:
            pattern = re.escape(template)
            for slot in ("where", "when", "amount", "who"):
                pattern = pattern.replace(re.escape("{" + slot + "}"), ".+")
            if re.search(pattern, sentence, re.IGNORECASE):
                return template
    return None


def test_the_shipped_csv_passes_every_check_and_keeps_its_own_splits():
    frame, labels = read_labelled_csv(SHIPPED, split_column="split")
    assert labels == ["card", "loan", "transfer"]
    splits = split_labelled(frame, labels, seed=42)
    assert [len(splits[part]) for part in ("train", "validation", "test")] == [315, 45, 90]
    for part in splits.values():
        assert part["label"].value_counts().tolist() == [len(part) // 3] * 3 and "split" not in part
    # no test sentence shares its template with a training one: no phrasing is seen twice
    used = {part: {template_of(sentence) for sentence in rows["sentence"]} for part, rows in splits.items()}
    assert not used["train"] & used["test"] and not used["train"] & used["validation"]
    assert None not in used["train"] | used["test"]
    # without its split column, the same rows split at random, stratified
    plain, _ = read_labelled_csv(SHIPPED)
    assert plain["label"].value_counts().min() >= fewest_rows_per_class()
    assert [len(p) for p in split_labelled(plain, labels, seed=42).values()] == [315, 45, 90]


def test_the_shipped_csv_is_what_its_generator_writes(tmp_path, monkeypatch):
    """The CSV is the project's own, made by tools/make_bank_requests.py: the same file again."""
    sys.path.insert(0, str(REPO / "tools"))
    import make_bank_requests

    monkeypatch.setattr(make_bank_requests, "OUT", tmp_path / "bank_requests.csv")
    make_bank_requests.main()
    assert (tmp_path / "bank_requests.csv").read_bytes() == SHIPPED.read_bytes()


@pytest.mark.slow
def test_the_command_distils_a_csv_end_to_end_and_a_rerun_trains_nothing(tmp_path):
    out = tmp_path / "out"
    first = run_command(SHIPPED, *TINY, "--out", out)
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stderr.count(" training ") == 3  # teacher, distilled, plain
    report = json.loads((out / "report.json").read_text())
    assert set(report["models"]) == {"teacher", "distilled", "plain"}
    for row in report["models"].values():
        low, high = row["interval"]
        assert row["n"] == 90 and low <= row["accuracy"] <= high
        assert row["size_mb"] > 0 and row["latency_ms_median"] > 0
    assert report["settings"]["labels"] == ["card", "loan", "transfer"]
    art = Artifacts(out)
    assert (art.student("tiny-bert-random", "kd", 42) / WEIGHTS_FILE).is_file()
    assert len(list((art.root / "onnx").glob("*/model-int8.onnx"))) == 1
    assert "95% interval over sentences (Wilson)" in (out / "report.md").read_text()
    # interrupted or repeated: every finished run is read back by its key, nothing trains again
    again = run_command(SHIPPED, *TINY, "--out", out, "--no-export")
    assert again.returncode == 0, again.stderr[-3000:]
    assert " training " not in again.stderr and again.stderr.count("reused ") == 3
    assert json.loads((out / "report.json").read_text())["models"]["plain"]["correct"] == \
        report["models"]["plain"]["correct"]
    # one setting changed: only the runs it touches train again (the teacher is kept)
    changed = run_command(SHIPPED, *TINY, "--out", out, "--no-export", "--temperature", "4")
    assert changed.returncode == 0, changed.stderr[-3000:]
    assert changed.stderr.count(" training ") == 1 and "training tiny-bert-random (kd, seed 42)" in changed.stderr


@pytest.mark.parametrize("content, args, message", [
    ("sentence,label\nProfit rose.,up\n", (), r"no column 'text'.*--text-column and --label-column"),
    ("text,label\n" + "a,x\n" * 3, (), r"appear more than once"),
    ("text,label\n" + "".join(f"s{i},{'ab'[i % 2]}\n" for i in range(12)), (),
     r"too few to appear in the training, validation and test splits"),
    ("text,label\ns1,a\ns2,b\n", ("--student", "no-such-model"), r"unknown model 'no-such-model'"),
])
def test_bad_input_is_refused_before_anything_trains(tmp_path, content, args, message):
    path = tmp_path / "mine.csv"
    path.write_text(content)
    done = run_command(path, *args, "--out", tmp_path / "out", cwd=tmp_path)
    assert done.returncode == 2
    assert re.search(message, done.stderr), done.stderr
    assert not (tmp_path / "out").exists()


def test_a_teacher_checkpoint_with_other_labels_is_refused_before_training(tmp_path, capsys):
    from distill_utils.models import load_pretrained

    model, tokenizer = load_pretrained("tiny-bert-random", num_labels=3, seed=0)  # the PhraseBank's labels
    save_checkpoint(model, tokenizer, tmp_path / "teacher", {"model": "tiny-bert-random"})
    status = distil_csv.main([str(SHIPPED), "--teacher-checkpoint", str(tmp_path / "teacher"),
                              "--student", "tiny-bert-random", "--out", str(tmp_path / "out")])
    assert status == 2 and not (tmp_path / "out").exists()
    error = capsys.readouterr().err
    assert "['negative', 'neutral', 'positive'] differ from the data's ['card', 'loan', 'transfer']" in error
