"""Every notebook in notebooks/ runs, top to bottom, on tiny settings (JAXRL_NOTEBOOK_TINY=1).

Code cells are executed in one namespace with plain ``exec`` (no Jupyter kernel needed).

The four agent notebooks (``HEAVY``: DreamerV3, TD-MPC2 and DrQ-v2 from pixels, SAC with a GIF)
compile whole pixel / world-model / replay trainers on MJX tasks even on tiny settings (130-170 s
each in the default run; the SAC one 140 s), and what they run is what tests/test_dreamer.py,
test_tdmpc.py, test_drq.py and test_offpolicy.py train; so in the default run they are checked
statically (every cell compiles, every name they take from jaxrl exists, every keyword they pass
to a jaxrl callable is one it accepts: what goes stale when an API changes) and they are EXECUTED
by the slow-marked run (``pytest -m slow -k notebook``).
"""

import ast
import importlib
import inspect
import json
import pathlib

import pytest

NOTEBOOKS = sorted((pathlib.Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
HEAVY = {"dreamer.ipynb", "world_model.ipynb", "pixels.ipynb", "offpolicy.ipynb"}


def _cells(path):
    """``[(index, source)]`` of the notebook's code cells."""
    nb = json.loads(path.read_text())
    return [(i, "".join(c["source"])) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"]


def test_there_are_notebooks():
    assert NOTEBOOKS and HEAVY <= {p.name for p in NOTEBOOKS}


@pytest.mark.timeout(600)  # a hang guard: the slowest took ~170 s on a loaded 2-core CPU
@pytest.mark.parametrize("path", [pytest.param(p, marks=pytest.mark.slow) if p.name in HEAVY else p for p in NOTEBOOKS],
                         ids=lambda p: p.name)
def test_notebook_runs(path, monkeypatch):
    monkeypatch.setenv("JAXRL_NOTEBOOK_TINY", "1")
    namespace = {"__name__": "__notebook__"}
    for i, source in _cells(path):
        assert not any(line.lstrip().startswith(("!", "%")) for line in source.splitlines()), (
            f"{path.name} cell {i}: shell/magic lines cannot run in the test"
        )
        exec(compile(source, f"{path.name}[cell {i}]", "exec"), namespace)


def _jaxrl_names(tree):
    """``{local name: object}`` for what the cells import from jaxrl (``from jaxrl.x import y``,
    ``import jaxrl.x as y``)."""
    bound = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "jaxrl":
            module = importlib.import_module(node.module)
            for alias in node.names:
                if not hasattr(module, alias.name):  # a submodule imported by name
                    importlib.import_module(f"{node.module}.{alias.name}")
                bound[alias.asname or alias.name] = getattr(module, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "jaxrl" and alias.asname:
                    bound[alias.asname] = importlib.import_module(alias.name)
    return bound


def _resolve(node, bound):
    """The jaxrl object an expression like ``dreamer.DreamerConfig`` names, or None."""
    if isinstance(node, ast.Name):
        return bound.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, bound)
        if base is not None and inspect.ismodule(base):
            assert hasattr(base, node.attr), f"{base.__name__} has no attribute {node.attr!r}"
            return getattr(base, node.attr)
    return None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_code_matches_the_api(path):
    """Static check of every notebook (the heavy ones run only in the slow run): each cell compiles;
    each ``module.name`` it reads from a jaxrl module exists; each keyword it passes to a jaxrl
    function or class is a parameter of it."""
    trees = [ast.parse(source, f"{path.name}[cell {i}]") for i, source in _cells(path)]
    bound = {}
    for tree in trees:
        bound.update(_jaxrl_names(tree))
    assert bound, f"{path.name} imports nothing from jaxrl"
    checked = 0
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                _resolve(node, bound)
            if isinstance(node, ast.Call) and (target := _resolve(node.func, bound)) is not None and callable(target):
                try:
                    params = inspect.signature(target).parameters
                except (TypeError, ValueError):
                    continue
                if any(p.kind == p.VAR_KEYWORD for p in params.values()):
                    continue
                for kw in node.keywords:
                    if kw.arg is not None:
                        assert kw.arg in params, f"{path.name}: {getattr(target, '__qualname__', target)} takes no {kw.arg!r}"
                        checked += 1
    assert checked > 0 or path.name not in HEAVY
