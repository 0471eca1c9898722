"""Every notebook executed by papermill under the smoke profile, then rendered as a book."""
import json
import re
import shutil
from pathlib import Path

import nbformat
import papermill
import pytest

from distill_utils.book import pipeline

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MACHINE_PATH = re.compile(r"(/work|/root|/tmp|/home)/[A-Za-z]")


@pytest.fixture(scope="module")
def smoke_progress():
    """What the smoke run told its terminal (`progress`), line by line."""
    return []


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, phrasebank_dir, monkeypatch_module, smoke_progress):
    monkeypatch_module.setenv("PHRASEBANK_DIR", str(phrasebank_dir))
    base = tmp_path_factory.mktemp("smoke")
    art = base / "artifacts"
    out = base / "executed"
    timings = pipeline.execute("smoke", out / "notebooks", {"artifacts_dir": str(art)},
                               on_progress=smoke_progress.append)
    return out, art, timings


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def outputs(nb):
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            yield index, output


def test_every_notebook_starts_with_a_parameters_cell():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06", "07"]
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
        assert tagged, path.name
        first_code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
                      and "remove-cell" not in c.metadata.get("tags", [])][0]
        assert tagged[0] == first_code, f"{path.name}: parameters must be the first visible code cell"
        assert "profile = None" in nb.cells[tagged[0]].source


