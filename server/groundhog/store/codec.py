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
BLOB_FORMAT = b"\x01"
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


class Cipher:
    """AES-256-GCM bound to one workspace and key id; ``place`` names the row a blob belongs to."""

    def __init__(self, key: bytes, workspace_id: str, key_id: int) -> None:
        self._aead = AESGCM(key)
        self._prefix = f"groundhog|{workspace_id}|k{key_id}|".encode()

    def seal(self, plaintext: bytes, *place: object) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return BLOB_FORMAT + nonce + self._aead.encrypt(nonce, plaintext, self._aad(place))

    def open(self, blob: bytes, *place: object) -> bytes:
        if blob[:1] != BLOB_FORMAT:
            raise DataDamaged("A stored record has an unknown format.")
        view = memoryview(blob)  # slices of a view are not copies: a 16 MB blob is not held twice
        try:
            return self._aead.decrypt(view[1 : 1 + NONCE_BYTES], view[1 + NONCE_BYTES :], self._aad(place))
        except (InvalidTag, ValueError):
            raise DataDamaged("A stored record failed authentication.") from None

    def seal_each(self, plaintexts: Mapping[str, bytes], *place: object) -> dict[str, bytes]:
        """``seal(plaintext, *place, name)`` for each name -> plaintext: many small blobs of one place
        (a snapshot's new values) without rebuilding the associated data's common part each time."""
        common = self._aad(place) + b"|"
        encrypt = self._aead.encrypt
        sealed = {}
        for name, plaintext in plaintexts.items():
            nonce = os.urandom(NONCE_BYTES)
            sealed[name] = BLOB_FORMAT + nonce + encrypt(nonce, plaintext, common + name.encode())
        return sealed

    def open_each(self, blobs: Mapping[str, bytes], *place: object) -> dict[str, bytes]:
        """``open(blob, *place, name)`` for each name -> blob (see ``seal_each``)."""
        common = self._aad(place) + b"|"
        decrypt = self._aead.decrypt
        opened = {}
        try:
            for name, blob in blobs.items():
                if blob[:1] != BLOB_FORMAT:
                    raise DataDamaged("A stored record has an unknown format.")
                nonce = blob[1 : 1 + NONCE_BYTES]
                opened[name] = decrypt(nonce, blob[1 + NONCE_BYTES :], common + name.encode())
        except (InvalidTag, ValueError):
            raise DataDamaged("A stored record failed authentication.") from None
        return opened

    def seal_json(self, obj: Any, *place: object) -> bytes:
        return self.seal(orjson.dumps(obj), *place)

    def open_json(self, blob: bytes, *place: object) -> Any:
        return orjson.loads(self.open(blob, *place))

    def _aad(self, place: tuple[object, ...]) -> bytes:
        return self._prefix + "|".join(map(str, place)).encode()


SUBKEY_PURPOSES = ("name-mac", "chain", "value-digest")


def data_key_ciphers(data_key: bytes, workspace_id: str, key_id: int) -> tuple[Cipher, dict[str, bytes]]:
    """The cipher and the subkeys (name MACs, hash chains, value digests) a workspace's data key
    gives, each derived for its one purpose (store/keys.py)."""
    from groundhog.store.keys import derive_subkey

    cipher = Cipher(derive_subkey(data_key, "cipher"), workspace_id, key_id)
    return cipher, {purpose: derive_subkey(data_key, purpose) for purpose in SUBKEY_PURPOSES}
