"""A workspace's members: who may open it, each with a key pair of their own (store/members.py).

Any member adds one (the newest data key wrapped for the newcomer's public key); removing one adds a
new data key, wrapped for each member who stays, with the key before it sealed inside it: new writes
use the new key, nothing is re-encrypted, and the one removed can still read what it could read
before (a copy of the database and its old key open the blobs written until then; nothing after).
A single-key workspace becomes one with members by a member's first ``add`` or ``start_members``:
a new data key too, and the single key's wrap is cleared, so the shared key opens only what was
written before. Every change is audited with who made it.

Member names are personal data (who is on the team, their machines): sealed like context names;
a member's fingerprint (of a public key) is in the clear, since a machine must find its own wrap
before it holds any key.
"""

from __future__ import annotations

import getpass
import os
import re
import socket
from dataclasses import dataclass
from typing import Any, Protocol

from groundhog.errors import AlreadyExists, InvalidParams, InvalidState
from groundhog.names import member_name
from groundhog.store import keys, members
from groundhog.store.keyring import KeyRing
from groundhog.store.prepare import KEY_COPY
from groundhog.store.rows import Txn
from groundhog.timeutil import now

MEMBER_NAME_ENV = "GROUNDHOG_MEMBER_NAME"


@dataclass(frozen=True)
class MemberInfo:
    name: str
    fingerprint: str
    added_by: str | None  # None: the workspace's first member
    added: str
    you: bool  # this machine's member key


def default_member_name(given: str | None = None) -> str:
    """``given`` (the member_name setting), else ``GROUNDHOG_MEMBER_NAME``, else user@host (made
    to fit the names' alphabet)."""
    given = given or os.environ.get(MEMBER_NAME_ENV)
    if given:
        return member_name(given)
    name = re.sub(r"[^A-Za-z0-9 ._@+-]", "-", f"{getpass.getuser()}@{socket.gethostname()}")
    return member_name(("m" + name if not name[:1].isalnum() else name)[:64])


def member_rows(
    seal: Any, workspace_id: str, key_id: int, data_key: bytes, public: bytes, name: str, by: str | None
) -> list[tuple[str, tuple[Any, ...]]]:
    """The rows making ``public`` a member holding data key ``key_id`` (``seal`` seals its info)."""
    fingerprint = members.fingerprint(public)
    info = seal({"name": name, "addedBy": by}, "members", fingerprint)
    wrapped = members.wrap_for(public, data_key, workspace_id, key_id)
    return [
        ("INSERT INTO members(fingerprint, public_key, added, info_blob) VALUES (?, ?, ?, ?)",
         (fingerprint, public, now(), info)),
        ("INSERT INTO member_keys(fingerprint, key_id, wrapped) VALUES (?, ?, ?)",
         (fingerprint, key_id, wrapped)),
    ]  # fmt: skip


class _Store(Protocol):
    ring: KeyRing
    settings: Any

    @property
    def workspace_id(self) -> str: ...
    def write(self) -> Any: ...
    def reading(self, body: Any) -> Any: ...


class Membership:
    """The Store methods for members, on every backend (a store with a key ring)."""

    def members(self: _Store) -> list[MemberInfo]:
        return list(self.reading(lambda tx: _listed(tx, self.ring)))

    def add_member(self: _Store, name: str, public_key: str, session: str) -> list[MemberInfo]:
        """Make the holder of ``public_key`` a member named ``name``; a single-key workspace first
        gets members (this machine the first). Returns the members now."""
        name, public = member_name(name), members.parse_public(public_key)
        with self.write() as tx:
            tx.cipher.check()
            listed = _listed(tx, self.ring)
            number = self.ring.current
            key = self.ring.data_keys[number]
            if not listed:
                first = default_member_name(self.settings.member_name)
                listed, number, key = _start(tx, self.ring, first, session)
            _check_new(listed, name, members.fingerprint(public))
            by = next(m.name for m in listed if m.you)
            for sql, parameters in member_rows(
                tx.cipher.seal_json, self.workspace_id, number, key, public, name, by
            ):
                tx.conn.execute(sql, parameters)
            fingerprint = members.fingerprint(public)
            tx.audit("member-added", session, {"member": name, "fingerprint": fingerprint, "by": by})
            return [*listed, MemberInfo(name, fingerprint, by, now(), False)]

    def remove_member(self: _Store, name: str, session: str) -> list[MemberInfo]:
        """Remove the member named ``name``: a new data key for the others. Returns who stays."""
        with self.write() as tx:
            tx.cipher.check()
            listed = _listed(tx, self.ring)
            gone = next((m for m in listed if m.name == name), None)
            if gone is None:
                raise InvalidParams(
                    f"No member is named {name!r} (`groundhog members` lists them).", field="name"
                )
            if len(listed) == 1:
                raise InvalidState(f"{name!r} is the workspace's last member: a workspace keeps one.")
            by = next((m.name for m in listed if m.you), None)
            staying = [m for m in listed if m is not gone]
            publics = dict(tx.conn.execute("SELECT fingerprint, public_key FROM members").fetchall())
            tx.conn.execute("DELETE FROM members WHERE fingerprint = ?", (gone.fingerprint,))
            _new_key(
                tx,
                self.ring,
                self.workspace_id,
                {m.fingerprint: bytes(publics[m.fingerprint]) for m in staying},
            )
            tx.audit("member-removed", session, {"member": name, "fingerprint": gone.fingerprint, "by": by})
            return staying

    def start_members(self: _Store, name: str, session: str) -> list[MemberInfo]:
        """A single-key workspace gets members, this machine the first (named ``name``)."""
        name = member_name(name)
        with self.write() as tx:
            tx.cipher.check()
            if _listed(tx, self.ring):
                raise InvalidState("This workspace has members already (`groundhog members` lists them).")
            return _start(tx, self.ring, name, session)[0]


