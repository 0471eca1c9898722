"""Provenance: the build says which library code produced each notebook's outputs."""
import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

from distill_utils import pipeline
from distill_utils.notebook import library_hash


def write_recorded(path, sha):
    cell = new_code_cell("run_metadata(cfg)")
    cell.outputs = [new_output("execute_result", data={"text/plain": repr({"profile": "cpu", "distill_utils_sha": sha})},
                               execution_count=1)]
    nbformat.write(new_notebook(cells=[cell]), path)


def test_provenance_report_flags_outputs_from_other_code(tmp_path):
    write_recorded(tmp_path / "01_current.ipynb", library_hash())
    write_recorded(tmp_path / "02_old.ipynb", "0123456789abcdef")
    nbformat.write(new_notebook(cells=[new_code_cell("run_metadata(cfg)")]), tmp_path / "03_fresh.ipynb")
    lines = pipeline.provenance_report(tmp_path)
    assert "(current)" in lines[0] and "STALE" not in lines[0]
    assert "STALE" in lines[1] and "0123456789abcdef" in lines[1]
    assert "no recorded run" in lines[2]
    assert pipeline.recorded_run(tmp_path / "02_old.ipynb")["profile"] == "cpu"
