"""The layout is the architecture: engine's subpackages are the stages of the data flow and
imports only point down it, never up and never in a circle.

Ranks (lower stages may not import higher ones; a stage may import itself and any lower one):
ground floor (errors, symbols, calendars, jsonable, files, text) < config < data < market <
portfolio < analysis < results < pipeline.  ``engine/__init__`` only maps public names to
modules lazily.  Run alone: ``python -m pytest tests/test_layout.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[1] / "engine"
STAGES = ("ground", "config", "data", "market", "portfolio", "analysis", "results", "pipeline")
GROUND = {"errors", "symbols", "calendars", "jsonable", "files", "text"}


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
    assert "engine.market.panel" in graph["engine.pipeline"]
    assert "engine.calendars" in graph["engine.market.panel"]
