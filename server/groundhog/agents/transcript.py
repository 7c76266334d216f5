"""An agent's JSONL transcript read as it grows: the complete lines after a byte offset (never a
half-written last line), and what they say about the session: the last prompt and answer, the
files the agent wrote. Claude Code's format (``type``: user | assistant | ..., ``message``) and
Codex's rollout files (``type``: response_item, ``payload``) are understood; anything else is
foreign and refused (the hook then changes nothing)."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from typing import Any

import orjson

from groundhog.agents.contracts import HookProblem

MAX_READ_BYTES = 64 << 20  # one hook reads at most this much of a transcript (the newest part)
TEXT_CHARS = 600  # of the last prompt and answer kept in the progress record
MAX_FILES = 100
_WRITING_TOOLS = {"Write", "Edit", "MultiEdit", "NotebookEdit"}
_PATCH_FILE = re.compile(r"^\*\*\* (?:Add|Update|Delete) File: (.+)$", re.M)


@dataclass
class Chunk:
    lines: list[bytes]  # complete lines, without their newline
    start: int  # the byte offset they start at
    end: int  # the offset after the last complete line (the next read starts here)
    skipped: bool = False  # the transcript was longer than MAX_READ_BYTES: its head was skipped
    full: bool = False  # the read stopped at its limit: more follows


@dataclass
class Summary:
    prompt: str | None = None
    response: str | None = None
    files: list[str] = field(default_factory=list)
    turns: int = 0


def read_lines(path: str, offset: int = 0, *, limit: int | None = None, newest: bool = True) -> Chunk:
    """The complete lines of ``path`` from ``offset`` (0 when the file shrank: a new file); with
    ``limit``, only the lines within the first ``limit`` bytes from there. More than
    MAX_READ_BYTES to read: the newest of them (``newest``, what a summary wants), else the first
    (a capture, which must not leave a gap, goes on from there next time)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError as error:
        raise HookProblem(f"the transcript cannot be read ({error.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise HookProblem("the transcript is not a regular file")
        if info.st_uid != os.geteuid():  # the agent writes it as this user: another's file is never read
            raise HookProblem("the transcript belongs to another user")
        if offset > info.st_size:
            offset = 0
        if not newest:
            limit = min(limit or MAX_READ_BYTES, MAX_READ_BYTES)
        skipped = newest and info.st_size - offset > MAX_READ_BYTES
        start = info.st_size - MAX_READ_BYTES if skipped else offset
        os.lseek(fd, start, os.SEEK_SET)
        data = _read_all(fd, info.st_size - start if limit is None else min(limit, info.st_size - start))
        full = limit is not None and info.st_size - start > limit
    finally:
        os.close(fd)
    if skipped:  # begin at a line boundary
        data = data[data.find(b"\n") + 1 :]
        start = info.st_size - len(data)
    complete = data.rfind(b"\n") + 1
    lines = [line for line in data[:complete].split(b"\n")[:-1] if line.strip()] if complete else []
    return Chunk(lines, start, start + complete, skipped, full)


def _read_all(fd: int, size: int) -> bytes:
    parts = []
    while size > 0:
        part = os.read(fd, min(size, 1 << 20))
        if not part:
            break
        parts.append(part)
        size -= len(part)
    return b"".join(parts)


def summarize(lines: list[bytes], fmt: str, cwd: str, summary: Summary | None = None) -> Summary:
    """Fold ``lines`` into ``summary``. HookProblem when none of them is in ``fmt``'s shape."""
    summary = summary or Summary()
    recognised = 0
    for raw in lines:
        try:
            entry = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
            continue
        recognised += 1
        if fmt == "codex":
            _codex_entry(entry, summary, cwd)
        else:
            _claude_entry(entry, summary, cwd)
    if lines and not recognised:
        raise HookProblem(f"the transcript is not in the agent's ({fmt}) format")
    return summary


def _claude_entry(entry: dict[str, Any], summary: Summary, cwd: str) -> None:
    message = entry.get("message")
    if not isinstance(message, dict):
        return
    content = message.get("content")
    if entry["type"] == "user" and not entry.get("isMeta"):
        text = content if isinstance(content, str) else _texts(content, "text")
        if text and not text.startswith("<"):  # tool results and system reminders are not prompts
            summary.prompt = _clip(text)
            summary.turns += 1
    elif entry["type"] == "assistant" and isinstance(content, list):
        text = _texts(content, "text")
        if text:
            summary.response = _clip(text)
        for block in content:
            if (
                isinstance(block, dict)
                and block.get("type") == "tool_use"
                and block.get("name") in _WRITING_TOOLS
            ):
                arguments = block.get("input")
                if isinstance(arguments, dict):
                    path = arguments.get("file_path") or arguments.get("notebook_path")
                    _touch(summary, path, cwd)


def _codex_entry(entry: dict[str, Any], summary: Summary, cwd: str) -> None:
    payload = entry.get("payload")
    if entry["type"] != "response_item" or not isinstance(payload, dict):
        return
    if payload.get("type") == "message":
        text = _texts(payload.get("content"), "input_text", "output_text")
        if payload.get("role") == "user" and text and not text.startswith("<"):
            summary.prompt = _clip(text)
            summary.turns += 1
        elif payload.get("role") == "assistant" and text:
            summary.response = _clip(text)
    elif payload.get("type") in ("function_call", "custom_tool_call"):
        arguments = payload.get("arguments") or payload.get("input")
        if isinstance(arguments, str):
            for path in _PATCH_FILE.findall(arguments):
                _touch(summary, path.strip(), cwd)


def _texts(content: Any, *kinds: str) -> str:
    if not isinstance(content, list):
        return ""
    parts = [
        block["text"]
        for block in content
        if isinstance(block, dict) and block.get("type") in kinds and isinstance(block.get("text"), str)
    ]
    return "\n".join(parts).strip()


def _touch(summary: Summary, path: Any, cwd: str) -> None:
    if not isinstance(path, str) or not path:
        return
    if os.path.isabs(path):
        relative = os.path.relpath(path, cwd)
        path = path if relative.startswith("..") else relative
    if path in summary.files:
        summary.files.remove(path)
    summary.files.append(path)  # newest last
    del summary.files[:-MAX_FILES]


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= TEXT_CHARS else text[: TEXT_CHARS - 1] + "…"
