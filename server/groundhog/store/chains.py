"""The keyed hash chains over each context's versions and over the audit log: a link is an HMAC of
the previous link and the row's fields, so the chain cannot be rewritten without the workspace key."""

from __future__ import annotations

import hashlib
import hmac


def chain_hash(key: bytes, prev: bytes, *parts: str | int | bytes | None) -> bytes:
    """A keyed link of a hash chain: HMAC-SHA256 over the previous link and this row's fields
    (blobs by their SHA-256), so the chain cannot be rewritten without the workspace key."""
    digest = hmac.new(key, prev, hashlib.sha256)
    for part in parts:
        if part is None:
            encoded = b"\xff"
        elif isinstance(part, bytes):
            encoded = hashlib.sha256(part).digest()
        else:
            encoded = str(part).encode()
        digest.update(len(encoded).to_bytes(4, "big") + encoded)
    return digest.digest()


def genesis_hash(uid: str) -> bytes:
    return hashlib.sha256(b"groundhog/genesis|" + uid.encode()).digest()


AUDIT_GENESIS = bytes(32)
