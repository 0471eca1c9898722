"""Trainer integration, the teacher-logit cache, NaN handling and atomic artifacts."""
import dataclasses
import json
import os

import numpy as np
import pandas as pd
import pytest
import torch

from distill_utils import budget, experiments, sweep, teacher_cache, trainer, training_cost
from distill_utils._io import as_json, atomic_path, seal_folder, write_json
from distill_utils.artifacts import Artifacts
from distill_utils.losses import LossSettings, hidden_state_loss
from distill_utils.metrics import optimizer_steps
from distill_utils.models import load_checkpoint, load_pretrained
from distill_utils.profiles import resolve_config
from distill_utils.record.runs import cached_artifacts
from distill_utils.run_spec import Schedule

from conftest import with_teacher

# one epoch of a tiny model, fp32: the trainer's checks fire before anything slow
TINY_SCHEDULE = Schedule(seed=0, epochs=1, learning_rate=1e-3, batch_size=16, max_length=32)


def test_teacher_run_is_saved_as_safetensors_with_its_record(tiny_teacher):
    art, record = tiny_teacher
    out = art.teacher
    assert (out / "model.safetensors").is_file() and not list(out.glob("*.bin"))
    saved = json.loads((out / "run.json").read_text())
    assert saved["role"] == "teacher" and saved["test"]["n"] == 64
    assert len(saved["test_logits"]) == 64 and len(saved["epoch_seconds"]) == 1
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".tmp-")]


