"""The seed profile's own path (bert-base-uncased -> distilbert-base-uncased from the Hub), end to
end and offline: all six notebooks under `seed-smoke` against a Hub stand-in on loopback that
serves tiny models saved with the real classes, configurations and WordPiece vocabulary."""
import importlib.util
import json
from pathlib import Path

import pytest

from distill_utils.book import pipeline

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent


def load_hub_standin():
    spec = importlib.util.spec_from_file_location("hub_standin", REPO / "tools" / "hub_standin.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def seed_run(tmp_path_factory, phrasebank_dir):
    hub_standin = load_hub_standin()
    base = tmp_path_factory.mktemp("seed")
    hub_standin.build_seed_models(base / "hub")
    with pytest.MonkeyPatch.context() as patch, hub_standin.HubStandin(base / "hub") as hub:
        patch.setenv("PHRASEBANK_DIR", str(phrasebank_dir))
        patch.setenv("HF_ENDPOINT", hub.url)
        patch.setenv("HF_HUB_CACHE", str(base / "hub-cache"))
        patch.setenv("HF_HUB_OFFLINE", "0")
        art = base / "artifacts"
        timings = pipeline.execute("seed-smoke", base / "executed", {"artifacts_dir": str(art)})
        yield art, timings, list(hub.requests)


def test_every_notebook_runs_the_seed_profile_from_the_hub(seed_run):
    art, timings, requests = seed_run
    assert [name for name, _ in timings] == [p.name for p in sorted((REPO / "notebooks").glob("0*.ipynb"))]
    downloads = {path.split("/resolve/")[0].strip("/") for method, path in requests
                 if method == "GET" and path.endswith("/model.safetensors")}
    assert downloads == {"bert-base-uncased", "distilbert-base-uncased"}  # both came from the Hub (once: cached)
    teacher = json.loads((art / "teacher" / "config.json").read_text())
    assert teacher["model_type"] == "bert" and teacher["num_hidden_layers"] == 2
    student = json.loads((art / "students" / "distilbert-base-uncased" / "kd-seed42" / "config.json").read_text())
    assert student["model_type"] == "distilbert" and student["n_layers"] == 2  # DistilBERT's own config names


def test_seed_profile_benchmark_exports_and_quantises_distilbert(seed_run):
    art, _, _ = seed_run
    records = json.loads((art / "benchmark.json").read_text())["records"]
    measured = {(r["model"], r["variant"]) for r in records if not r.get("skipped")}
    for variant in ("fp32", "onnx-fp32", "onnx-int8"):
        assert any(model.startswith("distilbert-base-uncased") and v == variant for model, v in measured), variant
    assert all(r["latency_ms_median"] > 0 for r in records if not r.get("skipped"))


def test_seed_profile_results_sit_beside_the_reference(seed_run):
    art, _, _ = seed_run
    results = json.loads((art / "results.json").read_text())
    assert results["run"]["profile"] == "seed-smoke"
    assert results["settings"]["teacher"] == "bert-base-uncased"
    assert results["settings"]["students"] == ["distilbert-base-uncased"]
    assert results["reference"]["experiment"]["teacher"]["model"].lower().startswith("bert-base")
