"""A reader of SQLite's file format for salvaging a damaged store past SQLite (store/salvage.py).

SQLite refuses a whole file when its first page or its schema is damaged, and a query stops at the
first damaged page it meets. This reads what it can page by page (the format is documented at
https://www.sqlite.org/fileformat2.html): the database file with the committed frames of its WAL laid
over it, then each table's b-tree walked from its root, so a damaged page loses the rows below it and
nothing else. When the schema itself cannot be read, every table leaf that is not on the free list is
read instead, and the caller tells the tables apart by the shape of their records. It never writes,
and everything it returns is authenticated again before it is used: a misread row fails to decrypt.
"""

from __future__ import annotations

import struct
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

DEFAULT_PAGE_SIZE = 4096
_TABLE_LEAF, _TABLE_INTERIOR = 0x0D, 0x05
_WAL_HEADER, _FRAME_HEADER = 32, 24
_WAL_MAGIC = (0x377F0682, 0x377F0683)
_MAX_DEPTH = 32  # b-trees of any size we write are far shallower: deeper is a loop of damaged pages

Row = tuple[Any, ...]


@dataclass
class RawFile:
    """The pages of a database file as SQLite would read them, and what could not be read."""

    page_size: int
    pages: dict[int, bytes] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    # page images of the WAL's frames after a damaged one: never read as the file's content, but
    # their authenticated rows show which version numbers were written (none may be used again)
    beyond: list[bytes] = field(default_factory=list)

    def page(self, number: int) -> bytes | None:
        found = self.pages.get(number)
        return found if found is not None and len(found) == self.page_size else None


def load(database: bytes, wal: bytes | None) -> RawFile:
    """The database's pages, with the WAL's committed frames over them."""
    size = _page_size(database[:100], wal)
    raw = RawFile(size)
    whole = len(database) // size
    for number in range(whole):
        raw.pages[number + 1] = database[number * size : (number + 1) * size]
    if len(database) % size:
        raw.problems.append(f"the file ends inside page {whole + 1} (a torn or truncated last page)")
    if wal:
        _overlay_wal(raw, wal)
    return raw


def _page_size(header: bytes, wal: bytes | None) -> int:
    candidates = []
    if len(header) >= 18 and header[:16] == b"SQLite format 3\x00":
        candidates.append(struct.unpack(">H", header[16:18])[0])
    if wal and len(wal) >= _WAL_HEADER:
        candidates.append(struct.unpack(">I", wal[8:12])[0])
    for size in candidates:
        size = 65536 if size == 1 else size
        if 512 <= size <= 65536 and size & (size - 1) == 0:
            return size
    return DEFAULT_PAGE_SIZE


def _overlay_wal(raw: RawFile, wal: bytes) -> None:
    """Lay the WAL's frames up to its last valid commit over the pages, as SQLite does; frames of
    this WAL after one that fails its checksum are reported (commits may be lost there)."""
    if len(wal) < _WAL_HEADER:
        return
    magic, _version, size, _seq, salt1, salt2, c1, c2 = struct.unpack(">8I", wal[:_WAL_HEADER])
    if magic not in _WAL_MAGIC or size != raw.page_size:
        raw.problems.append("the WAL's header is damaged: none of its commits could be read")
        return
    order = ">" if magic & 1 else "<"
    if _checksum(wal[:24], (0, 0), order) != (c1, c2):
        raw.problems.append("the WAL's header is damaged: none of its commits could be read")
        return
    sums = (c1, c2)
    committed: dict[int, bytes] = {}
    pending: dict[int, bytes] = {}  # frames of a transaction whose commit frame is still to come
    frame = _FRAME_HEADER + size
    offset = _WAL_HEADER
    while offset + frame <= len(wal):
        number, commit, s1, s2, f1, f2 = struct.unpack(">6I", wal[offset : offset + _FRAME_HEADER])
        data = wal[offset + _FRAME_HEADER : offset + frame]
        if (s1, s2) == (salt1, salt2):
            sums = _checksum(data, _checksum(wal[offset : offset + 8], sums, order), order)
        if (s1, s2) != (salt1, salt2) or sums != (f1, f2):
            # the end of this WAL's frames, or damage if a commit of this WAL follows
            if _later_commit(wal, offset + frame, frame, (salt1, salt2)):
                raw.problems.append(
                    f"frame {(offset - _WAL_HEADER) // frame + 1} of the WAL is damaged: "
                    "the commits written after it could not be read"
                )
                raw.beyond = [*pending.values(), *_frames_after(wal, offset + frame, frame, (salt1, salt2))]
            break
        pending[number] = data
        if commit:
            committed.update(pending)
            pending = {}
        offset += frame
    raw.pages.update(committed)


