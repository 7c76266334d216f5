--- `context/didRestore`: reopen the files of the workspace's previous session and put the
--- cursors back, according to the `restore` option ("always", "ask" or "never"), then fire
--- `User GroundhogRestored`.

local config = require("groundhog.config")
local const = require("groundhog.constants")
local editor = require("groundhog.editor")
local log = require("groundhog.log")
local position = require("groundhog.position")

local M = {}

---@class groundhog.RestorePlan
---@field paths string[] existing files to reopen, in the stored order
---@field uris table<string, string> path -> uri
---@field cursors table<string, lsp.Position> uri -> cursor
---@field active string? path of the active file

--- Files to reopen from an editor state; missing files and non-file URIs are left out.
---@param state table? the editor shape
---@return groundhog.RestorePlan
function M.plan(state)
  ---@type groundhog.RestorePlan
  local plan = { paths = {}, uris = {}, cursors = {}, active = nil }
  if type(state) ~= "table" then
    return plan
  end
  local seen = {} ---@type table<string, true>
  local function add(uri)
    if type(uri) ~= "string" or not uri:match("^file://") then
      return nil
    end
    local path = vim.uri_to_fname(uri)
    if not seen[path] and vim.uv.fs_stat(path) then
      seen[path] = true
      plan.uris[path] = uri
      table.insert(plan.paths, path)
    end
    return seen[path] and path or nil
  end
  for _, doc in ipairs(type(state.openDocuments) == "table" and state.openDocuments or {}) do
    add(type(doc) == "table" and doc.uri or nil)
  end
  plan.active = add(state.activeUri)
  for _, sel in ipairs(type(state.selections) == "table" and state.selections or {}) do
    local first = type(sel) == "table" and type(sel.ranges) == "table" and sel.ranges[1]
    if first and type(first.start) == "table" and not plan.cursors[sel.uri] then
      plan.cursors[sel.uri] = first.start
    end
  end
  return plan
end

--- An unnamed, unmodified, empty buffer: what Neovim shows when started without files.
---@param bufnr integer
---@return boolean
local function is_blank(bufnr)
  return vim.api.nvim_buf_get_name(bufnr) == ""
    and vim.bo[bufnr].buftype == ""
    and not vim.bo[bufnr].modified
    and vim.api.nvim_buf_line_count(bufnr) == 1
    and vim.api.nvim_buf_get_lines(bufnr, 0, 1, false)[1] == ""
end

--- Load a file into a listed buffer attached to the client; put its cursor back when shown.
---@param client_id integer
---@param path string
---@param pos lsp.Position?
---@param enc string
---@return integer bufnr
local function reopen(client_id, path, pos, enc)
  local bufnr = vim.fn.bufadd(path)
  -- A buffer the user already has open keeps its cursor.
  local was_loaded = vim.api.nvim_buf_is_loaded(bufnr)
  vim.bo[bufnr].buflisted = true
  vim.fn.bufload(bufnr)
  if not vim.lsp.buf_is_attached(bufnr, client_id) then
    vim.lsp.buf_attach_client(bufnr, client_id)
  end
  if pos and not was_loaded then
    local row, col = position.from_lsp(bufnr, pos, enc)
    editor.remember(bufnr, row, col)
    vim.api.nvim_create_autocmd("BufWinEnter", {
      buffer = bufnr,
      once = true,
      desc = "groundhog: restored cursor",
      callback = function()
        pcall(vim.api.nvim_win_set_cursor, 0, { row, col })
      end,
    })
  end
  return bufnr
end

--- Reopen the plan's files now.
---@param client_id integer
---@param params {context: string, version: integer, editor: table}
---@param plan groundhog.RestorePlan
function M.apply(client_id, params, plan)
  if not vim.lsp.get_client_by_id(client_id) then
    return
  end
  local enc = const.POSITION_ENCODING
  local buffers = {} ---@type table<string, integer>
  editor.paused(function()
    for _, path in ipairs(plan.paths) do
      buffers[path] = reopen(client_id, path, plan.cursors[plan.uris[path]], enc)
    end
    local current = vim.api.nvim_get_current_buf()
    local active = plan.active and buffers[plan.active]
    -- Take the current window only from the blank startup buffer, never from the user's file.
    if active and is_blank(current) then
      vim.api.nvim_set_current_buf(active)
      pcall(vim.api.nvim_buf_delete, current, {})
    end
  end)
  vim.api.nvim_exec_autocmds("User", {
    pattern = const.event.restored,
    modeline = false,
    data = {
      client_id = client_id,
      context = params.context,
      version = params.version,
      files = plan.paths,
      active = plan.active,
    },
  })
end

---@param client_id integer
---@param params {context: string, version: integer, editor: table}
---@param plan groundhog.RestorePlan
local function safe_apply(client_id, params, plan)
  local ok, err = pcall(M.apply, client_id, params, plan)
  if not ok then
    log.error("restoring the last session failed: " .. tostring(err))
  end
end

--- Handle `context/didRestore` per the `restore` option.
---@param client_id integer
---@param params {context: string, version: integer, editor: table}
function M.handle(client_id, params)
  local mode = config.options.restore
  if mode == "never" then
    return
  end
  local plan = M.plan(params.editor)
  if #plan.paths == 0 then
    return
  end
  if mode == "always" then
    safe_apply(client_id, params, plan)
    return
  end
  local reopen_choice = ("Reopen %d file%s"):format(#plan.paths, #plan.paths == 1 and "" or "s")
  vim.ui.select({ reopen_choice, "Not now" }, {
    prompt = ("groundhog: restore the last session of %s@%s?"):format(
      tostring(params.context),
      tostring(params.version)
    ),
    kind = "groundhog.restore",
  }, function(choice)
    if choice == reopen_choice then
      safe_apply(client_id, params, plan)
    end
  end)
end

return M