def test_smoke_notebooks_execute_without_errors_or_machine_paths(smoke_run):
    out, art, timings = smoke_run
    assert [name for name, _ in timings] == [p.name for p in NOTEBOOKS]
    for path in sorted((out / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for index, output in outputs(nb):
            assert output.output_type != "error", f"{path.name} cell {index}"
            text = json.dumps(output.get("text", "")) + json.dumps(output.get("data", {}).get("text/plain", ""))
            assert not MACHINE_PATH.search(text), f"{path.name} cell {index} prints a machine path"
            assert "Traceback" not in text, f"{path.name} cell {index}"


def test_a_run_says_where_it_is_in_the_terminal_and_never_in_the_pages(smoke_run, smoke_progress):
    out, _, _ = smoke_run
    told = "\n".join(smoke_progress)
    for said in (r"training tiny-bert-random \(kd, seed 42\) \[\d+ runs? done here: \d+ trained, \d+ reused\]",
                 r"  tiny-bert-random \(kd, seed 42\): epoch 1 of \d+, [\d.]+ min per epoch, about [\d.]+ min left",
                 r"trained tiny-bert-random \(kd, seed 42\) in [\d.]+ min \[\d+ runs done here"):
        assert re.search(said, told), said
    for path in sorted((out / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for index, output in outputs(nb):
            text = json.dumps(output.get("text", "")) + json.dumps(output.get("data", {}))
            assert "min left" not in text and "done here" not in text, f"{path.name} cell {index}"


def test_smoke_artifacts_are_handed_on(smoke_run):
    from distill_utils.benchmark import PEAK_BASIS, VARIANTS

    _, art, _ = smoke_run
    bench = json.loads((art / "benchmark.json").read_text())
    records = bench["records"]
    assert sorted(r["variant"] for r in records if r["role"] == "teacher") == sorted(VARIANTS)
    students = {(r["model"], r["variant"]) for r in records if r["role"] == "student"}
    for name in ("tiny-bert-cut", "tiny-bert-random", "tiny-bert-copy"):
        assert {(f"{name} (kd)", v) for v in VARIANTS} <= students  # every variant of a distilled student
        assert (f"{name} (plain)", "fp32") in students  # the control, in fp32
    for record in records:
        if record["skipped"]:
            continue
        for key in ("accuracy", "macro_f1", "parameters", "size_mb", "disk_mb", "latency_ms_median",
                    "latency_ms_p95", "throughput_samples_per_s", "threads", "dtype", "sequence_length",
                    "gflop_per_sample", "gflops_batch32"):
            assert record[key] is not None, key
        # a share of peak only against the ceiling measured for that kernel (torch fp32, bf16)
        assert (record["peak_gflops"] is not None) == (record["variant"] in PEAK_BASIS), record["variant"]
        assert 0 <= record["accuracy"] <= 1 and record["latency_ms_median"] > 0
    assert bench["run"]["profile"] == "smoke" and len(bench["run"]["distill_utils_sha"]) == 16
    # the other seed's students, scored in every variant (kd) or fp32 (plain), untimed
    other = {(r["model"], r["variant"], r["seed"]) for r in bench["seed_accuracy"]}
    assert ("tiny-bert-copy (kd)", "onnx-int8", 1) in other and ("tiny-bert-copy (plain)", "fp32", 1) in other
    assert ("tiny-bert-copy-top (kd)", "onnx-int8", 1) in other  # the compression student, every seed
    pool = json.loads((art / "experiments.json").read_text())["pool"]["modes"][0]  # and on the best recipe
    assert (f"tiny-bert-copy-top ({pool})", "onnx-int8", 1) in other
    assert (f"tiny-bert-copy-top ({pool})", "fp32") in students
    # speed: every measured row has an interval, and each architecture was timed once
    by_name = {(r["model"], r["variant"]): r for r in records if not r["skipped"]}
    for record in by_name.values():
        assert record["latency_ms_ci_low"] <= record["latency_ms_median"] <= record["latency_ms_ci_high"]
        assert record["speedup_ci_low"] <= record["speedup_vs_teacher"] <= record["speedup_ci_high"]
        assert record["cpu"] and isinstance(record["cpu_flags"], list)
    # the cut, the copy (one layer of the tiny teacher each), their controls and the compression
    # student share one architecture: timed once, as the first of them
    first = by_name[("tiny-bert-cut (kd)", "fp32")]
    assert not isinstance(first["timed_as"], str)  # timed itself (None, or NaN from the table)
    for name in ("tiny-bert-cut (plain)", "tiny-bert-copy (kd)", "tiny-bert-copy (plain)", "tiny-bert-copy-top (kd)"):
        assert by_name[(name, "fp32")]["timed_as"] == "tiny-bert-cut (kd) [fp32]", name
        assert by_name[(name, "fp32")]["latency_ms_median"] == first["latency_ms_median"]
    assert not isinstance(by_name[("tiny-bert-random (kd)", "fp32")]["timed_as"], str)  # another shape


def test_benchmark_command_line_prints_every_model_with_intervals(smoke_run, capsys):
    from distill_utils import benchmark

    _, art, _ = smoke_run
    benchmark.main(["--profile", "smoke", "--artifacts-dir", str(art), "--variants", "fp32",
                    "--latency-runs", "10"])
    printed = capsys.readouterr().out
    assert "tiny-bert-copy-top (kd)" in printed and "tiny-bert-copy (plain)" in printed
    assert "speedup_ci_low" in printed and "timed_as" in printed and "cpu=" in printed


def test_smoke_results_summary_spans_every_seed(smoke_run):
    from distill_utils.book.results import load_results

    _, art, _ = smoke_run
    summary = load_results(art / "results.json")
    assert summary["run"]["profile"] == "smoke" and summary["run"]["seeds"] == [42, 1]
    students = [m for m in summary["models"] if m["role"] == "student" and not m.get("skipped")]
    assert students and all(m["seeds"] == [1, 42] for m in students)
    assert all(m["accuracy"]["std"] is not None for m in students)
    assert {(c["model"], c["a"], c["b"]) for c in summary["comparisons"]} >= {("tiny-bert-copy", "kd", "plain")}
    assert summary["goals"] == []  # the smoke profile aims at no targets
    mode = summary["pool"]["modes"][0]  # the best recipe, against its plain control
    assert {("tiny-bert-random", mode, "plain"), ("tiny-bert-copy-top", mode, "kd")} <= {
        (c["model"], c["a"], c["b"]) for c in summary["comparisons"]}
    assert summary["ensemble"]["seeds"] == [42, 1] and summary["pool"]["schedule"] in ("equal steps", "equal epochs")


def test_chapter6_states_chapter4s_holm_p_for_every_pair(smoke_run):
    from distill_utils.book.results import load_results

    _, art, _ = smoke_run
    chapter4 = json.loads((art / "experiments.json").read_text())["tests"]
    summary = load_results(art / "results.json")
    by_pair = {(t["model"], t["a"], t["b"]): t for t in chapter4}
    assert summary["comparisons"] and {t["experiment"] for t in chapter4} == {"students", "budget", "pool"}
    for test in summary["comparisons"]:
        chapter4_test = by_pair[(test["model"], test["a"], test["b"])]
        assert (test["holm_p"], test["ece_holm_p"]) == (chapter4_test["holm_p"], chapter4_test["ece_holm_p"])
    # the family is every test of chapter 4, not the student pairs alone
    assert len(chapter4) > len(summary["comparisons"])


def test_papermill_parameter_overrides_the_profile(smoke_run, tmp_path):
    _, art, _ = smoke_run
    papermill.execute_notebook(
        str(REPO / "notebooks" / "04_student_training.ipynb"), str(tmp_path / "04.ipynb"),
        parameters={"profile": "smoke", "artifacts_dir": str(art), "temperature": 4.0, "alpha": 0.3,
                    "students": "tiny-bert-random", "seeds": "7"},
        cwd=str(REPO / "notebooks"), progress_bar=False, kernel_name="python3")
    record = json.loads((art / "students" / "tiny-bert-random" / "kd-seed7" / "run.json").read_text())
    assert record["temperature"] == 4.0 and record["alpha"] == 0.3 and record["seed"] == 7


def test_papermill_run_directly_refuses_a_parameter_the_notebook_does_not_declare(tmp_path):
    with pytest.raises(papermill.PapermillExecutionError, match="unknown parameter.*tempreature"):
        papermill.execute_notebook(
            str(REPO / "notebooks" / "03_distillation_loss.ipynb"), str(tmp_path / "03.ipynb"),
            parameters={"profile": "smoke", "tempreature": 4, "artifacts_dir": str(tmp_path / "empty")},
            cwd=str(REPO / "notebooks"), progress_bar=False, kernel_name="python3")


def test_notebook_without_its_inputs_names_the_one_to_run_first(tmp_path, phrasebank_dir):
    with pytest.raises(papermill.PapermillExecutionError, match="run notebooks/01_dataset_exploration.ipynb first"):
        papermill.execute_notebook(
            str(REPO / "notebooks" / "02_teacher_finetuning.ipynb"), str(tmp_path / "02.ipynb"),
            parameters={"profile": "smoke", "artifacts_dir": str(tmp_path / "empty")},
            cwd=str(REPO / "notebooks"), progress_bar=False, kernel_name="python3")


def test_book_builds_without_warnings_from_the_smoke_outputs(smoke_run):
    out, _, _ = smoke_run
    pipeline.stage_book(out)
    html = pipeline.build_book(out)  # -W: any warning fails the build
    for name in [p.stem for p in NOTEBOOKS]:
        page = (html / "notebooks" / f"{name}.html").read_text()
        assert "<img" in page, f"{name} has no figure"
        assert "Traceback" not in page
        assert "<progress" not in page and " it/s]" not in page, f"{name} shows a progress bar"
    # the chapters show the library code they teach (show_source), highlighted by the book
    taught = {"03_distillation_loss": ("soft_target_loss", "distillation_loss"),
              "04_student_training": ("compute_loss", "hidden_state_loss"),
              "05_benchmark": ("run_benchmark", "time_interleaved")}
    for name, functions in taught.items():
        page = (html / "notebooks" / f"{name}.html").read_text()
        for function in functions:
            assert f'<span class="nf">{function}</span>' in page, f"{name} does not show {function}"
    assert (html / "_static" / "mathjax" / "tex-chtml.js").is_file()  # equations render offline
    assert "cdn.jsdelivr.net/npm/mathjax" not in (html / "notebooks" / "03_distillation_loss.html").read_text()
    shutil.rmtree(out / "_build", ignore_errors=True)


def test_validation_sweep_tool_reports_validation_only(smoke_run, tmp_path):
    import os
    import subprocess
    import sys

    _, art, _ = smoke_run
    out = tmp_path / "sweep.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "tools" / "sweep_validation.py"), "--profile", "smoke",
         "--student", "tiny-bert-copy", "--alphas", "0.1,0.9", "--temperatures", "2", "--epochs", "1",
         "--seed", "7", "--learning-rate", "2e-3", "--artifacts-dir", str(art), "--out", str(out)],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    table = json.loads(out.read_text())
    assert table["student"] == "tiny-bert-copy" and table["epochs"] == 1.0 and table["seeds"] == [7]
    assert table["learning_rate"] == 0.002
    assert [(r["alpha"], r["temperature"]) for r in table["rows"]] == [(0.1, 2.0), (0.9, 2.0), (1.0, None)]
    assert all(set(r) == {"seed", "alpha", "temperature", "val_accuracy", "val_macro_f1", "val_correct", "train_s"}
               for r in table["rows"])
    assert "best on validation: alpha" in done.stdout
    assert "learning rate 0.002, seeds 7" in done.stdout