def test_logit_cache_is_reused_only_for_the_same_teacher_and_sentences(tiny_teacher, tiny_splits, tmp_path, monkeypatch):
    art = with_teacher(tiny_teacher, tmp_path / "art")
    cache = art.teacher_logits
    first = teacher_cache.cache_teacher_logits(art, tiny_splits, 64)
    calls = []
    real = teacher_cache.predict_logits
    monkeypatch.setattr(teacher_cache, "predict_logits", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = teacher_cache.cache_teacher_logits(art, tiny_splits, 64)
    assert not calls  # served from the cache
    assert all(np.array_equal(first[k], again[k]) for k in first)
    # keyed by sentence: a reordered split gets the same logits per sentence, recomputed key
    reordered = {"train": tiny_splits["train"].iloc[::-1].reset_index(drop=True)}
    flipped = teacher_cache.cache_teacher_logits(art, reordered, 64)
    assert np.allclose(flipped["train"], first["train"][::-1], atol=1e-5)
    # another teacher (different weights) invalidates the cache
    calls.clear()
    payload = json.loads((cache / "validation.json").read_text())
    payload["key"]["teacher_sha256"] = "0" * 64
    (cache / "validation.json").write_text(json.dumps(payload))
    teacher_cache.cache_teacher_logits(art, {"validation": tiny_splits["validation"]}, 64)
    assert calls  # recomputed
    # a truncated cache file (a killed writer, a full disk) is recomputed, never trusted
    calls.clear()
    (cache / "test.json").write_text('{"key": {"teacher_sha256"')
    again = teacher_cache.cache_teacher_logits(art, {"test": tiny_splits["test"]}, 64)
    assert calls and np.array_equal(again["test"], first["test"])


def test_student_distillation_and_control(tiny_teacher, tiny_splits, tmp_path):
    art = with_teacher(tiny_teacher, tmp_path / "art")
    cfg = resolve_config("smoke")
    logits = teacher_cache.cache_teacher_logits(art, tiny_splits, cfg.max_length)
    records = experiments.train_students(cfg, art, tiny_splits, logits["train"], loss=LossSettings(0.3, 4.0))
    assert len(records) == (2 * len(cfg.students) + len(cfg.compression_students)) * len(cfg.seeds)
    one_seed = [(name, mode) for name in cfg.students for mode in ("kd", "plain")]
    one_seed += [(name, "kd") for name in cfg.compression_students]  # distilled only
    assert [(r["seed"], r["model"], r["mode"]) for r in records] == [
        (seed, *run) for seed in cfg.seeds for run in one_seed]
    assert records[1]["alpha"] == 1.0 and records[0]["alpha"] == 0.3 and records[0]["temperature"] == 4.0
    for seed in cfg.seeds:
        assert art.require_student("tiny-bert-copy", "kd", seed) == art.student("tiny-bert-copy", "kd", seed)


def test_nan_loss_stops_training_and_names_the_step(tiny_splits, tmp_path):
    model, tokenizer = load_pretrained("tiny-bert-random", seed=0)
    bad_logits = np.full((len(tiny_splits["train"]), 3), np.nan, dtype=np.float32)
    with pytest.raises(FloatingPointError, match=r"non-finite loss \(nan\) at training step 1"):
        trainer.train_classifier(
            model, tokenizer, tiny_splits["train"], tiny_splits["validation"], schedule=TINY_SCHEDULE,
            scratch_dir=tmp_path, loss=LossSettings(0.5, 2.0), teacher_logits=bad_logits)


def test_distillation_needs_teacher_logits(tiny_splits, tmp_path):
    model, tokenizer = load_pretrained("tiny-bert-random", seed=0)
    with pytest.raises(ValueError, match="alpha 0.5 < 1 needs the teacher's logits"):
        trainer.train_classifier(
            model, tokenizer, tiny_splits["train"], tiny_splits["validation"], schedule=TINY_SCHEDULE,
            scratch_dir=tmp_path, loss=LossSettings(0.5, 2.0))


def test_per_sentence_alpha_is_checked_once_before_training(tiny_splits, tmp_path):
    model, tokenizer = load_pretrained("tiny-bert-random", seed=0)
    n = len(tiny_splits["train"])
    with pytest.raises(ValueError, match=r"every per-sentence alpha must lie in \[0, 1\]"):
        trainer.train_classifier(
            model, tokenizer, tiny_splits["train"], None, schedule=TINY_SCHEDULE,
            scratch_dir=tmp_path, loss=LossSettings(0.0, 2.0),
            teacher_logits=np.zeros((n, 3), dtype=np.float32), row_alpha=np.full(n, 1.5))


def test_teacher_logits_must_match_rows(tiny_splits, tmp_path):
    model, tokenizer = load_pretrained("tiny-bert-random", seed=0)
    with pytest.raises(ValueError, match="3 teacher logit rows for"):
        trainer.train_classifier(
            model, tokenizer, tiny_splits["train"], None, schedule=TINY_SCHEDULE,
            scratch_dir=tmp_path, loss=LossSettings(0.5, 2.0),
            teacher_logits=np.zeros((3, 3), dtype=np.float32))


def test_collator_pads_and_stacks_teacher_logits():
    _, tokenizer = load_pretrained("tiny-bert-random", seed=0)
    df = pd.DataFrame({"sentence": ["Profit rose .", "Net sales decreased by 5 % in the quarter ."],
                       "label": [2, 0]})
    dataset = trainer.tokenize_frame(df, tokenizer, 32, with_rows=True)
    collator = trainer.DistillationCollator(tokenizer, np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32))
    batch = collator([dataset[1], dataset[0]])
    assert torch.equal(batch["teacher_logits"], torch.tensor([[4.0, 5, 6], [1, 2, 3]]))  # by row, not position
    batch = collator([dataset[0], dataset[1]])
    assert batch["input_ids"].shape[0] == 2 and batch["input_ids"].shape[1] == max(len(x) for x in dataset["input_ids"])
    assert torch.equal(batch["teacher_logits"], torch.tensor([[1.0, 2, 3], [4, 5, 6]]))
    assert batch["labels"].tolist() == [2, 0]


def test_json_writes_a_missing_value_as_null_and_refuses_infinity(tmp_path):
    target = tmp_path / "benchmark.json"
    write_json(target, {"rows": [{"timed_as": float("nan"), "ms": np.float32("nan"), "speedup": 2.5}]})
    text = target.read_text()
    assert "NaN" not in text
    assert json.loads(text) == {"rows": [{"ms": None, "speedup": 2.5, "timed_as": None}]}
    # the record kept in memory is the one a later run reads back
    assert as_json({"rows": [{"ms": np.float64("nan")}]}) == {"rows": [{"ms": None}]}
    with pytest.raises(ValueError, match=r"benchmark.json: an infinite number"):
        write_json(target, {"ratio": float("inf")})
    assert json.loads(target.read_text())["rows"][0]["speedup"] == 2.5  # the old file is kept


def test_interrupted_write_leaves_old_artifact(tmp_path):
    target = tmp_path / "metrics.json"
    write_json(target, {"accuracy": 0.9})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text('{"accura')  # killed mid-write
            raise RuntimeError("killed")
    assert json.loads(target.read_text()) == {"accuracy": 0.9}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_interrupted_checkpoint_leaves_no_folder(tmp_path):
    target = tmp_path / "students" / "x"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.mkdir()
            (tmp / "model.safetensors").write_bytes(b"half")
            raise RuntimeError("killed")
    assert not target.exists()


