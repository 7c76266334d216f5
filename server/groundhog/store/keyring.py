"""A workspace's data keys, as one process holds them.

The ``keys`` table holds the workspace's data keys by number. The first one is wrapped by the key
of a single-key store (this machine's master key on the embedded store, the shared workspace key
on PostgreSQL) or by nothing once the workspace has members; each later one holds the key before
it, sealed under itself, so whoever holds the newest key reads everything written before
(store/members.py). A workspace with members has the newest key wrapped once per member
(``member_keys``); removing a member adds a key (store/membership.py): new writes use it, what was
written before stays readable to those who could read it.

Blobs say which key sealed them (store/codec.py). The name MAC, chain and value-digest subkeys come
from the first key for good: they name rows, and a new key does not rename them.

Within a transaction (``TxnCipher``): the first blob it seals checks that the store's newest key is
the one this process seals with (another process may have added one: this one loads it, in the same
transaction, or is refused if its member was removed), and a blob under a key this process does not
hold yet makes it load the store's keys the same way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

import orjson

from groundhog.errors import AccessDenied, DataDamaged, PersistenceError
from groundhog.store import keys, members
from groundhog.store.codec import Cipher, UnknownKey, ring_ciphers

Query = Callable[[str, tuple[Any, ...]], list[Any]]  # the row layer's SQL (``?``), all rows
NOT_A_MEMBER = (
    "This machine is not a member of the workspace: run `groundhog key show-public` here, and on a "
    "member's machine `groundhog members add NAME <that key>`."
)


class KeySource(Protocol):
    """What loading keys needs of a transaction: its own queries, and the newest key's number."""

    def key_query(self) -> Query: ...
    def newest_key_id(self) -> int: ...


class KeyRing:
    """The data keys this process holds for one workspace, and the cipher over them."""

    def __init__(self, workspace_id: str, config_dir: Path) -> None:
        self.workspace_id = workspace_id
        self.config_dir = config_dir
        self.data_keys: dict[int, bytes] = {}
        self.cipher: Cipher | None = None
        self.subkeys: dict[str, bytes] = {}
        self.member: members.MemberKey | None = None  # this machine's, once the workspace has members
        self._lock = threading.Lock()

    @property
    def current(self) -> int:
        return self.cipher.current if self.cipher is not None else 0

    def load(self, query: Query, single: Callable[[bytes], bytes]) -> None:
        """Load the store's keys: through this machine's member key when the workspace has members,
        else by ``single`` (the first key's wrap -> the key)."""
        rows = {int(k): bytes(w) for k, w in query("SELECT key_id, wrapped FROM keys", ())}
        if query("SELECT 1 FROM members LIMIT 1", ()):
            newest, key = self._members_key(query)
        else:  # a lost first row reaches ``single`` empty: it tells damage from another key
            newest, key = 1, single(rows.get(1, b""))
        self._install(keys_back_from(rows, newest, key, self.workspace_id), newest)

    def _members_key(self, query: Query) -> tuple[int, bytes]:
        member = self.member or members.load_member_key(self.config_dir)
        if member is None:
            raise AccessDenied(NOT_A_MEMBER)
        wraps = query("SELECT key_id, wrapped FROM member_keys WHERE fingerprint = ?", (member.fingerprint,))
        newest, key = member_data_key(member, wraps, self.workspace_id)
        self.member = member
        return newest, key

    def _install(self, found: Mapping[int, bytes], newest: int) -> None:
        with self._lock:
            if self.cipher is None:  # blobs are sealed under a subkey, as the name MAC is keyed by one
                self.cipher, self.subkeys = ring_ciphers(found, self.workspace_id)
            for number, key in sorted(found.items()):
                if not self.cipher.holds(number):
                    self.cipher.add(number, keys.derive_subkey(key, "cipher"))
            self.data_keys.update(found)
            self.cipher.current = max(self.cipher.current, newest)

    def added(self, number: int, key: bytes) -> None:
        """This process committed data key ``number``: seal with it from now on."""
        self._install({number: key}, number)

    def refresh(self, source: KeySource, wanted: int | None = None) -> None:
        """Catch up with the store's keys from within ``source``'s transaction: when it has a newer
        key than this process seals with, or holds key ``wanted`` this process does not."""
        assert self.cipher is not None
        newest = source.newest_key_id()
        if wanted is not None and wanted > newest:
            raise DataDamaged(f"A stored record names data key {wanted}, which the workspace never had.")
        if newest <= self.cipher.current and (wanted is None or self.cipher.holds(wanted)):
            return
        query = source.key_query()
        if not query("SELECT 1 FROM members LIMIT 1", ()):
            raise PersistenceError("The workspace's keys changed in a way this Groundhog cannot read.")
        try:
            member_newest, key = self._members_key(query)
        except AccessDenied:
            raise AccessDenied(
                "This machine is no longer a member of the workspace (a member removed it, or the "
                "workspace moved to members): it can read what it read before, and write nothing."
            ) from None
        rows = {int(k): bytes(w) for k, w in query("SELECT key_id, wrapped FROM keys", ())}
        self._install(keys_back_from(rows, member_newest, key, self.workspace_id), member_newest)


