"""Member keys: each person or build machine holds an X25519 key pair of its own, and a workspace's
data key is wrapped once per member, in the spirit of age's X25519 recipients (no shared secret to
pass around, one member added or removed without touching the others).

- The private half lives in the user's config dir (``member.key``, 0600, ours, never through a
  symlink: the master key's rules, store/keys.py), or in ``GROUNDHOG_MEMBER_KEY`` (CI).
- A wrap is: an ephemeral X25519 key, ECDH with the member's public key, HKDF-SHA256 (salted with
  both public keys) to an AES-256-GCM key, and the data key sealed with associated data binding the
  workspace, the member's fingerprint and the data key's id: a wrap copied to another member, key id
  or workspace does not open.
- The public half travels as ``groundhog-member-1:<base64url>``; a fingerprint (the first 16 bytes
  of its SHA-256, in hex) names it in listings and in the store.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from groundhog.errors import AccessDenied, InvalidParams
from groundhog.store import keys
from groundhog.store.dirs import open_private_dir

MEMBER_KEY_FILE = "member.key"
MEMBER_KEY_ENV = "GROUNDHOG_MEMBER_KEY"
PUBLIC_PREFIX = "groundhog-member-1"
SECRET_PREFIX = "groundhog-member-secret-1"
KEY_BYTES = 32
NONCE_BYTES = 12
ROTATE_MEMBER = (
    "delete it, run `groundhog key show-public` for a new one, and ask a member to remove you and add "
    "you again with it"
)


@dataclass(frozen=True)
class MemberKey:
    """This machine's member key pair."""

    private: X25519PrivateKey

    @property
    def public(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public)


def fingerprint(public: bytes) -> str:
    return hashlib.sha256(public).digest()[:16].hex()


def public_string(public: bytes) -> str:
    return f"{PUBLIC_PREFIX}:{base64.urlsafe_b64encode(public).decode().rstrip('=')}"


def parse_public(text: str) -> bytes:
    """A member's public key from its string; InvalidParams naming what is wrong with it."""
    prefix, _, body = text.strip().partition(":")
    if prefix != PUBLIC_PREFIX or not body:
        raise InvalidParams(
            "That is not a Groundhog member key: it starts with 'groundhog-member-1:' "
            "(`groundhog key show-public` prints one).",
            field="publicKey",
        )
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise InvalidParams(
            f"That member key is {len(raw)} bytes, not {KEY_BYTES}: copy the whole line again.",
            field="publicKey",
        )
    try:  # a point of small order (all zero, for one) makes every shared secret the same: refused
        X25519PrivateKey.generate().exchange(X25519PublicKey.from_public_bytes(raw))
    except ValueError:
        raise InvalidParams("That member key is not an X25519 public key.", field="publicKey") from None
    return raw


def secret_string(key: MemberKey) -> str:
    raw = key.private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return f"{SECRET_PREFIX}:{base64.urlsafe_b64encode(raw).decode().rstrip('=')}"


def new_member_key() -> MemberKey:
    return MemberKey(X25519PrivateKey.generate())


def load_member_key(config_dir: Path, *, create: bool = False) -> MemberKey | None:
    """This machine's member key: ``GROUNDHOG_MEMBER_KEY``'s, else ``member.key``'s (made on first
    use when ``create``); None when there is none."""
    from_env = os.environ.get(MEMBER_KEY_ENV)
    if from_env:
        return _parse_secret(from_env)
    with open_private_dir(config_dir, "The key directory") as directory:  # by descriptor (dirs.py)
        if directory.entry(MEMBER_KEY_FILE) is None:
            if not create:
                return None
            keys._create_key_file(directory, MEMBER_KEY_FILE, secrets.token_bytes(KEY_BYTES))
        raw = keys._read_key_file(directory, MEMBER_KEY_FILE, "The member key file", ROTATE_MEMBER)
    return MemberKey(X25519PrivateKey.from_private_bytes(raw))


def _parse_secret(text: str) -> MemberKey:
    prefix, _, body = text.strip().partition(":")
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if prefix != SECRET_PREFIX or len(raw) != KEY_BYTES:
        raise AccessDenied(
            f"{MEMBER_KEY_ENV} is not a member's secret key (`groundhog key new-member` prints one)."
        )
    return MemberKey(X25519PrivateKey.from_private_bytes(raw))


# -- wrapping a data key for a member ------------------------------------------------------------


def wrap_for(public: bytes, data_key: bytes, workspace_id: str, key_id: int) -> bytes:
    """``data_key`` sealed so that only the holder of ``public``'s private key opens it."""
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    secret = ephemeral.exchange(X25519PublicKey.from_public_bytes(public))
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = AESGCM(_wrap_key(secret, ephemeral_public, public)).encrypt(
        nonce, data_key, _aad(workspace_id, fingerprint(public), key_id)
    )
    return ephemeral_public + nonce + sealed


def unwrap(member: MemberKey, wrapped: bytes, workspace_id: str, key_id: int) -> bytes | None:
    """The data key in ``wrapped``, or None when it is not this member's (or was altered)."""
    ephemeral_public, nonce, sealed = wrapped[:32], wrapped[32:44], wrapped[44:]
    try:
        secret = member.private.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
        return AESGCM(_wrap_key(secret, ephemeral_public, member.public)).decrypt(
            nonce, sealed, _aad(workspace_id, member.fingerprint, key_id)
        )
    except (InvalidTag, ValueError):
        return None


def _wrap_key(secret: bytes, ephemeral_public: bytes, public: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=ephemeral_public + public,
        info=b"groundhog/member-wrap/1",
    ).derive(secret)


def _aad(workspace_id: str, member: str, key_id: int) -> bytes:
    return f"groundhog/member-key|{workspace_id}|{member}|{key_id}".encode()


# -- the chain of data keys: each key seals the one before it --------------------------------------


def seal_previous(key: bytes, previous: bytes, workspace_id: str, key_id: int) -> bytes:
    """Data key ``key_id - 1`` sealed under data key ``key_id``: a member who holds the newest key
    reads everything written under the older ones."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(keys.derive_subkey(key, "previous-key")).encrypt(
        nonce, previous, _previous_aad(workspace_id, key_id)
    )


def open_previous(key: bytes, sealed: bytes, workspace_id: str, key_id: int) -> bytes | None:
    try:
        return AESGCM(keys.derive_subkey(key, "previous-key")).decrypt(
            sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _previous_aad(workspace_id, key_id)
        )
    except (InvalidTag, ValueError):
        return None


def _previous_aad(workspace_id: str, key_id: int) -> bytes:
    return f"groundhog/previous-key|{workspace_id}|{key_id}".encode()
