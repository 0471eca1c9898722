"""Run profiles: which teacher and students to use, and how big each run is.

Notebooks start with a papermill ``parameters`` cell whose values default to ``None``;
`resolve_config` fills every ``None`` from the profile, so ``-p temperature 4`` overrides one
setting and ``-p profile smoke`` (or the ``DISTILL_PROFILE`` environment variable) switches all.
"""
from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass

from .augment import AugmentRates
from .data import check_agreement
from .losses import check_alpha, check_temperature
from .models import check_model_name
from .parameters import PARAMETERS, read_parameter

DEFAULT_PROFILE = "cpu"
PROFILE_ENV = "DISTILL_PROFILE"


@dataclass(frozen=True)
class Goals:
    """Targets a recorded run is checked against (chapter 6's goals table), in the issues' words:
    the teacher's mean test accuracy over its seeds; the pruned-teacher student (distilled) within
    ``pruned_gap_max_points`` of the teacher; at the smallest label budget, the teacher's soft
    labels on the never-seen pool within ``budget_gap_max_points`` of the full-data student; each
    student of the best recipe (all labels + the pool's soft labels) within ``pool_gap_max_points``
    of the teacher, and so each student of the transfer curve's chosen recipe
    (``recipe_gap_max_points``); no arm of the budget curve, the low-resource arm or the transfer curve
    answering one class on any seed; the
    first (DistilBERT-shaped) student's speed-up at batch size 1 in fp32, as a share of its FLOP
    ratio to the teacher (``student_speedup_of_flop_ratio_min``: six of twelve layers cannot run
    more than about twice as fast, so a fixed 2x could never be met); the fastest compressed
    variant's speed-up within ``compressed_gap_max_points`` of the teacher; and the cost of a
    distillation step (cached teacher logits) relative to a plain one."""

    teacher_accuracy_min: float = 0.98
    pruned_gap_max_points: float = 1.0
    budget_gap_max_points: float = 3.0
    pool_gap_max_points: float = 1.0
    recipe_gap_max_points: float = 1.0
    student_speedup_of_flop_ratio_min: float = 0.95
    compressed_speedup_min: float = 10.0
    compressed_gap_max_points: float = 1.0
    distillation_step_ratio_max: float = 1.15


