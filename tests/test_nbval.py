"""nbval: the committed notebooks' profile-independent cells re-run under `smoke` and must print
exactly what the recorded run printed (the derivation's numeric checks)."""
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from distill_utils.book import pipeline

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent
CHECKED = ["01_dataset_exploration.ipynb", "03_distillation_loss.ipynb"]
TAG = "nbval-check-output"


@pytest.fixture(scope="module")
def smoke_artifacts(tmp_path_factory, phrasebank_dir):
    """Artifacts of notebooks 01-02 under `smoke`, found through $DISTILL_ARTIFACTS as nbval needs."""
    base = tmp_path_factory.mktemp("nbval")
    env = {"DISTILL_ARTIFACTS": str(base / "artifacts"), "PHRASEBANK_DIR": str(phrasebank_dir)}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        pipeline.execute("smoke", base / "executed", only=["01", "02"])
    return {**os.environ, **env, "DISTILL_PROFILE": "smoke"}


def run_nbval(notebook: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
         "--nbval-sanitize-with", str(REPO / "tests" / "nbval_sanitize.cfg"), str(notebook)],
        cwd=notebook.parent, env=env, capture_output=True, text=True, timeout=600)


def test_checked_cells_carry_recorded_outputs():
    for name in CHECKED:
        nb = nbformat.read(REPO / "notebooks" / name, as_version=4)
        checked = [c for c in nb.cells if TAG in c.metadata.get("tags", [])]
        assert len(checked) >= 2, name  # 01: dataset statistics; 03: the derivation checks
        for cell in checked:
            assert cell.get("outputs"), f"{name}: a checked cell has no recorded output (run the pipeline)"
        source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert "profile = \"" not in source, f"{name}: an injected profile would defeat DISTILL_PROFILE"


@pytest.mark.parametrize("name", CHECKED)
def test_derivation_checks_match_under_nbval(name, smoke_artifacts):
    result = run_nbval(REPO / "notebooks" / name, smoke_artifacts)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "passed" in result.stdout


def test_nbval_catches_a_changed_output(smoke_artifacts, tmp_path):
    name = "03_distillation_loss.ipynb"
    nb = nbformat.read(REPO / "notebooks" / name, as_version=4)
    cell = next(c for c in nb.cells if TAG in c.metadata.get("tags", []) and c.get("outputs"))
    stream = next(o for o in cell.outputs if o.output_type == "stream")
    stream.text = stream.text.replace("True", "False", 1)  # as if autograd disagreed
    assert "False" in stream.text
    broken = tmp_path / "notebooks" / name
    broken.parent.mkdir()
    nbformat.write(nb, broken)
    result = run_nbval(broken, smoke_artifacts)
    assert result.returncode != 0 and "failed" in result.stdout
