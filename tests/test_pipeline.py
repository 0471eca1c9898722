"""Provenance: the build says which library code produced each notebook's outputs."""
import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

from distill_utils.book import pipeline
from distill_utils.book.notebook import PROVENANCE_MIME
from distill_utils.record.provenance import library_hash


def write_recorded(path, sha):
    cell = new_code_cell('record_provenance(cfg, art, "01")')
    cell.outputs = [new_output("display_data", data={
        PROVENANCE_MIME: {"profile": "cpu", "distill_utils_sha": sha}, "text/plain": "01: profile cpu"})]
    nbformat.write(new_notebook(cells=[cell]), path)


def test_provenance_report_flags_outputs_from_other_code(tmp_path):
    write_recorded(tmp_path / "01_current.ipynb", library_hash())
    write_recorded(tmp_path / "02_old.ipynb", "0123456789abcdef")
    nbformat.write(new_notebook(cells=[new_code_cell('record_provenance(cfg, art, "03")')]), tmp_path / "03_fresh.ipynb")
    lines = pipeline.provenance_report(tmp_path)
    assert "(current)" in lines[0] and "STALE" not in lines[0]
    assert "STALE" in lines[1] and "0123456789abcdef" in lines[1]
    assert "no recorded run" in lines[2]
    assert pipeline.recorded_run(tmp_path / "02_old.ipynb")["profile"] == "cpu"


def test_a_parameter_no_notebook_declares_is_refused_before_anything_runs(tmp_path):
    import pytest

    with pytest.raises(SystemExit, match=r"unknown parameter\(s\) tempreature: no notebook declares it\. "
                                         r"Parameters: .*temperature"):
        pipeline.execute("smoke", tmp_path / "out", {"tempreature": 4})
    assert not (tmp_path / "out" / "01_dataset_exploration.ipynb").exists()
    declared = pipeline.declared_parameters(pipeline.repo_root() / "notebooks" / "04_student_training.ipynb")
    assert {"alpha", "temperature", "seeds", "budget_fractions"} <= declared


def test_parameters_are_read_as_papermill_reads_them():
    # `-p seeds 075` is 75 (YAML would read octal 61); an empty value stays empty and is refused by
    # the notebook, never taken to mean "the profile's seeds"
    assert pipeline.parse_parameter("075") == 75
    assert pipeline.parse_parameter("") == ""
    assert pipeline.parse_parameter("0.5") == 0.5 and pipeline.parse_parameter("1e-3") == 0.001
    assert pipeline.parse_parameter("False") is False and pipeline.parse_parameter("None") is None
    assert pipeline.parse_parameter("42,1") == "42,1"
    from distill_utils.profiles import resolve_config
    import pytest

    with pytest.raises(ValueError, match=r"parameter seeds must be .* \(empty\)"):
        resolve_config("smoke", seeds=pipeline.parse_parameter(""))


def test_a_parameter_the_notebook_does_not_declare_is_found_in_its_history():
    import pytest

    from distill_utils.book.notebook import declared_parameters, injected_parameters
    from distill_utils.parameters import ParameterError, refuse_undeclared

    declared = "# Parameters (papermill: -p name value). None = take the value from the profile.\nprofile = None\ntemperature = None\n"
    injected = '# Parameters\nprofile = "smoke"\ntempreature = 4\n'
    history = ["import sys", declared, injected, "setup_notebook()"]
    assert declared_parameters(history) == {"profile", "temperature"}
    assert injected_parameters(history) == {"profile", "tempreature"}
    # the one check the pipeline makes too, with the same message
    with pytest.raises(ParameterError, match=r"unknown parameter\(s\) tempreature: no parameter of this "
                                             r"notebook declares it\. Parameters: profile, temperature"):
        refuse_undeclared(injected_parameters(history), declared_parameters(history), "no parameter of this notebook")
    refuse_undeclared(injected_parameters([declared, '# Parameters\ntemperature = 4\n']), {"profile", "temperature"}, "x")
    assert declared_parameters(["x = 1"]) == set()  # not a chapter: nothing to check