@dataclass(frozen=True)
class Profile:
    """Every setting a notebook reads. Field names are the notebooks' parameter names."""

    profile: str
    description: str
    teacher: str
    students: tuple[str, ...]
    # students trained distilled only (no plain control), to push past the first student's speed:
    # chapter 5 reports their accuracy over seeds and speed-up against the teacher's
    compression_students: tuple[str, ...] = ()
    # the student the book's headlines are about (chapter 4's error analysis and calibration,
    # chapter 5's comparison with the reference and its levers, chapter 6's goals): the
    # DistilBERT-style one
    headline_student: str | None = None
    agreement: str = "all"
    split_seed: int = 42
    test_size: float = 0.15
    val_size: float = 0.10
    train_limit: int | None = None  # stratified subsample of each split (smoke runs only)
    seed: int = 42  # the first training seed; chapter 5 benchmarks this seed's students
    seeds: tuple[int, ...] = (42,)  # every student variant is trained once per seed
    # the teacher is trained once per teacher seed with the same recipe; the first is the teacher the
    # students learn from, the others measure how much the teacher itself varies from seed to seed
    teacher_seeds: tuple[int, ...] = ()  # () = the first training seed
    teacher_epochs: float = 3.0
    teacher_lr: float = 3e-5
    student_epochs: float = 3.0
    student_lr: float = 5e-5
    batch_size: int = 32
    max_length: int = 128
    # The distillation loss's settings for the final runs. None: chapter 4's sweep chooses them on
    # the validation split; a value (papermill -p alpha 0.3) overrides the sweep's choice.
    alpha: float | None = None
    temperature: float | None = None
    warmup_ratio: float = 0.1
    # alpha x temperature sweep (one student, a short schedule, chosen on the validation split)
    sweep_student: str | None = None  # one of the students (`STUDENT_ROLES`)
    sweep_alphas: tuple[float, ...] = (0.1, 0.5, 0.9)
    sweep_temperatures: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)
    sweep_epochs: float = 1.0
    sweep_seeds: tuple[int, ...] = ()  # every grid point once per seed; () = the first training seed
    # the budget curve: one student on nested fractions of the training split, four modes each
    budget_student: str | None = None  # one of the students
    budget_fractions: tuple[float, ...] = (0.1, 1.0)
    budget_seeds: tuple[int, ...] = ()  # () = the training seeds
    budget_epochs: float | None = None  # None: student_epochs
    pool_limit: int | None = None  # stratified subsample of the never-seen pool (smoke and ci runs)
    # the low-resource arm: the budget curve at this fraction with a teacher that saw only those
    # labels (None: not run)
    low_resource_fraction: float | None = None
    # the transfer-set size curve (`transfer_curve`), at every label: the transfer set's sizes as
    # multiples of the labelled sentences beyond the pool's own (): not run); candidate augmentation
    # rates (mask, n-gram, delete, swap; `augment.AugmentRates`) and step budgets (multiples of the
    # plain student's steps), chosen on validation
    transfer_multiples: tuple[float, ...] = ()
    transfer_rates: tuple[tuple[float, float, float, float], ...] = ((0.1, 0.25, 0.05, 0.05),)
    transfer_step_multiples: tuple[float, ...] = (2.0,)
    # the students trained on the recipe the transfer curve chose on validation (saved; chapter 5
    # benchmarks them): students with a plain control and compression students; () for none
    recipe_students: tuple[str, ...] = ()
    # the best recipe (`pool_recipe`): every label plus the teacher's soft labels on the pool, for
    # these students (each has its plain control) and the compression students; () for none
    pool_students: tuple[str, ...] = ()
    # intermediate-layer (hidden-state) distillation, Patient-KD style, as an option
    hidden_student: str | None = None  # one of the students
    # the weight of the hidden-state term added to the logit loss (0: off), and the candidate weights
    # chapter 4 chooses it from on validation when no `hidden_weight` parameter is given (0 is
    # logit-only distillation; (): none tried)
    hidden_weight: float = 0.0
    hidden_weights: tuple[float, ...] = ()
    cost_steps: int = 10  # training steps timed per mode in the cost comparison
    weight_decay: float = 0.01
    bf16: bool = True  # bf16 autocast where the hardware supports it (AMX CPUs, Ampere+ GPUs)
    latency_runs: int = 200
    throughput_batches: int = 10
    threads: int | None = None  # torch intra-op threads for benchmarks; None = all cores
    artifacts_dir: str | None = None  # None: <repo>/artifacts/<profile>
    goals: Goals | None = None  # what chapter 6 checks the run against; None: no targets

    def replace(self, **changes) -> "Profile":
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown setting(s) {sorted(unknown)}; valid: {setting_names()}")
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


