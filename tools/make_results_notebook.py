"""Write the source (unexecuted) notebook 06 from the cell list below.

    cd tools && python make_results_notebook.py
"""
from pathlib import Path

import nbformat

from make_chapter3_notebooks import code, md, notebook

ROOT = Path(__file__).resolve().parent.parent

RESULTS = [
    md(r"""
# 6. Results: the whole experiment on one page

Chapters 2 to 5 each answered one question. This page puts their answers side by side, from one
file: `results.json`, which this notebook writes from the artifacts the earlier chapters left
(every training run's test predictions, chapter 5's benchmark records) and then reads back for
every table and figure below. For the book's recorded run the same file is committed to the
repository as `results/reference.json`, so its figures can be checked, diffed and reused without
running anything. For every model and variant it holds accuracy over seeds (mean, standard
deviation, 95% interval), macro-F1, calibration error, size, latency and throughput, and with
them the run's profile, seeds, package versions, CPU, threads and the hash of the `distill_utils`
code that produced them.
"""),
    code('''
# Parameters (papermill: -p name value). None = take the value from the profile.
profile = None         # "cpu" (default, offline), "seed" (Hub models, needs internet), "smoke"
seeds = None           # the seeds chapter 4 trained, e.g. "42,1,2"; None: the profile's
within_points = 1.0    # "best compressed variant": the fastest student this close to the teacher
artifacts_dir = None   # None: artifacts/<profile> in the repository
''', "parameters"),
    code('''
import pandas as pd
from IPython.display import Markdown

from distill_utils import plots
from distill_utils._io import write_json
from distill_utils.artifacts import artifacts_root
from distill_utils.metrics import format_p, wilson_interval
from distill_utils.notebook import glue, run_metadata, setup_notebook
from distill_utils.profiles import resolve_config
from distill_utils.results import (best_compressed, build_results, load_results, models_table,
                                   reference_comparison)

setup_notebook()
cfg = resolve_config(profile, seeds=seeds, artifacts_dir=artifacts_dir)
art = artifacts_root(cfg.profile, cfg.artifacts_dir)
results = load_results(write_json(art / "results.json", build_results(cfg, art)))  # atomic write
run = results["run"]
table = models_table(results["models"])
print(f"profile={run['profile']}  seeds={run['seeds']}  agreement={run['agreement']}  "
      f"distill_utils={run['distill_utils_sha']}")
''', "hide-input"),
    code('''
glue("profile_name", run["profile"])
glue("seeds_text", ", ".join(str(s) for s in run["seeds"]))
glue("n_seeds", len(run["seeds"]))
glue("agreement", run["agreement"])
glue("n_test", run["split_sizes"]["test"])
glue("n_train", run["split_sizes"]["train"])
glue("cpu", run["cpu"])
glue("threads", run["threads"])
glue("device", run["device"])
glue("sha", run["distill_utils_sha"])
glue("alpha", results["settings"]["alpha"])
glue("temperature", results["settings"]["temperature"])
glue("fig_results", plots.plot_accuracy_vs_latency(
    table, "Every model and variant: mean test accuracy over seeds (95% interval) vs latency"))
''', "remove-cell"),
    md(r"""
## The run

Profile {glue:text}`profile_name`, on the sentences all annotators agreed on
(agreement level {glue:text}`agreement`): {glue:text}`n_train` training and
{glue:text}`n_test` test sentences. Every student was trained with the seeds
{glue:text}`seeds_text`, distilled with $\alpha$ = {glue:text}`alpha` and
$T$ = {glue:text}`temperature` (the sweep's choice on the validation split, chapter 4), and
again without the teacher as a control. Timings: {glue:text}`cpu`, {glue:text}`threads`
threads, device: {glue:text}`device`, batch size 1 for latency and 32 for throughput, each
batch padded to its longest sentence. Library code hash: {glue:text}`sha`.

## Every model and variant

Accuracy and macro-F1 are means over the seeds each variant was scored with (the teacher was
trained once); the interval is a 95% Student-$t$ interval over seeds, `correct per seed` the
raw counts behind it. Latency and throughput were timed on the first seed's models; speed-up is
against the fp32 teacher at batch size 1.
"""),
    code('''
columns = ["model", "variant", "seeds", "accuracy", "accuracy_ci_low", "accuracy_ci_high", "correct_per_seed",
           "macro_f1", "ece", "parameters", "size_mb", "disk_mb", "latency_ms_median", "latency_ms_p95",
           "throughput_samples_per_s", "speedup_vs_teacher"]
(table.sort_values("latency_ms_median")[columns]
 .style.format({"accuracy": "{:.2%}", "accuracy_ci_low": "{:.2%}", "accuracy_ci_high": "{:.2%}",
                "macro_f1": "{:.2%}", "ece": "{:.2%}", "parameters": "{:,.0f}", "size_mb": "{:.1f}",
                "disk_mb": "{:.1f}", "latency_ms_median": "{:.2f}", "latency_ms_p95": "{:.2f}",
                "throughput_samples_per_s": "{:.1f}", "speedup_vs_teacher": "{:.2f}x"}, na_rep="n/a")
 .hide(axis="index"))
'''),
    md(r"""
```{glue:figure} fig_results
:name: fig-results

The recurring chart of chapter 5, now with every variant's mean accuracy over seeds and its 95%
interval: colour = model, marker = variant, bubble area = size on disk.
```

## Beside the reference and FinBERT

The reference experiment fine-tuned BERT-base and distilled it into DistilBERT, one run each;
FinBERT {cite}`araci2019finbert` is BERT-base further pre-trained on financial text, and its
paper reports accuracy on the same all-agree sentences, on its own split. Milliseconds depend on
the machine, so latency is compared as a ratio: the student's time over its teacher's, each
measured on its own machine.
"""),
    code('''
comparison = reference_comparison(results)
comparison.style.format({"accuracy %": "{:.2f}", "size MB": "{:.1f}", "latency ratio": "{:.2f}",
                         "test sentences": "{:.0f}"}, na_rep="").hide(axis="index")
'''),
    code('''
ref = results["reference"]["experiment"]
ours = comparison[comparison["experiment"].str.startswith("this book")].set_index("role")
glue("ref_ratio", ref["student"]["latency_ms"] / ref["teacher"]["latency_ms"])
glue("ref_speedup", ref["teacher"]["latency_ms"] / ref["student"]["latency_ms"])
glue("our_ratio", ours.loc["student (kd)", "latency ratio"])
glue("our_speedup", 1 / ours.loc["student (kd)", "latency ratio"])
glue("our_teacher_acc", ours.loc["teacher", "accuracy %"])
glue("our_student_acc", ours.loc["student (kd)", "accuracy %"])
glue("our_student_ci", ours.loc["student (kd)", "95% CI"] or "n/a (one seed)")
glue("our_student_name", ours.loc["student (kd)", "model"])
glue("our_size_ratio", ours.loc["student (kd)", "size MB"] / ours.loc["teacher", "size MB"])
glue("ref_size_ratio", ref["student"]["size_mb"] / ref["teacher"]["size_mb"])
glue("finbert_acc", 100 * results["reference"]["finbert"]["accuracy"])
glue("ref_t_acc", 100 * ref["teacher"]["accuracy"])
glue("ref_s_acc", 100 * ref["student"]["accuracy"])
low_t, high_t = wilson_interval(ref["teacher"]["correct"], ref["teacher"]["n"])
low_s, high_s = wilson_interval(ref["student"]["correct"], ref["student"]["n"])
glue("ref_t_ci", f"{100 * low_t:.1f} to {100 * high_t:.1f}")
glue("ref_s_ci", f"{100 * low_s:.1f} to {100 * high_s:.1f}")
glue("ref_correct", f"{ref['student']['correct']} against {ref['teacher']['correct']} of {ref['teacher']['n']}")
accuracies = comparison["accuracy %"]
glue("acc_span", accuracies.max() - accuracies.min())
glue("one_sentence", 100 / run["split_sizes"]["test"])
glue("span_sentences", (accuracies.max() - accuracies.min()) / (100 / run["split_sizes"]["test"]))
''', "remove-cell"),
    md(r"""
The reference's student took {glue:text}`ref_ratio:.2f` of its teacher's time per sentence
({glue:text}`ref_speedup:.2f`x faster); ours, {glue:text}`our_student_name`, takes
{glue:text}`our_ratio:.2f` ({glue:text}`our_speedup:.2f`x faster) at
{glue:text}`our_size_ratio:.2f` of its teacher's fp32 size (the reference's student:
{glue:text}`ref_size_ratio:.2f`). In accuracy our teacher scores
{glue:text}`our_teacher_acc:.2f`% and the distilled student {glue:text}`our_student_acc:.2f`%
on average (95% interval over seeds {glue:text}`our_student_ci`), against the reference's
{glue:text}`ref_t_acc:.2f`% and {glue:text}`ref_s_acc:.2f`% and FinBERT's published
{glue:text}`finbert_acc:.0f`%. The reference's figures are single runs: their 95% intervals
(Wilson) run from {glue:text}`ref_t_ci`% for the teacher and {glue:text}`ref_s_ci`% for the
student ({glue:text}`ref_correct` sentences right), so their order means nothing. FinBERT's
figure, on another split, is a single run too. All the accuracies in this table lie within
{glue:text}`acc_span:.2f` points of each other; on our test split one sentence is
{glue:text}`one_sentence:.2f` points, so the whole spread is about {glue:text}`span_sentences:.0f`
test sentences.

## What is significant and what is not

Paired tests on the same {glue:text}`n_test` test sentences (chapter 4): the mean accuracy
difference over seeds with a paired-bootstrap 95% interval and p-value, and McNemar's exact test
for each seed.
"""),
    code('''
comparisons = pd.DataFrame(results["comparisons"])
comparisons.style.format({"difference_points": "{:+.2f}", "ci_low_points": "{:+.2f}",
                          "ci_high_points": "{:+.2f}", "bootstrap_p": "{:.3f}"}).hide(axis="index")
'''),
    code('''
training = pd.DataFrame(results["training_runs"]).set_index(["model", "mode"])
teacher_acc = 100 * training.loc[(results["settings"]["teacher"], "teacher"), "accuracy_mean"]

def sentence(row):
    b = "the teacher" if row["b"] == "teacher" else f"its {row['b']} control"
    direction = ("level with" if abs(row["difference_points"]) < 1e-9 else
                 "ahead of" if row["difference_points"] > 0 else "behind")
    verdict = "significant" if row["bootstrap_p"] < 0.05 else "not significant"
    points = "" if direction == "level with" else f"{abs(row['difference_points']):.2f} points "
    return (f"* {row['model']} ({row['a']}) is {points}{direction} {b} "
            f"(95% CI {row['ci_low_points']:+.2f} to {row['ci_high_points']:+.2f}, {format_p(row['bootstrap_p'])}): "
            f"{verdict}.")

glue("significance", Markdown("\\n".join(sentence(r) for r in results["comparisons"])))
best = best_compressed(results, within_points)
first = results["settings"]["students"][0]
kd_first = training.loc[(first, "kd")]
gap = teacher_acc - 100 * kd_first["accuracy_mean"]
copy = table[(table["base_model"] == first) & (table["mode"] == "kd") & (table["variant"] == "fp32")].iloc[0]
lines = [f"* The teacher, {results['settings']['teacher']}, scores {teacher_acc:.2f}% on the test split.",
         f"* The distilled {first} averages {100 * kd_first['accuracy_mean']:.2f}% over {len(run['seeds'])} seeds, "
         f"{gap:.2f} points below the teacher, and runs {copy['speedup_vs_teacher']:.2f}x faster at batch size 1 "
         f"in fp32 at {copy['size_mb'] / table[table['role'] == 'teacher']['size_mb'].iloc[0]:.2f} of its size."]
if best is None:
    students = table[table["role"] == "student"]
    closest = students.loc[students["accuracy"].idxmax()]
    lines.append(f"* No student variant averages within {within_points:g} point of the teacher. The closest is "
                 f"**{closest['model']} [{closest['variant']}]**: {100 * closest['accuracy']:.2f}%, "
                 f"{teacher_acc - 100 * closest['accuracy']:.2f} points below, "
                 f"{closest['speedup_vs_teacher']:.1f}x faster than the fp32 teacher.")
else:
    lines.append(f"* The best compressed variant, the fastest student whose mean accuracy is within "
                 f"{within_points:g} point of the teacher's, is **{best['model']} [{best['variant']}]**: "
                 f"{100 * best['accuracy']:.2f}%, {best['speedup_vs_teacher']:.1f}x faster than the fp32 teacher, "
                 f"{best['disk_mb']:.0f} MB on disk.")
glue("takeaways", Markdown("\\n".join(lines)))
goals = results["goals"]
glue("goals_text", Markdown(
    f"The project set itself {len(goals)} targets for this profile before the run; "
    f"{sum(g['met'] for g in goals)} of them were met:" if goals else
    f"The {run['profile']} profile sets itself no targets; the cpu profile's recorded run is checked "
    "against the project's."))
''', "remove-cell"),
    md(r"""
{glue:md}`significance`

## What to take away

{glue:md}`takeaways`

{glue:md}`goals_text`
"""),
    code('''
pd.DataFrame(results["goals"]).style.hide(axis="index") if goals else None
''', "hide-input"),
    md(r"""
* Distillation's gain, if any, is measured against the control trained without the teacher,
  never against nothing: the comparisons above say whether the teacher's soft labels helped
  each student on this data.
* Speed-ups are ratios on one machine under stated conditions; the size of the student and the
  inference engine matter as much as how it was trained.
* A claim that a student "beats" its teacher needs seeds, an interval and a paired test. With a
  few hundred test sentences, a difference of a few sentences is not a result.
"""),
    code("run_metadata(cfg)", "hide-input", "hide-output"),
]

if __name__ == "__main__":
    nbformat.write(notebook(RESULTS), ROOT / "notebooks" / "06_results.ipynb")
