"""Numbers in the book's prose come from recorded runs (myst-nb glue), and one run shows one figure
in every chapter."""
import json
import re
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))

# what a measured figure looks like when typed into prose: a decimal number, a size or a time with
# its unit, a count "n of m"
MEASURED = re.compile(r"(?<![\w.])(\d+\.\d+|\d+(?:\.\d+)?\s?(?:ms|MB|GB|min|minutes|seconds)\b|\d+ (?:of|out of) \d+)")
# decimals that are not measurements, each with the words around it that say what it is
NOT_MEASURED = {
    r"CC BY-NC-SA 3\.0": "the licence's version",
    r"section \d+\.\d+": "a section of a cited paper",
    r"three equally likely classes\s+give 1\.10": "log 3, the entropy of a uniform 3-class answer",
    r"confidence above\s+0\.9": "the top bin of the reliability diagram, a definition",
}


def prose(markdown: str) -> str:
    """A markdown cell without what is not typed prose: code, math, glue roles and directives."""
    markdown = re.sub(r"```.*?```", " ", markdown, flags=re.S)
    markdown = re.sub(r"\$\$.*?\$\$", " ", markdown, flags=re.S)
    markdown = re.sub(r"\$[^$]*\$", " ", markdown)
    markdown = re.sub(r"\{[\w:-]+\}`[^`]*`", " ", markdown)  # {glue:text}`key:.2f`, {cite}`...`
    return re.sub(r"`[^`]*`", " ", markdown)


def typed_figures(markdown: str) -> list[str]:
    text = prose(markdown)
    for pattern in NOT_MEASURED:
        text = re.sub(pattern, " ", text)
    return [match.group(0) for match in MEASURED.finditer(text)]


def test_the_detector_finds_a_typed_figure_and_passes_glue():
    assert typed_figures("The teacher scores 97.05% and takes 74 ms; 329 of 339 are right.") == \
        ["97.05", "74 ms", "329 of 339"]
    assert typed_figures("The teacher scores {glue:text}`teacher_acc:.2f`% at $T = 2.5$.") == []
    assert typed_figures("three equally likely classes give 1.10 nats") == []


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_no_markdown_cell_types_a_measured_figure_by_hand(notebook):
    """A figure typed into prose goes stale at the next recording; glue it from the run instead."""
    nb = nbformat.read(notebook, as_version=4)
    typed = [(i, figures) for i, cell in enumerate(nb.cells) if cell.cell_type == "markdown"
             for figures in [typed_figures(cell.source)] if figures]
    assert not typed, f"{notebook.name}: markdown cells type measured figures by hand (cell, figures): {typed}"


@pytest.mark.xfail(strict=True, reason="recorded before every score was fp32 (issue 34): chapter 4 scored "
                                       "pruned-teacher-4layer (kd) seed 42 under bf16 autocast, chapter 5 in fp32; "
                                       "the next recording makes them agree, and this marker must then go")
def test_one_run_shows_the_same_figures_in_chapters_4_5_and_6():
    """Chapter 4's runs (`training_runs`) and chapters 5 and 6's fp32 rows (`models`) of the recorded
    summary count the same correct answers for the same model, mode and seed."""
    summary = json.loads((REPO / "results" / "reference.json").read_text())
    trained = {(run["model"], run["mode"], seed): correct for run in summary["training_runs"]
               for seed, correct in zip(run["seed_list"], run["correct_per_seed"])}
    benchmarked = {(row["model"], row["mode"], seed): correct for row in summary["models"]
                   if row.get("variant") == "fp32" and not row.get("skipped")
                   for seed, correct in zip(row.get("seeds") or [row.get("seed")], row["correct_per_seed"])}
    shared = sorted(set(trained) & set(benchmarked))
    assert shared, "no run is in both chapter 4's and chapter 5's records"
    differ = [(key, trained[key], benchmarked[key]) for key in shared if trained[key] != benchmarked[key]]
    assert not differ, f"runs whose correct answers differ between chapter 4 and chapters 5-6: {differ}"