PROFILES: dict[str, Profile] = {
    "cpu": Profile(
        profile="cpu",
        description=(
            "Default, offline: all-mpnet-base-v2 teacher from PyPI wheels; as students a "
            "DistilBERT-style 6-layer cut of the pre-trained encoder, all-MiniLM-L6-v2, and the "
            "pruned teacher (the same 6 layers cut from the fine-tuned teacher)."
        ),
        teacher="all-mpnet-base-v2",
        students=("distil-mpnet-6layer", "all-MiniLM-L6-v2", "pruned-teacher-6layer"),
        compression_students=("pruned-teacher-4layer",),
        headline_student="distil-mpnet-6layer",  # cut like DistilBERT: the reference's student
        # Chosen on the validation split: 5 epochs at 3e-5 beat 3 epochs at 3e-5 or 5e-5.
        teacher_seeds=(42, 1, 2),
        teacher_epochs=5.0,
        teacher_lr=3e-5,
        # Students: 6 epochs at 8e-5 had the best validation accuracy of the schedules tried
        # (4 epochs at 5e-5 among them); alpha and T come from the sweep.
        student_epochs=6.0,
        student_lr=8e-5,
        seeds=(42, 1, 2),
        sweep_student="all-MiniLM-L6-v2",
        # The students' own schedule: shorter ones rank the grid by speed of convergence, not by
        # the recipe (results/sweep_schedule_check.json: at 2 to 4 epochs cells with T >= 2 stay stuck).
        sweep_epochs=6.0,
        sweep_seeds=(42, 1),
        budget_student="all-MiniLM-L6-v2",
        # 100%: every label, with and without the pool (4 epochs, like the curve's other points)
        budget_fractions=(0.03, 0.1, 1.0),
        pool_students=("distil-mpnet-6layer", "all-MiniLM-L6-v2"),
        budget_epochs=4.0,
        low_resource_fraction=0.1,
        # Tang et al. 2019's rates, and one with half the n-gram fragments
        transfer_multiples=(5.0, 10.0),
        transfer_rates=((0.1, 0.25, 0.05, 0.05), (0.1, 0.1, 0.05, 0.05)),
        transfer_step_multiples=(2.0,),
        recipe_students=("distil-mpnet-6layer", "pruned-teacher-6layer", "pruned-teacher-4layer"),
        hidden_weights=(0.0, 1.0, 10.0),
        hidden_student="all-MiniLM-L6-v2",
        cost_steps=20,
        goals=Goals(),  # the issues' targets for this profile's recorded run
    ),
    "seed": Profile(
        profile="seed",
        description=(
            "The reference experiment: bert-base-uncased teacher and distilbert-base-uncased "
            "student from the Hugging Face Hub. Needs internet; meant for Colab or a GPU machine."
        ),
        teacher="bert-base-uncased",
        students=("distilbert-base-uncased",),
        headline_student="distilbert-base-uncased",
        sweep_student="distilbert-base-uncased",
        budget_student="distilbert-base-uncased",
        hidden_student="distilbert-base-uncased",
        teacher_seeds=(42, 1, 2),
        teacher_epochs=3.0,
        teacher_lr=3e-5,
        student_epochs=4.0,
        student_lr=5e-5,
        seeds=(42, 1, 2),
        sweep_epochs=2.0,
        cost_steps=20,
        latency_runs=300,
    ),
    "seed-smoke": Profile(
        profile="seed-smoke",
        description=(
            "The seed profile's own code path, shrunk: bert-base-uncased and distilbert-base-uncased "
            "from the Hub (the tests serve 2 x 64 stand-ins on loopback), 300 sentences per split, "
            "one epoch, one seed (smoke covers the paths over seeds). Accuracy is meaningless."
        ),
        teacher="bert-base-uncased",
        students=("distilbert-base-uncased",),
        headline_student="distilbert-base-uncased",
        sweep_student="distilbert-base-uncased",
        budget_student="distilbert-base-uncased",
        hidden_student="distilbert-base-uncased",
        train_limit=300,
        teacher_epochs=1.0,
        teacher_lr=1e-3,
        student_epochs=1.0,
        student_lr=1e-3,
        max_length=64,
        seeds=(42,),
        sweep_alphas=(0.5,),
        sweep_temperatures=(2.0,),
        budget_fractions=(0.1,),
        pool_limit=100,
        cost_steps=2,
        latency_runs=10,
        throughput_batches=1,
    ),
    "smoke": Profile(
        profile="smoke",
        description=(
            "Plumbing check: tiny random-initialised BERTs (MiniLM tokenizer), a few hundred "
            "sentences, one epoch, two seeds. All six notebooks in about 3 minutes; accuracy is meaningless."
        ),
        teacher="tiny-bert-teacher",
        students=("tiny-bert-cut", "tiny-bert-random", "tiny-bert-copy"),
        compression_students=("tiny-bert-copy-top",),
        headline_student="tiny-bert-cut",
        train_limit=300,
        teacher_seeds=(42, 1),
        teacher_epochs=1.0,
        teacher_lr=1e-3,
        student_epochs=1.0,
        student_lr=1e-3,
        max_length=64,
        seeds=(42, 1),  # two, so every over-seed path (spread, intervals, paired tests) runs
        sweep_student="tiny-bert-random",
        sweep_seeds=(42, 1),
        budget_student="tiny-bert-random",
        budget_fractions=(0.1,),
        pool_limit=200,
        low_resource_fraction=0.1,
        transfer_multiples=(2.0,),
        recipe_students=("tiny-bert-copy", "tiny-bert-copy-top"),
        pool_students=("tiny-bert-random",),
        sweep_alphas=(0.1, 0.9),
        sweep_temperatures=(1.0, 4.0),
        hidden_student="tiny-bert-random",
        hidden_weight=10.0,  # the option's training path, exercised
        hidden_weights=(10.0,),  # one candidate: the choice and the training path both run
        cost_steps=3,
        latency_runs=20,
        throughput_batches=2,
    ),
}


