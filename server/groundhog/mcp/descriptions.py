"""What the model reads about each tool and each parameter (tools/list). Written for an agent that
has never heard of Groundhog: what the tool is for, when to call it, what comes back, and what each
parameter does when given and when left out. Keyed by the tool's verb (``context_<verb>``, or the
tool's own name for ``editor_state`` and ``resume``); parameters by their dotted path."""

from __future__ import annotations

CONTEXT = (
    "Name of the context to use; leave it out to use this session's active context (see context_status)."
)
NAME_RULES = (
    "1-128 characters: letters, digits, '.', '_', '-', '/'; not starting with '.' or '/'; "
    "no empty, '.' or '..' segment between slashes"
)

TOOLS: dict[str, str] = {
    "status": (
        "Where this agent session stands: the workspace, this session's id (every change records the "
        "session that made it), the active context and its version, the store and how many contexts "
        "it holds. Cheap; call it when unsure which context is active."
    ),
    "list": (
        "List the workspace's contexts (named, versioned JSON documents shared with the editors), "
        "each with its version, last change time, and how many live sessions have it active."
    ),
    "info": (
        "Whether a context exists and whether it is this session's active one "
        "(status active / inactive / nonexistent; no error for a missing name), with its version, "
        "last change time and number of snapshots."
    ),
    "create": (
        "Create a new context at version 1: empty, or a copy of another context's head, older "
        "version or snapshot ('from'). It does not become active unless 'activate' is true."
    ),
    "delete": (
        "Delete a context with its history and snapshots. Not 'default', not the active one. "
        "Cannot be undone: prefer context_snapshot or keeping it."
    ),
    "switch": (
        "Make another context this session's active one (the one tools use when 'context' is left "
        "out) and return its data. Switching here never switches an editor."
    ),
    "deactivate": "Leave this session with no active context (tools must then name 'context').",
    "get": (
        "Read a context's data: its top-level keys and their JSON values, its metadata and the last "
        "saved editor state. Large states come back partly: 'truncated.omittedKeys' names the keys "
        "left out; ask for them with 'keys'."
    ),
    "update": (
        "Change a context: 'set' writes top-level keys, 'remove' deletes them, or 'patch' applies "
        "RFC 6902 operations (appending to a list is cheap: op add, path /key/-). Every change makes a "
        "new version. Pass 'baseVersion' (the version you read) so that a concurrent change by "
        "someone else is merged when it touched other keys, or answered VersionConflict (with "
        "currentVersion and conflictingKeys) when it touched yours: then read again and retry."
    ),
    "snapshot": (
        "Save an immutable, labelled snapshot of a context's current data (and the editor state). "
        "Take one before risky work; context_rollback can restore it."
    ),
    "snapshots": (
        "List a context's snapshots and recovery points, newest first (id, version, time, label, size)."
    ),
    "delete_snapshot": (
        "Delete one of a context's snapshots by id (from context_snapshots); the other snapshots are "
        "kept intact. Recovery points cannot be deleted (the store prunes them). Cannot be undone."
    ),
    "rollback": (
        "Restore a context's data to an earlier version ('toVersion') or a snapshot ('snapshotId'). "
        "It appends a new version and records a recovery point first, so it can itself be undone. "
        "'dryRun' only reports which keys would change."
    ),
    "history": (
        "A context's versions, newest first: when, which session, what kind of change "
        "(create, update, merge, rollback, restore, recover) and which top-level keys changed."
    ),
    "diff": (
        "What changed in a context between two versions, as an RFC 6902 patch with one operation "
        "per changed top-level key."
    ),
    "editor": "This session's own live editor state (always empty for an agent session; see editor_state).",
    "editor_state": (
        "What the people on this workspace have open in their editors: for every live editor "
        "session, its open files, active file and cursor selections (as last saved, with their "
        "age), and the editor state saved last into any context."
    ),
    "resume": (
        "Start here. One brief of where things stand: the workspace, the active context with its "
        "version and last change, its keys with their sizes, the newest snapshots, what changed since "
        "'sinceVersion', and what the editors have open. Call it again later with sinceVersion set to "
        "the version it reported to see only what changed."
    ),
}

PARAMETERS: dict[str, dict[str, str]] = {
    "info": {"name": "Name of the context to describe; it need not exist."},
    "create": {
        "name": f"Name of the new context ({NAME_RULES}).",
        "from": (
            "Start as a copy instead of empty: {context?, version?, snapshotId?}. An empty object {} "
            "copies the active context's head."
        ),
        "from.context": "The context to copy; leave it out for the active context.",
        "from.version": "Copy this older version instead of the head (not with snapshotId).",
        "from.snapshotId": "Copy this snapshot (an id from context_snapshots; not with version).",
        "activate": "Also make the new context this session's active one. Default false.",
        "metadata": "A small JSON object stored with the context (at most 4,096 bytes as JSON).",
    },
    "delete": {"name": "Name of the context to delete (not 'default', not the active one)."},
    "switch": {
        "name": "Name of the context to make active.",
        "create": (
            "Create the context (empty) if it does not exist. Default false: a missing one is an error."
        ),
    },
    "get": {
        "context": CONTEXT,
        "version": "Read this older version instead of the head (any version still in the history).",
        "keys": "Read only these top-level keys (for large contexts); missing keys are simply absent.",
    },
    "update": {
        "context": CONTEXT,
        "baseVersion": (
            "The version your change is based on (from context_get). Leave it out to apply the change "
            "to whatever the head is now."
        ),
        "set": "Top-level keys to write, each with its new value (any JSON). Not with 'patch'.",
        "remove": "Top-level keys to delete. Not with 'patch'.",
        "patch": (
            'RFC 6902 operations, e.g. [{"op": "add", "path": "/notes/-", "value": "..."}], applied all '
            "or nothing. Not with 'set' or 'remove'."
        ),
        "metadata": (
            "Keys to merge into the context's metadata (a small JSON object, at most 4,096 bytes "
            "after the merge); versioned with the data."
        ),
        "onConflict": (
            "What a stale 'baseVersion' does: 'merge' (default) applies the change if none of its keys "
            "changed since, 'fail' always answers VersionConflict, 'overwrite' applies it anyway."
        ),
    },
    "snapshot": {
        "context": CONTEXT,
        "label": "A short human label, at most 1,024 characters (e.g. 'before the refactor').",
        "metadata": "A small JSON object stored with the snapshot (at most 4,096 bytes as JSON).",
    },
    "snapshots": {"context": CONTEXT},
    "delete_snapshot": {
        "context": CONTEXT,
        "snapshotId": "The id of the snapshot to delete (from context_snapshots; not a recovery point).",
    },
    "rollback": {
        "context": CONTEXT,
        "toVersion": "Restore the data of this version (give this or 'snapshotId', not both).",
        "snapshotId": "Restore this snapshot (an id from context_snapshots; give this or 'toVersion').",
        "dryRun": "Only report what would change; change nothing. Default false.",
    },
    "history": {
        "context": CONTEXT,
        "limit": "How many versions to list, newest first (1-10,000). Default 50.",
        "beforeVersion": "List only versions older than this one (to page back through the history).",
    },
    "diff": {
        "context": CONTEXT,
        "fromVersion": "The older version to compare from.",
        "toVersion": "The newer version to compare to; leave it out for the head.",
    },
    "resume": {
        "sinceVersion": (
            "The active context's version you saw last (the 'context.version' of your previous "
            "resume): the brief then lists the changes after it, with their diff when small. Leave "
            "it out the first time."
        ),
    },
}
