"""Write the source (unexecuted) notebooks 03 and 04 from the cell lists below.

Kept in the repository so the chapters' structure can be regenerated and reviewed as code:
    python tools/make_chapter3_notebooks.py
"""
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
COLAB = nbformat.read(ROOT / "notebooks" / "01_dataset_exploration.ipynb", 4).cells[0].source


def code(source, *tags):
    cell = new_code_cell(source.strip("\n"))
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def md(source):
    return new_markdown_cell(source.strip("\n"))


def notebook(cells):
    nb = new_notebook(cells=[code(COLAB, "remove-cell"), *cells])
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


LOSS = [
    md(r"""
# 3. The distillation loss, derived and checked

A fine-tuned teacher does more than pick a class: for every sentence it gives a probability to
each class, and the probabilities it gives to the *wrong* classes say which mistakes are
plausible (a sentence about a smaller loss can look neutral or positive, rarely negative).
Hinton et al. {cite}`hinton2015distilling` called this the teacher's *dark knowledge*, and
showed that a small student trained to match these soft outputs learns more than one trained on
the hard labels alone. This chapter derives the loss that does it, checks every step numerically,
and shows what its two knobs, the temperature $T$ and the weight $\alpha$, do. Chapter 4 trains
the students with it.
"""),
    code('''
# Parameters (papermill: -p name value). None = take the value from the profile.
profile = None         # "cpu" (default, offline), "seed" (Hub models, needs internet), "smoke"
max_length = None
artifacts_dir = None   # None: artifacts/<profile> in the repository
''', "parameters"),
    code('''
import numpy as np
import torch

from distill_utils import plots
from distill_utils.artifacts import artifacts_root, require
from distill_utils.data import read_splits
from distill_utils.losses import distillation_loss, soft_target_loss
from distill_utils.notebook import glue, run_metadata, setup_notebook
from distill_utils.profiles import resolve_config
from distill_utils.training import cache_teacher_logits

setup_notebook()
cfg = resolve_config(profile, max_length=max_length, artifacts_dir=artifacts_dir)
art = artifacts_root(cfg.profile, cfg.artifacts_dir)
splits = read_splits(require(art / "data" / "splits.json", "splits"))
teacher_dir = require(art / "teacher" / "model.safetensors", "teacher").parent
torch.set_printoptions(precision=6)
print(f"profile={cfg.profile}  teacher={cfg.teacher}")
''', "hide-input"),
    md(r"""
## From logits to softened probabilities

Let $z^t$ and $z^s$ be the teacher's and the student's logits for one sentence ($N = 3$ classes
here) and $y$ its label. A temperature $T > 0$ divides the logits before the softmax:

$$
p_i = \frac{e^{z^t_i / T}}{\sum_j e^{z^t_j / T}}, \qquad
q_i = \frac{e^{z^s_i / T}}{\sum_j e^{z^s_j / T}} .
$$

At $T = 1$ this is the usual softmax; a larger $T$ flattens both distributions and lifts the
small probabilities of the wrong classes, the dark knowledge, to where a loss can see them.

## The loss

The student minimises, averaged over the batch,

$$
\mathcal{L} = \alpha \, \mathrm{CE}\big(y, \mathrm{softmax}(z^s)\big)
  + (1 - \alpha) \, T^2 \, \mathrm{KL}\big(p \,\|\, q\big),
\qquad
\mathrm{KL}(p \,\|\, q) = \sum_i p_i \log \frac{p_i}{q_i} .
$$

In this book **$\alpha$ weights the hard-label term**: $\alpha = 1$ is ordinary fine-tuning (the
control every student is compared against), $\alpha = 0$ learns from the teacher alone.

## The gradient, step by step

Only $q$ depends on the student, so $\mathrm{KL}(p\|q) = \sum_i p_i \log p_i - \sum_i p_i \log q_i$
and the first sum is a constant. Take the log of the softened softmax:

$$
\log q_i = \frac{z^s_i}{T} - \log \sum_j e^{z^s_j / T},
\qquad
\frac{\partial \log q_i}{\partial z^s_k} = \frac{\delta_{ik}}{T} - \frac{1}{T}\,
\frac{e^{z^s_k / T}}{\sum_j e^{z^s_j / T}} = \frac{1}{T}\big(\delta_{ik} - q_k\big).
$$

Then, using $\sum_i p_i = 1$,

$$
\frac{\partial\, \mathrm{KL}(p\|q)}{\partial z^s_k}
= -\sum_i p_i \, \frac{1}{T}\big(\delta_{ik} - q_k\big)
= \frac{1}{T}\Big(q_k \sum_i p_i - p_k\Big)
= \frac{1}{T}\big(q_k - p_k\big).
$$

## Why the $T^2$

For large $T$ the softened probabilities are close to uniform. Expanding $e^{x} \approx 1 + x$
with logits of zero mean (a softmax does not change when a constant is added to all logits),

$$
q_k \approx \frac{1 + z^s_k / T}{N}, \qquad p_k \approx \frac{1 + z^t_k / T}{N},
\qquad
\frac{1}{T}\big(q_k - p_k\big) \approx \frac{z^s_k - z^t_k}{N\,T^2} .
$$

The soft-target gradient shrinks as $1/T^2$: without a correction, raising $T$ would silently
turn the soft term off and leave the hard-label term in charge. Multiplying the KL term by $T^2$
keeps its gradient the same size whatever $T$ is chosen, so $\alpha$ keeps its meaning
{cite}`hinton2015distilling`. `distill_utils.losses.distillation_loss` implements exactly this
formula; it is the one piece of training code this book writes by hand.

## Checking the derivation numerically

The cells below check the gradient $\frac{1}{T}(q - p)$ against PyTorch's autograd and against
central finite differences, on fixed tensors in double precision, and `distillation_loss`
against a computation written out with plain tensor operations. They print deterministic values,
and the book's tests re-run them (nbval) and compare the printed output.
"""),
    code('''
student = torch.tensor([[1.0, 2.0, 0.5], [0.2, -1.0, 3.0]], dtype=torch.float64, requires_grad=True)
teacher = torch.tensor([[0.5, 3.0, 1.0], [-0.5, 0.0, 4.0]], dtype=torch.float64)
T = 2.0

def kl_one(z_s, z_t):  # KL(p || q) for one sentence, written out
    p, q = torch.softmax(z_t / T, -1), torch.softmax(z_s / T, -1)
    return (p * (p.log() - q.log())).sum()

analytic = (torch.softmax(student / T, -1) - torch.softmax(teacher / T, -1)) / T
autograd = torch.stack([torch.autograd.grad(kl_one(student[b], teacher[b]), student)[0][b]
                        for b in range(2)])
eps = 1e-6
finite = torch.zeros_like(analytic)
with torch.no_grad():
    for b in range(2):
        for k in range(3):
            step = torch.zeros(3, dtype=torch.float64)
            step[k] = eps
            finite[b, k] = (kl_one(student[b] + step, teacher[b]) - kl_one(student[b] - step, teacher[b])) / (2 * eps)
print("analytic (q - p) / T:\\n", analytic.detach().numpy().round(6))
print("autograd agrees to 1e-12:", bool(torch.allclose(analytic, autograd, atol=1e-12)))
print("finite differences agree to 1e-8:", bool(torch.allclose(analytic, finite, atol=1e-8)))
''', "nbval-check-output"),
    code('''
labels = torch.tensor([1, 2])
alpha = 0.3
s, t = student.detach().float(), teacher.float()  # the library computes the loss in float32
p, q = torch.softmax(t / T, -1), torch.softmax(s / T, -1)
hard = -torch.log_softmax(s, -1)[torch.arange(2), labels].mean()
soft = (p * (p.log() - q.log())).sum(-1).mean()
by_hand = alpha * hard + (1 - alpha) * T**2 * soft
library = distillation_loss(s, t, labels, alpha, T)
print(f"by hand:           {by_hand.item():.6f}")
print(f"distillation_loss: {library.item():.6f}")
print(f"alpha = 1 is plain cross-entropy: "
      f"{bool(torch.isclose(distillation_loss(s, t, labels, 1.0, T), hard))}")
try:
    distillation_loss(s, t, labels, 1.5, T)
except ValueError as error:
    print("alpha = 1.5 ->", error)
''', "nbval-check-output"),
    md(r"""
The $1/T^2$ argument is an approximation; the next figure measures it. It takes the teacher's
real logits on the training sentences, stands a student in for them (the teacher's logits plus
fixed noise, like a student midway through training), and averages the size of the soft-target
gradient over the sentences at each temperature.
"""),
    code('''
teacher_logits = cache_teacher_logits(teacher_dir, {"train": splits["train"]}, cfg.max_length,
                                      art / "teacher_logits")["train"]
z_t = torch.tensor(teacher_logits, dtype=torch.float64)
z_s = (z_t + torch.randn(z_t.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
       ).requires_grad_(True)
temperatures = np.array([1, 2, 4, 8, 16, 32], dtype=float)
sizes = []
for T_ in temperatures:
    grad, = torch.autograd.grad(soft_target_loss(z_s, z_t, T_), z_s)
    sizes.append(grad.abs().mean().item() * len(z_t))  # undo the batch mean: per sentence
sizes = np.array(sizes)
fig = plots.plot_gradient_scale(temperatures, sizes, sizes * temperatures**2)
glue("fig_gradient_scale", fig)
slope = np.polyfit(np.log(temperatures[2:]), np.log(sizes[2:]), 1)[0]
glue("gradient_slope", slope)
glue("gradient_ratio_t2", (sizes * temperatures**2)[-1] / (sizes * temperatures**2)[2])
''', "remove-output"),
    md(r"""
```{glue:figure} fig_gradient_scale
:name: fig-gradient-scale

Mean size of the soft-target gradient with respect to the student's logits, per sentence, on the
training split. Without the $T^2$ factor it falls with slope {glue:text}`gradient_slope:.2f` on
log-log axes for $T \ge 4$ (the derivation predicts $-2$); with it the gradient stays level
(between $T = 4$ and $T = 32$ it changes by a factor of {glue:text}`gradient_ratio_t2:.2f`).
```

## Dark knowledge: what temperature reveals

Which wrong classes does the teacher find plausible? The sentence below is the training sentence
on which the teacher gives the most probability to its second choice.
"""),
    code('''
probabilities = torch.softmax(torch.tensor(teacher_logits), -1).numpy()
example = int(np.argmax(np.sort(probabilities, -1)[:, -2]))
sentence = splits["train"]["sentence"][example]
probs = {T_: torch.softmax(torch.tensor(teacher_logits[example]) / T_, -1).numpy() for T_ in (1.0, 2.0, 4.0, 8.0)}
fig = plots.plot_temperature(probs, "One teacher distribution at four temperatures")
glue("fig_temperature", fig)
print(sentence)
'''),
    md(r"""
```{glue:figure} fig_temperature
:name: fig-temperature

The teacher's probabilities for that sentence at four temperatures. At T = 1 most of the mass
sits on one class; a higher T shows which other class the teacher finds plausible, the
information a one-hot label throws away.
```

## What $\alpha$ trades

At $T = 1$ the two terms combine neatly: the gradient of $\mathcal{L}$ with respect to $z^s$ is
$\alpha(q - e_y) + (1 - \alpha)(q - p) = q - \big(\alpha e_y + (1 - \alpha) p\big)$, where $e_y$
is the one-hot label. The student is pulled towards a single *effective target*: the label mixed
with the teacher's distribution. $\alpha$ sets the mix; $T > 1$ additionally flattens $p$ and
rescales its term as derived above.
"""),
    code('''
label = int(splits["train"]["label"][example])
one_hot = np.eye(3)[label]
teacher_p = probs[1.0]
targets = {a: a * one_hot + (1 - a) * teacher_p for a in (0.0, 0.25, 0.5, 0.75, 1.0)}
fig = plots.plot_effective_targets(targets, "Effective target at T = 1 for the sentence above")
glue("fig_alpha_targets", fig)
''', "remove-output"),
    md(r"""
```{glue:figure} fig_alpha_targets
:name: fig-alpha-targets

The target the student is pulled towards, for five values of $\alpha$. With $\alpha = 1$ it is
the annotators' label alone; with $\alpha = 0$ it is the teacher's belief, second guesses
included. Chapter 4 chooses $\alpha$ and $T$ with a sweep on the validation split.
"""),
    code("run_metadata(cfg)", "hide-input", "hide-output"),
]

