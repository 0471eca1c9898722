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