def _start(tx: Txn, ring: KeyRing, name: str, session: str) -> tuple[list[MemberInfo], int, bytes]:
    """Within ``tx``: this machine becomes the first member, under a new data key; the single key's
    wrap of the first key is cleared (it opens what was written before, nothing after)."""
    mine = ring.member or members.load_member_key(ring.config_dir, create=True)
    assert mine is not None
    ring.member = mine
    tx.conn.execute("UPDATE keys SET wrapped = ? WHERE key_id = 1", (b"",))
    # and its copy, which an embedded store keeps to tell a damaged key row (store/prepare.py)
    tx.conn.execute("UPDATE meta SET value = ? WHERE key = ?", ("", KEY_COPY))
    number, key = _new_key(tx, ring, ring.workspace_id, {})
    for sql, parameters in member_rows(
        tx.cipher.seal_json, ring.workspace_id, number, key, mine.public, name, None
    ):
        tx.conn.execute(sql, parameters)
    tx.audit("members-started", session, {"member": name, "fingerprint": mine.fingerprint})
    return [MemberInfo(name, mine.fingerprint, None, now(), True)], number, key


def _new_key(tx: Txn, ring: KeyRing, workspace_id: str, wrap_for: dict[str, bytes]) -> tuple[int, bytes]:
    """A new data key (the current one sealed inside it), wrapped for ``wrap_for`` (fingerprint ->
    public key) in place of every older wrap; this process seals with it once committed."""
    previous = ring.current
    number, key = previous + 1, keys.new_data_key()
    tx.conn.execute(
        "INSERT INTO keys(key_id, wrapped, created) VALUES (?, ?, ?)",
        (number, members.seal_previous(key, ring.data_keys[previous], workspace_id, number), now()),
    )
    tx.conn.execute("DELETE FROM member_keys")  # the newest key opens the older ones
    for fingerprint, public in wrap_for.items():
        tx.conn.execute(
            "INSERT INTO member_keys(fingerprint, key_id, wrapped) VALUES (?, ?, ?)",
            (fingerprint, number, members.wrap_for(public, key, workspace_id, number)),
        )
    tx.after_commit.append(lambda: ring.added(number, key))
    return number, key


def _listed(tx: Txn, ring: KeyRing) -> list[MemberInfo]:
    mine = ring.member.fingerprint if ring.member is not None else None
    found = []
    for fingerprint, added, blob in tx.conn.execute(
        "SELECT fingerprint, added, info_blob FROM members ORDER BY added, fingerprint"
    ).fetchall():
        info = tx.cipher.open_json(blob, "members", fingerprint)
        found.append(MemberInfo(info["name"], fingerprint, info.get("addedBy"), added, fingerprint == mine))
    # the first member before the one added in its transaction (the same millisecond)
    return sorted(found, key=lambda m: (m.added, m.added_by is not None))


def _check_new(listed: list[MemberInfo], name: str, fingerprint: str) -> None:
    for member in listed:
        if member.name.casefold() == name.casefold():
            raise AlreadyExists(
                f"A member is named {member.name!r} already; choose another name.", field="name"
            )
        if member.fingerprint == fingerprint:
            raise AlreadyExists(f"That key is the member {member.name!r} already.", field="publicKey")
