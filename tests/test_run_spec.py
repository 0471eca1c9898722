"""One run spec: what the trainer trains with is what the run's key holds."""
import dataclasses
import inspect

import pytest

from distill_utils import trainer
from distill_utils.losses import LossSettings
from distill_utils.run_spec import RunSpec, Schedule
from distill_utils.record.runs import run_key

SCHEDULE = Schedule(seed=42, epochs=6, learning_rate=5e-5, batch_size=32, max_length=64,
                    warmup_ratio=0.1, weight_decay=0.01, precision="bf16")
DATA = {"train": "a" * 64, "validation": "b" * 64, "test": "c" * 64}
MACHINE = {"device": "cpu", "cpu": "some CPU", "cpu_flags": ["avx2"], "torch": "2.13.0+cpu"}


def student(**changes) -> RunSpec:
    fields = dict(role="student", model={"source": "s", "layers": 6}, schedule=SCHEDULE, data=DATA,
                  processes=1, machine=MACHINE, loss=LossSettings(0.5, 2.0), mode="kd", teacher="t" * 64,
                  teacher_logits="l" * 64, row_alpha=None, extra=None)
    return RunSpec(**{**fields, **changes})


# the trainer's arguments that are not settings of the run, each with why it stays out of the key
NOT_IN_THE_KEY = {
    "model": "built from the spec's model fields and seed (models.load_pretrained)",
    "tokenizer": "the model's own",
    "train_df": "in the key as its fingerprint (data['train'])",
    "eval_df": "validation: in the key as its fingerprint",
    "scratch_dir": "where the Trainer may write; nothing is read back from it",
    "teacher_logits": "in the key as its fingerprint",
    "teacher_hidden": "made from the teacher, the training sentences and the layer map, all in the key",
    "row_alpha": "in the key as its fingerprint",
    "teacher": "only the cost table runs the teacher every step; its runs are timed, never cached",
    "teacher_tokenizer": "goes with teacher",
    "max_steps": "only the cost table stops early; its runs are never cached",
    "progress_label": "what the terminal is told",
}


def test_the_trainer_takes_its_settings_only_from_the_spec():
    parameters = set(inspect.signature(trainer.train_classifier).parameters)
    assert parameters - NOT_IN_THE_KEY.keys() == {"schedule", "loss"}, (
        "train_classifier grew a setting outside Schedule and LossSettings: put it in run_spec.Schedule "
        "so the run's key holds it")


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(Schedule)])
def test_every_schedule_setting_changes_the_key(field):
    value = getattr(SCHEDULE, field)
    other = "no" if isinstance(value, str) else value * 2
    changed = student(schedule=dataclasses.replace(SCHEDULE, **{field: other}))
    assert run_key(changed)[1] != run_key(student())[1]
    assert changed.key()[field] == other


@pytest.mark.parametrize("loss", [LossSettings(0.3, 2.0), LossSettings(0.5, 4.0), LossSettings(0.5, 2.0, 1.0)])
def test_every_loss_setting_changes_the_key(loss):
    assert run_key(student(loss=loss))[1] != run_key(student())[1]


@pytest.mark.parametrize("changes", [{"data": {**DATA, "train": "d" * 64}}, {"teacher_logits": "m" * 64},
                                     {"row_alpha": "r" * 64}, {"teacher": "u" * 64}, {"mode": "pool"},
                                     {"extra": {"fraction": 0.1}}, {"model": {"source": "s", "layers": 4}},
                                     {"processes": 2}, {"machine": {**MACHINE, "cpu": "another CPU"}}])
def test_data_model_and_machine_change_the_key(changes):
    assert run_key(student(**changes))[1] != run_key(student())[1]


def test_the_key_keeps_the_fields_banked_runs_were_filed_under():
    """Runs banked before the spec existed carry these fields; the re-key tool carries them over
    only when nothing but the training code's hash differs."""
    teacher = RunSpec(role="teacher", model={"source": "t"}, schedule=SCHEDULE, data=DATA, processes=1,
                      machine=MACHINE)
    common = {"train", "validation", "test", "seed", "epochs", "learning_rate", "batch_size", "max_length",
              "warmup_ratio", "weight_decay", "precision", "processes", "machine"}
    assert set(teacher.key()) == {"role", "model"} | common
    assert set(student().key()) == {"role", "model", "mode", "alpha", "temperature", "hidden_weight", "teacher",
                                    "teacher_logits", "row_alpha", "extra"} | common
