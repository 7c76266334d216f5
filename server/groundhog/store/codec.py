"""Serialization and encryption of everything the store writes.

State is held as ``Values``: each top-level key mapped to the compact JSON bytes of its value. That form
is what makes the hot paths cheap: sizes are sums of lengths, change detection compares bytes, results are
spliced into responses without re-serializing, and a 1 MB state costs ~1 MB of memory instead of a tree
of Python objects. Blobs are framed (length-prefixed keys and values) so a checkpoint is split, not parsed.

Every blob is AES-256-GCM with a fresh 96-bit nonce and associated data naming its place (workspace,
table, row identity, key id): a ciphertext copied to another row, version or workspace fails to open.
"""

from __future__ import annotations

import os
import secrets
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from groundhog.errors import DataDamaged, InvalidParams

Values = dict[str, bytes]
BLOB_FORMAT = b"\x01"  # sealed under the workspace's first data key
BLOB_KEYED = b"\x02"  # the number of the data key that sealed it follows (4 bytes)
NONCE_BYTES = 12
_U32 = struct.Struct(">I")  # the length prefixes of the framing


def encode_value(value: Any, key: str) -> bytes:
    """Compact JSON of one value; anything that is not plain JSON is InvalidParams naming the key.

    The bytes are a copy of exactly their length: orjson never shrinks the buffer it wrote into,
    which it sizes for the worst case (8 KB for a 1 KB string, 133 MB for a 10 MB one, 4 KB at the
    least), and encoded values live on in heads, undo logs and snapshot digests. Kept as orjson
    returned them, a 1 MB state of 1,000 values held 8 MB (issue 23). The copy costs ~0.2 us/KB."""
    try:
        raw = orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        raise InvalidParams(f"The value of key {key!r} is not JSON.", field=key) from None
    return exact(raw)


def exact(raw: bytes) -> bytes:
    """``raw`` in a buffer of its own length (``bytes(raw)`` would hand back the same object)."""
    return bytes(memoryview(raw))


def encode_value_strict(value: Any, key: str) -> bytes:
    """Like ``encode_value`` for values built in Python: NaN, infinities, tuples and objects that
    orjson would turn into something else (dataclasses, dates) are refused; values parsed from JSON
    text skip this check. A walk over the value, not a decode of its encoding (~10x cheaper)."""
    raw = encode_value(value, key)  # first: orjson refuses cycles and depth (the walk would not end)
    if not _plain_json(value):
        raise InvalidParams(f"The value of key {key!r} is not plain JSON.", field=key)
    return raw