def test_missing_input_names_the_notebook_to_run(tmp_path):
    art = Artifacts(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"run notebooks/02_teacher_finetuning.ipynb first"):
        art.require_teacher()
    art.teacher.mkdir()
    (art.teacher / "run.json").write_text("{}")  # a teacher without weights is no teacher
    with pytest.raises(FileNotFoundError, match=r"model.safetensors is missing: run notebooks/02_teacher"):
        art.require_teacher()
    with pytest.raises(FileNotFoundError, match=r"run notebooks/04_student_training.ipynb first"):
        art.student_runs(["tiny-bert-copy"], ("kd",), [7])
    assert art.student_runs(["tiny-bert-copy"], ("kd",), [7], required=False) == []


def test_online_teacher_trains_exactly_like_cached_logits(tiny_teacher, tiny_splits, tmp_path):
    """Distilling from the cache and from a teacher run every step give the same student (fp32)."""
    art = with_teacher(tiny_teacher, tmp_path / "art")
    train = tiny_splits["train"].iloc[:48].reset_index(drop=True)
    logits = teacher_cache.cache_teacher_logits(art, {"train": train}, 32)["train"]
    teacher, teacher_tokenizer = load_checkpoint(art.teacher)
    weights = []
    for kwargs in ({"teacher_logits": logits}, {"teacher": teacher, "teacher_tokenizer": teacher_tokenizer}):
        model, tokenizer = load_pretrained("tiny-bert-random", seed=0)
        result = trainer.train_classifier(
            model, tokenizer, train, None, schedule=TINY_SCHEDULE,
            scratch_dir=tmp_path / "scratch", loss=LossSettings(0.3, 2.0),
            **kwargs)
        weights.append({k: v.clone() for k, v in result.model.state_dict().items()})
    for key in weights[0]:
        assert torch.allclose(weights[0][key], weights[1][key], atol=1e-5), key
    assert any(not torch.equal(v, load_pretrained("tiny-bert-random", seed=0)[0].state_dict()[k])
               for k, v in weights[0].items())  # and it did train


def test_hidden_state_distillation_saves_an_ordinary_student(tiny_teacher, tiny_splits, tmp_path):
    art = with_teacher(tiny_teacher, tmp_path / "art")
    cfg = resolve_config("smoke")
    logits = teacher_cache.cache_teacher_logits(art, tiny_splits, cfg.max_length)
    out = art.student("tiny-bert-random", "hidden", 42)
    record = experiments.train_student(cfg, art, "tiny-bert-random", tiny_splits, seed=42,
                                       loss=LossSettings(0.5, 2.0, hidden_weight=10.0),
                                       teacher_logits=logits["train"], mode="hidden")
    assert record["mode"] == "hidden" and record["hidden_weight"] == 10.0
    assert "eval_accuracy" in record["log_history"][-2]  # evaluation still works through the wrapper
    model, _ = load_checkpoint(out)
    assert type(model).__name__ == "BertForSequenceClassification"
    assert not any("projection" in key for key in model.state_dict())
    cached = np.load(art.teacher_hidden("tiny-bert-random"))
    assert cached.shape == (len(tiny_splits["train"]), 1, 128)  # 1 student layer, teacher width 128


def test_hidden_layer_map_and_loss():
    assert teacher_cache.hidden_layer_map(6, 12) == [2, 4, 6, 8, 10, 12]
    assert teacher_cache.hidden_layer_map(1, 2) == [2]
    with pytest.raises(ValueError, match="cannot map"):
        teacher_cache.hidden_layer_map(13, 12)
    x = torch.randn(4, 2, 8)
    assert hidden_state_loss(x, 3 * x).item() == pytest.approx(0.0, abs=1e-6)  # scale-free
    assert hidden_state_loss(x, -x).item() == pytest.approx(4.0, abs=1e-5)