def _later_commit(wal: bytes, offset: int, frame: int, salts: tuple[int, int]) -> bool:
    """Whether a commit frame of this WAL follows ``offset``: then the frame that failed was not
    an unfinished last write but damage."""
    while offset + _FRAME_HEADER <= len(wal):
        _number, commit, s1, s2 = struct.unpack(">4I", wal[offset : offset + 16])
        if (s1, s2) == salts and commit:
            return True
        offset += frame
    return False


def _frames_after(wal: bytes, offset: int, frame: int, salts: tuple[int, int]) -> list[bytes]:
    images = []
    while offset + frame <= len(wal):
        if struct.unpack(">2I", wal[offset + 8 : offset + 16]) == salts:
            images.append(wal[offset + _FRAME_HEADER : offset + frame])
        offset += frame
    return images


def page_rows(raw: RawFile, page: bytes) -> Iterator[tuple[int, Row]]:
    """The rows of one page image if it is a table leaf (not page 1), each with as many leading
    columns as the page holds (its overflow pages may be elsewhere or lost)."""
    if len(page) == raw.page_size and page[0] == _TABLE_LEAF:
        yield from _leaf_rows(raw, page, 0, partial=True)


def _checksum(data: bytes, start: tuple[int, int], order: str) -> tuple[int, int]:
    s0, s1 = start
    words = struct.unpack(f"{order}{len(data) // 4}I", data)
    for index in range(0, len(words), 2):
        s0 = (s0 + words[index] + s1) & 0xFFFFFFFF
        s1 = (s1 + words[index + 1] + s0) & 0xFFFFFFFF
    return s0, s1


# -- b-trees and records -------------------------------------------------------------------------


def schema(raw: RawFile) -> dict[str, int] | None:
    """Table name -> root page, from ``sqlite_master`` (page 1); None when it cannot be read."""
    roots: dict[str, int] = {}
    for _rowid, row in table_rows(raw, 1):
        if len(row) == 5 and row[0] == "table" and isinstance(row[1], str) and isinstance(row[3], int):
            roots[row[1]] = row[3]
    return roots or None


def table_rows(raw: RawFile, root: int, seen: set[int] | None = None) -> Iterator[tuple[int, Row]]:
    """(rowid, values) of every row of the table b-tree at ``root`` that can be read; the pages
    walked are added to ``seen``."""
    seen = set() if seen is None else seen
    stack = [(root, 0)]
    while stack:
        number, depth = stack.pop()
        page = raw.page(number)
        if page is None or number in seen or depth > _MAX_DEPTH:
            continue
        seen.add(number)
        kind = page[100 if number == 1 else 0]
        if kind == _TABLE_INTERIOR:
            stack.extend((child, depth + 1) for child in reversed(_children(raw, page, number)))
        elif kind == _TABLE_LEAF:
            yield from _leaf_rows(raw, page, number)


def loose_rows(raw: RawFile, skip: Collection[int] = ()) -> Iterator[tuple[int, Row]]:
    """Every row of every table leaf not on the free list nor in ``skip``: for tables whose entry
    in the schema is lost."""
    free = _free_pages(raw) | set(skip)
    for number in sorted(raw.pages):
        page = raw.page(number)
        if page is not None and number not in free and page[100 if number == 1 else 0] == _TABLE_LEAF:
            yield from _leaf_rows(raw, page, number)


