"""Write the source (unexecuted) notebook 05 from the cell list below.

    python tools/make_benchmark_notebook.py
"""
from pathlib import Path

import nbformat

from make_chapter3_notebooks import code, md, notebook

ROOT = Path(__file__).resolve().parent.parent

BENCH = [
    md(r"""
# 5. Benchmark: accuracy, size and speed

A student is worth having only if it is smaller and faster at a small cost in accuracy, and
distillation is only one way to get there: the same model can run in lower precision, with
quantised weights, or under a faster inference engine. This chapter measures the teacher and the
students trained in chapter 4, each in five variants, side by side in one process, on the same
test sentences and with the same threads, so the ratios between them are fair:

| variant | what changes |
|---|---|
| `fp32` | PyTorch, float32: the baseline |
| `bf16` | PyTorch under bfloat16 autocast (needs bf16 instructions) |
| `int8-dynamic` | PyTorch dynamic quantisation: `Linear` weights stored as int8, activations quantised on the fly |
| `onnx-fp32` | the model exported with `torch.onnx` and run by ONNX Runtime, float32 |
| `onnx-int8` | that export with ONNX Runtime's dynamic int8 quantisation |

For every variant `PerformanceBenchmark` returns one uniform record: accuracy and macro-F1 on the
whole test split (a variant whose accuracy changes shows it); parameters, size in MB as fp32
parameter bytes / 2^20 (how the reference computes it) and the size of what the variant saves on
disk; latency per sample at batch size 1 (10 warm-up passes, then the median and 95th percentile
of many timed passes, tokenization excluded); throughput at batch size 32; and FLOPs per sample
with the GFLOP/s achieved, against a matrix-multiply peak measured on the same machine.
"""),
    code('''
# Parameters (papermill: -p name value). None = take the value from the profile.
profile = None         # "cpu" (default, offline), "seed" (Hub models, needs internet), "smoke"
seed = None            # which student run (seed) to time; None: the first of seeds
seeds = None           # the seeds chapter 4 trained, e.g. "42,1,2": the others are scored untimed
variants = "fp32,bf16,int8-dynamic,onnx-fp32,onnx-int8"
max_length = None
latency_runs = None    # timed batch-1 forward passes per variant (after 10 warm-up passes)
throughput_batches = None  # timed batches of 32 per variant
threads = None         # torch / ONNX Runtime threads; None: all cores
artifacts_dir = None   # None: artifacts/<profile> in the repository
''', "parameters"),
    code('''
import pandas as pd
from IPython.display import Markdown
from scipy.stats import binomtest

from distill_utils import plots
from distill_utils._io import write_json
from distill_utils.artifacts import artifacts_root, require
from distill_utils.benchmark import FLOP_COLUMNS, REFERENCE, SUMMARY_COLUMNS, benchmark_profile, seed_accuracy
from distill_utils.data import read_splits
from distill_utils.metrics import wilson_interval
from distill_utils.notebook import glue, run_metadata, setup_notebook
from distill_utils.profiles import resolve_config
from distill_utils.results import models_table, variant_summary

setup_notebook()
cfg = resolve_config(profile, seed=seed, seeds=seeds, max_length=max_length, latency_runs=latency_runs,
                     throughput_batches=throughput_batches, threads=threads, artifacts_dir=artifacts_dir)
art = artifacts_root(cfg.profile, cfg.artifacts_dir)
splits = read_splits(require(art / "data" / "splits.json", "splits"))
teacher_dir = require(art / "teacher" / "run.json", "teacher").parent
student_dirs = [require(art / "students" / name / f"{mode}-seed{cfg.seed}" / "run.json", "students").parent
                for name in cfg.students for mode in ("kd", "plain")]
variant_list = tuple(v.strip() for v in variants.split(",") if v.strip())
print(f"profile={cfg.profile}  models={1 + len(student_dirs)}  variants={', '.join(variant_list)}  "
      f"latency_runs={cfg.latency_runs}")
''', "hide-input"),
    code('''
table = benchmark_profile(cfg, splits["test"], teacher_dir, student_dirs, variants=variant_list,
                          export_root=art / "onnx", progress=False)
# Accuracy changes with the training seed, latency does not: the other seeds' students are scored
# in every variant without timing, so each variant's accuracy gets a spread over seeds.
other_seeds = [require(art / "students" / name / f"{mode}-seed{s}" / "run.json", "students").parent
               for s in cfg.seeds if s != cfg.seed for name in cfg.students for mode in ("kd", "plain")]
seed_table = seed_accuracy(cfg, splits["test"], other_seeds, variants=variant_list,
                           export_root=art / "onnx", progress=False)
write_json(art / "benchmark.json", {"records": table.to_dict(orient="records"),
                                    "seed_accuracy": seed_table.to_dict(orient="records"),
                                    "run": run_metadata(cfg)})
measured = table[table["skipped"].isna()]
setup = measured.iloc[0]
teacher = table[(table["role"] == "teacher") & (table["variant"] == "fp32")].iloc[0]
glue("threads", int(setup["threads"]))
glue("cpu", setup["cpu"])
glue("n_records", len(table))
glue("teacher_ms", teacher["latency_ms_median"])
glue("teacher_mb", teacher["size_mb"])
steps = [("fp32",), ("fp32", "bf16"), ("fp32", "bf16", "int8-dynamic"), tuple(variant_list)]
titles = ["Distillation alone (fp32)", "+ bf16 autocast", "+ dynamic int8 (torch)",
          "+ ONNX Runtime: every variant, with the Pareto front"]
for i, (shown, title) in enumerate(zip(steps, titles)):
    glue(f"fig_bubble_{i}", plots.plot_accuracy_vs_latency(table[table["variant"].isin(shown)], title,
                                                           pareto=i == len(steps) - 1))
print(f"{len(table)} records; ONNX exports cached under artifacts/{cfg.profile}/onnx")
''', "hide-input"),
    md(r"""
All {glue:text}`n_records` records come from one process on {glue:text}`cpu` with
{glue:text}`threads` threads, batch size 1 for latency and 32 for throughput, each batch padded
to its longest sentence. The teacher in fp32 takes {glue:text}`teacher_ms:.1f` ms per sentence.

## Distillation alone

```{glue:figure} fig_bubble_0
:name: fig-bubble-0

Test accuracy against median batch-1 latency (log scale) in fp32; colour = model, marker =
variant, bubble area = size on disk. Up and to the left is better. The chart is redrawn as each
technique is added.
```

## Adding bf16

```{glue:figure} fig_bubble_1
:name: fig-bubble-1

The same, with each model also run under bfloat16 autocast.
```

## Adding int8 weights

```{glue:figure} fig_bubble_2
:name: fig-bubble-2

The same, with dynamic int8 quantisation of every `Linear` layer in PyTorch.
```

## Adding ONNX Runtime

```{glue:figure} fig_bubble_3
:name: fig-bubble-3

Every variant. The dashed line is the Pareto front: the variants that no other variant beats
on both latency and accuracy.
```

## The whole table

Sorted by latency; speed-up is against the fp32 teacher at batch size 1, and the size ratio
compares what each variant stores on disk with the teacher's fp32 file.
"""),
    code('''
shown = table.sort_values("latency_ms_median", na_position="last")
(shown[SUMMARY_COLUMNS + ["accuracy_change_vs_fp32", "pareto", "skipped"]]
 .style.format({"accuracy": "{:.2%}", "macro_f1": "{:.2%}", "parameters": "{:,.0f}", "size_mb": "{:.1f}",
                "disk_mb": "{:.1f}", "latency_ms_median": "{:.2f}", "latency_ms_p95": "{:.2f}",
                "throughput_samples_per_s": "{:.1f}", "speedup_vs_teacher": "{:.2f}x",
                "disk_ratio_vs_teacher": "{:.2f}", "accuracy_change_vs_fp32": "{:+.2%}"}, na_rep="")
 .hide(axis="index"))
'''),
    md(r"""
## Does compression cost accuracy on every seed?

The timed table above scores one seed's students. Accuracy, unlike latency, changes with the
training seed, so every variant of the other seeds' students was also scored (untimed): the mean
and standard deviation over seeds, and the correct answers of each seed, out of the test split.
"""),
    code('''
spread = models_table(variant_summary(table.to_dict(orient="records"), seed_table.to_dict(orient="records")))
(spread[["model", "variant", "seeds", "accuracy", "accuracy_std", "correct_per_seed", "ece"]]
 .style.format({"accuracy": "{:.2%}", "accuracy_std": "{:.2%}", "ece": "{:.2%}"}, na_rep="n/a")
 .hide(axis="index"))
'''),
    code('''
students = measured[measured["role"] == "student"]
fastest = students.sort_values("latency_ms_median").iloc[0]
within = students[students["accuracy_gap_vs_teacher"] <= 0.01 + 1e-12]
def gap_text(gap):
    points = 100 * abs(gap)
    if points < 1e-9:
        return "exactly as accurate as the teacher"
    return f"{points:.2f} points {'less' if gap > 0 else 'more'} accurate than the teacher"

lines = [f"* The fastest student variant, **{fastest['model']} [{fastest['variant']}]**, runs "
         f"{fastest['speedup_vs_teacher']:.1f}x faster than the fp32 teacher at batch size 1 "
         f"({fastest['latency_ms_median']:.2f} ms) and is {gap_text(fastest['accuracy_gap_vs_teacher'])} "
         f"on the test split (seed {cfg.seed})."]
if len(within):
    best = within.sort_values("latency_ms_median").iloc[0]
    lines.append(f"* The fastest variant within 1 point of the teacher's accuracy is **{best['model']} "
                 f"[{best['variant']}]**: {best['speedup_vs_teacher']:.1f}x faster, "
                 f"{gap_text(best['accuracy_gap_vs_teacher'])}.")
else:
    lines.append("* No student variant comes within 1 point of the teacher's accuracy on this test split.")
changed = measured[measured["accuracy_change_vs_fp32"].abs() > 0]
for _, row in changed.iterrows():
    lines.append(f"* {row['model']} [{row['variant']}] answers differently from its fp32 form: "
                 f"{100 * row['accuracy_change_vs_fp32']:+.2f} points of accuracy.")
for _, row in table[table["skipped"].notna()].iterrows():
    lines.append(f"* {row['model']} [{row['variant']}] was skipped: {row['skipped']}.")
glue("goal_summary", Markdown("\\n".join(lines)))
glue("fast_name", f"{fastest['model']} [{fastest['variant']}]")
glue("fast_speedup", fastest["speedup_vs_teacher"])
glue("fast_gap", 100 * fastest["accuracy_gap_vs_teacher"])
''', "remove-cell"),
    md(r"""
{glue:md}`goal_summary`

## How close to the hardware?

A forward pass of an encoder costs, per layer, $8nd^2$ FLOPs for the attention projections,
$4n^2d$ for the attention itself and $4ndf$ for the feed-forward block ($n$ tokens, width $d$,
feed-forward width $f$; a multiply-add counts as 2). Summed over the layers and applied to the
real token counts of the timed sentences, that gives the work per sentence; divided by the
measured time, the GFLOP/s each variant achieves. The peak is a large square matrix multiply
timed on the same threads: in float32 for every variant except bf16, which is set against a
bfloat16 multiply. The int8 variants are set against the float32 peak, which flatters them.
"""),
    code('''
glue("peak_fp32", measured["peak_gflops"][measured["peak_basis"] == "fp32 matmul"].iloc[0])
teacher_flop = teacher["gflop_per_sample"]
glue("teacher_gflop", teacher_flop)
glue("teacher_tokens", teacher["mean_tokens_batch1"])
pct_b1 = 100 * measured["gflops_batch1"] / measured["peak_gflops"]
glue("best_pct_b1", pct_b1.max())
glue("best_pct_b1_name", " [".join(measured.loc[pct_b1.idxmax(), ["model", "variant"]]) + "]")
glue("best_pct_b32", measured["pct_of_peak_batch32"].max())
glue("best_pct_b32_name", " [".join(measured.loc[measured["pct_of_peak_batch32"].idxmax(), ["model", "variant"]]) + "]")
(measured.sort_values("gflops_batch32", ascending=False)[FLOP_COLUMNS]
 .style.format({"gflop_per_sample": "{:.2f}", "mean_tokens_batch1": "{:.1f}", "gflops_batch1": "{:.1f}",
                "gflops_batch32": "{:.1f}", "peak_gflops": "{:.0f}", "pct_of_peak_batch32": "{:.0f}%"})
 .hide(axis="index"))
'''),
    md(r"""
A sentence of {glue:text}`teacher_tokens:.0f` tokens on average costs the teacher
{glue:text}`teacher_gflop:.2f` GFLOP; the measured float32 peak here is
{glue:text}`peak_fp32:.0f` GFLOP/s. At batch size 1 the variant closest to its peak is
{glue:text}`best_pct_b1_name` at {glue:text}`best_pct_b1:.0f`%; at batch size 32 it is
{glue:text}`best_pct_b32_name` at {glue:text}`best_pct_b32:.0f`%. One short sentence gives
each matrix multiply little work (a few dozen rows), so fixed per-layer costs weigh more than
the arithmetic; a batch gives the multiplies enough rows to keep the vector units busy.

## Against the reference

Absolute times depend on the machine (the reference timed a different CPU), so the comparison is
in ratios.
"""),
    code('''
ref_t, ref_s = REFERENCE["teacher"], REFERENCE["student"]
glue("ref_t_acc", 100 * ref_t["accuracy"])
glue("ref_s_acc", 100 * ref_s["accuracy"])
glue("ref_t_correct", ref_t["correct"])
glue("ref_s_correct", ref_s["correct"])
glue("ref_n", ref_t["n"])
glue("ref_speedup", ref_t["latency_ms"] / ref_s["latency_ms"])
glue("ref_size_ratio", ref_s["size_mb"] / ref_t["size_mb"])
for key, ref in (("t", ref_t), ("s", ref_s)):
    low, high = wilson_interval(ref["correct"], ref["n"])
    glue(f"ref_{key}_lo", 100 * low)
    glue(f"ref_{key}_hi", 100 * high)
# Most favourable case for "the student is better": it is right on every sentence where the two
# disagree, i.e. 3 discordant pairs, all in its favour. Exact McNemar test on that case:
glue("ref_best_case_p", binomtest(0, ref_s["correct"] - ref_t["correct"], 0.5).pvalue)
copy_fp32 = measured[(measured["base_model"] == cfg.students[0]) & (measured["mode"] == "kd")
                     & (measured["variant"] == "fp32")].iloc[0]
glue("our_copy_name", cfg.students[0])
glue("our_copy_speedup", copy_fp32["speedup_vs_teacher"])
glue("our_copy_size_ratio", copy_fp32["size_ratio_vs_teacher"])
''', "remove-cell"),
    md(r"""
The reference's DistilBERT student was {glue:text}`ref_speedup:.2f`x faster than its BERT-base
teacher at {glue:text}`ref_size_ratio:.2f` times its size. Our DistilBERT-shaped student,
{glue:text}`our_copy_name`, is {glue:text}`our_copy_speedup:.2f`x faster than our teacher in
fp32 at {glue:text}`our_copy_size_ratio:.2f` times its size, on a different CPU and with a
different tokenizer, yet the same architecture ratio. The reference's student also scored higher,
{glue:text}`ref_s_acc:.2f`% against {glue:text}`ref_t_acc:.2f`%, that is
{glue:text}`ref_s_correct` against {glue:text}`ref_t_correct` correct answers out of
{glue:text}`ref_n`. That difference is noise:

* the 95% interval of the teacher's accuracy runs from {glue:text}`ref_t_lo:.1f`% to
  {glue:text}`ref_t_hi:.1f`%, the student's from {glue:text}`ref_s_lo:.1f`% to
  {glue:text}`ref_s_hi:.1f`%: they overlap almost entirely;
* even in the case most favourable to the student, where the two disagree only on the
  sentences that make up the difference and the student is right on all of them, the exact
  McNemar test gives p = {glue:text}`ref_best_case_p:.2f`. Nothing in the reference's table
  supports "the student beats the teacher"; what it supports is "the student is about as
  accurate, and {glue:text}`ref_speedup:.1f` times as fast".
"""),
    code("run_metadata(cfg)", "hide-input", "hide-output"),
]

if __name__ == "__main__":
    nbformat.write(notebook(BENCH), ROOT / "notebooks" / "05_benchmark.ipynb")
