"""The classroom notebook's hidden solutions are correct answers to its exercises."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks/teaching/modality_gap_classroom.ipynb"
SOLUTION = re.compile(r"<details><summary>Solution</summary>\s*```python\n(.*?)```", re.S)


def solved_notebook() -> tuple[nbformat.NotebookNode, int]:
    """Replace each exercise cell by its solution followed by the exercise's checks."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cells = nb.cells
    exercises = 0
    for index, cell in enumerate(cells):
        if cell.cell_type != "markdown" or "<details>" not in cell.source:
            continue
        match = SOLUTION.search(cell.source)
        previous = cells[index - 1]
        if match is None or previous.cell_type != "code" or "check(" not in previous.source:
            continue
        checks = [line for line in previous.source.splitlines() if line.startswith("check(")]
        previous.source = match.group(1) + "\n" + "\n".join(checks)
        exercises += 1
    return nb, exercises


def test_unsolved_checks_say_not_answered():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    exercise_cells = [c for c in nb.cells if c.cell_type == "code" and "check(" in c.source
                      and "def check" not in c.source]
    assert len(exercise_cells) >= 4
    for cell in exercise_cells:
        assert "= None" in cell.source  # students start from a blank answer


@pytest.mark.notebooks
def test_solutions_pass_every_check():
    from nbclient import NotebookClient

    nb, exercises = solved_notebook()
    assert exercises >= 4
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    printed = "".join(
        output.get("text", "")
        for cell in nb.cells if cell.cell_type == "code"
        for output in cell.outputs
    )
    assert printed.count("✔ correct") >= exercises
    assert "✘" not in printed and "not answered yet" not in printed