def test_sweep_table_and_choice(tiny_teacher, tiny_splits, tmp_path):
    art = with_teacher(tiny_teacher, tmp_path / "art")
    cfg = resolve_config("smoke")
    logits = teacher_cache.cache_teacher_logits(art, tiny_splits, cfg.max_length)
    table = sweep.sweep_alpha_temperature(cfg, art, tiny_splits, logits["train"])
    cells = len(cfg.sweep_alphas) * len(cfg.sweep_temperatures) + 1  # + the plain reference
    assert len(table) == cells * len(cfg.sweep_seeds) and set(table["seed"]) == set(cfg.sweep_seeds)
    summary = sweep.sweep_summary(table)
    assert len(summary) == cells and (summary["seeds"] == len(cfg.sweep_seeds)).all()
    assert json.loads(art.sweep.read_text())["learning_rate"] == cfg.student_lr
    assert not art.students.exists()  # sweep runs save no checkpoints
    ties = pd.DataFrame({"alpha": [0.1, 0.5, 0.9, 1.0], "temperature": [1.0, 2.0, 4.0, None],
                         "val_accuracy": [0.8, 0.9, 0.9, 0.95], "val_macro_f1": [0.9, 0.7, 0.8, 0.9]})
    assert sweep.best_sweep_point(ties) == (0.9, 4.0)  # plain is the reference, never chosen
    two_seeds = pd.DataFrame({"alpha": [0.1, 0.1, 0.5, 0.5], "temperature": [1.0] * 4,
                              "val_accuracy": [0.9, 0.7, 0.85, 0.84], "val_macro_f1": [0.5] * 4})
    assert sweep.best_sweep_point(two_seeds) == (0.5, 1.0)  # ranked by the mean over seeds


def test_training_cost_is_measured_side_by_side(tiny_teacher, tiny_splits, tmp_path):
    art = with_teacher(tiny_teacher, tmp_path / "art")
    cfg = resolve_config("smoke")
    logits = teacher_cache.cache_teacher_logits(art, tiny_splits, cfg.max_length)
    cost = training_cost.measure_training_cost(cfg, art, "tiny-bert-random", tiny_splits, logits["train"],
                                             loss=LossSettings(0.5, 2.0), steps=2)
    assert list(cost["mode"]) == ["plain", "kd (cached teacher logits)", "kd (teacher every step)"]
    assert (cost["steps_timed"] == 2).all() and (cost["step_s"] > 0).all()
    assert cost.loc[0, "ratio_vs_plain"] == 1.0


def test_pretrained_cut_holds_no_weight_of_the_fine_tuned_teacher(tiny_teacher):
    """The DistilBERT-style student starts from the pre-trained encoder, so its plain control has
    never seen the teacher; the pruned teacher starts from the fine-tuned teacher's own weights."""
    art, _ = tiny_teacher
    teacher = dict(load_checkpoint(art.teacher)[0].named_parameters())
    cut = dict(load_pretrained("tiny-bert-cut", seed=42)[0].named_parameters())
    pruned = dict(load_pretrained("tiny-bert-copy", seed=42, teacher_checkpoint=art.teacher)[0].named_parameters())
    assert cut.keys() == pruned.keys() and set(cut) <= set(teacher)  # layer 0 keeps its name
    assert not [key for key, value in cut.items() if torch.equal(value, teacher[key])]
    assert all(torch.equal(value, teacher[key]) for key, value in pruned.items())


