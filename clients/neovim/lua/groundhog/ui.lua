--- Presentation: how results look to the user (messages, scratch buffers, select items).
--- No requests are made here.

local M = {}

---@param keys any
---@return string
local function keys_text(keys)
  if type(keys) ~= "table" or #keys == 0 then
    return "-"
  end
  return table.concat(vim.tbl_map(tostring, keys), ", ")
end

---@param s any
---@return string
local function short(s)
  s = tostring(s or "")
  return #s > 12 and s:sub(1, 12) or s
end

--- `context/status` as a few lines.
---@param status table
---@return string
function M.format_status(status)
  local active = type(status.active) == "table"
      and ("%s@%s"):format(status.active.name, tostring(status.active.version))
    or "(no active context)"
  local session = type(status.session) == "table" and status.session or {}
  local workspace = type(status.workspace) == "table" and status.workspace or {}
  local store = type(status.store) == "table" and status.store or {}
  local lines = {
    ("%s (session %s%s)"):format(
      active,
      tostring(session.id),
      session.readOnly and ", read-only" or ""
    ),
    ("workspace: %s"):format(tostring(workspace.uri)),
    ("store: %s (%s, schema %s)"):format(
      tostring(store.path),
      store.encrypted and "encrypted" or "not encrypted",
      tostring(store.schemaVersion)
    ),
    ("contexts: %s"):format(tostring(status.contexts)),
  }
  return table.concat(lines, "\n")
end

--- One history entry as a line (also the select label).
---@param e table
---@return string
function M.history_line(e)
  return ("v%-5s %s  %-8s %-12s %s"):format(
    tostring(e.version),
    tostring(e.timestamp),
    tostring(e.kind),
    short(e.session),
    keys_text(e.changedKeys)
  )
end

--- One snapshot as a line (also the select label).
---@param s table
---@return string
function M.snapshot_line(s)
  local label = (s.label and s.label ~= vim.NIL) and (" %q"):format(tostring(s.label)) or ""
  return ("snapshot %s%s of v%s  %s"):format(
    tostring(s.id),
    label,
    tostring(s.version),
    tostring(s.timestamp)
  )
end

--- Lines of the history buffer.
---@param context string
---@param result table
---@return string[]
function M.history_lines(context, result)
  local lines = {
    ("# history of %s (newest first)"):format(context),
    "# version timestamp                 kind     session      changed keys",
  }
  for _, e in ipairs(result.entries or {}) do
    table.insert(lines, M.history_line(e))
  end
  if result.oldestVersion and result.oldestVersion ~= vim.NIL then
    table.insert(lines, ("# oldest version kept: %s"):format(tostring(result.oldestVersion)))
  end
  return lines
end

--- An RFC 6902 operation as one line of JSON with a stable key order.
---@param op table
---@return string
local function op_line(op)
  local parts = {}
  for _, key in ipairs({ "op", "path", "from", "value" }) do
    if op[key] ~= nil then
      table.insert(parts, ("%s: %s"):format(vim.json.encode(key), vim.json.encode(op[key])))
    end
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

--- Lines of the diff buffer: the patch as a JSON array, one operation per line.
---@param patch table[]
---@return string[]
function M.patch_lines(patch)
  if type(patch) ~= "table" or #patch == 0 then
    return { "[]" }
  end
  local lines = { "[" }
  for i, op in ipairs(patch) do
    table.insert(lines, "  " .. op_line(op) .. (i < #patch and "," or ""))
  end
  table.insert(lines, "]")
  return lines
end

--- Show lines in a read-only scratch buffer named `name` (reused), in a split.
---@param name string
---@param lines string[]
---@param filetype string
---@return integer bufnr
function M.scratch(name, lines, filetype)
  local bufnr = vim.fn.bufnr("^" .. vim.fn.escape(name, "\\^$.*~[]") .. "$")
  if bufnr == -1 or not vim.api.nvim_buf_is_valid(bufnr) then
    bufnr = vim.api.nvim_create_buf(false, true)
    vim.api.nvim_buf_set_name(bufnr, name)
    vim.bo[bufnr].bufhidden = "wipe"
    vim.bo[bufnr].swapfile = false
  end
  vim.bo[bufnr].modifiable = true
  vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, lines)
  vim.bo[bufnr].modifiable = false
  vim.bo[bufnr].modified = false
  vim.bo[bufnr].filetype = filetype
  local win = vim.fn.bufwinid(bufnr)
  if win == -1 then
    vim.cmd("belowright split")
    vim.api.nvim_win_set_buf(0, bufnr)
  else
    vim.api.nvim_set_current_win(win)
  end
  return bufnr
end

return M
