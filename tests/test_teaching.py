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


CHECK_LINE = re.compile(r'^check\("[^"]+", [A-Za-z_][A-Za-z_0-9]*\)$')


def test_check_lines_do_not_give_the_answer_away():
    """Each exercise's check names the exercise and the student's variable, nothing else:
    the expected values live in amumo.teaching, not in the cell."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    lines = [line for cell in nb.cells if cell.cell_type == "code"
             for line in cell.source.splitlines() if line.startswith("check(")]
    assert len(lines) >= 6
    for line in lines:
        assert CHECK_LINE.match(line), line
    from amumo.teaching import EXERCISES

    named = {line.split('"')[1] for line in lines}
    assert named == set(EXERCISES)


def test_wrong_kinds_of_answer_get_a_sentence_not_a_traceback(capsys):
    import numpy as np

    from amumo.teaching import check

    for answer, expected in [
        ("0.85", "got the text '0.85' — remove the quotes"),
        ([0.1, 0.2], "expected one number, got a list of shape (2,)"),
        (np.zeros(512), "got a ndarray of shape (512,)"),
        (True, "a yes/no value"),
        (["a"], "got a list of <U1 values"),
        (float("nan"), "not quite"),
        (object(), "expected a number"),
    ]:
        check("gap distance", answer)
        assert expected in capsys.readouterr().out, answer
    import amumo as am

    check("gap distance", np.array([am.gap_distance(am.datasets.clip_coco500())]))
    assert "✔ correct" in capsys.readouterr().out
    with pytest.raises(KeyError, match="unknown exercise"):
        check("gap", 0.85)


def test_explore_section_uses_widgets():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    start = next(i for i, c in enumerate(nb.cells) if "Explore it yourself" in c.source)
    end = next(i for i, c in enumerate(nb.cells) if "Going further" in c.source)
    code = "\n".join(c.source for c in nb.cells[start:end] if c.cell_type == "code")
    assert "am.Explorer(" in code and "am.Landscape(" in code
