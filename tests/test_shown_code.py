"""The code the chapters show: the library's own source, shown by `show_source` (which the built
book, Jupyter and Colab all render), and narrow enough for the book's column."""
import ast
import re
from pathlib import Path

import nbformat
import pytest

from distill_utils.book.notebook import show_source, shown_source

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SHOWN = re.compile(r"^show_source\(([\w.]+)\)$")


def shown_in(path: Path) -> list[tuple[str, object]]:
    """Every ``show_source(name)`` cell of a chapter, with the object the chapter's own
    ``from distill_utils... import`` lines bind to that name."""
    nb = nbformat.read(path, as_version=4)
    namespace: dict = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.parse(cell.source).body:
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("distill_utils"):
                exec(compile(ast.Module([node], []), path.name, "exec"), namespace)
    shown = []
    for cell in nb.cells:
        lines = cell.source.strip().splitlines() if cell.cell_type == "code" else []
        match = SHOWN.match(lines[-1]) if lines else None
        if match:
            # a shown cell may say where the code lives (its import), and does nothing else
            assert all(line.startswith(("from distill_utils", "import distill_utils")) or not line.strip()
                       for line in lines[:-1]), f"{path.name}: the cell showing {match[1]} runs code too"
            assert "remove-input" in cell.metadata.get("tags", []), f"{path.name}: {match[1]} shows its call too"
            shown.append((match[1], eval(match[1], namespace)))
    return shown


def test_the_chapters_show_the_code_they_teach():
    shown = {path.stem[:2]: [name for name, _ in shown_in(path)] for path in NOTEBOOKS}
    assert shown["03"] == ["soft_target_loss", "distillation_loss"]
    assert shown["04"] == ["LossSettings", "DistillationTrainer.compute_loss", "hidden_state_loss"]
    assert shown["05"] == ["PerformanceBenchmark.run_benchmark", "time_interleaved", "quantize_onnx_static"]
    assert shown["07"] == ["recipe"]  # the whole recipe, one module


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_shown_code_fits_the_column_and_no_chapter_includes_files(path):
    for _, obj in shown_in(path):
        show_source(obj)  # raises for a line wider than the column, naming it
    text = path.read_text()
    assert "literalinclude" not in text, f"{path.name}: a literalinclude shows as raw text in Jupyter and Colab"


def test_shown_source_is_a_highlighted_block_for_every_front_end():
    from distill_utils.losses import distillation_loss

    shown = show_source(distillation_loss)
    assert shown._repr_markdown_().startswith("````python\ndef distillation_loss(")
    assert repr(shown) == shown_source(distillation_loss)  # plain text where nothing renders


def test_the_trainers_loss_reads_as_the_idea():
    from distill_utils.trainer import DistillationTrainer

    lines = shown_source(DistillationTrainer.compute_loss).splitlines()
    assert len(lines) <= 20, "compute_loss should read as the idea; move a mode into a named helper"


def a_function_too_wide_for_the_page():
    return "this line is deliberately wider than the book's column, which shows about 79 characters"


def test_code_wider_than_the_column_is_refused_with_the_fix():
    with pytest.raises(ValueError, match=r"a_function_too_wide_for_the_page has 1 line\(s\) wider than 79 .*wrap"):
        show_source(a_function_too_wide_for_the_page)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_cells_a_reader_sees_fit_the_column(path):
    """A parameters or setup cell shown open on the page scrolls sideways past the column's width
    (the browser check in CI measures the rendered page; this finds the line before a build)."""
    from distill_utils.book.notebook import SHOWN_CODE_WIDTH

    hidden = {"remove-cell", "remove-input", "hide-input"}
    wide = [f"cell {index}: {line.strip()[:40]!r}" for index, cell in enumerate(nbformat.read(path, as_version=4).cells)
            if cell.cell_type == "code" and not hidden & set(cell.metadata.get("tags", []))
            for line in cell.source.splitlines() if len(line) > SHOWN_CODE_WIDTH]
    assert not wide, f"{path.name}: lines wider than {SHOWN_CODE_WIDTH} characters: {wide}"
