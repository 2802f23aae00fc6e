"""Every notebook in notebooks/ runs as a reader runs it: its code cells in order, in a fresh Python started in
notebooks/ (where Jupyter opens it), with the repository's venv. A notebook that only works from the repository
root, or that an API change has broken, fails here instead of in front of a reader.

The cells are joined and run by the plain interpreter (no Jupyter in the lock files); a cell using IPython magics
(``%``/``!`` lines) would fail here, on purpose: the notebooks show the Python API.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SHARED, shared_path

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# what each notebook must print, so a notebook that runs but computes nothing still fails
EXPECTED = {"detection_and_reid.ipynb": ["people in 50 frames", "best match in frame 50 for each person of frame 1"]}


def code_of(notebook: Path) -> str:
    cells = json.loads(notebook.read_text())["cells"]
    return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def test_every_notebook_has_expectations() -> None:
    assert NOTEBOOKS and sorted(EXPECTED) == [p.name for p in NOTEBOOKS]


@pytest.mark.shared
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_from_its_folder(notebook: Path) -> None:
    shared_path("models"), shared_path("data")
    env = {k: v for k, v in os.environ.items() if k != "MTMCT_SHARED"}
    if SHARED != (ROOT.parent / "shared").resolve():  # a shared folder elsewhere: tell the notebook, as a user would
        env["MTMCT_SHARED"] = str(SHARED)
    res = subprocess.run([sys.executable, "-c", code_of(notebook)], cwd=notebook.parent, env=env,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    for needle in EXPECTED[notebook.name]:
        assert needle in res.stdout, res.stdout