def test_run_cache_reuses_an_identical_run_and_retrains_on_any_change(tiny_teacher, tiny_splits, tmp_path, monkeypatch):
    from distill_utils.record import runs

    art = with_teacher(tiny_teacher, tmp_path / "art")
    cfg = resolve_config("smoke")
    logits = teacher_cache.cache_teacher_logits(art, tiny_splits, cfg.max_length)["train"]
    calls = []
    real = experiments.train_classifier
    monkeypatch.setattr(experiments, "train_classifier", lambda *a, **k: calls.append(1) or real(*a, **k))
    base = dict(seed=42, loss=LossSettings(0.5, 2.0), teacher_logits=logits, epochs=1)

    first = experiments.train_student(cfg, art, "tiny-bert-random", tiny_splits, **base)
    again = experiments.train_student(cfg, art, "tiny-bert-random", tiny_splits, **base)
    assert len(calls) == 1 and again == first  # same key: read back, not retrained
    changes = [{"loss": LossSettings(0.5, 4.0)}, {"epochs": 2}, {"seed": 7}, {"teacher_logits": logits + 1.0},
               {"train_df": tiny_splits["train"].iloc[:-1], "teacher_logits": logits[:-1]}]
    for change in changes:
        experiments.train_student(cfg, art, "tiny-bert-random", tiny_splits, **{**base, **change})
    assert len(calls) == 1 + len(changes)  # every changed field retrains
    experiments.train_student(cfg.replace(student_lr=2e-3), art, "tiny-bert-random", tiny_splits, **base)
    assert len(calls) == 2 + len(changes)  # so does a changed hyperparameter of the profile
    # unsaved runs (sweep points, budget curves) are remembered by key too
    unsaved = experiments.train_student(cfg, art, "tiny-bert-random", tiny_splits, save=False, **base)
    count = len(calls)
    assert experiments.train_student(cfg, art, "tiny-bert-random", tiny_splits, save=False, **base) == unsaved
    assert len(calls) == count
    # new training code: nothing is reused
    monkeypatch.setattr(runs, "training_code_hash", lambda: "other code")
    experiments.train_student(cfg, art, "tiny-bert-random", tiny_splits, save=False, **base)
    assert len(calls) == count + 1
    # another CPU (or torch): a run recorded there is not this machine's run
    machine = experiments.training_machine()
    monkeypatch.setattr(experiments, "training_machine", lambda: {**machine, "cpu": "AMD EPYC 9B14",
                                                                  "cpu_flags": ["avx512f", "avx512_bf16"]})
    experiments.train_student(cfg, art, "tiny-bert-random", tiny_splits, save=False, **base)
    assert len(calls) == count + 2
    assert unsaved["run_key"]["machine"] == machine and set(machine) == {"device", "cpu", "cpu_flags", "torch"}


def test_budget_points_differ_only_in_what_they_say(tiny_teacher, tiny_splits, tmp_path):
    art = with_teacher(tiny_teacher, tmp_path / "art")
    cfg = resolve_config("smoke")
    logits = teacher_cache.cache_teacher_logits(art, tiny_splits, cfg.max_length)
    subset, pool = tiny_splits["train"].iloc[:16].reset_index(drop=True), tiny_splits["validation"]
    common = dict(fraction=0.25, seed=42, loss=LossSettings(0.5, 2.0), steps=5)
    records = {mode: budget.train_budget_point(cfg, art, "tiny-bert-random", tiny_splits, subset,
                                                     logits["train"][:16], pool, logits["validation"],
                                                     mode=mode, **common)
               for mode in budget.BUDGET_MODES}
    # every mode takes the same optimizer steps, whatever the size of its training set
    assert {optimizer_steps(r) for r in records.values()} == {5}
    assert {r["budget_steps"] for r in records.values()} == {5}
    assert records["hard"]["train_samples"] == records["distilled"]["train_samples"] == 16
    assert records["soft pool"]["train_samples"] == records["hard pool"]["train_samples"] == 16 + len(pool)
    assert records["soft pool"]["mode"] == "soft pool @ 25%" and records["hard"]["budget_fraction"] == 0.25
    assert records["hard pool"]["alpha"] == 1.0 and records["soft pool"]["alpha"] == 0.0
    with pytest.raises(ValueError, match="unknown budget mode"):
        budget.train_budget_point(cfg, art, "tiny-bert-random", tiny_splits, subset, logits["train"][:16],
                                       pool, logits["validation"], mode="soft", **common)


def test_a_replace_killed_between_its_renames_is_recovered(tmp_path):
    """teacher/ renamed away, the new copy not yet in place, the process killed: the next reader
    finds the complete old copy restored, and the dead writer's temporary folders removed."""
    art = Artifacts(tmp_path)
    dead = 999_999_999  # no such process
    old = tmp_path / f".old-teacher-{dead}"
    old.mkdir()
    (old / "model.safetensors").write_bytes(b"complete weights")
    (old / "run.json").write_text('{"role": "teacher"}')
    seal_folder(old)
    (tmp_path / f".tmp-teacher-{dead}-x1y2" / "teacher").mkdir(parents=True)
    alive = tmp_path / f".tmp-teacher-{os.getpid()}-live"  # a running writer's folder is left alone
    alive.mkdir()
    assert art.require_teacher() == art.teacher
    assert (art.teacher / "model.safetensors").read_bytes() == b"complete weights"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["teacher", alive.name])
    write_json(art.splits, {"train": {}})  # and a later write cleans up after dead writers only
    assert alive.exists()