def member_data_key(member: members.MemberKey, wraps: Iterable[Any], workspace_id: str) -> tuple[int, bytes]:
    """(number, key) of the newest data key among ``wraps`` (rows of key number, wrap) for
    ``member``; AccessDenied when it has none or its wrap does not open."""
    found = [(int(k), bytes(w)) for k, w in wraps]
    if not found:
        raise AccessDenied(NOT_A_MEMBER)
    newest, wrapped = max(found)
    key = members.unwrap(member, wrapped, workspace_id, newest)
    if key is None:
        raise AccessDenied("This machine's member key does not open the workspace's key (altered?).")
    return newest, key


def keys_back_from(rows: Mapping[int, bytes], newest: int, key: bytes, workspace_id: str) -> dict[int, bytes]:
    """Every data key from ``newest`` down to the first, each opened by the one after it (``rows``:
    the ``keys`` table, number -> its wrapped column)."""
    found = {newest: key}
    for number in range(newest, 1, -1):
        previous = members.open_previous(found[number], rows.get(number, b""), workspace_id, number)
        if previous is None:
            raise DataDamaged(f"The workspace's data key {number - 1} cannot be opened (its row is damaged).")
        found[number - 1] = previous
    return found


class TxnCipher:
    """The cipher as one transaction uses it: seals with the store's newest key, and learns keys
    it does not hold yet (the module docstring says how)."""

    def __init__(self, ring: KeyRing, source: KeySource) -> None:
        self._ring, self._source = ring, source
        self._checked = False

    @property
    def _cipher(self) -> Cipher:
        assert self._ring.cipher is not None
        return self._ring.cipher

    def _sealing(self) -> Cipher:
        if not self._checked:
            self._checked = True
            self._ring.refresh(self._source)
        return self._cipher

    def check(self) -> None:
        """Seal with the store's newest key from here on (what the first seal does anyway)."""
        self._sealing()

    def seal(self, plaintext: bytes, *place: object) -> bytes:
        return self._sealing().seal(plaintext, *place)

    def seal_each(self, plaintexts: Mapping[str, bytes], *place: object) -> dict[str, bytes]:
        return self._sealing().seal_each(plaintexts, *place)

    def seal_json(self, obj: Any, *place: object) -> bytes:
        return self.seal(orjson.dumps(obj), *place)

    def open(self, blob: bytes, *place: object) -> bytes:
        try:
            return self._cipher.open(blob, *place)
        except UnknownKey as unknown:
            self._ring.refresh(self._source, unknown.key_id)
        return self._cipher.open(blob, *place)

    def open_each(self, blobs: Mapping[str, bytes], *place: object) -> dict[str, bytes]:
        try:
            return self._cipher.open_each(blobs, *place)
        except UnknownKey as unknown:
            self._ring.refresh(self._source, unknown.key_id)
        return self._cipher.open_each(blobs, *place)

    def open_json(self, blob: bytes, *place: object) -> Any:
        return orjson.loads(self.open(blob, *place))
