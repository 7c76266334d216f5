"""Every method, notification and command name of PROTOCOL.md, in one place."""

from __future__ import annotations

# requests (client -> server), also served as `groundhog.<verb>` commands
STATUS = "context/status"
LIST = "context/list"
INFO = "context/info"
CREATE = "context/create"
DELETE = "context/delete"
SWITCH = "context/switch"
DEACTIVATE = "context/deactivate"
GET = "context/get"
UPDATE = "context/update"
SNAPSHOT = "context/snapshot"
SNAPSHOTS = "context/snapshots"
ROLLBACK = "context/rollback"
HISTORY = "context/history"
DIFF = "context/diff"
EDITOR = "context/editor"
DELETE_SNAPSHOT = "context/deleteSnapshot"

REQUESTS = (
    STATUS,
    LIST,
    INFO,
    CREATE,
    DELETE,
    SWITCH,
    DEACTIVATE,
    GET,
    UPDATE,
    SNAPSHOT,
    SNAPSHOTS,
    ROLLBACK,
    HISTORY,
    DIFF,
    EDITOR,
    DELETE_SNAPSHOT,
)

# notifications (client -> server)
DID_CHANGE_EDITOR = "context/didChangeEditor"

# notifications (server -> client)
DID_CHANGE = "context/didChange"
DID_SWITCH = "context/didSwitch"
DID_RESTORE = "context/didRestore"
DID_RECOVER = "context/didRecover"

COMMAND_PREFIX = "groundhog."


def command_for(method: str) -> str:
    """`context/<verb>` -> `groundhog.<verb>`."""
    return COMMAND_PREFIX + method.split("/", 1)[1]
