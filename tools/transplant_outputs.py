"""Carry the outputs of an executed notebook over to a regenerated source notebook.

    python tools/transplant_outputs.py EXECUTED SOURCE OUT

For prose and cell-tag edits made after a long run: every code cell must have exactly the same
source in both notebooks (otherwise the outputs would not belong to the code shown, and this
refuses); outputs, execution counts and the papermill metadata are copied from EXECUTED.
"""
import sys

import nbformat


def transplant(executed_path: str, source_path: str, out_path: str) -> None:
    executed = nbformat.read(executed_path, as_version=4)
    source = nbformat.read(source_path, as_version=4)
    ran = [c for c in executed.cells if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])]
    new = [c for c in source.cells if c.cell_type == "code"]
    if len(ran) != len(new):
        sys.exit(f"{len(ran)} executed code cells but {len(new)} in the source: not the same notebook")
    for i, (old, cell) in enumerate(zip(ran, new)):
        if old.source != cell.source:
            sys.exit(f"code cell {i} differs between the executed and the source notebook: re-run it")
        cell.outputs = old.outputs
        cell.execution_count = old.execution_count
        for key in ("papermill", "execution"):
            if key in old.metadata:
                cell.metadata[key] = old.metadata[key]
    for key in ("papermill", "language_info", "kernelspec"):
        if key in executed.metadata:
            source.metadata[key] = executed.metadata[key]
    nbformat.write(source, out_path)


if __name__ == "__main__":
    transplant(*sys.argv[1:4])
