"""The shape of the package: no module imports, however indirectly, a module that imports
it (an import inside a function or under TYPE_CHECKING counts too: it hides a circle
without removing it)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "tally"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each tally module and the tally modules it imports anywhere in its text. `from
    tally import env` names the module tally.env, not the package."""
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{anchor}.{base}" if base else anchor
                targets = [f"{base}.{alias.name}" for alias in node.names]
                targets = [t if t in modules else base for t in targets]
            else:
                continue
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_of_tally_imports_itself_through_others() -> None:
    assert circles(import_graph()) == []


def test_the_circle_finder_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]


def test_the_graph_sees_imports_inside_functions_and_relative_imports() -> None:
    graph = import_graph()
    assert "tally.api" in graph["tally.process"]  # inside startup()
    assert "tally.collect.pycache" in graph["tally.collect.importer"]


def test_engines_and_storage_share_only_the_measurement() -> None:
    """What engines measure reaches storage as a Measurement (tally.measurement): no
    engine imports storage code, and storage imports no engine."""
    graph = import_graph()
    crossings = {
        (module, target)
        for module, targets in graph.items()
        for target in targets
        if (module.startswith("tally.collect.") and target.startswith("tally.data."))
        or (module.startswith("tally.data.") and target.startswith("tally.collect."))
    }
    assert crossings == set()
    assert "tally.measurement" in graph["tally.collect.counting"]
    assert "tally.measurement" in graph["tally.data.sqlite"]


def test_no_caller_decides_by_an_engines_name() -> None:
    """Callers ask an engine's capabilities (collect/capabilities.py); only the chooser
    and the capabilities themselves know the engines by name."""
    pattern = re.compile(r"(choice|engine|_engine)\.name\s*(==|!=|in\b)")
    deciding = [
        f"{path.relative_to(PACKAGE)}:{number}"
        for path in PACKAGE.rglob("*.py")
        if path.name not in {"engine.py", "capabilities.py"}
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert deciding == []
