"""The layout is the architecture: engine's subpackages are the stages of the data flow and
imports only point down it, never up and never in a circle.

Ranks (lower stages may not import higher ones; a stage may import itself and any lower one):
ground floor (errors, symbols, calendars, jsonable, files, text) < config < data < market <
portfolio < analysis < results < pipeline.  Inside the pipeline and inside config, a room imports
only the rooms before it in :data:`PIPELINE_ROOMS` and :data:`CONFIG_ROOMS`.  No engine module
holds more than :data:`MAX_LINES` lines, so the rooms stay small.  ``engine/__init__`` only
maps public names to modules lazily; every name it maps, and every engine name the README's
Python examples use, exists.  Run alone: ``python -m pytest tests/test_layout.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[1] / "engine"
STAGES = ("ground", "config", "data", "market", "portfolio", "analysis", "results", "pipeline")
GROUND = {"errors", "symbols", "calendars", "jsonable", "files", "text"}
#: The rooms of engine/pipeline/ in the order they may import each other (engine/pipeline/__init__).
PIPELINE_ROOMS = ("study", "listings", "prices", "draws", "universe", "events", "runs", "sweep",
                  "claims", "writing")
#: The modules of engine/config/ in the order they may import each other (engine/config/__init__).
CONFIG_ROOMS = ("yamlfile", "fields", "weights", "studies", "baskets", "validate", "claims", "grid")
#: The most lines an engine module may hold (the largest today: data/yahoo.py, about 720).
MAX_LINES = 800


def module_name(path: Path) -> str:
    parts = path.relative_to(ENGINE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def stage_of(module: str) -> str:
    part = module.split(".")[1] if "." in module else ""
    return "ground" if part in GROUND else part


def import_graph() -> dict[str, set[str]]:
    """Every engine module and the engine modules it imports (at any depth in the file)."""
    modules = {module_name(p): p for p in ENGINE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                base = node.module
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    targets.add(full if full in modules else base)
            elif isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def test_every_engine_module_belongs_to_a_stage():
    for name in import_graph():
        if name != "engine":
            assert stage_of(name) in STAGES, f"{name} is in no stage of {STAGES}"


def test_imports_never_point_up_the_flow():
    upward = [
        f"{source} ({stage_of(source)}) imports {target} ({stage_of(target)})"
        for source, targets in import_graph().items()
        if source != "engine"
        for target in targets
        if STAGES.index(stage_of(target)) > STAGES.index(stage_of(source))
    ]
    assert not upward, "\n".join(upward)


def test_no_import_circle():
    graph = {k: v for k, v in import_graph().items() if k != "engine"}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                raise AssertionError("import circle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_the_graph_sees_real_imports():
    graph = import_graph()
    assert "engine.market.panel" in graph["engine.pipeline.runs"]
    assert "engine.calendars" in graph["engine.market.panel"]


@pytest.mark.parametrize("package, order", [("pipeline", PIPELINE_ROOMS),
                                            ("config", CONFIG_ROOMS)])
def test_rooms_import_only_the_rooms_before_them(package, order):
    rooms = {f"engine.{package}.{room}": rank for rank, room in enumerate(order)}
    graph = import_graph()
    assert set(rooms) == {m for m in graph if m.startswith(f"engine.{package}.")}
    backward = [
        f"{source} imports {target}"
        for source, rank in rooms.items()
        for target in graph[source]
        if target in rooms and rooms[target] >= rank
    ]
    assert not backward, "\n".join(backward)
    assert not {t for t in graph[f"engine.{package}"] if t.startswith("engine.")}  # no room


def test_no_module_is_too_large_to_read():
    sizes = {p: len(p.read_text(encoding="utf-8").splitlines()) for p in ENGINE.rglob("*.py")}
    large = [f"{p.relative_to(ENGINE)}: {n} lines" for p, n in sizes.items() if n > MAX_LINES]
    assert not large, "\n".join(large)


def test_every_public_name_of_engine_exists():
    import importlib

    import engine

    for name, module in engine._EXPORTS.items():
        assert hasattr(importlib.import_module(module), name), f"{module} has no {name}"
    assert engine.run is importlib.import_module("engine.pipeline.runs").run


def test_the_readme_python_examples_name_existing_calls():
    """Each ``engine.NAME`` and ``from engine.MODULE import NAME`` in the README's Python
    blocks exists (the examples themselves read ../shared data and run in the CLI tests)."""
    import importlib
    import re

    import engine

    readme = (ENGINE.parent / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert blocks
    used = set()
    for block in blocks:
        for node in ast.walk(ast.parse(block)):
            if isinstance(node, ast.ImportFrom) and node.module.startswith("engine"):
                module = importlib.import_module(node.module)
                used.update(f"{node.module}.{a.name}" for a in node.names)
                missing = [a.name for a in node.names if not hasattr(module, a.name)]
                assert not missing, f"{node.module} has no {missing}"
            elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                  and node.value.id == "engine"):
                used.add(f"engine.{node.attr}")
                assert node.attr in engine.__all__, f"engine.{node.attr} is no public name"
    assert {"engine.run", "engine.write_run"} <= used