def _plain_json(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if item is None or isinstance(item, str | bool | int):
            continue
        if isinstance(item, float):
            if item != item or item in (_INF, -_INF):
                return False
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            if not all(isinstance(k, str) for k in item):
                return False
            stack.extend(item.values())
        else:  # tuples, sets, bytes, dataclasses, dates...: orjson would write something else
            return False
    return True


_INF = float("inf")


def decode_value(raw: bytes) -> Any:
    return orjson.loads(raw)


def values_size(values: Mapping[str, bytes]) -> int:
    """UTF-8 length of the compact JSON object these values form (PROTOCOL.md decision 17)."""
    if not values:
        return 2
    return 1 + sum(entry_size(key, raw) for key, raw in values.items())


def entry_size(key: str, raw: bytes) -> int:
    """Bytes one member adds to the object: ``"key":value`` plus its ',' or closing '}'."""
    return len(orjson.dumps(key)) + 2 + len(raw)


def size_after(before: Mapping[str, bytes], size: int, after: Mapping[str, bytes], keys: Any) -> int:
    """The size of ``after`` from the measured size of ``before``, looking only at ``keys``."""
    members = size - 1 if before else 0
    for key in keys:
        if key in before:
            members -= entry_size(key, before[key])
        if key in after:
            members += entry_size(key, after[key])
    return 1 + members if after else 2


def values_from_object(data: Mapping[str, Any], *, strict: bool) -> Values:
    encode = encode_value_strict if strict else encode_value
    return {_check_key(key): encode(value, key) for key, value in data.items()}


def decode_values(values: Mapping[str, bytes], keys: Iterable[str] | None = None) -> dict[str, Any]:
    wanted = values.keys() if keys is None else [k for k in keys if k in values]
    return {key: orjson.loads(values[key]) for key in wanted}


def _check_key(key: object) -> str:
    if not isinstance(key, str):
        raise InvalidParams("Context data keys must be strings.", field="data")
    return key


@dataclass
class Payload:
    """What one blob holds: values, plus removed keys and metadata for deltas and checkpoints."""

    values: Values = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    extra: dict[str, Any] | None = None
    # (prefix, suffix) byte lengths a value is already known to share with its old value (an append
    # done on the encoded bytes), so store/splices.py need not compare 10 MB to find them. Not stored.
    known_splices: dict[str, tuple[int, int]] = field(default_factory=dict, compare=False, repr=False)

    def pack(self) -> bytes:
        head = orjson.dumps({"r": self.removed, "m": self.metadata, "x": self.extra})
        parts = [_U32.pack(len(head)), head]
        append = parts.append  # the loop runs once per key of a state: keep it lean
        for key, raw in self.values.items():
            encoded_key = key.encode()
            append(_U32.pack(len(encoded_key)))
            append(encoded_key)
            append(_U32.pack(len(raw)))
            append(raw)
        return b"".join(parts)

    @classmethod
    def unpack(cls, buffer: bytes) -> Payload:
        buffer = bytes(buffer)  # values must be bytes (hashable), whatever buffer we were given
        read_u32 = _U32.unpack_from
        (head_len,) = read_u32(buffer, 0)
        head = orjson.loads(buffer[_U32.size : _U32.size + head_len])
        values: Values = {}
        offset, end = _U32.size + head_len, len(buffer)
        while offset < end:
            (key_len,) = read_u32(buffer, offset)
            offset += _U32.size
            key = buffer[offset : offset + key_len].decode()
            offset += key_len
            (value_len,) = read_u32(buffer, offset)
            offset += _U32.size
            values[key] = buffer[offset : offset + value_len]
            offset += value_len
        return cls(values, head["r"], head["m"], head["x"])


class UnknownKey(Exception):  # not damage: a blob sealed under a key this process does not hold yet
    def __init__(self, key_id: int) -> None:
        super().__init__(key_id)
        self.key_id = key_id


class Cipher:
    """AES-256-GCM over a workspace's data keys (one, until a member is removed: store/keyring.py),
    bound to the workspace; ``place`` names the row a blob belongs to. A blob is sealed under the
    current key and says which key sealed it: ``\x01`` for the first key (every blob before data
    keys could change), ``\x02`` and the key's number after."""

    def __init__(self, key: bytes, workspace_id: str, key_id: int = 1) -> None:
        self._workspace_id = workspace_id
        self._keys: dict[int, tuple[AESGCM, bytes]] = {}
        self.current = key_id
        self.add(key_id, key)

    def add(self, key_id: int, key: bytes) -> None:
        """Hold data key ``key_id`` (a new dict: threads reading the old one see a whole one)."""
        prefix = f"groundhog|{self._workspace_id}|k{key_id}|".encode()
        self._keys = {**self._keys, key_id: (AESGCM(key), prefix)}

    def holds(self, key_id: int) -> bool:
        return key_id in self._keys

    def _sealing(self) -> tuple[AESGCM, bytes, bytes]:
        current = self.current
        aead, prefix = self._keys[current]
        return aead, prefix, BLOB_FORMAT if current == 1 else BLOB_KEYED + _U32.pack(current)

    def _opening(self, blob: bytes | memoryview) -> tuple[AESGCM, bytes, int]:
        """(the key's cipher, its associated data prefix, where the nonce starts)."""
        if blob[:1] == BLOB_FORMAT:
            key_id, start = 1, 1
        elif blob[:1] == BLOB_KEYED and len(blob) > 5:
            key_id, start = _U32.unpack_from(blob, 1)[0], 5
        else:
            raise DataDamaged("A stored record has an unknown format.")
        found = self._keys.get(key_id)
        if found is None:
            raise UnknownKey(key_id)
        return found[0], found[1], start

    def seal(self, plaintext: bytes, *place: object) -> bytes:
        aead, prefix, header = self._sealing()
        nonce = secrets.token_bytes(NONCE_BYTES)
        return header + nonce + aead.encrypt(nonce, plaintext, prefix + "|".join(map(str, place)).encode())

    def open(self, blob: bytes, *place: object) -> bytes:
        view = memoryview(blob)  # slices of a view are not copies: a 16 MB blob is not held twice
        aead, prefix, start = self._opening(view)
        aad = prefix + "|".join(map(str, place)).encode()
        try:
            return aead.decrypt(view[start : start + NONCE_BYTES], view[start + NONCE_BYTES :], aad)
        except (InvalidTag, ValueError):
            raise DataDamaged("A stored record failed authentication.") from None

    def seal_each(self, plaintexts: Mapping[str, bytes], *place: object) -> dict[str, bytes]:
        """``seal(plaintext, *place, name)`` for each name -> plaintext: many small blobs of one place
        (a snapshot's new values) without rebuilding the associated data's common part each time."""
        aead, prefix, header = self._sealing()
        common = prefix + "|".join(map(str, place)).encode() + b"|"
        encrypt = aead.encrypt
        sealed = {}
        for name, plaintext in plaintexts.items():
            nonce = os.urandom(NONCE_BYTES)
            sealed[name] = header + nonce + encrypt(nonce, plaintext, common + name.encode())
        return sealed

    def open_each(self, blobs: Mapping[str, bytes], *place: object) -> dict[str, bytes]:
        """``open(blob, *place, name)`` for each name -> blob (see ``seal_each``)."""
        suffix = "|".join(map(str, place)).encode() + b"|"
        opened = {}
        try:
            for name, blob in blobs.items():
                aead, prefix, start = self._opening(blob)
                nonce, sealed = blob[start : start + NONCE_BYTES], blob[start + NONCE_BYTES :]
                opened[name] = aead.decrypt(nonce, sealed, prefix + suffix + name.encode())
        except (InvalidTag, ValueError):
            raise DataDamaged("A stored record failed authentication.") from None
        return opened

    def seal_json(self, obj: Any, *place: object) -> bytes:
        return self.seal(orjson.dumps(obj), *place)

    def open_json(self, blob: bytes, *place: object) -> Any:
        return orjson.loads(self.open(blob, *place))


SUBKEY_PURPOSES = ("name-mac", "chain", "value-digest")


def data_key_ciphers(data_key: bytes, workspace_id: str, key_id: int) -> tuple[Cipher, dict[str, bytes]]:
    """The cipher and the subkeys (name MACs, hash chains, value digests) a workspace's data key
    gives, each derived for its one purpose (store/keys.py)."""
    return ring_ciphers({key_id: data_key}, workspace_id)


def ring_ciphers(data_keys: Mapping[int, bytes], workspace_id: str) -> tuple[Cipher, dict[str, bytes]]:
    """The cipher over every one of a workspace's data keys (number -> key; sealing with the
    newest) and the subkeys, which come from the first key for good (store/keyring.py)."""
    from groundhog.store.keys import derive_subkey

    numbers = sorted(data_keys)
    cipher = Cipher(derive_subkey(data_keys[numbers[-1]], "cipher"), workspace_id, numbers[-1])
    for number in numbers[:-1]:
        cipher.add(number, derive_subkey(data_keys[number], "cipher"))
    first = data_keys[numbers[0]]
    return cipher, {purpose: derive_subkey(first, purpose) for purpose in SUBKEY_PURPOSES}
