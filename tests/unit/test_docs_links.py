"""Every relative link in the repository's Markdown resolves: the file exists, and an anchor names a
heading of that file (GitHub's slugs). A reader who follows the README never lands on nothing."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")


def _markdown_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "*.md"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [ROOT / name for name in listed if "node_modules" not in name and (ROOT / name).exists()]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, markup and punctuation dropped, spaces to '-'."""
    text = re.sub(r"`|\*|_(?=\w)|(?<=\w)_", "", heading)  # code and emphasis marks
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links keep their text
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        match = None if fenced else HEADING.match(line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            anchors.add(base if count == 0 else f"{base}-{count}")
    return anchors


def test_every_relative_link_resolves() -> None:
    broken = []
    for path in _markdown_files():
        text = path.read_text()
        text = re.sub(r"```.*?```", "", text, flags=re.S)  # links in code samples are not links
        for target in LINK.findall(text):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:, ...
                continue
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists():
                broken.append(f"{path.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
                broken.append(f"{path.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_the_slugs_follow_githubs_rule() -> None:
    assert slug("Codex CLI (`~/.codex/config.toml`)") == "codex-cli-codexconfigtoml"
    assert slug("Claude Code and other agents (MCP)") == "claude-code-and-other-agents-mcp"
    assert slug("Agents (MCP): mcphub.nvim") == "agents-mcp-mcphubnvim"


def test_the_readme_is_a_short_front_door_to_every_doc() -> None:
    """The README stays a front door (issue 22.5): short, linking every page of docs/ and
    CONTRIBUTING.md, and no lab notebook (commit ids belong with the figures in docs/performance.md)."""
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    linked = {
        target.partition("#")[0] for target in LINK.findall(re.sub(r"```.*?```", "", readme, flags=re.S))
    }
    pages = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "CONTRIBUTING.md"]
    missing = [page.relative_to(ROOT).as_posix() for page in pages]
    missing = [page for page in missing if page not in linked]
    assert not missing, f"the README links no {missing}"
    commit = re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,40}\b")
    assert not commit.findall(readme)


def test_the_vscode_extensions_readme_links_only_inside_the_extension() -> None:
    """The .vsix carries clients/vscode/README.md as the Marketplace page, and vsce refuses to package
    a relative link that leaves the extension's folder (it has no repository URL to rewrite it to)."""
    extension = ROOT / "clients" / "vscode"
    text = re.sub(r"```.*?```", "", (extension / "README.md").read_text(), flags=re.S)
    leaving = [
        target
        for target in LINK.findall(text)
        if not re.match(r"[a-z][a-z0-9+.-]*:|#", target)
        and extension not in (extension / target.partition("#")[0]).resolve().parents
    ]
    assert leaving == []
