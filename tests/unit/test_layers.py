"""The house drawn from the imports (docs/architecture.md, "Layers").

Four layers, each importing only the ones below it:
- the base: errors, limits, names, settings and where things live; everything may import it;
- the store (``groundhog.store``): persistence, encryption, all SQL; imports only the base;
- the engine: the library and the faces' API (``Session``), declared in ``ENGINE`` below;
- the faces: EVERY other module (``lsp/``, ``mcp/``, ``agents/``, the command line's modules, and any
  module added later unless it is deliberately declared part of the engine). A face reaches the
  store only through the engine, and no module imports a face but a face.
No import circles anywhere (imports under ``if TYPE_CHECKING:`` are annotations, not imports)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SERVER = Path(__file__).resolve().parents[2] / "server"
PACKAGE = SERVER / "groundhog"

BASE = frozenset(
    {
        "groundhog.errors",
        "groundhog.limits",
        "groundhog.names",
        "groundhog.processes",
        "groundhog.reports",
        "groundhog.settings",
        "groundhog.timeutil",
        "groundhog.userconfig",
        "groundhog.workspace",
        "groundhog.store.dirs",  # the base's one store module: private directories by descriptor
    }
)
ENGINE = frozenset(
    {"groundhog"}  # the package: the library's public API
    | {
        f"groundhog.{name}"
        for name in [
            "adapter",
            "auditing",
            "brief",
            "briefing",
            "changes",
            "config",
            "conflicts",
            "deletions",
            "editor",
            "files_report",
            "frames",
            "heads",
            "labels",
            "leases",
            "manager",
            "member_keys",
            "memory",
            "methods",
            "model",
            "opening",
            "params",
            "patch",
            "presence",
            "requests",
            "rollbacks",
            "session",
            "states",
            "stdio",
            "subscriptions",
            "sync",
            "tracker",
            "tracking",
            "undo",
            "workspace_keys",
        ]
    }
)
FRAMEWORKS = ("pygls", "lsprotocol", "mcp", "mcp_types")


def _name(path: Path) -> str:
    parts = list(path.relative_to(SERVER).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    """``if TYPE_CHECKING:`` or ``if typing.TYPE_CHECKING:`` exactly (``if not TYPE_CHECKING:`` and
    ``if TYPE_CHECKING or x:`` guard imports that do run)."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def test_only_a_bare_type_checking_guard_hides_an_import() -> None:
    guarded = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import a\n"
        "if not TYPE_CHECKING:\n    import b\n"
        "if TYPE_CHECKING or b:\n    import c\n"
    )
    seen = {
        alias.name
        for node in _runtime_nodes(ast.parse(guarded))
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert seen == {"b", "c"}


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node but those under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for branch in node.orelse:
                yield branch
                yield from _runtime_nodes(branch)
            continue
        yield node
        yield from _runtime_nodes(node)


def _imports(name: str) -> set[str]:
    """What ``name`` imports at run time: ``from a import b`` counts as ``a.b`` when that is a module
    (importing a submodule is not a use of its package's ``__init__``), else as ``a``."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            modules = {f"{base}.{alias.name}" for alias in node.names} & MODULES.keys()
            found |= modules or {base}
            if len(modules) < len(node.names):
                found.add(base)
    return found


GRAPH = {name: _imports(name) for name in MODULES}


def _ours(names: set[str]) -> set[str]:
    return {name for name in names if name in MODULES and name != "groundhog"} | ({"groundhog"} & names)


def _is_store(name: str) -> bool:
    return name == "groundhog.store" or name.startswith("groundhog.store.")


FACES = {name for name in MODULES if name not in ENGINE | BASE and not _is_store(name)}


def test_the_layers_are_what_they_say() -> None:
    """The declared names exist, and the derived faces hold the known ones (a renamed module would
    otherwise leave the rules below checking nothing)."""
    assert MODULES.keys() >= ENGINE | BASE, (ENGINE | BASE) - MODULES.keys()
    for face in (
        "groundhog.cli",
        "groundhog.people",
        "groundhog.team",
        "groundhog.doctor",
        "groundhog.lsp.server",
    ):
        assert face in FACES
    assert {"groundhog.mcp.server", "groundhog.agents.run"} <= FACES


def test_no_face_imports_the_store() -> None:
    """Faces reach persistence only through the engine (``Session``, the manager, the engine's
    functions for keys and files)."""
    for face in sorted(FACES):
        reaching = {name for name in GRAPH[face] if _is_store(name)}
        assert not reaching, f"{face} imports {sorted(reaching)}"


def test_the_store_imports_only_the_base() -> None:
    for name in sorted(filter(_is_store, MODULES)):
        above = {m for m in _ours(GRAPH[name]) if not _is_store(m) and m not in BASE}
        assert not above, f"{name} imports {sorted(above)}"


def test_the_base_imports_only_the_base() -> None:
    for name in sorted(BASE):
        above = {m for m in _ours(GRAPH[name]) if m not in BASE}
        assert not above, f"{name} imports {sorted(above)}"


def test_nothing_but_a_face_imports_a_face() -> None:
    for name in sorted(MODULES.keys() - FACES):
        faces = _ours(GRAPH[name]) & FACES
        assert not faces, f"{name} imports the faces {sorted(faces)}"


def test_the_engine_imports_no_face_framework() -> None:
    for name in sorted(MODULES.keys() - FACES):
        frameworks = {m for m in GRAPH[name] if m.split(".")[0] in FRAMEWORKS}
        assert not frameworks, f"{name} imports {sorted(frameworks)}"


def test_only_the_mcp_face_imports_the_mcp_sdk() -> None:
    for name in MODULES:
        if name.startswith("groundhog.mcp."):
            continue
        sdk = {m for m in GRAPH[name] if m.split(".")[0] in ("mcp", "mcp_types")}
        assert not sdk, f"{name} imports {sorted(sdk)}"


def test_no_import_circles() -> None:
    """Tarjan's strongly connected components of the import graph: every one is a single module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(name: str) -> None:
        index[name] = low[name] = len(index)
        stack.append(name)
        for other in sorted(_ours(GRAPH[name]) - {name}):
            if other not in index:
                visit(other)
                low[name] = min(low[name], low[other])
            elif other in stack:
                low[name] = min(low[name], index[other])
        if low[name] == index[name]:
            component = [stack.pop()]
            while component[-1] != name:
                component.append(stack.pop())
            if len(component) > 1:
                circles.append(sorted(component))

    for name in sorted(MODULES):
        if name not in index:
            visit(name)
    assert circles == []


def test_no_sql_outside_the_store() -> None:
    words = ("SELECT ", "INSERT ", "UPDATE ", "DELETE FROM", "PRAGMA ")
    for name, path in MODULES.items():
        if _is_store(name):
            continue
        text = path.read_text()
        found = [word for word in words if f'"{word}' in text or f"'{word}" in text]
        assert not found, f"{name} holds SQL: {found}"