def test_a_sweep_on_the_final_schedule_hands_its_runs_to_the_final_training(tiny_teacher, tiny_splits, tmp_path,
                                                                           monkeypatch):
    from distill_utils.artifacts import is_checkpoint

    art = with_teacher(tiny_teacher, tmp_path / "art")
    smoke = resolve_config("smoke")
    cfg = resolve_config("smoke", students=["tiny-bert-random"], compression_students=(), seeds=[42],
                         sweep_seeds=[42, 7], sweep_alphas=[0.5], sweep_temperatures=[2.0],
                         sweep_epochs=smoke.student_epochs)
    logits = teacher_cache.cache_teacher_logits(art, tiny_splits, cfg.max_length)["train"]
    calls = []
    real = experiments.train_classifier
    monkeypatch.setattr(experiments, "train_classifier", lambda *a, **k: calls.append(1) or real(*a, **k))
    table = sweep.sweep_alpha_temperature(cfg, art, tiny_splits, logits, tmp_path / "sweep.json")
    assert len(calls) == 4  # two cells (alpha 0.5 at T 2, and plain) for two seeds
    records = experiments.train_students(cfg, art, tiny_splits, logits, loss=LossSettings(0.5, 2.0))
    assert len(calls) == 4  # seed 42's distilled and plain runs are the sweep's, moved into place
    assert [r["trained_in"] for r in records] == ["alpha x T sweep"] * 2
    assert all(is_checkpoint(art.student("tiny-bert-random", mode, 42)) for mode in ("kd", "plain"))
    kd = table[(table["seed"] == 42) & (table["alpha"] == 0.5)].iloc[0]
    assert records[0]["validation"]["accuracy"] == kd["val_accuracy"]
    # chapter 4 executed again (a prose edit): the sweep finds its runs where they were moved
    again = sweep.sweep_alpha_temperature(cfg, art, tiny_splits, logits, tmp_path / "sweep.json")
    assert len(calls) == 4 and again["val_accuracy"].tolist() == table["val_accuracy"].tolist()
    # the plain run's key ignores T; a final recipe the sweep did not train is trained
    experiments.train_students(cfg, art, tiny_splits, logits, loss=LossSettings(0.9, 4.0))
    assert len(calls) == 5  # the distilled run only: plain at T 4 is the same run as at T 2
    # seed 7 is no final seed: its runs were remembered by key, without weights
    assert not list((art.root / "runs").glob("*/model.safetensors"))


def test_a_teacher_seed_keeps_its_logits_and_is_trained_again_without_them(tiny_splits, tmp_path, monkeypatch):
    cfg = resolve_config("smoke", teacher_seeds=[42, 7])
    art = cached_artifacts(Artifacts(tmp_path / "art"))
    pool = tiny_splits["validation"].iloc[:20].reset_index(drop=True)
    frames = {**tiny_splits, "pool": pool}
    calls = []
    real = experiments.train_classifier
    monkeypatch.setattr(experiments, "train_classifier", lambda *a, **k: calls.append(1) or real(*a, **k))
    records = experiments.fine_tune_teachers(cfg, art, tiny_splits, pool)
    assert len(calls) == 2 and art.teacher_seed_logits(7).is_file() and not art.teacher_seed_logits(42).exists()
    logits = teacher_cache.teacher_logits_per_seed(art, art.teacher_records(), frames, cfg.max_length)
    assert list(logits) == [42, 7] and logits[7]["pool"].shape == (20, 3)
    # the kept test logits are the seed's own, as its record scored them
    assert np.allclose(logits[7]["test"], np.asarray(records[1]["test_logits"]), atol=1e-5)
    # the saved teacher's logits, when the caller holds them, are taken as they are
    held = teacher_cache.teacher_logits_per_seed(art, art.teacher_records(), frames, cfg.max_length,
                                                 saved=logits[42])
    assert held[42] is logits[42] and np.array_equal(held[7]["pool"], logits[7]["pool"])
    with pytest.raises(ValueError, match=r"saved teacher's logits cover \['test'\], not"):
        teacher_cache.teacher_logits_per_seed(art, art.teacher_records(), frames, cfg.max_length,
                                              saved={"test": logits[42]["test"]})
    experiments.fine_tune_teachers(cfg, art, tiny_splits, pool)
    assert len(calls) == 2  # both read back
    # a seed trained before its logits were kept: trained again, to the same predictions
    art.teacher_seed_logits(7).unlink()
    again = experiments.fine_tune_teachers(cfg, art, tiny_splits, pool)
    assert len(calls) == 3 and again[1]["test"]["n_correct"] == records[1]["test"]["n_correct"]
    # logits kept for another pool are refused, naming the chapter that makes them
    other = {**frames, "pool": pool.iloc[:10]}
    with pytest.raises(ValueError, match=r"teacher seed 7 .* made for another run or other sentences.*02_teacher"):
        teacher_cache.teacher_logits_per_seed(art, art.teacher_records(), other, cfg.max_length)
    art.teacher_seed_logits(7).unlink()
    with pytest.raises(ValueError, match=r"teacher seed 7 .* missing: re-run notebooks/02_teacher_finetuning"):
        teacher_cache.teacher_logits_per_seed(art, art.teacher_records(), frames, cfg.max_length)
    # a seed no longer asked for leaves neither its record nor its logits behind
    experiments.fine_tune_teachers(cfg.replace(teacher_seeds=(42,)), art, tiny_splits, pool)
    assert not list(art.teacher_seeds.iterdir())


