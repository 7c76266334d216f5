"""Where things live: a workspace's canonical identity (the same for every face and process that
opens the same folder) and the platform's directories (``userconfig`` says which ones a user chose)."""

from __future__ import annotations

import hashlib
import os
import re
import socket
from pathlib import Path
from urllib.parse import unquote, urlparse

import platformdirs

APP_NAME = "groundhog"
NO_WORKSPACE = "groundhog:no-workspace"


def platform_store_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def platform_config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def canonical_root(root: str | os.PathLike[str] | None) -> str:
    """A stable text for a workspace root: a normalized ``file://`` URI, or the no-workspace scope."""
    if root is None or str(root) == "":
        return NO_WORKSPACE
    text = str(root)
    if text == NO_WORKSPACE:
        return text
    if "://" in text:
        parsed = urlparse(text)
        if parsed.scheme != "file":
            return text.rstrip("/")
        text = unquote(parsed.path)
    return "file://" + os.path.normpath(os.path.abspath(text))


def workspace_id_for(root: str | os.PathLike[str] | None) -> str:
    """The directory name of a workspace's store: a hash of its canonical root, never the path itself."""
    return hashlib.sha256(canonical_root(root).encode()).hexdigest()[:32]


# -- a workspace's identity in a shared store ---------------------------------------------------
# In the embedded store a workspace is its folder on this machine. In a shared (PostgreSQL) store
# two checkouts of one project, at different paths on different machines, must meet: a workspace
# is named by its repository's remote plus the folder's path inside the repository. Without a
# remote there is nothing to meet on, so the name stays this machine's folder (host + path) and is
# never shared by accident; an explicit id (`--workspace-id`, `workspaceId`, GROUNDHOG_WORKSPACE_ID)
# overrides both.

_EXPLICIT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,127}")


def shared_identity(root: str | os.PathLike[str] | None, explicit: str | None = None) -> str:
    """The text a shared store names this workspace by (hashed into its id, never stored); the
    explicit id comes resolved from its sources (settings.py)."""
    if explicit is not None:
        if not _EXPLICIT_ID.fullmatch(explicit):
            raise ValueError(
                "A workspace id is 1 to 128 letters, digits, '.', '_', '-' or '/', starting with a"
                " letter or digit."
            )
        return f"id:{explicit}"
    canonical = canonical_root(root)
    if canonical.startswith("file://"):
        folder = Path(canonical[len("file://") :])
        found = _repository_remote(folder)
        if found is not None:
            top, remote = found
            inside = folder.relative_to(top).as_posix()
            return f"git:{remote}#{'' if inside == '.' else inside}"
    return f"path:{socket.gethostname()}:{canonical}"


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("postgresql://", "postgres://"))


def valid_workspace_id(text: str) -> bool:
    return _EXPLICIT_ID.fullmatch(text) is not None


def shared_workspace_id(root: str | os.PathLike[str] | None, explicit: str | None = None) -> str:
    return hashlib.sha256(shared_identity(root, explicit).encode()).hexdigest()[:32]


def _repository_remote(folder: Path) -> tuple[Path, str] | None:
    """The repository holding ``folder`` (its top folder) and its normalized remote URL: the
    ``origin`` remote, else the first one; None outside a repository or without a remote."""
    for top in (folder, *folder.parents):
        marker = top / ".git"
        if marker.is_dir():
            git_dir = marker
        elif marker.is_file():  # a worktree or submodule: "gitdir: <path>", config in its commondir
            text = marker.read_text(errors="replace").strip()
            if not text.startswith("gitdir:"):
                return None
            git_dir = (top / text[len("gitdir:") :].strip()).resolve()
            common = git_dir / "commondir"
            if common.is_file():
                git_dir = (git_dir / common.read_text().strip()).resolve()
        else:
            continue
        remotes = _remotes(git_dir / "config")
        if not remotes:
            return None
        url = remotes.get("origin") or next(iter(remotes.values()))
        return top, normalize_remote(url)
    return None


def _remotes(config: Path) -> dict[str, str]:
    remotes: dict[str, str] = {}
    section: str | None = None
    try:
        lines = config.read_text(errors="replace").splitlines()
    except OSError:
        return remotes
    for line in lines:
        line = line.strip()
        header = re.fullmatch(r'\[remote\s+"([^"]+)"\]', line)
        if header:
            section = header.group(1)
        elif line.startswith("["):
            section = None
        elif section is not None and section not in remotes:
            key, _, value = line.partition("=")
            if key.strip().lower() == "url" and value.strip():
                remotes[section] = value.strip()
    return remotes


def normalize_remote(url: str) -> str:
    """One spelling for one repository: ``git@host:org/repo.git``, ``ssh://git@host:22/org/repo``
    and ``https://user:secret@host/org/repo`` all become ``host/org/repo`` (no user, password,
    port, scheme or ``.git``)."""
    text = url.strip()
    scp = re.fullmatch(r"(?:[^@/]+@)?([^:/]+):(?!//)(.+)", text)
    if "://" in text:
        parsed = urlparse(text)
        host, path = (parsed.hostname or "").lower(), parsed.path
        if parsed.scheme == "file" or not host:
            return os.path.normpath(unquote(path))
    elif scp:
        host, path = scp.group(1).lower(), scp.group(2)
    else:
        return os.path.normpath(text)  # a path on this machine
    path = path.strip("/")
    if path.endswith(".git"):
        path = path[: -len(".git")]
    return f"{host}/{path}"
