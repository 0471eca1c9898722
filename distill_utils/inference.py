"""Inference: a model's logits for a list of sentences, in batches, in fp32.

Every score in the book (validation, test, the teacher's cached logits) goes through here.
"""
from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm


@torch.inference_mode()
def predict_logits(model, tokenizer, sentences: list[str], batch_size: int = 64,
                   max_length: int = 128, progress: bool = False) -> np.ndarray:
    """Logits for a list of sentences, fp32, in input order (batches sorted by length for speed)."""
    model.eval()
    order = np.argsort([len(s) for s in sentences], kind="stable")
    out = np.zeros((len(sentences), model.config.num_labels), dtype=np.float32)
    batches = range(0, len(order), batch_size)
    for start in tqdm(batches, desc="predict", disable=not progress):
        index = order[start:start + batch_size]
        batch = tokenizer([sentences[i] for i in index], padding=True, truncation=True,
                          max_length=max_length, return_tensors="pt").to(model.device)
        out[index] = model(**batch).logits.float().cpu().numpy()
    return out
