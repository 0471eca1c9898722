"""The run key's code hash follows what a run computes: edits on the training path change it, and
analysis, prose, docstrings, messages and moves between modules leave it alone."""
import shutil
from pathlib import Path

import pytest

from distill_utils.record import training_code
from distill_utils.record.training_code import training_code_hash, training_path

PACKAGE = training_code.PACKAGE_DIR  # the lesson: the package's top level


@pytest.fixture
def package(tmp_path) -> Path:
    """A copy of distill_utils to edit."""
    copy = tmp_path / "distill_utils"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def edit(package: Path, module: str, old: str, new: str) -> None:
    path = package / f"{module}.py"
    text = path.read_text()
    assert text.count(old) == 1, f"{module}.py: {old!r} is not there exactly once"
    path.write_text(text.replace(old, new))


def move(package: Path, name: str, source: str, target: str) -> None:
    """Move the top-level function ``name`` from module ``source`` to module ``target``."""
    text = (package / f"{source}.py").read_text()
    start = text.index(f"\ndef {name}(") + 1
    end = text.find("\ndef ", start)
    end = len(text) if end == -1 else end
    block = text[start:end]
    (package / f"{source}.py").write_text(text[:start] + text[end:])
    (package / f"{target}.py").write_text((package / f"{target}.py").read_text() + "\n\n" + block)


def test_the_path_holds_the_training_code_and_not_the_analysis():
    path = training_path()
    for name in ("train_student", "fine_tune_teacher", "train_classifier", "DistillationTrainer",
                 "distillation_loss", "hidden_state_loss", "tokenize_frame", "load_pretrained",
                 "copy_layers", "evaluate_checkpoint", "mixed_precision"):
        assert name in path, f"{name} is not on the training path"
    for name in ("sweep_summary", "best_sweep_point", "budget_pairs", "seed_summary", "family_tests",
                 "plot_sweep_heatmap", "MODELS", "RunCache", "run_key", "cached_run", "library_hash"):
        assert name not in path, f"{name} should not decide a run's key"


@pytest.mark.parametrize("module, old, new", [
    # the loss: the soft term's scaling
    ("losses", "return alpha * hard + (1.0 - alpha) * T**2 * soft\n",
     "return alpha * hard + (1.0 - alpha) * T * soft\n"),
    # what plain means
    ("losses", "PLAIN = LossSettings(alpha=1.0, temperature=1.0)", "PLAIN = LossSettings(alpha=1.0, temperature=2.0)"),
    # how a model is scored after training
    ("trainer", "def evaluate_checkpoint(model, tokenizer, df: pd.DataFrame, max_length: int)",
     "def evaluate_checkpoint(model, tokenizer, df: pd.DataFrame, max_length: int = 1)"),
])
def test_an_edit_on_the_training_path_changes_the_key(package, module, old, new):
    before = training_code_hash(package)
    edit(package, module, old, new)
    assert training_code_hash(package) != before


def test_analysis_docstrings_messages_and_moves_leave_the_key(package):
    before = training_code_hash(package)
    # analysis of finished runs
    edit(package, "sweep", "def sweep_summary(table: pd.DataFrame) -> pd.DataFrame:\n",
         "def sweep_summary(table: pd.DataFrame) -> pd.DataFrame:\n    table = table.copy()\n")
    # a docstring and a comment on the training path
    edit(package, "losses", "def distillation_loss(", "# the loss of chapter 3\ndef distillation_loss(")
    text = (package / "trainer.py").read_text()
    start = text.index('"""', text.index("def train_classifier(")) + 3
    (package / "trainer.py").write_text(text[:start] + "Reworded. " + text[start:])
    # the message of an error a run raises
    text = (package / "losses.py").read_text()
    (package / "losses.py").write_text(text.replace("must be", "has to be", 1))
    # a function of the training path moved to another module, and an analysis function too
    move(package, "mixed_precision", "machine", "trainer")
    move(package, "sweep_summary", "sweep", "metrics")
    assert training_code_hash(package) == before


def test_the_lesson_trains_without_naming_the_run_cache():
    """The training functions hand a run to their artifacts; the cache and the progress lines are
    not on the path, so the hash needs no exception for them."""
    reached = set(training_path())
    assert "train_classifier" in reached and "EpochProgress" in reached
    assert set(training_code.OUTSIDE_THE_PATH) == {"MODELS", "write_json", "read_json", "display_path",
                                                   "atomic_path"}


def test_an_unknown_entry_point_is_named(package):
    with pytest.raises(ValueError, match="no_such_trainer.*TRAINING_ENTRY_POINTS"):
        training_path(package, ("no_such_trainer",))