# CI runs the cpu profile's lineup (teacher, students, their roles) on small subsets: derived from
# cpu, so a change to cpu's models is what CI tests
PROFILES["ci"] = dataclasses.replace(
    PROFILES["cpu"],
    profile="ci",
    description=(
        "CI check with the real models of the cpu profile on small subsets (300 sentences per "
        "split, one epoch, two seeds, a 2 x 2 sweep): every chapter's code path on real "
        "weights in about 15 minutes on 2 cores. Accuracy is not the book's."
    ),
    train_limit=300, teacher_seeds=(), teacher_epochs=1.0, teacher_lr=5e-5, student_epochs=1.0,
    seeds=(42, 1), sweep_alphas=(0.1, 0.9), sweep_temperatures=(1.0, 4.0), sweep_epochs=1.0,
    sweep_seeds=(), budget_fractions=(0.1, 1.0), budget_seeds=(42,), budget_epochs=None, pool_limit=300,
    cost_steps=5, latency_runs=30, throughput_batches=2, goals=None,
    transfer_multiples=(3.0,), transfer_rates=PROFILES["cpu"].transfer_rates[:1], transfer_step_multiples=(1.0,),
    # the smoke profile runs the low-resource arm's path; CI's time goes to the real weights' paths
    low_resource_fraction=None, recipe_students=("pruned-teacher-4layer",), hidden_weights=(),
)


def within_points(cfg: Profile) -> float:
    """How close to the teacher's accuracy (points) a compressed variant must stay to count as
    "within reach": the profile's goal, or the default goal for a profile that sets no targets."""
    return (cfg.goals or Goals()).compressed_gap_max_points


# the roles one of the students plays: every profile names the student of each (a role is never
# taken by a student's place in the list, so adding a student changes no role)
STUDENT_ROLES = ("headline_student", "sweep_student", "hidden_student", "budget_student")


def setting_names() -> list[str]:
    return [f.name for f in dataclasses.fields(Profile) if f.name != "description"]


def on_colab() -> bool:
    """Running in a Google Colab kernel (which imports ``google.colab`` at start)."""
    return "google.colab" in sys.modules


def get_profile(name: str | None = None) -> Profile:
    """The named profile; ``None`` means ``$DISTILL_PROFILE`` or, failing that, ``seed`` on Colab
    (it has the Hub but not the cpu profile's weight wheels) and ``cpu`` everywhere else."""
    name = name or os.environ.get(PROFILE_ENV) or ("seed" if on_colab() else DEFAULT_PROFILE)
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; valid profiles: {', '.join(PROFILES)}")
    return PROFILES[name]


def resolve_config(profile: str | None = None, **overrides) -> Profile:
    """The profile with every non-None override applied (the notebooks' parameters cell). Each
    value is read through its declared type (`parameters.read_parameter`): a value of the wrong
    type is refused, naming the parameter, the value and what is expected."""
    base = get_profile(read_parameter("profile", profile))
    known = {f.name for f in dataclasses.fields(Profile)}
    changes = {key: read_parameter(key, value) if key in PARAMETERS or key not in known else value
               for key, value in overrides.items() if value is not None}
    if "agreement" in changes:  # 75, "75" and "75Agree" all name the same file
        changes["agreement"] = check_agreement(changes["agreement"])
    if "seed" in changes and "seeds" not in changes:
        changes["seeds"] = (int(changes["seed"]),)  # `-p seed 7` alone: one run with that seed
    if "seed" in changes and "teacher_seeds" not in changes:
        changes["teacher_seeds"] = (int(changes["seed"]),)
    cfg = base.replace(**changes)
    if "seeds" in changes and "seed" not in changes:
        cfg = cfg.replace(seed=cfg.seeds[0])
    for name in STUDENT_ROLES:
        chosen = getattr(cfg, name)
        if name not in changes and chosen not in cfg.students:
            # the profile's choice left out by a `students` parameter: one student plays every role;
            # among several, the reader names who plays it (a value set as a parameter is checked
            # in `_validate`, and named if wrong)
            if len(cfg.students) != 1:
                raise ValueError(f"{name} {chosen!r} is not among the students {list(cfg.students)}: "
                                 f"name the student that plays it, e.g. -p {name} {cfg.students[0]}")
            cfg = cfg.replace(**{name: cfg.students[0]})
    if "pool_students" not in changes:  # the profile's, less those a `students` parameter left out
        cfg = cfg.replace(pool_students=tuple(name for name in cfg.pool_students if name in cfg.students))
    if "recipe_students" not in changes:  # likewise
        cfg = cfg.replace(recipe_students=tuple(name for name in cfg.recipe_students
                                                if name in cfg.students + cfg.compression_students))
    cfg = cfg.replace(sweep_seeds=cfg.sweep_seeds or (cfg.seed,),
                      budget_seeds=cfg.budget_seeds or cfg.seeds,
                      teacher_seeds=cfg.teacher_seeds or (cfg.seed,),
                      budget_epochs=cfg.budget_epochs or cfg.student_epochs)
    _validate(cfg)
    return cfg


