"""The teacher's outputs, computed once and cached on disk for every student that learns from them,
and the logits of the teacher's other seeds, kept when each was trained (its weights are not).

A cache file is trusted only if its key matches: the teacher's weights (sha256), the exact
sentences, the max length (and, for hidden states, the layers). Anything else is recomputed and
replaced atomically, so a cache from another teacher or split is never silently reused.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ._io import atomic_path, is_main_process, read_json, write_json
from .artifacts import Artifacts, checkpoint_fingerprint, display_path, notebook_path
from .data import sentences_fingerprint
from .inference import predict_logits
from .models import load_checkpoint

logger = logging.getLogger(__name__)


def hidden_layer_map(student_layers: int, teacher_layers: int) -> list[int]:
    """Teacher layer matched to each student layer (1-based hidden-state indices), evenly spaced."""
    if student_layers > teacher_layers:
        raise ValueError(f"a student with {student_layers} layers cannot map onto {teacher_layers}")
    return [round(k * teacher_layers / student_layers) for k in range(1, student_layers + 1)]


def _read_cache(path: Path) -> dict | None:
    """A cache file's content, or None when it is missing or unreadable (then it is recomputed)."""
    if not path.is_file():
        return None
    try:
        return read_json(path)
    except (OSError, ValueError):
        logger.info("cache %s is unreadable (truncated?): recomputing", display_path(path))
        return None


def cache_teacher_logits(art: Artifacts, splits: dict[str, pd.DataFrame],
                         max_length: int) -> dict[str, np.ndarray]:
    """The run's teacher's logits for every split, computed once and cached in ``art.teacher_logits``.

    Each model tokenizes with its own tokenizer, so the cache is keyed by sentence. A cache file
    is reused only if it was written for the same teacher weights (sha256), the same sentences and
    the same max length; otherwise it is recomputed and replaced.
    """
    teacher_dir, cache_dir = art.require_teacher(), art.teacher_logits
    fingerprint = checkpoint_fingerprint(teacher_dir)
    out: dict[str, np.ndarray] = {}
    model = tokenizer = None
    for split, df in splits.items():
        sentences = list(df["sentence"])
        key = {"teacher_sha256": fingerprint, "split": split, "max_length": max_length,
               "sentences_sha256": sentences_fingerprint(sentences), "n": len(sentences)}
        path = cache_dir / f"{split}.json"
        cached = _read_cache(path)
        if cached is not None:
            if cached.get("key") == key:
                by_sentence = dict(zip(cached["sentences"], cached["logits"]))
                out[split] = np.asarray([by_sentence[s] for s in sentences], dtype=np.float32)
                logger.info("teacher logits for %s read from %s", split, display_path(path))
                continue
            logger.info("cache %s was written for another teacher or split: recomputing", display_path(path))
        if model is None:
            model, tokenizer = load_checkpoint(teacher_dir)
        logits = predict_logits(model, tokenizer, sentences, max_length=max_length)
        write_json(path, {"key": key, "sentences": sentences, "logits": logits.tolist()})
        out[split] = logits
    return out


def cache_teacher_hidden(art: Artifacts, student: str, df: pd.DataFrame, layers: list[int],
                         max_length: int) -> np.ndarray:
    """The teacher's first-token hidden states at ``layers`` for every sentence, cached on disk
    (``art.teacher_hidden(student)``).

    Shape (sentences, len(layers), teacher width); keyed like `cache_teacher_logits`.
    """
    teacher_dir, cache_path = art.require_teacher(), art.teacher_hidden(student)
    sentences = list(df["sentence"])
    key = {"teacher_sha256": checkpoint_fingerprint(teacher_dir), "layers": list(layers),
           "max_length": max_length, "sentences_sha256": sentences_fingerprint(sentences)}
    key_path = cache_path.with_suffix(".json")
    if cache_path.is_file() and _read_cache(key_path) == key:
        return np.load(cache_path)
    if is_main_process():  # the key is written last: a killed run leaves no stale key
        key_path.unlink(missing_ok=True)
    model, tokenizer = load_checkpoint(teacher_dir)
    model.eval()
    order = np.argsort([len(s) for s in sentences], kind="stable")
    out = np.zeros((len(sentences), len(layers), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(order), 64):
            index = order[start:start + 64]
            batch = tokenizer([sentences[i] for i in index], padding=True, truncation=True,
                              max_length=max_length, return_tensors="pt")
            hidden = model(**batch, output_hidden_states=True).hidden_states
            out[index] = torch.stack([hidden[layer][:, 0] for layer in layers], dim=1).float().numpy()
    with atomic_path(cache_path) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, out)
    write_json(key_path, key)
    return out


def _seed_logits_key(run_key_sha: str, frames: dict[str, pd.DataFrame], max_length: int) -> dict:
    """What a seed's kept logits were computed for: its run, the sentences of each set, the length."""
    return {"run_key_sha": run_key_sha, "max_length": max_length,
            "sentences_sha256": {name: sentences_fingerprint(list(df["sentence"])) for name, df in frames.items()}}


def keep_seed_logits(path: Path, run_key_sha: str, model, tokenizer, frames: dict[str, pd.DataFrame],
                     max_length: int) -> None:
    """Save a just-trained teacher seed's logits on every set of ``frames`` (the splits and the pool)
    while its weights are in memory: they are what an ensemble of the seeds is made of."""
    logits = {name: predict_logits(model, tokenizer, list(df["sentence"]), max_length=max_length).tolist()
              for name, df in frames.items()}
    write_json(path, {"key": _seed_logits_key(run_key_sha, frames, max_length), "logits": logits})


def has_seed_logits(path: Path, run_key_sha: str, frames: dict[str, pd.DataFrame], max_length: int) -> bool:
    """True when ``path`` holds this run's logits on exactly these sets of sentences."""
    cached = _read_cache(path)
    return cached is not None and cached.get("key") == _seed_logits_key(run_key_sha, frames, max_length)


def teacher_logits_per_seed(art: Artifacts, records: list[dict], frames: dict[str, pd.DataFrame],
                            max_length: int, saved: dict[str, np.ndarray] | None = None,
                            ) -> dict[int, dict[str, np.ndarray]]:
    """Every teacher seed's logits on each set of ``frames``, by seed: the saved teacher's from the
    cache (`cache_teacher_logits`; ``saved`` when the caller already holds them), the other seeds'
    as kept when they were trained. ``records`` are `Artifacts.teacher_records`, the saved teacher
    first. A seed whose logits are missing or were made for another run or other sentences is
    refused, naming the chapter that makes them."""
    if saved is not None and set(saved) != set(frames):
        raise ValueError(f"the saved teacher's logits cover {sorted(saved)}, not {sorted(frames)}")
    out = {int(records[0]["seed"]): saved if saved is not None else cache_teacher_logits(art, frames, max_length)}
    for record in records[1:]:
        seed = int(record["seed"])
        path = art.teacher_seed_logits(seed)
        cached = _read_cache(path)
        if cached is None or cached.get("key") != _seed_logits_key(record["run_key_sha"], frames, max_length):
            state = "missing" if cached is None else "made for another run or other sentences"
            raise ValueError(
                f"the logits of teacher seed {seed} ({display_path(path)}) are {state}: "
                f"re-run {notebook_path('teacher')}, which keeps them when it trains that seed")
        out[seed] = {name: np.asarray(cached["logits"][name], dtype=np.float32) for name in frames}
    return out
