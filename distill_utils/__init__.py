"""distill_utils: every piece of logic the book's notebooks call, one module per concern.

Data and settings: `data` (Financial PhraseBank), `profiles` (run settings), `models` (registry and
offline weights), `artifacts` (the one artifact layout). Training: `losses` (the distillation loss,
written by hand), `trainer` (the Hugging Face Trainer with that loss), `teacher_cache` (the
teacher's outputs, computed once), `experiments` (teacher, students, controls, sweep, cost).
Measurement: `metrics`, `variants` (fp32, bf16, int8, ONNX), `benchmark`, `reference` (the reference
experiment), `results` (a run's summary), `narrative` (the sentences the book states), `plots`.
Running: `notebook` (setup, provenance) and `pipeline` (papermill, then the book).
"""
__version__ = "0.1.0"
