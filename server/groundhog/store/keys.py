"""Key material: a machine master key (0600 file) wraps one random data key per workspace.

The master key never touches the database; the database holds only the wrapped data key, so moving a
store to another machine without its key file leaves it unreadable, and rotating the master key means
rewrapping one row, not re-encrypting the store. Subkeys for encryption and for name lookups are derived
from the data key with HKDF so that the name MAC never reuses the cipher key.
"""

from __future__ import annotations

import base64
import errno
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from groundhog.errors import AccessDenied, PersistenceError
from groundhog.store.dirs import PrivateDir, open_private_dir
from groundhog.store.paths import FILE_MODE, check_private_file

MASTER_KEY_FILE = "master.key"
KEY_BYTES = 32
NONCE_BYTES = 12


def load_or_create_master_key(config_dir: Path, *, create: bool = True) -> bytes:
    """Read the master key file, creating it atomically (tmp + link) on first use unless ``create``
    is false (readers such as ``verify`` must not make a new key: it would decrypt nothing). The
    directory is opened by descriptor and the file reached through it (store/dirs.py)."""
    with open_private_dir(config_dir, "The key directory") as directory:
        if directory.entry(MASTER_KEY_FILE) is None:
            if not create:
                raise PersistenceError(
                    "The master key file is missing; without it nothing stored can be read."
                )
            _create_key_file(directory, MASTER_KEY_FILE, secrets.token_bytes(KEY_BYTES))
        return _read_key_file(directory, MASTER_KEY_FILE, "The master key file", ROTATE_MASTER)


# A master key being rotated (store/rotation.py) waits here until every store is re-wrapped under it.
PENDING_MASTER_KEY_FILE = "master.key.next"


def load_pending_master_key(config_dir: Path) -> bytes | None:
    with open_private_dir(config_dir, "The key directory") as directory:
        if directory.entry(PENDING_MASTER_KEY_FILE) is None:
            return None
        return _read_key_file(directory, PENDING_MASTER_KEY_FILE, "The new master key file", ROTATE_MASTER)


def create_pending_master_key(config_dir: Path) -> bytes:
    with open_private_dir(config_dir, "The key directory") as directory:
        _create_key_file(directory, PENDING_MASTER_KEY_FILE, secrets.token_bytes(KEY_BYTES))
    pending = load_pending_master_key(config_dir)  # a concurrent run's key if it linked first
    assert pending is not None
    return pending


def promote_pending_master_key(config_dir: Path) -> None:
    with open_private_dir(config_dir, "The key directory") as directory:
        fd = directory.fd
        os.replace(PENDING_MASTER_KEY_FILE, MASTER_KEY_FILE, src_dir_fd=fd, dst_dir_fd=fd)
        os.fsync(fd)  # the rename is durable before anyone relies on the new key alone


# How to replace a key that others could read (paths.check_private_file says why).
ROTATE_MASTER = "`chmod 600` it, then `groundhog key rotate-master`"
ROTATE_WORKSPACE = "`chmod 600` it, then `groundhog key rotate` and give the new key to the members"


def _read_key_file(directory: PrivateDir, name: str, what: str, rotate: str) -> bytes:
    try:
        fd = directory.open(name, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise AccessDenied(f"{what} is a symbolic link; refusing to follow it.") from None
        raise PersistenceError(f"{what} cannot be read.") from None
    try:
        with os.fdopen(fd, "rb") as handle:
            check_private_file(handle.fileno(), directory.path / name, what, rotate=rotate)
            raw = handle.read(4096)
        key = base64.b64decode(raw.strip(), validate=True)
    except (OSError, ValueError):
        raise PersistenceError(f"{what} cannot be read.") from None
    if len(key) != KEY_BYTES:
        raise PersistenceError(f"{what} is damaged (wrong length).")
    return key


def _create_key_file(directory: PrivateDir, name: str, key: bytes, *, replace: bool = False) -> None:
    """Write ``key`` to a new 0600 file atomically: tmp + link (the first process to link wins, the
    others read its key), or tmp + rename with ``replace`` (a key imported or rotated)."""
    tmp = f".{name}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = directory.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
    try:
        os.write(fd, base64.b64encode(key) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    at = directory.fd
    if replace:
        os.replace(tmp, name, src_dir_fd=at, dst_dir_fd=at)
        return
    try:
        os.link(tmp, name, src_dir_fd=at, dst_dir_fd=at, follow_symlinks=False)
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp, dir_fd=at)


# -- workspace keys: the key of a shared (PostgreSQL) workspace ---------------------------------
# A shared workspace's data key is wrapped by a workspace key that its members hold, not by one
# machine's master key: each member keeps it in a 0600 file of their config dir, or in the
# GROUNDHOG_WORKSPACE_KEY environment variable (from a secret manager). It never enters the
# database. It moves between people as an export string (for a password manager).

WORKSPACE_KEYS_DIR = "workspace-keys"
KEY_STRING_PREFIX = "groundhog-key-1"
WORKSPACE_KEY_ENV = "GROUNDHOG_WORKSPACE_KEY"


def workspace_key_path(config_dir: Path, workspace_id: str) -> Path:
    return config_dir / WORKSPACE_KEYS_DIR / f"{workspace_id}.key"


def load_workspace_key(config_dir: Path, workspace_id: str) -> bytes | None:
    """This workspace's key: the environment variable's (when it is this workspace's), else the
    file's; None when this machine has none."""
    from_env = os.environ.get(WORKSPACE_KEY_ENV)
    if from_env:
        env_id, key = parse_key_string(from_env)
        if env_id == workspace_id:
            return key
    with _workspace_keys(config_dir) as directory:
        name = f"{workspace_id}.key"
        if directory.entry(name) is None:
            return None
        return _read_key_file(directory, name, "The workspace key file", ROTATE_WORKSPACE)


def save_workspace_key(config_dir: Path, workspace_id: str, key: bytes, *, replace: bool = False) -> None:
    with _workspace_keys(config_dir) as directory:
        _create_key_file(directory, f"{workspace_id}.key", key, replace=replace)


def _workspace_keys(config_dir: Path) -> PrivateDir:
    with open_private_dir(config_dir, "The key directory") as config:
        return config.subdir(WORKSPACE_KEYS_DIR, "The workspace key directory")


def key_string(workspace_id: str, key: bytes) -> str:
    """The export form of a workspace key: one line to keep in a password manager."""
    return f"{KEY_STRING_PREFIX}:{workspace_id}:{base64.urlsafe_b64encode(key).decode()}"


def parse_key_string(text: str) -> tuple[str, bytes]:
    parts = text.strip().split(":")
    if len(parts) != 3 or parts[0] != KEY_STRING_PREFIX or not parts[1].isalnum():
        raise AccessDenied(
            "That is not a Groundhog workspace key: it starts with 'groundhog-key-1:' "
            "(`groundhog key export` prints one)."
        )
    try:
        key = base64.urlsafe_b64decode(parts[2].encode())
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise AccessDenied("That workspace key is damaged (wrong length); export it again.")
    return parts[1], key


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
