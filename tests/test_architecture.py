"""The shape of the package (docs/architecture.md): imports go down its layers, and no
module imports, however indirectly, a module that imports it (an import inside a
function or under TYPE_CHECKING counts too: it hides a circle without removing it)."""

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


# docs/architecture.md's layers, top to bottom: a module imports only from its own layer
# and the layers below it.
LAYERS = (
    ("entry points", ("tally", "tally.__main__", "tally.cli", "tally.pytest_plugin")),
    ("façade", ("tally.api", "tally.process")),
    ("work", ("tally.collect", "tally.report", "tally.track")),
    ("analysis", ("tally.analysis",)),
    ("data", ("tally.data",)),
    ("config", ("tally.config",)),
    (
        "ground",
        (
            "tally.types",
            "tally.env",
            "tally.exceptions",
            "tally.warnings",
            "tally.paths",
            "tally.measurement",
            "tally.version",
        ),
    ),
)
# The one import across the work layer (the HTML report's trend chart reads the history).
ACROSS_WORK = {("tally.report", "tally.track")}


def layer_of(module: str) -> tuple[int, str]:
    """The index of `module`'s layer (0 at the top), and the prefix that placed it."""
    placed = [
        (len(prefix), index, prefix)
        for index, (_, prefixes) in enumerate(LAYERS)
        for prefix in prefixes
        if module == prefix or module.startswith(prefix + ".")
    ]
    assert placed, f"{module} is in no layer of docs/architecture.md"
    _, index, prefix = max(placed)
    return index, prefix


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """The imports of `graph` that go up the layers, or across the work layer other than
    ACROSS_WORK."""
    work = next(i for i, (name, _) in enumerate(LAYERS) if name == "work")
    found = []
    for module, targets in graph.items():
        here, home = layer_of(module)
        for target in targets:
            there, place = layer_of(target)
            across = here == there == work and home != place
            if there < here or (across and (home, place) not in ACROSS_WORK):
                found.append(f"{module} -> {target}")
    return sorted(found)


def test_every_import_goes_down_the_layers_of_the_architecture_page() -> None:
    assert upward_imports(import_graph()) == []


def test_the_layer_check_sees_imports_up_and_across() -> None:
    graph = {
        "tally.analysis.arcs": {"tally.api", "tally.types"},
        "tally.collect.monitor": {"tally.report.text"},
        "tally.report.html": {"tally.track.history"},
    }
    assert upward_imports(graph) == [
        "tally.analysis.arcs -> tally.api",
        "tally.collect.monitor -> tally.report.text",
    ]