def test_pool_students_train_on_every_label_and_the_pool_with_a_schedule_chosen_on_validation(
        tiny_teacher, tiny_splits, tmp_path):
    from distill_utils import pool_recipe
    from distill_utils.ensemble import ENSEMBLE, SINGLE, ensemble_logits
    from distill_utils.metrics import optimizer_steps

    art = with_teacher(tiny_teacher, tmp_path / "art")
    cfg = resolve_config("smoke", seeds=[42], sweep_seeds=[42])
    pool = tiny_splits["validation"].iloc[:40].reset_index(drop=True)
    single = teacher_cache.cache_teacher_logits(art, {**tiny_splits, "pool": pool}, cfg.max_length)
    schedule, runs = pool_recipe.choose_pool_schedule(cfg, art, tiny_splits, pool, single, temperature=2.0)
    assert [(r["pool_schedule"], r["model"]) for r in runs] == [
        ("equal steps", cfg.sweep_student), ("equal epochs", cfg.sweep_student)]
    table = pool_recipe.schedule_table(runs).set_index("schedule")["validation_accuracy"]
    best = table.max()
    assert table[schedule] == best and (schedule == "equal steps" or table["equal steps"] < best)
    plain = experiments.train_student(cfg, art, cfg.sweep_student, tiny_splits, seed=42,
                                      loss=LossSettings(1.0, 1.0), save=False)
    steps = next(r for r in runs if r["pool_schedule"] == "equal steps")
    assert optimizer_steps(steps) == optimizer_steps(plain)  # the same steps, more sentences
    assert steps["train_samples"] == len(tiny_splits["train"]) + len(pool) and steps["alpha"] == 0.0
    other = {part: ensemble_logits([single[part], single[part] * 0.5]) for part in single}
    records = pool_recipe.train_pool_students(cfg, art, tiny_splits, pool, {ENSEMBLE: other, SINGLE: single},
                                              temperature=2.0, schedule="equal steps")
    made = [(r["model"], r["mode"], r["pool_teacher"]) for r in records]
    assert made == [*((name, mode, teacher) for name in cfg.pool_students
                      for teacher, mode in (("ensemble", "pool-ensemble"), ("single", "pool"))),
                    *((name, "pool-ensemble", "ensemble") for name in cfg.compression_students)]
    for name, mode, _ in made:  # saved: chapter 5 benchmarks the compression student's
        assert art.require_student(name, mode, 42) == art.student(name, mode, 42)


@pytest.mark.parametrize("steps,sentences,batch", [(336, 51, 32), (344, 2747, 32), (265, 170, 32), (7, 3, 4), (1, 1000, 32)])
def test_epochs_for_steps_lands_on_the_steps_asked_for(steps, sentences, batch):
    """The Trainer takes ceil(epochs x batches per epoch) steps: the rounding must land exactly."""
    import math

    epochs = budget.epochs_for_steps(steps, sentences, batch)
    assert math.ceil(epochs * math.ceil(sentences / batch)) == steps


def test_budget_steps_are_the_pool_modes_epochs_for_every_mode():
    cfg = resolve_config("cpu")  # 4 epochs, batch 32
    assert budget.budget_steps(cfg, 51, 2577) == 4 * 83  # ceil(2628 / 32) batches per epoch
    assert budget.budget_steps(cfg, 1694, 2577) == 4 * 134


