"""The reader's own data through the book's recipe: the shipped CSV, the command, its cache and
its refusals."""
import importlib.util
import json
import os
import re
import socket
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


def run_command(*args, cwd=REPO, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "distill_utils.distil_csv", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=900, env=env)


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
    assert "training tiny-bert-teacher (teacher, seed 42)" in first.stderr  # named as what it is
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


@pytest.mark.slow
def test_the_recipe_listing_runs_as_a_script_of_the_readers_own(tmp_path):
    """Chapter 7's listing, copied into a file of the reader's own, runs on the shipped CSV."""
    script = tmp_path / "my_recipe.py"
    script.write_text((REPO / "distill_utils" / "recipe.py").read_text())
    done = subprocess.run([sys.executable, str(script), str(SHIPPED), "tiny-bert-teacher", "tiny-bert-random"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    scores = {line.split(":")[0]: line for line in done.stdout.splitlines() if ": " in line}
    for name in ("teacher", "distilled", "plain"):
        assert re.fullmatch(rf"{name}: \d+ of 90 correct, 95% interval [\d.]+% to [\d.]+%", scores[name])
    assert re.fullmatch(r"distilled vs plain \(exact McNemar\): p = [01]\.\d{3}", scores["distilled vs plain (exact McNemar)"])


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


# -- a dataset on the Hub, through the same checks: served by the Hub stand-in on loopback --

def hub_standin():
    spec = importlib.util.spec_from_file_location("hub_standin", REPO / "tools" / "hub_standin.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def hub_env(url: str, tmp_path: Path) -> dict:
    """A child process that reaches the Hub at ``url`` (the Hub client reads it at import)."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_OFFLINE")}
    return {**env, "HF_ENDPOINT": url, "HF_HOME": str(tmp_path / "hf-home")}


@pytest.fixture
def hub_datasets(tmp_path):
    """Two dataset repositories: the shipped CSV as its three split files (string labels), and a
    parquet one with a class-label column whose names are not in sorted order and a test split
    without labels (-1), as some benchmarks ship theirs."""
    import datasets
    import pandas as pd

    root = tmp_path / "hub"
    rows = pd.read_csv(SHIPPED)
    folder = root / "datasets" / "standin" / "bank_requests" / "data"
    folder.mkdir(parents=True)
    for part in ("train", "validation", "test"):
        rows[rows["split"] == part][["text", "label"]].to_csv(folder / f"{part}.csv", index=False)
    names = ["transfer", "card", "loan"]
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=names)})
    folder = root / "datasets" / "standin" / "coded_requests" / "data"
    folder.mkdir(parents=True)
    train = rows[rows["split"] == "train"]
    datasets.Dataset.from_dict({"text": train["text"].tolist(), "label": [names.index(x) for x in train["label"]]},
                               features=features).to_parquet(folder / "train-00000-of-00001.parquet")
    datasets.Dataset.from_dict({"text": ["an unlabelled request"] * 1 + ["another one"], "label": [-1, -1]},
                               features=features).to_parquet(folder / "test-00000-of-00001.parquet")
    with hub_standin().HubStandin(root) as hub:
        yield hub_env(hub.url, tmp_path)


def load_in_child(env: dict, name: str, **columns) -> dict:
    """`load_hub_dataset` in a fresh process (the Hub client takes HF_ENDPOINT at import)."""
    code = ("import json, sys; from distill_utils.own_data import load_hub_dataset, DataError\n"
            "try:\n"
            f"    frame, labels = load_hub_dataset({name!r}, **{columns!r})\n"
            "except DataError as error:\n"
            "    print(json.dumps({'error': str(error)})); sys.exit(0)\n"
            "print(json.dumps({'labels': labels, 'rows': len(frame), 'columns': list(frame.columns),\n"
            "                  'splits': frame['split'].value_counts().to_dict() if 'split' in frame else None}))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_hub_dataset_is_read_and_checked_like_a_csv(hub_datasets):
    env = hub_datasets
    # all three splits on the Hub: kept as the dataset gives them
    kept = load_in_child(env, "standin/bank_requests")
    assert kept["labels"] == ["card", "loan", "transfer"] and kept["rows"] == 450
    assert kept["splits"] == {"train": 315, "validation": 45, "test": 90}
    # a class-label column keeps the dataset's names in its order; the unlabelled test split is
    # left out, and the labelled rows are pooled for a stratified split
    coded = load_in_child(env, "standin/coded_requests")
    assert coded["labels"] == ["transfer", "card", "loan"] and coded["rows"] == 315 and coded["splits"] is None
    # a column the dataset lacks is named, with the columns it has and the flag that fixes it
    wrong = load_in_child(env, "standin/bank_requests", text_column="sentence")
    assert "has no column 'sentence'; its columns are 'text', 'label'" in wrong["error"]
    assert "--text-column" in wrong["error"]
    missing = load_in_child(env, "standin/no_such_dataset")
    assert "did not load" in missing["error"] and "check its name on the Hub" in missing["error"]


def test_an_unreachable_hub_is_named_with_the_csv_fix(tmp_path):
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    done = run_command("--dataset", "standin/bank_requests", "--out", tmp_path / "out",
                       env=hub_env(f"http://127.0.0.1:{port}", tmp_path))
    assert done.returncode == 2 and "cannot be reached from here" in done.stderr, done.stderr[-2000:]
    assert "give the CSV instead" in done.stderr and not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, message", [
    ((), "give a CSV or --dataset NAME"),
    ((str(SHIPPED), "--dataset", "standin/bank_requests"), "give a CSV or --dataset NAME"),
    (("--dataset", "standin/bank_requests", "--split-column", "split"), "--split-column is for a CSV"),
])
def test_the_data_is_named_once(args, message, tmp_path):
    done = run_command(*args, "--out", tmp_path / "out")
    assert done.returncode == 2 and message in done.stderr, done.stderr[-2000:]


@pytest.mark.slow
def test_the_command_distils_a_hub_dataset_end_to_end(hub_datasets, tmp_path):
    out = tmp_path / "out"
    tiny = [arg for arg in TINY if arg not in ("--split-column", "split")]
    done = run_command("--dataset", "standin/bank_requests", *tiny, "--out", out, "--no-export", env=hub_datasets)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["settings"]["data"] == "standin/bank_requests"
    assert report["settings"]["split_sizes"] == {"train": 315, "validation": 45, "test": 90}
    assert report["models"]["distilled"]["n"] == 90
    assert "on standin/bank_requests" in (out / "report.md").read_text()
