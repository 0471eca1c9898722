"""distill_utils: every piece of logic the book's notebooks call.

Modules by concern: `data` (Financial PhraseBank), `profiles` (run settings), `models`
(registry and offline weights), `losses` (the distillation loss), `training` (Trainer-based
fine-tuning and distillation), `metrics`, `benchmark`, `plots`, `artifacts` (what notebooks hand
to each other) and `notebook` (setup helpers).
"""
__version__ = "0.1.0"
