--- Every name the plugin shares with the Groundhog server or with the user's config:
--- LSP methods and notifications (PROTOCOL.md, version 1), the client name, autocommand
--- patterns and augroups. Nothing else in the plugin spells these strings.

---@class groundhog.Constants
local M = {}

--- The plugin's version: the repository's, kept equal to the server's `__version__` (a test
--- in tests/neovim compares them); `:checkhealth` warns when the server's differs.
M.VERSION = "0.1.0"

--- The LSP client name (also the `vim.lsp.config` / `vim.lsp.enable` name).
M.CLIENT_NAME = "groundhog"

--- Encoding of every position in the editor shape (selections). The stored editor state is
--- shared by all editors (VS Code speaks UTF-16), so it is always UTF-16, and the client
--- offers only UTF-16 so that the negotiated encoding agrees.
M.POSITION_ENCODING = "utf-16"

--- Client-to-server requests.
M.request = {
  status = "context/status",
  list = "context/list",
  info = "context/info",
  create = "context/create",
  delete = "context/delete",
  switch = "context/switch",
  deactivate = "context/deactivate",
  get = "context/get",
  update = "context/update",
  snapshot = "context/snapshot",
  snapshots = "context/snapshots",
  rollback = "context/rollback",
  history = "context/history",
  diff = "context/diff",
  editor = "context/editor",
  delete_snapshot = "context/deleteSnapshot",
}

--- The label of recovery points (PROTOCOL.md decision 11): the server prunes them itself,
--- so the plugin never offers to delete one.
M.RECOVERY_POINT_LABEL = "recovery point"

--- Client-to-server notifications.
M.notify = {
  did_change_editor = "context/didChangeEditor",
}

--- Server-to-client notifications.
M.server = {
  did_change = "context/didChange",
  did_switch = "context/didSwitch",
  did_restore = "context/didRestore",
  did_recover = "context/didRecover",
}

--- JSON-RPC error codes (PROTOCOL.md "Errors"), by kind.
M.error_code = {
  InvalidParams = -32602,
  VersionConflict = -32001,
  ContextNotFound = -32002,
  SnapshotNotFound = -32003,
  InvalidState = -32004,
  PersistenceError = -32005,
  AccessDenied = -32006,
  RecoveryError = -32007,
  TooLarge = -32008,
  AlreadyExists = -32009,
}

--- `User` autocommand patterns fired by the plugin.
M.event = {
  changed = "GroundhogChanged",
  restored = "GroundhogRestored",
}

--- Augroup names.
M.augroup = {
  autostart = "groundhog.autostart",
  editor = "groundhog.editor",
}

return M
