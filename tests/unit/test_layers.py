"""The house drawn from the imports: the engine imports no face's framework (pygls, the MCP SDK), and
the MCP face reaches the store only through the engine."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "server" / "groundhog"


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _modules(under: Path) -> list[Path]:
    return sorted(under.rglob("*.py"))


FACES = ("mcp", "lsp", "cli.py", "people.py", "team.py")


def test_no_face_imports_the_store() -> None:
    """The LSP and MCP faces and the command line reach persistence only through the engine."""
    for face in FACES:
        for path in _modules(PACKAGE / face) if not face.endswith(".py") else [PACKAGE / face]:
            reaching = {name for name in _imports(path) if name.startswith("groundhog.store")}
            assert not reaching, f"{path.relative_to(PACKAGE)} imports {reaching}"


def test_no_sql_outside_the_store() -> None:
    words = ("SELECT ", "INSERT ", "UPDATE ", "DELETE FROM", "PRAGMA ")
    for path in _modules(PACKAGE):
        if PACKAGE / "store" in path.parents:
            continue
        text = path.read_text()
        found = [word for word in words if f'"{word}' in text or f"'{word}" in text]
        assert not found, f"{path.relative_to(PACKAGE)} holds SQL: {found}"


def test_the_engine_imports_no_face_framework() -> None:
    faces = (PACKAGE / "lsp", PACKAGE / "mcp")
    for path in _modules(PACKAGE):
        if any(face in path.parents for face in faces) or path.name == "cli.py":
            continue
        frameworks = {
            n for n in _imports(path) if n.split(".")[0] in ("pygls", "lsprotocol", "mcp", "mcp_types")
        }
        assert not frameworks, f"{path.relative_to(PACKAGE)} imports {frameworks}"


def test_only_the_mcp_face_imports_the_mcp_sdk() -> None:
    for path in _modules(PACKAGE):
        if PACKAGE / "mcp" in path.parents:
            continue
        sdk = {n for n in _imports(path) if n.split(".")[0] in ("mcp", "mcp_types")}
        assert not sdk, f"{path.relative_to(PACKAGE)} imports {sdk}"
