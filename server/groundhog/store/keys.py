"""Key material: a machine master key (0600 file) wraps one random data key per workspace.

The master key never touches the database; the database holds only the wrapped data key, so moving a
store to another machine without its key file leaves it unreadable, and rotating the master key means
rewrapping one row, not re-encrypting the store. Subkeys for encryption and for name lookups are derived
from the data key with HKDF so that the name MAC never reuses the cipher key.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from groundhog.errors import PersistenceError
from groundhog.store.paths import FILE_MODE, _check_not_symlink, check_private_file, ensure_private_dir

MASTER_KEY_FILE = "master.key"
KEY_BYTES = 32
NONCE_BYTES = 12


def load_or_create_master_key(config_dir: Path, *, create: bool = True) -> bytes:
    """Read the master key file, creating it atomically (tmp + link) on first use unless ``create``
    is false (readers such as ``verify`` must not make a new key: it would decrypt nothing)."""
    ensure_private_dir(config_dir, "The key directory")
    path = config_dir / MASTER_KEY_FILE
    if not path.exists() and not path.is_symlink():
        if not create:
            raise PersistenceError("The master key file is missing; without it nothing stored can be read.")
        _create_key_file(path)
    _check_not_symlink(path, "The master key file")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        raise PersistenceError("The master key file cannot be read.") from None
    try:
        with os.fdopen(fd, "rb") as handle:
            check_private_file(handle.fileno(), path, "The master key file")
            raw = handle.read()
        key = base64.b64decode(raw.strip(), validate=True)
    except (OSError, ValueError):
        raise PersistenceError("The master key file cannot be read.") from None
    if len(key) != KEY_BYTES:
        raise PersistenceError("The master key file is damaged (wrong length).")
    return key


def _create_key_file(path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, FILE_MODE)
    try:
        os.write(fd, base64.b64encode(secrets.token_bytes(KEY_BYTES)) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # atomic: the first process to link wins, the others read its key
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)


def new_data_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def wrap_data_key(master: bytes, data_key: bytes, workspace_id: str, key_id: int) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(master).encrypt(nonce, data_key, _wrap_aad(workspace_id, key_id))


def unwrap_data_key(master: bytes, wrapped: bytes, workspace_id: str, key_id: int) -> bytes:
    try:
        return AESGCM(master).decrypt(
            wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _wrap_aad(workspace_id, key_id)
        )
    except (InvalidTag, ValueError):
        raise PersistenceError(
            "The workspace store cannot be decrypted with this machine's master key."
        ) from None


def derive_subkey(data_key: bytes, purpose: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=None,
        info=b"groundhog/" + purpose.encode(),
    ).derive(data_key)


def _wrap_aad(workspace_id: str, key_id: int) -> bytes:
    return f"groundhog/data-key|{workspace_id}|{key_id}".encode()