def test_a_trained_model_scores_in_fp32_even_after_mixed_precision_training(tiny_splits, tmp_path):
    """Accelerate wraps forward in autocast while training in bf16; the model that leaves
    train_classifier must not keep that wrapper, or its scores differ from its checkpoint's."""
    model, tokenizer = load_pretrained("tiny-bert-random", seed=0)
    result = trainer.train_classifier(model, tokenizer, tiny_splits["train"], None,
                                      schedule=dataclasses.replace(TINY_SCHEDULE, precision="bf16"),
                                      scratch_dir=tmp_path, max_steps=2)
    assert result.precision == "bf16"
    assert not hasattr(result.model.forward, "__wrapped__")
    sentences = list(tiny_splits["test"]["sentence"][:8])
    scored = trainer.predict_logits(result.model, tokenizer, sentences, max_length=32)
    trainer.save_checkpoint(result.model, tokenizer, tmp_path / "saved", {"seed": 0})
    reloaded, _ = load_checkpoint(tmp_path / "saved")
    assert np.array_equal(scored, trainer.predict_logits(reloaded, tokenizer, sentences, max_length=32))


def test_the_low_resource_arm_has_its_own_teacher_and_shares_the_hard_control(tiny_teacher, tiny_splits, tmp_path):
    art = with_teacher(tiny_teacher, tmp_path / "art")
    cfg = resolve_config("smoke", seeds=[42], budget_seeds=[42])
    pool = tiny_splits["validation"].iloc[:20].reset_index(drop=True)
    teacher, records = budget.train_low_resource_arm(cfg, art, tiny_splits, pool, fraction=0.25,
                                                     loss=LossSettings(0.5, 2.0))
    small = art.low_resource(0.25)
    assert small.root != art.root and small.require_teacher() == small.teacher
    assert teacher["train_samples"] == 16  # it saw the quarter of the labels alone
    full_steps = int(cfg.teacher_epochs) * 2  # 64 sentences in batches of 32
    assert optimizer_steps(teacher) == full_steps
    modes = [r["mode"] for r in records]
    assert modes == ["hard @ 25%", *(f"{m} @ 25%, low-resource teacher" for m in ("distilled", "soft pool", "hard pool"))]
    assert len({optimizer_steps(r) for r in records}) == 1
    # the unlabelled sentences: the rest of the training split and the pool
    assert records[2]["train_samples"] == 16 + (64 - 16) + len(pool)
    assert records[0]["teacher_sha256"] != records[1]["teacher_sha256"]
    # the main curve's hard run at the same fraction is the same run (read back, not trained again)
    subset = budget.budget_subsets(tiny_splits["train"], [0.25], seed=cfg.split_seed)[0.25]
    again = budget.train_budget_point(cfg, art, cfg.budget_student, tiny_splits, subset, None, pool, None,
                                      fraction=0.25, mode="hard", seed=42, loss=LossSettings(0.5, 2.0),
                                      steps=budget.budget_steps(cfg, len(subset), len(pool)))
    assert again["run_key_sha"] == records[0]["run_key_sha"]


def test_the_hidden_state_weight_is_chosen_on_validation_and_a_tie_keeps_the_smaller(
        tiny_teacher, tiny_splits, tmp_path, monkeypatch):
    art = with_teacher(tiny_teacher, tmp_path / "art")
    cfg = resolve_config("smoke", sweep_seeds=[42], hidden_weights=[0.0, 10.0])
    logits = teacher_cache.cache_teacher_logits(art, tiny_splits, cfg.max_length)
    loss = LossSettings(0.5, 2.0)
    kd = [experiments.train_student(cfg, art, cfg.hidden_student, tiny_splits, seed=42, loss=loss,
                                    teacher_logits=logits["train"], mode="kd", save=False)]
    weight, table = sweep.choose_hidden_weight(cfg, art, tiny_splits, logits["train"], loss, kd)
    assert list(table["hidden_weight"]) == [0.0, 10.0] and list(table["seeds"]) == [1, 1]
    assert table["validation_accuracy"].iloc[0] == kd[0]["validation"]["accuracy"]  # 0: the runs given
    best = table["validation_accuracy"].max()
    assert weight == min(table.loc[table["validation_accuracy"] == best, "hidden_weight"])
    with pytest.raises(ValueError, match="no distilled run of .* for sweep seed"):
        sweep.choose_hidden_weight(cfg.replace(sweep_seeds=(7,)), art, tiny_splits, logits["train"], loss, kd)
