"""Re-run chapter 4's alpha x T sweep with another student, grid, schedule, seed or learning rate, on validation only.

    python tools/sweep_validation.py --profile cpu --student distil-mpnet-6layer \
        --alphas 0.1,0.5 --temperatures 1,2,4 --epochs 6
    python tools/sweep_validation.py --profile cpu --student distil-mpnet-6layer \
        --alphas 0.1 --temperatures 1 --epochs 6 --learning-rate 3e-5 --seed 1

For trying recipes before a recorded run: it trains ``--student`` once per grid point and seed
(``--seed``, default the profile's sweep seeds) with the library's own sweep (`sweep.sweep_alpha_temperature`) and prints
validation accuracy; nothing else is saved but the table (``--out``, default
``Artifacts.validation_sweep``: student, epochs, and the learning rate and seed when those differ
from the profile's; the table records the learning rate and seed too). The test split is never reported.
Needs chapters 1 to 3 of the same profile (splits, teacher, cached teacher logits).
"""
from __future__ import annotations

import argparse

from distill_utils.artifacts import Artifacts
from distill_utils.data import read_splits
from distill_utils.sweep import best_sweep_point, sweep_alpha_temperature
from distill_utils.profiles import resolve_config
from distill_utils.record.runs import cached_artifacts
from distill_utils.teacher_cache import cache_teacher_logits


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default=None)
    parser.add_argument("--student", required=True)
    parser.add_argument("--alphas", required=True, help="comma-separated, e.g. 0.1,0.5")
    parser.add_argument("--temperatures", required=True, help="comma-separated, e.g. 1,2,4")
    parser.add_argument("--epochs", type=float, required=True)
    parser.add_argument("--seed", type=int, default=None, help="default: the profile's first seed")
    parser.add_argument("--learning-rate", type=float, default=None, help="default: the profile's student_lr")
    parser.add_argument("--artifacts-dir", default=None, help="default: artifacts/<profile>")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    cfg = resolve_config(args.profile, sweep_student=args.student, sweep_alphas=args.alphas,
                         sweep_temperatures=args.temperatures, sweep_epochs=args.epochs,
                         seed=args.seed, sweep_seeds=None if args.seed is None else [args.seed],
                         student_lr=args.learning_rate, artifacts_dir=args.artifacts_dir)
    profile_defaults = resolve_config(args.profile)
    art = cached_artifacts(Artifacts.of(cfg))  # the sweep's finished runs are read back
    splits = read_splits(art.require_splits())
    logits = cache_teacher_logits(art, splits, cfg.max_length)
    out = args.out or art.validation_sweep(
        cfg.sweep_student, cfg.sweep_epochs,
        learning_rate=None if cfg.student_lr == profile_defaults.student_lr else cfg.student_lr,
        seed=None if cfg.seed == profile_defaults.seed else cfg.seed)
    table = sweep_alpha_temperature(cfg, art, splits, logits["train"], out)
    print(table.to_string(index=False))
    alpha, temperature = best_sweep_point(table)
    print(f"best on validation: alpha {alpha:g}, T {temperature:g} "
          f"({cfg.sweep_student}, {cfg.sweep_epochs:g} epochs, learning rate {cfg.student_lr:g}, "
          f"seeds {', '.join(map(str, cfg.sweep_seeds))}); table: {out}")


if __name__ == "__main__":
    main()
