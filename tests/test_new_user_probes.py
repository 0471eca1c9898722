"""Issue 35: what a new user who makes mistakes runs into. Each probe of the issue that gave a wrong
or stale result without a word, or failed with a raw traceback, has a test here: the mistake is
refused before anything runs, or named with its path and the fix (the data_dir probes are in
test_data, chapter 3's splits in test_lineage)."""
import json
import math
import os
import subprocess
import sys

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from distill_utils.book import pipeline, results
from distill_utils._io import DamagedArtifact, seal_file, write_json
from distill_utils.artifacts import Artifacts
from distill_utils.lock import ArtifactsBusyError, check_not_held_by_another, hold_artifacts
from distill_utils.book.notebook import PROVENANCE_MIME
from distill_utils.parameters import ParameterError, read_parameter
from distill_utils.profiles import resolve_config
from distill_utils.record.runs import cached_run
from distill_utils.trainer import save_checkpoint
from distill_utils.variants import export_onnx, quantize_onnx

NOTEBOOKS = pipeline.repo_root() / "notebooks"


# ---------------------------------------------------------------- typed parameters, read once

@pytest.mark.parametrize("name, value, message", [
    # silent before: "false" is a non-empty string, so Python took it for True
    ("bf16", "false", r"parameter bf16 must be True or False .*got 'false' \(a string: write False\)"),
    # silent before: int(42.1) ran seed 42 alone
    ("seeds", 42.1, r"parameter seeds must be whole numbers separated by commas.*got 42\.1 \(did you mean \"42,1\"\?\)"),
    # unclear before: "'<=' not supported between 'str' and 'int'", an error from scikit-learn,
    # or a failure late inside torch and the Trainer
    ("teacher_epochs", "abc", r"parameter teacher_epochs must be a number, e\.g\. -p teacher_epochs 0\.5; got 'abc'"),
    ("split_seed", "abc", r"parameter split_seed must be a whole number.*got 'abc'"),
    ("threads", 2.5, r"parameter threads must be a whole number.*got 2\.5"),
    ("batch_size", 1.5, r"parameter batch_size must be a whole number.*got 1\.5"),
])
def test_a_value_of_the_wrong_type_is_refused_naming_the_parameter(name, value, message, tmp_path):
    with pytest.raises(ParameterError, match=message):
        resolve_config("smoke", **{name: value})
    # the pipeline refuses it before anything runs
    with pytest.raises(SystemExit, match=message):
        pipeline.execute("smoke", tmp_path / "out", {name: value})
    assert not (tmp_path / "out").exists()


def test_values_of_the_right_type_are_read_as_before():
    cfg = resolve_config("smoke", bf16=False, seeds="42,1", threads=2, batch_size=16.0, teacher_epochs="2")
    assert cfg.bf16 is False and cfg.seeds == (42, 1) and cfg.threads == 2 and cfg.batch_size == 16
    assert cfg.teacher_epochs == 2.0 and read_parameter("seeds", 75) == (75,)
    assert read_parameter("budget_fractions", "0.03,0.1,1") == (0.03, 0.1, 1.0)