def _validate(cfg: Profile) -> None:
    check_model_name(cfg.teacher)
    for student in cfg.students + cfg.compression_students:
        check_model_name(student)
    if not cfg.students:
        raise ValueError("a profile needs at least one student")
    strangers = [name for name in cfg.pool_students if name not in cfg.students]
    if strangers:
        raise ValueError(f"pool_students {strangers} must be among the students {list(cfg.students)} "
                         "(each needs its plain control); set pool_students or students to match")
    strangers = [name for name in cfg.recipe_students if name not in cfg.students + cfg.compression_students]
    if strangers:
        raise ValueError(f"recipe_students {strangers} must be among the students and compression students "
                         f"{list(cfg.students + cfg.compression_students)}; set recipe_students or students to match")
    both = set(cfg.students) & set(cfg.compression_students)
    if both:
        raise ValueError(f"{sorted(both)} cannot be both a student and a compression student")
    for name in STUDENT_ROLES:
        if getattr(cfg, name) not in cfg.students:
            raise ValueError(f"{name}={getattr(cfg, name)!r} is not one of the students {list(cfg.students)}")
    if not cfg.seeds or cfg.seed != cfg.seeds[0]:
        raise ValueError(f"seed ({cfg.seed}) must be the first of seeds {list(cfg.seeds)}")
    for name in ("seeds", "sweep_seeds", "budget_seeds", "teacher_seeds"):
        if len(set(getattr(cfg, name))) != len(getattr(cfg, name)):
            raise ValueError(f"{name} must be distinct, got {list(getattr(cfg, name))}")
    if not cfg.budget_fractions or not all(0 < f <= 1 for f in cfg.budget_fractions):
        raise ValueError(f"budget_fractions must lie in (0, 1], got {list(cfg.budget_fractions)}")
    if cfg.low_resource_fraction is not None and not 0 < cfg.low_resource_fraction < 1:
        raise ValueError(f"low_resource_fraction must lie in (0, 1), got {cfg.low_resource_fraction}")
    if any(m <= 0 for m in cfg.transfer_multiples) or any(m <= 0 for m in cfg.transfer_step_multiples):
        raise ValueError("transfer_multiples and transfer_step_multiples must be > 0, got "
                         f"{list(cfg.transfer_multiples)} and {list(cfg.transfer_step_multiples)}")
    if not cfg.transfer_step_multiples or not cfg.transfer_rates:
        raise ValueError("transfer_step_multiples and transfer_rates need at least one value each")
    for rates in cfg.transfer_rates:
        AugmentRates(*rates)  # each rate in [0, 1]
    if not cfg.sweep_alphas or not cfg.sweep_temperatures:
        raise ValueError("sweep_alphas and sweep_temperatures need at least one value each")
    for value in cfg.sweep_alphas:
        check_alpha(value, "each of sweep_alphas")
    for value in cfg.sweep_temperatures:
        check_temperature(value, "each of sweep_temperatures")
    if cfg.alpha is not None:
        check_alpha(cfg.alpha)
    if cfg.temperature is not None:
        check_temperature(cfg.temperature)
    if cfg.hidden_weight < 0:
        raise ValueError(f"hidden_weight must be >= 0, got {cfg.hidden_weight}")
    if any(weight < 0 for weight in cfg.hidden_weights):
        raise ValueError(f"hidden_weights must be >= 0, got {list(cfg.hidden_weights)}")
    if cfg.threads is not None and int(cfg.threads) < 1:
        raise ValueError(f"threads must be a positive integer (or None for all cores), got {cfg.threads}")
    for name in ("teacher_epochs", "student_epochs", "teacher_lr", "student_lr", "sweep_epochs",
                 "budget_epochs"):
        if getattr(cfg, name) <= 0:
            raise ValueError(f"{name} must be > 0, got {getattr(cfg, name)}")
    for name in ("batch_size", "max_length", "latency_runs", "throughput_batches", "cost_steps"):
        if int(getattr(cfg, name)) < 1:
            raise ValueError(f"{name} must be a positive integer, got {getattr(cfg, name)}")