def _free_pages(raw: RawFile) -> set[int]:
    first = raw.page(1)
    if first is None or first[:16] != b"SQLite format 3\x00":
        return set()
    trunk, free = struct.unpack(">I", first[32:36])[0], set()
    while trunk and trunk not in free and (page := raw.page(trunk)) is not None:
        free.add(trunk)
        count = min(struct.unpack(">I", page[4:8])[0], (raw.page_size - 8) // 4)
        free.update(struct.unpack(f">{count}I", page[8 : 8 + 4 * count]))
        trunk = struct.unpack(">I", page[:4])[0]
    return free


def _cell_offsets(page: bytes, number: int, header: int) -> list[int]:
    base = 100 if number == 1 else 0
    (count,) = struct.unpack(">H", page[base + 3 : base + 5])
    start = base + header
    if start + 2 * count > len(page):
        return []
    offsets = struct.unpack(f">{count}H", page[start : start + 2 * count])
    return [offset for offset in offsets if start + 2 * count <= offset < len(page)]


def _children(raw: RawFile, page: bytes, number: int) -> list[int]:
    base = 100 if number == 1 else 0
    children = [
        struct.unpack(">I", page[offset : offset + 4])[0] for offset in _cell_offsets(page, number, 12)
    ]
    children.append(struct.unpack(">I", page[base + 8 : base + 12])[0])
    return [child for child in children if child in raw.pages]


def _leaf_rows(raw: RawFile, page: bytes, number: int, *, partial: bool = False) -> Iterator[tuple[int, Row]]:
    """The rows of a table leaf; with ``partial``, also the leading columns of rows whose
    overflow pages are not there (the page is not the file's: ``page_rows``)."""
    usable = raw.page_size
    most = usable - 35
    least = ((usable - 12) * 32 // 255) - 23
    for offset in _cell_offsets(page, number, 8):
        try:
            length, at = _varint(page, offset)
            rowid, at = _varint(page, at)
            if length <= most:
                payload = page[at : at + length]
            else:
                local = least + (length - least) % (usable - 4)
                local = local if local <= most else least
                payload = page[at : at + local] + _overflow(
                    raw, page[at + local : at + local + 4], length - local
                )
            if len(payload) != length and not partial:
                continue
            row = _record(payload, partial=len(payload) != length)
        except (struct.error, IndexError, ValueError, UnicodeDecodeError):
            continue  # a damaged cell: this row is lost, the page's others are not
        if row is not None:
            yield rowid if rowid < 1 << 63 else rowid - (1 << 64), row


def _overflow(raw: RawFile, pointer: bytes, remaining: int) -> bytes:
    parts, seen = [], set()
    (number,) = struct.unpack(">I", pointer)
    while remaining > 0 and number and number not in seen and (page := raw.page(number)) is not None:
        seen.add(number)
        part = page[4 : 4 + min(remaining, raw.page_size - 4)]
        parts.append(part)
        remaining -= len(part)
        (number,) = struct.unpack(">I", page[:4])
    return b"".join(parts)


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = 0
    for index in range(9):
        byte = data[at + index]
        if index == 8:
            return (value << 8) | byte, at + 9
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, at + index + 1
    raise ValueError("unreachable")


_INT_SIZES = {1: 1, 2: 2, 3: 3, 4: 4, 5: 6, 6: 8}


def _record(payload: bytes, *, partial: bool = False) -> Row | None:
    """The values of one record (NULL, integers, floats, text, blobs), or None if malformed; with
    ``partial``, the values the payload holds whole (the rest of it is lost)."""
    header_size, at = _varint(payload, 0)
    if header_size > len(payload):
        return None
    types = []
    while at < header_size:
        kind, at = _varint(payload, at)
        types.append(kind)
    values: list[Any] = []
    at = header_size
    for kind in types:
        if kind == 0:
            values.append(None)
        elif kind in _INT_SIZES:
            size = _INT_SIZES[kind]
            values.append(int.from_bytes(payload[at : at + size], "big", signed=True))
            at += size
        elif kind == 7:
            values.append(struct.unpack(">d", payload[at : at + 8])[0])
            at += 8
        elif kind in (8, 9):
            values.append(kind - 8)
        elif kind >= 12:
            size = (kind - 12) // 2
            if partial and at + size > len(payload):
                break
            chunk = payload[at : at + size]
            values.append(bytes(chunk) if kind % 2 == 0 else chunk.decode())
            at += size
        else:
            return None
    return tuple(values) if at == len(payload) or partial else None