TRAIN = [
    md(r"""
# 4. Training the students, compared honestly

Chapter 3 derived the loss. This chapter trains the students with it and asks, with the care a
few hundred test sentences demand, what distillation actually buys:

1. an $\alpha \times T$ sweep on the validation split picks the loss settings;
2. every student is trained **distilled** and **plain** ($\alpha = 1$, the control: same model,
   data, schedule and seed), over several seeds, so the spread between seeds is measured rather
   than guessed;
3. two levers beyond the basic recipe: a **transfer set** (the teacher's soft labels on every
   PhraseBank sentence outside the validation and test splits) and **hidden-state distillation**;
4. paired significance tests on the same test sentences, an error analysis, calibration, and
   what the teacher costs during training.
"""),
    code('''
# Parameters (papermill: -p name value). None = take the value from the profile.
profile = None         # "cpu" (default, offline), "seed" (Hub models, needs internet), "smoke"
students = None        # comma-separated student names, e.g. "mpnet-6layer,all-MiniLM-L6-v2"
seeds = None           # comma-separated training seeds, e.g. "42,1,2"
alpha = None           # hard-label weight; None: the sweep's choice
temperature = None     # softmax temperature; None: the sweep's choice
student_epochs = None
student_lr = None
batch_size = None
max_length = None
bf16 = None
sweep_student = None   # the student the alpha x T sweep trains
sweep_epochs = None
transfer_student = None
transfer_epochs = None
hidden_student = None
hidden_weight = None   # weight of the hidden-state term
cost_steps = None      # training steps timed per mode for the cost table
artifacts_dir = None   # None: artifacts/<profile> in the repository
''', "parameters"),
    code('''
import numpy as np
import pandas as pd

from distill_utils import plots
from distill_utils.artifacts import artifacts_root, require
from distill_utils.data import LABELS, read_splits, transfer_set
from distill_utils.metrics import (compare_variants, disagreements, expected_calibration_error,
                                   reliability_table, runs_frame, summarise_runs)
from distill_utils.notebook import glue, run_metadata, setup_notebook
from distill_utils.profiles import resolve_config
from distill_utils.training import (best_sweep_point, cache_teacher_logits, measure_training_cost,
                                    run_record, student_dir, sweep_alpha_temperature, train_student,
                                    train_students)

setup_notebook()
cfg = resolve_config(profile, students=students, seeds=seeds, student_epochs=student_epochs,
                     student_lr=student_lr, batch_size=batch_size, max_length=max_length, bf16=bf16,
                     sweep_student=sweep_student, sweep_epochs=sweep_epochs,
                     transfer_student=transfer_student, transfer_epochs=transfer_epochs,
                     hidden_student=hidden_student, hidden_weight=hidden_weight,
                     cost_steps=cost_steps, artifacts_dir=artifacts_dir)
art = artifacts_root(cfg.profile, cfg.artifacts_dir)
splits = read_splits(require(art / "data" / "splits.json", "splits"))
teacher_dir = require(art / "teacher" / "model.safetensors", "teacher").parent
teacher_record = run_record(teacher_dir)
transfer = transfer_set(splits, cfg.transfer_agreement, limit=2 * cfg.train_limit if cfg.train_limit else None)
teacher_logits = cache_teacher_logits(teacher_dir, {**splits, "transfer": transfer}, cfg.max_length,
                                      art / "teacher_logits")
test_labels = splits["test"]["label"].to_numpy()
print(f"profile={cfg.profile}  students={', '.join(cfg.students)}  seeds={list(cfg.seeds)}  "
      f"epochs={cfg.student_epochs}  lr={cfg.student_lr}  batch={cfg.batch_size}")
''', "hide-input"),
    md(r"""
## Choosing $\alpha$ and $T$

The sweep trains one student, {glue:text}`sweep_student`, on every point of the grid with a short
schedule ({glue:text}`sweep_epochs` epochs, one seed) and scores it on the **validation** split;
the test split is not looked at until the final runs. The cell with the highest validation
accuracy (ties: higher macro-F1) is carried into the final training of every student.
"""),
    code('''
sweep = sweep_alpha_temperature(cfg, splits, teacher_logits["train"], teacher_dir, art / "sweep.json")
best_alpha, best_temperature = best_sweep_point(sweep)
final_alpha = best_alpha if alpha is None else float(alpha)
final_temperature = best_temperature if temperature is None else float(temperature)
glue("sweep_student", cfg.sweep_student)
glue("sweep_epochs", cfg.sweep_epochs)
glue("sweep_points", len(sweep))
glue("sweep_best_alpha", best_alpha)
glue("sweep_best_t", best_temperature)
glue("sweep_best_acc", 100 * sweep["val_accuracy"].max())
glue("sweep_spread", 100 * (sweep["val_accuracy"].max() - sweep["val_accuracy"].min()))
glue("sweep_val_n", len(splits["validation"]))
glue("final_alpha", final_alpha)
glue("final_t", final_temperature)
glue("fig_sweep", plots.plot_sweep_heatmap(sweep, (best_alpha, best_temperature), cfg.sweep_student))
''', "hide-input", "remove-output"),
    md(r"""
```{glue:figure} fig_sweep
:name: fig-sweep

Validation accuracy of {glue:text}`sweep_student` over {glue:text}`sweep_points` settings of
$\alpha$ (rows) and $T$ (columns). The outlined cell, $\alpha$ = {glue:text}`sweep_best_alpha`
and $T$ = {glue:text}`sweep_best_t`, scored {glue:text}`sweep_best_acc:.1f`%.
```

The whole grid spans {glue:text}`sweep_spread:.1f` points on {glue:text}`sweep_val_n` validation
sentences; differences of a few sentences are within noise, so the sweep rules out bad corners
more than it crowns a winner. Mind its schedule: {glue:text}`sweep_epochs` epochs, shorter than
the final runs (the setup cell above prints their number). A setting that learns slowly, such
as a student matching very flat soft targets, is at a disadvantage in a short sweep even if it
would catch up over a full schedule; a sweep over the full schedule costs proportionally more. The final runs use $\alpha$ = {glue:text}`final_alpha` and
$T$ = {glue:text}`final_t`.

## Distilled against plain, over seeds

Each student is trained with the distillation loss and, as the control, with $\alpha = 1$, once
per seed. The seed changes the classification head's initialisation and the order of batches;
everything else stays fixed.
"""),
    code('''
records = train_students(cfg, splits, teacher_logits["train"], teacher_dir, art / "students",
                         alpha=final_alpha, temperature=final_temperature)
''', "hide-output"),
    md(r"""
## A transfer set

Hinton et al. distilled on a *transfer set*: sentences the student sees only through the
teacher's soft labels. Financial PhraseBank has one built in. The all-agree subset used so far is
the strictest of four nested agreement levels; the {glue:text}`transfer_agreement`%-agreement
file holds {glue:text}`transfer_file_n` sentences. Removing every validation and test sentence
(the nested files repeat them) leaves a transfer set of {glue:text}`transfer_n` sentences, of
which {glue:text}`transfer_from_train` are the training split itself. The extra sentences carry
weaker human labels (the annotators disagreed), so on the transfer set the student learns from
the teacher alone ($\alpha = 0$, $T$ = {glue:text}`final_t`) for {glue:text}`transfer_epochs`
epochs; it is compared with distillation on the training split alone and with the plain student.
"""),
    code('''
glue("transfer_agreement", cfg.transfer_agreement)
glue("transfer_file_n", transfer.attrs["sentences_in_file"])
glue("transfer_n", len(transfer))
glue("transfer_from_train", transfer.attrs["from_train_split"])
glue("transfer_epochs", cfg.transfer_epochs)
transfer_records = [
    train_student(cfg, cfg.transfer_student, splits,
                  student_dir(art / "students", cfg.transfer_student, "transfer", seed),
                  teacher_dir=teacher_dir, seed=seed, alpha=0.0, temperature=final_temperature,
                  teacher_logits=teacher_logits["transfer"], train_df=transfer,
                  epochs=cfg.transfer_epochs, mode="transfer")
    for seed in cfg.seeds]
''', "hide-output"),
    md(r"""
## Hidden-state distillation

The logits are the teacher's last word; its intermediate layers carry more. Patient knowledge
distillation {cite}`sun2019patient` adds a term that pulls the student's intermediate
representations towards the teacher's, and TinyBERT {cite}`jiao2020tinybert` goes further. Here,
as an option: the first-token vector of each student layer passes through a learned linear
projection to the teacher's width, both are normalised to unit length, and the squared distance
to the first-token vector of the matching teacher layer (evenly spaced: student layer $k$ of 6
meets teacher layer $2k$ of 12), averaged over layers, is added to the logit loss with weight
$\beta$ = {glue:text}`hidden_weight`. The teacher's vectors are cached like its logits; the
projection is discarded after training. It is compared with logit-only distillation of
{glue:text}`hidden_student` on the same seeds.
"""),
    code('''
glue("hidden_weight", cfg.hidden_weight)
glue("hidden_student", cfg.hidden_student)
hidden_records = [
    train_student(cfg, cfg.hidden_student, splits,
                  student_dir(art / "students", cfg.hidden_student, "hidden", seed),
                  teacher_dir=teacher_dir, seed=seed, alpha=final_alpha, temperature=final_temperature,
                  teacher_logits=teacher_logits["train"], hidden_weight=cfg.hidden_weight, mode="hidden")
    for seed in cfg.seeds]
''', "hide-output"),
    md(r"""
## Results over seeds

Mean test accuracy and macro-F1 of every variant, with the standard deviation over seeds and a
95% confidence interval for the mean (Student's $t$ with $n - 1$ degrees of freedom; with one
seed there is no interval). The last columns give the expected calibration error and the mean
measured time per training epoch.
"""),
    code('''
all_records = records + transfer_records + hidden_records
runs = runs_frame([teacher_record] + all_records, test_labels)
summary = summarise_runs(runs)
percent = {c: "{:.2%}" for c in summary.columns if c.startswith(("accuracy", "macro_f1", "ece"))}
summary.style.format({**percent, "epoch_s_mean": "{:.1f}"}, na_rep="n/a").hide(axis="index")
'''),
    code('''
glue("fig_seeds", plots.plot_seed_results(runs[runs["mode"] != "teacher"], teacher_record["test"]["accuracy"]))
pairs = [(name, "kd", "plain") for name in cfg.students]
pairs += [(name, mode, "teacher") for name in cfg.students for mode in ("kd", "plain")]
pairs += [(cfg.transfer_student, "transfer", "kd"), (cfg.transfer_student, "transfer", "plain"),
          (cfg.transfer_student, "transfer", "teacher"), (cfg.hidden_student, "hidden", "kd")]
tests = compare_variants(all_records, teacher_record, test_labels, pairs)
tests.style.format({"difference_points": "{:+.2f}", "ci_low_points": "{:+.2f}",
                    "ci_high_points": "{:+.2f}", "bootstrap_p": "{:.3f}"}).hide(axis="index")
'''),
    code('''
from IPython.display import Markdown

from distill_utils.benchmark import REFERENCE
from distill_utils.metrics import format_p, wilson_interval

def mean_of(model, mode, column="accuracy"):
    return 100 * summary[(summary["model"] == model) & (summary["mode"] == mode)][f"{column}_mean"].iloc[0]

def test_row(model, a, b):
    return tests[(tests["model"] == model) & (tests["a"] == a) & (tests["b"] == b)].iloc[0]

def verdict(row):
    side = "better" if row["difference_points"] > 0 else "worse"
    if row["bootstrap_p"] < 0.05:
        return f"significantly {side} ({format_p(row['bootstrap_p'])})"
    return f"not distinguishable on this test set ({format_p(row['bootstrap_p'])})"

teacher_acc = 100 * teacher_record["test"]["accuracy"]
glue("teacher_acc", teacher_acc)
glue("n_seeds", len(cfg.seeds))
glue("n_test", len(test_labels))
lines = []
for name in cfg.students:
    kd_plain, kd_teacher = test_row(name, "kd", "plain"), test_row(name, "kd", "teacher")
    row = summary[(summary["model"] == name) & (summary["mode"] == "kd")].iloc[0]
    ci = ("" if row["accuracy_ci_low"] is None or pd.isna(row["accuracy_ci_low"]) else
          f" (95% CI {100 * row['accuracy_ci_low']:.2f} to {100 * row['accuracy_ci_high']:.2f})")
    lines.append(
        f"* **{name}**: distilled {mean_of(name, 'kd'):.2f}%{ci}, plain {mean_of(name, 'plain'):.2f}%. "
        f"Distilled against plain: {kd_plain['difference_points']:+.2f} points, {verdict(kd_plain)}. "
        f"Distilled against the teacher: {kd_teacher['difference_points']:+.2f} points, {verdict(kd_teacher)}.")
tr_kd, tr_teacher = test_row(cfg.transfer_student, "transfer", "kd"), test_row(cfg.transfer_student, "transfer", "teacher")
lines.append(
    f"* **{cfg.transfer_student} on the transfer set**: {mean_of(cfg.transfer_student, 'transfer'):.2f}%; "
    f"against distillation on the training split: {tr_kd['difference_points']:+.2f} points, {verdict(tr_kd)}; "
    f"against the teacher: {tr_teacher['difference_points']:+.2f} points, {verdict(tr_teacher)}.")
hid = test_row(cfg.hidden_student, "hidden", "kd")
lines.append(
    f"* **{cfg.hidden_student} with hidden states**: {mean_of(cfg.hidden_student, 'hidden'):.2f}%; "
    f"against logit-only distillation: {hid['difference_points']:+.2f} points, {verdict(hid)}.")
glue("results_summary", Markdown("\\n".join(lines)))
ref_t, ref_s = REFERENCE["teacher"], REFERENCE["student"]
low_t, high_t = wilson_interval(ref_t["correct"], ref_t["n"])
glue("ref_gap_correct", ref_s["correct"] - ref_t["correct"])
glue("ref_n", ref_t["n"])
glue("ref_t_lo", 100 * low_t)
glue("ref_t_hi", 100 * high_t)
glue("one_sentence", 100 / len(test_labels))
''', "remove-cell"),
    md(r"""
```{glue:figure} fig_seeds
:name: fig-seeds

Test accuracy of every run (dots, one per seed) and the mean with its 95% interval (diamonds and
bars) for each student and variant; the dashed line is the teacher.
```

```{glue:figure} fig_student_cm
:name: fig-student-cm

Confusion matrices on the test split: the teacher and each student's first-seed distilled run.
```

### What is and is not significant

The teacher scores {glue:text}`teacher_acc:.2f`% on the {glue:text}`n_test` test sentences; each
student variant was trained with {glue:text}`n_seeds` seeds.

{glue:md}`results_summary`

The tests are *paired*: both models answer the same sentences, and most sentences are easy for
both, so only the sentences where they disagree carry information. The bootstrap resamples test
sentences (and averages each model over its seeds); McNemar's exact test, per seed, counts the
sentences only one model gets right. On this test set one sentence is worth
{glue:text}`one_sentence:.2f` points. The reference experiment's student "beat" its teacher by
{glue:text}`ref_gap_correct` sentences out of {glue:text}`ref_n`; a single run's 95% interval
there ran from {glue:text}`ref_t_lo:.1f`% to {glue:text}`ref_t_hi:.1f`%: a claim of that size
needs seeds and a paired test before it means anything.
"""),
    md(r"""
## Error analysis

Where do the teacher and the first-seed distilled {glue:text}`transfer_student_name` part ways?
Per-class F1 first, then every test sentence on which the two predict different classes, with
each model's confidence.
"""),
    code('''
first = cfg.seeds[0]
focus = {r["mode"]: r for r in all_records if r["model"] == cfg.transfer_student and r["seed"] == first}
glue("transfer_student_name", cfg.transfer_student)
per_class = pd.DataFrame({"teacher": teacher_record["test"]["f1_per_class"],
                          **{f"{cfg.transfer_student} ({mode})": run["test"]["f1_per_class"]
                             for mode, run in focus.items()}}).T
glue("fig_student_cm", plots.plot_confusion_matrices(
    {"teacher": teacher_record["test"]["confusion_matrix"],
     **{f"{r['model']} (kd)": r["test"]["confusion_matrix"] for r in records
        if r["mode"] == "kd" and r["seed"] == first}}))
per_class.style.format("{:.3f}")
'''),
    code('''
disagree = disagreements(splits["test"]["sentence"], test_labels, teacher_record["test_logits"],
                         focus["kd"]["test_logits"])
glue("n_disagree", len(disagree))
glue("n_teacher_right", int((disagree["right"] == "teacher").sum()))
glue("n_student_right", int((disagree["right"] == "student").sum()))
pair = disagree["teacher"].astype(str).str.split().str[0] + "/" + disagree["student"].astype(str).str.split().str[0]
glue("n_neutral_positive", int(pair.isin(["neutral/positive", "positive/neutral"]).sum()))
disagree.style.hide(axis="index").set_properties(subset=["sentence"], **{"text-align": "left"})
'''),
    md(r"""
The two disagree on {glue:text}`n_disagree` test sentences: the teacher is right on
{glue:text}`n_teacher_right` of them and the student on {glue:text}`n_student_right`;
{glue:text}`n_neutral_positive` of the {glue:text}`n_disagree` lie on the border between
neutral and positive, where a sentence reports a figure without saying plainly whether it is
good news: the border on which the annotators, too, disagreed most (chapter 1).

## Calibration

A model is calibrated when its confidence matches its accuracy: of the sentences it answers with
90% confidence, 90% should be right. The expected calibration error (ECE) is the gap between the
two, averaged over ten confidence bins and weighted by the sentences in each. Distillation with a
temperature trains the student to reproduce softened probabilities, so it can change confidence;
the diagrams show whether it helps here.
"""),
    code('''
calibration = {"teacher": teacher_record["test_logits"],
               f"{cfg.transfer_student} (kd)": focus["kd"]["test_logits"],
               f"{cfg.transfer_student} (plain)": focus["plain"]["test_logits"]}
eces = {name: expected_calibration_error(test_labels, logits) for name, logits in calibration.items()}
glue("fig_reliability", plots.plot_reliability(
    {name: reliability_table(test_labels, logits) for name, logits in calibration.items()}, eces))
ece_table = (summary[["model", "mode", "ece_mean"]]
             .rename(columns={"ece_mean": "ECE, mean over seeds"}))
glue("ece_teacher", 100 * eces["teacher"])
teacher_bins = reliability_table(test_labels, teacher_record["test_logits"])
glue("top_bin_share", 100 * teacher_bins.loc[teacher_bins["bin_low"] >= 0.9 - 1e-9, "weight"].sum())
ece_table.style.format({"ECE, mean over seeds": "{:.2%}"}).hide(axis="index")
'''),
    md(r"""
```{glue:figure} fig_reliability
:name: fig-reliability

Reliability diagrams on the test split (first seed): accuracy per confidence bin against the
diagonal of perfect calibration. {glue:text}`top_bin_share:.0f`% of the teacher's answers fall
in the top bin (confidence above 0.9), so that bin dominates the ECE.
```

The teacher's ECE is {glue:text}`ece_teacher:.2f`%. The table gives each variant's ECE averaged
over seeds; with a few hundred sentences, most of them answered with confidence above 0.9,
differences of a fraction of a point are within noise.

## What the teacher costs during training

The teacher's logits for the training sentences were computed once and cached. The table times
a few training steps of one student three ways, side by side in one process on the same batches:
plain fine-tuning, distillation from the cached logits, and distillation that runs the teacher in
every step (what a naive implementation does). The first step of each is a warm-up and not
counted; the epoch estimate is the mean step time times the steps in one epoch.
"""),
    code('''
cost = pd.concat([measure_training_cost(cfg, name, splits, teacher_logits["train"], teacher_dir,
                                        alpha=final_alpha, temperature=final_temperature)
                  for name in cfg.students], ignore_index=True)
online = cost[cost["mode"] == "kd (teacher every step)"].set_index("student")["ratio_vs_plain"]
cached = cost[cost["mode"] == "kd (cached teacher logits)"].set_index("student")["ratio_vs_plain"]
glue("cost_summary", Markdown("\\n".join(
    f"* **{name}**: a cached-logit step takes {cached[name]:.2f}x a plain step; running the teacher "
    f"every step takes {online[name]:.2f}x." for name in cfg.students)))
cost.style.format({"step_s": "{:.3f}", "epoch_s_estimate": "{:.1f}",
                   "ratio_vs_plain": "{:.2f}x"}).hide(axis="index")
'''),
    md(r"""
{glue:md}`cost_summary`

A teacher run in every step adds a full forward pass of the teacher to each student step, the
same pass repeated every epoch; the cache pays for it once. The measured epoch times of the
full runs, in the results table above, give the same comparison over whole epochs.
"""),
    code("run_metadata(cfg)", "hide-input", "hide-output"),
]

if __name__ == "__main__":
    nbformat.write(notebook(LOSS), ROOT / "notebooks" / "03_distillation_loss.ipynb")
    nbformat.write(notebook(TRAIN), ROOT / "notebooks" / "04_student_training.ipynb")
