--- Server-to-client notifications and the client's lifecycle callbacks: they keep
--- `groundhog.state` current and turn events into `User` autocommands.

local const = require("groundhog.constants")
local log = require("groundhog.log")
local state = require("groundhog.state")

local M = {}

---@param pattern string
---@param data table
local function fire(pattern, data)
  vim.api.nvim_exec_autocmds("User", { pattern = pattern, modeline = false, data = data })
end

local function redraw()
  pcall(vim.cmd.redrawstatus, { bang = true })
end

--- `context/didChange` {context, version, kind, session, changedKeys}: any new version of
--- any context in the workspace, from this session or another one.
---@type lsp.Handler
local function on_did_change(_, params, ctx)
  if type(params) ~= "table" then
    return
  end
  state.observe_version(ctx.client_id, params.context, params.version)
  fire(
    const.event.changed,
    vim.tbl_extend("force", params, { event = "didChange", client_id = ctx.client_id })
  )
  redraw()
end

--- `context/didSwitch` {context, version}.
---@type lsp.Handler
local function on_did_switch(_, params, ctx)
  if type(params) ~= "table" then
    return
  end
  state.set_active(ctx.client_id, params.context, params.version)
  fire(
    const.event.changed,
    vim.tbl_extend("force", params, { event = "didSwitch", client_id = ctx.client_id })
  )
  redraw()
end

--- `context/didRestore` {context, version, editor}.
---@type lsp.Handler
local function on_did_restore(_, params, ctx)
  if type(params) ~= "table" then
    return
  end
  state.set_active(ctx.client_id, params.context, params.version)
  redraw()
  require("groundhog.restore").handle(ctx.client_id, params)
end

--- `context/didRecover` {context, fromVersion, toVersion, reason}.
---@type lsp.Handler
local function on_did_recover(_, params)
  if type(params) ~= "table" then
    return
  end
  if params.toVersion == nil or params.toVersion == vim.NIL then
    -- nothing of it could be restored: the context is gone (what could not be read is kept aside)
    log.warn(("context %q was damaged and could not be repaired (%s)"):format(
      tostring(params.context),
      tostring(params.reason)
    ))
  elseif params.fromVersion == params.toVersion then
    log.warn(("context %q: %s"):format(tostring(params.context), tostring(params.reason)))
  else
    log.warn(
      ("context %q was damaged at version %s and recovered from version %s (%s)"):format(
        tostring(params.context),
        tostring(params.fromVersion),
        tostring(params.toVersion),
        tostring(params.reason)
      )
    )
  end
end

--- Handlers for the client configuration.
---@return table<string, lsp.Handler>
function M.table()
  return {
    [const.server.did_change] = on_did_change,
    [const.server.did_switch] = on_did_switch,
    [const.server.did_restore] = on_did_restore,
    [const.server.did_recover] = on_did_recover,
  }
end

--- Apply a `context/status` result to the client's state.
---@param client_id integer
---@param status table
function M.apply_status(client_id, status)
  local s = state.get(client_id)
  if type(status.session) == "table" then
    s.session = status.session.id
    s.read_only = status.session.readOnly == true
  end
  if type(status.workspace) == "table" then
    s.workspace = status.workspace.uri
  end
  local active = status.active
  if type(active) ~= "table" then
    state.set_active(client_id, nil, nil)
  elseif active.name == s.name and s.version and s.version > (active.version or 0) then
    -- A didChange newer than this answer already arrived: keep it.
    s.known = true
  else
    state.set_active(client_id, active.name, active.version)
  end
  redraw()
end

--- on_init: learn the session, start tracking, release queued requests.
---@param client vim.lsp.Client
function M.on_init(client)
  state.get(client.id)
  require("groundhog.editor").attach(client.id)
  local client_mod = require("groundhog.client")
  client_mod.call(client, "request", const.request.status, vim.empty_dict(), function(err, result)
    if err then
      log.error(("%s failed: %s"):format(const.request.status, log.describe(err)))
    elseif type(result) == "table" then
      M.apply_status(client.id, result)
    end
  end)
  client_mod.flush_pending(client)
end

--- on_exit: forget the client; a crash is an error the user must see.
---@param code integer
---@param signal integer
---@param client_id integer
function M.on_exit(code, signal, client_id)
  vim.schedule(function()
    state.forget(client_id)
    require("groundhog.client").fail_pending(client_id)
    require("groundhog.editor").detach(client_id)
    redraw()
    if code ~= 0 then
      log.error(
        ("the server exited with code %d (signal %d); see :checkhealth groundhog and :LspLog"):format(
          code,
          signal
        )
      )
    end
  end)
end

return M
