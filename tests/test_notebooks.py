"""Every notebook in notebooks/ runs, top to bottom, on tiny settings (JAXRL_NOTEBOOK_TINY=1).

Code cells are executed in one namespace with plain ``exec`` (no Jupyter kernel needed).
"""

import json
import pathlib

import pytest

NOTEBOOKS = sorted((pathlib.Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.timeout(600)  # a hang guard: the slowest, world_model, took 85 s on a quiet 2-core CPU and 300+ s on a loaded one
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, monkeypatch):
    monkeypatch.setenv("JAXRL_NOTEBOOK_TINY", "1")
    nb = json.loads(path.read_text())
    namespace = {"__name__": "__notebook__"}
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        assert not any(line.lstrip().startswith(("!", "%")) for line in source.splitlines()), (
            f"{path.name} cell {i}: shell/magic lines cannot run in the test"
        )
        exec(compile(source, f"{path.name}[cell {i}]", "exec"), namespace)