def test_a_folder_parameter_is_read_from_where_the_command_was_typed(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    assert read_parameter("data_dir", "data", base=tmp_path) == str(tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    assert read_parameter("artifacts_dir", "new/place") == str(tmp_path / "new" / "place")
    with pytest.raises(SystemExit, match="parameter data_dir: the folder 'elsewhere' does not exist"):
        pipeline.check_parameters({"data_dir": "elsewhere"}, {NOTEBOOKS / "01.ipynb": {"data_dir"}}, base=tmp_path)
    checked = pipeline.check_parameters({"data_dir": "data"}, {NOTEBOOKS / "01.ipynb": {"data_dir"}}, base=tmp_path)
    assert checked == {"data_dir": str(tmp_path / "data")}
    assert pipeline.recorded_parameters(checked) == {"data_dir": "data"}  # no machine path in a notebook


def test_a_relative_phrasebank_dir_is_read_from_where_the_command_was_typed(tmp_path, monkeypatch):
    """The README's `export PHRASEBANK_DIR=../shared/data/financial_phrasebank`: the kernels run in
    notebooks/, so the pipeline hands them the folder as seen from where the command was typed."""
    monkeypatch.setenv("PHRASEBANK_DIR", "../shared/data/financial_phrasebank")
    pipeline.absolute_phrasebank_dir(tmp_path / "clone")
    assert os.environ["PHRASEBANK_DIR"] == str(tmp_path / "clone" / "../shared/data/financial_phrasebank")
    monkeypatch.setenv("PHRASEBANK_DIR", "/data/phrasebank")
    pipeline.absolute_phrasebank_dir(tmp_path)
    assert os.environ["PHRASEBANK_DIR"] == "/data/phrasebank"


# ---------------------------------------------------------------- sealed artifacts

@pytest.fixture
def sealed_checkpoint(tmp_path):
    from distill_utils.models import load_pretrained

    art = Artifacts(tmp_path / "art")
    model, tokenizer = load_pretrained("tiny-bert-random", seed=0)
    directory = art.student("tiny-bert-random", "kd", 42)
    save_checkpoint(model, tokenizer, directory, {"role": "student", "model": "tiny-bert-random",
                                                  "mode": "kd", "seed": 42, "run_key_sha": "k"})
    return art, directory


def flip_byte(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("where", ["weights", "header"])
def test_a_checkpoint_with_flipped_bits_is_named_not_reused(sealed_checkpoint, where):
    """Silent before: flipped bits in model.safetensors were reused and benchmarked (13% against a
    recorded 61%); a damaged header gave a raw SafetensorError with no folder named."""
    art, directory = sealed_checkpoint
    assert art.require_student("tiny-bert-random", "kd", 42) == directory
    weights = directory / "model.safetensors"
    flip_byte(weights, weights.stat().st_size - 10 if where == "weights" else 12)
    message = (r"kd-seed42/model\.safetensors does not hold what was written .*: delete the folder "
               r".*kd-seed42 and re-run notebooks/04_student_training\.ipynb")
    with pytest.raises(DamagedArtifact, match=message):
        art.require_student("tiny-bert-random", "kd", 42)
    with pytest.raises(DamagedArtifact, match=message):
        cached_run(art, "k", directory)


def test_an_onnx_file_with_flipped_bits_is_named_not_reused(tmp_path):
    """Silent before: export_onnx and quantize_onnx returned any file already there."""
    path = tmp_path / "model.onnx"
    path.write_bytes(b"an exported graph" * 100)
    seal_file(path, made_from="weights-sha")
    assert export_onnx(None, None, path, made_from="weights-sha") == path  # whole: reused as it is
    flip_byte(path, 40)
    with pytest.raises(DamagedArtifact, match=r"model\.onnx does not hold what was written .*re-run "
                                              r"notebooks/05_benchmark\.ipynb"):
        export_onnx(None, None, path, made_from="weights-sha")
    int8 = tmp_path / "model.int8.onnx"
    int8.write_bytes(b"quantized" * 100)
    seal_file(int8, made_from=json.loads((tmp_path / "model.onnx.seal.json").read_text())["sha256"])
    flip_byte(int8, 3)
    with pytest.raises(DamagedArtifact, match=r"model\.int8\.onnx does not hold what was written"):
        quantize_onnx(path, int8)


# ---------------------------------------------------------------- one writer at a time

def test_a_second_writer_is_refused_with_the_holders_process_and_start(tmp_path):
    """Unclear before: two pipelines on one folder both exited 0 and left it mixed."""
    root = tmp_path / "artifacts"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import time; from distill_utils.lock import hold_artifacts\n"
         f"with hold_artifacts({str(root)!r}):\n    print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        message = rf"being written by process {holder.pid} \(started .*give this run another artifacts_dir"
        with pytest.raises(ArtifactsBusyError, match=message):
            with hold_artifacts(root):
                pass
        with pytest.raises(ArtifactsBusyError, match=message):  # a notebook started beside the holder
            Artifacts(root).check_writable()
    finally:
        holder.kill()
        holder.wait()
    with hold_artifacts(root):  # released when its holder ends, however it ends
        Artifacts(root).check_writable()


def test_a_child_of_the_holder_may_write(tmp_path):
    root = tmp_path / "artifacts"
    with hold_artifacts(root):
        child = subprocess.run([sys.executable, "-c", "from distill_utils.lock import check_not_held_by_another\n"
                                f"check_not_held_by_another({str(root)!r})"], capture_output=True, text=True)
        assert child.returncode == 0, child.stderr


# ---------------------------------------------------------------- a book from one run only

def test_only_with_no_match_is_refused(tmp_path):
    """Silent before: `--only 99` matched nothing, exited 0 and rebuilt the book from old notebooks."""
    with pytest.raises(SystemExit, match=r"--only 99 matches no notebook; notebooks: 01_dataset"):
        pipeline.select_notebooks(pipeline.repo_root(), ["99"])


def test_only_runs_the_chapters_after_the_one_asked_for_when_a_book_is_built():
    names = lambda paths: [p.name[:2] for p in paths]  # noqa: E731
    root = pipeline.repo_root()
    assert names(pipeline.select_notebooks(root, ["04"])) == ["04", "05", "06", "07"]
    assert names(pipeline.select_notebooks(root, ["04"], downstream=False)) == ["04"]
    assert names(pipeline.select_notebooks(root, None)) == ["01", "02", "03", "04", "05", "06", "07"]


def staged(folder, name, *, parameters=None, profile="smoke", source="alpha = None\n"):
    """A stand-in executed notebook: a parameters cell and the provenance record of its run."""
    params = new_code_cell("# Parameters (papermill: -p name value).\n" + source)
    params.metadata["tags"] = ["parameters"]
    record = new_code_cell('record_provenance(cfg, art, "x")')
    record.outputs = [new_output("display_data", data={
        PROVENANCE_MIME: {"profile": profile, "distill_utils_sha": "x", "pipeline_parameters": parameters},
        "text/plain": "x"})]
    nb = new_notebook(cells=[params, record])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / name)


def test_a_book_of_chapters_executed_with_other_settings_is_refused(tmp_path):
    """Silent before: after a full run, `--only 04 -p alpha 0.5 -p temperature 2` built a book whose
    chapter 4 said alpha 0.5 while chapters 5 and 6 showed the older models."""
    staged(tmp_path, "04_students.ipynb", parameters={"alpha": 0.5})
    staged(tmp_path, "05_benchmark.ipynb", parameters={}, source="seeds = None\n")
    pipeline.check_one_run(tmp_path)  # chapter 5 declares no alpha: one run
    staged(tmp_path, "06_results.ipynb", parameters={})  # declares alpha, executed without it
    with pytest.raises(SystemExit, match=r"different values of alpha \(04_students: 0\.5; 06_results: None"):
        pipeline.check_one_run(tmp_path)
    staged(tmp_path, "06_results.ipynb", parameters={"alpha": 0.5}, profile="ci")
    with pytest.raises(SystemExit, match="several profiles"):
        pipeline.check_one_run(tmp_path)


def test_a_book_with_a_notebook_that_has_no_outputs_says_so(tmp_path):
    """Unclear before: `make book` with a notebook never executed ended in a raw CalledProcessError."""
    (tmp_path / "notebooks").mkdir()
    staged(tmp_path / "notebooks", "01_data.ipynb", parameters={})
    nbformat.write(new_notebook(cells=[new_code_cell("x = 1")]), tmp_path / "notebooks" / "02_teacher.ipynb")
    with pytest.raises(SystemExit, match=r"02_teacher\.ipynb in notebooks/ has no outputs \(never executed, or cleared\)"):
        pipeline.build_book(tmp_path)


def test_in_place_is_refused_outside_the_recording_profile():
    """Silent before: `pipeline --only 03 --in-place` under smoke overwrote the committed chapter 3."""
    with pytest.raises(SystemExit, match=r"--in-place writes over the committed notebooks, which are the "
                                         r"recorded cpu run: run profile smoke without --in-place"):
        pipeline.main(["--profile", "smoke", "--only", "03", "--in-place"])


def test_a_parameter_later_chapters_do_not_declare_is_named():
    """Silent before: `-p students tiny-bert-cut` reached chapter 4 only; chapters 5 and 6 still
    reported three students. The pipeline now says where a parameter does not reach."""
    chosen = pipeline.notebooks(pipeline.repo_root())[3:]
    declared = {path: pipeline.declared_parameters(path) for path in chosen}
    lines = pipeline.parameter_reach({"students": "tiny-bert-cut"}, chosen, declared)
    assert lines == ["students is a parameter of 04_student_training only; 05_benchmark, 06_results, "
                     "07_distil_your_own use the profile's students"]
    assert pipeline.parameter_reach({"seeds": "42", "temperature": 4}, chosen, declared) == []  # via artifacts


# ---------------------------------------------------------------- every figure load_results reads

@pytest.mark.parametrize("field, value", [
    (("latency_ms", "median"), math.nan), (("latency_ms", "median"), -5.0), (("latency_ms", "p95"), 0.0),
    (("throughput", "samples_per_s"), -1.0), (("size_mb",), -1.0), (("parameters",), 0),
])
def test_a_summary_with_an_impossible_size_or_speed_is_refused(field, value, tmp_path):
    """Silent before: a latency of NaN or -5, or a size of -1, was accepted."""
    summary = json.loads((pipeline.repo_root() / "results" / "reference.json").read_text())
    target = summary["models"][0]
    for key in field[:-1]:
        target = target[key]
    target[field[-1]] = value
    path = tmp_path / "results.json"
    path.write_text(json.dumps(summary, allow_nan=True))
    with pytest.raises(ValueError, match=r"models\[0\]\." + r"\.".join(field)):
        results.load_results(path)


# ---------------------------------------------------------------- clear messages first

@pytest.mark.parametrize("make_bad", ["read-only", "file-for-folder"])
def test_the_benchmark_command_line_names_the_problem_without_a_traceback(make_bad, tmp_path, capsys, monkeypatch):
    from distill_utils import artifacts, benchmark

    root = tmp_path / "art"
    root.mkdir()
    if make_bad == "read-only":  # as a read-only folder answers (root would write to it anyway)
        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied")
        monkeypatch.setattr(artifacts.tempfile, "NamedTemporaryFile", refuse)
    else:
        (root / "teacher").write_text("not a folder")
    with pytest.raises(SystemExit):
        benchmark.main(["--profile", "smoke", "--artifacts-dir", str(root)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert ("not writable" if make_bad == "read-only" else "is a file, but the notebooks keep a folder there") in err


def test_the_benchmark_command_line_names_runs_on_other_splits_without_a_traceback(tmp_path, capsys, monkeypatch):
    from distill_utils import benchmark
    from distill_utils.lineage import check_splits

    split = pd.DataFrame({"sentence": ["a"], "label": [0]})
    monkeypatch.setattr(benchmark, "read_splits", lambda path: {"test": split})
    monkeypatch.setattr(Artifacts, "require_splits", lambda self: tmp_path)
    monkeypatch.setattr(Artifacts, "student_runs", lambda self, *args, **kwargs: [])

    def stale(*args, **kwargs):  # what the benchmark's lineage check raises for runs of other splits
        check_splits([{"model": "s", "seed": 42, "run_key": {"test": "other"}}], {n: split for n in
                                                                                          ("train", "validation", "test")}, "the benchmark")
    monkeypatch.setattr(benchmark, "benchmark_profile", stale)
    with pytest.raises(SystemExit):
        benchmark.main(["--profile", "smoke", "--artifacts-dir", str(tmp_path / "art")])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "was trained on other splits than chapter 1 wrote last" in err
