"""How a run trains, named once: the codes that run records, run keys and checkpoint folders keep
(``students/<model>/kd-seed42``), so every module spells them the same way; and how a run is
named to the person running it (`run_label`, the `PROGRESS` log).

The budget curve (`budget.BUDGET_MODES`), the pool recipe (`pool_recipe.POOL_MODES`) and the
transfer curve (`transfer_curve.transfer_mode_name`) add modes of their own, each with its
reader's description beside its code.
"""
import logging

TEACHER = "teacher"  # the teacher's own runs, and the teacher as the other arm of a comparison
PLAIN_MODE = "plain"  # hard labels only: the control of every comparison (`losses.PLAIN`)
DISTILLED = "kd"  # hard labels and the teacher's softened logits (`losses.distillation_loss`)
HIDDEN = "hidden"  # distilled, plus the hidden-state term (`losses.hidden_state_loss`)


def run_label(model: str, mode: str, seed: int) -> str:
    """How a run is named to a person: 'all-MiniLM-L6-v2 (kd, seed 1)'."""
    return f"{model} ({mode}, seed {seed})"


# where a long run is, for whoever runs it: `record.progress` shows these lines on their
# terminal; nothing shows them on a page (no handler, and they do not reach the root logger)
PROGRESS = logging.getLogger("distill_utils.progress")
PROGRESS.propagate = False
