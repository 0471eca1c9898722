import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def phrasebank_dir() -> Path:
    """The shared, read-only copy of Financial PhraseBank v1.0 (never copied into the repo)."""
    path = Path(os.environ.get("PHRASEBANK_DIR") or REPO.parent / "shared" / "data" / "financial_phrasebank")
    if not (path / "Sentences_AllAgree.txt").is_file():
        pytest.fail(f"Financial PhraseBank not found at {path}: set PHRASEBANK_DIR")
    return path


@pytest.fixture
def offline_env(monkeypatch, tmp_path):
    """No local data source: PHRASEBANK_DIR unset and an empty Hub cache."""
    import huggingface_hub.constants as hf_constants

    monkeypatch.delenv("PHRASEBANK_DIR", raising=False)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    return tmp_path


# ---------------------------------------------------------------- a tiny teacher for training tests

@pytest.fixture(scope="module")
def tiny_splits(phrasebank_dir):
    from distill_utils.data import load_splits
    from distill_utils.profiles import resolve_config

    splits = load_splits(resolve_config("smoke"), data_dir=phrasebank_dir)
    return {name: part.head(64).reset_index(drop=True) for name, part in splits.items()}


@pytest.fixture(scope="module")
def tiny_teacher(tiny_splits, tmp_path_factory):
    from distill_utils import experiments
    from distill_utils.artifacts import Artifacts
    from distill_utils.profiles import resolve_config

    cfg = resolve_config("smoke")
    art = Artifacts(tmp_path_factory.mktemp("art"))
    record = experiments.fine_tune_teacher(cfg, art, tiny_splits)
    return art, record


def with_teacher(tiny_teacher, root):
    """Fresh artifacts that share the module's tiny teacher (a symlink), for caches and students,
    with the chapters' run cache (`record.runs.cached_artifacts`)."""
    from distill_utils.artifacts import Artifacts
    from distill_utils.record.runs import cached_artifacts

    art = cached_artifacts(Artifacts(root))
    art.root.mkdir(parents=True, exist_ok=True)
    art.teacher.symlink_to(tiny_teacher[0].teacher, target_is_directory=True)
    return art
