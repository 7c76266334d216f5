"""This machine's member key, for the faces (store/members.py keeps and checks it): what
``groundhog key show-public`` prints, and new keys for build machines."""

from __future__ import annotations

from pathlib import Path

from groundhog.store import members
from groundhog.store.membership import MEMBER_NAME_ENV, MemberInfo, default_member_name

__all__ = ["MEMBER_NAME_ENV", "MemberInfo", "default_member_name", "new_member_secret", "public_key"]


def public_key(config_dir: Path) -> tuple[str, str]:
    """This machine's member key, made on first use: (its public string, its fingerprint)."""
    key = members.load_member_key(config_dir, create=True)
    assert key is not None
    return members.public_string(key.public), key.fingerprint


def new_member_secret() -> tuple[str, str, str]:
    """A new member key pair for a build machine: (its secret string, public string, variable)."""
    key = members.new_member_key()
    return members.secret_string(key), members.public_string(key.public), members.MEMBER_KEY_ENV
